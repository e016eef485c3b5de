/*
 * loadgen.c - a DCE/RPC load generator for measuring servers, not clients.
 *
 *   loadgen [options] HOST PORT
 *
 * One thread, epoll, N connections over TCP (ncacn_ip_tcp, no epm). Each
 * connection sends a pre-built bind PDU (one presentation context: the given
 * interface + NDR 2.0, no auth), checks the bind_ack (ptype, call_id, result
 * 0 = acceptance), then runs a closed loop: exactly one request in flight,
 * the next one written as soon as the reply is complete. Requests are built
 * once; per call only the call_id (and for addone the input value) is
 * patched. Every reply is read fully (header, frag_length, reassembly of
 * multi-fragment replies) and checked: version, little-endian drep, ptype =
 * response (a fault stops the run with its status), call_id, PFC_FIRST /
 * PFC_LAST order, and the stub (addone: result = input + 1; srvsvc101: level
 * 101, a non-NULL info pointer, WERROR 0; --expect: byte equality). Any
 * failure ends the run with exit status 1: a number is printed only when
 * every reply in it was right.
 *
 * Calls that complete after a warm-up and within a fixed window are counted.
 * With --server-pid the server's CPU time (utime + stime of the process and
 * all its descendants, every thread; /proc/PID/stat) is read at the start
 * and end of the window, giving calls per server CPU-second. Output:
 *
 *   SRV label conns calls/s server_cpu_s calls_per_cpu_s client_busy% calls secs req_bytes resp_bytes srv_cpu_idle%
 *
 * (server columns are "-" without --server-pid; srv_cpu_idle% is how idle
 * the CPU given by --srv-cpu was, from /proc/stat: with the server pinned
 * there, server CPU well below 100% and idle near 0 means something else ran
 * on that CPU). --spin makes epoll_wait never sleep, so a reply never waits
 * for the generator to be woken; client_busy% then excludes the empty polls.
 *
 * --hold N: open N connections (at most --pending at a time being
 * established), bind each, keep them idle for --hold-secs, read the server's
 * memory (sum of RSS, and of PSS from smaps_rollup, over the same process
 * tree) before the first connect and at the end of the hold, then make one
 * checked call on every connection to prove they are all still served:
 *
 *   HOLD label bound/N bind_secs rss_before_kB rss_after_kB rss_B_per_conn pss_before_kB pss_after_kB pss_B_per_conn verified dropped
 *
 * (per connection = delta / connections bound). A connection the server
 * refuses or closes before its bind_ack is counted, not fatal; one closed
 * while idle is "dropped". Exit status 0 only when all N were bound and
 * every one answered its check call.
 *
 * Options:
 *   --preset addone      rpcecho 60a15ec5-4de8-11d7-a637-005056a20182 v1.0, opnum 0, u32
 *   --preset srvsvc101   srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0, opnum 21
 *                        NetrServerGetInfo(ServerName = unique "\\127.0.0.1", Level = 101)
 *   --uuid U --ver MAJ.MIN --opnum N --stub HEX [--expect HEX]   any other call
 *   -c N        connections (default 1)      -w S   warm-up seconds (0.5)
 *   -d S        measured seconds (2)         --cpu N   pin this process to CPU N
 *   --server-pid PID  (repeatable) the server's root process(es)
 *   --server-comm NAME  count only descendants whose comm is NAME (roots always)
 *   --srv-cpu N  the server's CPU, for its idle share      --spin   busy-poll
 *   --label L   first column of the output (default: the preset)
 *   --dump      one call, print the reply stub in hex, exit
 *   --hold N  --hold-secs S (3)  --pending K (64)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_FRAG 5840          /* what we offer as max_xmit/max_recv */
#define LG_HDR 16
#define LG_REQ_HDR 24
#define LG_MAX_ROOTS 8

enum { PT_REQUEST = 0, PT_RESPONSE = 2, PT_FAULT = 3, PT_BIND = 11, PT_BIND_ACK = 12, PT_BIND_NAK = 13 };
enum { PFC_FIRST = 1, PFC_LAST = 2 };
enum { CK_NONE, CK_ADDONE, CK_SRVSVC101, CK_EXPECT };
enum { ST_CONNECTING, ST_BINDING, ST_IDLE, ST_CALLING, ST_DONE };

typedef struct lg_conn {
  int fd;
  int state;
  int idx;
  int want_out;              /* EPOLLOUT currently requested */
  uint32_t call_id;          /* of the PDU in flight */
  uint32_t value;            /* addone input in flight */
  uint8_t *tx;               /* the PDU being written */
  size_t tx_len, tx_off;
  uint8_t *rx;               /* bytes read, not yet consumed */
  size_t rx_len, rx_cap;
  uint8_t *stub;             /* reassembly of a multi-fragment reply */
  size_t stub_len, stub_cap;
  int in_reply;              /* a first fragment was seen, waiting for the last */
  size_t reply_bytes;        /* PDU bytes of the reply so far, all fragments */
} lg_conn;

/* ------------------------------------------------------------ globals (one run per process) */
static int lg_ep = -1;
static struct sockaddr_storage lg_addr;
static socklen_t lg_addrlen;
static uint8_t lg_bind[72];
static uint8_t *lg_req;           /* request template */
static size_t lg_req_len;
static int lg_check = CK_NONE;
static uint8_t *lg_expect;
static size_t lg_expect_len;
static long lg_calls;              /* replies checked so far */
static long lg_resp_bytes;         /* PDU bytes of the last complete reply (all fragments) */
static int lg_dump;
static int lg_established;         /* connections bound */
static int lg_pending;             /* connections being established */
static int lg_dropped;             /* hold: bound connections the server closed */
static int lg_refused;             /* hold: connections refused or closed before the bind_ack */
static int lg_holding;             /* --hold mode */
static int lg_verified;            /* hold: connections whose verification call came back */
static int lg_hold_verify;         /* hold: in the verification phase */
static int lg_spin;                /* --spin: epoll_wait never sleeps */
static long lg_empty_polls;        /* epoll_wait calls that found nothing */

static void lg_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void lg_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static double lg_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void lg_put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void lg_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static uint32_t lg_get16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t lg_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void *lg_alloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) lg_die("out of memory");
  return p;
}

/* ------------------------------------------------------------ PDU building */

static int lg_hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Hex (spaces, ':' and '-' ignored) into a new buffer. */
static uint8_t *lg_hex(const char *s, size_t *len) {
  uint8_t *out = lg_alloc(strlen(s) / 2 + 1);
  size_t n = 0;
  int hi = -1;
  for (; *s; s++) {
    if (*s == ' ' || *s == ':' || *s == '-') continue;
    int v = lg_hexval((unsigned char)*s);
    if (v < 0) lg_die("bad hex digit '%c'", *s);
    if (hi < 0) hi = v;
    else { out[n++] = (uint8_t)(hi << 4 | v); hi = -1; }
  }
  if (hi >= 0) lg_die("odd number of hex digits");
  *len = n;
  return out;
}

/* "60a15ec5-4de8-11d7-a637-005056a20182" -> 16 bytes, wire (little-endian fields) order. */
static void lg_uuid(const char *s, uint8_t out[16]) {
  uint8_t b[16];
  size_t n;
  if (strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
    lg_die("bad uuid '%s'", s);
  uint8_t *h = lg_hex(s, &n);
  if (n != 16) lg_die("bad uuid '%s'", s);
  memcpy(b, h, 16);
  free(h);
  out[0] = b[3]; out[1] = b[2]; out[2] = b[1]; out[3] = b[0];
  out[4] = b[5]; out[5] = b[4];
  out[6] = b[7]; out[7] = b[6];
  memcpy(out + 8, b + 8, 8);
}

static void lg_header(uint8_t *p, int ptype, size_t frag_len, uint32_t call_id) {
  p[0] = 5; p[1] = 0; p[2] = (uint8_t)ptype; p[3] = PFC_FIRST | PFC_LAST;
  p[4] = 0x10; p[5] = 0; p[6] = 0; p[7] = 0;          /* little-endian, ASCII, IEEE */
  lg_put16(p + 8, (uint32_t)frag_len);
  lg_put16(p + 10, 0);                                  /* auth_length */
  lg_put32(p + 12, call_id);
}

static void lg_build_bind(const char *uuid, unsigned vmaj, unsigned vmin) {
  static const char ndr20[] = "8a885d04-1ceb-11c9-9fe8-08002b104860";
  uint8_t *p = lg_bind;
  memset(p, 0, sizeof lg_bind);
  lg_header(p, PT_BIND, sizeof lg_bind, 1);
  lg_put16(p + 16, LG_MAX_FRAG);                        /* max_xmit_frag */
  lg_put16(p + 18, LG_MAX_FRAG);                        /* max_recv_frag */
  lg_put32(p + 20, 0);                                  /* assoc_group_id */
  p[24] = 1;                                            /* n_context_elem */
  lg_put16(p + 28, 0);                                  /* p_cont_id */
  p[30] = 1;                                            /* n_transfer_syn */
  lg_uuid(uuid, p + 32);
  lg_put16(p + 48, vmaj);
  lg_put16(p + 50, vmin);
  lg_uuid(ndr20, p + 52);
  lg_put32(p + 68, 2);
}

static void lg_build_request(unsigned opnum, const uint8_t *stub, size_t stub_len) {
  if (stub_len > LG_MAX_FRAG - LG_REQ_HDR) lg_die("stub of %zu bytes needs more than one fragment", stub_len);
  lg_req_len = LG_REQ_HDR + stub_len;
  lg_req = lg_alloc(lg_req_len);
  lg_header(lg_req, PT_REQUEST, lg_req_len, 1);
  lg_put32(lg_req + 16, (uint32_t)stub_len);            /* alloc_hint */
  lg_put16(lg_req + 20, 0);                             /* p_cont_id */
  lg_put16(lg_req + 22, opnum);
  memcpy(lg_req + LG_REQ_HDR, stub, stub_len);
}

/* NetrServerGetInfo in: [unique,string] uint16 *ServerName; uint32 Level */
static uint8_t *lg_srvsvc101_stub(size_t *len) {
  static const char name[] = "\\\\127.0.0.1";
  size_t chars = strlen(name) + 1;                      /* with the NUL */
  size_t n = 4 + 12 + 2 * chars;
  n = (n + 3) & ~(size_t)3;
  uint8_t *s = lg_alloc(n + 4);
  memset(s, 0, n + 4);
  lg_put32(s, 0x00020000);                              /* referent id */
  lg_put32(s + 4, (uint32_t)chars);                     /* max_count */
  lg_put32(s + 8, 0);                                   /* offset */
  lg_put32(s + 12, (uint32_t)chars);                    /* actual_count */
  for (size_t i = 0; i < chars; i++) lg_put16(s + 16 + 2 * i, (uint8_t)name[i]);
  lg_put32(s + n, 101);                                 /* Level */
  *len = n + 4;
  return s;
}

/* ------------------------------------------------------------ server accounting via /proc */

typedef struct lg_proc { int pid, ppid, keep; unsigned long long ticks; long rss_pages; char comm[32]; } lg_proc;

/* Read every process's stat; mark the roots and their descendants (those
 * named `comm`, if given). Returns the count; *out is malloc'd. */
static int lg_procs(const int *roots, int nroots, const char *comm, lg_proc **out) {
  DIR *d = opendir("/proc");
  if (!d) lg_die("opendir /proc: %s", strerror(errno));
  int n = 0, cap = 512;
  lg_proc *v = lg_alloc(sizeof *v * (size_t)cap);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = 0;
    char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (!lp || !rp) continue;
    lg_proc p;
    memset(&p, 0, sizeof p);
    p.pid = atoi(buf);
    size_t cl = (size_t)(rp - lp - 1);
    if (cl >= sizeof p.comm) cl = sizeof p.comm - 1;
    memcpy(p.comm, lp + 1, cl);
    /* after ") ": state(3) ppid(4) ... utime(14) stime(15) ... rss(24) */
    char *f = rp + 2, *tok, *save = NULL;
    int field = 3;
    unsigned long long ut = 0, st = 0;
    for (tok = strtok_r(f, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
      if (field == 4) p.ppid = atoi(tok);
      else if (field == 14) ut = strtoull(tok, NULL, 10);
      else if (field == 15) st = strtoull(tok, NULL, 10);
      else if (field == 24) { p.rss_pages = atol(tok); break; }
    }
    p.ticks = ut + st;
    if (n == cap) {
      cap *= 2;
      lg_proc *nv = realloc(v, sizeof *v * (size_t)cap);
      if (!nv) lg_die("out of memory");
      v = nv;
    }
    v[n++] = p;
  }
  closedir(d);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < nroots; j++)
      if (v[i].pid == roots[j]) v[i].keep = 2;          /* 2 = root, 1 = descendant */
  for (int changed = 1; changed;) {                     /* closure over ppid */
    changed = 0;
    for (int i = 0; i < n; i++) {
      if (v[i].keep) continue;
      for (int j = 0; j < n; j++)
        if (v[j].keep && v[j].pid == v[i].ppid) { v[i].keep = 1; changed = 1; break; }
    }
  }
  if (comm)
    for (int i = 0; i < n; i++)
      if (v[i].keep == 1 && strcmp(v[i].comm, comm) != 0) v[i].keep = -1;  /* descendant, other name: walk through, don't count */
  *out = v;
  return n;
}

/* Idle and total ticks of CPU `cpu` from /proc/stat; 0 when unknown. */
static int lg_cpu_ticks(int cpu, unsigned long long *idle, unsigned long long *total) {
  char want[16], line[512];
  snprintf(want, sizeof want, "cpu%d ", cpu);
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  int ok = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, want, strlen(want)) != 0) continue;
    unsigned long long v[10] = { 0 };
    int k = sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    if (k < 4) break;
    *idle = v[3] + v[4];                                /* idle + iowait */
    *total = 0;
    for (int i = 0; i < 8 && i < k; i++) *total += v[i];  /* guest time is inside user already */
    ok = 1;
    break;
  }
  fclose(f);
  return ok;
}

static int lg_roots[LG_MAX_ROOTS], lg_nroots;
static const char *lg_comm;

/* Server CPU seconds (process tree). -1 without --server-pid. */
static double lg_server_cpu(void) {
  if (!lg_nroots) return -1;
  lg_proc *v;
  int n = lg_procs(lg_roots, lg_nroots, lg_comm, &v);
  unsigned long long t = 0;
  for (int i = 0; i < n; i++) if (v[i].keep > 0) t += v[i].ticks;
  free(v);
  return (double)t / (double)sysconf(_SC_CLK_TCK);
}

/* Server memory in kB: RSS (stat) and PSS (smaps_rollup) summed over the tree. */
static void lg_server_mem(long *rss_kb, long *pss_kb) {
  *rss_kb = *pss_kb = -1;
  if (!lg_nroots) return;
  lg_proc *v;
  int n = lg_procs(lg_roots, lg_nroots, lg_comm, &v);
  long page_kb = sysconf(_SC_PAGESIZE) / 1024, rss = 0, pss = 0;
  int pss_ok = 1;
  for (int i = 0; i < n; i++) {
    if (v[i].keep <= 0) continue;
    rss += v[i].rss_pages * page_kb;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", v[i].pid);
    FILE *f = fopen(path, "r");
    long p = -1;
    if (f) {
      while (fgets(line, sizeof line, f))
        if (strncmp(line, "Pss:", 4) == 0) { p = atol(line + 4); break; }
      fclose(f);
    }
    if (p < 0) pss_ok = 0; else pss += p;
  }
  free(v);
  *rss_kb = rss;
  *pss_kb = pss_ok ? pss : -1;
}

/* ------------------------------------------------------------ connections */

static void lg_fail(const lg_conn *c, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void lg_fail(const lg_conn *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "loadgen: connection %d (call_id %u, after %ld good replies): ", c->idx, c->call_id, lg_calls);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void lg_events(lg_conn *c, int out) {
  if (c->want_out == out) return;
  struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };
  if (epoll_ctl(lg_ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) lg_fail(c, "epoll_ctl: %s", strerror(errno));
  c->want_out = out;
}

/* Write what is left of c->tx; EPOLLOUT while some remains. */
static void lg_flush(lg_conn *c) {
  while (c->tx_off < c->tx_len) {
    ssize_t w = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);
    if (w > 0) { c->tx_off += (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { lg_events(c, 1); return; }
    lg_fail(c, "write: %s", w < 0 ? strerror(errno) : "wrote nothing");
  }
  lg_events(c, 0);
}

static void lg_send_request(lg_conn *c) {
  c->call_id++;
  c->tx = c->tx == lg_bind ? NULL : c->tx;
  if (!c->tx) { c->tx = lg_alloc(lg_req_len); memcpy(c->tx, lg_req, lg_req_len); }
  lg_put32(c->tx + 12, c->call_id);
  if (lg_check == CK_ADDONE) {
    c->value = c->value * 2654435761u + 12345u;         /* every value, wrap-around included */
    lg_put32(c->tx + LG_REQ_HDR, c->value);
  }
  c->tx_len = lg_req_len;
  c->tx_off = 0;
  c->state = ST_CALLING;
  c->in_reply = 0;
  c->stub_len = 0;
  lg_flush(c);
}

static void lg_print_hex(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

static void lg_check_stub(lg_conn *c, const uint8_t *s, size_t n) {
  if (lg_dump) { lg_print_hex(s, n); exit(0); }
  switch (lg_check) {
  case CK_ADDONE:
    if (n < 4) lg_fail(c, "AddOne reply stub of %zu bytes", n);
    if (lg_get32(s) != c->value + 1u)
      lg_fail(c, "AddOne(%u) returned %u", c->value, lg_get32(s));
    break;
  case CK_SRVSVC101:
    if (n < 12) lg_fail(c, "NetrServerGetInfo reply stub of %zu bytes", n);
    if (lg_get32(s) != 101) lg_fail(c, "NetrServerGetInfo reply level %u", lg_get32(s));
    if (lg_get32(s + 4) == 0) lg_fail(c, "NetrServerGetInfo reply: NULL info101");
    if (lg_get32(s + n - 4) != 0) lg_fail(c, "NetrServerGetInfo WERROR 0x%08x", lg_get32(s + n - 4));
    break;
  case CK_EXPECT:
    if (n != lg_expect_len || memcmp(s, lg_expect, n) != 0) {
      fprintf(stderr, "loadgen: got stub ");
      for (size_t i = 0; i < n; i++) fprintf(stderr, "%02x", s[i]);
      fputc('\n', stderr);
      lg_fail(c, "reply stub differs from --expect");
    }
    break;
  default:
    break;
  }
}

static void lg_on_bind_ack(lg_conn *c, const uint8_t *p, size_t n) {
  if (p[2] == PT_BIND_NAK)
    lg_fail(c, "bind_nak, reason %u", n >= 18 ? lg_get16(p + 16) : 0u);
  if (p[2] != PT_BIND_ACK) lg_fail(c, "ptype %u in reply to bind", p[2]);
  if (lg_get32(p + 12) != c->call_id) lg_fail(c, "bind_ack call_id %u", lg_get32(p + 12));
  if ((p[3] & (PFC_FIRST | PFC_LAST)) != (PFC_FIRST | PFC_LAST)) lg_fail(c, "bind_ack flags 0x%02x", p[3]);
  if (n < 28) lg_fail(c, "bind_ack of %zu bytes", n);
  if (lg_get16(p + 16) < 1432 || lg_get16(p + 18) < 1432) lg_fail(c, "bind_ack max frag below 1432");
  size_t pos = 26 + lg_get16(p + 24);                   /* secondary address */
  pos = (pos + 3) & ~(size_t)3;
  if (pos + 8 > n || p[pos] < 1) lg_fail(c, "bind_ack without results");
  if (lg_get16(p + pos + 4) != 0) lg_fail(c, "context rejected: result %u reason %u",
                                          lg_get16(p + pos + 4), lg_get16(p + pos + 6));
  lg_established++;
  lg_pending--;
  c->state = ST_IDLE;
}

static void lg_on_fragment(lg_conn *c, const uint8_t *p, size_t n) {
  if (c->state == ST_BINDING) { lg_on_bind_ack(c, p, n); return; }
  if (c->state != ST_CALLING) lg_fail(c, "unexpected PDU (ptype %u) on an idle connection", p[2]);
  if (p[2] == PT_FAULT)
    lg_fail(c, "fault, status 0x%08x", n >= 28 ? lg_get32(p + 24) : 0u);
  if (p[2] != PT_RESPONSE) lg_fail(c, "ptype %u in reply to a request", p[2]);
  if (lg_get32(p + 12) != c->call_id) lg_fail(c, "reply call_id %u", lg_get32(p + 12));
  if (lg_get16(p + 10) != 0) lg_fail(c, "auth_length %u on an unauthenticated connection", lg_get16(p + 10));
  if (n < LG_REQ_HDR) lg_fail(c, "response fragment of %zu bytes", n);
  int first = p[3] & PFC_FIRST, last = p[3] & PFC_LAST;
  if (!c->in_reply && !first) lg_fail(c, "first reply fragment without PFC_FIRST");
  if (c->in_reply && first) lg_fail(c, "PFC_FIRST in the middle of a reply");
  const uint8_t *s = p + LG_REQ_HDR;
  size_t sn = n - LG_REQ_HDR;
  if (first && last) {                                  /* the common case: no copy */
    lg_resp_bytes = (long)n;
    c->state = ST_IDLE;
    lg_check_stub(c, s, sn);
  } else {
    if (first) c->reply_bytes = 0;
    c->reply_bytes += n;
    if (c->stub_len + sn > c->stub_cap) {
      size_t cap = c->stub_cap ? c->stub_cap : 8192;
      while (cap < c->stub_len + sn) cap *= 2;
      uint8_t *ns = realloc(c->stub, cap);
      if (!ns) lg_die("out of memory");
      c->stub = ns;
      c->stub_cap = cap;
    }
    memcpy(c->stub + c->stub_len, s, sn);
    c->stub_len += sn;
    c->in_reply = 1;
    if (!last) return;
    c->in_reply = 0;
    c->state = ST_IDLE;
    lg_resp_bytes = (long)c->reply_bytes;
    lg_check_stub(c, c->stub, c->stub_len);
  }
  lg_calls++;
  if (lg_hold_verify) { lg_verified++; c->state = ST_DONE; }
}

/* Read what is there, handle every complete fragment. Returns 0 on EOF. */
static int lg_on_readable(lg_conn *c, int *again) {
  *again = 0;
  if (c->rx_len == c->rx_cap) {                         /* only when a fragment is bigger than rx */
    size_t cap = c->rx_cap * 2;
    uint8_t *nr = realloc(c->rx, cap);
    if (!nr) lg_die("out of memory");
    c->rx = nr;
    c->rx_cap = cap;
  }
  ssize_t r = read(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len);
  if (r == 0) return 0;
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 1;
    if (errno == ECONNRESET) return 0;
    lg_fail(c, "read: %s", strerror(errno));
  }
  c->rx_len += (size_t)r;
  size_t off = 0;
  while (c->rx_len - off >= LG_HDR) {
    const uint8_t *p = c->rx + off;
    if (p[0] != 5 || p[1] != 0) lg_fail(c, "reply version %u.%u", p[0], p[1]);
    if ((p[4] & 0xf0) != 0x10) lg_fail(c, "reply drep 0x%02x is not little-endian", p[4]);
    size_t flen = lg_get16(p + 8);
    if (flen < LG_HDR) lg_fail(c, "frag_length %zu", flen);
    if (c->rx_len - off < flen) {
      if (flen > c->rx_cap) {                           /* make room for the whole fragment */
        size_t cap = c->rx_cap;
        while (cap < flen) cap *= 2;
        uint8_t *nr = realloc(c->rx, cap);
        if (!nr) lg_die("out of memory");
        c->rx = nr;
        c->rx_cap = cap;
      }
      break;
    }
    int was = c->state;
    lg_on_fragment(c, p, flen);
    off += flen;
    if (c->state == ST_IDLE && was != ST_IDLE) *again = 1;  /* caller decides what comes next */
  }
  if (off) {
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
  }
  return 1;
}

/* Hold mode: the server would not take this connection; count it, go on. */
static void lg_refuse(lg_conn *c) {
  epoll_ctl(lg_ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = ST_DONE;
  lg_pending--;
  lg_refused++;
}

static lg_conn *lg_open(int idx) {
  lg_conn *c = lg_alloc(sizeof *c);
  memset(c, 0, sizeof *c);
  c->idx = idx;
  c->rx_cap = 1024;
  c->rx = lg_alloc(c->rx_cap);
  c->value = 0x7ffffff0u + (uint32_t)idx * 7919u;
  c->fd = socket(lg_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) lg_die("socket: %s (connection %d)", strerror(errno), idx);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
  c->want_out = 1;
  if (epoll_ctl(lg_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) lg_die("epoll_ctl: %s", strerror(errno));
  c->state = ST_CONNECTING;
  lg_pending++;
  if (connect(c->fd, (struct sockaddr *)&lg_addr, lg_addrlen) != 0 && errno != EINPROGRESS) {
    if (!lg_holding) lg_die("connect: %s (connection %d)", strerror(errno), idx);
    lg_refuse(c);
  }
  return c;
}

static void lg_start_bind(lg_conn *c) {
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err && lg_holding) { lg_refuse(c); return; }
  if (err) lg_die("connect: %s (connection %d, %d bound)", strerror(err), c->idx, lg_established);
  c->state = ST_BINDING;
  c->call_id = 1;
  c->tx = lg_bind;
  c->tx_len = sizeof lg_bind;
  c->tx_off = 0;
  lg_flush(c);
}

/* One epoll_wait and its events. After a reply, `closed_loop` sends the next
 * request at once. */
static void lg_poll(int timeout_ms, int closed_loop) {
  struct epoll_event evs[256];
  int n = epoll_wait(lg_ep, evs, 256, lg_spin ? 0 : timeout_ms);
  if (n == 0) lg_empty_polls++;
  if (n < 0) {
    if (errno == EINTR) return;
    lg_die("epoll_wait: %s", strerror(errno));
  }
  for (int i = 0; i < n; i++) {
    lg_conn *c = evs[i].data.ptr;
    if (c->state == ST_CONNECTING) {
      if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) lg_start_bind(c);
      continue;
    }
    if ((evs[i].events & EPOLLOUT) && c->tx_off < c->tx_len) lg_flush(c);
    if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      int again;
      if (!lg_on_readable(c, &again)) {
        if (lg_holding && (c->state == ST_CONNECTING || c->state == ST_BINDING)) { lg_refuse(c); continue; }
        if (c->state == ST_IDLE || c->state == ST_DONE) {   /* hold: the server let it go */
          lg_dropped++;
          epoll_ctl(lg_ep, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          c->state = ST_DONE;
          continue;
        }
        lg_fail(c, "the server closed the connection");
      }
      if (again && closed_loop && c->state == ST_IDLE) lg_send_request(c);
    }
  }
}

/* ------------------------------------------------------------ main */

static void lg_usage(void) {
  fprintf(stderr,
          "usage: loadgen [--preset addone|srvsvc101 | --uuid U --ver M.m --opnum N --stub HEX [--expect HEX]]\n"
          "               [-c CONNS] [-w WARMUP_S] [-d SECONDS] [--cpu N] [--spin] [--server-pid PID]... [--server-comm NAME]\n"
          "               [--srv-cpu N]\n"
          "               [--label L] [--dump] [--hold N [--hold-secs S] [--pending K]] HOST PORT\n");
  exit(2);
}

static void lg_raise_nofile(long need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if ((long)rl.rlim_cur >= need) return;
  rlim_t want = (rlim_t)need;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
    rl.rlim_max = want;                                 /* needs CAP_SYS_RESOURCE */
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    lg_die("RLIMIT_NOFILE hard limit %lu is below the %ld descriptors needed", (unsigned long)rl.rlim_max, need);
  }
  rl.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) lg_die("setrlimit(NOFILE, %ld): %s", need, strerror(errno));
}

int main(int argc, char **argv) {
  const char *preset = NULL, *uuid = NULL, *ver = "1.0", *stub_hex = "", *label = NULL, *host = NULL, *port = NULL;
  long opnum = -1;
  int conns = 1, cpu = -1, hold = 0, pending_max = 64, srv_cpu = -1;
  double warm = 0.5, secs = 2, hold_secs = 3;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
#define ARG() (more ? argv[++i] : (lg_usage(), ""))
    if (!strcmp(a, "--preset")) preset = ARG();
    else if (!strcmp(a, "--uuid")) uuid = ARG();
    else if (!strcmp(a, "--ver")) ver = ARG();
    else if (!strcmp(a, "--opnum")) opnum = atol(ARG());
    else if (!strcmp(a, "--stub")) stub_hex = ARG();
    else if (!strcmp(a, "--expect")) { lg_expect = lg_hex(ARG(), &lg_expect_len); lg_check = CK_EXPECT; }
    else if (!strcmp(a, "-c")) conns = atoi(ARG());
    else if (!strcmp(a, "-w")) warm = atof(ARG());
    else if (!strcmp(a, "-d")) secs = atof(ARG());
    else if (!strcmp(a, "--cpu")) cpu = atoi(ARG());
    else if (!strcmp(a, "--server-pid")) {
      if (lg_nroots == LG_MAX_ROOTS) lg_die("too many --server-pid");
      lg_roots[lg_nroots++] = atoi(ARG());
    } else if (!strcmp(a, "--server-comm")) lg_comm = ARG();
    else if (!strcmp(a, "--label")) label = ARG();
    else if (!strcmp(a, "--dump")) lg_dump = 1;
    else if (!strcmp(a, "--spin")) lg_spin = 1;
    else if (!strcmp(a, "--srv-cpu")) srv_cpu = atoi(ARG());
    else if (!strcmp(a, "--hold")) hold = atoi(ARG());
    else if (!strcmp(a, "--hold-secs")) hold_secs = atof(ARG());
    else if (!strcmp(a, "--pending")) pending_max = atoi(ARG());
    else if (a[0] == '-') lg_usage();
    else if (!host) host = a;
    else if (!port) port = a;
    else lg_usage();
#undef ARG
  }
  if (!host || !port || conns < 1 || hold < 0 || pending_max < 1 || secs <= 0 || warm < 0) lg_usage();

  size_t stub_len;
  uint8_t *stub;
  if (preset && !strcmp(preset, "addone")) {
    uuid = "60a15ec5-4de8-11d7-a637-005056a20182"; ver = "1.0"; opnum = 0;
    stub = lg_alloc(4); memset(stub, 0, 4); stub_len = 4;
    if (lg_check != CK_EXPECT) lg_check = CK_ADDONE;
  } else if (preset && !strcmp(preset, "srvsvc101")) {
    uuid = "4b324fc8-1670-01d3-1278-5a47bf6ee188"; ver = "3.0"; opnum = 21;
    stub = lg_srvsvc101_stub(&stub_len);
    if (lg_check != CK_EXPECT) lg_check = CK_SRVSVC101;
  } else if (preset) {
    lg_die("unknown preset '%s'", preset);
  } else {
    if (!uuid || opnum < 0 || opnum > 65535) lg_usage();
    stub = lg_hex(stub_hex, &stub_len);
  }
  unsigned vmaj = 0, vmin = 0;
  if (sscanf(ver, "%u.%u", &vmaj, &vmin) < 1 || vmaj > 65535 || vmin > 65535) lg_die("bad version '%s'", ver);
  lg_build_bind(uuid, vmaj, vmin);
  lg_build_request((unsigned)opnum, stub, stub_len);
  free(stub);
  if (!label) label = preset ? preset : "call";

  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) lg_die("%s:%s: %s", host, port, gai_strerror(gai));
  memcpy(&lg_addr, ai->ai_addr, ai->ai_addrlen);
  lg_addrlen = ai->ai_addrlen;
  freeaddrinfo(ai);

  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) lg_die("sched_setaffinity(%d): %s", cpu, strerror(errno));
  }
  int total = hold ? hold : (lg_dump ? 1 : conns);
  lg_holding = hold > 0;
  lg_raise_nofile((long)total + 64);
  lg_ep = epoll_create1(EPOLL_CLOEXEC);
  if (lg_ep < 0) lg_die("epoll_create1: %s", strerror(errno));
  lg_conn **cs = lg_alloc(sizeof *cs * (size_t)total);

  long rss0 = -1, pss0 = -1;
  if (hold) lg_server_mem(&rss0, &pss0);

  /* connect and bind everything, at most pending_max at a time */
  double t0 = lg_now(), deadline = t0 + (hold ? 120 : 15);
  int opened = 0;
  while (lg_established + lg_refused < total) {
    while (opened < total && lg_pending < pending_max) { cs[opened] = lg_open(opened); opened++; }
    lg_poll(100, 0);
    if (lg_now() > deadline)
      lg_die("only %d of %d connections bound after %.0f s", lg_established, total, deadline - t0);
    if (lg_dropped && !lg_holding) lg_die("the server closed %d connections while binding", lg_dropped);
  }
  double bind_secs = lg_now() - t0;

  if (hold) {
    fprintf(stderr, "loadgen: %d connections bound (%d refused) in %.2f s; holding %.1f s\n", lg_established,
            lg_refused, bind_secs, hold_secs);
    double end = lg_now() + hold_secs;
    for (double t; (t = lg_now()) < end;) lg_poll((int)((end - t) * 1000) + 1, 0);
    long rss1, pss1;
    lg_server_mem(&rss1, &pss1);
    /* every held connection must still be served: one checked call each */
    lg_hold_verify = 1;
    for (int i = 0; i < total; i++) if (cs[i]->state == ST_IDLE) lg_send_request(cs[i]);
    double vend = lg_now() + 60;
    int held = lg_established;
    while (lg_verified + lg_dropped < held && lg_now() < vend) lg_poll(100, 0);
    printf("HOLD %s %d/%d %.2f %ld %ld %.0f %ld %ld %.0f %d %d\n", label, lg_established, total, bind_secs,
           rss0, rss1, rss0 >= 0 && held ? (double)(rss1 - rss0) * 1024.0 / held : -1.0,
           pss0, pss1, pss0 >= 0 && pss1 >= 0 && held ? (double)(pss1 - pss0) * 1024.0 / held : -1.0,
           lg_verified, lg_dropped);
    if (lg_verified == total) return 0;
    fprintf(stderr, "loadgen: of %d connections %d were refused, %d bound, %d dropped while idle, %d answered the check call\n",
            total, lg_refused, held, lg_dropped, lg_verified);
    return 1;
  }

  /* what one empty epoll_wait costs, on this epoll set with nothing due
   * (CPU time of 20000 of them), to take spinning out of client_busy% */
  double empty_cost = 0;
  if (lg_spin) {
    struct epoll_event ev;
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (int i = 0; i < 20000; i++)
      if (epoll_wait(lg_ep, &ev, 1, 0) != 0) lg_die("calibration: a connection became readable while idle");
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    empty_cost = ((double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9) / 20000;
  }
  for (int i = 0; i < total; i++) lg_send_request(cs[i]);
  if (lg_dump) for (;;) lg_poll(1000, 1);                /* exits in lg_check_stub */

  double t_start = lg_now() + warm, t_end = t_start + secs, t;
  while ((t = lg_now()) < t_start) lg_poll(1 + (int)((t_start - t) * 1000), 1);
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  unsigned long long si0 = 0, st0 = 0, si1 = 0, st1 = 0;
  int have_si = srv_cpu >= 0 && lg_cpu_ticks(srv_cpu, &si0, &st0);
  long empty0 = lg_empty_polls;
  double cpu0 = lg_server_cpu();
  long calls0 = lg_calls;
  t0 = lg_now();
  while ((t = lg_now()) < t_end) lg_poll(1 + (int)((t_end - t) * 1000), 1);
  long calls1 = lg_calls;
  double t1 = lg_now();
  double cpu1 = lg_server_cpu();
  getrusage(RUSAGE_SELF, &ru1);
  have_si = have_si && lg_cpu_ticks(srv_cpu, &si1, &st1) && st1 > st0;
  double wall = t1 - t0;
  double ccpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) * 1e-6;
  if (lg_spin) ccpu -= (double)(lg_empty_polls - empty0) * empty_cost;  /* spinning on nothing is not work */
  if (ccpu < 0) ccpu = 0;
  long calls = calls1 - calls0;
  double rate = (double)calls / wall;
  char scpu[32] = "-", per[32] = "-";
  if (cpu0 >= 0 && cpu1 >= 0) {
    snprintf(scpu, sizeof scpu, "%.2f", cpu1 - cpu0);
    if (cpu1 > cpu0) snprintf(per, sizeof per, "%.0f", (double)calls / (cpu1 - cpu0));
  }
  char sidle[16] = "-";
  if (have_si) snprintf(sidle, sizeof sidle, "%.0f", 100.0 * (double)(si1 - si0) / (double)(st1 - st0));
  printf("SRV %s %d %.0f %s %s %.0f %ld %.3f %zu %ld %s\n", label, conns, rate, scpu, per,
         100.0 * ccpu / wall, calls, wall, lg_req_len, lg_resp_bytes, sidle);
  return 0;
}
