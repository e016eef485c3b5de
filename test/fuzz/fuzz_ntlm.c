/*
** fuzz_ntlm.c - libFuzzer harness for the NTLMSSP parsers and the
** per-message checks.
**
**   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
**       test/fuzz/fuzz_ntlm.c engine/[a-z]*.c $(pkg-config --cflags --libs libcrypto)
**   gcc -DSTANDALONE -Iengine ... && ./a.out FILE...   (replays inputs)
**   ./a.out --seeds DIR                                 (writes seed inputs)
**
** The first byte picks the target (low two bits), the rest is the token:
**   0  bytes as CHALLENGE_MESSAGE to a client that sent its NEGOTIATE; when
**      accepted, the new session signs and seals a little
**   1  bytes as NEGOTIATE_MESSAGE to a server
**   2  bytes as AUTHENTICATE_MESSAGE to a server after a real NEGOTIATE /
**      CHALLENGE, then verify with a fixed NT hash
**   3  after a real handshake: bytes[0..16) as a signature, the rest as a
**      message: verify and unseal on both sides, then a genuine exchange
**      must still work in the other direction
** and, when bit 2 of the first byte is set, instead:
**   4  a genuine AUTHENTICATE for the server's real CHALLENGE, edited by the
**      input (3-byte edits: offset LE16 modulo the length, XOR value); the
**      server must either refuse it or end with the client's session key
**      (the MIC covers every byte, so an accepted edit changed nothing)
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/ntlm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dce_ntlm *new_client(void) {
  static const uint8_t hash[16] = { 0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca,
                                    0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52 };
  dce_ntlm_cred c;
  memset(&c, 0, sizeof c);
  c.user = "User"; c.domain = "Domain"; c.workstation = "WS"; c.nt_hash = hash;
  return dce_ntlm_client_new(&c, DCE_NTLM_WANT_SEAL);
}

static dce_ntlm *new_server(void) {
  dce_ntlm_server_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.nb_domain = "DOMAIN"; cfg.nb_computer = "SERVER";
  cfg.dns_domain = "domain.test"; cfg.dns_computer = "server.domain.test";
  cfg.allow_ntlmv1 = 1;                            /* reach the v1 paths too */
  return dce_ntlm_server_new(&cfg);
}

static void exercise(dce_ntlm *n) {
  uint8_t msg[40], sig[16];
  memset(msg, 0x5a, sizeof msg);
  dce_ntlm_sign(n, msg, sizeof msg, sig);
  dce_ntlm_seal(n, msg + 16, 24, msg, sizeof msg, sig);
  dce_ntlm_verify(n, msg, sizeof msg, sig);
}

/* A full handshake: c and s established, neg/chal kept for mode 2. */
static int handshake(dce_ntlm **c, dce_ntlm **s, dce_buf *neg, dce_buf *chal, dce_buf *auth) {
  uint8_t h[16];
  dce_ntlm_auth_info info;
  *c = new_client(); *s = new_server();
  if (!*c || !*s) return -1;
  if (dce_ntlm_client_negotiate(*c, neg) || dce_ntlm_server_challenge(*s, neg->p, neg->len, chal))
    return -1;
  if (!auth) return 0;
  if (dce_ntlm_client_authenticate(*c, chal->p, chal->len, auth)
      || dce_ntlm_server_parse_auth(*s, auth->p, auth->len, &info))
    return -1;
  dce_ntlm_nt_hash("Password", h);
  return dce_ntlm_server_verify(*s, h) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dce_ntlm *c = NULL, *s = NULL;
  dce_buf neg, chal, auth, out;
  if (size < 1) return 0;
  dce_buf_init(&neg); dce_buf_init(&chal); dce_buf_init(&auth); dce_buf_init(&out);
  if (data[0] & 4) {
    if (!handshake(&c, &s, &neg, &chal, NULL)
        && !dce_ntlm_client_authenticate(c, chal.p, chal.len, &auth) && auth.len) {
      dce_ntlm_auth_info info;
      uint8_t h[16], k1[16], k2[16];
      size_t i;
      for (i = 1; i + 3 <= size; i += 3)
        auth.p[(size_t)(data[i] | data[i + 1] << 8) % auth.len] ^= data[i + 2];
      dce_ntlm_nt_hash("Password", h);
      if (!dce_ntlm_server_parse_auth(s, auth.p, auth.len, &info) && !dce_ntlm_server_verify(s, h)) {
        if (dce_ntlm_session_key(c, k1) || dce_ntlm_session_key(s, k2) || memcmp(k1, k2, 16)) abort();
        exercise(s);
      }
    }
    goto done;
  }
  switch (data[0] & 3) {
  case 0:
    c = new_client();
    if (c && !dce_ntlm_client_negotiate(c, &neg)
        && !dce_ntlm_client_authenticate(c, data + 1, size - 1, &out)) {
      if (!dce_ntlm_established(c) || out.len < 88) abort();
      exercise(c);
    }
    break;
  case 1:
    s = new_server();
    if (s && !dce_ntlm_server_challenge(s, data + 1, size - 1, &out) && out.len < 56) abort();
    break;
  case 2:
    if (!handshake(&c, &s, &neg, &chal, NULL)) {
      dce_ntlm_auth_info info;
      uint8_t h[16];
      memset(h, 0x11, sizeof h);
      if (!dce_ntlm_server_parse_auth(s, data + 1, size - 1, &info)) {
        if (!info.user || !info.domain || !info.workstation) abort();
        /* no fuzzed input can know the random challenge's right answer */
        if (dce_ntlm_server_verify(s, h) == 0) abort();
      }
    }
    break;
  default:
    if (!handshake(&c, &s, &neg, &chal, &auth) && size >= 17) {
      size_t n = size - 17;
      uint8_t *m = malloc(n ? n : 1), sig[16], pt[32];
      if (!m) break;
      memcpy(m, data + 17, n);
      if (dce_ntlm_verify(s, m, n, data + 1) == 0) abort();        /* forged */
      if (dce_ntlm_unseal(c, m, n, m, n, data + 1) == 0) abort();
      free(m);
      /* genuine traffic server -> client is unaffected by the junk above */
      memset(pt, 0x33, sizeof pt);
      if (dce_ntlm_reset_crypto(c) || dce_ntlm_reset_crypto(s)) abort();
      if (dce_ntlm_seal(s, pt + 8, 24, pt, sizeof pt, sig) || dce_ntlm_unseal(c, pt + 8, 24, pt, sizeof pt, sig))
        abort();
    }
    break;
  }
done:
  dce_ntlm_free(c); dce_ntlm_free(s);
  dce_buf_free(&neg); dce_buf_free(&chal); dce_buf_free(&auth); dce_buf_free(&out);
  return 0;
}

#ifdef STANDALONE
static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n) {
  char path[1024];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (!(f = fopen(path, "wb"))) { perror(path); exit(1); }
  fputc(mode, f);
  fwrite(p, 1, n, f);
  fclose(f);
}

int main(int argc, char **argv) {
  int i;
  if (argc == 3 && !strcmp(argv[1], "--seeds")) {
    dce_ntlm *c, *s;
    dce_buf neg, chal, auth;
    uint8_t msg[48], sig[16], sealed[64];
    dce_buf_init(&neg); dce_buf_init(&chal); dce_buf_init(&auth);
    if (handshake(&c, &s, &neg, &chal, &auth)) { fprintf(stderr, "handshake failed\n"); return 1; }
    write_seed(argv[2], "challenge", 0, chal.p, chal.len);
    write_seed(argv[2], "negotiate", 1, neg.p, neg.len);
    write_seed(argv[2], "authenticate", 2, auth.p, auth.len);
    memset(msg, 0x42, sizeof msg);
    dce_ntlm_seal(c, msg + 16, 32, msg, sizeof msg, sig);
    memcpy(sealed, sig, 16);
    memcpy(sealed + 16, msg, sizeof msg);
    write_seed(argv[2], "sealed", 3, sealed, sizeof sealed);
    write_seed(argv[2], "auth-edit", 4, (const uint8_t *)"\x48\x00\x00", 3);   /* MIC byte, XOR 0 */
    dce_ntlm_free(c); dce_ntlm_free(s);
    dce_buf_free(&neg); dce_buf_free(&chal); dce_buf_free(&auth);
    return 0;
  }
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    static uint8_t buf[1 << 17];
    size_t n;
    if (!f) { perror(argv[i]); return 1; }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("fuzz_ntlm: %d inputs replayed\n", argc - 1);
  return 0;
}
#endif
