/*
** server.h - the server side of connection-oriented associations, sans IO.
**
** A dce_server holds what connections share: the interfaces offered (by
** abstract syntax), the configuration and the association group table. A
** dce_sconn is one connection's association: fed the bytes received
** (dce_sconn_feed), it produces the bytes to send (dce_sconn_out /
** dce_sconn_sent) and hands out the calls whose request is complete
** (dce_sconn_next_call). The driver answers each with dce_sconn_reply or
** dce_sconn_fault, in any order and at any later time; several calls may
** be executing at once on one connection.
**
** Input is read header first: the 16-byte common header is checked
** (version, drep, frag_length >= 16, auth_length inside the fragment, ptype,
** frag_length <= the negotiated max_recv_frag) before any byte of its body is
** buffered, so a peer can make us hold at most one fragment of input.
** Reassembly is capped by max_request, checked against alloc_hint on the
** first fragment (no allocation from it) and against the running total.
**
** After a protocol error the connection answers what it must (a fault or a
** bind_nak), stops reading, and asks to be closed once its output is sent
** (dce_sconn_should_close).
*/
#ifndef DCE_SERVER_H
#define DCE_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "rpc/pdu.h"
#include "auth/mech.h"

#if !defined(DCE_SRV_MAX_FRAG)
#define DCE_SRV_MAX_FRAG 5840u               /* [MS-RPCE] / Samba on TCP */
#endif
#define DCE_SRV_MIN_FRAG 2048u
#if !defined(DCE_SRV_MAX_REQUEST)
#define DCE_SRV_MAX_REQUEST (4u * 1024u * 1024u)   /* reassembled request stub */
#endif
#if !defined(DCE_SRV_MAX_CALLS)
#define DCE_SRV_MAX_CALLS 64                 /* executing calls per connection */
#endif
#if !defined(DCE_SRV_MAX_CALLS_TOTAL)
#define DCE_SRV_MAX_CALLS_TOTAL 1234         /* calls in flight, all connections (per worker) */
#endif
#if !defined(DCE_SRV_MAX_BUFFERED)
#define DCE_SRV_MAX_BUFFERED (256u * 1024u * 1024u)  /* multi-fragment requests + unsent output */
#endif
#define DCE_SRV_MAX_CTX 256                  /* presentation contexts per connection */
#if !defined(DCE_SRV_MAX_AUTH)
#define DCE_SRV_MAX_AUTH 2049                /* security contexts per connection (Samba) */
#endif

/* bind_nak reasons (C706 / [MS-RPCE] 2.2.2.5) */
#define DCE_NAK_NOT_SPECIFIED 0
#define DCE_NAK_TEMPORARY_CONGESTION 1
#define DCE_NAK_LOCAL_LIMIT_EXCEEDED 2
#define DCE_NAK_PROTOCOL_VERSION 4
#define DCE_NAK_AUTH_TYPE 8
/* provider rejection reasons in p_result_t */
#define DCE_PROV_ABSTRACT_NOT_SUPPORTED 1
#define DCE_PROV_TRANSFER_NOT_SUPPORTED 2
#define DCE_PROV_LOCAL_LIMIT_EXCEEDED 3

typedef struct dce_server dce_server;
typedef struct dce_sconn dce_sconn;

typedef struct dce_server_cfg {
  uint16_t max_frag;               /* upper bound of negotiated frag sizes (5840) */
  size_t max_request;              /* reassembled request stub cap (4 MiB) */
  int max_calls;                   /* executing + reassembling calls per connection */
  int max_auth;                    /* security contexts per connection (2049) */
  int max_calls_total;             /* calls reassembling or executing on all connections (1234);
                                   ** beyond it only a connection's first call is taken */
  size_t max_buffered;             /* bytes of multi-fragment requests being reassembled or
                                   ** executing, and of output not yet sent (256 MiB); over it
                                   ** requests fault nca_s_server_too_busy, replies longer than
                                   ** a fragment nca_s_fault_remote_no_memory */
  int tag_groups;                  /* nonzero: association group ids carry the worker
                                   ** index in their top 8 bits (DCE_GROUP_WORKER) */
  unsigned worker;                 /* this process's worker index, 0..255 */
} dce_server_cfg;

/* The worker that created association group `id` (servers with tag_groups). */
#define DCE_GROUP_WORKER(id) ((unsigned)((uint32_t)(id) >> 24))

/* A complete request, handed to the driver. It stays owned by the
** connection; the pointer is valid until the call is replied to, faulted,
** or the connection freed. */
typedef struct dce_scall {
  uint32_t call_id;
  uint16_t ctx_id, opnum;
  void *iface;                     /* the `ud` given to dce_server_add_iface */
  dce_syntax abstract;             /* as the client bound it */
  int has_object;
  dce_uuid object;
  uint8_t drep[4];                 /* of the first fragment */
  const uint8_t *stub;
  size_t stub_len;
  /* the security context the request came under (auth_type 0: anonymous);
  ** user and domain point into it and stay valid while the call does */
  uint8_t auth_type, auth_level;
  uint32_t auth_context_id;
  const char *user, *domain;
} dce_scall;

typedef struct dce_sconn_info {
  uint32_t assoc_group;            /* 0 until bound */
  uint16_t max_xmit, max_recv;     /* negotiated */
  int bound, conc_mpx;
  uint16_t features;               /* acknowledged bind-time features */
  int n_ctx;                       /* accepted presentation contexts */
  int executing;                   /* calls handed out and not yet answered */
  int reassembling;                /* calls whose last fragment has not come */
  uint8_t auth_type, auth_level;   /* the first security context established (0: none) */
  const char *user, *domain;       /* who authenticated in it (UTF-8; "" before),
                                   ** valid while the connection is */
  int n_auth;                      /* security contexts made on the connection */
  uint64_t pdus_in;                /* complete fragments processed */
  int closing;                     /* stop reading, close after output drains */
  char why[160];                   /* reason for closing (protocol error) */
} dce_sconn_info;

/* ------------------------------------------------------------ server */

dce_server *dce_server_new(const dce_server_cfg *cfg);   /* cfg may be NULL */
void dce_server_free(dce_server *s);     /* every dce_sconn must be freed first */

/* Offer an interface: binds naming this uuid and major version with a
** minor version <= `minor` are accepted. `ud` comes back in each call.
** Returns 0, or -1 (already registered, out of memory). */
int dce_server_add_iface(dce_server *s, const dce_syntax *abstract, void *ud);
int dce_server_groups(const dce_server *s);   /* live association groups */
/* What every connection holds now: calls in flight, bytes in the buffered budget. */
void dce_server_load(const dce_server *s, int *calls, size_t *buffered);
/* Accept authenticated binds: of every auth type whose mechanism
** (auth/mech.h) can accept with `acc` (NTLMSSP, SPNEGO over it; the names
** NTLM's CHALLENGE gives and the lookup of the users' NT hashes). The
** strings are copied; lookup and ud must live as long as the server.
** 0 or -1 (no lookup). */
int dce_server_set_auth(dce_server *s, const dce_acceptor *acc);
/* The lowest auth level (sec.h DCE_LEVEL_*) calls on the interface
** registered with `ud` need; lower ones fault with access denied. 0 or -1. */
int dce_server_iface_min_level(dce_server *s, void *ud, uint8_t level);
/* Is association group `id` live (some connection still in it)? */
int dce_server_has_group(const dce_server *s, uint32_t id);
/* The worker index new association group ids are tagged with (after fork). */
void dce_server_set_worker(dce_server *s, unsigned worker);

/* ------------------------------------------------------------ connection */

/* `port` goes into bind_acks as the secondary address ("135"). */
dce_sconn *dce_sconn_new(dce_server *s, const char *port);
void dce_sconn_free(dce_sconn *c);

/* Bytes received. Returns 0, or -1 when the connection is closing (a
** protocol error: the answer is queued, see dce_sconn_should_close). */
int dce_sconn_feed(dce_sconn *c, const uint8_t *b, size_t n);

/* Output: a view of the pending bytes; dce_sconn_sent consumes them. */
size_t dce_sconn_out(dce_sconn *c, const uint8_t **p);
void dce_sconn_sent(dce_sconn *c, size_t n);

/* Next call ready to run, or NULL. Each call is handed out once. */
const dce_scall *dce_sconn_next_call(dce_sconn *c);

/* Answer a call handed out. The stub is copied (fragmented to the client's
** max_recv_frag). Calls the client orphaned are dropped silently. Returns 0,
** or -1 when call_id is not an executing call of this connection. */
int dce_sconn_reply(dce_sconn *c, uint32_t call_id, const uint8_t *stub, size_t len);
int dce_sconn_fault(dce_sconn *c, uint32_t call_id, uint32_t status, int did_not_execute);
/* Is the call still wanted (not orphaned or cancelled by the client)? */
int dce_sconn_call_alive(const dce_sconn *c, uint32_t call_id);

/* True when the connection must be closed once dce_sconn_out is empty. */
int dce_sconn_should_close(const dce_sconn *c);
/* Bytes of an incomplete fragment buffered (for partial-PDU timeouts). */
size_t dce_sconn_partial(const dce_sconn *c);
const dce_sconn_info *dce_sconn_get_info(const dce_sconn *c);

/* Trace every fragment received and sent (rpc/pdu.h dce_trace_fn); fn NULL
** stops. A fragment received is shown before anything it causes to be sent;
** a sealed request's clear text once it is unsealed. */
void dce_sconn_set_trace(dce_sconn *c, dce_trace_fn fn, void *ud);
/* The `ud` of the interface bound as presentation context ctx_id, or NULL
** (a trace names the interface of a context bound before it began). */
void *dce_sconn_ctx_iface(dce_sconn *c, uint16_t ctx_id);

#endif
