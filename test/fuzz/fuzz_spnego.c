/*
** fuzz_spnego.c - libFuzzer harness for the SPNEGO codec and both
** negotiation state machines (engine/der.c, engine/spnego.c).
**
**   tools/fuzz.sh builds it like every test/fuzz/fuzz_*.c
**   gcc -DSTANDALONE -Iengine test/fuzz/fuzz_spnego.c engine/[a-z]*.c ... && ./a.out FILE...
**
** The first input byte picks what the rest is:
**   mode 0: one token: decode; when that succeeds encode it, decode the
**           encoding and encode again: the two encodings must be identical
**           and the fields the same (pull -> push -> pull -> push).
**   mode 1: a server fed a sequence of tokens (each a 2-byte big-endian
**           length and that many bytes).
**   mode 2: the same for a client after its NegTokenInit.
**   mode 3: an honest client/server exchange over a toy mechanism in which
**           the message of one leg (byte 1) is replaced by the rest.
** Bits of byte 0 also choose the toy's MIC policy and the REQUIRE_MIC flag.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/der.h"
#include "auth/spnego.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------------------------------------------------------- toy mech
** Three legs like NTLM: C 'N' -> S 'C' nonce -> C 'A' proof; the MIC is a
** keyed checksum with a direction and a sequence number. */
typedef struct toy { int server, leg, done, policy; uint32_t nonce; unsigned sseq, rseq; } toy;

static uint32_t mix(uint32_t h, const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static int toy_step(void *mctx, const uint8_t *in, size_t in_len, dce_buf *out, int *complete,
                    char *err, size_t errlen) {
  toy *t = mctx;
  t->leg++;
  if (!t->server && t->leg == 1 && !in) { dce_buf_u8(out, 'N'); return 0; }
  if (!t->server && t->leg == 2 && in && in_len == 5 && in[0] == 'C') {
    dce_buf_u8(out, 'A');
    dce_buf_u32(out, mix(7, in + 1, 4), 1);
    t->done = *complete = 1;
    return 0;
  }
  if (t->server && t->leg == 1 && in && in_len == 1 && in[0] == 'N') {
    t->nonce = 0x01020304;
    dce_buf_u8(out, 'C');
    dce_buf_u32(out, t->nonce, 1);
    return 0;
  }
  if (t->server && t->leg == 2 && in && in_len == 5 && in[0] == 'A') {
    uint8_t n[4];
    dce_st32(n, t->nonce, 1);
    if (dce_ld32(in + 1, 1) != mix(7, n, 4)) { snprintf(err, errlen, "bad proof"); return -1; }
    t->done = *complete = 1;
    return 0;
  }
  snprintf(err, errlen, "unexpected token at leg %d", t->leg);
  return -1;
}

static int toy_get_mic(void *mctx, const uint8_t *msg, size_t len, dce_buf *mic) {
  toy *t = mctx;
  uint8_t h[2] = { (uint8_t)t->server, (uint8_t)t->sseq++ };
  if (!t->done) abort();             /* contract: only after completion */
  dce_buf_put(mic, h, 2);
  dce_buf_u32(mic, mix(mix(99, h, 2), msg, len), 1);
  return 0;
}

static int toy_verify_mic(void *mctx, const uint8_t *msg, size_t len, const uint8_t *mic, size_t mic_len) {
  toy *t = mctx;
  uint8_t h[2] = { (uint8_t)!t->server, (uint8_t)t->rseq };
  if (!t->done) abort();
  if (mic_len != 6 || memcmp(mic, h, 2) || dce_ld32(mic + 2, 1) != mix(mix(99, h, 2), msg, len)) return -1;
  t->rseq++;
  return 0;
}

static int toy_policy(void *mctx) { return ((toy *)mctx)->policy; }

static const uint8_t T_NTLM[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a };
static const uint8_t T_KRB5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };
/* The toy's legs report completion through *complete; as an auth/mech.h
** mechanism its step says 0 (established), 1 (go on) or -1. */
static int toy_mech_step(void *mctx, const uint8_t *in, size_t in_len, dce_buf *out,
                         uint32_t *status, char *err, size_t errlen) {
  int complete = 0;
  if (toy_step(mctx, in, in_len, out, &complete, err, errlen) != 0) { *status = 0xC000006Du; return -1; }
  return complete ? 0 : 1;
}

static const dce_mech M_NTLM = { .name = "toy", .oid = T_NTLM, .oid_len = sizeof T_NTLM,
                                 .step = toy_mech_step, .get_mic = toy_get_mic,
                                 .verify_mic = toy_verify_mic, .mic_policy = toy_policy };
static const dce_mech M_KRB5 = { .name = "toy5", .oid = T_KRB5, .oid_len = sizeof T_KRB5,
                                 .step = toy_mech_step, .get_mic = toy_get_mic,
                                 .verify_mic = toy_verify_mic, .mic_policy = toy_policy };

typedef struct side { dce_spnego sp; toy t[2]; const dce_mech *m[2]; void *c[2]; } side;

static void side_init(side *s, int role, int policy, unsigned flags, int two) {
  memset(s, 0, sizeof *s);
  s->t[0].server = s->t[1].server = role == DCE_SPNEGO_SERVER;
  s->t[0].policy = s->t[1].policy = policy;
  s->m[0] = two ? &M_KRB5 : &M_NTLM;
  s->m[1] = &M_NTLM;
  s->c[0] = &s->t[0]; s->c[1] = &s->t[1];
  if (dce_spnego_init(&s->sp, role, s->m, s->c, two ? 2 : 1, flags) != 0) abort();
}

/* ---------------------------------------------------------------- checks */

static void same_tok(const dce_spnego_tok *a, const dce_spnego_tok *b) {
  size_t i;
  if (a->kind != b->kind || a->n_mechs != b->n_mechs || a->neg_state != b->neg_state) abort();
  if (!a->token != !b->token || a->token_len != b->token_len) abort();
  if (a->token_len && memcmp(a->token, b->token, a->token_len)) abort();
  if (!a->mic != !b->mic || a->mic_len != b->mic_len) abort();
  if (a->mic_len && memcmp(a->mic, b->mic, a->mic_len)) abort();
  if (!a->supported_mech.p != !b->supported_mech.p || a->supported_mech.len != b->supported_mech.len) abort();
  if (a->has_neg_hints != b->has_neg_hints || a->hint_name_len != b->hint_name_len) abort();
  for (i = 0; i < a->n_mechs; i++)
    if (a->mechs[i].len != b->mechs[i].len || memcmp(a->mechs[i].p, b->mechs[i].p, a->mechs[i].len)) abort();
}

static void roundtrip(const uint8_t *p, size_t n) {
  dce_spnego_tok a, b;
  dce_buf e1, e2;
  char err[160];
  if (dce_spnego_decode(&a, p, n, err, sizeof err) != 0) {
    if (!err[0]) abort();              /* every refusal says why */
    return;
  }
  dce_buf_init(&e1); dce_buf_init(&e2);
  if (a.kind == DCE_SPNEGO_INIT && a.n_mechs == 0) goto out;   /* encoder needs mechs */
  if (dce_spnego_encode(&a, &e1, err, sizeof err) != 0) abort();
  if (dce_spnego_decode(&b, e1.p, e1.len, err, sizeof err) != 0) abort();
  same_tok(&a, &b);
  if (a.mech_types && (b.mech_types_len != a.mech_types_len || memcmp(a.mech_types, b.mech_types, a.mech_types_len)))
    abort();                           /* strict DER: the MIC'd bytes survive */
  if (dce_spnego_encode(&b, &e2, err, sizeof err) != 0) abort();
  if (e1.len != e2.len || memcmp(e1.p, e2.p, e1.len)) abort();
out:
  dce_buf_free(&e1); dce_buf_free(&e2);
}

/* Feed length-prefixed chunks to one side until it ends. */
static void feed(side *s, const uint8_t *p, size_t n) {
  dce_buf out;
  int rc = DCE_SPNEGO_CONTINUE;
  dce_buf_init(&out);
  while (n >= 2 && rc == DCE_SPNEGO_CONTINUE) {
    size_t len = ((size_t)p[0] << 8) | p[1];
    p += 2; n -= 2;
    if (len > n) len = n;
    dce_buf_reset(&out);
    rc = dce_spnego_step(&s->sp, p, len, &out);
    if (rc == DCE_SPNEGO_ERROR && !dce_spnego_errmsg(&s->sp)[0]) abort();
    if (out.len) {                     /* whatever we send must decode */
      dce_spnego_tok t;
      char err[160];
      if (dce_spnego_decode(&t, out.p, out.len, err, sizeof err) != 0) abort();
    }
    p += len; n -= len;
  }
  dce_buf_free(&out);
}

static void exchange(int policy, unsigned flags, int two, int bad_leg, const uint8_t *p, size_t n) {
  side c, s;
  dce_buf a, b;
  int leg = 0, crc, src = DCE_SPNEGO_CONTINUE;
  side_init(&c, DCE_SPNEGO_CLIENT, policy, flags, two);
  side_init(&s, DCE_SPNEGO_SERVER, policy, flags & 1 ? DCE_SPNEGO_REQUIRE_MIC : 0, 0);
  dce_buf_init(&a); dce_buf_init(&b);
  crc = dce_spnego_step(&c.sp, NULL, 0, &a);
  while (leg < 10 && crc != DCE_SPNEGO_ERROR && a.len) {
    if (leg++ == bad_leg) { dce_buf_reset(&a); dce_buf_put(&a, p, n); }
    dce_buf_reset(&b);
    src = dce_spnego_step(&s.sp, a.p, a.len, &b);
    if (!b.len) break;
    if (leg++ == bad_leg) { dce_buf_reset(&b); dce_buf_put(&b, p, n); }
    dce_buf_reset(&a);
    crc = dce_spnego_step(&c.sp, b.p, b.len, &a);
    if (src != DCE_SPNEGO_CONTINUE) break;
  }
  /* Without tampering an honest exchange must succeed on both sides. */
  if (bad_leg > 9 && (crc != DCE_SPNEGO_DONE || src != DCE_SPNEGO_DONE)) abort();
  /* A client may only complete when the server did, or was lied to at the
  ** last leg; never complete with a mech that is not done. */
  if (dce_spnego_complete(&c.sp) && !c.t[c.sp.sel].done) abort();
  if (dce_spnego_complete(&s.sp) && !s.t[s.sp.sel].done) abort();
  dce_buf_free(&a); dce_buf_free(&b);
  dce_spnego_free(&c.sp); dce_spnego_free(&s.sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int mode, policy, two;
  unsigned flags;
  if (size < 2) return 0;
  mode = data[0] & 3;
  policy = (data[0] >> 2) % 3;
  flags = (data[0] >> 4) & 1 ? DCE_SPNEGO_REQUIRE_MIC : 0;
  two = (data[0] >> 5) & 1;
  if (mode == 0) {
    roundtrip(data + 1, size - 1);
  } else if (mode == 1) {
    side s;
    side_init(&s, DCE_SPNEGO_SERVER, policy, flags, two);
    feed(&s, data + 1, size - 1);
    dce_spnego_free(&s.sp);
  } else if (mode == 2) {
    side c;
    dce_buf out;
    side_init(&c, DCE_SPNEGO_CLIENT, policy, flags, two);
    dce_buf_init(&out);
    if (dce_spnego_step(&c.sp, NULL, 0, &out) != DCE_SPNEGO_CONTINUE) abort();
    feed(&c, data + 1, size - 1);
    dce_buf_free(&out);
    dce_spnego_free(&c.sp);
  } else {
    exchange(policy, flags, two, data[1], data + 2, size - 2);
  }
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  int i;
  static uint8_t buf[1 << 17];
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    size_t n;
    if (!f) { perror(argv[i]); return 1; }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  /* honest exchanges in every configuration */
  for (i = 0; i < 64; i++) {
    uint8_t in[2] = { (uint8_t)(i << 2 | 3), 0xff };
    LLVMFuzzerTestOneInput(in, 2);
  }
  printf("fuzz_spnego: %d inputs replayed\n", argc - 1);
  return 0;
}
#endif
