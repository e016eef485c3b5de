/*
** server.h - the server runner: serves connection-oriented associations
** (rpc/co_server.h, sans IO) over stream-socket transports on the engine's
** epoll loop (net/loop.h). It accepts, pumps bytes both ways, holds back a
** peer that does not read (back-pressure), closes idle connections and
** stalled partial PDUs, and with workers > 1 forks worker processes on
** shared listeners and hands connections between them (run/workers.c).
**
** What a call does is not its business: each complete request goes to the
** `call` hook, which answers at once or later with dce_rconn_reply /
** dce_rconn_fault (the Lua binding runs a coroutine per call). The runner
** owns the loop; its user may add its own fds and timers to it
** (dce_runner_loop).
**
** Lifetime: a connection that closes is reported to the `closing` hook at
** once (answers to its calls are dropped from then on), stays readable
** (id, association group) until dce_runner_sweep_closed() at the end of the
** step, and is reported once more, outside every callback, through
** dce_runner_next_closed().
*/
#ifndef DCE_RUN_SERVER_H
#define DCE_RUN_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "net/loop.h"
#include "rpc/co_server.h"

#if !defined(DCE_RUN_MAX_LISTEN)
#define DCE_RUN_MAX_LISTEN 16
#endif
#define DCE_RUN_MAX_WORKERS 64     /* group ids keep the worker index in 8 bits */

typedef struct dce_runner dce_runner;
typedef struct dce_rconn dce_rconn;

typedef struct dce_runner_cfg {
  dce_server_cfg server;           /* for dce_server_new (tag_groups is set from workers) */
  int max_conns;                   /* connections at once (0: 1024); at it the idlest
                                   ** connection running no call is closed for a new one */
  int max_per_addr;                /* connections from one address (0: no cap); the same */
  double idle_timeout;             /* s without a PDU and no call running (0: off) */
  double partial_timeout;          /* s a partial PDU may stall (0: off) */
  double request_timeout;          /* s from a request's first fragment to its last (0: off) */
  double reply_timeout;            /* s output may wait without the peer taking any (0: off) */
  int workers;                     /* processes (1: no forking) */
} dce_runner_cfg;

typedef struct dce_runner_hooks {
  void *ud;
  /* a complete request: answer with dce_rconn_reply / dce_rconn_fault,
  ** now or later (the call stays valid until answered or c closes) */
  void (*call)(void *ud, dce_rconn *c, const dce_scall *call);
  /* c is closing: the runner drops answers to its calls from now on */
  void (*closing)(void *ud, dce_rconn *c);
  /* a line for the log (protocol errors, workers starting and dying) */
  void (*log)(void *ud, const char *msg);
  /* after bytes from c were fed to its association, before its calls start
  ** (may be NULL) */
  void (*after_input)(void *ud, dce_rconn *c);
  /* in a newly forked worker, before it serves: drop what belonged to the
  ** parent's calls and tasks (may be NULL) */
  void (*forked)(void *ud, int worker);
} dce_runner_hooks;

/* NULL with err (out of memory, epoll). hooks are copied. */
dce_runner *dce_runner_new(const dce_runner_cfg *cfg, const dce_runner_hooks *hooks,
                           char *err, size_t errlen);
/* Close every connection (the closing hook runs for each), stop the workers
** (parent: SIGTERM, SIGKILL after 3 s), close the listeners (worker 0 removes
** its Unix socket files) and free everything. */
void dce_runner_free(dce_runner *r);

dce_loop *dce_runner_loop(dce_runner *r);
dce_server *dce_runner_server(dce_runner *r);

/* Listen on host:port (TCP; bound gets the port) or on a Unix socket at
** path (ncalrpc; `name` is the endpoint given to clients as the secondary
** address). 0, or -1 with err. */
int dce_runner_listen_tcp(dce_runner *r, const char *host, const char *port, int *bound,
                          char *err, size_t errlen);
int dce_runner_listen_unix(dce_runner *r, const char *path, const char *name, char *err, size_t errlen);

/* One turn of the loop: wait at most timeout_ms (< 0: until something
** happens) and run what is due. Callbacks run, or -1 (errno). */
int dce_runner_step(dce_runner *r, int timeout_ms);
/* After a step: report each connection closed during it, once: 1 with its
** id, association group and whether it was the group's last connection,
** 0 when none is left. Connections closed by dce_runner_free or handed to
** another worker are not reported. */
int dce_runner_next_closed(dce_runner *r, uint64_t *id, uint32_t *group, int *group_ended);
/* Memory was freed outside the runner (a garbage collection): give it back
** to the system at the next sweep, as after connections close. */
void dce_runner_memory_freed(dce_runner *r);
/* Free the connections closed during the step (their dce_rconn pointers
** die here). */
void dce_runner_sweep_closed(dce_runner *r);

/* Workers (cfg.workers > 1): fork workers 1..N-1 (the caller goes on as
** worker 0). Returns this process's worker index, or -1 with err. Once. */
int dce_runner_start_workers(dce_runner *r, char *err, size_t errlen);
/* Parent, after a step: restart workers that died (not sooner than a second
** after their previous start). Returns 1 in a newly forked worker. */
int dce_runner_restart_due(dce_runner *r);
/* SIGTERM or SIGINT reached the parent of the workers: close the server. */
int dce_runner_stop_requested(const dce_runner *r);

typedef struct dce_runner_stats {
  int connections, groups, listeners;
  int worker, workers, pooled;     /* pooled: the workers were started */
  uint64_t handed_in, handed_out;  /* connections handed between workers */
  uint64_t evicted, refused;       /* connections closed for room, refused for none */
  int calls;                       /* calls reassembling or executing */
  size_t buffered;                 /* bytes in the server's buffered budget */
} dce_runner_stats;
void dce_runner_get_stats(const dce_runner *r, dce_runner_stats *st);
/* This process's worker index once the workers were started, else -1. */
int dce_runner_worker(const dce_runner *r);
/* pid of worker i as this process knows it (0: not running or unknown). */
pid_t dce_runner_worker_pid(const dce_runner *r, int i);

/* ------------------------------------------------------------ connections */
dce_rconn *dce_runner_find(dce_runner *r, uint64_t id);     /* open ones only */
uint64_t dce_rconn_id(const dce_rconn *c);
const char *dce_rconn_peer(const dce_rconn *c);            /* "127.0.0.1:50123", "local:pid=..." */
void dce_rconn_local(const dce_rconn *c, char *out, size_t n);   /* "127.0.0.1:135", "local" */
void *dce_rconn_ctx_iface(dce_rconn *c, uint16_t ctx_id);       /* dce_sconn_ctx_iface */
/* Trace every fragment of every connection, open and to come (rpc/pdu.h
** dce_trace_fn, with the connection); fn NULL stops. */
void dce_runner_set_trace(dce_runner *r, void (*fn)(void *ud, dce_rconn *c, int dir, const uint8_t *wire,
                                                     size_t len, const uint8_t *clear), void *ud);
const dce_sconn_info *dce_rconn_info(const dce_rconn *c);
int dce_rconn_is_open(const dce_rconn *c);
/* Answer a call handed to the call hook (then send what can be sent).
** Nothing happens when c has closed. 0 or -1 (see dce_sconn_reply). */
int dce_rconn_reply(dce_rconn *c, uint32_t call_id, const uint8_t *stub, size_t len);
int dce_rconn_fault(dce_rconn *c, uint32_t call_id, uint32_t status, int did_not_execute);
int dce_rconn_call_alive(const dce_rconn *c, uint32_t call_id);

#endif
