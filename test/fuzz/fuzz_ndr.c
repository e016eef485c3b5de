/*
** fuzz_ndr.c - libFuzzer entry for the NDR interpreter, no Lua involved.
**
** Input: byte 0 picks a program (srvsvc NetrShareEnum in/out, a struct with
** full pointers, RPC_UNICODE_STRING, GUID and SID, a nested conformant struct
** with an encapsulated union, multi-dimensional conformant (varying) arrays),
** byte 1 the drep; the rest is stub data.
** A successful decode is re-encoded and decoded again (pull -> push -> pull),
** the second pass must succeed and the two encodings must agree. Depth is
** capped (128) as in the module.
**
** tools/fuzz.sh builds it with libFuzzer (with the engine's sources and
** -Iengine) and runs it; built with -DSTANDALONE instead, it runs the files
** named on its command line once each.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ndr/ndr.h"

/* the programs: p_NAME_code, _names, _NOPS, _NNAMES, _entry, _NENT, and the
** list FUZZ_NDR_PROGRAMS(X); regenerate with tools/gen-fuzz-programs.lua */
#include "fuzz_ndr_programs.h"

/* ------------------------------------------------------------ a C value host */
typedef struct fval {
  int t;
  int64_t i;
  double n;
  char *s; size_t len;
  struct fval **arr; size_t narr;
  struct fval **fld; size_t nfld;
} fval;

typedef struct fhost {
  fval **all; size_t nall, capall;     /* arena */
  fval *stack[2048]; int top;
  struct { uint32_t id; fval *v; } *refs; size_t nrefs, caprefs;
} fhost;

static fhost FH;

static fval *fnew(int t) {
  fval *v = calloc(1, sizeof *v);
  if (!v) abort();
  if (FH.nall == FH.capall) {
    FH.capall = FH.capall ? 2 * FH.capall : 1024;
    FH.all = realloc(FH.all, FH.capall * sizeof *FH.all);
    if (!FH.all) abort();
  }
  FH.all[FH.nall++] = v;
  v->t = t;
  return v;
}
static void freeall(void) {
  for (size_t k = 0; k < FH.nall; k++) { free(FH.all[k]->arr); free(FH.all[k]->fld); free(FH.all[k]->s); free(FH.all[k]); }
  FH.nall = 0; FH.nrefs = 0;
}
static fval *fat(int cont, int64_t key) {
  fval *c = FH.stack[cont];
  if (key == 0) return c;
  if (!c || c->t != NDR_T_TABLE) return NULL;
  if (key < 0) return (size_t)-key < c->nfld ? c->fld[-key] : NULL;
  return (size_t)key <= c->narr ? c->arr[key - 1] : NULL;
}
static void fgrow(fval ***a, size_t *n, size_t want) {
  if (want <= *n) return;
  size_t nn = *n ? *n : 4;
  while (nn < want) nn *= 2;
  *a = realloc(*a, nn * sizeof **a);
  if (!*a) abort();
  for (size_t k = *n; k < nn; k++) (*a)[k] = NULL;
  *n = nn;
}
static void fput(int cont, int64_t key, fval *v) {
  fval *c = FH.stack[cont];
  if (key == 0) { FH.stack[cont] = v; return; }
  if (key < 0) { fgrow(&c->fld, &c->nfld, (size_t)-key + 1); c->fld[-key] = v; return; }
  size_t cap = c->narr;
  if ((size_t)key > c->narr) { fgrow(&c->arr, &cap, (size_t)key); c->narr = (size_t)key; }
  c->arr[key - 1] = v;
}
static int ftp(fval *v) { return v ? v->t : NDR_T_NIL; }
static int f_get(void *ud, int cont, int64_t key, int *slot) {
  fval *v = fat(cont, key);
  (void)ud;
  if (FH.top >= 2047) abort();
  FH.stack[++FH.top] = v; *slot = FH.top; return ftp(v);
}
static void f_pop(void *ud, int slot) { (void)ud; FH.top = slot - 1; }
static int f_geti(void *ud, int cont, int64_t key, int64_t *i) { fval *v = fat(cont, key); (void)ud; if (v && v->t == NDR_T_INT) *i = v->i; return ftp(v); }
static int f_getn(void *ud, int cont, int64_t key, double *d) {
  fval *v = fat(cont, key); (void)ud;
  if (v && v->t == NDR_T_NUM) *d = v->n;
  if (v && v->t == NDR_T_INT) *d = (double)v->i;
  return ftp(v);
}
static int f_getb(void *ud, int cont, int64_t key, int *b) { fval *v = fat(cont, key); (void)ud; if (v && v->t == NDR_T_BOOL) *b = (int)v->i; return ftp(v); }
static int f_gets(void *ud, int cont, int64_t key, const char **s, size_t *n) {
  fval *v = fat(cont, key); (void)ud; if (v && v->t == NDR_T_STR) { *s = v->s; *n = v->len; } return ftp(v);
}
static size_t f_len(void *ud, int slot) { fval *v = FH.stack[slot]; (void)ud; return v ? v->narr : 0; }
static int f_lookup(void *ud, int cont, int64_t key, uint32_t names, int64_t *v) { (void)ud; (void)cont; (void)key; (void)names; (void)v; return 0; }
static int f_ptr_id(void *ud, int cont, int64_t key, uint32_t next, uint32_t *id) {
  fval *v = fat(cont, key); (void)ud;
  for (size_t k = 0; k < FH.nrefs; k++) if (FH.refs[k].v == v) { *id = FH.refs[k].id; return 0; }
  if (FH.nrefs == FH.caprefs) { FH.caprefs = FH.caprefs ? 2 * FH.caprefs : 64; FH.refs = realloc(FH.refs, FH.caprefs * sizeof *FH.refs); if (!FH.refs) abort(); }
  FH.refs[FH.nrefs].v = v; FH.refs[FH.nrefs++].id = next; *id = next; return 1;
}
static void f_seti(void *ud, int cont, int64_t key, int64_t i) { fval *v = fnew(NDR_T_INT); (void)ud; v->i = i; fput(cont, key, v); }
static void f_setn(void *ud, int cont, int64_t key, double d) { fval *v = fnew(NDR_T_NUM); (void)ud; v->n = d; fput(cont, key, v); }
static void f_setb(void *ud, int cont, int64_t key, int b) { fval *v = fnew(NDR_T_BOOL); (void)ud; v->i = b; fput(cont, key, v); }
static void f_sets(void *ud, int cont, int64_t key, const char *s, size_t n) {
  fval *v = fnew(NDR_T_STR); (void)ud;
  v->s = malloc(n + 1); if (!v->s) abort();
  if (n) memcpy(v->s, s, n);
  v->s[n] = 0; v->len = n; fput(cont, key, v);
}
static int f_newt(void *ud, int cont, int64_t key, uint32_t narr, uint32_t nrec) {
  fval *t = fnew(NDR_T_TABLE); (void)ud; (void)narr; (void)nrec;
  fput(cont, key, t);
  if (FH.top >= 2047) abort();
  FH.stack[++FH.top] = t; return FH.top;
}
static void f_ref_put(void *ud, uint32_t id, int cont, int64_t key) {
  (void)ud;
  if (FH.nrefs == FH.caprefs) { FH.caprefs = FH.caprefs ? 2 * FH.caprefs : 64; FH.refs = realloc(FH.refs, FH.caprefs * sizeof *FH.refs); if (!FH.refs) abort(); }
  FH.refs[FH.nrefs].id = id; FH.refs[FH.nrefs++].v = fat(cont, key);
}
static int f_ref_get(void *ud, uint32_t id, int cont, int64_t key) {
  (void)ud;
  for (size_t k = 0; k < FH.nrefs; k++) if (FH.refs[k].id == id) { fput(cont, key, FH.refs[k].v); return 1; }
  return 0;
}
static const ndr_host FHOST = { NULL, f_get, f_pop, f_geti, f_getn, f_getb, f_gets, f_len, f_lookup, f_ptr_id,
                                f_seti, f_setn, f_setb, f_sets, f_newt, f_ref_put, f_ref_get };

/* ------------------------------------------------------------ the entry */
#define PROG(n, isfunc) { n##_code, sizeof n##_code / sizeof n##_code[0], n##_NOPS, n##_names, n##_NNAMES, \
                          { n##_entry[0], n##_NENT > 1 ? n##_entry[n##_NENT - 1] : 0 }, n##_NENT, #n },
#define PROG_ISFUNC(n, isfunc) isfunc,

static int run(const ndr_prog *p, uint32_t entry, int encode, int isfunc, const uint8_t *d, size_t n, uint8_t drep, ndr_vm *vm, fval **root) {
  FH.top = 1;
  FH.stack[1] = *root;
  FH.nrefs = 0;
  if (ndr_vm_reset(vm, &FHOST, encode, drep, 0)) return -1;
  vm->max_depth = 128;
  if (!encode) dce_rd_init(&vm->in, d, n);
  if (ndr_run(vm, p, entry, 1, 0)) return -1;
  *root = FH.stack[1];
  if (!encode && vm->in.off != vm->in.len) return -1;
  (void)isfunc;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const ndr_prog progs[] = { FUZZ_NDR_PROGRAMS(PROG) };
  static const int isfuncs[] = { FUZZ_NDR_PROGRAMS(PROG_ISFUNC) };
  static ndr_vm vm1, vm2;
  static int init;
  char err[128];
  if (!init) {
    ndr_vm_init(&vm1); ndr_vm_init(&vm2);
    for (size_t k = 0; k < sizeof progs / sizeof progs[0]; k++)
      if (ndr_prog_check(&progs[k], err, sizeof err)) { fprintf(stderr, "bad program %zu: %s\n", k, err); abort(); }
    init = 1;
  }
  if (size < 2) return 0;
  size_t np = sizeof progs / sizeof progs[0];
  size_t pi = (data[0] >> 1) % np;
  const ndr_prog *p = &progs[pi];
  uint32_t entry = (data[0] & 1) % p->nentry;
  int isfunc = isfuncs[pi];
  uint8_t drep = (data[1] & 0x80) ? 0x00 : 0x10;
  fval *root = isfunc ? fnew(NDR_T_TABLE) : NULL;
  if (run(p, entry, 0, isfunc, data + 2, size - 2, drep, &vm1, &root) == 0) {
    /* pull -> push -> pull: the re-encoding must decode, and encode the same */
    if (run(p, entry, 1, isfunc, NULL, 0, drep, &vm1, &root) != 0) {
      fprintf(stderr, "re-encode failed: %s\n", vm1.msg);
      abort();
    }
    size_t n1 = vm1.out.len;
    uint8_t *b1 = malloc(n1 ? n1 : 1);
    if (!b1) abort();
    if (n1) memcpy(b1, vm1.out.p, n1);
    fval *r2 = isfunc ? fnew(NDR_T_TABLE) : NULL;
    if (run(p, entry, 0, isfunc, b1, n1, drep, &vm2, &r2) != 0) { fprintf(stderr, "re-decode failed: %s\n", vm2.msg); abort(); }
    if (run(p, entry, 1, isfunc, NULL, 0, drep, &vm2, &r2) != 0) { fprintf(stderr, "second encode failed: %s\n", vm2.msg); abort(); }
    if (vm2.out.len != n1 || (n1 && memcmp(vm2.out.p, b1, n1))) { fprintf(stderr, "encodings differ\n"); for (size_t q = 0; q < n1; q++) fprintf(stderr, "%02x", b1[q]); fprintf(stderr, "\n"); for (size_t q = 0; q < vm2.out.len; q++) fprintf(stderr, "%02x", vm2.out.p[q]); fprintf(stderr, "\n"); abort(); }
    free(b1);
  }
  freeall();
  return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    uint8_t *b;
    long n;
    if (!f) { perror(argv[i]); continue; }
    fseek(f, 0, SEEK_END); n = ftell(f); fseek(f, 0, SEEK_SET);
    b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) == (size_t)n) LLVMFuzzerTestOneInput(b, (size_t)n);
    free(b);
    fclose(f);
  }
  printf("fuzz_ndr: ran %d inputs\n", argc - 1);
  return 0;
}
#endif
