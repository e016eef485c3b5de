/*
** vt.h - the verification trailer of [MS-RPCE] 2.2.2.13: what a client may
** append to a request stub after the NDR data (Samba's and Windows' clients
** do on authenticated calls) so the server can check that the PDU header
** and presentation context were not changed on the way. Samba's clients send
** BITMASK_1 and PCONTEXT; HEADER2 is checked when present.
**
** Byte order: the trailer is little-endian whatever the PDU's drep says.
** [MS-RPCE] 2.2.2.13 has its commands encoded little-endian in all fields;
** Samba pushes and pulls it with an NDR context of its own (no BIGENDIAN
** flag, librpc/ndr/ndr_dcerpc.c and source4/librpc/rpc/dcerpc.c), and so
** does smbtorture with [bigendian]. Wireshark reads it the same way.
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
  uint8_t drep[4];                 /* the PDU's */
  uint32_t call_id;
  uint16_t ctx_id, opnum;
} dce_vt_expect;

/* What dce_vt_check found after the NDR data. */
enum dce_vt_result {
  DCE_VT_NONE     = 0,   /* nothing, or up to 7 zero bytes of padding */
  DCE_VT_OK       = 1,   /* a trailer whose commands all match the call */
  DCE_VT_JUNK     = -1,  /* bytes that are no trailer we can read: ignore */
  DCE_VT_MISMATCH = -2   /* a readable trailer that contradicts the call:
                         ** refuse it (access denied, did not execute) */
};

/* The bytes of stub[from..len) after the NDR data: nothing, zero padding, or
** a verification trailer at the next 4-byte boundary. A trailer is read
** little-endian; in a big-endian PDU (x->drep) one that does not read so is
** read again big-endian, as lua-dcerpc's own client wrote it before it
** followed the spec. A trailer that reads in neither order is JUNK: treated
** as absent, as Samba does (its magic may be a coincidence, and what the
** client wrote is covered by the signature anyway). MISMATCH: a PCONTEXT or
** HEADER2 that names another call, or an unknown command marked
** must-process. A message in err for JUNK and MISMATCH. */
int dce_vt_check(const uint8_t *stub, size_t len, size_t from, const dce_vt_expect *x,
                 char *err, size_t errlen);

/* What a client appends to an authenticated request stub of stub_len bytes:
** zero padding to a 4-byte boundary, then a trailer with BITMASK_1 (bitmask,
** e.g. 1 = the client supports header signing) and PCONTEXT (the call's
** abstract and transfer syntax), little-endian whatever the PDU's byte order,
** byte for byte as Samba's and Windows' clients send it. 0, or -1 when out of
** memory. */
int dce_vt_append(dce_buf *out, size_t stub_len, uint32_t bitmask, const dce_syntax *abstract,
                  const dce_syntax *transfer);

#endif
