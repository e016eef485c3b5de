/*
** test_ndr.c - the NDR interpreter without Lua: a tiny C value host, hand
** assembled programs, expected bytes derived from C706 ch. 14.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "ndr/ndr.h"

/* ------------------------------------------------------------ C values */
typedef struct val {
  int t;                  /* NDR_T_* */
  int64_t i;
  char *s; size_t len;
  struct val **arr; size_t narr;     /* [1..narr] */
  struct val *fld[16];               /* fields by name index */
} val;

/* every value lives in an arena freed between tests (aliases make ownership moot) */
static val **arena; static size_t narena, caparena;
static val *vnew(int t) {
  val *v = calloc(1, sizeof *v);
  if (narena == caparena) { caparena = caparena ? 2 * caparena : 1024; arena = realloc(arena, caparena * sizeof *arena); }
  arena[narena++] = v;
  v->t = t;
  return v;
}
static void vfree_all(void) {
  for (size_t k = 0; k < narena; k++) { free(arena[k]->arr); free(arena[k]->s); free(arena[k]); }
  narena = 0;
}
static val *vint(int64_t i) { val *v = vnew(NDR_T_INT); v->i = i; return v; }
static val *vstr(const char *s, size_t n) {
  val *v = vnew(NDR_T_STR); v->s = malloc(n + 1); memcpy(v->s, s, n); v->s[n] = 0; v->len = n; return v;
}
static void vfree(val *v, int depth) { (void)v; (void)depth; vfree_all(); }

typedef struct chost {
  val *stack[4096];
  int top;
  struct { uint32_t id; val *v; } refs[256];
  int nrefs;
} chost;

static val *at(chost *H, int cont, int64_t key) {
  val *c = H->stack[cont];
  if (key == 0) return c;
  if (!c || c->t != NDR_T_TABLE) return NULL;
  if (key < 0) return -key < 16 ? c->fld[-key] : NULL;
  return (size_t)key <= c->narr ? c->arr[key - 1] : NULL;
}
static void put(chost *H, int cont, int64_t key, val *v) {
  val *c = H->stack[cont];
  if (key == 0) { H->stack[cont] = v; return; }
  if (key < 0) { c->fld[-key] = v; return; }
  if ((size_t)key > c->narr) {
    c->arr = realloc(c->arr, (size_t)key * sizeof *c->arr);
    for (size_t k = c->narr; k < (size_t)key; k++) c->arr[k] = NULL;
    c->narr = (size_t)key;
  }
  c->arr[key - 1] = v;
}
static int tp(val *v) { return v ? v->t : NDR_T_NIL; }
static int h_get(void *ud, int cont, int64_t key, int *slot) {
  chost *H = ud; val *v = at(H, cont, key);
  H->stack[++H->top] = v; *slot = H->top; return tp(v);
}
static void h_pop(void *ud, int slot) { ((chost *)ud)->top = slot - 1; }
static int h_geti(void *ud, int cont, int64_t key, int64_t *i) {
  val *v = at(ud, cont, key); if (v && v->t == NDR_T_INT) *i = v->i; return tp(v);
}
static int h_getn(void *ud, int cont, int64_t key, double *d) {
  val *v = at(ud, cont, key); if (v && v->t == NDR_T_INT) *d = (double)v->i; return tp(v);
}
static int h_getb(void *ud, int cont, int64_t key, int *b) {
  val *v = at(ud, cont, key); if (v && v->t == NDR_T_BOOL) *b = (int)v->i; return tp(v);
}
static int h_gets(void *ud, int cont, int64_t key, const char **s, size_t *n) {
  val *v = at(ud, cont, key); if (v && v->t == NDR_T_STR) { *s = v->s; *n = v->len; } return tp(v);
}
static size_t h_len(void *ud, int slot) { val *v = ((chost *)ud)->stack[slot]; return v ? v->narr : 0; }
static int h_lookup(void *ud, int cont, int64_t key, uint32_t names, int64_t *v) { (void)ud; (void)cont; (void)key; (void)names; (void)v; return 0; }
static int h_ptr_id(void *ud, int cont, int64_t key, uint32_t next, uint32_t *id) {
  chost *H = ud; val *v = at(H, cont, key);
  for (int k = 0; k < H->nrefs; k++) if (H->refs[k].v == v) { *id = H->refs[k].id; return 0; }
  H->refs[H->nrefs].v = v; H->refs[H->nrefs++].id = next; *id = next; return 1;
}
static void h_seti(void *ud, int cont, int64_t key, int64_t i) { put(ud, cont, key, vint(i)); }
static void h_setn(void *ud, int cont, int64_t key, double d) { put(ud, cont, key, vint((int64_t)d)); }
static void h_setb(void *ud, int cont, int64_t key, int b) { val *v = vnew(NDR_T_BOOL); v->i = b; put(ud, cont, key, v); }
static void h_sets(void *ud, int cont, int64_t key, const char *s, size_t n) { put(ud, cont, key, vstr(s, n)); }
static int h_newt(void *ud, int cont, int64_t key, uint32_t narr, uint32_t nrec) {
  chost *H = ud; val *t = vnew(NDR_T_TABLE); (void)narr; (void)nrec;
  put(H, cont, key, t); H->stack[++H->top] = t; return H->top;
}
static void h_ref_put(void *ud, uint32_t id, int cont, int64_t key) {
  chost *H = ud; if (H->nrefs < 256) { H->refs[H->nrefs].id = id; H->refs[H->nrefs++].v = at(H, cont, key); }
}
static int h_ref_get(void *ud, uint32_t id, int cont, int64_t key) {
  chost *H = ud;
  for (int k = 0; k < H->nrefs; k++) if (H->refs[k].id == id) { put(H, cont, key, H->refs[k].v); return 1; }
  return 0;
}

static chost HS;
static ndr_host HOST = { &HS, h_get, h_pop, h_geti, h_getn, h_getb, h_gets, h_len, h_lookup, h_ptr_id,
                         h_seti, h_setn, h_setb, h_sets, h_newt, h_ref_put, h_ref_get };

/* ------------------------------------------------------------ helpers */
#define W(op, a) ((uint32_t)(op) | ((uint32_t)(a) << 8))

static const char *NAMES[] = { "", "a", "b", "n", "p", "v", "next" };

static ndr_prog mkprog(const uint32_t *code, uint32_t n, uint32_t nops, uint32_t entry, const char *title) {
  ndr_prog p;
  memset(&p, 0, sizeof p);
  p.code = code; p.ncode = n; p.ncodeops = nops; p.names = NAMES; p.nnames = 6;
  p.entry[0] = entry; p.nentry = 1; p.title = title;
  return p;
}

/* decode bytes; returns the root value or NULL (vm->err set) */
static val *decode(ndr_vm *vm, const ndr_prog *p, const void *b, size_t n, uint8_t drep0) {
  HS.top = 1; HS.stack[1] = NULL; HS.nrefs = 0;
  if (ndr_vm_reset(vm, &HOST, 0, drep0, 0)) return NULL;
  dce_rd_init(&vm->in, b, n);
  if (ndr_run(vm, p, 0, 1, 0)) return NULL;
  if (vm->in.off != vm->in.len) { vm->err = NDR_ERR_LEFTOVER; return NULL; }
  return HS.stack[1];
}
static int encode(ndr_vm *vm, const ndr_prog *p, val *v, int le) {
  HS.top = 1; HS.stack[1] = v; HS.nrefs = 0;
  ndr_vm_reset(vm, &HOST, 1, le ? 0x10 : 0, 0);
  return ndr_run(vm, p, 0, 1, 0);
}

int main(void) {
  ndr_vm vm;
  char err[200];
  ndr_vm_init(&vm);

  /* 1. struct { uint16 a; hyper b; }: hyper aligned 8 after the short */
  {
    static const uint32_t code[] = { W(NDR_OP_OPEN, 0), 2, W(NDR_OP_ALIGN, 8), W(NDR_OP_U16, 1), W(NDR_OP_U64, 2),
                                     W(NDR_OP_CLOSE, 0), W(NDR_OP_RET, 0) };
    ndr_prog p = mkprog(code, 7, 7, 0, "S");
    static const uint8_t le[] = { 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t be[] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
    test_cond("struct program validates", ndr_prog_check(&p, err, sizeof err) == 0);
    val *v = decode(&vm, &p, le, sizeof le, 0x10);
    test_cond("struct decodes (LE)", v && v->fld[1] && v->fld[1]->i == 1 && v->fld[2] && v->fld[2]->i == 2);
    test_cond("struct re-encodes (LE)", encode(&vm, &p, v, 1) == 0 && vm.out.len == 16 && !memcmp(vm.out.p, le, 16));
    test_cond("struct encodes (BE)", encode(&vm, &p, v, 0) == 0 && vm.out.len == 16 && !memcmp(vm.out.p, be, 16));
    vfree(v, 0);
    v = decode(&vm, &p, be, sizeof be, 0x00);
    test_cond("struct decodes (BE)", v && v->fld[1]->i == 1 && v->fld[2]->i == 2);
    vfree(v, 0);
    for (size_t n = 0; n < sizeof le; n++) {
      val *t = decode(&vm, &p, le, n, 0x10);
      if (t || vm.err != NDR_ERR_BUFSIZE) { test_cond("truncated struct fails", 0); break; }
      if (n + 1 == sizeof le) test_cond("truncated struct fails at every offset", 1);
    }
    test_cond("EBCDIC refused", decode(&vm, &p, le, sizeof le, 0x11) == NULL && vm.err == NDR_ERR_DREP);
  }

  /* 2. unique pointer to a [string] wchar_t, F routine by hand */
  {
    static const uint32_t code[] = {
      /* 0 F */ W(NDR_OP_PMARK, 0), W(NDR_OP_CALL, 0), 8, W(NDR_OP_PCUR, 0), W(NDR_OP_CALL, 0), 11, W(NDR_OP_PDROP, 0), W(NDR_OP_RET, 0),
      /* 8 S */ W(NDR_OP_PTRS, 0), NDR_PTR_UNIQUE, W(NDR_OP_RET, 0),
      /* 11 B */ W(NDR_OP_PTRB, 0), NDR_PTR_UNIQUE, 16, 0, W(NDR_OP_RET, 0),
      /* 16 string */ W(NDR_OP_ARR, 0), NDR_A_CONF | NDR_A_VARY | NDR_A_STRING | (NDR_E_WCHAR << 8), 0, 0, 0, 0, 2 | (2 << 8),
      W(NDR_OP_RET, 0) };
    ndr_prog p = mkprog(code, 24, 24, 0, "unique(wstring)");
    static const uint8_t ok[] = { 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 0xe9, 0, 0, 0 };
    static const uint8_t huge[] = { 0, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 2, 0 };
    static const uint8_t badofs[] = { 0, 0, 2, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 0, 0 };
    static const uint8_t unterm[] = { 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 'b', 0 };
    test_cond("string program validates", ndr_prog_check(&p, err, sizeof err) == 0);
    val *v = decode(&vm, &p, ok, sizeof ok, 0x10);
    test_cond("wstring decodes to UTF-8", v && v->t == NDR_T_STR && v->len == 3 && !memcmp(v->s, "a\xc3\xa9", 3));
    test_cond("wstring re-encodes", encode(&vm, &p, v, 1) == 0 && vm.out.len == sizeof ok && !memcmp(vm.out.p, ok, sizeof ok));
    vfree(v, 0);
    test_cond("huge actual count refused before allocating", !decode(&vm, &p, huge, sizeof huge, 0x10) && vm.err == NDR_ERR_BUFSIZE);
    test_cond("offset + actual > max refused", !decode(&vm, &p, badofs, sizeof badofs, 0x10) && vm.err == NDR_ERR_ARRAY);
    test_cond("unterminated string refused", !decode(&vm, &p, unterm, sizeof unterm, 0x10) && vm.err == NDR_ERR_STRING);
    test_cond("error message names the offset", strstr(vm.msg, "offset") != NULL);
    int all = 1;
    for (size_t n = 0; n < sizeof ok; n++) if (decode(&vm, &p, ok, n, 0x10)) all = 0;
    test_cond("truncated string fails at every offset", all);
  }

  /* 3. list: struct L { uint32 v; unique(L) next }, decode of deep data hits the limit */
  {
    static const uint32_t code[] = {
      /* 0 F(L) */ W(NDR_OP_PMARK, 0), W(NDR_OP_CALL, 0), 8, W(NDR_OP_PCUR, 0), W(NDR_OP_CALL, 0), 17, W(NDR_OP_PDROP, 0), W(NDR_OP_RET, 0),
      /* 8 S(L) */ W(NDR_OP_OPEN, 0), 2, W(NDR_OP_ALIGN, 4), W(NDR_OP_U32, 5), W(NDR_OP_PTRS, 6), NDR_PTR_UNIQUE, W(NDR_OP_CLOSE, 0), W(NDR_OP_RET, 0),
      /* 16 pad */ W(NDR_OP_RET, 0),
      /* 17 B(L) */ W(NDR_OP_OPENB, 0), W(NDR_OP_PTRB, 6), NDR_PTR_UNIQUE, 0, 0, W(NDR_OP_CLOSE, 0), W(NDR_OP_RET, 0) };
    ndr_prog p = mkprog(code, 24, 24, 0, "L");
    size_t n = 100000, len = 8 * n + 8;
    uint8_t *b = malloc(len);
    for (size_t k = 0; k < n; k++) {
      dce_st32(b + 8 * k, 1, 1);
      dce_st32(b + 8 * k + 4, 0x20000 + 4 * (uint32_t)k, 1);
    }
    dce_st32(b + 8 * n, 1, 1); dce_st32(b + 8 * n + 4, 0, 1);
    test_cond("list program validates", ndr_prog_check(&p, err, sizeof err) == 0);
    test_cond("10^5-deep data fails with a depth error", !decode(&vm, &p, b, len, 0x10) && vm.err == NDR_ERR_DEPTH);
    val *v = decode(&vm, &p, b + 8 * (n - 3), 32, 0x10);
    test_cond("a short list decodes", v && v->fld[6] && v->fld[6]->fld[6] && v->fld[6]->fld[6]->fld[6] &&
              v->fld[6]->fld[6]->fld[6]->fld[6] == NULL);
    vfree(v, 0);
    free(b);
  }

  /* 4. program validation */
  {
    static const uint32_t bad1[] = { W(NDR_OP_JMP, 0), 7 };
    static const uint32_t bad2[] = { W(63, 0), W(NDR_OP_RET, 0) };
    static const uint32_t bad3[] = { W(NDR_OP_U32, 99), W(NDR_OP_RET, 0) };
    static const uint32_t bad4[] = { W(NDR_OP_U32, 1) };
    static const uint32_t bad5[] = { W(NDR_OP_CALL, 0), 1, W(NDR_OP_RET, 0) };  /* target mid-instruction */
    ndr_prog p = mkprog(bad1, 2, 2, 0, "bad");
    test_cond("jump outside the code refused", ndr_prog_check(&p, err, sizeof err) != 0);
    p = mkprog(bad2, 2, 2, 0, "bad");
    test_cond("unknown opcode refused", ndr_prog_check(&p, err, sizeof err) != 0);
    p = mkprog(bad3, 2, 2, 0, "bad");
    test_cond("bad field refused", ndr_prog_check(&p, err, sizeof err) != 0);
    p = mkprog(bad4, 1, 1, 0, "bad");
    test_cond("falling off the end refused", ndr_prog_check(&p, err, sizeof err) != 0);
    p = mkprog(bad5, 3, 3, 0, "bad");
    test_cond("target inside an instruction refused", ndr_prog_check(&p, err, sizeof err) != 0);
  }

  /* 5. UTF-16 <-> WTF-8, SID */
  {
    uint8_t u16[8];
    char u8[16];
    static const uint8_t lone[] = { 0x00, 0xd8, 'a', 0 };
    size_t n = dce_utf16_to_utf8(lone, 2, 1, u8);
    test_cond("lone surrogate to WTF-8", n == 4 && !memcmp(u8, "\xed\xa0\x80" "a", 4));
    test_cond("WTF-8 back to the same units", dce_utf8_units(u8, n) == 2 && dce_utf8_to_utf16(u8, n, 1, u16) == 2 &&
              !memcmp(u16, lone, 4));
    test_cond("invalid UTF-8 refused", dce_utf8_units("\xc0\x80", 2) == (size_t)-1 && dce_utf8_units("\xe2\x82", 2) == (size_t)-1);
    uint8_t body[68];
    char txt[128];
    int bl = ndr_sid_parse("S-1-5-21-3-4", 12, body, 1);
    test_cond("SID parses", bl == 20 && body[0] == 1 && body[1] == 3 && body[7] == 5 && body[8] == 21);
    size_t tl = ndr_sid_format(body, 3, 1, txt, sizeof txt);
    test_cond("SID formats", tl == 12 && !memcmp(txt, "S-1-5-21-3-4", 12));
    test_cond("bad SIDs refused", ndr_sid_parse("S-1", 3, body, 1) < 0 && ndr_sid_parse("S-1-5-x", 7, body, 1) < 0 &&
              ndr_sid_parse("S-1-5-99999999999", 17, body, 1) < 0);
  }

  ndr_vm_free(&vm);
  vfree_all();
  free(arena);
  return test_report("test_ndr");
}
