/*
** server.c - the server runner: listeners, connections, pumping, sweeps
** (see server.h; workers and hand-over in workers.c).
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "base/clock.h"
#include "run/runner.h"

#define OUT_HIGH_WATER (4u << 20)  /* stop reading a peer that does not read */
#define SWEEP_MS 1000
#define CLOSING_GRACE_MS 10000     /* a closing peer gets 10 s to take its last answer */

void run_log(dce_runner *r, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->h.log) r->h.log(r->h.ud, msg);
  else fprintf(stderr, "dcerpc server: %s\n", msg);
}

/* ------------------------------------------------------------ connections */

static void conn_io(dce_loop *l, int fd, unsigned ev, void *ud);

void run_conn_close(dce_rconn *c, const char *why) {
  dce_runner *r = c->r;
  dce_rconn **pp;
  if (!c->sc) return;
  if (why) run_log(r, "closing connection from %s: %s", c->t->peer, why);
  if (r->h.closing) r->h.closing(r->h.ud, c);
  c->group = dce_sconn_get_info(c->sc)->assoc_group;
  if (c->counted && r->load) atomic_fetch_sub(&r->load[r->worker], 1);
  c->counted = 0;
  if (c->kick) dce_loop_cancel(r->loop, c->kick);
  c->kick = NULL;
  dce_loop_del(r->loop, c->fd);
  c->t->ops->close(c->t);
  c->t = NULL;
  dce_sconn_free(c->sc);
  c->sc = NULL;
  c->group_ended = c->group != 0 && !dce_server_has_group(r->srv, c->group);
  for (pp = &r->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) { *pp = c->next; break; }
  r->n_conns--;
  c->next = r->closed;
  r->closed = c;
}

/* Send what is queued, then set the poll interest; close when the
** association asked for it and its last answer is out. */
static void conn_flush(dce_rconn *c) {
  const uint8_t *p;
  size_t n;
  unsigned ev = 0;
  if (!c->sc) return;
  while ((n = dce_sconn_out(c->sc, &p)) > 0) {
    long k = c->t->ops->send(c->t, p, n);
    if (k == DCE_T_AGAIN) break;
    if (k < 0) { run_conn_close(c, c->t->errmsg); return; }
    dce_sconn_sent(c->sc, (size_t)k);
  }
  n = dce_sconn_out(c->sc, &p);
  if (dce_sconn_should_close(c->sc)) {
    if (n == 0) { run_conn_close(c, dce_sconn_get_info(c->sc)->why); return; }
  } else if (n < OUT_HIGH_WATER) {
    ev |= DCE_EV_READ;
  }
  if (n) ev |= DCE_EV_WRITE;
  dce_loop_mod(c->r->loop, c->fd, ev);
}

/* What the association says after input: calls to start, output to send. */
void run_conn_after_input(dce_rconn *c) {
  dce_runner *r = c->r;
  const dce_scall *k;
  if (!c->sc) return;
  if (r->h.after_input) r->h.after_input(r->h.ud, c);
  if (!c->sc) return;
  if (dce_sconn_get_info(c->sc)->pdus_in != c->pdus_seen) {
    c->pdus_seen = dce_sconn_get_info(c->sc)->pdus_in;
    c->last_pdu_ms = dce_now_ms();
  }
  while (c->sc && (k = dce_sconn_next_call(c->sc)) != NULL) r->h.call(r->h.ud, c, k);
  if (c->sc) conn_flush(c);
}

static void conn_kick(dce_loop *l, void *ud);

static void conn_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  dce_rconn *c = (dce_rconn *)ud;
  uint8_t buf[65536];
  int rounds;
  (void)fd;
  if (!c->sc) return;
  if (ev & DCE_EV_WRITE) { conn_flush(c); if (!c->sc) return; }
  if (ev & DCE_EV_READ) {
    if (c->sniff && run_conn_sniff(c)) return;
    for (rounds = 0; rounds < 16 && !dce_sconn_should_close(c->sc); rounds++) {
      long k = c->t->ops->recv(c->t, buf, sizeof buf);
      if (k == DCE_T_AGAIN) break;
      if (k == 0) { run_conn_close(c, NULL); return; }
      if (k < 0) { run_conn_close(c, c->t->errmsg); return; }
      if (dce_sconn_feed(c->sc, buf, (size_t)k)) break;
      /* drained (level-triggered: more wakes us again), unless the
      ** transport holds bytes the fd will not announce */
      if ((size_t)k < sizeof buf && !dce_transport_pending(c->t)) break;
    }
    /* bytes held by a layered transport: come back at once, after others */
    if (c->sc && !c->kick && dce_transport_pending(c->t) && !dce_sconn_should_close(c->sc))
      c->kick = dce_loop_timer(l, 0, conn_kick, c);
  }
  run_conn_after_input(c);
}

static void conn_kick(dce_loop *l, void *ud) {
  dce_rconn *c = (dce_rconn *)ud;
  c->kick = NULL;
  conn_io(l, c->fd, DCE_EV_READ, c);
}

/* A connection on fd (accepted from listener lis, or handed over by another
** worker); NULL (fd closed) when it cannot be set up. */
dce_rconn *run_conn_new(dce_runner *r, int fd, int lis) {
  dce_rconn *c = calloc(1, sizeof *c);
  if (c) c->t = dce_sock_wrap(fd);
  if (c && c->t) c->sc = dce_sconn_new(r->srv, r->lis[lis].portstr);
  if (!c || !c->t || !c->sc || dce_loop_add(r->loop, fd, DCE_EV_READ, conn_io, c)) {
    if (c && c->sc) dce_sconn_free(c->sc);
    if (c && c->t) c->t->ops->close(c->t); else close(fd);
    free(c);
    return NULL;
  }
  c->r = r;
  c->fd = fd;
  c->id = ++r->next_id;
  c->lis = lis;
  c->notify = 1;
  c->last_pdu_ms = dce_now_ms();
  c->next = r->conns;
  r->conns = c;
  r->n_conns++;
  return c;
}

void run_lis_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  run_lis *li = (run_lis *)ud;
  dce_runner *r = li->r;
  int i;
  (void)ev; (void)l;
  for (i = 0; i < 64; i++) {
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    dce_rconn *c;
    if (cfd < 0) break;
    if (r->n_conns >= r->max_conns) { close(cfd); run_log(r, "connection refused: too many connections"); continue; }
    c = run_conn_new(r, cfd, (int)(li - r->lis));
    if (c && r->pool) {
      c->sniff = 1;
      c->counted = 1;
      atomic_fetch_add(&r->load[r->worker], 1);
    }
  }
}

/* Once a second: idle connections, stalled partial PDUs, and closing
** connections whose peer does not take their last answer. */
static void sweep(dce_loop *l, void *ud) {
  dce_runner *r = (dce_runner *)ud;
  int64_t now = dce_now_ms();
  dce_rconn *c, *n;
  r->sweep = NULL;
  for (c = r->conns; c; c = n) {
    const dce_sconn_info *in = dce_sconn_get_info(c->sc);
    const uint8_t *p;
    double idle = (double)(now - c->last_pdu_ms) / 1000.0;
    n = c->next;
    if (dce_sconn_should_close(c->sc) && now - c->last_pdu_ms > CLOSING_GRACE_MS)
      run_conn_close(c, "peer does not read the last answer");
    else if (r->partial_timeout > 0 && (dce_sconn_partial(c->sc) > 0 || c->npre > 0) && idle > r->partial_timeout)
      run_conn_close(c, "partial PDU timed out");
    else if (r->idle_timeout > 0 && idle > r->idle_timeout && in->executing == 0
             && dce_sconn_out(c->sc, &p) == 0)
      run_conn_close(c, "idle timeout");
  }
  r->sweep = dce_loop_timer(l, SWEEP_MS, sweep, r);
}

/* A new worker: the parent's connections are the parent's (their fds are
** shared; closing ours does not disturb them). */
void run_conn_drop_all(dce_runner *r) {
  dce_rconn *c, *n;
  for (c = r->conns; c; c = n) {
    n = c->next;
    if (c->kick) dce_loop_cancel(r->loop, c->kick);
    dce_loop_del(r->loop, c->fd);
    c->t->ops->close(c->t);
    dce_sconn_free(c->sc);
    free(c);
  }
  r->conns = NULL;
  r->n_conns = 0;
  dce_runner_sweep_closed(r);
}

/* ------------------------------------------------------------ the runner */

dce_runner *dce_runner_new(const dce_runner_cfg *cfg, const dce_runner_hooks *hooks,
                           char *err, size_t errlen) {
  dce_runner *r = calloc(1, sizeof *r);
  dce_server_cfg scfg = cfg->server;
  if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
  r->h = *hooks;
  r->nworkers = cfg->workers > 1 ? cfg->workers : 1;
  r->max_conns = cfg->max_conns > 0 ? cfg->max_conns : 1024;
  r->idle_timeout = cfg->idle_timeout;
  r->partial_timeout = cfg->partial_timeout;
  r->sigfd = -1;
  scfg.tag_groups = r->nworkers > 1;           /* ids name their worker */
  /* each connection is a descriptor: make room for them (listeners, the
  ** epoll fd, stdio and client connections made by handlers on top) */
  dce_fd_limit_raise((long)r->max_conns + 64);
  r->loop = dce_loop_new();
  r->srv = dce_server_new(&scfg);
  if (r->loop) r->sweep = dce_loop_timer(r->loop, SWEEP_MS, sweep, r);
  if (!r->loop || !r->srv || !r->sweep) {
    snprintf(err, errlen, "cannot create server: out of memory or epoll failed");
    dce_loop_free(r->loop);
    dce_server_free(r->srv);
    free(r);
    return NULL;
  }
  return r;
}

void dce_runner_free(dce_runner *r) {
  int i;
  if (!r) return;
  while (r->conns) {
    r->conns->notify = 0;
    run_conn_close(r->conns, NULL);
  }
  dce_runner_sweep_closed(r);
  run_workers_stop(r);
  for (i = 0; i < r->n_lis; i++) {
    dce_loop_del(r->loop, r->lis[i].fd);
    close(r->lis[i].fd);
    if (r->lis[i].path[0] && r->worker == 0) unlink(r->lis[i].path);    /* our ncalrpc socket */
  }
  if (r->sweep) dce_loop_cancel(r->loop, r->sweep);
  dce_loop_free(r->loop);
  dce_server_free(r->srv);
  free(r);
}

dce_loop *dce_runner_loop(dce_runner *r) { return r->loop; }
dce_server *dce_runner_server(dce_runner *r) { return r->srv; }

static int add_listener(dce_runner *r, int fd, int port, const char *portstr, const char *path,
                        char *err, size_t errlen) {
  run_lis *li = &r->lis[r->n_lis];
  li->r = r;
  li->fd = fd;
  li->port = port;
  snprintf(li->portstr, sizeof li->portstr, "%s", portstr);
  snprintf(li->path, sizeof li->path, "%s", path ? path : "");
  if (dce_loop_add(r->loop, fd, DCE_EV_READ, run_lis_io, li)) {
    snprintf(err, errlen, "cannot watch listener: %s", strerror(errno));
    close(fd);
    if (path) unlink(path);
    return -1;
  }
  r->n_lis++;
  return 0;
}

int dce_runner_listen_tcp(dce_runner *r, const char *host, const char *port, int *bound,
                          char *err, size_t errlen) {
  char ps[16];
  int fd, p = 0;
  if (r->n_lis >= DCE_RUN_MAX_LISTEN) { snprintf(err, errlen, "at most %d listening endpoints", DCE_RUN_MAX_LISTEN); return -1; }
  fd = dce_tcp_listen(host, port, &p, err, errlen);
  if (fd < 0) return -1;
  listen(fd, 512);                 /* a deeper backlog than the engine's default */
  snprintf(ps, sizeof ps, "%d", p);
  if (add_listener(r, fd, p, ps, NULL, err, errlen)) return -1;
  if (bound) *bound = p;
  return 0;
}

int dce_runner_listen_unix(dce_runner *r, const char *path, const char *name, char *err, size_t errlen) {
  int fd;
  if (r->n_lis >= DCE_RUN_MAX_LISTEN) { snprintf(err, errlen, "at most %d listening endpoints", DCE_RUN_MAX_LISTEN); return -1; }
  fd = dce_unix_listen(path, err, errlen);
  if (fd < 0) return -1;
  return add_listener(r, fd, 0, name ? name : path, path, err, errlen);
}

int dce_runner_step(dce_runner *r, int timeout_ms) {
  return dce_loop_run_once(r->loop, timeout_ms);
}

int dce_runner_next_closed(dce_runner *r, uint64_t *id, uint32_t *group, int *group_ended) {
  dce_rconn *c;
  for (c = r->closed; c; c = c->next) {
    if (!c->notify) continue;
    c->notify = 0;
    *id = c->id;
    *group = c->group;
    *group_ended = c->group_ended;
    return 1;
  }
  return 0;
}

void dce_runner_sweep_closed(dce_runner *r) {
  dce_rconn *c, *n;
  for (c = r->closed; c; c = n) { n = c->next; free(c); }
  r->closed = NULL;
}

int dce_runner_stop_requested(const dce_runner *r) { return r->stop; }
int dce_runner_worker(const dce_runner *r) { return r->pool ? r->worker : -1; }

void dce_runner_get_stats(const dce_runner *r, dce_runner_stats *st) {
  memset(st, 0, sizeof *st);
  st->connections = r->n_conns;
  st->groups = dce_server_groups(r->srv);
  st->listeners = r->n_lis;
  st->worker = r->worker;
  st->workers = r->nworkers;
  st->pooled = r->pool;
  st->handed_in = r->handed_in;
  st->handed_out = r->handed_out;
}

/* ------------------------------------------------------------ connections */

dce_rconn *dce_runner_find(dce_runner *r, uint64_t id) {
  dce_rconn *c;
  for (c = r->conns; c; c = c->next)
    if (c->id == id) return c;
  return NULL;
}

uint64_t dce_rconn_id(const dce_rconn *c) { return c->id; }
const char *dce_rconn_peer(const dce_rconn *c) { return c->t ? c->t->peer : ""; }
const dce_sconn_info *dce_rconn_info(const dce_rconn *c) { return c->sc ? dce_sconn_get_info(c->sc) : NULL; }
int dce_rconn_is_open(const dce_rconn *c) { return c->sc != NULL; }

int dce_rconn_reply(dce_rconn *c, uint32_t call_id, const uint8_t *stub, size_t len) {
  int rc;
  if (!c->sc) return 0;
  rc = dce_sconn_reply(c->sc, call_id, stub, len);
  conn_flush(c);
  return rc;
}

int dce_rconn_fault(dce_rconn *c, uint32_t call_id, uint32_t status, int did_not_execute) {
  int rc;
  if (!c->sc) return 0;
  rc = dce_sconn_fault(c->sc, call_id, status, did_not_execute);
  conn_flush(c);
  return rc;
}

int dce_rconn_call_alive(const dce_rconn *c, uint32_t call_id) {
  return c->sc && dce_sconn_call_alive(c->sc, call_id);
}
