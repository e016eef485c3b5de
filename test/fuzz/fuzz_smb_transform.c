/*
** fuzz_smb_transform.c - libFuzzer harness for the SMB2 TRANSFORM_HEADER
** decrypt path and SMB2 signature verification (smb/smb_crypt).
**
**   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
**       test/fuzz/fuzz_smb_transform.c $(find engine -name '*.c') \
**       $(pkg-config --cflags --libs libcrypto)
**   gcc -DSTANDALONE -Iengine ... && ./a.out FILE...   (replays inputs, or
**   runs a random smoke test when given none)
**   ./a.out --seeds DIR                                 (writes seed inputs)
**
** Sessions are set up once from fixed keys (dialect 3.1.1, one per cipher).
** The first byte of an input: bits 0-1 pick the cipher (CCM-128, GCM-128,
** CCM-256, GCM-256), bits 2-3 the target, the rest is the data:
**   0  the data as a received transform frame, decrypted by the server with
**      a fixed SessionId; on success the result must lie inside the frame
**      and have the length the header announced
**   1  the same, but the SessionId expected is the frame's own, so every
**      frame that passes the header checks reaches the AEAD
**   2  the data as a plaintext: the client encrypts it, the server must get
**      it back; then one bit of the frame (chosen from the data) is flipped
**      and the server must refuse it, whatever the bit
**   3  the data as an SMB2 message: verified as is (must not crash), then
**      signed by the client and verified by the server, then one bit
**      flipped and refused (AES-CMAC for CCM sessions, AES-GMAC for GCM)
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/buf.h"
#include "smb/smb_crypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 70000
static const uint64_t SID = 0x0000100000000025ull;

static dce_smb_crypt client[4], server[4];
static int ready;

static void setup(void) {
  static const uint16_t ciphers[4] = { DCE_SMB2_CIPHER_AES128_CCM, DCE_SMB2_CIPHER_AES128_GCM,
                                       DCE_SMB2_CIPHER_AES256_CCM, DCE_SMB2_CIPHER_AES256_GCM };
  uint8_t sk[32], pa[64];
  dce_smb_keys k;
  int i;
  for (i = 0; i < 32; i++) sk[i] = (uint8_t)(0x41 + i);
  for (i = 0; i < 64; i++) pa[i] = (uint8_t)(0x90 ^ i);
  for (i = 0; i < 4; i++) {
    uint16_t sign = (i & 1) ? DCE_SMB2_SIGN_AES_GMAC : DCE_SMB2_SIGN_AES_CMAC;
    if (dce_smb_keys_derive(&k, DCE_SMB2_DIALECT_311, sign, ciphers[i], sk, 32, pa, NULL)
        || dce_smb_crypt_init(&client[i], &k, DCE_SMB_CLIENT, NULL)
        || dce_smb_crypt_init(&server[i], &k, DCE_SMB_SERVER, NULL)) {
      fprintf(stderr, "fuzz_smb_transform: setup failed\n");
      abort();
    }
    dce_smb_keys_wipe(&k);
  }
  ready = 1;
}

static uint8_t frame[DCE_SMB2_TRANSFORM_SIZE + MAX_MSG];
static uint8_t plain[MAX_MSG];

/* Targets 0 and 1: a frame from the wire. */
static void decrypt_raw(int ci, int own_sid, const uint8_t *d, size_t n) {
  uint8_t *msg = NULL;
  size_t mlen = 0;
  uint64_t sid = SID;
  dce_err e;
  int rc;
  if (n > sizeof frame) n = sizeof frame;
  memcpy(frame, d, n);
  if (own_sid) dce_smb_transform_session(frame, n, &sid, NULL);
  rc = dce_smb_decrypt(&server[ci], sid, frame, n, &msg, &mlen, &e);
  if (rc == DCE_SMB_OK) {
    if (msg != frame + DCE_SMB2_TRANSFORM_SIZE || mlen != n - DCE_SMB2_TRANSFORM_SIZE
        || mlen != dce_ld32(frame + 36, 1))
      abort();
  } else {
    if (msg || mlen || !dce_smb_crypt_rcname(rc) || !e.msg[0]) abort();
  }
}

/* An index into [0, n) from the data. */
static size_t pick(const uint8_t *d, size_t len, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < len; i++) h = (h ^ d[i]) * 16777619u;
  return n ? h % n : 0;
}

/* Target 2: genuine frames, and every one-bit edit refused. */
static void roundtrip(int ci, const uint8_t *d, size_t n) {
  uint8_t *msg = NULL;
  size_t mlen = 0, flen, bit;
  if (n == 0) return;
  if (n > MAX_MSG) n = MAX_MSG;
  memcpy(frame + DCE_SMB2_TRANSFORM_SIZE, d, n);
  if (dce_smb_encrypt(&client[ci], SID, frame, frame + DCE_SMB2_TRANSFORM_SIZE, n)) abort();
  flen = DCE_SMB2_TRANSFORM_SIZE + n;
  bit = pick(d, n, flen * 8);
  if (dce_smb_decrypt(&server[ci], SID, frame, flen, &msg, &mlen, NULL) || mlen != n
      || memcmp(msg, d, n))
    abort();
  /* again from the encrypted bytes, one bit flipped */
  if (dce_smb_encrypt(&client[ci], SID, frame, frame + DCE_SMB2_TRANSFORM_SIZE, n)) abort();
  frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  if (dce_smb_decrypt(&server[ci], SID, frame, flen, &msg, &mlen, NULL) == DCE_SMB_OK) abort();
  /* the client cannot open what it sent itself */
  frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  if (dce_smb_decrypt(&client[ci], SID, frame, flen, &msg, &mlen, NULL) == DCE_SMB_OK) abort();
}

/* Target 3: SMB2 signatures. */
static void signatures(int ci, const uint8_t *d, size_t n) {
  size_t bit;
  if (n > MAX_MSG) n = MAX_MSG;
  memcpy(plain, d, n);
  dce_smb_verify(&client[ci], plain, n, NULL);               /* any answer, no crash */
  if (n < DCE_SMB2_HDR_SIZE) {
    if (dce_smb_sign(&client[ci], plain, n, 1) != DCE_SMB_E_SHORT) abort();
    return;
  }
  if (dce_smb_sign(&client[ci], plain, n, 1) || dce_smb_verify(&server[ci], plain, n, NULL)) abort();
  bit = pick(d, n, n * 8);
  plain[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  if (dce_smb_verify(&server[ci], plain, n, NULL) == DCE_SMB_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int ci, target;
  if (!ready) setup();
  if (size < 1) return 0;
  ci = data[0] & 3;
  target = (data[0] >> 2) & 3;
  data++; size--;
  switch (target) {
  case 0: decrypt_raw(ci, 0, data, size); break;
  case 1: decrypt_raw(ci, 1, data, size); break;
  case 2: roundtrip(ci, data, size); break;
  default: signatures(ci, data, size); break;
  }
  return 0;
}

/* ------------------------------------------------------------ seeds and replay */

#if defined(STANDALONE) || defined(FUZZ_SEEDS)
/* A seed: selector byte + a genuine frame of the cipher, so the fuzzer
** starts past the header checks. */
static size_t make_seed(int ci, int target, const char *text, uint8_t *out) {
  size_t n = strlen(text);
  if (!ready) setup();
  out[0] = (uint8_t)(ci | target << 2);
  if (target >= 2) { memcpy(out + 1, text, n); return 1 + n; }
  memcpy(out + 1 + DCE_SMB2_TRANSFORM_SIZE, text, n);
  if (dce_smb_encrypt(&client[ci], SID, out + 1, out + 1 + DCE_SMB2_TRANSFORM_SIZE, n)) abort();
  return 1 + DCE_SMB2_TRANSFORM_SIZE + n;
}

int main(int argc, char **argv) {
  static uint8_t buf[1 << 20];
  int i;
  if (argc == 3 && !strcmp(argv[1], "--seeds")) {
    static const char *texts[4] = {
      "\xfeSMB@\0\1\0\0\0\0\0\x09\0\1\0\x08\0\0\0\0\0\0\0\x05\0\0\0\0\0\0\0"
      "\xff\xfe\0\0\1\0\0\0\x25\0\0\0\0\x10\0\0 signed message body...",
      "hello", "a compound chain would be longer", "x" };
    int n = 0, ci, t;
    for (ci = 0; ci < 4; ci++)
      for (t = 0; t < 4; t++) {
        char path[512];
        size_t len = make_seed(ci, t, texts[(ci + t) & 3], buf);
        FILE *f;
        snprintf(path, sizeof path, "%s/seed-%d-%d", argv[2], ci, t);
        f = fopen(path, "wb");
        if (!f) { perror(path); return 1; }
        fwrite(buf, 1, len, f);
        fclose(f);
        n++;
      }
    printf("fuzz_smb_transform: %d seeds written to %s\n", n, argv[2]);
    return 0;
  }
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      FILE *f = fopen(argv[i], "rb");
      size_t n;
      if (!f) { perror(argv[i]); return 1; }
      n = fread(buf, 1, sizeof buf, f);
      fclose(f);
      LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_smb_transform: %d inputs replayed\n", argc - 1);
    return 0;
  }
  /* smoke: genuine frames with random edits */
  srand(1);
  for (i = 0; i < 20000; i++) {
    size_t len = make_seed(rand() & 3, rand() & 3, "smoke test message", buf), j;
    int edits = rand() % 4;
    for (j = 0; j < (size_t)edits; j++) buf[1 + (size_t)rand() % (len - 1)] ^= (uint8_t)(1 + rand() % 255);
    if (rand() % 8 == 0) len = 1 + (size_t)rand() % len;
    LLVMFuzzerTestOneInput(buf, len);
  }
  printf("fuzz_smb_transform: smoke ok\n");
  return 0;
}
#endif
