/*
** sid.c - SID text ("S-1-5-21-...") <-> the wire body of an RPC_SID.
*/
#include <stdio.h>
#include "ndr/ndr.h"

/* "S-1-5-21-1-2-3": revision, 48-bit authority (decimal, or 0x hex), up to
** 15 sub-authorities. out: rev, count, auth[6] (big-endian), subs (drep). */
int ndr_sid_parse(const char *s, size_t len, uint8_t out[8 + 4 * 15], int le) {
  size_t i = 2;
  uint64_t v[17];
  int nv = 0;
  if (len < 4 || (s[0] != 'S' && s[0] != 's') || s[1] != '-') return -1;
  while (i <= len) {
    uint64_t x = 0;
    size_t st = i;
    int hex = 0;
    if (nv == 1 && i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) { hex = 1; i += 2; st = i; }
    while (i < len && s[i] != '-') {
      int d;
      char ch = s[i];
      if (ch >= '0' && ch <= '9') d = ch - '0';
      else if (hex && ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
      else if (hex && ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
      else return -1;
      x = x * (hex ? 16 : 10) + (uint64_t)d;
      if (x > 0xFFFFFFFFFFFFull) return -1;
      i++;
    }
    if (i == st || nv >= 17) return -1;
    v[nv++] = x;
    i++;  /* skip '-' (or step past the end) */
  }
  if (nv < 2 || v[0] > 255) return -1;
  for (int k = 2; k < nv; k++) if (v[k] > 0xFFFFFFFFu) return -1;
  out[0] = (uint8_t)v[0];
  out[1] = (uint8_t)(nv - 2);
  for (int k = 0; k < 6; k++) out[2 + k] = (uint8_t)(v[1] >> (8 * (5 - k)));
  for (int k = 2; k < nv; k++) dce_st32(out + 8 + 4 * (k - 2), (uint32_t)v[k], le);
  return 8 + 4 * (nv - 2);
}

size_t ndr_sid_format(const uint8_t *body, size_t n, int le, char *out, size_t outlen) {
  uint64_t auth = 0;
  size_t o;
  int w;
  for (int k = 0; k < 6; k++) auth = (auth << 8) | body[2 + k];
  if (auth >= (1ull << 32))
    w = snprintf(out, outlen, "S-%u-0x%012llX", (unsigned)body[0], (unsigned long long)auth);
  else
    w = snprintf(out, outlen, "S-%u-%llu", (unsigned)body[0], (unsigned long long)auth);
  if (w < 0 || (size_t)w >= outlen) return 0;
  o = (size_t)w;
  for (size_t k = 0; k < n; k++) {
    w = snprintf(out + o, outlen - o, "-%lu", (unsigned long)dce_ld32(body + 8 + 4 * k, le));
    if (w < 0 || (size_t)w >= outlen - o) return 0;
    o += (size_t)w;
  }
  return o;
}
