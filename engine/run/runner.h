/*
** runner.h - what run/server.c and run/workers.c share (private to run/).
*/
#ifndef DCE_RUN_RUNNER_H
#define DCE_RUN_RUNNER_H

#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include "net/transport.h"
#include "run/server.h"

#define RUN_SNIFF_LEN 24           /* a bind's assoc_group_id ends at offset 24 */

typedef struct run_addr run_addr;

struct dce_rconn {
  struct dce_rconn *next;          /* open: toward the most recently active; closed: r->closed */
  struct dce_rconn *prev;          /* open: toward the idlest (r->conns is the idlest) */
  struct dce_rconn *anext, *aprev; /* the same order among the connections of its address */
  run_addr *addr;
  dce_runner *r;
  uint64_t id;
  dce_transport *t;
  int fd;                          /* the socket under t */
  dce_sconn *sc;                   /* NULL once closed */
  dce_timer *kick;                 /* read again: the transport holds bytes */
  int64_t last_pdu_ms;
  int64_t out_ms;                  /* output waiting since (or last sent some), 0: none */
  int64_t reasm_ms;                /* a call unfinished since, 0: none */
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

/* The connections from one address (IPv4, an IPv6 /64, all of loopback, all
** local sockets), for the per-address cap. */
struct run_addr {
  run_addr *hnext;
  uint8_t key[9];
  int n;
  dce_rconn *idlest, *newest;
};
#define RUN_ADDR_BUCKETS 1024

/* Connection events logged one by one in a second before the rest are
** only counted and summarised (one line per sweep). */
#define RUN_LOG_BURST 20
enum { RUN_EV_ERROR, RUN_EV_IDLE, RUN_EV_TIMEOUT, RUN_EV_EVICTED, RUN_EV_REFUSED, RUN_EV_N };

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
  dce_rconn *conns, *newest, *closed;   /* conns: open, the idlest first */
  int n_conns, max_conns, max_per_addr;
  run_addr *addrs[RUN_ADDR_BUCKETS];
  int log_left;                    /* connection events that may still be logged this second */
  unsigned long suppressed[RUN_EV_N];
  uint64_t evicted, refused;
  int freed_since_trim;            /* a connection closed or a big call ended since the last sweep */
  uint64_t next_id;
  double idle_timeout, partial_timeout, request_timeout, reply_timeout;
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
  /* tracing (dce_runner_set_trace): NULL, or the hook every connection's
  ** association calls through run_trace */
  void (*trace)(void *ud, dce_rconn *c, int dir, const uint8_t *wire, size_t len, const uint8_t *clear);
  void *trace_ud;
};

/* run/server.c */
void run_log(dce_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
dce_rconn *run_conn_new(dce_runner *r, int fd, int lis, const struct sockaddr *sa, unsigned salen);
void run_conn_close(dce_rconn *c, const char *why);
void run_conn_close_ev(dce_rconn *c, int ev, const char *why);
int run_admit(dce_runner *r, const struct sockaddr *sa, unsigned salen);   /* 0: room made */
void run_conn_after_input(dce_rconn *c);
void run_lis_io(dce_loop *l, int fd, unsigned ev, void *ud);
void run_conn_drop_all(dce_runner *r);   /* a new worker: forget the parent's connections */

/* run/workers.c */
int run_conn_sniff(dce_rconn *c);        /* 1: conn_io stops here */
void run_workers_stop(dce_runner *r);

#endif
