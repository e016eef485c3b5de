/*
** spnego.c - SPNEGO token codec and negotiation state machine.
**
** Grammar decoded (RFC 4178 section 4.2, [MS-SPNG] 2.2.1):
**
**   InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
**       thisMech OID (1.3.6.1.5.5.2), innerContextToken [0] NegTokenInit }
**   NegTokenInit  ::= SEQUENCE { mechTypes [0] MechTypeList, reqFlags [1]
**       ContextFlags OPT, mechToken [2] OCTET STRING OPT, mechListMIC [3]
**       OCTET STRING OPT, ... }
**   NegTokenInit2 ::= the same with negHints [3] NegHints OPT and mechListMIC
**       moved to [4]. The two share [0]; a [3] holding a SEQUENCE is negHints,
**       one holding an OCTET STRING is mechListMIC.
**   NegTokenResp  ::= [1] SEQUENCE { negState [0] ENUMERATED OPT,
**       supportedMech [1] OID OPT, responseToken [2] OCTET STRING OPT,
**       mechListMIC [3] OCTET STRING OPT, ... }
**
** The decoder is structural (recursion depth fixed by the grammar); unknown
** extension members are checked with dce_der_check, whose depth is capped.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "auth/der.h"
#include "auth/spnego.h"

/* ================================================================ OIDs */

static const uint8_t OID_SPNEGO[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };
static const uint8_t OID_NTLMSSP[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a };
static const uint8_t OID_KRB5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const uint8_t OID_MSKRB5[] = { 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const uint8_t OID_NEGOEX[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e };

const dce_oid dce_oid_spnego = { OID_SPNEGO, sizeof OID_SPNEGO };
const dce_oid dce_oid_ntlmssp = { OID_NTLMSSP, sizeof OID_NTLMSSP };
const dce_oid dce_oid_krb5 = { OID_KRB5, sizeof OID_KRB5 };
const dce_oid dce_oid_mskrb5 = { OID_MSKRB5, sizeof OID_MSKRB5 };
const dce_oid dce_oid_negoex = { OID_NEGOEX, sizeof OID_NEGOEX };

static int oid_is(const uint8_t *p, size_t len, const dce_oid *o) {
  return len == o->len && memcmp(p, o->p, len) == 0;
}

const char *dce_oid_name(const uint8_t *p, size_t len) {
  if (oid_is(p, len, &dce_oid_ntlmssp)) return "ntlmssp";
  if (oid_is(p, len, &dce_oid_krb5)) return "krb5";
  if (oid_is(p, len, &dce_oid_mskrb5)) return "ms-krb5";
  if (oid_is(p, len, &dce_oid_negoex)) return "negoex";
  if (oid_is(p, len, &dce_oid_spnego)) return "spnego";
  return NULL;
}

/* An OID's content is 1..DCE_SPNEGO_MAX_OID bytes of base-128 subidentifiers,
** each minimal (no leading 0x80) and the last byte ending one. */
static int oid_valid(const uint8_t *p, size_t len) {
  size_t i;
  if (len == 0 || len > DCE_SPNEGO_MAX_OID) return 0;
  if (p[len - 1] & 0x80) return 0;
  for (i = 0; i < len; i++)
    if (p[i] == 0x80 && (i == 0 || !(p[i - 1] & 0x80))) return 0;
  return 1;
}

void dce_oid_format(const uint8_t *p, size_t len, char *out, size_t outlen) {
  size_t i, o = 0;
  uint64_t v = 0;
  int first = 1, n;
  if (!outlen) return;
  out[0] = 0;
  if (!oid_valid(p, len)) { snprintf(out, outlen, "?"); return; }
  for (i = 0; i < len; i++) {
    if (v >> 56) { snprintf(out, outlen, "?"); return; }
    v = (v << 7) | (p[i] & 0x7f);
    if (p[i] & 0x80) continue;
    if (first) {
      unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
      n = snprintf(out + o, outlen - o, "%u.%llu", a, (unsigned long long)(v - 40u * a));
      first = 0;
    } else {
      n = snprintf(out + o, outlen - o, ".%llu", (unsigned long long)v);
    }
    if (n < 0 || (size_t)n >= outlen - o) return;   /* truncated, still terminated */
    o += (size_t)n;
    v = 0;
  }
}

static int oid_krb5ish(const uint8_t *p, size_t len) {
  return oid_is(p, len, &dce_oid_krb5) || oid_is(p, len, &dce_oid_mskrb5);
}

int dce_oid_match(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  if (alen == blen && memcmp(a, b, alen) == 0) return 1;
  return oid_krb5ish(a, alen) && oid_krb5ish(b, blen);
}

/* ================================================================ codec */

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (!err || !errlen) return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void dce_spnego_tok_init(dce_spnego_tok *t, int kind) {
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->neg_state = DCE_NEG_ABSENT;
}

/* The value of an explicitly tagged member must be exactly one element with
** tag `want`. */
static int inner1(const dce_der_tlv *m, uint8_t want, dce_der_tlv *in,
                  const char *what, char *err, size_t errlen) {
  dce_rd r;
  int rc;
  dce_rd_init(&r, m->v, m->len);
  rc = dce_der_expect(&r, want, in);
  if (rc) {
    seterr(err, errlen, "%s: %s", what, rc == DCE_DER_EUNEXPECTED ? "wrong type" : dce_der_strerror(rc));
    return -1;
  }
  if (dce_rd_left(&r)) { seterr(err, errlen, "%s: trailing bytes", what); return -1; }
  return 0;
}

static int get_octets(const dce_der_tlv *m, const uint8_t **p, size_t *len,
                      const char *what, char *err, size_t errlen) {
  dce_der_tlv in;
  if (inner1(m, DCE_DER_OCTETSTR, &in, what, err, errlen)) return -1;
  *p = in.v; *len = in.len;
  return 0;
}

/* Read the next member of a SEQUENCE with explicit context tags: it must be
** [n] constructed with n above the previous member's. Returns 1 with the
** member, 0 at the end, -1 on error. */
static int next_member(dce_rd *r, int *last, dce_der_tlv *m, int *n,
                       const char *what, char *err, size_t errlen) {
  int rc;
  if (!dce_rd_left(r)) return 0;
  if ((rc = dce_der_next(r, m)) != 0) {
    seterr(err, errlen, "%s: %s", what, dce_der_strerror(rc));
    return -1;
  }
  if ((m->tag & 0xe0) != 0xa0) {
    seterr(err, errlen, "%s: member tag 0x%02x is not a context tag", what, m->tag);
    return -1;
  }
  *n = m->tag & 0x1f;
  if (*n <= *last) {
    seterr(err, errlen, "%s: member [%d] out of order or repeated", what, *n);
    return -1;
  }
  *last = *n;
  return 1;
}

/* An unknown extension member: accept only if well formed. */
static int skip_ext(const dce_der_tlv *m, const char *what, char *err, size_t errlen) {
  int rc = dce_der_check(m->v, m->len, DCE_DER_MAX_DEPTH);
  if (rc) { seterr(err, errlen, "%s: extension [%d]: %s", what, m->tag & 0x1f, dce_der_strerror(rc)); return -1; }
  return 0;
}

static int decode_mech_list(dce_spnego_tok *t, const dce_der_tlv *m, char *err, size_t errlen) {
  dce_der_tlv seq, o;
  dce_rd r;
  int rc;
  if (inner1(m, DCE_DER_SEQUENCE, &seq, "mechTypes", err, errlen)) return -1;
  t->mech_types = seq.tlv;
  t->mech_types_len = seq.tlv_len;
  dce_rd_init(&r, seq.v, seq.len);
  while (dce_rd_left(&r)) {
    if ((rc = dce_der_expect(&r, DCE_DER_OID, &o)) != 0) {
      seterr(err, errlen, "mechTypes[%zu]: %s", t->n_mechs,
             rc == DCE_DER_EUNEXPECTED ? "not an OID" : dce_der_strerror(rc));
      return -1;
    }
    if (!oid_valid(o.v, o.len)) { seterr(err, errlen, "mechTypes[%zu]: malformed OID", t->n_mechs); return -1; }
    if (t->n_mechs == DCE_SPNEGO_MAX_MECHS) {
      seterr(err, errlen, "mechTypes: more than %d mechanisms", DCE_SPNEGO_MAX_MECHS);
      return -1;
    }
    t->mechs[t->n_mechs].p = o.v;
    t->mechs[t->n_mechs].len = o.len;
    t->n_mechs++;
  }
  return 0;
}

static int decode_hints(dce_spnego_tok *t, const dce_der_tlv *seq, char *err, size_t errlen) {
  dce_rd r;
  dce_der_tlv m, in;
  int last = -1, n, rc;
  t->has_neg_hints = 1;
  dce_rd_init(&r, seq->v, seq->len);
  while ((rc = next_member(&r, &last, &m, &n, "negHints", err, errlen)) == 1) {
    if (n == 0) {
      if (inner1(&m, DCE_DER_GENSTRING, &in, "negHints.hintName", err, errlen)) return -1;
      t->hint_name = in.v; t->hint_name_len = in.len;
    } else if (n == 1) {
      if (inner1(&m, DCE_DER_OCTETSTR, &in, "negHints.hintAddress", err, errlen)) return -1;
    } else if (skip_ext(&m, "negHints", err, errlen)) {
      return -1;
    }
  }
  return rc;
}

static int decode_init(dce_spnego_tok *t, const dce_der_tlv *a0, char *err, size_t errlen) {
  dce_der_tlv seq, m, in;
  dce_rd r;
  int last = -1, n, rc, mic_tag = 3;
  if (inner1(a0, DCE_DER_SEQUENCE, &seq, "NegTokenInit", err, errlen)) return -1;
  dce_rd_init(&r, seq.v, seq.len);
  while ((rc = next_member(&r, &last, &m, &n, "NegTokenInit", err, errlen)) == 1) {
    switch (n) {
    case 0:
      if (decode_mech_list(t, &m, err, errlen)) return -1;
      break;
    case 1:
      if (inner1(&m, DCE_DER_BITSTRING, &in, "reqFlags", err, errlen)) return -1;
      if (in.len < 1 || in.v[0] > 7 || (in.len == 1 && in.v[0] != 0)) {
        seterr(err, errlen, "reqFlags: malformed BIT STRING");
        return -1;
      }
      t->has_req_flags = 1;
      break;
    case 2:
      if (get_octets(&m, &t->token, &t->token_len, "mechToken", err, errlen)) return -1;
      break;
    case 3:
      /* NegTokenInit's mechListMIC or NegTokenInit2's negHints. */
      if (m.len && m.v[0] == DCE_DER_SEQUENCE) {
        if (inner1(&m, DCE_DER_SEQUENCE, &in, "negHints", err, errlen)) return -1;
        if (decode_hints(t, &in, err, errlen)) return -1;
        mic_tag = 4;
      } else {
        if (get_octets(&m, &t->mic, &t->mic_len, "mechListMIC", err, errlen)) return -1;
        mic_tag = -1;     /* a [4] after this is an unknown extension */
      }
      break;
    case 4:
      if (mic_tag == 4) {
        if (get_octets(&m, &t->mic, &t->mic_len, "mechListMIC", err, errlen)) return -1;
        break;
      }
      /* fall through */
    default:
      if (skip_ext(&m, "NegTokenInit", err, errlen)) return -1;
    }
  }
  return rc;
}

static int decode_resp(dce_spnego_tok *t, const dce_der_tlv *a1, char *err, size_t errlen) {
  dce_der_tlv seq, m, in;
  dce_rd r;
  int last = -1, n, rc;
  if (inner1(a1, DCE_DER_SEQUENCE, &seq, "NegTokenResp", err, errlen)) return -1;
  dce_rd_init(&r, seq.v, seq.len);
  while ((rc = next_member(&r, &last, &m, &n, "NegTokenResp", err, errlen)) == 1) {
    switch (n) {
    case 0:
      if (inner1(&m, DCE_DER_ENUM, &in, "negState", err, errlen)) return -1;
      if (in.len != 1 || in.v[0] > DCE_NEG_REQUEST_MIC) {
        seterr(err, errlen, "negState: unknown value");
        return -1;
      }
      t->neg_state = in.v[0];
      break;
    case 1:
      if (inner1(&m, DCE_DER_OID, &in, "supportedMech", err, errlen)) return -1;
      if (!oid_valid(in.v, in.len)) { seterr(err, errlen, "supportedMech: malformed OID"); return -1; }
      t->supported_mech.p = in.v; t->supported_mech.len = in.len;
      break;
    case 2:
      if (get_octets(&m, &t->token, &t->token_len, "responseToken", err, errlen)) return -1;
      break;
    case 3:
      if (get_octets(&m, &t->mic, &t->mic_len, "mechListMIC", err, errlen)) return -1;
      break;
    default:
      if (skip_ext(&m, "NegTokenResp", err, errlen)) return -1;
    }
  }
  return rc;
}

int dce_spnego_decode(dce_spnego_tok *t, const uint8_t *p, size_t len, char *err, size_t errlen) {
  dce_rd r;
  dce_der_tlv top, in;
  int rc;

  dce_spnego_tok_init(t, DCE_SPNEGO_INIT);
  if (len > DCE_SPNEGO_MAX_TOKEN) { seterr(err, errlen, "token of %zu bytes exceeds %d", len, DCE_SPNEGO_MAX_TOKEN); return -1; }
  if (len == 0 || !p) { seterr(err, errlen, "empty token"); return -1; }
  dce_rd_init(&r, p, len);
  if ((rc = dce_der_next(&r, &top)) != 0) { seterr(err, errlen, "token: %s", dce_der_strerror(rc)); return -1; }
  if (dce_rd_left(&r)) { seterr(err, errlen, "token: %zu trailing bytes", dce_rd_left(&r)); return -1; }

  if (top.tag == DCE_DER_CTX(1)) {
    t->kind = DCE_SPNEGO_RESP;
    return decode_resp(t, &top, err, errlen);
  }
  if (top.tag != DCE_DER_APP0) {
    seterr(err, errlen, "token: tag 0x%02x is neither a GSS InitialContextToken nor a NegTokenResp", top.tag);
    return -1;
  }
  dce_rd_init(&r, top.v, top.len);
  if ((rc = dce_der_expect(&r, DCE_DER_OID, &in)) != 0) {
    seterr(err, errlen, "InitialContextToken: thisMech: %s", rc == DCE_DER_EUNEXPECTED ? "not an OID" : dce_der_strerror(rc));
    return -1;
  }
  if (!oid_is(in.v, in.len, &dce_oid_spnego)) {
    char s[80];
    dce_oid_format(in.v, in.len, s, sizeof s);
    seterr(err, errlen, "InitialContextToken: mechanism %s is not SPNEGO", s);
    return -1;
  }
  if ((rc = dce_der_expect(&r, DCE_DER_CTX(0), &in)) != 0) {
    seterr(err, errlen, "InitialContextToken: %s", rc == DCE_DER_EUNEXPECTED ? "inner token is not a NegTokenInit" : dce_der_strerror(rc));
    return -1;
  }
  if (dce_rd_left(&r)) { seterr(err, errlen, "InitialContextToken: trailing bytes"); return -1; }
  t->kind = DCE_SPNEGO_INIT;
  return decode_init(t, &in, err, errlen);
}

/* ---------------------------------------------------------------- encoder */

/* Size of [n] { OCTET STRING len } */
static size_t wrapped_octets(size_t len) { return dce_der_size(dce_der_size(len)); }

static void put_wrapped(dce_buf *b, uint8_t ctx, uint8_t tag, const uint8_t *v, size_t len) {
  dce_der_put_hdr(b, ctx, dce_der_size(len));
  dce_der_put(b, tag, v, len);
}

static size_t mech_list_content(const dce_oid *mechs, size_t n) {
  size_t i, sz = 0;
  for (i = 0; i < n; i++) sz += dce_der_size(mechs[i].len);
  return sz;
}

int dce_spnego_mech_list(dce_buf *out, const dce_oid *mechs, size_t n) {
  size_t i;
  dce_der_put_hdr(out, DCE_DER_SEQUENCE, mech_list_content(mechs, n));
  for (i = 0; i < n; i++) dce_der_put(out, DCE_DER_OID, mechs[i].p, mechs[i].len);
  return out->err ? -1 : 0;
}

static int encode_init(const dce_spnego_tok *t, dce_buf *out, char *err, size_t errlen) {
  size_t i, mtl, seq, hints = 0, hn = 0, app, total;
  if (t->n_mechs == 0 || t->n_mechs > DCE_SPNEGO_MAX_MECHS) {
    seterr(err, errlen, "NegTokenInit needs 1..%d mechanisms", DCE_SPNEGO_MAX_MECHS);
    return -1;
  }
  for (i = 0; i < t->n_mechs; i++)
    if (!t->mechs[i].p || !oid_valid(t->mechs[i].p, t->mechs[i].len)) {
      seterr(err, errlen, "mechs[%zu]: malformed OID", i);
      return -1;
    }
  if (t->token_len > DCE_SPNEGO_MAX_TOKEN || t->mic_len > DCE_SPNEGO_MAX_TOKEN ||
      t->hint_name_len > DCE_SPNEGO_MAX_TOKEN) {
    seterr(err, errlen, "NegTokenInit field exceeds %d bytes", DCE_SPNEGO_MAX_TOKEN);
    return -1;
  }
  mtl = dce_der_size(mech_list_content(t->mechs, t->n_mechs));
  seq = dce_der_size(mtl);
  if (t->token) seq += wrapped_octets(t->token_len);
  if (t->has_neg_hints) {
    if (t->hint_name) hn = dce_der_size(dce_der_size(t->hint_name_len));
    hints = dce_der_size(dce_der_size(hn));
    seq += hints;
  }
  if (t->mic) seq += wrapped_octets(t->mic_len);
  app = dce_der_size(sizeof OID_SPNEGO) + dce_der_size(dce_der_size(seq));
  total = dce_der_size(app);
  if (total > DCE_SPNEGO_MAX_TOKEN) {
    seterr(err, errlen, "NegTokenInit of %zu bytes exceeds %d", total, DCE_SPNEGO_MAX_TOKEN);
    return -1;
  }
  dce_der_put_hdr(out, DCE_DER_APP0, app);
  dce_der_put(out, DCE_DER_OID, OID_SPNEGO, sizeof OID_SPNEGO);
  dce_der_put_hdr(out, DCE_DER_CTX(0), dce_der_size(seq));
  dce_der_put_hdr(out, DCE_DER_SEQUENCE, seq);
  dce_der_put_hdr(out, DCE_DER_CTX(0), mtl);
  dce_spnego_mech_list(out, t->mechs, t->n_mechs);
  if (t->token) put_wrapped(out, DCE_DER_CTX(2), DCE_DER_OCTETSTR, t->token, t->token_len);
  if (t->has_neg_hints) {
    dce_der_put_hdr(out, DCE_DER_CTX(3), dce_der_size(hn));
    dce_der_put_hdr(out, DCE_DER_SEQUENCE, hn);
    if (t->hint_name) put_wrapped(out, DCE_DER_CTX(0), DCE_DER_GENSTRING, t->hint_name, t->hint_name_len);
  }
  if (t->mic) put_wrapped(out, DCE_DER_CTX(t->has_neg_hints ? 4 : 3), DCE_DER_OCTETSTR, t->mic, t->mic_len);
  if (out->err) { seterr(err, errlen, "out of memory"); return -1; }
  return 0;
}

static int encode_resp(const dce_spnego_tok *t, dce_buf *out, char *err, size_t errlen) {
  size_t seq = 0, total;
  if (t->neg_state != DCE_NEG_ABSENT && (t->neg_state < 0 || t->neg_state > DCE_NEG_REQUEST_MIC)) {
    seterr(err, errlen, "negState %d is not defined", t->neg_state);
    return -1;
  }
  if (t->supported_mech.p && !oid_valid(t->supported_mech.p, t->supported_mech.len)) {
    seterr(err, errlen, "supportedMech: malformed OID");
    return -1;
  }
  if (t->token_len > DCE_SPNEGO_MAX_TOKEN || t->mic_len > DCE_SPNEGO_MAX_TOKEN) {
    seterr(err, errlen, "NegTokenResp field exceeds %d bytes", DCE_SPNEGO_MAX_TOKEN);
    return -1;
  }
  if (t->neg_state != DCE_NEG_ABSENT) seq += dce_der_size(dce_der_size(1));
  if (t->supported_mech.p) seq += dce_der_size(dce_der_size(t->supported_mech.len));
  if (t->token) seq += wrapped_octets(t->token_len);
  if (t->mic) seq += wrapped_octets(t->mic_len);
  total = dce_der_size(dce_der_size(seq));
  if (total > DCE_SPNEGO_MAX_TOKEN) {
    seterr(err, errlen, "NegTokenResp of %zu bytes exceeds %d", total, DCE_SPNEGO_MAX_TOKEN);
    return -1;
  }
  dce_der_put_hdr(out, DCE_DER_CTX(1), dce_der_size(seq));
  dce_der_put_hdr(out, DCE_DER_SEQUENCE, seq);
  if (t->neg_state != DCE_NEG_ABSENT) {
    uint8_t v = (uint8_t)t->neg_state;
    put_wrapped(out, DCE_DER_CTX(0), DCE_DER_ENUM, &v, 1);
  }
  if (t->supported_mech.p)
    put_wrapped(out, DCE_DER_CTX(1), DCE_DER_OID, t->supported_mech.p, t->supported_mech.len);
  if (t->token) put_wrapped(out, DCE_DER_CTX(2), DCE_DER_OCTETSTR, t->token, t->token_len);
  if (t->mic) put_wrapped(out, DCE_DER_CTX(3), DCE_DER_OCTETSTR, t->mic, t->mic_len);
  if (out->err) { seterr(err, errlen, "out of memory"); return -1; }
  return 0;
}

int dce_spnego_encode(const dce_spnego_tok *t, dce_buf *out, char *err, size_t errlen) {
  if (t->kind == DCE_SPNEGO_INIT) return encode_init(t, out, err, errlen);
  if (t->kind == DCE_SPNEGO_RESP) return encode_resp(t, out, err, errlen);
  seterr(err, errlen, "unknown token kind %d", t->kind);
  return -1;
}

/* ================================================================ negotiation
**
** When the mechListMIC is exchanged (RFC 4178 section 5, [MS-SPNG] 3.1.5.1):
** once the inner mechanism has completed, a side *needs* the exchange when the
** mechanism has integrity (mic_policy != NONE) and any of these hold:
**   - the mechanism says it is required (NTLM whose AUTHENTICATE carried a MIC);
**   - the negotiated mechanism was not the initiator's first choice (the
**     acceptor then answers request-mic; the MIC protects against downgrade);
**   - the peer asked with request-mic or already sent its own MIC;
**   - DCE_SPNEGO_REQUIRE_MIC.
** A side that needs it sends its MIC once (the client with its last mech token,
** the server in its final accept-completed reply) and must verify the peer's
** before it calls the negotiation complete. A client that gets the server's
** MIC together with accept-completed verifies it and sends nothing more (the
** way Windows ends a Kerberos exchange). A MIC that does not verify, a MIC
** before the mech completed, or a MIC over a mech without integrity, is an
** error; so is a missing MIC where it is needed.
*/

enum { ST_START = 0, ST_WAIT_FIRST, ST_WAIT, ST_DONE, ST_FAILED };

static int sp_fail(dce_spnego *s, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  s->code = code;
  s->state = ST_FAILED;
  return DCE_SPNEGO_ERROR;
}

int dce_spnego_init(dce_spnego *s, int role, const dce_mech *const *mechs,
                    void *const *mctx, size_t n, unsigned flags) {
  size_t i;
  memset(s, 0, sizeof *s);
  s->role = role;
  s->sel = -1;
  s->flags = flags;
  dce_buf_init(&s->mech_types);
  dce_buf_init(&s->tok);
  dce_buf_init(&s->mic);
  s->tok.limit = s->mic.limit = s->mech_types.limit = DCE_SPNEGO_MAX_TOKEN;
  if ((role != DCE_SPNEGO_CLIENT && role != DCE_SPNEGO_SERVER) || !mechs || n == 0 ||
      n > DCE_SPNEGO_MAX_MECHS) {
    sp_fail(s, DCE_SPNEGO_E_STATE, "spnego init: need 1..%d mechanisms and a role", DCE_SPNEGO_MAX_MECHS);
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (!mechs[i] || !mechs[i]->step || !mechs[i]->oid || !oid_valid(mechs[i]->oid, mechs[i]->oid_len)) {
      sp_fail(s, DCE_SPNEGO_E_STATE, "spnego init: mechanism %zu has no step or a bad OID", i);
      return -1;
    }
    s->mechs[i] = mechs[i];
    s->mctx[i] = mctx ? mctx[i] : NULL;
  }
  s->n = n;
  s->state = ST_START;
  return 0;
}

void dce_spnego_free(dce_spnego *s) {
  dce_buf_free(&s->mech_types);
  dce_buf_free(&s->tok);
  dce_buf_free(&s->mic);
}

const dce_mech *dce_spnego_mech(const dce_spnego *s) { return s->sel >= 0 ? s->mechs[s->sel] : NULL; }
void *dce_spnego_mech_ctx(const dce_spnego *s) { return s->sel >= 0 ? s->mctx[s->sel] : NULL; }
int dce_spnego_complete(const dce_spnego *s) { return s->state == ST_DONE; }
int dce_spnego_errcode(const dce_spnego *s) { return s->code; }
const char *dce_spnego_errmsg(const dce_spnego *s) { return s->code ? s->err : ""; }
uint32_t dce_spnego_mech_status(const dce_spnego *s) { return s->code == DCE_SPNEGO_E_MECH ? s->mech_status : 0; }

static const char *mech_name(const dce_spnego *s) {
  const dce_mech *m = dce_spnego_mech(s);
  return m && m->name ? m->name : "mechanism";
}

static void oid_text(const uint8_t *p, size_t len, char *out, size_t outlen) {
  const char *nm = dce_oid_name(p, len);
  if (nm) snprintf(out, outlen, "%s", nm);
  else dce_oid_format(p, len, out, outlen);
}

/* Run the selected mech for one leg; its token lands in s->tok. */
static int run_mech(dce_spnego *s, const uint8_t *in, size_t in_len) {
  const dce_mech *m = s->mechs[s->sel];
  char merr[200];
  uint32_t st = 0;
  int r;
  merr[0] = 0;
  dce_buf_reset(&s->tok);
  r = m->step(s->mctx[s->sel], in, in_len, &s->tok, &st, merr, sizeof merr);
  if (r < 0) {
    s->mech_status = st;
    return sp_fail(s, DCE_SPNEGO_E_MECH, "%s: %s", mech_name(s), merr[0] ? merr : "failed");
  }
  if (s->tok.err)
    return sp_fail(s, s->tok.err == DCE_BUF_ENOMEM ? DCE_SPNEGO_E_NOMEM : DCE_SPNEGO_E_LIMIT,
                   "%s: token too large or out of memory", mech_name(s));
  if (r == 0) s->mech_done = 1;
  return 0;
}

static int mic_policy(const dce_spnego *s) {
  const dce_mech *m = s->mechs[s->sel];
  int p;
  if (!m->get_mic || !m->verify_mic) return DCE_MECH_MIC_NONE;
  if (!m->mic_policy) return DCE_MECH_MIC_OPTIONAL;
  p = m->mic_policy(s->mctx[s->sel]);
  return p < DCE_MECH_MIC_NONE || p > DCE_MECH_MIC_REQUIRED ? DCE_MECH_MIC_REQUIRED : p;
}

/* After the mech completed: decide need_mic, verify the peer's MIC if any,
** make ours if needed and not made yet. */
static int handle_mic(dce_spnego *s, const dce_spnego_tok *t, int may_send) {
  const dce_mech *m = s->mechs[s->sel];
  int pol = mic_policy(s);
  if (t->mic && pol == DCE_MECH_MIC_NONE)
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "peer sent a mechListMIC but %s offers no integrity", mech_name(s));
  if (pol != DCE_MECH_MIC_NONE &&
      (pol == DCE_MECH_MIC_REQUIRED || s->mic_wanted || t->mic || (s->flags & DCE_SPNEGO_REQUIRE_MIC)))
    s->need_mic = 1;
  if (t->mic) {
    if (s->mic_ok) return sp_fail(s, DCE_SPNEGO_E_PROTO, "peer sent a second mechListMIC");
    if (m->verify_mic(s->mctx[s->sel], s->mech_types.p, s->mech_types.len, t->mic, t->mic_len) != 0)
      return sp_fail(s, DCE_SPNEGO_E_MIC_BAD, "mechListMIC from the %s does not verify (%s)",
                     s->role == DCE_SPNEGO_CLIENT ? "server" : "client", mech_name(s));
    s->mic_ok = 1;
  }
  if (s->need_mic && !s->mic_sent && may_send) {
    dce_buf_reset(&s->mic);
    if (m->get_mic(s->mctx[s->sel], s->mech_types.p, s->mech_types.len, &s->mic) != 0 || s->mic.err)
      return sp_fail(s, DCE_SPNEGO_E_MECH, "%s: cannot make the mechListMIC", mech_name(s));
    s->mic_sent = 1;
  }
  return 0;
}

/* At completion, after any mechListMIC work: let the mech restore its state. */
static void maybe_after_mic(dce_spnego *s) {
  const dce_mech *m = s->mechs[s->sel];
  if ((s->mic_sent || s->mic_ok) && !s->reset_done) {
    s->reset_done = 1;
    if (m->after_mic) m->after_mic(s->mctx[s->sel]);
  }
}

static int emit(dce_spnego *s, const dce_spnego_tok *t, dce_buf *out) {
  char e[128];
  if (dce_spnego_encode(t, out, e, sizeof e) != 0)
    return sp_fail(s, out->err == DCE_BUF_ENOMEM ? DCE_SPNEGO_E_NOMEM : DCE_SPNEGO_E_LIMIT, "encoding: %s", e);
  return 0;
}

/* ---------------------------------------------------------------- client */

static int client_start(dce_spnego *s, dce_buf *out) {
  dce_spnego_tok t;
  size_t i, k;
  char first[sizeof s->err];
  int first_code = 0;
  uint32_t first_status = 0;
  dce_spnego_tok_init(&t, DCE_SPNEGO_INIT);
  /* The optimistic token of the most preferred mechanism that can start;
  ** those that cannot are dropped from the offer. */
  first[0] = 0;
  for (i = 0; i < s->n; i++) {
    s->sel = (int)i;
    s->mech_done = 0;
    if (run_mech(s, NULL, 0) == 0) break;
    if (!first_code) {
      first_code = s->code;
      first_status = s->mech_status;
      snprintf(first, sizeof first, "%s", s->err);
    } else {
      strncat(first, "; ", sizeof first - strlen(first) - 1);
      strncat(first, s->err, sizeof first - strlen(first) - 1);
    }
    s->dropped[i] = 1;
    s->state = ST_START;
    s->code = 0;
  }
  if (i == s->n) {
    s->sel = -1;
    s->mech_status = first_status;
    return sp_fail(s, first_code, "%s", first);
  }
  s->opt = (int)i;
  for (i = 0, k = 0; i < s->n; i++) {
    if (s->dropped[i]) continue;
    t.mechs[k].p = s->mechs[i]->oid;
    t.mechs[k].len = s->mechs[i]->oid_len;
    k++;
  }
  t.n_mechs = k;
  if (dce_spnego_mech_list(&s->mech_types, t.mechs, t.n_mechs) != 0)
    return sp_fail(s, DCE_SPNEGO_E_NOMEM, "out of memory");
  if (s->tok.len) { t.token = s->tok.p; t.token_len = s->tok.len; }
  if (emit(s, &t, out)) return DCE_SPNEGO_ERROR;
  s->state = ST_WAIT_FIRST;
  return DCE_SPNEGO_CONTINUE;
}

static int client_step(dce_spnego *s, const dce_spnego_tok *t, dce_buf *out) {
  dce_spnego_tok r;
  int stepped = 0;
  char o1[80];

  if (t->kind != DCE_SPNEGO_RESP)
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "expected a NegTokenResp from the server, got a NegTokenInit");
  if (t->neg_state == DCE_NEG_REJECT)
    return sp_fail(s, DCE_SPNEGO_E_REJECTED, "server rejected the negotiation (negState reject)%s",
                   s->sel >= 0 && s->state == ST_WAIT ? "" : "; no acceptable mechanism?");
  if (s->state == ST_WAIT_FIRST) {
    size_t i;
    if (t->neg_state == DCE_NEG_ABSENT)
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "first NegTokenResp lacks negState");
    if (!t->supported_mech.p)
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "first NegTokenResp lacks supportedMech");
    for (i = 0; i < s->n; i++)
      if (!s->dropped[i] &&
          dce_oid_match(t->supported_mech.p, t->supported_mech.len, s->mechs[i]->oid, s->mechs[i]->oid_len)) break;
    if (i == s->n) {
      oid_text(t->supported_mech.p, t->supported_mech.len, o1, sizeof o1);
      return sp_fail(s, DCE_SPNEGO_E_NO_MECH, "server chose %s, which we did not offer", o1);
    }
    if ((int)i != s->opt) {
      /* Not our optimistic mech: start the chosen one from scratch and insist
      ** on the MIC exchange (RFC 4178 section 5, case c). */
      s->sel = (int)i;
      s->mech_done = 0;
      s->mic_wanted = 1;
      if (run_mech(s, t->token, t->token ? t->token_len : 0)) return DCE_SPNEGO_ERROR;
      stepped = 1;
    }
    if (t->neg_state == DCE_NEG_REQUEST_MIC) s->mic_wanted = 1;
    s->state = ST_WAIT;
  } else {
    if (t->supported_mech.p &&
        !dce_oid_match(t->supported_mech.p, t->supported_mech.len, s->mechs[s->sel]->oid, s->mechs[s->sel]->oid_len))
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "server changed supportedMech mid-negotiation");
    if (t->neg_state == DCE_NEG_REQUEST_MIC) s->mic_wanted = 1;
  }

  if (!stepped) {
    dce_buf_reset(&s->tok);
    if (t->token) {
      if (s->mech_done)
        return sp_fail(s, DCE_SPNEGO_E_PROTO, "server sent a mech token after %s completed", mech_name(s));
      if (run_mech(s, t->token, t->token_len)) return DCE_SPNEGO_ERROR;
    } else if (!s->mech_done) {
      if (t->neg_state == DCE_NEG_ACCEPT_COMPLETED)
        return sp_fail(s, DCE_SPNEGO_E_PROTO, "server says accept-completed but %s is not complete", mech_name(s));
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "server sent no mech token and %s is not complete", mech_name(s));
    }
  }

  if (s->mech_done) {
    int mic_before = s->mic_sent;
    /* After accept-completed the server wants nothing more: verify its MIC,
    ** but do not answer with ours (Windows ends Kerberos exchanges so). */
    if (handle_mic(s, t, t->neg_state != DCE_NEG_ACCEPT_COMPLETED)) return DCE_SPNEGO_ERROR;
    dce_spnego_tok_init(&r, DCE_SPNEGO_RESP);
    if (s->tok.len) { r.token = s->tok.p; r.token_len = s->tok.len; }
    if (s->mic_sent && !mic_before) { r.mic = s->mic.p; r.mic_len = s->mic.len; }
  } else {
    if (t->mic) return sp_fail(s, DCE_SPNEGO_E_PROTO, "server sent mechListMIC before %s completed", mech_name(s));
    dce_spnego_tok_init(&r, DCE_SPNEGO_RESP);
    if (s->tok.len) { r.token = s->tok.p; r.token_len = s->tok.len; }
  }

  if (t->neg_state == DCE_NEG_ACCEPT_COMPLETED) {
    if (!s->mech_done)
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "server says accept-completed but %s is not complete", mech_name(s));
    if (s->need_mic && !s->mic_ok)
      return sp_fail(s, DCE_SPNEGO_E_MIC_MISSING, "server completed without the required mechListMIC");
    if (r.token || r.mic)
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "server completed but we still have a %s to send",
                     r.token ? "mech token" : "mechListMIC");
    maybe_after_mic(s);
    s->state = ST_DONE;
    return DCE_SPNEGO_DONE;
  }
  if (!r.token && !r.mic)
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "server expects more but %s has nothing to send", mech_name(s));
  if (emit(s, &r, out)) return DCE_SPNEGO_ERROR;
  return DCE_SPNEGO_CONTINUE;
}

/* ---------------------------------------------------------------- server */

/* Finish a server leg: decide the reply from the mech state. `first` adds
** supportedMech (the first reply). */
static int server_reply(dce_spnego *s, const dce_spnego_tok *t, int first, dce_buf *out) {
  dce_spnego_tok r;
  int done = 0;
  dce_spnego_tok_init(&r, DCE_SPNEGO_RESP);
  if (first) { r.supported_mech.p = s->sel_oid; r.supported_mech.len = s->sel_oid_len; }
  if (s->mech_done) {
    int mic_before = s->mic_sent;
    if (handle_mic(s, t, 1)) return DCE_SPNEGO_ERROR;
    if (s->need_mic && !s->mic_ok && !s->tok.len)
      return sp_fail(s, DCE_SPNEGO_E_MIC_MISSING, "client did not send the required mechListMIC");
    if (s->tok.len) { r.token = s->tok.p; r.token_len = s->tok.len; }
    if (s->mic_sent && !mic_before) { r.mic = s->mic.p; r.mic_len = s->mic.len; }
    done = !(s->need_mic && !s->mic_ok);
  } else {
    if (t->mic) return sp_fail(s, DCE_SPNEGO_E_PROTO, "client sent mechListMIC before %s completed", mech_name(s));
    if (s->tok.len) { r.token = s->tok.p; r.token_len = s->tok.len; }
    else if (!first)
      return sp_fail(s, DCE_SPNEGO_E_MECH, "%s produced no token and is not complete", mech_name(s));
  }
  if (done) r.neg_state = DCE_NEG_ACCEPT_COMPLETED;
  else if (first && s->mic_wanted) r.neg_state = DCE_NEG_REQUEST_MIC;
  else r.neg_state = DCE_NEG_ACCEPT_INCOMPLETE;
  if (emit(s, &r, out)) return DCE_SPNEGO_ERROR;
  if (done) {
    maybe_after_mic(s);
    s->state = ST_DONE;
    return DCE_SPNEGO_DONE;
  }
  s->state = ST_WAIT;
  return DCE_SPNEGO_CONTINUE;
}

static int server_start(dce_spnego *s, const dce_spnego_tok *t, dce_buf *out) {
  size_t i, j = 0;
  if (t->kind != DCE_SPNEGO_INIT)
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "expected a NegTokenInit from the client, got a NegTokenResp");
  if (t->n_mechs == 0 || !t->mech_types)
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "NegTokenInit offers no mechanisms");
  for (i = 0; i < t->n_mechs; i++) {
    if (oid_is(t->mechs[i].p, t->mechs[i].len, &dce_oid_negoex)) continue;   /* never chosen */
    for (j = 0; j < s->n; j++)
      if (dce_oid_match(t->mechs[i].p, t->mechs[i].len, s->mechs[j]->oid, s->mechs[j]->oid_len)) break;
    if (j < s->n) break;
  }
  if (i == t->n_mechs) {
    char list[160], o[64];
    size_t k, off = 0;
    list[0] = 0;
    for (k = 0; k < t->n_mechs && off + 2 < sizeof list; k++) {
      int w;
      oid_text(t->mechs[k].p, t->mechs[k].len, o, sizeof o);
      w = snprintf(list + off, sizeof list - off, "%s%s", k ? ", " : "", o);
      if (w < 0) break;
      off += (size_t)w < sizeof list - off ? (size_t)w : sizeof list - off - 1;
    }
    return sp_fail(s, DCE_SPNEGO_E_NO_MECH, "no common mechanism (client offered: %s)", list);
  }
  s->sel = (int)j;
  memcpy(s->sel_oid, t->mechs[i].p, t->mechs[i].len);   /* oid_valid: <= MAX_OID */
  s->sel_oid_len = t->mechs[i].len;
  if (dce_buf_put(&s->mech_types, t->mech_types, t->mech_types_len) != 0)
    return sp_fail(s, DCE_SPNEGO_E_NOMEM, "out of memory");
  dce_buf_reset(&s->tok);
  if (i == 0) {
    /* The client's preferred mech: use its optimistic token if it sent one. */
    if (t->token && run_mech(s, t->token, t->token_len)) return DCE_SPNEGO_ERROR;
  } else {
    /* Any optimistic token was for another mech: drop it, ask for the MIC. */
    s->mic_wanted = 1;
  }
  return server_reply(s, t, 1, out);
}

static int server_step(dce_spnego *s, const dce_spnego_tok *t, dce_buf *out) {
  if (t->kind != DCE_SPNEGO_RESP)
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "expected a NegTokenResp from the client, got a NegTokenInit");
  if (t->neg_state == DCE_NEG_REJECT)
    return sp_fail(s, DCE_SPNEGO_E_REJECTED, "client abandoned the negotiation (negState reject)");
  if (t->supported_mech.p &&
      !dce_oid_match(t->supported_mech.p, t->supported_mech.len, s->sel_oid, s->sel_oid_len))
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "client named another mechanism in its NegTokenResp");
  dce_buf_reset(&s->tok);
  if (t->token) {
    if (s->mech_done)
      return sp_fail(s, DCE_SPNEGO_E_PROTO, "client sent a mech token after %s completed", mech_name(s));
    if (run_mech(s, t->token, t->token_len)) return DCE_SPNEGO_ERROR;
  } else if (!s->mech_done) {
    return sp_fail(s, DCE_SPNEGO_E_PROTO, "client sent no mech token and %s is not complete", mech_name(s));
  }
  return server_reply(s, t, 0, out);
}

/* ---------------------------------------------------------------- driver */

int dce_spnego_step(dce_spnego *s, const uint8_t *in, size_t in_len, dce_buf *out) {
  dce_spnego_tok t;
  char e[160];
  int rc;
  size_t out0 = out->len;

  if (s->state == ST_DONE || s->state == ST_FAILED)
    return sp_fail(s, DCE_SPNEGO_E_STATE, "spnego: step after the negotiation ended");
  if (s->role == DCE_SPNEGO_CLIENT && s->state == ST_START) {
    if (in && in_len) return sp_fail(s, DCE_SPNEGO_E_STATE, "spnego: the client's first step takes no input");
    return client_start(s, out);
  }
  if (dce_spnego_decode(&t, in, in_len, e, sizeof e) != 0) {
    rc = sp_fail(s, in_len > DCE_SPNEGO_MAX_TOKEN ? DCE_SPNEGO_E_LIMIT : DCE_SPNEGO_E_DECODE,
                 "malformed SPNEGO token from the %s: %s",
                 s->role == DCE_SPNEGO_CLIENT ? "server" : "client", e);
  } else if (s->role == DCE_SPNEGO_CLIENT) {
    rc = client_step(s, &t, out);
  } else if (s->state == ST_START) {
    rc = server_start(s, &t, out);
  } else {
    rc = server_step(s, &t, out);
  }
  if (rc == DCE_SPNEGO_ERROR && s->role == DCE_SPNEGO_SERVER &&
      s->code != DCE_SPNEGO_E_REJECTED) {
    /* Tell the client: a NegTokenResp with negState reject (RFC 4178 4.2.2). */
    dce_spnego_tok r;
    char e2[64];
    out->len = out0;
    out->err = 0;
    dce_spnego_tok_init(&r, DCE_SPNEGO_RESP);
    r.neg_state = DCE_NEG_REJECT;
    dce_spnego_encode(&r, out, e2, sizeof e2);
  } else if (rc == DCE_SPNEGO_ERROR) {
    out->len = out0;
  }
  return rc;
}
