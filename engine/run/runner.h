/*
** runner.h - what run/server.c and run/workers.c share (private to run/).
*/
#ifndef DCE_RUN_RUNNER_H
#define DCE_RUN_RUNNER_H

#include <signal.h>
#include <stdatomic.h>
#include "net/transport.h"
#include "run/server.h"

#define RUN_SNIFF_LEN 24           /* a bind's assoc_group_id ends at offset 24 */

struct dce_rconn {
  struct dce_rconn *next;
  dce_runner *r;
  uint64_t id;
  dce_transport *t;
  int fd;                          /* the socket under t */
  dce_sconn *sc;                   /* NULL once closed */
  dce_timer *kick;                 /* read again: the transport holds bytes */
  int64_t last_pdu_ms;
  uint64_t pdus_seen;
  int lis;                         /* index of the listener that accepted it */
  int counted;                     /* in this worker's share of r->load */
  int notify;                      /* report it through dce_runner_next_closed */
  uint32_t group;                  /* its association group, kept once closed */
  int group_ended;                 /* it was the group's last connection */
  int sniff;                       /* workers: first bytes not yet looked at */
  unsigned npre;
  uint8_t pre[RUN_SNIFF_LEN];      /* workers: the first bytes, read before deciding */
};

typedef struct run_lis {
  int fd, port;
  char portstr[112];               /* secondary address given in bind_acks */
  char path[108];                  /* ncalrpc socket file, removed at the end */
  dce_runner *r;
} run_lis;

typedef struct run_worker {        /* a worker process, as the parent sees it */
  pid_t pid;                       /* 0: not running */
  int64_t started_ms;
  dce_timer *restart;              /* pending restart */
  int due;                         /* restart at the end of this step */
  dce_runner *r;
} run_worker;

struct dce_runner {
  dce_loop *loop;
  dce_server *srv;
  dce_runner_hooks h;
  run_lis lis[DCE_RUN_MAX_LISTEN];
  int n_lis;
  dce_rconn *conns, *closed;
  int n_conns, max_conns;
  uint64_t next_id;
  double idle_timeout, partial_timeout;
  dce_timer *sweep;
  /* workers (run/workers.c); nworkers 1: none of this is used */
  int nworkers, worker, pool;      /* pool: the workers were started */
  run_worker *wk;                  /* [nworkers]; meaningful in the parent */
  int *hand;                       /* [2 * nworkers]: worker i reads hand[2i], the others write hand[2i+1] */
  atomic_int *load;                /* shared mapping: connections per worker */
  int sigfd, fork_due, stop;
  sigset_t oldmask;
  pid_t parent;
  uint64_t handed_in, handed_out;
};

/* run/server.c */
void run_log(dce_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
dce_rconn *run_conn_new(dce_runner *r, int fd, int lis);
void run_conn_close(dce_rconn *c, const char *why);
void run_conn_after_input(dce_rconn *c);
void run_lis_io(dce_loop *l, int fd, unsigned ev, void *ud);
void run_conn_drop_all(dce_runner *r);   /* a new worker: forget the parent's connections */

/* run/workers.c */
int run_conn_sniff(dce_rconn *c);        /* 1: conn_io stops here */
void run_workers_stop(dce_runner *r);

#endif
