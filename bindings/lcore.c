/*
** lcore.c - luaopen_dcerpc_core: wires the parts of the C module together and
** holds the error object shared by all of them.
*/
#include <stdio.h>
#include "lcore.h"
#include "base/status.h"

#define DCERPC_ERROR_MT "dcerpc.error"

static int lcore_error_tostring(lua_State *L) {
  lua_Integer code;
  const char *name, *msg;
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "name");
  lua_getfield(L, 1, "message");
  code = lua_tointeger(L, -3);
  name = lua_tostring(L, -2);
  msg = lua_tostring(L, -1);
  {
    /* lua_pushfstring has no %08x: format the code by hand */
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)(code & 0xffffffffu));
    lua_pushfstring(L, "%s (0x%s): %s", name ? name : "error", hex, msg ? msg : "");
  }
  return 1;
}

int dcerpc_push_error(lua_State *L, uint32_t code, const char *name,
                      const char *message, const char *executed) {
  if (!name) name = dce_status_name(code);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)code);
  lua_setfield(L, -2, "code");
  if (name) lua_pushstring(L, name);
  else {
    char hex[16];
    snprintf(hex, sizeof hex, "0x%08x", (unsigned)code);
    lua_pushstring(L, hex);
  }
  lua_setfield(L, -2, "name");
  lua_pushstring(L, message ? message : (name ? name : "error"));
  lua_setfield(L, -2, "message");
  if (executed) {
    lua_pushstring(L, executed);
    lua_setfield(L, -2, "executed");
  }
  luaL_setmetatable(L, DCERPC_ERROR_MT);
  return 1;
}

int dcerpc_fail(lua_State *L, uint32_t code, const char *name,
                const char *message, const char *executed) {
  lua_pushnil(L);
  dcerpc_push_error(L, code, name, message, executed);
  return 2;
}

void dcerpc_new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                      lua_CFunction closefn) {
  if (luaL_newmetatable(L, name)) {
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    if (closefn) {
      lua_pushcfunction(L, closefn);
      lua_setfield(L, -2, "__gc");
      lua_pushcfunction(L, closefn);
      lua_setfield(L, -2, "__close");
    }
  }
  lua_pop(L, 1);
}

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
  if (luaL_newmetatable(L, DCERPC_ERROR_MT)) {
    lua_pushcfunction(L, lcore_error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, DCERPC_ERROR_MT);
    lua_setfield(L, -2, "__name");
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "dcerpc.error.mt.keep");  /* keep a ref */
  luaL_newlib(L, f);
  luaL_getmetatable(L, DCERPC_ERROR_MT);
  lua_setfield(L, -2, "error_mt");
  dcerpc_open_ndr(L);
  dcerpc_open_conn(L);
  dcerpc_open_binding(L);
  dcerpc_open_server(L);
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "version");
  return 1;
}

const char *dcerpc_port_arg(lua_State *L, int idx, int listening) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer p = luaL_checkinteger(L, idx);
    luaL_argcheck(L, p >= (listening ? 0 : 1) && p < 65536, idx, "port out of range");
    lua_pushfstring(L, "%d", (int)p);
    lua_replace(L, idx);
  }
  return luaL_checkstring(L, idx);
}
