/*
** test_assoc.c - the client association without sockets: bytes out are
** decoded and checked, server PDUs are encoded here and fed back in.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "assoc.h"
#include "status.h"

static const dce_syntax ECHO = {
  { { 0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11, 0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82 } }, 1, 0 };

/* Drain all output, decode it into up to `max` PDUs (copies kept in bufs). */
typedef struct sent { int n; dce_pdu p[64]; uint8_t *raw[64]; } sent;

static void sent_free(sent *s) {
  int i;
  for (i = 0; i < s->n; i++) { dce_pdu_free(&s->p[i]); free(s->raw[i]); }
  s->n = 0;
}

static int drain(dce_assoc *a, sent *s) {
  const uint8_t *p;
  size_t n;
  int bad = 0;
  sent_free(s);
  while ((n = dce_assoc_out(a, &p)) > 0) {
    size_t off = 0;
    while (off < n) {
      dce_pdu_error e;
      long fl = dce_pdu_peek(p + off, n - off, &e);
      if (fl <= 0 || (size_t)fl > n - off || s->n == 64) { bad = 1; break; }
      s->raw[s->n] = malloc((size_t)fl);
      memcpy(s->raw[s->n], p + off, (size_t)fl);
      if (dce_pdu_decode(&s->p[s->n], s->raw[s->n], (size_t)fl, &e)) bad = 1;
      s->n++;
      off += (size_t)fl;
    }
    dce_assoc_sent(a, n);
    if (bad) break;
  }
  return bad ? -1 : s->n;
}

static int feed_pdu(dce_assoc *a, dce_pdu *p) {
  dce_buf b;
  dce_pdu_error e;
  int rc;
  dce_buf_init(&b);
  dce_pdu_encode(p, &b, &e);
  rc = dce_assoc_feed(a, b.p, b.len);
  dce_buf_free(&b);
  return rc;
}

static int feed_ack(dce_assoc *a, uint32_t call_id, int nres, uint16_t frag, uint8_t flags) {
  dce_pdu p;
  dce_result r[4];
  int i;
  memset(r, 0, sizeof r);
  for (i = 0; i < nres; i++) r[i].transfer = dce_syntax_ndr20;
  if (nres > 1) { r[nres - 1].result = DCE_RESULT_NEGOTIATE_ACK; r[nres - 1].reason = 2;
                  memset(&r[nres - 1].transfer, 0, sizeof r[0].transfer); }
  dce_pdu_init(&p, DCE_PT_BIND_ACK, call_id);
  p.flags |= flags;
  p.max_xmit = p.max_recv = frag;
  p.assoc_group = 0x1234;
  p.sec_addr = (const uint8_t *)"4242"; p.sec_addr_len = 5;
  p.n_results = (uint8_t)nres; p.results = r;
  return feed_pdu(a, &p);
}

static dce_assoc *bound(int mpx, uint16_t frag, sent *s) {
  dce_assoc *a = dce_assoc_new(NULL);
  dce_pctx c;
  dce_bind_opts o;
  uint32_t id;
  memset(&c, 0, sizeof c);
  memset(&o, 0, sizeof o);
  c.abstract = ECHO; c.n_transfer = 1; c.transfer[0] = dce_syntax_ndr20;
  o.conc_mpx = mpx;
  o.feature_negotiation = 1;
  dce_assoc_bind(a, 0, &c, 1, &o, &id, NULL, 0);
  drain(a, s);
  feed_ack(a, id, 2, frag, mpx ? DCE_PFC_CONC_MPX : 0);
  return a;
}

static void feed_response(dce_assoc *a, uint32_t call_id, const uint8_t *stub, size_t len, size_t chunk) {
  size_t off = 0;
  do {
    dce_pdu p;
    size_t n = len - off < chunk ? len - off : chunk;
    dce_pdu_init(&p, DCE_PT_RESPONSE, call_id);
    p.flags = (uint8_t)((off == 0 ? DCE_PFC_FIRST_FRAG : 0) | (off + n == len ? DCE_PFC_LAST_FRAG : 0));
    p.alloc_hint = (uint32_t)(len - off);
    p.stub = stub + off; p.stub_len = n;
    feed_pdu(a, &p);
    off += n;
  } while (off < len);
}

static void test_bind_and_call(void) {
  sent s = { 0 };
  dce_assoc *a = dce_assoc_new(NULL);
  dce_pctx c[2];
  dce_bind_opts o;
  uint32_t id, cid;
  const dce_op_result *r;
  const dce_assoc_info *in;
  static uint8_t big[20000], resp[30000];
  size_t i, total = 0;
  int ok = 1;

  memset(c, 0, sizeof c);
  memset(&o, 0, sizeof o);
  c[0].id = 0; c[0].abstract = ECHO; c[0].n_transfer = 2;
  c[0].transfer[0] = dce_syntax_ndr64; c[0].transfer[1] = dce_syntax_ndr20;
  c[1].id = 1; c[1].abstract = ECHO; c[1].n_transfer = 1; c[1].transfer[0] = dce_syntax_ndr20;
  o.feature_negotiation = 1;
  test_cond("request before bind refused", dce_assoc_request(a, 0, 0, NULL, NULL, 0, &cid, NULL, 0) == -1);
  test_cond("bind starts", dce_assoc_bind(a, 0, c, 2, &o, &id, NULL, 0) == 0);
  test_cond("request queued behind the bind", dce_assoc_request(a, 0, 2, NULL, big, sizeof big, &cid, NULL, 0) == 0);
  test_cond("only the bind goes out before its ack", drain(a, &s) == 1 && s.p[0].ptype == DCE_PT_BIND);
  test_cond("bind offers 3 contexts (feature negotiation last)", s.p[0].n_ctx == 3 && s.p[0].ctx[2].id == 2
            && s.p[0].ctx[2].transfer[0].uuid.b[8] == 3 && s.p[0].ctx[0].n_transfer == 2);
  test_cond("bind offers 5840/5840", s.p[0].max_xmit == 5840 && s.p[0].max_recv == 5840);
  feed_ack(a, id, 3, 4280, 0);
  r = dce_assoc_result(a, id);
  test_cond("bind done", r && r->state == DCE_OP_DONE && r->status == 0);
  test_cond("bind results kept", r->bind->n_results == 2 && r->bind->has_features && r->bind->features == 2
            && strcmp(r->bind->sec_addr, "4242") == 0);
  in = dce_assoc_get_info(a);
  test_cond("negotiated sizes are the minimum", in->max_xmit == 4280 && in->max_recv == 4280
            && in->assoc_group == 0x1234 && in->bound && !in->conc_mpx);
  dce_assoc_release(a, id);

  for (i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
  test_cond("request fragments", drain(a, &s) == 5);
  for (i = 0; i < (size_t)s.n; i++) {
    dce_pdu *p = &s.p[i];
    if (p->frag_length > 4280) ok = 0;
    if (p->alloc_hint != sizeof big - total) ok = 0;
    if (((p->flags & DCE_PFC_FIRST_FRAG) != 0) != (i == 0)) ok = 0;
    if (((p->flags & DCE_PFC_LAST_FRAG) != 0) != (i == (size_t)s.n - 1)) ok = 0;
    if (p->opnum != 2 || p->call_id != cid) ok = 0;
    if (memcmp(p->stub, big + total, p->stub_len)) ok = 0;
    if (i + 1 < (size_t)s.n && (p->stub_len % 8)) ok = 0;
    total += p->stub_len;
  }
  test_cond("fragments: size, alloc_hint, FIRST/LAST, stub content", ok && total == sizeof big);

  for (i = 0; i < sizeof resp; i++) resp[i] = (uint8_t)(i * 7);
  feed_response(a, cid, resp, sizeof resp, 4000);
  r = dce_assoc_result(a, cid);
  test_cond("response reassembled", r->state == DCE_OP_DONE && r->status == 0
            && r->stub.len == sizeof resp && memcmp(r->stub.p, resp, sizeof resp) == 0);
  test_cond("drep of the response kept", r->drep[0] == 0x10);
  dce_assoc_release(a, cid);
  test_cond("nothing pending", dce_assoc_busy(a) == 0);

  /* alter_context */
  test_cond("alter_context starts", dce_assoc_bind(a, 1, &c[1], 1, NULL, &id, NULL, 0) == 0);
  test_cond("alter_context goes out", drain(a, &s) == 1 && s.p[0].ptype == DCE_PT_ALTER
            && s.p[0].assoc_group == 0x1234);
  {
    dce_pdu p;
    dce_result rr;
    memset(&rr, 0, sizeof rr);
    rr.result = DCE_RESULT_PROVIDER_REJECTION; rr.reason = 1;
    dce_pdu_init(&p, DCE_PT_ALTER_RESP, id);
    p.max_xmit = p.max_recv = 4280;
    p.n_results = 1; p.results = &rr;
    feed_pdu(a, &p);
  }
  r = dce_assoc_result(a, id);
  test_cond("alter_context_resp results", r->status == 0 && r->bind->n_results == 1
            && r->bind->results[0].result == 2 && r->bind->results[0].reason == 1);
  dce_assoc_release(a, id);
  sent_free(&s);
  dce_assoc_free(a);
}

static void test_serialize_and_mpx(void) {
  sent s = { 0 };
  dce_assoc *a = bound(0, 5840, &s);
  uint32_t c1, c2, c3;
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"abcd", 4, &c1, NULL, 0);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"efgh", 4, &c2, NULL, 0);
  test_cond("without CONC_MPX one call at a time", drain(a, &s) == 1 && s.p[0].call_id == c1);
  feed_response(a, c1, (const uint8_t *)"1", 1, 100);
  test_cond("the next call goes after the reply", drain(a, &s) == 1 && s.p[0].call_id == c2);
  feed_response(a, c2, (const uint8_t *)"2", 1, 100);
  test_cond("both done", dce_assoc_result(a, c1)->status == 0 && dce_assoc_result(a, c2)->status == 0);
  dce_assoc_free(a);

  a = bound(1, 5840, &s);
  test_cond("CONC_MPX negotiated", dce_assoc_get_info(a)->conc_mpx);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"abcd", 4, &c1, NULL, 0);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"efgh", 4, &c2, NULL, 0);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"ijkl", 4, &c3, NULL, 0);
  test_cond("with CONC_MPX all calls go out", drain(a, &s) == 3);
  feed_response(a, c3, (const uint8_t *)"3", 1, 100);
  feed_response(a, c1, (const uint8_t *)"1", 1, 100);
  test_cond("replies in any order", dce_assoc_result(a, c3)->state == DCE_OP_DONE
            && dce_assoc_result(a, c1)->state == DCE_OP_DONE && dce_assoc_result(a, c2)->state != DCE_OP_DONE);
  sent_free(&s);
  dce_assoc_free(a);
}

static void test_failures(void) {
  sent s = { 0 };
  dce_assoc *a;
  uint32_t id, c1, c2;
  const dce_op_result *r;
  dce_pctx c;
  dce_pdu p;

  /* bind_ack with a fragment size below 1432 */
  memset(&c, 0, sizeof c);
  c.abstract = ECHO; c.n_transfer = 1; c.transfer[0] = dce_syntax_ndr20;
  a = dce_assoc_new(NULL);
  dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL, 0);
  dce_assoc_request(a, 0, 0, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  test_cond("small frag ack kills the association", feed_ack(a, id, 1, 1000, 0) == -1);
  r = dce_assoc_result(a, id);
  test_cond("... as a protocol error, not executed", r->status == DCE_RPC_S_PROTOCOL_ERROR
            && r->executed == DCE_EXEC_NO && strstr(r->msg, "1432"));
  r = dce_assoc_result(a, c1);
  test_cond("queued call fails, not executed", r->status == DCE_RPC_S_CALL_FAILED && r->executed == DCE_EXEC_NO);
  dce_assoc_free(a);

  /* bind_nak */
  a = dce_assoc_new(NULL);
  dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL, 0);
  drain(a, &s);
  dce_pdu_init(&p, DCE_PT_BIND_NAK, id);
  p.reject_reason = 4;
  feed_pdu(a, &p);
  r = dce_assoc_result(a, id);
  test_cond("bind_nak -> call_failed_dne with the reason", r->status == DCE_RPC_S_CALL_FAILED_DNE
            && r->executed == DCE_EXEC_NO && strstr(r->msg, "protocol_version_not_supported"));
  dce_assoc_free(a);

  /* response with a call_id never sent */
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 0, 0, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  feed_response(a, c1 + 7, (const uint8_t *)"x", 1, 10);
  r = dce_assoc_result(a, c1);
  test_cond("wrong call_id -> call failed, maybe executed", dce_assoc_is_dead(a)
            && r->status == DCE_RPC_S_CALL_FAILED && r->executed == DCE_EXEC_MAYBE
            && strstr(r->msg, "never sent"));
  dce_assoc_free(a);

  /* fault with and without DNE */
  a = bound(1, 5840, &s);
  dce_assoc_request(a, 0, 99, NULL, NULL, 0, &c1, NULL, 0);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL, 0);
  drain(a, &s);
  dce_pdu_init(&p, DCE_PT_FAULT, c1);
  p.flags |= DCE_PFC_DID_NOT_EXECUTE;
  p.status = DCE_NCA_S_OP_RNG_ERROR;
  feed_pdu(a, &p);
  dce_pdu_init(&p, DCE_PT_FAULT, c2);
  p.status = 5;
  feed_pdu(a, &p);
  r = dce_assoc_result(a, c1);
  test_cond("DNE fault -> its status, not executed", r->status == DCE_NCA_S_OP_RNG_ERROR && r->executed == DCE_EXEC_NO);
  r = dce_assoc_result(a, c2);
  test_cond("fault -> its status, maybe executed", r->status == 5 && r->executed == DCE_EXEC_MAYBE);
  test_cond("association still usable after faults", !dce_assoc_is_dead(a));

  /* cancel: co_cancel goes out, late reply swallowed */
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  test_cond("cancel accepted", dce_assoc_cancel(a, c1, DCE_RPC_S_CALL_CANCELLED, "timed out") == 0);
  test_cond("co_cancel sent", drain(a, &s) == 1 && s.p[0].ptype == DCE_PT_CO_CANCEL && s.p[0].call_id == c1);
  r = dce_assoc_result(a, c1);
  test_cond("cancelled call -> 1818 maybe", r->status == DCE_RPC_S_CALL_CANCELLED && r->executed == DCE_EXEC_MAYBE);
  dce_assoc_release(a, c1);
  feed_response(a, c1, (const uint8_t *)"late", 4, 100);
  test_cond("late response discarded, not an error", !dce_assoc_is_dead(a));
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL, 0);
  drain(a, &s);
  feed_response(a, c1, (const uint8_t *)"later", 5, 100);
  test_cond("a second late reply for a forgotten call is a protocol error", dce_assoc_is_dead(a));

  /* connection lost: sent -> maybe, queued -> no */
  dce_assoc_free(a);
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL, 0);
  drain(a, &s);
  dce_assoc_lost(a, "connection reset");
  test_cond("lost: sent call maybe", dce_assoc_result(a, c1)->executed == DCE_EXEC_MAYBE
            && dce_assoc_result(a, c1)->status == DCE_RPC_S_CALL_FAILED);
  test_cond("lost: queued call no", dce_assoc_result(a, c2)->executed == DCE_EXEC_NO);
  dce_assoc_free(a);

  /* orphaned when cancelled mid-request */
  {
    static uint8_t big[100000];
    const uint8_t *op;
    size_t n;
    a = bound(0, 5840, &s);
    dce_assoc_request(a, 0, 2, NULL, big, sizeof big, &c1, NULL, 0);
    n = dce_assoc_out(a, &op);
    dce_assoc_sent(a, n);                    /* only part of it (out is produced lazily) */
    dce_assoc_cancel(a, c1, DCE_RPC_S_CALL_CANCELLED, "timed out");
    drain(a, &s);
    test_cond("orphaned after a partial request, no more fragments", s.n == 1
              && s.p[0].ptype == DCE_PT_ORPHANED && s.p[0].call_id == c1);
    dce_assoc_free(a);
  }

  /* response over the cap */
  {
    dce_assoc_cfg cfg;
    static uint8_t big[10000];
    memset(&cfg, 0, sizeof cfg);
    cfg.max_response = 5000;
    a = dce_assoc_new(&cfg);
    dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL, 0);
    drain(a, &s);
    feed_ack(a, id, 1, 5840, 0);
    dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
    drain(a, &s);
    feed_response(a, c1, big, sizeof big, 3000);
    r = dce_assoc_result(a, c1);
    test_cond("response over the cap fails, rest swallowed", r->status == DCE_RPC_S_CALL_FAILED
              && strstr(r->msg, "limit") && !dce_assoc_is_dead(a));
    dce_assoc_free(a);
  }

  /* byte-at-a-time feeding and a garbage header */
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  {
    dce_buf b;
    dce_pdu_error e;
    size_t i;
    dce_buf_init(&b);
    dce_pdu_init(&p, DCE_PT_RESPONSE, c1);
    p.stub = (const uint8_t *)"hello"; p.stub_len = 5;
    dce_pdu_encode(&p, &b, &e);
    for (i = 0; i < b.len; i++) dce_assoc_feed(a, b.p + i, 1);
    r = dce_assoc_result(a, c1);
    test_cond("byte-at-a-time feed", r->status == 0 && r->stub.len == 5 && memcmp(r->stub.p, "hello", 5) == 0);
    dce_buf_free(&b);
  }
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  {
    static const uint8_t junk[16] = { 5, 0, 2, 3, 0x10, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0 };
    test_cond("frag_length < 16 from the peer kills", dce_assoc_feed(a, junk, 16) == -1
              && dce_assoc_result(a, c1)->executed == DCE_EXEC_MAYBE);
  }
  dce_assoc_free(a);

  /* a fragment above the negotiated max_recv_frag */
  a = bound(0, 2048, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  {
    static uint8_t big[3000];
    feed_response(a, c1, big, sizeof big, sizeof big);
    test_cond("fragment over max_recv_frag -> protocol error", dce_assoc_is_dead(a)
              && strstr(dce_assoc_result(a, c1)->msg, "max_recv_frag"));
  }
  dce_assoc_free(a);

  /* a middle fragment with no first */
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  dce_pdu_init(&p, DCE_PT_RESPONSE, c1);
  p.flags = DCE_PFC_LAST_FRAG;
  feed_pdu(a, &p);
  test_cond("last fragment without a first -> protocol error", dce_assoc_is_dead(a)
            && strstr(dce_assoc_result(a, c1)->msg, "without a first"));
  dce_assoc_free(a);

  /* a request PDU from the server */
  a = bound(0, 5840, &s);
  dce_pdu_init(&p, DCE_PT_REQUEST, 1);
  test_cond("request from the server -> protocol error", feed_pdu(a, &p) == -1 && dce_assoc_is_dead(a));
  dce_assoc_free(a);

  /* a response naming another presentation context */
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 3, 1, NULL, NULL, 0, &c1, NULL, 0);
  drain(a, &s);
  feed_response(a, c1, (const uint8_t *)"x", 1, 10);
  test_cond("response with another context id -> protocol error", dce_assoc_is_dead(a)
            && strstr(dce_assoc_result(a, c1)->msg, "context"));
  sent_free(&s);
  dce_assoc_free(a);
}

/* A transport that takes 1000 bytes at a time: the stream must still be
** whole fragments carrying the stub in order. */
static void test_trickle(void) {
  sent s = { 0 };
  dce_assoc *a = bound(0, 5840, &s);
  static uint8_t stub[300000], wire[400000], got[300000];
  size_t wl = 0, off = 0, gl = 0, i;
  uint32_t c1;
  int ok = 1, nfrag = 0;
  uint64_t before = dce_assoc_get_info(a)->bytes_sent;
  for (i = 0; i < sizeof stub; i++) stub[i] = (uint8_t)(i * 31 + 7);
  dce_assoc_request(a, 0, 2, NULL, stub, sizeof stub, &c1, NULL, 0);
  for (;;) {
    const uint8_t *p;
    size_t n = dce_assoc_out(a, &p);
    if (n == 0) break;
    if (n > 1000) n = 1000;
    if (wl + n > sizeof wire) { ok = 0; break; }
    memcpy(wire + wl, p, n);
    wl += n;
    dce_assoc_sent(a, n);
  }
  while (off < wl && ok) {
    dce_pdu p;
    dce_pdu_error e;
    long fl = dce_pdu_peek(wire + off, wl - off, &e);
    if (fl <= 0 || dce_pdu_decode(&p, wire + off, (size_t)fl, &e)) { ok = 0; break; }
    if (gl + p.stub_len > sizeof got) { ok = 0; dce_pdu_free(&p); break; }
    memcpy(got + gl, p.stub, p.stub_len);
    gl += p.stub_len;
    nfrag++;
    dce_pdu_free(&p);
    off += (size_t)fl;
  }
  test_cond("trickled output is whole fragments with the stub in order",
            ok && gl == sizeof stub && memcmp(got, stub, gl) == 0 && nfrag == 52);
  test_cond("bytes_sent counts the wire", dce_assoc_get_info(a)->bytes_sent - before == wl);
  sent_free(&s);
  dce_assoc_free(a);
}

int main(void) {
  test_trickle();
  test_bind_and_call();
  test_serialize_and_mpx();
  test_failures();
  return test_report("test_assoc");
}
