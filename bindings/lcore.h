/*
** lcore.h - shared pieces of the dcerpc.core Lua module.
** The only headers in the project that include lua.h live in bindings/.
*/
#ifndef DCERPC_LCORE_H
#define DCERPC_LCORE_H

#include <lua.h>
#include <lauxlib.h>
#include <stdint.h>

#if defined(__GNUC__)
#define DCERPC_HIDDEN __attribute__((visibility("hidden")))
#else
#define DCERPC_HIDDEN
/* Waiting on a server's event loop (lserver.c). A coroutine the loop runs
** (a server call or a task) may yield (lightuserdata &dcerpc_wait_token, fd,
** events, timeout_ms): events 1 = readable, 2 = writable; the loop resumes
** it with no values once the fd is ready or timeout_ms passed (< 0: no
** timeout). dcerpc_on_loop(L) tells whether L is such a coroutine, running
** and able to yield; elsewhere callers block instead. */
DCERPC_HIDDEN extern char dcerpc_wait_token;
DCERPC_HIDDEN int dcerpc_on_loop(lua_State *L);

#endif

/* Each part of the module adds its functions and metatables to the module
** table at the top of the stack (and leaves the stack as it found it). */
DCERPC_HIDDEN void dcerpc_open_ndr(lua_State *L);
DCERPC_HIDDEN void dcerpc_open_conn(lua_State *L);
DCERPC_HIDDEN void dcerpc_open_binding(lua_State *L);
DCERPC_HIDDEN void dcerpc_open_server(lua_State *L);

/* Create (once) the metatable `name` for a userdata class: `methods` and
** __index to itself; `closefn` (may be NULL) serves __gc and __close, as
** :close() does, so one routine releases the object however it goes. The
** stack is left as it was. */
DCERPC_HIDDEN void dcerpc_new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                                    lua_CFunction closefn);

/* The port argument at idx as a string (a number is turned into its decimal
** text in place; with listening, 0 to 65535 are allowed, else 1 to 65535). */
DCERPC_HIDDEN const char *dcerpc_port_arg(lua_State *L, int idx, int listening);

/* Push an error object: a table { code = n, name = "...", message = "...",
** executed = "no" | "maybe" | "yes" | nil } with the shared error metatable
** (its __tostring gives "name (0x...): message"). `name` may be NULL, then the
** name is looked up in the engine's status table. Returns 1. */
DCERPC_HIDDEN int dcerpc_push_error(lua_State *L, uint32_t code, const char *name,
                                    const char *message, const char *executed);

/* Standard failure return: pushes nil and an error object; returns 2. */
DCERPC_HIDDEN int dcerpc_fail(lua_State *L, uint32_t code, const char *name,
                              const char *message, const char *executed);

/* Waiting on a server's event loop (lserver.c). A coroutine the loop runs
** (a server call or a task) may yield (lightuserdata &dcerpc_wait_token, fd,
** events, timeout_ms): events 1 = readable, 2 = writable; the loop resumes
** it with no values once the fd is ready or timeout_ms passed (< 0: no
** timeout). dcerpc_on_loop(L) tells whether L is such a coroutine, running
** and able to yield; elsewhere callers block instead. */
DCERPC_HIDDEN extern char dcerpc_wait_token;
DCERPC_HIDDEN int dcerpc_on_loop(lua_State *L);

#endif
