/*
** err.c - engine failures with a kind and a status (see err.h).
*/
#include <stdarg.h>
#include <stdio.h>
#include "base/err.h"

const char *dce_exec_name(int executed) {
  switch (executed) {
  case DCE_EXEC_NO: return "no";
  case DCE_EXEC_MAYBE: return "maybe";
  case DCE_EXEC_YES: return "yes";
  default: return NULL;
  }
}

int dce_err_set(dce_err *e, int kind, uint32_t status, int executed, const char *fmt, ...) {
  va_list ap;
  if (!e) return -1;
  e->kind = kind;
  e->status = status;
  e->executed = executed;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return -1;
}
