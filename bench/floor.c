/*
 * floor.c - the lower bound for decoding SHARE_INFO_1_CONTAINER into Lua.
 *
 * A tiny Lua C module (require "floor") for bench/ndr_lua.lua:
 *
 *   prep = floor.prepare(bytes)  parse the container once (untimed): every
 *                                string converted to UTF-8 into one arena
 *   t = floor.build(prep)        build exactly the tables ndr.decode returns,
 *                                { EntriesRead = n, Buffer = { { shi1_netname
 *                                = s, shi1_type = i, shi1_remark = s|nil }, ...
 *                                } }, from the arena: no bounds checks, no
 *                                UTF-16, no wire reading at all
 *   bytes = floor.walk(t)        the encode-side counterpart: read every field
 *                                of such a table from C (type checks and
 *                                lua_tolstring), write nothing; returns the
 *                                number of string bytes seen
 *   s = floor.now()              CLOCK_MONOTONIC in seconds (Lua has no
 *                                sub-second wall clock)
 *
 * build is what any decoder has to pay at least: one table per entry, three
 * rawsets, one lua_pushlstring per non-null string (short strings are
 * interned, so hashing them is part of the floor). Keys are pushed once and
 * reused, so no key lookup is charged.
 *
 * Not a decoder: prepare trusts its input only as far as the fixture made by
 * gen_share_enum.py needs (it does check lengths, so a bad file gives an
 * error, not a crash).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>

#define FLOOR_PREP_T "bench.floor.prep"

typedef struct {
  uint32_t name_off, name_len;     /* into text; name_len UINT32_MAX = NULL */
  uint32_t remark_off, remark_len;
  uint32_t type;
} floor_entry;

typedef struct {
  uint32_t n;
  floor_entry *entries;   /* n */
  char *text;             /* all strings, UTF-8, back to back */
} floor_prep;

#define FLOOR_NULL UINT32_MAX

/* ------------------------------------------------------------ prepare */

typedef struct {
  const unsigned char *p;
  size_t len, off;
  lua_State *L;
} floor_rd;

static uint32_t floor_u32(floor_rd *r) {
  r->off = (r->off + 3) & ~(size_t)3;
  if (r->off > r->len || r->len - r->off < 4)
    luaL_error(r->L, "floor: short container at offset %d", (int)r->off);
  const unsigned char *q = r->p + r->off;
  r->off += 4;
  return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

/* One [string] wchar_t* referent -> UTF-8 appended at text+*used (room for
 * 3 bytes per UTF-16 unit was reserved; surrogate pairs give 4 bytes for 2). */
static void floor_wstring(floor_rd *r, char *text, size_t *used,
                          uint32_t *off, uint32_t *len) {
  uint32_t max = floor_u32(r), first = floor_u32(r), actual = floor_u32(r);
  if (first != 0 || actual > max || actual == 0 ||
      r->len - r->off < (size_t)actual * 2)
    luaL_error(r->L, "floor: bad string at offset %d", (int)r->off);
  const unsigned char *q = r->p + r->off;
  r->off += (size_t)actual * 2;
  char *o = text + *used;
  *off = (uint32_t)*used;
  for (uint32_t i = 0; i + 1 < actual; i++) {   /* drop the terminator */
    uint32_t c = q[2 * i] | (uint32_t)q[2 * i + 1] << 8;
    if (c >= 0xd800 && c < 0xdc00 && i + 2 < actual) {
      uint32_t d = q[2 * i + 2] | (uint32_t)q[2 * i + 3] << 8;
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) *o++ = (char)c;
    else if (c < 0x800) { *o++ = (char)(0xc0 | c >> 6); *o++ = (char)(0x80 | (c & 0x3f)); }
    else if (c < 0x10000) {
      *o++ = (char)(0xe0 | c >> 12); *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
      *o++ = (char)(0x80 | (c & 0x3f));
    } else {
      *o++ = (char)(0xf0 | c >> 18); *o++ = (char)(0x80 | ((c >> 12) & 0x3f));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3f)); *o++ = (char)(0x80 | (c & 0x3f));
    }
  }
  *len = (uint32_t)(o - (text + *used));
  *used = (size_t)(o - text);
}

static int floor_prep_gc(lua_State *L) {
  floor_prep *fp = luaL_checkudata(L, 1, FLOOR_PREP_T);
  free(fp->entries); fp->entries = NULL;
  free(fp->text); fp->text = NULL;
  fp->n = 0;
  return 0;
}

static int floor_prepare(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  floor_prep *fp = lua_newuserdatauv(L, sizeof *fp, 0);
  memset(fp, 0, sizeof *fp);                 /* valid "empty" state first */
  luaL_setmetatable(L, FLOOR_PREP_T);

  floor_rd r = { (const unsigned char *)s, len, 0, L };
  uint32_t n = floor_u32(&r);
  uint32_t aptr = floor_u32(&r);
  if (n == 0 || aptr == 0) return 1;
  if (floor_u32(&r) != n || n > len / 12) return luaL_error(L, "floor: bad array size");
  fp->entries = calloc(n, sizeof *fp->entries);
  fp->text = malloc(len / 2 * 3 + 1);         /* >= UTF-8 of every UTF-16 unit */
  if (!fp->entries || !fp->text) return luaL_error(L, "floor: out of memory");
  fp->n = n;
  for (uint32_t i = 0; i < n; i++) {          /* scalars: ptr, type, ptr */
    fp->entries[i].name_len = floor_u32(&r) ? 0 : FLOOR_NULL;
    fp->entries[i].type = floor_u32(&r);
    fp->entries[i].remark_len = floor_u32(&r) ? 0 : FLOOR_NULL;
  }
  size_t used = 0;
  for (uint32_t i = 0; i < n; i++) {          /* deferred strings, in order */
    floor_entry *e = &fp->entries[i];
    if (e->name_len != FLOOR_NULL)
      floor_wstring(&r, fp->text, &used, &e->name_off, &e->name_len);
    if (e->remark_len != FLOOR_NULL)
      floor_wstring(&r, fp->text, &used, &e->remark_off, &e->remark_len);
  }
  if (r.off != len) return luaL_error(L, "floor: %d trailing bytes", (int)(len - r.off));
  return 1;
}

/* ------------------------------------------------------------ build */

static int floor_build(lua_State *L) {
  floor_prep *fp = luaL_checkudata(L, 1, FLOOR_PREP_T);
  lua_settop(L, 1);
  lua_pushliteral(L, "shi1_netname");   /* 2 */
  lua_pushliteral(L, "shi1_type");      /* 3 */
  lua_pushliteral(L, "shi1_remark");    /* 4 */
  lua_createtable(L, 0, 2);             /* 5: container */
  lua_pushinteger(L, fp->n);
  lua_setfield(L, 5, "EntriesRead");
  if (fp->n == 0) return 1;
  lua_createtable(L, (int)fp->n, 0);    /* 6: Buffer */
  for (uint32_t i = 0; i < fp->n; i++) {
    const floor_entry *e = &fp->entries[i];
    lua_createtable(L, 0, 3);
    if (e->name_len != FLOOR_NULL) {
      lua_pushvalue(L, 2);
      lua_pushlstring(L, fp->text + e->name_off, e->name_len);
      lua_rawset(L, -3);
    }
    lua_pushvalue(L, 3);
    lua_pushinteger(L, e->type);
    lua_rawset(L, -3);
    if (e->remark_len != FLOOR_NULL) {
      lua_pushvalue(L, 4);
      lua_pushlstring(L, fp->text + e->remark_off, e->remark_len);
      lua_rawset(L, -3);
    }
    lua_rawseti(L, 6, (lua_Integer)i + 1);
  }
  lua_setfield(L, 5, "Buffer");
  return 1;
}

/* ------------------------------------------------------------ walk */

static int floor_walk(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushliteral(L, "shi1_netname");   /* 2 */
  lua_pushliteral(L, "shi1_type");      /* 3 */
  lua_pushliteral(L, "shi1_remark");    /* 4 */
  lua_getfield(L, 1, "EntriesRead");
  lua_Integer n = luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "Buffer") != LUA_TTABLE) return luaL_error(L, "Buffer: table expected");
  int buf = lua_gettop(L);
  lua_Integer bytes = 0;
  size_t l;
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, buf, i) != LUA_TTABLE) return luaL_error(L, "Buffer[%d]: table expected", (int)i);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TSTRING) { lua_tolstring(L, -1, &l); bytes += (lua_Integer)l; }
    lua_pop(L, 1);
    lua_pushvalue(L, 3);
    lua_rawget(L, -2);
    int isnum;
    bytes += (lua_tointegerx(L, -1, &isnum) & 0);
    if (!isnum) return luaL_error(L, "Buffer[%d].shi1_type: integer expected", (int)i);
    lua_pop(L, 1);
    lua_pushvalue(L, 4);
    if (lua_rawget(L, -2) == LUA_TSTRING) { lua_tolstring(L, -1, &l); bytes += (lua_Integer)l; }
    lua_pop(L, 2);
  }
  lua_pushinteger(L, bytes);
  return 1;
}

static int floor_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

int luaopen_floor(lua_State *L);
int luaopen_floor(lua_State *L) {
  static const luaL_Reg prep_meta[] = { { "__gc", floor_prep_gc }, { NULL, NULL } };
  static const luaL_Reg lib[] = {
    { "prepare", floor_prepare }, { "build", floor_build },
    { "walk", floor_walk }, { "now", floor_now }, { NULL, NULL }
  };
  luaL_newmetatable(L, FLOOR_PREP_T);
  luaL_setfuncs(L, prep_meta, 0);
  lua_pop(L, 1);
  luaL_newlib(L, lib);
  return 1;
}
