/*
** test_vt.c - the verification trailer ([MS-RPCE] 2.2.2.13) from C: the
** trailer of a big-endian request is little-endian, read and written byte
** for byte as smbtorture sends it; the big-endian form our client used to
** write is still checked; what does not read is junk, what contradicts the
** call is a mismatch.
*/
#include <stdio.h>
#include <string.h>
#include "testhelp.h"
#include "rpc/pdu.h"
#include "rpc/vt.h"

/* smbtorture 4.17 rpc.echo at [sign,bigendian], its first AddOne(0)
** (captured with tshark): a big-endian request, call_id 2, whose stub is the
** NDR data (00000000) and a little-endian trailer: BITMASK_1 = 1 and
** PCONTEXT (rpcecho 1.0, NDR 2.0); then the SPNEGO sec_trailer (type 9,
** level 5, context 1) and the NTLM signature. */
static const char *TORTURE_BE =
  "050000030000000000700010000000020000004000000000"
  "00000000"
  "8ae3137102f43671"
  "0100040001000000"
  "02402800c55ea160e84dd711a637005056a2018201000000045d888aeb1cc9119fe808002b10486002000000"
  "0905000000000001"
  "01000000742da40dc1324a8a01000000";

static const uint8_t VT_MAGIC[8] = { 0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71 };

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = 0;
  while (h[0] && h[1]) {
    unsigned v;
    sscanf(h, "%2x", &v);
    out[n++] = (uint8_t)v;
    h += 2;
  }
  return n;
}

static void syntax(dce_syntax *s, const char *uuid, uint16_t major, uint16_t minor) {
  dce_uuid_parse(&s->uuid, uuid, strlen(uuid));
  s->major = major;
  s->minor = minor;
}

static void expect(dce_vt_expect *x, int le, uint32_t call_id) {
  memset(x, 0, sizeof *x);
  syntax(&x->abstract, "60a15ec5-4de8-11d7-a637-005056a20182", 1, 0);      /* rpcecho */
  syntax(&x->transfer, "8a885d04-1ceb-11c9-9fe8-08002b104860", 2, 0);      /* NDR 2.0 */
  x->drep[0] = le ? DCE_DREP_LE : DCE_DREP_BE;
  x->call_id = call_id;
}

/* a syntax id written by hand: uuid fields and version in the order le */
static size_t put_syntax(uint8_t *o, const dce_syntax *s, int le) {
  size_t i;
  for (i = 0; i < 16; i++) o[i] = s->uuid.b[i];
  if (!le) {
    uint8_t t;
    t = o[0]; o[0] = o[3]; o[3] = t; t = o[1]; o[1] = o[2]; o[2] = t;
    t = o[4]; o[4] = o[5]; o[5] = t; t = o[6]; o[6] = o[7]; o[7] = t;
  }
  if (le) { o[16] = (uint8_t)s->major; o[17] = (uint8_t)(s->major >> 8); o[18] = (uint8_t)s->minor; o[19] = (uint8_t)(s->minor >> 8); }
  else { o[16] = (uint8_t)(s->minor >> 8); o[17] = (uint8_t)s->minor; o[18] = (uint8_t)(s->major >> 8); o[19] = (uint8_t)s->major; }
  return 20;
}

static void put16(uint8_t *o, uint16_t v, int le) {
  o[le ? 0 : 1] = (uint8_t)v;
  o[le ? 1 : 0] = (uint8_t)(v >> 8);
}

/* 4 bytes of NDR data, then magic, BITMASK_1 and PCONTEXT in the order le,
** naming `ab` as the interface; returns the stub length */
static size_t trailer_stub(uint8_t *o, int le, const dce_syntax *ab, const dce_syntax *tr) {
  size_t n = 0;
  memset(o, 0, 4); n += 4;
  memcpy(o + n, VT_MAGIC, 8); n += 8;
  put16(o + n, DCE_VT_BITMASK_1, le); put16(o + n + 2, 4, le); n += 4;
  memset(o + n, 0, 4); o[n + (le ? 0 : 3)] = 1; n += 4;
  put16(o + n, DCE_VT_PCONTEXT | DCE_VT_END, le); put16(o + n + 2, 40, le); n += 4;
  n += put_syntax(o + n, ab, le);
  n += put_syntax(o + n, tr, le);
  return n;
}

/* smbtorture's big-endian request: its trailer reads and checks out */
static void test_read_torture(void) {
  uint8_t wire[256];
  size_t n = unhex(TORTURE_BE, wire);
  dce_pdu p;
  dce_pdu_error e;
  dce_vt_expect x;
  char err[160];
  int rc = dce_pdu_decode(&p, wire, n, &e);
  test_cond("torture PDU decodes", rc == 0 && p.ptype == 0 && p.drep[0] == DCE_DREP_BE &&
            p.call_id == 2 && p.opnum == 0 && p.stub_len == 64 && p.has_auth && p.auth.context_id == 1);
  if (rc == 0) {
    expect(&x, 0, 2);
    test_cond("a little-endian trailer in a big-endian PDU checks out",
              dce_vt_check(p.stub, p.stub_len, 4, &x, err, sizeof err) == DCE_VT_OK);
    x.abstract.major = 2;
    test_cond("and names rpcecho 1.0, not 2.0",
              dce_vt_check(p.stub, p.stub_len, 4, &x, err, sizeof err) == DCE_VT_MISMATCH &&
              strstr(err, "PCONTEXT") != NULL);
    expect(&x, 1, 2);
    test_cond("read the same in a little-endian PDU",
              dce_vt_check(p.stub, p.stub_len, 4, &x, err, sizeof err) == DCE_VT_OK);
  }
  dce_pdu_free(&p);
}

/* our client's request, built the way co_client frames it: byte for byte
** smbtorture's, trailer included */
static void test_write_like_torture(void) {
  uint8_t wire[256], sig[16];
  size_t n = unhex(TORTURE_BE, wire);
  dce_vt_expect x;
  dce_buf stub, out;
  dce_pdu p;
  dce_pdu_error e;
  static const uint8_t zero4[4] = { 0, 0, 0, 0 };
  expect(&x, 0, 2);
  memcpy(sig, wire + n - 16, 16);
  dce_buf_init(&stub);
  dce_buf_init(&out);
  dce_buf_put(&stub, zero4, 4);                    /* AddOne(0) */
  test_cond("append", dce_vt_append(&stub, 4, 1, &x.abstract, &x.transfer) == 0);
  test_cond("the trailer: little-endian, as smbtorture's",
            stub.len == 64 && memcmp(stub.p, wire + 24, 64) == 0);
  dce_pdu_init(&p, 0, 2);
  p.drep[0] = DCE_DREP_BE;
  p.alloc_hint = 0x40;
  p.stub = stub.p;
  p.stub_len = stub.len;
  p.has_auth = 1;
  p.auth.type = 9;
  p.auth.level = 5;
  p.auth.context_id = 1;
  p.auth.value = sig;
  p.auth.value_len = 16;
  test_cond("a big-endian request with it is smbtorture's, byte for byte",
            dce_pdu_encode(&p, &out, &e) == 0 && out.len == n && memcmp(out.p, wire, n) == 0);
  /* an odd stub: padding to 4 first, and the checker finds it there */
  dce_buf_reset(&stub);
  dce_buf_put(&stub, zero4, 3);
  dce_vt_append(&stub, 3, 1, &x.abstract, &x.transfer);
  test_cond("padded after 3 bytes", stub.len == 64 && stub.p[3] == 0 && memcmp(stub.p + 4, wire + 28, 60) == 0);
  test_cond("and read back", dce_vt_check(stub.p, stub.len, 3, &x, NULL, 0) == DCE_VT_OK);
  dce_buf_free(&stub);
  dce_buf_free(&out);
}

/* the big-endian trailer lua-dcerpc's client wrote in big-endian PDUs
** before: still checked there, junk in a little-endian PDU */
static void test_old_big_endian(void) {
  uint8_t s[128];
  dce_vt_expect x, other;
  char err[160];
  size_t n;
  expect(&x, 0, 7);
  expect(&other, 0, 7);
  other.abstract.minor = 1;
  n = trailer_stub(s, 0, &x.abstract, &x.transfer);
  test_cond("old big-endian trailer in a big-endian PDU: checked, matches",
            dce_vt_check(s, n, 4, &x, err, sizeof err) == DCE_VT_OK);
  test_cond("old big-endian trailer naming another version: refused",
            dce_vt_check(s, n, 4, &other, err, sizeof err) == DCE_VT_MISMATCH);
  x.drep[0] = DCE_DREP_LE;
  test_cond("old big-endian trailer in a little-endian PDU: junk, as Samba reads it",
            dce_vt_check(s, n, 4, &x, err, sizeof err) == DCE_VT_JUNK &&
            strstr(err, "longer than the stub") != NULL);
  /* a little-endian trailer naming another version: refused in either
  ** PDU, never read again big-endian to find a reading that fits */
  n = trailer_stub(s, 1, &other.abstract, &other.transfer);
  test_cond("little-endian trailer, little-endian PDU, another version: refused",
            dce_vt_check(s, n, 4, &x, err, sizeof err) == DCE_VT_MISMATCH);
  x.drep[0] = DCE_DREP_BE;
  test_cond("little-endian trailer, big-endian PDU, another version: refused",
            dce_vt_check(s, n, 4, &x, err, sizeof err) == DCE_VT_MISMATCH);
  test_cond("little-endian trailer, big-endian PDU, its own version: checks out",
            dce_vt_check(s, n, 4, &other, err, sizeof err) == DCE_VT_OK);
}

/* HEADER2 little-endian in a big-endian PDU: drep bytes as in the header */
static void test_header2(void) {
  uint8_t s[64];
  dce_vt_expect x;
  char err[160];
  size_t n = 0;
  expect(&x, 0, 0x01020304);
  x.ctx_id = 1;
  x.opnum = 5;
  memset(s, 0, 4); n = 4;
  memcpy(s + n, VT_MAGIC, 8); n += 8;
  put16(s + n, DCE_VT_HEADER2 | DCE_VT_END, 1); put16(s + n + 2, 16, 1); n += 4;
  s[n] = 0; s[n + 1] = 0; s[n + 2] = 0; s[n + 3] = 0;              /* request, reserved */
  s[n + 4] = 0; s[n + 5] = 0; s[n + 6] = 0; s[n + 7] = 0;          /* drep: big-endian */
  s[n + 8] = 4; s[n + 9] = 3; s[n + 10] = 2; s[n + 11] = 1;        /* call_id, LE */
  put16(s + n + 12, 1, 1); put16(s + n + 14, 5, 1); n += 16;
  test_cond("HEADER2 little-endian in a big-endian PDU matches", dce_vt_check(s, n, 4, &x, err, sizeof err) == DCE_VT_OK);
  x.call_id = 0x04030201;
  test_cond("HEADER2 with another call_id: refused",
            dce_vt_check(s, n, 4, &x, err, sizeof err) == DCE_VT_MISMATCH && strstr(err, "HEADER2") != NULL);
}

static void test_junk(void) {
  uint8_t s[64];
  dce_vt_expect x;
  char err[160];
  expect(&x, 0, 1);
  memset(s, 0, sizeof s);
  test_cond("nothing", dce_vt_check(s, 4, 4, &x, err, sizeof err) == DCE_VT_NONE);
  test_cond("zero padding", dce_vt_check(s, 8, 5, &x, err, sizeof err) == DCE_VT_NONE);
  s[6] = 0xfe;
  test_cond("nonzero padding: junk", dce_vt_check(s, 8, 5, &x, err, sizeof err) == DCE_VT_JUNK);
  memset(s, 0xfe, sizeof s);
  test_cond("0xfe filler: junk", dce_vt_check(s, 40, 4, &x, err, sizeof err) == DCE_VT_JUNK);
  memcpy(s + 4, VT_MAGIC, 8);
  test_cond("magic then garbage: junk (never refused)", dce_vt_check(s, 40, 4, &x, err, sizeof err) == DCE_VT_JUNK);
  test_cond("magic and nothing after it: junk", dce_vt_check(s, 12, 4, &x, err, sizeof err) == DCE_VT_JUNK);
  /* an unknown must-process command that reads: refused in either order */
  put16(s + 12, 0xc07f, 1); put16(s + 14, 0, 1);
  test_cond("unknown must-process command: refused", dce_vt_check(s, 16, 4, &x, err, sizeof err) == DCE_VT_MISMATCH);
  put16(s + 12, 0x407f, 1); put16(s + 14, 4, 1);
  test_cond("unknown optional command: skipped", dce_vt_check(s, 20, 4, &x, err, sizeof err) == DCE_VT_OK);
  test_cond("offset beyond the stub", dce_vt_check(s, 20, 21, &x, err, sizeof err) == DCE_VT_JUNK);
}

int main(void) {
  test_read_torture();
  test_write_like_torture();
  test_old_big_endian();
  test_header2();
  test_junk();
  return test_report("test_vt");
}
