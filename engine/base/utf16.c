/*
** utf16.c - UTF-16 (wire) <-> WTF-8 (Lua strings, C strings).
**
** WTF-8: UTF-8 that may also hold lone surrogates as three-byte sequences
** (ED A0..BF xx), so any sequence of UTF-16 code units read from the wire
** round-trips through a Lua string unchanged.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/utf16.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__)
#define UTF_INLINE static inline __attribute__((always_inline))
#else
#define UTF_INLINE static inline
#endif

/* Bits that must be zero in four UTF-16 units loaded as one host word for
** them all to be ASCII (low byte < 0x80, high byte 0). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ASCII4_LE 0x80FF80FF80FF80FFull
#define ASCII4_BE 0xFF80FF80FF80FF80ull
#else
#define ASCII4_LE 0xFF80FF80FF80FF80ull
#define ASCII4_BE 0x80FF80FF80FF80FFull
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UTF_LE_HOST 1
#else
#define UTF_LE_HOST 0
#endif

#if UTF_LE_HOST && !defined(__SSE2__)
/* Four ASCII UTF-16 units (already checked), loaded as one little-endian
** host word, to their four low bytes: le units sit at even bytes, be units
** at odd bytes. */
static inline uint32_t ascii4_pack(uint64_t q, int le) {
  if (!le) q >>= 8;
  q = (q | (q >> 8)) & 0x0000FFFF0000FFFFull;
  return (uint32_t)(q | (q >> 16));
}
/* Eight ASCII bytes (already checked) widened to eight UTF-16 units. */
static inline void ascii8_widen(uint64_t q, uint8_t *out, int le) {
  uint64_t a = q & 0xFFFFFFFFu, b = q >> 32;
  a = (a | (a << 16)) & 0x0000FFFF0000FFFFull;
  a = (a | (a << 8)) & 0x00FF00FF00FF00FFull;
  b = (b | (b << 16)) & 0x0000FFFF0000FFFFull;
  b = (b | (b << 8)) & 0x00FF00FF00FF00FFull;
  if (!le) { a <<= 8; b <<= 8; }
  memcpy(out, &a, 8);
  memcpy(out + 8, &b, 8);
}
#endif

/* The body, specialised by the compiler for a constant `le`. */
UTF_INLINE size_t utf16_to_utf8(const uint8_t *in, size_t n, const int le, char *out) {
  unsigned char *o = (unsigned char *)out;
  size_t i = 0;
#if !defined(__SSE2__)
  const uint64_t amask = le ? ASCII4_LE : ASCII4_BE;
#endif
  for (;;) {
    uint32_t c = 0;
#if defined(__SSE2__)
    /* eight ASCII units at a time (high bytes zero, low < 0x80) */
    while (n - i >= 8) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + 2 * i));
      __m128i bad = _mm_and_si128(v, _mm_set1_epi16(le ? (short)0xFF80 : (short)0x80FF));
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xFFFF) break;
      if (!le) v = _mm_srli_epi16(v, 8);
      _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(v, v));
      o += 8; i += 8;
    }
#elif UTF_LE_HOST
    /* eight ASCII units at a time (high bytes zero, low < 0x80) */
    while (n - i >= 8) {
      uint64_t q0, q1;
      uint32_t w0, w1;
      memcpy(&q0, in + 2 * i, 8);
      memcpy(&q1, in + 2 * i + 8, 8);
      if ((q0 | q1) & amask) break;
      w0 = ascii4_pack(q0, le); w1 = ascii4_pack(q1, le);
      memcpy(o, &w0, 4); memcpy(o + 4, &w1, 4);
      o += 8; i += 8;
    }
#else
    while (n - i >= 4) {
      uint64_t q;
      memcpy(&q, in + 2 * i, 8);
      if (q & amask) break;
      o[0] = in[2 * i + !le]; o[1] = in[2 * i + 2 + !le];
      o[2] = in[2 * i + 4 + !le]; o[3] = in[2 * i + 6 + !le];
      o += 4; i += 4;
    }
#endif
    /* a run of ASCII, one at a time */
    while (i < n && (c = dce_ld16(in + 2 * i, le)) < 0x80) { *o++ = (unsigned char)c; i++; }
    if (i >= n) break;
    i++;
    if (c >= 0xD800 && c <= 0xDBFF && i < n) {
      uint32_t d = dce_ld16(in + 2 * i, le);
      if (d >= 0xDC00 && d <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
        i++;
      }
    }
    if (c < 0x800) {
      *o++ = (unsigned char)(0xC0 | (c >> 6));
      *o++ = (unsigned char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {   /* lone surrogates land here too (WTF-8) */
      *o++ = (unsigned char)(0xE0 | (c >> 12));
      *o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
      *o++ = (unsigned char)(0x80 | (c & 0x3F));
    } else {
      *o++ = (unsigned char)(0xF0 | (c >> 18));
      *o++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
      *o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
      *o++ = (unsigned char)(0x80 | (c & 0x3F));
    }
  }
  return (size_t)(o - (unsigned char *)out);
}

size_t dce_utf16_to_utf8(const uint8_t *in, size_t n, int le, char *out) {
  return le ? utf16_to_utf8(in, n, 1, out) : utf16_to_utf8(in, n, 0, out);
}

/* Decode one WTF-8 sequence at s[*i]; returns the code point or -1. */
UTF_INLINE long utf8_next(const unsigned char *s, size_t len, size_t *i) {
  size_t p = *i;
  uint32_t c = s[p], need, min;
  if (c < 0x80) { *i = p + 1; return (long)c; }
  if (c >= 0xC2 && c <= 0xDF) { need = 1; c &= 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { need = 2; c &= 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { need = 3; c &= 0x07; min = 0x10000; }
  else return -1;
  if (len - p - 1 < need) return -1;
  for (uint32_t k = 1; k <= need; k++) {
    uint32_t b = s[p + k];
    if ((b & 0xC0) != 0x80) return -1;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF) return -1;
  *i = p + 1 + need;
  return (long)c;
}

#define ASCII8 0x8080808080808080ull

size_t dce_utf8_units(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, n = 0;
  while (i < len) {
    while (len - i >= 8) {   /* ASCII, eight bytes at a time */
      uint64_t q;
      memcpy(&q, u + i, 8);
      if (q & ASCII8) break;
      i += 8; n += 8;
    }
    if (i >= len) break;
    if (u[i] < 0x80) { i++; n++; continue; }
    long c = utf8_next(u, len, &i);
    if (c < 0) return (size_t)-1;
    n += c >= 0x10000 ? 2 : 1;
  }
  return n;
}

UTF_INLINE size_t utf8_to_utf16(const char *s, size_t len, const int le, uint8_t *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, n = 0;
  for (;;) {
    long c;
#if defined(__SSE2__)
    while (len - i >= 8) {   /* ASCII, eight bytes at a time */
      __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(u + i));
      if (_mm_movemask_epi8(q) & 0xFF) break;
      q = le ? _mm_unpacklo_epi8(q, _mm_setzero_si128()) : _mm_unpacklo_epi8(_mm_setzero_si128(), q);
      _mm_storeu_si128((__m128i *)(void *)(out + 2 * n), q);
      i += 8; n += 8;
    }
#elif UTF_LE_HOST
    while (len - i >= 8) {   /* ASCII, eight bytes at a time */
      uint64_t q;
      memcpy(&q, u + i, 8);
      if (q & ASCII8) break;
      ascii8_widen(q, out + 2 * n, le);
      i += 8; n += 8;
    }
#endif
    while (i < len && u[i] < 0x80) { dce_st16(out + 2 * n, u[i], le); i++; n++; }
    if (i >= len) break;
    if ((c = utf8_next(u, len, &i)) < 0) return (size_t)-1;
    if (c >= 0x10000) {
      uint32_t v = (uint32_t)c - 0x10000;
      dce_st16(out + 2 * n++, (uint16_t)(0xD800 + (v >> 10)), le);
      dce_st16(out + 2 * n++, (uint16_t)(0xDC00 + (v & 0x3FF)), le);
    } else {
      dce_st16(out + 2 * n++, (uint16_t)c, le);
    }
  }
  return n;
}

/* One pass: converts and counts (see utf16.h). */
size_t dce_utf8_to_utf16(const char *s, size_t len, int le, uint8_t *out) {
  return le ? utf8_to_utf16(s, len, 1, out) : utf8_to_utf16(s, len, 0, out);
}
