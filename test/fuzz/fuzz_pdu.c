/*
** fuzz_pdu.c - libFuzzer harness for the PDU decoder and the client
** association's input path.
**
**   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
**       test/fuzz/fuzz_pdu.c engine/buf.c engine/status.c engine/pdu.c engine/assoc.c
**   gcc -DSTANDALONE -Iengine ... && ./a.out FILE...   (replays inputs, or
**   runs a built-in random smoke test when given none)
**
** Each input: (1) decoded as one fragment; when that succeeds it is encoded
** again and the re-encoding must decode to the same fields (pull -> push ->
** pull); (2) fed, split at a point taken from its first byte, to an
** association that has a bind and two requests outstanding.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/pdu.h"
#include "rpc/co_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const uint8_t *data, size_t size) {
  dce_pdu p, q;
  dce_pdu_error e;
  dce_buf b;
  if (dce_pdu_decode(&p, data, size, &e) == 0) {
    dce_buf_init(&b);
    if (dce_pdu_encode(&p, &b, &e) == 0) {
      if (dce_pdu_decode(&q, b.p, b.len, &e) != 0) abort();
      if (q.ptype != p.ptype || q.call_id != p.call_id || q.n_ctx != p.n_ctx
          || q.n_results != p.n_results || q.stub_len != p.stub_len
          || q.has_auth != p.has_auth || q.auth.value_len != p.auth.value_len)
        abort();
      if (p.stub_len && memcmp(p.stub, q.stub, p.stub_len)) abort();
      dce_pdu_free(&q);
    }
    dce_buf_free(&b);
  }
  dce_pdu_free(&p);
}

static void drive(const uint8_t *data, size_t size) {
  static const dce_syntax abs = { { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } }, 1, 0 };
  dce_assoc *a = dce_assoc_new(NULL);
  dce_pctx c;
  uint32_t id, c1, c2;
  const uint8_t *o;
  size_t n, cut;
  if (!a) return;
  memset(&c, 0, sizeof c);
  c.abstract = abs; c.n_transfer = 1; c.transfer[0] = dce_syntax_ndr20;
  dce_assoc_bind(a, 0, &c, 1, NULL, &id, NULL);
  dce_assoc_request(a, 0, 1, NULL, (const uint8_t *)"abcdefgh", 8, &c1, NULL);
  dce_assoc_request(a, 0, 2, NULL, NULL, 0, &c2, NULL);
  n = dce_assoc_out(a, &o);
  dce_assoc_sent(a, n);
  cut = size ? data[0] % (size + 1) : 0;
  dce_assoc_feed(a, data, cut);
  n = dce_assoc_out(a, &o);                /* may start the requests */
  dce_assoc_sent(a, n);
  dce_assoc_feed(a, data + cut, size - cut);
  n = dce_assoc_out(a, &o);
  dce_assoc_sent(a, n);
  (void)dce_assoc_result(a, c1);
  dce_assoc_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  roundtrip(data, size);
  drive(data, size);
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  int i;
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      FILE *f = fopen(argv[i], "rb");
      static uint8_t buf[1 << 20];
      size_t n;
      if (!f) { perror(argv[i]); return 1; }
      n = fread(buf, 1, sizeof buf, f);
      fclose(f);
      LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_pdu: %d inputs replayed\n", argc - 1);
    return 0;
  }
  /* smoke: mutate valid PDUs at random */
  {
    static const uint8_t seed[60] = {
      5, 0, 12, 3, 0x10, 0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0,
      0xb8, 0x10, 0xb8, 0x10, 0x00, 0x53, 0, 0, 4, 0, '1', '3', '5', 0, 0, 0,
      1, 0, 0, 0, 0, 0, 0, 0,
      0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
      2, 0, 0, 0 };
    uint8_t buf[200];
    unsigned long r = 12345;
    int k;
    for (i = 0; i < 200000; i++) {
      size_t n = sizeof seed;
      memcpy(buf, seed, n);
      for (k = 0; k < 4; k++) {
        r = r * 6364136223846793005ul + 1442695040888963407ul;
        buf[(r >> 33) % n] = (uint8_t)(r >> 20);
      }
      r = r * 6364136223846793005ul + 1442695040888963407ul;
      if ((r >> 40) & 1) n = (r >> 41) % (sizeof seed + 1);
      LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_pdu: 200000 mutated inputs ok\n");
  }
  return 0;
}
#endif
