/*
** fuzz_server.c - libFuzzer harness for the server association's input path.
**
**   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
**       test/fuzz/fuzz_server.c engine/buf.c engine/status.c engine/pdu.c engine/server.c
**   gcc -DSTANDALONE -Iengine ... && ./a.out FILE...   (replays inputs, or
**   runs a built-in random smoke test when given none)
**
** Each input is fed to two fresh connections of one server: as is, and after
** a valid bind (so request, alter_context and cancel paths are reached),
** split into chunks whose sizes come from the input's first byte. Calls that
** come out are answered in turn with a reply (of a size taken from the
** stub) or a fault, so fragmentation and the call table are exercised too.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/co_server.h"
#include "auth/ntlm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* half the inputs: a server that takes NTLM / SPNEGO binds (user "u") */
static int lookup(void *ud, const char *user, const char *domain, const char *ws, uint8_t hash[16]) {
  (void)ud; (void)domain; (void)ws;
  if (strcmp(user, "u")) return -1;
  return dce_ntlm_nt_hash("p", hash) ? -1 : 0;
}

static const uint8_t bind_pdu[72] = {
  5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0,
  0x00, 0x08, 0x00, 0x08, 0, 0, 0, 0, 1, 0, 0, 0,
  0, 0, 1, 0,
  0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11, 0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82, 1, 0, 0, 0,
  0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0 };

static void answer(dce_sconn *c, int *turn) {
  const dce_scall *k;
  const uint8_t *p;
  static uint8_t reply[20000];
  while ((k = dce_sconn_next_call(c)) != NULL) {
    uint32_t id = k->call_id;
    size_t n = k->stub_len ? (size_t)k->stub[0] * 64 : 3;
    if ((*turn)++ & 1) dce_sconn_fault(c, id, 0x1c010002u, 1);
    else dce_sconn_reply(c, id, reply, n < sizeof reply ? n : sizeof reply);
  }
  dce_sconn_sent(c, dce_sconn_out(c, &p));
}

static void run(dce_server *s, int with_bind, const uint8_t *data, size_t size) {
  dce_sconn *c = dce_sconn_new(s, "135");
  size_t off = 0, step = size ? (size_t)(data[0] % 61) + 1 : 1;
  int turn = 0;
  if (!c) return;
  if (with_bind) { dce_sconn_feed(c, bind_pdu, sizeof bind_pdu); answer(c, &turn); }
  while (off < size) {
    size_t n = size - off < step ? size - off : step;
    int rc = dce_sconn_feed(c, data + off, n);
    answer(c, &turn);
    if (rc) break;
    off += n;
    step = step * 3 + 1;
  }
  dce_sconn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const dce_syntax echo = { { { 0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11,
                                       0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82 } }, 1, 0 };
  /* workers: half the inputs get tagged group ids (the worker from the last
  ** byte), which must behave the same */
  dce_server_cfg cfg = { .max_frag = 0, .max_request = 65536, .max_calls = 8,
                         .tag_groups = size > 0 && (data[size - 1] & 1), .worker = size > 0 ? data[size - 1] : 0 };
  dce_server *s = dce_server_new(&cfg);
  if (!s) return 0;
  dce_server_add_iface(s, &echo, (void *)&echo);
  if (size > 0 && (data[size - 1] & 2)) {
    dce_acceptor au = { .nb_domain = "D", .nb_computer = "S", .lookup = lookup };
    dce_server_set_auth(s, &au);
    if (data[size - 1] & 4) dce_server_iface_min_level(s, (void *)&echo, 5);
  }
  run(s, 0, data, size);
  run(s, 1, data, size);
  if (dce_server_groups(s) != 0) abort();     /* every group released */
  dce_server_free(s);
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
    printf("fuzz_server: %d inputs replayed\n", argc - 1);
    return 0;
  }
  {
    /* smoke: a request after the bind, mutated at random */
    static const uint8_t seed[40] = {
      5, 0, 0, 3, 0x10, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0, 0,
      16, 0, 0, 0, 0, 0, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
    uint8_t buf[200];
    unsigned long r = 4242;
    int k;
    for (i = 0; i < 100000; i++) {
      size_t n = sizeof seed * 2;
      memcpy(buf, seed, sizeof seed);
      memcpy(buf + sizeof seed, seed, sizeof seed);
      for (k = 0; k < 4; k++) {
        r = r * 6364136223846793005ul + 1442695040888963407ul;
        buf[(r >> 33) % n] = (uint8_t)(r >> 17);
      }
      LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_server: 100000 random inputs\n");
  }
  return 0;
}
#endif
