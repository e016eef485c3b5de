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
#include <sys/stat.h>
#include <sys/un.h>
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
  } else if (sa->sa_family == AF_UNIX) {
    snprintf(out, n, "local");
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
  memset(&ss, 0, sizeof ss);
  t->ops = &tcp_ops;
  t->fd = fd;
  set_nonblock(fd);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) fmt_peer((struct sockaddr *)&ss, t->peer, sizeof t->peer);
  if (ss.ss_family == AF_UNIX) {                 /* ncalrpc: who is calling */
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
      snprintf(t->peer, sizeof t->peer, "local:pid=%d,uid=%u,gid=%u", (int)cr.pid, (unsigned)cr.uid, (unsigned)cr.gid);
  }
  return t;
}

/* ------------------------------------------------------------ connect */

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

static dce_dialer *dial_alloc(void) {
  dce_dialer *d = calloc(1, sizeof *d);
  if (d) d->fd = -1;
  return d;
}

static dce_dialer *dial_begin(dce_dialer *d, int *connected, char *err, size_t errlen) {
  if (dial_next(d, connected) < 0) {
    set_errf(err, errlen, "cannot connect to", d->where, d->last_err ? d->last_err : ECONNREFUSED);
    dce_dial_free(d);
    return NULL;
  }
  return d;
}

dce_dialer *dce_tcp_dial_start(const char *host, const char *port, char *err, size_t errlen) {
  struct addrinfo hints;
  char h[256];
  int rc, connected;
  dce_dialer *d;
  size_t n = strlen(host);
  /* strip brackets of "[::1]" so both spellings work */
  if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
    if (n - 2 >= sizeof h) { if (err) snprintf(err, errlen, "host name too long"); return NULL; }
    memcpy(h, host + 1, n - 2);
    h[n - 2] = '\0';
    host = h;
  }
  d = dial_alloc();
  if (!d) { if (err) snprintf(err, errlen, "out of memory"); return NULL; }
  snprintf(d->where, sizeof d->where, "%s port %s", host, port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  rc = getaddrinfo(host, port, &hints, &d->res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    hints.ai_flags = 0;                          /* loopback-only hosts */
    rc = getaddrinfo(host, port, &hints, &d->res);
  }
  if (rc) {
    if (err) snprintf(err, errlen, "cannot resolve %s: %s", d->where, gai_strerror(rc));
    d->res = NULL;
    dce_dial_free(d);
    return NULL;
  }
  d->cur = d->res;
  return dial_begin(d, &connected, err, errlen);
}

dce_dialer *dce_unix_dial_start(const char *path, char *err, size_t errlen) {
  int connected;
  dce_dialer *d;
  if (strlen(path) >= sizeof d->un.sun_path) { if (err) snprintf(err, errlen, "socket path too long: %s", path); return NULL; }
  d = dial_alloc();
  if (!d) { if (err) snprintf(err, errlen, "out of memory"); return NULL; }
  d->unix_path = 1;
  d->un.sun_family = AF_UNIX;
  memcpy(d->un.sun_path, path, strlen(path) + 1);
  snprintf(d->where, sizeof d->where, "%s", path);
  return dial_begin(d, &connected, err, errlen);
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
    *out = dce_tcp_wrap(d->fd);
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
  set_errf(err, errlen, "cannot connect to", d->where, d->last_err ? d->last_err : ECONNREFUSED);
  return -1;
}

/* Dial and wait with poll until the deadline. */
static dce_transport *dial_blocking(dce_dialer *d, int timeout_ms, char *err, size_t errlen) {
  int64_t deadline = dce_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  dce_transport *t = NULL;
  if (!d) return NULL;
  for (;;) {
    int r = dce_dial_step(d, &t, err, errlen);
    int64_t left;
    struct pollfd pf;
    if (r != 0) break;
    left = deadline - dce_now_ms();
    if (left <= 0) { set_errf(err, errlen, "cannot connect to", d->where, ETIMEDOUT); break; }
    pf.fd = dce_dial_fd(d); pf.events = POLLOUT; pf.revents = 0;
    if (poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left) < 0 && errno != EINTR) {
      set_errf(err, errlen, "poll for", d->where, errno);
      break;
    }
  }
  dce_dial_free(d);
  return t;
}

dce_transport *dce_tcp_connect(const char *host, const char *port, int timeout_ms,
                               char *err, size_t errlen) {
  return dial_blocking(dce_tcp_dial_start(host, port, err, errlen), timeout_ms, err, errlen);
}

dce_transport *dce_unix_connect(const char *path, int timeout_ms, char *err, size_t errlen) {
  return dial_blocking(dce_unix_dial_start(path, err, errlen), timeout_ms, err, errlen);
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

int dce_unix_listen(const char *path, char *err, size_t errlen) {
  struct sockaddr_un un;
  struct stat st;
  int fd;
  if (strlen(path) >= sizeof un.sun_path) { if (err) snprintf(err, errlen, "socket path too long: %s", path); return -1; }
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  memcpy(un.sun_path, path, strlen(path) + 1);
  /* the directory is made as needed (mode 0755) */
  {
    char dir[sizeof un.sun_path];
    char *q;
    memcpy(dir, path, strlen(path) + 1);
    for (q = dir + 1; *q; q++)
      if (*q == '/') { *q = '\0'; mkdir(dir, 0755); *q = '/'; }
  }
  /* a socket left by a server that is gone is replaced; a live one is not */
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&un, sizeof un) == 0) {
      close(probe);
      if (err) snprintf(err, errlen, "cannot listen on %s: a server is already listening there", path);
      return -1;
    }
    if (probe >= 0) close(probe);
    unlink(path);
  }
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) { set_errf(err, errlen, "socket for", path, errno); return -1; }
  if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0 || listen(fd, 512) < 0) {
    set_errf(err, errlen, "cannot listen on", path, errno);
    close(fd);
    return -1;
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
