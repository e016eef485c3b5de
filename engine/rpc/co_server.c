/*
** server.c - server associations over a byte stream (see server.h).
**
** Per connection: a header-first fragment reader, the presentation context
** table, and a list of calls in one of three states: REASSEMBLING (request
** fragments arriving), READY (complete, waiting to be handed out) and
** EXECUTING (handed out, waiting for dce_sconn_reply/fault). A call can
** carry a fault decided on its first fragment (unknown context, too many
** calls, PENDING_CANCEL); its later fragments are then counted and
** discarded, and the fault goes out when the last one arrives.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/co_server.h"
#include "rpc/sec.h"
#include "base/status.h"

/* 6cb71c2c-9812-4540-XXXX-...: bind-time feature negotiation ([MS-RPCE]
** 3.3.1.5.3); the first 8 bytes in wire layout, the bitmask in bytes 8..9 */
static const uint8_t btfn_prefix[8] = { 0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45 };
static const uint8_t ndr20_uuid[16] = { 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
                                        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60 };
/* Features we acknowledge: we keep the connection when a call is orphaned,
** and (when the server takes authentication) several security contexts on
** one connection ([MS-RPCE] 3.3.1.5.4). */
#define SRV_FEATURE_SEC_CTX_MPX 0x01u
#define SRV_FEATURE_KEEP_CONN 0x02u

/* ------------------------------------------------------------ types */

typedef struct iface_ent { dce_syntax abstract; void *ud; uint8_t min_level; } iface_ent;

typedef struct group { struct group *next; uint32_t id; int refs; } group;

struct dce_server {
  dce_server_cfg cfg;
  iface_ent *ifaces;
  int n_if, cap_if;
  group *groups;
  int n_groups;
  uint32_t next_group;
  int auth_on;                     /* dce_server_set_auth was called */
  int calls;                       /* calls being reassembled or executing, every connection */
  size_t buffered;                 /* bytes of multi-fragment requests and unsent output */
  dce_acceptor auth;               /* its strings point into auth_names */
  char auth_names[6][1024];        /* domains, computers, keytab, service */
};

enum { C_REASSEMBLING, C_READY, C_EXECUTING };

typedef struct scall {
  struct scall *next;
  dce_scall pub;
  int state;
  int orphaned, cancelled;
  int auth;                        /* index in the connection's auth[], -1: anonymous */
  uint32_t fault_status;           /* decided on the first fragment, 0 = none */
  int fault_dne;
  uint64_t ready_seq;
  size_t wire;                     /* fragment bytes received for this call */
  size_t charged;                  /* stub bytes counted in the server's buffered budget */
  dce_buf stub;
} scall;

typedef struct pctx { uint16_t id; int iface; dce_syntax abstract; } pctx;

/* One security context of a connection, named by its auth_context_id. The
** first usually comes with the bind, others with alter_context; they live
** as long as the connection (calls point at them by index). */
typedef struct sauth {
  dce_sec *sec;
  uint32_t id;
  int failed;                      /* a leg did not verify: calls naming it are refused */
} sauth;

struct dce_sconn {
  dce_server *srv;
  char port[16];
  group *grp;
  uint8_t hdr[DCE_PDU_HDR_LEN];
  size_t hdr_have;
  dce_buf frag;                    /* the fragment being read, header included */
  size_t frag_need;                /* its frag_length, 0 while reading a header */
  dce_buf out;
  size_t out_off;
  pctx *ctx;                       /* grown as binds add contexts (most bind one) */
  int n_ctx, cap_ctx;
  scall *calls;
  uint64_t ready_seq;
  sauth *auth;                     /* security contexts, in the order they were made */
  int n_auth, cap_auth;
  int hdr_sign;                    /* a bind or alter_context offered header signing */
  dce_trace_fn trace;              /* NULL: not traced (the only test on the hot path) */
  void *trace_ud;
  dce_buf trace_tmp;               /* traced: the fragment being handled, as received */
  int trace_pending;               /* ... not yet shown to the hook */
  int trace_hold;                  /* emit: the caller protects the PDU, then traces it */
  dce_sconn_info info;
};

/* ------------------------------------------------------------ server */

dce_server *dce_server_new(const dce_server_cfg *cfg) {
  dce_server *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cfg.max_frag = DCE_SRV_MAX_FRAG;
  s->cfg.max_request = DCE_SRV_MAX_REQUEST;
  s->cfg.max_calls = DCE_SRV_MAX_CALLS;
  s->cfg.max_auth = DCE_SRV_MAX_AUTH;
  s->cfg.max_calls_total = DCE_SRV_MAX_CALLS_TOTAL;
  s->cfg.max_buffered = DCE_SRV_MAX_BUFFERED;
  if (cfg) {
    if (cfg->max_calls_total > 0) s->cfg.max_calls_total = cfg->max_calls_total;
    if (cfg->max_buffered) s->cfg.max_buffered = cfg->max_buffered;
    if (cfg->max_frag) s->cfg.max_frag = cfg->max_frag;
    if (cfg->max_request) s->cfg.max_request = cfg->max_request;
    if (cfg->max_calls > 0) s->cfg.max_calls = cfg->max_calls;
    if (cfg->max_auth > 0) s->cfg.max_auth = cfg->max_auth;
    s->cfg.tag_groups = cfg->tag_groups;
    s->cfg.worker = cfg->worker & 0xffu;
  }
  if (s->cfg.max_frag < DCE_SRV_MIN_FRAG) s->cfg.max_frag = DCE_SRV_MIN_FRAG;
  s->cfg.max_frag = (uint16_t)(s->cfg.max_frag & ~7u);
  s->next_group = 0x5ec1u;
  return s;
}

void dce_server_free(dce_server *s) {
  group *g, *n;
  if (!s) return;
  for (g = s->groups; g; g = n) { n = g->next; free(g); }
  free(s->ifaces);
  free(s);
}

int dce_server_add_iface(dce_server *s, const dce_syntax *abstract, void *ud) {
  int i;
  for (i = 0; i < s->n_if; i++)
    if (!memcmp(s->ifaces[i].abstract.uuid.b, abstract->uuid.b, 16)
        && s->ifaces[i].abstract.major == abstract->major) return -1;
  if (s->n_if == s->cap_if) {
    int n = s->cap_if ? s->cap_if * 2 : 8;
    iface_ent *ni = realloc(s->ifaces, (size_t)n * sizeof *ni);
    if (!ni) return -1;
    s->ifaces = ni;
    s->cap_if = n;
  }
  s->ifaces[s->n_if].abstract = *abstract;
  s->ifaces[s->n_if].ud = ud;
  s->ifaces[s->n_if].min_level = 0;
  s->n_if++;
  return 0;
}

int dce_server_groups(const dce_server *s) { return s->n_groups; }
void dce_server_load(const dce_server *s, int *calls, size_t *buffered) {
  if (calls) *calls = s->calls;
  if (buffered) *buffered = s->buffered;
}

int dce_server_set_auth(dce_server *s, const dce_acceptor *a) {
  const char *src[6];
  int i;
  if (!a || !a->lookup) return -1;
  src[0] = a->nb_domain; src[1] = a->nb_computer; src[2] = a->dns_domain; src[3] = a->dns_computer;
  src[4] = a->keytab; src[5] = a->service;
  for (i = 0; i < 6; i++)
    if (src[i] && strlen(src[i]) >= sizeof s->auth_names[i]) return -1;
  s->auth = *a;
  for (i = 0; i < 6; i++) snprintf(s->auth_names[i], sizeof s->auth_names[i], "%s", src[i] ? src[i] : "");
  s->auth.nb_domain = s->auth_names[0];
  s->auth.nb_computer = s->auth_names[1];
  s->auth.dns_domain = s->auth_names[2];
  s->auth.dns_computer = s->auth_names[3];
  s->auth.keytab = a->keytab ? s->auth_names[4] : NULL;    /* NULL: the default keytab */
  s->auth.service = a->service ? s->auth_names[5] : NULL;
  s->auth_on = 1;
  return 0;
}

int dce_server_iface_min_level(dce_server *s, void *ud, uint8_t level) {
  int i;
  for (i = 0; i < s->n_if; i++)
    if (s->ifaces[i].ud == ud) { s->ifaces[i].min_level = level; return 0; }
  return -1;
}

void dce_server_set_worker(dce_server *s, unsigned worker) {
  s->cfg.worker = worker & 0xffu;
  s->next_group ^= (worker + 1u) * 0x9e3779b9u;   /* forked copies: not the same sequence */
}

static group *group_find(dce_server *s, uint32_t id) {
  group *g;
  for (g = s->groups; g; g = g->next) if (g->id == id) return g;
  return NULL;
}

int dce_server_has_group(const dce_server *s, uint32_t id) {
  const group *g;
  for (g = s->groups; g; g = g->next) if (g->id == id) return 1;
  return 0;
}

static group *group_new(dce_server *s) {
  group *g = calloc(1, sizeof *g);
  uint32_t id;
  if (!g) return NULL;
  /* not guessable by counting; tagged: the worker index in the top 8 bits
  ** and a nonzero low 24 (every id nonzero, unique within the worker) */
  do {
    s->next_group = s->next_group * 1103515245u + 12345u;
    id = s->next_group;
    if (s->cfg.tag_groups) id = (s->cfg.worker << 24) | ((id >> 4) & 0xffffffu);
  } while (id == 0 || (s->cfg.tag_groups && (id & 0xffffffu) == 0) || group_find(s, id));
  g->id = id;
  g->next = s->groups;
  s->groups = g;
  s->n_groups++;
  return g;
}

static void group_unref(dce_server *s, group *g) {
  group **pp;
  if (!g || --g->refs > 0) return;
  for (pp = &s->groups; *pp; pp = &(*pp)->next)
    if (*pp == g) { *pp = g->next; free(g); s->n_groups--; return; }
}

/* ------------------------------------------------------------ connection */

dce_sconn *dce_sconn_new(dce_server *s, const char *port) {
  dce_sconn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->srv = s;
  c->info.user = c->info.domain = "";
  snprintf(c->port, sizeof c->port, "%s", port ? port : "");
  dce_buf_init(&c->frag);
  c->frag.limit = 0xffff;
  dce_buf_init(&c->out);
  dce_buf_init(&c->trace_tmp);
  return c;
}

static void call_free(dce_server *s, scall *k) {
  s->calls--;
  s->buffered -= k->charged;
  dce_buf_free(&k->stub);
  free(k);
}

void dce_sconn_free(dce_sconn *c) {
  scall *k, *n;
  int i;
  if (!c) return;
  for (i = 0; i < c->n_auth; i++) dce_sec_free(c->auth[i].sec);
  free(c->auth);
  for (k = c->calls; k; k = n) { n = k->next; call_free(c->srv, k); }
  c->srv->buffered -= c->out.len - c->out_off;
  group_unref(c->srv, c->grp);
  dce_buf_free(&c->frag);
  dce_buf_free(&c->out);
  dce_buf_free(&c->trace_tmp);
  free(c->ctx);
  free(c);
}

static scall *call_find(dce_sconn *c, uint32_t id) {
  scall *k;
  for (k = c->calls; k; k = k->next) if (k->pub.call_id == id) return k;
  return NULL;
}

static void call_remove(dce_sconn *c, scall *k) {
  scall **pp;
  for (pp = &c->calls; *pp; pp = &(*pp)->next)
    if (*pp == k) {
      *pp = k->next;
      if (k->state == C_EXECUTING) c->info.executing--;
      if (k->state == C_REASSEMBLING) c->info.reassembling--;
      call_free(c->srv, k);
      return;
    }
}

static void closing(dce_sconn *c, const char *why) {
  if (c->info.closing) return;
  c->info.closing = 1;
  snprintf(c->info.why, sizeof c->info.why, "%s", why);
}

/* ------------------------------------------------------------ output */

/* The trace sees the fragment being handled (as received; `clear`: the
** same unsealed) before anything it causes to be sent. */
static void trace_recv(dce_sconn *c, const uint8_t *clear) {
  if (!c->trace_pending) return;
  c->trace_pending = 0;
  c->trace(c->trace_ud, DCE_TRACE_RECV, c->trace_tmp.p, c->trace_tmp.len, clear);
}

static void emit(dce_sconn *c, dce_pdu *p) {
  dce_pdu_error e;
  size_t before = c->out.len;
  if (c->trace) trace_recv(c, NULL);
  if (dce_pdu_encode(p, &c->out, &e)) closing(c, e.msg);
  if (c->out.len > before) {
    c->srv->buffered += c->out.len - before;   /* output is counted until sent */
    if (c->trace && !c->trace_hold)
      c->trace(c->trace_ud, DCE_TRACE_SEND, c->out.p + before, c->out.len - before, NULL);
  }
}

static void emit_fault(dce_sconn *c, uint32_t call_id, uint16_t ctx_id, uint32_t status, int dne) {
  dce_pdu p;
  dce_pdu_init(&p, DCE_PT_FAULT, call_id);
  if (dne) p.flags |= DCE_PFC_DID_NOT_EXECUTE;
  p.alloc_hint = 24;               /* as Windows and Samba: never 0 */
  p.ctx_id = ctx_id;
  p.status = status;
  emit(c, &p);
}

static void emit_nak(dce_sconn *c, uint32_t call_id, uint16_t reason) {
  static const uint8_t v50[2] = { 5, 0 }, pad3[3] = { 0, 0, 0 };
  dce_pdu p;
  dce_pdu_init(&p, DCE_PT_BIND_NAK, call_id);
  p.reject_reason = reason;
  p.n_versions = 1;
  p.versions = v50;
  p.stub = pad3;                   /* Windows pads the nak to a multiple of 4 */
  p.stub_len = 3;
  emit(c, &p);
}

/* A protocol error on an alter_context: fault it (it did not execute), then close. */
static int alter_fault(dce_sconn *c, uint32_t call_id, uint32_t status, const char *why) {
  emit_fault(c, call_id, 0, status, 1);
  closing(c, why);
  return -1;
}

/* A protocol error on a request: fault it, then close. */
static int proto_fault(dce_sconn *c, uint32_t call_id, uint32_t status, const char *why) {
  emit_fault(c, call_id, 0, status, 0);
  closing(c, why);
  return -1;
}

static pctx *ctx_find(dce_sconn *c, uint16_t id);

/* A protocol error on a request fragment: the fault names the fragment's
** presentation context when it is bound (as Windows does), then close. */
static int req_fault(dce_sconn *c, const dce_pdu *p, uint32_t status, const char *why) {
  const scall *k = call_find(c, p->call_id);
  uint16_t ctx = k && k->state == C_REASSEMBLING ? k->pub.ctx_id : ctx_find(c, p->ctx_id) ? p->ctx_id : 0;
  emit_fault(c, p->call_id, ctx, status, 0);
  closing(c, why);
  return -1;
}

size_t dce_sconn_out(dce_sconn *c, const uint8_t **p) {
  if (!c->out.p) { *p = (const uint8_t *)""; return 0; }   /* no NULL + 0 */
  *p = c->out.p + c->out_off;
  return c->out.len - c->out_off;
}

void dce_sconn_sent(dce_sconn *c, size_t n) {
  if (n > c->out.len - c->out_off) n = c->out.len - c->out_off;
  c->out_off += n;
  c->srv->buffered -= n;
  if (c->out_off == c->out.len) {
    /* drained: an idle connection keeps no buffer (docs/limits.md, memory per
    ** connection); the next answer allocates one */
    c->out_off = 0;
    dce_buf_free(&c->out);
  } else if (c->out_off > 65536 && c->out_off > c->out.len / 2) {
    memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
    c->out.len -= c->out_off;
    c->out_off = 0;
  }
}

/* ------------------------------------------------------------ bind / alter */

static int syntax_eq(const dce_syntax *a, const dce_syntax *b) {
  return !memcmp(a->uuid.b, b->uuid.b, 16) && a->major == b->major && a->minor == b->minor;
}

static int find_iface(const dce_server *s, const dce_syntax *a) {
  int i;
  for (i = 0; i < s->n_if; i++)
    if (!memcmp(s->ifaces[i].abstract.uuid.b, a->uuid.b, 16)
        && s->ifaces[i].abstract.major == a->major && a->minor <= s->ifaces[i].abstract.minor)
      return i;
  return -1;
}

static pctx *ctx_find(dce_sconn *c, uint16_t id) {
  int i;
  for (i = 0; i < c->n_ctx; i++) if (c->ctx[i].id == id) return &c->ctx[i];
  return NULL;
}

/* Fragment size both ways: min(client's xmit, client's recv), at least 2048,
** at most our maximum, a multiple of 8 (docs/limits.md case 4). */
static uint16_t negotiate_frag(const dce_server *s, uint16_t xmit, uint16_t recv) {
  unsigned v = xmit < recv ? xmit : recv;
  if (v < DCE_SRV_MIN_FRAG) v = DCE_SRV_MIN_FRAG;
  if (v > s->cfg.max_frag) v = s->cfg.max_frag;
  return (uint16_t)(v & ~7u);
}

static void one_context(dce_sconn *c, const dce_ctx_elem *e, dce_result *r) {
  int k, ifx;
  memset(r, 0, sizeof *r);
  for (k = 0; k < 1 && k < e->n_transfer; k++) {       /* only the first counts ([MS-RPCE] 3.3.1.5.3) */
    if (!memcmp(e->transfer[k].uuid.b, btfn_prefix, 8) && e->transfer[k].major == 1) {
      uint16_t bits = (uint16_t)(e->transfer[k].uuid.b[8] | (e->transfer[k].uuid.b[9] << 8));
      r->result = DCE_RESULT_NEGOTIATE_ACK;
      r->reason = (uint16_t)(bits & (SRV_FEATURE_KEEP_CONN | (c->srv->auth_on ? SRV_FEATURE_SEC_CTX_MPX : 0u)));
      c->info.features = r->reason;
      return;
    }
  }
  r->result = DCE_RESULT_PROVIDER_REJECTION;
  ifx = find_iface(c->srv, &e->abstract);
  if (ifx < 0) { r->reason = DCE_PROV_ABSTRACT_NOT_SUPPORTED; return; }
  for (k = 0; k < e->n_transfer; k++)
    if (!memcmp(e->transfer[k].uuid.b, ndr20_uuid, 16) && e->transfer[k].major == 2
        && e->transfer[k].minor == 0) break;
  if (k == e->n_transfer) { r->reason = DCE_PROV_TRANSFER_NOT_SUPPORTED; return; }
  {
    pctx *x = ctx_find(c, e->id);
    if (x) {
      /* a context id is bound once; naming it again with another syntax is refused */
      if (!syntax_eq(&x->abstract, &e->abstract)) { r->reason = DCE_PROV_LOCAL_LIMIT_EXCEEDED; return; }
    } else {
      if (c->n_ctx >= DCE_SRV_MAX_CTX) { r->reason = DCE_PROV_LOCAL_LIMIT_EXCEEDED; return; }
      if (c->n_ctx == c->cap_ctx) {
        int cap = c->cap_ctx ? 2 * c->cap_ctx : 2;
        pctx *nx = realloc(c->ctx, (size_t)cap * sizeof *nx);
        if (!nx) { r->reason = DCE_PROV_LOCAL_LIMIT_EXCEEDED; return; }
        c->ctx = nx;
        c->cap_ctx = cap;
      }
      x = &c->ctx[c->n_ctx++];
      x->id = e->id;
      x->iface = ifx;
      x->abstract = e->abstract;
      c->info.n_ctx = c->n_ctx;
    }
  }
  r->result = DCE_RESULT_ACCEPTANCE;
  r->reason = 0;
  r->transfer = e->transfer[k];
}

/* ------------------------------------------------------------ auth legs */

static sauth *auth_find(dce_sconn *c, uint32_t id) {
  int i;
  for (i = 0; i < c->n_auth; i++) if (c->auth[i].id == id) return &c->auth[i];
  return NULL;
}

/* A new security context for the verifier of p (a bind or alter_context
** naming an auth_context_id not seen before). NULL with a message, and the
** bind_nak reason in *reason, when it cannot be made. */
static sauth *auth_new(dce_sconn *c, const dce_pdu *p, uint16_t *reason, char *why, size_t n) {
  dce_server *s = c->srv;
  dce_sec *sec;
  /* the level is judged before the type (reason 0 before reason 8), as Windows */
  *reason = DCE_NAK_NOT_SPECIFIED;
  if (p->auth.level < DCE_LEVEL_CONNECT || p->auth.level > DCE_LEVEL_PRIVACY) {
    snprintf(why, n, "%s with auth level %u", dce_ptype_name(p->ptype), p->auth.level);
    return NULL;
  }
  *reason = DCE_NAK_AUTH_TYPE;
  if (!s->auth_on) { snprintf(why, n, "%s with auth: the server takes no authentication", dce_ptype_name(p->ptype)); return NULL; }
  if (!dce_sec_type_supported(p->auth.type, 1)) {
    snprintf(why, n, "%s with auth type %u (%s): not supported", dce_ptype_name(p->ptype), p->auth.type,
             dce_sec_type_name(p->auth.type));
    return NULL;
  }
  *reason = DCE_NAK_LOCAL_LIMIT_EXCEEDED;
  if (c->n_auth >= s->cfg.max_auth) {
    snprintf(why, n, "more than %d security contexts on one connection", s->cfg.max_auth);
    return NULL;
  }
  if (c->n_auth == c->cap_auth) {
    int nc = c->cap_auth ? c->cap_auth * 2 : 2;
    sauth *na = realloc(c->auth, (size_t)nc * sizeof *na);
    if (!na) { snprintf(why, n, "out of memory"); return NULL; }
    c->auth = na;
    c->cap_auth = nc;
  }
  *reason = DCE_NAK_NOT_SPECIFIED;
  sec = dce_sec_server_new(p->auth.type, p->auth.level, &s->auth, why, n);
  if (!sec) return NULL;
  /* header signing is the connection's (see hdr_sign_offer) */
  if (c->hdr_sign) dce_sec_header_sign(sec);
  c->auth[c->n_auth].sec = sec;
  c->auth[c->n_auth].id = p->auth.context_id;
  c->auth[c->n_auth].failed = 0;
  c->info.n_auth = ++c->n_auth;
  return &c->auth[c->n_auth - 1];
}

/* Does the verifier of p name x with its type and level? */
static int auth_matches(const sauth *x, const dce_pdu *p) {
  return p->auth.type == dce_sec_type(x->sec) && p->auth.level == dce_sec_level(x->sec)
         && p->auth.context_id == x->id;
}

static int auth_usable(const sauth *x) { return !x->failed && dce_sec_established(x->sec); }

/* Feed the token of p to x; our answer (possibly empty) goes to tok. 0 when
** the context is established now, 1 when another leg must come, -1 failed
** (x is marked failed). */
static int auth_leg(dce_sconn *c, sauth *x, const dce_pdu *p, dce_buf *tok, char *why, size_t n) {
  uint32_t st;
  int r = dce_sec_step(x->sec, p->auth.value, p->auth.value_len, tok, &st, why, n);
  if (r < 0) x->failed = 1;
  if (r == 0 && !c->info.auth_type) {
    /* the connection's info shows the first context established */
    const char *u, *d;
    c->info.auth_type = dce_sec_type(x->sec);
    c->info.auth_level = dce_sec_level(x->sec);
    dce_sec_peer_user(x->sec, &u, &d, NULL);
    c->info.user = u ? u : "";          /* owned by x->sec, which lives as long as c */
    c->info.domain = d ? d : "";
  }
  return r;
}

/* auth3: the last leg of NTLM, for the context it names. No answer; a
** failure refuses every later call naming that context. */
static int do_auth3(dce_sconn *c, const dce_pdu *p) {
  dce_buf tok;
  char why[150];
  sauth *x = p->has_auth ? auth_find(c, p->auth.context_id) : NULL;
  if (!c->info.bound || !x || dce_sec_established(x->sec) || x->failed) {
    closing(c, "auth3 out of place");
    return -1;
  }
  if (!auth_matches(x, p)) {
    x->failed = 1;
    closing(c, "auth3 changes the auth type or level");
    return -1;
  }
  dce_buf_init(&tok);
  if (auth_leg(c, x, p, &tok, why, sizeof why) != 0 || tok.len) x->failed = 1;   /* auth3 gets no answer */
  dce_buf_free(&tok);
  return 0;
}

/* Header signing belongs to the connection, as Windows and Samba have it
** (raw_protocol's krb5_hdr_sign_delayed tests): the first bind or
** alter_context that carries PFC_SUPPORT_HEADER_SIGN, with or without a
** security trailer, turns it on for every security context, those already
** established and those made later. An auth3 does not (it never gets here). */
static void hdr_sign_offer(dce_sconn *c, const dce_pdu *p) {
  int i;
  if (!(p->flags & DCE_PFC_SUPPORT_HEADER_SIGN) || c->hdr_sign) return;
  c->hdr_sign = 1;
  for (i = 0; i < c->n_auth; i++) dce_sec_header_sign(c->auth[i].sec);
}

static int do_bind(dce_sconn *c, const dce_pdu *p) {
  int alter = p->ptype == DCE_PT_ALTER, i, rc, with_auth = 0;
  dce_result res[256];
  dce_pdu a;
  dce_buf tok;
  sauth *x = NULL;
  char why[150];
  dce_buf_init(&tok);
  if (alter && !c->info.bound) { closing(c, "alter_context before bind"); return -1; }
  if (!alter && c->info.bound) { emit_nak(c, p->call_id, DCE_NAK_NOT_SPECIFIED); closing(c, "second bind on a connection"); return -1; }
  {
    /* A context list that cannot be right is a protocol error (as Windows
    ** answers): none at all, a context without transfer syntaxes, two
    ** feature-negotiation contexts, a context id bound again to another
    ** abstract syntax. */
    const char *bad = p->n_ctx == 0 ? "no presentation contexts" : NULL;
    int nbtfn = 0;
    for (i = 0; i < p->n_ctx && !bad; i++) {
      const dce_ctx_elem *e = &p->ctx[i];
      pctx *old = ctx_find(c, e->id);
      if (e->n_transfer == 0) bad = "a presentation context without transfer syntaxes";
      else if (!memcmp(e->transfer[0].uuid.b, btfn_prefix, 8) && ++nbtfn > 1) bad = "two bind-time feature contexts";
      else if (old && !syntax_eq(&old->abstract, &e->abstract)) bad = "a context id bound again to another syntax";
    }
    if (bad) {
      if (alter) return alter_fault(c, p->call_id, DCE_NCA_S_PROTO_ERROR, bad);
      emit_nak(c, p->call_id, DCE_NAK_NOT_SPECIFIED);
      closing(c, bad);
      return -1;
    }
  }
  hdr_sign_offer(c, p);
  if (!alter) {
    if (p->has_auth) {
      uint16_t reason;
      x = auth_new(c, p, &reason, why, sizeof why);
      if (!x || auth_leg(c, x, p, &tok, why, sizeof why) < 0) {
        dce_buf_free(&tok);
        emit_nak(c, p->call_id, x ? DCE_NAK_NOT_SPECIFIED : reason);
        closing(c, why);
        return -1;
      }
      with_auth = 1;
    }
    if (p->assoc_group) {
      c->grp = group_find(c->srv, p->assoc_group);
      if (!c->grp) {
        dce_buf_free(&tok);
        emit_nak(c, p->call_id, DCE_NAK_NOT_SPECIFIED); closing(c, "unknown association group"); return -1;
      }
    } else {
      c->grp = group_new(c->srv);
      if (!c->grp) {
        dce_buf_free(&tok);
        emit_nak(c, p->call_id, DCE_NAK_LOCAL_LIMIT_EXCEEDED); closing(c, "out of memory"); return -1;
      }
    }
    c->grp->refs++;
    c->info.assoc_group = c->grp->id;
    c->info.max_xmit = c->info.max_recv = negotiate_frag(c->srv, p->max_xmit, p->max_recv);
    c->info.conc_mpx = (p->flags & DCE_PFC_CONC_MPX) != 0;
    c->info.bound = 1;
  } else {
    if (p->has_auth) {
      /* a leg of a context being made, or a new context ([MS-RPCE]
      ** 3.3.1.5.4); an established one cannot be redone (docs/limits.md case 13) */
      x = auth_find(c, p->auth.context_id);
      if (x) {
        if (!auth_matches(x, p) || x->failed || dce_sec_established(x->sec)) {
          x->failed = 1;
          return alter_fault(c, p->call_id, DCE_NCA_S_FAULT_ACCESS_DENIED,
                             "alter_context changes or redoes an established security context");
        }
      } else {
        uint16_t reason;
        x = auth_new(c, p, &reason, why, sizeof why);
        if (!x) {
          /* over the limit: proto_error, did not execute (docs/limits.md case 18, as Windows) */
          return alter_fault(c, p->call_id, reason == DCE_NAK_LOCAL_LIMIT_EXCEEDED ? DCE_NCA_S_PROTO_ERROR
                                                 : DCE_NCA_S_FAULT_ACCESS_DENIED, why);
        }
      }
      if (auth_leg(c, x, p, &tok, why, sizeof why) < 0) {
        dce_buf_free(&tok);
        return alter_fault(c, p->call_id, DCE_RPC_S_SEC_PKG_ERROR, why);
      }
      with_auth = 1;
    }
  }
  for (i = 0; i < p->n_ctx; i++) one_context(c, &p->ctx[i], &res[i]);
  dce_pdu_init(&a, alter ? DCE_PT_ALTER_RESP : DCE_PT_BIND_ACK, p->call_id);
  if (c->info.conc_mpx && !alter) a.flags |= DCE_PFC_CONC_MPX;
  /* header signing: echoed whenever the client offers it (with NTLM's
  ** extended session security the whole fragment is signed anyway) */
  if (p->flags & DCE_PFC_SUPPORT_HEADER_SIGN) a.flags |= DCE_PFC_SUPPORT_HEADER_SIGN;
  a.max_xmit = c->info.max_xmit;
  a.max_recv = c->info.max_recv;
  a.assoc_group = c->info.assoc_group;
  if (!alter) {
    a.sec_addr = (const uint8_t *)c->port;
    a.sec_addr_len = (uint16_t)(strlen(c->port) + 1);
  }
  a.n_results = p->n_ctx;
  a.results = res;
  if (with_auth) {
    {
      /* always a trailer, even with an empty token (the last NTLM leg
      ** sent in an alter_context): Windows and Samba answer so */
      a.has_auth = 1;
      a.auth.type = dce_sec_type(x->sec);
      a.auth.level = dce_sec_level(x->sec);
      a.auth.context_id = x->id;
      a.auth.value = tok.p;
      a.auth.value_len = tok.len;
    }
  }
  emit(c, &a);
  dce_buf_free(&tok);
  rc = c->info.closing ? -1 : 0;
  return rc;
}

/* ------------------------------------------------------------ requests */

static int do_request(dce_sconn *c, const dce_pdu *p) {
  const dce_server_cfg *cfg = &c->srv->cfg;
  int first = (p->flags & DCE_PFC_FIRST_FRAG) != 0, last = (p->flags & DCE_PFC_LAST_FRAG) != 0;
  scall *k = call_find(c, p->call_id), *inc = NULL, *o;
  sauth *x = NULL;
  int total = 0;
  if (!c->info.bound) return req_fault(c, p, DCE_NCA_S_PROTO_ERROR, "request before bind");
  for (o = c->calls; o; o = o->next) {
    total++;
    if (o->state == C_REASSEMBLING) inc = o;      /* at most one (below) */
  }
  if (k && k->state != C_REASSEMBLING) k = NULL;  /* executing: not a fragment target */
  /* The security context: the first fragment names it (or none: anonymous,
  ** unless the only context is at the connect level, [MS-RPCE] 3.3.1.5.4);
  ** later fragments belong to their call's context whatever their trailer
  ** says (CVE-2021-23192), and are verified with it. The faults and their
  ** order follow Windows as Samba's raw_protocol tests pin it down. */
  if (first) {
    int unknown = 0;
    if (p->has_auth) unknown = !(x = auth_find(c, p->auth.context_id));
    else if (c->n_auth == 1 && dce_sec_level(c->auth[0].sec) == DCE_LEVEL_CONNECT && auth_usable(&c->auth[0]))
      x = &c->auth[0];
    if (inc) {
      /* one fragmented call at a time: the fault goes to the call in
      ** progress (its call_id and context) unless calls are multiplexed */
      uint32_t st = DCE_NCA_S_PROTO_ERROR;
      sauth *kx = k && k->auth >= 0 ? &c->auth[k->auth] : NULL;
      if (k && (unknown || x != kx) && p->has_auth && k->pub.ctx_id == p->ctx_id) st = DCE_RPC_S_SEC_PKG_ERROR;
      if (!c->info.conc_mpx) emit_fault(c, inc->pub.call_id, inc->pub.ctx_id, st, 0);
      else emit_fault(c, p->call_id, k ? k->pub.ctx_id : 0, st, 0);
      closing(c, k ? "a first fragment for a call in progress" : "new call while a fragmented call is incomplete");
      return -1;
    }
    if (call_find(c, p->call_id)) return req_fault(c, p, DCE_NCA_S_PROTO_ERROR, "call_id already in use");
    if (p->has_auth) {
      if (x && !x->failed && !dce_sec_established(x->sec)) {
        emit_fault(c, p->call_id, 0, DCE_NCA_S_PROTO_ERROR, 1);
        closing(c, "request on a security context still being made");
        return -1;
      }
      if (!x || !auth_usable(x))
        return req_fault(c, p, DCE_NCA_S_FAULT_ACCESS_DENIED,
                         "request names an unknown or failed security context");
      if (!auth_matches(x, p)) {
        x->failed = 1;
        return req_fault(c, p, DCE_NCA_S_FAULT_ACCESS_DENIED,
                         "request changes the auth type or level of its security context");
      }
    }
  } else {
    if (!k) {
      if (!c->info.conc_mpx && inc) emit_fault(c, inc->pub.call_id, inc->pub.ctx_id, DCE_NCA_S_PROTO_ERROR, 0);
      else if (c->info.conc_mpx && !inc && !ctx_find(c, p->ctx_id)) {
        emit_fault(c, p->call_id, 0, DCE_NCA_S_UNK_IF, 1);      /* the connection lives on */
        return 0;
      } else {
        /* multiplexed, nothing incomplete: a trailer naming no usable context
        ** is refused as such (access denied), anything else is out of order */
        int mpx = c->info.conc_mpx && !inc;
        sauth *nx = mpx && p->has_auth ? auth_find(c, p->auth.context_id) : NULL;
        uint32_t st = mpx && p->has_auth && (!nx || !auth_matches(nx, p)) ? DCE_NCA_S_FAULT_ACCESS_DENIED
                                                                        : DCE_NCA_S_PROTO_ERROR;
        emit_fault(c, p->call_id, mpx ? p->ctx_id : 0, st, 0);
      }
      closing(c, "request fragment of no call in progress");
      return -1;
    }
    if (memcmp(p->drep, k->pub.drep, 4)) {
      emit_fault(c, k->pub.call_id, k->pub.ctx_id, DCE_NCA_S_PROTO_ERROR, 1);
      closing(c, "a later fragment changes the data representation");
      return -1;
    }
    if (k->auth >= 0) x = &c->auth[k->auth];
    if (x && dce_sec_protects(x->sec) && !p->has_auth)
      return req_fault(c, p, DCE_NCA_S_PROTO_ERROR, "a later fragment lacks its call's verifier");
    if (!x && p->has_auth)
      return req_fault(c, p, DCE_NCA_S_FAULT_ACCESS_DENIED, "a verifier on a later fragment of an anonymous call");
  }
  if (x && dce_sec_protects(x->sec)) {
    uint32_t st = p->auth.value_len == dce_sec_sig_len(x->sec) ? 0 : DCE_MECH_E_MESSAGE_ALTERED;
    if (!st) st = dce_sec_unwrap(x->sec, c->frag.p, c->frag.len, (size_t)(p->stub - c->frag.p), p->stub_len + p->auth.pad_len);
    if (c->trace && !st && dce_sec_level(x->sec) == DCE_LEVEL_PRIVACY) trace_recv(c, c->frag.p);
    if (st) {
      char why[128];
      snprintf(why, sizeof why, "request fragment fails its %s check (%s 0x%08x%s)",
               dce_sec_level(x->sec) == DCE_LEVEL_PRIVACY ? "seal" : "signature",
               dce_status_name(st) ? dce_status_name(st) : "status", (unsigned)st,
               st == DCE_MECH_E_OUT_OF_SEQUENCE ? ", replayed or reordered" : "");
      return req_fault(c, p, DCE_RPC_S_SEC_PKG_ERROR, why);
    }
  }
  /* a connect-level context's verifier carries nothing to check */
  if (first) {
    if (!last && p->alloc_hint > cfg->max_request)   /* a whole request in one fragment: its hint says nothing */
      return req_fault(c, p, DCE_NCA_S_FAULT_ACCESS_DENIED, "alloc_hint beyond the request limit");
    k = calloc(1, sizeof *k);
    if (!k) return req_fault(c, p, DCE_NCA_S_FAULT_REMOTE_NO_MEMORY, "out of memory");
    c->srv->calls++;
    c->info.reassembling++;
    dce_buf_init(&k->stub);
    k->stub.limit = cfg->max_request;
    k->pub.call_id = p->call_id;
    k->pub.ctx_id = p->ctx_id;
    k->pub.opnum = p->opnum;
    k->pub.has_object = p->has_object;
    k->pub.object = p->object;
    memcpy(k->pub.drep, p->drep, 4);
    k->state = C_REASSEMBLING;
    k->auth = x ? (int)(x - c->auth) : -1;
    if (x) {
      k->pub.auth_type = dce_sec_type(x->sec);
      k->pub.auth_level = dce_sec_level(x->sec);
      k->pub.auth_context_id = x->id;
      dce_sec_peer_user(x->sec, &k->pub.user, &k->pub.domain, NULL);
    }
    {
      pctx *px = ctx_find(c, p->ctx_id);
      if (p->flags & DCE_PFC_PENDING_CANCEL) {
        k->fault_status = DCE_NCA_S_NO_CALL_ACTIVE; k->fault_dne = 1;
      } else if (!px) {
        k->fault_status = DCE_NCA_S_UNK_IF; k->fault_dne = 1;
      } else if (total >= cfg->max_calls || (c->srv->calls > cfg->max_calls_total && total > 0)) {
        /* over the server-wide budget a connection with nothing in flight
        ** still gets its one call: a client calling one at a time is never
        ** starved by another holding the budget (limits.md case 27) */
        k->fault_status = DCE_NCA_S_SERVER_TOO_BUSY; k->fault_dne = 1;
      } else if (c->srv->ifaces[px->iface].min_level > k->pub.auth_level) {
        k->fault_status = DCE_NCA_S_FAULT_ACCESS_DENIED; k->fault_dne = 1;   /* limits.md case 14 */
      } else {
        k->pub.iface = c->srv->ifaces[px->iface].ud;
        k->pub.abstract = px->abstract;
      }
    }
    k->next = c->calls;
    c->calls = k;
  }
  /* caps: the reassembled stub, and the fragments themselves (empty
  ** fragments add no stub but must not be free) */
  k->wire += p->frag_length;
  if (p->stub_len > cfg->max_request - k->stub.len || k->wire > 2 * cfg->max_request + 65536) {
    call_remove(c, k);
    return req_fault(c, p, DCE_NCA_S_FAULT_ACCESS_DENIED, "request larger than the limit");
  }
  /* a request in more than one fragment is held in the server-wide budget;
  ** over it the call is refused as too busy (did not execute) and the rest
  ** of its fragments are read and dropped (limits.md case 28) */
  if (!k->fault_status && !(first && last)) {
    if (p->stub_len > cfg->max_buffered - (c->srv->buffered < cfg->max_buffered ? c->srv->buffered : cfg->max_buffered)) {
      k->fault_status = DCE_NCA_S_SERVER_TOO_BUSY;
      k->fault_dne = 1;
      c->srv->buffered -= k->charged;
      k->charged = 0;
      dce_buf_free(&k->stub);
    } else {
      c->srv->buffered += p->stub_len;
      k->charged += p->stub_len;
    }
  }
  if (!k->fault_status && dce_buf_put(&k->stub, p->stub, p->stub_len)) {
    call_remove(c, k);
    return req_fault(c, p, DCE_NCA_S_FAULT_REMOTE_NO_MEMORY, "out of memory");
  }
  if (last) {
    if (k->fault_status) {
      emit_fault(c, k->pub.call_id, k->fault_status == DCE_NCA_S_UNK_IF ? 0 : k->pub.ctx_id, k->fault_status, k->fault_dne);
      call_remove(c, k);
    } else {
      c->info.reassembling--;
      k->state = C_READY;
      k->ready_seq = ++c->ready_seq;
      k->pub.stub = k->stub.p ? k->stub.p : (const uint8_t *)"";
      k->pub.stub_len = k->stub.len;
    }
  }
  return c->info.closing ? -1 : 0;
}

static void do_cancel(dce_sconn *c, const dce_pdu *p) {
  scall *k = call_find(c, p->call_id);
  if (!k) return;                  /* idle or finished: nothing to do */
  if (p->ptype == DCE_PT_ORPHANED) {
    if (k->state == C_EXECUTING) k->orphaned = 1;
    else call_remove(c, k);        /* never handed out: forget it */
  } else {
    k->cancelled = 1;              /* advisory: the handler may look */
  }
}

/* ------------------------------------------------------------ input */

/* One whole fragment in c->frag: decode and act on it. */
static int handle_one(dce_sconn *c) {
  dce_pdu p;
  dce_pdu_error e;
  int rc = 0;
  if (dce_pdu_decode(&p, c->frag.p, c->frag.len, &e)) {
    char why[160];
    snprintf(why, sizeof why, "bad PDU: %s", e.msg);
    if (c->frag.p[2] == DCE_PT_BIND && !c->info.bound) {
      /* a bind we cannot read: bind_nak, as [MS-RPCE] 2.2.2.5 and Windows */
      emit_nak(c, dce_ld32(c->frag.p + 12, (c->frag.p[4] & DCE_DREP_LE) != 0), DCE_NAK_PROTOCOL_VERSION);
      closing(c, why);
      rc = -1;
    } else if (c->frag.p[2] == DCE_PT_ALTER && c->info.bound) {
      rc = alter_fault(c, dce_ld32(c->frag.p + 12, (c->frag.p[4] & DCE_DREP_LE) != 0), DCE_NCA_S_PROTO_ERROR, why);
    } else if (c->frag.p[2] == DCE_PT_REQUEST && c->info.bound) {
      int le = (c->frag.p[4] & DCE_DREP_LE) != 0;
      rc = proto_fault(c, dce_ld32(c->frag.p + 12, le), DCE_NCA_S_PROTO_ERROR, why);
    } else {
      closing(c, why);
      rc = -1;
    }
    dce_pdu_free(&p);
    return rc;
  }
  switch (p.ptype) {
  case DCE_PT_BIND: case DCE_PT_ALTER: rc = do_bind(c, &p); break;
  case DCE_PT_REQUEST: rc = do_request(c, &p); break;
  case DCE_PT_CO_CANCEL: case DCE_PT_ORPHANED: do_cancel(c, &p); break;
  case DCE_PT_AUTH3: rc = do_auth3(c, &p); break;
  default: {
    char why[80];
    snprintf(why, sizeof why, "unexpected %s PDU", dce_ptype_name(p.ptype));
    closing(c, why);
    rc = -1;
  }
  }
  dce_pdu_free(&p);
  return rc;
}

static int handle_fragment(dce_sconn *c) {
  int rc;
  c->info.pdus_in++;
  if (!c->trace) return handle_one(c);
  dce_buf_reset(&c->trace_tmp);
  c->trace_pending = dce_buf_put(&c->trace_tmp, c->frag.p, c->frag.len) == 0;
  rc = handle_one(c);
  trace_recv(c, NULL);             /* nothing was sent and it was not unsealed */
  return rc;
}

int dce_sconn_feed(dce_sconn *c, const uint8_t *b, size_t n) {
  while (n > 0) {
    size_t take;
    if (c->info.closing) return -1;
    if (c->frag_need == 0) {
      long fl;
      dce_pdu_error e;
      size_t limit;
      take = DCE_PDU_HDR_LEN - c->hdr_have;
      if (take > n) take = n;
      memcpy(c->hdr + c->hdr_have, b, take);
      c->hdr_have += take; b += take; n -= take;
      if (c->hdr_have < DCE_PDU_HDR_LEN) break;
      fl = dce_pdu_peek(c->hdr, DCE_PDU_HDR_LEN, &e);
      if (fl < 0) { char why[160]; snprintf(why, sizeof why, "bad PDU header: %s", e.msg); closing(c, why); return -1; }
      limit = c->info.bound ? c->info.max_recv : c->srv->cfg.max_frag;   /* limits.md case 3 */
      if ((size_t)fl > limit) {
        int le = (c->hdr[4] & DCE_DREP_LE) != 0;
        if (c->hdr[2] == DCE_PT_REQUEST && c->info.bound)
          return proto_fault(c, dce_ld32(c->hdr + 12, le), DCE_NCA_S_PROTO_ERROR,
                             "fragment larger than max_recv_frag");
        closing(c, "fragment larger than max_recv_frag");
        return -1;
      }
      dce_buf_reset(&c->frag);
      if (dce_buf_put(&c->frag, c->hdr, DCE_PDU_HDR_LEN)) { closing(c, "out of memory"); return -1; }
      c->frag_need = (size_t)fl;
      c->hdr_have = 0;
    }
    take = c->frag_need - c->frag.len;
    if (take > n) take = n;
    if (dce_buf_put(&c->frag, b, take)) { closing(c, "out of memory"); return -1; }
    b += take; n -= take;
    if (c->frag.len == c->frag_need) {
      c->frag_need = 0;
      if (handle_fragment(c)) return -1;
      /* more input in hand: keep the buffer for the next fragment; else an
      ** idle connection holds none */
      if (n > 0) dce_buf_reset(&c->frag);
      else { dce_buf_free(&c->frag); c->frag.limit = 0xffff; }
    }
  }
  return c->info.closing ? -1 : 0;
}

/* ------------------------------------------------------------ calls */

const dce_scall *dce_sconn_next_call(dce_sconn *c) {
  scall *k, *best = NULL;
  if (c->info.closing) return NULL;
  for (k = c->calls; k; k = k->next)
    if (k->state == C_READY && (!best || k->ready_seq < best->ready_seq)) best = k;
  if (!best) return NULL;
  best->state = C_EXECUTING;
  c->info.executing++;
  return &best->pub;
}

int dce_sconn_call_alive(const dce_sconn *c, uint32_t call_id) {
  const scall *k;
  for (k = c->calls; k; k = k->next)
    if (k->pub.call_id == call_id) return k->state == C_EXECUTING && !k->orphaned && !k->cancelled;
  return 0;
}

static scall *executing(dce_sconn *c, uint32_t call_id) {
  scall *k = call_find(c, call_id);
  return (k && k->state == C_EXECUTING) ? k : NULL;
}

int dce_sconn_reply(dce_sconn *c, uint32_t call_id, const uint8_t *stub, size_t len) {
  scall *k = executing(c, call_id);
  size_t chunk, off = 0, sig;
  dce_sec *sec;
  if (!k) return -1;
  if (k->orphaned || c->info.closing) { call_remove(c, k); return 0; }
  /* a reply longer than one fragment must fit the server-wide budget: over
  ** it the call faults (it ran: executed "maybe" to the client) rather than
  ** the server holding more than it may (limits.md case 28) */
  if (len > c->info.max_xmit && len > c->srv->cfg.max_buffered - (c->srv->buffered < c->srv->cfg.max_buffered ? c->srv->buffered : c->srv->cfg.max_buffered)) {
    emit_fault(c, call_id, k->pub.ctx_id, DCE_NCA_S_FAULT_REMOTE_NO_MEMORY, 0);
    call_remove(c, k);
    return 0;
  }
  /* stub bytes per fragment: what max_xmit leaves after the header,
  ** a multiple of 8 so every fragment but the last keeps NDR alignment */
  sec = k->auth >= 0 ? c->auth[k->auth].sec : NULL;       /* replies go under the request's context */
  sig = sec && dce_sec_protects(sec) ? dce_sec_sig_len(sec) : 0;
  if (sig) chunk = ((size_t)c->info.max_xmit - DCE_RESPONSE_HDR_LEN - DCE_AUTH_TRAILER_LEN - sig)
                   & ~(size_t)(DCE_AUTH_PAD_ALIGN - 1);
  else chunk = ((size_t)c->info.max_xmit - DCE_RESPONSE_HDR_LEN) & ~(size_t)7;
  do {
    dce_pdu p;
    static const uint8_t zero_sig[DCE_MECH_MAX_SIG_LEN];
    size_t n = len - off < chunk ? len - off : chunk, start = c->out.len;
    dce_pdu_init(&p, DCE_PT_RESPONSE, call_id);
    p.flags = (uint8_t)((off == 0 ? DCE_PFC_FIRST_FRAG : 0) | (off + n == len ? DCE_PFC_LAST_FRAG : 0));
    p.alloc_hint = (uint32_t)(len - off);
    p.ctx_id = k->pub.ctx_id & 0xffu;   /* Windows and Samba answer with the low 8 bits */
    p.stub = stub + off;
    p.stub_len = n;
    if (sig) {
      p.has_auth = 1;
      p.auth.type = dce_sec_type(sec);
      p.auth.level = dce_sec_level(sec);
      p.auth.pad_len = (uint8_t)((DCE_AUTH_PAD_ALIGN - n % DCE_AUTH_PAD_ALIGN) % DCE_AUTH_PAD_ALIGN);
      p.auth.context_id = k->pub.auth_context_id;
      p.auth.value = zero_sig;
      p.auth.value_len = sig;
    }
    c->trace_hold = sig != 0;
    emit(c, &p);
    c->trace_hold = 0;
    if (sig && !c->info.closing) {
      const uint8_t *clear = NULL;
      if (c->trace && dce_sec_level(sec) == DCE_LEVEL_PRIVACY) {
        dce_buf_reset(&c->trace_tmp);
        if (!dce_buf_put(&c->trace_tmp, c->out.p + start, c->out.len - start)) clear = c->trace_tmp.p;
      }
      if (dce_sec_wrap(sec, c->out.p + start, c->out.len - start, DCE_RESPONSE_HDR_LEN, n + p.auth.pad_len)) {
        closing(c, "cannot sign or seal a response");
      } else if (c->trace) {
        size_t flen = c->out.len - start;
        if (clear) memcpy(c->trace_tmp.p + flen - sig, c->out.p + c->out.len - sig, sig);  /* the real verifier */
        c->trace(c->trace_ud, DCE_TRACE_SEND, c->out.p + start, flen, clear);
      }
    }
    off += n;
  } while (off < len && !c->info.closing);
  call_remove(c, k);
  return 0;
}

int dce_sconn_fault(dce_sconn *c, uint32_t call_id, uint32_t status, int did_not_execute) {
  scall *k = executing(c, call_id);
  if (!k) return -1;
  if (!k->orphaned && !c->info.closing) emit_fault(c, call_id, k->pub.ctx_id, status, did_not_execute);
  call_remove(c, k);
  return 0;
}

int dce_sconn_should_close(const dce_sconn *c) { return c->info.closing; }

size_t dce_sconn_partial(const dce_sconn *c) { return c->frag_need ? c->frag.len : c->hdr_have; }

const dce_sconn_info *dce_sconn_get_info(const dce_sconn *c) { return &c->info; }

void *dce_sconn_ctx_iface(dce_sconn *c, uint16_t ctx_id) {
  const pctx *px = ctx_find(c, ctx_id);
  return px ? c->srv->ifaces[px->iface].ud : NULL;
}

void dce_sconn_set_trace(dce_sconn *c, dce_trace_fn fn, void *ud) {
  c->trace = fn;
  c->trace_ud = fn ? ud : NULL;
  c->trace_pending = 0;
  if (!fn) dce_buf_free(&c->trace_tmp);
}
