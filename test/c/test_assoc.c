/*
** test_assoc.c - the client association without sockets: bytes out are
** decoded and checked, server PDUs are encoded here and fed back in.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "rpc/co_client.h"
#include "rpc/sec.h"
#include "auth/ntlm.h"
#include "base/status.h"

static dce_err de;                 /* the last refusal of a dce_assoc_* function */

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
  dce_assoc_bind(a, 0, &c, 1, &o, &id, NULL);
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
  test_cond("request before bind refused", dce_assoc_request(a, 0, 0, NULL, NULL, 0, &cid, NULL) == -1);
  test_cond("bind starts", dce_assoc_bind(a, 0, c, 2, &o, &id, NULL) == 0);
  test_cond("request queued behind the bind", dce_assoc_request(a, 0, 2, NULL, big, sizeof big, &cid, NULL) == 0);
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
  test_cond("alter_context starts", dce_assoc_bind(a, 1, &c[1], 1, NULL, &id, NULL) == 0);
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
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"abcd", 4, &c1, NULL);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"efgh", 4, &c2, NULL);
  test_cond("without CONC_MPX one call at a time", drain(a, &s) == 1 && s.p[0].call_id == c1);
  feed_response(a, c1, (const uint8_t *)"1", 1, 100);
  test_cond("the next call goes after the reply", drain(a, &s) == 1 && s.p[0].call_id == c2);
  feed_response(a, c2, (const uint8_t *)"2", 1, 100);
  test_cond("both done", dce_assoc_result(a, c1)->status == 0 && dce_assoc_result(a, c2)->status == 0);
  dce_assoc_free(a);

  a = bound(1, 5840, &s);
  test_cond("CONC_MPX negotiated", dce_assoc_get_info(a)->conc_mpx);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"abcd", 4, &c1, NULL);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"efgh", 4, &c2, NULL);
  dce_assoc_request(a, 0, 0, NULL, (const uint8_t *)"ijkl", 4, &c3, NULL);
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
  dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL);
  dce_assoc_request(a, 0, 0, NULL, NULL, 0, &c1, NULL);
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
  dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL);
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
  dce_assoc_request(a, 0, 0, NULL, NULL, 0, &c1, NULL);
  drain(a, &s);
  feed_response(a, c1 + 7, (const uint8_t *)"x", 1, 10);
  r = dce_assoc_result(a, c1);
  test_cond("wrong call_id -> call failed, maybe executed", dce_assoc_is_dead(a)
            && r->status == DCE_RPC_S_CALL_FAILED && r->executed == DCE_EXEC_MAYBE
            && strstr(r->msg, "never sent"));
  dce_assoc_free(a);

  /* fault with and without DNE */
  a = bound(1, 5840, &s);
  dce_assoc_request(a, 0, 99, NULL, NULL, 0, &c1, NULL);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL);
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
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
  drain(a, &s);
  test_cond("cancel accepted", dce_assoc_cancel(a, c1, DCE_RPC_S_CALL_CANCELLED, "timed out") == 0);
  test_cond("co_cancel sent", drain(a, &s) == 1 && s.p[0].ptype == DCE_PT_CO_CANCEL && s.p[0].call_id == c1);
  r = dce_assoc_result(a, c1);
  test_cond("cancelled call -> 1818 maybe", r->status == DCE_RPC_S_CALL_CANCELLED && r->executed == DCE_EXEC_MAYBE);
  dce_assoc_release(a, c1);
  feed_response(a, c1, (const uint8_t *)"late", 4, 100);
  test_cond("late response discarded, not an error", !dce_assoc_is_dead(a));
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL);
  drain(a, &s);
  feed_response(a, c1, (const uint8_t *)"later", 5, 100);
  test_cond("a second late reply for a forgotten call is a protocol error", dce_assoc_is_dead(a));

  /* connection lost: sent -> maybe, queued -> no */
  dce_assoc_free(a);
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL);
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
    dce_assoc_request(a, 0, 2, NULL, big, sizeof big, &c1, NULL);
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
    dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL);
    drain(a, &s);
    feed_ack(a, id, 1, 5840, 0);
    dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
    drain(a, &s);
    feed_response(a, c1, big, sizeof big, 3000);
    r = dce_assoc_result(a, c1);
    test_cond("response over the cap fails, rest swallowed", r->status == DCE_RPC_S_CALL_FAILED
              && strstr(r->msg, "max_response (5000 bytes)") && !dce_assoc_is_dead(a));
    dce_assoc_free(a);
  }

  /* a per-call cap, below and above the association's */
  {
    dce_assoc_cfg cfg;
    static uint8_t big[10000];
    dce_err e;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_response = 20000;
    a = dce_assoc_new(&cfg);
    dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL);
    drain(a, &s);
    feed_ack(a, id, 1, 5840, 0);
    dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
    test_cond("per-call max_response set on a queued request",
              dce_assoc_request_limit(a, c1, 4000, NULL) == 0);
    drain(a, &s);
    feed_response(a, c1, big, sizeof big, 3000);
    r = dce_assoc_result(a, c1);
    test_cond("reply over the per-call cap fails naming it", r->status == DCE_RPC_S_CALL_FAILED
              && strstr(r->msg, "max_response (4000 bytes)") && !dce_assoc_is_dead(a));
    dce_assoc_release(a, c1);
    dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c2, NULL);
    dce_assoc_request_limit(a, c2, 5000, NULL);
    test_cond("per-call max_response of 0 is misuse",
              dce_assoc_request_limit(a, c2, 0, &e) == -1 && e.kind == DCE_E_MISUSE);
    drain(a, &s);
    feed_response(a, c2, big, 4000, 3000);
    r = dce_assoc_result(a, c2);
    test_cond("reply within the per-call cap is whole", r->status == 0 && r->stub.len == 4000);
    dce_assoc_release(a, c2);
    test_cond("per-call max_response of an unknown call is misuse",
              dce_assoc_request_limit(a, 999, 100, NULL) == -1);
    dce_assoc_free(a);
  }

  /* byte-at-a-time feeding and a garbage header */
  a = bound(0, 5840, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
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
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
  drain(a, &s);
  {
    static const uint8_t junk[16] = { 5, 0, 2, 3, 0x10, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0 };
    test_cond("frag_length < 16 from the peer kills", dce_assoc_feed(a, junk, 16) == -1
              && dce_assoc_result(a, c1)->executed == DCE_EXEC_MAYBE);
  }
  dce_assoc_free(a);

  /* a fragment above the negotiated max_recv_frag */
  a = bound(0, 2048, &s);
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
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
  dce_assoc_request(a, 0, 1, NULL, NULL, 0, &c1, NULL);
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
  dce_assoc_request(a, 3, 1, NULL, NULL, 0, &c1, NULL);
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
  dce_assoc_request(a, 0, 2, NULL, stub, sizeof stub, &c1, NULL);
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

/* ------------------------------------------------------------ several security contexts */

/* An in-process server for the auth tests: one engine server context per
** auth_context_id, answering bind / alter_context / auth3 legs, verifying
** each request fragment with the context its trailer names and answering
** with a response protected by that context (or by `answer_with`). */
typedef struct msrv {
  struct { uint32_t id; dce_sec *s; } c[80];
  int n;
  uint16_t features;               /* bind_ack: negotiate_ack bits */
  int fail_alter;                  /* answer alter_contexts with this fault */
  int req_ok, req_bad;             /* request fragments verified / refused */
  uint32_t last_ctx[16];           /* trailers of the last requests */
  int last_has_auth[16], last_level[16], n_last;
  uint8_t last_value[16][16];
  size_t last_vlen[16];
  long answer_with;                /* respond with this context id (-1: the request's) */
} msrv;

static int msrv_lookup(void *ud, const char *u, const char *d, const char *w, uint8_t hash[16]) {
  (void)ud; (void)u; (void)d; (void)w;
  return dce_ntlm_nt_hash("Pass-1", hash) ? -1 : 0;
}

static dce_sec *msrv_find(msrv *m, uint32_t id) {
  int i;
  for (i = 0; i < m->n; i++) if (m->c[i].id == id) return m->c[i].s;
  return NULL;
}

static void msrv_free(msrv *m) {
  int i;
  for (i = 0; i < m->n; i++) dce_sec_free(m->c[i].s);
  m->n = 0;
}

/* Encode a response on call_id with `stub`, protected by sec (may be NULL). */
static void msrv_response(dce_buf *out, uint32_t call_id, dce_sec *sec, uint32_t ctx_id,
                          const uint8_t *stub, size_t len) {
  static const uint8_t zero[16];
  dce_pdu q;
  dce_pdu_error e;
  size_t start = out->len;
  dce_pdu_init(&q, DCE_PT_RESPONSE, call_id);
  q.flags = DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG;
  q.alloc_hint = (uint32_t)len;
  q.stub = stub; q.stub_len = len;
  if (sec && dce_sec_protects(sec)) {
    q.has_auth = 1;
    q.auth.type = dce_sec_type(sec);
    q.auth.level = dce_sec_level(sec);
    q.auth.context_id = ctx_id;
    q.auth.pad_len = (uint8_t)((16 - len % 16) % 16);
    q.auth.value = zero;
    q.auth.value_len = dce_sec_sig_len(sec);
  }
  dce_pdu_encode(&q, out, &e);
  if (q.has_auth)
    dce_sec_wrap(sec, out->p + start, out->len - start, DCE_REQUEST_HDR_LEN /* a response header is 24 bytes too */, len + q.auth.pad_len);
}

/* Take the client's output, answer it; returns bytes fed back (-1: feed said dead). */
static int msrv_serve(dce_assoc *a, msrv *m) {
  dce_buf in, out;
  const uint8_t *p;
  size_t n, off = 0;
  int rc = 0;
  dce_buf_init(&in); dce_buf_init(&out);
  while ((n = dce_assoc_out(a, &p)) > 0) { dce_buf_put(&in, p, n); dce_assoc_sent(a, n); }
  while (off + 16 <= in.len) {
    dce_pdu_error e;
    dce_pdu q, r;
    long fl = dce_pdu_peek(in.p + off, in.len - off, &e);
    uint8_t *frag = in.p + off;
    if (fl <= 0 || dce_pdu_decode(&q, frag, (size_t)fl, &e)) break;
    if (q.ptype == DCE_PT_BIND || q.ptype == DCE_PT_ALTER || q.ptype == DCE_PT_AUTH3) {
      dce_result res[3];
      dce_buf tok;
      int i;
      dce_buf_init(&tok);
      if (q.ptype == DCE_PT_ALTER && m->fail_alter) {
        dce_pdu_init(&r, DCE_PT_FAULT, q.call_id);
        r.status = (uint32_t)m->fail_alter;
        dce_pdu_encode(&r, &out, &e);
        dce_pdu_free(&q); off += (size_t)fl; continue;
      }
      if (q.has_auth) {
        dce_sec *s = msrv_find(m, q.auth.context_id);
        uint32_t st;
        char err[160];
        if (!s) {
          dce_acceptor acc = { .nb_domain = "D", .nb_computer = "SRV", .lookup = msrv_lookup };
          s = dce_sec_server_new(q.auth.type, q.auth.level, &acc, err, sizeof err);
          m->c[m->n].id = q.auth.context_id; m->c[m->n].s = s; m->n++;
        }
        dce_sec_step(s, q.auth.value, q.auth.value_len, &tok, &st, err, sizeof err);
      }
      if (q.ptype != DCE_PT_AUTH3) {
        dce_pdu_init(&r, q.ptype == DCE_PT_BIND ? DCE_PT_BIND_ACK : DCE_PT_ALTER_RESP, q.call_id);
        r.max_xmit = r.max_recv = 5840;
        r.assoc_group = 0x1234;
        r.sec_addr = (const uint8_t *)"135"; r.sec_addr_len = 4;
        memset(res, 0, sizeof res);
        for (i = 0; i < q.n_ctx && i < 3; i++) res[i].transfer = dce_syntax_ndr20;
        if (q.ptype == DCE_PT_BIND && q.n_ctx == 2) {
          res[1].result = DCE_RESULT_NEGOTIATE_ACK; res[1].reason = m->features;
          memset(&res[1].transfer, 0, sizeof res[1].transfer);
        }
        r.n_results = q.n_ctx; r.results = res;
        if (q.has_auth) { r.has_auth = 1; r.auth = q.auth; r.auth.value = tok.p; r.auth.value_len = tok.len; }
        dce_pdu_encode(&r, &out, &e);
      }
      dce_buf_free(&tok);
    } else if (q.ptype == DCE_PT_REQUEST) {
      dce_sec *s = q.has_auth ? msrv_find(m, q.auth.context_id) : NULL;
      int k = m->n_last < 16 ? m->n_last++ : 15;
      m->last_has_auth[k] = q.has_auth;
      m->last_ctx[k] = q.has_auth ? q.auth.context_id : DCE_AUTH_CTX_NONE;
      m->last_level[k] = q.has_auth ? q.auth.level : 0;
      m->last_vlen[k] = q.has_auth ? q.auth.value_len : 0;
      if (q.has_auth && q.auth.value_len <= 16) memcpy(m->last_value[k], q.auth.value, q.auth.value_len);
      if (s && dce_sec_protects(s)) {
        size_t stub_off = (size_t)(q.stub - frag);
        if (dce_sec_unwrap(s, frag, (size_t)fl, stub_off, q.stub_len + q.auth.pad_len)) m->req_bad++;
        else m->req_ok++;
      } else {
        m->req_ok++;
      }
      {
        long use = m->answer_with >= 0 ? m->answer_with : (q.has_auth ? (long)q.auth.context_id : -1);
        dce_sec *rs = use >= 0 ? msrv_find(m, (uint32_t)use) : NULL;
        uint8_t stub[24];
        memset(stub, (int)(q.call_id & 0xff), sizeof stub);   /* the answer names its call */
        msrv_response(&out, q.call_id, rs, (uint32_t)use, stub, sizeof stub);
      }
    }
    dce_pdu_free(&q);
    off += (size_t)fl;
  }
  if (out.len && dce_assoc_feed(a, out.p, out.len)) rc = -1;
  dce_buf_free(&in); dce_buf_free(&out);
  return rc;
}

static dce_sec *csec(uint8_t type, uint8_t level, const char *pw) {
  dce_cred cred;
  char err[160];
  memset(&cred, 0, sizeof cred);
  cred.user = "alice"; cred.domain = "D"; cred.password = pw;
  return dce_sec_client_new(type, level, &cred, err, sizeof err);
}

static dce_assoc *mpx_bound(msrv *m, dce_sec *bind_sec, uint32_t bind_id, uint16_t features) {
  dce_assoc *a = dce_assoc_new(NULL);
  dce_pctx c;
  dce_bind_opts o;
  uint32_t id;
  int i;
  memset(&c, 0, sizeof c); memset(&o, 0, sizeof o);
  c.abstract = ECHO; c.n_transfer = 1; c.transfer[0] = dce_syntax_ndr20;
  o.feature_negotiation = 1;
  m->features = features;
  if (bind_sec) dce_assoc_set_auth(a, bind_sec, bind_id);
  dce_assoc_bind(a, 0, &c, 1, &o, &id, NULL);
  for (i = 0; i < 3 && !dce_assoc_get_info(a)->bound; i++) msrv_serve(a, m);
  msrv_serve(a, m);                                 /* NTLM's auth3 */
  dce_assoc_release(a, id);
  return a;
}

static int add(dce_assoc *a, msrv *m, dce_sec *s, uint32_t id, uint32_t *status) {
  dce_pctx c;
  uint32_t call;
  int i;
  const dce_op_result *r;
  memset(&c, 0, sizeof c);
  c.abstract = ECHO; c.n_transfer = 1; c.transfer[0] = dce_syntax_ndr20;
  if (dce_assoc_add_auth(a, s, id, &c, 1, &call, &de)) { dce_sec_free(s); return -1; }
  for (i = 0; i < 4; i++) {
    r = dce_assoc_result(a, call);
    if (r && r->state == DCE_OP_DONE) break;
    msrv_serve(a, m);
  }
  msrv_serve(a, m);                                 /* auth3 */
  r = dce_assoc_result(a, call);
  *status = r ? r->status : 0xffffffffu;
  dce_assoc_release(a, call);
  return 0;
}

static uint32_t request_on(dce_assoc *a, uint32_t actx, const uint8_t *stub, size_t len) {
  uint32_t id;
  dce_assoc_request(a, 0, 1, NULL, stub, len, &id, NULL);
  if (actx != 0xfffffffeu) dce_assoc_request_auth(a, id, actx, NULL);
  return id;
}

static int answered(dce_assoc *a, uint32_t id) {
  const dce_op_result *r = dce_assoc_result(a, id);
  size_t i;
  if (!r || r->state != DCE_OP_DONE || r->status || r->stub.len != 24) return 0;
  for (i = 0; i < 24; i++) if (r->stub.p[i] != (uint8_t)(id & 0xff)) return 0;
  return 1;
}

static void test_mpx(void) {
  msrv m;
  dce_assoc *a;
  uint32_t st, ids[8];
  static const uint8_t stub[40] = { 1, 2, 3 };
  int i, ok;
  dce_pctx c;

  memset(&c, 0, sizeof c);
  c.abstract = ECHO; c.n_transfer = 1; c.transfer[0] = dce_syntax_ndr20;

  /* NTLM integrity on the bind, then SPNEGO privacy, NTLM packet, NTLM connect */
  memset(&m, 0, sizeof m); m.answer_with = -1;
  a = mpx_bound(&m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "Pass-1"), 3, 3);
  test_cond("mpx: bind authenticated", dce_assoc_get_info(a)->bound && m.n == 1);
  test_cond("mpx: add SPNEGO privacy", add(a, &m, csec(DCE_AUTHN_SPNEGO, DCE_LEVEL_PRIVACY, "Pass-1"), 5, &st) == 0 && st == 0);
  test_cond("mpx: add NTLM packet", add(a, &m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_PKT, "Pass-1"), 9, &st) == 0 && st == 0);
  test_cond("mpx: add NTLM connect", add(a, &m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_CONNECT, "Pass-1"), 12, &st) == 0 && st == 0);
  test_cond("mpx: four contexts, server established all", dce_assoc_auth_count(a) == 4 && m.n == 4);
  {
    int state; uint32_t id;
    ok = 1;
    for (i = 0; i < 4; i++) if (!dce_assoc_auth_get(a, i, &id, &state, NULL) || state != 1) ok = 0;
    test_cond("mpx: every context established", ok);
  }
  test_cond("mpx: duplicate auth_context_id refused",
            dce_assoc_add_auth(a, (dce_sec *)1, 9, &c, 1, &st, &de) == -1 && strstr(de.msg, "in use"));
  test_cond("mpx: ... as the caller's mistake", de.kind == DCE_E_MISUSE);
  {
    uint32_t id;
    int r;
    dce_assoc_request(a, 0, 1, NULL, stub, sizeof stub, &id, NULL);
    r = dce_assoc_request_auth(a, id, 44, &de);
    dce_assoc_release(a, id);
    test_cond("mpx: unknown auth_context_id refused on a request", r == -1);
  }
  /* interleave, twice round: the RC4 and sequence state is per context */
  m.n_last = 0;
  {
    static const uint32_t order[8] = { 5, 3, 9, 12, 0xfffffffeu, 5, DCE_AUTH_CTX_NONE, 9 };
    static const uint32_t want_ctx[8] = { 5, 3, 9, 12, 3, 5, DCE_AUTH_CTX_NONE, 9 };
    static const int want_level[8] = { DCE_LEVEL_PRIVACY, DCE_LEVEL_INTEGRITY, DCE_LEVEL_PKT, DCE_LEVEL_CONNECT,
                                       DCE_LEVEL_INTEGRITY, DCE_LEVEL_PRIVACY, 0, DCE_LEVEL_PKT };
    int round;
    ok = 1;
    for (round = 0; round < 2; round++) {
      m.n_last = 0;
      for (i = 0; i < 8; i++) {
        ids[i] = request_on(a, order[i], stub, sizeof stub);
        msrv_serve(a, &m);
        if (!answered(a, ids[i])) ok = 0;
        if (m.last_ctx[i] != want_ctx[i] || m.last_level[i] != want_level[i]) ok = 0;
        dce_assoc_release(a, ids[i]);
      }
    }
    test_cond("mpx: 16 requests on 4 contexts + anonymous, each answered and verified", ok && !dce_assoc_is_dead(a));
    test_cond("mpx: server verified every request fragment", m.req_ok == 16 && m.req_bad == 0);
    test_cond("mpx: connect level with several contexts: 16-byte verifier 01 00..00",
              m.last_has_auth[3] && m.last_vlen[3] == 16 && m.last_value[3][0] == 1 &&
              memcmp(m.last_value[3] + 1, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) == 0);
    test_cond("mpx: anonymous request carries no sec_trailer", !m.last_has_auth[6]);
  }
  /* a response protected by another context than its request's */
  m.answer_with = 9;
  ids[0] = request_on(a, 5, stub, sizeof stub);
  msrv_serve(a, &m);
  test_cond("mpx: response naming another auth_context_id -> protocol error",
            dce_assoc_is_dead(a) && dce_assoc_result(a, ids[0])->status == DCE_RPC_S_PROTOCOL_ERROR);
  dce_assoc_free(a);
  msrv_free(&m);

  /* a response signed by the right context id but with another context's keys */
  memset(&m, 0, sizeof m); m.answer_with = -1;
  a = mpx_bound(&m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "Pass-1"), 1, 1);
  add(a, &m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "Pass-1"), 2, &st);
  {
    /* the server's context 2 now holds context 1's keys: its answer to a
    ** request on 2 names 2 but is signed with the wrong keys */
    dce_sec *t = m.c[0].s; m.c[0].s = m.c[1].s; m.c[1].s = t;
    ids[0] = request_on(a, 2, stub, sizeof stub);
    msrv_serve(a, &m);
    test_cond("mpx: response signed with another context's keys -> refused, dead",
              dce_assoc_is_dead(a) && dce_assoc_result(a, ids[0])->status == 0x8009030Fu);
  }
  dce_assoc_free(a);
  msrv_free(&m);

  /* refusal without the multiplexing ack; an anonymous bind may add its first */
  memset(&m, 0, sizeof m); m.answer_with = -1;
  a = mpx_bound(&m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_PKT, "Pass-1"), 0, DCE_FEATURE_KEEP_CONN_ON_ORPHAN);
  {
    dce_sec *s = csec(DCE_AUTHN_WINNT, DCE_LEVEL_PKT, "Pass-1");
    int r = dce_assoc_add_auth(a, s, 1, &c, 1, &st, &de);
    test_cond("mpx: second context without the SEC_CTX_MPX ack refused",
              r == -1 && strstr(de.msg, "multiplexing") && !dce_assoc_is_dead(a));
    test_cond("mpx: ... a refusal (the server's limit, not misuse): did not execute",
              de.kind == DCE_E_REFUSED && de.status == DCE_RPC_S_CALL_FAILED_DNE && de.executed == DCE_EXEC_NO);
    dce_sec_free(s);
  }
  dce_assoc_free(a);
  msrv_free(&m);
  memset(&m, 0, sizeof m); m.answer_with = -1;
  a = mpx_bound(&m, NULL, 0, 0);
  test_cond("mpx: anonymous bind, first context by alter_context without the ack",
            add(a, &m, csec(DCE_AUTHN_SPNEGO, DCE_LEVEL_PRIVACY, "Pass-1"), 4, &st) == 0 && st == 0);
  ids[0] = request_on(a, 0xfffffffeu, stub, sizeof stub);
  ids[1] = request_on(a, 4, stub, sizeof stub);
  msrv_serve(a, &m);
  msrv_serve(a, &m);
  test_cond("mpx: anonymous default request and sealed request both answered",
            answered(a, ids[0]) && answered(a, ids[1]) && !m.last_has_auth[0] &&
            m.last_ctx[1] == 4 && m.last_level[1] == DCE_LEVEL_PRIVACY && m.req_bad == 0);
  test_cond("mpx: one context: connect-level rule n/a, second refused without the ack",
            add(a, &m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_PKT, "Pass-1"), 6, &st) == -1);
  dce_assoc_free(a);
  msrv_free(&m);

  /* a failed added context leaves the association and the others working */
  memset(&m, 0, sizeof m); m.answer_with = -1;
  a = mpx_bound(&m, csec(DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "Pass-1"), 0, 3);
  m.fail_alter = 0x721;
  test_cond("mpx: added context refused by a fault -> its status", add(a, &m, csec(DCE_AUTHN_SPNEGO, DCE_LEVEL_PRIVACY, "Pass-1"), 1, &st) == 0 && st == 0x721);
  m.fail_alter = 0;
  test_cond("mpx: ... association alive", !dce_assoc_is_dead(a));
  {
    uint32_t id;
    dce_assoc_request(a, 0, 1, NULL, stub, sizeof stub, &id, NULL);
    test_cond("mpx: ... the failed context cannot be chosen",
              dce_assoc_request_auth(a, id, 1, &de) == -1 && strstr(de.msg, "failed"));
    test_cond("mpx: ... refused with the context's own status, not misuse",
              de.kind == DCE_E_REFUSED && de.status == 0x721 && de.executed == DCE_EXEC_NO);
    msrv_serve(a, &m);
    test_cond("mpx: ... the bind's context still works", answered(a, id));
    dce_assoc_release(a, id);
  }
  /* a wrong password through SPNEGO: the mechanism's own failure */
  test_cond("mpx: wrong password -> STATUS_LOGON_FAILURE, association alive",
            add(a, &m, csec(DCE_AUTHN_SPNEGO, DCE_LEVEL_PRIVACY, "wrong"), 2, &st) == 0 && st != 0 &&
            !dce_assoc_is_dead(a));
  dce_assoc_free(a);
  msrv_free(&m);

  /* the cap: 64 contexts (queued alters are enough to count) */
  memset(&m, 0, sizeof m); m.answer_with = -1;
  a = mpx_bound(&m, NULL, 0, 3);
  ok = 1;
  for (i = 0; i < DCE_MAX_AUTH_CTX; i++) {
    dce_sec *s = csec(DCE_AUTHN_WINNT, DCE_LEVEL_PKT, "Pass-1");
    if (dce_assoc_add_auth(a, s, (uint32_t)i, &c, 1, &st, &de)) { dce_sec_free(s); ok = 0; }
  }
  {
    dce_sec *s = csec(DCE_AUTHN_WINNT, DCE_LEVEL_PKT, "Pass-1");
    test_cond("mpx: 64 contexts, the 65th refused", ok &&
              dce_assoc_add_auth(a, s, 100, &c, 1, &st, &de) == -1 && strstr(de.msg, "64"));
    dce_sec_free(s);
  }
  dce_assoc_free(a);
  msrv_free(&m);
}

int main(void) {
  test_trickle();
  test_bind_and_call();
  test_serialize_and_mpx();
  test_failures();
  test_mpx();
  return test_report("test_assoc");
}
