/*
** smb_client.c - an SMB 2/3 client session and named pipes on it (see
** smb_client.h).
**
** The session is a state machine fed by frames read from the socket:
**   [NBSS session request] -> NEGOTIATE -> SESSION_SETUP legs -> TREE_CONNECT
**   IPC$ -> ready; each pipe then sends CREATE and, open, WRITEs what the
**   association gives it and keeps one READ outstanding while its driver
**   wants to read.
** Requests get consecutive message ids and spend credits; every response
** grants some back, and a request waits (the transport says AGAIN) while
** none are left. Responses are matched to requests by message id; an
** interim STATUS_PENDING only marks the request as async.
**
** Sharing the socket: whichever pipe reads it dispatches every frame to its
** owner. Each pipe answers poll with an epoll fd of its own holding the
** socket and an eventfd that is set when another pipe's read delivered data
** to it, so a coroutine waiting on one pipe wakes even when the bytes for
** it were read on behalf of another.
*/
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* The wait set of each pipe (see above) is an epoll fd; the client-only
** build, which has no event loop of its own and no epoll, waits on the
** socket itself: one waiter at a time, which is all a blocking caller is. */
#if defined(__linux__) && !defined(DCERPC_CLIENT_ONLY)
#define SMB_WAITSET 1
#include <sys/epoll.h>
#include <sys/eventfd.h>
#else
#define SMB_WAITSET 0
#endif
#include "base/crypto.h"
#include "base/status.h"
#include "base/utf16.h"
#include "smb/smb2.h"
#include "smb/smb_crypt.h"
#include "smb/nbss.h"
#include "smb/smb_client.h"

#define MAX_OPS        256          /* requests in flight on one session */
#define CREDITS_WANTED 64           /* credits we try to hold */
#define OUT_HIGH       (256u * 1024u)   /* queued output beyond which send says AGAIN */
#define PIPE_IO_MAX    65536u       /* one READ or WRITE on a pipe */
#define DEFAULT_FRAME  (256u * 1024u)

enum { ST_NBSS, ST_NEGOTIATE, ST_SESSION, ST_TREE, ST_READY, ST_DEAD };
enum { P_WAIT_TREE, P_OPENING, P_OPEN, P_FAILED, P_CLOSED };

typedef struct smb_pipe smb_pipe;

typedef struct smb_op {
  uint64_t mid;
  uint16_t cmd;
  uint8_t used, interim;
  smb_pipe *pipe;
} smb_op;

struct smb_pipe {
  dce_transport t;                 /* first: a pipe is a transport */
  dce_smb *s;
  smb_pipe *next;
  int state;
  uint32_t status;                 /* why it failed */
  uint8_t fid[16];
  char name[128];
  dce_buf in;                      /* data read, not yet taken */
  size_t in_off;
  int reading;                     /* a READ or a transceive is outstanding */
  /* DCE/RPC PDUs in each direction, to read only while an answer is due:
  ** replies expected (requests, binds, alter_contexts written whole) and
  ** the fragment being received (its header so far, bytes still to come) */
  uint32_t expect;
  uint8_t rx_hdr[10];
  size_t rx_hdr_len, rx_left;
  uint64_t transceives;
  int compounded;                  /* its CREATE went with the TREE_CONNECT */
  dce_buf tx;                      /* the fragment of the transceive in flight, to
                                      send again as a WRITE if the server has none */
  int epfd, evfd;                  /* what poll answers; set by other pipes' reads */
  unsigned ep_events;              /* socket interest registered in epfd */
  int signalled;
};

struct dce_smb {
  dce_transport *sock;
  int sockfd;
  int state;
  uint32_t dead_status;
  char dead_msg[200];
  smb_pipe *pipes;
  smb_pipe *current;               /* the pipe whose call is reading the socket */
  int drained;                     /* the socket had nothing more since the last poll */
  int refs;
  /* configuration */
  char *server, *nbss_called, *nbss_calling;
  char *user, *domain, *workstation, *password, *target;
  char *ccache, *client_keytab;    /* Kerberos: where the ticket comes from */
  int kerberos;                    /* dce_cred.kerberos (SPNEGO offers Kerberos) */
  uint8_t nt_hash[16];
  int has_hash, ntlmv1;
  const dce_mech *mech;
  void *mctx;
  uint16_t min_dialect, max_dialect;
  int want_signing, want_encrypt;
  uint16_t ciphers[4];
  int n_ciphers;
  size_t max_frame;
  /* negotiated */
  uint16_t dialect, server_secmode, cipher, sign_algo;
  uint32_t server_caps, max_read, max_write, max_transact;
  uint8_t client_guid[16], server_guid[16];
  uint32_t client_caps;
  uint16_t client_secmode;
  int validating, sign_next;
  int no_transceive;               /* the server refused FSCTL_PIPE_TRANSCEIVE once */       /* 3.0/3.0.2: FSCTL_VALIDATE_NEGOTIATE_INFO in flight */
  uint64_t session_id;
  uint32_t tree_id;
  uint16_t session_flags;
  int signing, encrypting, guest, anonymous;
  dce_smb_crypt crypt;             /* keys in OpenSSL contexts, once set up */
  uint8_t app_key[16];
  int have_keys;
  uint8_t preauth[DCE_SMB2_PREAUTH_SIZE];   /* 3.1.1: the connection's, then the session's */
  /* message ids and credits */
  uint64_t next_mid;
  uint32_t credits;
  smb_op ops[MAX_OPS];
  int n_ops;
  /* bytes */
  dce_buf out;
  size_t out_off;
  dce_buf in;
  size_t in_off;
  dce_buf scratch;                 /* building one message */
  uint64_t sent, received;
};

static void pipe_wake(smb_pipe *p);
static void open_waiting_pipes(dce_smb *s);
static void fail_status(char *buf, size_t n, const char *what, uint32_t st);

/* ------------------------------------------------------------ failures */

static void set_dead(dce_smb *s, uint32_t status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void set_dead(dce_smb *s, uint32_t status, const char *fmt, ...) {
  va_list ap;
  smb_pipe *p;
  if (s->state == ST_DEAD) return;
  s->state = ST_DEAD;
  s->dead_status = status;
  va_start(ap, fmt);
  vsnprintf(s->dead_msg, sizeof s->dead_msg, fmt, ap);
  va_end(ap);
  for (p = s->pipes; p; p = p->next) {
    if (p->state != P_FAILED && p->state != P_CLOSED) {
      p->state = P_FAILED;
      p->status = status;
      snprintf(p->t.errmsg, sizeof p->t.errmsg, "%.159s", s->dead_msg);
    }
    pipe_wake(p);
  }
}

static void pipe_fail(smb_pipe *p, uint32_t status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void pipe_fail(smb_pipe *p, uint32_t status, const char *fmt, ...) {
  va_list ap;
  if (p->state == P_FAILED || p->state == P_CLOSED) return;
  p->state = P_FAILED;
  p->status = status;
  va_start(ap, fmt);
  vsnprintf(p->t.errmsg, sizeof p->t.errmsg, fmt, ap);
  va_end(ap);
  pipe_wake(p);
}

/* ------------------------------------------------------------ output */

static size_t out_pending(const dce_smb *s) { return s->out.len - s->out_off; }

/* Write what is queued; 0, or -1 when the socket failed (session dead). */
static int flush(dce_smb *s) {
  while (out_pending(s)) {
    long r = s->sock->ops->send(s->sock, s->out.p + s->out_off, out_pending(s));
    if (r == DCE_T_AGAIN) break;
    if (r < 0) {
      set_dead(s, SMB2_STATUS_CONNECTION_DISCONNECTED, "SMB connection to %s: %s", s->sock->peer, s->sock->errmsg);
      return -1;
    }
    s->out_off += (size_t)r;
    s->sent += (uint64_t)r;
  }
  if (s->out_off == s->out.len) { s->out.len = 0; s->out_off = 0; }
  else if (s->out_off > 65536 && s->out_off * 2 > s->out.len) {
    memmove(s->out.p, s->out.p + s->out_off, out_pending(s));
    s->out.len -= s->out_off;
    s->out_off = 0;
  }
  return 0;
}

static smb_op *op_find(dce_smb *s, uint64_t mid) {
  int i;
  for (i = 0; i < MAX_OPS; i++) if (s->ops[i].used && s->ops[i].mid == mid) return &s->ops[i];
  return NULL;
}

/* Credits a request of `payload` bytes costs ([MS-SMB2] 3.2.4.1.5). */
static uint16_t charge_of(const dce_smb *s, size_t payload) {
  if (s->dialect == SMB2_DIALECT_202 || !(s->server_caps & SMB2_GLOBAL_CAP_LARGE_MTU)) return 1;
  return (uint16_t)(payload ? (payload - 1) / 65536 + 1 : 1);
}

static int can_send(const dce_smb *s, size_t payload) {
  return s->state != ST_DEAD && s->n_ops < MAX_OPS && s->credits >= charge_of(s, payload);
}

/* Start a request in s->scratch: its header. The body follows. */
static void req_begin(dce_smb *s, uint16_t cmd) {
  dce_buf_reset(&s->scratch);
  smb2_hdr_put(&s->scratch, cmd, 0, 0, 0, 0,
               cmd >= SMB2_CREATE ? s->tree_id : 0, cmd == SMB2_NEGOTIATE ? 0 : s->session_id);
}

/* Send the request built in s->scratch (payload: the bytes it reads or
** writes, for the credit charge). Fills in message id, credits, signs or
** encrypts, frames it and queues it. 0, or -1 (session dead). */
/* A request in s->scratch: where its header starts, the pipe it is for, the
** bytes it reads or writes (for the credit charge). */
typedef struct req_part { size_t at; smb_pipe *pipe; size_t payload; } req_part;

/* Send the n requests built one after the other in s->scratch as one frame
** (a compound chain when n > 1: each but the last is padded to 8 bytes and
** points at the next with NextCommand). Each gets its message id and
** credits and is signed on its own; an encrypted session encrypts the whole
** chain in one TRANSFORM_HEADER. 0, or -1 (session dead). */
static int req_send_parts(dce_smb *s, const req_part *parts, int n) {
  dce_buf *m = &s->scratch;
  size_t framed_at, len;
  uint32_t charge_all = 0;
  int i, k, free_ops = 0, encrypt;
  if (m->err) { set_dead(s, SMB2_STATUS_NO_MEMORY, "out of memory"); return -1; }
  for (k = 0; k < n; k++) charge_all += charge_of(s, parts[k].payload);
  for (i = 0; i < MAX_OPS; i++) if (!s->ops[i].used) free_ops++;
  if (s->credits < charge_all) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "the server granted no credits: SMB2 %s cannot be sent",
             smb2_command_name(dce_ld16(m->p + parts[0].at + 12, 1)));
    return -1;
  }
  if (free_ops < n) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "internal: request without a slot");
    return -1;
  }
  encrypt = s->encrypting && dce_ld16(m->p + parts[0].at + 12, 1) > SMB2_SESSION_SETUP;
  for (k = 0; k < n; k++) {
    uint8_t *h = m->p + parts[k].at;
    size_t mlen = (k + 1 < n ? parts[k + 1].at : m->len) - parts[k].at;
    uint16_t cmd = dce_ld16(h + 12, 1), charge = charge_of(s, parts[k].payload);
    uint32_t want = s->credits < CREDITS_WANTED ? CREDITS_WANTED - s->credits + charge : charge;
    smb_op *op = NULL;
    for (i = 0; i < MAX_OPS; i++) if (!s->ops[i].used) { op = &s->ops[i]; break; }
    if (k + 1 < n) dce_st32(h + 20, (uint32_t)mlen, 1);
    if (s->dialect != SMB2_DIALECT_202 && s->dialect) dce_st16(h + 6, charge, 1);
    dce_st16(h + 14, (uint16_t)(want > 512 ? 512 : want), 1);
    dce_st64(h + 24, s->next_mid, 1);
    op->used = 1;
    op->interim = 0;
    op->mid = s->next_mid;
    op->cmd = cmd;
    op->pipe = parts[k].pipe;
    s->n_ops++;
    s->next_mid += charge ? charge : 1;
    s->credits -= charge;
    /* 3.1.1 pre-authentication integrity: the NEGOTIATE request (before the
    ** dialect is known) and every SESSION_SETUP request */
    if (cmd == SMB2_NEGOTIATE || (cmd == SMB2_SESSION_SETUP && s->dialect == SMB2_DIALECT_311))
      { dce_span v = { h, mlen }; dce_smb_preauth_update(s->preauth, &v, 1); }
    /* signed: everything on a signing session, and in 3.1.1 the TREE_CONNECT
    ** of any authenticated one ([MS-SMB2] 3.2.4.1.1) */
    if (!encrypt && cmd != SMB2_NEGOTIATE && cmd != SMB2_SESSION_SETUP &&
        (s->signing || s->sign_next || (cmd == SMB2_TREE_CONNECT && s->have_keys && s->dialect == SMB2_DIALECT_311))) {
      if (dce_smb_sign(&s->crypt, h, mlen, 1)) {
        set_dead(s, SMB2_STATUS_NO_MEMORY, "SMB signing failed");
        return -1;
      }
    }
  }
  /* frame: 4-byte length (direct TCP and NBSS session message alike) */
  len = encrypt ? m->len + DCE_SMB2_TRANSFORM_SIZE : m->len;
  framed_at = s->out.len;
  if (dce_buf_reserve(&s->out, 4 + len)) { set_dead(s, SMB2_STATUS_NO_MEMORY, "out of memory"); return -1; }
  s->out.p[framed_at] = 0;
  s->out.p[framed_at + 1] = (uint8_t)(len >> 16);
  s->out.p[framed_at + 2] = (uint8_t)(len >> 8);
  s->out.p[framed_at + 3] = (uint8_t)len;
  if (encrypt) {
    uint8_t *dst = s->out.p + framed_at + 4;
    memcpy(dst + DCE_SMB2_TRANSFORM_SIZE, m->p, m->len);
    if (dce_smb_encrypt(&s->crypt, s->session_id, dst, dst + DCE_SMB2_TRANSFORM_SIZE, m->len)) {
      set_dead(s, SMB2_STATUS_NO_MEMORY, "SMB encryption failed");
      return -1;
    }
  } else {
    memcpy(s->out.p + framed_at + 4, m->p, m->len);
  }
  s->out.len = framed_at + 4 + len;
  return 0;
}

static int req_send(dce_smb *s, smb_pipe *p, size_t payload) {
  req_part one;
  one.at = 0; one.pipe = p; one.payload = payload;
  return req_send_parts(s, &one, 1);
}

/* ------------------------------------------------------------ requests */

static int send_negotiate(dce_smb *s) {
  static const uint16_t all[] = { SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
                                  SMB2_DIALECT_302, SMB2_DIALECT_311 };
  dce_buf *b = &s->scratch;
  size_t body, i, nd = 0, ctx_at;
  int offer311 = 0;
  req_begin(s, SMB2_NEGOTIATE);
  body = b->len;
  dce_buf_zero(b, 36);
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (all[i] < s->min_dialect || all[i] > s->max_dialect) continue;
    dce_buf_u16(b, all[i], 1);
    nd++;
    if (all[i] == SMB2_DIALECT_311) offer311 = 1;
  }
  if (b->err) return -1;
  dce_st16(b->p + body, 36, 1);
  dce_st16(b->p + body + 2, (uint16_t)nd, 1);
  s->client_secmode = (uint16_t)(SMB2_NEGOTIATE_SIGNING_ENABLED |
                                 (s->want_signing ? SMB2_NEGOTIATE_SIGNING_REQUIRED : 0));
  s->client_caps = s->max_dialect >= SMB2_DIALECT_300 ? SMB2_GLOBAL_CAP_ENCRYPTION | SMB2_GLOBAL_CAP_LARGE_MTU
                                                      : SMB2_GLOBAL_CAP_LARGE_MTU;
  dce_st16(b->p + body + 4, s->client_secmode, 1);
  dce_st32(b->p + body + 8, s->client_caps, 1);
  memcpy(b->p + body + 12, s->client_guid, 16);
  if (offer311) {
    uint8_t salt[32];
    size_t c, n = 0;
    dce_random_bytes(salt, sizeof salt);
    dce_buf_align(b, 8, 0);
    ctx_at = b->len;
    dce_st32(b->p + body + 28, (uint32_t)ctx_at, 1);
    /* preauth integrity: SHA-512 and a salt */
    dce_buf_u16(b, SMB2_PREAUTH_INTEGRITY_CAPABILITIES, 1);
    dce_buf_u16(b, 6 + sizeof salt, 1);
    dce_buf_u32(b, 0, 1);
    dce_buf_u16(b, 1, 1);
    dce_buf_u16(b, sizeof salt, 1);
    dce_buf_u16(b, SMB2_PREAUTH_SHA512, 1);
    dce_buf_put(b, salt, sizeof salt);
    n++;
    /* ciphers in our order */
    dce_buf_align(b, 8, 0);
    dce_buf_u16(b, SMB2_ENCRYPTION_CAPABILITIES, 1);
    dce_buf_u16(b, (uint16_t)(2 + 2 * s->n_ciphers), 1);
    dce_buf_u32(b, 0, 1);
    dce_buf_u16(b, (uint16_t)s->n_ciphers, 1);
    for (c = 0; c < (size_t)s->n_ciphers; c++) dce_buf_u16(b, s->ciphers[c], 1);
    n++;
    /* signing algorithms: GMAC, CMAC, HMAC-SHA256 */
    dce_buf_align(b, 8, 0);
    dce_buf_u16(b, SMB2_SIGNING_CAPABILITIES, 1);
    dce_buf_u16(b, 2 + 2 * 3, 1);
    dce_buf_u32(b, 0, 1);
    dce_buf_u16(b, 3, 1);
    dce_buf_u16(b, DCE_SMB2_SIGN_AES_GMAC, 1);
    dce_buf_u16(b, DCE_SMB2_SIGN_AES_CMAC, 1);
    dce_buf_u16(b, DCE_SMB2_SIGN_HMAC_SHA256, 1);
    n++;
    if (b->err) return -1;
    dce_st16(b->p + body + 32, (uint16_t)n, 1);
  }
  return req_send(s, NULL, 0);
}

static int send_session_setup(dce_smb *s, const dce_buf *token) {
  dce_buf *b = &s->scratch;
  size_t body;
  req_begin(s, SMB2_SESSION_SETUP);
  body = b->len;
  dce_buf_zero(b, 24);
  if (b->err) return -1;
  dce_st16(b->p + body, 25, 1);
  b->p[body + 3] = (uint8_t)(SMB2_NEGOTIATE_SIGNING_ENABLED |
                                (s->want_signing ? SMB2_NEGOTIATE_SIGNING_REQUIRED : 0));
  dce_st32(b->p + body + 4, 0, 1);          /* Capabilities: DFS not used */
  dce_st16(b->p + body + 12, (uint16_t)(body + 24), 1);
  dce_st16(b->p + body + 14, (uint16_t)token->len, 1);
  dce_buf_put(b, token->p, token->len);
  return req_send(s, NULL, 0);
}

/* UTF-16LE of a UTF-8 string appended to b; its byte length, or -1. */
static long put_utf16(dce_buf *b, const char *s8) {
  size_t n = strlen(s8), units;
  if (dce_buf_reserve(b, 2 * n + 2)) return -1;
  units = dce_utf8_to_utf16(s8, n, 1, b->p + b->len);
  if (units == (size_t)-1) return -1;
  b->len += 2 * units;
  return (long)(2 * units);
}

/* The TREE_CONNECT body after a header at hdr in s->scratch. */
static int build_tree_connect(dce_smb *s, size_t hdr) {
  dce_buf *b = &s->scratch;
  char path[300];
  size_t body;
  long plen;
  snprintf(path, sizeof path, "\\\\%s\\IPC$", s->server);
  body = b->len;
  dce_buf_zero(b, 8);
  if (b->err) return -1;
  dce_st16(b->p + body, 9, 1);
  dce_st16(b->p + body + 4, (uint16_t)(body - hdr + 8), 1);
  plen = put_utf16(b, path);
  if (plen < 0) return -1;
  dce_st16(b->p + body + 6, (uint16_t)plen, 1);
  return 0;
}

static int build_create(dce_smb *s, smb_pipe *p, size_t hdr);

/* TREE_CONNECT to IPC$. With pipes waiting, and where nothing must be
** confirmed first (3.0 and 3.0.2 validate the negotiation after the tree
** connect), their CREATEs ride in the same frame as related requests: one
** round trip less to open a pipe. A CREATE that fails there is sent again
** alone (on_create). */
static int send_tree_connect(dce_smb *s) {
  dce_buf *b = &s->scratch;
  req_part parts[1 + 8];
  int n = 1;
  smb_pipe *p;
  req_begin(s, SMB2_TREE_CONNECT);
  if (build_tree_connect(s, 0)) return -1;
  parts[0].at = 0; parts[0].pipe = NULL; parts[0].payload = 0;
  if (s->dialect != SMB2_DIALECT_300 && s->dialect != SMB2_DIALECT_302) {
    for (p = s->pipes; p && n < 9; p = p->next) {
      size_t at;
      if (p->state != P_WAIT_TREE || p->compounded) continue;
      if (s->credits < (uint32_t)n + 1 || s->n_ops + n + 1 > MAX_OPS) break;
      dce_buf_zero(b, (8 - b->len % 8) % 8);
      at = b->len;
      smb2_hdr_put(b, SMB2_CREATE, 0, 0, SMB2_FLAGS_RELATED, 0, 0xFFFFFFFFu, s->session_id);
      if (b->err || build_create(s, p, at)) return -1;
      parts[n].at = at; parts[n].pipe = p; parts[n].payload = 0;
      p->state = P_OPENING;
      p->compounded = 1;
      n++;
    }
  }
  return req_send_parts(s, parts, n);
}

/* The CREATE body of pipe p after a header at hdr in s->scratch. */
static int build_create(dce_smb *s, smb_pipe *p, size_t hdr) {
  dce_buf *b = &s->scratch;
  size_t body;
  long nlen;
  body = b->len;
  dce_buf_zero(b, 56);
  if (b->err) return -1;
  dce_st16(b->p + body, 57, 1);
  dce_st32(b->p + body + 4, 2, 1);          /* ImpersonationLevel: Impersonation */
  dce_st32(b->p + body + 24, 0x0012019Fu, 1);  /* DesiredAccess: read/write data, EA, attributes, READ_CONTROL, SYNCHRONIZE */
  dce_st32(b->p + body + 32, 0x3, 1);       /* ShareAccess: read | write */
  dce_st32(b->p + body + 36, 1, 1);         /* CreateDisposition: FILE_OPEN */
  dce_st32(b->p + body + 40, 0x00400040u, 1);  /* FILE_NON_DIRECTORY_FILE | FILE_OPEN_NO_RECALL */
  dce_st16(b->p + body + 44, (uint16_t)(body - hdr + 56), 1);
  nlen = put_utf16(b, p->name);
  if (nlen < 0) return -1;
  dce_st16(b->p + body + 46, (uint16_t)nlen, 1);
  if (nlen == 0) dce_buf_u8(b, 0);
  return b->err ? -1 : 0;
}

static int send_create(dce_smb *s, smb_pipe *p) {
  req_begin(s, SMB2_CREATE);
  if (build_create(s, p, 0)) return -1;
  return req_send(s, p, 0);
}

static int send_read(dce_smb *s, smb_pipe *p) {
  dce_buf *b = &s->scratch;
  size_t body;
  uint32_t len = s->max_read < PIPE_IO_MAX ? s->max_read : PIPE_IO_MAX;
  req_begin(s, SMB2_READ);
  body = b->len;
  dce_buf_zero(b, 49);
  if (b->err) return -1;
  dce_st16(b->p + body, 49, 1);
  b->p[body + 2] = 0x50;                    /* Padding: data right after the response header */
  dce_st32(b->p + body + 4, len, 1);
  memcpy(b->p + body + 16, p->fid, 16);
  dce_st32(b->p + body + 32, 1, 1);         /* MinimumCount */
  if (req_send(s, p, len)) return -1;
  p->reading = 1;
  return 0;
}

static int send_write(dce_smb *s, smb_pipe *p, const uint8_t *data, size_t n) {
  dce_buf *b = &s->scratch;
  size_t body;
  req_begin(s, SMB2_WRITE);
  body = b->len;
  dce_buf_zero(b, 48);
  if (b->err) return -1;
  dce_st16(b->p + body, 49, 1);
  dce_st16(b->p + body + 2, (uint16_t)(body + 48), 1);
  dce_st32(b->p + body + 4, (uint32_t)n, 1);
  memcpy(b->p + body + 16, p->fid, 16);
  dce_buf_put(b, data, n);
  return req_send(s, p, n);
}

/* FSCTL_PIPE_TRANSCEIVE: write a request and read the answer in one
** exchange ([MS-SMB2] 3.2.4.20.1), as Windows does for a call that fits. */
static int send_transceive(dce_smb *s, smb_pipe *p, const uint8_t *data, size_t n) {
  dce_buf *b = &s->scratch;
  size_t body;
  uint32_t out_max = s->max_transact < PIPE_IO_MAX ? s->max_transact : PIPE_IO_MAX;
  req_begin(s, SMB2_IOCTL);
  body = b->len;
  dce_buf_zero(b, 56);
  if (b->err) return -1;
  dce_st16(b->p + body, 57, 1);
  dce_st32(b->p + body + 4, FSCTL_PIPE_TRANSCEIVE, 1);
  memcpy(b->p + body + 8, p->fid, 16);
  dce_st32(b->p + body + 24, (uint32_t)(body + 56), 1);   /* InputOffset */
  dce_st32(b->p + body + 28, (uint32_t)n, 1);             /* InputCount */
  dce_st32(b->p + body + 44, out_max, 1);                 /* MaxOutputResponse */
  dce_st32(b->p + body + 48, SMB2_0_IOCTL_IS_FSCTL, 1);
  dce_buf_put(b, data, n);
  if (req_send(s, p, n > out_max ? n : out_max)) return -1;
  p->reading = 1;
  p->transceives++;
  dce_buf_reset(&p->tx);
  dce_buf_put(&p->tx, data, n);                   /* (if it fails, no fallback: the error stands) */
  return 0;
}

/* FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2] 2.2.31.4, 3.2.5.5): on 3.0 and
** 3.0.2 the client has the server repeat, signed, what it negotiated, so a
** man in the middle who altered the NEGOTIATE is caught. */
static int send_validate(dce_smb *s) {
  static const uint16_t all[] = { SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
                                  SMB2_DIALECT_302, SMB2_DIALECT_311 };
  dce_buf *b = &s->scratch;
  size_t body, in_at, i;
  uint16_t nd = 0;
  int r;
  req_begin(s, SMB2_IOCTL);
  body = b->len;
  dce_buf_zero(b, 56);
  if (b->err) return -1;
  dce_st16(b->p + body, 57, 1);
  dce_st32(b->p + body + 4, FSCTL_VALIDATE_NEGOTIATE_INFO, 1);
  memset(b->p + body + 8, 0xFF, 16);                      /* FileId: none */
  in_at = b->len;
  dce_buf_u32(b, s->client_caps, 1);
  dce_buf_put(b, s->client_guid, 16);
  dce_buf_u16(b, s->client_secmode, 1);
  dce_buf_u16(b, 0, 1);                                   /* DialectCount, below */
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (all[i] < s->min_dialect || all[i] > s->max_dialect) continue;
    dce_buf_u16(b, all[i], 1);
    nd++;
  }
  if (b->err) return -1;
  dce_st16(b->p + in_at + 22, nd, 1);
  dce_st32(b->p + body + 24, (uint32_t)in_at, 1);         /* InputOffset */
  dce_st32(b->p + body + 28, (uint32_t)(b->len - in_at), 1);
  dce_st32(b->p + body + 44, 24, 1);                      /* MaxOutputResponse */
  dce_st32(b->p + body + 48, SMB2_0_IOCTL_IS_FSCTL, 1);
  s->sign_next = 1;
  r = req_send(s, NULL, 24);
  s->sign_next = 0;
  if (r == 0) s->validating = 1;
  return r;
}

static int on_validate(dce_smb *s, const smb2_msg *m) {
  const uint8_t *d;
  char e[200];
  s->validating = 0;
  if (m->status != 0) {
    fail_status(e, sizeof e, "FSCTL_VALIDATE_NEGOTIATE_INFO refused", m->status);
    set_dead(s, m->status, "%s: the negotiation cannot be confirmed", e);
    return -1;
  }
  if (!(m->flags & SMB2_FLAGS_SIGNED)) {
    set_dead(s, SMB2_STATUS_INVALID_SIGNATURE, "FSCTL_VALIDATE_NEGOTIATE_INFO answered unsigned");
    return -1;
  }
  if (m->body_len < 48 || dce_ld16(m->body, 1) != 49 || dce_ld32(m->body + 36, 1) < 24) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed FSCTL_VALIDATE_NEGOTIATE_INFO response");
    return -1;
  }
  d = smb2_range(m, dce_ld32(m->body + 32, 1), 24, SMB2_HDR_LEN + 48, "output", e, sizeof e);
  if (!d) { set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "%s", e); return -1; }
  if (dce_ld32(d, 1) != s->server_caps || memcmp(d + 4, s->server_guid, 16) != 0 ||
      dce_ld16(d + 20, 1) != s->server_secmode || dce_ld16(d + 22, 1) != s->dialect) {
    set_dead(s, SMB2_STATUS_ACCESS_DENIED, "FSCTL_VALIDATE_NEGOTIATE_INFO: the server's answer differs from "
             "the NEGOTIATE (altered on the way?)");
    return -1;
  }
  s->state = ST_READY;
  open_waiting_pipes(s);
  return 0;
}

static int send_close(dce_smb *s, smb_pipe *p) {
  dce_buf *b = &s->scratch;
  size_t body;
  req_begin(s, SMB2_CLOSE);
  body = b->len;
  dce_buf_zero(b, 24);
  if (b->err) return -1;
  dce_st16(b->p + body, 24, 1);
  memcpy(b->p + body + 8, p->fid, 16);
  return req_send(s, NULL, 0);
}

/* Pipes waiting for the tree: send their CREATEs. */
static void open_waiting_pipes(dce_smb *s) {
  smb_pipe *p;
  for (p = s->pipes; p; p = p->next) {
    if (p->state != P_WAIT_TREE) continue;
    if (!can_send(s, 0)) return;
    if (send_create(s, p)) return;
    p->state = P_OPENING;
  }
}

/* ------------------------------------------------------------ responses */

static const char *status_text(uint32_t st) {
  switch (st) {
  case SMB2_STATUS_LOGON_FAILURE: return "STATUS_LOGON_FAILURE; " DCE_AUTH_HINT;
  case SMB2_STATUS_ACCESS_DENIED: return "STATUS_ACCESS_DENIED";
  case SMB2_STATUS_OBJECT_NAME_NOT_FOUND: return "STATUS_OBJECT_NAME_NOT_FOUND (no such pipe)";
  case SMB2_STATUS_BAD_NETWORK_NAME: return "STATUS_BAD_NETWORK_NAME";
  case SMB2_STATUS_NOT_SUPPORTED: return "STATUS_NOT_SUPPORTED";
  case SMB2_STATUS_INVALID_PARAMETER: return "STATUS_INVALID_PARAMETER";
  case SMB2_STATUS_PIPE_BROKEN: return "STATUS_PIPE_BROKEN";
  case SMB2_STATUS_PIPE_DISCONNECTED: return "STATUS_PIPE_DISCONNECTED";
  case SMB2_STATUS_USER_SESSION_DELETED: return "STATUS_USER_SESSION_DELETED";
  case SMB2_STATUS_NETWORK_SESSION_EXPIRED: return "STATUS_NETWORK_SESSION_EXPIRED";
  case SMB2_STATUS_REQUEST_NOT_ACCEPTED: return "STATUS_REQUEST_NOT_ACCEPTED";
  case 0xC000006Eu: return "STATUS_ACCOUNT_RESTRICTION";
  case 0xC0000072u: return "STATUS_ACCOUNT_DISABLED";
  case 0xC0000071u: return "STATUS_PASSWORD_EXPIRED";
  case 0xC0000064u: return "STATUS_NO_SUCH_USER; " DCE_AUTH_HINT;
  default: return NULL;
  }
}

static void fail_status(char *buf, size_t n, const char *what, uint32_t st) {
  const char *t = status_text(st);
  if (t) snprintf(buf, n, "%s: %s", what, t);
  else snprintf(buf, n, "%s: status 0x%08x", what, (unsigned)st);
}

static int on_negotiate(dce_smb *s, const smb2_msg *m) {
  char e[200];
  const uint8_t *b = m->body;
  uint16_t dialect, ctx_count;
  uint32_t ctx_off;
  int saw_preauth = 0;
  if (m->status != 0) {
    fail_status(e, sizeof e, "SMB NEGOTIATE refused", m->status);
    set_dead(s, m->status, "%s", e);
    return -1;
  }
  if (m->body_len < 64 || dce_ld16(b, 1) != 65) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed NEGOTIATE response (%zu bytes)", m->body_len);
    return -1;
  }
  s->server_secmode = dce_ld16(b + 2, 1);
  dialect = dce_ld16(b + 4, 1);
  if (dialect < s->min_dialect || dialect > s->max_dialect ||
      (dialect != SMB2_DIALECT_202 && dialect != SMB2_DIALECT_210 && dialect != SMB2_DIALECT_300 &&
       dialect != SMB2_DIALECT_302 && dialect != SMB2_DIALECT_311)) {
    set_dead(s, SMB2_STATUS_NOT_SUPPORTED, "the server chose SMB dialect 0x%04x, which was not offered", dialect);
    return -1;
  }
  s->dialect = dialect;
  memcpy(s->server_guid, b + 8, 16);
  s->server_caps = dce_ld32(b + 24, 1);
  s->max_transact = dce_ld32(b + 28, 1);
  s->max_read = dce_ld32(b + 32, 1);
  s->max_write = dce_ld32(b + 36, 1);
  if (s->max_read < 4096 || s->max_write < 4096) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "the server's MaxReadSize %u / MaxWriteSize %u are too small",
             (unsigned)s->max_read, (unsigned)s->max_write);
    return -1;
  }
  if (dialect == SMB2_DIALECT_311) {
    uint16_t i;
    size_t off;
    ctx_count = dce_ld16(b + 6, 1);
    ctx_off = dce_ld32(b + 60, 1);
    if (ctx_count == 0 || ctx_off < SMB2_HDR_LEN + 64 || ctx_off > m->msg_len) {
      set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "SMB 3.1.1 NEGOTIATE response without negotiate contexts");
      return -1;
    }
    off = ctx_off;
    for (i = 0; i < ctx_count; i++) {
      uint16_t type, dlen;
      const uint8_t *d;
      off = (off + 7) & ~(size_t)7;
      if (off + 8 > m->msg_len) goto bad_ctx;
      type = dce_ld16(m->msg + off, 1);
      dlen = dce_ld16(m->msg + off + 2, 1);
      if ((size_t)dlen > m->msg_len - off - 8) goto bad_ctx;
      d = m->msg + off + 8;
      if (type == SMB2_PREAUTH_INTEGRITY_CAPABILITIES) {
        if (dlen < 6 || dce_ld16(d, 1) != 1 || (size_t)6 + dce_ld16(d + 2, 1) > dlen ||
            dce_ld16(d + 4, 1) != SMB2_PREAUTH_SHA512) goto bad_ctx;
        saw_preauth = 1;
      } else if (type == SMB2_ENCRYPTION_CAPABILITIES) {
        uint16_t c;
        int ok = 0, k;
        if (dlen < 4 || dce_ld16(d, 1) != 1) goto bad_ctx;
        c = dce_ld16(d + 2, 1);
        if (c == 0) ok = 1;            /* no common cipher */
        for (k = 0; k < s->n_ciphers; k++) if (s->ciphers[k] == c) ok = 1;
        if (!ok) goto bad_ctx;
        s->cipher = c;
      } else if (type == SMB2_SIGNING_CAPABILITIES) {
        uint16_t a;
        if (dlen < 4 || dce_ld16(d, 1) != 1) goto bad_ctx;
        a = dce_ld16(d + 2, 1);
        if (a > DCE_SMB2_SIGN_AES_GMAC) goto bad_ctx;
        s->sign_algo = a;
      }
      off += 8 + (size_t)dlen;
    }
    if (!saw_preauth) goto bad_ctx;
    if (!s->sign_algo) s->sign_algo = DCE_SMB2_SIGN_AES_CMAC;
    { dce_span v = { m->msg, m->msg_len }; dce_smb_preauth_update(s->preauth, &v, 1); }
  } else if (dialect >= SMB2_DIALECT_300) {
    s->sign_algo = DCE_SMB2_SIGN_AES_CMAC;
    if (s->server_caps & SMB2_GLOBAL_CAP_ENCRYPTION) s->cipher = DCE_SMB2_CIPHER_AES128_CCM;
  } else {
    s->sign_algo = DCE_SMB2_SIGN_HMAC_SHA256;
  }
  if (s->want_encrypt && !s->cipher) {
    set_dead(s, SMB2_STATUS_NOT_SUPPORTED, "encryption was asked for but the server (dialect %x.%x.%x) offers no common cipher",
             dialect >> 8, (dialect >> 4) & 15, dialect & 15);
    return -1;
  }
  return 0;
bad_ctx:
  set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed or unacceptable negotiate context in the NEGOTIATE response");
  return -1;
}

static int start_session(dce_smb *s) {
  dce_cred cred;
  dce_buf tok;
  uint32_t st = 0;
  char e[200];
  int r;
  memset(&cred, 0, sizeof cred);
  cred.user = s->user; cred.domain = s->domain; cred.workstation = s->workstation;
  cred.password = s->password; cred.nt_hash = s->has_hash ? s->nt_hash : NULL;
  cred.target = s->target; cred.ntlmv1 = s->ntlmv1;
  cred.ccache = s->ccache; cred.client_keytab = s->client_keytab; cred.kerberos = s->kerberos;
  s->mctx = s->mech->client_new(&cred, 0, e, sizeof e);
  if (!s->mctx) { set_dead(s, SMB2_STATUS_LOGON_FAILURE, "SMB session setup: %s", e); return -1; }
  dce_buf_init(&tok);
  r = s->mech->step(s->mctx, NULL, 0, &tok, &st, e, sizeof e);
  if (r < 0 || tok.err) {
    dce_buf_free(&tok);
    set_dead(s, st ? st : SMB2_STATUS_LOGON_FAILURE, "SMB session setup: %s", e);
    return -1;
  }
  s->state = ST_SESSION;
  r = send_session_setup(s, &tok);
  dce_buf_free(&tok);
  return r;
}

/* The session is set up: keys, signing, encryption. */
static int session_established(dce_smb *s, const smb2_msg *m) {
  uint8_t key[64];
  size_t klen = 0;
  s->guest = (s->session_flags & SMB2_SESSION_FLAG_IS_GUEST) != 0;
  /* anonymous: the server says so, or we logged on without a name and
  ** without Kerberos (Samba then leaves IS_NULL clear, but there is no key
  ** to sign with); Kerberos from a ccache or keytab needs no name */
  s->anonymous = (s->session_flags & SMB2_SESSION_FLAG_IS_NULL) != 0 ||
                 ((!s->user || !*s->user) && !s->ccache && !s->client_keytab && !s->kerberos);
  if (!s->guest && !s->anonymous) {
    if (s->mech->session_key(s->mctx, key, sizeof key, &klen) || klen == 0) {
      set_dead(s, SMB2_STATUS_LOGON_FAILURE, "SMB session setup: the mechanism gave no session key");
      return -1;
    }
    {
      dce_smb_keys k;
      dce_err de;
      int rc = dce_smb_keys_derive(&k, s->dialect, s->sign_algo, s->cipher, key, klen,
                                   s->dialect == SMB2_DIALECT_311 ? s->preauth : NULL, &de);
      dce_secure_zero(key, sizeof key);
      if (rc == 0) {
        memcpy(s->app_key, k.application, 16);
        rc = dce_smb_crypt_init(&s->crypt, &k, DCE_SMB_CLIENT, &de);
      }
      dce_smb_keys_wipe(&k);
      if (rc) { set_dead(s, SMB2_STATUS_NO_MEMORY, "SMB key derivation: %s", de.msg); return -1; }
    }
    s->have_keys = 1;
    s->signing = s->want_signing || (s->server_secmode & SMB2_NEGOTIATE_SIGNING_REQUIRED);
    /* The last response is signed with the new key when signing applies
    ** (always in 3.1.1, [MS-SMB2] 3.3.5.5.3): check it. */
    if ((m->flags & SMB2_FLAGS_SIGNED) || s->signing || s->dialect == SMB2_DIALECT_311) {
      if (!(m->flags & SMB2_FLAGS_SIGNED)) {
        set_dead(s, SMB2_STATUS_INVALID_SIGNATURE, "SMB session setup: the server's last response is not signed");
        return -1;
      }
      if (dce_smb_verify(&s->crypt, m->msg, m->msg_len, NULL)) {
        set_dead(s, SMB2_STATUS_INVALID_SIGNATURE, "SMB session setup: the server's signature is wrong "
                 "(tampered, or the server derived another session key)");
        return -1;
      }
    }
    if ((s->session_flags & SMB2_SESSION_FLAG_ENCRYPT_DATA) || s->want_encrypt) {
      if (!s->cipher) {
        set_dead(s, SMB2_STATUS_NOT_SUPPORTED, "the server requires encryption but no cipher was negotiated");
        return -1;
      }
      s->encrypting = 1;
    }
  } else if (s->want_signing || s->want_encrypt) {
    set_dead(s, SMB2_STATUS_ACCESS_DENIED, "SMB session setup: the server made this a %s session, "
             "which cannot be signed or encrypted as asked", s->guest ? "guest" : "anonymous");
    return -1;
  } else if (s->server_secmode & SMB2_NEGOTIATE_SIGNING_REQUIRED && s->guest) {
    set_dead(s, SMB2_STATUS_ACCESS_DENIED, "SMB session setup: the server requires signing but gave a guest session");
    return -1;
  }
  s->state = ST_TREE;
  return send_tree_connect(s);
}

static int on_session_setup(dce_smb *s, const smb2_msg *m) {
  char e[200];
  const uint8_t *tok = NULL;
  uint16_t toff, tlen;
  dce_buf out;
  uint32_t st = 0;
  int r;
  if (m->status != 0 && m->status != SMB2_STATUS_MORE_PROCESSING) {
    fail_status(e, sizeof e, "SMB session setup refused", m->status);
    set_dead(s, m->status, "%s", e);
    return -1;
  }
  if (m->body_len < 8 || dce_ld16(m->body, 1) != 9) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed SESSION_SETUP response");
    return -1;
  }
  if (!s->session_id) s->session_id = m->session_id;
  else if (m->session_id != s->session_id) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "SESSION_SETUP response for another session");
    return -1;
  }
  s->session_flags = dce_ld16(m->body + 2, 1);
  toff = dce_ld16(m->body + 4, 1);
  tlen = dce_ld16(m->body + 6, 1);
  tok = smb2_range(m, toff, tlen, SMB2_HDR_LEN + 8, "security buffer", e, sizeof e);
  if (!tok) { set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "%s", e); return -1; }
  if (m->status == SMB2_STATUS_MORE_PROCESSING && s->dialect == SMB2_DIALECT_311)
    { dce_span v = { m->msg, m->msg_len }; dce_smb_preauth_update(s->preauth, &v, 1); }
  dce_buf_init(&out);
  r = 0;
  if (tlen || m->status == SMB2_STATUS_MORE_PROCESSING)
    r = s->mech->step(s->mctx, tok, tlen, &out, &st, e, sizeof e);
  if (r < 0 || out.err) {
    dce_buf_free(&out);
    set_dead(s, st ? st : SMB2_STATUS_LOGON_FAILURE, "SMB session setup: %s", out.err ? "out of memory" : e);
    return -1;
  }
  if (m->status == SMB2_STATUS_MORE_PROCESSING) {
    if (r == 0 && out.len == 0) {
      dce_buf_free(&out);
      set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "SMB session setup: the server wants another leg, the mechanism has none");
      return -1;
    }
    r = send_session_setup(s, &out);
    dce_buf_free(&out);
    return r;
  }
  dce_buf_free(&out);
  if (r == 1) {
    set_dead(s, SMB2_STATUS_LOGON_FAILURE, "SMB session setup: the server finished before the mechanism did");
    return -1;
  }
  return session_established(s, m);
}

static int on_tree_connect(dce_smb *s, const smb2_msg *m) {
  char e[200];
  uint32_t share_flags;
  if (m->status != 0) {
    fail_status(e, sizeof e, "SMB TREE_CONNECT to IPC$ refused", m->status);
    set_dead(s, m->status, "%s", e);
    return -1;
  }
  if (m->body_len < 16 || dce_ld16(m->body, 1) != 16) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed TREE_CONNECT response");
    return -1;
  }
  if (m->body[2] != SMB2_SHARE_TYPE_PIPE) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "IPC$ is not a pipe share (type %u)", m->body[2]);
    return -1;
  }
  share_flags = dce_ld32(m->body + 4, 1);
  if ((share_flags & SMB2_SHAREFLAG_ENCRYPT_DATA) && !s->encrypting) {
    if (!s->cipher || !s->have_keys) {
      set_dead(s, SMB2_STATUS_ACCESS_DENIED, "IPC$ requires encryption, which this session cannot do");
      return -1;
    }
    s->encrypting = 1;
  }
  s->tree_id = m->tree_id;
  if ((s->dialect == SMB2_DIALECT_300 || s->dialect == SMB2_DIALECT_302) && s->have_keys && !s->encrypting)
    return send_validate(s);
  s->state = ST_READY;
  open_waiting_pipes(s);
  return 0;
}

static void on_create(dce_smb *s, smb_pipe *p, const smb2_msg *m) {
  char e[200];
  if (!p || p->state != P_OPENING) return;
  if (m->status != 0 && p->compounded == 1 && s->state == ST_READY) {
    /* the compounded CREATE failed: once more alone, now that the tree is
    ** known (a share requiring encryption, a server that does not take
    ** related requests) */
    p->compounded = 2;
    p->state = P_WAIT_TREE;
    open_waiting_pipes(s);
    return;
  }
  if (m->status != 0) {
    char what[200];
    snprintf(what, sizeof what, "SMB CREATE \\pipe\\%s", p->name);
    fail_status(e, sizeof e, what, m->status);
    pipe_fail(p, m->status, "%s", e);
    return;
  }
  if (m->body_len < 88 || dce_ld16(m->body, 1) != 89) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed CREATE response");
    return;
  }
  memcpy(p->fid, m->body + 64, 16);
  p->state = P_OPEN;
  pipe_wake(p);
}

/* Count the DCE/RPC replies completed in data just received: a fragment
** with PFC_LAST_FRAG of a response, fault, bind_ack, bind_nak or
** alter_context_resp answers one PDU we wrote. */
static void rx_scan(smb_pipe *p, const uint8_t *d, size_t n) {
  while (n) {
    if (p->rx_left) {
      size_t k = n < p->rx_left ? n : p->rx_left;
      d += k; n -= k; p->rx_left -= k;
      continue;
    }
    while (n && p->rx_hdr_len < sizeof p->rx_hdr) { p->rx_hdr[p->rx_hdr_len++] = *d++; n--; }
    if (p->rx_hdr_len == sizeof p->rx_hdr) {
      uint8_t type = p->rx_hdr[2], flags = p->rx_hdr[3];
      size_t fl = dce_ld16(p->rx_hdr + 8, (p->rx_hdr[4] & 0x10) != 0);
      p->rx_hdr_len = 0;
      p->rx_left = fl > sizeof p->rx_hdr ? fl - sizeof p->rx_hdr : 0;
      if ((flags & 0x02) && (type == 2 || type == 3 || type == 12 || type == 13 || type == 15) && p->expect)
        p->expect--;
    }
  }
}

/* Data for the pipe (a READ or a transceive's output). */
static int pipe_deliver(dce_smb *s, smb_pipe *p, const uint8_t *d, size_t dlen) {
  (void)s;
  if (p->in_off == p->in.len) { p->in.len = 0; p->in_off = 0; }
  if (dce_buf_put(&p->in, d, dlen)) { pipe_fail(p, SMB2_STATUS_NO_MEMORY, "out of memory"); return -1; }
  rx_scan(p, d, dlen);
  pipe_wake(p);
  return 0;
}

static int pipe_closed_status(uint32_t st) {
  return st == SMB2_STATUS_PIPE_BROKEN || st == SMB2_STATUS_PIPE_DISCONNECTED ||
         st == SMB2_STATUS_PIPE_CLOSING || st == 0xC0000011u /* END_OF_FILE */;
}

static void on_ioctl(dce_smb *s, smb_pipe *p, const smb2_msg *m) {
  char e[200];
  const uint8_t *d;
  uint32_t off, dlen;
  if (!p) return;
  p->reading = 0;
  if (p->state != P_OPEN) return;
  if ((m->status == SMB2_STATUS_NOT_SUPPORTED || m->status == 0xC0000010u /* INVALID_DEVICE_REQUEST */) &&
      p->tx.len && !p->tx.err && s->credits >= 2 && s->n_ops + 2 <= MAX_OPS) {
    /* a server without FSCTL_PIPE_TRANSCEIVE: WRITE and READ from now on */
    s->no_transceive = 1;
    if (send_write(s, p, p->tx.p, p->tx.len) == 0) send_read(s, p);
    dce_buf_reset(&p->tx);
    return;
  }
  dce_buf_reset(&p->tx);
  if (m->status != 0 && m->status != SMB2_STATUS_BUFFER_OVERFLOW) {
    if (pipe_closed_status(m->status)) pipe_fail(p, m->status, "the server closed \\pipe\\%s", p->name);
    else {
      fail_status(e, sizeof e, "SMB IOCTL FSCTL_PIPE_TRANSCEIVE", m->status);
      pipe_fail(p, m->status, "%s", e);
    }
    return;
  }
  if (m->body_len < 48 || dce_ld16(m->body, 1) != 49 || dce_ld32(m->body + 4, 1) != FSCTL_PIPE_TRANSCEIVE) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed IOCTL response");
    return;
  }
  off = dce_ld32(m->body + 32, 1);
  dlen = dce_ld32(m->body + 36, 1);
  if (dlen > PIPE_IO_MAX) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "IOCTL response of %u bytes, more than the %u asked for",
             (unsigned)dlen, PIPE_IO_MAX);
    return;
  }
  d = smb2_range(m, off, dlen, SMB2_HDR_LEN + 48, "output", e, sizeof e);
  if (!d) { set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "%s", e); return; }
  pipe_deliver(s, p, d, dlen);
}

static void on_read(dce_smb *s, smb_pipe *p, const smb2_msg *m) {
  char e[200];
  const uint8_t *d;
  uint32_t dlen;
  if (!p) return;
  p->reading = 0;
  if (p->state != P_OPEN) return;
  if (m->status != 0 && m->status != SMB2_STATUS_BUFFER_OVERFLOW) {
    if (pipe_closed_status(m->status))
      pipe_fail(p, m->status, "the server closed \\pipe\\%s", p->name);
    else {
      fail_status(e, sizeof e, "SMB READ", m->status);
      pipe_fail(p, m->status, "%s", e);
    }
    return;
  }
  if (m->body_len < 16 || dce_ld16(m->body, 1) != 17) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "malformed READ response");
    return;
  }
  dlen = dce_ld32(m->body + 4, 1);
  d = smb2_range(m, m->body[2], dlen, SMB2_HDR_LEN + 16, "data", e, sizeof e);
  if (!d) { set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "%s", e); return; }
  if (dlen > PIPE_IO_MAX) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "READ response of %u bytes, more than the %u asked for",
             (unsigned)dlen, PIPE_IO_MAX);
    return;
  }
  pipe_deliver(s, p, d, dlen);
}

static void on_write(dce_smb *s, smb_pipe *p, const smb2_msg *m) {
  char e[200];
  (void)s;
  if (!p || p->state != P_OPEN) return;
  if (m->status != 0) {
    fail_status(e, sizeof e, "SMB WRITE", m->status);
    pipe_fail(p, m->status, "%s", e);
  }
}

/* One message of a received frame. decrypted: it came inside a transform. */
static int on_message(dce_smb *s, const smb2_msg *m, int decrypted) {
  smb_op *op;
  smb_pipe *p;
  uint16_t cmd;
  if (!(m->flags & SMB2_FLAGS_SERVER_TO_REDIR)) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "SMB2 message from the server without the response flag");
    return -1;
  }
  s->credits += m->credits;
  if (s->credits > 65535) s->credits = 65535;
  if (m->message_id == UINT64_MAX && m->command == SMB2_OPLOCK_BREAK) return 0;   /* we take no oplocks */
  op = op_find(s, m->message_id);
  if (!op || op->cmd != m->command) {
    set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "SMB2 %s response to message id %llu, which is %s",
             smb2_command_name(m->command), (unsigned long long)m->message_id,
             op ? "another command" : "not outstanding");
    return -1;
  }
  if (m->status == SMB2_STATUS_PENDING && (m->flags & SMB2_FLAGS_ASYNC_COMMAND)) {
    op->interim = 1;               /* the answer comes later */
    return 0;
  }
  /* signed sessions: every response checked, an unsigned one refused; a
  ** signed response elsewhere is checked too when there is a key */
  if (!decrypted && m->command != SMB2_NEGOTIATE && m->command != SMB2_SESSION_SETUP &&
      m->session_id == s->session_id &&
      (s->signing || (s->have_keys && (m->flags & SMB2_FLAGS_SIGNED)))) {
    if (!(m->flags & SMB2_FLAGS_SIGNED)) {
      set_dead(s, SMB2_STATUS_INVALID_SIGNATURE, "unsigned SMB2 %s response on a signed session",
               smb2_command_name(m->command));
      return -1;
    }
    if (dce_smb_verify(&s->crypt, m->msg, m->msg_len, NULL)) {
      set_dead(s, SMB2_STATUS_INVALID_SIGNATURE, "SMB2 %s response with a wrong signature (tampered?)",
               smb2_command_name(m->command));
      return -1;
    }
  } else if (s->encrypting && !decrypted && m->command != SMB2_NEGOTIATE && m->command != SMB2_SESSION_SETUP &&
             !(op->cmd == SMB2_CREATE && op->pipe && op->pipe->compounded == 1)) {
    /* (a CREATE compounded with the TREE_CONNECT of a share that turned out
    ** to require encryption was sent in clear: its answer may be too) */
    set_dead(s, SMB2_STATUS_ACCESS_DENIED, "unencrypted SMB2 %s response on an encrypted session",
             smb2_command_name(m->command));
    return -1;
  }
  cmd = op->cmd;
  p = op->pipe;
  op->used = 0;
  s->n_ops--;
  switch (cmd) {
  case SMB2_NEGOTIATE:
    if (on_negotiate(s, m)) return -1;
    return start_session(s);
  case SMB2_SESSION_SETUP: return on_session_setup(s, m);
  case SMB2_TREE_CONNECT: return on_tree_connect(s, m);
  case SMB2_CREATE: on_create(s, p, m); break;
  case SMB2_READ: on_read(s, p, m); break;
  case SMB2_WRITE: on_write(s, p, m); break;
  case SMB2_IOCTL:
    if (!p && s->validating) return on_validate(s, m);
    on_ioctl(s, p, m);
    break;
  default: break;                  /* CLOSE, LOGOFF: nothing to do */
  }
  return s->state == ST_DEAD ? -1 : 0;
}

static int on_frame(dce_smb *s, uint8_t *f, size_t len) {
  char e[200];
  size_t off = 0;
  int decrypted = 0;
  if (len >= 4 && f[0] == 0xFD && f[1] == 'S' && f[2] == 'M' && f[3] == 'B') {
    size_t plen;
    if (!s->have_keys || !s->cipher) {
      set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "encrypted SMB message before keys were agreed");
      return -1;
    }
    dce_err de;
    uint8_t *pm;
    if (dce_smb_decrypt(&s->crypt, s->session_id, f, len, &pm, &plen, &de)) {
      set_dead(s, de.status ? de.status : SMB2_STATUS_DECRYPTION_FAILED, "SMB decryption: %s", de.msg);
      return -1;
    }
    f = pm;
    len = plen;
    decrypted = 1;
  }
  while (off < len) {
    smb2_msg m;
    size_t next;
    if (smb2_msg_decode(&m, f + off, len - off, &next, e, sizeof e)) {
      set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "%s", e);
      return -1;
    }
    s->received++;
    if (on_message(s, &m, decrypted)) return -1;
    if (!next) break;
    off += next;
  }
  return 0;
}

/* Complete frames in s->in: handle them. */
static int parse_frames(dce_smb *s) {
  while (s->state != ST_DEAD) {
    uint8_t *h = s->in.p + s->in_off;
    size_t avail = s->in.len - s->in_off, flen;
    if (avail < 4) break;
    if (s->state == ST_NBSS) {
      char why[160];
      int r = dce_nbss_response(h, avail, why, sizeof why);
      if (r == 0) break;
      if (r == -1) {
        set_dead(s, DCE_NBSS_REFUSED, "NetBIOS session request to %s refused: %s", s->nbss_called, why);
        return -1;
      }
      if (r < 0) {
        set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "NetBIOS session request to %s: %s",
                 s->nbss_called, why);
        return -1;
      }
      s->in_off += (size_t)r;
      s->state = ST_NEGOTIATE;
      if (send_negotiate(s)) return -1;
      continue;
    }
    if (h[0] == 0x85) { s->in_off += 4; continue; }         /* NBSS keep-alive */
    if (h[0] != 0) {
      set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "unexpected frame type 0x%02x from %s", h[0], s->sock->peer);
      return -1;
    }
    flen = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
    if (flen > s->max_frame) {
      set_dead(s, SMB2_STATUS_INVALID_NETWORK_RESPONSE, "SMB frame of %zu bytes exceeds the limit of %zu",
               flen, s->max_frame);
      return -1;
    }
    if (avail - 4 < flen) {
      if (dce_buf_reserve(&s->in, flen + 4 - avail)) { set_dead(s, SMB2_STATUS_NO_MEMORY, "out of memory"); return -1; }
      break;
    }
    s->in_off += 4 + flen;
    if (on_frame(s, h + 4, flen)) return -1;
  }
  if (s->in_off == s->in.len) { s->in.len = 0; s->in_off = 0; }
  return s->state == ST_DEAD ? -1 : 0;
}

static int have_frame(const dce_smb *s) {
  const uint8_t *h = s->in.p + s->in_off;
  size_t avail = s->in.len - s->in_off;
  if (avail < 4) return 0;
  if (s->state == ST_NBSS) {            /* only an answer the decoder can finish */
    char why[8];
    return dce_nbss_response(h, avail, why, sizeof why) != 0;
  }
  if (h[0] != 0) return 1;
  return avail - 4 >= (((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3]);
}

/* Move bytes both ways without blocking and handle what arrived. */
static int session_io(dce_smb *s) {
  int rounds;
  if (s->state == ST_DEAD) return -1;
  if (flush(s)) return -1;
  for (rounds = 0; rounds < 16 && !s->drained; rounds++) {
    long r;
    if (s->in_off && s->in.len == s->in_off) { s->in.len = 0; s->in_off = 0; }
    if (dce_buf_reserve(&s->in, 65536)) { set_dead(s, SMB2_STATUS_NO_MEMORY, "out of memory"); return -1; }
    r = s->sock->ops->recv(s->sock, s->in.p + s->in.len, s->in.cap - s->in.len);
    if (r == DCE_T_AGAIN) { s->drained = 1; break; }
    if (r == 0) {
      set_dead(s, SMB2_STATUS_CONNECTION_DISCONNECTED, "SMB connection closed by %s", s->sock->peer);
      return -1;
    }
    if (r < 0) {
      set_dead(s, SMB2_STATUS_CONNECTION_DISCONNECTED, "SMB connection to %s: %s", s->sock->peer, s->sock->errmsg);
      return -1;
    }
    s->in.len += (size_t)r;
    if (parse_frames(s)) return -1;
    if ((size_t)r < 4096) { s->drained = 1; break; }   /* a short read: nothing more yet */
  }
  if (have_frame(s) && parse_frames(s)) return -1;
  if (s->state == ST_READY) open_waiting_pipes(s);
  return flush(s);
}

/* ------------------------------------------------------------ waking */

static void pipe_wake(smb_pipe *p) {
#if SMB_WAITSET
  uint64_t one = 1;
  if (p->evfd >= 0 && !p->signalled && p->s->current != p) {
    if (write(p->evfd, &one, sizeof one) == sizeof one) p->signalled = 1;
  }
#else
  (void)p;
#endif
}

static void pipe_unwake(smb_pipe *p) {
#if SMB_WAITSET
  uint64_t v;
  if (p->evfd >= 0 && p->signalled) {
    if (read(p->evfd, &v, sizeof v) < 0) { /* nothing to clear */ }
    p->signalled = 0;
  }
#else
  (void)p;
#endif
}

/* ------------------------------------------------------------ pipe transport */

static size_t pipe_avail(const smb_pipe *p) { return p->in.len - p->in_off; }

static long pipe_send(dce_transport *t, const void *buf, size_t n) {
  smb_pipe *p = (smb_pipe *)t;
  dce_smb *s = p->s;
  const uint8_t *b = (const uint8_t *)buf;
  size_t chunk = n;
  if (p->state == P_FAILED || p->state == P_CLOSED) return DCE_T_ERROR;
  if (p->state != P_OPEN) {                    /* still opening: move the handshake on */
    if (session_io(s) && s->state == ST_DEAD) return DCE_T_ERROR;
    if (p->state == P_FAILED) return DCE_T_ERROR;
    if (p->state != P_OPEN) return DCE_T_AGAIN;
  }
  if (s->state == ST_DEAD) return DCE_T_ERROR;
  /* one DCE/RPC fragment per WRITE, as Windows does (message-mode pipes) */
  if (n >= 10 && b[0] == 5) {
    size_t fl = dce_ld16(b + 8, (b[4] & 0x10) != 0);
    if (fl >= 16 && fl < chunk) chunk = fl;
  }
  if (chunk > s->max_write) chunk = s->max_write;
  if (chunk > PIPE_IO_MAX) chunk = PIPE_IO_MAX;
  if (out_pending(s) >= OUT_HIGH || !can_send(s, PIPE_IO_MAX)) return DCE_T_AGAIN;
  if (chunk >= 10 && b[0] == 5 && dce_ld16(b + 8, (b[4] & 0x10) != 0) == chunk) {
    uint8_t type = b[2], flags = b[3];
    int asks = (type == 0 || type == 11 || type == 14) && (flags & 0x02);   /* a reply will come */
    if (asks && (flags & 0x01) && !s->no_transceive && !p->reading && !p->expect && pipe_avail(p) == 0 &&
        !p->rx_left && !p->rx_hdr_len && chunk <= s->max_transact) {
      if (send_transceive(s, p, b, chunk) || flush(s)) return DCE_T_ERROR;
      p->expect++;
      return (long)chunk;
    }
    if (asks) p->expect++;
  }
  if (send_write(s, p, b, chunk) || flush(s)) return DCE_T_ERROR;
  return (long)chunk;
}

static int pipe_want_read(smb_pipe *p) {
  dce_smb *s = p->s;
  if (p->state == P_OPEN && !p->reading && pipe_avail(p) == 0 && (p->expect || p->rx_left || p->rx_hdr_len) &&
      can_send(s, PIPE_IO_MAX)) {
    if (send_read(s, p)) return -1;
  }
  return 0;
}

static long pipe_recv(dce_transport *t, void *buf, size_t n) {
  smb_pipe *p = (smb_pipe *)t;
  dce_smb *s = p->s;
  size_t k;
  int r;
  if (pipe_avail(p) == 0) {
    pipe_unwake(p);
    if (p->state == P_FAILED || p->state == P_CLOSED) return DCE_T_ERROR;
    if (pipe_want_read(p)) return DCE_T_ERROR;
    s->current = p;
    r = session_io(s);
    s->current = NULL;
    if (r && pipe_avail(p) == 0) return DCE_T_ERROR;
    if (pipe_avail(p) == 0) {
      if (p->state == P_FAILED) return DCE_T_ERROR;
      if (pipe_want_read(p) || flush(s)) return DCE_T_ERROR;
      return DCE_T_AGAIN;
    }
  }
  k = pipe_avail(p) < n ? pipe_avail(p) : n;
  memcpy(buf, p->in.p + p->in_off, k);
  p->in_off += k;
  if (p->in_off == p->in.len) { p->in.len = 0; p->in_off = 0; pipe_unwake(p); }
  return (long)k;
}

static int pipe_poll(dce_transport *t, unsigned want, unsigned *events) {
  smb_pipe *p = (smb_pipe *)t;
  dce_smb *s = p->s;
  unsigned ev = DCE_T_READ;
  s->drained = 0;                  /* the caller waits next: read again once woken */
  if (p->state == P_CLOSED) { *events = 0; return -1; }
  if ((want & DCE_T_READ) && s->state != ST_DEAD) {
    if (pipe_want_read(p) == 0) flush(s);
  }
  if (s->state != ST_DEAD && out_pending(s)) ev |= DCE_T_WRITE;
  /* the driver has bytes for the pipe and the pipe could take them: wake
  ** as soon as the socket can be written */
  if ((want & DCE_T_WRITE) && p->state == P_OPEN && s->state != ST_DEAD && can_send(s, PIPE_IO_MAX))
    ev |= DCE_T_WRITE;
#if SMB_WAITSET
  {
    struct epoll_event ee;
    *events = DCE_T_READ;          /* the epoll fd is only ever readable */
    if (ev != p->ep_events) {
      memset(&ee, 0, sizeof ee);
      ee.events = ((ev & DCE_T_READ) ? EPOLLIN : 0) | ((ev & DCE_T_WRITE) ? EPOLLOUT : 0);
      ee.data.u32 = 1;
      if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, s->sockfd, &ee) == 0) p->ep_events = ev;
    }
    return p->epfd;
  }
#else
  *events = ev;
  return s->sockfd;
#endif
}

static size_t pipe_pending(const dce_transport *t) {
  const smb_pipe *p = (const smb_pipe *)t;
  if (pipe_avail(p)) return pipe_avail(p);
  if (p->state == P_FAILED || p->s->state == ST_DEAD) return 1;   /* recv reports it */
  if (have_frame(p->s)) return 1;
  return 0;
}

static void pipe_shutdown(dce_transport *t) {
  smb_pipe *p = (smb_pipe *)t;
  if (p->state != P_CLOSED && p->state != P_FAILED) {
    p->state = P_FAILED;
    p->status = SMB2_STATUS_PIPE_DISCONNECTED;
    snprintf(p->t.errmsg, sizeof p->t.errmsg, "pipe \\pipe\\%s shut down", p->name);
  }
  pipe_wake(p);
}

static void smb_free(dce_smb *s);

static void pipe_close(dce_transport *t) {
  smb_pipe *p = (smb_pipe *)t, **pp;
  dce_smb *s = p->s;
  int i;
  /* Another pipe stays: CLOSE this one (its answer is read by the others).
  ** The last one: the socket is closed, which ends the session; a CLOSE or
  ** LOGOFF whose answer came after our close would only draw a reset. */
  if (s->refs > 1 && p->state == P_OPEN && s->state == ST_READY && can_send(s, 0)) {
    send_close(s, p);
    flush(s);
  }
  for (i = 0; i < MAX_OPS; i++) if (s->ops[i].used && s->ops[i].pipe == p) s->ops[i].pipe = NULL;
  for (pp = &s->pipes; *pp; pp = &(*pp)->next) if (*pp == p) { *pp = p->next; break; }
  dce_buf_free(&p->in);
  dce_buf_free(&p->tx);
  if (p->epfd >= 0) close(p->epfd);
  if (p->evfd >= 0) close(p->evfd);
  free(p);
  if (--s->refs == 0) smb_free(s);
}

static const dce_transport_ops pipe_ops = {
  "ncacn_np", pipe_send, pipe_recv, pipe_poll, pipe_pending, pipe_shutdown, pipe_close
};

/* ------------------------------------------------------------ session */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void smb_free(dce_smb *s) {
  if (s->mctx) s->mech->free(s->mctx);
  if (s->sock) s->sock->ops->close(s->sock);
  dce_buf_free(&s->out);
  dce_buf_free(&s->in);
  dce_buf_free(&s->scratch);
  if (s->password) { dce_secure_zero(s->password, strlen(s->password)); free(s->password); }
  free(s->server); free(s->nbss_called); free(s->nbss_calling);
  free(s->user); free(s->domain); free(s->workstation); free(s->target);
  free(s->ccache); free(s->client_keytab);
  dce_smb_crypt_free(&s->crypt);
  dce_secure_zero(s->app_key, sizeof s->app_key);
  dce_secure_zero(s->nt_hash, sizeof s->nt_hash);
  free(s);
}

dce_smb *dce_smb_new(dce_transport *sock, const dce_smb_cfg *cfg, char *err, size_t errlen) {
  dce_smb *s = calloc(1, sizeof *s);
  unsigned ev;
  if (!s) { sock->ops->close(sock); snprintf(err, errlen, "out of memory"); return NULL; }
  s->sock = sock;
  s->sockfd = sock->ops->poll(sock, DCE_T_READ, &ev);
  dce_buf_init(&s->out); dce_buf_init(&s->in); dce_buf_init(&s->scratch);
  s->mech = cfg->mech ? cfg->mech : dce_mech_by_name("spnego");
  s->min_dialect = cfg->min_dialect ? cfg->min_dialect : SMB2_DIALECT_202;
  s->max_dialect = cfg->max_dialect ? cfg->max_dialect : SMB2_DIALECT_311;
  s->want_signing = cfg->signing;
  s->want_encrypt = cfg->encrypt;
  if (cfg->encrypt && s->max_dialect < SMB2_DIALECT_300) {
    snprintf(err, errlen, "encryption needs SMB 3.0 or later");
    smb_free(s);
    return NULL;
  }
  if (cfg->n_ciphers > 0 && cfg->n_ciphers <= 4) {
    memcpy(s->ciphers, cfg->ciphers, sizeof s->ciphers);
    s->n_ciphers = cfg->n_ciphers;
  } else {
    s->ciphers[0] = DCE_SMB2_CIPHER_AES128_GCM; s->ciphers[1] = DCE_SMB2_CIPHER_AES128_CCM;
    s->ciphers[2] = DCE_SMB2_CIPHER_AES256_GCM; s->ciphers[3] = DCE_SMB2_CIPHER_AES256_CCM;
    s->n_ciphers = 4;
  }
  s->max_frame = cfg->max_frame ? cfg->max_frame : DEFAULT_FRAME;
  s->credits = 1;
  s->server = strdup(cfg->server && *cfg->server ? cfg->server : "localhost");
  s->nbss_called = dup_or_null(cfg->nbss_called);
  s->nbss_calling = strdup(cfg->nbss_calling ? cfg->nbss_calling : "LUA-DCERPC");
  s->user = dup_or_null(cfg->cred.user); s->domain = dup_or_null(cfg->cred.domain);
  s->workstation = dup_or_null(cfg->cred.workstation); s->password = dup_or_null(cfg->cred.password);
  s->target = dup_or_null(cfg->cred.target);
  s->ccache = dup_or_null(cfg->cred.ccache); s->client_keytab = dup_or_null(cfg->cred.client_keytab);
  s->kerberos = cfg->cred.kerberos;
  if (cfg->cred.nt_hash) { memcpy(s->nt_hash, cfg->cred.nt_hash, 16); s->has_hash = 1; }
  s->ntlmv1 = cfg->cred.ntlmv1;
  dce_smb_preauth_init(s->preauth);
  if (!s->mech || !s->server || !s->nbss_calling || s->sockfd < 0 ||
      dce_random_bytes(s->client_guid, 16)) {
    snprintf(err, errlen, s->mech ? "out of memory" : "no mechanism for SMB session setup");
    smb_free(s);
    return NULL;
  }
  if (s->nbss_called) {
    s->state = ST_NBSS;
    if (dce_nbss_request(&s->out, s->nbss_called, s->nbss_calling)) {
      snprintf(err, errlen, "bad NetBIOS name \"%s\"", s->nbss_called);
      smb_free(s);
      return NULL;
    }
  } else {
    s->state = ST_NEGOTIATE;
    if (send_negotiate(s)) { snprintf(err, errlen, "%s", s->dead_msg); smb_free(s); return NULL; }
  }
  return s;
}

dce_transport *dce_smb_pipe_new(dce_smb *s, const char *name, char *err, size_t errlen) {
  smb_pipe *p;
  if (s->state == ST_DEAD) { snprintf(err, errlen, "%s", s->dead_msg); return NULL; }
  if (!strncasecmp(name, "\\pipe\\", 6)) name += 6;
  else if (!strncasecmp(name, "\\PIPE\\", 6)) name += 6;
  if (strlen(name) >= sizeof p->name || !*name) { snprintf(err, errlen, "bad pipe name \"%s\"", name); return NULL; }
  p = calloc(1, sizeof *p);
  if (!p) { snprintf(err, errlen, "out of memory"); return NULL; }
  p->t.ops = &pipe_ops;
  snprintf(p->t.peer, sizeof p->t.peer, "%s", s->sock->peer);
  strcpy(p->name, name);
  p->s = s;
  p->epfd = p->evfd = -1;
#if SMB_WAITSET
  {
  struct epoll_event ee;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  memset(&ee, 0, sizeof ee);
  ee.events = EPOLLIN;
  ee.data.u32 = 1;
  if (p->epfd < 0 || p->evfd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, s->sockfd, &ee) ||
      (ee.data.u32 = 2, epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ee))) {
    snprintf(err, errlen, "cannot make the pipe's wait set: %s", strerror(errno));
    if (p->epfd >= 0) close(p->epfd);
    if (p->evfd >= 0) close(p->evfd);
    free(p);
    return NULL;
  }
  }
#endif
  p->ep_events = DCE_T_READ;
  dce_buf_init(&p->in);
  dce_buf_init(&p->tx);
  p->state = P_WAIT_TREE;
  p->next = s->pipes;
  s->pipes = p;
  s->refs++;
  if (s->state == ST_READY) open_waiting_pipes(s);
  return &p->t;
}

dce_smb *dce_smb_of(dce_transport *t) {
  return t && t->ops == &pipe_ops ? ((smb_pipe *)t)->s : NULL;
}

int dce_smb_pipe_open_step(dce_transport *t, dce_err *e) {
  smb_pipe *p = (smb_pipe *)t;
  dce_smb *s = p->s;
  if (p->state == P_WAIT_TREE || p->state == P_OPENING) session_io(s);
  if (p->state == P_OPEN) return 1;
  if (p->state == P_FAILED || p->state == P_CLOSED || s->state == ST_DEAD) {
    uint32_t st = p->state == P_FAILED ? p->status : s->dead_status;
    dce_err_set(e, DCE_E_REFUSED, st, DCE_EXEC_NO, "%s", p->state == P_FAILED ? p->t.errmsg : s->dead_msg);
    return -1;
  }
  pipe_unwake(p);
  return 0;
}

void dce_smb_get_info(const dce_smb *s, dce_smb_info *o) {
  const smb_pipe *p;
  memset(o, 0, sizeof *o);
  o->dialect = s->dialect;
  o->cipher = s->encrypting ? s->cipher : 0;
  o->signing_algorithm = s->sign_algo;
  o->signing = s->signing && !s->encrypting;
  o->encrypting = s->encrypting;
  o->guest = s->guest;
  o->anonymous = s->anonymous;
  o->max_read = s->max_read; o->max_write = s->max_write; o->max_transact = s->max_transact;
  o->session_id = s->session_id;
  o->tree_id = s->tree_id;
  for (p = s->pipes; p; p = p->next) if (p->state == P_OPEN) o->pipes++;
  o->messages_sent = s->next_mid;
  o->messages_received = s->received;
}

int dce_smb_app_key(const dce_smb *s, uint8_t *out, size_t cap, size_t *len) {
  if (!s->have_keys || cap < 16) return -1;
  memcpy(out, s->app_key, 16);
  *len = 16;
  return 0;
}
