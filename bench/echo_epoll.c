/*
 * echo_epoll.c - the ceiling for the server-side benchmark: a raw epoll TCP
 * ping-pong server that exchanges exactly the bytes of a DCE/RPC call.
 *
 *   echo_epoll [--cpu N] [--preset addone|srvsvc101 | --resp-stub HEX] PORT
 *
 * One thread, level-triggered epoll, any number of connections. It frames
 * the input by the 16-bit frag_length at offset 8 of each PDU and answers
 * every bind with one pre-built bind_ack and every request with one
 * pre-built response of the preset's size; per PDU it copies the call_id
 * (and for addone writes input + 1, which the load generator checks). No
 * NDR, no association state, no dispatch: what remains is the kernel's
 * loopback path, epoll and two system calls per call - what any server on
 * this machine pays at least for the same sizes, so loadgen can run against
 * it unchanged (every reply checked) and give the ceiling.
 *
 * srvsvc101 answers with the stub samba-dcerpcd's rpcd_classic returned for
 * NetrServerGetInfo level 101 (\\127.0.0.1) on the test peer: 120 bytes,
 * a 144-byte PDU. PORT 0 picks a free port; prints "listening on PORT" once
 * it accepts connections, then serves until killed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define EE_MAX_FRAG 5840

typedef struct ee_conn {
  int fd;
  int want_out;
  uint8_t rx[EE_MAX_FRAG * 2];
  size_t rx_len;
  uint8_t *tx;                /* replies not yet written (rare) */
  size_t tx_len, tx_cap;
} ee_conn;

static int ee_ep;
static uint8_t ee_ack[256];
static size_t ee_ack_pos;             /* where the result list starts */
static const uint8_t ee_ndr20[20] = { 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8,
                                      0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0 };
/* bind time feature negotiation: 6cb71c2c-9812-4540-xxxx-..., first 8 bytes on the wire */
static const uint8_t ee_btfn[8] = { 0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45 };
static uint8_t *ee_resp;
static size_t ee_resp_len;
static int ee_addone;

/* What rpcd_classic (Samba 4.17.12) answered to NetrServerGetInfo level 101. */
static const char ee_srvsvc101_stub[] =
    "6500000004000200f4010000080002000600000001000000039a80000c000200"
    "0700000000000000070000005200500043005300520056000000000015000000"
    "0000000015000000530061006d0062006100200034002e00310037002e003100"
    "32002d00440065006200690061006e000000000000000000";

static void ee_put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void ee_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static uint32_t ee_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int ee_hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void ee_header(uint8_t *p, int ptype, size_t len) {
  memset(p, 0, 16);
  p[0] = 5; p[2] = (uint8_t)ptype; p[3] = 3; p[4] = 0x10;
  ee_put16(p + 8, (uint32_t)len);
}

static void ee_build(const char *stub_hex, int port) {
  size_t n = strlen(stub_hex) / 2;
  ee_resp_len = 24 + n;
  ee_resp = calloc(1, ee_resp_len);
  if (!ee_resp || strlen(stub_hex) % 2 || ee_resp_len > EE_MAX_FRAG) { fprintf(stderr, "echo_epoll: bad stub\n"); exit(2); }
  for (size_t i = 0; i < n; i++) {
    int h = ee_hexval(stub_hex[2 * i]), l = ee_hexval(stub_hex[2 * i + 1]);
    if (h < 0 || l < 0) { fprintf(stderr, "echo_epoll: bad hex\n"); exit(2); }
    ee_resp[24 + i] = (uint8_t)(h << 4 | l);
  }
  ee_header(ee_resp, 2, ee_resp_len);
  ee_put32(ee_resp + 16, (uint32_t)n);                  /* alloc_hint; ctx 0, cancel 0 */

  /* bind_ack prefix: max frags, assoc group, secondary address "PORT"; the
   * result list is written per bind (ee_bind_ack) */
  uint8_t *a = ee_ack;
  memset(a, 0, sizeof ee_ack);
  ee_put16(a + 16, EE_MAX_FRAG);
  ee_put16(a + 18, EE_MAX_FRAG);
  ee_put32(a + 20, 0x12345);
  char sec[8];
  int sl = snprintf(sec, sizeof sec, "%d", port) + 1;
  ee_put16(a + 24, (uint32_t)sl);
  memcpy(a + 26, sec, (size_t)sl);
  ee_ack_pos = (26 + (size_t)sl + 3) & ~(size_t)3;
}

/* The bind_ack for the bind p (flen bytes): one result per presentation
 * context, as a real server gives: acceptance of NDR 2.0 where it is offered,
 * negotiate_ack (3) of the features asked for (security context multiplexing
 * and keep-connection-on-orphan, bits 1 and 2) for a bind time feature
 * negotiation context, provider rejection (2, reason 2: transfer syntaxes not
 * supported) for anything else, NDR64 included. A one-context NDR 2.0 bind
 * (loadgen's) gets the same bytes as before. Sets *len. */
static const uint8_t *ee_bind_ack(const uint8_t *p, size_t flen, uint32_t call_id, size_t *len) {
  uint8_t *a = ee_ack;
  size_t max = (sizeof ee_ack - ee_ack_pos - 4) / 24, n = flen > 24 ? p[24] : 0, off = 28, nres = 0;
  uint8_t *r = a + ee_ack_pos + 4;
  for (size_t i = 0; i < n && i < max; i++, nres++, r += 24) {
    if (off + 24 > flen) break;
    size_t nts = p[off + 2], ts = off + 24;
    int res = 2, reason = 2, ndr = 0, btfn = 0;
    for (size_t j = 0; j < nts && ts + 20 <= flen; j++, ts += 20) {
      if (!memcmp(p + ts, ee_ndr20, 20)) ndr = 1;
      else if (!memcmp(p + ts, ee_btfn, 8)) btfn = 1, reason = p[ts + 8] & 3;
    }
    if (ndr) res = 0, reason = 0;
    else if (btfn) res = 3;
    memset(r, 0, 24);
    ee_put16(r, (uint32_t)res);
    ee_put16(r + 2, (uint32_t)reason);
    if (ndr) memcpy(r + 4, ee_ndr20, 20);
    off += 24 + 20 * nts;
  }
  memset(a + ee_ack_pos, 0, 4);
  a[ee_ack_pos] = (uint8_t)nres;
  *len = ee_ack_pos + 4 + 24 * nres;
  ee_header(a, 12, *len);
  ee_put32(a + 12, call_id);
  return a;
}

static void ee_close(ee_conn *c) {
  epoll_ctl(ee_ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->tx);
  free(c);
}

static void ee_want_out(ee_conn *c, int out) {
  if (c->want_out == out) return;
  struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };
  epoll_ctl(ee_ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = out;
}

/* Write p (after whatever is queued); queue what the socket does not take. 0 or -1. */
static int ee_send(ee_conn *c, const uint8_t *p, size_t n) {
  if (c->tx_len == 0) {
    ssize_t w = write(c->fd, p, n);
    if (w == (ssize_t)n) return 0;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    if (w > 0) { p += w; n -= (size_t)w; }
  }
  if (c->tx_len + n > c->tx_cap) {
    size_t cap = c->tx_cap ? c->tx_cap : 4096;
    while (cap < c->tx_len + n) cap *= 2;
    uint8_t *t = realloc(c->tx, cap);
    if (!t) return -1;
    c->tx = t;
    c->tx_cap = cap;
  }
  memcpy(c->tx + c->tx_len, p, n);
  c->tx_len += n;
  ee_want_out(c, 1);
  return 0;
}

static int ee_flush(ee_conn *c) {
  while (c->tx_len) {
    ssize_t w = write(c->fd, c->tx, c->tx_len);
    if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    memmove(c->tx, c->tx + w, c->tx_len - (size_t)w);
    c->tx_len -= (size_t)w;
  }
  ee_want_out(c, 0);
  return 0;
}

static int ee_readable(ee_conn *c) {
  ssize_t r = read(c->fd, c->rx + c->rx_len, sizeof c->rx - c->rx_len);
  if (r == 0) return -1;
  if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  c->rx_len += (size_t)r;
  size_t off = 0;
  while (c->rx_len - off >= 16) {
    uint8_t *p = c->rx + off;
    size_t flen = (size_t)p[8] | (size_t)p[9] << 8;
    if (flen < 16 || flen > EE_MAX_FRAG) return -1;
    if (c->rx_len - off < flen) break;
    uint32_t call_id = ee_get32(p + 12);
    if (p[2] == 11) {                                   /* bind */
      size_t alen;
      const uint8_t *ack = ee_bind_ack(p, flen, call_id, &alen);
      if (ee_send(c, ack, alen)) return -1;
    } else if (p[2] == 0) {                             /* request */
      ee_put32(ee_resp + 12, call_id);
      if (ee_addone && flen >= 28 && ee_resp_len >= 28) ee_put32(ee_resp + 24, ee_get32(p + 24) + 1u);
      if (ee_send(c, ee_resp, ee_resp_len)) return -1;
    }
    off += flen;
  }
  memmove(c->rx, c->rx + off, c->rx_len - off);
  c->rx_len -= off;
  return 0;
}

int main(int argc, char **argv) {
  int cpu = -1, port = -1;
  const char *stub = "00000000";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cpu") && i + 1 < argc) cpu = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--preset") && i + 1 < argc) {
      const char *p = argv[++i];
      if (!strcmp(p, "addone")) { ee_addone = 1; stub = "00000000"; }
      else if (!strcmp(p, "srvsvc101")) { ee_addone = 0; stub = ee_srvsvc101_stub; }
      else { fprintf(stderr, "echo_epoll: unknown preset %s\n", p); return 2; }
    } else if (!strcmp(argv[i], "--resp-stub") && i + 1 < argc) stub = argv[++i];
    else if (argv[i][0] != '-' && port < 0) port = atoi(argv[i]);
    else { fprintf(stderr, "usage: echo_epoll [--cpu N] [--preset addone|srvsvc101 | --resp-stub HEX] PORT\n"); return 2; }
  }
  if (port < 0 || port > 65535) { fprintf(stderr, "echo_epoll: PORT missing\n"); return 2; }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("sched_setaffinity"); return 1; }
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t sl = sizeof sa;
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 4096) != 0 ||
      getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
    perror("echo_epoll: listen");
    return 1;
  }
  port = ntohs(sa.sin_port);
  ee_build(stub, port);
  ee_ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ee_ep, EPOLL_CTL_ADD, ls, &lev);
  printf("listening on %d\n", port);
  fflush(stdout);

  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ee_ep, evs, 256, -1);
    if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
    for (int i = 0; i < n; i++) {
      ee_conn *c = evs[i].data.ptr;
      if (!c) {                                         /* accept everything pending */
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          ee_conn *nc = calloc(1, sizeof *nc);
          if (!nc) { close(fd); continue; }
          nc->fd = fd;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event ev = { .events = EPOLLIN, .data.ptr = nc };
          if (epoll_ctl(ee_ep, EPOLL_CTL_ADD, fd, &ev) != 0) { close(fd); free(nc); }
        }
        continue;
      }
      if ((evs[i].events & EPOLLOUT) && ee_flush(c) != 0) { ee_close(c); continue; }
      if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && ee_readable(c) != 0) ee_close(c);
    }
  }
}
