/*
** fuzz_assoc_auth.c - libFuzzer harness for the client association's
** authentication paths: the auth legs (bind_ack / alter_context_resp
** tokens) and the checking and unsealing of response fragments.
**
** The first input byte picks a mode:
**   even: an NTLM or SPNEGO association has sent its bind; the rest of the
**         input is fed as the server's byte stream (bind_ack with any token,
**         faults, garbage).
**   odd:  a real handshake with an in-process server context (rpc/sec.c,
**         server side) completes first, a request is sent, then the rest of
**         the input is fed as the server's answer (responses with any auth
**         trailer layout, pad length, signature), at the level taken from the
**         second byte. With bit 3 of the second byte the bind is anonymous
**         and the context is added afterwards by dce_assoc_add_auth (an
**         alter_context, [MS-RPCE] 3.3.1.5.4), the request choosing it.
** Invariant: nothing crashes or reads out of bounds; after a refused
** fragment the association is dead and its request finished.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/co_client.h"
#include "rpc/pdu.h"
#include "rpc/sec.h"
#include "auth/ntlm.h"

static dce_err de;                 /* the last refusal of a dce_assoc_* function */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const dce_syntax iface = { { { 0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
                                      0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88 } }, 3, 0 };

static int lookup(void *ud, const char *user, const char *domain, const char *ws, uint8_t hash[16]) {
  (void)ud; (void)user; (void)domain; (void)ws;
  return dce_ntlm_nt_hash("Pass-1", hash) ? -1 : 0;
}

/* Take everything the association wants to send. */
static void drain(dce_assoc *a, dce_buf *sink) {
  const uint8_t *p;
  size_t n;
  while ((n = dce_assoc_out(a, &p)) > 0) {
    if (sink) dce_buf_put(sink, p, n);
    dce_assoc_sent(a, n);
  }
}

static dce_sec *client_sec(uint8_t type, uint8_t level) {
  dce_cred cred;
  char err[160];
  dce_sec *s;
  memset(&cred, 0, sizeof cred);
  cred.user = "alice"; cred.domain = "D"; cred.password = "Pass-1";
  s = dce_sec_client_new(type, level, &cred, err, sizeof err);
  if (!s) abort();
  return s;
}

static dce_assoc *new_client(uint8_t type, uint8_t level, uint32_t *bind_id) {
  dce_cred cred;
  char err[160];
  dce_assoc *a = dce_assoc_new(NULL);
  dce_sec *s;
  dce_pctx ctx;
  memset(&cred, 0, sizeof cred);
  cred.user = "alice"; cred.domain = "D"; cred.password = "Pass-1";
  s = dce_sec_client_new(type ? type : DCE_AUTHN_WINNT, level, &cred, err, sizeof err);
  if (!a || !s) abort();
  if (type) dce_assoc_set_auth(a, s, 7);
  else dce_sec_free(s);
  memset(&ctx, 0, sizeof ctx);
  ctx.abstract = iface;
  ctx.n_transfer = 1;
  ctx.transfer[0] = dce_syntax_ndr20;
  if (dce_assoc_bind(a, 0, &ctx, 1, NULL, bind_id, &de)) abort();
  return a;
}

/* Answer the client's bind-like PDU in `in` as a server would. */
static int serve_leg(dce_sec *srv, const dce_buf *in, dce_buf *out) {
  dce_pdu p, q;
  dce_pdu_error e;
  dce_buf tok;
  uint32_t st;
  char err[160];
  dce_result res;
  int r;
  size_t off = 0;
  while (off + 16 <= in->len) {
    long fl = dce_pdu_peek(in->p + off, in->len - off, &e);
    if (fl <= 0) return -1;
    if (dce_pdu_decode(&p, in->p + off, (size_t)fl, &e)) return -1;
    off += (size_t)fl;
    if (!p.has_auth) {
      if (p.ptype == DCE_PT_BIND) {                  /* an anonymous bind */
        dce_pdu_init(&q, DCE_PT_BIND_ACK, p.call_id);
        q.max_xmit = q.max_recv = 5840;
        memset(&res, 0, sizeof res);
        res.transfer = dce_syntax_ndr20;
        q.n_results = 1;
        q.results = &res;
        dce_pdu_encode(&q, out, &e);
      }
      dce_pdu_free(&p);
      continue;
    }
    dce_buf_init(&tok);
    r = dce_sec_step(srv, p.auth.value, p.auth.value_len, &tok, &st, err, sizeof err);
    if (r < 0) { dce_pdu_free(&p); dce_buf_free(&tok); return -1; }
    if (p.ptype == DCE_PT_BIND || p.ptype == DCE_PT_ALTER) {
      dce_pdu_init(&q, p.ptype == DCE_PT_BIND ? DCE_PT_BIND_ACK : DCE_PT_ALTER_RESP, p.call_id);
      q.max_xmit = q.max_recv = 5840;
      q.assoc_group = 0x1234;
      q.sec_addr = (const uint8_t *)"135";
      q.sec_addr_len = 4;
      memset(&res, 0, sizeof res);
      res.transfer = dce_syntax_ndr20;
      q.n_results = 1;
      q.results = &res;
      q.has_auth = 1;
      q.auth = p.auth;
      q.auth.value = tok.p;
      q.auth.value_len = tok.len;
      dce_pdu_encode(&q, out, &e);
    }
    dce_pdu_free(&p);
    dce_buf_free(&tok);
  }
  return 0;
}

static void handshake_then_fuzz(const uint8_t *data, size_t size) {
  static const uint8_t levels[] = { DCE_LEVEL_PKT, DCE_LEVEL_INTEGRITY, DCE_LEVEL_PRIVACY, DCE_LEVEL_CONNECT };
  uint8_t level = levels[(size ? data[0] : 0) % 4];
  uint8_t type = (size && (data[0] & 4)) ? DCE_AUTHN_SPNEGO : DCE_AUTHN_WINNT;
  dce_acceptor acc = { .nb_domain = "D", .nb_computer = "SRV", .lookup = lookup };
  char err[160];
  uint32_t bind_id, call_id;
  dce_buf c2s, s2c;
  int round;
  int added = size && (data[0] & 8);
  dce_sec *srv = dce_sec_server_new(type, level, &acc, err, sizeof err);
  dce_assoc *a = new_client(added ? 0 : type, level, &bind_id);
  static const uint8_t stub[40];
  int pass;
  if (!srv) abort();
  dce_buf_init(&c2s);
  dce_buf_init(&s2c);
  for (pass = 0; pass < (added ? 2 : 1); pass++) {
    if (pass == 1) {
      /* anonymous bind done: the first security context by alter_context */
      dce_pctx ctx;
      uint32_t add_id;
      dce_sec *s = client_sec(type, level);
      memset(&ctx, 0, sizeof ctx);
      ctx.abstract = iface;
      ctx.n_transfer = 1;
      ctx.transfer[0] = dce_syntax_ndr20;
      if (!dce_assoc_get_info(a)->bound ||
          dce_assoc_add_auth(a, s, 7, &ctx, 1, &add_id, &de)) { dce_sec_free(s); break; }
    }
    for (round = 0; round < 3; round++) {          /* bind or alter, (alter,) auth3 */
      dce_buf_reset(&c2s);
      dce_buf_reset(&s2c);
      drain(a, &c2s);
      if (!c2s.len || serve_leg(srv, &c2s, &s2c)) break;
      if (s2c.len) dce_assoc_feed(a, s2c.p, s2c.len);
    }
  }
  drain(a, NULL);
#ifdef STANDALONE
  {
    int st = 0;
    dce_assoc_auth_get(a, 0, NULL, &st, NULL);
    fprintf(stderr, "type %u level %u%s: handshake %s, context %s\n", type, level, added ? " (added)" : "",
            dce_assoc_get_info(a)->bound ? "complete" : "failed", st > 0 ? "established" : "not established");
  }
#endif
  if (dce_assoc_get_info(a)->bound &&
      dce_assoc_request(a, 0, 21, NULL, stub, sizeof stub, &call_id, &de) == 0) {
    const dce_op_result *r;
    if (added) dce_assoc_request_auth(a, call_id, 7, &de);
    drain(a, NULL);
    if (size > 1) dce_assoc_feed(a, data + 1, size - 1);
    r = dce_assoc_result(a, call_id);
    /* a refused fragment leaves the association dead and the call finished */
    if (dce_assoc_is_dead(a) && r && r->state != DCE_OP_DONE) abort();
  }
  dce_buf_free(&c2s);
  dce_buf_free(&s2c);
  dce_assoc_free(a);
  dce_sec_free(srv);
}

static void bind_then_fuzz(const uint8_t *data, size_t size) {
  uint32_t bind_id;
  uint8_t type = (size && (data[0] & 2)) ? DCE_AUTHN_SPNEGO : DCE_AUTHN_WINNT;
  dce_assoc *a = new_client(type, DCE_LEVEL_PRIVACY, &bind_id);
  drain(a, NULL);
  if (size > 1) dce_assoc_feed(a, data + 1, size - 1);
  drain(a, NULL);
  dce_assoc_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size && (data[0] & 1)) handshake_then_fuzz(data + 1, size - 1);
  else bind_then_fuzz(data, size);
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  int i;
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    static uint8_t buf[1 << 16];
    size_t n;
    if (!f) continue;
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  return 0;
}
#endif
