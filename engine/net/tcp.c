/*
** tcp.c - ncacn_ip_tcp: resolving host and port, dialing, listening.
** The connected socket itself is net/socket.c's transport.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "net/socket.h"

dce_dialer *dce_tcp_dial_start(const char *host, const char *port, char *err, size_t errlen) {
  struct addrinfo hints, *res = NULL;
  char h[256], where[300];
  int rc;
  size_t n = strlen(host);
  /* strip brackets of "[::1]" so both spellings work */
  if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
    if (n - 2 >= sizeof h) { if (err) snprintf(err, errlen, "host name too long"); return NULL; }
    memcpy(h, host + 1, n - 2);
    h[n - 2] = '\0';
    host = h;
  }
  snprintf(where, sizeof where, "%s port %s", host, port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    hints.ai_flags = 0;                          /* loopback-only hosts */
    rc = getaddrinfo(host, port, &hints, &res);
  }
  if (rc) {
    if (err) snprintf(err, errlen, "cannot resolve %s: %s", where, gai_strerror(rc));
    return NULL;
  }
  return dce_dial_new(res, NULL, where, err, errlen);
}

dce_transport *dce_tcp_connect(const char *host, const char *port, int timeout_ms,
                               char *err, size_t errlen) {
  return dce_dial_blocking(dce_tcp_dial_start(host, port, err, errlen), timeout_ms, err, errlen);
}

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
  if (fd < 0) { dce_sock_errf(err, errlen, "socket for", host, errno); freeaddrinfo(res); return -1; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
    dce_sock_errf(err, errlen, "cannot listen on", host, errno);
    close(fd); freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  dce_sock_nonblock(fd);
  if (bound_port && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    else *bound_port = ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
  }
  return fd;
}
