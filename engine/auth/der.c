/*
** der.c - strict DER reading and writing (see der.h for what "strict" means).
*/
#include "auth/der.h"

/* Lengths above this cannot be represented by our 4-byte long form. */
#define DER_LEN_MAX 0xffffffffu

int dce_der_next(dce_rd *r, dce_der_tlv *t) {
  size_t off = r->off, left = dce_rd_left(r), len, hdr;
  const uint8_t *q = r->p + off;
  uint8_t l0;

  if (left < 2) return DCE_DER_ETRUNC;
  if ((q[0] & 0x1f) == 0x1f) return DCE_DER_ETAG;
  l0 = q[1];
  if (l0 < 0x80) {
    len = l0; hdr = 2;
  } else {
    size_t n = l0 & 0x7f, i;
    if (n == 0) return DCE_DER_EINDEF;
    if (n > 4) return DCE_DER_ELEN;
    if (left - 2 < n) return DCE_DER_ETRUNC;
    if (q[2] == 0) return DCE_DER_ENONMIN;        /* leading zero byte */
    len = 0;
    for (i = 0; i < n; i++) len = (len << 8) | q[2 + i];
    if (len < 0x80) return DCE_DER_ENONMIN;        /* fits the short form */
    hdr = 2 + n;
  }
  if (len > left - hdr) return DCE_DER_ETRUNC;     /* left >= hdr here */
  t->tag = q[0];
  t->tlv = q;
  t->tlv_len = hdr + len;
  t->v = q + hdr;
  t->len = len;
  r->off = off + hdr + len;
  return DCE_DER_OK;
}

int dce_der_expect(dce_rd *r, uint8_t tag, dce_der_tlv *t) {
  size_t off = r->off;
  int rc = dce_der_next(r, t);
  if (rc) return rc;
  if (t->tag != tag) { r->off = off; return DCE_DER_EUNEXPECTED; }
  return DCE_DER_OK;
}

int dce_der_peek(const dce_rd *r) {
  return dce_rd_left(r) ? r->p[r->off] : -1;
}

int dce_der_check(const uint8_t *p, size_t len, int depth) {
  dce_rd r;
  dce_der_tlv t;
  int rc;
  if (depth <= 0) return DCE_DER_EDEPTH;
  dce_rd_init(&r, p, len);
  while (dce_rd_left(&r)) {
    if ((rc = dce_der_next(&r, &t)) != 0) return rc;
    if ((t.tag & 0x20) && (rc = dce_der_check(t.v, t.len, depth - 1)) != 0) return rc;
  }
  return DCE_DER_OK;
}

const char *dce_der_strerror(int code) {
  switch (code) {
  case DCE_DER_OK: return "ok";
  case DCE_DER_ETRUNC: return "element runs past the end of the token";
  case DCE_DER_ETAG: return "multi-byte tag";
  case DCE_DER_EINDEF: return "indefinite length (not DER)";
  case DCE_DER_ELEN: return "length field longer than 4 bytes";
  case DCE_DER_ENONMIN: return "non-minimal length encoding (not DER)";
  case DCE_DER_EDEPTH: return "nesting too deep";
  case DCE_DER_EUNEXPECTED: return "unexpected tag";
  default: return "unknown DER error";
  }
}

/* ---------------------------------------------------------------- writer */

size_t dce_der_hdr_size(size_t len) {
  if (len < 0x80) return 2;
  if (len <= 0xff) return 3;
  if (len <= 0xffff) return 4;
  if (len <= 0xffffff) return 5;
  return 6;
}

int dce_der_put_hdr(dce_buf *b, uint8_t tag, size_t len) {
  uint8_t h[6];
  size_t n = dce_der_hdr_size(len), i;
  if (len > DER_LEN_MAX) { if (!b->err) b->err = DCE_BUF_ELIMIT; return -1; }
  h[0] = tag;
  if (n == 2) h[1] = (uint8_t)len;
  else {
    h[1] = (uint8_t)(0x80 | (n - 2));
    for (i = 0; i < n - 2; i++) h[n - 1 - i] = (uint8_t)(len >> (8 * i));
  }
  return dce_buf_put(b, h, n);
}

int dce_der_put(dce_buf *b, uint8_t tag, const void *v, size_t len) {
  if (dce_der_put_hdr(b, tag, len)) return -1;
  return dce_buf_put(b, v, len);
}
