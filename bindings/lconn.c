/*
** lconn.c - client connections of dcerpc.core over ncacn_ip_tcp and ncalrpc
** (connect, bind, alter_context, call, send/receive, info, close).
**
** A connection userdata owns a client association (engine/rpc/co_client.c)
** and a transport (engine/net); the client driver (engine/run/client.c)
** moves the bytes. It is created closed and filled in after the socket is
** up; :close() and __close share one routine, __gc frees even while
** coroutines wait (see conn_gc). Request stubs are Lua strings pinned in the
** userdata's user value (call_id -> string) until the call's result is
** taken, so the engine never copies them. Inside a coroutine an event loop
** runs (lloop.h) every wait yields; elsewhere it blocks in poll.
**
** Lua API (errors are values: nil, err with err.code/name/message/executed;
** only misuse raises):
**   core.connect_tcp(host, port [, {timeout=s, call_timeout=s, max_response=n}]) -> conn
**   core.connect_unix(path [, opts]) -> conn
**   conn:bind(contexts [, {max_xmit, max_recv, assoc_group, feature_negotiation
**             (default true), features, conc_mpx, drep="le"|"be", timeout}]) -> ack
**   conn:alter_context(contexts [, opts]) -> ack
**     contexts = { {id=, abstract={uuid,major,minor}, transfer={{uuid,major,minor},...}}, ... }
**     ack = {max_xmit, max_recv, assoc_group, secondary_address, flags,
**            results={{result, reason, transfer}}, features=bitmask|nil}
**   conn:set_auth(auth) (before bind) ; conn:add_auth(auth, contexts [, {timeout}]) -> ack
**     auth = {type=a core.mechs name ("ntlm", "spnego", "krb5"), level=, user=, domain=,
**             password=|nt_hash=, workstation=, context_id= (the auth_context_id),
**             ccache=, keytab=, target= (Kerberos)}
**   conn:call(ctx_id, opnum, stub [, {object=uuid, timeout=s, auth_context_id=n|false,
**             max_response=n} [, label]])
**     -> stub, drep0  (auth_context_id: the security context; false: none;
**                      max_response: this reply's cap, the connection's otherwise;
**                      label: how a timeout names the call, "srvsvc.NetrShareEnum";
**                      "opnum N" without it)
**   conn:send(ctx_id, opnum, stub [, opts [, label]]) -> call_id
**   Timeouts name the stage and the peer: "timed out after 5 s connecting to
**   127.0.0.1[49152]", "... waiting for the bind_ack from 127.0.0.1[49152]",
**   "... waiting for the response to srvsvc.NetrShareEnum (call 3) from ...".
**   conn:receive(call_id [, timeout]) -> stub, drep0   (a timeout cancels the call)
**   conn:info() -> {bound, dead, dead_reason, max_xmit, max_recv, assoc_group,
**                   secondary_address, features, conc_mpx, shutdown, peer, local,
**                   transport, bytes_sent, bytes_received, pending, ...}
**   conn:set_trace(fn | nil)  fn(dir, wire, clear, time) per fragment (docs/trace.md)
**   conn:getfd() -> fd, "r"|"rw"|"w"|"" ("": bytes are waiting, call step)
**   conn:step() -> true ; conn:done(call_id) -> bool      (for an outside loop)
**   conn:pollfd(), conn:events(), conn:timeout()   (cqueues' pollable protocol)
**   conn:close()  (also __close)
**   core.nt_hash(password) -> 32 hex digits
*/
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>
#include "laux.h"
#include "lcore.h"
#include "lloop.h"
#include "base/clock.h"
#include "base/status.h"
#include "auth/ntlm.h"
#include "net/transport.h"
#include "rpc/co_client.h"
#include "rpc/pdu.h"
#include "rpc/sec.h"
#include "run/client.h"
#include "smb/smb_client.h"
#include "lauth.h"

#define CONN_MT "dcerpc.conn"

#define DEFAULT_CALL_TIMEOUT 60.0

typedef struct lconn {
  dce_assoc *a;
  dce_transport *t;
  dce_dialer *dial;                /* while connecting on an event loop */
  double timeout;                  /* default call timeout, seconds */
  int waiting;                     /* coroutines suspended on the loop for this connection */
  int closing;                     /* closed while some waited: freed by the last of them */
  int opening;                     /* ncacn_np: the SMB session and the pipe are being set up */
  char transport[16];              /* "ncacn_ip_tcp", "ncalrpc" */
  char dialto[112];                /* what connecting reaches: "127.0.0.1[49152]", "127.0.0.1 port 445", a path */
  char where[160];                 /* the peer in messages: "127.0.0.1[49152]", "127.0.0.1[\\pipe\\srvsvc]", a path */
  lua_State *trace_L;              /* conn:set_trace: a thread holding the hook (user value 2) */
  int tracing;                     /* the hook is running: the engine is mid-I/O on this connection */
} lconn;

/* ------------------------------------------------------------ conn object */

static lconn *conn_check(lua_State *L, int idx) {
  lconn *c = (lconn *)luaL_checkudata(L, idx, CONN_MT);
  if (!c->a || c->closing || c->dial || c->opening) luaL_error(L, "attempt to use a closed connection");
  if (c->tracing) luaL_error(L, "a trace hook cannot use the connection it traces");
  return c;
}

static void conn_release(lua_State *L, lconn *c, int idx) {
  if (c->dial) { dce_dial_free(c->dial); c->dial = NULL; }
  if (c->t) { c->t->ops->close(c->t); c->t = NULL; }
  if (c->a) { dce_assoc_free(c->a); c->a = NULL; }
  c->closing = 0;
  c->waiting = 0;
  c->trace_L = NULL;
  lua_pushnil(L);
  lua_setiuservalue(L, idx, 1);
  lua_pushnil(L);
  lua_setiuservalue(L, idx, 2);
}

/* conn:close() and __close. A coroutine waiting on the event loop for this
** connection still uses it: shut the socket down (which wakes it) and let
** the last waiter free it. */
static int conn_close(lua_State *L) {
  lconn *c = (lconn *)luaL_checkudata(L, 1, CONN_MT);
  if (c->tracing) return luaL_error(L, "a trace hook cannot close the connection it traces");
  if (c->waiting > 0 && (c->t || c->dial)) {
    if (!c->closing) {
      if (c->t) c->t->ops->shutdown(c->t);
      else shutdown(dce_dial_fd(c->dial), SHUT_RDWR);
    }
    c->closing = 1;
    return 0;
  }
  conn_release(L, c, 1);
  return 0;
}

/* __gc: nobody can be waiting any more (a waiter keeps the connection alive,
** an abandoned one is garbage too). */
static int conn_gc(lua_State *L) {
  conn_release(L, (lconn *)luaL_checkudata(L, 1, CONN_MT), 1);
  return 0;
}

static int conn_tostring(lua_State *L) {
  lconn *c = (lconn *)luaL_checkudata(L, 1, CONN_MT);
  if (!c->a) lua_pushliteral(L, "dcerpc.conn (closed)");
  else lua_pushfstring(L, "dcerpc.conn (%s)", c->t ? c->t->peer : "?");
  return 1;
}

static double opt_timeout(lua_State *L, int idx, double def) {
  double v = def;
  if (lua_istable(L, idx)) {
    if (lua_getfield(L, idx, "timeout") != LUA_TNIL) v = luaL_checknumber(L, -1);
    lua_pop(L, 1);
  } else if (lua_isnumber(L, idx)) {
    v = lua_tonumber(L, idx);
  }
  luaL_argcheck(L, v > 0, idx, "timeout must be positive");
  return v;
}

static const char *const dialect_names[] = { "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1", NULL };
static const uint16_t dialect_values[] = { 0x0202, 0x0210, 0x0300, 0x0302, 0x0311 };
static const char *const cipher_names[] = { "aes-128-ccm", "aes-128-gcm", "aes-256-ccm", "aes-256-gcm", NULL };

/* ncacn_np: the SMB session over the transport just connected, from the
** options table at oi; c->t becomes the pipe. 0, or -1 with err. */
static int np_start(lua_State *L, lconn *c, int oi, const char *host, const char *pipe,
                    char *err, size_t errlen) {
  dce_smb_cfg cfg;
  dce_smb *s;
  uint8_t hash[16];
  int top = lua_gettop(L);
  memset(&cfg, 0, sizeof cfg);
  cfg.server = host;
  if (lua_getfield(L, oi, "smb_auth") == LUA_TTABLE) cfg.mech = dcerpc_check_cred(L, -1, "spnego", &cfg.cred, hash);
  cfg.signing = dcerpc_field_bool(L, oi, "smb_signing", 0);
  cfg.encrypt = dcerpc_field_bool(L, oi, "smb_encrypt", 0);
  if (lua_getfield(L, oi, "smb_min_dialect") != LUA_TNIL)
    cfg.min_dialect = dialect_values[luaL_checkoption(L, -1, NULL, dialect_names)];
  if (lua_getfield(L, oi, "smb_max_dialect") != LUA_TNIL)
    cfg.max_dialect = dialect_values[luaL_checkoption(L, -1, NULL, dialect_names)];
  if (lua_getfield(L, oi, "smb_ciphers") == LUA_TTABLE) {
    int i, n = (int)luaL_len(L, -1);
    if (n < 1 || n > 4) luaL_error(L, "smb_ciphers: one to four of aes-128-ccm, aes-128-gcm, aes-256-ccm, aes-256-gcm");
    for (i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      cfg.ciphers[i - 1] = (uint16_t)(1 + luaL_checkoption(L, -1, NULL, cipher_names));
      lua_pop(L, 1);
    }
    cfg.n_ciphers = n;
  }
  if (lua_getfield(L, oi, "nbss") != LUA_TNIL) cfg.nbss_called = luaL_checkstring(L, -1);
  s = dce_smb_new(c->t, &cfg, err, errlen);
  memset(hash, 0, sizeof hash);
  c->t = NULL;
  lua_settop(L, top);
  if (!s) return -1;
  c->t = dce_smb_pipe_new(s, pipe, err, errlen);
  if (!c->t) return -1;                /* the session went with its last pipe... */
  return 0;
}

/* Connecting: dialing (c->dial), then for ncacn_np opening the pipe
** (c->opening). Stack from ud: the conn, deadline (ms), timeout (s), and
** for ncacn_np the host and pipe names and the options table. */
static int connect_k(lua_State *L, int status, lua_KContext ctx) {
  int ud = (int)ctx;
  lconn *c = (lconn *)lua_touserdata(L, ud);
  int64_t deadline = (int64_t)lua_tointeger(L, ud + 1);
  int np = !strcmp(c->transport, "ncacn_np");
  char err[400];
  if (status == LUA_YIELD) c->waiting--;
  lua_settop(L, np ? ud + 5 : ud + 2);
  for (;;) {
    dce_transport *t = NULL;
    int64_t left;
    int r, fd;
    unsigned ev = DCE_T_WRITE;
    uint32_t st = DCE_RPC_S_SERVER_UNAVAILABLE;
    if (c->closing) { conn_release(L, c, ud); return dcerpc_fail(L, DCE_RPC_S_SERVER_UNAVAILABLE, NULL, "connection closed while connecting", "no"); }
    if (c->dial) {
      r = dce_dial_step(c->dial, &t, err, sizeof err);
      if (r == 1) {
        dce_dial_free(c->dial);
        c->dial = NULL;
        c->t = t;
        if (!np) { lua_settop(L, ud); return 1; }
        if (np_start(L, c, ud + 5, lua_tostring(L, ud + 3), lua_tostring(L, ud + 4), err, sizeof err)) r = -1;
        else { c->opening = 1; continue; }
      }
      fd = c->dial ? dce_dial_fd(c->dial) : -1;
    } else {
      dce_err e;
      r = dce_smb_pipe_open_step(c->t, &e);
      if (r == 1) { c->opening = 0; lua_settop(L, ud); return 1; }
      if (r < 0) { st = e.status; snprintf(err, sizeof err, "%s", e.msg); }
      fd = dce_transport_poll(c->t, DCE_T_READ, &ev);
      /* bytes held: step again at once, but never past the deadline (a
      ** transport that keeps promising bytes must not spin us) */
      if (r == 0 && dce_transport_pending(c->t) && dce_now_ms() < deadline) continue;
    }
    left = deadline - dce_now_ms();
    if (r == 0 && left <= 0) {
      if (c->opening)
        snprintf(err, sizeof err, "timed out after %g s setting up the SMB session and the pipe %s",
                 lua_tonumber(L, ud + 2), c->where);
      else
        snprintf(err, sizeof err, "timed out after %g s connecting to %s", lua_tonumber(L, ud + 2), c->dialto);
      r = -1;
    }
    if (r < 0) {
      conn_release(L, c, ud);
      return dcerpc_fail(L, st, NULL, err, "no");
    }
    if (dcerpc_on_loop(L)) {
      c->waiting++;
      lua_pushlightuserdata(L, &dcerpc_wait_token);
      lua_pushinteger(L, fd);
      lua_pushinteger(L, ev & DCE_T_WRITE ? (ev & DCE_T_READ ? 3 : 2) : 1);
      lua_pushinteger(L, left);
      return lua_yieldk(L, 4, ctx, connect_k);
    } else {
      struct pollfd pf = { fd, (short)(((ev & DCE_T_READ) ? POLLIN : 0) | ((ev & DCE_T_WRITE) ? POLLOUT : 0)), 0 };
      poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
    }
  }
}

/* core.connect_tcp(host, port [, opts]) / core.connect_unix(path [, opts])
**   opts: {timeout=s (connect), call_timeout=s, max_response=n} */
static int connect_common(lua_State *L, int unix_path, int np) {
  const char *host = luaL_checkstring(L, 1);
  const char *port = NULL;
  int oi = unix_path ? 2 : np ? 4 : 3, ud;
  double cto = 60.0;
  dce_assoc_cfg cfg;
  lconn *c;
  char err[400];
  memset(&cfg, 0, sizeof cfg);
  if (!unix_path) port = dcerpc_port_arg(L, 2, 0);
  if (np) {
    luaL_checkstring(L, 3);
    if (!lua_istable(L, 4)) { lua_settop(L, 3); lua_newtable(L); }
    lua_settop(L, 4);
  }
  c = (lconn *)lua_newuserdatauv(L, sizeof *c, 2);   /* closed until filled in */
  memset(c, 0, sizeof *c);
  c->timeout = DEFAULT_CALL_TIMEOUT;
  strcpy(c->transport, unix_path ? "ncalrpc" : np ? "ncacn_np" : "ncacn_ip_tcp");
  luaL_setmetatable(L, CONN_MT);
  ud = lua_gettop(L);
  if (lua_istable(L, oi)) {
    cto = opt_timeout(L, oi, cto);
    if (lua_getfield(L, oi, "call_timeout") != LUA_TNIL) c->timeout = luaL_checknumber(L, -1);
    lua_pop(L, 1);
    cfg.max_response = (size_t)dcerpc_field_int(L, oi, "max_response", DCE_MAX_RESPONSE, 1, (lua_Integer)1 << 40);
  }
  if (unix_path) {
    snprintf(c->dialto, sizeof c->dialto, "%s", host);
    snprintf(c->where, sizeof c->where, "%s", host);
  } else if (np) {
    snprintf(c->dialto, sizeof c->dialto, "%s port %s", host, port);
    snprintf(c->where, sizeof c->where, "%s[\\pipe\\%s]", host, lua_tostring(L, 3));
  } else {
    snprintf(c->dialto, sizeof c->dialto, "%s[%s]", host, port);
    snprintf(c->where, sizeof c->where, "%s", c->dialto);
  }
  lua_newtable(L);
  lua_setiuservalue(L, ud, 1);
  c->a = dce_assoc_new(&cfg);
  if (!c->a) return dcerpc_fail(L, DCE_RPC_S_OUT_OF_MEMORY, NULL, "out of memory", "no");
  c->dial = unix_path ? dce_unix_dial_start(host, err, sizeof err) : dce_tcp_dial_start(host, port, err, sizeof err);
  if (!c->dial) {
    conn_release(L, c, ud);
    return dcerpc_fail(L, DCE_RPC_S_SERVER_UNAVAILABLE, NULL, err, "no");
  }
  lua_pushinteger(L, (lua_Integer)(dce_now_ms() + (int64_t)(cto * 1000)));
  lua_pushnumber(L, cto);
  if (np) {
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 4);
  }
  return connect_k(L, LUA_OK, ud);
}

/* conn:open_pipe(name [, opts]) -> conn: another pipe on this connection's
** SMB session (ncacn_np only); opts as connect_np's timeouts and limits. */
static int lconn_open_pipe(lua_State *L) {
  lconn *o = conn_check(L, 1), *c;
  dce_smb *s = dce_smb_of(o->t);
  const char *pipe = luaL_checkstring(L, 2);
  double cto = 60.0;
  dce_assoc_cfg cfg;
  char err[400];
  int ud;
  if (!s) return luaL_error(L, "open_pipe: not an ncacn_np connection");
  memset(&cfg, 0, sizeof cfg);
  if (!lua_istable(L, 3)) { lua_settop(L, 2); lua_newtable(L); }
  lua_settop(L, 3);
  c = (lconn *)lua_newuserdatauv(L, sizeof *c, 2);
  memset(c, 0, sizeof *c);
  c->timeout = DEFAULT_CALL_TIMEOUT;
  strcpy(c->transport, "ncacn_np");
  luaL_setmetatable(L, CONN_MT);
  ud = lua_gettop(L);
  cto = opt_timeout(L, 3, cto);
  if (lua_getfield(L, 3, "call_timeout") != LUA_TNIL) c->timeout = luaL_checknumber(L, -1);
  lua_pop(L, 1);
  cfg.max_response = (size_t)dcerpc_field_int(L, 3, "max_response", DCE_MAX_RESPONSE, 1, (lua_Integer)1 << 40);
  lua_newtable(L);
  lua_setiuservalue(L, ud, 1);
  c->a = dce_assoc_new(&cfg);
  if (!c->a) return dcerpc_fail(L, DCE_RPC_S_OUT_OF_MEMORY, NULL, "out of memory", "no");
  {
    /* the host as the first connection names it: its where up to the [ */
    const char *b = strchr(o->where, '[');
    int hl = b ? (int)(b - o->where) : (int)strlen(o->where);
    snprintf(c->where, sizeof c->where, "%.*s[\\pipe\\%s]", hl, o->where, pipe);
    snprintf(c->dialto, sizeof c->dialto, "%s", o->dialto);
  }
  c->t = dce_smb_pipe_new(s, pipe, err, sizeof err);
  if (!c->t) { conn_release(L, c, ud); return dcerpc_fail(L, DCE_RPC_S_SERVER_UNAVAILABLE, NULL, err, "no"); }
  c->opening = 1;
  lua_pushinteger(L, (lua_Integer)(dce_now_ms() + (int64_t)(cto * 1000)));
  lua_pushnumber(L, cto);
  lua_pushstring(L, o->t->peer);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  return connect_k(L, LUA_OK, ud);
}

static int lconn_connect_tcp(lua_State *L) { return connect_common(L, 0, 0); }
static int lconn_connect_unix(lua_State *L) { return connect_common(L, 1, 0); }
static int lconn_connect_np(lua_State *L) { return connect_common(L, 0, 1); }

/* An engine function refused (base/err.h): misuse raises, anything else
** is nil, err. */
static int engine_fail(lua_State *L, const dce_err *e) {
  if (e->kind == DCE_E_MISUSE) return luaL_error(L, "%s", e->msg);
  return dcerpc_fail(L, e->status, NULL, e->msg, dce_exec_name(e->executed));
}

/* Push the error of a failed operation: nil, err. */
static int fail_op(lua_State *L, const dce_op_result *r) {
  return dcerpc_fail(L, r->status, NULL, r->msg, dce_exec_name(r->executed));
}

enum { AWAIT_BIND, AWAIT_ALTER, AWAIT_COLLECT };
static int bind_finish(lua_State *L, lconn *c, uint32_t call_id, const dce_op_result *r);
static int conn_collect(lua_State *L, lconn *c, uint32_t call_id, const dce_op_result *r);

/* Wait for call_id and finish the operation (kind). On an event loop the
** coroutine yields until the socket is ready; elsewhere it blocks in poll.
** At the deadline the call is cancelled (its result is then final). State
** kept across yields, on the stack from ctx: call_id, deadline (ms),
** timeout (s), kind. */
static int await_k(lua_State *L, int status, lua_KContext ctx) {
  int base = (int)ctx;
  lconn *c = (lconn *)luaL_checkudata(L, 1, CONN_MT);
  uint32_t id;
  int64_t deadline;
  double timeout;
  int kind;
  if (status == LUA_YIELD) c->waiting--;
  lua_settop(L, base + 3);
  id = (uint32_t)lua_tointeger(L, base);
  deadline = (int64_t)lua_tointeger(L, base + 1);
  timeout = lua_tonumber(L, base + 2);
  kind = (int)lua_tointeger(L, base + 3);
  if (c->closing) {
    if (c->waiting == 0) conn_release(L, c, 1);
    return dcerpc_fail(L, DCE_RPC_S_CALL_FAILED, NULL, "connection closed while a call waited on it", "maybe");
  }
  for (;;) {
    const dce_op_result *r = dce_assoc_result(c->a, id);
    int64_t left;
    if (r && r->state != DCE_OP_DONE && !dce_assoc_is_dead(c->a)) {
      dce_conn_io(c->a, c->t);
      r = dce_assoc_result(c->a, id);
    }
    if (!r || r->state == DCE_OP_DONE) break;
    left = deadline - dce_now_ms();
    if (left <= 0) {
      /* name the stage and the peer: what we waited for, from whom */
      char m[384];                 /* the engine keeps 191 bytes of it */
      if (kind == AWAIT_COLLECT) {
        if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) lua_rawgeti(L, -1, -(lua_Integer)id);  /* its label */
        else lua_pushnil(L);
        snprintf(m, sizeof m, "timed out after %g s waiting for the response to %s (call %u) from %s",
                 timeout, lua_isstring(L, -1) ? lua_tostring(L, -1) : "the call", (unsigned)id, c->where);
        lua_pop(L, 2);
      } else {
        snprintf(m, sizeof m, "timed out after %g s waiting for the %s from %s", timeout,
                 r->auth_leg ? "answer to the authentication's alter_context"
                 : kind == AWAIT_BIND ? "bind_ack" : "alter_context_resp", c->where);
      }
      dce_assoc_cancel(c->a, id, DCE_RPC_S_CALL_CANCELLED, m);
      dce_conn_io(c->a, c->t);          /* try to get the co_cancel out now */
      break;
    }
    if (dcerpc_on_loop(L)) {
      unsigned ev;
      int fd = dce_conn_pollfd(c->a, c->t, &ev);
      if (fd >= 0 && !ev) continue;               /* bytes held by the transport */
      c->waiting++;
      lua_pushlightuserdata(L, &dcerpc_wait_token);
      lua_pushinteger(L, fd);
      lua_pushinteger(L, ev);
      lua_pushinteger(L, left);
      return lua_yieldk(L, 4, ctx, await_k);
    }
    if (dce_conn_wait(c->a, c->t, id, deadline) != 0) break;   /* done or failed; 0: deadline, loop */
  }
  if (kind != AWAIT_COLLECT) return bind_finish(L, c, id, dce_assoc_result(c->a, id));
  return conn_collect(L, c, id, dce_assoc_result(c->a, id));
}

static int conn_await(lua_State *L, uint32_t call_id, double timeout, int kind) {
  int base = lua_gettop(L) + 1;
  lua_pushinteger(L, (lua_Integer)call_id);
  lua_pushinteger(L, (lua_Integer)(dce_now_ms() + (int64_t)(timeout * 1000)));
  lua_pushnumber(L, timeout);
  lua_pushinteger(L, kind);
  return await_k(L, LUA_OK, base);
}

static void unpin(lua_State *L, int conn_idx, uint32_t call_id) {
  lua_getiuservalue(L, conn_idx, 1);
  lua_pushnil(L);
  lua_rawseti(L, -2, (lua_Integer)call_id);
  lua_pushnil(L);
  lua_rawseti(L, -2, -(lua_Integer)call_id);
  lua_pop(L, 1);
}

static void push_bind_ack(lua_State *L, const dce_bind_result *b) {
  int i;
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, b->max_xmit);
  lua_setfield(L, -2, "max_xmit");
  lua_pushinteger(L, b->max_recv);
  lua_setfield(L, -2, "max_recv");
  lua_pushinteger(L, b->assoc_group);
  lua_setfield(L, -2, "assoc_group");
  lua_pushstring(L, b->sec_addr);
  lua_setfield(L, -2, "secondary_address");
  lua_pushinteger(L, b->flags);
  lua_setfield(L, -2, "flags");
  lua_createtable(L, b->n_results, 0);
  for (i = 0; i < b->n_results; i++) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, b->results[i].result);
    lua_setfield(L, -2, "result");
    lua_pushinteger(L, b->results[i].reason);
    lua_setfield(L, -2, "reason");
    dcerpc_push_syntax(L, &b->results[i].transfer);
    lua_setfield(L, -2, "transfer");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "results");
  if (b->has_features) {
    lua_pushinteger(L, b->features);
    lua_setfield(L, -2, "features");
  }
}

static int conn_bind_common(lua_State *L, int alter) {
  lconn *c = conn_check(L, 1);
  dce_bind_opts o;
  dce_pctx *ctx;
  int n;
  uint32_t call_id;
  double timeout = c->timeout;
  dce_err e;

  ctx = dcerpc_check_contexts(L, 2, &n);
  memset(&o, 0, sizeof o);
  o.feature_negotiation = !alter;
  if (lua_istable(L, 3)) {
    lua_Integer mx = dcerpc_field_int(L, 3, "max_xmit", 0, 0, 0xffff);
    lua_Integer mr = dcerpc_field_int(L, 3, "max_recv", 0, 0, 0xffff);
    if (mx || mr) {
      o.set_sizes = 1;
      o.max_xmit = (uint16_t)(mx ? mx : DCE_DEFAULT_FRAG);
      o.max_recv = (uint16_t)(mr ? mr : DCE_DEFAULT_FRAG);
    }
    o.assoc_group = (uint32_t)dcerpc_field_int(L, 3, "assoc_group", 0, 0, 0xffffffff);
    o.feature_negotiation = dcerpc_field_bool(L, 3, "feature_negotiation", o.feature_negotiation);
    o.features = (uint16_t)dcerpc_field_int(L, 3, "features", 0, 0, 0xffff);
    o.conc_mpx = dcerpc_field_bool(L, 3, "conc_mpx", 0);
    if (lua_getfield(L, 3, "drep") != LUA_TNIL) {
      const char *d = luaL_checkstring(L, -1);
      if (strcmp(d, "le") && strcmp(d, "be")) luaL_error(L, "drep must be \"le\" or \"be\"");
      dce_assoc_set_drep(c->a, d[0] == 'b' ? DCE_DREP_BE : DCE_DREP_LE);
    }
    lua_pop(L, 1);
    timeout = opt_timeout(L, 3, timeout);
  }
  if (dce_assoc_bind(c->a, alter, ctx, n, &o, &call_id, &e)) return engine_fail(L, &e);
  return conn_await(L, call_id, timeout, alter ? AWAIT_ALTER : AWAIT_BIND);
}

static int bind_finish(lua_State *L, lconn *c, uint32_t call_id, const dce_op_result *r) {
  if (!r) return dcerpc_fail(L, DCE_RPC_S_CALL_FAILED, NULL, "bind lost", "no");
  if (r->status) {
    int rv = fail_op(L, r);
    if (r->bind && r->bind->n_results) {             /* keep what the ack said */
      push_bind_ack(L, r->bind);
      lua_setfield(L, -2, "ack");
    }
    dce_assoc_release(c->a, call_id);
    return rv;
  }
  push_bind_ack(L, r->bind);
  dce_assoc_release(c->a, call_id);
  return 1;
}

static int conn_bind(lua_State *L) { return conn_bind_common(L, 0); }
static int conn_alter_context(lua_State *L) { return conn_bind_common(L, 1); }

/* Start a request; pins the stub. Returns call_id or pushes nil, err. */
static int conn_start(lua_State *L, lconn *c, uint32_t *call_id) {
  lua_Integer ctx = luaL_checkinteger(L, 2);
  lua_Integer opnum = luaL_checkinteger(L, 3);
  size_t len;
  const char *stub = luaL_optlstring(L, 4, "", &len);
  dce_uuid obj, *objp = NULL;
  dce_err e;
  int has_actx = 0;
  uint32_t actx = 0;
  size_t limit = 0;                /* 0: the association's max_response */
  luaL_argcheck(L, ctx >= 0 && ctx <= 0xffff, 2, "context id out of range");
  luaL_argcheck(L, opnum >= 0 && opnum <= 0xffff, 3, "opnum out of range");
  if (lua_istable(L, 5)) {
    if (lua_getfield(L, 5, "object") != LUA_TNIL) {
      dcerpc_check_uuid(L, -1, "object", &obj);
      objp = &obj;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 5, "auth_context_id") != LUA_TNIL) {
      /* false: no security context (an anonymous call) */
      if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) actx = DCE_AUTH_CTX_NONE;
      else actx = (uint32_t)luaL_checkinteger(L, -1);
      has_actx = 1;
    }
    lua_pop(L, 1);
    limit = (size_t)dcerpc_field_int(L, 5, "max_response", 0, 1, (lua_Integer)1 << 40);
  }
  if (dce_assoc_request(c->a, (uint16_t)ctx, (uint16_t)opnum, objp, (const uint8_t *)stub, len, call_id, &e)) {
    engine_fail(L, &e);            /* raises on misuse */
    return 0;
  }
  if ((has_actx && dce_assoc_request_auth(c->a, *call_id, actx, &e)) ||
      (limit && dce_assoc_request_limit(c->a, *call_id, limit, &e))) {
    dce_assoc_release(c->a, *call_id);
    engine_fail(L, &e);
    return 0;
  }
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 4);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); lua_pushliteral(L, ""); }
  lua_rawseti(L, -2, (lua_Integer)*call_id);
  /* its label for messages, at -call_id: the caller's ("srvsvc.NetrShareEnum") or the opnum */
  if (lua_type(L, 6) == LUA_TSTRING) lua_pushvalue(L, 6);
  else lua_pushfstring(L, "opnum %d", (int)opnum);
  lua_rawseti(L, -2, -(lua_Integer)*call_id);
  lua_pop(L, 1);
  /* let the first fragments go without waiting for receive() */
  dce_conn_io(c->a, c->t);
  return 1;
}

/* Collect a finished call: stub, drep byte 0 | nil, err. Releases it. */
static int conn_collect(lua_State *L, lconn *c, uint32_t call_id, const dce_op_result *r) {
  int rv;
  if (!r) return dcerpc_fail(L, DCE_RPC_S_CALL_FAILED, NULL, "unknown call_id", "maybe");
  if (r->state != DCE_OP_DONE) return luaL_error(L, "call %d has not finished", (int)call_id);
  if (r->status) {
    rv = fail_op(L, r);
  } else {
    uint8_t d0 = r->drep[0];
    dce_buf *b = dcerpc_scratch_new(L);
    dce_assoc_take_stub(c->a, call_id, b);
    lua_pushlstring(L, b->len ? (const char *)b->p : "", b->len);
    dce_buf_free(b);
    lua_remove(L, -2);
    lua_pushinteger(L, d0);
    rv = 2;
  }
  dce_assoc_release(c->a, call_id);
  unpin(L, 1, call_id);
  return rv;
}

/* conn:call(ctx_id, opnum, stub [, {object=, timeout=}]) -> stub, drep0 | nil, err */
static int conn_call(lua_State *L) {
  lconn *c = conn_check(L, 1);
  uint32_t call_id;
  double timeout = lua_istable(L, 5) ? opt_timeout(L, 5, c->timeout) : c->timeout;
  if (!conn_start(L, c, &call_id)) return 2;
  return conn_await(L, call_id, timeout, AWAIT_COLLECT);
}

/* conn:send(ctx_id, opnum, stub [, opts]) -> call_id | nil, err */
static int conn_send(lua_State *L) {
  lconn *c = conn_check(L, 1);
  uint32_t call_id;
  if (!conn_start(L, c, &call_id)) return 2;
  lua_pushinteger(L, (lua_Integer)call_id);
  return 1;
}

/* conn:receive(call_id [, timeout]) -> stub, drep0 | nil, err */
static int conn_receive(lua_State *L) {
  lconn *c = conn_check(L, 1);
  lua_Integer id = luaL_checkinteger(L, 2);
  double timeout = lua_isnoneornil(L, 3) ? c->timeout : opt_timeout(L, 3, c->timeout);
  luaL_argcheck(L, id > 0 && id <= 0xffffffff, 2, "bad call_id");
  if (!dce_assoc_result(c->a, (uint32_t)id)) return luaL_error(L, "unknown call_id %d", (int)id);
  return conn_await(L, (uint32_t)id, timeout, AWAIT_COLLECT);
}

/* conn:set_auth{type = "ntlm"|"spnego"|"krb5" (core.mechs), level = "connect"|"call"|"packet"|
**   "integrity"|"privacy", user=, domain=, password= | nt_hash = 16 bytes
**   or 32 hex digits, workstation=, context_id=, ntlmv1=, Kerberos: ccache=,
**   keytab= (the client's), target= (service principal)}  (before bind) */
static int conn_set_auth(lua_State *L) {
  lconn *c = conn_check(L, 1);
  uint32_t id;
  dce_sec *sec = dcerpc_check_sec(L, 2, &id);
  if (dce_assoc_set_auth(c->a, sec, id)) {
    dce_sec_free(sec);
    return luaL_error(L, "auth must be set once, before bind");
  }
  lua_settop(L, 1);
  return 1;
}

/* conn:add_auth(auth, contexts [, {timeout=}]) -> ack | nil, err
** Another security context on this association ([MS-RPCE] 3.3.1.5.4):
** auth is set_auth's table (context_id = its auth_context_id, which must be
** new on the association); contexts as for alter_context, normally the one
** already bound. Calls pick it with opts.auth_context_id. */
static int conn_add_auth(lua_State *L) {
  lconn *c = conn_check(L, 1);
  dce_pctx *ctx;
  int n;
  uint32_t id, call_id;
  double timeout = c->timeout;
  dce_err e;
  dce_sec *sec;
  luaL_checktype(L, 2, LUA_TTABLE);
  ctx = dcerpc_check_contexts(L, 3, &n);
  if (lua_istable(L, 4)) timeout = opt_timeout(L, 4, timeout);
  sec = dcerpc_check_sec(L, 2, &id);               /* last: nothing raises after it */
  if (dce_assoc_add_auth(c->a, sec, id, ctx, n, &call_id, &e)) {
    dce_sec_free(sec);
    return engine_fail(L, &e);
  }
  return conn_await(L, call_id, timeout, AWAIT_ALTER);
}

/* auth_type, auth_level and user ("DOMAIN\\user") of sec into the table on top */
static void push_sec_fields(lua_State *L, const dce_sec *sec) {
  const char *u, *d;
  lua_pushstring(L, dce_sec_type_name(dce_sec_type(sec)));
  lua_setfield(L, -2, "auth_type");
  lua_pushstring(L, dce_sec_level_name(dce_sec_level(sec)));
  lua_setfield(L, -2, "auth_level");
  dce_sec_peer_user(sec, &u, &d, NULL);
  lua_pushfstring(L, "%s%s%s", d, d[0] ? "\\" : "", u);
  lua_setfield(L, -2, "user");
}

/* conn:info() -> table */
/* conn:session_key() -> bytes | nil, err: the key an application protocol
** (LSA, SAMR secrets) uses: the RPC security context's when the
** connection is authenticated, else the SMB session's (ncacn_np,
** [MS-RPCE] 3.3.1.5.2.2 / [MS-SMB2] Session.ApplicationKey). */
static int conn_session_key(lua_State *L) {
  lconn *c = conn_check(L, 1);
  const dce_sec *sec = dce_assoc_sec(c->a);
  uint8_t key[64];
  size_t n = 0;
  if (sec && dce_sec_established(sec)) {
    uint32_t st = dce_sec_session_key(sec, key, sizeof key, &n);
    if (st) return dcerpc_fail(L, st, NULL, "the security context has no session key", "no");
  } else if (dce_smb_of(c->t)) {
    if (dce_smb_app_key(dce_smb_of(c->t), key, sizeof key, &n))
      return dcerpc_fail(L, 0xC0000022u, NULL, "an anonymous or guest SMB session has no session key", "no");
  } else {
    return dcerpc_fail(L, 0xC0000022u, NULL, "no session key: the connection is not authenticated", "no");
  }
  lua_pushlstring(L, (const char *)key, n);
  memset(key, 0, sizeof key);
  return 1;
}

/* info().smb of an ncacn_np connection */
static void push_smb_info(lua_State *L, const dce_smb *s) {
  static const char *const ciphers[] = { NULL, "aes-128-ccm", "aes-128-gcm", "aes-256-ccm", "aes-256-gcm" };
  static const char *const signers[] = { "hmac-sha256", "aes-cmac", "aes-gmac" };
  dce_smb_info i;
  uint8_t key[16];
  size_t klen;
  char d[8];
  dce_smb_get_info(s, &i);
  lua_createtable(L, 0, 14);
  snprintf(d, sizeof d, "%u.%u", i.dialect >> 8, (i.dialect >> 4) & 15);
  if (i.dialect & 15) snprintf(d + strlen(d), sizeof d - strlen(d), ".%u", i.dialect & 15);
  lua_pushstring(L, d);
  lua_setfield(L, -2, "dialect");
  lua_pushboolean(L, i.signing);
  lua_setfield(L, -2, "signing");
  if (i.signing) {
    lua_pushstring(L, signers[i.signing_algorithm < 3 ? i.signing_algorithm : 0]);
    lua_setfield(L, -2, "signing_algorithm");
  }
  lua_pushboolean(L, i.encrypting);
  lua_setfield(L, -2, "encrypting");
  if (i.encrypting && i.cipher >= 1 && i.cipher <= 4) {
    lua_pushstring(L, ciphers[i.cipher]);
    lua_setfield(L, -2, "cipher");
  }
  lua_pushboolean(L, i.guest);
  lua_setfield(L, -2, "guest");
  lua_pushboolean(L, i.anonymous);
  lua_setfield(L, -2, "anonymous");
  lua_pushinteger(L, i.max_read);
  lua_setfield(L, -2, "max_read");
  lua_pushinteger(L, i.max_write);
  lua_setfield(L, -2, "max_write");
  lua_pushinteger(L, (lua_Integer)i.session_id);
  lua_setfield(L, -2, "session_id");
  lua_pushinteger(L, i.pipes);
  lua_setfield(L, -2, "pipes");
  if (dce_smb_app_key(s, key, sizeof key, &klen) == 0) {
    lua_pushlstring(L, (const char *)key, klen);
    lua_setfield(L, -2, "session_key");
    memset(key, 0, sizeof key);
  }
  lua_setfield(L, -2, "smb");
}

/* ------------------------------------------------------------ tracing */

/* The hook runs on its own thread (made by set_trace, anchored in user
** value 2, its function at index 1): the engine calls back from inside
** dce_assoc_out / dce_assoc_feed, whichever coroutine drives the
** connection. Under pcall; the strings are made inside it too, so that
** running out of memory is one more error the hook reports. */
static double trace_time(void) {         /* wall clock, for pcap timestamps */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct trace_args { int dir; const uint8_t *wire, *clear; size_t len; } trace_args;

static int conn_trace_call(lua_State *T) {
  const trace_args *x = (const trace_args *)lua_touserdata(T, 2);
  lua_pushvalue(T, 1);
  lua_pushstring(T, x->dir == DCE_TRACE_SEND ? "send" : "recv");
  lua_pushlstring(T, (const char *)x->wire, x->len);
  if (x->clear) lua_pushlstring(T, (const char *)x->clear, x->len); else lua_pushnil(T);
  lua_pushnumber(T, trace_time());
  lua_call(T, 4, 0);
  return 0;
}

static void conn_trace(void *ud, int dir, const uint8_t *wire, size_t len, const uint8_t *clear) {
  lconn *c = (lconn *)ud;
  lua_State *T = c->trace_L;
  trace_args x;
  int r;
  if (!T || !lua_checkstack(T, 8)) return;
  x.dir = dir; x.wire = wire; x.clear = clear; x.len = len;
  lua_pushcfunction(T, conn_trace_call);
  lua_pushvalue(T, 1);
  lua_pushlightuserdata(T, &x);
  c->tracing = 1;
  r = lua_pcall(T, 2, 0, 0);
  c->tracing = 0;
  if (r != LUA_OK) {
    /* the Lua side reports its hooks' errors: this is its own failing */
    fprintf(stderr, "dcerpc trace: %s\n", lua_tostring(T, -1) ? lua_tostring(T, -1) : "(error object)");
  }
  lua_settop(T, 1);
}

/* conn:set_trace(fn | nil): fn(dir, wire, clear, time) for each fragment sent
** ("send") or received ("recv"): wire as on the wire, clear the same with
** the stub unsealed (privacy level) or nil. fn must not use conn. */
static int conn_set_trace(lua_State *L) {
  lconn *c = conn_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    dce_assoc_set_trace(c->a, NULL, NULL);
    c->trace_L = NULL;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 2);
    return 0;
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  c->trace_L = lua_newthread(L);
  lua_pushvalue(L, 2);
  lua_xmove(L, c->trace_L, 1);
  lua_setiuservalue(L, 1, 2);
  dce_assoc_set_trace(c->a, conn_trace, c);
  return 0;
}

static int conn_info(lua_State *L) {
  lconn *c = conn_check(L, 1);
  const dce_assoc_info *in = dce_assoc_get_info(c->a);
  lua_createtable(L, 0, 12);
  lua_pushboolean(L, in->bound);
  lua_setfield(L, -2, "bound");
  lua_pushboolean(L, in->dead);
  lua_setfield(L, -2, "dead");
  if (in->dead) {
    lua_pushstring(L, in->dead_msg);
    lua_setfield(L, -2, "dead_reason");
  }
  lua_pushinteger(L, in->max_xmit);
  lua_setfield(L, -2, "max_xmit");
  lua_pushinteger(L, in->max_recv);
  lua_setfield(L, -2, "max_recv");
  lua_pushinteger(L, in->assoc_group);
  lua_setfield(L, -2, "assoc_group");
  lua_pushstring(L, in->sec_addr);
  lua_setfield(L, -2, "secondary_address");
  if (in->has_features) {
    lua_pushinteger(L, in->features);
    lua_setfield(L, -2, "features");
  }
  lua_pushboolean(L, in->conc_mpx);
  lua_setfield(L, -2, "conc_mpx");
  lua_pushboolean(L, in->shutdown);
  lua_setfield(L, -2, "shutdown");
  lua_pushstring(L, c->t ? c->t->peer : "");
  lua_setfield(L, -2, "peer");
  if (c->t && !dce_smb_of(c->t)) {
    /* the socket under the transport (an SMB pipe has none of its own) */
    unsigned ev;
    char local[96];
    dce_sock_local(dce_transport_poll(c->t, 0, &ev), local, sizeof local);   /* want 0: no side effect */
    lua_pushstring(L, local);
    lua_setfield(L, -2, "local");
  }
  lua_pushstring(L, c->transport);
  lua_setfield(L, -2, "transport");
  lua_pushinteger(L, (lua_Integer)in->bytes_sent);
  lua_setfield(L, -2, "bytes_sent");
  lua_pushinteger(L, (lua_Integer)in->bytes_received);
  lua_setfield(L, -2, "bytes_received");
  lua_pushinteger(L, dce_assoc_busy(c->a));
  lua_setfield(L, -2, "pending");
  if (dce_smb_of(c->t)) push_smb_info(L, dce_smb_of(c->t));
  if (dce_assoc_sec(c->a)) {
    const dce_sec *sec = dce_assoc_sec(c->a);
    push_sec_fields(L, sec);
    lua_pushboolean(L, dce_sec_established(sec));
    lua_setfield(L, -2, "authenticated");
  }
  {
    /* every security context: {auth_context_id, auth_type, auth_level,
    ** user, state = "established"|"pending"|"failed", status} */
    int i, n = dce_assoc_auth_count(c->a);
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
      uint32_t id, st;
      int state;
      const dce_sec *sec = dce_assoc_auth_get(c->a, i, &id, &state, &st);
      lua_createtable(L, 0, 6);
      lua_pushinteger(L, id);
      lua_setfield(L, -2, "auth_context_id");
      push_sec_fields(L, sec);
      lua_pushstring(L, state > 0 ? "established" : state < 0 ? "failed" : "pending");
      lua_setfield(L, -2, "state");
      if (state < 0) {
        lua_pushinteger(L, st);
        lua_setfield(L, -2, "status");
      }
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "auth_contexts");
  }
  return 1;
}

static const char *events_name(unsigned ev) {
  return !ev ? "" : (ev & DCE_T_WRITE) ? ((ev & DCE_T_READ) ? "rw" : "w") : "r";
}

/* conn:getfd() -> fd, events ("r", "rw", "w"; "": bytes are already held,
** call step without waiting) for an outside loop. */
static int conn_getfd(lua_State *L) {
  lconn *c = conn_check(L, 1);
  unsigned ev;
  int fd = dce_conn_pollfd(c->a, c->t, &ev);
  lua_pushinteger(L, fd);
  lua_pushstring(L, events_name(ev));
  return 2;
}

/* The same as cqueues' pollable protocol, so cqueues.poll(conn) works:
** conn:pollfd() -> fd, conn:events() -> "r" | "rw" | "w" | "",
** conn:timeout() -> 0 when bytes are held (step now), else nil. */
static int conn_pollfd(lua_State *L) {
  lconn *c = conn_check(L, 1);
  unsigned ev;
  lua_pushinteger(L, dce_conn_pollfd(c->a, c->t, &ev));
  return 1;
}
static int conn_events(lua_State *L) {
  lconn *c = conn_check(L, 1);
  unsigned ev;
  dce_conn_pollfd(c->a, c->t, &ev);
  lua_pushstring(L, events_name(ev));
  return 1;
}
static int conn_timeout(lua_State *L) {
  lconn *c = conn_check(L, 1);
  if (dce_transport_pending(c->t)) lua_pushinteger(L, 0); else lua_pushnil(L);
  return 1;
}

/* conn:step() -> true | nil, err : move bytes both ways without blocking
** (for an outside loop that waits on conn:getfd()). */
static int conn_step(lua_State *L) {
  lconn *c = conn_check(L, 1);
  const dce_assoc_info *in;
  if (dce_conn_io(c->a, c->t) == 0) { lua_pushboolean(L, 1); return 1; }
  in = dce_assoc_get_info(c->a);
  return dcerpc_fail(L, DCE_RPC_S_CALL_FAILED, NULL, in->dead_msg, NULL);
}

/* conn:done(call_id) -> true when receive() would not block */
static int conn_done(lua_State *L) {
  lconn *c = conn_check(L, 1);
  const dce_op_result *r = dce_assoc_result(c->a, (uint32_t)luaL_checkinteger(L, 2));
  lua_pushboolean(L, !r || r->state == DCE_OP_DONE);
  return 1;
}

/* ------------------------------------------------------------ registration */

void dcerpc_open_conn(lua_State *L) {
  static const luaL_Reg conn_m[] = {
    { "bind", conn_bind }, { "alter_context", conn_alter_context },
    { "call", conn_call }, { "send", conn_send }, { "receive", conn_receive },
    { "info", conn_info }, { "open_pipe", lconn_open_pipe }, { "set_trace", conn_set_trace },
    { "session_key", conn_session_key }, { "getfd", conn_getfd }, { "step", conn_step },
    { "pollfd", conn_pollfd }, { "events", conn_events }, { "timeout", conn_timeout },
    { "done", conn_done }, { "set_auth", conn_set_auth },
    { "add_auth", conn_add_auth }, { "close", conn_close },
    { "__tostring", conn_tostring }, { NULL, NULL }
  };
  static const luaL_Reg f[] = {
    { "connect_tcp", lconn_connect_tcp }, { "connect_unix", lconn_connect_unix },
    { "connect_np", lconn_connect_np },
    { NULL, NULL }
  };
  dcerpc_new_class(L, CONN_MT, conn_m, conn_close);
  luaL_getmetatable(L, CONN_MT);                 /* __gc frees even with waiters */
  lua_pushcfunction(L, conn_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_setfuncs(L, f, 0);
}
