/*
** test_server.c - the server association and the event loop without a
** network: client PDUs are encoded here and fed to a dce_sconn (whole, or a
** byte at a time), and what comes out is decoded and checked.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testhelp.h"
#include "rpc/co_server.h"
#include "net/loop.h"
#include "base/status.h"
#include "base/clock.h"

static const dce_syntax ECHO = {
  { { 0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11, 0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82 } }, 1, 0 };
static const dce_syntax NDR20 = {
  { { 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60 } }, 2, 0 };
static int IFACE_TAG;

/* ------------------------------------------------------------ helpers */

typedef struct outq { int n; dce_pdu p[64]; uint8_t *raw[64]; } outq;

static void outq_free(outq *q) {
  int i;
  for (i = 0; i < q->n; i++) { dce_pdu_free(&q->p[i]); free(q->raw[i]); }
  q->n = 0;
}

/* Take every byte the connection produced and decode it. -1 on garbage. */
static int drain(dce_sconn *c, outq *q) {
  const uint8_t *p;
  size_t n, off = 0;
  outq_free(q);
  n = dce_sconn_out(c, &p);
  while (off < n) {
    dce_pdu_error e;
    long fl = dce_pdu_peek(p + off, n - off, &e);
    if (fl <= 0 || (size_t)fl > n - off || q->n == 64) return -1;
    q->raw[q->n] = malloc((size_t)fl);
    memcpy(q->raw[q->n], p + off, (size_t)fl);
    if (dce_pdu_decode(&q->p[q->n], q->raw[q->n], (size_t)fl, &e)) return -1;
    q->n++;
    off += (size_t)fl;
  }
  dce_sconn_sent(c, n);
  return q->n;
}

static int feed(dce_sconn *c, dce_pdu *p, int bytewise) {
  dce_buf b;
  dce_pdu_error e;
  int rc = 0;
  size_t i;
  dce_buf_init(&b);
  dce_pdu_encode(p, &b, &e);
  if (bytewise) {
    for (i = 0; i < b.len && rc == 0; i++) rc = dce_sconn_feed(c, b.p + i, 1);
  } else {
    rc = dce_sconn_feed(c, b.p, b.len);
  }
  dce_buf_free(&b);
  return rc;
}

static int bind(dce_sconn *c, uint16_t xmit, uint16_t recv, uint32_t group, outq *q) {
  dce_pdu p;
  dce_ctx_elem ctx;
  dce_syntax ts = NDR20;
  int rc;
  dce_pdu_init(&p, DCE_PT_BIND, 1);
  p.max_xmit = xmit;
  p.max_recv = recv;
  p.assoc_group = group;
  ctx.id = 0;
  ctx.n_transfer = 1;
  ctx.abstract = ECHO;
  ctx.transfer = &ts;
  p.n_ctx = 1;
  p.ctx = &ctx;
  rc = feed(c, &p, 1);
  drain(c, q);
  return rc;
}

static int request(dce_sconn *c, uint32_t call_id, uint8_t flags, uint32_t hint, uint16_t ctx,
                   const uint8_t *stub, size_t len) {
  dce_pdu p;
  dce_pdu_init(&p, DCE_PT_REQUEST, call_id);
  p.flags = flags;
  p.alloc_hint = hint;
  p.ctx_id = ctx;
  p.opnum = 0;
  p.stub = stub;
  p.stub_len = len;
  return feed(c, &p, 0);
}

/* A server with the echo interface; a zeroed cfg field takes its default. */
static dce_server *server_with(const dce_server_cfg *cfg) {
  dce_server *s = dce_server_new(cfg);
  dce_server_add_iface(s, &ECHO, &IFACE_TAG);
  return s;
}

static dce_server *server(size_t max_request) {
  dce_server_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_request = max_request;
  return server_with(&cfg);
}

/* ------------------------------------------------------------ tests */

static void test_negotiation(void) {
  static const uint16_t cases[][3] = { { 0, 0, 2048 }, { 0xffff, 0xffff, 5840 }, { 3199, 0xffff, 3192 } };
  dce_server *s = server(0);
  outq q = { 0 };
  size_t i;
  for (i = 0; i < 3; i++) {
    dce_sconn *c = dce_sconn_new(s, "135");
    bind(c, cases[i][0], cases[i][1], 0, &q);
    test_cond("bind answered with bind_ack", q.n == 1 && q.p[0].ptype == DCE_PT_BIND_ACK);
    test_cond("max frag negotiated as limits.md case 4",
              q.n == 1 && q.p[0].max_xmit == cases[i][2] && q.p[0].max_recv == cases[i][2]);
    test_cond("context accepted", q.n == 1 && q.p[0].n_results == 1 && q.p[0].results[0].result == 0);
    outq_free(&q);
    dce_sconn_free(c);
  }
  test_cond("groups freed with their connections", dce_server_groups(s) == 0);
  dce_server_free(s);
}

static void test_groups(void) {
  dce_server *s = server(0);
  dce_sconn *a = dce_sconn_new(s, "135"), *b = dce_sconn_new(s, "135"), *c = dce_sconn_new(s, "135");
  outq q = { 0 };
  uint32_t g;
  bind(a, 5840, 5840, 0, &q);
  g = q.p[0].assoc_group;
  test_cond("new group has a nonzero id", g != 0);
  bind(b, 5840, 5840, g, &q);
  test_cond("second connection joins the group", q.n == 1 && q.p[0].ptype == DCE_PT_BIND_ACK && q.p[0].assoc_group == g);
  test_cond("bind with an unknown group is refused", bind(c, 5840, 5840, g ^ 1, &q) == -1
            && q.n == 1 && q.p[0].ptype == DCE_PT_BIND_NAK && dce_sconn_should_close(c));
  test_cond("one group", dce_server_groups(s) == 1);
  dce_sconn_free(a);
  test_cond("group lives while a member does", dce_server_groups(s) == 1);
  dce_sconn_free(b);
  dce_sconn_free(c);
  test_cond("group gone with its last member", dce_server_groups(s) == 0);
  outq_free(&q);
  dce_server_free(s);
}

static void test_calls(void) {
  dce_server *s = server(0);
  dce_sconn *c = dce_sconn_new(s, "135");
  outq q = { 0 };
  const dce_scall *k1, *k2;
  uint8_t big[12000];
  size_t i;
  for (i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
  bind(c, 5840, 5840, 0, &q);
  request(c, 7, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 4, 0, (const uint8_t *)"\1\0\0\0", 4);
  request(c, 8, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 4, 0, (const uint8_t *)"\2\0\0\0", 4);
  k1 = dce_sconn_next_call(c);
  k2 = dce_sconn_next_call(c);
  test_cond("calls come out in order", k1 && k2 && k1->call_id == 7 && k2->call_id == 8);
  test_cond("call carries its interface and stub", k1 && k1->iface == &IFACE_TAG && k1->stub_len == 4 && k1->stub[0] == 1);
  test_cond("no third call", dce_sconn_next_call(c) == NULL);
  test_cond("two executing", dce_sconn_get_info(c)->executing == 2);
  /* answer out of order; a 12000-byte reply is cut to the 5840 frag size */
  test_cond("reply to the second", dce_sconn_reply(c, 8, big, sizeof big) == 0);
  drain(c, &q);
  test_cond("reply fragmented", q.n == 3 && (q.p[0].flags & DCE_PFC_FIRST_FRAG) && (q.p[2].flags & DCE_PFC_LAST_FRAG)
            && q.p[0].frag_length <= 5840 && q.p[0].alloc_hint == sizeof big && q.p[0].call_id == 8);
  test_cond("fault the first", dce_sconn_fault(c, 7, DCE_NCA_S_OP_RNG_ERROR, 1) == 0);
  drain(c, &q);
  test_cond("fault with did-not-execute", q.n == 1 && q.p[0].ptype == DCE_PT_FAULT
            && q.p[0].status == DCE_NCA_S_OP_RNG_ERROR && (q.p[0].flags & DCE_PFC_DID_NOT_EXECUTE));
  test_cond("replying twice fails", dce_sconn_reply(c, 8, big, 1) == -1);
  /* orphaned while executing: the reply is dropped */
  request(c, 9, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 0, NULL, 0);
  k1 = dce_sconn_next_call(c);
  {
    dce_pdu o;
    dce_pdu_init(&o, DCE_PT_ORPHANED, 9);
    feed(c, &o, 0);
  }
  test_cond("orphaned call is not alive", k1 && !dce_sconn_call_alive(c, 9));
  dce_sconn_reply(c, 9, big, 10);
  test_cond("orphaned reply dropped", drain(c, &q) == 0 && dce_sconn_get_info(c)->executing == 0);
  /* unknown context */
  request(c, 10, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 5, NULL, 0);
  drain(c, &q);
  test_cond("unknown context -> nca_s_unk_if", q.n == 1 && q.p[0].status == DCE_NCA_S_UNK_IF && !dce_sconn_should_close(c));
  outq_free(&q);
  dce_sconn_free(c);
  dce_server_free(s);
}

/* Server-wide budgets (limits.md cases 27, 28): calls in flight over
** max_calls_total fault too busy, except a connection's first; multi-fragment
** requests and long replies over max_buffered are refused, never held. */
static void test_budgets(void) {
  dce_server_cfg cfg;
  dce_server *s;
  dce_sconn *a, *b;
  outq q = { 0 };
  static uint8_t big[20000];
  int calls = -1, i;
  size_t buffered = 1;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_calls_total = 2;
  cfg.max_buffered = 8192;
  s = server_with(&cfg);
  a = dce_sconn_new(s, "135");
  b = dce_sconn_new(s, "135");
  bind(a, 5840, 5840, 0, &q);
  bind(b, 5840, 5840, 0, &q);
  for (i = 1; i <= 3; i++) request(a, (uint32_t)i, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 0, NULL, 0);
  drain(a, &q);
  test_cond("third call over the budget: too busy, did not execute", q.n == 1 && q.p[0].ptype == DCE_PT_FAULT
            && q.p[0].call_id == 3 && q.p[0].status == DCE_NCA_S_SERVER_TOO_BUSY && (q.p[0].flags & DCE_PFC_DID_NOT_EXECUTE));
  test_cond("two calls run on a", dce_sconn_next_call(a) && dce_sconn_next_call(a) && !dce_sconn_next_call(a));
  request(b, 1, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 0, NULL, 0);
  request(b, 2, DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG, 0, 0, NULL, 0);
  drain(b, &q);
  test_cond("a connection's first call admitted over the budget", dce_sconn_next_call(b) && !dce_sconn_next_call(b));
  test_cond("its second is not", q.n == 1 && q.p[0].call_id == 2 && q.p[0].status == DCE_NCA_S_SERVER_TOO_BUSY);
  dce_server_load(s, &calls, &buffered);
  test_cond("load: 3 calls, nothing buffered", calls == 3 && buffered == 0);
  /* a reply longer than a fragment and over the byte budget: remote_no_memory, executed */
  test_cond("long reply over max_buffered", dce_sconn_reply(a, 1, big, sizeof big) == 0);
  drain(a, &q);
  test_cond("faults remote_no_memory (may have executed)", q.n == 1 && q.p[0].ptype == DCE_PT_FAULT
            && q.p[0].status == DCE_NCA_S_FAULT_REMOTE_NO_MEMORY && !(q.p[0].flags & DCE_PFC_DID_NOT_EXECUTE));
  test_cond("a reply that fits is sent", dce_sconn_reply(a, 2, big, 6000) == 0 && drain(a, &q) == 2
            && q.p[0].ptype == DCE_PT_RESPONSE);
  dce_sconn_free(b);
  b = dce_sconn_new(s, "135");
  bind(b, 5840, 5840, 0, &q);
  /* reassembly: a holds 4000 of 8192; b's 5000 more are refused */
  request(a, 10, DCE_PFC_FIRST_FRAG, 6000, 0, big, 4000);
  dce_server_load(s, &calls, &buffered);
  test_cond("first fragment charged", buffered == 4000);
  request(b, 1, DCE_PFC_FIRST_FRAG, 10000, 0, big, 5000);
  dce_server_load(s, &calls, &buffered);
  test_cond("over the byte budget nothing is held", buffered == 4000 && calls == 2);
  request(b, 1, DCE_PFC_LAST_FRAG, 5000, 0, big, 5000);
  drain(b, &q);
  test_cond("the refused call faults too busy at its last fragment", q.n == 1 && q.p[0].call_id == 1
            && q.p[0].status == DCE_NCA_S_SERVER_TOO_BUSY && (q.p[0].flags & DCE_PFC_DID_NOT_EXECUTE));
  request(a, 10, DCE_PFC_LAST_FRAG, 2000, 0, big, 2000);
  test_cond("a's call completes", dce_sconn_next_call(a) != NULL);
  dce_server_load(s, &calls, &buffered);
  test_cond("its stub stays charged while it runs", buffered == 6000);
  dce_sconn_reply(a, 10, big, 4);
  drain(a, &q);
  dce_server_load(s, &calls, &buffered);
  test_cond("budget given back when it ends", buffered == 0);
  outq_free(&q);
  dce_sconn_free(a);
  dce_sconn_free(b);
  dce_server_load(s, &calls, &buffered);
  test_cond("nothing left when the connections go", calls == 0 && buffered == 0);
  dce_server_free(s);
}

static void test_hostile(void) {
  dce_server *s = server(8192);
  outq q = { 0 };
  uint8_t zeros[4072];
  dce_sconn *c;
  memset(zeros, 0, sizeof zeros);

  c = dce_sconn_new(s, "135");
  {
    uint8_t h[16] = { 5, 0, 11, 3, 0x10, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0 };
    test_cond("frag_length < 16 refused", dce_sconn_feed(c, h, sizeof h) == -1 && dce_sconn_should_close(c));
    test_cond("nothing answered", drain(c, &q) == 0);
  }
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  {
    uint8_t h[16] = { 5, 0, 11, 3, 0x10, 0, 0, 0, 0xd0, 0x16, 0, 0, 1, 0, 0, 0 };   /* 5840 claimed */
    test_cond("a claimed fragment is waited for", dce_sconn_feed(c, h, sizeof h) == 0 && dce_sconn_partial(c) == 16);
  }
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  bind(c, 5840, 5840, 0, &q);
  test_cond("alloc_hint beyond the limit -> 0x5", request(c, 2, DCE_PFC_FIRST_FRAG, 0x400001, 0, zeros, 8) == -1
            && drain(c, &q) == 1 && q.p[0].status == DCE_NCA_S_FAULT_ACCESS_DENIED && dce_sconn_should_close(c));
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  bind(c, 4096, 4096, 0, &q);
  request(c, 2, DCE_PFC_FIRST_FRAG, 0, 0, zeros, 4072);
  request(c, 2, 0, 0, 0, zeros, 4072);
  test_cond("exactly the limit is accepted", request(c, 2, DCE_PFC_LAST_FRAG, 0, 0, zeros, 48) == 0
            && dce_sconn_next_call(c) != NULL);
  request(c, 3, DCE_PFC_FIRST_FRAG, 0, 0, zeros, 4072);
  request(c, 3, 0, 0, 0, zeros, 4072);
  test_cond("one byte more -> 0x5", request(c, 3, DCE_PFC_LAST_FRAG, 0, 0, zeros, 49) == -1
            && drain(c, &q) == 1 && q.p[0].status == DCE_NCA_S_FAULT_ACCESS_DENIED);
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  bind(c, 2048, 2048, 0, &q);
  test_cond("fragment above max_recv_frag -> proto_error", request(c, 2, 3, 0, 0, zeros, 3000) == -1
            && drain(c, &q) == 1 && q.p[0].status == DCE_NCA_S_PROTO_ERROR && dce_sconn_should_close(c));
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  bind(c, 5840, 5840, 0, &q);
  request(c, 2, DCE_PFC_FIRST_FRAG, 0, 0, zeros, 8);
  test_cond("second call while one is incomplete -> proto_error", request(c, 3, 3, 0, 0, zeros, 8) == -1
            && drain(c, &q) == 1 && q.p[0].status == DCE_NCA_S_PROTO_ERROR);
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  bind(c, 5840, 5840, 0, &q);
  test_cond("last fragment of no call -> proto_error", request(c, 4, DCE_PFC_LAST_FRAG, 0, 0, zeros, 8) == -1
            && drain(c, &q) == 1 && q.p[0].status == DCE_NCA_S_PROTO_ERROR);
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  bind(c, 5840, 5840, 0, &q);
  test_cond("FIRST|PENDING_CANCEL -> no_call_active", request(c, 4, 7, 0, 0, zeros, 8) == 0
            && drain(c, &q) == 1 && q.p[0].status == DCE_NCA_S_NO_CALL_ACTIVE && !dce_sconn_should_close(c));
  dce_sconn_free(c);

  c = dce_sconn_new(s, "135");
  test_cond("request before bind -> proto_error", request(c, 4, 3, 0, 0, zeros, 8) == -1 && dce_sconn_should_close(c));
  dce_sconn_free(c);

  outq_free(&q);
  dce_server_free(s);
}

/* ------------------------------------------------------------ loop */

static int fired[4], nfired;
static void on_timer(dce_loop *l, void *ud) { (void)l; fired[nfired++ & 3] = *(int *)ud; }
static int got_read;
static void on_read(dce_loop *l, int fd, unsigned ev, void *ud) {
  char b[8];
  (void)l; (void)ud;
  if (ev & DCE_EV_READ) { got_read += (int)read(fd, b, sizeof b); }
}

/* Workers: group ids carry the worker index in their top 8 bits. */
static void test_tagged_groups(void) {
  dce_server_cfg cfg;
  dce_server *s;
  dce_sconn *a, *b, *c;
  outq q = { 0 };
  uint32_t g, g2;
  int i, ok = 1;
  memset(&cfg, 0, sizeof cfg);
  cfg.tag_groups = 1;
  cfg.worker = 3;
  s = server_with(&cfg);
  a = dce_sconn_new(s, "135");
  bind(a, 5840, 5840, 0, &q);
  g = q.p[0].assoc_group;
  test_cond("tagged id names worker 3, low 24 bits nonzero", DCE_GROUP_WORKER(g) == 3 && (g & 0xffffffu) != 0);
  test_cond("has_group sees it", dce_server_has_group(s, g) && !dce_server_has_group(s, g ^ 1));
  dce_server_set_worker(s, 0);
  b = dce_sconn_new(s, "135");
  bind(b, 5840, 5840, 0, &q);
  g2 = q.p[0].assoc_group;
  test_cond("worker 0 ids: top byte 0, nonzero", DCE_GROUP_WORKER(g2) == 0 && g2 != 0 && g2 != g);
  c = dce_sconn_new(s, "135");
  bind(c, 5840, 5840, g, &q);
  test_cond("a group made before set_worker is still joined", q.n == 1 && q.p[0].ptype == DCE_PT_BIND_ACK && q.p[0].assoc_group == g);
  dce_sconn_free(a);
  dce_sconn_free(c);
  test_cond("has_group false once its last member left", !dce_server_has_group(s, g));
  dce_sconn_free(b);
  dce_server_set_worker(s, 255);
  for (i = 0; i < 200 && ok; i++) {
    dce_sconn *x = dce_sconn_new(s, "135");
    bind(x, 5840, 5840, 0, &q);
    ok = q.n == 1 && DCE_GROUP_WORKER(q.p[0].assoc_group) == 255 && (q.p[0].assoc_group & 0xffffffu) != 0;
    dce_sconn_free(x);
  }
  test_cond("200 ids of worker 255 all tagged", ok);
  outq_free(&q);
  dce_server_free(s);
}

static void test_loop(void) {
  dce_loop *l = dce_loop_new();
  static int one = 1, two = 2, three = 3;
  dce_timer *t;
  int p[2], timers;
  test_cond("loop created", l != NULL);
  dce_loop_timer(l, 30, on_timer, &three);
  dce_loop_timer(l, 10, on_timer, &one);
  t = dce_loop_timer(l, 20, on_timer, &two);
  dce_loop_cancel(l, t);
  {
    int64_t end = dce_now_ms() + 200;
    while (nfired < 2 && dce_now_ms() < end) dce_loop_run_once(l, 50);
  }
  test_cond("timers fire in deadline order, cancelled one never", nfired == 2 && fired[0] == 1 && fired[1] == 3);
  test_cond("pipe", pipe(p) == 0);
  test_cond("fd watched", dce_loop_add(l, p[0], DCE_EV_READ, on_read, NULL) == 0);
  test_cond("write", write(p[1], "abc", 3) == 3);
  dce_loop_run_once(l, 100);
  test_cond("read callback ran", got_read == 3);
  test_cond("counts", dce_loop_count(l, &timers) == 1 && timers == 0);
  dce_loop_del(l, p[0]);
  test_cond("removed", dce_loop_count(l, NULL) == 0);
  test_cond("exclusive watch", dce_loop_add(l, p[0], DCE_EV_READ | DCE_EV_EXCLUSIVE, on_read, NULL) == 0);
  test_cond("an exclusive fd cannot be modified", dce_loop_mod(l, p[0], DCE_EV_WRITE) == -1);
  test_cond("reinit keeps the watched fds", dce_loop_reinit(l) == 0 && dce_loop_count(l, NULL) == 1);
  got_read = 0;
  test_cond("write", write(p[1], "de", 2) == 2);
  dce_loop_run_once(l, 100);
  test_cond("read callback ran on the new epoll instance", got_read == 2);
  dce_loop_del(l, p[0]);
  close(p[0]);
  close(p[1]);
  dce_loop_free(l);
}

int main(void) {
  test_negotiation();
  test_groups();
  test_tagged_groups();
  test_calls();
  test_budgets();
  test_hostile();
  test_loop();
  return test_report("test_server");
}
