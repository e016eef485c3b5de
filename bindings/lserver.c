/*
** lserver.c - the server part of dcerpc.core: Lua on top of the engine's
** server runner (engine/run/server.h: listeners, connections, sweeps,
** workers), with every call run as a Lua coroutine. What is here is what
** touches Lua: the coroutines of calls and tasks, their waits on fds and
** timers (lloop.h), the hooks, and the Lua API.
**
** Lua API (the Lua package wraps it; see scripts/dcerpc/server.lua):
**   core.server_new{max_frag=, max_request=, max_calls_per_connection=, max_calls=,
**                   max_buffered=, max_auth_contexts=, max_connections=,
**                   max_connections_per_address=, idle_timeout=s, partial_timeout=s,
**                   request_timeout=s, reply_timeout=s, call_timeout=s,
**                   workers=N} -> srv
**   srv:listen(host, port) -> bound port | nil, msg
**   srv:listen_unix(path [, name]) -> true | nil, msg   (ncalrpc)
**   srv:add_interface({uuid=, major=, minor=}, key [, min_level]) -> true | nil, msg
**   srv:set_auth{lookup=, domain=, ...}   (see lauth.c)
**   srv:set_dispatch(fn)  fn(info) runs in a new coroutine per call and
**       returns the reply stub, or nil, status, did_not_execute for a fault
**   srv:set_log(fn)       fn(message) for protocol errors and failed calls
**   srv:set_trace(fn | nil)  fn(dir, wire, clear, time, conn_id, peer, local, key) per
**                         fragment of every connection (docs/trace.md)
**   srv:set_on_close(fn)  fn(conn_id, assoc_group, group_ended) after the step
**                         in which a connection closed (under pcall)
**   srv:step([timeout s]) -> callbacks run   (timeout < 0 or nil: wait)
**   srv:stats() -> {connections, calls (tasks included), groups, listeners,
**                   worker, workers, handed_in, handed_out, evicted, refused,
**                   rpc_calls (reassembling or executing), buffered (bytes)}   (this process)
**   srv:start_workers() -> worker index   (workers > 1: fork; engine/run/workers.c)
**   srv:worker_pids() -> {pid of worker 0, ...};  srv:is_open() -> open, worker
**   srv:spawn(fn, ...) -> true   fn(...) as a coroutine on the loop (a task)
**   srv:call_alive(conn_id, call_id) -> bool
**   srv:close()           (also __gc / __close; deferred when inside step)
** In a call or task, coroutine.yield(core.SLEEP, seconds) sleeps on the
** loop and a client call waits on it (lloop.h); any other yield resumes at
** the next step.
**
** Lifetime: a connection that closes is reported by the runner's closing
** hook, which clears the pointer to it in each of its calls, so a call whose
** connection went away while it ran finds none when it finishes (its reply
** is dropped). The runner keeps closed connections readable until the end
** of the step, so callbacks further down the same dispatch never touch
** freed memory.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "laux.h"
#include "lcore.h"
#include "lloop.h"
#include "lauth.h"
#include "base/status.h"
#include "base/clock.h"
#include "net/loop.h"
#include "rpc/sec.h"
#include "run/server.h"

#define SRV_MT "dcerpc.server"
#define CO_POOL 64                 /* finished call coroutines kept for reuse */

typedef struct lsrv lsrv;
typedef struct lfdw lfdw;

typedef struct lcall {
  struct lcall *next, *prev;
  lfdw *fdw;                       /* waiting on a client connection's fd */
  struct lcall *wnext, **wprev;    /* in fdw->waiters or fdw->firing */
  unsigned wev;                    /* the events it waits for */
  lsrv *s;
  uint64_t conn_id;                /* 0 for tasks */
  dce_rconn *conn;                 /* NULL for tasks and once the connection closed */
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

struct lsrv {
  dce_runner *run;
  dce_loop *loop;                  /* the runner's */
  lfdw *fdws;
  lcall *calls;
  int n_calls;
  lua_State *L;                    /* the thread running step, during step */
  int dispatch_ref, log_ref, close_ref;
  int trace_ref;                   /* srv:set_trace: a thread holding the hook at index 1 */
  lua_State *trace_L;
  int tracing;                     /* the hook runs (on trace_L: it must stay anchored) */
  double call_timeout;
  int in_step, close_pending, open;
  int gc_base_kb;                  /* Lua heap after the last idle collection */
  int gc_calls;                    /* calls and tasks running then */
  int64_t gc_checked_ms;
  dcerpc_auth_hook *auth;          /* credential lookup (set_auth), or NULL */
  /* Coroutines of calls that returned normally, stack empty, kept anchored
  ** (registry refs) and resumed again with the next call's dispatcher: a
  ** Lua 5.4 thread whose function returned can start another one. */
  lua_State *co_pool[CO_POOL];
  int co_pool_ref[CO_POOL];
  int n_co_pool;
};

/* ------------------------------------------------------------ logging */

static void srv_log_msg(lsrv *s, const char *msg) {
  lua_State *L = s->L;
  if (L && s->log_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->log_ref);
    lua_pushstring(L, msg);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
  } else {
    fprintf(stderr, "dcerpc server: %s\n", msg);
  }
}

static void srv_log(lsrv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_log(lsrv *s, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  srv_log_msg(s, msg);
}

/* ------------------------------------------------------------ calls */

static void fdw_leave(lcall *k);

static void call_free(lcall *k) {
  lsrv *s = k->s;
  fdw_leave(k);
  dcerpc_loop_forget(k->co);
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
  if (!k->conn) return;
  if (fault) dce_rconn_fault(k->conn, k->call_id, status, dne);
  else dce_rconn_reply(k->conn, k->call_id, (const uint8_t *)stub, len);
}

static void call_wake(dce_loop *l, void *ud);
static void call_resume(lcall *k, int nargs);

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
  lua_State *co = k->co, *saved;
  int nres = 0, st;
  saved = dcerpc_loop_enter(co);
  st = lua_resume(co, s->L, nargs, &nres);
  dcerpc_loop_enter(saved);
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
    if (nres >= 1 && lua_touserdata(co, -nres) == &dcerpc_sleep_token) {
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
  srv_log(k->s, "call timed out");
  call_answer(k, NULL, 0, 1, DCE_RPC_S_CALL_CANCELLED, 0);
  call_free(k);
}

/* ------------------------------------------------------------ runner hooks */

/* A complete request: its dispatcher runs in a (pooled) coroutine. */
static void hook_call(void *ud, dce_rconn *c, const dce_scall *sc) {
  lsrv *s = (lsrv *)ud;
  lua_State *L = s->L, *co;
  const dce_sconn_info *in = dce_rconn_info(c);
  lcall *k = calloc(1, sizeof *k);
  if (!k) { dce_rconn_fault(c, sc->call_id, DCE_NCA_S_FAULT_REMOTE_NO_MEMORY, 1); return; }
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
  k->conn_id = dce_rconn_id(c);
  k->conn = c;
  k->call_id = sc->call_id;
  k->next = s->calls;
  if (s->calls) s->calls->prev = k;
  s->calls = k;
  s->n_calls++;
  lua_rawgeti(co, LUA_REGISTRYINDEX, s->dispatch_ref);
  lua_createtable(co, 0, 12);
  lua_pushinteger(co, (lua_Integer)k->conn_id);
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
    dcerpc_push_uuid(co, &sc->object);
    lua_setfield(co, -2, "object");
  }
  lua_pushlstring(co, (const char *)sc->stub, sc->stub_len);
  lua_setfield(co, -2, "stub");
  lua_pushinteger(co, sc->drep[0] | (sc->drep[1] << 8));
  lua_setfield(co, -2, "drep");
  lua_pushstring(co, dce_rconn_peer(c));
  lua_setfield(co, -2, "peer");
  lua_pushinteger(co, in->assoc_group);
  lua_setfield(co, -2, "assoc_group");
  if (dce_runner_worker(s->run) >= 0) {
    lua_pushinteger(co, dce_runner_worker(s->run));
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

/* c is closing: replies of its calls will be dropped. */
static void hook_closing(void *ud, dce_rconn *c) {
  lsrv *s = (lsrv *)ud;
  lcall *k;
  for (k = s->calls; k; k = k->next) if (k->conn == c) k->conn = NULL;
}

static void hook_log(void *ud, const char *msg) { srv_log_msg((lsrv *)ud, msg); }

/* A raising lookup function (lauth.c) is reported after the input that
** asked it. */
static void hook_after_input(void *ud, dce_rconn *c) {
  lsrv *s = (lsrv *)ud;
  (void)c;
  if (s->auth && dcerpc_auth_last_error(s->auth)) {
    srv_log_msg(s, dcerpc_auth_last_error(s->auth));
    dcerpc_auth_clear_error(s->auth);
  }
}

/* A new worker: the parent's calls and tasks are the parent's. */
static void hook_forked(void *ud, int worker) {
  lsrv *s = (lsrv *)ud;
  (void)worker;
  while (s->calls) call_free(s->calls);
}

/* ------------------------------------------------------------ lifecycle */

/* The on_close hook for each connection closed during this step: run after
** the loop, outside every callback, each under pcall (an error is logged).
** A hook that closes more connections (through a task it runs, say) gets
** called for those too. Connections closed by srv:close() are not reported. */
static void run_close_hooks(lsrv *s, lua_State *L) {
  uint64_t id;
  uint32_t group;
  int ended;
  if (s->close_ref == LUA_NOREF) return;
  while (dce_runner_next_closed(s->run, &id, &group, &ended)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->close_ref);
    lua_pushinteger(L, (lua_Integer)id);
    lua_pushinteger(L, (lua_Integer)group);
    lua_pushboolean(L, ended);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
      srv_log(s, "on_close hook failed: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object)");
      lua_pop(L, 1);
    }
  }
}

static void srv_shutdown(lsrv *s, lua_State *L) {
  if (!s->open) return;
  s->open = 0;
  s->L = L;
  while (s->calls) call_free(s->calls);      /* leaves no fd waiters */
  while (s->n_co_pool > 0) luaL_unref(L, LUA_REGISTRYINDEX, s->co_pool_ref[--s->n_co_pool]);
  dce_runner_free(s->run);
  s->run = NULL;
  s->loop = NULL;
  dcerpc_auth_detach(L, s->auth);
  s->auth = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, s->dispatch_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->log_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->close_ref);
  s->dispatch_ref = s->log_ref = s->close_ref = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, s->trace_ref);
  s->trace_ref = LUA_NOREF;
  s->trace_L = NULL;
  s->L = NULL;
}

static int srv_closing(const lsrv *s) {
  return !s->open || s->close_pending || dce_runner_stop_requested(s->run);
}

static lsrv *srv_check(lua_State *L) {
  lsrv *s = (lsrv *)luaL_checkudata(L, 1, SRV_MT);
  if (srv_closing(s)) luaL_error(L, "attempt to use a closed server");
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
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
    v = 0;                         /* false: off (timeouts and caps) */
  } else if (ty != LUA_TNIL) {
    int ok;
    v = lua_tonumberx(L, -1, &ok);
    if (!ok || v < 0) luaL_error(L, "server option '%s' must be a non-negative number (or false: off)", k);
  }
  lua_pop(L, 1);
  return v;
}

/* core.server_new(opts) -> srv */
static int lsrv_new(lua_State *L) {
  lsrv *s;
  dce_runner_cfg cfg;
  dce_runner_hooks hooks;
  double mf, mr, mc, nw, ma, mt, mb;
  char err[160];
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  mf = opt_num(L, 1, "max_frag", DCE_SRV_MAX_FRAG);
  mr = opt_num(L, 1, "max_request", DCE_SRV_MAX_REQUEST);
  mc = opt_num(L, 1, "max_calls_per_connection", DCE_SRV_MAX_CALLS);
  luaL_argcheck(L, mf >= DCE_SRV_MIN_FRAG && mf <= 65528, 1, "max_frag: 2048 to 65528");
  luaL_argcheck(L, mr >= 1 && mr <= 1073741824.0, 1, "max_request: 1 to 1 GiB");
  luaL_argcheck(L, mc >= 1 && mc <= 65536, 1, "max_calls_per_connection: 1 to 65536");
  mt = opt_num(L, 1, "max_calls", DCE_SRV_MAX_CALLS_TOTAL);
  luaL_argcheck(L, mt >= 1 && mt <= 1048576, 1, "max_calls: 1 to 1048576");
  mb = opt_num(L, 1, "max_buffered", DCE_SRV_MAX_BUFFERED);
  luaL_argcheck(L, mb >= 65536 && mb <= 1099511627776.0, 1, "max_buffered: 64 KiB to 1 TiB");
  ma = opt_num(L, 1, "max_auth_contexts", DCE_SRV_MAX_AUTH);
  luaL_argcheck(L, ma >= 1 && ma <= 65536, 1, "max_auth_contexts: 1 to 65536");
  nw = opt_num(L, 1, "workers", 1);
  luaL_argcheck(L, nw >= 1 && nw <= DCE_RUN_MAX_WORKERS && nw == (int)nw, 1, "workers: an integer, 1 to 64");
  memset(&cfg, 0, sizeof cfg);
  cfg.server.max_frag = (uint16_t)mf;
  cfg.server.max_request = (size_t)mr;
  cfg.server.max_calls = (int)mc;
  cfg.server.max_auth = (int)ma;
  cfg.server.max_calls_total = (int)mt;
  cfg.server.max_buffered = (size_t)mb;
  cfg.workers = (int)nw;
  cfg.max_conns = (int)opt_num(L, 1, "max_connections", 1024);
  luaL_argcheck(L, cfg.max_conns >= 1, 1, "max_connections: at least 1");
  /* defaults: docs/limits.md */
  cfg.max_per_addr = (int)opt_num(L, 1, "max_connections_per_address", cfg.max_conns / 4 > 0 ? cfg.max_conns / 4 : 1);
  cfg.idle_timeout = opt_num(L, 1, "idle_timeout", 300);
  cfg.partial_timeout = opt_num(L, 1, "partial_timeout", 40);
  cfg.request_timeout = opt_num(L, 1, "request_timeout", 30);
  cfg.reply_timeout = opt_num(L, 1, "reply_timeout", 30);
  s = (lsrv *)lua_newuserdatauv(L, sizeof *s, 0);   /* closed until the runner is up */
  memset(s, 0, sizeof *s);
  s->dispatch_ref = s->log_ref = s->close_ref = LUA_NOREF;
  s->trace_ref = LUA_NOREF;
  luaL_setmetatable(L, SRV_MT);
  s->call_timeout = opt_num(L, 1, "call_timeout", 0);
  memset(&hooks, 0, sizeof hooks);
  hooks.ud = s;
  hooks.call = hook_call;
  hooks.closing = hook_closing;
  hooks.log = hook_log;
  hooks.after_input = hook_after_input;
  hooks.forked = hook_forked;
  s->run = dce_runner_new(&cfg, &hooks, err, sizeof err);
  if (!s->run) return luaL_error(L, "%s", err);
  s->loop = dce_runner_loop(s->run);
  s->open = 1;
  return 1;
}

/* srv:listen(host, port) -> bound port | nil, msg */
static int lsrv_listen(lua_State *L) {
  lsrv *s = srv_check(L);
  const char *host = luaL_checkstring(L, 2);
  const char *port = dcerpc_port_arg(L, 3, 1);
  char err[200];
  int bound;
  if (dce_runner_listen_tcp(s->run, host, port, &bound, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, bound);
  return 1;
}

/* srv:listen_unix(path, name) -> true | nil, msg   (ncalrpc; name is the
** endpoint name given to clients as the secondary address) */
static int lsrv_listen_unix(lua_State *L) {
  lsrv *s = srv_check(L);
  const char *path = luaL_checkstring(L, 2);
  const char *name = luaL_optstring(L, 3, path);
  char err[200];
  if (dce_runner_listen_unix(s->run, path, name, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
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
  if (dce_server_set_auth(dce_runner_server(s->run), &acc)) return luaL_error(L, "cannot set up server authentication");
  return 0;
}

/* srv:add_interface({uuid, major, minor}, key [, min_level]) */
static int lsrv_add_interface(lua_State *L) {
  lsrv *s = srv_check(L);
  dce_syntax a;
  lua_Integer key = luaL_checkinteger(L, 3);
  int min_level = lua_isnoneornil(L, 4) ? 0 : dcerpc_auth_level_of(L, 4);
  dcerpc_check_syntax(L, 2, "interface", &a);
  if (dce_server_add_iface(dce_runner_server(s->run), &a, (void *)(intptr_t)key)) {
    lua_pushnil(L);
    lua_pushliteral(L, "interface already registered (same uuid and major version)");
    return 2;
  }
  if (min_level > 1) dce_server_iface_min_level(dce_runner_server(s->run), (void *)(intptr_t)key, (uint8_t)min_level);
  lua_pushboolean(L, 1);
  return 1;
}

static int set_ref(lua_State *L, int *ref) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  lua_pushvalue(L, 2);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}
/* ------------------------------------------------------------ tracing */

/* As conn:set_trace (lconn.c): the hook runs on its own thread, under
** pcall, with the strings made inside it. */
typedef struct strace_args {
  dce_rconn *c;
  int dir;
  const uint8_t *wire, *clear;
  size_t len;
} strace_args;

static int srv_trace_call(lua_State *T) {
  const strace_args *x = (const strace_args *)lua_touserdata(T, 2);
  char local[96];
  lua_pushvalue(T, 1);
  lua_pushstring(T, x->dir == DCE_TRACE_SEND ? "send" : "recv");
  lua_pushlstring(T, (const char *)x->wire, x->len);
  if (x->clear) lua_pushlstring(T, (const char *)x->clear, x->len); else lua_pushnil(T);
  {
    struct timespec ts;            /* wall clock, for pcap timestamps */
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(T, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
  }
  lua_pushinteger(T, (lua_Integer)dce_rconn_id(x->c));
  lua_pushstring(T, dce_rconn_peer(x->c));
  dce_rconn_local(x->c, local, sizeof local);
  lua_pushstring(T, local);
  /* a request: the key of the interface its context is bound to */
  if (x->len >= 24 && x->wire[2] == DCE_PT_REQUEST) {
    int le = (x->wire[4] & DCE_DREP_LE) != 0;
    uint16_t ctx = le ? (uint16_t)(x->wire[20] | x->wire[21] << 8) : (uint16_t)(x->wire[20] << 8 | x->wire[21]);
    void *ud = dce_rconn_ctx_iface(x->c, ctx);
    if (ud) lua_pushinteger(T, (lua_Integer)(intptr_t)ud); else lua_pushnil(T);
  } else {
    lua_pushnil(T);
  }
  lua_call(T, 8, 0);
  return 0;
}

static void srv_trace(void *ud, dce_rconn *c, int dir, const uint8_t *wire, size_t len, const uint8_t *clear) {
  lsrv *s = (lsrv *)ud;
  lua_State *T = s->trace_L;
  strace_args x;
  int r;
  if (!T || !lua_checkstack(T, 10)) return;
  x.c = c; x.dir = dir; x.wire = wire; x.clear = clear; x.len = len;
  lua_pushcfunction(T, srv_trace_call);
  lua_pushvalue(T, 1);
  lua_pushlightuserdata(T, &x);
  s->tracing = 1;
  r = lua_pcall(T, 2, 0, 0);
  s->tracing = 0;
  if (r != LUA_OK)
    srv_log(s, "trace hook failed: %s", lua_tostring(T, -1) ? lua_tostring(T, -1) : "(error object)");
  lua_settop(T, 1);
}

/* srv:set_trace(fn | nil): fn(dir, wire, clear, time, conn_id, peer, local,
** iface_key) for each fragment of every connection (docs/trace.md);
** iface_key: a request's, the key its interface was added with. */
static int lsrv_set_trace(lua_State *L) {
  lsrv *s = srv_check(L);
  if (s->tracing) return luaL_error(L, "a trace hook cannot change the server's trace hook");
  luaL_unref(L, LUA_REGISTRYINDEX, s->trace_ref);
  s->trace_ref = LUA_NOREF;
  s->trace_L = NULL;
  if (lua_isnoneornil(L, 2)) {
    dce_runner_set_trace(s->run, NULL, NULL);
    return 0;
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  s->trace_L = lua_newthread(L);
  lua_pushvalue(L, 2);
  lua_xmove(L, s->trace_L, 1);
  s->trace_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  dce_runner_set_trace(s->run, srv_trace, s);
  return 0;
}

static int lsrv_set_dispatch(lua_State *L) { return set_ref(L, &srv_check(L)->dispatch_ref); }
static int lsrv_set_log(lua_State *L) { return set_ref(L, &srv_check(L)->log_ref); }
static int lsrv_set_on_close(lua_State *L) { return set_ref(L, &srv_check(L)->close_ref); }

/* The loop runs under pcall so that a raise from inside a callback (out of
** memory in lua_newthread, say) cannot leave the server marked "in step". */
static int step_inner(lua_State *L) {
  lsrv *s = (lsrv *)lua_touserdata(L, 1);
  int n = dce_runner_step(s->run, (int)lua_tointeger(L, 2));
  if (n < 0) return luaL_error(L, "event loop failed: %s", strerror(errno));
  lua_pushinteger(L, n);
  return 1;
}

/* srv:step([timeout]) -> number of callbacks run */
/* Lua collects as it allocates: after a burst of big calls (a 4 MiB
** request, its reply) a server that goes quiet would keep their garbage
** until the next burst. At most once a second, when the heap has doubled
** and grown by 1 MiB since the last full collection, or when half the calls
** running then (64 or more) have ended, do one, so memory returns after an
** attack (docs/limits.md). */
static void idle_gc(lsrv *s, lua_State *L) {
  int64_t now;
  int kb;
  if (!s->open) return;
  now = dce_now_ms();
  if (now - s->gc_checked_ms < 1000) return;
  s->gc_checked_ms = now;
  kb = lua_gc(L, LUA_GCCOUNT);
  if ((kb > 2 * s->gc_base_kb && kb > s->gc_base_kb + 1024)
      || (s->gc_calls >= 64 && s->n_calls <= s->gc_calls / 2)) {
    lua_gc(L, LUA_GCCOLLECT);
    s->gc_base_kb = lua_gc(L, LUA_GCCOUNT);
    s->gc_calls = s->n_calls;
    dce_runner_memory_freed(s->run);
  } else if (kb < s->gc_base_kb) {
    s->gc_base_kb = kb;
  }
}

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
  dce_runner_sweep_closed(s->run);
  if (s->close_pending || dce_runner_stop_requested(s->run)) { s->close_pending = 0; srv_shutdown(s, L); }
  else { dce_runner_restart_due(s->run); s->L = NULL; }   /* a new worker returns from here */
  if (rc != LUA_OK) return lua_error(L);
  idle_gc(s, L);
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
  dce_rconn *c = dce_runner_find(s->run, (uint64_t)id);
  lua_pushboolean(L, c && dce_rconn_call_alive(c, (uint32_t)call));
  return 1;
}

static int lsrv_stats(lua_State *L) {
  lsrv *s = srv_check(L);
  dce_runner_stats st;
  dce_runner_get_stats(s->run, &st);
  lua_createtable(L, 0, 12);
  lua_pushinteger(L, st.worker);
  lua_setfield(L, -2, "worker");
  lua_pushinteger(L, st.workers);
  lua_setfield(L, -2, "workers");
  lua_pushinteger(L, (lua_Integer)st.handed_in);
  lua_setfield(L, -2, "handed_in");
  lua_pushinteger(L, (lua_Integer)st.handed_out);
  lua_setfield(L, -2, "handed_out");
  lua_pushinteger(L, (lua_Integer)st.evicted);
  lua_setfield(L, -2, "evicted");
  lua_pushinteger(L, (lua_Integer)st.refused);
  lua_setfield(L, -2, "refused");
  lua_pushinteger(L, st.calls);
  lua_setfield(L, -2, "rpc_calls");
  lua_pushinteger(L, (lua_Integer)st.buffered);
  lua_setfield(L, -2, "buffered");
  lua_pushinteger(L, st.connections);
  lua_setfield(L, -2, "connections");
  lua_pushinteger(L, s->n_calls);
  lua_setfield(L, -2, "calls");
  lua_pushinteger(L, st.groups);
  lua_setfield(L, -2, "groups");
  lua_pushinteger(L, st.listeners);
  lua_setfield(L, -2, "listeners");
  return 1;
}

/* srv:start_workers() -> this process's worker index. With workers = N > 1:
** fork workers 1..N-1; the parent goes on as worker 0. Once per server;
** from outside step. */
static int lsrv_start_workers(lua_State *L) {
  lsrv *s = srv_check(L);
  char err[160];
  dce_runner_stats st;
  int w;
  dce_runner_get_stats(s->run, &st);
  if (st.pooled || st.workers <= 1) { lua_pushinteger(L, st.worker); return 1; }
  if (s->in_step) return luaL_error(L, "start_workers from inside a call");
  s->L = L;
  w = dce_runner_start_workers(s->run, err, sizeof err);
  s->L = NULL;
  if (w < 0) return luaL_error(L, "%s", err);
  lua_pushinteger(L, w);
  return 1;
}

/* srv:worker_pids() -> { [1] = pid of worker 0, ... } (0: not running); in
** a worker other than 0, only its own entry is known */
static int lsrv_worker_pids(lua_State *L) {
  lsrv *s = srv_check(L);
  dce_runner_stats st;
  int i;
  dce_runner_get_stats(s->run, &st);
  lua_createtable(L, st.workers, 0);
  for (i = 0; i < st.workers; i++) {
    lua_pushinteger(L, dce_runner_worker_pid(s->run, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* srv:is_open() -> open, worker index; open is false once closed
** (srv:close(), or SIGTERM / SIGINT to the parent of workers) */
static int lsrv_is_open(lua_State *L) {
  lsrv *s = (lsrv *)luaL_checkudata(L, 1, SRV_MT);
  dce_runner_stats st;
  if (s->run) dce_runner_get_stats(s->run, &st); else st.worker = 0;
  lua_pushboolean(L, !srv_closing(s));
  lua_pushinteger(L, st.worker);
  return 2;
}

/* ------------------------------------------------------------ registration */

void dcerpc_open_server(lua_State *L) {
  static const luaL_Reg srv_m[] = {
    { "listen", lsrv_listen }, { "listen_unix", lsrv_listen_unix },
    { "add_interface", lsrv_add_interface }, { "set_auth", lsrv_set_auth },
    { "call_alive", lsrv_call_alive },
    { "set_dispatch", lsrv_set_dispatch }, { "set_log", lsrv_set_log },
    { "set_on_close", lsrv_set_on_close }, { "set_trace", lsrv_set_trace },
    { "step", lsrv_step }, { "stats", lsrv_stats }, { "spawn", lsrv_spawn },
    { "start_workers", lsrv_start_workers }, { "worker_pids", lsrv_worker_pids },
    { "is_open", lsrv_is_open },
    { "close", lsrv_close },
    { NULL, NULL }
  };
  static const luaL_Reg f[] = { { "server_new", lsrv_new }, { NULL, NULL } };
  dcerpc_new_class(L, SRV_MT, srv_m, lsrv_close);
  luaL_setfuncs(L, f, 0);
}
