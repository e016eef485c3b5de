/*
** lcore.h - the parts of dcerpc.core and their openers (the role of Lua's
** lualib.h): each part adds its functions and metatables to the module table
** at the top of the stack and leaves the stack as it found it. lcore.c calls
** them; every part includes this header only for its own opener's prototype.
*/
#ifndef DCERPC_LCORE_H
#define DCERPC_LCORE_H

#include "laux.h"

DCERPC_HIDDEN void dcerpc_open_ndr(lua_State *L);       /* lndr.c */
DCERPC_HIDDEN void dcerpc_open_binding(lua_State *L);   /* lbinding.c */
DCERPC_HIDDEN void dcerpc_open_pdu(lua_State *L);       /* lpdu.c */
DCERPC_HIDDEN void dcerpc_open_testsock(lua_State *L);  /* ltestsock.c */
DCERPC_HIDDEN void dcerpc_open_loop(lua_State *L);      /* lloop.c */
DCERPC_HIDDEN void dcerpc_open_auth(lua_State *L);      /* lauth.c: nt_hash, mechs */
DCERPC_HIDDEN void dcerpc_open_conn(lua_State *L);      /* lconn.c */
#if !defined(DCERPC_CLIENT_ONLY)
DCERPC_HIDDEN void dcerpc_open_server(lua_State *L);    /* lserver.c */
#endif

#endif
