/*
** client.c - the client driver (see client.h).
*/
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include "base/clock.h"
#include "run/client.h"

int dce_conn_pollfd(dce_assoc *a, dce_transport *t, unsigned *events) {
  const uint8_t *p;
  unsigned want = DCE_T_READ;
  if (dce_transport_pending(t)) { *events = 0; return dce_transport_poll(t, want, &want); }
  if (!dce_assoc_is_dead(a) && dce_assoc_out(a, &p) > 0) want |= DCE_T_WRITE;
  return dce_transport_poll(t, want, events);
}

int dce_conn_io(dce_assoc *a, dce_transport *t) {
  uint8_t buf[65536];
  int rounds;
  if (dce_assoc_is_dead(a)) return -1;
  /* write what is pending */
  for (;;) {
    const uint8_t *p;
    size_t n = dce_assoc_out(a, &p);
    long r;
    if (n == 0) break;
    r = t->ops->send(t, p, n);
    if (r == DCE_T_AGAIN) break;
    if (r < 0) { dce_assoc_lost(a, t->errmsg); return -1; }
    dce_assoc_sent(a, (size_t)r);
  }
  /* read what is there (bounded so one busy peer cannot starve a loop) */
  for (rounds = 0; rounds < 64; rounds++) {
    long r = t->ops->recv(t, buf, sizeof buf);
    if (r == DCE_T_AGAIN) break;
    if (r == 0) {
      char m[200];
      snprintf(m, sizeof m, "connection closed by %s", t->peer);
      dce_assoc_lost(a, m);
      return -1;
    }
    if (r < 0) { dce_assoc_lost(a, t->errmsg); return -1; }
    if (dce_assoc_feed(a, buf, (size_t)r)) return -1;
  }
  return 0;
}

int dce_conn_wait(dce_assoc *a, dce_transport *t, uint32_t call_id, int64_t deadline_ms) {
  for (;;) {
    const dce_op_result *r = dce_assoc_result(a, call_id);
    struct pollfd pf;
    unsigned ev;
    int64_t left;
    int pr;
    if (!r || r->state == DCE_OP_DONE) return 1;
    if (dce_assoc_is_dead(a)) return -1;
    if (dce_conn_io(a, t)) return -1;
    r = dce_assoc_result(a, call_id);
    if (!r || r->state == DCE_OP_DONE) return 1;
    left = deadline_ms - dce_now_ms();
    if (left <= 0) return 0;
    pf.fd = dce_conn_pollfd(a, t, &ev);
    if (pf.fd >= 0 && !ev) continue;            /* bytes held by the transport */
    pf.events = (short)(((ev & DCE_T_READ) ? POLLIN : 0) | ((ev & DCE_T_WRITE) ? POLLOUT : 0));
    pf.revents = 0;
    pr = poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
    if (pr < 0 && errno != EINTR) {
      snprintf(t->errmsg, sizeof t->errmsg, "poll: %s", strerror(errno));
      dce_assoc_lost(a, t->errmsg);
      return -1;
    }
  }
}
