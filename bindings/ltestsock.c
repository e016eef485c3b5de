/*
** ltestsock.c - raw sockets for scripted peers in tests: the client end a
** hostile-peer test writes byte by byte, and a listener for fake servers.
**
**   core.raw_connect(host, port [, timeout]) -> sock | nil, msg
**   core.listen_tcp(host, port) -> listener | nil, msg      (port 0: any)
**     listener:accept([timeout]) -> sock | nil, msg ; listener:port() ; listener:close()
**     sock:send(bytes) -> true | nil, msg  (blocks until all is written)
**     sock:recv(n [, timeout]) -> bytes | nil, "closed" | nil, "timeout" ; sock:close()
**   core.setenv(name, value | nil)   the process environment, for specs that
**     point a library at a test peer (KRB5_CONFIG for the MIT KDC)
*/
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include "laux.h"
#include "lcore.h"
#include "base/clock.h"
#include "net/transport.h"

#define RAW_MT "dcerpc.rawsock"
#define LISTENER_MT "dcerpc.listener"

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
static int ltest_raw_connect(lua_State *L) {
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
static int ltest_listen_tcp(lua_State *L) {
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

static int ltest_setenv(lua_State *L) {
  const char *k = luaL_checkstring(L, 1);
  int r = lua_isnil(L, 2) ? unsetenv(k) : setenv(k, luaL_checkstring(L, 2), 1);
  if (r) return luaL_error(L, "setenv %s failed", k);
  return 0;
}

void dcerpc_open_testsock(lua_State *L) {
  static const luaL_Reg raw_m[] = {
    { "send", raw_send }, { "recv", raw_recv }, { "close", raw_close }, { NULL, NULL }
  };
  static const luaL_Reg listen_m[] = {
    { "accept", listener_accept }, { "port", listener_port }, { "close", listener_close },
    { NULL, NULL }
  };
  static const luaL_Reg f[] = {
    { "raw_connect", ltest_raw_connect }, { "listen_tcp", ltest_listen_tcp }, { "setenv", ltest_setenv },
    { NULL, NULL }
  };
  dcerpc_new_class(L, RAW_MT, raw_m, raw_close);
  dcerpc_new_class(L, LISTENER_MT, listen_m, listener_close);
  luaL_setfuncs(L, f, 0);
}
