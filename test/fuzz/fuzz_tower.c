/*
** fuzz_tower.c - libFuzzer harness for the tower decoder: decode; when it
** succeeds, re-encode from the raw floors and (for known layouts) from the
** decoded fields, and require byte-exact output.
** Standalone: cc -DSTANDALONE -Iengine test/fuzz/fuzz_tower.c engine/tower.c engine/buf.c
** then ./a.out FILE... (or no args: a fixed number of pseudo-random inputs).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/tower.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dce_tower t;
  char err[160];
  uint8_t *out;
  size_t n;
  if (dce_tower_decode(&t, data, size, err, sizeof err)) {
    if (!err[0]) abort();                        /* every refusal says why */
    return 0;
  }
  out = malloc(size ? size : 1);
  if (!out) return 0;
  n = dce_tower_encode_floors(t.floor, t.nfloors, out, size, err, sizeof err);
  if (n != size || memcmp(out, data, size)) abort();
  if (t.protseq) {
    dce_tower_spec s;
    memset(&s, 0, sizeof s);
    s.iface = t.iface; s.syntax = t.syntax; s.protseq = t.protseq; s.rpc_minor = t.rpc_minor;
    s.endpoint = t.endpoint; s.endpoint_len = t.endpoint_len;
    s.host = t.host; s.host_len = t.host_len;
    n = dce_tower_encode(&s, out, size, err, sizeof err);
    if (n != size || memcmp(out, data, size)) abort();
  }
  free(out);
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  static uint8_t buf[1 << 16];
  int i;
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      FILE *f = fopen(argv[i], "rb");
      size_t n;
      if (!f) { perror(argv[i]); return 1; }
      n = fread(buf, 1, sizeof buf, f);
      fclose(f);
      LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
  }
  {
    /* a valid ncacn_ip_tcp tower, mutated at random */
    static const uint8_t seed[] = {
      5,0, 19,0, 0x0d, 0xc8,0x4f,0x32,0x4b,0x70,0x16,0xd3,0x01,0x12,0x78,0x5a,0x47,0xbf,0x6e,0xe1,0x88, 3,0, 2,0, 0,0,
      19,0, 0x0d, 0x04,0x5d,0x88,0x8a,0xeb,0x1c,0xc9,0x11,0x9f,0xe8,0x08,0x00,0x2b,0x10,0x48,0x60, 2,0, 2,0, 0,0,
      1,0, 0x0b, 2,0, 0,0,  1,0, 0x07, 2,0, 0xc0,0x00,  1,0, 0x09, 4,0, 127,0,0,1 };
    uint32_t x = 12345;
    for (i = 0; i < 200000; i++) {
      size_t n = sizeof seed, k;
      memcpy(buf, seed, n);
      for (k = 0; k < (size_t)(1 + i % 4); k++) {
        x = x * 1103515245u + 12345u;
        buf[(x >> 8) % n] = (uint8_t)(x >> 20);
      }
      x = x * 1103515245u + 12345u;
      if (i % 7 == 0) n = (x >> 8) % (n + 1);
      LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_tower: 200000 inputs ok\n");
  }
  return 0;
}
#endif
