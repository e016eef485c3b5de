/*
** vt.c - the verification trailer of a request: checking one, writing one
** (see vt.h).
*/
#include <stdio.h>
#include <string.h>
#include "rpc/vt.h"

static const uint8_t vt_magic[8] = { 0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71 };

static int fail(int res, char *err, size_t n, const char *m) {
  if (err && n) snprintf(err, n, "verification trailer: %s", m);
  return res;
}

/* A syntax id in NDR: uuid (its first three fields in the byte order le),
** then a 32-bit version whose low 16 bits are the major version and high 16
** the minor. */
static void swap_uuid_fields(uint8_t *u) {
  uint8_t t;
  t = u[0]; u[0] = u[3]; u[3] = t; t = u[1]; u[1] = u[2]; u[2] = t;
  t = u[4]; u[4] = u[5]; u[5] = t; t = u[6]; u[6] = u[7]; u[7] = t;
}

static int syntax_is(const uint8_t *p, int le, const dce_syntax *s) {
  dce_uuid u;
  uint32_t v = dce_ld32(p + 16, le);
  memcpy(u.b, p, 16);
  if (!le) swap_uuid_fields(u.b);
  return !memcmp(u.b, s->uuid.b, 16) && (v & 0xffffu) == s->major && (v >> 16) == s->minor;
}

/* Walk the commands of a trailer whose body starts at stub[off], in byte
** order le. With x == NULL only the framing is read (DCE_VT_JUNK when it
** does not hold: a command running past the stub, a known command of the
** wrong length, no END, bytes after the last command); with x each command
** is also compared with the call (DCE_VT_MISMATCH). Framing first, then
** meaning: a trailer that does not read is never held against the call. */
static int vt_walk(const uint8_t *stub, size_t len, size_t off, int le, const dce_vt_expect *x,
                   char *err, size_t errlen) {
  for (;;) {
    uint16_t cmd, clen;
    const uint8_t *d;
    if (len - off < 4) return fail(DCE_VT_JUNK, err, errlen, "truncated command");
    cmd = dce_ld16(stub + off, le);
    clen = dce_ld16(stub + off + 2, le);
    off += 4;
    if (clen > len - off) return fail(DCE_VT_JUNK, err, errlen, "command longer than the stub");
    d = stub + off;
    switch (cmd & 0x3fffu) {
    case DCE_VT_BITMASK_1:         /* bits the server may ignore */
      if (clen != 4) return fail(DCE_VT_JUNK, err, errlen, "BITMASK_1 of the wrong length");
      break;
    case DCE_VT_PCONTEXT:
      if (clen != 40) return fail(DCE_VT_JUNK, err, errlen, "PCONTEXT of the wrong length");
      if (x && (!syntax_is(d, le, &x->abstract) || !syntax_is(d + 20, le, &x->transfer)))
        return fail(DCE_VT_MISMATCH, err, errlen, "PCONTEXT names another interface or transfer syntax");
      break;
    case DCE_VT_HEADER2:           /* drep is 4 bytes: no byte order of its own */
      if (clen != 16) return fail(DCE_VT_JUNK, err, errlen, "HEADER2 of the wrong length");
      if (x && (d[0] != x->ptype || memcmp(d + 4, x->drep, 4) || dce_ld32(d + 8, le) != x->call_id
                || dce_ld16(d + 12, le) != x->ctx_id || dce_ld16(d + 14, le) != x->opnum))
        return fail(DCE_VT_MISMATCH, err, errlen, "HEADER2 does not match the PDU header");
      break;
    default:
      if (x && (cmd & DCE_VT_MUST))
        return fail(DCE_VT_MISMATCH, err, errlen, "unknown command marked must-process");
    }
    off += clen;
    if (cmd & DCE_VT_END) break;
  }
  if (off != len) return fail(DCE_VT_JUNK, err, errlen, "bytes after its last command");
  return DCE_VT_OK;
}

int dce_vt_check(const uint8_t *stub, size_t len, size_t from, const dce_vt_expect *x,
                 char *err, size_t errlen) {
  size_t off, i;
  int r;
  if (from > len) return fail(DCE_VT_JUNK, err, errlen, "offset beyond the stub");
  off = (from + 3) & ~(size_t)3;
  if (off > len || len - off < 8 || memcmp(stub + off, vt_magic, 8)) {
    /* no trailer: what is left must be alignment padding */
    if (len - from > 7) return fail(DCE_VT_JUNK, err, errlen, "bytes after the NDR data that are not a trailer");
    for (i = from; i < len; i++)
      if (stub[i]) return fail(DCE_VT_JUNK, err, errlen, "nonzero padding after the NDR data");
    return DCE_VT_NONE;
  }
  /* the padding before the magic SHOULD be zero ([MS-RPCE] 2.2.2.13);
  ** Samba does not look at it, nor do we */
  off += 8;
  r = vt_walk(stub, len, off, 1, NULL, err, errlen);
  if (r == DCE_VT_OK) return vt_walk(stub, len, off, 1, x, err, errlen);
  if (!(x->drep[0] & DCE_DREP_LE)) {
    /* lua-dcerpc's client wrote the trailer of a big-endian PDU big-endian
    ** until it followed the spec: check such a trailer rather than drop
    ** it. Little-endian first, so a trailer that reads both ways (none that
    ** we or Samba write does) is taken as the spec says. */
    if (vt_walk(stub, len, off, 0, NULL, NULL, 0) == DCE_VT_OK)
      return vt_walk(stub, len, off, 0, x, err, errlen);
  }
  return r;                        /* JUNK, with the little-endian reading's message */
}

/* a syntax id as syntax_is reads it, little-endian */
static void put_syntax(dce_buf *o, const dce_syntax *s) {
  dce_buf_put(o, s->uuid.b, 16);   /* dce_uuid holds the little-endian wire form */
  dce_buf_u32(o, (uint32_t)s->major | ((uint32_t)s->minor << 16), 1);
}

int dce_vt_append(dce_buf *out, size_t stub_len, uint32_t bitmask, const dce_syntax *abstract,
                  const dce_syntax *transfer) {
  static const uint8_t zero[4] = { 0, 0, 0, 0 };
  dce_buf_put(out, zero, (4 - stub_len % 4) % 4);
  dce_buf_put(out, vt_magic, 8);
  dce_buf_u16(out, DCE_VT_BITMASK_1, 1);
  dce_buf_u16(out, 4, 1);
  dce_buf_u32(out, bitmask, 1);
  dce_buf_u16(out, DCE_VT_PCONTEXT | DCE_VT_END, 1);
  dce_buf_u16(out, 40, 1);
  put_syntax(out, abstract);
  put_syntax(out, transfer);
  return out->err ? -1 : 0;
}
