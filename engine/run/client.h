/*
** client.h - the client driver: runs a client association (rpc/co_client.h,
** sans IO) over a transport (net/transport.h). The one place where the
** client's protocol engine meets I/O; outside loops (the Lua binding's
** coroutines, cqueues, luv) use dce_conn_pollfd and dce_conn_io and wait
** themselves, a plain caller blocks in dce_conn_wait.
*/
#ifndef DCE_RUN_CLIENT_H
#define DCE_RUN_CLIENT_H

#include <stdint.h>
#include "net/transport.h"
#include "rpc/co_client.h"

/* What to wait for: returns the fd (-1: none) and sets *events (DCE_T_READ,
** DCE_T_WRITE). When the transport holds bytes already (pending), *events
** is 0: call dce_conn_io straight away. */
int dce_conn_pollfd(dce_assoc *a, dce_transport *t, unsigned *events);

/* Move bytes both ways without blocking. Returns 0, or -1 when the transport
** failed or the peer closed (the association is then marked lost). */
int dce_conn_io(dce_assoc *a, dce_transport *t);

/* Block (poll) until operation call_id has finished or deadline_ms (a
** dce_now_ms() value) passes. Returns 1 when finished, 0 on deadline, -1
** when the connection failed (then the operation holds its failure). */
int dce_conn_wait(dce_assoc *a, dce_transport *t, uint32_t call_id, int64_t deadline_ms);

#endif
