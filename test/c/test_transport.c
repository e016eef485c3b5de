/*
** test_transport.c - the transport seam (net/transport.h) and the client
** driver (run/client.c): a transport layered on another one, holding bytes
** of its own, as NetBIOS framing on TCP or a pipe on an SMB session will.
** The driver must ask the transport (pending, poll) and never wait on an fd
** for bytes a layer above it already holds.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "testhelp.h"
#include "base/clock.h"
#include "base/status.h"
#include "net/transport.h"
#include "rpc/co_client.h"
#include "rpc/co_server.h"
#include "run/client.h"

/* ------------------------------------------------------------ a layered transport
** "trickle": sits on a lower transport; each recv drains everything the
** lower one has into its own buffer, then hands out at most 7 bytes. It
** waits on the lower transport's fd. */
typedef struct trickle {
  dce_transport base;
  dce_transport *lower;
  uint8_t buf[1 << 16];
  size_t off, len;
  int polls;                       /* how often the driver asked what to wait for */
} trickle;

static long tr_send(dce_transport *t, const void *b, size_t n) {
  trickle *x = (trickle *)t;
  long r = x->lower->ops->send(x->lower, b, n);
  if (r == DCE_T_ERROR) memcpy(t->errmsg, x->lower->errmsg, sizeof t->errmsg);
  return r;
}

static long tr_recv(dce_transport *t, void *b, size_t n) {
  trickle *x = (trickle *)t;
  size_t k;
  if (x->off == x->len) {
    long r;
    x->off = x->len = 0;
    r = x->lower->ops->recv(x->lower, x->buf, sizeof x->buf);
    if (r <= 0) {
      if (r == DCE_T_ERROR) memcpy(t->errmsg, x->lower->errmsg, sizeof t->errmsg);
      return r;
    }
    x->len = (size_t)r;
  }
  k = x->len - x->off;
  if (k > 7) k = 7;
  if (k > n) k = n;
  memcpy(b, x->buf + x->off, k);
  x->off += k;
  return (long)k;
}

static int tr_poll(dce_transport *t, unsigned want, unsigned *events) {
  trickle *x = (trickle *)t;
  x->polls++;
  return dce_transport_poll(x->lower, want, events);
}
static size_t tr_pending(const dce_transport *t) {
  const trickle *x = (const trickle *)t;
  return x->len - x->off + dce_transport_pending(x->lower);
}
static void tr_shutdown(dce_transport *t) { trickle *x = (trickle *)t; x->lower->ops->shutdown(x->lower); }
static void tr_close(dce_transport *t) { trickle *x = (trickle *)t; x->lower->ops->close(x->lower); free(x); }

static const dce_transport_ops trickle_ops = {
  "trickle", tr_send, tr_recv, tr_poll, tr_pending, tr_shutdown, tr_close
};

static trickle *trickle_on(dce_transport *lower) {
  trickle *x = calloc(1, sizeof *x);
  x->base.ops = &trickle_ops;
  x->lower = lower;
  memcpy(x->base.peer, "trickle", 8);
  return x;
}

/* ------------------------------------------------------------ a server end */

static const dce_syntax ECHO = {
  { { 0x60, 0xa1, 0xe4, 0x12, 0xd2, 0x4b, 0xcf, 0x11, 0xa3, 0x16, 0x00, 0xaa, 0x00, 0xba, 0x38, 0x86 } }, 1, 0
};
static int IFACE_TAG;

/* Read what the client sent on fd, feed the server association, answer
** every call with a `reply_len`-byte stub, write everything out. */
static void serve(int fd, dce_sconn *c, size_t reply_len) {
  uint8_t b[65536];
  const uint8_t *p;
  const dce_scall *k;
  size_t n;
  ssize_t r;
  while ((r = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0) dce_sconn_feed(c, b, (size_t)r);
  while ((k = dce_sconn_next_call(c)) != NULL) {
    uint8_t *stub = malloc(reply_len);
    size_t i;
    for (i = 0; i < reply_len; i++) stub[i] = (uint8_t)(i * 13 + 5);
    dce_sconn_reply(c, k->call_id, stub, reply_len);
    free(stub);
  }
  while ((n = dce_sconn_out(c, &p)) > 0) {
    r = send(fd, p, n, 0);
    if (r <= 0) break;
    dce_sconn_sent(c, (size_t)r);
  }
}

int main(void) {
  int sv[2];
  dce_server *srv;
  dce_sconn *sc;
  dce_assoc *a;
  trickle *t;
  dce_pctx ctx;
  uint32_t id;
  unsigned ev;
  int fd, rc;
  const dce_op_result *res;
  static const uint8_t req[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

  test_cond("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  srv = dce_server_new(NULL);
  dce_server_add_iface(srv, &ECHO, &IFACE_TAG);
  sc = dce_sconn_new(srv, "135");
  t = trickle_on(dce_sock_wrap(sv[0]));
  a = dce_assoc_new(NULL);

  /* the layered transport waits on the socket underneath */
  fd = dce_conn_pollfd(a, &t->base, &ev);
  test_cond("poll: the fd of the transport underneath, read wanted", fd == sv[0] && ev == DCE_T_READ && t->polls == 1);

  memset(&ctx, 0, sizeof ctx);
  ctx.abstract = ECHO;
  ctx.n_transfer = 1;
  ctx.transfer[0] = dce_syntax_ndr20;
  test_cond("bind starts", dce_assoc_bind(a, 0, &ctx, 1, NULL, &id, NULL) == 0);
  fd = dce_conn_pollfd(a, &t->base, &ev);
  test_cond("poll: output pending -> read and write wanted", ev == (DCE_T_READ | DCE_T_WRITE));
  test_cond("io sends the bind", dce_conn_io(a, &t->base) == 0);
  serve(sv[1], sc, 0);
  rc = dce_conn_wait(a, &t->base, id, dce_now_ms() + 2000);
  res = dce_assoc_result(a, id);
  test_cond("bind completes through 7-byte reads", rc == 1 && res && res->state == DCE_OP_DONE && res->status == 0);
  dce_assoc_release(a, id);

  /* A 20,000-byte reply: the trickle layer takes all of it off the socket
  ** at its first read, and hands it out 7 bytes at a time; one round of
  ** dce_conn_io (64 reads) cannot drain it, and the socket has nothing
  ** left: a driver that waited on the fd here would wait until its deadline. */
  test_cond("request starts", dce_assoc_request(a, 0, 0, NULL, req, sizeof req, &id, NULL) == 0);
  dce_conn_io(a, &t->base);
  serve(sv[1], sc, 20000);
  {
    int64_t t0 = dce_now_ms();
    usleep(20000);                 /* all of the reply is in the socket */
    dce_conn_io(a, &t->base);      /* one round: the layer now holds the rest */
    test_cond("the layer holds bytes the socket no longer has", dce_transport_pending(&t->base) > 0);
    fd = dce_conn_pollfd(a, &t->base, &ev);
    test_cond("poll: nothing to wait for while bytes are held", fd == sv[0] && ev == 0);
    rc = dce_conn_wait(a, &t->base, id, dce_now_ms() + 3000);
    res = dce_assoc_result(a, id);
    test_cond("the call completes without waiting on the fd",
              rc == 1 && res && res->state == DCE_OP_DONE && res->status == 0 && dce_now_ms() - t0 < 1500);
    test_cond("the whole reply arrived", res && res->stub.len == 20000 && res->stub.p[19999] == (uint8_t)(19999 * 13 + 5));
  }
  dce_assoc_release(a, id);

  /* shutdown through the layer wakes and fails the waiter */
  test_cond("request starts", dce_assoc_request(a, 0, 0, NULL, req, sizeof req, &id, NULL) == 0);
  t->base.ops->shutdown(&t->base);
  rc = dce_conn_wait(a, &t->base, id, dce_now_ms() + 2000);
  res = dce_assoc_result(a, id);
  test_cond("after shutdown the call fails, maybe executed", rc == -1 && res && res->status == DCE_RPC_S_CALL_FAILED);

  dce_assoc_free(a);
  t->base.ops->close(&t->base);
  close(sv[1]);
  dce_sconn_free(sc);
  dce_server_free(srv);
  return test_report("test_transport");
}
