/*
** transport.h - a tiny byte-stream transport interface and ncacn_ip_tcp.
**
** A transport moves bytes; the association (assoc.h) decides which. Every
** transport has a non-blocking fd, so any loop (poll here, the engine's
** epoll loop later, cqueues or luv outside) can wait on it: the loop asks
** dce_conn_events() which poll events to wait for and calls dce_conn_io()
** when they arrive.
*/
#ifndef DCE_TRANSPORT_H
#define DCE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "assoc.h"

#define DCE_T_AGAIN  (-1)          /* would block */
#define DCE_T_ERROR  (-2)          /* see t->errmsg */

typedef struct dce_transport dce_transport;

typedef struct dce_transport_ops {
  const char *name;                                     /* "ncacn_ip_tcp" */
  /* >= 0 bytes moved, DCE_T_AGAIN or DCE_T_ERROR; recv returns 0 at EOF */
  long (*send)(dce_transport *t, const void *b, size_t n);
  long (*recv)(dce_transport *t, void *b, size_t n);
  void (*close)(dce_transport *t);                      /* frees t */
} dce_transport_ops;

struct dce_transport {
  const dce_transport_ops *ops;
  int fd;                          /* non-blocking, -1 once closed */
  char peer[80];                   /* "127.0.0.1:135", "[::1]:135" */
  char errmsg[160];
  int errnum;                      /* errno of the last failure */
};

/* Milliseconds on a monotonic clock. */
int64_t dce_now_ms(void);

/* Connect to host:port over TCP (IPv4 or IPv6, numeric or a name resolved
** with getaddrinfo; every address is tried in turn until the deadline).
** timeout_ms <= 0 means 60 s. Returns the transport, or NULL with a message
** in err: the server is unavailable and nothing was sent. */
dce_transport *dce_tcp_connect(const char *host, const char *port, int timeout_ms,
                               char *err, size_t errlen);

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

/* ncalrpc: a Unix stream socket at path (blocking with a deadline, as
** dce_tcp_connect). */
dce_transport *dce_unix_connect(const char *path, int timeout_ms, char *err, size_t errlen);
/* Listen on a Unix socket (a stale socket file nobody answers on is
** replaced). Non-blocking fd, or -1 with err. */
int dce_unix_listen(const char *path, char *err, size_t errlen);

/* A listening socket and accept, for tests and the coming server. */
int dce_tcp_listen(const char *host, const char *port, int *bound_port, char *err, size_t errlen);
dce_transport *dce_tcp_accept(int lfd, int timeout_ms, char *err, size_t errlen);
/* Wrap a connected non-blocking socket. */
dce_transport *dce_tcp_wrap(int fd);

/* ------------------------------------------------------------ driving */

/* Poll events (POLLIN, POLLOUT) the connection waits for. */
short dce_conn_events(dce_assoc *a, dce_transport *t);

/* Move bytes both ways without blocking. Returns 0, or -1 when the transport
** failed or the peer closed (the association is then marked lost). */
int dce_conn_io(dce_assoc *a, dce_transport *t);

/* Block (poll) until operation call_id has finished or deadline_ms (a
** dce_now_ms() value) passes. Returns 1 when finished, 0 on deadline, -1
** when the connection failed (then the operation holds its failure). */
int dce_conn_wait(dce_assoc *a, dce_transport *t, uint32_t call_id, int64_t deadline_ms);

#endif
