/*
** loop.c - epoll loop with a timer heap (see loop.h).
**
** The fd table is indexed by fd number; an entry with fn == NULL is free.
** Each entry carries a generation so that an event read in the same batch as
** the removal (and possible reuse) of its fd is recognised as stale.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <limits.h>
#include "net/loop.h"
#include "base/clock.h"

#define LOOP_BATCH 64

typedef struct fd_ent {
  dce_io_fn fn;
  void *ud;
  unsigned events;
  uint32_t gen;
} fd_ent;

struct dce_timer {
  int64_t when;                    /* dce_now_ms() deadline */
  uint64_t seq;                    /* FIFO among equal deadlines */
  size_t pos;                      /* index in the heap */
  dce_timer_fn fn;
  void *ud;
};

struct dce_loop {
  int ep;
  fd_ent *fds;
  int nfds;                        /* size of fds[] */
  int nwatched;
  dce_timer **heap;
  size_t nheap, capheap;
  uint64_t seq;
  uint32_t gen;
};

/* ------------------------------------------------------------ heap */

static int t_less(const dce_timer *a, const dce_timer *b) {
  return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void h_set(dce_loop *l, size_t i, dce_timer *t) { l->heap[i] = t; t->pos = i; }

static void h_up(dce_loop *l, size_t i) {
  dce_timer *t = l->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!t_less(t, l->heap[p])) break;
    h_set(l, i, l->heap[p]);
    i = p;
  }
  h_set(l, i, t);
}

static void h_down(dce_loop *l, size_t i) {
  dce_timer *t = l->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= l->nheap) break;
    if (c + 1 < l->nheap && t_less(l->heap[c + 1], l->heap[c])) c++;
    if (!t_less(l->heap[c], t)) break;
    h_set(l, i, l->heap[c]);
    i = c;
  }
  h_set(l, i, t);
}

static void h_remove(dce_loop *l, size_t i) {
  dce_timer *last = l->heap[--l->nheap];
  if (i == l->nheap) return;
  h_set(l, i, last);
  h_down(l, i);
  h_up(l, last->pos);
}

/* ------------------------------------------------------------ lifecycle */

long dce_fd_limit_raise(long want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (want > 0 && (rlim_t)want > rl.rlim_cur) {
    rlim_t cur = rl.rlim_cur;
    rl.rlim_cur = (rl.rlim_max != RLIM_INFINITY && (rlim_t)want > rl.rlim_max) ? rl.rlim_max : (rlim_t)want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = cur;
  }
  return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

dce_loop *dce_loop_new(void) {
  dce_loop *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->ep = epoll_create1(EPOLL_CLOEXEC);
  if (l->ep < 0) { free(l); return NULL; }
  return l;
}

void dce_loop_free(dce_loop *l) {
  size_t i;
  if (!l) return;
  for (i = 0; i < l->nheap; i++) free(l->heap[i]);
  free(l->heap);
  free(l->fds);
  close(l->ep);
  free(l);
}

/* ------------------------------------------------------------ fds */

static uint32_t ep_events(unsigned ev) {
  return ((ev & DCE_EV_READ) ? (uint32_t)EPOLLIN : 0u) | ((ev & DCE_EV_WRITE) ? (uint32_t)EPOLLOUT : 0u)
         | ((ev & DCE_EV_EXCLUSIVE) ? (uint32_t)EPOLLEXCLUSIVE : 0u);
}

static int ep_ctl(dce_loop *l, int op, int fd, unsigned events) {
  struct epoll_event e;
  memset(&e, 0, sizeof e);
  e.events = ep_events(events);
  /* fd in the low half, generation in the high half */
  e.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)l->fds[fd].gen << 32);
  return epoll_ctl(l->ep, op, fd, &e);
}

int dce_loop_add(dce_loop *l, int fd, unsigned events, dce_io_fn fn, void *ud) {
  if (fd < 0 || !fn) { errno = EINVAL; return -1; }
  if (fd >= l->nfds) {
    int n = l->nfds ? l->nfds : 64;
    fd_ent *nf;
    while (n <= fd) n *= 2;
    nf = realloc(l->fds, (size_t)n * sizeof *nf);
    if (!nf) { errno = ENOMEM; return -1; }
    memset(nf + l->nfds, 0, (size_t)(n - l->nfds) * sizeof *nf);
    l->fds = nf;
    l->nfds = n;
  }
  if (l->fds[fd].fn) { errno = EEXIST; return -1; }
  l->fds[fd].gen = ++l->gen;
  if (ep_ctl(l, EPOLL_CTL_ADD, fd, events)) return -1;
  l->fds[fd].fn = fn;
  l->fds[fd].ud = ud;
  l->fds[fd].events = events;
  l->nwatched++;
  return 0;
}

int dce_loop_mod(dce_loop *l, int fd, unsigned events) {
  if (fd < 0 || fd >= l->nfds || !l->fds[fd].fn) { errno = ENOENT; return -1; }
  if (l->fds[fd].events == events) return 0;
  if ((l->fds[fd].events | events) & DCE_EV_EXCLUSIVE) { errno = EINVAL; return -1; }
  if (ep_ctl(l, EPOLL_CTL_MOD, fd, events)) return -1;
  l->fds[fd].events = events;
  return 0;
}

void dce_loop_del(dce_loop *l, int fd) {
  if (fd < 0 || fd >= l->nfds || !l->fds[fd].fn) return;
  epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
  memset(&l->fds[fd], 0, sizeof l->fds[fd]);
  l->nwatched--;
}

int dce_loop_reinit(dce_loop *l) {
  int ep = epoll_create1(EPOLL_CLOEXEC), fd;
  if (ep < 0) return -1;
  close(l->ep);                    /* the parent's instance lives on in the parent */
  l->ep = ep;
  for (fd = 0; fd < l->nfds; fd++) {
    if (!l->fds[fd].fn) continue;
    if (ep_ctl(l, EPOLL_CTL_ADD, fd, l->fds[fd].events)) {
      memset(&l->fds[fd], 0, sizeof l->fds[fd]);   /* gone (closed meanwhile?): forget it */
      l->nwatched--;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ timers */

dce_timer *dce_loop_timer(dce_loop *l, int64_t delay_ms, dce_timer_fn fn, void *ud) {
  dce_timer *t;
  if (l->nheap == l->capheap) {
    size_t n = l->capheap ? l->capheap * 2 : 16;
    dce_timer **nh = realloc(l->heap, n * sizeof *nh);
    if (!nh) return NULL;
    l->heap = nh;
    l->capheap = n;
  }
  t = malloc(sizeof *t);
  if (!t) return NULL;
  t->when = dce_now_ms() + (delay_ms > 0 ? delay_ms : 0);
  t->seq = ++l->seq;
  t->fn = fn;
  t->ud = ud;
  l->heap[l->nheap] = t;
  t->pos = l->nheap++;
  h_up(l, t->pos);
  return t;
}

void dce_loop_cancel(dce_loop *l, dce_timer *t) {
  if (!t) return;
  h_remove(l, t->pos);
  free(t);
}

int64_t dce_loop_next_ms(dce_loop *l) {
  int64_t d;
  if (!l->nheap) return -1;
  d = l->heap[0]->when - dce_now_ms();
  return d > 0 ? d : 0;
}

int dce_loop_count(const dce_loop *l, int *timers) {
  if (timers) *timers = (int)l->nheap;
  return l->nwatched;
}

/* ------------------------------------------------------------ run */

int dce_loop_run_once(dce_loop *l, int timeout_ms) {
  struct epoll_event ev[LOOP_BATCH];
  int n, i, ran = 0;
  int64_t next = dce_loop_next_ms(l), now;
  uint64_t last_seq;
  if (next >= 0 && (timeout_ms < 0 || next < timeout_ms)) timeout_ms = (int)(next > 0x7fffffff ? 0x7fffffff : next);
  n = epoll_wait(l->ep, ev, LOOP_BATCH, timeout_ms);
  if (n < 0) {
    if (errno != EINTR) return -1;
    n = 0;
  }
  for (i = 0; i < n; i++) {
    int fd = (int)(uint32_t)ev[i].data.u64;
    uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
    unsigned got = 0;
    fd_ent *e;
    if (fd < 0 || fd >= l->nfds) continue;
    e = &l->fds[fd];
    if (!e->fn || e->gen != gen) continue;         /* removed in this batch */
    if (ev[i].events & EPOLLIN) got |= DCE_EV_READ;
    if (ev[i].events & EPOLLOUT) got |= DCE_EV_WRITE;
    if (ev[i].events & (EPOLLERR | EPOLLHUP)) got |= DCE_EV_ERROR | DCE_EV_READ;
    e->fn(l, fd, got, e->ud);
    ran++;
  }
  /* Timers due now; ones started by these callbacks wait for the next round
  ** (seq bound), so a callback re-arming itself with delay 0 cannot spin. */
  now = dce_now_ms();
  last_seq = l->seq;
  while (l->nheap && l->heap[0]->when <= now && l->heap[0]->seq <= last_seq) {
    dce_timer *t = l->heap[0];
    dce_timer_fn fn = t->fn;
    void *ud = t->ud;
    h_remove(l, 0);
    free(t);
    fn(l, ud);
    ran++;
  }
  return ran;
}
