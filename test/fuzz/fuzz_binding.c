/*
** fuzz_binding.c - libFuzzer harness for the string binding parser: parse;
** when it succeeds, format, parse the text again and require the second
** format to equal the first (the canonical form is a fixed point).
** Standalone: cc -DSTANDALONE -Iengine test/fuzz/fuzz_binding.c engine/binding.c engine/buf.c
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/binding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dce_binding b, b2;
  dce_binding_err err;
  char *scr, *scr2, *out, *out2;
  size_t n, n2;
  if (size > DCE_BINDING_MAX_LEN + 16) return 0;
  scr = malloc(DCE_BINDING_SCRATCH(size));
  if (!scr) return 0;
  if (dce_binding_parse(&b, (const char *)data, size, scr, DCE_BINDING_SCRATCH(size), &err)) {
    if (!err.msg[0] || err.pos > size) abort();
    free(scr);
    return 0;
  }
  n = dce_binding_format(&b, NULL, 0);
  if (n == (size_t)-1) abort();                   /* whatever parses can be written */
  out = malloc(n + 1);
  if (!out) { free(scr); return 0; }
  if (dce_binding_format(&b, out, n + 1) != n || out[n] != '\0') abort();
  scr2 = malloc(DCE_BINDING_SCRATCH(n));
  out2 = malloc(n + 1);
  /* escaping may take a binding that parses past the parser's length cap;
  ** the round trip is checked for everything within it */
  if (scr2 && out2 && n <= DCE_BINDING_MAX_LEN) {
    if (dce_binding_parse(&b2, out, n, scr2, DCE_BINDING_SCRATCH(n), &err)) abort();
    n2 = dce_binding_format(&b2, out2, n + 1);
    if (n2 != n || memcmp(out, out2, n)) abort();
  }
  free(scr2); free(out2); free(out); free(scr);
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  static char buf[1 << 14];
  int i;
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      FILE *f = fopen(argv[i], "rb");
      size_t n;
      if (!f) { perror(argv[i]); return 1; }
      n = fread(buf, 1, sizeof buf, f);
      fclose(f);
      LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
    }
    return 0;
  }
  {
    static const char *seeds[] = {
      "12345678-1234-abcd-ef00-0123456789ab@ncacn_np:\\\\\\\\srv[\\pipe\\x,sign,a=b\\,c]",
      "ncacn_ip_tcp:[fe80::1%lo][135,seal,target_hostname=dc1]",
      "ncalrpc:[,foo,endpoint=x\\]y]",
    };
    static const char alphabet[] = "\\[],=@:%a0 \x01\xff";
    uint32_t x = 4242;
    for (i = 0; i < 300000; i++) {
      const char *s = seeds[i % 3];
      size_t n = strlen(s), k;
      memcpy(buf, s, n);
      for (k = 0; k < (size_t)(1 + i % 3); k++) {
        x = x * 1103515245u + 12345u;
        buf[(x >> 8) % n] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
      }
      x = x * 1103515245u + 12345u;
      if (i % 5 == 0) n = (x >> 8) % (n + 1);
      LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
    }
    printf("fuzz_binding: 300000 inputs ok\n");
  }
  return 0;
}
#endif
