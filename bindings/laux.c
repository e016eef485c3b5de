/*
** laux.c - the helper library of dcerpc.core (see laux.h).
*/
#include <stdio.h>
#include <string.h>
#include "laux.h"
#include "base/status.h"

#define SCRATCH_MT "dcerpc.scratch"

/* ------------------------------------------------------------ errors */

/* The error object is a plain table (code, name, message, executed, and
** whatever a caller adds) with one shared metatable, so every error the
** module returns behaves alike:
**   tostring(err)        "NAME (0xCODE): message"
**   "x" .. err, err .. "x"  the same text, either side
**   err == other         same code and same name (two error objects)
**   err:is(x, ...)       x a number: the code (taken modulo 2^32); a
**                        string: the name; true when any x matches */

static int error_tostring(lua_State *L) {
  lua_Integer code;
  const char *name, *msg;
  char hex[16];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "name");
  lua_getfield(L, 1, "message");
  code = lua_tointeger(L, -3);
  name = lua_tostring(L, -2);
  msg = lua_tostring(L, -1);
  /* lua_pushfstring has no %08x: format the code by hand */
  snprintf(hex, sizeof hex, "%08x", (unsigned)(code & 0xffffffffu));
  lua_pushfstring(L, "%s (0x%s): %s", name ? name : "error", hex, msg ? msg : "");
  return 1;
}

/* Is the value at i an error object (a table with the shared metatable)? */
static int error_is_object(lua_State *L, int i) {
  int r;
  if (!lua_istable(L, i) || !lua_getmetatable(L, i)) return 0;
  luaL_getmetatable(L, DCERPC_ERROR_MT);
  r = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return r;
}

/* Push one operand of .. as text: an error object by its __tostring, a
** string or number as Lua would; anything else raises as plain Lua does. */
static void error_concat_arg(lua_State *L, int i) {
  int t = lua_type(L, i);
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    lua_pushvalue(L, i);
    lua_tostring(L, -1);
  } else if (error_is_object(L, i)) {
    lua_pushcfunction(L, error_tostring);
    lua_pushvalue(L, i);
    lua_call(L, 1, 1);
  } else {
    luaL_error(L, "attempt to concatenate a %s value", luaL_typename(L, i));
  }
}

static int error_concat(lua_State *L) {
  lua_settop(L, 2);
  error_concat_arg(L, 1);
  error_concat_arg(L, 2);
  lua_concat(L, 2);
  return 1;
}

/* __eq: Lua calls it only for two tables that are not the same table. */
static int error_eq(lua_State *L) {
  int same;
  lua_getfield(L, 1, "code");
  lua_getfield(L, 2, "code");
  lua_getfield(L, 1, "name");
  lua_getfield(L, 2, "name");
  same = lua_rawequal(L, -4, -3) && lua_rawequal(L, -2, -1);
  lua_pushboolean(L, same);
  return 1;
}

/* err:is(x, ...) -> boolean */
static int error_is(lua_State *L) {
  int i, n = lua_gettop(L);
  lua_Integer code;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, n >= 2, 2, "a status code or name expected");
  lua_getfield(L, 1, "code");
  code = lua_tointeger(L, -1) & 0xffffffff;
  lua_getfield(L, 1, "name");
  for (i = 2; i <= n; i++) {
    if (lua_type(L, i) == LUA_TNUMBER) {
      int isint;
      lua_Integer x = lua_tointegerx(L, i, &isint);
      if (isint && (x & 0xffffffff) == code) { lua_pushboolean(L, 1); return 1; }
    } else if (lua_type(L, i) == LUA_TSTRING) {
      if (lua_rawequal(L, i, -1)) { lua_pushboolean(L, 1); return 1; }
    } else {
      return luaL_argerror(L, i, "a status code or name expected");
    }
  }
  lua_pushboolean(L, 0);
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

/* ------------------------------------------------------------ classes */

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

/* ------------------------------------------------------------ scratch */

static int scratch_gc(lua_State *L) {
  dce_buf *b = (dce_buf *)luaL_checkudata(L, 1, SCRATCH_MT);
  dce_buf_free(b);
  return 0;
}

dce_buf *dcerpc_scratch_new(lua_State *L) {
  dce_buf *b = (dce_buf *)lua_newuserdatauv(L, sizeof *b, 0);
  dce_buf_init(b);
  luaL_setmetatable(L, SCRATCH_MT);
  return b;
}

void dcerpc_aux_open(lua_State *L) {
  static const luaL_Reg none[] = { { NULL, NULL } };
  static const luaL_Reg error_meta[] = {
    { "__tostring", error_tostring },
    { "__concat", error_concat },
    { "__eq", error_eq },
    { NULL, NULL }
  };
  static const luaL_Reg error_methods[] = {
    { "is", error_is },
    { NULL, NULL }
  };
  if (luaL_newmetatable(L, DCERPC_ERROR_MT)) {
    luaL_setfuncs(L, error_meta, 0);
    luaL_newlib(L, error_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  dcerpc_new_class(L, SCRATCH_MT, none, scratch_gc);
}

/* ------------------------------------------------------------ values */

const char *dcerpc_port_arg(lua_State *L, int idx, int listening) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer p = luaL_checkinteger(L, idx);
    luaL_argcheck(L, p >= (listening ? 0 : 1) && p < 65536, idx, "port out of range");
    lua_pushfstring(L, "%d", (int)p);
    lua_replace(L, idx);
  }
  return luaL_checkstring(L, idx);
}

lua_Integer dcerpc_field_int(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo,
                             lua_Integer hi) {
  lua_Integer v = def;
  int isnum;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "field '%s' must be an integer", k);
    if (v < lo || v > hi) luaL_error(L, "field '%s' out of range (%I..%I)", k, lo, hi);
  }
  lua_pop(L, 1);
  return v;
}

int dcerpc_field_bool(lua_State *L, int t, const char *k, int def) {
  int v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

void dcerpc_check_uuid(lua_State *L, int idx, const char *what, dce_uuid *u) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (!s || dce_uuid_parse(u, s, n))
    luaL_error(L, "%s: bad uuid '%s'", what, s ? s : luaL_typename(L, idx));
}

void dcerpc_push_uuid(lua_State *L, const dce_uuid *u) {
  char s[37];
  dce_uuid_format(u, s);
  lua_pushstring(L, s);
}

void dcerpc_check_syntax(lua_State *L, int idx, const char *what, dce_syntax *s) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx)) luaL_error(L, "%s must be a table {uuid=, major=, minor=}", what);
  lua_getfield(L, idx, "uuid");
  dcerpc_check_uuid(L, -1, what, &s->uuid);
  lua_pop(L, 1);
  s->major = (uint16_t)dcerpc_field_int(L, idx, "major", 0, 0, 0xffff);
  s->minor = (uint16_t)dcerpc_field_int(L, idx, "minor", 0, 0, 0xffff);
}

void dcerpc_push_syntax(lua_State *L, const dce_syntax *s) {
  lua_createtable(L, 0, 3);
  dcerpc_push_uuid(L, &s->uuid);
  lua_setfield(L, -2, "uuid");
  lua_pushinteger(L, s->major);
  lua_setfield(L, -2, "major");
  lua_pushinteger(L, s->minor);
  lua_setfield(L, -2, "minor");
}

dce_pctx *dcerpc_check_contexts(lua_State *L, int idx, int *n_out) {
  int n, i, k;
  dce_pctx *c;
  idx = lua_absindex(L, idx);
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
    c[i].id = (uint16_t)dcerpc_field_int(L, e, "id", i, 0, 0xffff);
    lua_getfield(L, e, "abstract");
    dcerpc_check_syntax(L, -1, "abstract syntax", &c[i].abstract);
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
        dcerpc_check_syntax(L, -1, "transfer syntax", &c[i].transfer[k]);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 2);
  }
  *n_out = n;
  return c;
}

int dcerpc_hex_decode(const char *h, size_t n, uint8_t *out) {
  size_t i;
  if (n % 2) return -1;
  for (i = 0; i < n; i++) {
    char ch = h[i];
    int v = ch >= '0' && ch <= '9' ? ch - '0'
          : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
          : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
    if (v < 0) return -1;
    if (i % 2) out[i / 2] = (uint8_t)(out[i / 2] | v);
    else out[i / 2] = (uint8_t)(v << 4);
  }
  return 0;
}
