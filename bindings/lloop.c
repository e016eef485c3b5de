/*
** lloop.c - waiting on an event loop from a coroutine (see lloop.h).
**
**   core.on_loop() -> true in the coroutine of a server call or task (where
**                     dcerpc.sleep and client calls yield to the loop)
**   core.sleep_blocking(s)   sleeps without a loop
**   core.SLEEP               token: coroutine.yield(core.SLEEP, seconds)
*/
#include <poll.h>
#include "lloop.h"
#include "lcore.h"
#include "base/clock.h"

char dcerpc_wait_token;
char dcerpc_sleep_token;

/* The coroutine the loop is resuming right now (saved and restored around
** each resume, so nested loops work). A coroutine that the call's code
** creates itself is not it: there a client call blocks instead. Not
** lua_getextraspace: Lua leaves the main thread's extra space uninitialised. */
static _Thread_local lua_State *running;

lua_State *dcerpc_loop_enter(lua_State *co) {
  lua_State *before = running;
  running = co;
  return before;
}

void dcerpc_loop_forget(lua_State *co) {
  if (running == co) running = NULL;
}

int dcerpc_on_loop(lua_State *L) {
  return running == L && lua_isyieldable(L);
}

static int lloop_on_loop(lua_State *L) {
  lua_pushboolean(L, dcerpc_on_loop(L));
  return 1;
}

static int lloop_sleep_blocking(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  int64_t end = dce_now_ms() + (int64_t)(s * 1000);
  for (;;) {
    int64_t left = end - dce_now_ms();
    if (left <= 0) break;
    poll(NULL, 0, left > 0x7fffffff ? 0x7fffffff : (int)left);
  }
  return 0;
}

void dcerpc_open_loop(lua_State *L) {
  static const luaL_Reg f[] = {
    { "on_loop", lloop_on_loop }, { "sleep_blocking", lloop_sleep_blocking },
    { NULL, NULL }
  };
  luaL_setfuncs(L, f, 0);
  lua_pushlightuserdata(L, &dcerpc_sleep_token);
  lua_setfield(L, -2, "SLEEP");
}
