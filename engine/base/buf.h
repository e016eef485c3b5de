/*
** buf.h - byte buffers for the engine: a growable writer and a bounded reader.
**
** Invariants:
**   dce_buf: len <= cap; after any failed operation `err` is set and every
**            later put is a no-op, so callers may check once at the end.
**   dce_rd:  off <= len always; every get checks the bytes left first, so a
**            count read from the wire can never move `off` past `len` or wrap.
*/
#ifndef DCE_BUF_H
#define DCE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ writer */

typedef struct dce_buf {
  uint8_t *p;      /* storage (malloc'd), NULL until first growth */
  size_t len;      /* bytes written */
  size_t cap;      /* bytes allocated */
  size_t limit;    /* hard cap on len (0 = SIZE_MAX) */
  int err;         /* sticky: 0 ok, DCE_BUF_ENOMEM or DCE_BUF_ELIMIT */
} dce_buf;

#define DCE_BUF_ENOMEM 1
#define DCE_BUF_ELIMIT 2

void dce_buf_init(dce_buf *b);
void dce_buf_free(dce_buf *b);
void dce_buf_reset(dce_buf *b);                  /* len = 0, err = 0, keeps memory */
int dce_buf_grow(dce_buf *b, size_t extra);      /* slow path of dce_buf_reserve */

/* Make room for `n` more bytes. Returns 0, or -1 (and sets err). */
static inline int dce_buf_reserve(dce_buf *b, size_t n) {
  if (b->err) return -1;
  if (n <= b->cap - b->len) return 0;
  return dce_buf_grow(b, n);
}

static inline int dce_buf_put(dce_buf *b, const void *s, size_t n) {
  if (dce_buf_reserve(b, n)) return -1;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

static inline int dce_buf_zero(dce_buf *b, size_t n) {
  if (dce_buf_reserve(b, n)) return -1;
  if (n) memset(b->p + b->len, 0, n);
  b->len += n;
  return 0;
}

/* Pad with zeros until (len - base) is a multiple of `a` (a power of two). */
static inline int dce_buf_align(dce_buf *b, size_t a, size_t base) {
  size_t pad = (a - ((b->len - base) & (a - 1))) & (a - 1);
  return dce_buf_zero(b, pad);
}

/* Store little-endian (le != 0) or big-endian values. */
static inline void dce_st16(uint8_t *q, uint16_t v, int le) {
  if (le) { q[0] = (uint8_t)v; q[1] = (uint8_t)(v >> 8); }
  else    { q[1] = (uint8_t)v; q[0] = (uint8_t)(v >> 8); }
}
static inline void dce_st32(uint8_t *q, uint32_t v, int le) {
  if (le) { q[0] = (uint8_t)v; q[1] = (uint8_t)(v >> 8); q[2] = (uint8_t)(v >> 16); q[3] = (uint8_t)(v >> 24); }
  else    { q[3] = (uint8_t)v; q[2] = (uint8_t)(v >> 8); q[1] = (uint8_t)(v >> 16); q[0] = (uint8_t)(v >> 24); }
}
static inline void dce_st64(uint8_t *q, uint64_t v, int le) {
  if (le) { dce_st32(q, (uint32_t)v, 1); dce_st32(q + 4, (uint32_t)(v >> 32), 1); }
  else    { dce_st32(q + 4, (uint32_t)v, 0); dce_st32(q, (uint32_t)(v >> 32), 0); }
}
static inline uint16_t dce_ld16(const uint8_t *q, int le) {
  return le ? (uint16_t)(q[0] | (q[1] << 8)) : (uint16_t)(q[1] | (q[0] << 8));
}
static inline uint32_t dce_ld32(const uint8_t *q, int le) {
  return le ? ((uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16) | ((uint32_t)q[3] << 24))
            : ((uint32_t)q[3] | ((uint32_t)q[2] << 8) | ((uint32_t)q[1] << 16) | ((uint32_t)q[0] << 24));
}
static inline uint64_t dce_ld64(const uint8_t *q, int le) {
  return le ? ((uint64_t)dce_ld32(q, 1) | ((uint64_t)dce_ld32(q + 4, 1) << 32))
            : ((uint64_t)dce_ld32(q + 4, 0) | ((uint64_t)dce_ld32(q, 0) << 32));
}

static inline int dce_buf_u8(dce_buf *b, uint8_t v) {
  if (dce_buf_reserve(b, 1)) return -1;
  b->p[b->len++] = v;
  return 0;
}
static inline int dce_buf_u16(dce_buf *b, uint16_t v, int le) {
  if (dce_buf_reserve(b, 2)) return -1;
  dce_st16(b->p + b->len, v, le); b->len += 2;
  return 0;
}
static inline int dce_buf_u32(dce_buf *b, uint32_t v, int le) {
  if (dce_buf_reserve(b, 4)) return -1;
  dce_st32(b->p + b->len, v, le); b->len += 4;
  return 0;
}
static inline int dce_buf_u64(dce_buf *b, uint64_t v, int le) {
  if (dce_buf_reserve(b, 8)) return -1;
  dce_st64(b->p + b->len, v, le); b->len += 8;
  return 0;
}

/* ------------------------------------------------------------------ reader */

typedef struct dce_rd {
  const uint8_t *p;
  size_t len;      /* bytes available */
  size_t off;      /* read position, off <= len */
} dce_rd;

static inline void dce_rd_init(dce_rd *r, const void *p, size_t len) {
  r->p = (const uint8_t *)p; r->len = len; r->off = 0;
}
static inline size_t dce_rd_left(const dce_rd *r) { return r->len - r->off; }
/* True when n more bytes are there (no arithmetic that can wrap). */
static inline int dce_rd_has(const dce_rd *r, size_t n) { return n <= r->len - r->off; }

static inline int dce_rd_skip(dce_rd *r, size_t n) {
  if (!dce_rd_has(r, n)) return -1;
  r->off += n; return 0;
}
/* Skip padding so (off - base) is a multiple of a (power of two). */
static inline int dce_rd_align(dce_rd *r, size_t a, size_t base) {
  size_t pad = (a - ((r->off - base) & (a - 1))) & (a - 1);
  return dce_rd_skip(r, pad);
}
static inline int dce_rd_u8(dce_rd *r, uint8_t *v) {
  if (!dce_rd_has(r, 1)) return -1;
  *v = r->p[r->off++]; return 0;
}
static inline int dce_rd_u16(dce_rd *r, uint16_t *v, int le) {
  if (!dce_rd_has(r, 2)) return -1;
  *v = dce_ld16(r->p + r->off, le); r->off += 2; return 0;
}
static inline int dce_rd_u32(dce_rd *r, uint32_t *v, int le) {
  if (!dce_rd_has(r, 4)) return -1;
  *v = dce_ld32(r->p + r->off, le); r->off += 4; return 0;
}
static inline int dce_rd_u64(dce_rd *r, uint64_t *v, int le) {
  if (!dce_rd_has(r, 8)) return -1;
  *v = dce_ld64(r->p + r->off, le); r->off += 8; return 0;
}
static inline int dce_rd_bytes(dce_rd *r, const uint8_t **s, size_t n) {
  if (!dce_rd_has(r, n)) return -1;
  *s = r->p + r->off; r->off += n; return 0;
}

/* ------------------------------------------------------------------ uuids */

/* A UUID as 16 bytes in the on-the-wire little-endian layout of NDR
** (time_low, time_mid, time_hi_and_version little-endian; the rest as is). */
typedef struct dce_uuid { uint8_t b[16]; } dce_uuid;

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (36 chars, hex either case).
** Returns 0 or -1. Formats into 37 bytes (lower case, NUL terminated). */
int dce_uuid_parse(dce_uuid *u, const char *s, size_t len);
void dce_uuid_format(const dce_uuid *u, char out[37]);
/* Convert between the little-endian layout and a big-endian drep stream. */
void dce_uuid_swap(dce_uuid *u);

#endif
