/*
** test_pdu.c - the PDU codec: byte-exact encodings derived by hand from the
** C706 / [MS-RPCE] layouts, round trips, both byte orders, and the hostile
** header cases of docs/limits.md (1, 10 via the assoc tests, 12).
*/
#include <stdio.h>
#include <string.h>
#include "testhelp.h"
#include "rpc/pdu.h"

static const uint8_t EPM_LE[16] = { 0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11,
                                    0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa };
static const uint8_t NDR_LE[16] = { 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
                                    0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60 };

static int same(const dce_buf *b, const uint8_t *want, size_t n) {
  return b->len == n && memcmp(b->p, want, n) == 0;
}

static void test_bind(void) {
  dce_pdu p, q;
  dce_pdu_error e;
  dce_buf b;
  dce_syntax ts[2];
  dce_ctx_elem ctx[2];
  uint8_t want[116];
  size_t o = 0;
  int rc;

  memcpy(ts[0].uuid.b, NDR_LE, 16); ts[0].major = 2; ts[0].minor = 0;
  memcpy(ts[1].uuid.b, NDR_LE, 16); ts[1].major = 2; ts[1].minor = 0;
  memcpy(ctx[0].abstract.uuid.b, EPM_LE, 16); ctx[0].abstract.major = 3; ctx[0].abstract.minor = 0;
  ctx[1] = ctx[0];
  ctx[0].id = 0; ctx[0].n_transfer = 1; ctx[0].transfer = &ts[0];
  ctx[1].id = 1; ctx[1].n_transfer = 1; ctx[1].transfer = &ts[1];

  dce_pdu_init(&p, DCE_PT_BIND, 1);
  p.max_xmit = p.max_recv = 5840;
  p.n_ctx = 2; p.ctx = ctx;
  dce_buf_init(&b);
  rc = dce_pdu_encode(&p, &b, &e);
  test_cond("bind encodes", rc == 0);

  {
    static const uint8_t hdr[] = { 5, 0, 11, 3, 0x10, 0, 0, 0, 116, 0, 0, 0, 1, 0, 0, 0,
                                   0xd0, 0x16, 0xd0, 0x16, 0, 0, 0, 0, 2, 0, 0, 0 };
    int i;
    memcpy(want, hdr, sizeof hdr); o = sizeof hdr;
    for (i = 0; i < 2; i++) {
      want[o++] = (uint8_t)i; want[o++] = 0; want[o++] = 1; want[o++] = 0;
      memcpy(want + o, EPM_LE, 16); o += 16;
      want[o++] = 3; want[o++] = 0; want[o++] = 0; want[o++] = 0;
      memcpy(want + o, NDR_LE, 16); o += 16;
      want[o++] = 2; want[o++] = 0; want[o++] = 0; want[o++] = 0;
    }
  }
  test_cond("bind bytes match C706 layout", same(&b, want, o));

  rc = dce_pdu_decode(&q, b.p, b.len, &e);
  test_cond("bind decodes", rc == 0);
  test_cond("bind fields", q.ptype == DCE_PT_BIND && q.call_id == 1 && q.max_xmit == 5840
            && q.n_ctx == 2 && q.ctx[1].id == 1 && q.ctx[1].n_transfer == 1
            && q.ctx[1].abstract.major == 3 && memcmp(q.ctx[1].transfer[0].uuid.b, NDR_LE, 16) == 0);
  dce_pdu_free(&q);

  /* the same PDU big-endian decodes to the same values */
  p.drep[0] = DCE_DREP_BE;
  dce_buf_reset(&b);
  dce_pdu_encode(&p, &b, &e);
  test_cond("BE bind frag_length big-endian", b.p[8] == 0 && b.p[9] == 116);
  test_cond("BE bind uuid swapped", b.p[28 + 4] == 0xe1 && b.p[28 + 7] == 0x08);
  rc = dce_pdu_decode(&q, b.p, b.len, &e);
  test_cond("BE bind decodes to the same values", rc == 0 && q.max_recv == 5840
            && memcmp(q.ctx[0].abstract.uuid.b, EPM_LE, 16) == 0 && q.ctx[0].abstract.major == 3);
  dce_pdu_free(&q);

  /* truncated p_cont_list: every shorter length fails cleanly */
  {
    int bad = 0;
    size_t n;
    p.drep[0] = DCE_DREP_LE;
    dce_buf_reset(&b);
    dce_pdu_encode(&p, &b, &e);
    for (n = 0; n < b.len; n++) {
      uint8_t tmp[116];
      memcpy(tmp, b.p, n);
      if (n >= 10) { tmp[8] = (uint8_t)n; tmp[9] = 0; }  /* frag_length = n */
      if (dce_pdu_decode(&q, tmp, n, &e) == 0) bad++;
      dce_pdu_free(&q);
    }
    test_cond("every truncation of a bind is rejected", bad == 0);
  }
  dce_buf_free(&b);
}

static void test_bind_ack(void) {
  static const uint8_t want[60] = {
    5, 0, 12, 3, 0x10, 0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0,
    0xb8, 0x10, 0xb8, 0x10, 0x00, 0x53, 0, 0,
    4, 0, '1', '3', '5', 0, 0, 0,                 /* port_any "135\0" + 2 pad */
    1, 0, 0, 0,
    0, 0, 0, 0,
    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
    2, 0, 0, 0 };
  dce_pdu p, q;
  dce_pdu_error e;
  dce_buf b;
  dce_result r;
  int rc;
  memset(&r, 0, sizeof r);
  memcpy(r.transfer.uuid.b, NDR_LE, 16); r.transfer.major = 2;
  dce_pdu_init(&p, DCE_PT_BIND_ACK, 1);
  p.max_xmit = p.max_recv = 4280; p.assoc_group = 0x5300;
  p.sec_addr = (const uint8_t *)"135"; p.sec_addr_len = 4;
  p.n_results = 1; p.results = &r;
  dce_buf_init(&b);
  rc = dce_pdu_encode(&p, &b, &e);
  test_cond("bind_ack encodes byte-exact with its 4-byte pad", rc == 0 && same(&b, want, sizeof want));
  rc = dce_pdu_decode(&q, want, sizeof want, &e);
  test_cond("bind_ack decodes", rc == 0 && q.sec_addr_len == 4 && memcmp(q.sec_addr, "135", 4) == 0
            && q.n_results == 1 && q.results[0].result == 0 && q.results[0].transfer.major == 2
            && q.assoc_group == 0x5300);
  dce_pdu_free(&q);
  {
    uint8_t bad[60];
    memcpy(bad, want, 60);
    bad[32] = 3;                                   /* n_results 3: beyond the PDU */
    rc = dce_pdu_decode(&q, bad, 60, &e);
    test_cond("result count beyond the PDU rejected", rc == DCE_PDU_EBODY);
    dce_pdu_free(&q);
    memcpy(bad, want, 60);
    bad[24] = 0xff; bad[25] = 0;                   /* sec_addr length 255 */
    rc = dce_pdu_decode(&q, bad, 60, &e);
    test_cond("secondary address beyond the PDU rejected", rc == DCE_PDU_EBODY);
    dce_pdu_free(&q);
  }
  dce_buf_free(&b);
}

static void test_fault_request_response(void) {
  static const uint8_t fault[32] = {
    5, 0, 3, 0x23, 0x10, 0, 0, 0, 32, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x01, 0x1c, 0, 0, 0, 0 };
  static const uint8_t req[44] = {
    5, 0, 0, 0x83, 0x10, 0, 0, 0, 44, 0, 0, 0, 3, 0, 0, 0,
    4, 0, 0, 0, 1, 0, 5, 0,
    0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
    1, 2, 3, 4 };
  static const uint8_t req_be[24] = {
    5, 0, 0, 3, 0x00, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 7,
    0, 0, 0, 0, 0, 1, 0, 2 };
  dce_pdu p, q;
  dce_pdu_error e;
  dce_buf b;
  int rc;
  dce_buf_init(&b);

  dce_pdu_init(&p, DCE_PT_FAULT, 2);
  p.flags |= DCE_PFC_DID_NOT_EXECUTE;
  p.status = 0x1c010002;
  rc = dce_pdu_encode(&p, &b, &e);
  test_cond("fault with DNE byte-exact", rc == 0 && same(&b, fault, sizeof fault));
  rc = dce_pdu_decode(&q, fault, sizeof fault, &e);
  test_cond("fault decodes", rc == 0 && q.status == 0x1c010002 && (q.flags & DCE_PFC_DID_NOT_EXECUTE));
  dce_pdu_free(&q);

  dce_buf_reset(&b);
  dce_pdu_init(&p, DCE_PT_REQUEST, 3);
  p.flags |= DCE_PFC_OBJECT_UUID;
  p.alloc_hint = 4; p.ctx_id = 1; p.opnum = 5;
  dce_uuid_parse(&p.object, "12345678-1234-abcd-ef00-0123456789ab", 36);
  p.stub = (const uint8_t *)"\1\2\3\4"; p.stub_len = 4;
  rc = dce_pdu_encode(&p, &b, &e);
  test_cond("request with object uuid byte-exact", rc == 0 && same(&b, req, sizeof req));
  rc = dce_pdu_decode(&q, req, sizeof req, &e);
  test_cond("request decodes", rc == 0 && q.has_object && q.opnum == 5 && q.ctx_id == 1
            && q.stub_len == 4 && q.stub[3] == 4 && memcmp(q.object.b, p.object.b, 16) == 0);
  dce_pdu_free(&q);

  rc = dce_pdu_decode(&q, req_be, sizeof req_be, &e);
  test_cond("big-endian request decodes", rc == 0 && q.call_id == 7 && q.ctx_id == 1 && q.opnum == 2
            && q.frag_length == 24);
  dce_pdu_free(&q);
  dce_buf_reset(&b);
  dce_pdu_init(&p, DCE_PT_REQUEST, 7);
  p.drep[0] = DCE_DREP_BE; p.ctx_id = 1; p.opnum = 2;
  rc = dce_pdu_encode(&p, &b, &e);
  test_cond("big-endian request encodes byte-exact", rc == 0 && same(&b, req_be, sizeof req_be));
  dce_buf_free(&b);
}

static void test_auth(void) {
  /* auth3: header, 4 pad bytes, sec_trailer (type 10 level 6), value "NTLM" */
  static const uint8_t a3[32] = {
    5, 0, 16, 3, 0x10, 0, 0, 0, 32, 0, 4, 0, 9, 0, 0, 0,
    0, 0, 0, 0, 10, 6, 0, 0, 0, 0, 0, 0, 'N', 'T', 'L', 'M' };
  dce_pdu p, q;
  dce_pdu_error e;
  dce_buf b;
  uint8_t bad[64];
  int rc;
  dce_buf_init(&b);
  dce_pdu_init(&p, DCE_PT_AUTH3, 9);
  p.has_auth = 1; p.auth.type = 10; p.auth.level = 6;
  p.auth.value = (const uint8_t *)"NTLM"; p.auth.value_len = 4;
  rc = dce_pdu_encode(&p, &b, &e);
  test_cond("auth3 with verifier byte-exact", rc == 0 && same(&b, a3, sizeof a3));
  rc = dce_pdu_decode(&q, a3, sizeof a3, &e);
  test_cond("auth3 decodes verifier", rc == 0 && q.has_auth && q.auth.type == 10 && q.auth.level == 6
            && q.auth.value_len == 4 && memcmp(q.auth.value, "NTLM", 4) == 0);
  dce_pdu_free(&q);

  /* response with 4 bytes stub, 4 bytes auth pad, trailer, 8 bytes value */
  {
    static const uint8_t r[48] = {
      5, 0, 2, 3, 0x10, 0, 0, 0, 48, 0, 8, 0, 4, 0, 0, 0,
      4, 0, 0, 0, 0, 0, 0, 0,
      'a', 'b', 'c', 'd', 0, 0, 0, 0,
      10, 5, 4, 0, 1, 0, 0, 0,
      1, 2, 3, 4, 5, 6, 7, 8 };
    rc = dce_pdu_decode(&q, r, sizeof r, &e);
    test_cond("auth pad excluded from the stub", rc == 0 && q.stub_len == 4 && q.auth.pad_len == 4
              && q.auth.context_id == 1 && q.auth.value_len == 8);
    dce_pdu_free(&q);
    memcpy(bad, r, sizeof r);
    bad[34] = 9;                                   /* auth_pad_length 9 > 8 body bytes */
    rc = dce_pdu_decode(&q, bad, sizeof r, &e);
    test_cond("auth_pad_length beyond the body rejected (limits.md case 12)", rc == DCE_PDU_EAUTHLEN);
    dce_pdu_free(&q);
    memcpy(bad, r, sizeof r);
    bad[10] = 7;                                   /* trailer offset 33: unaligned */
    rc = dce_pdu_decode(&q, bad, sizeof r, &e);
    test_cond("unaligned sec_trailer rejected (limits.md case 12)", rc == DCE_PDU_EAUTHLEN);
    dce_pdu_free(&q);
    memcpy(bad, r, sizeof r);
    bad[10] = 40;                                  /* auth_length + 8 > frag - 16 */
    rc = dce_pdu_decode(&q, bad, sizeof r, &e);
    test_cond("auth_length beyond the fragment rejected (limits.md case 1)", rc == DCE_PDU_EAUTHLEN);
    dce_pdu_free(&q);
    bad[10] = 0xff; bad[11] = 0xff;
    rc = dce_pdu_decode(&q, bad, sizeof r, &e);
    test_cond("auth_length 0xffff rejected", rc == DCE_PDU_EAUTHLEN);
    dce_pdu_free(&q);
  }
  dce_buf_free(&b);
}

static void test_header_hostile(void) {
  uint8_t h[24] = { 5, 0, 17, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0 };
  dce_pdu q;
  dce_pdu_error e;
  int rc;
  rc = dce_pdu_decode(&q, h, 16, &e);
  test_cond("shutdown decodes", rc == 0 && q.ptype == DCE_PT_SHUTDOWN);
  dce_pdu_free(&q);
  h[8] = 15;
  test_cond("frag_length < 16 rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EFRAGLEN);
  test_cond("peek rejects frag_length < 16", dce_pdu_peek(h, 16, &e) == DCE_PDU_EFRAGLEN);
  h[8] = 20;
  test_cond("frag_length > data rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EFRAGLEN);
  h[8] = 16; h[1] = 1;
  test_cond("version 5.1 rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EVERSION);
  h[1] = 0; h[0] = 4;
  test_cond("version 4 rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EVERSION);
  h[0] = 5; h[2] = 1;
  test_cond("connectionless ptype rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EPTYPE);
  h[2] = 99;
  test_cond("unknown ptype rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EPTYPE);
  h[2] = 17; h[4] = 0x20;
  test_cond("unknown integer drep rejected", dce_pdu_decode(&q, h, 16, &e) == DCE_PDU_EDREP);
  h[4] = 0x10;
  test_cond("fewer than 16 bytes", dce_pdu_decode(&q, h, 10, &e) == DCE_PDU_ESHORT);
  test_cond("peek wants more", dce_pdu_peek(h, 10, &e) == 0);
  h[2] = DCE_PT_FAULT; h[8] = 24;
  test_cond("fault without status rejected", dce_pdu_decode(&q, h, 24, &e) == DCE_PDU_EBODY);
  test_cond("error message names the field", strstr(e.msg, "truncated") != NULL);
}

int main(void) {
  test_bind();
  test_bind_ack();
  test_fault_request_response();
  test_auth();
  test_header_hostile();
  return test_report("test_pdu");
}
