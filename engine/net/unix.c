/*
** unix.c - ncalrpc: Unix stream sockets at a path, dialing and listening.
** The connected socket itself is net/socket.c's transport.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "net/socket.h"

dce_dialer *dce_unix_dial_start(const char *path, char *err, size_t errlen) {
  struct sockaddr_un un;
  if (strlen(path) >= sizeof un.sun_path) { if (err) snprintf(err, errlen, "socket path too long: %s", path); return NULL; }
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  memcpy(un.sun_path, path, strlen(path) + 1);
  return dce_dial_new(NULL, &un, path, err, errlen);
}

dce_transport *dce_unix_connect(const char *path, int timeout_ms, char *err, size_t errlen) {
  return dce_dial_blocking(dce_unix_dial_start(path, err, errlen), timeout_ms, err, errlen);
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
  if (fd < 0) { dce_sock_errf(err, errlen, "socket for", path, errno); return -1; }
  if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0 || listen(fd, 512) < 0) {
    dce_sock_errf(err, errlen, "cannot listen on", path, errno);
    close(fd);
    return -1;
  }
  return fd;
}
