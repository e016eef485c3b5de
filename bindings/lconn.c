/*
** lconn.c - the connection part of dcerpc.core: client connections over
** ncacn_ip_tcp (connect_tcp, bind, alter_context, call, send/receive, info,
** close), the PDU codec for tests and tools (pdu_encode, pdu_decode), and a
** raw TCP listener for scripted fake servers in tests (listen_tcp).
**
** A connection userdata owns an association (engine/assoc.c) and a transport
** (engine/tcp.c). It is created closed and filled in after the socket is up;
** one function serves __gc, __close and :close(). Request stubs are Lua
** strings pinned in the userdata's user value (call_id -> string) until the
** call's result is taken, so the engine never copies them.
**
** Lua API (errors are values: nil, err with err.code/name/message/executed;
** only misuse raises):
**   core.connect_tcp(host, port [, {timeout=s, call_timeout=s, max_response=n}]) -> conn
**   conn:bind(contexts [, {max_xmit, max_recv, assoc_group, feature_negotiation
**             (default true), features, conc_mpx, drep="le"|"be", timeout}]) -> ack
**   conn:alter_context(contexts [, opts]) -> ack
**     contexts = { {id=, abstract={uuid,major,minor}, transfer={{uuid,major,minor},...}}, ... }
**     ack = {max_xmit, max_recv, assoc_group, secondary_address, flags,
**            results={{result, reason, transfer}}, features=bitmask|nil}
**   conn:set_auth(auth) (before bind) ; conn:add_auth(auth, contexts [, {timeout}]) -> ack
**     auth = {type=a core.mechs name ("ntlm", "spnego"), level=, user=, domain=, password=|nt_hash=,
**             workstation=, context_id= (the auth_context_id)}
**   conn:call(ctx_id, opnum, stub [, {object=uuid, timeout=s, auth_context_id=n|false}])
**     -> stub, drep0  (auth_context_id: the security context; false: none)
**   conn:send(ctx_id, opnum, stub [, opts]) -> call_id
**   conn:receive(call_id [, timeout]) -> stub, drep0   (a timeout cancels the call)
**   conn:info() -> {bound, dead, dead_reason, max_xmit, max_recv, assoc_group,
**                   secondary_address, features, conc_mpx, shutdown, peer,
**                   transport, bytes_sent, bytes_received, pending}
**   conn:getfd() -> fd, "r"|"rw" ; conn:step() -> true ; conn:done(call_id) -> bool
**   conn:close()  (also __gc and __close)
**   core.pdu_encode(tbl) -> bytes ; core.pdu_decode(bytes) -> tbl | nil, err
**   core.listen_tcp(host, port) -> listener: accept([timeout]) -> sock, port(), close()
**     sock:send(bytes), sock:recv(n [, timeout]) -> bytes | nil, "closed"|"timeout", close()
*/
#include <string.h>
#include <stdlib.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include "lcore.h"
#include "rpc/co_client.h"
#include "rpc/pdu.h"
#include "rpc/sec.h"
#include "rpc/vt.h"
#include "base/status.h"
#include "net/transport.h"
#include "run/client.h"
#include "lauth.h"
#include "base/clock.h"

#define CONN_MT "dcerpc.conn"
#define RAW_MT "dcerpc.rawsock"
#define LISTENER_MT "dcerpc.listener"
#define SCRATCH_MT "dcerpc.scratch"

#define DEFAULT_CALL_TIMEOUT 60.0

typedef struct lconn {
  dce_assoc *a;
  dce_transport *t;
  dce_dialer *dial;                /* while connecting on an event loop */
  double timeout;                  /* default call timeout, seconds */
  int waiting;                     /* coroutines suspended on the loop for this connection */
  int closing;                     /* closed while some waited: freed by the last of them */
  char transport[16];              /* "ncacn_ip_tcp", "ncalrpc" */
} lconn;

/* ------------------------------------------------------------ scratch buffer */

/* A dce_buf owned by the GC, so a raise never leaks it. */
static int scratch_gc(lua_State *L) {
  dce_buf *b = (dce_buf *)luaL_checkudata(L, 1, SCRATCH_MT);
  dce_buf_free(b);
  return 0;
}

static dce_buf *scratch_new(lua_State *L) {
  dce_buf *b = (dce_buf *)lua_newuserdatauv(L, sizeof *b, 0);
  dce_buf_init(b);
  luaL_setmetatable(L, SCRATCH_MT);
  return b;
}

/* ------------------------------------------------------------ Lua <-> syntax */

static void check_uuid(lua_State *L, int idx, const char *what, dce_uuid *u) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (!s || dce_uuid_parse(u, s, n))
    luaL_error(L, "%s: bad uuid '%s'", what, s ? s : luaL_typename(L, idx));
}

static void push_uuid(lua_State *L, const dce_uuid *u) {
  char s[37];
  dce_uuid_format(u, s);
  lua_pushstring(L, s);
}

static lua_Integer field_int(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo,
                             lua_Integer hi) {
  lua_Integer v = def;
  int isnum;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "field '%s' must be an integer", k);
    if (v < lo || v > hi) luaL_error(L, "field '%s' out of range (%d..%d)", k, (int)lo, (int)hi);
  }
  lua_pop(L, 1);
  return v;
}

static int field_bool(lua_State *L, int t, const char *k, int def) {
  int v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* {uuid=, major=, minor=} at the top of the stack */
static void check_syntax(lua_State *L, int idx, const char *what, dce_syntax *s) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx)) luaL_error(L, "%s must be a table {uuid=, major=, minor=}", what);
  lua_getfield(L, idx, "uuid");
  check_uuid(L, -1, what, &s->uuid);
  lua_pop(L, 1);
  s->major = (uint16_t)field_int(L, idx, "major", 0, 0, 0xffff);
  s->minor = (uint16_t)field_int(L, idx, "minor", 0, 0, 0xffff);
}

static void push_syntax(lua_State *L, const dce_syntax *s) {
  lua_createtable(L, 0, 3);
  push_uuid(L, &s->uuid);
  lua_setfield(L, -2, "uuid");
  lua_pushinteger(L, s->major);
  lua_setfield(L, -2, "major");
  lua_pushinteger(L, s->minor);
  lua_setfield(L, -2, "minor");
}

/* contexts list at idx -> dce_pctx array in a GC-owned userdata (pushed). */
static dce_pctx *check_contexts(lua_State *L, int idx, int *n_out) {
  int n, i, k;
  dce_pctx *c;
  luaL_checktype(L, idx, LUA_TTABLE);
  n = (int)luaL_len(L, idx);
  luaL_argcheck(L, n >= 1 && n <= 254, idx, "1 to 254 presentation contexts expected");
  c = (dce_pctx *)lua_newuserdatauv(L, (size_t)n * sizeof *c, 0);
  memset(c, 0, (size_t)n * sizeof *c);
  for (i = 0; i < n; i++) {
    int e, nt;
    lua_geti(L, idx, i + 1);
    e = lua_gettop(L);
    if (!lua_istable(L, e)) luaL_error(L, "context %d must be a table", i + 1);
    c[i].id = (uint16_t)field_int(L, e, "id", i, 0, 0xffff);
    lua_getfield(L, e, "abstract");
    check_syntax(L, -1, "abstract syntax", &c[i].abstract);
    lua_pop(L, 1);
    if (lua_getfield(L, e, "transfer") == LUA_TNIL) {
      c[i].n_transfer = 1;
      c[i].transfer[0] = dce_syntax_ndr20;
    } else {
      int tt = lua_gettop(L);
      luaL_checktype(L, tt, LUA_TTABLE);
      nt = (int)luaL_len(L, tt);
      if (nt < 1 || nt > DCE_MAX_TRANSFER) luaL_error(L, "context %d: 1 to %d transfer syntaxes", i + 1, DCE_MAX_TRANSFER);
      c[i].n_transfer = nt;
      for (k = 0; k < nt; k++) {
        lua_geti(L, tt, k + 1);
        check_syntax(L, -1, "transfer syntax", &c[i].transfer[k]);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 2);
  }
  *n_out = n;
  return c;
}

/* ------------------------------------------------------------ conn object */

static lconn *conn_check(lua_State *L, int idx) {
  lconn *c = (lconn *)luaL_checkudata(L, idx, CONN_MT);
  if (!c->a || c->closing || c->dial) luaL_error(L, "attempt to use a closed connection");
  return c;
}

static void conn_release(lua_State *L, lconn *c, int idx) {
  if (c->dial) { dce_dial_free(c->dial); c->dial = NULL; }
  if (c->t) { c->t->ops->close(c->t); c->t = NULL; }
  if (c->a) { dce_assoc_free(c->a); c->a = NULL; }
  c->closing = 0;
  c->waiting = 0;
  lua_pushnil(L);
  lua_setiuservalue(L, idx, 1);
}

/* conn:close() and __close. A coroutine waiting on the event loop for this
** connection still uses it: shut the socket down (which wakes it) and let
** the last waiter free it. */
static int conn_close(lua_State *L) {
  lconn *c = (lconn *)luaL_checkudata(L, 1, CONN_MT);
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

static int connect_k(lua_State *L, int status, lua_KContext ctx) {
  int ud = (int)ctx;
  lconn *c = (lconn *)lua_touserdata(L, ud);
  int64_t deadline = (int64_t)lua_tointeger(L, ud + 1);
  char err[256];
  if (status == LUA_YIELD) c->waiting--;
  lua_settop(L, ud + 2);
  for (;;) {
    dce_transport *t = NULL;
    int64_t left;
    int r;
    if (c->closing) { conn_release(L, c, ud); return dcerpc_fail(L, DCE_RPC_S_SERVER_UNAVAILABLE, NULL, "connection closed while connecting", "no"); }
    r = dce_dial_step(c->dial, &t, err, sizeof err);
    if (r == 1) {
      dce_dial_free(c->dial);
      c->dial = NULL;
      c->t = t;
      lua_settop(L, ud);
      return 1;
    }
    left = deadline - dce_now_ms();
    if (r == 0 && left <= 0) {
      snprintf(err, sizeof err, "cannot connect: timed out after %g s", lua_tonumber(L, ud + 2));
      r = -1;
    }
    if (r < 0) {
      conn_release(L, c, ud);
      return dcerpc_fail(L, DCE_RPC_S_SERVER_UNAVAILABLE, NULL, err, "no");
    }
    if (dcerpc_on_loop(L)) {
      c->waiting++;
      lua_pushlightuserdata(L, &dcerpc_wait_token);
      lua_pushinteger(L, dce_dial_fd(c->dial));
      lua_pushinteger(L, 2);
      lua_pushinteger(L, left);
      return lua_yieldk(L, 4, ctx, connect_k);
    } else {
      struct pollfd pf = { dce_dial_fd(c->dial), POLLOUT, 0 };
      poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
    }
  }
}

/* core.connect_tcp(host, port [, opts]) / core.connect_unix(path [, opts])
**   opts: {timeout=s (connect), call_timeout=s, max_response=n} */
static int connect_common(lua_State *L, int unix_path) {
  const char *host = luaL_checkstring(L, 1);
  const char *port = NULL;
  int oi = unix_path ? 2 : 3, ud;
  double cto = 60.0;
  dce_assoc_cfg cfg;
  lconn *c;
  char err[256];
  memset(&cfg, 0, sizeof cfg);
  if (!unix_path) port = dcerpc_port_arg(L, 2, 0);
  c = (lconn *)lua_newuserdatauv(L, sizeof *c, 1);   /* closed until filled in */
  memset(c, 0, sizeof *c);
  c->timeout = DEFAULT_CALL_TIMEOUT;
  strcpy(c->transport, unix_path ? "ncalrpc" : "ncacn_ip_tcp");
  luaL_setmetatable(L, CONN_MT);
  ud = lua_gettop(L);
  if (lua_istable(L, oi)) {
    cto = opt_timeout(L, oi, cto);
    if (lua_getfield(L, oi, "call_timeout") != LUA_TNIL) c->timeout = luaL_checknumber(L, -1);
    lua_pop(L, 1);
    cfg.max_response = (size_t)field_int(L, oi, "max_response", DCE_MAX_RESPONSE, 1, (lua_Integer)1 << 40);
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
  return connect_k(L, LUA_OK, ud);
}

static int lconn_connect_tcp(lua_State *L) { return connect_common(L, 0); }
static int lconn_connect_unix(lua_State *L) { return connect_common(L, 1); }

/* Push the error of a failed operation: nil, err. */
static int fail_op(lua_State *L, const dce_op_result *r) {
  return dcerpc_fail(L, r->status, NULL, r->msg, dce_exec_name(r->executed));
}

enum { AWAIT_BIND, AWAIT_COLLECT };
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
      char m[96];
      snprintf(m, sizeof m, "timed out after %g s (call_id %u)", timeout, (unsigned)id);
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
  if (kind == AWAIT_BIND) return bind_finish(L, c, id, dce_assoc_result(c->a, id));
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
    push_syntax(L, &b->results[i].transfer);
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
  char err[192];

  ctx = check_contexts(L, 2, &n);
  memset(&o, 0, sizeof o);
  o.feature_negotiation = !alter;
  if (lua_istable(L, 3)) {
    lua_Integer mx = field_int(L, 3, "max_xmit", 0, 0, 0xffff);
    lua_Integer mr = field_int(L, 3, "max_recv", 0, 0, 0xffff);
    if (mx || mr) {
      o.set_sizes = 1;
      o.max_xmit = (uint16_t)(mx ? mx : DCE_DEFAULT_FRAG);
      o.max_recv = (uint16_t)(mr ? mr : DCE_DEFAULT_FRAG);
    }
    o.assoc_group = (uint32_t)field_int(L, 3, "assoc_group", 0, 0, 0xffffffff);
    o.feature_negotiation = field_bool(L, 3, "feature_negotiation", o.feature_negotiation);
    o.features = (uint16_t)field_int(L, 3, "features", 0, 0, 0xffff);
    o.conc_mpx = field_bool(L, 3, "conc_mpx", 0);
    if (lua_getfield(L, 3, "drep") != LUA_TNIL) {
      const char *d = luaL_checkstring(L, -1);
      if (strcmp(d, "le") && strcmp(d, "be")) luaL_error(L, "drep must be \"le\" or \"be\"");
      dce_assoc_set_drep(c->a, d[0] == 'b' ? DCE_DREP_BE : DCE_DREP_LE);
    }
    lua_pop(L, 1);
    timeout = opt_timeout(L, 3, timeout);
  }
  if (dce_assoc_bind(c->a, alter, ctx, n, &o, &call_id, err, sizeof err)) {
    const dce_assoc_info *in = dce_assoc_get_info(c->a);
    if (in->dead) return dcerpc_fail(L, in->dead_status, NULL, err, "no");
    return luaL_error(L, "%s", err);                 /* misuse */
  }
  return conn_await(L, call_id, timeout, AWAIT_BIND);
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
  char err[192];
  int has_actx = 0;
  uint32_t actx = 0;
  luaL_argcheck(L, ctx >= 0 && ctx <= 0xffff, 2, "context id out of range");
  luaL_argcheck(L, opnum >= 0 && opnum <= 0xffff, 3, "opnum out of range");
  if (lua_istable(L, 5)) {
    if (lua_getfield(L, 5, "object") != LUA_TNIL) {
      check_uuid(L, -1, "object", &obj);
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
  }
  if (dce_assoc_request(c->a, (uint16_t)ctx, (uint16_t)opnum, objp, (const uint8_t *)stub, len,
                        call_id, err, sizeof err)) {
    const dce_assoc_info *in = dce_assoc_get_info(c->a);
    if (in->dead) { dcerpc_fail(L, in->dead_status == DCE_RPC_S_PROTOCOL_ERROR ? DCE_RPC_S_CALL_FAILED : in->dead_status, NULL, err, "no"); return 0; }
    if (in->shutdown) { dcerpc_fail(L, DCE_RPC_S_CALL_FAILED_DNE, NULL, err, "no"); return 0; }
    return luaL_error(L, "%s", err);
  }
  if (has_actx && dce_assoc_request_auth(c->a, *call_id, actx, err, sizeof err)) {
    /* a context that failed to authenticate is the peer's answer, not misuse */
    int i, state = 0;
    uint32_t id, st = 0;
    dce_assoc_release(c->a, *call_id);
    for (i = 0; i < dce_assoc_auth_count(c->a); i++)
      if (dce_assoc_auth_get(c->a, i, &id, &state, &st) && id == actx) break;
    if (i < dce_assoc_auth_count(c->a) && state < 0) {
      char m[224];
      snprintf(m, sizeof m, "security context %u: %s", (unsigned)actx, err);
      dcerpc_fail(L, st ? st : DCE_RPC_S_CALL_FAILED_DNE, NULL, m, "no");
      return 0;
    }
    return luaL_error(L, "auth_context_id %I: %s", (lua_Integer)actx, err);
  }
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 4);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); lua_pushliteral(L, ""); }
  lua_rawseti(L, -2, (lua_Integer)*call_id);
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
    dce_buf *b = scratch_new(L);
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

/* conn:set_auth{type = "ntlm"|"spnego" (core.mechs), level = "connect"|"call"|"packet"|
**   "integrity"|"privacy", user=, domain=, password= | nt_hash = 16 bytes
**   or 32 hex digits, workstation=, context_id=, ntlmv1=}  (before bind) */
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
  char err[192];
  dce_sec *sec;
  luaL_checktype(L, 2, LUA_TTABLE);
  ctx = check_contexts(L, 3, &n);
  if (lua_istable(L, 4)) timeout = opt_timeout(L, 4, timeout);
  sec = dcerpc_check_sec(L, 2, &id);               /* last: nothing raises after it */
  if (dce_assoc_add_auth(c->a, sec, id, ctx, n, &call_id, err, sizeof err)) {
    const dce_assoc_info *in = dce_assoc_get_info(c->a);
    dce_sec_free(sec);
    if (in->dead) return dcerpc_fail(L, in->dead_status, NULL, err, "no");
    if (in->bound && !in->shutdown && strstr(err, "multiplexing"))   /* the peer's limit, not misuse */
      return dcerpc_fail(L, DCE_RPC_S_CALL_FAILED_DNE, NULL, err, "no");
    return luaL_error(L, "%s", err);
  }
  return conn_await(L, call_id, timeout, AWAIT_BIND);
}

/* core.vt_check(stub, from, {abstract=, transfer=, call_id=, ctx_id=, opnum=,
**   drep = drep0 | drep1 << 8}) -> found | nil, msg, found
** The bytes of a request stub after its NDR data (from = 0-based offset where
** the decoder stopped): padding or a verification trailer that must match. */
static int lconn_vt_check(lua_State *L) {
  size_t len;
  const uint8_t *stub = (const uint8_t *)luaL_checklstring(L, 1, &len);
  lua_Integer from = luaL_checkinteger(L, 2);
  dce_vt_expect x;
  lua_Integer drep;
  char err[160];
  int found;
  luaL_checktype(L, 3, LUA_TTABLE);
  memset(&x, 0, sizeof x);
  lua_getfield(L, 3, "abstract");
  check_syntax(L, -1, "abstract", &x.abstract);
  lua_getfield(L, 3, "transfer");
  check_syntax(L, -1, "transfer", &x.transfer);
  lua_pop(L, 2);
  x.call_id = (uint32_t)field_int(L, 3, "call_id", 0, 0, 0xffffffff);
  x.ctx_id = (uint16_t)field_int(L, 3, "ctx_id", 0, 0, 0xffff);
  x.opnum = (uint16_t)field_int(L, 3, "opnum", 0, 0, 0xffff);
  drep = field_int(L, 3, "drep", DCE_DREP_LE, 0, 0xffff);
  x.drep[0] = (uint8_t)drep;
  x.drep[1] = (uint8_t)(drep >> 8);
  luaL_argcheck(L, from >= 0 && (size_t)from <= len, 2, "offset out of range");
  if (dce_vt_check(stub, len, (size_t)from, &x, &found, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    lua_pushboolean(L, found);     /* true: a trailer that does not check out */
    return 3;
  }
  lua_pushboolean(L, found);
  return 1;
}

/* core.vt_trailer(stub_len, {abstract=, transfer=, bitmask=, drep = drep0})
**   -> bytes: the padding and verification trailer a client appends to an
** authenticated request stub (see engine/vt.h). */
static int lconn_vt_trailer(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  dce_syntax ab, tr;
  dce_buf *b;
  uint32_t bits;
  uint8_t d0;
  luaL_argcheck(L, n >= 0, 1, "stub length out of range");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "abstract");
  check_syntax(L, -1, "abstract", &ab);
  lua_getfield(L, 2, "transfer");
  check_syntax(L, -1, "transfer", &tr);
  lua_pop(L, 2);
  bits = (uint32_t)field_int(L, 2, "bitmask", 1, 0, 0xffffffff);
  d0 = (uint8_t)field_int(L, 2, "drep", DCE_DREP_LE, 0, 0xff);
  b = scratch_new(L);
  if (dce_vt_append(b, (size_t)n, bits, &ab, &tr, d0)) return luaL_error(L, "out of memory");
  lua_pushlstring(L, (const char *)b->p, b->len);
  dce_buf_free(b);
  return 1;
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
  lua_pushstring(L, c->transport);
  lua_setfield(L, -2, "transport");
  lua_pushinteger(L, (lua_Integer)in->bytes_sent);
  lua_setfield(L, -2, "bytes_sent");
  lua_pushinteger(L, (lua_Integer)in->bytes_received);
  lua_setfield(L, -2, "bytes_received");
  lua_pushinteger(L, dce_assoc_busy(c->a));
  lua_setfield(L, -2, "pending");
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

/* conn:getfd() -> fd, events ("r", "rw") for an outside loop. */
static int conn_getfd(lua_State *L) {
  lconn *c = conn_check(L, 1);
  unsigned ev;
  int fd = dce_conn_pollfd(c->a, c->t, &ev);
  lua_pushinteger(L, fd);
  lua_pushstring(L, !ev ? "" : (ev & DCE_T_WRITE) ? ((ev & DCE_T_READ) ? "rw" : "w") : "r");
  return 2;
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

/* ------------------------------------------------------------ pdu codec */

static const char *const drep_names[] = { "be", "le", NULL };

static int ptype_arg(lua_State *L, int t) {
  int pt;
  lua_getfield(L, t, "ptype");
  if (lua_type(L, -1) == LUA_TNUMBER) pt = (int)lua_tointeger(L, -1);
  else {
    const char *n = lua_tostring(L, -1);
    if (!n) luaL_error(L, "field 'ptype' missing");
    pt = dce_ptype_from_name(n);
    if (pt < 0) luaL_error(L, "unknown ptype '%s'", n);
  }
  lua_pop(L, 1);
  if (!dce_ptype_name(pt)) luaL_error(L, "unknown ptype %d", pt);
  return pt;
}

static const uint8_t *field_str(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = lua_tolstring(L, -1, len);
  if (!s) { *len = 0; s = NULL; }
  /* the table keeps the string alive; a view is safe while t is on the stack */
  lua_pop(L, 1);
  return (const uint8_t *)s;
}

/* core.pdu_encode(tbl) -> bytes */
static int lconn_pdu_encode(lua_State *L) {
  dce_pdu p;
  dce_pdu_error e;
  dce_buf *out;
  size_t len;
  int i, k, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  dce_pdu_init(&p, (uint8_t)ptype_arg(L, 1), 0);
  p.call_id = (uint32_t)field_int(L, 1, "call_id", 0, 0, 0xffffffff);
  p.flags = (uint8_t)field_int(L, 1, "flags", DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 255);
  p.vers = (uint8_t)field_int(L, 1, "vers", 5, 0, 255);
  p.vers_minor = (uint8_t)field_int(L, 1, "vers_minor", 0, 0, 255);
  lua_getfield(L, 1, "drep");
  if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 4) {
    memcpy(p.drep, lua_tostring(L, -1), 4);
  } else if (!lua_isnil(L, -1)) {
    p.drep[0] = luaL_checkoption(L, -1, NULL, drep_names) ? DCE_DREP_LE : DCE_DREP_BE;
  }
  lua_pop(L, 1);
  p.max_xmit = (uint16_t)field_int(L, 1, "max_xmit", 0, 0, 0xffff);
  p.max_recv = (uint16_t)field_int(L, 1, "max_recv", 0, 0, 0xffff);
  p.assoc_group = (uint32_t)field_int(L, 1, "assoc_group", 0, 0, 0xffffffff);
  p.alloc_hint = (uint32_t)field_int(L, 1, "alloc_hint", 0, 0, 0xffffffff);
  p.ctx_id = (uint16_t)field_int(L, 1, "context_id", 0, 0, 0xffff);
  p.opnum = (uint16_t)field_int(L, 1, "opnum", 0, 0, 0xffff);
  p.cancel_count = (uint8_t)field_int(L, 1, "cancel_count", 0, 0, 255);
  p.reserved = (uint8_t)field_int(L, 1, "reserved", 0, 0, 255);
  p.status = (uint32_t)field_int(L, 1, "status", 0, 0, 0xffffffff);
  p.reject_reason = (uint16_t)field_int(L, 1, "reject_reason", 0, 0, 0xffff);
  p.stub = field_str(L, 1, (p.ptype == DCE_PT_BIND_NAK) ? "extra" : "stub", &p.stub_len);
  if (lua_getfield(L, 1, "object") != LUA_TNIL) {
    check_uuid(L, -1, "object", &p.object);
    p.flags |= DCE_PFC_OBJECT_UUID;
  }
  lua_pop(L, 1);

  /* contexts (bind, alter_context) */
  if (lua_getfield(L, 1, "contexts") != LUA_TNIL) {
    dce_pctx *c = check_contexts(L, lua_gettop(L), &n);
    dce_ctx_elem *ce = (dce_ctx_elem *)lua_newuserdatauv(L, (size_t)n * sizeof *ce, 0);
    for (i = 0; i < n; i++) {
      ce[i].id = c[i].id;
      ce[i].abstract = c[i].abstract;
      ce[i].n_transfer = (uint8_t)c[i].n_transfer;
      ce[i].transfer = c[i].transfer;
    }
    p.n_ctx = (uint8_t)n;
    p.ctx = ce;
    lua_replace(L, -3);              /* keep both userdata below the table slot */
  }
  /* stack now holds whatever slot (nil or userdata) plus maybe the ctx box */
  if (lua_getfield(L, 1, "results") != LUA_TNIL) {
    int rt = lua_gettop(L);
    dce_result *r;
    luaL_checktype(L, rt, LUA_TTABLE);
    n = (int)luaL_len(L, rt);
    if (n > 255) luaL_error(L, "255 results at most");
    r = (dce_result *)lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *r, 0);
    memset(r, 0, (size_t)(n ? n : 1) * sizeof *r);
    for (i = 0; i < n; i++) {
      lua_geti(L, rt, i + 1);
      r[i].result = (uint16_t)field_int(L, -1, "result", 0, 0, 0xffff);
      r[i].reason = (uint16_t)field_int(L, -1, "reason", 0, 0, 0xffff);
      if (lua_getfield(L, -1, "transfer") != LUA_TNIL) check_syntax(L, -1, "transfer", &r[i].transfer);
      lua_pop(L, 2);
    }
    p.n_results = (uint8_t)n;
    p.results = r;
  }
  {
    size_t sl;
    const uint8_t *sa = field_str(L, 1, "secondary_address", &sl);
    if (sa && sl) {
      /* port_spec carries its terminating NUL on the wire */
      uint8_t *box = (uint8_t *)lua_newuserdatauv(L, sl + 1, 0);
      if (sl + 1 > 0xffff) luaL_error(L, "secondary_address too long");
      memcpy(box, sa, sl);
      box[sl] = 0;
      p.sec_addr = box;
      p.sec_addr_len = (uint16_t)(sl + 1);
    }
  }
  if (lua_getfield(L, 1, "versions") != LUA_TNIL) {
    int vt = lua_gettop(L);
    uint8_t *v;
    n = (int)luaL_len(L, vt);
    if (n > 255) luaL_error(L, "255 versions at most");
    v = (uint8_t *)lua_newuserdatauv(L, (size_t)n * 2 + 1, 0);
    for (i = 0; i < n; i++) {
      lua_geti(L, vt, i + 1);
      v[2 * i] = (uint8_t)field_int(L, -1, "major", 5, 0, 255);
      v[2 * i + 1] = (uint8_t)field_int(L, -1, "minor", 0, 0, 255);
      lua_pop(L, 1);
    }
    p.n_versions = (uint8_t)n;
    p.versions = v;
  }
  if (lua_getfield(L, 1, "auth") != LUA_TNIL) {
    int at = lua_gettop(L);
    luaL_checktype(L, at, LUA_TTABLE);
    p.has_auth = 1;
    p.auth.type = (uint8_t)field_int(L, at, "type", 0, 0, 255);
    p.auth.level = (uint8_t)field_int(L, at, "level", 0, 0, 255);
    p.auth.pad_len = (uint8_t)field_int(L, at, "pad_length", 0, 0, 255);
    p.auth.reserved = (uint8_t)field_int(L, at, "reserved", 0, 0, 255);
    p.auth.context_id = (uint32_t)field_int(L, at, "context_id", 0, 0, 0xffffffff);
    p.auth.value = field_str(L, at, "value", &p.auth.value_len);
  }
  (void)k;
  out = scratch_new(L);
  if (dce_pdu_encode(&p, out, &e)) return luaL_error(L, "pdu_encode: %s", e.msg);
  len = out->len;
  lua_pushlstring(L, (const char *)out->p, len);
  dce_buf_free(out);
  return 1;
}

static void push_flags(lua_State *L, uint8_t f) {
  lua_pushinteger(L, f);
  lua_setfield(L, -2, "flags");
}

/* core.pdu_decode(bytes) -> tbl | nil, err */
static int lconn_pdu_decode(lua_State *L) {
  size_t len;
  const uint8_t *b = (const uint8_t *)luaL_checklstring(L, 1, &len);
  dce_pdu p;
  dce_pdu_error e;
  int i, k;
  if (dce_pdu_decode(&p, b, len, &e)) {
    dce_pdu_free(&p);
    return dcerpc_fail(L, DCE_RPC_S_PROTOCOL_ERROR, NULL, e.msg, NULL);
  }
  lua_createtable(L, 0, 12);
  lua_pushstring(L, dce_ptype_name(p.ptype));
  lua_setfield(L, -2, "ptype");
  push_flags(L, p.flags);
  lua_pushinteger(L, p.call_id);
  lua_setfield(L, -2, "call_id");
  lua_pushstring(L, (p.drep[0] & DCE_DREP_LE) ? "le" : "be");
  lua_setfield(L, -2, "drep");
  lua_pushlstring(L, (const char *)p.drep, 4);
  lua_setfield(L, -2, "drep_bytes");
  lua_pushinteger(L, p.frag_length);
  lua_setfield(L, -2, "frag_length");
  lua_pushinteger(L, p.auth_length);
  lua_setfield(L, -2, "auth_length");
  switch (p.ptype) {
  case DCE_PT_BIND: case DCE_PT_ALTER:
  case DCE_PT_BIND_ACK: case DCE_PT_ALTER_RESP:
    lua_pushinteger(L, p.max_xmit);
    lua_setfield(L, -2, "max_xmit");
    lua_pushinteger(L, p.max_recv);
    lua_setfield(L, -2, "max_recv");
    lua_pushinteger(L, p.assoc_group);
    lua_setfield(L, -2, "assoc_group");
    if (p.ptype == DCE_PT_BIND || p.ptype == DCE_PT_ALTER) {
      lua_createtable(L, p.n_ctx, 0);
      for (i = 0; i < p.n_ctx; i++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, p.ctx[i].id);
        lua_setfield(L, -2, "id");
        push_syntax(L, &p.ctx[i].abstract);
        lua_setfield(L, -2, "abstract");
        lua_createtable(L, p.ctx[i].n_transfer, 0);
        for (k = 0; k < p.ctx[i].n_transfer; k++) {
          push_syntax(L, &p.ctx[i].transfer[k]);
          lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "transfer");
        lua_rawseti(L, -2, i + 1);
      }
      lua_setfield(L, -2, "contexts");
    } else {
      size_t sl = p.sec_addr_len;
      if (sl && p.sec_addr[sl - 1] == 0) sl--;
      lua_pushlstring(L, (const char *)p.sec_addr, sl);
      lua_setfield(L, -2, "secondary_address");
      lua_createtable(L, p.n_results, 0);
      for (i = 0; i < p.n_results; i++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, p.results[i].result);
        lua_setfield(L, -2, "result");
        lua_pushinteger(L, p.results[i].reason);
        lua_setfield(L, -2, "reason");
        push_syntax(L, &p.results[i].transfer);
        lua_setfield(L, -2, "transfer");
        lua_rawseti(L, -2, i + 1);
      }
      lua_setfield(L, -2, "results");
    }
    break;
  case DCE_PT_BIND_NAK:
    lua_pushinteger(L, p.reject_reason);
    lua_setfield(L, -2, "reject_reason");
    lua_pushstring(L, dce_bind_nak_reason_name(p.reject_reason));
    lua_setfield(L, -2, "reject_reason_name");
    lua_createtable(L, p.n_versions, 0);
    for (i = 0; i < p.n_versions; i++) {
      lua_createtable(L, 0, 2);
      lua_pushinteger(L, p.versions[2 * i]);
      lua_setfield(L, -2, "major");
      lua_pushinteger(L, p.versions[2 * i + 1]);
      lua_setfield(L, -2, "minor");
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "versions");
    lua_pushlstring(L, (const char *)p.stub, p.stub_len);
    lua_setfield(L, -2, "extra");
    break;
  case DCE_PT_REQUEST: case DCE_PT_RESPONSE: case DCE_PT_FAULT:
    lua_pushinteger(L, p.alloc_hint);
    lua_setfield(L, -2, "alloc_hint");
    lua_pushinteger(L, p.ctx_id);
    lua_setfield(L, -2, "context_id");
    if (p.ptype == DCE_PT_REQUEST) {
      lua_pushinteger(L, p.opnum);
      lua_setfield(L, -2, "opnum");
      if (p.has_object) {
        push_uuid(L, &p.object);
        lua_setfield(L, -2, "object");
      }
    } else {
      lua_pushinteger(L, p.cancel_count);
      lua_setfield(L, -2, "cancel_count");
      lua_pushinteger(L, p.reserved);
      lua_setfield(L, -2, "reserved");
    }
    if (p.ptype == DCE_PT_FAULT) {
      const char *nm = dce_status_name(p.status);
      lua_pushinteger(L, p.status);
      lua_setfield(L, -2, "status");
      if (nm) { lua_pushstring(L, nm); lua_setfield(L, -2, "status_name"); }
      lua_pushboolean(L, (p.flags & DCE_PFC_DID_NOT_EXECUTE) != 0);
      lua_setfield(L, -2, "did_not_execute");
    }
    lua_pushlstring(L, (const char *)p.stub, p.stub_len);
    lua_setfield(L, -2, "stub");
    break;
  case DCE_PT_AUTH3:
    lua_pushinteger(L, p.max_xmit);
    lua_setfield(L, -2, "max_xmit");
    lua_pushinteger(L, p.max_recv);
    lua_setfield(L, -2, "max_recv");
    break;
  default:
    break;
  }
  if (p.has_auth) {
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, p.auth.type);
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, p.auth.level);
    lua_setfield(L, -2, "level");
    lua_pushinteger(L, p.auth.pad_len);
    lua_setfield(L, -2, "pad_length");
    lua_pushinteger(L, p.auth.reserved);
    lua_setfield(L, -2, "reserved");
    lua_pushinteger(L, p.auth.context_id);
    lua_setfield(L, -2, "context_id");
    lua_pushlstring(L, (const char *)p.auth.value, p.auth.value_len);
    lua_setfield(L, -2, "value");
    lua_setfield(L, -2, "auth");
  }
  dce_pdu_free(&p);
  return 1;
}

/* ------------------------------------------------------------ raw sockets (tests) */

typedef struct lraw { dce_transport *t; } lraw;
typedef struct llisten { int fd; int port; } llisten;

static lraw *raw_check(lua_State *L) {
  lraw *r = (lraw *)luaL_checkudata(L, 1, RAW_MT);
  if (!r->t) luaL_error(L, "attempt to use a closed socket");
  return r;
}

static int raw_close(lua_State *L) {
  lraw *r = (lraw *)luaL_checkudata(L, 1, RAW_MT);
  if (r->t) { r->t->ops->close(r->t); r->t = NULL; }
  return 0;
}

/* sock:send(bytes) -> true | nil, msg  (blocks until all is written) */
static int raw_send(lua_State *L) {
  lraw *r = raw_check(L);
  size_t len, off = 0;
  const char *s = luaL_checklstring(L, 2, &len);
  while (off < len) {
    long n = r->t->ops->send(r->t, s + off, len - off);
    if (n == DCE_T_AGAIN) {
      unsigned ev;
      struct pollfd pf = { dce_transport_poll(r->t, DCE_T_WRITE, &ev), POLLOUT, 0 };
      poll(&pf, 1, 1000);
      continue;
    }
    if (n < 0) { lua_pushnil(L); lua_pushstring(L, r->t->errmsg); return 2; }
    off += (size_t)n;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* sock:recv(n [, timeout]) -> up to n bytes (waits for at least one) |
** nil, "closed" | nil, "timeout" */
static int raw_recv(lua_State *L) {
  lraw *r = raw_check(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  double to = luaL_optnumber(L, 3, 10.0);
  int64_t deadline = dce_now_ms() + (int64_t)(to * 1000);
  luaL_Buffer b;
  char *p;
  luaL_argcheck(L, n > 0 && n <= (1 << 24), 2, "1 to 16 MiB");
  p = luaL_buffinitsize(L, &b, (size_t)n);
  for (;;) {
    long got = r->t->ops->recv(r->t, p, (size_t)n);
    if (got > 0) { luaL_pushresultsize(&b, (size_t)got); return 1; }
    if (got == 0) { lua_pushnil(L); lua_pushliteral(L, "closed"); return 2; }
    if (got == DCE_T_AGAIN) {
      unsigned ev;
      struct pollfd pf = { dce_transport_poll(r->t, DCE_T_READ, &ev), POLLIN, 0 };
      int64_t left = deadline - dce_now_ms();
      if (left <= 0) { lua_pushnil(L); lua_pushliteral(L, "timeout"); return 2; }
      poll(&pf, 1, (int)left);
      continue;
    }
    lua_pushnil(L);
    lua_pushstring(L, r->t->errmsg);
    return 2;
  }
}

static llisten *listener_check(lua_State *L) {
  llisten *l = (llisten *)luaL_checkudata(L, 1, LISTENER_MT);
  if (l->fd < 0) luaL_error(L, "attempt to use a closed listener");
  return l;
}

static int listener_close(lua_State *L) {
  llisten *l = (llisten *)luaL_checkudata(L, 1, LISTENER_MT);
  if (l->fd >= 0) { close(l->fd); l->fd = -1; }
  return 0;
}

/* core.raw_connect(host, port [, timeout]) -> raw socket | nil, msg: the
** client end of the raw sockets hostile-peer tests script byte by byte. */
static int lconn_raw_connect(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  char err[200];
  int to_ms;
  lraw *r;
  dcerpc_port_arg(L, 2, 0);
  to_ms = (int)(luaL_optnumber(L, 3, 10) * 1000);
  r = (lraw *)lua_newuserdatauv(L, sizeof *r, 0);
  r->t = NULL;
  luaL_setmetatable(L, RAW_MT);
  r->t = dce_tcp_connect(host, lua_tostring(L, 2), to_ms, err, sizeof err);
  if (!r->t) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  return 1;
}

/* listener:accept([timeout]) -> sock | nil, msg */
static int listener_accept(lua_State *L) {
  llisten *l = listener_check(L);
  double to = luaL_optnumber(L, 2, 10.0);
  char err[160];
  lraw *r = (lraw *)lua_newuserdatauv(L, sizeof *r, 0);
  r->t = NULL;
  luaL_setmetatable(L, RAW_MT);
  r->t = dce_sock_accept(l->fd, (int)(to * 1000), err, sizeof err);
  if (!r->t) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  return 1;
}

static int listener_port(lua_State *L) {
  llisten *l = listener_check(L);
  lua_pushinteger(L, l->port);
  return 1;
}

/* core.listen_tcp(host, port) -> listener | nil, msg ; port 0 = any */
static int lconn_listen_tcp(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  const char *port;
  char err[160];
  llisten *l;
  port = dcerpc_port_arg(L, 2, 1);
  l = (llisten *)lua_newuserdatauv(L, sizeof *l, 0);
  l->fd = -1; l->port = 0;
  luaL_setmetatable(L, LISTENER_MT);
  l->fd = dce_tcp_listen(host, port, &l->port, err, sizeof err);
  if (l->fd < 0) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  return 1;
}

/* ------------------------------------------------------------ registration */

void dcerpc_open_conn(lua_State *L) {
  static const luaL_Reg conn_m[] = {
    { "bind", conn_bind }, { "alter_context", conn_alter_context },
    { "call", conn_call }, { "send", conn_send }, { "receive", conn_receive },
    { "info", conn_info }, { "getfd", conn_getfd }, { "step", conn_step },
    { "done", conn_done }, { "set_auth", conn_set_auth },
    { "add_auth", conn_add_auth }, { "close", conn_close },
    { "__tostring", conn_tostring }, { NULL, NULL }
  };
  static const luaL_Reg raw_m[] = {
    { "send", raw_send }, { "recv", raw_recv }, { "close", raw_close }, { NULL, NULL }
  };
  static const luaL_Reg listen_m[] = {
    { "accept", listener_accept }, { "port", listener_port }, { "close", listener_close },
    { NULL, NULL }
  };
  static const luaL_Reg scratch_m[] = { { NULL, NULL } };
  static const luaL_Reg f[] = {
    { "connect_tcp", lconn_connect_tcp }, { "connect_unix", lconn_connect_unix },
    { "vt_check", lconn_vt_check },
    { "vt_trailer", lconn_vt_trailer },
    { "listen_tcp", lconn_listen_tcp },
    { "pdu_encode", lconn_pdu_encode }, { "pdu_decode", lconn_pdu_decode },
    { "raw_connect", lconn_raw_connect }, { NULL, NULL }
  };
  dcerpc_new_class(L, CONN_MT, conn_m, conn_close);
  luaL_getmetatable(L, CONN_MT);                 /* __gc frees even with waiters */
  lua_pushcfunction(L, conn_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  dcerpc_new_class(L, RAW_MT, raw_m, raw_close);
  dcerpc_new_class(L, LISTENER_MT, listen_m, listener_close);
  dcerpc_new_class(L, SCRATCH_MT, scratch_m, scratch_gc);
  luaL_setfuncs(L, f, 0);
  dcerpc_open_auth(L);                           /* core.nt_hash, core.mechs (lauth.c) */
}
