/*
** lauth.c - server authentication for dcerpc.core: the credential lookup
** of engine/server.c answered by a Lua function.
**
**   dcerpc_auth_attach(L, srv, &s->L, cfg_idx)   (from lserver.c)
**     cfg = { lookup = function(user, domain, workstation) -> password string
**             | { nt_hash = 32 hex digits or 16 bytes } | nil (unknown user),
**             domain = NetBIOS domain, computer = NetBIOS name,
**             dns_domain =, dns_computer = }
**
** The lookup runs inside the server's step, on the thread that steps it
** (*Lp), under pcall: an error counts as an unknown user and is reported
** through the returned hook's last_error. It must not yield.
*/
#include <stdio.h>
#include <string.h>
#include "laux.h"
#include "lauth.h"
#include "auth/ntlm.h"

#define HOOK_MT "dcerpc.authhook"

struct dcerpc_auth_hook {
  lua_State **Lp;                  /* where the stepping thread is found */
  int fn_ref, self_ref;
  char last_error[200];
};

static int hex16(const char *h, size_t n, uint8_t out[16]) {
  int i;
  if (n != 32) return -1;
  for (i = 0; i < 16; i++) {
    unsigned v;
    if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static int hook_lookup(void *ud, const char *user, const char *domain, const char *ws, uint8_t hash[16]) {
  dcerpc_auth_hook *h = (dcerpc_auth_hook *)ud;
  lua_State *L = h->Lp ? *h->Lp : NULL;
  int rc = -1, top;
  if (!L) return -1;
  top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn_ref);
  lua_pushstring(L, user);
  lua_pushstring(L, domain);
  lua_pushstring(L, ws);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    snprintf(h->last_error, sizeof h->last_error, "auth lookup failed: %s",
             lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object)");
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    rc = dce_ntlm_nt_hash(lua_tostring(L, -1), hash) ? -1 : 0;
  } else if (lua_istable(L, -1)) {
    size_t n;
    const char *v;
    lua_getfield(L, -1, "nt_hash");
    v = lua_tolstring(L, -1, &n);
    if (v && n == 16) { memcpy(hash, v, 16); rc = 0; }
    else if (v && hex16(v, n, hash) == 0) rc = 0;
    else snprintf(h->last_error, sizeof h->last_error, "auth lookup: nt_hash must be 32 hex digits or 16 bytes");
  }
  lua_settop(L, top);
  return rc;
}

static const char *opt_str(lua_State *L, int t, const char *k, const char *def) {
  const char *v;
  lua_getfield(L, t, k);
  v = luaL_optstring(L, -1, def);
  lua_pop(L, 1);                   /* the string stays alive: it is in the table */
  return v;
}

dcerpc_auth_hook *dcerpc_auth_attach(lua_State *L, dce_server *srv, lua_State **Lp, int cfg) {
  dcerpc_auth_hook *h;
  dce_server_auth a;
  cfg = lua_absindex(L, cfg);
  luaL_checktype(L, cfg, LUA_TTABLE);
  lua_getfield(L, cfg, "lookup");
  luaL_argcheck(L, lua_isfunction(L, -1), cfg, "auth.lookup must be a function");
  h = (dcerpc_auth_hook *)lua_newuserdatauv(L, sizeof *h, 1);
  memset(h, 0, sizeof *h);
  h->Lp = Lp;
  lua_pushvalue(L, -2);
  h->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  h->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);      /* pops the userdata */
  lua_pop(L, 1);                                      /* the function */
  memset(&a, 0, sizeof a);
  a.nb_domain = opt_str(L, cfg, "domain", "WORKGROUP");
  a.nb_computer = opt_str(L, cfg, "computer", "LUA-DCERPC");
  a.dns_domain = opt_str(L, cfg, "dns_domain", NULL);
  a.dns_computer = opt_str(L, cfg, "dns_computer", NULL);
  a.lookup = hook_lookup;
  a.ud = h;
  if (dce_server_set_auth(srv, &a)) luaL_error(L, "cannot set up server authentication");
  return h;
}

void dcerpc_auth_detach(lua_State *L, dcerpc_auth_hook *h) {
  if (!h) return;
  h->Lp = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, h->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, h->self_ref);      /* the GC takes it */
}

const char *dcerpc_auth_last_error(dcerpc_auth_hook *h) {
  return h && h->last_error[0] ? h->last_error : NULL;
}

void dcerpc_auth_clear_error(dcerpc_auth_hook *h) {
  if (h) h->last_error[0] = '\0';
}

/* the level names of sec.h, for options */
int dcerpc_auth_level_of(lua_State *L, int idx) {
  static const char *const names[] = { "none", "connect", "call", "packet", "integrity", "privacy", NULL };
  return 1 + luaL_checkoption(L, idx, "none", names);
}
