/*
** socket.c - a connected stream socket (TCP or Unix) as a transport, and the
** dialer that connects one without blocking (see transport.h).
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "base/clock.h"
#include "net/socket.h"

typedef struct sock_t {
  dce_transport base;
  int fd;                          /* non-blocking, -1 once closed */
} sock_t;

void dce_sock_errf(char *err, size_t n, const char *what, const char *where, int e) {
  if (err && n) snprintf(err, n, "%s %s: %s", what, where, strerror(e));
}

int dce_sock_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL, 0);
  if (fl < 0) return -1;
  return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ------------------------------------------------------------ vtable */

static long sock_send(dce_transport *t, const void *b, size_t n) {
  sock_t *s = (sock_t *)t;
  ssize_t r;
  if (s->fd < 0) return DCE_T_ERROR;
  do r = send(s->fd, b, n, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  if (r >= 0) return (long)r;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return DCE_T_AGAIN;
  t->errnum = errno;
  snprintf(t->errmsg, sizeof t->errmsg, "send to %s: %s", t->peer, strerror(errno));
  return DCE_T_ERROR;
}

static long sock_recv(dce_transport *t, void *b, size_t n) {
  sock_t *s = (sock_t *)t;
  ssize_t r;
  if (s->fd < 0) return DCE_T_ERROR;
  do r = recv(s->fd, b, n, 0); while (r < 0 && errno == EINTR);
  if (r >= 0) return (long)r;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return DCE_T_AGAIN;
  t->errnum = errno;
  snprintf(t->errmsg, sizeof t->errmsg, "recv from %s: %s", t->peer, strerror(errno));
  return DCE_T_ERROR;
}

/* A socket waits for exactly what its user wants, on its own fd. */
static int sock_poll(dce_transport *t, unsigned want, unsigned *events) {
  *events = want;
  return ((sock_t *)t)->fd;
}

static void sock_shutdown(dce_transport *t) {
  sock_t *s = (sock_t *)t;
  if (s->fd >= 0) shutdown(s->fd, SHUT_RDWR);
}

static void sock_close(dce_transport *t) {
  sock_t *s = (sock_t *)t;
  if (s->fd >= 0) close(s->fd);
  free(s);
}

static const dce_transport_ops tcp_ops = {
  "ncacn_ip_tcp", sock_send, sock_recv, sock_poll, NULL, sock_shutdown, sock_close
};
static const dce_transport_ops unix_ops = {
  "ncalrpc", sock_send, sock_recv, sock_poll, NULL, sock_shutdown, sock_close
};

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
  } else if (sa->sa_family == AF_UNIX) {
    snprintf(out, n, "local");
  } else {
    snprintf(out, n, "?");
  }
}

dce_transport *dce_sock_wrap(int fd) { return dce_sock_wrap_addr(fd, NULL, 0); }

void dce_sock_local(int fd, char *out, size_t n) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) fmt_peer((struct sockaddr *)&ss, out, n);
  else snprintf(out, n, "?");
}

dce_transport *dce_sock_wrap_addr(int fd, const void *sa, size_t salen) {
  sock_t *s = calloc(1, sizeof *s);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int one = 1, have;
  if (!s) return NULL;
  memset(&ss, 0, sizeof ss);
  s->base.ops = &tcp_ops;
  s->fd = fd;
  dce_sock_nonblock(fd);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* the address accept gave is kept: a peer that reset at once has none
  ** left for getpeername (issue 14: "closing connection from : ...") */
  if (sa && salen > 0 && salen <= sizeof ss) { memcpy(&ss, sa, salen); have = 1; }
  else have = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
  if (have) fmt_peer((struct sockaddr *)&ss, s->base.peer, sizeof s->base.peer);
  else snprintf(s->base.peer, sizeof s->base.peer, "?");
  if (ss.ss_family == AF_UNIX) {                 /* ncalrpc: who is calling */
    struct ucred cr;
    socklen_t cl = sizeof cr;
    s->base.ops = &unix_ops;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
      snprintf(s->base.peer, sizeof s->base.peer, "local:pid=%d,uid=%u,gid=%u", (int)cr.pid, (unsigned)cr.uid, (unsigned)cr.gid);
  }
  return &s->base;
}

/* ------------------------------------------------------------ dialer */

/* A dialer tries each resolved address in turn with a non-blocking connect;
** the caller waits for the fd to become writable (poll here, an event loop
** elsewhere) and calls dce_dial_step. */
struct dce_dialer {
  struct addrinfo *res, *cur;      /* getaddrinfo list (NULL for ncalrpc) */
  struct sockaddr_un un;           /* ncalrpc */
  int fd, last_err, unix_path, tried;
  char where[300];
};

void dce_dial_free(dce_dialer *d) {
  if (!d) return;
  if (d->fd >= 0) close(d->fd);
  if (d->res) freeaddrinfo(d->res);
  free(d);
}

/* Start a connect on the current address: 1 connected, 0 in progress, -1 failed (next). */
static int dial_one(dce_dialer *d) {
  const struct sockaddr *sa;
  socklen_t sl;
  int family;
  if (d->unix_path) { sa = (const struct sockaddr *)&d->un; sl = sizeof d->un; family = AF_UNIX; }
  else { sa = d->cur->ai_addr; sl = d->cur->ai_addrlen; family = d->cur->ai_family; }
  d->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (d->fd < 0) { d->last_err = errno; return -1; }
  if (connect(d->fd, sa, sl) == 0) return 1;
  if (errno == EINPROGRESS) return 0;        /* AF_UNIX with a full backlog: EAGAIN, a failure */
  d->last_err = errno;
  close(d->fd);
  d->fd = -1;
  return -1;
}

/* Move on from a failed address; 0 when one is in progress (or connected:
** *connected), -1 when none is left. */
static int dial_next(dce_dialer *d, int *connected) {
  *connected = 0;
  for (;;) {
    int r;
    if (d->unix_path ? d->tried : !d->cur) return -1;
    r = dial_one(d);
    if (d->unix_path) d->tried = 1; else d->cur = d->cur->ai_next;
    if (r == 1) { *connected = 1; return 0; }
    if (r == 0) return 0;
  }
}

dce_dialer *dce_dial_new(struct addrinfo *res, const struct sockaddr_un *un, const char *where,
                         char *err, size_t errlen) {
  dce_dialer *d = calloc(1, sizeof *d);
  int connected;
  if (!d) {
    if (res) freeaddrinfo(res);
    if (err) snprintf(err, errlen, "out of memory");
    return NULL;
  }
  d->fd = -1;
  d->res = d->cur = res;
  if (!res) { d->unix_path = 1; d->un = *un; }
  snprintf(d->where, sizeof d->where, "%s", where);
  if (dial_next(d, &connected) < 0) {
    dce_sock_errf(err, errlen, "cannot connect to", d->where, d->last_err ? d->last_err : ECONNREFUSED);
    dce_dial_free(d);
    return NULL;
  }
  return d;
}

int dce_dial_fd(const dce_dialer *d) { return d->fd; }

int dce_dial_step(dce_dialer *d, dce_transport **out, char *err, size_t errlen) {
  int e = 0, connected;
  socklen_t el = sizeof e;
  struct pollfd pf;
  *out = NULL;
  if (d->fd < 0) goto failed;
  pf.fd = d->fd; pf.events = POLLOUT; pf.revents = 0;
  if (poll(&pf, 1, 0) == 0) return 0;            /* not yet */
  if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
  if (e == 0) {
    *out = dce_sock_wrap(d->fd);
    if (!*out) { if (err) snprintf(err, errlen, "out of memory"); return -1; }
    if (d->unix_path) {                          /* the path, its tail if too long */
      size_t n = strlen(d->un.sun_path), cap = sizeof (*out)->peer - 1;
      const char *p = d->un.sun_path + (n > cap ? n - cap : 0);
      memcpy((*out)->peer, p, strlen(p) + 1);
    }
    d->fd = -1;
    return 1;
  }
  d->last_err = e;
  close(d->fd);
  d->fd = -1;
  if (dial_next(d, &connected) == 0) {
    if (connected) return dce_dial_step(d, out, err, errlen);
    return 0;
  }
failed:
  dce_sock_errf(err, errlen, "cannot connect to", d->where, d->last_err ? d->last_err : ECONNREFUSED);
  return -1;
}

dce_transport *dce_dial_blocking(dce_dialer *d, int timeout_ms, char *err, size_t errlen) {
  int64_t deadline = dce_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  dce_transport *t = NULL;
  if (!d) return NULL;
  for (;;) {
    int r = dce_dial_step(d, &t, err, errlen);
    int64_t left;
    struct pollfd pf;
    if (r != 0) break;
    left = deadline - dce_now_ms();
    if (left <= 0) { dce_sock_errf(err, errlen, "cannot connect to", d->where, ETIMEDOUT); break; }
    pf.fd = dce_dial_fd(d); pf.events = POLLOUT; pf.revents = 0;
    if (poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left) < 0 && errno != EINTR) {
      dce_sock_errf(err, errlen, "poll for", d->where, errno);
      break;
    }
  }
  dce_dial_free(d);
  return t;
}

/* ------------------------------------------------------------ accept */

dce_transport *dce_sock_accept(int lfd, int timeout_ms, char *err, size_t errlen) {
  int64_t deadline = dce_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    struct pollfd pf = { lfd, POLLIN, 0 };
    int64_t left;
    if (fd >= 0) {
      dce_transport *t = dce_sock_wrap(fd);
      if (!t) { close(fd); if (err) snprintf(err, errlen, "out of memory"); }
      return t;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      dce_sock_errf(err, errlen, "accept", "failed", errno);
      return NULL;
    }
    left = deadline - dce_now_ms();
    if (left <= 0) { if (err) snprintf(err, errlen, "timeout"); return NULL; }
    poll(&pf, 1, (int)left);
  }
}
