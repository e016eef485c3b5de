/*
** lcore.c - luaopen_dcerpc_core: opens every part of the C module (the role
** of Lua's linit.c). Built with DCERPC_CLIENT_ONLY (make client-only), the
** module has no server: core.server_new is absent and neither the server
** runner nor the event loop is linked.
*/
#include "lcore.h"
#include "base/status.h"

/* core.status_name(code) -> name or nil */
static int lcore_status_name(lua_State *L) {
  const char *n = dce_status_name((uint32_t)luaL_checkinteger(L, 1));
  if (n) lua_pushstring(L, n); else lua_pushnil(L);
  return 1;
}

/* core.error(code, name, message, executed) -> error object (for Lua code
** that needs to make errors of the same kind). */
static int lcore_error(lua_State *L) {
  uint32_t code = (uint32_t)luaL_checkinteger(L, 1);
  const char *name = luaL_optstring(L, 2, NULL);
  const char *msg = luaL_optstring(L, 3, NULL);
  const char *ex = luaL_optstring(L, 4, NULL);
  return dcerpc_push_error(L, code, name, msg, ex);
}

__attribute__((visibility("default"))) int luaopen_dcerpc_core(lua_State *L);

int luaopen_dcerpc_core(lua_State *L) {
  static const luaL_Reg f[] = {
    { "status_name", lcore_status_name },
    { "error", lcore_error },
    { NULL, NULL }
  };
  dcerpc_aux_open(L);
  luaL_newlib(L, f);
  luaL_getmetatable(L, DCERPC_ERROR_MT);
  lua_setfield(L, -2, "error_mt");
  dcerpc_open_ndr(L);
  dcerpc_open_binding(L);
  dcerpc_open_pdu(L);
  dcerpc_open_testsock(L);
  dcerpc_open_loop(L);
  dcerpc_open_auth(L);
  dcerpc_open_conn(L);
#if !defined(DCERPC_CLIENT_ONLY)
  dcerpc_open_server(L);
#endif
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "version");
  return 1;
}
