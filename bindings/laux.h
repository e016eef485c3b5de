/*
** laux.h - the helper library of dcerpc.core (Lua's lauxlib role): the
** error object, userdata classes, and checking and pushing the values every
** part of the module shares (ports, UUIDs, syntaxes, presentation contexts,
** integer and boolean fields, hex, a GC-owned scratch buffer). Every other
** binding file builds on this one; it calls none of them.
**
** The only headers in the project that include lua.h live in bindings/.
*/
#ifndef DCERPC_LAUX_H
#define DCERPC_LAUX_H

#include <lua.h>
#include <lauxlib.h>
#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "rpc/pdu.h"
#include "rpc/co_client.h"

#if defined(__GNUC__)
#define DCERPC_HIDDEN __attribute__((visibility("hidden")))
#else
#define DCERPC_HIDDEN
#endif

#define DCERPC_ERROR_MT "dcerpc.error"

/* Register the metatables this file owns (the error object, the scratch
** buffer) in L; the opener calls it first. */
DCERPC_HIDDEN void dcerpc_aux_open(lua_State *L);

/* Create (once) the metatable `name` for a userdata class: `methods` and
** __index to itself; `closefn` (may be NULL) serves __gc and __close, as
** :close() does, so one routine releases the object however it goes. The
** stack is left as it was. */
DCERPC_HIDDEN void dcerpc_new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                                    lua_CFunction closefn);

/* Push an error object: a table { code = n, name = "...", message = "...",
** executed = "no" | "maybe" | "yes" | nil } with the shared error metatable
** (tostring gives "NAME (0xCODE): message", .. works on either side, == is
** same code and name, err:is(code | name, ...); see laux.c). `name` may be NULL, then the
** name is looked up in the engine's status table. Returns 1. */
DCERPC_HIDDEN int dcerpc_push_error(lua_State *L, uint32_t code, const char *name,
                                    const char *message, const char *executed);
/* Standard failure return: pushes nil and an error object; returns 2. */
DCERPC_HIDDEN int dcerpc_fail(lua_State *L, uint32_t code, const char *name,
                              const char *message, const char *executed);

/* The port argument at idx as a string (a number is turned into its decimal
** text in place; with listening, 0 to 65535 are allowed, else 1 to 65535). */
DCERPC_HIDDEN const char *dcerpc_port_arg(lua_State *L, int idx, int listening);

/* Integer field k of the table at t (def when nil), raising when it is not
** an integer in lo..hi; boolean field (def when nil). */
DCERPC_HIDDEN lua_Integer dcerpc_field_int(lua_State *L, int t, const char *k, lua_Integer def,
                                           lua_Integer lo, lua_Integer hi);
DCERPC_HIDDEN int dcerpc_field_bool(lua_State *L, int t, const char *k, int def);

/* UUID string at idx (raises "what: bad uuid ..."), and back. */
DCERPC_HIDDEN void dcerpc_check_uuid(lua_State *L, int idx, const char *what, dce_uuid *u);
DCERPC_HIDDEN void dcerpc_push_uuid(lua_State *L, const dce_uuid *u);
/* {uuid=, major=, minor=} at idx (minor defaults to 0; raises), and back. */
DCERPC_HIDDEN void dcerpc_check_syntax(lua_State *L, int idx, const char *what, dce_syntax *s);
DCERPC_HIDDEN void dcerpc_push_syntax(lua_State *L, const dce_syntax *s);
/* A list of presentation contexts at idx ({ {id=, abstract=, transfer={...}}, ... },
** transfer defaulting to NDR 2.0) -> an array in a GC-owned userdata it
** pushes; raises on a bad list. */
DCERPC_HIDDEN dce_pctx *dcerpc_check_contexts(lua_State *L, int idx, int *n);

/* n hex digits (n even) into n/2 bytes; 0, or -1 when one is not hex. */
DCERPC_HIDDEN int dcerpc_hex_decode(const char *h, size_t n, uint8_t *out);

/* A dce_buf owned by the GC (pushed), so a raise never leaks it; free it
** early with dce_buf_free when done. */
DCERPC_HIDDEN dce_buf *dcerpc_scratch_new(lua_State *L);

#endif
