/*
** lloop.h - waiting on an event loop from a coroutine: the protocol between
** code that waits (a client call, dcerpc.sleep) and the loop that resumes it
** (the server binding, lserver.c). It lives apart from both so that the
** client side builds and runs without the server.
**
** A coroutine the loop runs (a server call or a task) may yield
**   (lightuserdata &dcerpc_wait_token, fd, events, timeout_ms)
** to wait for fd (events 1 = readable, 2 = writable), resumed with no values
** once it is ready or timeout_ms passed (< 0: no timeout), or
**   (lightuserdata &dcerpc_sleep_token [, seconds])
** to sleep (core.SLEEP in Lua). dcerpc_on_loop(L) tells whether L is such a
** coroutine, running and able to yield; elsewhere callers block instead.
*/
#ifndef DCERPC_LLOOP_H
#define DCERPC_LLOOP_H

#include "laux.h"

DCERPC_HIDDEN extern char dcerpc_wait_token;
DCERPC_HIDDEN extern char dcerpc_sleep_token;

DCERPC_HIDDEN int dcerpc_on_loop(lua_State *L);
/* The loop marks the coroutine it resumes (NULL: none); returns the one
** marked before, to be given back after the resume (loops nest). */
DCERPC_HIDDEN lua_State *dcerpc_loop_enter(lua_State *co);
/* co is going away: unmark it if it is the one marked. */
DCERPC_HIDDEN void dcerpc_loop_forget(lua_State *co);

/* core.on_loop, core.sleep_blocking, core.SLEEP */
DCERPC_HIDDEN void dcerpc_open_loop(lua_State *L);

#endif
