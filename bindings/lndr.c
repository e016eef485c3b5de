/*
** lndr.c - dcerpc.core's NDR functions: load a compiled program into a
** userdata, and run it against Lua values through a value host that lives on
** the Lua stack.
**
**   core.ndr_load(code, ncodeops, names, entries, title) -> program
**   core.ndr_encode(program, entry, value, drep0, max_depth, isfunc) -> bytes  (raises)
**   core.ndr_decode(program, entry, bytes, drep0, drep1, partial, max_depth, isfunc)
**        -> value | nil, err
**   core.ndr_disasm(program) -> string
**   core.ndr_ops    the opcode table (engine/ndr/ndr_ops.h), by name:
**                   { RET = { code = 0, len = 1, int = false }, ... }; len is
**                   the instruction's words without the optional integer
**                   operands (int: NDR_F_RANGE / NDR_F_AUTO allowed). The Lua
**                   compiler takes its opcode numbers from here.
**
** Memory: the interpreter's scratch (frames, pointer queue, output buffer)
** lives in a "dcerpc.ndr.vm" userdata (freed by __gc), marked to-be-closed
** while a run is under way, so a Lua error raised inside a host callback
** (memory, __index) leaks nothing. One VM per module is cached as an upvalue;
** a nested run (a metamethod calling ndr.encode) gets a fresh one. A big
** output buffer (> 1 MB) is freed after the run, but its size is kept as a
** hint: the next encode reserves that much at once instead of doubling.
**
** Values are read with lua_gettable/lua_geti (metamethods honoured) and
** written with raw sets into the tables decode creates.
*/
#include <string.h>
#include <stdlib.h>
#include "laux.h"
#include "lcore.h"
#include "ndr/ndr.h"
#include "base/status.h"

#define LNDR_PROG_MT "dcerpc.ndr.program"
#define LNDR_VM_MT   "dcerpc.ndr.vm"

typedef struct lndr_prog {
  ndr_prog p;
  uint32_t *code;
  const char **names;
} lndr_prog;

typedef struct lndr_vm {
  ndr_vm vm;
  size_t hint;     /* output size of the last big encode (its buffer was freed) */
  int busy;
  int gcstopped;   /* we paused the collector for this run: restart it on close */
} lndr_vm;

/* ------------------------------------------------------------ programs */

static int lndr_prog_gc(lua_State *L) {
  lndr_prog *P = luaL_checkudata(L, 1, LNDR_PROG_MT);
  free(P->code); free(P->names);
  P->code = NULL; P->names = NULL;
  memset(&P->p, 0, sizeof P->p);
  return 0;
}

static lndr_prog *lndr_check_prog(lua_State *L, int i) {
  lndr_prog *P = luaL_checkudata(L, i, LNDR_PROG_MT);
  luaL_argcheck(L, P->code != NULL, i, "program was freed");
  return P;
}

static int lndr_load(lua_State *L) {
  lua_Integer ncode, ncodeops = luaL_checkinteger(L, 2), nnames, nent;
  lndr_prog *P;
  char err[200];
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_checkstring(L, 5);
  ncode = (lua_Integer)lua_rawlen(L, 1);
  nnames = (lua_Integer)lua_rawlen(L, 3);
  nent = (lua_Integer)lua_rawlen(L, 4);
  luaL_argcheck(L, ncode > 0 && ncode < (1 << 24), 1, "bad program size");
  luaL_argcheck(L, ncodeops > 0 && ncodeops <= ncode, 2, "bad code size");
  luaL_argcheck(L, nnames < (1 << 24), 3, "too many names");
  luaL_argcheck(L, nent >= 1 && nent <= 2, 4, "one or two entries");
  /* closed state first: __gc works whatever happens next */
  P = lua_newuserdatauv(L, sizeof *P, 2);
  memset(P, 0, sizeof *P);
  luaL_setmetatable(L, LNDR_PROG_MT);
  lua_pushvalue(L, 3); lua_setiuservalue(L, -2, 1);  /* anchors the name strings */
  lua_pushvalue(L, 5); lua_setiuservalue(L, -2, 2);
  P->code = malloc((size_t)ncode * sizeof *P->code);
  P->names = malloc(((size_t)nnames + 1) * sizeof *P->names);
  if (!P->code || !P->names) return luaL_error(L, "out of memory");
  for (lua_Integer i = 0; i < ncode; i++) {
    lua_Integer v;
    int ok;
    lua_rawgeti(L, 1, i + 1);
    v = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok || v < 0 || v > 0xFFFFFFFFLL) return luaL_error(L, "program word %d is not a 32-bit integer", (int)i);
    P->code[i] = (uint32_t)v;
  }
  P->names[0] = "";
  for (lua_Integer i = 1; i <= nnames; i++) {
    int t = lua_rawgeti(L, 3, i);
    P->names[i] = t == LUA_TSTRING ? lua_tostring(L, -1) : "?";  /* table entries (enum maps) have no name */
    lua_pop(L, 1);
  }
  for (lua_Integer i = 0; i < nent; i++) {
    lua_rawgeti(L, 4, i + 1);
    P->p.entry[i] = (uint32_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  P->p.code = P->code;
  P->p.ncode = (uint32_t)ncode;
  P->p.ncodeops = (uint32_t)ncodeops;
  P->p.names = P->names;
  P->p.nnames = (uint32_t)nnames;
  P->p.nentry = (uint32_t)nent;
  P->p.title = lua_tostring(L, 5);
  if (ndr_prog_check(&P->p, err, sizeof err)) return luaL_error(L, "invalid NDR program for %s: %s", P->p.title, err);
  return 1;
}

static int lndr_disasm(lua_State *L) {
  lndr_prog *P = lndr_check_prog(L, 1);
  dce_buf b;
  dce_buf_init(&b);
  /* dce_buf is malloc'd: push the text before anything can raise */
  ndr_disasm(&P->p, &b);
  if (b.err) { dce_buf_free(&b); return luaL_error(L, "out of memory"); }
  lua_pushlstring(L, b.len ? (const char *)b.p : "", b.len);  /* may raise: leak of a short text only on OOM */
  dce_buf_free(&b);
  return 1;
}

/* ------------------------------------------------------------ the host */

typedef struct lhost {
  lua_State *L;
  int raw;     /* decoding: every container is a plain table we made */
  int ktab;    /* slot of the name table */
  int refs;    /* slot of the full-pointer table (nil until needed) */
  int stk;     /* stack slots up to this index are known to be available */
  uint64_t tabs; /* encode: bit k set when slot k (< 64) is known to hold a
                    table; slots only change by pop and push there, so
                    lh_pop forgets the slots it drops */
} lhost;

/* Room for a few more values: luaL_checkstack in batches, not per push
** (lua_checkstack raises the frame's top, which the collector's stack
** shrinking respects, so the room stays until this C call returns). */
static inline int lh_room(lhost *H) {
  int top = lua_gettop(H->L);
  if (top + 8 > H->stk) {
    luaL_checkstack(H->L, 64, "NDR nesting");
    H->stk = top + 64;
  }
  return top;
}

static int lh_type(int t) {
  switch (t) {
    case LUA_TNIL: case LUA_TNONE: return NDR_T_NIL;
    case LUA_TBOOLEAN: return NDR_T_BOOL;
    case LUA_TNUMBER: return NDR_T_NUM;
    case LUA_TSTRING: return NDR_T_STR;
    case LUA_TTABLE: return NDR_T_TABLE;
    default: return NDR_T_OTHER;
  }
}

/* push the value at (cont,key); encode side: honours metamethods */
static int lh_push(lhost *H, int cont, int64_t key) {
  lua_State *L = H->L;
  if (H->raw) {
    if (key > 0) return lua_rawgeti(L, cont, key);
    if (key < 0) { lua_rawgeti(L, H->ktab, -key); return lua_rawget(L, cont); }
    lua_pushvalue(L, cont);
    return lua_type(L, -1);
  }
  if (key != 0 && !((unsigned)cont < 64 && (H->tabs >> cont) & 1)) {
    if (lua_type(L, cont) != LUA_TTABLE) {  /* e.g. an expression scope that is no table */
      lua_pushnil(L);
      return LUA_TNIL;
    }
    if ((unsigned)cont < 64) H->tabs |= (uint64_t)1 << cont;
  }
  if (key < 0) { lua_rawgeti(L, H->ktab, -key); return lua_gettable(L, cont); }
  if (key > 0) return lua_geti(L, cont, key);
  lua_pushvalue(L, cont);
  return lua_type(L, -1);
}

static int lh_get(void *ud, int cont, int64_t key, int *slot) {
  lhost *H = ud;
  int t;
  *slot = lh_room(H) + 1;
  t = lh_push(H, cont, key);
  if (t == LUA_TNUMBER) return lua_isinteger(H->L, -1) ? NDR_T_INT : NDR_T_NUM;
  return lh_type(t);
}

static void lh_pop(void *ud, int slot) {
  lhost *H = ud;
  if (slot < 64) H->tabs &= slot > 0 ? ((uint64_t)1 << slot) - 1 : 0;
  lua_settop(H->L, slot - 1);
}

static int lh_geti(void *ud, int cont, int64_t key, int64_t *v) {
  lhost *H = ud;
  lua_State *L = H->L;
  int t, r;
  /* expressions may be evaluated in a scope that is no table (a top-level
  ** array decoded on its own) */
  if (H->raw && key != 0 && lua_type(L, cont) != LUA_TTABLE) return NDR_T_NIL;
  t = lh_push(H, cont, key);
  if (t == LUA_TNUMBER) {
    int ok;
    lua_Integer i = lua_tointegerx(L, -1, &ok);
    if (ok) { *v = (int64_t)i; r = NDR_T_INT; } else r = NDR_T_NUM;
  } else r = lh_type(t);
  lua_pop(L, 1);
  return r;
}

static int lh_getn(void *ud, int cont, int64_t key, double *v) {
  lhost *H = ud;
  int t = lh_push(H, cont, key);
  if (t == LUA_TNUMBER) *v = (double)lua_tonumber(H->L, -1);
  lua_pop(H->L, 1);
  return lh_type(t);
}

static int lh_getb(void *ud, int cont, int64_t key, int *v) {
  lhost *H = ud;
  int t = lh_push(H, cont, key);
  if (t == LUA_TBOOLEAN) *v = lua_toboolean(H->L, -1);
  lua_pop(H->L, 1);
  return lh_type(t);
}

/* The string stays alive while its container holds it: the VM uses it
** before anything else touches that container. */
static int lh_gets(void *ud, int cont, int64_t key, const char **s, size_t *len) {
  lhost *H = ud;
  int t = lh_push(H, cont, key);
  if (t == LUA_TSTRING) *s = lua_tolstring(H->L, -1, len);
  lua_pop(H->L, 1);
  return lh_type(t);
}

static size_t lh_len(void *ud, int slot) {
  return (size_t)luaL_len(((lhost *)ud)->L, slot);
}

static int lh_lookup(void *ud, int cont, int64_t key, uint32_t names, int64_t *v) {
  lhost *H = ud;
  lua_State *L = H->L;
  int ok = 0;
  lua_rawgeti(L, H->ktab, names);
  if (lua_type(L, -1) == LUA_TTABLE) {
    lh_push(H, cont, key);
    lua_rawget(L, -2);
    lua_Integer i = lua_tointegerx(L, -1, &ok);
    if (ok) *v = (int64_t)i;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return ok;
}

static void lh_refs(lhost *H) {
  if (lua_type(H->L, H->refs) != LUA_TTABLE) {
    lua_createtable(H->L, 0, 8);
    lua_replace(H->L, H->refs);
  }
}

static int lh_ptr_id(void *ud, int cont, int64_t key, uint32_t next, uint32_t *id) {
  lhost *H = ud;
  lua_State *L = H->L;
  lh_refs(H);
  lh_push(H, cont, key);
  lua_pushvalue(L, -1);
  if (lua_rawget(L, H->refs) == LUA_TNUMBER) {
    *id = (uint32_t)lua_tointeger(L, -1);
    lua_pop(L, 2);
    return 0;
  }
  lua_pop(L, 1);
  lua_pushinteger(L, next);
  lua_rawset(L, H->refs);
  *id = next;
  return 1;
}

/* decode: store the value on top at (cont,key), popping it */
static inline void lh_store(lhost *H, int cont, int64_t key) {
  lua_State *L = H->L;
  if (key < 0) {
    lua_rawgeti(L, H->ktab, -key);
    lua_insert(L, -2);
    lua_rawset(L, cont);
  } else if (key > 0) lua_rawseti(L, cont, key);
  else lua_replace(L, cont);
}

static void lh_seti(void *ud, int cont, int64_t key, int64_t v) {
  lhost *H = ud;
  lua_State *L = H->L;
  if (key < 0) {
    lua_rawgeti(L, H->ktab, -key);
    lua_pushinteger(L, (lua_Integer)v);
    lua_rawset(L, cont);
  } else {
    lua_pushinteger(L, (lua_Integer)v);
    lh_store(H, cont, key);
  }
}
static void lh_setn(void *ud, int cont, int64_t key, double v) {
  lua_pushnumber(((lhost *)ud)->L, (lua_Number)v); lh_store(ud, cont, key);
}
static void lh_setb(void *ud, int cont, int64_t key, int v) {
  lua_pushboolean(((lhost *)ud)->L, v); lh_store(ud, cont, key);
}
static void lh_sets(void *ud, int cont, int64_t key, const char *s, size_t len) {
  lhost *H = ud;
  lua_State *L = H->L;
  if (key < 0) {
    lua_rawgeti(L, H->ktab, -key);
    lua_pushlstring(L, s, len);
    lua_rawset(L, cont);
  } else {
    lua_pushlstring(L, s, len);
    lh_store(H, cont, key);
  }
}
static int lh_newt(void *ud, int cont, int64_t key, uint32_t narr, uint32_t nrec) {
  lhost *H = ud;
  lua_State *L = H->L;
  int top = lh_room(H);
  lua_createtable(L, (int)(narr > 0x7FFFFFF ? 0x7FFFFFF : narr), (int)nrec);
  if (key < 0) {
    lua_rawgeti(L, H->ktab, -key);
    lua_pushvalue(L, -2);
    lua_rawset(L, cont);
  } else if (key > 0) {
    lua_pushvalue(L, -1);
    lua_rawseti(L, cont, key);
  } else {
    lua_pushvalue(L, -1);
    lua_replace(L, cont);
  }
  return top + 1;
}
static void lh_ref_put(void *ud, uint32_t id, int cont, int64_t key) {
  lhost *H = ud;
  lh_refs(H);
  lh_push(H, cont, key);
  lua_rawseti(H->L, H->refs, id);
}
static int lh_ref_get(void *ud, uint32_t id, int cont, int64_t key) {
  lhost *H = ud;
  lh_refs(H);
  if (lua_rawgeti(H->L, H->refs, id) == LUA_TNIL) { lua_pop(H->L, 1); return 0; }
  lh_store(H, cont, key);
  return 1;
}

static const ndr_host lhost_ops_proto = {
  NULL, lh_get, lh_pop, lh_geti, lh_getn, lh_getb, lh_gets, lh_len, lh_lookup, lh_ptr_id,
  lh_seti, lh_setn, lh_setb, lh_sets, lh_newt, lh_ref_put, lh_ref_get,
};

/* ------------------------------------------------------------ VM boxes */

static int lndr_vm_gc(lua_State *L) {
  lndr_vm *V = luaL_checkudata(L, 1, LNDR_VM_MT);
  ndr_vm_free(&V->vm);
  ndr_vm_init(&V->vm);
  V->busy = 0;
  return 0;
}

static int lndr_vm_close(lua_State *L) {
  lndr_vm *V = luaL_checkudata(L, 1, LNDR_VM_MT);
  V->busy = 0;
  if (V->gcstopped) { V->gcstopped = 0; lua_gc(L, LUA_GCRESTART); }
  /* do not keep a huge buffer around after a big call, but remember how big
  ** the output was: the next encode reserves that much at once instead of
  ** growing (and copying) step by step */
  if (V->vm.encode) V->hint = V->vm.out.cap > (1u << 20) ? V->vm.out.len : 0;
  if (V->vm.out.cap > (1u << 20) || V->vm.capscratch > (1u << 20) || V->vm.cappq > (1u << 16)) {
    ndr_vm_free(&V->vm);
    ndr_vm_init(&V->vm);
  }
  return 0;
}

static lndr_vm *lndr_newvm(lua_State *L) {
  lndr_vm *V = lua_newuserdatauv(L, sizeof *V, 0);
  ndr_vm_init(&V->vm);
  V->busy = 0;
  V->gcstopped = 0;
  V->hint = 0;
  luaL_setmetatable(L, LNDR_VM_MT);
  return V;
}

/* Push the VM to use (the cached one, or a fresh one when it is busy), mark
** it busy and to-be-closed. */
static lndr_vm *lndr_acquire(lua_State *L) {
  lndr_vm *V = lua_touserdata(L, lua_upvalueindex(1));
  if (V && !V->busy) lua_pushvalue(L, lua_upvalueindex(1));
  else V = lndr_newvm(L);
  V->busy = 1;
  lua_toclose(L, -1);
  return V;
}

/* Common setup: pushes the program's name table and the full-pointer
** table slot (stack [.. args.., vm, ktab, refs]) and fills the host. */
static void lndr_setup(lua_State *L, lhost *H, ndr_host *hops) {
  lua_getiuservalue(L, 1, 1);
  H->L = L;
  H->raw = 0;
  H->stk = 0;
  H->tabs = 0;
  H->ktab = lua_gettop(L);
  lua_pushnil(L);
  H->refs = lua_gettop(L);
  *hops = lhost_ops_proto;
  hops->ud = H;
}

static int lndr_encode(lua_State *L) {
  lndr_prog *P = lndr_check_prog(L, 1);
  lua_Integer entry = luaL_checkinteger(L, 2);
  int drep0 = (int)luaL_optinteger(L, 4, 0x10);
  lua_Integer maxd = luaL_optinteger(L, 5, NDR_DEFAULT_DEPTH);
  int isfunc = lua_toboolean(L, 6);
  /* pointers numbered from here: a reply's full pointers continue after the
  ** request's (C706: full pointer ids are unique within a call) */
  lua_Integer pbase = luaL_optinteger(L, 7, 0);
  lhost H;
  ndr_host hops;
  lndr_vm *V;
  int root, err;
  luaL_argcheck(L, entry >= 0 && (uint32_t)entry < P->p.nentry, 2, "bad entry");
  luaL_argcheck(L, maxd > 0 && maxd < (1 << 20), 5, "bad max_depth");
  luaL_argcheck(L, pbase >= 0 && pbase <= 65536, 7, "pointer base: 0 to 65536");
  if (isfunc) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 7);
  V = lndr_acquire(L);
  lndr_setup(L, &H, &hops);
  lua_pushvalue(L, 3);
  root = lua_gettop(L);
  ndr_vm_reset(&V->vm, &hops, 1, (uint8_t)(drep0 & 0xF0), 0);
  /* a failed reservation only leaves the buffer unallocated: reset again */
  if (V->hint && V->hint < ((size_t)1 << 30) && dce_buf_reserve(&V->vm.out, V->hint + V->hint / 8))
    ndr_vm_reset(&V->vm, &hops, 1, (uint8_t)(drep0 & 0xF0), 0);
  V->vm.max_depth = (uint32_t)maxd;
  V->vm.nptr = (uint32_t)pbase;
  err = ndr_run(&V->vm, &P->p, (uint32_t)entry, root, 0);
  if (err) {
    lua_pushstring(L, V->vm.msg);
    return lua_error(L);
  }
  lua_settop(L, 8);  /* keep the VM (slot 8) until the result is made */
  lua_pushlstring(L, V->vm.out.len ? (const char *)V->vm.out.p : "", V->vm.out.len);
  return 1;
}

static int lndr_decode(lua_State *L) {
  lndr_prog *P = lndr_check_prog(L, 1);
  lua_Integer entry = luaL_checkinteger(L, 2);
  size_t len;
  const char *s = luaL_checklstring(L, 3, &len);
  int drep0 = (int)luaL_optinteger(L, 4, 0x10);
  int drep1 = (int)luaL_optinteger(L, 5, 0);
  int partial = lua_toboolean(L, 6);
  lua_Integer maxd = luaL_optinteger(L, 7, NDR_DEFAULT_DEPTH);
  int isfunc = lua_toboolean(L, 8);
  lhost H;
  ndr_host hops;
  lndr_vm *V;
  int root, err;
  luaL_argcheck(L, entry >= 0 && (uint32_t)entry < P->p.nentry, 2, "bad entry");
  luaL_argcheck(L, maxd > 0 && maxd < (1 << 20), 7, "bad max_depth");
  lua_settop(L, 8);
  V = lndr_acquire(L);
  lndr_setup(L, &H, &hops);
  if (isfunc) lua_createtable(L, 0, 4); else lua_pushnil(L);
  root = lua_gettop(L);
  H.raw = 1;
  /* Everything a decode allocates stays alive: collector steps during it
  ** only re-traverse the growing result. Pause it for big inputs (the VM's
  ** __close restarts it, also when a Lua error unwinds). */
  if (len >= 4096 && lua_gc(L, LUA_GCISRUNNING)) { lua_gc(L, LUA_GCSTOP); V->gcstopped = 1; }
  if (ndr_vm_reset(&V->vm, &hops, 0, (uint8_t)drep0, (uint8_t)drep1) == 0) {
    dce_rd_init(&V->vm.in, s, len);
    V->vm.max_depth = (uint32_t)maxd;
    ndr_run(&V->vm, &P->p, (uint32_t)entry, root, 0);
  }
  err = V->vm.err;
  if (!err && !partial && V->vm.in.off != V->vm.in.len) {
    err = NDR_ERR_LEFTOVER;
    lua_pushfstring(L, "%s: %d bytes left over after %d (not all bytes consumed)", P->p.title,
                    (int)(V->vm.in.len - V->vm.in.off), (int)V->vm.in.off);
    return dcerpc_fail(L, DCE_NCA_S_FAULT_NDR, ndr_err_name(err), lua_tostring(L, -1), NULL);
  }
  if (err) return dcerpc_fail(L, DCE_NCA_S_FAULT_NDR, ndr_err_name(err), V->vm.msg, NULL);
  lua_settop(L, root);
  /* -> value, offset (partial) or nil, the largest full-pointer id met */
  if (partial) lua_pushinteger(L, (lua_Integer)V->vm.in.off); else lua_pushnil(L);
  lua_pushinteger(L, (lua_Integer)V->vm.max_full);
  return 3;
}

/* core.ndr_ops (see the top of this file) */
static void lndr_push_ops(lua_State *L) {
  lua_createtable(L, 0, NDR_OP__COUNT);
  for (uint32_t op = 0; op < NDR_OP__COUNT; op++) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)op);
    lua_setfield(L, -2, "code");
    lua_pushinteger(L, (lua_Integer)ndr_op_base_len(op));
    lua_setfield(L, -2, "len");
    lua_pushboolean(L, ndr_op_is_int(op));
    lua_setfield(L, -2, "int");
    lua_setfield(L, -2, ndr_op_name(op));
  }
}

void dcerpc_open_ndr(lua_State *L) {
  static const luaL_Reg pm[] = { { "__gc", lndr_prog_gc }, { NULL, NULL } };
  static const luaL_Reg vm[] = { { "__gc", lndr_vm_gc }, { "__close", lndr_vm_close }, { NULL, NULL } };
  static const luaL_Reg f[] = {
    { "ndr_load", lndr_load }, { "ndr_disasm", lndr_disasm }, { NULL, NULL } };
  static const luaL_Reg fv[] = {
    { "ndr_encode", lndr_encode }, { "ndr_decode", lndr_decode }, { NULL, NULL } };
  luaL_newmetatable(L, LNDR_PROG_MT);
  luaL_setfuncs(L, pm, 0);
  lua_pushliteral(L, LNDR_PROG_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  luaL_newmetatable(L, LNDR_VM_MT);
  luaL_setfuncs(L, vm, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, f, 0);
  lndr_push_ops(L);
  lua_setfield(L, -2, "ndr_ops");
  lndr_newvm(L);                /* shared by encode and decode as upvalue 1 */
  luaL_setfuncs(L, fv, 1);
}
