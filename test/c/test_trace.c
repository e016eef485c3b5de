/*
** test_trace.c - the trace hooks of the client association and the server
** connection (dce_assoc_set_trace, dce_sconn_set_trace): both ends see every
** fragment once, in order (a fragment received before what it causes to be
** sent), as on the wire; a sealed fragment also in clear text, equal to the
** wire bytes outside stub and padding, with a stub that is the call's; no
** events once the hook is removed.
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

static const dce_syntax IFACE = { { { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef } }, 1, 0 };
static int iface_key;

typedef struct ev {
  int dir;
  uint8_t ptype;
  size_t len;
  uint8_t *wire, *clear;
} ev;

typedef struct log {
  ev e[256];
  int n;
} log_t;

static void hook(void *ud, int dir, const uint8_t *wire, size_t len, const uint8_t *clear) {
  log_t *l = ud;
  ev *e;
  if (l->n >= 256) return;
  e = &l->e[l->n++];
  e->dir = dir;
  e->ptype = wire[2];
  e->len = len;
  e->wire = malloc(len);
  memcpy(e->wire, wire, len);
  e->clear = NULL;
  if (clear) { e->clear = malloc(len); memcpy(e->clear, clear, len); }
}

static void log_free(log_t *l) {
  int i;
  for (i = 0; i < l->n; i++) { free(l->e[i].wire); free(l->e[i].clear); }
  l->n = 0;
}

static int lookup(void *ud, const char *user, const char *domain, const char *ws, uint8_t hash[16]) {
  (void)ud; (void)domain; (void)ws;
  if (strcmp(user, "alice")) return -1;
  return dce_ntlm_nt_hash("Alice-Pass1", hash) ? -1 : 0;
}

/* Move bytes both ways, answering each call with its stub reversed. */
static void pump(dce_assoc *a, dce_sconn *sc) {
  int moved = 1, rounds = 0;
  while (moved && rounds++ < 1000) {
    const uint8_t *p;
    size_t n;
    const dce_scall *k;
    moved = 0;
    if ((n = dce_assoc_out(a, &p)) > 0) {
      uint8_t *copy = malloc(n);
      memcpy(copy, p, n);
      dce_assoc_sent(a, n);
      dce_sconn_feed(sc, copy, n);
      free(copy);
      moved = 1;
    }
    while ((k = dce_sconn_next_call(sc)) != NULL) {
      uint8_t *r = malloc(k->stub_len + 1);
      size_t i;
      for (i = 0; i < k->stub_len; i++) r[i] = k->stub[k->stub_len - 1 - i];
      dce_sconn_reply(sc, k->call_id, r, k->stub_len);
      free(r);
      moved = 1;
    }
    if ((n = dce_sconn_out(sc, &p)) > 0) {
      dce_assoc_feed(a, p, n);
      dce_sconn_sent(sc, n);
      moved = 1;
    }
  }
}

/* The fragment's stub (24-byte header, no object uuid) and auth padding. */
static size_t stub_end(const ev *e) {
  uint16_t auth_len = (uint16_t)(e->wire[10] | e->wire[11] << 8);
  return auth_len ? e->len - auth_len - 8 : e->len;
}

/* A sealed or plain session: n-byte call; checks of both logs. */
static void session(uint8_t level, size_t n) {
  dce_acceptor au = { .nb_domain = "RPCSRV", .nb_computer = "SRV1", .dns_domain = "rpc.test",
                      .dns_computer = "srv1.rpc.test", .lookup = lookup, .ud = NULL };
  dce_server *srv = dce_server_new(NULL);
  dce_sconn *sc;
  dce_assoc *a = dce_assoc_new(NULL);
  static log_t cl, sl;
  dce_cred cred;
  dce_pctx ctx;
  dce_err e;
  uint32_t id;
  char err[160], d[160];
  uint8_t *stub = malloc(n);
  size_t i, got_c = 0, got_s = 0;
  int k, order_ok = 1, clear_ok = 1, wire_sealed = 0, frags_c = 0, frags_s = 0;
  const char *lv = level == DCE_LEVEL_PRIVACY ? "privacy" : level == DCE_LEVEL_INTEGRITY ? "integrity" : "none";
  for (i = 0; i < n; i++) stub[i] = (uint8_t)(i * 13 + 5);
  dce_server_add_iface(srv, &IFACE, &iface_key);
  dce_server_set_auth(srv, &au);
  sc = dce_sconn_new(srv, "135");
  dce_assoc_set_trace(a, hook, &cl);
  dce_sconn_set_trace(sc, hook, &sl);
  if (level) {
    memset(&cred, 0, sizeof cred);
    cred.user = "alice"; cred.domain = "RPCSRV"; cred.workstation = "WS"; cred.password = "Alice-Pass1";
    dce_assoc_set_auth(a, dce_sec_client_new(DCE_AUTHN_WINNT, level, &cred, err, sizeof err), 0);
  }
  memset(&ctx, 0, sizeof ctx);
  ctx.abstract = IFACE;
  ctx.n_transfer = 1;
  ctx.transfer[0] = dce_syntax_ndr20;
  dce_assoc_bind(a, 0, &ctx, 1, NULL, &id, &e);
  pump(a, sc);
  dce_assoc_release(a, id);
  dce_assoc_request(a, 0, 3, NULL, stub, n, &id, &e);
  pump(a, sc);
  snprintf(d, sizeof d, "%s %zu: the call succeeds", lv, n);
  test_cond(d, dce_assoc_result(a, id) && dce_assoc_result(a, id)->status == 0);
  dce_assoc_release(a, id);

  /* the same fragments at both ends, in the same order, opposite directions */
  snprintf(d, sizeof d, "%s %zu: both ends see every fragment (%d / %d)", lv, n, cl.n, sl.n);
  test_cond(d, cl.n == sl.n && cl.n >= (level ? 5 : 4));
  for (k = 0; k < cl.n && k < sl.n; k++) {
    if (cl.e[k].dir == sl.e[k].dir || cl.e[k].len != sl.e[k].len || memcmp(cl.e[k].wire, sl.e[k].wire, cl.e[k].len))
      order_ok = 0;
  }
  snprintf(d, sizeof d, "%s %zu: in order, as on the wire", lv, n);
  test_cond(d, order_ok);
  /* clear text: sealed fragments only; same header and trailer; the stubs make the call */
  for (k = 0; k < cl.n; k++) {
    ev *c = &cl.e[k];
    if (c->ptype != DCE_PT_REQUEST && c->ptype != DCE_PT_RESPONSE) { if (c->clear) clear_ok = 0; continue; }
    if ((level == DCE_LEVEL_PRIVACY) != (c->clear != NULL)) { clear_ok = 0; continue; }
    if (!c->clear) continue;
    {
      size_t end = stub_end(c), pad = c->wire[end + 2], slen = end - 24 - pad;
      if (memcmp(c->wire, c->clear, 24) || memcmp(c->wire + end, c->clear + end, c->len - end)) clear_ok = 0;
      if (memcmp(c->wire + 24, c->clear + 24, slen)) wire_sealed = 1;
      if (c->ptype == DCE_PT_REQUEST) {
        if (got_c + slen > n || memcmp(c->clear + 24, stub + got_c, slen)) clear_ok = 0;
        got_c += slen;
        frags_c++;
      } else {
        for (i = 0; i < slen && got_s + i < n; i++)
          if (c->clear[24 + i] != stub[n - 1 - got_s - i]) clear_ok = 0;
        got_s += slen;
        frags_s++;
      }
    }
  }
  if (level == DCE_LEVEL_PRIVACY) {
    snprintf(d, sizeof d, "privacy %zu: clear text of %d request and %d response fragments is the call's", n,
             frags_c, frags_s);
    test_cond(d, clear_ok && wire_sealed && got_c == n && got_s == n);
  } else {
    snprintf(d, sizeof d, "%s %zu: no clear text where nothing is sealed", lv, n);
    test_cond(d, clear_ok);
  }
  /* the server saw the request before it answered */
  for (k = 0; k < sl.n; k++) if (sl.e[k].ptype == DCE_PT_RESPONSE) break;
  snprintf(d, sizeof d, "%s %zu: the server traced the request before its response", lv, n);
  test_cond(d, k > 0 && k < sl.n && sl.e[k - 1].ptype == DCE_PT_REQUEST && sl.e[k - 1].dir == DCE_TRACE_RECV);

  /* removed: no more events */
  log_free(&cl);
  log_free(&sl);
  dce_assoc_set_trace(a, NULL, NULL);
  dce_sconn_set_trace(sc, NULL, NULL);
  dce_assoc_request(a, 0, 3, NULL, stub, n, &id, &e);
  pump(a, sc);
  snprintf(d, sizeof d, "%s %zu: hooks removed, the call works and nothing is traced", lv, n);
  test_cond(d, dce_assoc_result(a, id) && dce_assoc_result(a, id)->status == 0 && cl.n == 0 && sl.n == 0);
  dce_assoc_release(a, id);
  dce_assoc_free(a);
  dce_sconn_free(sc);
  dce_server_free(srv);
  free(stub);
}

int main(void) {
  session(0, 40);
  session(DCE_LEVEL_INTEGRITY, 100);
  session(DCE_LEVEL_PRIVACY, 37);
  session(DCE_LEVEL_PRIVACY, 20000);     /* several fragments each way */
  return test_report("test_trace");
}
