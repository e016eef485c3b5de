/*
 * pingpong.c - the ceiling for round trips on one loopback TCP connection.
 *
 *   pingpong REQ_BYTES RESP_BYTES SECONDS WINDOWS CLIENT_CPU SERVER_CPU
 *
 * Forks an echo-like server and runs a client against it over 127.0.0.1:
 * the client writes REQ_BYTES and reads RESP_BYTES, the server reads
 * REQ_BYTES and writes RESP_BYTES, one exchange at a time (TCP_NODELAY on
 * both ends, like an RPC client waiting for each reply). No parsing and no
 * work: what is left is the kernel's loopback path and two wake-ups per round
 * trip, which no RPC stack can beat with the same sizes and placement.
 * run.sh passes the sizes of a NetrServerGetInfo level 101 request and
 * response PDU (computed with Samba's ndr_pack_in/ndr_pack_out).
 *
 * CPU numbers pin the two processes (sched_setaffinity); -1 leaves one
 * unpinned. After a 0.3 s warm-up, WINDOWS windows of SECONDS each are timed;
 * prints
 *   RTT pingpong <best rt/s> <median rt/s> <windows>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double pp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pp_pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("sched_setaffinity"); exit(1); }
}

/* Read or write exactly n bytes; 0 on success, -1 on EOF or error. */
static int pp_full(int fd, char *buf, size_t n, int writing) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
    if (r > 0) done += (size_t)r;
    else if (r < 0 && errno == EINTR) continue;
    else return -1;
  }
  return 0;
}

static void pp_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int pp_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s REQ RESP SECONDS WINDOWS CLIENT_CPU SERVER_CPU\n", argv[0]);
    return 2;
  }
  size_t req = strtoul(argv[1], NULL, 10), resp = strtoul(argv[2], NULL, 10);
  double secs = atof(argv[3]);
  int windows = atoi(argv[4]), ccpu = atoi(argv[5]), scpu = atoi(argv[6]);
  if (req == 0 || resp == 0 || req > 65536 || resp > 65536 || windows < 1 || windows > 100) {
    fprintf(stderr, "pingpong: bad sizes or window count\n");
    return 2;
  }
  char *buf = calloc(1, req > resp ? req : resp);

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t sl = sizeof sa;
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
      getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
    perror("pingpong: listen");
    return 1;
  }

  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 1; }
  if (pid == 0) {                       /* server: answer until EOF */
    pp_pin(scpu);
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) _exit(1);
    pp_nodelay(fd);
    while (pp_full(fd, buf, req, 0) == 0 && pp_full(fd, buf, resp, 1) == 0) {}
    _exit(0);
  }
  close(ls);
  pp_pin(ccpu);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    perror("pingpong: connect");
    kill(pid, SIGTERM);
    return 1;
  }
  pp_nodelay(fd);

  double rates[100];
  double t_end = pp_now() + 0.3;        /* warm-up */
  while (pp_now() < t_end)
    if (pp_full(fd, buf, req, 1) || pp_full(fd, buf, resp, 0)) goto broken;
  for (int w = 0; w < windows; w++) {
    long n = 0;
    double t0 = pp_now(), t = t0;
    while (t - t0 < secs) {
      if (pp_full(fd, buf, req, 1) || pp_full(fd, buf, resp, 0)) goto broken;
      n++;
      if ((n & 63) == 0) t = pp_now();
    }
    t = pp_now();
    rates[w] = (double)n / (t - t0);
  }
  close(fd);
  waitpid(pid, NULL, 0);
  qsort(rates, (size_t)windows, sizeof rates[0], pp_cmp);
  printf("RTT pingpong %.0f %.0f %d\n", rates[windows - 1],
         windows % 2 ? rates[windows / 2] : (rates[windows / 2 - 1] + rates[windows / 2]) / 2,
         windows);
  free(buf);
  return 0;

broken:
  fprintf(stderr, "pingpong: connection broke\n");
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  return 1;
}
