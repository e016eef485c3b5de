/*
** vt.c - checking a request's verification trailer (see vt.h).
*/
#include <stdio.h>
#include <string.h>
#include "rpc/vt.h"

static const uint8_t vt_magic[8] = { 0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71 };

static int fail(char *err, size_t n, const char *m) {
  if (err && n) snprintf(err, n, "verification trailer: %s", m);
  return -1;
}

/* A syntax id in NDR: uuid (in the stub's byte order), then a 32-bit
** version whose low 16 bits are the major version and high 16 the minor. */
static int syntax_is(const uint8_t *p, int le, const dce_syntax *s) {
  dce_uuid u;
  uint32_t v = dce_ld32(p + 16, le);
  memcpy(u.b, p, 16);
  if (!le) {                       /* the first three fields were sent big-endian */
    uint8_t t;
    t = u.b[0]; u.b[0] = u.b[3]; u.b[3] = t; t = u.b[1]; u.b[1] = u.b[2]; u.b[2] = t;
    t = u.b[4]; u.b[4] = u.b[5]; u.b[5] = t; t = u.b[6]; u.b[6] = u.b[7]; u.b[7] = t;
  }
  return !memcmp(u.b, s->uuid.b, 16) && (v & 0xffffu) == s->major && (v >> 16) == s->minor;
}

int dce_vt_check(const uint8_t *stub, size_t len, size_t from, const dce_vt_expect *x,
                 int *found, char *err, size_t errlen) {
  size_t off, i;
  int le = (x->drep[0] & DCE_DREP_LE) != 0;
  *found = 0;
  if (from > len) return fail(err, errlen, "offset beyond the stub");
  off = (from + 3) & ~(size_t)3;
  if (off > len || len - off < 8 || memcmp(stub + off, vt_magic, 8)) {
    /* no trailer: what is left must be alignment padding */
    if (len - from > 7) return fail(err, errlen, "bytes after the NDR data that are not a trailer");
    for (i = from; i < len; i++) if (stub[i]) return fail(err, errlen, "nonzero padding after the NDR data");
    return 0;
  }
  *found = 1;                      /* from here on a failure is a bad trailer */
  for (i = from; i < off; i++) if (stub[i]) return fail(err, errlen, "nonzero padding before it");
  off += 8;
  for (;;) {
    uint16_t cmd, clen;
    const uint8_t *d;
    if (len - off < 4) return fail(err, errlen, "truncated command");
    cmd = dce_ld16(stub + off, le);
    clen = dce_ld16(stub + off + 2, le);
    off += 4;
    if (clen > len - off) return fail(err, errlen, "command longer than the stub");
    d = stub + off;
    switch (cmd & 0x3fffu) {
    case DCE_VT_BITMASK_1:
      if (clen != 4) return fail(err, errlen, "BITMASK_1 of the wrong length");
      break;
    case DCE_VT_PCONTEXT:
      if (clen != 40) return fail(err, errlen, "PCONTEXT of the wrong length");
      if (!syntax_is(d, le, &x->abstract) || !syntax_is(d + 20, le, &x->transfer))
        return fail(err, errlen, "PCONTEXT names another interface or transfer syntax");
      break;
    case DCE_VT_HEADER2:
      if (clen != 16) return fail(err, errlen, "HEADER2 of the wrong length");
      if (d[0] != x->ptype || memcmp(d + 4, x->drep, 4) || dce_ld32(d + 8, le) != x->call_id
          || dce_ld16(d + 12, le) != x->ctx_id || dce_ld16(d + 14, le) != x->opnum)
        return fail(err, errlen, "HEADER2 does not match the PDU header");
      break;
    default:
      if (cmd & DCE_VT_MUST) return fail(err, errlen, "unknown command marked must-process");
    }
    off += clen;
    if (cmd & DCE_VT_END) break;
  }
  if (off != len) return fail(err, errlen, "bytes after its last command");
  return 0;
}

/* a syntax id as syntax_is reads it */
static void put_syntax(dce_buf *o, const dce_syntax *s, int le) {
  uint8_t u[16];
  memcpy(u, s->uuid.b, 16);
  if (!le) {
    uint8_t t;
    t = u[0]; u[0] = u[3]; u[3] = t; t = u[1]; u[1] = u[2]; u[2] = t;
    t = u[4]; u[4] = u[5]; u[5] = t; t = u[6]; u[6] = u[7]; u[7] = t;
  }
  dce_buf_put(o, u, 16);
  dce_buf_u32(o, (uint32_t)s->major | ((uint32_t)s->minor << 16), le);
}

int dce_vt_append(dce_buf *out, size_t stub_len, uint32_t bitmask, const dce_syntax *abstract,
                  const dce_syntax *transfer, uint8_t drep0) {
  static const uint8_t zero[4] = { 0, 0, 0, 0 };
  int le = (drep0 & DCE_DREP_LE) != 0;
  dce_buf_put(out, zero, (4 - stub_len % 4) % 4);
  dce_buf_put(out, vt_magic, 8);
  dce_buf_u16(out, DCE_VT_BITMASK_1, le);
  dce_buf_u16(out, 4, le);
  dce_buf_u32(out, bitmask, le);
  dce_buf_u16(out, DCE_VT_PCONTEXT | DCE_VT_END, le);
  dce_buf_u16(out, 40, le);
  put_syntax(out, abstract, le);
  put_syntax(out, transfer, le);
  return out->err ? -1 : 0;
}
