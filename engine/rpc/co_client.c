/*
** assoc.c - client association state machine (see assoc.h for the contract).
**
** Output is a single byte queue of whole fragments. Fragments of a request
** are produced lazily, a few at a time, by out_pump; control PDUs (co_cancel,
** orphaned) are appended between fragments, never inside one. A 64-bit count
** of bytes handed to the transport tells, for each operation, whether any or
** all of its bytes left: that is what separates executed "no" from "maybe".
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/co_client.h"
#include "rpc/sec.h"
#include "base/status.h"

const dce_syntax dce_syntax_ndr20 = {
  { { 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
      0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60 } }, 2, 0 };
const dce_syntax dce_syntax_ndr64 = {
  { { 0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49,
      0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36 } }, 1, 0 };
/* 6cb71c2c-9812-4540-XXXX-000000000000: the bitmask sits in bytes 8..9 */
static const uint8_t btfn_prefix[8] = { 0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45 };

#define OUT_LOW_WATER 65536u       /* produce fragments until this much is queued */

enum op_kind { OP_BIND, OP_ALTER, OP_REQUEST };

/* One security context of the association ([MS-RPCE] 3.3.1.5.4): the
** bind's (set_auth, slot 0) or one added by an alter_context (add_auth).
** RC4 state and sequence numbers live in sec, so they are per context. */
enum actx_state { ACTX_PENDING, ACTX_READY, ACTX_FAILED };
typedef struct actx {
  dce_sec *sec;                    /* owned */
  uint32_t id;                     /* auth_context_id in every sec_trailer */
  int state;                       /* enum actx_state */
  uint32_t status;                 /* why it failed */
} actx;

/* connect level with several contexts: the verifier Samba's raw_protocol
** tests send and [MS-RPCE] 3.3.1.5.4 asks for (auth info MUST be present) */
static const uint8_t connect_verifier[16] = { 0x01 };

typedef struct op {
  struct op *next;
  int kind;
  uint32_t call_id;
  int state;                       /* enum dce_op_state */
  int abandoned;                   /* cancelled: swallow late replies */
  int released;                    /* the owner no longer wants it */
  int got_first;                   /* response: first fragment seen */
  /* what to send */
  uint16_t ctx_id, opnum;
  int has_object;
  dce_uuid object;
  const uint8_t *stub;
  size_t stub_len, stub_off;       /* request: bytes already fragmented */
  dce_pdu bindpdu;                 /* bind/alter: the PDU to encode */
  dce_ctx_elem *bind_ctx;
  int n_user_ctx, has_btfn;
  uint16_t btfn_ctx_id;
  int auth_leg;                    /* bind: the alter_context leg of the auth exchange is out */
  int actx;                        /* security context (index in a->auth), -1: none */
  dce_buf tok;                     /* bind: our auth token (the verifier points here) */
  /* where its bytes are in the output stream */
  uint64_t out_first, out_end;     /* out_end valid once state >= WAITING */
  int any_queued;
  dce_op_result res;
} op;

struct dce_assoc {
  dce_assoc_cfg cfg;
  uint8_t drep0;                   /* drep[0] of the PDUs we send */
  op *head, *tail;
  op *cur;                         /* the op whose fragments are being produced */
  uint32_t next_call_id;
  dce_buf out;
  size_t out_off;                  /* first unsent byte of out */
  uint64_t sent;                   /* bytes handed to the transport */
  dce_buf in;                      /* partial fragment */
  int bind_started, bind_ok, bind_failed;
  int conc_mpx_asked;
  actx auth[DCE_MAX_AUTH_CTX];     /* security contexts, in the order started */
  int n_auth;
  int bind_auth;                   /* auth[0] rides on the bind (set_auth) */
  dce_trace_fn trace;              /* NULL: not traced (the only test on the hot path) */
  void *trace_ud;
  dce_buf trace_tmp;               /* traced: a fragment's other version (wire or clear) */
  dce_assoc_info info;
};

/* ------------------------------------------------------------ names */


const char *dce_bind_nak_reason_name(unsigned reason) {
  static const char *const n[] = {
    "reason_not_specified", "temporary_congestion", "local_limit_exceeded",
    "called_paddr_unknown", "protocol_version_not_supported",
    "default_context_not_supported", "user_data_not_readable",
    "no_psap_available", "authentication_type_not_recognized", "invalid_checksum"
  };
  return reason < sizeof n / sizeof n[0] ? n[reason] : "unknown";
}

/* ------------------------------------------------------------ lifecycle */

dce_assoc *dce_assoc_new(const dce_assoc_cfg *cfg) {
  dce_assoc *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  if (cfg) a->cfg = *cfg;
  if (!a->cfg.max_xmit) a->cfg.max_xmit = DCE_DEFAULT_FRAG;
  if (!a->cfg.max_recv) a->cfg.max_recv = DCE_DEFAULT_FRAG;
  if (a->cfg.max_xmit < DCE_MUST_RCV_FRAG) a->cfg.max_xmit = DCE_MUST_RCV_FRAG;
  if (a->cfg.max_recv < DCE_MUST_RCV_FRAG) a->cfg.max_recv = DCE_MUST_RCV_FRAG;
  if (!a->cfg.max_response) a->cfg.max_response = DCE_MAX_RESPONSE;
  a->drep0 = a->cfg.big_endian ? DCE_DREP_BE : DCE_DREP_LE;
  a->next_call_id = 1;
  dce_buf_init(&a->out);
  dce_buf_init(&a->in);
  a->in.limit = 65536;             /* one fragment at most: frag_length is u16 */
  dce_buf_init(&a->trace_tmp);
  return a;
}

static void op_free(op *o) {
  dce_buf_free(&o->res.stub);
  dce_buf_free(&o->tok);
  free(o->res.bind);
  free(o->bind_ctx);
  free(o);
}

void dce_assoc_free(dce_assoc *a) {
  op *o, *nx;
  if (!a) return;
  for (o = a->head; o; o = nx) { nx = o->next; op_free(o); }
  {
    int i;
    for (i = 0; i < a->n_auth; i++) dce_sec_free(a->auth[i].sec);
  }
  dce_buf_free(&a->out);
  dce_buf_free(&a->in);
  dce_buf_free(&a->trace_tmp);
  free(a);
}

static op *op_find(const dce_assoc *a, uint32_t call_id) {
  op *o;
  for (o = a->head; o; o = o->next)
    if (o->call_id == call_id) return o;
  return NULL;
}

static void op_unlink(dce_assoc *a, op *o) {
  op **pp, *prev = NULL;
  for (pp = &a->head; *pp; prev = *pp, pp = &(*pp)->next) {
    if (*pp == o) {
      *pp = o->next;
      if (a->tail == o) a->tail = prev;
      if (a->cur == o) a->cur = NULL;
      op_free(o);
      return;
    }
  }
}

static op *op_new(dce_assoc *a, int kind) {
  op *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->kind = kind;
  o->call_id = a->next_call_id++;
  if (a->next_call_id == 0) a->next_call_id = 1;
  dce_buf_init(&o->res.stub);
  dce_buf_init(&o->tok);
  o->res.stub.limit = a->cfg.max_response;
  o->state = DCE_OP_QUEUED;
  o->actx = -1;
  if (a->tail) a->tail->next = o; else a->head = o;
  a->tail = o;
  return o;
}

/* ------------------------------------------------------------ finishing */

static uint64_t out_queued_end(const dce_assoc *a) {
  return a->sent + (a->out.len - a->out_off);
}

static int op_any_sent(const dce_assoc *a, const op *o) {
  return o->any_queued && a->sent > o->out_first;
}

static void op_finish(dce_assoc *a, op *o, uint32_t status, int executed, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));

static void op_finish(dce_assoc *a, op *o, uint32_t status, int executed, const char *fmt, ...) {
  if (o->state == DCE_OP_DONE) return;
  if (o->kind != OP_REQUEST && o->actx >= 0 && a->auth[o->actx].state == ACTX_PENDING) {
    /* the operation that establishes a context decides its fate */
    a->auth[o->actx].state = status ? ACTX_FAILED : ACTX_READY;
    a->auth[o->actx].status = status;
  }
  o->state = DCE_OP_DONE;
  o->res.state = DCE_OP_DONE;
  o->res.status = status;
  o->res.executed = status ? executed : DCE_EXEC_YES;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->res.msg, sizeof o->res.msg, fmt, ap);
    va_end(ap);
  }
  if (a->cur == o) a->cur = NULL;
}

/* The association is unusable: fail everything still open. Requests that
** never reached the wire did not execute; others may have. */
static void assoc_kill(dce_assoc *a, uint32_t status, const char *why) {
  op *o;
  if (a->info.dead) return;
  a->info.dead = 1;
  a->info.dead_status = status;
  snprintf(a->info.dead_msg, sizeof a->info.dead_msg, "%s", why);
  for (o = a->head; o; o = o->next) {
    if (o->state == DCE_OP_DONE) continue;
    if (o->kind != OP_REQUEST)
      op_finish(a, o, status, DCE_EXEC_NO, "%s", why);
    else if (!op_any_sent(a, o))
      op_finish(a, o, DCE_RPC_S_CALL_FAILED, DCE_EXEC_NO, "%s (request not sent)", why);
    else
      op_finish(a, o, DCE_RPC_S_CALL_FAILED, DCE_EXEC_MAYBE, "%s", why);
  }
  a->cur = NULL;
}

void dce_assoc_lost(dce_assoc *a, const char *why) {
  assoc_kill(a, DCE_RPC_S_CALL_FAILED, why ? why : "connection lost");
}

/* A protocol error from the peer: fatal for the association. */
static int proto_error(dce_assoc *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int proto_error(dce_assoc *a, const char *fmt, ...) {
  char m[160], w[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  snprintf(w, sizeof w, "protocol error: %s", m);
  assoc_kill(a, DCE_RPC_S_PROTOCOL_ERROR, w);
  return -1;
}

/* ------------------------------------------------------------ starting ops */

/* The association cannot take a new operation: it died (a protocol error
** is reported as the call failing), or the server asked to shut down. */
static int refused_dead(dce_assoc *a, dce_err *e, int request) {
  uint32_t st = a->info.dead_status;
  if (request && st == DCE_RPC_S_PROTOCOL_ERROR) st = DCE_RPC_S_CALL_FAILED;
  return dce_err_set(e, DCE_E_REFUSED, st, DCE_EXEC_NO, "%s", a->info.dead_msg);
}
static int refused_shutdown(dce_err *e) {
  return dce_err_set(e, DCE_E_REFUSED, DCE_RPC_S_CALL_FAILED_DNE, DCE_EXEC_NO,
                     "the server asked to shut the association down");
}
static int no_memory(dce_err *e) {
  return dce_err_set(e, DCE_E_NOMEM, DCE_RPC_S_OUT_OF_MEMORY, DCE_EXEC_NO, "out of memory");
}

static actx *op_auth(dce_assoc *a, const op *o) {
  return o->actx >= 0 ? &a->auth[o->actx] : NULL;
}

/* Put the first token of context k on a bind or alter_context. */
static int op_attach_auth(dce_assoc *a, op *o, int k, dce_err *e) {
  actx *x = &a->auth[k];
  uint32_t st;
  char m[352];
  if (dce_sec_step(x->sec, NULL, 0, &o->tok, &st, m, sizeof m) < 0)
    return dce_err_set(e, DCE_E_REFUSED, st ? st : DCE_RPC_S_CALL_FAILED_DNE, DCE_EXEC_NO, "%s", m);
  o->actx = k;
  o->bindpdu.flags |= DCE_PFC_SUPPORT_HEADER_SIGN;
  o->bindpdu.has_auth = 1;
  o->bindpdu.auth.type = dce_sec_type(x->sec);
  o->bindpdu.auth.level = dce_sec_level(x->sec);
  o->bindpdu.auth.context_id = x->id;
  o->bindpdu.auth.value = o->tok.p;
  o->bindpdu.auth.value_len = o->tok.len;
  return 0;
}

int dce_assoc_bind(dce_assoc *a, int alter, const dce_pctx *ctx, int n,
                   const dce_bind_opts *opts, uint32_t *call_id, dce_err *e) {
  static const dce_bind_opts defaults;
  op *o;
  int i, k, total;
  size_t ntrans = 0;
  dce_syntax *ts;
  uint16_t maxid = 0;

  if (!opts) opts = &defaults;
  if (a->info.dead) return refused_dead(a, e, 0);
  if (n < 1) return dce_misuse(e, "at least one presentation context is needed");
  total = n + (opts->feature_negotiation ? 1 : 0);
  if (total > 255) return dce_misuse(e, "too many presentation contexts (255 at most)");
  if (alter && !a->bind_started) return dce_misuse(e, "alter_context before bind");
  if (!alter && a->bind_started) return dce_misuse(e, "already bound: use alter_context");
  for (i = 0; i < n; i++) {
    if (ctx[i].n_transfer < 1 || ctx[i].n_transfer > DCE_MAX_TRANSFER)
      return dce_misuse(e, "each context needs 1 to 16 transfer syntaxes");
    for (k = 0; k < i; k++)
      if (ctx[k].id == ctx[i].id) return dce_misuse(e, "duplicate context id");
    ntrans += (size_t)ctx[i].n_transfer;
    if (ctx[i].id > maxid) maxid = ctx[i].id;
  }
  {
    /* one fragment: 28 bytes, then 24 per context and 20 per transfer */
    size_t plen = 28 + (size_t)total * 24 + (ntrans + (opts->feature_negotiation ? 1u : 0u)) * 20;
    if (plen > 0xffff) return dce_misuse(e, "bind PDU longer than 65535 bytes");
  }
  if (opts->set_sizes && (opts->max_xmit < DCE_MUST_RCV_FRAG || opts->max_recv < DCE_MUST_RCV_FRAG))
    return dce_misuse(e, "max_xmit and max_recv must be at least 1432");
  if (opts->feature_negotiation && maxid == 0xffff)
    return dce_misuse(e, "no context id left for feature negotiation");
  o = op_new(a, alter ? OP_ALTER : OP_BIND);
  if (!o) return no_memory(e);
  o->bind_ctx = malloc((size_t)total * sizeof(dce_ctx_elem) + (ntrans + 1) * sizeof(dce_syntax));
  o->res.bind = calloc(1, sizeof *o->res.bind);
  if (!o->bind_ctx || !o->res.bind) {
    op_unlink(a, o);
    return no_memory(e);
  }
  ts = (dce_syntax *)(void *)((char *)o->bind_ctx + (size_t)total * sizeof(dce_ctx_elem));
  for (i = 0; i < n; i++) {
    o->bind_ctx[i].id = ctx[i].id;
    o->bind_ctx[i].abstract = ctx[i].abstract;
    o->bind_ctx[i].n_transfer = (uint8_t)ctx[i].n_transfer;
    o->bind_ctx[i].transfer = ts;
    for (k = 0; k < ctx[i].n_transfer; k++) *ts++ = ctx[i].transfer[k];
  }
  o->n_user_ctx = n;
  if (opts->feature_negotiation) {
    /* [MS-RPCE] 3.3.1.5.3: an extra context with the first abstract syntax
    ** and the transfer syntax 6cb71c2c-9812-4540-<bitmask LE>-000000000000 */
    uint16_t bits = opts->features ? opts->features
                                   : (DCE_FEATURE_SEC_CTX_MPX | DCE_FEATURE_KEEP_CONN_ON_ORPHAN);
    dce_ctx_elem *c = &o->bind_ctx[n];
    memset(ts, 0, sizeof *ts);
    memcpy(ts->uuid.b, btfn_prefix, 8);
    ts->uuid.b[8] = (uint8_t)bits;
    ts->uuid.b[9] = (uint8_t)(bits >> 8);
    ts->major = 1;
    c->id = (uint16_t)(maxid + 1);
    c->abstract = ctx[0].abstract;
    c->n_transfer = 1;
    c->transfer = ts;
    o->has_btfn = 1;
    o->btfn_ctx_id = c->id;
  }
  dce_pdu_init(&o->bindpdu, alter ? DCE_PT_ALTER : DCE_PT_BIND, o->call_id);
  o->bindpdu.drep[0] = a->drep0;
  if (!alter && opts->conc_mpx) {
    o->bindpdu.flags |= DCE_PFC_CONC_MPX;
    a->conc_mpx_asked = 1;
  }
  o->bindpdu.max_xmit = opts->set_sizes ? opts->max_xmit : a->cfg.max_xmit;
  o->bindpdu.max_recv = opts->set_sizes ? opts->max_recv : a->cfg.max_recv;
  if (!alter) {
    a->cfg.max_xmit = o->bindpdu.max_xmit;
    a->cfg.max_recv = o->bindpdu.max_recv;
  }
  o->bindpdu.assoc_group = alter ? a->info.assoc_group : opts->assoc_group;
  o->bindpdu.n_ctx = (uint8_t)total;
  o->bindpdu.ctx = o->bind_ctx;
  if (!alter && a->bind_auth && op_attach_auth(a, o, 0, e)) {
    /* the first leg of the authentication rides on the bind */
    op_unlink(a, o);
    return -1;
  }
  if (!alter) a->bind_started = 1;
  *call_id = o->call_id;
  return 0;
}

int dce_assoc_add_auth(dce_assoc *a, dce_sec *sec, uint32_t auth_context_id, const dce_pctx *ctx,
                       int n, uint32_t *call_id, dce_err *e) {
  int k;
  op *o;
  if (a->info.dead) return refused_dead(a, e, 0);
  if (!sec) return dce_misuse(e, "no security context given");
  if (!a->bind_ok) return dce_misuse(e, "not bound: a context is added after a successful bind");
  if (a->info.shutdown) return refused_shutdown(e);
  if (auth_context_id == DCE_AUTH_CTX_NONE) return dce_misuse(e, "auth_context_id 0xffffffff is reserved");
  if (a->n_auth >= DCE_MAX_AUTH_CTX)
    return dce_misuse(e, "too many security contexts on this association (%d at most)", DCE_MAX_AUTH_CTX);
  for (k = 0; k < a->n_auth; k++)
    if (a->auth[k].id == auth_context_id) return dce_misuse(e, "auth_context_id already in use on this association");
  /* [MS-RPCE] 3.3.1.5.4: no multiplexing unless the server said it can.
  ** The first context after an anonymous bind is not multiplexing. This is
  ** the server's limit, not the caller's mistake. */
  if (a->n_auth >= 1 && !(a->info.has_features && (a->info.features & DCE_FEATURE_SEC_CTX_MPX)))
    return dce_err_set(e, DCE_E_REFUSED, DCE_RPC_S_CALL_FAILED_DNE, DCE_EXEC_NO,
                       "the server did not acknowledge security context multiplexing "
                       "(bind time feature 0x01): one security context per association");
  if (dce_assoc_bind(a, 1, ctx, n, NULL, call_id, e)) return -1;
  o = a->tail;
  k = a->n_auth;
  a->auth[k].sec = sec;
  a->auth[k].id = auth_context_id;
  a->auth[k].state = ACTX_PENDING;
  a->auth[k].status = 0;
  if (op_attach_auth(a, o, k, e)) {
    a->auth[k].sec = NULL;
    op_unlink(a, o);
    return -1;
  }
  a->n_auth++;
  return 0;
}

int dce_assoc_request(dce_assoc *a, uint16_t ctx_id, uint16_t opnum, const dce_uuid *object,
                      const uint8_t *stub, size_t len, uint32_t *call_id, dce_err *e) {
  op *o;
  if (a->info.dead) return refused_dead(a, e, 1);
  if (!a->bind_started) return dce_misuse(e, "not bound: call bind first");
  if (a->bind_failed) return dce_misuse(e, "the bind failed");
  if (a->info.shutdown) return refused_shutdown(e);
  if (len > 0xffffffffu) return dce_misuse(e, "request stub longer than 4 GiB");
  o = op_new(a, OP_REQUEST);
  if (!o) return no_memory(e);
  o->ctx_id = ctx_id;
  o->opnum = opnum;
  if (object) { o->has_object = 1; o->object = *object; }
  o->stub = stub;
  o->stub_len = len;
  o->actx = a->bind_auth ? 0 : -1;     /* the bind's context unless told otherwise */
  *call_id = o->call_id;
  return 0;
}

int dce_assoc_request_limit(dce_assoc *a, uint32_t call_id, size_t max_response, dce_err *e) {
  op *o = op_find(a, call_id);
  if (!o || o->kind != OP_REQUEST || o->state == DCE_OP_DONE || o->got_first)
    return dce_misuse(e, "not a request still awaiting its reply");
  if (max_response == 0) return dce_misuse(e, "max_response must be at least 1");
  o->res.stub.limit = max_response;
  return 0;
}

int dce_assoc_request_auth(dce_assoc *a, uint32_t call_id, uint32_t auth_context_id, dce_err *e) {
  op *o = op_find(a, call_id);
  int k;
  if (!o || o->kind != OP_REQUEST || o->state != DCE_OP_QUEUED || o->any_queued)
    return dce_misuse(e, "not a request that is still queued");
  if (auth_context_id == DCE_AUTH_CTX_NONE) { o->actx = -1; return 0; }
  for (k = 0; k < a->n_auth; k++) if (a->auth[k].id == auth_context_id) break;
  if (k == a->n_auth)
    return dce_misuse(e, "auth_context_id %u: no security context with that auth_context_id", (unsigned)auth_context_id);
  if (a->auth[k].state == ACTX_FAILED)     /* the peer's answer, not misuse */
    return dce_err_set(e, DCE_E_REFUSED, a->auth[k].status ? a->auth[k].status : DCE_RPC_S_CALL_FAILED_DNE,
                       DCE_EXEC_NO, "security context %u: that security context failed to authenticate",
                       (unsigned)auth_context_id);
  if (a->auth[k].state == ACTX_PENDING) {
    /* still being established: only by an operation queued before this one */
    const op *p;
    for (p = a->head; p && p != o; p = p->next)
      if (p->kind != OP_REQUEST && p->actx == k) break;
    if (!p || p == o)
      return dce_misuse(e, "auth_context_id %u: that security context is added after this request was queued",
                        (unsigned)auth_context_id);
  }
  o->actx = k;
  return 0;
}

/* ------------------------------------------------------------ output */

/* May this queued op start now? Keeps FIFO order: the caller stops at the
** first op that may not. */
static int op_may_start(const dce_assoc *a, const op *o) {
  const op *p;
  for (p = a->head; p && p != o; p = p->next) {
    if (p->state == DCE_OP_DONE || p->abandoned) continue;
    /* something before it is still open */
    if (o->kind != OP_REQUEST) return 0;          /* binds wait for everyone */
    if (p->kind != OP_REQUEST) return 0;          /* requests wait for binds */
    if (p->state == DCE_OP_QUEUED) return 0;      /* keep order */
    if (!a->info.conc_mpx) return 0;              /* one call at a time */
  }
  if (o->kind == OP_REQUEST && !a->bind_ok) return 0;
  return 1;
}

/* Encode p at the end of the output queue; the trace sees it unless the
** caller protects it first (and traces it then). */
static void emit_pdu_raw(dce_assoc *a, dce_pdu *p, int traced) {
  dce_pdu_error e;
  size_t start = a->out.len;
  if (dce_pdu_encode(p, &a->out, &e)) {
    assoc_kill(a, DCE_RPC_S_OUT_OF_MEMORY, e.msg);
    return;
  }
  if (a->trace && traced) a->trace(a->trace_ud, DCE_TRACE_SEND, a->out.p + start, a->out.len - start, NULL);
}

static void emit_pdu(dce_assoc *a, dce_pdu *p) { emit_pdu_raw(a, p, 1); }

/* Keep a copy of n bytes for the trace; NULL when out of memory (the
** trace then goes without the clear text). */
static const uint8_t *trace_copy(dce_buf *tmp, const uint8_t *b, size_t n) {
  dce_buf_reset(tmp);
  return dce_buf_put(tmp, b, n) ? NULL : tmp->p;
}

/* Produce the next fragment of o. */
static void emit_fragment(dce_assoc *a, op *o) {
  dce_pdu p;
  if (!o->any_queued) { o->any_queued = 1; o->out_first = out_queued_end(a); }
  if (o->kind != OP_REQUEST) {
    emit_pdu(a, &o->bindpdu);
    o->state = DCE_OP_WAITING;
    o->out_end = out_queued_end(a);
    return;
  } else {
    size_t hdr = DCE_REQUEST_HDR_LEN + (o->has_object ? 16u : 0u);
    actx *x = op_auth(a, o);
    int protects = x && dce_sec_protects(x->sec);
    /* connect level: no verifier with one context, the dummy one with several */
    size_t sig = protects ? dce_sec_sig_len(x->sec) : (x && a->n_auth > 1 ? sizeof connect_verifier : 0);
    size_t room = (size_t)a->info.max_xmit - hdr - (sig ? DCE_AUTH_TRAILER_LEN + sig : 0);
    size_t left = o->stub_len - o->stub_off, chunk, start;
    static const uint8_t zero_sig[DCE_MECH_MAX_SIG_LEN];
    if (o->stub_off == 0 && x && x->state == ACTX_FAILED) {
      op_finish(a, o, x->status ? x->status : DCE_RPC_S_CALL_FAILED_DNE, DCE_EXEC_NO,
                "security context %u failed to authenticate (request not sent)", (unsigned)x->id);
      return;
    }
    /* keep fragment stubs 8-aligned; with a verifier stub + auth padding
    ** is a multiple of 16 and must fit */
    room &= sig ? ~(size_t)(DCE_AUTH_PAD_ALIGN - 1) : ~(size_t)7;
    chunk = left < room ? left : room;
    dce_pdu_init(&p, DCE_PT_REQUEST, o->call_id);
    p.drep[0] = a->drep0;
    p.flags = 0;
    if (o->stub_off == 0) p.flags |= DCE_PFC_FIRST_FRAG;
    if (chunk == left) p.flags |= DCE_PFC_LAST_FRAG;
    if (o->has_object) { p.flags |= DCE_PFC_OBJECT_UUID; p.object = o->object; }
    p.alloc_hint = (uint32_t)left;
    p.ctx_id = o->ctx_id;
    p.opnum = o->opnum;
    p.stub = o->stub ? o->stub + o->stub_off : NULL;
    p.stub_len = chunk;
    if (sig) {
      p.has_auth = 1;
      p.auth.type = dce_sec_type(x->sec);
      p.auth.level = dce_sec_level(x->sec);
      p.auth.pad_len = (uint8_t)((DCE_AUTH_PAD_ALIGN - chunk % DCE_AUTH_PAD_ALIGN) % DCE_AUTH_PAD_ALIGN);
      p.auth.context_id = x->id;
      p.auth.value = protects ? zero_sig : connect_verifier;
      p.auth.value_len = sig;
    }
    start = a->out.len;
    emit_pdu_raw(a, &p, !protects);
    if (protects && !a->info.dead) {
      const uint8_t *clear = NULL;
      uint32_t st;
      if (a->trace && dce_sec_level(x->sec) == DCE_LEVEL_PRIVACY)
        clear = trace_copy(&a->trace_tmp, a->out.p + start, a->out.len - start);
      st = dce_sec_wrap(x->sec, a->out.p + start, a->out.len - start, hdr, chunk + p.auth.pad_len);
      if (st) {
        char m[96];
        snprintf(m, sizeof m, "cannot sign or seal a request (0x%08x)", (unsigned)st);
        assoc_kill(a, DCE_RPC_S_CALL_FAILED, m);
        return;
      }
      if (a->trace) {
        size_t flen = a->out.len - start;
        if (clear) memcpy(a->trace_tmp.p + flen - sig, a->out.p + a->out.len - sig, sig);  /* the real verifier */
        a->trace(a->trace_ud, DCE_TRACE_SEND, a->out.p + start, flen, clear);
      }
    }
    o->stub_off += chunk;
    if (o->stub_off == o->stub_len) {
      o->state = DCE_OP_WAITING;
      o->out_end = out_queued_end(a);
    } else {
      o->state = DCE_OP_SENDING;
    }
  }
}

static void out_pump(dce_assoc *a) {
  while (!a->info.dead && a->out.len - a->out_off < OUT_LOW_WATER) {
    op *o;
    if (!a->cur) {
      for (o = a->head; o; o = o->next) if (o->state == DCE_OP_QUEUED) break;
      if (!o || !op_may_start(a, o)) return;
      a->cur = o;
    }
    o = a->cur;
    emit_fragment(a, o);
    if (o->state != DCE_OP_SENDING) a->cur = NULL;
  }
}

size_t dce_assoc_out(dce_assoc *a, const uint8_t **p) {
  if (a->out_off == a->out.len) {
    dce_buf_reset(&a->out);
    a->out_off = 0;
  } else if (a->out_off >= OUT_LOW_WATER) {
    /* a transport that takes little at a time: compact so the queue stays
    ** bounded however large the request */
    memmove(a->out.p, a->out.p + a->out_off, a->out.len - a->out_off);
    a->out.len -= a->out_off;
    a->out_off = 0;
  }
  out_pump(a);
  *p = a->out.p + a->out_off;
  return a->out.len - a->out_off;
}

void dce_assoc_sent(dce_assoc *a, size_t n) {
  if (n > a->out.len - a->out_off) n = a->out.len - a->out_off;
  a->out_off += n;
  a->sent += n;
  a->info.bytes_sent = a->sent;
  if (a->out_off == a->out.len) { dce_buf_reset(&a->out); a->out_off = 0; }
}

/* ------------------------------------------------------------ input */

/* ------------------------------------------------------------ auth legs */

/* The exchange of o's context failed. The bind's failure ends the
** association; an added context's only fails that context, unless the
** peer broke the protocol. */
static void auth_fail(dce_assoc *a, op *o, uint32_t status, const char *msg) {
  if (!status) status = DCE_RPC_S_CALL_FAILED;
  if (o->kind == OP_BIND) a->bind_failed = 1;
  op_finish(a, o, status, DCE_EXEC_NO, "%s", msg);
  if (o->kind == OP_BIND || status == DCE_RPC_S_PROTOCOL_ERROR) assoc_kill(a, status, msg);
}

/* The server's auth verifier on a bind_ack / alter_context_resp: check it
** names our context, feed its token. 0 established, 1 continue, -1 failed. */
static int auth_feed(dce_assoc *a, op *o, const dce_pdu *p) {
  actx *x = op_auth(a, o);
  uint32_t st = 0;
  char e[352];
  int r;
  if (!p->has_auth) {
    auth_fail(a, o, DCE_RPC_S_CALL_FAILED, o->kind == OP_BIND
              ? "the server answered the bind without its authentication token"
              : "the server answered the alter_context without its authentication token");
    return -1;
  }
  if (p->auth.type != dce_sec_type(x->sec) || p->auth.context_id != x->id) {
    snprintf(e, sizeof e, "the server's auth verifier names type %u context %u, we use %u / %u",
             p->auth.type, (unsigned)p->auth.context_id, dce_sec_type(x->sec), (unsigned)x->id);
    auth_fail(a, o, DCE_RPC_S_PROTOCOL_ERROR, e);
    return -1;
  }
  /* we always offer header signing; the server's echo settles it */
  if (p->flags & DCE_PFC_SUPPORT_HEADER_SIGN) dce_sec_header_sign(x->sec);
  dce_buf_reset(&o->tok);
  r = dce_sec_step(x->sec, p->auth.value, p->auth.value_len, &o->tok, &st, e, sizeof e);
  if (r < 0) { auth_fail(a, o, st, e); return -1; }
  return r;
}

/* Queue a control-like PDU carrying our next token: auth3 when the
** exchange is over, alter_context when the server must answer. */
static void auth_send(dce_assoc *a, op *o, int alter) {
  actx *x = op_auth(a, o);
  dce_pdu q;
  dce_pdu_init(&q, alter ? DCE_PT_ALTER : DCE_PT_AUTH3, o->call_id);
  q.drep[0] = a->drep0;
  if (alter) {
    q.max_xmit = o->bindpdu.max_xmit;
    q.max_recv = o->bindpdu.max_recv;
    q.assoc_group = a->info.assoc_group;
    q.n_ctx = (uint8_t)o->n_user_ctx;
    q.ctx = o->bind_ctx;
    q.flags |= DCE_PFC_SUPPORT_HEADER_SIGN;
  }
  q.has_auth = 1;
  q.auth.type = dce_sec_type(x->sec);
  q.auth.level = dce_sec_level(x->sec);
  q.auth.context_id = x->id;
  q.auth.value = o->tok.p;
  q.auth.value_len = o->tok.len;
  emit_pdu(a, &q);
}

/* After the bind_ack (or the alter_context_resp of an added context): 0
** when the context is established now, 1 when another leg is out (the op
** stays open), -1 when it failed (op finished). */
static int auth_first_reply(dce_assoc *a, op *o, const dce_pdu *p) {
  int r = auth_feed(a, o, p);
  if (r < 0) return -1;
  if (r == 0) {
    if (o->tok.len) auth_send(a, o, 0);          /* NTLM: AUTHENTICATE in auth3 */
    return 0;
  }
  auth_send(a, o, 1);                            /* SPNEGO: one more round trip */
  o->auth_leg = 1;
  o->res.auth_leg = 1;
  return 1;
}

/* The alter_context_resp (or a refusal) of the extra auth leg. */
static void auth_leg_reply(dce_assoc *a, op *o, const dce_pdu *p) {
  int r;
  if (p->ptype == DCE_PT_BIND_NAK) {
    char m[192];
    snprintf(m, sizeof m, "authentication refused: bind_nak reason %u (%s); %s", p->reject_reason,
             dce_bind_nak_reason_name(p->reject_reason), DCE_AUTH_HINT);
    auth_fail(a, o, 5u /* ERROR_ACCESS_DENIED */, m);
    return;
  }
  if (p->ptype != DCE_PT_ALTER_RESP) {
    proto_error(a, "%s in reply to the authentication alter_context", dce_ptype_name(p->ptype));
    return;
  }
  r = auth_feed(a, o, p);
  if (r < 0) return;
  if (r > 0) {
    /* another round trip: SPNEGO whose server picked another mechanism than
    ** our optimistic one (NTLM after a Kerberos token takes three); bounded,
    ** a server cannot keep us talking */
    if (o->auth_leg >= DCE_CLIENT_MAX_AUTH_LEGS) {
      char m[96];
      snprintf(m, sizeof m, "the authentication goes on for more than %d alter_contexts", DCE_CLIENT_MAX_AUTH_LEGS);
      auth_fail(a, o, DCE_RPC_S_PROTOCOL_ERROR, m);
      return;
    }
    auth_send(a, o, 1);
    o->auth_leg++;
    return;
  }
  if (o->tok.len) auth_send(a, o, 0);            /* a last token: auth3, as after the bind_ack */
  if (o->kind == OP_BIND) {
    a->info.bound = 1;
    a->bind_ok = 1;
  }
  op_finish(a, o, 0, DCE_EXEC_YES, NULL);
}

int dce_assoc_set_auth(dce_assoc *a, dce_sec *sec, uint32_t context_id) {
  if (a->bind_started || a->n_auth || !sec || context_id == DCE_AUTH_CTX_NONE) return -1;
  a->auth[0].sec = sec;
  a->auth[0].id = context_id;
  a->auth[0].state = ACTX_PENDING;
  a->n_auth = 1;
  a->bind_auth = 1;
  return 0;
}

dce_sec *dce_assoc_sec(const dce_assoc *a) { return a->bind_auth ? a->auth[0].sec : NULL; }

int dce_assoc_auth_count(const dce_assoc *a) { return a->n_auth; }

const dce_sec *dce_assoc_auth_get(const dce_assoc *a, int i, uint32_t *auth_context_id, int *state,
                                  uint32_t *status) {
  if (i < 0 || i >= a->n_auth) return NULL;
  if (auth_context_id) *auth_context_id = a->auth[i].id;
  if (state) *state = a->auth[i].state == ACTX_READY ? 1 : a->auth[i].state == ACTX_FAILED ? -1 : 0;
  if (status) *status = a->auth[i].status;
  return a->auth[i].sec;
}

/* A response (or fault) fragment at a protecting level: check the verifier
** and unseal in place before anything uses the stub. -1: the association is
** dead. */
static int auth_refuse(dce_assoc *a, const dce_pdu *p, uint32_t status, const char *m) {
  op *o = op_find(a, p->call_id);
  if (o && o->kind == OP_REQUEST) op_finish(a, o, status, DCE_EXEC_MAYBE, "%s", m);  /* the caller sees why */
  assoc_kill(a, status, m);
  return -1;
}

static int auth_unwrap(dce_assoc *a, const actx *x, dce_pdu *p, uint8_t *frag, size_t len) {
  uint32_t st;
  char m[160];
  if (!p->has_auth) {
    if (p->ptype == DCE_PT_FAULT) return 0;      /* servers send faults unsigned */
    snprintf(m, sizeof m, "unsigned %s for call_id %u at auth level %s", dce_ptype_name(p->ptype),
             (unsigned)p->call_id, dce_sec_level_name(dce_sec_level(x->sec)));
    return auth_refuse(a, p, DCE_RPC_S_PROTOCOL_ERROR, m);
  }
  if (p->auth.type != dce_sec_type(x->sec) || p->auth.level != dce_sec_level(x->sec) ||
      p->auth.context_id != x->id || p->auth.value_len != dce_sec_sig_len(x->sec)) {
    snprintf(m, sizeof m, "%s for call_id %u has auth type %u level %u context %u, we use %u / %u / %u",
             dce_ptype_name(p->ptype), (unsigned)p->call_id, p->auth.type, p->auth.level,
             (unsigned)p->auth.context_id, dce_sec_type(x->sec), dce_sec_level(x->sec), (unsigned)x->id);
    return auth_refuse(a, p, DCE_RPC_S_PROTOCOL_ERROR, m);
  }
  st = dce_sec_unwrap(x->sec, frag, len, (size_t)(p->stub - frag), p->stub_len + p->auth.pad_len);
  if (st) {
    snprintf(m, sizeof m, "%s for call_id %u fails its %s check (%s 0x%08x%s): connection dropped",
             dce_ptype_name(p->ptype), (unsigned)p->call_id,
             dce_sec_level(x->sec) == DCE_LEVEL_PRIVACY ? "seal" : "signature",
             dce_status_name(st) ? dce_status_name(st) : "status", (unsigned)st,
             st == DCE_MECH_E_OUT_OF_SEQUENCE ? ", replayed or reordered" : "");
    return auth_refuse(a, p, st, m);
  }
  return 0;
}

static void handle_bind_reply(dce_assoc *a, op *o, const dce_pdu *p) {
  dce_bind_result *br = o->res.bind;
  int i;
  if (p->ptype == DCE_PT_BIND_NAK) {
    if (o->kind == OP_BIND) a->bind_failed = 1;
    op_finish(a, o, DCE_RPC_S_CALL_FAILED_DNE, DCE_EXEC_NO, "bind_nak: reason %u (%s)",
              p->reject_reason, dce_bind_nak_reason_name(p->reject_reason));
    if (o->kind == OP_BIND) assoc_kill(a, DCE_RPC_S_CALL_FAILED_DNE, "the bind was rejected");
    return;
  }
  if (o->auth_leg) { auth_leg_reply(a, o, p); return; }
  if ((p->ptype == DCE_PT_BIND_ACK) != (o->kind == OP_BIND)) {
    proto_error(a, "%s in reply to %s", dce_ptype_name(p->ptype),
                o->kind == OP_BIND ? "bind" : "alter_context");
    return;
  }
  if ((p->flags & (DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG)) != (DCE_PFC_FIRST_FRAG | DCE_PFC_LAST_FRAG)) {
    proto_error(a, "%s is not a single fragment", dce_ptype_name(p->ptype));
    return;
  }
  if (p->max_xmit < DCE_MUST_RCV_FRAG || p->max_recv < DCE_MUST_RCV_FRAG) {
    if (o->kind == OP_BIND) a->bind_failed = 1;
    proto_error(a, "%s max_xmit_frag %u / max_recv_frag %u below %u", dce_ptype_name(p->ptype),
                p->max_xmit, p->max_recv, DCE_MUST_RCV_FRAG);
    return;
  }
  if (p->n_results != o->bindpdu.n_ctx) {
    proto_error(a, "%s has %u results for %u contexts", dce_ptype_name(p->ptype),
                p->n_results, o->bindpdu.n_ctx);
    return;
  }
  br->max_xmit = p->max_xmit;
  br->max_recv = p->max_recv;
  br->assoc_group = p->assoc_group;
  br->flags = p->flags;
  if (p->sec_addr_len) {
    size_t n = p->sec_addr_len;
    if (n >= sizeof br->sec_addr) n = sizeof br->sec_addr - 1;
    memcpy(br->sec_addr, p->sec_addr, n);
    br->sec_addr[n] = '\0';                    /* also drops the peer's NUL */
  }
  br->n_results = o->n_user_ctx;
  for (i = 0; i < p->n_results; i++) {
    if (o->has_btfn && i == o->n_user_ctx) {
      if (p->results[i].result == DCE_RESULT_NEGOTIATE_ACK) {
        br->has_features = 1;
        br->features = p->results[i].reason;
      }
    } else if (i < o->n_user_ctx) {
      br->results[i] = p->results[i];
    }
  }
  if (o->kind == OP_BIND) {
    /* [MS-RPCE] 3.3.1.5 (fragment sizes): our xmit limit is the server's receive size and
    ** the other way round, never above what we offered. */
    a->info.max_xmit = p->max_recv < o->bindpdu.max_xmit ? p->max_recv : o->bindpdu.max_xmit;
    a->info.max_recv = p->max_xmit < o->bindpdu.max_recv ? p->max_xmit : o->bindpdu.max_recv;
    a->info.assoc_group = p->assoc_group;
    memcpy(a->info.sec_addr, br->sec_addr, sizeof a->info.sec_addr);
    a->info.conc_mpx = a->conc_mpx_asked && (p->flags & DCE_PFC_CONC_MPX);
  }
  if (br->has_features) { a->info.has_features = 1; a->info.features = br->features; }
  if (o->actx >= 0 && auth_first_reply(a, o, p)) return;   /* more legs, or failed */
  if (o->kind == OP_BIND) {
    a->info.bound = 1;
    a->bind_ok = 1;
  }
  op_finish(a, o, 0, DCE_EXEC_YES, NULL);
}

static void handle_response(dce_assoc *a, op *o, const dce_pdu *p) {
  if (o->state == DCE_OP_QUEUED || o->state == DCE_OP_SENDING) {
    proto_error(a, "response for call_id %u before its request was sent", (unsigned)p->call_id);
    return;
  }
  /* Windows and Samba put only the low 8 bits of the context id in responses */
  if (p->ctx_id != o->ctx_id && p->ctx_id != (o->ctx_id & 0xffu)) {
    proto_error(a, "response for call_id %u names context %u, the request used %u",
                (unsigned)p->call_id, p->ctx_id, o->ctx_id);
    return;
  }
  if (p->flags & DCE_PFC_FIRST_FRAG) {
    if (o->got_first) {
      proto_error(a, "second first fragment for call_id %u", (unsigned)p->call_id);
      return;
    }
    o->got_first = 1;
    memcpy(o->res.drep, p->drep, 4);
  } else if (!o->got_first) {
    proto_error(a, "response fragment without a first fragment (call_id %u)", (unsigned)p->call_id);
    return;
  }
  if (o->abandoned) return;                      /* swallowed */
  if (dce_buf_put(&o->res.stub, p->stub, p->stub_len)) {
    int toolarge = o->res.stub.err == DCE_BUF_ELIMIT;
    size_t limit = o->res.stub.limit;            /* dce_buf_free resets it */
    dce_buf_free(&o->res.stub);
    o->abandoned = 1;                            /* swallow the rest */
    if (toolarge)
      op_finish(a, o, DCE_RPC_S_CALL_FAILED, DCE_EXEC_MAYBE,
                "response larger than max_response (%zu bytes); raise max_response in the connect "
                "or call options to accept it", limit);
    else
      op_finish(a, o, DCE_RPC_S_OUT_OF_MEMORY, DCE_EXEC_MAYBE, "out of memory reassembling the response");
    return;
  }
  if (p->flags & DCE_PFC_LAST_FRAG) op_finish(a, o, 0, DCE_EXEC_YES, NULL);
}

/* Statuses with which servers refuse a security context's credentials:
** RPC_S_SEC_PKG_ERROR (Samba), access denied as a fault (5) or a Win32
** error (ERROR_LOGON_FAILURE), SEC_E_LOGON_DENIED, STATUS_LOGON_FAILURE. */
static int auth_refused(uint32_t status) {
  switch (status) {
  case 0x721u: case 5u: case 1326u: case 0x8009030Cu: case 0xC000006Du: return 1;
  default: return 0;
  }
}

static void handle_fault(dce_assoc *a, op *o, const dce_pdu *p) {
  int dne = (p->flags & DCE_PFC_DID_NOT_EXECUTE) != 0;
  const char *nm = dce_status_name(p->status);
  int mid;
  if (o->state == DCE_OP_DONE) return;           /* abandoned: late fault */
  mid = (o->state == DCE_OP_SENDING);
  o->res.fault_status = p->status;
  if (o->kind != OP_REQUEST) {
    /* name the PDU the fault answered (SPNEGO's second leg is an
    ** alter_context even inside a bind), and when a security context was
    ** being set up and the status says "refused", what to check */
    if (o->kind == OP_BIND) a->bind_failed = 1;
    op_finish(a, o, p->status, DCE_EXEC_NO, "fault 0x%08x%s%s in reply to %s%s", (unsigned)p->status,
              nm ? " " : "", nm ? nm : "",
              o->auth_leg ? "the authentication's alter_context"
                          : o->kind == OP_BIND ? "the bind" : "the alter_context",
              o->actx >= 0 && auth_refused(p->status) ? "; " DCE_AUTH_HINT : "");
    if (o->kind == OP_BIND) assoc_kill(a, p->status, "the bind failed with a fault");
    return;
  }
  op_finish(a, o, p->status, (dne || !op_any_sent(a, o)) ? DCE_EXEC_NO : DCE_EXEC_MAYBE,
            "fault 0x%08x%s%s%s", (unsigned)p->status, nm ? " " : "", nm ? nm : "",
            dne ? " (did not execute)" : "");
  if (mid) {
    /* The server gave up while we were still sending: the rest of the
    ** request must not follow. The stream cannot continue mid-call. */
    assoc_kill(a, DCE_RPC_S_CALL_FAILED, "fault before the request was complete");
  }
}

static int handle_pdu(dce_assoc *a, const dce_pdu *p) {
  op *o = op_find(a, p->call_id);
  switch (p->ptype) {
  case DCE_PT_BIND_ACK:
  case DCE_PT_ALTER_RESP:
  case DCE_PT_BIND_NAK:
    if (!o || o->kind == OP_REQUEST || o->state != DCE_OP_WAITING) {
      /* a bind_nak may carry call_id 0 from some peers: match the open bind */
      if (p->ptype == DCE_PT_BIND_NAK) {
        for (o = a->head; o; o = o->next)
          if (o->kind != OP_REQUEST && o->state == DCE_OP_WAITING) break;
      } else {
        o = NULL;
      }
      if (!o) return proto_error(a, "%s for call_id %u that no bind is waiting for",
                                 dce_ptype_name(p->ptype), (unsigned)p->call_id);
    }
    if (o->abandoned) { o->abandoned = 0; if (o->released) op_unlink(a, o); return 0; }
    handle_bind_reply(a, o, p);
    break;
  case DCE_PT_RESPONSE:
    if (!o || o->kind != OP_REQUEST)
      return proto_error(a, "response for call_id %u that was never sent", (unsigned)p->call_id);
    handle_response(a, o, p);
    if (o->abandoned && (p->flags & DCE_PFC_LAST_FRAG)) {
      o->abandoned = 0;
      if (o->released) op_unlink(a, o);
    }
    break;
  case DCE_PT_FAULT:
    if (!o) {
      if (p->call_id == 0) {
        char m[96];
        snprintf(m, sizeof m, "association fault 0x%08x", (unsigned)p->status);
        assoc_kill(a, DCE_RPC_S_CALL_FAILED, m);
        return -1;
      }
      return proto_error(a, "fault for call_id %u that was never sent", (unsigned)p->call_id);
    }
    if (o->abandoned) {
      o->abandoned = 0;
      if (o->released) op_unlink(a, o);
      return 0;
    }
    handle_fault(a, o, p);
    break;
  case DCE_PT_SHUTDOWN:
    /* C706 shutdown: no new calls; the ones in flight may finish */
    a->info.shutdown = 1;
    for (o = a->head; o; o = o->next)
      if (o->state == DCE_OP_QUEUED)
        op_finish(a, o, DCE_RPC_S_CALL_FAILED_DNE, DCE_EXEC_NO, "the server shut the association down");
    break;
  default:
    return proto_error(a, "unexpected %s PDU from the server", dce_ptype_name(p->ptype));
  }
  return a->info.dead ? -1 : 0;
}

int dce_assoc_feed(dce_assoc *a, const uint8_t *b, size_t n) {
  a->info.bytes_received += n;
  if (a->info.dead) return -1;
  while (n > 0 || a->in.len >= DCE_PDU_HDR_LEN) {
    dce_pdu_error e;
    long fl;
    size_t take;
    /* Top up to the 16-byte header, then to the fragment length. */
    if (a->in.len < DCE_PDU_HDR_LEN) {
      take = DCE_PDU_HDR_LEN - a->in.len;
      if (take > n) take = n;
      if (dce_buf_put(&a->in, b, take)) return proto_error(a, "out of memory");
      b += take; n -= take;
      if (a->in.len < DCE_PDU_HDR_LEN) return 0;
    }
    fl = dce_pdu_peek(a->in.p, a->in.len, &e);
    if (fl < 0) return proto_error(a, "%s", e.msg);
    /* the server must not send fragments above our max_recv_frag */
    if (a->info.bound && (size_t)fl > a->info.max_recv)
      return proto_error(a, "fragment of %ld bytes exceeds the negotiated max_recv_frag %u",
                         fl, a->info.max_recv);
    if (a->in.len < (size_t)fl) {
      take = (size_t)fl - a->in.len;
      if (take > n) take = n;
      if (dce_buf_put(&a->in, b, take)) return proto_error(a, "out of memory");
      b += take; n -= take;
      if (a->in.len < (size_t)fl) return 0;
    }
    {
      dce_pdu p;
      int rc = dce_pdu_decode(&p, a->in.p, (size_t)fl, &e), traced = 0;
      if (rc) {
        if (a->trace) a->trace(a->trace_ud, DCE_TRACE_RECV, a->in.p, (size_t)fl, NULL);
        dce_pdu_free(&p);
        return proto_error(a, "%s", e.msg);
      }
      if (p.ptype == DCE_PT_RESPONSE || (p.ptype == DCE_PT_FAULT && p.has_auth)) {
        /* verified with the context of ITS request: each has its own keys,
        ** RC4 state and sequence numbers */
        const op *ro = op_find(a, p.call_id);
        const actx *x = ro && ro->kind == OP_REQUEST ? op_auth(a, ro) : NULL;
        if (x && dce_sec_protects(x->sec)) {
          const uint8_t *wire = NULL;
          int failed;
          if (a->trace) {
            /* the wire bytes before unsealing in place; the clear after */
            wire = trace_copy(&a->trace_tmp, a->in.p, (size_t)fl);
            traced = wire != NULL;
          }
          if (!p.stub) p.stub = a->in.p + (size_t)fl - p.auth_length - DCE_AUTH_TRAILER_LEN - p.auth.pad_len;
          failed = auth_unwrap(a, x, &p, a->in.p, (size_t)fl);
          if (wire)
            a->trace(a->trace_ud, DCE_TRACE_RECV, wire, (size_t)fl,
                     !failed && p.has_auth && p.auth.level == DCE_LEVEL_PRIVACY ? a->in.p : NULL);
          if (failed) { dce_pdu_free(&p); return -1; }
        }
      }
      if (a->trace && !traced) a->trace(a->trace_ud, DCE_TRACE_RECV, a->in.p, (size_t)fl, NULL);
      rc = handle_pdu(a, &p);
      dce_pdu_free(&p);
      dce_buf_reset(&a->in);
      if (rc) return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ cancel, results */

static void emit_control(dce_assoc *a, uint8_t ptype, uint32_t call_id) {
  dce_pdu p;
  dce_pdu_init(&p, ptype, call_id);
  p.drep[0] = a->drep0;
  emit_pdu(a, &p);
}

int dce_assoc_cancel(dce_assoc *a, uint32_t call_id, uint32_t status, const char *msg) {
  op *o = op_find(a, call_id);
  if (!o || o->state == DCE_OP_DONE) return -1;
  if (!msg) msg = "cancelled";
  if (o->state == DCE_OP_QUEUED) {
    op_finish(a, o, status, DCE_EXEC_NO, "%s (request not sent)", msg);
    return 0;
  }
  if (o->kind != OP_REQUEST) {
    /* a bind that never answered leaves the contexts unknown */
    op_finish(a, o, status, DCE_EXEC_NO, "%s", msg);
    assoc_kill(a, status, "bind or alter_context timed out");
    return 0;
  }
  if (!a->info.dead) {
    if (o->state == DCE_OP_SENDING) {
      /* stop mid-request: C706 orphaned tells the server to drop it */
      if (a->cur == o) a->cur = NULL;
      emit_control(a, DCE_PT_ORPHANED, o->call_id);
    } else {
      emit_control(a, DCE_PT_CO_CANCEL, o->call_id);
    }
  }
  o->abandoned = 1;
  op_finish(a, o, status, op_any_sent(a, o) ? DCE_EXEC_MAYBE : DCE_EXEC_NO, "%s", msg);
  return 0;
}

const dce_op_result *dce_assoc_result(const dce_assoc *a, uint32_t call_id) {
  op *o = op_find(a, call_id);
  if (!o) return NULL;
  o->res.state = o->state;
  return &o->res;
}

void dce_assoc_release(dce_assoc *a, uint32_t call_id) {
  op *o = op_find(a, call_id);
  if (!o) return;
  if (o->state != DCE_OP_DONE) dce_assoc_cancel(a, call_id, DCE_RPC_S_CALL_CANCELLED, "released");
  o->released = 1;
  o->stub = NULL;                  /* the caller may drop it now */
  /* An abandoned call whose reply may still come stays to swallow it; a
  ** request half sent must stay until its fragments are out (none follow). */
  if (!o->abandoned || a->info.dead) op_unlink(a, o);
  else dce_buf_free(&o->res.stub);
}

void dce_assoc_take_stub(dce_assoc *a, uint32_t call_id, dce_buf *dst) {
  op *o = op_find(a, call_id);
  dce_buf_init(dst);
  if (!o) return;
  *dst = o->res.stub;
  dce_buf_init(&o->res.stub);
}

void dce_assoc_set_drep(dce_assoc *a, uint8_t drep0) {
  a->drep0 = drep0 == DCE_DREP_BE ? DCE_DREP_BE : DCE_DREP_LE;
}

const dce_assoc_info *dce_assoc_get_info(const dce_assoc *a) { return &a->info; }

void dce_assoc_set_trace(dce_assoc *a, dce_trace_fn fn, void *ud) {
  a->trace = fn;
  a->trace_ud = fn ? ud : NULL;
  if (!fn) dce_buf_free(&a->trace_tmp);
}
int dce_assoc_is_dead(const dce_assoc *a) { return a->info.dead; }

int dce_assoc_busy(const dce_assoc *a) {
  const op *o;
  int n = 0;
  for (o = a->head; o; o = o->next) if (o->state != DCE_OP_DONE) n++;
  return n;
}
