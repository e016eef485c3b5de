/*
** test_server_auth.c - authenticated associations end to end in one
** process: our client association (assoc.c + sec.c) against our server
** association (server.c + sec.c), bytes pumped between them; NTLM and
** SPNEGO at every level, multi-fragment calls both ways, and the refusals
** (wrong password, unknown user, tampering, replay, a changed auth context,
** an interface's minimum level).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "rpc/co_client.h"
#include "rpc/co_server.h"
#include "rpc/sec.h"
#include "auth/ntlm.h"
#include "base/status.h"

static dce_err de;                 /* the last refusal of a dce_assoc_* function */

static const dce_syntax IFACE = { { { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                      0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01 } }, 1, 0 };
static int iface_key;

static int lookup(void *ud, const char *user, const char *domain, const char *ws, uint8_t hash[16]) {
  (void)ud; (void)domain; (void)ws;
  if (strcmp(user, "alice")) return -1;
  return dce_ntlm_nt_hash("Alice-Pass1", hash) ? -1 : 0;
}

typedef struct pair {
  dce_server *srv;
  dce_sconn *sc;
  dce_assoc *a;
  int tamper;                      /* flip a byte of the next request fragment at this offset (0: no) */
  int replay;                      /* send the last request fragment twice */
  dce_buf last;
} pair;

/* Move bytes both ways and answer every call (the reply is the request
** stub reversed) until nothing moves. */
static void pump(pair *x) {
  int moved = 1, rounds = 0;
  while (moved && rounds++ < 1000) {
    const uint8_t *p;
    size_t n;
    const dce_scall *k;
    moved = 0;
    if ((n = dce_assoc_out(x->a, &p)) > 0) {
      uint8_t *copy = malloc(n);
      memcpy(copy, p, n);
      if (x->tamper && n > (size_t)x->tamper && copy[2] == DCE_PT_REQUEST) { copy[x->tamper] ^= 1; x->tamper = 0; }
      if (copy[2] == DCE_PT_REQUEST) { dce_buf_reset(&x->last); dce_buf_put(&x->last, copy, n); }
      dce_assoc_sent(x->a, n);
      dce_sconn_feed(x->sc, copy, n);
      if (x->replay && copy[2] == DCE_PT_REQUEST) { x->replay = 0; dce_sconn_feed(x->sc, copy, n); }
      free(copy);
      moved = 1;
    }
    while ((k = dce_sconn_next_call(x->sc)) != NULL) {
      uint8_t *r = malloc(k->stub_len + 1);
      size_t i;
      for (i = 0; i < k->stub_len; i++) r[i] = k->stub[k->stub_len - 1 - i];
      dce_sconn_reply(x->sc, k->call_id, r, k->stub_len);
      free(r);
      moved = 1;
    }
    if ((n = dce_sconn_out(x->sc, &p)) > 0) {
      dce_assoc_feed(x->a, p, n);
      dce_sconn_sent(x->sc, n);
      moved = 1;
    }
  }
}

static dce_server *new_server(uint8_t min_level) {
  dce_acceptor au = { .nb_domain = "RPCSRV", .nb_computer = "SRV1", .dns_domain = "rpc.test",
                      .dns_computer = "srv1.rpc.test", .lookup = lookup, .ud = NULL };
  dce_server *s = dce_server_new(NULL);
  dce_server_add_iface(s, &IFACE, &iface_key);
  dce_server_set_auth(s, &au);
  if (min_level) dce_server_iface_min_level(s, &iface_key, min_level);
  return s;
}

/* Bind with the given credentials; returns the bind op's status. */
static uint32_t setup(pair *x, uint8_t type, uint8_t level, const char *user, const char *pw, uint8_t min_level) {
  dce_cred cred;
  dce_pctx ctx;
  uint32_t id;
  char err[160];
  const dce_op_result *r;
  uint32_t st;
  memset(x, 0, sizeof *x);
  dce_buf_init(&x->last);
  x->srv = new_server(min_level);
  x->sc = dce_sconn_new(x->srv, "135");
  x->a = dce_assoc_new(NULL);
  memset(&cred, 0, sizeof cred);
  cred.user = user; cred.domain = "RPCSRV"; cred.workstation = "WS"; cred.password = pw;
  dce_assoc_set_auth(x->a, dce_sec_client_new(type, level, &cred, err, sizeof err), 5);
  memset(&ctx, 0, sizeof ctx);
  ctx.abstract = IFACE;
  ctx.n_transfer = 1;
  ctx.transfer[0] = dce_syntax_ndr20;
  dce_assoc_bind(x->a, 0, &ctx, 1, NULL, &id, &de);
  pump(x);
  r = dce_assoc_result(x->a, id);
  st = r && r->state == DCE_OP_DONE ? r->status : 0xffffffffu;
  if (r) dce_assoc_release(x->a, id);
  return st;
}

static void teardown(pair *x) {
  dce_assoc_free(x->a);
  dce_sconn_free(x->sc);
  dce_server_free(x->srv);
  dce_buf_free(&x->last);
}

/* A call with an n-byte stub; returns its status; checks the reversed reply. */
static uint32_t call(pair *x, size_t n, int *reply_ok) {
  uint8_t *stub = malloc(n ? n : 1);
  uint32_t id, st;
  const dce_op_result *r;
  size_t i;
  for (i = 0; i < n; i++) stub[i] = (uint8_t)(i * 7 + 3);
  if (dce_assoc_request(x->a, 0, 1, NULL, stub, n, &id, &de)) { free(stub); return 0xfffffffeu; }
  pump(x);
  r = dce_assoc_result(x->a, id);
  st = r && r->state == DCE_OP_DONE ? r->status : 0xffffffffu;
  if (reply_ok) {
    *reply_ok = 0;
    if (r && st == 0 && r->stub.len == n) {
      *reply_ok = 1;
      for (i = 0; i < n; i++) if (r->stub.p[i] != stub[n - 1 - i]) { *reply_ok = 0; break; }
    }
  }
  dce_assoc_release(x->a, id);
  free(stub);
  return st;
}

int main(void) {
  static const uint8_t types[] = { DCE_AUTHN_WINNT, DCE_AUTHN_SPNEGO };
  static const uint8_t levels[] = { DCE_LEVEL_CONNECT, DCE_LEVEL_PKT, DCE_LEVEL_INTEGRITY, DCE_LEVEL_PRIVACY };
  int t, l, ok;
  pair x;
  char d[160];

  for (t = 0; t < 2; t++) {
    for (l = 0; l < 4; l++) {
      const dce_sconn_info *in;
      snprintf(d, sizeof d, "%s at %s: bind", dce_sec_type_name(types[t]), dce_sec_level_name(levels[l]));
      test_cond(d, setup(&x, types[t], levels[l], "alice", "Alice-Pass1", 0) == 0);
      in = dce_sconn_get_info(x.sc);
      snprintf(d, sizeof d, "%s at %s: server sees RPCSRV\\alice at the level", dce_sec_type_name(types[t]),
               dce_sec_level_name(levels[l]));
      test_cond(d, in->auth_type == types[t] && in->auth_level == levels[l] && !strcmp(in->user, "alice")
                   && !strcmp(in->domain, "RPCSRV"));
      snprintf(d, sizeof d, "%s at %s: small call", dce_sec_type_name(types[t]), dce_sec_level_name(levels[l]));
      test_cond(d, call(&x, 37, &ok) == 0 && ok);
      snprintf(d, sizeof d, "%s at %s: 40 KB call, fragmented both ways", dce_sec_type_name(types[t]),
               dce_sec_level_name(levels[l]));
      test_cond(d, call(&x, 40000, &ok) == 0 && ok);
      snprintf(d, sizeof d, "%s at %s: empty call", dce_sec_type_name(types[t]), dce_sec_level_name(levels[l]));
      test_cond(d, call(&x, 0, &ok) == 0 && ok);
      teardown(&x);
    }
  }

  /* wrong password: NTLM fails at the first call (auth3 has no answer), SPNEGO at bind */
  test_cond("ntlm wrong password: bind goes through", setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_PRIVACY, "alice", "nope", 0) == 0);
  test_cond("ntlm wrong password: call faults access denied", call(&x, 8, NULL) == DCE_NCA_S_FAULT_ACCESS_DENIED);
  test_cond("ntlm wrong password: connection closing", dce_sconn_should_close(x.sc));
  teardown(&x);
  test_cond("spnego wrong password: bind fails with sec_pkg_error",
            setup(&x, DCE_AUTHN_SPNEGO, DCE_LEVEL_INTEGRITY, "alice", "nope", 0) == DCE_RPC_S_SEC_PKG_ERROR);
  teardown(&x);
  test_cond("spnego unknown user: bind fails",
            setup(&x, DCE_AUTHN_SPNEGO, DCE_LEVEL_INTEGRITY, "mallory", "Alice-Pass1", 0) == DCE_RPC_S_SEC_PKG_ERROR);
  teardown(&x);

  /* minimum level of the interface (limits.md case 14) */
  test_cond("min integrity: connect-level bind ok", setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_CONNECT, "alice", "Alice-Pass1", DCE_LEVEL_INTEGRITY) == 0);
  test_cond("min integrity: connect-level call access denied", call(&x, 8, NULL) == DCE_NCA_S_FAULT_ACCESS_DENIED);
  test_cond("min integrity: the connection stays", !dce_sconn_should_close(x.sc));
  teardown(&x);
  test_cond("min integrity: privacy call ok",
            setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_PRIVACY, "alice", "Alice-Pass1", DCE_LEVEL_INTEGRITY) == 0
            && call(&x, 8, &ok) == 0 && ok);
  teardown(&x);
  {
    /* anonymous on an interface that wants packet */
    dce_pctx ctx;
    uint32_t id;
    memset(&x, 0, sizeof x);
    dce_buf_init(&x.last);
    x.srv = new_server(DCE_LEVEL_PKT);
    x.sc = dce_sconn_new(x.srv, "135");
    x.a = dce_assoc_new(NULL);
    memset(&ctx, 0, sizeof ctx);
    ctx.abstract = IFACE; ctx.n_transfer = 1; ctx.transfer[0] = dce_syntax_ndr20;
    dce_assoc_bind(x.a, 0, &ctx, 1, NULL, &id, &de);
    pump(&x);
    test_cond("min packet: anonymous call access denied", call(&x, 8, NULL) == DCE_NCA_S_FAULT_ACCESS_DENIED);
    teardown(&x);
  }

  /* tampered and replayed requests (limits.md cases 15, 16) */
  setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_PRIVACY, "alice", "Alice-Pass1", 0);
  x.tamper = 30;
  test_cond("tampered sealed request: sec_pkg_error", call(&x, 64, NULL) == DCE_RPC_S_SEC_PKG_ERROR);
  test_cond("tampered sealed request: connection closing", dce_sconn_should_close(x.sc));
  teardown(&x);
  setup(&x, DCE_AUTHN_SPNEGO, DCE_LEVEL_INTEGRITY, "alice", "Alice-Pass1", 0);
  x.tamper = 40;
  test_cond("tampered signed request: sec_pkg_error", call(&x, 64, NULL) == DCE_RPC_S_SEC_PKG_ERROR);
  teardown(&x);
  setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "alice", "Alice-Pass1", 0);
  test_cond("before the replay: a call works", call(&x, 16, &ok) == 0 && ok);
  x.replay = 1;
  call(&x, 16, NULL);
  test_cond("replayed signed request: the server closes", dce_sconn_should_close(x.sc));
  teardown(&x);
  {
    /* a fragmented sealed request whose middle fragment is tampered */
    setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_PRIVACY, "alice", "Alice-Pass1", 0);
    x.tamper = 5840 + 100;         /* inside the second fragment of the first write */
    test_cond("tampered middle fragment: sec_pkg_error", call(&x, 20000, NULL) == DCE_RPC_S_SEC_PKG_ERROR);
    teardown(&x);
  }

  /* an unsigned request on a signed association runs anonymously, as in
  ** Samba: it names no security context ([MS-RPCE] 3.3.1.5.4); interfaces
  ** that need a level refuse it (min_level, limits.md case 14) */
  {
    dce_pdu p;
    dce_buf b;
    dce_pdu_error e;
    const dce_scall *k;
    setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "alice", "Alice-Pass1", 0);
    dce_pdu_init(&p, DCE_PT_REQUEST, 77);
    p.stub = (const uint8_t *)"abcdefgh";
    p.stub_len = 8;
    p.alloc_hint = 8;
    dce_buf_init(&b);
    dce_pdu_encode(&p, &b, &e);
    dce_sconn_feed(x.sc, b.p, b.len);
    k = dce_sconn_next_call(x.sc);
    test_cond("unsigned request at integrity: runs as anonymous", k && k->auth_type == 0 && k->user == NULL);
    test_cond("unsigned request at integrity: connection kept", !dce_sconn_should_close(x.sc));
    dce_buf_free(&b);
    teardown(&x);
  }

  /* a request at a lower level than negotiated, and auth padding beyond the stub */
  {
    dce_pdu p;
    dce_buf b;
    dce_pdu_error e;
    static const uint8_t sig[16];
    setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_PRIVACY, "alice", "Alice-Pass1", 0);
    dce_pdu_init(&p, DCE_PT_REQUEST, 80);
    p.stub = (const uint8_t *)"abcdefghabcdefgh";
    p.stub_len = 16;
    p.alloc_hint = 16;
    p.has_auth = 1;
    p.auth.type = DCE_AUTHN_WINNT; p.auth.level = DCE_LEVEL_INTEGRITY; p.auth.context_id = 5;
    p.auth.value = sig; p.auth.value_len = 16;
    dce_buf_init(&b);
    dce_pdu_encode(&p, &b, &e);
    dce_sconn_feed(x.sc, b.p, b.len);
    test_cond("request signed at integrity on a privacy association: no call, closing",
              dce_sconn_next_call(x.sc) == NULL && dce_sconn_should_close(x.sc));
    dce_buf_free(&b);
    teardown(&x);

    setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "alice", "Alice-Pass1", 0);
    dce_pdu_init(&p, DCE_PT_REQUEST, 81);
    p.stub = (const uint8_t *)"abcdefgh";
    p.stub_len = 8;
    p.alloc_hint = 8;
    p.has_auth = 1;
    p.auth.type = DCE_AUTHN_WINNT; p.auth.level = DCE_LEVEL_INTEGRITY; p.auth.context_id = 5;
    p.auth.value = sig; p.auth.value_len = 16;
    dce_buf_init(&b);
    dce_pdu_encode(&p, &b, &e);
    b.p[b.len - 16 - 8 + 2] = 200;       /* auth_pad_length reaching far before the stub */
    dce_sconn_feed(x.sc, b.p, b.len);
    test_cond("auth padding pointing outside the PDU body: no call, closing",
              dce_sconn_next_call(x.sc) == NULL && dce_sconn_should_close(x.sc));
    dce_buf_free(&b);
    teardown(&x);
  }

  /* alter_context / auth3 changing the auth context (limits.md case 13) */
  {
    dce_pdu p;
    dce_buf b;
    dce_pdu_error e;
    dce_ctx_elem ce;
    setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "alice", "Alice-Pass1", 0);
    memset(&ce, 0, sizeof ce);
    ce.id = 1; ce.abstract = IFACE; ce.n_transfer = 1; ce.transfer = (dce_syntax *)&dce_syntax_ndr20;
    dce_pdu_init(&p, DCE_PT_ALTER, 9);
    p.max_xmit = p.max_recv = 5840;
    p.n_ctx = 1; p.ctx = &ce;
    p.has_auth = 1;
    p.auth.type = DCE_AUTHN_WINNT; p.auth.level = DCE_LEVEL_PRIVACY; p.auth.context_id = 5;
    p.auth.value = (const uint8_t *)"NTLMSSP"; p.auth.value_len = 8;   /* auth_length 0 would mean no verifier */
    dce_buf_init(&b);
    dce_pdu_encode(&p, &b, &e);
    dce_sconn_feed(x.sc, b.p, b.len);
    test_cond("alter_context raising the level: refused, closing", dce_sconn_should_close(x.sc));
    dce_buf_free(&b);
    teardown(&x);

    setup(&x, DCE_AUTHN_WINNT, DCE_LEVEL_INTEGRITY, "alice", "Alice-Pass1", 0);
    dce_pdu_init(&p, DCE_PT_AUTH3, 10);
    p.has_auth = 1;
    p.auth.type = DCE_AUTHN_WINNT; p.auth.level = DCE_LEVEL_INTEGRITY; p.auth.context_id = 5;
    p.auth.value = (const uint8_t *)"NTLMSSP"; p.auth.value_len = 8;
    dce_buf_init(&b);
    dce_pdu_encode(&p, &b, &e);
    dce_sconn_feed(x.sc, b.p, b.len);
    test_cond("second auth3 after the context is up: closing", dce_sconn_should_close(x.sc));
    dce_buf_free(&b);
    teardown(&x);
  }

  /* an authenticated bind naming an unknown association group: bind_nak,
  ** nothing kept (the sanitizer run checks for leaks) */
  {
    dce_cred cred;
    dce_pctx ctx;
    dce_bind_opts bo;
    uint32_t id;
    char err[160];
    const dce_op_result *r;
    memset(&x, 0, sizeof x);
    dce_buf_init(&x.last);
    x.srv = new_server(0);
    x.sc = dce_sconn_new(x.srv, "135");
    x.a = dce_assoc_new(NULL);
    memset(&cred, 0, sizeof cred);
    cred.user = "alice"; cred.domain = "RPCSRV"; cred.password = "Alice-Pass1";
    dce_assoc_set_auth(x.a, dce_sec_client_new(DCE_AUTHN_WINNT, DCE_LEVEL_PRIVACY, &cred, err, sizeof err), 5);
    memset(&ctx, 0, sizeof ctx);
    ctx.abstract = IFACE; ctx.n_transfer = 1; ctx.transfer[0] = dce_syntax_ndr20;
    memset(&bo, 0, sizeof bo);
    bo.assoc_group = 0x12345;
    dce_assoc_bind(x.a, 0, &ctx, 1, &bo, &id, &de);
    pump(&x);
    r = dce_assoc_result(x.a, id);
    test_cond("authenticated bind to an unknown group: refused", r && r->state == DCE_OP_DONE && r->status != 0);
    test_cond("authenticated bind to an unknown group: closing", dce_sconn_should_close(x.sc));
    teardown(&x);
  }

  /* a bind with an auth type we do not do (schannel, 68), then a Kerberos
  ** bind whose token is no AP-REQ */
  for (int kt = 0; kt < 2; kt++) {
    dce_pdu p;
    dce_buf b;
    dce_pdu_error e;
    dce_ctx_elem ce;
    const uint8_t *o;
    size_t n;
    dce_pdu q;
    memset(&x, 0, sizeof x);
    dce_buf_init(&x.last);
    x.srv = new_server(0);
    x.sc = dce_sconn_new(x.srv, "135");
    memset(&ce, 0, sizeof ce);
    ce.id = 0; ce.abstract = IFACE; ce.n_transfer = 1; ce.transfer = (dce_syntax *)&dce_syntax_ndr20;
    dce_pdu_init(&p, DCE_PT_BIND, 1);
    p.max_xmit = p.max_recv = 5840;
    p.n_ctx = 1; p.ctx = &ce;
    p.has_auth = 1;
    p.auth.type = kt ? 16 : 68; p.auth.level = DCE_LEVEL_PRIVACY;
    p.auth.value = (const uint8_t *)"x"; p.auth.value_len = 1;
    dce_buf_init(&b);
    dce_pdu_encode(&p, &b, &e);
    dce_sconn_feed(x.sc, b.p, b.len);
    n = dce_sconn_out(x.sc, &o);
    if (!kt)
      test_cond("schannel bind: bind_nak reason 8 (auth type not supported)",
                n && dce_pdu_decode(&q, o, n, &e) == 0 && q.ptype == DCE_PT_BIND_NAK && q.reject_reason == DCE_NAK_AUTH_TYPE);
    else
      test_cond("kerberos bind with a bad token: bind_nak, not for the auth type",
                n && dce_pdu_decode(&q, o, n, &e) == 0 && q.ptype == DCE_PT_BIND_NAK && q.reject_reason != DCE_NAK_AUTH_TYPE);
    dce_pdu_free(&q);
    dce_buf_free(&b);
    dce_sconn_free(x.sc);
    dce_server_free(x.srv);
    dce_buf_free(&x.last);
  }
  return test_report("test_server_auth");
}
