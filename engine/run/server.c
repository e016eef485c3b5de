/*
** server.c - the server runner: listeners, connections, pumping, sweeps
** (see server.h; workers and hand-over in workers.c).
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
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

/* ------------------------------------------------------------ addresses */

/* The key a connection's address counts under for max_per_addr: an IPv4
** address, the /64 of an IPv6 one (one host or site usually holds a whole
** /64), all of loopback as one, all local (Unix) sockets as one. */
static void addr_key(const struct sockaddr *sa, unsigned salen, uint8_t key[9]) {
  memset(key, 0, 9);
  if (sa && salen >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
    const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    if (a[0] == 127) { key[0] = 'L'; return; }
    key[0] = '4';
    memcpy(key + 1, a, 4);
  } else if (sa && salen >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
    const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    static const uint8_t v4map[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff }, lo[16] = { [15] = 1 };
    if (!memcmp(a, lo, 16)) { key[0] = 'L'; return; }
    if (!memcmp(a, v4map, 12)) {
      if (a[12] == 127) { key[0] = 'L'; return; }
      key[0] = '4';
      memcpy(key + 1, a + 12, 4);
      return;
    }
    key[0] = '6';
    memcpy(key + 1, a, 8);
  } else {
    key[0] = 'U';
  }
}

static unsigned addr_hash(const uint8_t key[9]) {
  uint32_t h = 2166136261u;
  int i;
  for (i = 0; i < 9; i++) h = (h ^ key[i]) * 16777619u;
  return h % RUN_ADDR_BUCKETS;
}

static run_addr *addr_get(dce_runner *r, const uint8_t key[9], int make) {
  unsigned b = addr_hash(key);
  run_addr *a;
  for (a = r->addrs[b]; a; a = a->hnext)
    if (!memcmp(a->key, key, 9)) return a;
  if (!make || !(a = calloc(1, sizeof *a))) return NULL;
  memcpy(a->key, key, 9);
  a->hnext = r->addrs[b];
  r->addrs[b] = a;
  return a;
}

static void addr_put(dce_runner *r, run_addr *a) {
  run_addr **pp;
  if (!a || a->n > 0) return;
  for (pp = &r->addrs[addr_hash(a->key)]; *pp; pp = &(*pp)->hnext)
    if (*pp == a) { *pp = a->hnext; free(a); return; }
}

/* ------------------------------------------------------------ activity order */

/* Open connections are kept in the order of their last activity, the idlest
** first, in r->conns and in their address's list: the one to close for room
** is found from the front. */
static void order_unlink(dce_rconn *c) {
  dce_runner *r = c->r;
  if (c->prev) c->prev->next = c->next; else r->conns = c->next;
  if (c->next) c->next->prev = c->prev; else r->newest = c->prev;
  c->next = c->prev = NULL;
  if (c->addr) {
    run_addr *a = c->addr;
    if (c->aprev) c->aprev->anext = c->anext; else a->idlest = c->anext;
    if (c->anext) c->anext->aprev = c->aprev; else a->newest = c->aprev;
    c->anext = c->aprev = NULL;
  }
}

static void order_append(dce_rconn *c) {
  dce_runner *r = c->r;
  c->prev = r->newest;
  c->next = NULL;
  if (r->newest) r->newest->next = c; else r->conns = c;
  r->newest = c;
  if (c->addr) {
    run_addr *a = c->addr;
    c->aprev = a->newest;
    c->anext = NULL;
    if (a->newest) a->newest->anext = c; else a->idlest = c;
    a->newest = c;
  }
}

static void order_touch(dce_rconn *c) {
  if (c->r->newest == c) return;
  order_unlink(c);
  order_append(c);
}

/* ------------------------------------------------------------ logging */

static const char *const ev_names[RUN_EV_N] = { "closed on errors", "idle timeout", "timed out", "evicted", "refused" };

/* A connection event: logged as it is while few come, counted under a
** flood and summarised by the sweep once a second. */
static void conn_event(dce_runner *r, int ev, const char *peer, const char *why) {
  if (r->log_left > 0) {
    r->log_left--;
    run_log(r, "closing connection from %s: %s", peer && peer[0] ? peer : "?", why);
  } else {
    r->suppressed[ev]++;
  }
}

static void log_summary(dce_runner *r) {
  char line[400];
  size_t n = 0;
  unsigned long total = 0;
  int i;
  for (i = 0; i < RUN_EV_N; i++) total += r->suppressed[i];
  r->log_left = RUN_LOG_BURST;
  if (!total) return;
  n += (size_t)snprintf(line, sizeof line, "%lu more connection events in the last second, not logged one by one:", total);
  for (i = 0; i < RUN_EV_N && n < sizeof line; i++)
    if (r->suppressed[i])
      n += (size_t)snprintf(line + n, sizeof line - n, " %s %lu;", ev_names[i], r->suppressed[i]);
  memset(r->suppressed, 0, sizeof r->suppressed);
  run_log(r, "%s", line);
}

/* ------------------------------------------------------------ connections */

static void conn_io(dce_loop *l, int fd, unsigned ev, void *ud);

void run_conn_close_ev(dce_rconn *c, int ev, const char *why) {
  dce_runner *r = c->r;
  if (!c->sc) return;
  if (why) conn_event(r, ev, c->t->peer, why);
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
  order_unlink(c);
  if (c->addr) { c->addr->n--; addr_put(r, c->addr); c->addr = NULL; }
  r->n_conns--;
  r->freed_since_trim = 1;
  c->next = r->closed;
  r->closed = c;
}

void run_conn_close(dce_rconn *c, const char *why) { run_conn_close_ev(c, RUN_EV_ERROR, why); }

/* Send what is queued, then set the poll interest; close when the
** association asked for it and its last answer is out. */
static void conn_flush(dce_rconn *c) {
  const uint8_t *p;
  size_t n;
  unsigned ev = 0;
  int moved = 0;
  if (!c->sc) return;
  while ((n = dce_sconn_out(c->sc, &p)) > 0) {
    long k = c->t->ops->send(c->t, p, n);
    if (k == DCE_T_AGAIN) break;
    if (k < 0) { run_conn_close(c, c->t->errmsg); return; }
    dce_sconn_sent(c->sc, (size_t)k);
    moved = 1;
  }
  n = dce_sconn_out(c->sc, &p);
  /* reply_timeout counts from when output last moved or was queued */
  if (n == 0) c->out_ms = 0;
  else if (moved || c->out_ms == 0) c->out_ms = dce_now_ms();
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
  const dce_sconn_info *in;
  if (!c->sc) return;
  if (r->h.after_input) r->h.after_input(r->h.ud, c);
  if (!c->sc) return;
  in = dce_sconn_get_info(c->sc);
  if (in->pdus_in != c->pdus_seen) {
    c->pdus_seen = in->pdus_in;
    c->last_pdu_ms = dce_now_ms();
    order_touch(c);
  }
  if (in->reassembling == 0) c->reasm_ms = 0;
  else if (c->reasm_ms == 0) c->reasm_ms = c->last_pdu_ms;
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
** worker; sa: the peer's address from accept, or NULL); NULL (fd closed)
** when it cannot be set up. */
static void run_trace(void *ud, int dir, const uint8_t *wire, size_t len, const uint8_t *clear) {
  dce_rconn *c = ud;
  if (c->r->trace) c->r->trace(c->r->trace_ud, c, dir, wire, len, clear);
}

dce_rconn *run_conn_new(dce_runner *r, int fd, int lis, const struct sockaddr *sa, unsigned salen) {
  dce_rconn *c = calloc(1, sizeof *c);
  struct sockaddr_storage ss;
  uint8_t key[9];
  if (!sa) {
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) { sa = (struct sockaddr *)&ss; salen = sl; }
  }
  addr_key(sa, salen, key);
  if (c) c->t = dce_sock_wrap_addr(fd, sa, sa ? salen : 0);
  if (c && c->t) c->sc = dce_sconn_new(r->srv, r->lis[lis].portstr);
  if (c && c->sc && r->trace) dce_sconn_set_trace(c->sc, run_trace, c);
  if (c && c->sc) c->addr = addr_get(r, key, 1);
  if (!c || !c->t || !c->sc || !c->addr || dce_loop_add(r->loop, fd, DCE_EV_READ, conn_io, c)) {
    if (c && c->sc) dce_sconn_free(c->sc);
    if (c && c->t) c->t->ops->close(c->t); else close(fd);
    if (c && c->addr) addr_put(r, c->addr);
    free(c);
    return NULL;
  }
  c->r = r;
  c->fd = fd;
  c->id = ++r->next_id;
  c->lis = lis;
  c->notify = 1;
  c->last_pdu_ms = dce_now_ms();
  c->addr->n++;
  order_append(c);
  r->n_conns++;
  return c;
}

/* The idlest connection from the front of a list (next: r->conns order, or
** an address's) that is not running a call: the one to close for room. */
static dce_rconn *idlest(dce_rconn *c, int by_addr) {
  int looked;
  for (looked = 0; c && looked < 64; looked++, c = by_addr ? c->anext : c->next) {
    const dce_sconn_info *in = dce_sconn_get_info(c->sc);
    if (in->executing == 0) return c;
  }
  return NULL;
}

/* Room for a connection from sa: at max_connections, or at the address's
** cap, the idlest connection (of all, or of that address) that runs no call
** is closed; a flood evicts its own connections first, since a client that
** calls moves to the back. 0: admitted, -1: refused (every candidate busy). */
int run_admit(dce_runner *r, const struct sockaddr *sa, unsigned salen) {
  uint8_t key[9];
  run_addr *a;
  dce_rconn *v;
  if (r->max_per_addr > 0) {
    addr_key(sa, salen, key);
    a = addr_get(r, key, 0);
    if (a && a->n >= r->max_per_addr) {
      if (!(v = idlest(a->idlest, 1))) goto refuse;
      r->evicted++;
      run_conn_close_ev(v, RUN_EV_EVICTED, "evicted: its address is at max_connections_per_address");
    }
  }
  if (r->n_conns >= r->max_conns) {
    if (!(v = idlest(r->conns, 0))) goto refuse;
    r->evicted++;
    run_conn_close_ev(v, RUN_EV_EVICTED, "evicted: the idlest connection, to admit a new one at max_connections");
  }
  return 0;
refuse:
  r->refused++;
  return -1;
}

void run_lis_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  run_lis *li = (run_lis *)ud;
  dce_runner *r = li->r;
  int i;
  (void)ev; (void)l;
  for (i = 0; i < 64; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    dce_rconn *c;
    if (cfd < 0) break;
    if (run_admit(r, (struct sockaddr *)&ss, sl)) {
      char peer[96];
      dce_transport *t = dce_sock_wrap_addr(cfd, &ss, sl);    /* for its address in the log */
      snprintf(peer, sizeof peer, "%s", t ? t->peer : "?");
      if (t) t->ops->close(t); else close(cfd);
      conn_event(r, RUN_EV_REFUSED, peer, "refused: every connection slot runs a call");
      continue;
    }
    c = run_conn_new(r, cfd, (int)(li - r->lis), (struct sockaddr *)&ss, sl);
    if (c && r->pool) {
      c->sniff = 1;
      c->counted = 1;
      atomic_fetch_add(&r->load[r->worker], 1);
    }
  }
}

/* Once a second: closing connections whose peer does not take their last
** answer, stalled partial PDUs, unfinished calls, unread replies, idle
** associations; and the summary of connection events not logged. */
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
      run_conn_close_ev(c, RUN_EV_TIMEOUT, "peer does not read the last answer");
    else if (r->partial_timeout > 0 && (dce_sconn_partial(c->sc) > 0 || c->npre > 0) && idle > r->partial_timeout)
      run_conn_close_ev(c, RUN_EV_TIMEOUT, "partial PDU timed out (partial_timeout)");
    else if (r->request_timeout > 0 && c->reasm_ms && (double)(now - c->reasm_ms) / 1000.0 > r->request_timeout)
      run_conn_close_ev(c, RUN_EV_TIMEOUT, "a request's last fragment did not come in time (request_timeout)");
    else if (r->reply_timeout > 0 && c->out_ms && (double)(now - c->out_ms) / 1000.0 > r->reply_timeout)
      run_conn_close_ev(c, RUN_EV_TIMEOUT, "peer does not read its replies (reply_timeout)");
    else if (r->idle_timeout > 0 && idle > r->idle_timeout && in->executing == 0 && in->reassembling == 0
             && dce_sconn_out(c->sc, &p) == 0)
      run_conn_close_ev(c, RUN_EV_IDLE, "idle timeout");
  }
  log_summary(r);
#if defined(__GLIBC__)
  /* what closed connections and finished calls freed goes back to the
  ** system, not only to malloc's free lists (a flood's memory is returned) */
  if (r->freed_since_trim) malloc_trim(0);
#endif
  r->freed_since_trim = 0;
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
    if (c->addr) { c->addr->n--; addr_put(r, c->addr); }
    free(c);
  }
  r->conns = r->newest = NULL;
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
  r->max_per_addr = cfg->max_per_addr;
  r->idle_timeout = cfg->idle_timeout;
  r->partial_timeout = cfg->partial_timeout;
  r->request_timeout = cfg->request_timeout;
  r->reply_timeout = cfg->reply_timeout;
  r->log_left = RUN_LOG_BURST;
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
void dce_runner_memory_freed(dce_runner *r) { r->freed_since_trim = 1; }
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
  st->evicted = r->evicted;
  st->refused = r->refused;
  dce_server_load(r->srv, &st->calls, &st->buffered);
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

void *dce_rconn_ctx_iface(dce_rconn *c, uint16_t ctx_id) { return c->sc ? dce_sconn_ctx_iface(c->sc, ctx_id) : NULL; }

void dce_rconn_local(const dce_rconn *c, char *out, size_t n) { dce_sock_local(c->t ? c->fd : -1, out, n); }

void dce_runner_set_trace(dce_runner *r, void (*fn)(void *ud, dce_rconn *c, int dir, const uint8_t *wire,
                                                     size_t len, const uint8_t *clear), void *ud) {
  dce_rconn *c;
  r->trace = fn;
  r->trace_ud = ud;
  for (c = r->conns; c; c = c->next)
    if (c->sc) dce_sconn_set_trace(c->sc, fn ? run_trace : NULL, c);
}
const dce_sconn_info *dce_rconn_info(const dce_rconn *c) { return c->sc ? dce_sconn_get_info(c->sc) : NULL; }
int dce_rconn_is_open(const dce_rconn *c) { return c->sc != NULL; }

int dce_rconn_reply(dce_rconn *c, uint32_t call_id, const uint8_t *stub, size_t len) {
  int rc;
  if (!c->sc) return 0;
  rc = dce_sconn_reply(c->sc, call_id, stub, len);
  if (len > 65536) c->r->freed_since_trim = 1;   /* its request and reply buffers go soon */
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
