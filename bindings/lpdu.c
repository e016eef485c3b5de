/*
** lpdu.c - the PDU codec and verification-trailer helpers of dcerpc.core,
** for tests, tools and scripted peers:
**
**   core.pdu_encode(tbl) -> bytes          (raises on a bad table)
**   core.pdu_decode(bytes) -> tbl | nil, err
**   core.vt_check(stub, from, expect) -> true | false | nil, msg, refuse
**   core.vt_trailer(stub_len, {abstract=, transfer=, bitmask=}) -> bytes
**
** tbl = { ptype = "bind"|n, call_id, flags, drep = "le"|"be"|4 bytes, ...
**         the fields of each ptype as pdu_decode returns them (max_xmit,
**         contexts, results, secondary_address, alloc_hint, context_id,
**         opnum, object, status, stub, auth = {type, level, pad_length,
**         context_id, value}, ...) }
*/
#include <string.h>
#include "laux.h"
#include "lcore.h"
#include "rpc/co_client.h"
#include "rpc/pdu.h"
#include "rpc/vt.h"
#include "base/status.h"

/* core.vt_check(stub, from, {abstract=, transfer=, call_id=, ctx_id=, opnum=,
**   drep = drep0 | drep1 << 8}) -> true | false | nil, msg, refuse
** The bytes of a request stub after its NDR data (from = 0-based offset where
** the decoder stopped): true, a verification trailer that matches the call;
** false, nothing or zero padding; nil, msg, refuse: refuse = true for a
** trailer that contradicts the call (the server refuses it), false for bytes
** that are no trailer it can read (ignored; see engine/rpc/vt.h). */
static int lpdu_vt_check(lua_State *L) {
  size_t len;
  const uint8_t *stub = (const uint8_t *)luaL_checklstring(L, 1, &len);
  lua_Integer from = luaL_checkinteger(L, 2);
  dce_vt_expect x;
  lua_Integer drep;
  char err[160];
  int r;
  luaL_checktype(L, 3, LUA_TTABLE);
  memset(&x, 0, sizeof x);
  lua_getfield(L, 3, "abstract");
  dcerpc_check_syntax(L, -1, "abstract", &x.abstract);
  lua_getfield(L, 3, "transfer");
  dcerpc_check_syntax(L, -1, "transfer", &x.transfer);
  lua_pop(L, 2);
  x.call_id = (uint32_t)dcerpc_field_int(L, 3, "call_id", 0, 0, 0xffffffff);
  x.ctx_id = (uint16_t)dcerpc_field_int(L, 3, "ctx_id", 0, 0, 0xffff);
  x.opnum = (uint16_t)dcerpc_field_int(L, 3, "opnum", 0, 0, 0xffff);
  drep = dcerpc_field_int(L, 3, "drep", DCE_DREP_LE, 0, 0xffff);
  x.drep[0] = (uint8_t)drep;
  x.drep[1] = (uint8_t)(drep >> 8);
  luaL_argcheck(L, from >= 0 && (size_t)from <= len, 2, "offset out of range");
  r = dce_vt_check(stub, len, (size_t)from, &x, err, sizeof err);
  if (r < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    lua_pushboolean(L, r == DCE_VT_MISMATCH);
    return 3;
  }
  lua_pushboolean(L, r == DCE_VT_OK);
  return 1;
}

/* core.vt_trailer(stub_len, {abstract=, transfer=, bitmask=})
**   -> bytes: the padding and verification trailer a client appends to an
** authenticated request stub, little-endian whatever the PDU's byte order
** (see engine/rpc/vt.h). */
static int lpdu_vt_trailer(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  dce_syntax ab, tr;
  dce_buf *b;
  uint32_t bits;
  luaL_argcheck(L, n >= 0, 1, "stub length out of range");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "abstract");
  dcerpc_check_syntax(L, -1, "abstract", &ab);
  lua_getfield(L, 2, "transfer");
  dcerpc_check_syntax(L, -1, "transfer", &tr);
  lua_pop(L, 2);
  bits = (uint32_t)dcerpc_field_int(L, 2, "bitmask", 1, 0, 0xffffffff);
  b = dcerpc_scratch_new(L);
  if (dce_vt_append(b, (size_t)n, bits, &ab, &tr)) return luaL_error(L, "out of memory");
  lua_pushlstring(L, (const char *)b->p, b->len);
  dce_buf_free(b);
  return 1;
}


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
static int lpdu_encode(lua_State *L) {
  dce_pdu p;
  dce_pdu_error e;
  dce_buf *out;
  size_t len;
  int i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  dce_pdu_init(&p, (uint8_t)ptype_arg(L, 1), 0);
  p.call_id = (uint32_t)dcerpc_field_int(L, 1, "call_id", 0, 0, 0xffffffff);
  p.flags = (uint8_t)dcerpc_field_int(L, 1, "flags", DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 255);
  p.vers = (uint8_t)dcerpc_field_int(L, 1, "vers", 5, 0, 255);
  p.vers_minor = (uint8_t)dcerpc_field_int(L, 1, "vers_minor", 0, 0, 255);
  lua_getfield(L, 1, "drep");
  if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 4) {
    memcpy(p.drep, lua_tostring(L, -1), 4);
  } else if (!lua_isnil(L, -1)) {
    p.drep[0] = luaL_checkoption(L, -1, NULL, drep_names) ? DCE_DREP_LE : DCE_DREP_BE;
  }
  lua_pop(L, 1);
  p.max_xmit = (uint16_t)dcerpc_field_int(L, 1, "max_xmit", 0, 0, 0xffff);
  p.max_recv = (uint16_t)dcerpc_field_int(L, 1, "max_recv", 0, 0, 0xffff);
  p.assoc_group = (uint32_t)dcerpc_field_int(L, 1, "assoc_group", 0, 0, 0xffffffff);
  p.alloc_hint = (uint32_t)dcerpc_field_int(L, 1, "alloc_hint", 0, 0, 0xffffffff);
  p.ctx_id = (uint16_t)dcerpc_field_int(L, 1, "context_id", 0, 0, 0xffff);
  p.opnum = (uint16_t)dcerpc_field_int(L, 1, "opnum", 0, 0, 0xffff);
  p.cancel_count = (uint8_t)dcerpc_field_int(L, 1, "cancel_count", 0, 0, 255);
  p.reserved = (uint8_t)dcerpc_field_int(L, 1, "reserved", 0, 0, 255);
  p.status = (uint32_t)dcerpc_field_int(L, 1, "status", 0, 0, 0xffffffff);
  p.reject_reason = (uint16_t)dcerpc_field_int(L, 1, "reject_reason", 0, 0, 0xffff);
  p.stub = field_str(L, 1, (p.ptype == DCE_PT_BIND_NAK) ? "extra" : "stub", &p.stub_len);
  if (lua_getfield(L, 1, "object") != LUA_TNIL) {
    dcerpc_check_uuid(L, -1, "object", &p.object);
    p.flags |= DCE_PFC_OBJECT_UUID;
  }
  lua_pop(L, 1);

  /* contexts (bind, alter_context) */
  if (lua_getfield(L, 1, "contexts") != LUA_TNIL) {
    dce_pctx *c = dcerpc_check_contexts(L, lua_gettop(L), &n);
    dce_ctx_elem *ce = (dce_ctx_elem *)lua_newuserdatauv(L, (size_t)n * sizeof *ce, 0);
    for (i = 0; i < n; i++) {
      ce[i].id = c[i].id;
      ce[i].abstract = c[i].abstract;
      ce[i].n_transfer = (uint8_t)c[i].n_transfer;
      ce[i].transfer = c[i].transfer;
    }
    p.n_ctx = (uint8_t)n;
    p.ctx = ce;                      /* both userdata stay on the stack until we return */
  }
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
      r[i].result = (uint16_t)dcerpc_field_int(L, -1, "result", 0, 0, 0xffff);
      r[i].reason = (uint16_t)dcerpc_field_int(L, -1, "reason", 0, 0, 0xffff);
      if (lua_getfield(L, -1, "transfer") != LUA_TNIL) dcerpc_check_syntax(L, -1, "transfer", &r[i].transfer);
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
      v[2 * i] = (uint8_t)dcerpc_field_int(L, -1, "major", 5, 0, 255);
      v[2 * i + 1] = (uint8_t)dcerpc_field_int(L, -1, "minor", 0, 0, 255);
      lua_pop(L, 1);
    }
    p.n_versions = (uint8_t)n;
    p.versions = v;
  }
  if (lua_getfield(L, 1, "auth") != LUA_TNIL) {
    int at = lua_gettop(L);
    luaL_checktype(L, at, LUA_TTABLE);
    p.has_auth = 1;
    p.auth.type = (uint8_t)dcerpc_field_int(L, at, "type", 0, 0, 255);
    p.auth.level = (uint8_t)dcerpc_field_int(L, at, "level", 0, 0, 255);
    p.auth.pad_len = (uint8_t)dcerpc_field_int(L, at, "pad_length", 0, 0, 255);
    p.auth.reserved = (uint8_t)dcerpc_field_int(L, at, "reserved", 0, 0, 255);
    p.auth.context_id = (uint32_t)dcerpc_field_int(L, at, "context_id", 0, 0, 0xffffffff);
    p.auth.value = field_str(L, at, "value", &p.auth.value_len);
  }
  out = dcerpc_scratch_new(L);
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
static int lpdu_decode(lua_State *L) {
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
        dcerpc_push_syntax(L, &p.ctx[i].abstract);
        lua_setfield(L, -2, "abstract");
        lua_createtable(L, p.ctx[i].n_transfer, 0);
        for (k = 0; k < p.ctx[i].n_transfer; k++) {
          dcerpc_push_syntax(L, &p.ctx[i].transfer[k]);
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
        dcerpc_push_syntax(L, &p.results[i].transfer);
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
        dcerpc_push_uuid(L, &p.object);
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

void dcerpc_open_pdu(lua_State *L) {
  static const luaL_Reg f[] = {
    { "pdu_encode", lpdu_encode }, { "pdu_decode", lpdu_decode },
    { "vt_check", lpdu_vt_check }, { "vt_trailer", lpdu_vt_trailer },
    { NULL, NULL }
  };
  luaL_setfuncs(L, f, 0);
}
