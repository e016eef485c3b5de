/*
** clock.h - milliseconds on a monotonic clock: what every deadline, timer and
** timeout in the engine is measured in. The lowest service of the engine, so
** the event loop can use it without knowing about anything above it.
*/
#ifndef DCE_CLOCK_H
#define DCE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t dce_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
