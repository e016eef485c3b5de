/*
** ndr_vm.c - the NDR20 interpreter: one switch loop over a validated
** program (see ndr.h), an explicit bounded frame stack (no C recursion
** driven by input or by descriptions), and a pointer queue that carries what
** the scalars pass learnt (referent ids, array counts, union arms) to the
** buffers pass in NDR order.
**
** Both directions share the loop's source; it is compiled twice (this file
** includes itself, see NDR_VM_LOOP) with `enc` and the array count width
** VM_CW constants, so each direction's code holds only its own branches.
** The big ops (integers, arrays) are small always-inline helpers above the
** loop that take those constants as arguments. Decoding checks every count
** against the bytes left before it loops or asks the host for a table.
*/
#ifndef NDR_VM_LOOP
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ndr/ndr.h"

#if defined(__GNUC__)
#define NDR_INLINE static inline __attribute__((always_inline))
#else
#define NDR_INLINE static inline
#endif

#define OPA(w)  ((w) >> 8)
/* unique pointer referent ids: 0x00020000 | 4 * count, as Samba writes them
** (Windows adds instead of or-ing; receivers ignore unique ids anyway) */
#define NDR_UNIQUE_ID(n) (0x00020000u | ((uint32_t)(n) << 2))
#define OPC(w)  ((w) & NDR_OPMASK)

static const char *const ndr_tname[] = { "nil", "boolean", "integer", "number", "string", "table", "other value" };

const char *ndr_err_name(int err) {
  static const char *const n[] = {
    "ok", "ndr_buffer_size", "ndr_array_size", "ndr_string", "ndr_range",
    "ndr_pointer", "ndr_switch", "ndr_depth", "ndr_leftover", "ndr_drep",
    "ndr_nomem", "ndr_type", "ndr_value" };
  return (err >= 0 && err <= NDR_ERR_VALUE) ? n[err] : "ndr_error";
}

void ndr_vm_init(ndr_vm *vm) {
  memset(vm, 0, sizeof *vm);
  dce_buf_init(&vm->out);
  vm->max_depth = NDR_DEFAULT_DEPTH;
}

void ndr_vm_free(ndr_vm *vm) {
  dce_buf_free(&vm->out);
  free(vm->fr); free(vm->pq); free(vm->scratch); free(vm->fpw);
  vm->fr = NULL; vm->pq = NULL; vm->scratch = NULL; vm->fpw = NULL; vm->capfpw = 0;
  vm->capfr = vm->cappq = 0; vm->capscratch = 0;
}

int ndr_vm_reset(ndr_vm *vm, const ndr_host *h, int encode, uint8_t drep0, uint8_t drep1) {
  vm->h = h;
  vm->encode = encode;
  vm->le = (drep0 & 0xF0) != 0;
  dce_buf_reset(&vm->out);
  vm->nfr = vm->npq = vm->pcur = 0;
  vm->hoist = 0;
  vm->nptr = 0;
  vm->max_full = 0;
  vm->pending_full = 0;
  vm->err = 0;
  vm->msg[0] = 0;
  if ((drep0 & 0x0F) != 0) {
    vm->err = NDR_ERR_DREP;
    snprintf(vm->msg, sizeof vm->msg, "unsupported data representation: EBCDIC characters (drep 0x%02x)", drep0);
    return -1;
  }
  if (drep1 != 0) {
    static const char *const fl[] = { "IEEE", "VAX", "Cray", "IBM" };
    vm->err = NDR_ERR_DREP;
    snprintf(vm->msg, sizeof vm->msg, "unsupported data representation: %s floating point (drep 0x%02x)",
             drep1 < 4 ? fl[drep1] : "unknown", drep1);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ errors */

/* Append the path of the current location to b: frames' entry keys, then
** the field `a` of the failing op. Consecutive frames for one location (a
** pointer thunk and its referent) print once. */
static size_t vm_path(ndr_vm *vm, const ndr_prog *p, uint32_t a, char *b, size_t cap) {
  size_t o = 0;
  int pc = -1;
  int64_t pk = 0;
  b[0] = 0;
  for (uint32_t i = 0; i <= vm->nfr; i++) {
    int64_t k;
    int c;
    if (i < vm->nfr) {
      if (i > 0 && vm->fr[i].ocont == pc && vm->fr[i].ekey == pk) continue;
      k = vm->fr[i].ekey; c = vm->fr[i].ocont; pc = c; pk = k;
    } else {
      if (!a) break;
      k = -(int64_t)a;
    }
    if (k == 0) continue;
    int w;
    if (k < 0 && (uint64_t)-k <= p->nnames)
      w = snprintf(b + o, cap - o, "%s%s", o ? "." : "", p->names[-k]);
    else
      w = snprintf(b + o, cap - o, "[%lld]", (long long)k);
    if (w < 0 || (size_t)w >= cap - o) { o = cap - 1; break; }
    o += (size_t)w;
  }
  return o;
}

static int vm_fail(ndr_vm *vm, const ndr_prog *p, uint32_t a, int err, const char *fmt, ...) {
  char path[256], what[200];
  va_list ap;
  if (vm->err) return vm->err;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  vm_path(vm, p, a, path, sizeof path);
  vm->err = err;
  if (vm->encode)
    snprintf(vm->msg, sizeof vm->msg, "%s%s%s", path[0] ? path : p->title, ": ", what);
  else
    snprintf(vm->msg, sizeof vm->msg, "%s: %s%s%s (offset %zu)", p->title, path, path[0] ? ": " : "",
             what, vm->in.off);
  return err;
}

#define FAIL(err, ...) do { vm_fail(vm, p, a, err, __VA_ARGS__); goto fail; } while (0)
/* the same in the loop's helpers: they return -1, and the loop goes to fail */
#define HFAIL(err, ...) return (vm_fail(vm, p, a, err, __VA_ARGS__), -1)
#define SHORT(n) FAIL(NDR_ERR_BUFSIZE, "need %zu bytes, %zu left", (size_t)(n), dce_rd_left(&vm->in))

/* ------------------------------------------------------------ helpers */

static int vm_grow_frames(ndr_vm *vm) {
  uint32_t nc = vm->capfr ? vm->capfr * 2 : 32;
  ndr_frame *nf = realloc(vm->fr, nc * sizeof *nf);
  if (!nf) return -2;
  vm->fr = nf; vm->capfr = nc;
  return 0;
}

static inline int vm_push_frame(ndr_vm *vm, uint32_t ret, int cont, int64_t key, int scope) {
  ndr_frame *f;
  if (vm->nfr >= vm->frlimit) return -1;
  if (vm->nfr == vm->capfr && vm_grow_frames(vm)) return -2;
  f = &vm->fr[vm->nfr++];
  f->ret = ret; f->cont = cont; f->ocont = cont; f->key = key; f->ekey = key;
  f->scope = scope; f->tslot = 0; f->fullid = 0;
  return 0;
}

static int vm_pq_grow(ndr_vm *vm) {
  {
    uint32_t nc = vm->cappq ? vm->cappq * 2 : 64;
    ndr_pent *np;
    if (nc < vm->cappq) return -1;
    np = realloc(vm->pq, (size_t)nc * sizeof *np);
    if (!np) return -1;
    vm->pq = np; vm->cappq = nc;
  }
  return 0;
}

static inline int vm_pq_push(ndr_vm *vm, uint32_t id, uint32_t aux) {
  if (vm->npq == vm->cappq && vm_pq_grow(vm)) return -1;
  vm->pq[vm->npq].id = id; vm->pq[vm->npq].aux = aux; vm->npq++;
  return 0;
}

static char *vm_scratch_grow(ndr_vm *vm, size_t n) {
  {
    size_t nc = vm->capscratch ? vm->capscratch : 256;
    while (nc < n) { if (nc > SIZE_MAX / 2) return NULL; nc *= 2; }
    char *s = realloc(vm->scratch, nc);
    if (!s) return NULL;
    vm->scratch = s; vm->capscratch = nc;
  }
  return vm->scratch;
}

static inline char *vm_scratch(ndr_vm *vm, size_t n) {
  return n <= vm->capscratch ? vm->scratch : vm_scratch_grow(vm, n);
}

/* 32-bit store / load in the stub's byte order, always inlined (the loop is
** big enough that the compiler may otherwise call buf.h's out of line). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NDR_HOST_LE 1
#else
#define NDR_HOST_LE 0
#endif
NDR_INLINE void st32(uint8_t *q, uint32_t v, int le) {
  if (NDR_HOST_LE && le) memcpy(q, &v, 4);
  else if (le) { q[0] = (uint8_t)v; q[1] = (uint8_t)(v >> 8); q[2] = (uint8_t)(v >> 16); q[3] = (uint8_t)(v >> 24); }
  else    { q[3] = (uint8_t)v; q[2] = (uint8_t)(v >> 8); q[1] = (uint8_t)(v >> 16); q[0] = (uint8_t)(v >> 24); }
}
NDR_INLINE uint32_t ld32(const uint8_t *q, int le) {
  if (NDR_HOST_LE && le) { uint32_t v; memcpy(&v, q, 4); return v; }
  return le ? ((uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16) | ((uint32_t)q[3] << 24))
            : ((uint32_t)q[3] | ((uint32_t)q[2] << 8) | ((uint32_t)q[1] << 16) | ((uint32_t)q[0] << 24));
}

/* Decode: skip the padding to `al` (a power of two, from offset 0) and take
** n bytes at once; NULL (nothing consumed) when the input is too short. */
static inline const uint8_t *in_take(dce_rd *r, size_t al, size_t n) {
  size_t pad = (0 - r->off) & (al - 1);
  const uint8_t *q;
  if (!dce_rd_has(r, pad + n)) return NULL;   /* pad < 8, n small: no wrap */
  q = r->p + r->off + pad;
  r->off += pad + n;
  return q;
}

/* Encode: pad with zeros to `al` (a power of two, from offset 0) and claim
** n more bytes at once; returns where to write them, or NULL when out of
** memory (the buffer's error is sticky and reported at the end). */
static inline uint8_t *out_claim(dce_buf *b, size_t al, size_t n) {
  size_t pad = (0 - b->len) & (al - 1);
  uint8_t *q;
  if (b->err || pad + n > b->cap - b->len) {
    if (dce_buf_reserve(b, pad + n)) return NULL;
  }
  q = b->p + b->len;
  b->len += pad + n;
  while (pad--) *q++ = 0;
  return q;
}

static int vm_newt(ndr_vm *vm, int cont, int64_t key, uint32_t narr, uint32_t nrec) {
  int s = vm->h->newt(vm->h->ud, cont, key, narr, nrec);
  if (vm->pending_full) {  /* a full pointer's referent: known before filled, so cycles close */
    vm->h->ref_put(vm->h->ud, vm->pending_full, cont, key);
    vm->pending_full = 0;
  }
  return s;
}

/* Evaluate an expression; 1 when known, 0 when a field is missing (or not an
** integer, or division by zero). */
static int vm_eval(ndr_vm *vm, const ndr_prog *p, uint32_t x, int scope, int64_t *out) {
  const uint32_t *c = p->code;
  int64_t st[NDR_X_MAXDEPTH];
  int sp = 0;
  uint32_t nt = c[x], pc = x + 1;
  for (uint32_t t = 0; t < nt; t++) {
    uint32_t w = c[pc++];
    switch (w & 0xFF) {
      case NDR_X_FIELD: {
        int64_t v;
        if (vm->h->geti(vm->h->ud, scope, -(int64_t)(w >> 8), &v) != NDR_T_INT) return 0;
        st[sp++] = v; break;
      }
      case NDR_X_CONST:
        st[sp++] = (int64_t)((uint64_t)c[pc] | ((uint64_t)c[pc + 1] << 32)); pc += 2; break;
      case NDR_X_NOT: st[sp - 1] = !st[sp - 1]; break;
      case NDR_X_BNOT: st[sp - 1] = ~st[sp - 1]; break;
      case NDR_X_COND: sp -= 2; st[sp - 1] = st[sp - 1] ? st[sp] : st[sp + 1]; break;
      default: {
        int64_t r = st[--sp], l = st[--sp];
        switch (w & 0xFF) {
          case NDR_X_ADD: l = (int64_t)((uint64_t)l + (uint64_t)r); break;
          case NDR_X_SUB: l = (int64_t)((uint64_t)l - (uint64_t)r); break;
          case NDR_X_MUL: l = (int64_t)((uint64_t)l * (uint64_t)r); break;
          case NDR_X_DIV: case NDR_X_MOD:
            if (r == 0 || (l == INT64_MIN && r == -1)) return 0;
            l = (w & 0xFF) == NDR_X_DIV ? l / r : l % r; break;
          case NDR_X_AND: l &= r; break;
          case NDR_X_OR: l |= r; break;
          case NDR_X_XOR: l ^= r; break;
          case NDR_X_SHL: l = (r < 0 || r > 63) ? 0 : (int64_t)((uint64_t)l << r); break;
          case NDR_X_SHR: l = (r < 0 || r > 63) ? 0 : (l < 0 ? ~(~l >> r) : l >> r); break;
          case NDR_X_EQ: l = l == r; break;
          case NDR_X_NE: l = l != r; break;
          case NDR_X_LT: l = l < r; break;
          case NDR_X_GT: l = l > r; break;
          case NDR_X_LE: l = l <= r; break;
          case NDR_X_GE: l = l >= r; break;
          case NDR_X_LAND: l = l && r; break;
          default: l = l || r; break;                  /* NDR_X_LOR (ndr_prog_check let nothing else in) */
        }
        st[sp++] = l;
      }
    }
  }
  *out = st[0];
  return 1;
}

/* primitive widths by opcode (0: not a plain integer op) */
static const uint8_t prim_sizes[NDR_OP__COUNT] = {
  [NDR_OP_U8] = 1, [NDR_OP_I8] = 1, [NDR_OP_U16] = 2, [NDR_OP_I16] = 2, [NDR_OP_ENUM16] = 2,
  [NDR_OP_U32] = 4, [NDR_OP_I32] = 4, [NDR_OP_ENUM32] = 4, [NDR_OP_U64] = 8 };
#define prim_size(op) ((int)prim_sizes[op])

static int64_t sx(uint64_t v, int sz, int sign) {
  if (!sign) return (int64_t)v;
  switch (sz) {
    case 1: return (int8_t)v;
    case 2: return (int16_t)v;
    case 4: return (int32_t)v;
    default: return (int64_t)v;
  }
}

static int elem_size(int ek) {
  switch (ek) {
    case NDR_E_BYTE: case NDR_E_I8: return 1;
    case NDR_E_WCHAR: case NDR_E_U16: case NDR_E_I16: return 2;
    case NDR_E_U32: case NDR_E_I32: return 4;
    case NDR_E_U64: return 8;
    default: return 0;
  }
}

static int fits(int64_t v, int sz) {
  switch (sz) {
    case 1: return v >= -128 && v <= 255;
    case 2: return v >= -32768 && v <= 65535;
    case 4: return v >= -(int64_t)2147483648LL && v <= (int64_t)4294967295LL;
    default: return 1;
  }
}

/* Length (elements) of the value at (cont,key) as an array of kind ek:
** for NDR_F_AUTO sizes and hoisted conformance. -1 when not an array. */
static int64_t vm_vlen(ndr_vm *vm, int cont, int64_t key, int ek, int string) {
  const ndr_host *h = vm->h;
  if (ek == NDR_E_BYTE || ek == NDR_E_WCHAR) {
    const char *s; size_t n;
    int t = h->gets(h->ud, cont, key, &s, &n);
    if (t == NDR_T_NIL) return 0;
    if (t != NDR_T_STR) return -1;
    if (ek == NDR_E_WCHAR) { n = dce_utf8_units(s, n); if (n == (size_t)-1) return -1; }
    return (int64_t)n + (string ? 1 : 0);
  } else {
    int slot, t = h->get(h->ud, cont, key, &slot);
    int64_t n = t == NDR_T_TABLE ? (int64_t)h->len(h->ud, slot) : t == NDR_T_NIL ? 0 : -1;
    h->pop(h->ud, slot);
    return n;
  }
}

/* A context handle is { u32 attributes; GUID uuid }: its Lua value is the
** little-endian (canonical) layout whatever the stub's byte order. */
static void ctxh_swap(uint8_t *b) {
  dce_uuid u;
  uint8_t t = b[0]; b[0] = b[3]; b[3] = t;
  t = b[1]; b[1] = b[2]; b[2] = t;
  memcpy(u.b, b + 4, 16);
  dce_uuid_swap(&u);
  memcpy(b + 4, u.b, 16);
}

/* ------------------------------------------------------------ integers */

/* A 64-bit operand: two words, low first (ranges, union cases, constants). */
NDR_INLINE int64_t w64(const uint32_t *w) { return (int64_t)((uint64_t)w[0] | ((uint64_t)w[1] << 32)); }

/* An integer of sz bytes (1, 2, 4, 8) at q, sign-extended when sign. */
NDR_INLINE int64_t ld_int(const uint8_t *q, int sz, int sign, int le) {
  switch (sz) {
    case 1: return sign ? (int8_t)q[0] : q[0];
    case 2: return sx(dce_ld16(q, le), 2, sign);
    case 4: return sx(dce_ld32(q, le), 4, sign);
    default: return (int64_t)dce_ld64(q, le);
  }
}

NDR_INLINE void st_int(uint8_t *q, int sz, int64_t v, int le) {
  switch (sz) {
    case 1: q[0] = (uint8_t)v; break;
    case 2: dce_st16(q, (uint16_t)v, le); break;
    case 4: st32(q, (uint32_t)v, le); break;
    default: dce_st64(q, (uint64_t)v, le); break;
  }
}

/* The pc after an integer op whose optional operands (NDR_F_RANGE's four
** words, NDR_F_AUTO's one or two) start at np. */
NDR_INLINE uint32_t int_next(const uint32_t *code, uint32_t np, uint32_t w) {
  uint32_t nx = np + ((w & NDR_F_RANGE) ? 4 : 0);
  if (w & NDR_F_AUTO) nx += (((code[nx] >> 24) & 0x7F) == NDR_AUTO_UNION) ? 2 : 1;
  return nx;
}

/* NDR_F_RANGE: 0 when v is inside the range at rw (lo, hi), else -1. */
static int vm_range_fail(ndr_vm *vm, const ndr_prog *p, uint32_t a, int64_t v, const uint32_t *rw) {
  HFAIL(NDR_ERR_RANGE, "value %lld outside range [%lld, %lld]", (long long)v, (long long)w64(rw),
        (long long)w64(rw + 2));
}
NDR_INLINE int int_range(ndr_vm *vm, const ndr_prog *p, uint32_t a, int64_t v, const uint32_t *rw) {
  return v >= w64(rw) && v <= w64(rw + 2) ? 0 : vm_range_fail(vm, p, a, v, rw);
}

/* Decode: the integer op at pc (sz bytes, aligned sz) into *v, range
** checked (its operands start at np). 0, or -1 with the error set. */
NDR_INLINE int int_dec(ndr_vm *vm, const ndr_prog *p, uint32_t a, const uint32_t *code, uint32_t np, uint32_t w,
                       int sz, int sign, int le, int64_t *v) {
  const uint8_t *q = in_take(&vm->in, (size_t)sz, (size_t)sz);
  if (!q) {
    size_t need = ((0 - vm->in.off) & (size_t)(sz - 1)) + (size_t)sz;
    HFAIL(NDR_ERR_BUFSIZE, "need %zu bytes, %zu left", need, dce_rd_left(&vm->in));
  }
  *v = ld_int(q, sz, sign, le);
  return (w & NDR_F_RANGE) ? int_range(vm, p, a, *v, code + np) : 0;
}

/* Encode: the value at (cont,key) of an integer op that the host does not
** hold as an integer (type t): an enum given by name, or a nil that
** NDR_F_AUTO fills from a sibling (the length of an array, the arm a union
** holds). 0 with *v, or -1 with the error set. */
static int vm_int_other(ndr_vm *vm, const ndr_prog *p, uint32_t a, int cont, int64_t key,
                        const uint32_t *code, uint32_t pc, uint32_t np, uint32_t w, int t, int64_t *v) {
  const ndr_host *h = vm->h;
  void *ud = h->ud;
  int names = np > pc + 1 && code[pc + 1];  /* an enum with a name map */
  if (t == NDR_T_STR && names && h->lookup(ud, cont, key, code[pc + 1], v)) return 0;
  if (t == NDR_T_NIL && (w & NDR_F_AUTO)) {
    uint32_t aw = np + ((w & NDR_F_RANGE) ? 4 : 0);
    uint32_t ak = code[aw] & 0xFFFFFF, ek = code[aw] >> 24;
    if ((ek & 0x7F) == NDR_AUTO_UNION) {
      /* the discriminant of a sibling union: the arm its value holds */
      uint32_t at = code[aw + 1], narms = code[at], dflt = code[at + 1], i;
      int slot, t2 = h->get(ud, cont, -(int64_t)ak, &slot);
      for (i = 0; t2 == NDR_T_TABLE && i < narms; i++) {
        const uint32_t *e = code + at + 2 + 5 * i;
        int64_t dd;
        if (i + 1 == dflt || !e[2]) continue;
        if (h->geti(ud, slot, -(int64_t)e[2], &dd) != NDR_T_NIL) { *v = w64(e); break; }
      }
      h->pop(ud, slot);
      if (t2 != NDR_T_TABLE || i >= narms)
        HFAIL(NDR_ERR_TYPE, "integer expected, got nil (and %s names no known arm)", p->names[ak]);
    } else {
      int64_t n = vm_vlen(vm, cont, -(int64_t)ak, (int)(ek & 0x7F), (int)(ek >> 7));
      if (n < 0) HFAIL(NDR_ERR_TYPE, "integer expected, got nil (and %s is not an array)", p->names[ak]);
      *v = n;
    }
    return 0;
  }
  if (t == NDR_T_STR && names) {
    const char *s; size_t n;
    h->gets(ud, cont, key, &s, &n);
    HFAIL(NDR_ERR_VALUE, "unknown name '%.60s'", s);
  }
  HFAIL(NDR_ERR_TYPE, "integer expected, got %s", ndr_tname[t]);
}

/* Encode: the integer op at pc (sz bytes, aligned sz) from (cont,key),
** filled in, size and range checked. 0, or -1 with the error set. */
NDR_INLINE int int_enc(ndr_vm *vm, const ndr_prog *p, uint32_t a, int cont, int64_t key, const uint32_t *code,
                       uint32_t pc, uint32_t np, uint32_t w, int sz, int le) {
  int64_t v;
  uint8_t *q;
  int t = vm->h->geti(vm->h->ud, cont, key, &v);
  if (t != NDR_T_INT) {
    int e = vm_int_other(vm, p, a, cont, key, code, pc, np, w, t, &v);
    if (e) return e;
  }
  if (!fits(v, sz)) HFAIL(NDR_ERR_VALUE, "value %lld out of range for a %d-byte integer", (long long)v, sz);
  if ((w & NDR_F_RANGE) && int_range(vm, p, a, v, code + np)) return -1;
  q = out_claim(&vm->out, (size_t)sz, (size_t)sz);
  if (q) st_int(q, sz, v, le);
  return 0;
}

/* ------------------------------------------------------------ array counts
** Conformance (max_count) and variance (offset, actual_count) are counts of
** cw bytes aligned to cw: 4 in NDR20. The loop passes its instance's VM_CW,
** a constant, so that NDR64 (8-byte counts, aligned 8) can be one more
** instance. Counts are 32-bit here; an 8-byte count above that is refused
** where it is read. */

/* A count of cw bytes at q into *v; 0 when it does not fit (never for 4). */
NDR_INLINE int ld_count(const uint8_t *q, int le, size_t cw, uint32_t *v) {
  uint64_t x;
  if (cw == 4) { *v = ld32(q, le); return 1; }
  x = dce_ld64(q, le);
  *v = (uint32_t)x;
  return x <= UINT32_MAX;
}

NDR_INLINE void st_count(uint8_t *q, uint32_t v, int le, size_t cw) {
  if (cw == 4) st32(q, v, le);
  else dce_st64(q, v, le);
}

/* Decode: n counts in a row (aligned cw) into c; 0, or -1 with the error
** set. Short input is consumed as reading the counts one at a time would
** (the padding, the whole counts there are), for the same offset in the
** message. */
static void in_counts_short(ndr_vm *vm, const ndr_prog *p, uint32_t a, size_t cw, size_t n) {
  dce_rd *r = &vm->in;
  if (!dce_rd_align(r, cw, 0)) while (dce_rd_has(r, cw)) r->off += cw;  /* fewer than n are there */
  vm_fail(vm, p, a, NDR_ERR_BUFSIZE, "need %zu bytes, %zu left", n * cw, dce_rd_left(r));
}
NDR_INLINE int in_counts(ndr_vm *vm, const ndr_prog *p, uint32_t a, int le, size_t cw, size_t n, uint32_t *c) {
  const uint8_t *q = in_take(&vm->in, cw, n * cw);
  int ok = 1;
  if (!q) { in_counts_short(vm, p, a, cw, n); return -1; }
  for (size_t i = 0; i < n; i++) ok &= ld_count(q + i * cw, le, cw, &c[i]);
  if (!ok) HFAIL(NDR_ERR_ARRAY, "array count above 4294967295");
  return 0;
}

/* Encode: n counts in a row, aligned cw. */
NDR_INLINE void out_counts(dce_buf *b, int le, size_t cw, size_t n, const uint32_t *c) {
  uint8_t *q = out_claim(b, cw, n * cw);
  if (q) for (size_t i = 0; i < n; i++) st_count(q + i * cw, c[i], le, cw);
}

/* Encode: an array's own counts, aligned cw: max_count when cf, then
** offset and actual_count when vy. */
NDR_INLINE void out_arr_counts(dce_buf *b, int le, size_t cw, int cf, int vy, uint32_t maxc, uint32_t off,
                               uint32_t act) {
  if (cf | vy) {
    uint8_t *q = out_claim(b, cw, cw * ((size_t)cf + 2 * (size_t)vy));
    if (q) {
      if (cf) { st_count(q, maxc, le, cw); q += cw; }
      if (vy) { st_count(q, off, le, cw); st_count(q + cw, act, le, cw); }
    }
  }
}

/* ------------------------------------------------------------ arrays
** The ARR op (descriptor d, see ndr.h) in parts, each inlined into its
** direction's loop with the count width cw. Decode: str_fast, or
** arr_counts_dec then arr_elems_dec (all but complex elements, whose loop is
** in the program). Encode: arr_value_enc, arr_counts_enc, out_arr_counts,
** arr_elems_enc. The multi-dimensional parts are rare: out of line. */

/* Decode fast path for a plain [string] char/wchar_t array (conformant
** varying, no size expressions): all three counts in one read, then the
** text. Returns 1 when done; 0 when anything is unusual, bad or out of
** memory, having consumed nothing, so that the general path runs from the
** same offset with the same checks and messages. */
NDR_INLINE int str_fast(ndr_vm *vm, const uint32_t *d, int cont, int64_t key, int le, size_t cw) {
  uint32_t fl = d[1], ek = (fl >> 8) & 0xFF, emin = d[6] >> 8, maxc, off, act;
  dce_rd *r = &vm->in;
  const uint8_t *q;
  size_t n, es, left;
  if ((fl & ~0xFF00u) != (NDR_A_CONF | NDR_A_VARY | NDR_A_STRING) ||
      (ek != NDR_E_WCHAR && ek != NDR_E_BYTE) || d[3] || d[4] || d[5]) return 0;
  es = ek == NDR_E_WCHAR ? 2 : 1;
  {
    size_t pad = (0 - r->off) & (cw - 1);
    if (!dce_rd_has(r, pad + 3 * cw)) return 0;
    q = r->p + r->off + pad;
    left = r->len - r->off - pad - 3 * cw;  /* the counts end aligned: no padding before the text */
  }
  if (!ld_count(q, le, cw, &maxc) || !ld_count(q + cw, le, cw, &off) || !ld_count(q + 2 * cw, le, cw, &act)) return 0;
  if (off != 0 || act == 0 || act > maxc || (uint64_t)act * es > left ||
      (emin ? (uint64_t)act * emin > left : act > (1u << 20))) return 0;
  n = act - 1;
  q += 3 * cw;
  if (es == 1 ? q[n] != 0 : (q[2 * n] != 0 || q[2 * n + 1] != 0)) return 0;
  if (es == 1) {
    r->off = (size_t)(q - r->p) + act;
    vm->h->sets(vm->h->ud, cont, key, (const char *)q, n);
  } else {
    char *o = vm_scratch(vm, 3 * n + 1);
    if (!o) return 0;
    r->off = (size_t)(q - r->p) + 2 * (size_t)act;
    vm->h->sets(vm->h->ud, cont, key, o, dce_utf16_to_utf8(q, n, le, o));
  }
  return 1;
}

/* Decode the counts of a multi-dimensional array (outermost dimension):
** Z1..Zn, then (offset, actual) for each dimension when varying, into
** vm->mdmax/mdoff/mdact, checked against the expressions of the data block
** and bounded by the bytes left. 0, or -1 with the error set. */
static int arr_md_dec(ndr_vm *vm, const ndr_prog *p, uint32_t a, const uint32_t *d, int scope, int le, size_t cw) {
  const uint32_t *code = p->code;
  uint32_t fl = d[1], emin = d[6] >> 8, nd = (fl >> 16) & 0xFF, blk = d[3];
  dce_rd *r = &vm->in;
  uint64_t cells = 1;
  int64_t ex;
  if (dce_rd_align(r, cw, 0))
    HFAIL(NDR_ERR_BUFSIZE, "need %zu bytes, %zu left", cw, dce_rd_left(r));
  for (uint32_t i = 0; i < nd; i++) {
    if (in_counts(vm, p, a, le, cw, 1, &vm->mdmax[i])) return -1;
    if (code[blk + 1 + i] && vm_eval(vm, p, code[blk + 1 + i], scope, &ex) && ex != (int64_t)vm->mdmax[i])
      HFAIL(NDR_ERR_ARRAY, "bad array size in dimension %u: got %u, expected %lld", i + 1,
                     vm->mdmax[i], (long long)ex);
    vm->mdoff[i] = 0; vm->mdact[i] = vm->mdmax[i];
  }
  if (fl & NDR_A_VARY) for (uint32_t i = 0; i < nd; i++) {
    uint32_t c[2];
    if (in_counts(vm, p, a, le, cw, 2, c)) return -1;
    vm->mdoff[i] = c[0]; vm->mdact[i] = c[1];
    if ((uint64_t)vm->mdoff[i] + vm->mdact[i] > vm->mdmax[i])
      HFAIL(NDR_ERR_ARRAY, "offset %u + actual count %u exceed the maximum %u in dimension %u",
                     vm->mdoff[i], vm->mdact[i], vm->mdmax[i], i + 1);
    if (code[blk + 1 + nd + i] && vm_eval(vm, p, code[blk + 1 + nd + i], scope, &ex) && ex != (int64_t)vm->mdact[i])
      HFAIL(NDR_ERR_ARRAY, "bad array length in dimension %u: got %u, expected %lld", i + 1,
                     vm->mdact[i], (long long)ex);
  }
  /* every cell takes emin bytes, every row a table: bound the product */
  for (uint32_t i = 0; i < nd; i++) {
    cells *= vm->mdact[i] ? vm->mdact[i] : 1;
    if (cells > dce_rd_left(r) / (emin ? emin : 1) + 1)
      HFAIL(NDR_ERR_BUFSIZE, "array counts exceed the %zu bytes left", dce_rd_left(r));
  }
  return 0;
}

/* Decode: the counts of the array at d (fixed arrays keep their length),
** from the wire, a hoisted conformance or an outer dimension; checked
** against the size expressions, the [string] rules and the bytes left. */
NDR_INLINE int arr_counts_dec(ndr_vm *vm, const ndr_prog *p, uint32_t a, const uint32_t *d, int scope, int le,
                              size_t cw, uint32_t *pmaxc, uint32_t *poff, uint32_t *pact) {
  uint32_t fl = d[1], emin = d[6] >> 8, maxc = *pmaxc, off = 0, act = *pact;
  dce_rd *r = &vm->in;
  int64_t ex;
  if (fl & NDR_A_MDIN) {
    uint32_t di = (fl >> 16) & 0xFF;
    maxc = vm->mdmax[di]; off = vm->mdoff[di]; act = vm->mdact[di];
  } else if (fl & NDR_A_MD) {
    if (arr_md_dec(vm, p, a, d, scope, le, cw)) return -1;
    maxc = vm->mdmax[0]; off = vm->mdoff[0]; act = vm->mdact[0];
  } else if (fl & NDR_A_CONF) {
    if (fl & NDR_A_HOIST) maxc = vm->hoist;
    else if (in_counts(vm, p, a, le, cw, 1, &maxc)) return -1;
    if (d[3] && vm_eval(vm, p, d[3], scope, &ex)) {
      if (fl & NDR_A_MAXIS) ex += 1;
      if (ex != (int64_t)maxc) HFAIL(NDR_ERR_ARRAY, "bad array size: got %u, expected %lld", maxc, (long long)ex);
    }
    act = maxc;
  }
  if ((fl & NDR_A_VARY) && !(fl & (NDR_A_MD | NDR_A_MDIN))) {
    uint32_t c[2];
    if (in_counts(vm, p, a, le, cw, 2, c)) return -1;
    off = c[0]; act = c[1];
    if ((uint64_t)off + act > maxc)
      HFAIL(NDR_ERR_ARRAY, "offset %u + actual count %u exceed the maximum %u", off, act, maxc);
    if (d[4] && vm_eval(vm, p, d[4], scope, &ex) && ex != (int64_t)act)
      HFAIL(NDR_ERR_ARRAY, "bad array length: got %u, expected %lld", act, (long long)ex);
    if (d[5] && vm_eval(vm, p, d[5], scope, &ex) && ex != (int64_t)off)
      HFAIL(NDR_ERR_ARRAY, "bad array offset: got %u, expected %lld", off, (long long)ex);
  }
  if ((fl & NDR_A_STRING) && act == 0) HFAIL(NDR_ERR_STRING, "string without terminator (actual count 0)");
  if ((fl & NDR_A_STRING) && off != 0) HFAIL(NDR_ERR_STRING, "string with non-zero offset %u", off);
  /* every element takes at least emin bytes: refuse counts the input cannot
  ** hold (multi-dimensional: bounded by arr_md_dec) */
  if (!(fl & NDR_A_MD) &&  /* act < 2^32, emin < 2^24: no overflow */
      (emin ? (uint64_t)act * emin > dce_rd_left(r) : act > (1u << 20)))
    HFAIL(NDR_ERR_BUFSIZE, "array count %u exceeds the %zu bytes left", act, dce_rd_left(r));
  *pmaxc = maxc; *poff = off; *pact = act;
  return 0;
}

/* Decode: act elements of kind ek (not complex) into the value at
** (cont,key): a string (bytes, or UTF-16 as UTF-8) or a table of integers. */
NDR_INLINE int arr_elems_dec(ndr_vm *vm, const ndr_prog *p, uint32_t a, uint32_t fl, uint32_t ek, uint32_t act,
                             int cont, int64_t key, int le) {
  const ndr_host *h = vm->h;
  size_t es = (size_t)elem_size((int)ek);
  dce_rd *r = &vm->in;
  const uint8_t *q;
  if (act && dce_rd_align(r, es, 0))
    HFAIL(NDR_ERR_BUFSIZE, "need %zu bytes, %zu left", es, dce_rd_left(r));
  if (dce_rd_bytes(r, &q, (size_t)act * es))
    HFAIL(NDR_ERR_BUFSIZE, "need %zu bytes, %zu left", (size_t)act * es, dce_rd_left(r));
  if (ek == NDR_E_BYTE) {
    size_t n = act;
    if (fl & NDR_A_STRING) {
      if (q[n - 1] != 0) HFAIL(NDR_ERR_STRING, "string not terminated");
      n--;
    }
    h->sets(h->ud, cont, key, (const char *)q, n);
  } else if (ek == NDR_E_WCHAR) {
    size_t n = act;
    char *o;
    if (fl & NDR_A_STRING) {
      if (q[2 * n - 1] != 0 || q[2 * n - 2] != 0) HFAIL(NDR_ERR_STRING, "string not terminated");
      n--;
    }
    if (!(o = vm_scratch(vm, 3 * n + 1))) HFAIL(NDR_ERR_NOMEM, "out of memory");
    h->sets(h->ud, cont, key, o, dce_utf16_to_utf8(q, n, le, o));
  } else {
    int slot = vm_newt(vm, cont, key, act, 0);
    int sign = ek == NDR_E_I8 || ek == NDR_E_I16 || ek == NDR_E_I32;
    for (uint32_t i = 0; i < act; i++, q += es) h->seti(h->ud, slot, (int64_t)i + 1, ld_int(q, (int)es, sign, le));
    h->pop(h->ud, slot);
  }
  return 0;
}

/* Encode: the value of the array at d, at (cont,key), and its element count
** *m ([string]: with the terminator). Text (byte, wchar_t) gives *s, *slen;
** wchar_t text is converted at once where its units will go, after the
** counts (*upos, SIZE_MAX when not). Other arrays are a table: *slot. */
NDR_INLINE int arr_value_enc(ndr_vm *vm, const ndr_prog *p, uint32_t a, const uint32_t *d, int cont, int64_t key,
                             int le, size_t cw, int *slot, const char **s, size_t *slen, size_t *upos, int64_t *m) {
  const ndr_host *h = vm->h;
  uint32_t fl = d[1], ek = (fl >> 8) & 0xFF;
  dce_buf *b = &vm->out;
  int t;
  if (ek == NDR_E_BYTE || ek == NDR_E_WCHAR) {
    t = h->gets(h->ud, cont, key, s, slen);
    if (t != NDR_T_STR) HFAIL(NDR_ERR_TYPE, "string expected, got %s", ndr_tname[t]);
    if (ek == NDR_E_WCHAR) {
      size_t u;
      if (!(fl & (NDR_A_MD | NDR_A_MDIN)) && !b->err && !b->limit && *slen < SIZE_MAX / 4) {
        /* one pass: convert straight to where the units will go (after
        ** the counts out_counts writes) and learn their number; 2*slen
        ** bytes always hold them */
        size_t pos = b->len;
        if ((fl & NDR_A_CONF) && !(fl & NDR_A_HOIST)) pos = ((pos + cw - 1) & ~(cw - 1)) + cw;
        if (fl & NDR_A_VARY) pos = ((pos + cw - 1) & ~(cw - 1)) + 2 * cw;
        pos = (pos + 1) & ~(size_t)1;
        if (dce_buf_reserve(b, pos - b->len + 2 * *slen + 2)) HFAIL(NDR_ERR_NOMEM, "out of memory");
        u = dce_utf8_to_utf16(*s, *slen, le, b->p + pos);
        *upos = pos;
      } else u = dce_utf8_units(*s, *slen);
      if (u == (size_t)-1) HFAIL(NDR_ERR_VALUE, "invalid UTF-8 text");
      *m = (int64_t)u;
    } else *m = (int64_t)*slen;
    if (fl & NDR_A_STRING) *m += 1;
  } else {
    t = h->get(h->ud, cont, key, slot);
    if (t != NDR_T_TABLE) { h->pop(h->ud, *slot); HFAIL(NDR_ERR_TYPE, "table expected, got %s", ndr_tname[t]); }
    *m = (int64_t)h->len(h->ud, *slot);
  }
  if (*m > 0xFFFFFFFFLL) HFAIL(NDR_ERR_VALUE, "array too long");
  return 0;
}

/* Encode: the counts of all dimensions of a multi-dimensional array
** (outermost), from the expressions or the shape of the value (m elements
** in slot), into vm->mdmax/mdoff/mdact, and written: Z1..Zn, then (offset,
** actual) per dimension when varying. 0, or -1 with the error set. */
static int arr_md_enc(ndr_vm *vm, const ndr_prog *p, uint32_t a, const uint32_t *d, int scope, int slot, int64_t m,
                      int le, size_t cw) {
  const ndr_host *h = vm->h;
  void *ud = h->ud;
  const uint32_t *code = p->code;
  uint32_t fl = d[1], nd = (fl >> 16) & 0xFF, blk = d[3];
  int cur = slot, base = 0;
  int64_t n;
  for (uint32_t i = 0; i < nd; i++) {
    int64_t len = 0, sz;
    if (i == 0) len = m;
    else if (cur) {
      int s2, t2 = h->get(ud, cur, 1, &s2);
      if (!base) base = s2;
      if (t2 == NDR_T_TABLE) { len = (int64_t)h->len(ud, s2); cur = s2; }
      else if (t2 == NDR_T_STR) { const char *ss; size_t sl; h->gets(ud, cur, 1, &ss, &sl); len = (int64_t)sl; cur = 0; }
      else cur = 0;
    }
    sz = len;
    if (code[blk + 1 + i] && vm_eval(vm, p, code[blk + 1 + i], scope, &n)) sz = n;
    vm->mdmax[i] = (uint32_t)sz; vm->mdoff[i] = 0; vm->mdact[i] = (uint32_t)sz;
    if ((fl & NDR_A_VARY) && !(code[blk + 1 + nd + i] && vm_eval(vm, p, code[blk + 1 + nd + i], scope, &n))) n = len;
    if (fl & NDR_A_VARY) vm->mdact[i] = (uint32_t)n;
    if (sz < 0 || sz > 0xFFFFFFFFLL || vm->mdact[i] > vm->mdmax[i]) {
      if (base) h->pop(ud, base);
      HFAIL(NDR_ERR_VALUE, "bad array size in dimension %u", i + 1);
    }
  }
  if (base) h->pop(ud, base);
  out_counts(&vm->out, le, cw, nd, vm->mdmax);
  if (fl & NDR_A_VARY) for (uint32_t i = 0; i < nd; i++) {
    uint32_t c[2] = { 0, vm->mdact[i] };
    out_counts(&vm->out, le, cw, 2, c);
  }
  return 0;
}

/* Encode: the counts of the array at d for a value of m elements (slot: its
** table, 0 for text), from the expressions, a hoisted conformance, an outer
** dimension or the value; they must agree with m. */
NDR_INLINE int arr_counts_enc(ndr_vm *vm, const ndr_prog *p, uint32_t a, const uint32_t *d, int scope, int slot,
                              int64_t m, int le, size_t cw, uint32_t *pmaxc, uint32_t *poff, uint32_t *pact) {
  uint32_t fl = d[1], maxc = *pmaxc, off = 0, act = *pact;
  uint32_t str = (fl & NDR_A_STRING) != 0;
  int64_t n;
  if (fl & NDR_A_MDIN) {
    uint32_t di = (fl >> 16) & 0xFF;
    maxc = vm->mdmax[di]; off = vm->mdoff[di]; act = vm->mdact[di];
  } else if (fl & NDR_A_MD) {
    if (arr_md_enc(vm, p, a, d, scope, slot, m, le, cw)) return -1;
    maxc = vm->mdmax[0]; act = vm->mdact[0];
  } else if (fl & NDR_A_CONF) {
    if (fl & NDR_A_HOIST) n = vm->hoist;
    else if (d[3] && vm_eval(vm, p, d[3], scope, &n)) { if (fl & NDR_A_MAXIS) n += 1; }
    else n = m;
    maxc = (uint32_t)n;
    if (n < 0 || n > 0xFFFFFFFFLL) HFAIL(NDR_ERR_VALUE, "array size %lld out of range", (long long)n);
    act = maxc;
  }
  if ((fl & NDR_A_VARY) && !(fl & (NDR_A_MD | NDR_A_MDIN))) {
    if (d[4] && vm_eval(vm, p, d[4], scope, &n)) act = (uint32_t)n; else act = (uint32_t)m;
    if (d[5] && vm_eval(vm, p, d[5], scope, &n)) off = (uint32_t)n;
    if ((uint64_t)off + act > maxc)
      HFAIL(NDR_ERR_VALUE, "%u elements (offset %u) do not fit in %u", act, off, maxc);
  }
  if ((int64_t)act != m) {
    if (slot) vm->h->pop(vm->h->ud, slot);
    HFAIL(NDR_ERR_VALUE, "array has %lld elements, %u expected", (long long)(m - str), act - str);
  }
  *pmaxc = maxc; *poff = off; *pact = act;
  return 0;
}

/* Encode: the elements of a non-complex array of kind ek: the text s (wchar_t:
** already converted at upos when that is where they go now), or act
** integers from the table in slot (popped). */
NDR_INLINE int arr_elems_enc(ndr_vm *vm, const ndr_prog *p, uint32_t a, uint32_t fl, uint32_t ek, uint32_t act,
                             int slot, const char *s, size_t slen, size_t upos, int le) {
  const ndr_host *h = vm->h;
  dce_buf *b = &vm->out;
  uint32_t str = (fl & NDR_A_STRING) != 0;
  if (ek == NDR_E_BYTE) {
    dce_buf_put(b, s, slen);
    if (str) dce_buf_u8(b, 0);
  } else if (ek == NDR_E_WCHAR) {
    size_t nb = 2 * (size_t)(act - str);
    if (act) dce_buf_align(b, 2, 0);
    if (upos == b->len && !b->err && nb + 2 <= b->cap - b->len) {
      /* converted in place by arr_value_enc (2*slen + 2 bytes were reserved there) */
      uint8_t *q = b->p + b->len;
      b->len += nb;
      if (str) { q[nb] = 0; q[nb + 1] = 0; b->len += 2; }
    } else {
      if (dce_buf_reserve(b, 2 * slen + 2) == 0) {
        if (dce_utf8_to_utf16(s, slen, le, b->p + b->len) * 2 != nb) HFAIL(NDR_ERR_VALUE, "invalid UTF-8 text");
        b->len += nb;
      }
      if (str) dce_buf_u16(b, 0, le);
    }
  } else {
    int es = elem_size((int)ek);
    if (act) dce_buf_align(b, (size_t)es, 0);
    for (uint32_t i = 0; i < act; i++) {
      int64_t v;
      int tt = h->geti(h->ud, slot, (int64_t)i + 1, &v);
      if (tt != NDR_T_INT) {
        h->pop(h->ud, slot);
        HFAIL(NDR_ERR_TYPE, "[%u]: integer expected, got %s", i + 1, ndr_tname[tt]);
      }
      switch (es) {
        case 1: dce_buf_u8(b, (uint8_t)v); break;
        case 2: dce_buf_u16(b, (uint16_t)v, le); break;
        case 4: dce_buf_u32(b, (uint32_t)v, le); break;
        default: dce_buf_u64(b, (uint64_t)v, le); break;
      }
    }
    h->pop(h->ud, slot);
  }
  return 0;
}

/* ------------------------------------------------------------ the loop */

/* The loop is compiled twice, once per direction, with `enc` a constant in
** each (the other direction's branches go away): this file includes itself
** with NDR_VM_LOOP set to get just the loop (below the #else). An instance
** is VM_RUN (its name), VM_ENC and VM_CW (bytes of an array count: 4 in
** NDR20; NDR64's 8 would be one more instance). GNU C gets computed-goto
** dispatch; others the switch. */
#if defined(__GNUC__) && !defined(NDR_NO_THREADED)
#define NDR_THREADED 1
#else
#define NDR_THREADED 0
#endif
#define NDR_VM_LOOP 1
#define VM_RUN vm_run_dec
#define VM_ENC 0
#define VM_CW  4      /* bytes of an array count (NDR20) */
#include "vm.c"
#undef VM_RUN
#undef VM_ENC
#undef VM_CW
#define VM_RUN vm_run_enc
#define VM_ENC 1
#define VM_CW  4
#include "vm.c"
#undef VM_RUN
#undef VM_ENC
#undef VM_CW

int ndr_run(ndr_vm *vm, const ndr_prog *p, uint32_t entry, int root, int64_t rootkey) {
  return vm->encode ? vm_run_enc(vm, p, entry, root, rootkey) : vm_run_dec(vm, p, entry, root, rootkey);
}

#else /* NDR_VM_LOOP: the loop, included twice by the part above */

static int VM_RUN(ndr_vm *vm, const ndr_prog *p, uint32_t entry, int root, int64_t rootkey) {
  const int enc = VM_ENC;
  const ndr_host *h = vm->h;
  void *ud = h->ud;
  const uint32_t *code = p->code;
  const int le = vm->le;
  uint32_t pc, a = 0;
  ndr_frame *F;

  if (vm->err) return vm->err;
  vm->frlimit = vm->max_depth * 4u + 8u;
  if (entry >= p->nentry) { snprintf(vm->msg, sizeof vm->msg, "no such entry"); return vm->err = NDR_ERR_VALUE; }
  if (vm_push_frame(vm, UINT32_MAX, root, rootkey, root)) { vm->err = NDR_ERR_NOMEM; return vm->err; }
  pc = p->entry[entry];
  F = &vm->fr[vm->nfr - 1];

#define LOCKEY (a ? -(int64_t)a : F->key)
#define CALLF(ret_, cont_, key_, target_) do { \
    int r_ = vm_push_frame(vm, (ret_), (cont_), (key_), F->scope); \
    if (r_ == -1) FAIL(NDR_ERR_DEPTH, "nesting deeper than the limit (%u)", vm->max_depth); \
    if (r_) FAIL(NDR_ERR_NOMEM, "out of memory"); \
    pc = (target_); \
    F = &vm->fr[vm->nfr - 1]; \
  } while (0)

#if NDR_THREADED
  /* computed-goto dispatch (GNU C): each op ends in its own indirect jump
  ** (NEXT), which predicts better. The table comes from ndr/ndr_ops.h: an
  ** opcode without its label L_NAME (OPCASE below) does not compile, and
  ** the rest of the 6-bit opcode field goes to L_BAD. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#define NDR_OPTAB_(name, len, isint) [NDR_OP_##name] = &&L_##name,
  static const void *const optab[] = {
    NDR_OPS(NDR_OPTAB_)                     /* one label per opcode: L_NAME below */
    [NDR_OP__COUNT ... NDR_OPMASK] = &&L_BAD,
  };
#undef NDR_OPTAB_
  _Static_assert(sizeof optab / sizeof optab[0] == NDR_OPMASK + 1, "the dispatch table covers every opcode");
#define NEXT do { w = code[pc]; op = OPC(w); a = OPA(w); goto *optab[op]; } while (0)
#define OPCASE(name) case NDR_OP_##name: L_##name
#define OPDEFAULT default: L_BAD
#else
#define NEXT continue
#define OPCASE(name) case NDR_OP_##name
#define OPDEFAULT default
#endif
  for (;;) {
    uint32_t w = code[pc];
    uint32_t op = OPC(w);
    a = OPA(w);
#if NDR_THREADED
    goto *optab[op];
#endif
    switch (op) {

    OPCASE(RET): {
      if (F->fullid && vm->pending_full == F->fullid) {
        /* full pointer to a value that is not a table: register it now */
        vm->pending_full = 0;
        h->ref_put(ud, F->fullid, F->ocont, F->ekey);
      }
      pc = F->ret;
      vm->nfr--;
      if (vm->nfr == 0) goto done;
      F--;
      NEXT;
    }
    OPCASE(JMP): pc = code[pc + 1]; NEXT;
    OPCASE(CALL): {
      /* a loop body's call returns straight to the loop's ANEXT */
      uint32_t ret = pc + 2 < p->ncodeops && OPC(code[pc + 2]) == NDR_OP_JMP ? code[pc + 3] : pc + 2;
      CALLF(ret, F->cont, LOCKEY, code[pc + 1]);
      NEXT;
    }
    OPCASE(ALIGN):
      if (enc) out_claim(&vm->out, a, 0);
      else if (dce_rd_align(&vm->in, a, 0)) SHORT(a);
      pc += 1; NEXT;

    OPCASE(OPEN): {
      int slot;
      if (enc) {
        int t = h->get(ud, F->cont, LOCKEY, &slot);
        if (t != NDR_T_TABLE) { h->pop(ud, slot); FAIL(NDR_ERR_TYPE, "table expected, got %s", ndr_tname[t]); }
      } else {
        slot = vm_newt(vm, F->cont, LOCKEY, 0, code[pc + 1]);
      }
      F->tslot = F->cont = F->scope = slot;
      pc += 2; NEXT;
    }
    OPCASE(OPENB): {
      int slot;
      h->get(ud, F->cont, LOCKEY, &slot);
      F->tslot = F->cont = F->scope = slot;
      pc += 1; NEXT;
    }
    OPCASE(CLOSE):
      if (F->tslot) h->pop(ud, F->tslot);
      F->tslot = 0;
      pc += 1; NEXT;

    OPCASE(PMARK): F->mark = vm->npq; F->savedcur = vm->pcur; pc += 1; NEXT;
    OPCASE(PCUR): vm->pcur = F->mark; pc += 1; NEXT;
    OPCASE(PDROP): vm->npq = F->mark; vm->pcur = F->savedcur; pc += 1; NEXT;

    OPCASE(U8): OPCASE(I8): OPCASE(U16): OPCASE(I16): OPCASE(U32): OPCASE(I32): OPCASE(U64):
    OPCASE(ENUM16): OPCASE(ENUM32): {
      int sz = prim_size(op);
      uint32_t np = pc + 1 + (op == NDR_OP_ENUM16 || op == NDR_OP_ENUM32);  /* optional operands */
      if (enc) {
        if (int_enc(vm, p, a, F->cont, LOCKEY, code, pc, np, w, sz, le)) goto fail;
      } else {
        int64_t v;
        int sign = (op == NDR_OP_I8 || op == NDR_OP_I16 || op == NDR_OP_I32);
        if (int_dec(vm, p, a, code, np, w, sz, sign, le, &v)) goto fail;
        h->seti(ud, F->cont, LOCKEY, v);
      }
      pc = int_next(code, np, w);
      NEXT;
    }

    OPCASE(U64A4): {  /* FILETIME */
      int64_t v;
      if (enc) {
        int t = h->geti(ud, F->cont, LOCKEY, &v);
        if (t != NDR_T_INT) FAIL(NDR_ERR_TYPE, "integer expected, got %s", ndr_tname[t]);
        dce_buf_align(&vm->out, 4, 0);
        dce_buf_u32(&vm->out, (uint32_t)v, le);
        dce_buf_u32(&vm->out, (uint32_t)((uint64_t)v >> 32), le);
      } else {
        uint32_t lo, hi;
        if (dce_rd_align(&vm->in, 4, 0) || dce_rd_u32(&vm->in, &lo, le) || dce_rd_u32(&vm->in, &hi, le)) SHORT(8);
        h->seti(ud, F->cont, LOCKEY, (int64_t)(((uint64_t)hi << 32) | lo));
      }
      pc += 1; NEXT;
    }

    OPCASE(F32): OPCASE(F64): {
      int sz = op == NDR_OP_F32 ? 4 : 8;
      if (enc) {
        double d;
        int t = h->getn(ud, F->cont, LOCKEY, &d);
        if (t != NDR_T_NUM && t != NDR_T_INT) FAIL(NDR_ERR_TYPE, "number expected, got %s", ndr_tname[t]);
        dce_buf_align(&vm->out, (size_t)sz, 0);
        if (sz == 4) { float f = (float)d; uint32_t u; memcpy(&u, &f, 4); dce_buf_u32(&vm->out, u, le); }
        else { uint64_t u; memcpy(&u, &d, 8); dce_buf_u64(&vm->out, u, le); }
      } else {
        double d;
        if (dce_rd_align(&vm->in, (size_t)sz, 0)) SHORT(sz);
        if (sz == 4) { uint32_t u; float f; if (dce_rd_u32(&vm->in, &u, le)) SHORT(4); memcpy(&f, &u, 4); d = f; }
        else { uint64_t u; if (dce_rd_u64(&vm->in, &u, le)) SHORT(8); memcpy(&d, &u, 8); }
        h->setn(ud, F->cont, LOCKEY, d);
      }
      pc += 1; NEXT;
    }

    OPCASE(BOOL): {
      if (enc) {
        int v = 0;
        int t = h->getb(ud, F->cont, LOCKEY, &v);
        if (t != NDR_T_BOOL) FAIL(NDR_ERR_TYPE, "boolean expected, got %s", ndr_tname[t]);
        dce_buf_u8(&vm->out, v ? 1 : 0);
      } else {
        uint8_t v;
        if (dce_rd_u8(&vm->in, &v)) SHORT(1);
        h->setb(ud, F->cont, LOCKEY, v != 0);
      }
      pc += 1; NEXT;
    }

    OPCASE(GUID): OPCASE(CTXH): {
      size_t n = op == NDR_OP_GUID ? 16 : 20;
      if (enc) {
        const char *s; size_t len;
        uint8_t raw[20];
        int t = h->gets(ud, F->cont, LOCKEY, &s, &len);
        memset(raw, 0, sizeof raw);
        if (t == NDR_T_STR) {
          if (op == NDR_OP_GUID) {
            dce_uuid u;
            if (dce_uuid_parse(&u, s, len)) FAIL(NDR_ERR_VALUE, "bad GUID '%.40s'", s);
            if (!le) dce_uuid_swap(&u);
            memcpy(raw, u.b, 16);
          } else {
            if (len != 20) FAIL(NDR_ERR_VALUE, "context handle must be 20 bytes, got %zu", len);
            memcpy(raw, s, 20);
            if (!le) ctxh_swap(raw);
          }
        } else if (t != NDR_T_NIL) FAIL(NDR_ERR_TYPE, "string expected, got %s", ndr_tname[t]);
        dce_buf_align(&vm->out, 4, 0);
        dce_buf_put(&vm->out, raw, n);
      } else {
        const uint8_t *q;
        if (dce_rd_align(&vm->in, 4, 0) || dce_rd_bytes(&vm->in, &q, n)) SHORT(n);
        if (op == NDR_OP_GUID) {
          dce_uuid u; char txt[37];
          memcpy(u.b, q, 16);
          if (!le) dce_uuid_swap(&u);
          dce_uuid_format(&u, txt);
          h->sets(ud, F->cont, LOCKEY, txt, 36);
        } else if (le) h->sets(ud, F->cont, LOCKEY, (const char *)q, 20);
        else {
          uint8_t raw[20];
          memcpy(raw, q, 20);
          ctxh_swap(raw);
          h->sets(ud, F->cont, LOCKEY, (const char *)raw, 20);
        }
      }
      pc += 1; NEXT;
    }

    OPCASE(SID): {
      if (enc) {
        const char *s; size_t len;
        uint8_t body[8 + 4 * 15];
        int t = h->gets(ud, F->cont, LOCKEY, &s, &len);
        if (t != NDR_T_STR) FAIL(NDR_ERR_TYPE, "SID string expected, got %s", ndr_tname[t]);
        int n = ndr_sid_parse(s, len, body, le);
        if (n < 0) FAIL(NDR_ERR_VALUE, "bad SID '%.60s'", s);
        dce_buf_align(&vm->out, 4, 0);
        dce_buf_u32(&vm->out, body[1], le);
        dce_buf_put(&vm->out, body, (size_t)n);
      } else {
        uint32_t mc;
        const uint8_t *q;
        char txt[256];
        if (dce_rd_align(&vm->in, 4, 0) || dce_rd_u32(&vm->in, &mc, le)) SHORT(4);
        if (mc > 15) FAIL(NDR_ERR_ARRAY, "SID with %u sub-authorities (at most 15)", mc);
        if (dce_rd_bytes(&vm->in, &q, 8 + 4 * (size_t)mc)) SHORT(8 + 4 * (size_t)mc);
        if (q[1] != mc) FAIL(NDR_ERR_ARRAY, "SID sub-authority count %u does not match its conformance %u", q[1], mc);
        size_t tl = ndr_sid_format(q, mc, le, txt, sizeof txt);
        h->sets(ud, F->cont, LOCKEY, txt, tl);
      }
      pc += 1; NEXT;
    }

    OPCASE(PTRS): {
      uint32_t kind = code[pc + 1], id = 0, aux = 0;
      if (enc) {
        int64_t dummy;
        int t = h->geti(ud, F->cont, LOCKEY, &dummy);
        if (t == NDR_T_NIL) {
          if (kind == NDR_PTR_REF) FAIL(NDR_ERR_TYPE, "[ref] pointer cannot be nil");
        } else if (kind == NDR_PTR_FULL) {
          /* full pointers are numbered 1, 2, ... from the pointer count (as
          ** Samba does; MIDL numbers them 1, 2, ... too); one id per table */
          if (t == NDR_T_TABLE) aux = (uint32_t)h->ptr_id(ud, F->cont, LOCKEY, vm->nptr + 1, &id);
          else { aux = 1; id = vm->nptr + 1; }
          if (aux) {
            size_t ix = ++vm->nptr;
            if (ix >= vm->capfpw) {
              size_t nc = vm->capfpw ? vm->capfpw * 2 : 256;
              uint8_t *nf;
              while (nc <= ix) nc *= 2;
              if (!(nf = realloc(vm->fpw, nc))) FAIL(NDR_ERR_NOMEM, "out of memory");
              vm->fpw = nf; vm->capfpw = nc;
            }
            vm->fpw[ix] = 0;  /* referent not written yet */
          }
        } else {
          id = NDR_UNIQUE_ID(vm->nptr); vm->nptr++; aux = 1;
        }
        {
          uint8_t *q = out_claim(&vm->out, 4, 4);
          if (q) st32(q, id, le);
        }
      } else {
        const uint8_t *q = in_take(&vm->in, 4, 4);
        if (q) id = ld32(q, le);  /* else: the same step by step, for the message */
        else if (dce_rd_align(&vm->in, 4, 0) || dce_rd_u32(&vm->in, &id, le)) SHORT(4);
        if (id == 0 && kind == NDR_PTR_REF) FAIL(NDR_ERR_POINTER, "null [ref] pointer");
        if (kind == NDR_PTR_FULL && id > vm->max_full) vm->max_full = id;
      }
      if (vm_pq_push(vm, id, aux)) FAIL(NDR_ERR_NOMEM, "out of memory");
      pc += 2; NEXT;
    }
    OPCASE(PTRB): {
      uint32_t kind = code[pc + 1];
      ndr_pent e;
      if (vm->pcur >= vm->npq) FAIL(NDR_ERR_POINTER, "internal: pointer queue underflow");
      e = vm->pq[vm->pcur++];
      if (e.id == 0) {
        int64_t n;
        /* a null pointer to an array whose size_is says it has elements */
        if (!enc && code[pc + 3] && vm_eval(vm, p, code[pc + 3], F->scope, &n) && n != 0)
          FAIL(NDR_ERR_POINTER, "null pointer to an array of size %lld", (long long)n);
        pc += 4; NEXT;
      }
      if (enc) {
        if (kind == NDR_PTR_FULL) {
          /* the referent goes with the first pointer met in the buffers pass
          ** (the decoder reads it there): later ones only carry the id */
          size_t ix = e.id;
          if (ix >= vm->capfpw || vm->fpw[ix]) { pc += 4; NEXT; }
          vm->fpw[ix] = 1;
        }
        CALLF(pc + 4, F->cont, LOCKEY, code[pc + 2]);
      } else {
        int64_t k = LOCKEY;
        if (kind == NDR_PTR_FULL) {
          if (h->ref_get(ud, e.id, F->cont, k)) { pc += 4; NEXT; }  /* alias */
          CALLF(pc + 4, F->cont, k, code[pc + 2]);
          F->fullid = e.id;
          vm->pending_full = e.id;
        } else {
          /* a referent that is just a [string]: no frame for it */
          uint32_t t = code[pc + 2];
          if (t + 7 < p->ncodeops && OPC(code[t]) == NDR_OP_ARR && OPA(code[t]) == 0 &&
              OPC(code[t + 7]) == NDR_OP_RET && str_fast(vm, code + t, F->cont, k, le, VM_CW)) { pc += 4; NEXT; }
          CALLF(pc + 4, F->cont, k, code[pc + 2]);
        }
      }
      NEXT;
    }

    OPCASE(CONF): {  /* hoisted max_count of a conformant struct */
      uint32_t fl = code[pc + 2], path = code[pc + 4];
      if (enc) {
        int64_t n;
        int sc = F->scope, base = 0;
        if (path) {  /* the array is in a nested conformant struct: walk there */
          for (uint32_t i = 0; i < code[path]; i++) {
            int slot, t = h->get(ud, sc, -(int64_t)code[path + 1 + i], &slot);
            if (!base) base = slot;
            if (t != NDR_T_TABLE) { h->pop(ud, base); FAIL(NDR_ERR_TYPE, "%s: table expected, got %s", p->names[code[path + 1 + i]], ndr_tname[t]); }
            sc = slot;
          }
        }
        if (!(code[pc + 1] && vm_eval(vm, p, code[pc + 1], sc, &n))) {
          n = vm_vlen(vm, sc, -(int64_t)code[pc + 3], (int)((fl >> 8) & 0xFF), (fl & NDR_A_STRING) != 0);
          if (n < 0) { if (base) h->pop(ud, base); FAIL(NDR_ERR_TYPE, "array expected in %s", p->names[code[pc + 3]]); }
        } else if (fl & NDR_A_MAXIS) n += 1;
        if (base) h->pop(ud, base);
        if (n < 0 || n > 0xFFFFFFFFLL) FAIL(NDR_ERR_VALUE, "array size %lld out of range", (long long)n);
        vm->hoist = (uint32_t)n;
        out_counts(&vm->out, le, VM_CW, 1, &vm->hoist);
      } else {
        if (in_counts(vm, p, a, le, VM_CW, 1, &vm->hoist)) goto fail;
      }
      pc += 5; NEXT;
    }

    OPCASE(ARR): {
      const uint32_t *d = code + pc;
      uint32_t fl = d[1], ek = (fl >> 8) & 0xFF;
      uint32_t maxc = d[2], off = 0, act = d[2];  /* fixed arrays: their length */
      int64_t key = LOCKEY;
      if (!enc) {
        if (str_fast(vm, d, F->cont, key, le, VM_CW)) { pc += 7; NEXT; }
        if (arr_counts_dec(vm, p, a, d, F->scope, le, VM_CW, &maxc, &off, &act)) goto fail;
        if (ek != NDR_E_COMPLEX) {
          if (arr_elems_dec(vm, p, a, fl, ek, act, F->cont, key, le)) goto fail;
          pc += 7; NEXT;
        }
        F->tslot = F->cont = vm_newt(vm, F->cont, key, act, 0);
      } else {
        const char *s = NULL;
        size_t slen = 0, upos = SIZE_MAX;
        int slot = 0;
        int64_t m;
        if (arr_value_enc(vm, p, a, d, F->cont, key, le, VM_CW, &slot, &s, &slen, &upos, &m) ||
            arr_counts_enc(vm, p, a, d, F->scope, slot, m, le, VM_CW, &maxc, &off, &act)) goto fail;
        if (!(fl & (NDR_A_MD | NDR_A_MDIN)))  /* (multi-dimensional: all written by the outermost) */
          out_arr_counts(&vm->out, le, VM_CW, (fl & NDR_A_CONF) && !(fl & NDR_A_HOIST), (fl & NDR_A_VARY) != 0,
                         maxc, off, act);
        if (ek != NDR_E_COMPLEX) {
          if (arr_elems_enc(vm, p, a, fl, ek, act, slot, s, slen, upos, le)) goto fail;
          pc += 7; NEXT;
        }
        F->tslot = F->cont = slot;
      }
      F->i = 0; F->n = act;
      if ((fl & NDR_A_NEEDB) && vm_pq_push(vm, act, 0)) FAIL(NDR_ERR_NOMEM, "out of memory");
      pc += 7; NEXT;
    }
    OPCASE(ARRB): {
      int slot;
      if (vm->pcur >= vm->npq) FAIL(NDR_ERR_POINTER, "internal: pointer queue underflow");
      F->n = vm->pq[vm->pcur++].id;
      F->i = 0;
      h->get(ud, F->cont, LOCKEY, &slot);
      F->tslot = F->cont = slot;
      pc += 1; NEXT;
    }
    OPCASE(ANEXT):
      if (F->i >= F->n) { pc = code[pc + 1]; NEXT; }
      F->key = ++F->i;
      pc += 2; NEXT;

    OPCASE(UNION): {
      uint32_t fl = code[pc + 1], sx_ = code[pc + 2], at = code[pc + 3], swk = code[pc + 4];
      uint32_t narms = code[at], dflt = code[at + 1];
      int st = (int)((fl >> 8) & 0xFF), ssz = elem_size(st), sign = st == NDR_E_I16 || st == NDR_E_I32 || st == NDR_E_I8;
      uint32_t aalign = (fl >> 16) & 0xFF;
      int64_t key = LOCKEY, disc = 0, ex;
      uint32_t arm = UINT32_MAX;
      int slot, known = 0;
      if (enc) {
        int t = h->get(ud, F->cont, key, &slot);
        if (t != NDR_T_TABLE) { h->pop(ud, slot); FAIL(NDR_ERR_TYPE, "table expected, got %s", ndr_tname[t]); }
        if (fl & NDR_U_ENCAP) known = h->geti(ud, slot, -(int64_t)swk, &disc) == NDR_T_INT;
        else if (sx_) known = vm_eval(vm, p, sx_, F->scope, &disc);
        if (!known) {  /* infer the discriminant from the arm present */
          for (uint32_t i = 0; i < narms; i++) {
            const uint32_t *e = code + at + 2 + 5 * i;
            int64_t dd;
            if (i + 1 == dflt || !e[2]) continue;
            if (h->geti(ud, slot, -(int64_t)e[2], &dd) != NDR_T_NIL) {
              disc = (int64_t)((uint64_t)e[0] | ((uint64_t)e[1] << 32)); known = 1; break;
            }
          }
          if (!known) { h->pop(ud, slot); FAIL(NDR_ERR_SWITCH, "cannot tell the union arm (no discriminant, no known arm)"); }
        }
      } else {
        uint64_t u;
        const uint8_t *q;
        if ((fl & NDR_U_ENCAP) && dce_rd_align(&vm->in, aalign > (uint32_t)ssz ? aalign : (uint32_t)ssz, 0)) SHORT(ssz);
        if (dce_rd_align(&vm->in, (size_t)ssz, 0) || dce_rd_bytes(&vm->in, &q, (size_t)ssz)) SHORT(ssz);
        u = ssz == 1 ? q[0] : ssz == 2 ? dce_ld16(q, le) : ssz == 4 ? dce_ld32(q, le) : dce_ld64(q, le);
        disc = sx(u, ssz, sign);
        if (!(fl & NDR_U_ENCAP) && sx_ && vm_eval(vm, p, sx_, F->scope, &ex) && ex != disc)
          FAIL(NDR_ERR_SWITCH, "bad switch value %lld, expected %lld", (long long)disc, (long long)ex);
      }
      for (uint32_t i = 0; i < narms; i++) {
        const uint32_t *e = code + at + 2 + 5 * i;
        if (i + 1 != dflt && (int64_t)((uint64_t)e[0] | ((uint64_t)e[1] << 32)) == disc) { arm = i; break; }
      }
      if (arm == UINT32_MAX && dflt) arm = dflt - 1;
      if (arm == UINT32_MAX) {
        if (enc) h->pop(ud, slot);
        FAIL(NDR_ERR_SWITCH, "no union arm for discriminant %lld", (long long)disc);
      }
      if (enc) {
        dce_buf *b = &vm->out;
        if (!fits(disc, ssz)) { h->pop(ud, slot); FAIL(NDR_ERR_VALUE, "discriminant %lld out of range", (long long)disc); }
        if (fl & NDR_U_ENCAP) dce_buf_align(b, aalign > (uint32_t)ssz ? aalign : (uint32_t)ssz, 0);
        dce_buf_align(b, (size_t)ssz, 0);
        switch (ssz) {
          case 1: dce_buf_u8(b, (uint8_t)disc); break;
          case 2: dce_buf_u16(b, (uint16_t)disc, le); break;
          case 4: dce_buf_u32(b, (uint32_t)disc, le); break;
          default: dce_buf_u64(b, (uint64_t)disc, le); break;
        }
        if (fl & NDR_U_ENCAP) dce_buf_align(b, aalign ? aalign : 1, 0);
      } else {
        if ((fl & NDR_U_ENCAP) && dce_rd_align(&vm->in, aalign ? aalign : 1, 0)) SHORT(aalign);
        slot = vm_newt(vm, F->cont, key, 0, 2);
        if (fl & NDR_U_ENCAP) h->seti(ud, slot, -(int64_t)swk, disc);
      }
      F->tslot = F->cont = slot;
      if ((fl & NDR_U_NEEDB) && vm_pq_push(vm, arm, 0)) FAIL(NDR_ERR_NOMEM, "out of memory");
      {
        const uint32_t *e = code + at + 2 + 5 * arm;
        if (e[3]) { CALLF(pc + 5, slot, -(int64_t)e[2], e[3]); NEXT; }
      }
      pc += 5; NEXT;
    }
    OPCASE(UNIONB): {
      uint32_t at = code[pc + 1], arm;
      int slot;
      if (vm->pcur >= vm->npq) FAIL(NDR_ERR_POINTER, "internal: pointer queue underflow");
      arm = vm->pq[vm->pcur++].id;
      h->get(ud, F->cont, LOCKEY, &slot);
      F->tslot = F->cont = slot;
      {
        const uint32_t *e = code + at + 2 + 5 * arm;
        if (e[4]) { CALLF(pc + 2, slot, -(int64_t)e[2], e[4]); NEXT; }
      }
      pc += 2; NEXT;
    }

    OPCASE(RUSS): {
      uint32_t id = 0, aux = 0;
      if (enc) {
        const char *s; size_t len;
        int t = h->gets(ud, F->cont, LOCKEY, &s, &len);
        size_t units = 0;
        if (t == NDR_T_STR) {
          units = dce_utf8_units(s, len);
          if (units == (size_t)-1) FAIL(NDR_ERR_VALUE, "invalid UTF-8 text");
          if (units > 0x7FFF) FAIL(NDR_ERR_VALUE, "string too long for a UNICODE_STRING");
          id = NDR_UNIQUE_ID(vm->nptr); vm->nptr++;
        } else if (t != NDR_T_NIL) FAIL(NDR_ERR_TYPE, "string expected, got %s", ndr_tname[t]);
        aux = (uint32_t)units;
        dce_buf_align(&vm->out, 4, 0);
        dce_buf_u16(&vm->out, (uint16_t)(2 * units), le);
        dce_buf_u16(&vm->out, (uint16_t)(2 * units), le);
        dce_buf_u32(&vm->out, id, le);
      } else {
        uint16_t l, m;
        if (dce_rd_align(&vm->in, 4, 0) || dce_rd_u16(&vm->in, &l, le) || dce_rd_u16(&vm->in, &m, le) ||
            dce_rd_u32(&vm->in, &id, le)) SHORT(8);
        if (l > m) FAIL(NDR_ERR_ARRAY, "UNICODE_STRING Length %u > MaximumLength %u", l, m);
        aux = (uint32_t)l | ((uint32_t)m << 16);
      }
      if (vm_pq_push(vm, id, aux)) FAIL(NDR_ERR_NOMEM, "out of memory");
      pc += 1; NEXT;
    }
    OPCASE(RUSB): {
      ndr_pent e;
      if (vm->pcur >= vm->npq) FAIL(NDR_ERR_POINTER, "internal: pointer queue underflow");
      e = vm->pq[vm->pcur++];
      if (e.id == 0) { pc += 1; NEXT; }
      if (enc) {
        const char *s; size_t len;
        dce_buf *b = &vm->out;
        if (h->gets(ud, F->cont, LOCKEY, &s, &len) != NDR_T_STR) FAIL(NDR_ERR_VALUE, "string changed while encoding");
        dce_buf_align(b, 4, 0);
        dce_buf_u32(b, e.aux, le); dce_buf_u32(b, 0, le); dce_buf_u32(b, e.aux, le);
        /* 2*len bytes hold any conversion; the value is read again here, so
        ** check it still has the units counted by RUSS */
        if (dce_buf_reserve(b, 2 * len) == 0) {
          if (dce_utf8_to_utf16(s, len, le, b->p + b->len) != (size_t)e.aux)
            FAIL(NDR_ERR_VALUE, "string changed while encoding");
          b->len += 2 * (size_t)e.aux;
        }
      } else {
        uint32_t mc, off, act, l = e.aux & 0xFFFF, m = e.aux >> 16;
        const uint8_t *q;
        char *o;
        if (dce_rd_align(&vm->in, 4, 0) || dce_rd_u32(&vm->in, &mc, le) || dce_rd_u32(&vm->in, &off, le) ||
            dce_rd_u32(&vm->in, &act, le)) SHORT(12);
        if (mc != m / 2) FAIL(NDR_ERR_ARRAY, "bad array size: got %u, expected %u", mc, m / 2);
        if (off != 0 || act != l / 2) FAIL(NDR_ERR_ARRAY, "bad array length: got %u (offset %u), expected %u", act, off, l / 2);
        if (dce_rd_bytes(&vm->in, &q, 2 * (size_t)act)) SHORT(2 * (size_t)act);
        if (!(o = vm_scratch(vm, 3 * (size_t)act + 1))) FAIL(NDR_ERR_NOMEM, "out of memory");
        h->sets(ud, F->cont, LOCKEY, o, dce_utf16_to_utf8(q, act, le, o));
      }
      pc += 1; NEXT;
    }

    OPDEFAULT:
      FAIL(NDR_ERR_VALUE, "internal: bad opcode %u at %u", op, pc);
    }
  }
done:
  if (enc && vm->out.err) {
    vm->err = NDR_ERR_NOMEM;
    snprintf(vm->msg, sizeof vm->msg, "%s: out of memory", p->title);
  }
  return vm->err;
fail:
  /* forget the frames; slots a host still holds for them are the host's to
  ** drop (the Lua binding restores its stack top after every run) */
  vm->nfr = 0;
  return vm->err;
}
#undef NEXT
#undef OPCASE
#undef OPDEFAULT
#undef LOCKEY
#undef CALLF
#if NDR_THREADED
#pragma GCC diagnostic pop
#endif

#endif /* NDR_VM_LOOP */
