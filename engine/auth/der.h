/*
** der.h - a minimal strict DER (X.690) reader and writer, enough for the
** GSS-API / SPNEGO tokens of RFC 2743 and RFC 4178.
**
** What "strict" means here:
**   - tags are one byte (tag numbers 0..30); the high-tag-number form is refused;
**   - lengths are definite, short form or long form of 1..4 bytes, and minimal
**     (0x81 0x05 or 0x82 0x00 0x90 are refused); indefinite (0x80) is refused;
**   - every length is checked against the bytes that are actually there, with
**     no arithmetic that can wrap; nothing is ever read past the input;
**   - dce_der_check walks nested constructed values with a depth cap.
** Values are never copied: a dce_der_tlv points into the caller's input.
*/
#ifndef DCE_DER_H
#define DCE_DER_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

#if !defined(DCE_DER_MAX_DEPTH)
#define DCE_DER_MAX_DEPTH 8          /* nesting cap of dce_der_check */
#endif

/* Universal and common tags (class and constructed bits included). */
#define DCE_DER_BITSTRING  0x03
#define DCE_DER_OCTETSTR   0x04
#define DCE_DER_OID        0x06
#define DCE_DER_ENUM       0x0a
#define DCE_DER_GENSTRING  0x1b
#define DCE_DER_SEQUENCE   0x30
#define DCE_DER_APP0       0x60      /* [APPLICATION 0] constructed */
#define DCE_DER_CTX(n)     (0xa0 | (n)) /* [n] constructed (explicit tagging) */

/* Decode errors (closed set). */
enum {
  DCE_DER_OK = 0,
  DCE_DER_ETRUNC,      /* header or value runs past the end of the input */
  DCE_DER_ETAG,        /* high-tag-number form */
  DCE_DER_EINDEF,      /* indefinite length */
  DCE_DER_ELEN,        /* length field longer than 4 bytes */
  DCE_DER_ENONMIN,     /* length not in its minimal form */
  DCE_DER_EDEPTH,      /* nesting deeper than DCE_DER_MAX_DEPTH */
  DCE_DER_EUNEXPECTED  /* another tag than the one required */
};

/* One decoded element; all pointers are into the input. */
typedef struct dce_der_tlv {
  uint8_t tag;
  const uint8_t *tlv;     /* start of the whole element (tag byte) */
  size_t tlv_len;         /* header + value */
  const uint8_t *v;       /* value */
  size_t len;             /* value length */
} dce_der_tlv;

/* Read the next element from r. On success r->off moves past it. Returns
** DCE_DER_OK or an error code (r unchanged). */
int dce_der_next(dce_rd *r, dce_der_tlv *t);
/* dce_der_next, and the tag must be `tag` (else DCE_DER_EUNEXPECTED). */
int dce_der_expect(dce_rd *r, uint8_t tag, dce_der_tlv *t);
/* The next tag byte, or -1 at the end. */
int dce_der_peek(const dce_rd *r);
/* Check that p[0..len) is a sequence of well-formed elements, descending into
** constructed ones to at most `depth` levels. */
int dce_der_check(const uint8_t *p, size_t len, int depth);
const char *dce_der_strerror(int code);

/* ---------------------------------------------------------------- writer */
/* Bytes taken by the tag and length of an element with `len` value bytes. */
size_t dce_der_hdr_size(size_t len);
/* Size of a whole element with `len` value bytes. */
static inline size_t dce_der_size(size_t len) { return dce_der_hdr_size(len) + len; }
/* Write a tag and minimal length; the caller writes the `len` value bytes. */
int dce_der_put_hdr(dce_buf *b, uint8_t tag, size_t len);
/* Write a whole primitive element. */
int dce_der_put(dce_buf *b, uint8_t tag, const void *v, size_t len);

#endif
