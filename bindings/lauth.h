/*
** lauth.h - authentication glue of dcerpc.core (lauth.c): client security
** contexts from Lua auth tables, the module's auth functions, and the
** server's credential lookup answered by a Lua function. No server header
** here: a client-only build links lauth.c as it is.
*/
#ifndef DCERPC_LAUTH_H
#define DCERPC_LAUTH_H

#include "laux.h"
#include "auth/mech.h"
#include "rpc/sec.h"

/* A client security context from the auth table at idx {type = a mechanism
** name (core.mechs; "ntlm" when absent), level = "connect".."privacy"
** ("privacy"), user, domain, workstation, password | nt_hash (16 bytes or 32
** hex digits), ntlmv1, context_id}; its context_id into *context_id.
** Raises on bad fields; leaves values on the stack. */
DCERPC_HIDDEN dce_sec *dcerpc_check_sec(lua_State *L, int idx, uint32_t *context_id);

/* The credential fields of the auth table at idx (user, domain,
** workstation, password | nt_hash, ntlmv1) into *cred, whose strings point
** into values left on the stack (hash: 16 bytes for an nt_hash); returns
** the mechanism named by its type (def_type when absent). Raises on bad
** fields. */
DCERPC_HIDDEN const dce_mech *dcerpc_check_cred(lua_State *L, int idx, const char *def_type,
                                                dce_cred *cred, uint8_t hash[16]);

typedef struct dcerpc_auth_hook dcerpc_auth_hook;

/* The server's side from the table at cfg (see lauth.c): fills *acc (its
** strings point into the table: hand it to dce_server_set_auth, which
** copies them, before the table may go) and returns the hook that answers
** its lookups. Lp: where the thread stepping the server is kept while it
** steps. The hook lives until dcerpc_auth_detach. Raises on bad options. */
DCERPC_HIDDEN dcerpc_auth_hook *dcerpc_auth_attach(lua_State *L, lua_State **Lp, int cfg, dce_acceptor *acc);
DCERPC_HIDDEN void dcerpc_auth_detach(lua_State *L, dcerpc_auth_hook *h);
/* The last lookup failure (a raising lookup function), or NULL. */
DCERPC_HIDDEN const char *dcerpc_auth_last_error(dcerpc_auth_hook *h);
DCERPC_HIDDEN void dcerpc_auth_clear_error(dcerpc_auth_hook *h);
/* "none".."privacy" at idx -> DCE_LEVEL_NONE..DCE_LEVEL_PRIVACY */
DCERPC_HIDDEN int dcerpc_auth_level_of(lua_State *L, int idx);

#endif
