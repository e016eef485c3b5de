/*
** ndr.h - the NDR20 interpreter: a compiled description ("program") run
** directly against the values of a host (Lua, or a C test) through a small
** vtable. No lua.h here.
**
** Program: an array of 32-bit words. An instruction is one word
**   op (bits 0-5) | flags (bits 6-7) | a (bits 8-31)
** followed by a fixed number of operand words (ndr_op_len). `a` is usually a
** field: the index k (1-based) of a name in the program's name table; 0 means
** "the current location" (an array element, a pointer's referent, the root).
** Every type compiles to routines: S (scalars: the part of the value that sits
** inline), B (buffers: deferred pointer referents, NDR order) and F (S then B,
** with its own pointer queue, used for referents and top-level values). Data
** blocks (expressions, union arm tables) follow the code. Programs come from
** the Lua compiler (scripts/dcerpc/ndr.lua); ndr_prog_check validates one
** completely before it is ever run, so the interpreter trusts operands.
**
** Locations: the host keeps values in "slots" (Lua: stack indices). A value is
** addressed as (cont, key): key < 0 is the field -key of the table in slot
** cont, key > 0 the element [key] of a sequence, key 0 the slot's own value.
*/
#ifndef DCE_NDR_H
#define DCE_NDR_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "base/utf16.h"
#include "ndr/ndr_ops.h"

/* ------------------------------------------------------------ opcodes */
/* The opcodes and their operands are listed once, in ndr/ndr_ops.h. */
#define NDR_OP_ENUM_(name, len, isint) NDR_OP_##name,
enum ndr_opcode {
  NDR_OPS(NDR_OP_ENUM_)
  NDR_OP__COUNT
};
#undef NDR_OP_ENUM_

#define NDR_OPMASK   0x3f
_Static_assert(NDR_OP__COUNT <= NDR_OPMASK + 1, "opcodes fit in NDR_OPMASK");
#define NDR_F_RANGE  0x80  /* integer op: w: lo_lo lo_hi hi_lo hi_hi follow */
#define NDR_F_AUTO   0x40  /* integer op: w: sibling field (bits 0-23) whose length fills a
                              nil value; bits 24-30 its element kind, bit 31 [string].
                              Kind NDR_AUTO_UNION: the sibling is a union, a second word
                              gives its arm table; the arm present gives the value */
#define NDR_AUTO_UNION 0x7F

/* pointer kinds (PTRS/PTRB w1) */
#define NDR_PTR_REF    1
#define NDR_PTR_UNIQUE 2
#define NDR_PTR_FULL   3

/* ARR descriptor words */
#define NDR_A_CONF    0x01  /* conformant: max_count */
#define NDR_A_VARY    0x02  /* varying: offset, actual_count */
#define NDR_A_HOIST   0x04  /* max_count was read by CONF (conformant struct) */
#define NDR_A_STRING  0x08  /* [string]: counts include a terminator */
#define NDR_A_NEEDB   0x10  /* elements have a buffers pass: queue the count */
#define NDR_A_MAXIS   0x20  /* size expression is max_is (size = e + 1) */
#define NDR_A_MD      0x40  /* multi-dimensional conformant array, outermost: all max
                               counts (then offset/actual pairs) first; ndims in bits
                               16..23; w3: data block [ndims, size exprs, length exprs] */
#define NDR_A_MDIN    0x80  /* an inner dimension of one: counts come from the outer
                               (dimension index in bits 16..23) */
#define NDR_MAXDIMS   8
/* element kinds (bits 8..15 of the flags word) */
#define NDR_E_COMPLEX 0     /* element routine follows (ANEXT loop) */
#define NDR_E_BYTE    1     /* uint8/char: Lua string */
#define NDR_E_WCHAR   2     /* wchar_t: UTF-8 text */
#define NDR_E_U16     3
#define NDR_E_U32     4
#define NDR_E_U64     5
#define NDR_E_I8      6
#define NDR_E_I16     7
#define NDR_E_I32     8
/* w2 fixed length, w3 size expr, w4 length expr, w5 first expr,
** w6 element align (bits 0-7) | element minimum wire size (bits 8-31) */

/* UNION w1 flags */
#define NDR_U_ENCAP   0x01  /* encapsulated: discriminant is a field of the value */
#define NDR_U_NEEDB   0x02  /* some arm has a buffers pass */
/* bits 8..15: switch type (NDR_E_U16/U32/...); bits 16..23: alignment of
** the arms (encapsulated) */
/* Arm table: w0 narms, w1 default arm + 1 (0: none), then per arm
** case_lo, case_hi, name field, S routine (0: empty), B routine (0: none). */

/* CONF w2 flags: NDR_A_MAXIS, NDR_A_STRING, element kind in bits 8..15 */

/* Expressions (RPN): w0 ntokens, then tokens */
#define NDR_X_FIELD 1   /* a: field */
#define NDR_X_CONST 2   /* next two words: lo, hi */
#define NDR_X_ADD   3
#define NDR_X_SUB   4
#define NDR_X_MUL   5
#define NDR_X_DIV   6
/* the rest of C's operators (MIDL expressions): binary ones pop two values
** and push one; NOT and BNOT pop one; COND pops three (c a b -> c ? a : b).
** Arithmetic wraps as uint64_t; division or modulo by zero, and INT64_MIN
** by -1, leave the value unknown; a shift by a count outside 0..63 gives 0;
** >> of a negative value shifts in sign bits. */
#define NDR_X_MOD   7
#define NDR_X_AND   8
#define NDR_X_OR    9
#define NDR_X_XOR   10
#define NDR_X_SHL   11
#define NDR_X_SHR   12
#define NDR_X_EQ    13
#define NDR_X_NE    14
#define NDR_X_LT    15
#define NDR_X_GT    16
#define NDR_X_LE    17
#define NDR_X_GE    18
#define NDR_X_LAND  19
#define NDR_X_LOR   20
#define NDR_X_NOT   21
#define NDR_X_BNOT  22
#define NDR_X_COND  23
#define NDR_X_MAXDEPTH 16

/* ------------------------------------------------------------ program */
typedef struct ndr_prog {
  const uint32_t *code;
  uint32_t ncode;
  uint32_t ncodeops;         /* code[0..ncodeops) instructions, the rest data */
  const char *const *names;  /* names[k], k = 1..nnames (names[0] unused) */
  uint32_t nnames;
  uint32_t entry[2];         /* type: [0] F routine; function: [0] in, [1] out */
  uint32_t nentry;
  const char *title;         /* type or function name, for messages */
} ndr_prog;

/* Validate a program. Returns 0, or -1 with a message in err. */
int ndr_prog_check(const ndr_prog *p, char *err, size_t errlen);
/* Words taken by the instruction at pc (0 if the opcode is unknown). */
uint32_t ndr_op_len(const uint32_t *code, uint32_t pc);
/* The opcode table: name ("?" if unknown), words without the optional
** operands, and whether NDR_F_RANGE / NDR_F_AUTO may follow it. */
const char *ndr_op_name(uint32_t op);
uint32_t ndr_op_base_len(uint32_t op);
int ndr_op_is_int(uint32_t op);
/* Disassemble into b (text). */
int ndr_disasm(const ndr_prog *p, dce_buf *b);

/* ------------------------------------------------------------ host */
enum { NDR_T_NIL = 0, NDR_T_BOOL, NDR_T_INT, NDR_T_NUM, NDR_T_STR, NDR_T_TABLE, NDR_T_OTHER };

typedef struct ndr_host {
  void *ud;
  /* push the value at (cont,key); *slot receives its slot; returns NDR_T_* */
  int (*get)(void *ud, int cont, int64_t key, int *slot);
  /* drop slot and everything above it */
  void (*pop)(void *ud, int slot);
  /* encode: read the value at (cont,key) without keeping it */
  int (*geti)(void *ud, int cont, int64_t key, int64_t *v);     /* INT when it is one */
  int (*getn)(void *ud, int cont, int64_t key, double *v);      /* NUM or INT */
  int (*getb)(void *ud, int cont, int64_t key, int *v);         /* BOOL */
  /* STR: *s stays valid until the next host call (the VM copies or converts
  ** it at once; a string reachable only through a metamethod could be freed) */
  int (*gets)(void *ud, int cont, int64_t key, const char **s, size_t *len);
  size_t (*len)(void *ud, int slot);                            /* raw length */
  /* enum names: names table field `names`, value at (cont,key) a string */
  int (*lookup)(void *ud, int cont, int64_t key, uint32_t names, int64_t *v);
  /* full pointers (encode): id of the table at (cont,key); returns 1 when it
  ** is new (the host records `next`), 0 when seen (id set) */
  int (*ptr_id)(void *ud, int cont, int64_t key, uint32_t next, uint32_t *id);
  /* decode */
  void (*seti)(void *ud, int cont, int64_t key, int64_t v);
  void (*setn)(void *ud, int cont, int64_t key, double v);
  void (*setb)(void *ud, int cont, int64_t key, int v);
  void (*sets)(void *ud, int cont, int64_t key, const char *s, size_t len);
  /* create a table, store it at (cont,key), push it; returns its slot */
  int (*newt)(void *ud, int cont, int64_t key, uint32_t narr, uint32_t nrec);
  /* full pointers (decode): remember / recall the value at (cont,key) for id */
  void (*ref_put)(void *ud, uint32_t id, int cont, int64_t key);
  int (*ref_get)(void *ud, uint32_t id, int cont, int64_t key);  /* 1 if known */
} ndr_host;

/* ------------------------------------------------------------ errors */
enum ndr_err {
  NDR_OK = 0,
  NDR_ERR_BUFSIZE,   /* not enough bytes */
  NDR_ERR_ARRAY,     /* bad array counts */
  NDR_ERR_STRING,    /* bad string */
  NDR_ERR_RANGE,     /* value out of range */
  NDR_ERR_POINTER,   /* bad pointer */
  NDR_ERR_SWITCH,    /* bad union discriminant */
  NDR_ERR_DEPTH,     /* nesting limit */
  NDR_ERR_LEFTOVER,  /* bytes left over */
  NDR_ERR_DREP,      /* unsupported data representation */
  NDR_ERR_NOMEM,
  NDR_ERR_TYPE,      /* encode: wrong host value (caller's mistake) */
  NDR_ERR_VALUE      /* encode: a value that cannot be represented */
};
const char *ndr_err_name(int err);

/* ------------------------------------------------------------ interpreter */
#ifndef NDR_DEFAULT_DEPTH
#define NDR_DEFAULT_DEPTH 128
#endif

typedef struct ndr_frame {
  uint32_t ret;        /* return pc */
  int cont;            /* container slot */
  int ocont;           /* container slot at entry */
  uint32_t fullid;     /* decode: full-pointer id this routine's value answers */
  int64_t key;         /* current location key inside cont */
  int64_t ekey;        /* location key at entry (error paths) */
  int scope;           /* slot of the table expressions are evaluated in */
  int tslot;           /* table entered by OPEN/ARR/UNION (0: none) */
  uint32_t i, n;       /* array loop */
  uint32_t mark, savedcur;
} ndr_frame;

typedef struct ndr_pent { uint32_t id, aux; } ndr_pent;

typedef struct ndr_vm {
  const ndr_host *h;
  int le;                  /* byte order (1 little-endian) */
  int encode;
  uint32_t max_depth;
  dce_buf out;             /* encode output */
  dce_rd in;               /* decode input */
  ndr_frame *fr; uint32_t nfr, capfr;
  ndr_pent *pq; uint32_t npq, cappq, pcur;
  char *scratch; size_t capscratch;
  uint8_t *fpw; size_t capfpw; /* encode: full-pointer referent written, by id */
  uint32_t hoist;          /* max_count read by CONF */
  uint32_t mdmax[NDR_MAXDIMS], mdoff[NDR_MAXDIMS], mdact[NDR_MAXDIMS]; /* inner dimensions */
  uint32_t nptr;           /* encode: pointers numbered so far (referent ids) */
  uint32_t max_full;       /* decode: the largest full-pointer referent id met */
  uint32_t pending_full;   /* decode: full-pointer id to register at OPEN */
  uint32_t depth;
  uint32_t frlimit;        /* frames allowed (from max_depth), set by ndr_run */
  int err;
  char msg[512];
} ndr_vm;

void ndr_vm_init(ndr_vm *vm);
void ndr_vm_free(ndr_vm *vm);     /* frees memory; vm can be reused after init */
/* Prepare for a run (keeps memory). drep0: byte 0 of the drep (0x10 LE),
** drep1: byte 1 (0 IEEE). Returns 0 or -1 (error set, e.g. EBCDIC). */
int ndr_vm_reset(ndr_vm *vm, const ndr_host *h, int encode, uint8_t drep0, uint8_t drep1);
/* Run entry `entry` of p. root: slot of the root location (key 0 for types,
** the args table for functions: set `fields` to 1). Decode reads from
** vm->in (set with dce_rd_init). Returns 0 or the error (vm->msg). */
int ndr_run(ndr_vm *vm, const ndr_prog *p, uint32_t entry, int root, int64_t rootkey);

/* SID text <-> wire body (without the conformance): returns bytes or -1 */
int ndr_sid_parse(const char *s, size_t len, uint8_t out[8 + 4 * 15], int le);
size_t ndr_sid_format(const uint8_t *body, size_t n, int le, char *out, size_t outlen);

#endif
