/*
** ndr_ops.h - the one list of NDR opcodes.
**
**   X(NAME, LEN, INT)
**
** NAME  the opcode is NDR_OP_NAME; its number is its place in this list
**       (RET is 0). Programs and the Lua compiler depend on the numbers:
**       append new opcodes at the end, never reorder (check.c pins them).
** LEN   words taken by the instruction: the opcode word and its operands,
**       without the optional integer operands below.
** INT   1: an integer op, which may carry NDR_F_RANGE (4 words: lo, hi as
**       two 32-bit halves each) and NDR_F_AUTO (1 word, 2 for a union
**       sibling) after its LEN words; 0: those flags are invalid on it.
**
** Everything that needs the list is made from it: enum ndr_opcode (ndr.h),
** the names, lengths and integer flags (check.c), the interpreter's dispatch
** table (vm.c, one label L_NAME per opcode) and core.ndr_ops, from which
** the Lua compiler (scripts/dcerpc/ndr.lua) takes its numbers. In the
** operand notes `a` is bits 8-31 of the opcode word (usually a field), w1..
** the words that follow it.
*/
#ifndef DCE_NDR_OPS_H
#define DCE_NDR_OPS_H

#define NDR_OPS(X) \
  X(RET,    1, 0)  /* return from routine */                                       \
  X(JMP,    2, 0)  /* w1: target */                                                \
  X(CALL,   2, 0)  /* a: field (callee location) ; w1: routine */                  \
  X(ALIGN,  1, 0)  /* a: 1,2,4,8 */                                                \
  X(OPEN,   2, 0)  /* a: field ; w1: record-size hint. Enter the table             \
                      (encode: get; decode: create) */                             \
  X(OPENB,  1, 0)  /* a: field. Enter an existing table (buffers pass) */          \
  X(CLOSE,  1, 0)  /* leave the table entered by OPEN/OPENB/ARR/UNION */           \
  X(PMARK,  1, 0)  /* start a pointer-queue segment (F routines) */                \
  X(PCUR,   1, 0)  /* buffers pass: read the segment from its start */             \
  X(PDROP,  1, 0)  /* end the segment */                                           \
  X(U8,     1, 1)  /* primitives: a = field */                                     \
  X(I8,     1, 1)                                                                  \
  X(U16,    1, 1)                                                                  \
  X(I16,    1, 1)                                                                  \
  X(U32,    1, 1)                                                                  \
  X(I32,    1, 1)                                                                  \
  X(U64,    1, 1)  /* also int64 / hyper (two's complement in a Lua integer) */    \
  X(U64A4,  1, 0)  /* FILETIME: 8 bytes, aligned 4, as two 32-bit halves */        \
  X(F32,    1, 0)                                                                  \
  X(F64,    1, 0)                                                                  \
  X(BOOL,   1, 0)                                                                  \
  X(ENUM16, 2, 1)  /* w1: name map (k of a names table, 0 none) */                 \
  X(ENUM32, 2, 1)  /* same, 4 bytes */                                             \
  X(GUID,   1, 0)  /* 16 bytes aligned 4 <-> "xxxxxxxx-...." */                    \
  X(CTXH,   1, 0)  /* 20 bytes aligned 4 <-> 20-byte string */                     \
  X(SID,    1, 0)  /* RPC_SID with its conformance <-> "S-1-..." */                \
  X(PTRS,   2, 0)  /* a: field ; w1: kind. Pointer, scalars: referent id */        \
  X(PTRB,   4, 0)  /* a: field ; w1: kind ; w2: F routine of the referent ;        \
                      w3: size expr that must be 0 when the pointer is null        \
                      (0: none) */                                                 \
  X(ARR,    7, 0)  /* a: field ; w1..w6: array descriptor (ndr.h) */               \
  X(ARRB,   1, 0)  /* enter an array's table for its buffers pass */               \
  X(ANEXT,  2, 0)  /* w1: loop end. Next element, or jump */                       \
  X(CONF,   5, 0)  /* w1: size expr ; w2: flags ; w3: tail field ; w4: path        \
                      (data: n, fields) to the nested struct holding the array,    \
                      0: this one. Hoisted max_count */                            \
  X(UNION,  5, 0)  /* a: field ; w1: flags ; w2: switch expr ; w3: arm table ;     \
                      w4: switch field */                                          \
  X(UNIONB, 2, 0)  /* w1: arm table. Buffers pass of a union (arm from the         \
                      queue) */                                                    \
  X(RUSS,   1, 0)  /* RPC_UNICODE_STRING scalars */                                \
  X(RUSB,   1, 0)  /* RPC_UNICODE_STRING referent */

#endif
