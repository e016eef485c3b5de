/*
** loop.h - a small epoll event loop: file descriptors with read/write
** interest and a callback, one-shot timers in a binary min-heap, and
** dce_loop_run_once(timeout) that waits once and dispatches what is due.
**
** Contract: callbacks may add or remove any fd and start or cancel any timer,
** including their own; an fd removed while a batch of events is being
** dispatched gets no further callback from that batch. A timer handle is
** valid until its callback starts or it is cancelled, whichever comes first.
** Nothing here blocks except the one epoll_wait in dce_loop_run_once.
*/
#ifndef DCE_LOOP_H
#define DCE_LOOP_H

#include <stdint.h>

#define DCE_EV_READ   0x01u
#define DCE_EV_WRITE  0x02u
#define DCE_EV_ERROR  0x04u        /* reported only: hang-up or socket error */
/* dce_loop_add only: EPOLLEXCLUSIVE, for a listening socket several
** processes watch (one of them is woken per event). Such an fd cannot be
** modified (dce_loop_mod fails with EINVAL); delete and add it again. */
#define DCE_EV_EXCLUSIVE 0x08u

typedef struct dce_loop dce_loop;
typedef struct dce_timer dce_timer;

typedef void (*dce_io_fn)(dce_loop *l, int fd, unsigned events, void *ud);
typedef void (*dce_timer_fn)(dce_loop *l, void *ud);

dce_loop *dce_loop_new(void);      /* NULL on failure */

/* Raise the process's soft limit on open descriptors so that `want` of them
** fit (never above the hard limit, never lowered). Returns the soft limit now
** in force, or -1 when it cannot be read. */
long dce_fd_limit_raise(long want);
void dce_loop_free(dce_loop *l);   /* pending timers are freed, fds left open */

/* In a child after fork(): the epoll instance is shared with the parent, so
** give this loop a new one with every watched fd added again (same events,
** callbacks and data; timers untouched). 0, or -1 (errno set). */
int dce_loop_reinit(dce_loop *l);

/* Watch fd for `events` (DCE_EV_READ | DCE_EV_WRITE). 0 or -1 (errno set). */
int dce_loop_add(dce_loop *l, int fd, unsigned events, dce_io_fn fn, void *ud);
int dce_loop_mod(dce_loop *l, int fd, unsigned events);
void dce_loop_del(dce_loop *l, int fd);

/* A one-shot timer firing after delay_ms (>= 0). NULL on out of memory. */
dce_timer *dce_loop_timer(dce_loop *l, int64_t delay_ms, dce_timer_fn fn, void *ud);
void dce_loop_cancel(dce_loop *l, dce_timer *t);

/* Milliseconds until the next timer (-1: none). */
int64_t dce_loop_next_ms(dce_loop *l);

/* Wait at most timeout_ms (< 0: until something happens; 0: poll) and run
** the callbacks of ready fds and due timers. Returns how many callbacks ran,
** or -1 when epoll failed. */
int dce_loop_run_once(dce_loop *l, int timeout_ms);

/* fds and timers registered (for tests and to know when a loop is idle). */
int dce_loop_count(const dce_loop *l, int *timers);

#endif
