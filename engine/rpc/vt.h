/*
** vt.h - the verification trailer of [MS-RPCE] 2.2.2.13: what a client may
** append to a request stub after the NDR data (Samba's and Windows' clients
** do on authenticated calls) so the server can check that the PDU header
** and presentation context were not changed on the way. Samba's clients send
** BITMASK_1 and PCONTEXT; HEADER2 is checked when present.
*/
#ifndef DCE_VT_H
#define DCE_VT_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "rpc/pdu.h"

#define DCE_VT_BITMASK_1   0x0001u
#define DCE_VT_PCONTEXT    0x0002u
#define DCE_VT_HEADER2     0x0003u
#define DCE_VT_END         0x4000u
#define DCE_VT_MUST        0x8000u

typedef struct dce_vt_expect {
  dce_syntax abstract, transfer;   /* the call's presentation context */
  uint8_t ptype;                   /* request: 0 */
  uint8_t drep[4];
  uint32_t call_id;
  uint16_t ctx_id, opnum;
} dce_vt_expect;

/* The bytes of stub[from..len) after the NDR data: nothing, up to 7 zero
** bytes of alignment padding, or a verification trailer at the next 4-byte
** boundary whose commands match x. Returns 0, or -1 with a message: other
** bytes, a malformed trailer, a command that does not match, an unknown
** command marked must-process. *found is 1 when a trailer was there (its
** signature), whether or not it checked out. */
int dce_vt_check(const uint8_t *stub, size_t len, size_t from, const dce_vt_expect *x,
                 int *found, char *err, size_t errlen);

/* What a client appends to an authenticated request stub of stub_len bytes:
** zero padding to a 4-byte boundary, then a trailer with BITMASK_1 (bitmask,
** e.g. 1 = the client supports header signing) and PCONTEXT (the call's
** abstract and transfer syntax), in the byte order of drep0, as Samba's and
** Windows' clients send it. 0, or -1 when out of memory. */
int dce_vt_append(dce_buf *out, size_t stub_len, uint32_t bitmask, const dce_syntax *abstract,
                  const dce_syntax *transfer, uint8_t drep0);

#endif
