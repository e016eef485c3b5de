/*
** socket.h - what net/tcp.c and net/unix.c share from net/socket.c (not for
** use outside net/): starting a dialer on resolved addresses, and small fd
** helpers.
*/
#ifndef DCE_NET_SOCKET_H
#define DCE_NET_SOCKET_H

#include <netdb.h>
#include <sys/un.h>
#include "net/transport.h"

/* A dialer over res (a getaddrinfo list the dialer frees) or, when res is
** NULL, the Unix socket address *un; `where` names the target in messages.
** The first connect is started; NULL with err when no address can be tried
** (res is freed all the same). */
dce_dialer *dce_dial_new(struct addrinfo *res, const struct sockaddr_un *un, const char *where,
                         char *err, size_t errlen);
int dce_sock_nonblock(int fd);
void dce_sock_errf(char *err, size_t n, const char *what, const char *where, int e);

#endif
