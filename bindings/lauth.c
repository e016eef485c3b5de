/*
** lauth.c - authentication for dcerpc.core, both sides:
**
**   core.nt_hash(password) -> 32 hex digits (MD4 of the UTF-16LE password)
**   core.mechs             -> { "krb5", "ntlm", "spnego" }: the mechanisms built
**                             in (engine/auth/mech.c), SPNEGO's order
**   dcerpc_check_sec(L, idx, &context_id)        (from lconn.c)
**     a client security context from an auth table; `type` names a mechanism
**   dcerpc_auth_attach(L, &s->L, cfg_idx, &acc)  (from lserver.c)
**     cfg = { lookup = function(user, domain, workstation) -> password string
**             | { nt_hash = 32 hex digits or 16 bytes } | nil (unknown user),
**             domain = NetBIOS domain, computer = NetBIOS name,
**             dns_domain =, dns_computer =,
**             keytab = Kerberos keytab (default KRB5_KTNAME), service = principal }
**     fills the acceptor the server makes its contexts from.
**
** The lookup runs inside the server's step, on the thread that steps it
** (*Lp), under pcall: an error counts as an unknown user and is reported
** through the returned hook's last_error. It must not yield.
*/
#include <stdio.h>
#include <string.h>
#include "laux.h"
#include "lcore.h"
#include "lauth.h"
#include "auth/ntlm.h"

#define HOOK_MT "dcerpc.authhook"

struct dcerpc_auth_hook {
  lua_State **Lp;                  /* where the stepping thread is found */
  int fn_ref, self_ref;
  char last_error[200];
};

/* An NT hash given as 16 bytes or 32 hex digits; 0 or -1. */
static int nt_hash_arg(const char *h, size_t n, uint8_t out[16]) {
  if (n == 16) { memcpy(out, h, 16); return 0; }
  return n == 32 ? dcerpc_hex_decode(h, n, out) : -1;
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
    if (v && nt_hash_arg(v, n, hash) == 0) rc = 0;
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

dcerpc_auth_hook *dcerpc_auth_attach(lua_State *L, lua_State **Lp, int cfg, dce_acceptor *a) {
  dcerpc_auth_hook *h;
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
  memset(a, 0, sizeof *a);
  a->nb_domain = opt_str(L, cfg, "domain", "WORKGROUP");
  a->nb_computer = opt_str(L, cfg, "computer", "LUA-DCERPC");
  a->dns_domain = opt_str(L, cfg, "dns_domain", NULL);
  a->dns_computer = opt_str(L, cfg, "dns_computer", NULL);
  a->keytab = opt_str(L, cfg, "keytab", NULL);
  a->service = opt_str(L, cfg, "service", NULL);
  a->lookup = hook_lookup;
  a->ud = h;
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

/* ------------------------------------------------------------ both sides */

/* the level names of sec.h, for options */
int dcerpc_auth_level_of(lua_State *L, int idx) {
  static const char *const names[] = { "none", "connect", "call", "packet", "integrity", "privacy", NULL };
  return 1 + luaL_checkoption(L, idx, "none", names);
}

/* ------------------------------------------------------------ client */

static const char *const level_names[] = { "connect", "call", "packet", "integrity", "privacy", NULL };

/* The names in core.mechs joined with ", " into buf (for messages). */
static const char *mech_list(char *buf, size_t n) {
  const dce_mech *m;
  size_t i, off = 0;
  buf[0] = '\0';
  for (i = 0; (m = dce_mech_at(i)) != NULL && off < n; i++) {
    int w = snprintf(buf + off, n - off, "%s%s", i ? ", " : "", m->name);
    if (w < 0) break;
    off += (size_t)w;
  }
  return buf;
}

const dce_mech *dcerpc_check_cred(lua_State *L, int t, const char *def_type, dce_cred *cred,
                                  uint8_t hash[16]) {
  const dce_mech *m;
  const char *tname;
  char err[192];
  t = lua_absindex(L, t);
  luaL_checktype(L, t, LUA_TTABLE);
  memset(cred, 0, sizeof *cred);
  lua_getfield(L, t, "type");
  tname = luaL_optstring(L, -1, def_type);
  m = dce_mech_by_name(tname);
  if (!m || !m->client_new)
    luaL_error(L, "auth: type '%s' is not one of the mechanisms (%s)", tname, mech_list(err, sizeof err));
  lua_getfield(L, t, "user");
  cred->user = luaL_optstring(L, -1, "");
  lua_getfield(L, t, "domain");
  cred->domain = luaL_optstring(L, -1, "");
  lua_getfield(L, t, "workstation");
  cred->workstation = luaL_optstring(L, -1, "");
  lua_getfield(L, t, "password");
  cred->password = luaL_optstring(L, -1, NULL);
  lua_getfield(L, t, "nt_hash");
  if (!lua_isnil(L, -1)) {
    size_t n;
    const char *h = luaL_checklstring(L, -1, &n);
    if (nt_hash_arg(h, n, hash)) luaL_error(L, "nt_hash: 32 hex digits or 16 bytes expected");
    cred->nt_hash = hash;
  }
  cred->ntlmv1 = dcerpc_field_bool(L, t, "ntlmv1", 0);
  lua_getfield(L, t, "target");
  cred->target = luaL_optstring(L, -1, NULL);
  lua_getfield(L, t, "ccache");
  cred->ccache = luaL_optstring(L, -1, NULL);
  lua_getfield(L, t, "keytab");
  cred->client_keytab = luaL_optstring(L, -1, NULL);
  /* kerberos = true: SPNEGO offers Kerberos first; "only": nothing else */
  lua_getfield(L, t, "kerberos");
  if (lua_type(L, -1) == LUA_TSTRING) {
    if (strcmp(lua_tostring(L, -1), "only") != 0) luaL_error(L, "auth: kerberos = true, false or \"only\"");
    cred->kerberos = 2;
  } else {
    cred->kerberos = lua_toboolean(L, -1);
  }
  /* Kerberos finds its credentials in a ccache (the default one) or a
  ** keytab; the others need a password or a hash with a user */
  if (m->auth_type != 16 && !cred->password && !cred->nt_hash && cred->user[0] &&
      !cred->kerberos && !cred->ccache && !cred->client_keytab)
    luaL_error(L, "auth: a password or nt_hash is needed");
  return m;
}

dce_sec *dcerpc_check_sec(lua_State *L, int t, uint32_t *context_id) {
  dce_cred cred;
  const dce_mech *m;
  uint8_t hash[16];
  char err[192];
  int level;
  dce_sec *sec;
  t = lua_absindex(L, t);
  luaL_checktype(L, t, LUA_TTABLE);
  *context_id = (uint32_t)dcerpc_field_int(L, t, "context_id", 0, 0, 0xfffffffe);
  m = dcerpc_check_cred(L, t, "ntlm", &cred, hash);
  lua_getfield(L, t, "level");
  level = DCE_LEVEL_CONNECT + luaL_checkoption(L, -1, "privacy", level_names);
  sec = dce_sec_client_new(m->auth_type, (uint8_t)level, &cred, err, sizeof err);
  memset(hash, 0, sizeof hash);
  if (!sec) luaL_error(L, "auth: %s", err);
  return sec;
}

/* core.nt_hash(password) -> 32 hex digits (MD4 of the UTF-16LE password) */
static int lauth_nt_hash(lua_State *L) {
  uint8_t h[16];
  char hex[33];
  int i;
  if (dce_ntlm_nt_hash(luaL_checkstring(L, 1), h)) return luaL_error(L, "nt_hash: not UTF-8, or MD4 unavailable");
  for (i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
  lua_pushstring(L, hex);
  return 1;
}

void dcerpc_open_auth(lua_State *L) {
  const dce_mech *m;
  int i;
  lua_pushcfunction(L, lauth_nt_hash);
  lua_setfield(L, -2, "nt_hash");
  lua_newtable(L);
  for (i = 0; (m = dce_mech_at((size_t)i)) != NULL; i++) {
    lua_pushstring(L, m->name);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "mechs");
}
