/*
** check.c - program validation, and the opcode table (names, lengths) the
** verifier and the disassembler share.
**
** ndr_prog_check walks the code once, marks instruction starts, and checks
** every operand (targets are instruction starts inside the code, fields name
** entries of the name table, data blocks lie inside the data area and are
** well formed). After it passes, the interpreter never bounds-checks operands.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ndr/ndr.h"

/* The opcode table, from ndr/ndr_ops.h. */
typedef struct ndr_opinfo {
  const char *name;
  uint8_t len;    /* words without the optional integer operands */
  uint8_t isint;  /* NDR_F_RANGE / NDR_F_AUTO allowed */
} ndr_opinfo;

#define NDR_OPINFO_(name, len, isint) [NDR_OP_##name] = { #name, len, isint },
static const ndr_opinfo opinfo[NDR_OP__COUNT] = { NDR_OPS(NDR_OPINFO_) };
#undef NDR_OPINFO_

/* Opcode numbers are part of every compiled program (and of the fuzzer's
** corpus): a list edited anywhere but at its end must fail to build. */
_Static_assert(NDR_OP_RET == 0 && NDR_OP_JMP == 1 && NDR_OP_CALL == 2 && NDR_OP_ALIGN == 3 &&
               NDR_OP_OPEN == 4 && NDR_OP_OPENB == 5 && NDR_OP_CLOSE == 6 && NDR_OP_PMARK == 7 &&
               NDR_OP_PCUR == 8 && NDR_OP_PDROP == 9 && NDR_OP_U8 == 10 && NDR_OP_I8 == 11 &&
               NDR_OP_U16 == 12 && NDR_OP_I16 == 13 && NDR_OP_U32 == 14 && NDR_OP_I32 == 15 &&
               NDR_OP_U64 == 16 && NDR_OP_U64A4 == 17 && NDR_OP_F32 == 18 && NDR_OP_F64 == 19 &&
               NDR_OP_BOOL == 20 && NDR_OP_ENUM16 == 21 && NDR_OP_ENUM32 == 22 &&
               NDR_OP_GUID == 23 && NDR_OP_CTXH == 24 && NDR_OP_SID == 25 && NDR_OP_PTRS == 26 &&
               NDR_OP_PTRB == 27 && NDR_OP_ARR == 28 && NDR_OP_ARRB == 29 && NDR_OP_ANEXT == 30 &&
               NDR_OP_CONF == 31 && NDR_OP_UNION == 32 && NDR_OP_UNIONB == 33 &&
               NDR_OP_RUSS == 34 && NDR_OP_RUSB == 35,
               "NDR opcode numbers changed (ndr_ops.h: append, never insert)");

const char *ndr_op_name(uint32_t op) { return op < NDR_OP__COUNT ? opinfo[op].name : "?"; }
uint32_t ndr_op_base_len(uint32_t op) { return op < NDR_OP__COUNT ? opinfo[op].len : 0; }
int ndr_op_is_int(uint32_t op) { return op < NDR_OP__COUNT && opinfo[op].isint; }

uint32_t ndr_op_len(const uint32_t *code, uint32_t pc) {
  uint32_t w = code[pc], op = w & NDR_OPMASK, n = ndr_op_base_len(op);
  if (!n) return 0;
  if (ndr_op_is_int(op)) {
    if (w & NDR_F_RANGE) n += 4;
    if (w & NDR_F_AUTO) {
      n += 1;
      if (((code[pc + n - 1] >> 24) & 0x7F) == NDR_AUTO_UNION) n += 1;
    }
  } else if (w & (NDR_F_RANGE | NDR_F_AUTO)) return 0;
  return n;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)

static int check_expr(const ndr_prog *p, uint32_t x, char *err, size_t errlen) {
  uint32_t n, pc, sp = 0;
  if (x < p->ncodeops || x >= p->ncode) { snprintf(err, errlen, "expression %u outside the data", x); return -1; }
  n = p->code[x];
  pc = x + 1;
  if (n == 0 || n > 64) { snprintf(err, errlen, "bad expression length at %u", x); return -1; }
  for (uint32_t t = 0; t < n; t++) {
    uint32_t w;
    if (pc >= p->ncode) { snprintf(err, errlen, "expression %u runs off the program", x); return -1; }
    w = p->code[pc++];
    switch (w & 0xFF) {
      case NDR_X_FIELD:
        if ((w >> 8) == 0 || (w >> 8) > p->nnames) { snprintf(err, errlen, "expression %u: bad field", x); return -1; }
        sp++; break;
      case NDR_X_CONST:
        if (pc + 2 > p->ncode) { snprintf(err, errlen, "expression %u runs off the program", x); return -1; }
        pc += 2; sp++; break;
      case NDR_X_ADD: case NDR_X_SUB: case NDR_X_MUL: case NDR_X_DIV: case NDR_X_MOD:
      case NDR_X_AND: case NDR_X_OR: case NDR_X_XOR: case NDR_X_SHL: case NDR_X_SHR:
      case NDR_X_EQ: case NDR_X_NE: case NDR_X_LT: case NDR_X_GT: case NDR_X_LE: case NDR_X_GE:
      case NDR_X_LAND: case NDR_X_LOR:
        if (sp < 2) { snprintf(err, errlen, "expression %u: stack underflow", x); return -1; }
        sp--; break;
      case NDR_X_NOT: case NDR_X_BNOT:
        if (sp < 1) { snprintf(err, errlen, "expression %u: stack underflow", x); return -1; }
        break;
      case NDR_X_COND:
        if (sp < 3) { snprintf(err, errlen, "expression %u: stack underflow", x); return -1; }
        sp -= 2; break;
      default: snprintf(err, errlen, "expression %u: bad token", x); return -1;
    }
    if (sp > NDR_X_MAXDEPTH) { snprintf(err, errlen, "expression %u too deep", x); return -1; }
  }
  if (sp != 1) { snprintf(err, errlen, "expression %u leaves %u values", x, sp); return -1; }
  return 0;
}

int ndr_prog_check(const ndr_prog *p, char *err, size_t errlen) {
  uint8_t *start = NULL;
  uint32_t pc, last = 0;
  if (!p->code || p->ncodeops == 0 || p->ncodeops > p->ncode) { snprintf(err, errlen, "empty program"); return -1; }
  start = calloc(p->ncodeops, 1);
  if (!start) { snprintf(err, errlen, "out of memory"); return -1; }
  for (pc = 0; pc < p->ncodeops;) {
    uint32_t n = ndr_op_len(p->code, pc);
    if (!n) BAD("bad opcode %u at %u", p->code[pc] & NDR_OPMASK, pc);
    if (pc + n > p->ncodeops) BAD("instruction at %u runs off the code", pc);
    start[pc] = 1;
    last = pc;
    pc += n;
  }
  {
    uint32_t lop = p->code[last] & NDR_OPMASK;
    if (lop != NDR_OP_RET && lop != NDR_OP_JMP) BAD("code does not end with RET or JMP");
  }
#define TARGET(t) do { uint32_t t_ = (t); if (t_ >= p->ncodeops || !start[t_]) BAD("bad target %u at %u", t_, pc); } while (0)
#define FIELD(k) do { if ((k) > p->nnames) BAD("bad field %u at %u", (unsigned)(k), pc); } while (0)
#define FIELD1(k) do { if ((k) == 0 || (k) > p->nnames) BAD("bad field %u at %u", (unsigned)(k), pc); } while (0)
#define EXPR(x) do { if ((x) && check_expr(p, (x), err, errlen)) goto bad; } while (0)
  for (pc = 0; pc < p->ncodeops; pc += ndr_op_len(p->code, pc)) {
    const uint32_t *c = p->code + pc;
    uint32_t op = c[0] & NDR_OPMASK, a = c[0] >> 8;
    switch (op) {
      case NDR_OP_JMP: TARGET(c[1]); break;
      case NDR_OP_CALL: FIELD(a); TARGET(c[1]); break;
      case NDR_OP_ALIGN: if (a != 1 && a != 2 && a != 4 && a != 8) BAD("bad alignment %u at %u", a, pc); break;
      case NDR_OP_ANEXT: TARGET(c[1]); break;
      case NDR_OP_PTRS: FIELD(a); if (c[1] < NDR_PTR_REF || c[1] > NDR_PTR_FULL) BAD("bad pointer kind at %u", pc); break;
      case NDR_OP_PTRB: FIELD(a); if (c[1] < NDR_PTR_REF || c[1] > NDR_PTR_FULL) BAD("bad pointer kind at %u", pc); TARGET(c[2]); EXPR(c[3]); break;
      case NDR_OP_ENUM16: case NDR_OP_ENUM32: FIELD(a); FIELD(c[1]); /* fallthrough */
      case NDR_OP_U8: case NDR_OP_I8: case NDR_OP_U16: case NDR_OP_I16: case NDR_OP_U32: case NDR_OP_I32: case NDR_OP_U64: {
        FIELD(a);
        if (c[0] & NDR_F_AUTO) {
          uint32_t aw = ndr_op_base_len(op) + ((c[0] & NDR_F_RANGE) ? 4 : 0);
          uint32_t ek = (c[aw] >> 24) & 0x7F;
          FIELD1(c[aw] & 0xFFFFFF);
          if (ek == NDR_AUTO_UNION) {
            uint32_t at = c[aw + 1];
            if (at < p->ncodeops || at + 2 > p->ncode || p->code[at] > (p->ncode - at - 2) / 5)
              BAD("bad arm table at %u", pc);
            for (uint32_t i = 0; i < p->code[at]; i++) FIELD(p->code[at + 2 + 5 * i + 2]);
          } else if (ek > NDR_E_I32) BAD("bad element kind at %u", pc);
        }
        break;
      }
      case NDR_OP_ARR: {
        uint32_t ek = (c[1] >> 8) & 0xFF, al = c[6] & 0xFF;
        FIELD(a);
        if (ek > NDR_E_I32) BAD("bad element kind at %u", pc);
        if (al != 0 && al != 1 && al != 2 && al != 4 && al != 8) BAD("bad element alignment at %u", pc);
        if (c[1] & NDR_A_MD) {
          uint32_t blk = c[3], nd = (c[1] >> 16) & 0xFF;
          if (nd < 2 || nd > NDR_MAXDIMS || blk < p->ncodeops || blk >= p->ncode || p->code[blk] != nd ||
              2 * nd > p->ncode - blk - 1 || (c[1] & NDR_A_MDIN)) BAD("bad multi-dimensional array at %u", pc);
          for (uint32_t i = 0; i < 2 * nd; i++) EXPR(p->code[blk + 1 + i]);
        } else if (c[1] & NDR_A_MDIN) {
          uint32_t di = (c[1] >> 16) & 0xFF;
          if (di == 0 || di >= NDR_MAXDIMS) BAD("bad array dimension at %u", pc);
        } else EXPR(c[3]);
        EXPR(c[4]); EXPR(c[5]);
        break;
      }
      case NDR_OP_CONF:
        EXPR(c[1]); FIELD1(c[3]);
        if (((c[2] >> 8) & 0xFF) > NDR_E_I32) BAD("bad element kind at %u", pc);
        if (c[4]) {
          uint32_t pa = c[4];
          if (pa < p->ncodeops || pa >= p->ncode || p->code[pa] == 0 || p->code[pa] > 16 ||
              p->code[pa] > p->ncode - pa - 1) BAD("bad conformance path at %u", pc);
          for (uint32_t i = 0; i < p->code[pa]; i++) FIELD1(p->code[pa + 1 + i]);
        }
        break;
      case NDR_OP_UNION: case NDR_OP_UNIONB: {
        uint32_t at = op == NDR_OP_UNION ? c[3] : c[1], narms, dflt;
        FIELD(a);
        if (op == NDR_OP_UNION) {
          uint32_t st = (c[1] >> 8) & 0xFF, aa = (c[1] >> 16) & 0xFF;
          if (st != NDR_E_BYTE && st != NDR_E_U16 && st != NDR_E_U32 && st != NDR_E_U64 && st != NDR_E_I8 &&
              st != NDR_E_I16 && st != NDR_E_I32) BAD("bad switch type at %u", pc);
          if (aa > 8 || (aa & (aa - 1))) BAD("bad union alignment at %u", pc);
          EXPR(c[2]);
          if (c[1] & NDR_U_ENCAP) FIELD1(c[4]); else FIELD(c[4]);
        }
        if (at < p->ncodeops || at + 2 > p->ncode) BAD("bad arm table at %u", pc);
        narms = p->code[at]; dflt = p->code[at + 1];
        if (narms > (p->ncode - at - 2) / 5 || dflt > narms) BAD("bad arm table at %u", pc);
        for (uint32_t i = 0; i < narms; i++) {
          const uint32_t *e = p->code + at + 2 + 5 * i;
          FIELD(e[2]);
          if (e[3]) TARGET(e[3]);
          if (e[4]) TARGET(e[4]);
          if ((e[3] || e[4]) && !e[2]) BAD("arm without a name at %u", pc);
        }
        break;
      }
      default: FIELD(a); break;
    }
  }
  if (p->nentry == 0 || p->nentry > 2) BAD("bad entry count");
  for (uint32_t i = 0; i < p->nentry; i++) TARGET(p->entry[i]);
  free(start);
  return 0;
bad:
  free(start);
  return -1;
}
