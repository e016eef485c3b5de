/*
** err.h - what an engine function says when it refuses: whether the caller
** made a mistake or something (the association's state, the peer) said no,
** which status then applies, and whether the work may have been done. A
** binding maps the kinds without reading the message: DCE_E_MISUSE raises,
** the others become error values with `status` and `executed`.
*/
#ifndef DCE_ERR_H
#define DCE_ERR_H

#include <stddef.h>
#include <stdint.h>

/* The retry class of a failure (the Windows runtime's): DCE_EXEC_NO is safe
** to retry on a new association; DCE_EXEC_MAYBE: the server may have run it. */
enum dce_exec { DCE_EXEC_UNSET = 0, DCE_EXEC_NO, DCE_EXEC_MAYBE, DCE_EXEC_YES };
const char *dce_exec_name(int executed);   /* "no", "maybe", "yes" or NULL */

enum dce_err_kind {
  DCE_E_NONE = 0,
  DCE_E_MISUSE,                    /* bad arguments or a wrong order of calls: the caller's bug */
  DCE_E_REFUSED,                   /* the state or the peer refuses: report status */
  DCE_E_NOMEM                      /* out of memory (status DCE_RPC_S_OUT_OF_MEMORY) */
};

typedef struct dce_err {
  int kind;                        /* enum dce_err_kind */
  uint32_t status;                 /* the status that applies (0 for misuse) */
  int executed;                    /* enum dce_exec */
  char msg[384];                   /* room for a GSSAPI status in words */
} dce_err;

/* Fill e (may be NULL) and return -1. */
int dce_err_set(dce_err *e, int kind, uint32_t status, int executed, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));
#define dce_misuse(e, ...) dce_err_set((e), DCE_E_MISUSE, 0, DCE_EXEC_NO, __VA_ARGS__)

#endif
