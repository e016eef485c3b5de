/*
** transport.h - the byte-stream transport interface, and the stream-socket
** transports built on it (ncacn_ip_tcp, ncalrpc).
**
** A transport moves bytes without blocking; the protocol engine above it
** (rpc/co_client.h, rpc/co_server.h) decides which bytes. A transport need
** not own a file descriptor: one may sit on another (NetBIOS session framing
** on TCP, a named pipe on an SMB session that several pipes share). So a
** driver never reads an fd out of a transport; it asks:
**   - dce_transport_poll(t, want, &events): which fd to wait on, and for
**     what, before `want` (reading, writing) can make progress. A pipe that
**     wants to read may first have to write a READ request on the socket it
**     shares, so the answer can differ from `want`, and the fd can be the
**     one of the transport underneath.
**   - dce_transport_pending(t): bytes recv() returns without waiting (held
**     by this transport or one beneath it). While it is nonzero a driver must
**     call recv before it waits: the fd will not wake it for them.
** Any loop can drive a transport that way: poll() in run/client.c, the
** engine's epoll loop in run/server.c, cqueues or luv from outside.
*/
#ifndef DCE_TRANSPORT_H
#define DCE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#define DCE_T_AGAIN  (-1)          /* would block */
#define DCE_T_ERROR  (-2)          /* see t->errmsg */

/* What a driver wants to do / what to wait for (the values of net/loop.h's
** DCE_EV_READ and DCE_EV_WRITE). */
#define DCE_T_READ   0x01u
#define DCE_T_WRITE  0x02u

typedef struct dce_transport dce_transport;

typedef struct dce_transport_ops {
  const char *name;                                     /* "ncacn_ip_tcp" */
  /* >= 0 bytes moved, DCE_T_AGAIN or DCE_T_ERROR; recv returns 0 at EOF */
  long (*send)(dce_transport *t, const void *b, size_t n);
  long (*recv)(dce_transport *t, void *b, size_t n);
  /* the fd to wait on (-1: none, the transport is closed) and *events
  ** (DCE_T_READ | DCE_T_WRITE) to wait for before `want` can progress */
  int (*poll)(dce_transport *t, unsigned want, unsigned *events);
  size_t (*pending)(const dce_transport *t);            /* NULL: never any */
  /* stop both directions now: whoever waits on the fd wakes and then
  ** fails; t stays allocated until close */
  void (*shutdown)(dce_transport *t);
  void (*close)(dce_transport *t);                      /* frees t */
} dce_transport_ops;

struct dce_transport {
  const dce_transport_ops *ops;
  char peer[80];                   /* "127.0.0.1:135", "[::1]:135", a socket path */
  char errmsg[160];
  int errnum;                      /* errno of the last failure */
};

static inline int dce_transport_poll(dce_transport *t, unsigned want, unsigned *events) {
  return t->ops->poll(t, want, events);
}
static inline size_t dce_transport_pending(const dce_transport *t) {
  return t->ops->pending ? t->ops->pending(t) : 0;
}

/* ------------------------------------------------------------ stream sockets
** net/socket.c: a connected non-blocking stream socket (TCP or Unix) as a
** transport; the dialer that connects one without blocking. net/tcp.c and
** net/unix.c: addresses, listening and accepting for each family. */

/* Wrap a connected socket (made non-blocking, TCP_NODELAY on TCP; the peer
** is read with getpeername, SO_PEERCRED on Unix sockets). NULL on out of
** memory (fd left open). */
dce_transport *dce_sock_wrap(int fd);
/* The same with the peer's address as accept() gave it (sa, salen: a
** struct sockaddr), so that it is known even when the peer has gone. */
dce_transport *dce_sock_wrap_addr(int fd, const void *sa, size_t salen);
/* The local address of socket fd as peer is written ("127.0.0.1:50123",
** "[::1]:135", "local"), "?" when unknown (tracing names both ends). */
void dce_sock_local(int fd, char *out, size_t n);

/* Connecting without blocking: a dialer tries each address of host (or the
** Unix socket path) in turn. Wait until dce_dial_fd() is writable (or a
** little while), then call dce_dial_step(): 1 connected (*out is the
** transport; the dialer keeps nothing), 0 not yet (wait again: the fd may
** have changed to the next address), -1 failed (err says why). Resolving a
** name with getaddrinfo blocks; numeric hosts do not. */
typedef struct dce_dialer dce_dialer;
dce_dialer *dce_tcp_dial_start(const char *host, const char *port, char *err, size_t errlen);
dce_dialer *dce_unix_dial_start(const char *path, char *err, size_t errlen);
int dce_dial_fd(const dce_dialer *d);
int dce_dial_step(dce_dialer *d, dce_transport **out, char *err, size_t errlen);
void dce_dial_free(dce_dialer *d);
/* Dial and wait with poll() until connected or timeout_ms passed (<= 0:
** 60 s); frees d. The transport, or NULL with a message in err. */
dce_transport *dce_dial_blocking(dce_dialer *d, int timeout_ms, char *err, size_t errlen);

/* Connect to host:port over TCP (IPv4 or IPv6, numeric or a name resolved
** with getaddrinfo; every address is tried in turn until the deadline).
** timeout_ms <= 0 means 60 s. Returns the transport, or NULL with a message
** in err: the server is unavailable and nothing was sent. */
dce_transport *dce_tcp_connect(const char *host, const char *port, int timeout_ms,
                               char *err, size_t errlen);
/* ncalrpc: a Unix stream socket at path (blocking with a deadline, as
** dce_tcp_connect). */
dce_transport *dce_unix_connect(const char *path, int timeout_ms, char *err, size_t errlen);

/* Listening sockets (non-blocking, close-on-exec). TCP: bound_port gets the
** port (useful with "0"); backlog 16 (a server deepens it with listen()).
** Unix: a stale socket file nobody answers on is replaced, the directory is
** made as needed. The fd, or -1 with err. */
int dce_tcp_listen(const char *host, const char *port, int *bound_port, char *err, size_t errlen);
int dce_unix_listen(const char *path, char *err, size_t errlen);
/* Accept one connection, waiting up to timeout_ms (<= 0: 60 s); for tests. */
dce_transport *dce_sock_accept(int lfd, int timeout_ms, char *err, size_t errlen);

#endif
