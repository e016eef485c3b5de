/*
** disasm.c - a compiled NDR program as text, one instruction a line (what
** ndr.disasm prints), as LPeg keeps its printer apart from its VM.
*/
#include <stdarg.h>
#include <stdio.h>
#include "ndr/ndr.h"

static void put(dce_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(dce_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) dce_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *fname(const ndr_prog *p, uint32_t k) {
  return k && k <= p->nnames ? p->names[k] : "";
}

static void dis_expr(const ndr_prog *p, uint32_t x, dce_buf *b) {
  uint32_t n = p->code[x], pc = x + 1;
  for (uint32_t t = 0; t < n; t++) {
    uint32_t w = p->code[pc++];
    switch (w & 0xFF) {
      case NDR_X_FIELD: put(b, " %s", fname(p, w >> 8)); break;
      case NDR_X_CONST: put(b, " %lld", (long long)((uint64_t)p->code[pc] | ((uint64_t)p->code[pc + 1] << 32))); pc += 2; break;
      default: {
        static const char *const sym[] = { [NDR_X_ADD] = "+", [NDR_X_SUB] = "-", [NDR_X_MUL] = "*",
          [NDR_X_DIV] = "/", [NDR_X_MOD] = "%", [NDR_X_AND] = "&", [NDR_X_OR] = "|", [NDR_X_XOR] = "^",
          [NDR_X_SHL] = "<<", [NDR_X_SHR] = ">>", [NDR_X_EQ] = "==", [NDR_X_NE] = "!=", [NDR_X_LT] = "<",
          [NDR_X_GT] = ">", [NDR_X_LE] = "<=", [NDR_X_GE] = ">=", [NDR_X_LAND] = "&&", [NDR_X_LOR] = "||",
          [NDR_X_NOT] = "!", [NDR_X_BNOT] = "~", [NDR_X_COND] = "?:" };
        uint32_t op = w & 0xFF;
        put(b, " %s", op < sizeof sym / sizeof sym[0] && sym[op] ? sym[op] : "?");
      }
    }
  }
}

int ndr_disasm(const ndr_prog *p, dce_buf *b) {
  static const char *const pk[] = { "?", "ref", "unique", "full" };
  static const char *const ekn[] = { "complex", "byte", "wchar", "u16", "u32", "u64", "i8", "i16", "i32" };
  put(b, "; %s: %u words, %u of code, entries", p->title ? p->title : "?", p->ncode, p->ncodeops);
  for (uint32_t i = 0; i < p->nentry; i++) put(b, " %u", p->entry[i]);
  put(b, "\n");
  for (uint32_t pc = 0; pc < p->ncodeops; pc += ndr_op_len(p->code, pc)) {
    const uint32_t *c = p->code + pc;
    uint32_t op = c[0] & NDR_OPMASK, a = c[0] >> 8;
    put(b, "%5u  %-6s", pc, ndr_op_name(op));
    if (a && op != NDR_OP_ALIGN) put(b, " .%s", fname(p, a));
    switch (op) {
      case NDR_OP_JMP: case NDR_OP_CALL: put(b, " -> %u", c[1]); break;
      case NDR_OP_ANEXT: put(b, " end %u", c[1]); break;
      case NDR_OP_ALIGN: put(b, " %u", a); break;
      case NDR_OP_OPEN: put(b, " (%u fields)", c[1]); break;
      case NDR_OP_PTRS: put(b, " %s", pk[c[1] & 3]); break;
      case NDR_OP_PTRB: put(b, " %s -> %u", pk[c[1] & 3], c[2]); break;
      case NDR_OP_ENUM16: case NDR_OP_ENUM32: if (c[1]) put(b, " names %s", fname(p, c[1])); break;
      case NDR_OP_ARR: {
        uint32_t fl = c[1];
        put(b, " %s%s%s%s%s elem=%s align=%u min=%u", (fl & NDR_A_CONF) ? "conformant " : "",
            (fl & NDR_A_VARY) ? "varying " : "", (fl & NDR_A_HOIST) ? "hoisted " : "",
            (fl & NDR_A_STRING) ? "string " : "", (fl & NDR_A_NEEDB) ? "deferred " : "",
            ekn[(fl >> 8) & 0xFF], c[6] & 0xFF, c[6] >> 8);
        if (!(fl & NDR_A_CONF)) put(b, " length=%u", c[2]);
        if (fl & NDR_A_MD) put(b, " dims=%u", (fl >> 16) & 0xFF);
        else if (fl & NDR_A_MDIN) put(b, " dimension=%u", ((fl >> 16) & 0xFF) + 1);
        else if (c[3]) { put(b, " size_is("); dis_expr(p, c[3], b); put(b, " )"); }
        if (c[4]) { put(b, " length_is("); dis_expr(p, c[4], b); put(b, " )"); }
        if (c[5]) { put(b, " first_is("); dis_expr(p, c[5], b); put(b, " )"); }
        break;
      }
      case NDR_OP_CONF:
        put(b, " tail .%s", fname(p, c[3]));
        if (c[1]) { put(b, " size_is("); dis_expr(p, c[1], b); put(b, " )"); }
        break;
      case NDR_OP_UNION: case NDR_OP_UNIONB: {
        uint32_t at = op == NDR_OP_UNION ? c[3] : c[1];
        if (op == NDR_OP_UNION) {
          put(b, " %s switch=%s", (c[1] & NDR_U_ENCAP) ? "encapsulated" : "", ekn[(c[1] >> 8) & 0xFF]);
          if (c[2]) { put(b, " switch_is("); dis_expr(p, c[2], b); put(b, " )"); }
        }
        for (uint32_t i = 0; i < p->code[at]; i++) {
          const uint32_t *e = p->code + at + 2 + 5 * i;
          if (i + 1 == p->code[at + 1]) put(b, " [default]");
          else put(b, " [%lld]", (long long)((uint64_t)e[0] | ((uint64_t)e[1] << 32)));
          put(b, "%s->%u/%u", fname(p, e[2]), e[3], e[4]);
        }
        break;
      }
      default: break;
    }
    if (ndr_op_is_int(op)) {
      uint32_t np = pc + ndr_op_base_len(op);
      if (c[0] & NDR_F_RANGE) {
        put(b, " range(%lld, %lld)", (long long)((uint64_t)p->code[np] | ((uint64_t)p->code[np + 1] << 32)),
            (long long)((uint64_t)p->code[np + 2] | ((uint64_t)p->code[np + 3] << 32)));
        np += 4;
      }
      if (c[0] & NDR_F_AUTO) put(b, " auto(#%s)", fname(p, p->code[np] & 0xFFFFFF));
    }
    put(b, "\n");
  }
  return b->err ? -1 : 0;
}
