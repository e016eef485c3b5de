/*
** fuzz_smb2.c - libFuzzer harness for the SMB 2/3 client's response path
** (engine/smb: smb2.c, smb_client.c, nbss.c, and the NTLM / SPNEGO legs
** behind SESSION_SETUP).
**
**   bash tools/fuzz.sh              (builds every harness with ASan + UBSan)
**   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
**       test/fuzz/fuzz_smb2.c engine/x/x.c ... -lcrypto
**   gcc -DSTANDALONE -Iengine ... && ./a.out FILE...   (replays inputs)
**
** A real session runs over one end of a socketpair (dce_sock_wrap); the
** harness is the server on the other end. The input is one byte of
** configuration and then records, each played in turn while the client is
** driven (open step; once the pipe is open, a bind PDU written and reads):
**
**   config: bit 0 SPNEGO (else raw NTLM), bit 1 NBSS (port 139 mode),
**           bits 2-4 the highest dialect offered (2.0.2 .. 3.1.1),
**           bit 5 signing required, bit 6 a second pipe
**   record: kind (1 byte), length (2 bytes LE), that many bytes of payload
**     kind % 4 == 0  the payload is written as it is (frames, garbage, NBSS)
**     kind % 4 == 1  a reply to the oldest request not yet answered: a
**                    header made for it (its command and message id,
**                    SERVER_TO_REDIR, our session and tree) with Status =
**                    payload[0..3], CreditResponse = payload[4..5], flags
**                    |= payload[6] & 0x0e, and the body = payload[7..],
**                    in a frame of its own
**     kind % 4 == 2  as 1, but for the newest request not yet answered
**     kind % 4 == 3  as 1, with the made header XORed with payload[7..70]
**                    and the body the rest: header fields corrupted while
**                    the message ids still match
**   A reply with STATUS_PENDING and the async flag leaves its request
**   unanswered (an interim response). kind & 0x80 on kinds 1-3 holds the
**   frame back and sends it with the next reply's in one frame (a compound
**   chain, NextCommand filled in).
**
** The client must never crash, leak, loop without end or hold more than its
** limits, and a pipe whose pending() is non-zero must make progress on the
** next call (check_pending); whatever it says (open, failed) is fine.
*/
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "auth/mech.h"
#include "net/transport.h"
#include "smb/smb2.h"
#include "smb/smb_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQS 64
#define SESSION_ID 0x0000100000000041ull

typedef struct req { uint64_t mid; uint16_t cmd; } req;

typedef struct peer {
  int fd;
  uint8_t in[1 << 18];             /* what the client sent, not yet parsed */
  size_t in_len;
  req reqs[MAX_REQS];              /* requests not yet answered, oldest first */
  int n_reqs;
  uint8_t held[1 << 16];           /* a reply held back for a compound chain */
  size_t held_len, held_last;      /* its length; where its last header starts */
} peer;

static const uint8_t bind_pdu[72] = {
  5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0,
  0x98, 0x10, 0x98, 0x10, 0, 0, 0, 0, 1, 0, 0, 0,
  0, 0, 1, 0,
  0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11, 0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82, 1, 0, 0, 0,
  0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0 };

static void put_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w <= 0) return;            /* the client's buffer is full or it closed: drop the rest */
    p += w;
    n -= (size_t)w;
  }
}

/* Read what the client sent; note each request (NBSS session requests and
** anything not SMB2 are skipped). */
static void peer_collect(peer *pr) {
  for (;;) {
    ssize_t r;
    if (pr->in_len == sizeof pr->in) pr->in_len = 0;      /* cannot happen with our frame sizes */
    r = recv(pr->fd, pr->in + pr->in_len, sizeof pr->in - pr->in_len, MSG_DONTWAIT);
    if (r <= 0) break;
    pr->in_len += (size_t)r;
  }
  for (;;) {
    size_t flen;
    const uint8_t *f = pr->in;
    if (pr->in_len < 4) break;
    flen = ((size_t)(f[1] & 1) << 16 | (size_t)f[2] << 8 | f[3]);
    if (f[0] != 0) flen = ((size_t)f[2] << 8 | f[3]);     /* NBSS session request */
    if (pr->in_len < 4 + flen) break;
    if (f[0] == 0 && flen >= SMB2_HDR_LEN && f[4] == 0xFE && pr->n_reqs < MAX_REQS) {
      req *q = &pr->reqs[pr->n_reqs++];
      q->cmd = dce_ld16(f + 4 + 12, 1);
      q->mid = dce_ld64(f + 4 + 24, 1);
    }
    memmove(pr->in, pr->in + 4 + flen, pr->in_len - 4 - flen);
    pr->in_len -= 4 + flen;
  }
}

/* A reply (kinds 1-3) to request number `which`. */
static void peer_reply(peer *pr, int kind, int which, const uint8_t *pl, size_t n) {
  uint8_t msg[SMB2_HDR_LEN + 65536];
  const uint8_t *body;
  size_t blen, i, mlen;
  req q;
  uint32_t status = n >= 4 ? dce_ld32(pl, 1) : 0;
  uint16_t credits = n >= 6 ? dce_ld16(pl + 4, 1) : 16;
  uint32_t flags = SMB2_FLAGS_SERVER_TO_REDIR | (n >= 7 ? (pl[6] & 0x0e) : 0);
  int hold = kind & 0x80;
  if (pr->n_reqs == 0) return;
  q = pr->reqs[which];
  memset(msg, 0, SMB2_HDR_LEN);
  msg[0] = 0xFE; msg[1] = 'S'; msg[2] = 'M'; msg[3] = 'B';
  dce_st16(msg + 4, SMB2_HDR_LEN, 1);
  dce_st16(msg + 6, 1, 1);
  dce_st32(msg + 8, status, 1);
  dce_st16(msg + 12, q.cmd, 1);
  dce_st16(msg + 14, credits, 1);
  dce_st32(msg + 16, flags, 1);
  dce_st64(msg + 24, q.mid, 1);
  if (flags & SMB2_FLAGS_ASYNC_COMMAND) dce_st64(msg + 32, 0x77, 1);
  else dce_st32(msg + 36, q.cmd >= SMB2_CREATE ? 7 : 0, 1);
  dce_st64(msg + 40, q.cmd == SMB2_NEGOTIATE ? 0 : SESSION_ID, 1);
  body = n > 7 ? pl + 7 : pl + n;
  blen = n > 7 ? n - 7 : 0;
  if ((kind & 3) == 3) {
    size_t x = blen < SMB2_HDR_LEN ? blen : SMB2_HDR_LEN;
    for (i = 0; i < x; i++) msg[i] ^= body[i];
    body += x;
    blen -= x;
  }
  if (blen > 65536) blen = 65536;
  memcpy(msg + SMB2_HDR_LEN, body, blen);
  mlen = SMB2_HDR_LEN + blen;
  if (!(status == SMB2_STATUS_PENDING && (flags & SMB2_FLAGS_ASYNC_COMMAND))) {
    memmove(&pr->reqs[which], &pr->reqs[which + 1], (size_t)(pr->n_reqs - which - 1) * sizeof(req));
    pr->n_reqs--;
  }
  if (pr->held_len) {
    /* chain: the held messages, 8-aligned, NextCommand of the last one set */
    size_t pad = (8 - pr->held_len % 8) % 8;
    if (pr->held_len + pad + mlen <= sizeof pr->held) {
      memset(pr->held + pr->held_len, 0, pad);
      pr->held_len += pad;
      dce_st32(pr->held + pr->held_last + 20, (uint32_t)(pr->held_len - pr->held_last), 1);
      pr->held_last = pr->held_len;
      memcpy(pr->held + pr->held_len, msg, mlen);
      pr->held_len += mlen;
    }
  } else if (mlen <= sizeof pr->held) {
    memcpy(pr->held, msg, mlen);
    pr->held_len = mlen;
    pr->held_last = 0;
  }
  if (!hold && pr->held_len) {
    uint8_t fh[4] = { 0, (uint8_t)(pr->held_len >> 16), (uint8_t)(pr->held_len >> 8), (uint8_t)pr->held_len };
    put_all(pr->fd, fh, 4);
    put_all(pr->fd, pr->held, pr->held_len);
    pr->held_len = 0;
  }
}

/* what the last input reached (printed by the STANDALONE replay) */
static int last_open[2];
static size_t last_got[2];

typedef struct client {
  dce_transport *pipe[2];
  int n_pipes;
  int open[2];                     /* 1 open, -1 failed */
  size_t bind_sent[2];
} client;

/* Drive the client a little: open steps, then the bind and reads. */
static void drive(client *c) {
  int i, k;
  for (k = 0; k < 4; k++) {
    for (i = 0; i < c->n_pipes; i++) {
      dce_transport *t = c->pipe[i];
      uint8_t buf[4096];
      long r;
      if (c->open[i] == 0) {
        dce_err e;
        int rc = dce_smb_pipe_open_step(t, &e);
        if (rc != 0) c->open[i] = rc;
      }
      if (c->open[i] != 1) continue;
      if (c->bind_sent[i] < sizeof bind_pdu) {
        r = t->ops->send(t, bind_pdu + c->bind_sent[i], sizeof bind_pdu - c->bind_sent[i]);
        if (r > 0) c->bind_sent[i] += (size_t)r;
        else if (r == DCE_T_ERROR) { c->open[i] = -1; continue; }
      }
      do {
        r = t->ops->recv(t, buf, sizeof buf);
        if (r > 0) last_got[i] += (size_t)r;
      } while (r > 0);
      if (r == DCE_T_ERROR || r == 0) c->open[i] = -1;
      {
        unsigned ev;
        (void)dce_transport_poll(t, DCE_T_READ, &ev);
        (void)dce_transport_pending(t);
      }
    }
  }
}

/* What every driver relies on: a transport whose pending() is non-zero has
** something for the next call (data, a failure, a step of the handshake);
** a driver that sees pending() > 0 calls again without waiting. When three
** calls in a row make no progress while pending() stays non-zero, a driver
** spins without end (a hang at 100% CPU): abort. */
static void check_pending(client *c) {
  int i, k;
  for (i = 0; i < c->n_pipes; i++) {
    dce_transport *t = c->pipe[i];
    if (c->open[i] < 0) continue;
    for (k = 0; k < 3 && dce_transport_pending(t) > 0; k++) {
      if (c->open[i] == 0) {
        dce_err e;
        int rc = dce_smb_pipe_open_step(t, &e);
        if (rc != 0) { c->open[i] = rc; break; }
      } else {
        uint8_t buf[4096];
        long r = t->ops->recv(t, buf, sizeof buf);
        if (r > 0) { last_got[i] += (size_t)r; break; }
        if (r != DCE_T_AGAIN) { c->open[i] = -1; break; }
      }
    }
    if (k == 3) {
      fprintf(stderr, "fuzz_smb2: pipe %d: pending() stays %zu while %s makes no progress: a driver spins\n",
              i, dce_transport_pending(t), c->open[i] == 0 ? "dce_smb_pipe_open_step" : "recv");
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint16_t dialects[] = { 0x0202, 0x0210, 0x0300, 0x0302, 0x0311, 0x0311, 0x0311, 0x0311 };
  static peer pr;
  int sv[2], i;
  size_t off = 1;
  uint8_t conf;
  dce_smb_cfg cfg;
  dce_transport *sock;
  dce_smb *s;
  client c;
  char err[200];
  if (size < 1) return 0;
  conf = data[0];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return 0;
  /* the client's side holds a sizeable buffer, so that frames of the
  ** fuzz input up to the size limit fit without a reader */
  {
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  }
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  sock = dce_sock_wrap(sv[0]);
  if (!sock) { close(sv[0]); close(sv[1]); return 0; }
  memset(&cfg, 0, sizeof cfg);
  cfg.server = "fuzz";
  cfg.mech = dce_mech_by_name((conf & 1) ? "spnego" : "ntlm");
  cfg.cred.user = "u";
  cfg.cred.password = "p";
  cfg.cred.domain = "D";
  cfg.max_dialect = dialects[(conf >> 2) & 7];
  cfg.signing = (conf >> 5) & 1;
  cfg.nbss_called = (conf & 2) ? "FUZZ" : NULL;
  s = dce_smb_new(sock, &cfg, err, sizeof err);
  if (!s) { close(sv[1]); return 0; }
  memset(&c, 0, sizeof c);
  c.pipe[0] = dce_smb_pipe_new(s, "srvsvc", err, sizeof err);
  if (!c.pipe[0]) { close(sv[1]); return 0; }   /* cannot happen: the session is new */
  c.n_pipes = 1;
  if (conf & 0x40) {
    c.pipe[1] = dce_smb_pipe_new(s, "\\pipe\\lsarpc", err, sizeof err);
    if (c.pipe[1]) c.n_pipes = 2;
  }
  memset(&pr, 0, sizeof pr);
  pr.fd = sv[1];
  last_got[0] = last_got[1] = 0;
  drive(&c);
  while (off + 3 <= size) {
    uint8_t kind = data[off];
    size_t n = dce_ld16(data + off + 1, 1);
    const uint8_t *pl = data + off + 3;
    off += 3;
    if (n > size - off) n = size - off;
    off += n;
    peer_collect(&pr);
    if ((kind & 3) == 0) put_all(pr.fd, pl, n);
    else if (pr.n_reqs) peer_reply(&pr, kind, (kind & 3) == 2 ? pr.n_reqs - 1 : 0, pl, n);
    drive(&c);
    check_pending(&c);
  }
  peer_collect(&pr);
  last_open[0] = c.open[0];
  last_open[1] = c.open[1];
  /* the end: the server goes away; the client must notice and clean up */
  shutdown(pr.fd, SHUT_WR);
  drive(&c);
  for (i = c.n_pipes - 1; i >= 0; i--) c.pipe[i]->ops->close(c.pipe[i]);
  close(pr.fd);
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  int i;
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    static uint8_t buf[1 << 20];
    size_t n;
    if (!f) { perror(argv[i]); return 1; }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    printf("%s: pipe open %d/%d, %zu/%zu bytes read\n", argv[i], last_open[0], last_open[1], last_got[0], last_got[1]);
  }
  printf("fuzz_smb2: %d inputs replayed\n", argc - 1);
  return 0;
}
#endif
