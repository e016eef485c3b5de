/*
** lbinding.c - string bindings, protocol towers and the status table for
** dcerpc.core:
**
**   core.binding_parse(s)            -> b | nil, err (code 1700, err.position)
**   core.binding_format(b)           -> s               (raises on a bad table)
**   core.tower_decode(bytes)         -> t | nil, err (code 1783)
**   core.tower_encode(t)             -> bytes           (raises on a bad table)
**   core.tower_to_binding(t|bytes [, opts]) -> s | nil, err
**   core.status_table()              -> { name = code, ... }
**
** b = { object = "uuid"|nil, protseq = "ncacn_ip_tcp", host = "127.0.0.1",
**       endpoint = "135"|nil, options = { k = "v" | true }, flags = { "sign", ... } }
** t = { interface = { uuid =, major =, minor = }, syntax = { ... },
**       protocol = 0x0b, protocol_minor = 0, protseq = "ncacn_ip_tcp"|nil,
**       endpoint = "49152"|nil, host = "127.0.0.1"|nil,
**       floors = { { protocol = 0x0d, lhs = "...", rhs = "..." }, ... } }
**
** No engine call here allocates: parse scratch is a GC-owned userdata and
** formatting sizes first, then writes into a luaL_Buffer, so a raised error
** can leak nothing.
*/
#include <stdio.h>
#include <string.h>
#include "laux.h"
#include "lcore.h"
#include "rpc/binding.h"
#include "rpc/tower.h"
#include "base/status.h"

/* NDR transfer syntax, the default floor 2 of tower_encode. */
static const char NDR_SYNTAX[] = "8a885d04-1ceb-11c9-9fe8-08002b104860";

/* ------------------------------------------------------------- bindings */

static void push_bstr(lua_State *L, const dce_bstr *x) {
  lua_pushlstring(L, x->s, x->len);
}

static int lbinding_parse(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  dce_binding b;
  dce_binding_err err;
  char *scratch;
  size_t k, nflags = 0;
  if (len > DCE_BINDING_MAX_LEN) {
    char msg[96];
    snprintf(msg, sizeof msg, "invalid string binding: longer than %d bytes", DCE_BINDING_MAX_LEN);
    dcerpc_fail(L, DCE_RPC_S_INVALID_STRING_BINDING, "RPC_S_INVALID_STRING_BINDING", msg, NULL);
    lua_pushinteger(L, DCE_BINDING_MAX_LEN + 1);
    lua_setfield(L, -2, "position");
    return 2;
  }
  scratch = (char *)lua_newuserdatauv(L, DCE_BINDING_SCRATCH(len), 0);
  if (dce_binding_parse(&b, s, len, scratch, DCE_BINDING_SCRATCH(len), &err)) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid string binding: %s", err.msg);
    dcerpc_push_error(L, DCE_RPC_S_INVALID_STRING_BINDING, "RPC_S_INVALID_STRING_BINDING",
                      lua_tostring(L, -1), NULL);
    lua_pushinteger(L, (lua_Integer)err.pos + 1);       /* 1-based, like string.find */
    lua_setfield(L, -2, "position");
    lua_remove(L, -2);
    return 2;
  }
  lua_createtable(L, 0, 6);
  if (b.has_object) {
    char u[37];
    dce_uuid_format(&b.object, u);
    lua_pushstring(L, u);
    lua_setfield(L, -2, "object");
  }
  push_bstr(L, &b.protseq); lua_setfield(L, -2, "protseq");
  push_bstr(L, &b.host); lua_setfield(L, -2, "host");
  if (b.endpoint.s) { push_bstr(L, &b.endpoint); lua_setfield(L, -2, "endpoint"); }
  lua_createtable(L, 0, (int)b.nopts);                   /* options */
  lua_createtable(L, 4, 0);                               /* flags */
  for (k = 0; k < b.nopts; k++) {
    push_bstr(L, &b.opt[k].key);
    if (b.opt[k].value.s) push_bstr(L, &b.opt[k].value);
    else {
      lua_pushboolean(L, 1);
      push_bstr(L, &b.opt[k].key);
      lua_rawseti(L, -4, (lua_Integer)++nflags);
    }
    lua_rawset(L, -4);
  }
  lua_setfield(L, -3, "flags");
  lua_setfield(L, -2, "options");
  return 1;
}

/* Optional string field (numbers converted); NULL when nil. Raises otherwise.
** A string is popped (the table keeps it alive); a number's converted string
** exists only on the stack, so it is left there to stay anchored. */
static const char *opt_field(lua_State *L, int t, const char *k, size_t *len) {
  const char *s = NULL;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TSTRING || ty == LUA_TNUMBER) s = lua_tolstring(L, -1, len);
  else if (ty != LUA_TNIL) luaL_error(L, "field '%s' must be a string (got %s)", k, luaL_typename(L, -1));
  if (ty != LUA_TNUMBER) lua_pop(L, 1);
  return s;
}

/* Sort helper for option keys: insertion sort on indexes (<= 64 items). */
static void sort_opts(dce_binding_opt *o, size_t n) {
  size_t i, j;
  for (i = 1; i < n; i++) {
    dce_binding_opt x = o[i];
    for (j = i; j > 0; j--) {
      size_t m = o[j - 1].key.len < x.key.len ? o[j - 1].key.len : x.key.len;
      int c = memcmp(o[j - 1].key.s, x.key.s, m);
      if (c < 0 || (c == 0 && o[j - 1].key.len <= x.key.len)) break;
      o[j] = o[j - 1];
    }
    o[j] = x;
  }
}

static int has_opt(const dce_binding *b, const char *k, size_t n) {
  size_t i;
  for (i = 0; i < b->nopts; i++)
    if (b->opt[i].key.len == n && memcmp(b->opt[i].key.s, k, n) == 0) return 1;
  return 0;
}

static int lbinding_format(lua_State *L) {
  dce_binding b;
  const char *s;
  size_t n, need, nflags;
  int anchor;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&b, 0, sizeof b);
  s = opt_field(L, 1, "object", &n);
  if (s) {
    luaL_argcheck(L, dce_uuid_parse(&b.object, s, n) == 0, 1, "field 'object' is not a UUID");
    b.has_object = 1;
  }
  b.protseq.s = opt_field(L, 1, "protseq", &b.protseq.len);
  luaL_argcheck(L, b.protseq.s != NULL, 1, "field 'protseq' missing");
  b.host.s = opt_field(L, 1, "host", &b.host.len);
  b.endpoint.s = opt_field(L, 1, "endpoint", &b.endpoint.len);
  /* Flags first, in order; then options[k] = true not listed; then k=v sorted. */
  if (lua_getfield(L, 1, "flags") == LUA_TTABLE) {
    lua_Integer i, m = (lua_Integer)lua_rawlen(L, -1);
    for (i = 1; i <= m; i++) {
      size_t kl;
      const char *k;
      if (lua_rawgeti(L, -1, i) != LUA_TSTRING)   /* strings only: the table anchors them */
        luaL_error(L, "flags[%d] must be a string", (int)i);
      k = lua_tolstring(L, -1, &kl);
      lua_pop(L, 1);
      if (has_opt(&b, k, kl)) continue;
      if (b.nopts == DCE_BINDING_MAX_OPTS) luaL_error(L, "too many options");
      b.opt[b.nopts].key.s = k; b.opt[b.nopts].key.len = kl;
      b.nopts++;
    }
  } else if (!lua_isnil(L, -1)) luaL_error(L, "field 'flags' must be a table");
  lua_pop(L, 1);
  nflags = b.nopts;
  lua_newtable(L);                             /* anchors numbers turned into strings */
  anchor = lua_gettop(L);
  if (lua_getfield(L, 1, "options") == LUA_TTABLE) {
    size_t first_kv;
    int opts = lua_gettop(L), na = 0;
    lua_pushnil(L);
    while (lua_next(L, opts)) {                /* boolean flags not in 'flags' */
      size_t kl;
      const char *k;
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "option names must be strings");
      k = lua_tolstring(L, -2, &kl);
      if (lua_type(L, -1) == LUA_TBOOLEAN) {
        if (lua_toboolean(L, -1) && !has_opt(&b, k, kl)) {
          if (b.nopts == DCE_BINDING_MAX_OPTS) luaL_error(L, "too many options");
          b.opt[b.nopts].key.s = k; b.opt[b.nopts].key.len = kl;
          b.nopts++;
        }
      } else if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
        luaL_error(L, "option '%s' must be a string, number or boolean", k);
      }
      lua_pop(L, 1);
    }
    sort_opts(b.opt + nflags, b.nopts - nflags);
    first_kv = b.nopts;
    lua_pushnil(L);
    while (lua_next(L, opts)) {                /* k=v options */
      int vt = lua_type(L, -1);
      if (vt == LUA_TSTRING || vt == LUA_TNUMBER) {
        dce_binding_opt *o;
        size_t kl;
        const char *k = lua_tolstring(L, -2, &kl);
        if (has_opt(&b, k, kl)) luaL_error(L, "option '%s' is also a flag", k);
        if (b.nopts == DCE_BINDING_MAX_OPTS) luaL_error(L, "too many options");
        o = &b.opt[b.nopts++];
        o->key.s = k; o->key.len = kl;
        if (o->key.len == 8 && memcmp(o->key.s, "endpoint", 8) == 0)
          luaL_error(L, "the endpoint belongs in field 'endpoint', not in options");
        if (vt == LUA_TNUMBER) {               /* convert a copy, never the key slot */
          lua_pushvalue(L, -1);
          o->value.s = lua_tolstring(L, -1, &o->value.len);
          lua_rawseti(L, anchor, ++na);
        } else {
          o->value.s = lua_tolstring(L, -1, &o->value.len);
        }
      }
      lua_pop(L, 1);
    }
    sort_opts(b.opt + first_kv, b.nopts - first_kv);
  } else if (!lua_isnil(L, -1)) luaL_error(L, "field 'options' must be a table");
  need = dce_binding_format(&b, NULL, 0);
  if (need == (size_t)-1) luaL_error(L, "cannot format this binding (bad protseq or option name)");
  {
    luaL_Buffer lb;
    char *p = luaL_buffinitsize(L, &lb, need + 1);
    dce_binding_format(&b, p, need + 1);
    luaL_pushresultsize(&lb, need);
  }
  return 1;
}

/* ------------------------------------------------------------- towers */

static void push_tower(lua_State *L, const dce_tower *t) {
  size_t i;
  lua_createtable(L, 0, 9);
  if (t->has_iface) { dcerpc_push_syntax(L, &t->iface); lua_setfield(L, -2, "interface"); }
  if (t->has_syntax) { dcerpc_push_syntax(L, &t->syntax); lua_setfield(L, -2, "syntax"); }
  if (t->has_rpc) {
    lua_pushinteger(L, t->rpc_proto); lua_setfield(L, -2, "protocol");
    lua_pushinteger(L, t->rpc_minor); lua_setfield(L, -2, "protocol_minor");
  }
  if (t->protseq) { lua_pushstring(L, t->protseq); lua_setfield(L, -2, "protseq"); }
  if (t->endpoint) { lua_pushlstring(L, t->endpoint, t->endpoint_len); lua_setfield(L, -2, "endpoint"); }
  if (t->host) { lua_pushlstring(L, t->host, t->host_len); lua_setfield(L, -2, "host"); }
  lua_createtable(L, (int)t->nfloors, 0);
  for (i = 0; i < t->nfloors; i++) {
    const dce_floor *f = &t->floor[i];
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, f->lhs[0]); lua_setfield(L, -2, "protocol");
    lua_pushlstring(L, (const char *)f->lhs, f->lhs_len); lua_setfield(L, -2, "lhs");
    lua_pushlstring(L, (const char *)f->rhs, f->rhs_len); lua_setfield(L, -2, "rhs");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "floors");
}

/* Decode the tower in string at idx into *t; on failure push nil, err. */
static int decode_arg(lua_State *L, int idx, dce_tower *t) {
  size_t len;
  const char *p = lua_tolstring(L, idx, &len);
  char err[160], msg[200];
  if (dce_tower_decode(t, (const uint8_t *)p, len, err, sizeof err) == 0) return 0;
  snprintf(msg, sizeof msg, "bad protocol tower: %s", err);
  dcerpc_fail(L, DCE_NCA_S_FAULT_NDR, "RPC_X_BAD_STUB_DATA", msg, NULL);
  return -1;
}

static int ltower_decode(lua_State *L) {
  dce_tower t;
  luaL_checktype(L, 1, LUA_TSTRING);
  if (decode_arg(L, 1, &t)) return 2;
  push_tower(L, &t);
  return 1;
}

/* Field `field` of the table at t as a syntax; when absent and not
** required, NDR 2.0. */
static void check_syntax(lua_State *L, int t, const char *field, dce_syntax *s, int required) {
  if (lua_getfield(L, t, field) == LUA_TNIL && !required) {
    lua_pop(L, 1);
    dce_uuid_parse(&s->uuid, NDR_SYNTAX, sizeof NDR_SYNTAX - 1);
    s->major = 2; s->minor = 0;
    return;
  }
  dcerpc_check_syntax(L, -1, field, s);
  lua_pop(L, 1);
}

static int ltower_encode(lua_State *L) {
  char err[160];
  size_t need;
  luaL_Buffer lb;
  uint8_t *p;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "protseq") != LUA_TNIL) {
    dce_tower_spec s;
    lua_Integer v;
    int isnum;
    memset(&s, 0, sizeof s);
    s.protseq = lua_tostring(L, -1);
    if (!s.protseq) luaL_error(L, "field 'protseq' must be a string");
    check_syntax(L, 1, "interface", &s.iface, 1);
    check_syntax(L, 1, "syntax", &s.syntax, 0);
    lua_getfield(L, 1, "protocol_minor");
    v = lua_tointegerx(L, -1, &isnum);
    if (lua_isnil(L, -1)) { v = 0; isnum = 1; }
    if (!isnum || v < 0 || v > 0xffff) luaL_error(L, "field 'protocol_minor' must be an integer 0..65535");
    s.rpc_minor = (uint16_t)v;
    lua_pop(L, 1);
    s.endpoint = opt_field(L, 1, "endpoint", &s.endpoint_len);
    s.host = opt_field(L, 1, "host", &s.host_len);
    need = dce_tower_encode(&s, NULL, 0, err, sizeof err);
    if (need == (size_t)-1) luaL_error(L, "tower_encode: %s", err);
    p = (uint8_t *)luaL_buffinitsize(L, &lb, need);
    dce_tower_encode(&s, p, need, err, sizeof err);
  } else {
    dce_floor f[DCE_TOWER_MAX_FLOORS];
    lua_Integer i, n;
    if (lua_getfield(L, 1, "floors") != LUA_TTABLE)
      luaL_error(L, "tower_encode needs field 'protseq' or field 'floors'");
    n = (lua_Integer)lua_rawlen(L, -1);
    if (n < 1 || n > DCE_TOWER_MAX_FLOORS) luaL_error(L, "a tower needs 1..%d floors", DCE_TOWER_MAX_FLOORS);
    for (i = 0; i < n; i++) {
      size_t ll, rl;
      if (lua_rawgeti(L, -1, i + 1) != LUA_TTABLE) luaL_error(L, "floors[%d] must be a table", (int)i + 1);
      lua_getfield(L, -1, "lhs");
      lua_getfield(L, -2, "rhs");
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "floors[%d].lhs and .rhs must be strings", (int)i + 1);
      f[i].lhs = (const uint8_t *)lua_tolstring(L, -2, &ll);
      f[i].rhs = (const uint8_t *)lua_tolstring(L, -1, &rl);
      if (ll < 1 || ll > 0xffff || rl > 0xffff) luaL_error(L, "floors[%d]: lhs must be 1..65535 bytes, rhs at most 65535", (int)i + 1);
      f[i].lhs_len = (uint16_t)ll; f[i].rhs_len = (uint16_t)rl;
      lua_pop(L, 3);                  /* strings stay anchored in the floor tables */
    }
    need = dce_tower_encode_floors(f, (size_t)n, NULL, 0, err, sizeof err);
    if (need == (size_t)-1) luaL_error(L, "tower_encode: %s", err);
    p = (uint8_t *)luaL_buffinitsize(L, &lb, need);
    dce_tower_encode_floors(f, (size_t)n, p, need, err, sizeof err);
  }
  luaL_pushresultsize(&lb, need);
  return 1;
}

/* tower_to_binding(t | bytes [, { abstract_syntax = true }]): the string
** binding rpcclient's epmlookup prints for the tower, through the same
** formatter as binding_format (so only characters that need it are escaped). */
static int ltower_to_binding(lua_State *L) {
  dce_binding b;
  dce_tower t;          /* b may point into t's text buffers: keep it in scope */
  char asyn[64];
  int with_as = 1;
  size_t need;
  memset(&b, 0, sizeof b);
  if (lua_istable(L, 2)) {
    if (lua_getfield(L, 2, "abstract_syntax") != LUA_TNIL) with_as = lua_toboolean(L, -1);
    lua_pop(L, 1);
  } else if (!lua_isnoneornil(L, 2)) luaL_typeerror(L, 2, "table");
  if (lua_type(L, 1) == LUA_TSTRING) {
    char u[37];
    if (decode_arg(L, 1, &t)) return 2;
    if (!t.protseq)
      return dcerpc_fail(L, 1703, NULL, "tower has no known protocol sequence", NULL);
    b.protseq.s = t.protseq; b.protseq.len = strlen(t.protseq);
    b.host.s = t.host ? t.host : ""; b.host.len = t.host ? t.host_len : 0;
    b.endpoint.s = t.endpoint; b.endpoint.len = t.endpoint_len;
    if (with_as && t.has_iface) {
      dce_uuid_format(&t.iface.uuid, u);
      snprintf(asyn, sizeof asyn, "%s/0x%08x", u,
               (unsigned)t.iface.major | ((unsigned)t.iface.minor << 16));
    } else with_as = 0;
    /* t points into the string argument, which stays on the stack */
    if (with_as) {
      b.opt[0].key.s = "abstract_syntax"; b.opt[0].key.len = 15;
      b.opt[0].value.s = asyn; b.opt[0].value.len = strlen(asyn);
      b.nopts = 1;
    }
    need = dce_binding_format(&b, NULL, 0);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    b.protseq.s = opt_field(L, 1, "protseq", &b.protseq.len);
    if (!b.protseq.s)
      return dcerpc_fail(L, 1703, NULL, "tower has no known protocol sequence", NULL);
    b.host.s = opt_field(L, 1, "host", &b.host.len);
    if (!b.host.s) { b.host.s = ""; b.host.len = 0; }
    b.endpoint.s = opt_field(L, 1, "endpoint", &b.endpoint.len);
    lua_getfield(L, 1, "interface");
    if (!lua_istable(L, -1)) with_as = 0;
    lua_pop(L, 1);
    if (with_as) {
      dce_syntax s;
      char u[37];
      check_syntax(L, 1, "interface", &s, 1);
      dce_uuid_format(&s.uuid, u);
      snprintf(asyn, sizeof asyn, "%s/0x%08x", u, (unsigned)s.major | ((unsigned)s.minor << 16));
      b.opt[0].key.s = "abstract_syntax"; b.opt[0].key.len = 15;
      b.opt[0].value.s = asyn; b.opt[0].value.len = strlen(asyn);
      b.nopts = 1;
    }
    need = dce_binding_format(&b, NULL, 0);
  }
  if (need == (size_t)-1)
    return dcerpc_fail(L, DCE_RPC_S_INVALID_STRING_BINDING, NULL, "tower cannot be written as a string binding", NULL);
  {
    luaL_Buffer lb;
    char *p = luaL_buffinitsize(L, &lb, need + 1);
    dce_binding_format(&b, p, need + 1);
    luaL_pushresultsize(&lb, need);
  }
  return 1;
}

/* ------------------------------------------------------------- status */

static int lstatus_table(lua_State *L) {
  size_t i;
  uint32_t code;
  const char *name;
  lua_newtable(L);
  for (i = 0; (name = dce_status_at(i, &code)) != NULL; i++) {
    lua_pushinteger(L, (lua_Integer)code);
    lua_setfield(L, -2, name);
  }
  return 1;
}

void dcerpc_open_binding(lua_State *L) {
  static const luaL_Reg f[] = {
    { "binding_parse", lbinding_parse },
    { "binding_format", lbinding_format },
    { "tower_decode", ltower_decode },
    { "tower_encode", ltower_encode },
    { "tower_to_binding", ltower_to_binding },
    { "status_table", lstatus_table },
    { NULL, NULL }
  };
  luaL_setfuncs(L, f, 0);
}
