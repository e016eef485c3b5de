/*
** workers.c - the server runner's worker processes (see server.h).
**
** With workers = N > 1, dce_runner_start_workers makes the caller worker 0
** and forks workers 1..N-1, each a copy of the parent (listeners,
** interfaces, and whatever its user built: a Lua state with handlers, say)
** running the same loop. Listeners are watched with EPOLLEXCLUSIVE in every
** worker. Each worker has a SOCK_SEQPACKET socketpair (made before the fork;
** every process holds every pair, so a restarted worker finds its queue): a
** connection is handed to worker i with its socket (SCM_RIGHTS) and the
** bytes already read from it (run_conn_sniff / conn_handover / hand_io).
** Association group ids carry the worker index in their top 8 bits, so a
** bind joining a group goes to the worker that holds it.
**
** The parent blocks SIGTERM, SIGINT and SIGCHLD and reads them from a
** signalfd: TERM / INT ask the user to close the server
** (dce_runner_stop_requested), which stops the workers (SIGTERM, then
** SIGKILL after 3 s, each waited for); CHLD reaps a worker that died and
** restarts it (at most once a second per worker). Workers die with their
** parent (PR_SET_PDEATHSIG), ignore SIGINT (a terminal's ^C reaches the
** whole process group; the parent stops them) and end on SIGTERM.
*/
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "base/buf.h"
#include "base/clock.h"
#include "rpc/pdu.h"
#include "run/runner.h"

#define HAND_MAGIC 0x64636877u     /* "whcd": a connection handed to another worker */

/* ------------------------------------------------------------ hand-over */

/* What goes to the other worker, with the socket as SCM_RIGHTS. */
typedef struct hand_msg {
  uint32_t magic;
  uint16_t lis, n;                 /* listener index; bytes already read */
  uint8_t b[RUN_SNIFF_LEN];
} hand_msg;

/* Which worker should serve this connection, from its first bytes. A bind
** joining an association group goes to the worker that created the group
** (its index is in the id's top 8 bits; ids of no worker go to 0, which
** naks them). Anything else stays here, except that a bind making a new
** group goes to the least loaded worker when this one holds 2 connections
** more (this one counts the connection already): EPOLLEXCLUSIVE wakes
** whichever worker is first in the listener's wait queue, which on an idle
** server is always the same one. */
static int conn_target(const dce_rconn *c) {
  const dce_runner *r = c->r;
  const uint8_t *p = c->pre;
  uint32_t g;
  int j, best, mine;
  if (c->npre < RUN_SNIFF_LEN || p[0] != 5 || p[2] != DCE_PT_BIND) return r->worker;
  g = dce_ld32(p + 20, (p[4] & DCE_DREP_LE) != 0);
  if (g) return DCE_GROUP_WORKER(g) < (unsigned)r->nworkers ? (int)DCE_GROUP_WORKER(g) : 0;
  mine = atomic_load(&r->load[r->worker]);
  best = r->worker;
  for (j = 0; j < r->nworkers; j++)
    if (atomic_load(&r->load[j]) < atomic_load(&r->load[best])) best = j;
  return atomic_load(&r->load[best]) + 1 < mine ? best : r->worker;
}

/* Give connection c (its socket and the bytes read from it) to worker
** `target`; 0 (c is closed here, silently) or -1 (c stays here). */
static int conn_handover(dce_rconn *c, int target) {
  dce_runner *r = c->r;
  hand_msg m;
  struct msghdr mh;
  struct iovec iov;
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
  struct cmsghdr *cm;
  int fd = c->fd;
  memset(&m, 0, sizeof m);
  memset(&mh, 0, sizeof mh);
  memset(&u, 0, sizeof u);
  m.magic = HAND_MAGIC;
  m.lis = (uint16_t)c->lis;
  m.n = (uint16_t)c->npre;
  memcpy(m.b, c->pre, c->npre);
  iov.iov_base = &m;
  iov.iov_len = offsetof(hand_msg, b) + c->npre;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = u.b;
  mh.msg_controllen = sizeof u.b;
  cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  atomic_fetch_add(&r->load[target], 1);   /* the receiver does not count it again */
  if (sendmsg(r->hand[2 * target + 1], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    atomic_fetch_sub(&r->load[target], 1);
    return -1;
  }
  r->handed_out++;
  c->notify = 0;                   /* it goes on elsewhere */
  run_conn_close(c, NULL);
  return 0;
}

/* Read the first RUN_SNIFF_LEN bytes (no more: the rest stays in the socket
** for whoever serves it), then decide. Returns 1 when conn_io must stop
** here (waiting for more, closed, or handed over), 0 to read on. */
int run_conn_sniff(dce_rconn *c) {
  long k = c->t->ops->recv(c->t, c->pre + c->npre, RUN_SNIFF_LEN - c->npre);
  int target;
  if (k == DCE_T_AGAIN) return 1;
  if (k == 0) { run_conn_close(c, NULL); return 1; }
  if (k < 0) { run_conn_close(c, c->t->errmsg); return 1; }
  c->npre += (unsigned)k;
  if (c->npre < RUN_SNIFF_LEN && !(c->npre >= 3 && c->pre[2] != DCE_PT_BIND)) return 1;
  c->sniff = 0;
  target = conn_target(c);
  if (target != c->r->worker && conn_handover(c, target) == 0) return 1;
  dce_sconn_feed(c->sc, c->pre, c->npre);     /* a protocol error shows in should_close */
  return 0;
}

/* Connections handed to this worker: wrap each socket, feed it the bytes the
** other worker read, and go on as if it had been accepted here. */
static void hand_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  dce_runner *r = (dce_runner *)ud;
  int i;
  (void)l; (void)ev;
  for (i = 0; i < 64; i++) {
    hand_msg m;
    struct msghdr mh;
    struct iovec iov;
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
    struct cmsghdr *cm;
    int cfd = -1;
    ssize_t k;
    dce_rconn *c;
    memset(&mh, 0, sizeof mh);
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.b;
    mh.msg_controllen = sizeof u.b;
    do k = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); while (k < 0 && errno == EINTR);
    if (k < 0) break;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(sizeof(int)))
        memcpy(&cfd, CMSG_DATA(cm), sizeof cfd);
    if (cfd < 0) continue;
    if ((size_t)k < offsetof(hand_msg, b) || m.magic != HAND_MAGIC || m.lis >= r->n_lis
        || m.n > RUN_SNIFF_LEN || (size_t)k != offsetof(hand_msg, b) + m.n) {
      close(cfd);
      atomic_fetch_sub(&r->load[r->worker], 1);
      continue;
    }
    {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      memset(&ss, 0, sizeof ss);
      if (getpeername(cfd, (struct sockaddr *)&ss, &sl)) sl = 0;
      if (run_admit(r, sl ? (struct sockaddr *)&ss : NULL, sl)) {
        close(cfd);
        atomic_fetch_sub(&r->load[r->worker], 1);
        continue;
      }
      c = run_conn_new(r, cfd, m.lis, sl ? (struct sockaddr *)&ss : NULL, sl);
    }
    if (!c) { atomic_fetch_sub(&r->load[r->worker], 1); continue; }
    c->counted = 1;
    r->handed_in++;
    dce_sconn_feed(c->sc, m.b, m.n);
    run_conn_after_input(c);
  }
}

/* ------------------------------------------------------------ processes */

static void worker_due(dce_loop *l, void *ud) {
  run_worker *w = (run_worker *)ud;
  (void)l;
  w->restart = NULL;
  w->due = 1;
  w->r->fork_due = 1;
}

/* In a new worker: forget the parent's connections (and let the user forget
** its calls and tasks), give the loop its own epoll instance, read our own
** hand-over queue. */
static void worker_child_init(dce_runner *r, int idx) {
  int j;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != r->parent) _exit(0);        /* the parent died before prctl */
  signal(SIGINT, SIG_IGN);
  sigprocmask(SIG_SETMASK, &r->oldmask, NULL);
  if (dce_loop_reinit(r->loop)) _exit(1);
  r->worker = idx;
  dce_loop_del(r->loop, r->sigfd);
  close(r->sigfd);
  r->sigfd = -1;
  for (j = 0; j < r->nworkers; j++) {
    if (r->wk[j].restart) dce_loop_cancel(r->loop, r->wk[j].restart);
    r->wk[j].restart = NULL;
    r->wk[j].pid = 0;
    r->wk[j].due = 0;
  }
  r->fork_due = 0;
  dce_loop_del(r->loop, r->hand[0]);
  dce_loop_add(r->loop, r->hand[2 * idx], DCE_EV_READ, hand_io, r);
  if (r->h.forked) r->h.forked(r->h.ud, idx);
  run_conn_drop_all(r);
  dce_server_set_worker(r->srv, (unsigned)idx);
  r->next_id = (uint64_t)idx << 40;            /* connection ids unique across workers */
  r->handed_in = r->handed_out = 0;
}

/* Fork worker idx: 1 in the new worker, 0 in the parent, -1 failed (retried
** a second later). */
static int worker_fork(dce_runner *r, int idx) {
  pid_t pid;
  fflush(NULL);                    /* no stdio buffer is written twice */
  pid = fork();
  if (pid < 0) {
    run_log(r, "cannot start worker %d: %s", idx, strerror(errno));
    r->wk[idx].restart = dce_loop_timer(r->loop, 1000, worker_due, &r->wk[idx]);
    return -1;
  }
  if (pid == 0) { worker_child_init(r, idx); return 1; }
  r->wk[idx].pid = pid;
  r->wk[idx].started_ms = dce_now_ms();
  atomic_store(&r->load[idx], 0);
  run_log(r, "worker %d pid %d", idx, (int)pid);
  return 0;
}

/* Parent: reap the workers that ended; each is restarted, not sooner than a
** second after its previous start. */
static void workers_reap(dce_runner *r) {
  int i;
  for (i = 1; i < r->nworkers; i++) {
    run_worker *w = &r->wk[i];
    char how[64];
    int st;
    int64_t delay;
    if (w->pid <= 0 || waitpid(w->pid, &st, WNOHANG) != w->pid) continue;
    if (WIFSIGNALED(st)) snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(st));
    else snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
    run_log(r, "worker %d pid %d %s; restarting it", i, (int)w->pid, how);
    w->pid = 0;
    atomic_store(&r->load[i], INT_MAX / 2);     /* no new connections for it meanwhile */
    delay = w->started_ms + 1000 - dce_now_ms();
    w->restart = dce_loop_timer(r->loop, delay > 0 ? delay : 0, worker_due, w);
  }
}

static void sig_io(dce_loop *l, int fd, unsigned ev, void *ud) {
  dce_runner *r = (dce_runner *)ud;
  struct signalfd_siginfo si;
  int reap = 0;
  (void)l; (void)ev;
  while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGCHLD) reap = 1;
    else r->stop = 1;              /* SIGTERM / SIGINT: close after this step */
  }
  if (reap) workers_reap(r);
}

int dce_runner_restart_due(dce_runner *r) {
  int i;
  if (!r->fork_due || r->worker != 0) return 0;
  r->fork_due = 0;
  for (i = 1; i < r->nworkers; i++)
    if (r->wk[i].due) {
      r->wk[i].due = 0;
      if (worker_fork(r, i) == 1) return 1;
    }
  return 0;
}

int dce_runner_start_workers(dce_runner *r, char *err, size_t errlen) {
  int i, n = r->nworkers;
  sigset_t set;
  if (r->pool || n <= 1) return r->worker;
  r->wk = calloc((size_t)n, sizeof *r->wk);
  r->hand = malloc(2 * (size_t)n * sizeof *r->hand);
  r->load = mmap(NULL, (size_t)n * sizeof *r->load, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (r->load == MAP_FAILED) r->load = NULL;
  if (r->hand) for (i = 0; i < 2 * n; i++) r->hand[i] = -1;
  if (!r->wk || !r->hand || !r->load) goto fail;
  for (i = 0; i < n; i++) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &r->hand[2 * i])) goto fail;
    atomic_init(&r->load[i], 0);
    r->wk[i].r = r;
  }
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (r->sigfd < 0 || dce_loop_add(r->loop, r->sigfd, DCE_EV_READ, sig_io, r)
      || dce_loop_add(r->loop, r->hand[0], DCE_EV_READ, hand_io, r)) goto fail;
  /* one worker woken per incoming connection */
  for (i = 0; i < r->n_lis; i++) {
    dce_loop_del(r->loop, r->lis[i].fd);
    if (dce_loop_add(r->loop, r->lis[i].fd, DCE_EV_READ | DCE_EV_EXCLUSIVE, run_lis_io, &r->lis[i])
        && dce_loop_add(r->loop, r->lis[i].fd, DCE_EV_READ, run_lis_io, &r->lis[i])) {
      snprintf(err, errlen, "cannot watch listener: %s", strerror(errno));
      return -1;
    }
  }
  sigprocmask(SIG_BLOCK, &set, &r->oldmask);
  r->pool = 1;
  r->worker = 0;
  r->parent = getpid();
  r->wk[0].pid = r->parent;
  r->wk[0].started_ms = dce_now_ms();
  for (i = 1; i < n; i++) if (worker_fork(r, i) == 1) break;
  return r->worker;
fail:
  {
    int e = errno;
    if (r->sigfd >= 0) { dce_loop_del(r->loop, r->sigfd); close(r->sigfd); }
    r->sigfd = -1;
    if (r->hand) { dce_loop_del(r->loop, r->hand[0]); for (i = 0; i < 2 * n; i++) if (r->hand[i] >= 0) close(r->hand[i]); }
    if (r->load) munmap((void *)r->load, (size_t)n * sizeof *r->load);
    free(r->hand);
    free(r->wk);
    r->hand = NULL; r->wk = NULL; r->load = NULL;
    snprintf(err, errlen, "cannot start workers: %s", strerror(e));
    return -1;
  }
}

pid_t dce_runner_worker_pid(const dce_runner *r, int i) {
  if (i < 0 || i >= r->nworkers) return 0;
  if (i == r->worker) return getpid();
  if (r->pool && r->worker == 0) return r->wk[i].pid;
  return 0;
}

/* Stop the workers (parent) and release what the pool holds (any process). */
void run_workers_stop(dce_runner *r) {
  int i;
  if (!r->pool) return;
  if (r->worker == 0) {
    int64_t deadline = dce_now_ms() + 3000;
    for (i = 1; i < r->nworkers; i++) if (r->wk[i].pid > 0) kill(r->wk[i].pid, SIGTERM);
    for (i = 1; i < r->nworkers; i++) {
      pid_t pid = r->wk[i].pid;
      if (pid <= 0) continue;
      for (;;) {
        pid_t w = waitpid(pid, NULL, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) break;
        if (dce_now_ms() > deadline) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); break; }
        poll(NULL, 0, 5);
      }
      r->wk[i].pid = 0;
    }
    sigprocmask(SIG_SETMASK, &r->oldmask, NULL);
  }
  if (r->sigfd >= 0) close(r->sigfd);
  r->sigfd = -1;
  for (i = 0; i < 2 * r->nworkers; i++) if (r->hand[i] >= 0) close(r->hand[i]);
  free(r->hand);
  r->hand = NULL;
  free(r->wk);
  r->wk = NULL;
  munmap((void *)r->load, (size_t)r->nworkers * sizeof *r->load);
  r->load = NULL;
  r->pool = 0;
}
