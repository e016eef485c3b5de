/* test_tower.c - protocol towers from C: known bytes, round trips, hostile input. */
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "rpc/tower.h"

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = 0;
  while (h[0] && h[1]) {
    unsigned v;
    sscanf(h, "%2x", &v);
    out[n++] = (uint8_t)v;
    h += 2;
  }
  return n;
}

/* srvsvc on 127.0.0.1:49152, as the live Samba epm answers ept_map */
static const char *TCP =
  "050013000dc84f324b7016d30112785a47bf6ee18803000200000013000d045d888aeb1cc9119fe808002b104860"
  "02000200000001000b020000000100070200c00001000904007f000001";
/* srvsvc on \pipe\srvsvc, no host (Samba) */
static const char *NP =
  "050013000dc84f324b7016d30112785a47bf6ee18803000200000013000d045d888aeb1cc9119fe808002b104860"
  "02000200000001000b0200000001000f0d005c706970655c73727673766300010011010000";

int main(void) {
  uint8_t in[512], out[512];
  char err[160];
  dce_tower t;
  size_t n = unhex(TCP, in), m, i;

  test_cond("decode tcp", dce_tower_decode(&t, in, n, err, sizeof err) == 0 &&
            t.protseq && strcmp(t.protseq, "ncacn_ip_tcp") == 0 && t.nfloors == 5 &&
            t.endpoint_len == 5 && memcmp(t.endpoint, "49152", 5) == 0 &&
            t.host_len == 9 && memcmp(t.host, "127.0.0.1", 9) == 0 &&
            t.iface.major == 3 && t.syntax.major == 2 && t.rpc_proto == DCE_EPM_PROTO_NCACN);
  {
    dce_tower_spec s;
    memset(&s, 0, sizeof s);
    s.iface = t.iface; s.syntax = t.syntax; s.protseq = "ncacn_ip_tcp";
    s.endpoint = "49152"; s.endpoint_len = 5; s.host = "127.0.0.1"; s.host_len = 9;
    m = dce_tower_encode(&s, NULL, 0, err, sizeof err);
    test_cond("encode sizes", m == n);
    test_cond("encode byte-exact", dce_tower_encode(&s, out, sizeof out, err, sizeof err) == n &&
              memcmp(in, out, n) == 0);
    test_cond("encode truncates safely", dce_tower_encode(&s, out, 10, err, sizeof err) == n);
    s.host = "localhost"; s.host_len = 9;
    test_cond("encode refuses names for IP", dce_tower_encode(&s, out, sizeof out, err, sizeof err) == (size_t)-1 &&
              strstr(err, "IPv4"));
    s.host = NULL; s.endpoint = "70000"; s.endpoint_len = 5;
    test_cond("encode refuses bad port", dce_tower_encode(&s, out, sizeof out, err, sizeof err) == (size_t)-1);
    s.protseq = "ncacn_nope";
    test_cond("encode refuses unknown protseq", dce_tower_encode(&s, out, sizeof out, err, sizeof err) == (size_t)-1);
  }
  test_cond("raw floors byte-exact", dce_tower_encode_floors(t.floor, t.nfloors, out, sizeof out, err, sizeof err) == n &&
            memcmp(in, out, n) == 0);

  n = unhex(NP, in);
  test_cond("decode np", dce_tower_decode(&t, in, n, err, sizeof err) == 0 &&
            strcmp(t.protseq, "ncacn_np") == 0 && t.endpoint_len == 12 &&
            memcmp(t.endpoint, "\\pipe\\srvsvc", 12) == 0 && t.host_len == 0);

  /* every truncation and one extra byte */
  {
    int all = 1;
    for (i = 0; i < n; i++)
      if (dce_tower_decode(&t, in, i, err, sizeof err) == 0 || err[0] == 0) all = 0;
    test_cond("every truncation refused", all);
    in[n] = 0;
    test_cond("trailing byte refused", dce_tower_decode(&t, in, n + 1, err, sizeof err) == -1);
  }
  /* lying lengths, from a heap copy so ASan sees any over-read */
  {
    uint8_t *h = malloc(6);
    memcpy(h, "\x01\x00\xff\xff\x0d\x00", 6);
    test_cond("huge lhs refused", dce_tower_decode(&t, h, 6, err, sizeof err) == -1);
    memcpy(h, "\xff\xff\x01\x00\x0d\x00", 6);
    test_cond("huge floor count refused", dce_tower_decode(&t, h, 6, err, sizeof err) == -1);
    memcpy(h, "\x01\x00\x00\x00\x00\x00", 6);
    test_cond("empty lhs refused", dce_tower_decode(&t, h, 6, err, sizeof err) == -1);
    free(h);
  }
  /* every single-byte value at every offset: decode or refuse, re-encode exact */
  {
    int ok = 1;
    size_t good = 0;
    for (i = 0; i < n; i++) {
      unsigned v;
      uint8_t keep = in[i];
      for (v = 0; v < 256; v++) {
        in[i] = (uint8_t)v;
        if (dce_tower_decode(&t, in, n, err, sizeof err) == 0) {
          good++;
          if (dce_tower_encode_floors(t.floor, t.nfloors, out, sizeof out, err, sizeof err) != n ||
              memcmp(in, out, n)) ok = 0;
        }
      }
      in[i] = keep;
    }
    test_cond("byte mutations safe and exact", ok && good > 0);
  }
  test_cond("layout lookup", dce_tower_layout_of("ncalrpc") && dce_tower_layout_of("ncalrpc")->n == 2 &&
            dce_tower_layout_of("x") == NULL && dce_tower_layout_of(NULL) == NULL);
  return test_report("test_tower");
}
