/*
** sec.c - DCE/RPC security contexts over the registered mechanisms (see
** sec.h, auth/mech.h). DCE's part only: levels, the fragment layout around
** the signature, and which of sign or seal a level asks for.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/sec.h"
#include "base/crypto.h"

struct dce_sec {
  const dce_mech *mech;
  void *ctx;                       /* the mechanism's context */
  uint8_t type, level;             /* level: call is kept as packet */
  int established;
};

const char *dce_sec_type_name(uint8_t type) {
  const dce_mech *m = dce_mech_by_type(type);
  if (m) return m->name;
  switch (type) {
  case DCE_AUTHN_NONE: return "none";
  case DCE_AUTHN_KERBEROS: return "kerberos";
  case 68: return "netlogon";
  default: return "unknown";
  }
}

const char *dce_sec_level_name(uint8_t level) {
  static const char *const n[] = { "default", "none", "connect", "call", "packet", "integrity", "privacy" };
  return level < 7 ? n[level] : "unknown";
}

int dce_sec_type_supported(uint8_t type, int server) {
  const dce_mech *m = dce_mech_by_type(type);
  return m && (server ? m->server_new != NULL : m->client_new != NULL);
}

/* ------------------------------------------------------------ contexts */

/* What a level asks of the mechanism. */
static unsigned level_want(uint8_t level) {
  unsigned w = DCE_MECH_WANT_DCE_STYLE;
  if (level >= DCE_LEVEL_PKT) w |= DCE_MECH_WANT_SIGN;
  if (level == DCE_LEVEL_PRIVACY) w |= DCE_MECH_WANT_SEAL;
  return w;
}

static dce_sec *sec_new(int server, uint8_t type, uint8_t level, const dce_cred *cred,
                        const dce_acceptor *acc, char *err, size_t errlen) {
  const dce_mech *m = dce_mech_by_type(type);
  dce_sec *s;
  if (!dce_sec_type_supported(type, server)) {
    snprintf(err, errlen, "authentication type %u (%s) is not supported", type, dce_sec_type_name(type));
    return NULL;
  }
  if (level < DCE_LEVEL_CONNECT || level > DCE_LEVEL_PRIVACY) {
    snprintf(err, errlen, "authentication level %u is not one of connect..privacy", level);
    return NULL;
  }
  s = calloc(1, sizeof *s);
  if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
  s->mech = m;
  s->type = type;
  s->level = level == DCE_LEVEL_CALL ? DCE_LEVEL_PKT : level;
  s->ctx = server ? m->server_new(acc, level_want(s->level), err, errlen)
                  : m->client_new(cred, level_want(s->level), err, errlen);
  if (!s->ctx) { free(s); return NULL; }
  return s;
}

dce_sec *dce_sec_client_new(uint8_t type, uint8_t level, const dce_cred *cred, char *err, size_t errlen) {
  return sec_new(0, type, level, cred, NULL, err, errlen);
}

dce_sec *dce_sec_server_new(uint8_t type, uint8_t level, const dce_acceptor *acc, char *err, size_t errlen) {
  return sec_new(1, type, level, NULL, acc, err, errlen);
}

void dce_sec_free(dce_sec *s) {
  if (!s) return;
  s->mech->free(s->ctx);
  dce_secure_zero(s, sizeof *s);
  free(s);
}

uint8_t dce_sec_type(const dce_sec *s) { return s->type; }
uint8_t dce_sec_level(const dce_sec *s) { return s->level; }
int dce_sec_established(const dce_sec *s) { return s->established; }
const dce_mech *dce_sec_mech(const dce_sec *s) { return s->mech; }

int dce_sec_peer_user(const dce_sec *s, const char **user, const char **domain, const char **workstation) {
  const char *u = "", *d = "", *w = "";
  s->mech->names(s->ctx, &u, &d, &w);
  if (user) *user = u ? u : "";
  if (domain) *domain = d ? d : "";
  if (workstation) *workstation = w ? w : "";
  return s->established ? 0 : -1;
}

int dce_sec_step(dce_sec *s, const uint8_t *in, size_t len, dce_buf *out,
                 uint32_t *status, char *err, size_t errlen) {
  char e[352] = "";
  uint32_t st = 0;
  int r;
  *status = 0;
  if (s->established) {
    *status = DCE_MECH_E_INVALID_TOKEN;
    snprintf(err, errlen, "the security context is already established");
    return -1;
  }
  r = s->mech->step(s->ctx, in, len, out, &st, e, sizeof e);
  if (r < 0) {
    *status = st ? st : DCE_MECH_E_LOGON_FAILURE;
    snprintf(err, errlen, "%s", e[0] ? e : "authentication failed");
    return -1;
  }
  if (r == 0) { s->established = 1; return 0; }
  return 1;
}

void dce_sec_header_sign(dce_sec *s) {
  if (s->mech->header_sign) s->mech->header_sign(s->ctx);
}

/* ------------------------------------------------------------ per fragment */

int dce_sec_protects(const dce_sec *s) { return s->level >= DCE_LEVEL_PKT; }
size_t dce_sec_sig_len(const dce_sec *s) { return dce_sec_protects(s) ? s->mech->sig_len(s->ctx) : 0; }

/* The fragment pdu[0..len) ends with sl bytes of signature; the mechanism
** sees the data region and everything before the signature (the "whole"
** PDU: header, body, auth padding, sec_trailer). */
uint32_t dce_sec_wrap(dce_sec *s, uint8_t *pdu, size_t len, size_t data_off, size_t data_len) {
  size_t sl = dce_sec_sig_len(s);
  if (!s->established || !sl) return DCE_MECH_E_INTERNAL;
  if (len < sl || data_off > len - sl || data_len > len - sl - data_off) return DCE_MECH_E_INTERNAL;
  if (s->level == DCE_LEVEL_PRIVACY)
    return s->mech->seal(s->ctx, pdu + data_off, data_len, pdu, len - sl, pdu + len - sl, sl);
  return s->mech->sign(s->ctx, pdu + data_off, data_len, pdu, len - sl, pdu + len - sl, sl);
}

uint32_t dce_sec_unwrap(dce_sec *s, uint8_t *pdu, size_t len, size_t data_off, size_t data_len) {
  size_t sl = dce_sec_sig_len(s);
  if (!s->established || !sl) return DCE_MECH_E_INTERNAL;
  if (len < sl || data_off > len - sl || data_len > len - sl - data_off) return DCE_MECH_E_MESSAGE_ALTERED;
  if (s->level == DCE_LEVEL_PRIVACY)
    return s->mech->unseal(s->ctx, pdu + data_off, data_len, pdu, len - sl, pdu + len - sl, sl);
  return s->mech->check(s->ctx, pdu + data_off, data_len, pdu, len - sl, pdu + len - sl, sl);
}

uint32_t dce_sec_session_key(const dce_sec *s, uint8_t *out, size_t cap, size_t *len) {
  *len = 0;
  if (!s->established) return DCE_MECH_E_INTERNAL;
  return s->mech->session_key(s->ctx, out, cap, len);
}
