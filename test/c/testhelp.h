/*
** testhelp.h - a tiny C test harness: test_cond prints one TAP-like line per
** check; test_report prints "N passed, N failed" and returns the exit code.
*/
#ifndef DCE_TESTHELP_H
#define DCE_TESTHELP_H
#include <stdio.h>

static int test_passed, test_failed;

#define test_cond(descr, cond) do { \
    if (cond) { test_passed++; printf("ok - %s\n", descr); } \
    else { test_failed++; printf("not ok - %s (%s:%d)\n", descr, __FILE__, __LINE__); } \
  } while (0)

static inline int test_report(const char *name) {
  printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
  return test_failed ? 1 : 0;
}
#endif
