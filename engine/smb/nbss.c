/*
** nbss.c - NetBIOS session service requests and answers (see nbss.h).
*/
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "smb/nbss.h"

/* RFC 1001 14.1 first-level encoding: 16 name bytes as 32 letters, with the
** length byte (32) before and the empty scope (0) after. */
static void encode_name(uint8_t out[34], const char *name, uint8_t type) {
  uint8_t raw[16];
  size_t i, n = strlen(name);
  if (n > 15) n = 15;
  memset(raw, ' ', 15);
  for (i = 0; i < n; i++) raw[i] = (uint8_t)toupper((unsigned char)name[i]);
  raw[15] = type;
  out[0] = 32;
  for (i = 0; i < 16; i++) {
    out[1 + 2 * i] = (uint8_t)('A' + (raw[i] >> 4));
    out[2 + 2 * i] = (uint8_t)('A' + (raw[i] & 15));
  }
  out[33] = 0;
}

int dce_nbss_request(dce_buf *out, const char *called, const char *calling) {
  uint8_t *q;
  if (!called || !*called || !calling || !*calling) return -1;
  if (dce_buf_reserve(out, 4 + 68)) return -1;
  q = out->p + out->len;
  q[0] = 0x81;                                 /* SESSION REQUEST */
  q[1] = 0;
  q[2] = 0;
  q[3] = 68;
  encode_name(q + 4, called, 0x20);
  encode_name(q + 38, calling, 0x00);
  out->len += 72;
  return 0;
}

int dce_nbss_response(const unsigned char *p, size_t len, char *err, size_t errlen) {
  size_t body;
  if (len < 4) return 0;
  body = ((size_t)(p[1] & 1) << 16) | ((size_t)p[2] << 8) | p[3];
  switch (p[0]) {
  case 0x82:                                   /* POSITIVE SESSION RESPONSE */
    if (body != 0) break;
    return 4;
  case 0x83: {                                 /* NEGATIVE SESSION RESPONSE */
    const char *why = "unspecified error";
    if (len < 5) return 0;
    switch (p[4]) {
    case 0x80: why = "not listening on the called name"; break;
    case 0x81: why = "not listening for the calling name"; break;
    case 0x82: why = "called name not present"; break;
    case 0x83: why = "called name present, but insufficient resources"; break;
    }
    snprintf(err, errlen, "%s (0x%02x)", why, p[4]);
    return -1;
  }
  case 0x84:                                   /* RETARGET */
    snprintf(err, errlen, "the server retargets the session elsewhere, which is not followed");
    return -2;
  case 0x85:
    snprintf(err, errlen, "keep-alive before the session response");
    return -2;
  }
  snprintf(err, errlen, "not a NetBIOS session response (type 0x%02x, length %zu)", p[0], body);
  return -2;
}
