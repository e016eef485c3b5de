/*
** assoc.h - the client side of a connection-oriented association, sans IO.
**
** The association is fed the bytes received (dce_assoc_feed) and produces the
** bytes to send (dce_assoc_out / dce_assoc_sent); it knows nothing of
** sockets, clocks or threads, so one event loop can drive many of them and a
** test can drive one from a byte array.
**
** Operations (a bind, an alter_context, a request) get a call_id and run in
** the order they were started: a bind or alter_context waits for everything
** before it and holds back everything after it; requests go one at a time
** unless PFC_CONC_MPX was negotiated, then they overlap. Request stubs are
** borrowed, not copied: the caller keeps them alive until the operation is
** released (dce_assoc_release) or the association freed.
**
** Every operation ends in a dce_op_result: status 0, or a status code with
** the "executed" class of the Windows runtime (DCE_EXEC_NO: safe to retry on
** a new association; DCE_EXEC_MAYBE: the server may have run it).
**
** Auth plugs in here (see dce_assoc_set_auth / dce_assoc_add_auth):
** (1) tells emit_fragment how many bytes the verifier takes, so request
** stubs are cut to max_xmit - header - 8 - sig and padded to 16 with
** auth_pad_length; (2) signs or seals each encoded fragment in place in the
** output queue; (3) verifies each received fragment in handle_response
** before its stub is appended (the decoder already bounds the trailer).
** Bind/alter/auth3 carry the mechanism's tokens in the auth verifier that
** dce_pdu already encodes and decodes.
*/
#ifndef DCE_ASSOC_H
#define DCE_ASSOC_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "base/err.h"
#include "rpc/pdu.h"

/* The reassembled response stub a client accepts by default: what a server
** sends is the server's choice, and each byte of it is memory here.
** Samba's client takes 15 MiB per call (MAX_RPC_DATA_SIZE, source3/include/
** local.h); [MS-RPCE] 3.3.3.5.2 bounds requests at 4 MB. 16 MiB keeps
** everything Samba accepts; a caller expecting more raises it per
** association (cfg.max_response) or per call (dce_assoc_request_limit). */
#if !defined(DCE_MAX_RESPONSE)
#define DCE_MAX_RESPONSE (16u * 1024u * 1024u)
#endif
#define DCE_MAX_TRANSFER 16        /* transfer syntaxes offered per context */
#define DCE_SECADDR_MAX 256

/* Feature bits of [MS-RPCE] 2.2.2.14 (bind time feature negotiation). */
#define DCE_FEATURE_SEC_CTX_MPX        0x01u
#define DCE_FEATURE_KEEP_CONN_ON_ORPHAN 0x02u

extern const dce_syntax dce_syntax_ndr20;   /* 8a885d04-...  v2.0 */
extern const dce_syntax dce_syntax_ndr64;   /* 71710533-...  v1.0 */

typedef struct dce_assoc dce_assoc;

typedef struct dce_assoc_cfg {
  uint16_t max_xmit, max_recv;     /* offered in binds (default 5840/5840) */
  size_t max_response;             /* reassembly cap (default DCE_MAX_RESPONSE) */
  int big_endian;                  /* send big-endian PDUs (default: little) */
} dce_assoc_cfg;

typedef struct dce_pctx {          /* one presentation context to offer */
  uint16_t id;
  dce_syntax abstract;
  int n_transfer;
  dce_syntax transfer[DCE_MAX_TRANSFER];
} dce_pctx;

typedef struct dce_bind_opts {
  int feature_negotiation;         /* add the 6cb71c2c-9812-4540-... context */
  uint16_t features;               /* bitmask offered (0 = both bits) */
  int conc_mpx;                    /* ask for PFC_CONC_MPX (bind only) */
  int set_sizes;                   /* use max_xmit/max_recv below (>= 1432), not cfg's */
  uint16_t max_xmit, max_recv;
  uint32_t assoc_group;            /* 0 = new group */
} dce_bind_opts;

enum dce_op_state { DCE_OP_QUEUED, DCE_OP_SENDING, DCE_OP_WAITING, DCE_OP_DONE };

typedef struct dce_bind_result {
  uint16_t max_xmit, max_recv;     /* as the peer sent them */
  uint32_t assoc_group;
  uint8_t flags;                   /* pfc_flags of the ack */
  char sec_addr[DCE_SECADDR_MAX];  /* without the NUL */
  int n_results;                   /* one per offered user context */
  dce_result results[256];
  int has_features;                /* the negotiate_ack came back */
  uint16_t features;
} dce_bind_result;

typedef struct dce_op_result {
  int state;                       /* enum dce_op_state */
  uint32_t status;                 /* 0 when it succeeded */
  int executed;                    /* enum dce_exec; set when status != 0 */
  char msg[192];
  uint8_t drep[4];                 /* response: drep of its first fragment */
  dce_buf stub;                    /* response: reassembled stub */
  uint32_t fault_status;           /* the fault's own status, 0 if no fault */
  dce_bind_result *bind;           /* bind/alter: the ack, when one came */
  int auth_leg;                    /* bind/alter: the authentication's extra alter_context is out */
} dce_op_result;

typedef struct dce_assoc_info {
  int bound;                       /* a bind succeeded */
  int dead;                        /* connection lost or protocol error */
  uint32_t dead_status;
  char dead_msg[192];
  int conc_mpx;                    /* negotiated */
  int has_features;
  uint16_t features;
  uint16_t max_xmit, max_recv;     /* negotiated fragment sizes */
  uint32_t assoc_group;
  char sec_addr[DCE_SECADDR_MAX];
  int shutdown;                    /* peer sent shutdown */
  uint64_t bytes_sent, bytes_received;
} dce_assoc_info;

typedef struct dce_sec dce_sec;

/* Lifecycle. cfg may be NULL (defaults). NULL on out of memory. */
dce_assoc *dce_assoc_new(const dce_assoc_cfg *cfg);
void dce_assoc_free(dce_assoc *a);

/* Starting operations: each returns 0 and the call_id, or -1 and fills e
** (base/err.h; e may be NULL): DCE_E_MISUSE for bad arguments or a wrong
** order, DCE_E_REFUSED when the association cannot take it (dead: its
** status, a protocol error as DCE_RPC_S_CALL_FAILED; the server asked to
** shut down; the server lacks what is asked; a security context failed),
** DCE_E_NOMEM. Refusals never sent anything: executed is DCE_EXEC_NO. */

/* Start a bind (alter = 0) or alter_context (alter = 1) offering n
** contexts. opts may be NULL. */
int dce_assoc_bind(dce_assoc *a, int alter, const dce_pctx *ctx, int n,
                   const dce_bind_opts *opts, uint32_t *call_id, dce_err *e);

/* Start a request. object may be NULL. The stub is borrowed (see above). */
int dce_assoc_request(dce_assoc *a, uint16_t ctx_id, uint16_t opnum, const dce_uuid *object,
                      const uint8_t *stub, size_t len, uint32_t *call_id, dce_err *e);

/* The response cap of a request just started (cfg.max_response otherwise):
** a reply reassembling beyond max_response bytes fails the call with
** DCE_RPC_S_CALL_FAILED (executed: maybe) and the rest of it is dropped.
** The buffer grows with the bytes that arrive, never with alloc_hint. */
int dce_assoc_request_limit(dce_assoc *a, uint32_t call_id, size_t max_response, dce_err *e);

/* Bytes to send: a view of the pending output (fragments are produced on
** demand so a huge request never sits in memory twice). Returns its length.
** dce_assoc_sent tells how many of them went out. */
size_t dce_assoc_out(dce_assoc *a, const uint8_t **p);
void dce_assoc_sent(dce_assoc *a, size_t n);

/* Bytes received. Returns 0, or -1 when the association died (protocol
** error); every unfinished operation then holds its failure. */
int dce_assoc_feed(dce_assoc *a, const uint8_t *b, size_t n);

/* The transport failed or the peer closed: fail every unfinished operation. */
void dce_assoc_lost(dce_assoc *a, const char *why);

/* Give up on an operation (deadline passed): it fails with `status`
** (normally DCE_RPC_S_CALL_CANCELLED); if part of the request went out an
** orphaned PDU follows it, if all of it a co_cancel; late replies are then
** discarded. Returns 0, or -1 when call_id is unknown or already finished. */
int dce_assoc_cancel(dce_assoc *a, uint32_t call_id, uint32_t status, const char *msg);

/* Result of an operation (state DCE_OP_DONE when finished), NULL if unknown. */
const dce_op_result *dce_assoc_result(const dce_assoc *a, uint32_t call_id);
/* Forget a finished operation; its stub buffer is freed. Releasing an
** unfinished one cancels it first. */
void dce_assoc_release(dce_assoc *a, uint32_t call_id);
/* Move the response stub out of a finished operation into *dst (which the
** caller then owns and frees with dce_buf_free). */
void dce_assoc_take_stub(dce_assoc *a, uint32_t call_id, dce_buf *dst);

/* Byte order of the PDUs we send from now on (DCE_DREP_LE or DCE_DREP_BE). */
void dce_assoc_set_drep(dce_assoc *a, uint8_t drep0);

const dce_assoc_info *dce_assoc_get_info(const dce_assoc *a);

/* Trace every fragment sent and received (rpc/pdu.h dce_trace_fn); fn NULL
** stops. Sent fragments are traced as they are made, final (signed or
** sealed), just before the transport takes them. */
void dce_assoc_set_trace(dce_assoc *a, dce_trace_fn fn, void *ud);

/* Authenticate the association (sec.h): before the bind; the association
** owns sec from then on. The bind carries the first token; bind_ack and
** auth3 (NTLM) or alter_context (SPNEGO) the rest; the bind's operation ends
** when the context is established (or failed: its status, e.g. 0xC000006D).
** Requests and responses are then signed or sealed as the level says. */
int dce_assoc_set_auth(dce_assoc *a, dce_sec *sec, uint32_t context_id);
dce_sec *dce_assoc_sec(const dce_assoc *a);

/* Alter_context round trips one security context may take after the bind
** (or its first alter_context): SPNEGO needs one, two when the server picks
** another mechanism than the optimistic one. More is a server that does not
** stop. */
#if !defined(DCE_CLIENT_MAX_AUTH_LEGS)
#define DCE_CLIENT_MAX_AUTH_LEGS 4
#endif

/* Security context multiplexing ([MS-RPCE] 3.3.1.5.4).
**
** dce_assoc_add_auth starts an alter_context offering the n presentation
** contexts (normally the one already bound) and carrying the first token of
** a new security context with auth_context_id (unique on the association,
** not DCE_AUTH_CTX_NONE). The legs go on as for the bind: NTLM gets its
** CHALLENGE in the alter_context_resp and sends AUTHENTICATE in an auth3,
** SPNEGO continues with alter_context legs. The operation (call_id) ends
** when the context is established, or fails with the mechanism's status; a
** failed added context leaves the association and its other contexts
** working unless the peer breaks the protocol or closes the connection.
** Needs a finished bind; the bind may have been anonymous (then this is
** the association's first context). A second context needs the server's
** SecurityContextMultiplexing ack (feature bit 0x01) in the bind_ack.
** At most DCE_MAX_AUTH_CTX contexts. Returns 0 and the association owns
** sec, or -1 with e filled in (the caller keeps sec).
**
** dce_assoc_request_auth picks the context of a request just queued (before
** any of it went out): DCE_AUTH_CTX_NONE for none. By default a request uses
** the bind's context (none after an anonymous bind). Each fragment carries
** that context's sec_trailer; each response fragment is verified and
** unsealed with it. With more than one context, a request on a connect-level
** context carries the 16-byte verifier 01 00 .. 00.
**
** dce_assoc_auth_get walks the contexts (i = 0 .. count-1): its sec, id,
** state (1 established, 0 in progress, -1 failed) and failure status. */
#if !defined(DCE_MAX_AUTH_CTX)
#define DCE_MAX_AUTH_CTX 64
#endif
#define DCE_AUTH_CTX_NONE 0xffffffffu
int dce_assoc_add_auth(dce_assoc *a, dce_sec *sec, uint32_t auth_context_id, const dce_pctx *ctx,
                       int n, uint32_t *call_id, dce_err *e);
int dce_assoc_request_auth(dce_assoc *a, uint32_t call_id, uint32_t auth_context_id, dce_err *e);
int dce_assoc_auth_count(const dce_assoc *a);
const dce_sec *dce_assoc_auth_get(const dce_assoc *a, int i, uint32_t *auth_context_id, int *state,
                                  uint32_t *status);
int dce_assoc_is_dead(const dce_assoc *a);
/* Operations not yet finished (queued, sending or awaiting a reply). */
int dce_assoc_busy(const dce_assoc *a);

const char *dce_bind_nak_reason_name(unsigned reason);

#endif
