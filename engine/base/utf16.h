/*
** utf16.h - UTF-16 code units (the wire's strings, either byte order) to
** and from WTF-8: UTF-8 that may also hold lone surrogates as three-byte
** sequences (ED A0..BF xx), so any sequence of UTF-16 units read from the
** wire round-trips through a Lua string unchanged. Used by the NDR
** interpreter and by NTLMSSP.
*/
#ifndef DCE_UTF16_H
#define DCE_UTF16_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

/* UTF-16 code units (le/be bytes) to WTF-8: out needs 3*n bytes; returns length. */
size_t dce_utf16_to_utf8(const uint8_t *in, size_t n, int le, char *out);
/* Number of UTF-16 units for WTF-8 text, or (size_t)-1 when invalid. */
size_t dce_utf8_units(const char *s, size_t len);
/* WTF-8 to UTF-16 units (le/be), counting as it goes: out needs 2*units
** bytes, and 2*len bytes always suffice (one WTF-8 byte never gives more
** than one unit), so a caller may convert into 2*len reserved bytes and
** learn the count in the same pass. Returns units or -1 (invalid; part of
** out may have been written). */
size_t dce_utf8_to_utf16(const char *s, size_t len, int le, uint8_t *out);

#endif
