/*
** lserver.c - the server part of dcerpc.core: an epoll loop (engine/loop.c)
** driving server associations (engine/server.c) over ncacn_ip_tcp, with
** every call run as a Lua coroutine.
**
** Lua API (the Lua package wraps it; see scripts/dcerpc/server.lua):
**   core.server_new{max_frag=, max_request=, max_calls=, max_auth_contexts=, max_connections=,
**                   idle_timeout=s, partial_timeout=s, call_timeout=s,
**                   workers=N} -> srv
**   srv:listen(host, port) -> bound port | nil, msg
**   srv:listen_unix(path [, name]) -> true | nil, msg   (ncalrpc)
**   srv:add_interface({uuid=, major=, minor=}, key) -> true | nil, msg
**   srv:set_dispatch(fn)  fn(info) runs in a new coroutine per call and
**       returns the reply stub, or nil, status, did_not_execute for a fault
**   srv:set_log(fn)       fn(message) for protocol errors and failed calls
**   srv:set_on_close(fn)  fn(conn_id, assoc_group, group_ended) after the step
**                         in which a connection closed (under pcall)
**   srv:step([timeout s]) -> callbacks run   (timeout < 0 or nil: wait)
**   srv:stats() -> {connections, calls (tasks included), groups, listeners,
**                   worker, workers, handed_in, handed_out}   (this process)
**   srv:start_workers() -> worker index   (workers > 1: fork; see "workers")
**   srv:worker_pids() -> {pid of worker 0, ...};  srv:is_open() -> open, worker
**   srv:spawn(fn, ...) -> true   fn(...) as a coroutine on the loop (a task)
**   srv:close()           (also __gc / __close; deferred when inside step)
**   core.SLEEP            token: coroutine.yield(core.SLEEP, seconds) in a
**                         call sleeps on the loop; any other yield resumes
**                         at the next step
**   core.sleep_blocking(s); (raw test sockets: core.raw_connect in lconn.c) with
**       send(bytes), recv(n [, timeout]) -> bytes | nil, "closed"|"timeout", close()
**
** Lifetime: closing a connection clears the pointer to it in each of its
** calls, so a call whose connection went away while it ran finds none when
** it finishes (its reply is dropped). A closed connection's
** struct is parked on a zombie list until the end of the current step, so
** callbacks further down the same dispatch never touch freed memory.
*/
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "lcore.h"
#include "lauth.h"
#include "rpc/sec.h"
#include "net/loop.h"
#include "rpc/co_server.h"
#include "base/status.h"
#include "net/transport.h"
#include "base/clock.h"

#define SRV_MT "dcerpc.server"
#define MAX_LISTEN 16
#define OUT_HIGH_WATER (4u << 20)  /* stop reading a peer that does not read */
#define MAX_WORKERS 64             /* group ids keep the worker index in 8 bits */
#define SNIFF_LEN 24               /* a bind's assoc_group_id ends at offset 24 */
#define HAND_MAGIC 0x64636877u     /* "whcd": a connection handed to another worker */
#define CO_POOL 64                 /* finished call coroutines kept for reuse */

static char sleep_token;           /* its address is core.SLEEP */

typedef struct lsrv lsrv;

typedef struct lsconn {
  struct lsconn *next;
  lsrv *s;
  uint64_t id;
  dce_transport *t;
  int fd;                          /* the socket under t */
  dce_sconn *sc;                   /* NULL once closed (zombie) */
  int64_t last_pdu_ms;
  uint64_t pdus_seen;
  int lis;                         /* index of the listener that accepted it */
  int counted;                     /* in this worker's share of s->load */
  int notify;                      /* run the on_close hook once it is closed */
  uint32_t group;                  /* its association group, kept for the hook */
  int group_ended;                 /* it was the group's last connection */
  int sniff;                       /* workers: first bytes not yet looked at */
  unsigned npre;
  uint8_t pre[SNIFF_LEN];          /* workers: the first bytes, read before deciding */
} lsconn;

typedef struct llis { int fd; int port; char portstr[112]; char path[108]; lsrv *s; } llis;

typedef struct lfdw lfdw;

typedef struct lcall {
  struct lcall *next, *prev;
  lfdw *fdw;                       /* waiting on a client connection's fd */
  struct lcall *wnext, **wprev;    /* in fdw->waiters or fdw->firing */
  unsigned wev;                    /* the events it waits for */
  lsrv *s;
  uint64_t conn_id;
  struct lsconn *conn;             /* NULL for tasks and once the connection closed */
  uint32_t call_id;
  int ref;                         /* registry ref of the coroutine */
  int nargs;                       /* arguments waiting for the first resume (tasks) */
  lua_State *co;
  dce_timer *wake, *deadline;
  int reuse;                       /* its coroutine returned normally: pool it */
} lcall;

/* Coroutines waiting on one fd (client connections made by handlers and
** tasks): the fd is watched while someone waits; when it is ready every
** waiter is resumed and re-checks its own call. */
struct lfdw {
  lfdw *next;
  lsrv *s;
  int fd, busy;                    /* busy: fdw_io is resuming its waiters */
  int rearm;                       /* someone joined while busy: register the fd anew */
  lcall *waiters, *firing;
};

/* A worker process, as the parent (worker 0) sees it. */
typedef struct lworker {
  pid_t pid;                       /* 0: not running */
  int64_t started_ms;
  dce_timer *restart;              /* pending restart */
  int due;                         /* restart at the end of this step */
  struct lsrv *s;
} lworker;

struct lsrv {
  dce_loop *loop;
  lfdw *fdws;
  dce_server *srv;
  llis lis[MAX_LISTEN];
  int n_lis;
  lsconn *conns, *zombies;
  int n_conns;
  uint64_t next_id;
  lcall *calls;
  int n_calls;
  lua_State *L;                    /* the thread running step, during step */
  int dispatch_ref, log_ref;
  int max_conns;
  double idle_timeout, partial_timeout, call_timeout;
  dce_timer *sweep;
  int in_step, close_pending, open;
  int close_ref;                   /* on_close hook (conn id, assoc group) */
  dcerpc_auth_hook *auth;          /* credential lookup (set_auth), or NULL */
  /* workers (see "workers" below); nworkers 1: none of this is used */
  int nworkers, worker, pool;      /* pool: run() forked the workers */
  lworker *wk;                     /* [nworkers]; meaningful in the parent */
  int *hand;                       /* [2 * nworkers]: worker i reads hand[2i], the others write hand[2i+1] */
  atomic_int *load;                /* shared mapping: connections per worker */
  int sigfd, fork_due;
  sigset_t oldmask;
  pid_t parent;
  uint64_t handed_in, handed_out;
  /* Coroutines of calls that returned normally, stack empty, kept anchored
  ** (registry refs) and resumed again with the next call's dispatcher: a
  ** Lua 5.4 thread whose function returned can start another one. */
  lua_State *co_pool[CO_POOL];
  int co_pool_ref[CO_POOL];
  int n_co_pool;
};

/* ------------------------------------------------------------ logging */

static void srv_log(lsrv *s, const char *fmt, const char *a, const char *b) {
  lua_State *L = s->L;
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
  if (L && s->log_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->log_ref);
    lua_pushstring(L, msg);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
  } else {
    fprintf(stderr, "dcerpc server: %s\n", msg);
  }
}

/* ------------------------------------------------------------ connections */

static void conn_io(dce_loop *l, int fd, unsigned ev, void *ud);

static void conn_close(lsconn *c, const char *why) {
  lsrv *s = c->s;
  lsconn **pp;
  lcall *k;
  if (!c->sc) return;
  if (why) srv_log(s, "closing connection from %s: %s", c->t->peer, why);
  for (k = s->calls; k; k = k->next) if (k->conn == c) k->conn = NULL;   /* replies will be dropped */
  c->group = dce_sconn_get_info(c->sc)->assoc_group;
  if (c->counted && s->load) atomic_fetch_sub(&s->load[s->worker], 1);
  c->counted = 0;
  dce_loop_del(s->loop, c->fd);
  c->t->ops->close(c->t);
  c->t = NULL;
  dce_sconn_free(c->sc);
  c->sc = NULL;
  c->group_ended = c->group != 0 && !dce_server_has_group(s->srv, c->group);
  for (pp = &s->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) { *pp = c->next; break; }
  s->n_conns--;
  c->next = s->zombies;
  s->zombies = c;
}

/* Send what is queued, then set the poll interest; close when the
** association asked for it and its last answer is out. */
static void conn_flush(lsconn *c) {
  const uint8_t *p;
  size_t n;
  unsigned ev = 0;
  if (!c->sc) return;
  while ((n = dce_sconn_out(c->sc, &p)) > 0) {
    long r = c->t->ops->send(c->t, p, n);
    if (r == DCE_T_AGAIN) break;
    if (r < 0) { conn_close(c, c->t->errmsg); return; }
    dce_sconn_sent(c->sc, (size_t)r);
  }
  n = dce_sconn_out(c->sc, &p);
  if (dce_sconn_should_close(c->sc)) {
    if (n == 0) { conn_close(c, dce_sconn_get_info(c->sc)->why); return; }
  } else if (n < OUT_HIGH_WATER) {
    ev |= DCE_EV_READ;
  }
  if (n) ev |= DCE_EV_WRITE;
  dce_loop_mod(c->s->loop, c->fd, ev);
}

/* ------------------------------------------------------------ calls */

/* The call or task the loop is resuming right now (saved and restored
** around each resume, so nested loops work). A coroutine that the call's
** code creates itself is not it: there a client call blocks instead. Not
** lua_getextraspace: Lua leaves the main thread's extra space uninitialised. */
static _Thread_local lcall *running;

static void fdw_leave(lcall *k);

static void call_free(lcall *k) {
  lsrv *s = k->s;
  fdw_leave(k);
  if (running == k) running = NULL;
  if (k->wake) dce_loop_cancel(s->loop, k->wake);
  if (k->deadline) dce_loop_cancel(s->loop, k->deadline);
  if (k->prev) k->prev->next = k->next; else s->calls = k->next;
  if (k->next) k->next->prev = k->prev;
  s->n_calls--;
  if (k->reuse && s->n_co_pool < CO_POOL && s->open) {
    lua_settop(k->co, 0);
    s->co_pool[s->n_co_pool] = k->co;
    s->co_pool_ref[s->n_co_pool++] = k->ref;
  } else if (s->L) {
    luaL_unref(s->L, LUA_REGISTRYINDEX, k->ref);
  }
  free(k);
}

/* Answer on the call's connection, if it is still there. */
static void call_answer(lcall *k, const char *stub, size_t len, int fault, uint32_t status, int dne) {
  lsconn *c = k->conn;
  if (!c || !c->sc) return;
  if (fault) dce_sconn_fault(c->sc, k->call_id, status, dne);
  else dce_sconn_reply(c->sc, k->call_id, (const uint8_t *)stub, len);
  conn_flush(c);
}

static void call_wake(dce_loop *l, void *ud);
static void call_resume(lcall *k, int nargs);

char dcerpc_wait_token;


int dcerpc_on_loop(lua_State *L) {
  return running && running->co == L && lua_isyieldable(L);
}

static void fdw_free_if_idle(lfdw *w) {
  lfdw **pp;
  if (w->waiters || w->firing || w->busy) return;
  dce_loop_del(w->s->loop, w->fd);
  for (pp = &w->s->fdws; *pp; pp = &(*pp)->next)
    if (*pp == w) { *pp = w->next; break; }
  free(w);
}

static void fdw_leave(lcall *k) {
  lfdw *w = k->fdw;
  if (!w) return;
  *k->wprev = k->wnext;
  if (k->wnext) k->wnext->wprev = k->wprev;
  k->fdw = NULL;
  k->wnext = NULL;
  k->wprev = NULL;
  fdw_free_if_idle(w);
}

static unsigned fdw_events(const lfdw *w) {
  const lcall *k;
  unsigned ev = 0;
  for (k = w->waiters; k; k = k->wnext) ev |= k->wev;
  return ev ? ev : DCE_EV_READ;
}

/* The fd is ready: resume everyone who waited on it. Those who wait again
** join w->waiters, not the batch being resumed. */
static void fdw_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  lfdw *w = (lfdw *)ud;
  (void)l; (void)fd; (void)ev;
  w->busy = 1;
  w->firing = w->waiters;
  if (w->firing) w->firing->wprev = &w->firing;
  w->waiters = NULL;
  while (w->firing) {
    lcall *k = w->firing;
    *k->wprev = k->wnext;
    if (k->wnext) k->wnext->wprev = k->wprev;
    k->fdw = NULL;
    k->wnext = NULL;
    k->wprev = NULL;
    if (k->wake) { dce_loop_cancel(w->s->loop, k->wake); k->wake = NULL; }
    call_resume(k, 0);
  }
  w->busy = 0;
  if (w->waiters && w->rearm) {
    /* A waiter may have closed this fd and opened another with the same
    ** number (a client closed and connected again in one resume): the
    ** kernel dropped the old registration with the old file. */
    dce_loop_del(w->s->loop, w->fd);
    if (dce_loop_add(w->s->loop, w->fd, fdw_events(w), fdw_io, w)) {
      lcall *k;
      while ((k = w->waiters) != NULL) {      /* cannot watch it: retry at the next step */
        fdw_leave(k);
        if (k->wake) dce_loop_cancel(w->s->loop, k->wake);
        k->wake = dce_loop_timer(w->s->loop, 1, call_wake, k);
      }
      return;                      /* fdw_leave freed w with its last waiter */
    }
  } else if (w->waiters) {
    dce_loop_mod(w->s->loop, w->fd, fdw_events(w));
  }
  w->rearm = 0;
  fdw_free_if_idle(w);
}

/* Start waiting on fd for events; 0 or -1. */
static int fdw_join(lcall *k, int fd, unsigned events) {
  lsrv *s = k->s;
  lfdw *w;
  for (w = s->fdws; w; w = w->next) if (w->fd == fd) break;
  if (!w) {
    w = calloc(1, sizeof *w);
    if (!w) return -1;
    w->s = s;
    w->fd = fd;
    if (dce_loop_add(s->loop, fd, events, fdw_io, w)) { free(w); return -1; }
    w->next = s->fdws;
    s->fdws = w;
  }
  if (w->busy) w->rearm = 1;
  k->wev = events;
  k->fdw = w;
  k->wnext = w->waiters;
  if (w->waiters) w->waiters->wprev = &k->wnext;
  k->wprev = &w->waiters;
  w->waiters = k;
  return dce_loop_mod(s->loop, fd, fdw_events(w)) && errno != ENOENT ? -1 : 0;
}

/* A wait timed out: resume without the fd being ready. */
static void call_wait_timeout(dce_loop *l, void *ud) {
  lcall *k = (lcall *)ud;
  (void)l;
  k->wake = NULL;
  fdw_leave(k);
  call_resume(k, 0);
}

static void call_resume(lcall *k, int nargs) {
  lsrv *s = k->s;
  lua_State *co = k->co;
  lcall *saved = running;
  int nres = 0, st;
  running = k;
  st = lua_resume(co, s->L, nargs, &nres);
  running = saved;
  if (st == LUA_YIELD) {
    int64_t ms = 0;
    if (nres >= 4 && lua_touserdata(co, -nres) == &dcerpc_wait_token) {
      int fd = (int)lua_tointeger(co, -nres + 1);
      unsigned ev = (unsigned)lua_tointeger(co, -nres + 2) & (DCE_EV_READ | DCE_EV_WRITE);
      lua_Integer to = lua_tointeger(co, -nres + 3);
      lua_pop(co, nres);
      if (fdw_join(k, fd, ev ? ev : DCE_EV_READ) == 0) {
        if (to >= 0) {
          k->wake = dce_loop_timer(s->loop, to, call_wait_timeout, k);
          if (!k->wake) goto nomem;
        }
        return;
      }
      fdw_leave(k);                /* cannot watch it: try again at the next step */
      k->wake = dce_loop_timer(s->loop, 1, call_wake, k);
      if (!k->wake) goto nomem;
      return;
    }
    if (nres >= 1 && lua_touserdata(co, -nres) == &sleep_token) {
      double secs = nres >= 2 ? lua_tonumber(co, -nres + 1) : 0;
      if (secs > 0) ms = secs > 1e9 ? (int64_t)1e12 : (int64_t)(secs * 1000.0 + 0.5);
    }
    lua_pop(co, nres);
    k->wake = dce_loop_timer(s->loop, ms, call_wake, k);
    if (!k->wake) goto nomem;
    return;
  }
  if (st == LUA_OK) {
    size_t len;
    const char *stub = nres >= 1 ? lua_tolstring(co, -nres, &len) : NULL;
    k->reuse = k->conn_id != 0;    /* a call's coroutine (tasks are not pooled) */
    if (stub) {
      call_answer(k, stub, len, 0, 0, 0);
    } else {
      uint32_t status = nres >= 2 ? (uint32_t)lua_tointeger(co, -nres + 1) : DCE_RPC_S_CALL_FAILED;
      int dne = nres >= 3 && lua_toboolean(co, -nres + 2);
      call_answer(k, NULL, 0, 1, status ? status : DCE_RPC_S_CALL_FAILED, dne);
    }
  } else {
    const char *m = lua_tostring(co, -1);
    srv_log(s, "%s failed: %s", k->conn_id ? "call dispatcher" : "task", m ? m : "(error object)");
    call_answer(k, NULL, 0, 1, DCE_RPC_S_CALL_FAILED, 0);
  }
  call_free(k);
  return;
nomem:
  call_answer(k, NULL, 0, 1, DCE_NCA_S_FAULT_REMOTE_NO_MEMORY, 0);
  call_free(k);
}

static void call_wake(dce_loop *l, void *ud) {
  lcall *k = (lcall *)ud;
  int n = k->nargs;
  (void)l;
  k->wake = NULL;
  k->nargs = 0;
  call_resume(k, n);
}

/* call_timeout: answer with a fault and abandon the coroutine (it is
** suspended; dropping its reference lets the GC take it). */
static void call_expire(dce_loop *l, void *ud) {
  lcall *k = (lcall *)ud;
  (void)l;
  k->deadline = NULL;
  srv_log(k->s, "call timed out%s%s", "", "");
  call_answer(k, NULL, 0, 1, DCE_RPC_S_CALL_CANCELLED, 0);
  call_free(k);
}

static void push_uuid(lua_State *L, const dce_uuid *u) {
  char t[37];
  dce_uuid_format(u, t);
  lua_pushstring(L, t);
}

static void call_start(lsconn *c, const dce_scall *sc) {
  lsrv *s = c->s;
  lua_State *L = s->L, *co;
  const dce_sconn_info *in = dce_sconn_get_info(c->sc);
  lcall *k = calloc(1, sizeof *k);
  if (!k) { dce_sconn_fault(c->sc, sc->call_id, DCE_NCA_S_FAULT_REMOTE_NO_MEMORY, 1); return; }
  if (s->n_co_pool > 0) {
    s->n_co_pool--;
    co = s->co_pool[s->n_co_pool];
    k->ref = s->co_pool_ref[s->n_co_pool];
  } else {
    co = lua_newthread(L);
    k->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  k->co = co;
  k->s = s;
  k->conn_id = c->id;
  k->conn = c;
  k->call_id = sc->call_id;
  k->next = s->calls;
  if (s->calls) s->calls->prev = k;
  s->calls = k;
  s->n_calls++;
  lua_rawgeti(co, LUA_REGISTRYINDEX, s->dispatch_ref);
  lua_createtable(co, 0, 12);
  lua_pushinteger(co, (lua_Integer)c->id);
  lua_setfield(co, -2, "conn");
  lua_pushinteger(co, sc->call_id);
  lua_setfield(co, -2, "call_id");
  lua_pushinteger(co, sc->ctx_id);
  lua_setfield(co, -2, "context_id");
  lua_pushinteger(co, sc->opnum);
  lua_setfield(co, -2, "opnum");
  lua_pushinteger(co, (lua_Integer)(intptr_t)sc->iface);
  lua_setfield(co, -2, "iface");
  if (sc->has_object) {
    push_uuid(co, &sc->object);
    lua_setfield(co, -2, "object");
  }
  lua_pushlstring(co, (const char *)sc->stub, sc->stub_len);
  lua_setfield(co, -2, "stub");
  lua_pushinteger(co, sc->drep[0] | (sc->drep[1] << 8));
  lua_setfield(co, -2, "drep");
  lua_pushstring(co, c->t->peer);
  lua_setfield(co, -2, "peer");
  lua_pushinteger(co, in->assoc_group);
  lua_setfield(co, -2, "assoc_group");
  if (s->pool) {
    lua_pushinteger(co, s->worker);
    lua_setfield(co, -2, "worker");
  }
  if (sc->auth_type) {             /* the security context of this call */
    lua_pushstring(co, dce_sec_type_name(sc->auth_type));
    lua_setfield(co, -2, "auth_type");
    lua_pushstring(co, dce_sec_level_name(sc->auth_level));
    lua_setfield(co, -2, "auth_level");
    lua_pushstring(co, sc->user ? sc->user : "");
    lua_setfield(co, -2, "user");
    lua_pushstring(co, sc->domain ? sc->domain : "");
    lua_setfield(co, -2, "domain");
    lua_pushinteger(co, (lua_Integer)sc->auth_context_id);
    lua_setfield(co, -2, "auth_context_id");
  }
  if (s->call_timeout > 0)
    k->deadline = dce_loop_timer(s->loop, (int64_t)(s->call_timeout * 1000), call_expire, k);
  call_resume(k, 1);
}

/* ------------------------------------------------------------ io */

/* What the association says after input: calls to start, output to send. */
static void conn_after_input(lsconn *c) {
  const dce_scall *k;
  if (!c->sc) return;
  if (c->s->auth && dcerpc_auth_last_error(c->s->auth)) {     /* a raising lookup function */
    srv_log(c->s, "%s%s", dcerpc_auth_last_error(c->s->auth), "");
    dcerpc_auth_clear_error(c->s->auth);
  }
  if (dce_sconn_get_info(c->sc)->pdus_in != c->pdus_seen) {
    c->pdus_seen = dce_sconn_get_info(c->sc)->pdus_in;
    c->last_pdu_ms = dce_now_ms();
  }
  while (c->sc && (k = dce_sconn_next_call(c->sc)) != NULL) call_start(c, k);
  if (c->sc) conn_flush(c);
}

static int conn_handover(lsconn *c, int target);

/* Workers: which worker should serve this connection, from its first bytes.
** A bind joining an association group goes to the worker that created the
** group (its index is in the id's top 8 bits; ids of no worker go to 0, which
** naks them). Anything else stays here, except that a bind making a new group
** goes to the least loaded worker when this one holds 2 connections more
** (this one counts the connection already): EPOLLEXCLUSIVE wakes whichever
** worker is first in the listener's wait queue, which on an idle server is
** always the same one. */
static int conn_target(const lsconn *c) {
  const lsrv *s = c->s;
  const uint8_t *p = c->pre;
  uint32_t g;
  int j, best, mine;
  if (c->npre < SNIFF_LEN || p[0] != 5 || p[2] != DCE_PT_BIND) return s->worker;
  g = dce_ld32(p + 20, (p[4] & DCE_DREP_LE) != 0);
  if (g) return DCE_GROUP_WORKER(g) < (unsigned)s->nworkers ? (int)DCE_GROUP_WORKER(g) : 0;
  mine = atomic_load(&s->load[s->worker]);
  best = s->worker;
  for (j = 0; j < s->nworkers; j++)
    if (atomic_load(&s->load[j]) < atomic_load(&s->load[best])) best = j;
  return atomic_load(&s->load[best]) + 1 < mine ? best : s->worker;
}

/* Workers: read the first SNIFF_LEN bytes (no more: the rest stays in the
** socket for whoever serves it), then decide. Returns 1 when conn_io must
** stop here (waiting for more, closed, or handed over), 0 to read on. */
static int conn_sniff(lsconn *c) {
  long r = c->t->ops->recv(c->t, c->pre + c->npre, SNIFF_LEN - c->npre);
  int target;
  if (r == DCE_T_AGAIN) return 1;
  if (r == 0) { conn_close(c, NULL); return 1; }
  if (r < 0) { conn_close(c, c->t->errmsg); return 1; }
  c->npre += (unsigned)r;
  if (c->npre < SNIFF_LEN && !(c->npre >= 3 && c->pre[2] != DCE_PT_BIND)) return 1;
  c->sniff = 0;
  target = conn_target(c);
  if (target != c->s->worker && conn_handover(c, target) == 0) return 1;
  dce_sconn_feed(c->sc, c->pre, c->npre);     /* a protocol error shows in should_close */
  return 0;
}

static void conn_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  lsconn *c = (lsconn *)ud;
  uint8_t buf[65536];
  int rounds;
  (void)l; (void)fd;
  if (!c->sc) return;
  if (ev & DCE_EV_WRITE) { conn_flush(c); if (!c->sc) return; }
  if (ev & DCE_EV_READ) {
    if (c->sniff && conn_sniff(c)) return;
    for (rounds = 0; rounds < 16 && !dce_sconn_should_close(c->sc); rounds++) {
      long r = c->t->ops->recv(c->t, buf, sizeof buf);
      if (r == DCE_T_AGAIN) break;
      if (r == 0) { conn_close(c, NULL); return; }
      if (r < 0) { conn_close(c, c->t->errmsg); return; }
      if (dce_sconn_feed(c->sc, buf, (size_t)r)) break;
      if ((size_t)r < sizeof buf) break;   /* drained (level-triggered: more wakes us again) */
    }
  }
  conn_after_input(c);
}

/* A connection on fd (accepted from listener li, or handed over by another
** worker); NULL (fd closed) when it cannot be set up. */
static lsconn *conn_new(lsrv *s, int cfd, int li) {
  lsconn *c = calloc(1, sizeof *c);
  if (c) c->t = dce_sock_wrap(cfd);
  if (c && c->t) c->sc = dce_sconn_new(s->srv, s->lis[li].portstr);
  if (!c || !c->t || !c->sc || dce_loop_add(s->loop, cfd, DCE_EV_READ, conn_io, c)) {
    if (c && c->sc) dce_sconn_free(c->sc);
    if (c && c->t) c->t->ops->close(c->t); else close(cfd);
    free(c);
    return NULL;
  }
  c->s = s;
  c->fd = cfd;
  c->id = ++s->next_id;
  c->lis = li;
  c->notify = 1;
  c->last_pdu_ms = dce_now_ms();
  c->next = s->conns;
  s->conns = c;
  s->n_conns++;
  return c;
}

static void lis_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  llis *li = (llis *)ud;
  lsrv *s = li->s;
  int i;
  (void)ev; (void)l;
  for (i = 0; i < 64; i++) {
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    lsconn *c;
    if (cfd < 0) break;
    if (s->n_conns >= s->max_conns) { close(cfd); srv_log(s, "connection refused: %s%s", "too many connections", ""); continue; }
    c = conn_new(s, cfd, (int)(li - s->lis));
    if (c && s->pool) {
      c->sniff = 1;
      c->counted = 1;
      atomic_fetch_add(&s->load[s->worker], 1);
    }
  }
}

/* ------------------------------------------------------------ hand-over */

/* What goes to the other worker, with the socket as SCM_RIGHTS. */
typedef struct hand_msg {
  uint32_t magic;
  uint16_t lis, n;                 /* listener index; bytes already read */
  uint8_t b[SNIFF_LEN];
} hand_msg;

/* Give connection c (its socket and the bytes read from it) to worker
** `target`; 0 (c is closed here, silently) or -1 (c stays here). */
static int conn_handover(lsconn *c, int target) {
  lsrv *s = c->s;
  hand_msg m;
  struct msghdr mh;
  struct iovec iov;
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
  struct cmsghdr *cm;
  int fd = c->fd;
  memset(&m, 0, sizeof m);
  memset(&mh, 0, sizeof mh);
  memset(&u, 0, sizeof u);
  m.magic = HAND_MAGIC;
  m.lis = (uint16_t)c->lis;
  m.n = (uint16_t)c->npre;
  memcpy(m.b, c->pre, c->npre);
  iov.iov_base = &m;
  iov.iov_len = offsetof(hand_msg, b) + c->npre;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = u.b;
  mh.msg_controllen = sizeof u.b;
  cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  atomic_fetch_add(&s->load[target], 1);   /* the receiver does not count it again */
  if (sendmsg(s->hand[2 * target + 1], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    atomic_fetch_sub(&s->load[target], 1);
    return -1;
  }
  s->handed_out++;
  c->notify = 0;                   /* it goes on elsewhere */
  conn_close(c, NULL);
  return 0;
}

/* Connections handed to this worker: wrap each socket, feed it the bytes the
** other worker read, and go on as if it had been accepted here. */
static void hand_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  lsrv *s = (lsrv *)ud;
  int i;
  (void)l; (void)ev;
  for (i = 0; i < 64; i++) {
    hand_msg m;
    struct msghdr mh;
    struct iovec iov;
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
    struct cmsghdr *cm;
    int cfd = -1;
    ssize_t r;
    lsconn *c;
    memset(&mh, 0, sizeof mh);
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.b;
    mh.msg_controllen = sizeof u.b;
    do r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
    if (r < 0) break;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(sizeof(int)))
        memcpy(&cfd, CMSG_DATA(cm), sizeof cfd);
    if (cfd < 0) continue;
    if ((size_t)r < offsetof(hand_msg, b) || m.magic != HAND_MAGIC || m.lis >= s->n_lis
        || m.n > SNIFF_LEN || (size_t)r != offsetof(hand_msg, b) + m.n || s->n_conns >= s->max_conns) {
      close(cfd);
      atomic_fetch_sub(&s->load[s->worker], 1);
      continue;
    }
    c = conn_new(s, cfd, m.lis);
    if (!c) { atomic_fetch_sub(&s->load[s->worker], 1); continue; }
    c->counted = 1;
    s->handed_in++;
    dce_sconn_feed(c->sc, m.b, m.n);
    conn_after_input(c);
  }
}

/* Once a second: idle connections, stalled partial PDUs, and closing
** connections whose peer does not take their last answer. */
static void sweep(dce_loop *l, void *ud) {
  lsrv *s = (lsrv *)ud;
  int64_t now = dce_now_ms();
  lsconn *c, *n;
  s->sweep = NULL;
  for (c = s->conns; c; c = n) {
    const dce_sconn_info *in = dce_sconn_get_info(c->sc);
    const uint8_t *p;
    double idle = (double)(now - c->last_pdu_ms) / 1000.0;
    n = c->next;
    if (dce_sconn_should_close(c->sc) && (double)(now - c->last_pdu_ms) > 10000.0)
      conn_close(c, "peer does not read the last answer");    /* a closing peer gets 10 s */
    else if (s->partial_timeout > 0 && (dce_sconn_partial(c->sc) > 0 || c->npre > 0) && idle > s->partial_timeout)
      conn_close(c, "partial PDU timed out");
    else if (s->idle_timeout > 0 && idle > s->idle_timeout && in->executing == 0
             && dce_sconn_out(c->sc, &p) == 0)
      conn_close(c, "idle timeout");
  }
  s->sweep = dce_loop_timer(l, 1000, sweep, s);
}

/* ------------------------------------------------------------ lifecycle */

static void free_zombies(lsrv *s) {
  lsconn *c, *n;
  for (c = s->zombies; c; c = n) { n = c->next; free(c); }
  s->zombies = NULL;
}

/* The on_close hook for each connection closed during this step: run after
** the loop, outside every callback, each under pcall (an error is logged).
** A hook that closes more connections (through a task it runs, say) gets
** called for those too. Connections closed by srv:close() are not reported. */
static void run_close_hooks(lsrv *s, lua_State *L) {
  lsconn *c;
  int again = 1;
  if (s->close_ref == LUA_NOREF) return;
  while (again) {
    again = 0;
    for (c = s->zombies; c; c = c->next) {
      if (!c->notify) continue;
      c->notify = 0;
      lua_rawgeti(L, LUA_REGISTRYINDEX, s->close_ref);
      lua_pushinteger(L, (lua_Integer)c->id);
      lua_pushinteger(L, (lua_Integer)c->group);
      lua_pushboolean(L, c->group_ended);
      if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        srv_log(s, "on_close hook failed: %s%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object)", "");
        lua_pop(L, 1);
      }
      again = 1;
      break;                       /* the list may have changed: start over */
    }
  }
}

/* ------------------------------------------------------------ workers
**
** srv:run() with workers = N > 1 (core.server_new{workers=N}) calls
** start_workers: the parent becomes worker 0 and forks workers 1..N-1, each
** a copy of the parent's Lua state and server (listeners, interfaces,
** handlers) running the same loop. Listeners are watched with EPOLLEXCLUSIVE
** in every worker. Each worker has a SOCK_SEQPACKET socketpair (made before
** the fork; every process holds every pair, so a restarted worker finds its
** queue): a connection is handed to worker i with its socket (SCM_RIGHTS)
** and the bytes already read from it (conn_sniff / conn_handover / hand_io).
** Association group ids carry the worker index in their top 8 bits, so a
** bind joining a group goes to the worker that holds it.
**
** The parent blocks SIGTERM, SIGINT and SIGCHLD and reads them from a
** signalfd: TERM / INT close the server (which stops the workers: SIGTERM,
** then SIGKILL after 3 s, each waited for), CHLD reaps a worker that died
** and restarts it (at most once a second per worker). Workers die with their
** parent (PR_SET_PDEATHSIG), ignore SIGINT (a terminal's ^C reaches the whole
** process group; the parent stops them) and end on SIGTERM. */

static void worker_due(dce_loop *l, void *ud) {
  lworker *w = (lworker *)ud;
  (void)l;
  w->restart = NULL;
  w->due = 1;
  w->s->fork_due = 1;
}

/* In a new worker: forget the parent's connections, calls and tasks (their
** fds are shared with the parent: closing ours does not disturb them), give
** the loop its own epoll instance, read our own hand-over queue. */
static void worker_child_init(lsrv *s, int idx) {
  lsconn *c, *n;
  int j;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != s->parent) _exit(0);        /* the parent died before prctl */
  signal(SIGINT, SIG_IGN);
  sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
  if (dce_loop_reinit(s->loop)) _exit(1);
  s->worker = idx;
  dce_loop_del(s->loop, s->sigfd);
  close(s->sigfd);
  s->sigfd = -1;
  for (j = 0; j < s->nworkers; j++) {
    if (s->wk[j].restart) dce_loop_cancel(s->loop, s->wk[j].restart);
    s->wk[j].restart = NULL;
    s->wk[j].pid = 0;
    s->wk[j].due = 0;
  }
  s->fork_due = 0;
  dce_loop_del(s->loop, s->hand[0]);
  dce_loop_add(s->loop, s->hand[2 * idx], DCE_EV_READ, hand_io, s);
  while (s->calls) call_free(s->calls);
  for (c = s->conns; c; c = n) {
    n = c->next;
    dce_loop_del(s->loop, c->fd);
    c->t->ops->close(c->t);
    dce_sconn_free(c->sc);
    free(c);
  }
  s->conns = NULL;
  s->n_conns = 0;
  free_zombies(s);
  dce_server_set_worker(s->srv, (unsigned)idx);
  s->next_id = (uint64_t)idx << 40;            /* connection ids unique across workers */
  s->handed_in = s->handed_out = 0;
}

/* Fork worker idx: 1 in the new worker, 0 in the parent, -1 failed (retried
** a second later). */
static int worker_fork(lsrv *s, int idx) {
  char a[16], b[16];
  pid_t pid;
  fflush(NULL);                    /* no stdio buffer is written twice */
  pid = fork();
  if (pid < 0) {
    snprintf(a, sizeof a, "%d", idx);
    srv_log(s, "cannot start worker %s: %s", a, strerror(errno));
    s->wk[idx].restart = dce_loop_timer(s->loop, 1000, worker_due, &s->wk[idx]);
    return -1;
  }
  if (pid == 0) { worker_child_init(s, idx); return 1; }
  s->wk[idx].pid = pid;
  s->wk[idx].started_ms = dce_now_ms();
  atomic_store(&s->load[idx], 0);
  snprintf(a, sizeof a, "%d", idx);
  snprintf(b, sizeof b, "%d", (int)pid);
  srv_log(s, "worker %s pid %s", a, b);
  return 0;
}

/* Parent: reap the workers that ended; each is restarted, not sooner than a
** second after its previous start. */
static void workers_reap(lsrv *s) {
  int i;
  for (i = 1; i < s->nworkers; i++) {
    lworker *w = &s->wk[i];
    char a[40], how[64];
    int st;
    int64_t delay;
    if (w->pid <= 0 || waitpid(w->pid, &st, WNOHANG) != w->pid) continue;
    if (WIFSIGNALED(st)) snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(st));
    else snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
    snprintf(a, sizeof a, "%d pid %d", i, (int)w->pid);
    srv_log(s, "worker %s %s; restarting it", a, how);
    w->pid = 0;
    atomic_store(&s->load[i], INT_MAX / 2);     /* no new connections for it meanwhile */
    delay = w->started_ms + 1000 - dce_now_ms();
    w->restart = dce_loop_timer(s->loop, delay > 0 ? delay : 0, worker_due, w);
  }
}

static void sig_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  lsrv *s = (lsrv *)ud;
  struct signalfd_siginfo si;
  int reap = 0;
  (void)l; (void)ev;
  while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGCHLD) reap = 1;
    else s->close_pending = 1;     /* SIGTERM / SIGINT: close after this step */
  }
  if (reap) workers_reap(s);
}

/* Parent: restarts that came due during the step. Returns 1 in a new worker. */
static int workers_restart(lsrv *s) {
  int i;
  if (!s->fork_due || s->worker != 0) return 0;
  s->fork_due = 0;
  for (i = 1; i < s->nworkers; i++)
    if (s->wk[i].due) {
      s->wk[i].due = 0;
      if (worker_fork(s, i) == 1) return 1;
    }
  return 0;
}

/* Stop the workers (parent) and release what the pool holds (any process). */
static void workers_stop(lsrv *s) {
  int i;
  if (!s->pool) return;
  if (s->worker == 0) {
    int64_t deadline = dce_now_ms() + 3000;
    for (i = 1; i < s->nworkers; i++) if (s->wk[i].pid > 0) kill(s->wk[i].pid, SIGTERM);
    for (i = 1; i < s->nworkers; i++) {
      pid_t pid = s->wk[i].pid;
      if (pid <= 0) continue;
      for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) break;
        if (dce_now_ms() > deadline) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); break; }
        poll(NULL, 0, 5);
      }
      s->wk[i].pid = 0;
    }
    sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
  }
  if (s->sigfd >= 0) close(s->sigfd);
  s->sigfd = -1;
  for (i = 0; i < 2 * s->nworkers; i++) if (s->hand[i] >= 0) close(s->hand[i]);
  free(s->hand);
  s->hand = NULL;
  free(s->wk);
  s->wk = NULL;
  munmap((void *)s->load, (size_t)s->nworkers * sizeof *s->load);
  s->load = NULL;
  s->pool = 0;
}

static void srv_shutdown(lsrv *s, lua_State *L) {
  int i;
  if (!s->open) return;
  s->open = 0;
  s->L = L;
  while (s->calls) call_free(s->calls);      /* leaves no fd waiters */
  while (s->n_co_pool > 0) luaL_unref(L, LUA_REGISTRYINDEX, s->co_pool_ref[--s->n_co_pool]);
  while (s->conns) conn_close(s->conns, NULL);
  free_zombies(s);
  if (s->pool) workers_stop(s);
  for (i = 0; i < s->n_lis; i++) {
    dce_loop_del(s->loop, s->lis[i].fd);
    close(s->lis[i].fd);
    if (s->lis[i].path[0] && s->worker == 0) unlink(s->lis[i].path);    /* our ncalrpc socket */
  }
  s->n_lis = 0;
  if (s->sweep) dce_loop_cancel(s->loop, s->sweep);
  s->sweep = NULL;
  dce_loop_free(s->loop);
  s->loop = NULL;
  dce_server_free(s->srv);
  s->srv = NULL;
  dcerpc_auth_detach(L, s->auth);
  s->auth = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, s->dispatch_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->log_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->close_ref);
  s->dispatch_ref = s->log_ref = s->close_ref = LUA_NOREF;
  s->L = NULL;
}

static lsrv *srv_check(lua_State *L) {
  lsrv *s = (lsrv *)luaL_checkudata(L, 1, SRV_MT);
  if (!s->open || s->close_pending) luaL_error(L, "attempt to use a closed server");
  return s;
}

static int lsrv_close(lua_State *L) {
  lsrv *s = (lsrv *)luaL_checkudata(L, 1, SRV_MT);
  if (s->in_step) { s->close_pending = 1; return 0; }
  srv_shutdown(s, L);
  return 0;
}

static double opt_num(lua_State *L, int t, const char *k, double def) {
  double v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    int ok;
    v = lua_tonumberx(L, -1, &ok);
    if (!ok || v < 0) luaL_error(L, "server option '%s' must be a non-negative number", k);
  }
  lua_pop(L, 1);
  return v;
}

/* core.server_new(opts) -> srv */
static int lsrv_new(lua_State *L) {
  lsrv *s;
  dce_server_cfg cfg;
  double mf, mr, mc, nw, ma;
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  mf = opt_num(L, 1, "max_frag", DCE_SRV_MAX_FRAG);
  mr = opt_num(L, 1, "max_request", DCE_SRV_MAX_REQUEST);
  mc = opt_num(L, 1, "max_calls", DCE_SRV_MAX_CALLS);
  luaL_argcheck(L, mf >= DCE_SRV_MIN_FRAG && mf <= 65528, 1, "max_frag: 2048 to 65528");
  luaL_argcheck(L, mr >= 1 && mr <= 1073741824.0, 1, "max_request: 1 to 1 GiB");
  luaL_argcheck(L, mc >= 1 && mc <= 65536, 1, "max_calls: 1 to 65536");
  ma = opt_num(L, 1, "max_auth_contexts", DCE_SRV_MAX_AUTH);
  luaL_argcheck(L, ma >= 1 && ma <= 65536, 1, "max_auth_contexts: 1 to 65536");
  nw = opt_num(L, 1, "workers", 1);
  luaL_argcheck(L, nw >= 1 && nw <= MAX_WORKERS && nw == (int)nw, 1, "workers: an integer, 1 to 64");
  s = (lsrv *)lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->dispatch_ref = s->log_ref = s->close_ref = LUA_NOREF;
  s->nworkers = (int)nw;
  s->sigfd = -1;
  luaL_setmetatable(L, SRV_MT);
  s->max_conns = (int)opt_num(L, 1, "max_connections", 1024);
  /* each connection is a descriptor: make room for them (listeners, the
  ** epoll fd, stdio and client connections made by handlers on top) */
  dce_fd_limit_raise((long)s->max_conns + 64);
  s->idle_timeout = opt_num(L, 1, "idle_timeout", 0);
  s->partial_timeout = opt_num(L, 1, "partial_timeout", 40);
  s->call_timeout = opt_num(L, 1, "call_timeout", 0);
  memset(&cfg, 0, sizeof cfg);
  cfg.tag_groups = s->nworkers > 1;            /* ids name their worker */
  cfg.max_frag = (uint16_t)mf;
  cfg.max_request = (size_t)mr;
  cfg.max_calls = (int)mc;
  cfg.max_auth = (int)ma;
  s->loop = dce_loop_new();
  s->srv = dce_server_new(&cfg);
  if (!s->loop || !s->srv) {
    dce_loop_free(s->loop);
    dce_server_free(s->srv);
    s->loop = NULL; s->srv = NULL;
    return luaL_error(L, "cannot create server: out of memory or epoll failed");
  }
  s->open = 1;
  s->sweep = dce_loop_timer(s->loop, 1000, sweep, s);
  return 1;
}

/* srv:listen(host, port) -> bound port | nil, msg */
static int lsrv_listen(lua_State *L) {
  lsrv *s = srv_check(L);
  const char *host = luaL_checkstring(L, 2);
  const char *port;
  char err[200];
  llis *li;
  port = dcerpc_port_arg(L, 3, 1);
  if (s->n_lis >= MAX_LISTEN) return luaL_error(L, "at most %d listening endpoints", MAX_LISTEN);
  li = &s->lis[s->n_lis];
  li->s = s;
  li->path[0] = '\0';
  li->fd = dce_tcp_listen(host, port, &li->port, err, sizeof err);
  if (li->fd < 0) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  listen(li->fd, 512);             /* a deeper backlog than the engine's default */
  snprintf(li->portstr, sizeof li->portstr, "%d", li->port);
  if (dce_loop_add(s->loop, li->fd, DCE_EV_READ, lis_io, li)) {
    close(li->fd);
    lua_pushnil(L);
    lua_pushfstring(L, "cannot watch listener: %s", strerror(errno));
    return 2;
  }
  s->n_lis++;
  lua_pushinteger(L, li->port);
  return 1;
}

/* srv:listen_unix(path, name) -> true | nil, msg   (ncalrpc; name is the
** endpoint name given to clients as the secondary address) */
static int lsrv_listen_unix(lua_State *L) {
  lsrv *s = srv_check(L);
  const char *path = luaL_checkstring(L, 2);
  const char *name = luaL_optstring(L, 3, path);
  char err[200];
  llis *li;
  if (s->n_lis >= MAX_LISTEN) return luaL_error(L, "at most %d listening endpoints", MAX_LISTEN);
  li = &s->lis[s->n_lis];
  li->s = s;
  li->port = 0;
  li->fd = dce_unix_listen(path, err, sizeof err);
  if (li->fd < 0) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  snprintf(li->portstr, sizeof li->portstr, "%s", name);
  snprintf(li->path, sizeof li->path, "%s", path);
  if (dce_loop_add(s->loop, li->fd, DCE_EV_READ, lis_io, li)) {
    close(li->fd);
    unlink(path);
    lua_pushnil(L);
    lua_pushfstring(L, "cannot watch listener: %s", strerror(errno));
    return 2;
  }
  s->n_lis++;
  lua_pushboolean(L, 1);
  return 1;
}

/* srv:set_auth{lookup = fn(user, domain, workstation) -> password |
**   {nt_hash=} | nil, domain =, computer =, dns_domain =, dns_computer =}:
** accept NTLM and SPNEGO binds (once) */
static int lsrv_set_auth(lua_State *L) {
  lsrv *s = srv_check(L);
  dce_acceptor acc;
  if (s->auth) return luaL_error(L, "authentication is already set up");
  s->auth = dcerpc_auth_attach(L, &s->L, 2, &acc);
  if (dce_server_set_auth(s->srv, &acc)) return luaL_error(L, "cannot set up server authentication");
  return 0;
}

/* srv:add_interface({uuid, major, minor}, key [, min_level]) */
static int lsrv_add_interface(lua_State *L) {
  lsrv *s = srv_check(L);
  dce_syntax a;
  size_t n;
  const char *u;
  lua_Integer key = luaL_checkinteger(L, 3);
  int min_level = lua_isnoneornil(L, 4) ? 0 : dcerpc_auth_level_of(L, 4);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "uuid");
  u = lua_tolstring(L, -1, &n);
  if (!u || dce_uuid_parse(&a.uuid, u, n)) return luaL_error(L, "interface: bad uuid");
  lua_pop(L, 1);
  lua_getfield(L, 2, "major");
  a.major = (uint16_t)luaL_checkinteger(L, -1);
  lua_getfield(L, 2, "minor");
  a.minor = (uint16_t)luaL_optinteger(L, -1, 0);
  lua_pop(L, 2);
  if (dce_server_add_iface(s->srv, &a, (void *)(intptr_t)key)) {
    lua_pushnil(L);
    lua_pushliteral(L, "interface already registered (same uuid and major version)");
    return 2;
  }
  if (min_level > 1) dce_server_iface_min_level(s->srv, (void *)(intptr_t)key, (uint8_t)min_level);
  lua_pushboolean(L, 1);
  return 1;
}

static int set_ref(lua_State *L, int *ref) {
  lsrv *s = srv_check(L);
  (void)s;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  lua_pushvalue(L, 2);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}
static int lsrv_set_dispatch(lua_State *L) {
  lsrv *s = srv_check(L);
  return set_ref(L, &s->dispatch_ref);
}
static int lsrv_set_log(lua_State *L) {
  lsrv *s = srv_check(L);
  return set_ref(L, &s->log_ref);
}
static int lsrv_set_on_close(lua_State *L) {
  lsrv *s = srv_check(L);
  return set_ref(L, &s->close_ref);
}

/* The loop runs under pcall so that a raise from inside a callback (out of
** memory in lua_newthread, say) cannot leave the server marked "in step". */
static int step_inner(lua_State *L) {
  lsrv *s = (lsrv *)lua_touserdata(L, 1);
  int n = dce_loop_run_once(s->loop, (int)lua_tointeger(L, 2));
  if (n < 0) return luaL_error(L, "event loop failed: %s", strerror(errno));
  lua_pushinteger(L, n);
  return 1;
}

/* srv:step([timeout]) -> number of callbacks run */
static int lsrv_step(lua_State *L) {
  lsrv *s = srv_check(L);
  double to = luaL_optnumber(L, 2, -1);
  int ms = to < 0 ? -1 : (to > 2e6 ? 2000000000 : (int)(to * 1000));
  int rc;
  if (s->in_step) return luaL_error(L, "srv:step() called from inside a call");
  if (s->dispatch_ref == LUA_NOREF) return luaL_error(L, "no dispatcher set");
  s->in_step = 1;
  s->L = L;
  lua_pushcfunction(L, step_inner);
  lua_pushlightuserdata(L, s);
  lua_pushinteger(L, ms);
  rc = lua_pcall(L, 2, 1, 0);
  run_close_hooks(s, L);           /* still "in step": a close() there is deferred */
  s->in_step = 0;
  free_zombies(s);
  if (s->close_pending) { s->close_pending = 0; srv_shutdown(s, L); }
  else { workers_restart(s); s->L = NULL; }   /* a new worker returns from here */
  if (rc != LUA_OK) return lua_error(L);
  return 1;
}

/* srv:spawn(fn, ...) -> true: run fn(...) as a coroutine on the loop from
** the next step on (yields as in calls; results are dropped, errors logged) */
static int lsrv_spawn(lua_State *L) {
  lsrv *s = srv_check(L);
  int n = lua_gettop(L) - 1;       /* fn and its arguments */
  lcall *k;
  lua_State *co;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  k = calloc(1, sizeof *k);
  if (!k) return luaL_error(L, "out of memory");
  co = lua_newthread(L);
  k->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  k->co = co;
  k->s = s;
  k->nargs = n - 1;
  lua_xmove(L, co, n);
  k->wake = dce_loop_timer(s->loop, 0, call_wake, k);
  if (!k->wake) {
    luaL_unref(L, LUA_REGISTRYINDEX, k->ref);
    free(k);
    return luaL_error(L, "out of memory");
  }
  k->next = s->calls;
  if (s->calls) s->calls->prev = k;
  s->calls = k;
  s->n_calls++;
  lua_pushboolean(L, 1);
  return 1;
}

/* srv:call_alive(conn_id, call_id) -> bool: the call is still wanted (its
** connection is open and the client neither cancelled nor orphaned it) */
static int lsrv_call_alive(lua_State *L) {
  lsrv *s = srv_check(L);
  lua_Integer id = luaL_checkinteger(L, 2), call = luaL_checkinteger(L, 3);
  lsconn *c;
  for (c = s->conns; c; c = c->next)
    if ((lua_Integer)c->id == id) break;
  lua_pushboolean(L, c && c->sc && dce_sconn_call_alive(c->sc, (uint32_t)call));
  return 1;
}

static int lsrv_stats(lua_State *L) {
  lsrv *s = srv_check(L);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, s->worker);
  lua_setfield(L, -2, "worker");
  lua_pushinteger(L, s->nworkers);
  lua_setfield(L, -2, "workers");
  lua_pushinteger(L, (lua_Integer)s->handed_in);
  lua_setfield(L, -2, "handed_in");
  lua_pushinteger(L, (lua_Integer)s->handed_out);
  lua_setfield(L, -2, "handed_out");
  lua_pushinteger(L, s->n_conns);
  lua_setfield(L, -2, "connections");
  lua_pushinteger(L, s->n_calls);
  lua_setfield(L, -2, "calls");
  lua_pushinteger(L, dce_server_groups(s->srv));
  lua_setfield(L, -2, "groups");
  lua_pushinteger(L, s->n_lis);
  lua_setfield(L, -2, "listeners");
  return 1;
}

/* srv:start_workers() -> this process's worker index. With workers = N > 1:
** fork workers 1..N-1 (see "workers" above); the parent goes on as worker 0.
** Once per server; from outside step. */
static int lsrv_start_workers(lua_State *L) {
  lsrv *s = srv_check(L);
  int i, n = s->nworkers;
  sigset_t set;
  if (s->pool || n <= 1) { lua_pushinteger(L, s->worker); return 1; }
  if (s->in_step) return luaL_error(L, "start_workers from inside a call");
  s->wk = calloc((size_t)n, sizeof *s->wk);
  s->hand = malloc(2 * (size_t)n * sizeof *s->hand);
  s->load = mmap(NULL, (size_t)n * sizeof *s->load, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s->load == MAP_FAILED) s->load = NULL;
  if (s->hand) for (i = 0; i < 2 * n; i++) s->hand[i] = -1;
  if (!s->wk || !s->hand || !s->load) goto fail;
  for (i = 0; i < n; i++) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &s->hand[2 * i])) goto fail;
    atomic_init(&s->load[i], 0);
    s->wk[i].s = s;
  }
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (s->sigfd < 0 || dce_loop_add(s->loop, s->sigfd, DCE_EV_READ, sig_io, s)
      || dce_loop_add(s->loop, s->hand[0], DCE_EV_READ, hand_io, s)) goto fail;
  /* one worker woken per incoming connection */
  for (i = 0; i < s->n_lis; i++) {
    dce_loop_del(s->loop, s->lis[i].fd);
    if (dce_loop_add(s->loop, s->lis[i].fd, DCE_EV_READ | DCE_EV_EXCLUSIVE, lis_io, &s->lis[i])
        && dce_loop_add(s->loop, s->lis[i].fd, DCE_EV_READ, lis_io, &s->lis[i]))
      return luaL_error(L, "cannot watch listener: %s", strerror(errno));
  }
  sigprocmask(SIG_BLOCK, &set, &s->oldmask);
  s->pool = 1;
  s->worker = 0;
  s->parent = getpid();
  s->wk[0].pid = s->parent;
  s->wk[0].started_ms = dce_now_ms();
  s->L = L;
  for (i = 1; i < n; i++) if (worker_fork(s, i) == 1) break;
  s->L = NULL;
  lua_pushinteger(L, s->worker);
  return 1;
fail:
  {
    int e = errno;
    if (s->sigfd >= 0) { dce_loop_del(s->loop, s->sigfd); close(s->sigfd); }
    s->sigfd = -1;
    if (s->hand) { dce_loop_del(s->loop, s->hand[0]); for (i = 0; i < 2 * n; i++) if (s->hand[i] >= 0) close(s->hand[i]); }
    if (s->load) munmap((void *)s->load, (size_t)n * sizeof *s->load);
    free(s->hand);
    free(s->wk);
    s->hand = NULL; s->wk = NULL; s->load = NULL;
    return luaL_error(L, "cannot start workers: %s", strerror(e));
  }
}

/* srv:worker_pids() -> { [1] = pid of worker 0, ... } (0: not running); in
** a worker other than 0, only its own entry is known */
static int lsrv_worker_pids(lua_State *L) {
  lsrv *s = srv_check(L);
  int i;
  lua_createtable(L, s->nworkers, 0);
  for (i = 0; i < s->nworkers; i++) {
    pid_t pid = 0;
    if (i == s->worker) pid = getpid();
    else if (s->pool && s->worker == 0) pid = s->wk[i].pid;
    lua_pushinteger(L, pid);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* srv:is_open() -> open, worker index; open is false once closed
** (srv:close(), or SIGTERM / SIGINT to the parent of workers) */
static int lsrv_is_open(lua_State *L) {
  lsrv *s = (lsrv *)luaL_checkudata(L, 1, SRV_MT);
  lua_pushboolean(L, s->open && !s->close_pending);
  lua_pushinteger(L, s->worker);
  return 2;
}

/* ------------------------------------------------------------ helpers */

/* core.on_loop() -> true in the coroutine of a server call or task (where
** dcerpc.sleep and client calls yield to the loop) */
static int lcore_on_loop(lua_State *L) {
  lua_pushboolean(L, dcerpc_on_loop(L));
  return 1;
}

static int lcore_sleep_blocking(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  int64_t end = dce_now_ms() + (int64_t)(s * 1000);
  for (;;) {
    int64_t left = end - dce_now_ms();
    if (left <= 0) break;
    poll(NULL, 0, left > 0x7fffffff ? 0x7fffffff : (int)left);
  }
  return 0;
}

/* ------------------------------------------------------------ registration */

void dcerpc_open_server(lua_State *L) {
  static const luaL_Reg srv_m[] = {
    { "listen", lsrv_listen }, { "listen_unix", lsrv_listen_unix },
    { "add_interface", lsrv_add_interface }, { "set_auth", lsrv_set_auth },
    { "call_alive", lsrv_call_alive },
    { "set_dispatch", lsrv_set_dispatch }, { "set_log", lsrv_set_log },
    { "set_on_close", lsrv_set_on_close },
    { "step", lsrv_step }, { "stats", lsrv_stats }, { "spawn", lsrv_spawn },
    { "start_workers", lsrv_start_workers }, { "worker_pids", lsrv_worker_pids },
    { "is_open", lsrv_is_open },
    { "close", lsrv_close },
    { NULL, NULL }
  };
  static const luaL_Reg f[] = {
    { "server_new", lsrv_new }, { "sleep_blocking", lcore_sleep_blocking },
    { "on_loop", lcore_on_loop },
    { NULL, NULL }
  };
  dcerpc_new_class(L, SRV_MT, srv_m, lsrv_close);
  luaL_setfuncs(L, f, 0);
  lua_pushlightuserdata(L, &sleep_token);
  lua_setfield(L, -2, "SLEEP");
}
