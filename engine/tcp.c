/*
** tcp.c - ncacn_ip_tcp: non-blocking TCP sockets, connect with a deadline,
** and the poll() driver that runs an association over a transport.
*/
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "transport.h"

int64_t dce_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_errf(char *err, size_t n, const char *what, const char *where, int e) {
  if (err && n) snprintf(err, n, "%s %s: %s", what, where, strerror(e));
}

/* ------------------------------------------------------------ vtable */

static long tcp_send(dce_transport *t, const void *b, size_t n) {
  ssize_t r;
  if (t->fd < 0) return DCE_T_ERROR;
  do r = send(t->fd, b, n, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  if (r >= 0) return (long)r;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return DCE_T_AGAIN;
  t->errnum = errno;
  snprintf(t->errmsg, sizeof t->errmsg, "send to %s: %s", t->peer, strerror(errno));
  return DCE_T_ERROR;
}

static long tcp_recv(dce_transport *t, void *b, size_t n) {
  ssize_t r;
  if (t->fd < 0) return DCE_T_ERROR;
  do r = recv(t->fd, b, n, 0); while (r < 0 && errno == EINTR);
  if (r >= 0) return (long)r;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return DCE_T_AGAIN;
  t->errnum = errno;
  snprintf(t->errmsg, sizeof t->errmsg, "recv from %s: %s", t->peer, strerror(errno));
  return DCE_T_ERROR;
}

static void tcp_close(dce_transport *t) {
  if (t->fd >= 0) close(t->fd);
  free(t);
}

static const dce_transport_ops tcp_ops = { "ncacn_ip_tcp", tcp_send, tcp_recv, tcp_close };

static void fmt_peer(const struct sockaddr *sa, char *out, size_t n) {
  char h[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, h, sizeof h);
    port = ntohs(s4->sin_port);
    snprintf(out, n, "%s:%u", h, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
    port = ntohs(s6->sin6_port);
    snprintf(out, n, "[%s]:%u", h, port);
  } else {
    snprintf(out, n, "?");
  }
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL, 0);
  if (fl < 0) return -1;
  return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

dce_transport *dce_tcp_wrap(int fd) {
  dce_transport *t = calloc(1, sizeof *t);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int one = 1;
  if (!t) return NULL;
  t->ops = &tcp_ops;
  t->fd = fd;
  set_nonblock(fd);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) fmt_peer((struct sockaddr *)&ss, t->peer, sizeof t->peer);
  return t;
}

/* ------------------------------------------------------------ connect */

/* One address, non-blocking connect waited for with poll. 0 or errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *fdout) {
  int fd, e = 0;
  fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) return errno;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    if (errno != EINPROGRESS) { e = errno; close(fd); return e; }
    for (;;) {
      struct pollfd pf = { fd, POLLOUT, 0 };
      int64_t left = deadline - dce_now_ms();
      int r;
      socklen_t el = sizeof e;
      if (left <= 0) { close(fd); return ETIMEDOUT; }
      r = poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) { e = errno; close(fd); return e; }
      if (r == 0) continue;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
      if (e) { close(fd); return e; }
      break;
    }
  }
  *fdout = fd;
  return 0;
}

dce_transport *dce_tcp_connect(const char *host, const char *port, int timeout_ms,
                               char *err, size_t errlen) {
  struct addrinfo hints, *res = NULL, *ai;
  int64_t deadline = dce_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  int rc, e = 0, fd = -1;
  char where[300];
  dce_transport *t;

  snprintf(where, sizeof where, "%s port %s", host, port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  /* strip brackets of "[::1]" so both spellings work */
  if (host[0] == '[') {
    size_t n = strlen(host);
    if (n > 2 && host[n - 1] == ']' && n - 2 < sizeof where) {
      char h[256];
      if (n - 2 >= sizeof h) { if (err) snprintf(err, errlen, "host name too long"); return NULL; }
      memcpy(h, host + 1, n - 2);
      h[n - 2] = '\0';
      return dce_tcp_connect(h, port, timeout_ms, err, errlen);
    }
  }
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    hints.ai_flags = 0;                          /* loopback-only hosts */
    rc = getaddrinfo(host, port, &hints, &res);
  }
  if (rc) {
    if (err) snprintf(err, errlen, "cannot resolve %s: %s", where, gai_strerror(rc));
    return NULL;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    e = connect_one(ai, deadline, &fd);
    if (!e) break;
    if (e == ETIMEDOUT) break;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    set_errf(err, errlen, "cannot connect to", where, e ? e : ECONNREFUSED);
    return NULL;
  }
  t = dce_tcp_wrap(fd);
  if (!t) { close(fd); if (err) snprintf(err, errlen, "out of memory"); return NULL; }
  return t;
}

/* ------------------------------------------------------------ listen / accept */

int dce_tcp_listen(const char *host, const char *port, int *bound_port, char *err, size_t errlen) {
  struct addrinfo hints, *res = NULL;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int fd, rc, one = 1;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc) { if (err) snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc)); return -1; }
  fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) { set_errf(err, errlen, "socket for", host, errno); freeaddrinfo(res); return -1; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
    set_errf(err, errlen, "cannot listen on", host, errno);
    close(fd); freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  set_nonblock(fd);
  if (bound_port && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    else *bound_port = ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
  }
  return fd;
}

dce_transport *dce_tcp_accept(int lfd, int timeout_ms, char *err, size_t errlen) {
  int64_t deadline = dce_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    struct pollfd pf = { lfd, POLLIN, 0 };
    int64_t left;
    if (fd >= 0) return dce_tcp_wrap(fd);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      set_errf(err, errlen, "accept", "failed", errno);
      return NULL;
    }
    left = deadline - dce_now_ms();
    if (left <= 0) { if (err) snprintf(err, errlen, "timeout"); return NULL; }
    poll(&pf, 1, (int)left);
  }
}

/* ------------------------------------------------------------ driving */

short dce_conn_events(dce_assoc *a, dce_transport *t) {
  const uint8_t *p;
  short ev = POLLIN;
  (void)t;
  if (!dce_assoc_is_dead(a) && dce_assoc_out(a, &p) > 0) ev |= POLLOUT;
  return ev;
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
    int64_t left;
    int pr;
    if (!r || r->state == DCE_OP_DONE) return 1;
    if (dce_assoc_is_dead(a)) return -1;
    if (dce_conn_io(a, t)) return -1;
    r = dce_assoc_result(a, call_id);
    if (!r || r->state == DCE_OP_DONE) return 1;
    left = deadline_ms - dce_now_ms();
    if (left <= 0) return 0;
    pf.fd = t->fd;
    pf.events = dce_conn_events(a, t);
    pf.revents = 0;
    pr = poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
    if (pr < 0 && errno != EINTR) {
      snprintf(t->errmsg, sizeof t->errmsg, "poll: %s", strerror(errno));
      dce_assoc_lost(a, t->errmsg);
      return -1;
    }
  }
}
