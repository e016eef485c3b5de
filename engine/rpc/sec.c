/*
** sec.c - DCE/RPC security contexts over NTLMSSP and SPNEGO (see sec.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/sec.h"
#include "auth/spnego.h"
#include "base/crypto.h"

#define SEC_E_MESSAGE_ALTERED 0x8009030Fu
#define SEC_E_INTERNAL        0xC00000E5u
#define SEC_E_LOGON_FAILURE   0xC000006Du
#define SEC_E_INVALID_TOKEN   0x80090308u
#define SEC_E_NO_MEMORY       0xC0000017u
#define SEC_E_ALGORITHM_MISMATCH 0x80090331u

struct dce_sec {
  uint8_t type, level;
  int server, established;
  dce_ntlm *ntlm;
  dce_spnego spnego;               /* type SPNEGO */
  int ntlm_done;                   /* NTLM's own legs are over */
  uint32_t mech_status;            /* the NTLM status of a failed leg */
  dce_sec_lookup_fn lookup;
  void *lookup_ud;
  char user[256], domain[256], workstation[256];
};

const char *dce_sec_type_name(uint8_t type) {
  switch (type) {
  case DCE_AUTHN_NONE: return "none";
  case DCE_AUTHN_SPNEGO: return "spnego";
  case DCE_AUTHN_WINNT: return "ntlm";
  case 16: return "kerberos";
  case 68: return "netlogon";
  default: return "unknown";
  }
}

const char *dce_sec_level_name(uint8_t level) {
  static const char *const n[] = { "default", "none", "connect", "call", "packet", "integrity", "privacy" };
  return level < 7 ? n[level] : "unknown";
}

static void copy_name(char *dst, size_t n, const char *src) {
  size_t l = src ? strlen(src) : 0;
  if (l >= n) l = n - 1;
  if (l) memcpy(dst, src, l);
  dst[l] = '\0';
}

/* ------------------------------------------------------------ NTLM legs */

/* Do the negotiated NTLM flags give what the level needs? Privacy needs
** SEAL (a context that cannot seal must not carry privacy calls, as Windows
** refuses it); packet and integrity need SIGN on our client (downgrade). */
static int flags_fit_level(const dce_sec *s, char *err, size_t errlen) {
  uint32_t f = dce_ntlm_flags(s->ntlm);
  if (s->level == DCE_LEVEL_PRIVACY && !(f & NTLMSSP_NEGOTIATE_SEAL)) {
    snprintf(err, errlen, "NTLMSSP: privacy asked for, but sealing was not negotiated");
    return 0;
  }
  if (!s->server && s->level >= DCE_LEVEL_PKT && !(f & NTLMSSP_NEGOTIATE_SIGN)) {
    snprintf(err, errlen, "NTLMSSP: signing asked for, but the server did not negotiate it");
    return 0;
  }
  return 1;
}

/* One NTLM leg for either side; 0 (complete or not: *complete), -1 failed. */
static int ntlm_leg(dce_sec *s, const uint8_t *in, size_t len, dce_buf *out, int *complete,
                    char *err, size_t errlen) {
  uint32_t st;
  *complete = 0;
  if (!s->server) {
    if (!in) {
      st = dce_ntlm_client_negotiate(s->ntlm, out);
    } else {
      st = dce_ntlm_client_authenticate(s->ntlm, in, len, out);
      if (!st && !flags_fit_level(s, err, errlen)) { s->mech_status = SEC_E_ALGORITHM_MISMATCH; return -1; }
      if (!st) *complete = 1;
    }
    if (st) {
      s->mech_status = st;
      snprintf(err, errlen, "NTLMSSP: %s message refused (0x%08x)", in ? "CHALLENGE" : "NEGOTIATE", (unsigned)st);
      return -1;
    }
    return 0;
  }
  if (!in) { snprintf(err, errlen, "NTLMSSP: empty token"); s->mech_status = SEC_E_INVALID_TOKEN; return -1; }
  if (!s->ntlm_done && len >= 12 && in[8] == 1) {             /* NEGOTIATE */
    st = dce_ntlm_server_challenge(s->ntlm, in, len, out);
    if (st) { s->mech_status = st; snprintf(err, errlen, "NTLMSSP: bad NEGOTIATE message (0x%08x)", (unsigned)st); return -1; }
    return 0;
  }
  {
    dce_ntlm_auth_info info;
    uint8_t hash[16];
    st = dce_ntlm_server_parse_auth(s->ntlm, in, len, &info);
    if (st) { s->mech_status = st; snprintf(err, errlen, "NTLMSSP: bad AUTHENTICATE message (0x%08x)", (unsigned)st); return -1; }
    copy_name(s->user, sizeof s->user, info.user);
    copy_name(s->domain, sizeof s->domain, info.domain);
    copy_name(s->workstation, sizeof s->workstation, info.workstation);
    s->ntlm_done = 1;
    if (info.anonymous) {
      s->mech_status = SEC_E_LOGON_FAILURE;
      snprintf(err, errlen, "anonymous NTLM logon refused");
      return -1;
    }
    if (!s->lookup || s->lookup(s->lookup_ud, s->user, s->domain, s->workstation, hash) != 0) {
      s->mech_status = SEC_E_LOGON_FAILURE;
      snprintf(err, errlen, "logon failure: unknown user %s\\%s", s->domain, s->user);
      return -1;
    }
    st = dce_ntlm_server_verify(s->ntlm, hash);
    dce_secure_zero(hash, sizeof hash);
    if (st) {
      s->mech_status = st;
      snprintf(err, errlen, "logon failure for %s\\%s (0x%08x)", s->domain, s->user, (unsigned)st);
      return -1;
    }
    if (!flags_fit_level(s, err, errlen)) { s->mech_status = SEC_E_ALGORITHM_MISMATCH; return -1; }
    *complete = 1;
    return 0;
  }
}

static int ess_flags(const dce_ntlm *n) {
  return (dce_ntlm_flags(n) & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) != 0;
}

/* NTLM as a SPNEGO mechanism */
static int m_step(void *m, const uint8_t *in, size_t len, dce_buf *out, int *complete, char *err, size_t errlen) {
  return ntlm_leg((dce_sec *)m, in, len, out, complete, err, errlen);
}
static int m_get_mic(void *m, const uint8_t *msg, size_t len, dce_buf *mic) {
  uint8_t sig[16];
  if (dce_ntlm_sign(((dce_sec *)m)->ntlm, msg, len, sig)) return -1;
  return dce_buf_put(mic, sig, 16) ? -1 : 0;
}
static int m_verify_mic(void *m, const uint8_t *msg, size_t len, const uint8_t *mic, size_t mlen) {
  if (mlen != 16) return -1;
  return dce_ntlm_verify(((dce_sec *)m)->ntlm, msg, len, mic) ? -1 : 0;
}
static int m_mic_policy(void *m) {
  /* our client always puts a MIC in AUTHENTICATE, and Samba's and Windows'
  ** do when the CHALLENGE has a timestamp: then both sides exchange the
  ** mechListMIC when signing was negotiated (without it Samba sends none,
  ** e.g. at the connect level). */
  return (dce_ntlm_flags(((dce_sec *)m)->ntlm) & NTLMSSP_NEGOTIATE_SIGN) ? DCE_GSS_MIC_REQUIRED
                                                                      : DCE_GSS_MIC_OPTIONAL;
}
static void m_after_mic(void *m) { dce_ntlm_reset_rc4(((dce_sec *)m)->ntlm); }

static const uint8_t oid_ntlmssp[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a };
static const dce_gss_mech ntlm_mech = {
  "NTLMSSP", oid_ntlmssp, sizeof oid_ntlmssp,
  m_step, m_get_mic, m_verify_mic, m_mic_policy, m_after_mic
};

/* ------------------------------------------------------------ contexts */

static dce_sec *sec_alloc(uint8_t type, uint8_t level, char *err, size_t errlen) {
  dce_sec *s;
  if (type != DCE_AUTHN_WINNT && type != DCE_AUTHN_SPNEGO) {
    snprintf(err, errlen, "authentication type %u (%s) is not supported", type, dce_sec_type_name(type));
    return NULL;
  }
  if (level < DCE_LEVEL_CONNECT || level > DCE_LEVEL_PRIVACY) {
    snprintf(err, errlen, "authentication level %u is not one of connect..privacy", level);
    return NULL;
  }
  s = calloc(1, sizeof *s);
  if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
  s->type = type;
  s->level = level == DCE_LEVEL_CALL ? DCE_LEVEL_PKT : level;
  return s;
}

static dce_sec *sec_finish(dce_sec *s, char *err, size_t errlen) {
  if (!s->ntlm) { snprintf(err, errlen, "cannot set up NTLMSSP (bad credentials or out of memory)"); free(s); return NULL; }
  if (s->type == DCE_AUTHN_SPNEGO) {
    const dce_gss_mech *m = &ntlm_mech;
    void *ctx = s;
    if (dce_spnego_init(&s->spnego, s->server ? DCE_SPNEGO_SERVER : DCE_SPNEGO_CLIENT, &m, &ctx, 1, 0)) {
      snprintf(err, errlen, "cannot set up SPNEGO");
      dce_ntlm_free(s->ntlm);
      free(s);
      return NULL;
    }
  }
  return s;
}

dce_sec *dce_sec_client_new(uint8_t type, uint8_t level, const dce_ntlm_cred *cred, char *err, size_t errlen) {
  dce_sec *s = sec_alloc(type, level, err, errlen);
  unsigned want = 0;
  if (!s) return NULL;
  if (s->level >= DCE_LEVEL_PKT) want |= DCE_NTLM_WANT_SIGN;
  if (s->level == DCE_LEVEL_PRIVACY) want |= DCE_NTLM_WANT_SEAL;
  s->ntlm = dce_ntlm_client_new(cred, want);
  if (cred) {
    copy_name(s->user, sizeof s->user, cred->user);
    copy_name(s->domain, sizeof s->domain, cred->domain);
    copy_name(s->workstation, sizeof s->workstation, cred->workstation);
  }
  return sec_finish(s, err, errlen);
}

dce_sec *dce_sec_server_new(uint8_t type, uint8_t level, const dce_ntlm_server_cfg *cfg,
                            dce_sec_lookup_fn lookup, void *ud, char *err, size_t errlen) {
  dce_sec *s = sec_alloc(type, level, err, errlen);
  if (!s) return NULL;
  s->server = 1;
  s->lookup = lookup;
  s->lookup_ud = ud;
  s->ntlm = dce_ntlm_server_new(cfg);
  return sec_finish(s, err, errlen);
}

void dce_sec_free(dce_sec *s) {
  if (!s) return;
  if (s->type == DCE_AUTHN_SPNEGO) dce_spnego_free(&s->spnego);
  dce_ntlm_free(s->ntlm);
  dce_secure_zero(s, sizeof *s);
  free(s);
}

uint8_t dce_sec_type(const dce_sec *s) { return s->type; }
uint8_t dce_sec_level(const dce_sec *s) { return s->level; }
int dce_sec_established(const dce_sec *s) { return s->established; }

int dce_sec_peer_user(const dce_sec *s, const char **user, const char **domain, const char **workstation) {
  if (user) *user = s->user;
  if (domain) *domain = s->domain;
  if (workstation) *workstation = s->workstation;
  return s->established ? 0 : -1;
}

int dce_sec_step(dce_sec *s, const uint8_t *in, size_t len, dce_buf *out,
                 uint32_t *status, char *err, size_t errlen) {
  char e[192] = "";
  *status = 0;
  if (s->established) {
    *status = SEC_E_INVALID_TOKEN;
    snprintf(err, errlen, "the security context is already established");
    return -1;
  }
  if (s->type == DCE_AUTHN_WINNT) {
    int complete = 0;
    if (ntlm_leg(s, in, len, out, &complete, e, sizeof e)) {
      *status = s->mech_status ? s->mech_status : SEC_E_LOGON_FAILURE;
      snprintf(err, errlen, "%s", e);
      return -1;
    }
    if (complete) { s->established = 1; return 0; }
    return 1;
  } else {
    int r = dce_spnego_step(&s->spnego, in, len, out);
    if (r == DCE_SPNEGO_ERROR) {
      int code = dce_spnego_errcode(&s->spnego);
      *status = s->mech_status ? s->mech_status
              : code == DCE_SPNEGO_E_NOMEM ? SEC_E_NO_MEMORY
              : code == DCE_SPNEGO_E_MIC_BAD || code == DCE_SPNEGO_E_MIC_MISSING ? SEC_E_MESSAGE_ALTERED
              : code == DCE_SPNEGO_E_REJECTED ? SEC_E_LOGON_FAILURE : SEC_E_INVALID_TOKEN;
      snprintf(err, errlen, "SPNEGO: %s", dce_spnego_errmsg(&s->spnego));
      return -1;
    }
    if (r == DCE_SPNEGO_DONE) { s->established = 1; return 0; }
    return 1;
  }
}

/* ------------------------------------------------------------ per fragment */

int dce_sec_protects(const dce_sec *s) { return s->level >= DCE_LEVEL_PKT; }
size_t dce_sec_sig_len(const dce_sec *s) { return dce_sec_protects(s) ? dce_ntlm_sig_size() : 0; }

static int ess(const dce_sec *s) { return ess_flags(s->ntlm); }

uint32_t dce_sec_wrap(dce_sec *s, uint8_t *pdu, size_t len, size_t data_off, size_t data_len) {
  size_t sl = dce_sec_sig_len(s);
  uint8_t *sig;
  if (!s->established || !sl) return SEC_E_INTERNAL;
  if (len < sl || data_off > len - sl || data_len > len - sl - data_off) return SEC_E_INTERNAL;
  sig = pdu + len - sl;
  if (s->level == DCE_LEVEL_PRIVACY)
    return dce_ntlm_seal(s->ntlm, pdu + data_off, data_len, pdu, len - sl, sig);
  if (ess(s)) return dce_ntlm_sign(s->ntlm, pdu, len - sl, sig);
  return dce_ntlm_sign(s->ntlm, pdu + data_off, data_len, sig);
}

uint32_t dce_sec_unwrap(dce_sec *s, uint8_t *pdu, size_t len, size_t data_off, size_t data_len) {
  size_t sl = dce_sec_sig_len(s);
  const uint8_t *sig;
  if (!s->established || !sl) return SEC_E_INTERNAL;
  if (len < sl || data_off > len - sl || data_len > len - sl - data_off) return SEC_E_MESSAGE_ALTERED;
  sig = pdu + len - sl;
  if (s->level == DCE_LEVEL_PRIVACY)
    return dce_ntlm_unseal(s->ntlm, pdu + data_off, data_len, pdu, len - sl, sig);
  if (ess(s)) return dce_ntlm_verify(s->ntlm, pdu, len - sl, sig);
  return dce_ntlm_verify(s->ntlm, pdu + data_off, data_len, sig);
}

uint32_t dce_sec_session_key(const dce_sec *s, uint8_t out[16]) {
  if (!s->established) return SEC_E_INTERNAL;
  return dce_ntlm_session_key(s->ntlm, out);
}
