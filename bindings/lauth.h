/*
** lauth.h - server authentication glue (lauth.c): a Lua function answers
** engine/server.c's credential lookups.
*/
#ifndef DCERPC_LAUTH_H
#define DCERPC_LAUTH_H

#include "laux.h"
#include "rpc/co_server.h"

typedef struct dcerpc_auth_hook dcerpc_auth_hook;

/* Enable authenticated binds on srv from the table at cfg (see lauth.c).
** Lp: where the thread stepping the server is kept while it steps. The hook
** lives until dcerpc_auth_detach. Raises on bad options. */
DCERPC_HIDDEN dcerpc_auth_hook *dcerpc_auth_attach(lua_State *L, dce_server *srv, lua_State **Lp, int cfg);
DCERPC_HIDDEN void dcerpc_auth_detach(lua_State *L, dcerpc_auth_hook *h);
/* The last lookup failure (a raising lookup function), or NULL. */
DCERPC_HIDDEN const char *dcerpc_auth_last_error(dcerpc_auth_hook *h);
DCERPC_HIDDEN void dcerpc_auth_clear_error(dcerpc_auth_hook *h);
/* "none".."privacy" at idx -> DCE_LEVEL_NONE..DCE_LEVEL_PRIVACY */
DCERPC_HIDDEN int dcerpc_auth_level_of(lua_State *L, int idx);

#endif
