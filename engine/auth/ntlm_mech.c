/*
** ntlm_mech.c - NTLMSSP (auth/ntlm.h) as a mechanism (auth/mech.h): DCE/RPC
** auth type 10, SPNEGO OID 1.3.6.1.4.1.311.2.2.10.
**
** The legs: client NEGOTIATE -> server CHALLENGE -> client AUTHENTICATE,
** after which the client is established; the server is established once
** the AUTHENTICATE checks out against the NT hash its acceptor's lookup
** gives. What NTLM adds to ntlm.c here:
**   - the negotiated flags must give what was wanted: sealing for SEAL on
**     both sides, signing for SIGN on the client (a man in the middle
**     cannot strip them and downgrade the calls);
**   - what the signature covers: with extended session security the whole
**     message (for DCE/RPC the PDU with its header and sec_trailer, as
**     Samba and Windows compute it), without it (NTLMv1) the data alone.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/mech.h"
#include "auth/ntlm.h"
#include "base/crypto.h"

typedef struct ntlm_ctx {
  dce_ntlm *n;
  int server;
  unsigned want;                   /* DCE_MECH_WANT_* */
  int auth_seen;                   /* server: the AUTHENTICATE came (no NEGOTIATE after it) */
  dce_hash_lookup_fn lookup;
  void *ud;
  char user[256], domain[256], workstation[256];
} ntlm_ctx;

static void copy_name(char *dst, size_t n, const char *src) {
  size_t l = src ? strlen(src) : 0;
  if (l >= n) l = n - 1;
  if (l) memcpy(dst, src, l);
  dst[l] = '\0';
}

static void *ntlm_client_new(const dce_cred *cred, unsigned want, char *err, size_t errlen) {
  ntlm_ctx *c = calloc(1, sizeof *c);
  dce_ntlm_cred nc;
  unsigned nw = 0;
  if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
  if (want & DCE_MECH_WANT_SIGN) nw |= DCE_NTLM_WANT_SIGN;
  if (want & DCE_MECH_WANT_SEAL) nw |= DCE_NTLM_WANT_SEAL;
  memset(&nc, 0, sizeof nc);
  if (cred) {
    nc.user = cred->user;
    nc.domain = cred->domain;
    nc.workstation = cred->workstation;
    nc.password = cred->password;
    nc.nt_hash = cred->nt_hash;
    nc.target_name = cred->target;
    nc.ntlmv1 = cred->ntlmv1;
    copy_name(c->user, sizeof c->user, cred->user);
    copy_name(c->domain, sizeof c->domain, cred->domain);
    copy_name(c->workstation, sizeof c->workstation, cred->workstation);
  }
  c->want = want;
  c->n = cred ? dce_ntlm_client_new(&nc, nw) : NULL;
  if (!c->n) {
    snprintf(err, errlen, "cannot set up NTLMSSP (bad credentials or out of memory)");
    free(c);
    return NULL;
  }
  return c;
}

static void *ntlm_server_new(const dce_acceptor *acc, unsigned want, char *err, size_t errlen) {
  ntlm_ctx *c = calloc(1, sizeof *c);
  dce_ntlm_server_cfg cfg;
  if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
  memset(&cfg, 0, sizeof cfg);
  if (acc) {
    cfg.nb_domain = acc->nb_domain;
    cfg.nb_computer = acc->nb_computer;
    cfg.dns_domain = acc->dns_domain;
    cfg.dns_computer = acc->dns_computer;
    cfg.allow_ntlmv1 = acc->allow_ntlmv1;
    c->lookup = acc->lookup;
    c->ud = acc->ud;
  }
  c->server = 1;
  c->want = want;
  c->n = dce_ntlm_server_new(&cfg);
  if (!c->n) {
    snprintf(err, errlen, "cannot set up NTLMSSP (bad credentials or out of memory)");
    free(c);
    return NULL;
  }
  return c;
}

static void ntlm_free(void *ctx) {
  ntlm_ctx *c = ctx;
  if (!c) return;
  dce_ntlm_free(c->n);
  dce_secure_zero(c, sizeof *c);
  free(c);
}

/* ------------------------------------------------------------ legs */

/* Do the negotiated flags give what was wanted? Sealing must be there for
** SEAL (a context that cannot seal must not carry privacy calls, as
** Windows refuses it); signing for SIGN on our client (downgrade). */
static int flags_fit(const ntlm_ctx *c, uint32_t *status, char *err, size_t errlen) {
  uint32_t f = dce_ntlm_flags(c->n);
  if ((c->want & DCE_MECH_WANT_SEAL) && !(f & NTLMSSP_NEGOTIATE_SEAL)) {
    snprintf(err, errlen, "NTLMSSP: privacy asked for, but sealing was not negotiated");
    *status = DCE_MECH_E_ALGORITHM_MISMATCH;
    return 0;
  }
  if (!c->server && (c->want & (DCE_MECH_WANT_SIGN | DCE_MECH_WANT_SEAL)) && !(f & NTLMSSP_NEGOTIATE_SIGN)) {
    snprintf(err, errlen, "NTLMSSP: signing asked for, but the server did not negotiate it");
    *status = DCE_MECH_E_ALGORITHM_MISMATCH;
    return 0;
  }
  return 1;
}

static int client_leg(ntlm_ctx *c, const uint8_t *in, size_t len, dce_buf *out,
                      uint32_t *status, char *err, size_t errlen) {
  uint32_t st = in ? dce_ntlm_client_authenticate(c->n, in, len, out) : dce_ntlm_client_negotiate(c->n, out);
  if (st) {
    *status = st;
    snprintf(err, errlen, "NTLMSSP: %s message refused (0x%08x)", in ? "CHALLENGE" : "NEGOTIATE", (unsigned)st);
    return -1;
  }
  if (!in) return 1;
  return flags_fit(c, status, err, errlen) ? 0 : -1;
}

static int server_leg(ntlm_ctx *c, const uint8_t *in, size_t len, dce_buf *out,
                      uint32_t *status, char *err, size_t errlen) {
  dce_ntlm_auth_info info;
  uint8_t hash[16];
  uint32_t st;
  if (!in) { snprintf(err, errlen, "NTLMSSP: empty token"); *status = DCE_MECH_E_INVALID_TOKEN; return -1; }
  if (!c->auth_seen && len >= 12 && in[8] == 1) {            /* NEGOTIATE */
    st = dce_ntlm_server_challenge(c->n, in, len, out);
    if (st) { *status = st; snprintf(err, errlen, "NTLMSSP: bad NEGOTIATE message (0x%08x)", (unsigned)st); return -1; }
    return 1;
  }
  st = dce_ntlm_server_parse_auth(c->n, in, len, &info);
  if (st) { *status = st; snprintf(err, errlen, "NTLMSSP: bad AUTHENTICATE message (0x%08x)", (unsigned)st); return -1; }
  copy_name(c->user, sizeof c->user, info.user);
  copy_name(c->domain, sizeof c->domain, info.domain);
  copy_name(c->workstation, sizeof c->workstation, info.workstation);
  c->auth_seen = 1;
  if (info.anonymous) {
    *status = DCE_MECH_E_LOGON_FAILURE;
    snprintf(err, errlen, "anonymous NTLM logon refused");
    return -1;
  }
  if (!c->lookup || c->lookup(c->ud, c->user, c->domain, c->workstation, hash) != 0) {
    *status = DCE_MECH_E_LOGON_FAILURE;
    snprintf(err, errlen, "logon failure: unknown user %s\\%s", c->domain, c->user);
    return -1;
  }
  st = dce_ntlm_server_verify(c->n, hash);
  dce_secure_zero(hash, sizeof hash);
  if (st) {
    *status = st;
    snprintf(err, errlen, "logon failure for %s\\%s (0x%08x)", c->domain, c->user, (unsigned)st);
    return -1;
  }
  return flags_fit(c, status, err, errlen) ? 0 : -1;
}

static int ntlm_step(void *ctx, const uint8_t *in, size_t len, dce_buf *out,
                     uint32_t *status, char *err, size_t errlen) {
  ntlm_ctx *c = ctx;
  *status = 0;
  return c->server ? server_leg(c, in, len, out, status, err, errlen)
                   : client_leg(c, in, len, out, status, err, errlen);
}

/* ------------------------------------------------------------ per message */

/* With extended session security the signature covers the whole message;
** without it (NTLMv1, only when asked for) the data alone, as Samba does. */
static int ess(const ntlm_ctx *c) {
  return (dce_ntlm_flags(c->n) & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) != 0;
}

static size_t ntlm_sig_len(void *ctx) { (void)ctx; return dce_ntlm_sig_size(); }

static uint32_t ntlm_sign(void *ctx, const uint8_t *data, size_t data_len,
                          const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  ntlm_ctx *c = ctx;
  if (sig_len != DCE_NTLM_SIG_SIZE) return DCE_MECH_E_INTERNAL;
  return ess(c) ? dce_ntlm_sign(c->n, whole, whole_len, sig) : dce_ntlm_sign(c->n, data, data_len, sig);
}

static uint32_t ntlm_check(void *ctx, const uint8_t *data, size_t data_len,
                           const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len) {
  ntlm_ctx *c = ctx;
  if (sig_len != DCE_NTLM_SIG_SIZE) return DCE_MECH_E_MESSAGE_ALTERED;
  return ess(c) ? dce_ntlm_verify(c->n, whole, whole_len, sig) : dce_ntlm_verify(c->n, data, data_len, sig);
}

/* ntlm.c's seal and unseal already take (data, whole) and choose by ESS. */
static uint32_t ntlm_seal(void *ctx, uint8_t *data, size_t data_len,
                          const uint8_t *whole, size_t whole_len, uint8_t *sig, size_t sig_len) {
  if (sig_len != DCE_NTLM_SIG_SIZE) return DCE_MECH_E_INTERNAL;
  return dce_ntlm_seal(((ntlm_ctx *)ctx)->n, data, data_len, whole, whole_len, sig);
}

static uint32_t ntlm_unseal(void *ctx, uint8_t *data, size_t data_len,
                            const uint8_t *whole, size_t whole_len, const uint8_t *sig, size_t sig_len) {
  if (sig_len != DCE_NTLM_SIG_SIZE) return DCE_MECH_E_MESSAGE_ALTERED;
  return dce_ntlm_unseal(((ntlm_ctx *)ctx)->n, data, data_len, whole, whole_len, sig);
}

/* ------------------------------------------------------------ SPNEGO hooks */

static int ntlm_get_mic(void *ctx, const uint8_t *msg, size_t len, dce_buf *mic) {
  uint8_t sig[DCE_NTLM_SIG_SIZE];
  if (dce_ntlm_sign(((ntlm_ctx *)ctx)->n, msg, len, sig)) return -1;
  return dce_buf_put(mic, sig, sizeof sig) ? -1 : 0;
}

static int ntlm_verify_mic(void *ctx, const uint8_t *msg, size_t len, const uint8_t *mic, size_t mlen) {
  if (mlen != DCE_NTLM_SIG_SIZE) return -1;
  return dce_ntlm_verify(((ntlm_ctx *)ctx)->n, msg, len, mic) ? -1 : 0;
}

/* Our client always puts a MIC in AUTHENTICATE, and Samba's and Windows'
** do when the CHALLENGE has a timestamp: then both sides exchange the
** mechListMIC when signing was negotiated (without it Samba sends none,
** e.g. at the connect level). */
static int ntlm_mic_policy(void *ctx) {
  return (dce_ntlm_flags(((ntlm_ctx *)ctx)->n) & NTLMSSP_NEGOTIATE_SIGN) ? DCE_MECH_MIC_REQUIRED
                                                                         : DCE_MECH_MIC_OPTIONAL;
}

static void ntlm_after_mic(void *ctx) { dce_ntlm_reset_rc4(((ntlm_ctx *)ctx)->n); }

/* ------------------------------------------------------------ results */

static uint32_t ntlm_session_key(void *ctx, uint8_t *out, size_t cap, size_t *len) {
  uint32_t st;
  *len = 0;
  if (cap < 16) return DCE_MECH_E_INTERNAL;
  st = dce_ntlm_session_key(((ntlm_ctx *)ctx)->n, out);
  if (!st) *len = 16;
  return st;
}

static void ntlm_names(void *ctx, const char **user, const char **domain, const char **workstation) {
  ntlm_ctx *c = ctx;
  if (user) *user = c->user;
  if (domain) *domain = c->domain;
  if (workstation) *workstation = c->workstation;
}

static const uint8_t oid_ntlmssp[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a };

extern const dce_mech dce_mech_ntlm;
const dce_mech dce_mech_ntlm = {
  .name = "ntlm",
  .auth_type = 10,
  .oid = oid_ntlmssp, .oid_len = sizeof oid_ntlmssp,
  .client_new = ntlm_client_new,
  .server_new = ntlm_server_new,
  .free = ntlm_free,
  .step = ntlm_step,
  .sig_len = ntlm_sig_len,
  .sign = ntlm_sign,
  .check = ntlm_check,
  .seal = ntlm_seal,
  .unseal = ntlm_unseal,
  .header_sign = NULL,             /* ESS decides: the header is signed with it */
  .get_mic = ntlm_get_mic,
  .verify_mic = ntlm_verify_mic,
  .mic_policy = ntlm_mic_policy,
  .after_mic = ntlm_after_mic,
  .session_key = ntlm_session_key,
  .names = ntlm_names,
};
