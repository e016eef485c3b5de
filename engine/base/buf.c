/*
** buf.c - slow paths of the byte buffers and UUID text conversion.
*/
#include <stdlib.h>
#include <stdio.h>
#include "base/buf.h"

void dce_buf_init(dce_buf *b) {
  b->p = NULL; b->len = b->cap = 0; b->limit = 0; b->err = 0;
}

void dce_buf_free(dce_buf *b) {
  free(b->p);
  dce_buf_init(b);
}

void dce_buf_reset(dce_buf *b) {
  b->len = 0; b->err = 0;
}

/* Grow geometrically; every sum is checked so a huge `extra` cannot wrap. */
int dce_buf_grow(dce_buf *b, size_t extra) {
  size_t limit = b->limit ? b->limit : SIZE_MAX;
  size_t need, ncap;
  uint8_t *np;
  if (extra > limit || b->len > limit - extra) { b->err = DCE_BUF_ELIMIT; return -1; }
  need = b->len + extra;
  ncap = b->cap ? b->cap : 64;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) { ncap = need; break; }
    ncap *= 2;
  }
  if (ncap > limit) ncap = limit;
  np = realloc(b->p, ncap);
  if (!np) { b->err = DCE_BUF_ENOMEM; return -1; }
  b->p = np; b->cap = ncap;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Text order of the 16 bytes in the wire (little-endian) layout. */
static const int uuid_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

int dce_uuid_parse(dce_uuid *u, const char *s, size_t len) {
  size_t i = 0;
  int k;
  if (len != 36) return -1;
  for (k = 0; k < 16; k++) {
    int hi, lo;
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return -1;
      i++;
    }
    hi = hexval((unsigned char)s[i]); lo = hexval((unsigned char)s[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    u->b[uuid_order[k]] = (uint8_t)(hi << 4 | lo);
    i += 2;
  }
  return 0;
}

void dce_uuid_format(const dce_uuid *u, char out[37]) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  int k;
  for (k = 0; k < 16; k++) {
    uint8_t v = u->b[uuid_order[k]];
    if (k == 4 || k == 6 || k == 8 || k == 10) out[i++] = '-';
    out[i++] = hex[v >> 4];
    out[i++] = hex[v & 15];
  }
  out[i] = '\0';
}

void dce_uuid_swap(dce_uuid *u) {
  uint8_t t;
  t = u->b[0]; u->b[0] = u->b[3]; u->b[3] = t;
  t = u->b[1]; u->b[1] = u->b[2]; u->b[2] = t;
  t = u->b[4]; u->b[4] = u->b[5]; u->b[5] = t;
  t = u->b[6]; u->b[6] = u->b[7]; u->b[7] = t;
}
