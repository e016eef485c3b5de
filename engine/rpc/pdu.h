/*
** pdu.h - connection-oriented DCE/RPC PDUs (C706 chapter 12, [MS-RPCE] 2.2.2):
** one struct for every PDU type, an encoder and a bounded decoder.
**
** Representation: integers in host order; UUIDs always in the little-endian
** wire layout of dce_uuid (the codec swaps them for a big-endian drep);
** variable parts (stub data, auth value, secondary address, bind_nak
** versions) are views into the caller's bytes, never copies.
**
** Decoder invariants: every count, length and offset is checked against the
** bytes of the fragment before it is used; the only allocation is the
** context/result array of bind-like PDUs, sized from counts already proven
** to fit in the bytes that are there. dce_pdu_free releases it.
**
** Auth verifiers (sec_trailer + auth value) pass through opaquely: the decoder
** finds and checks them, the encoder writes what it is given; signing and
** sealing are done by an auth layer that works on the encoded fragment.
*/
#ifndef DCE_PDU_H
#define DCE_PDU_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

/* ------------------------------------------------------------ constants */

#define DCE_PDU_HDR_LEN        16u    /* common header */
#define DCE_AUTH_TRAILER_LEN    8u    /* sec_trailer without the auth value */
#define DCE_MUST_RCV_FRAG     1432u   /* C706 CONST_MUST_RCV_FRAG_SIZE */
#define DCE_DEFAULT_FRAG      5840u   /* [MS-RPCE] client default on TCP */

enum dce_ptype {
  DCE_PT_REQUEST = 0, DCE_PT_RESPONSE = 2, DCE_PT_FAULT = 3,
  DCE_PT_BIND = 11, DCE_PT_BIND_ACK = 12, DCE_PT_BIND_NAK = 13,
  DCE_PT_ALTER = 14, DCE_PT_ALTER_RESP = 15, DCE_PT_AUTH3 = 16,
  DCE_PT_SHUTDOWN = 17, DCE_PT_CO_CANCEL = 18, DCE_PT_ORPHANED = 19
};

/* pfc_flags */
#define DCE_PFC_FIRST_FRAG        0x01u
#define DCE_PFC_LAST_FRAG         0x02u
#define DCE_PFC_PENDING_CANCEL    0x04u  /* request/response */
#define DCE_PFC_SUPPORT_HEADER_SIGN 0x04u /* bind/bind_ack ([MS-RPCE] 2.2.2.3) */
#define DCE_PFC_RESERVED_1        0x08u
#define DCE_PFC_CONC_MPX          0x10u
#define DCE_PFC_DID_NOT_EXECUTE   0x20u
#define DCE_PFC_MAYBE             0x40u
#define DCE_PFC_OBJECT_UUID       0x80u

/* drep[0]: integer representation in the high nibble, characters in the low */
#define DCE_DREP_LE   0x10u
#define DCE_DREP_BE   0x00u

/* p_result_t.result */
#define DCE_RESULT_ACCEPTANCE        0
#define DCE_RESULT_USER_REJECTION    1
#define DCE_RESULT_PROVIDER_REJECTION 2
#define DCE_RESULT_NEGOTIATE_ACK     3   /* [MS-RPCE] 2.2.2.4 */

/* ------------------------------------------------------------ structures */

typedef struct dce_syntax {        /* p_syntax_id_t */
  dce_uuid uuid;
  uint16_t major, minor;           /* if_version: major in the low 16 bits */
} dce_syntax;

typedef struct dce_ctx_elem {      /* p_cont_elem_t */
  uint16_t id;
  uint8_t n_transfer;
  dce_syntax abstract;
  dce_syntax *transfer;            /* n_transfer entries */
} dce_ctx_elem;

typedef struct dce_result {        /* p_result_t */
  uint16_t result, reason;
  dce_syntax transfer;
} dce_result;

typedef struct dce_auth {          /* sec_trailer + auth value */
  uint8_t type, level, pad_len, reserved;
  uint32_t context_id;
  const uint8_t *value;            /* auth_length bytes */
  size_t value_len;
} dce_auth;

typedef struct dce_pdu {
  /* common header */
  uint8_t vers, vers_minor, ptype, flags;
  uint8_t drep[4];
  uint16_t frag_length, auth_length;   /* set by the encoder */
  uint32_t call_id;

  /* bind, bind_ack, alter_context, alter_context_resp (max_* also in auth3
  ** as the 4-byte pad [MS-RPCE] 2.2.2.10 names max_xmit/max_recv) */
  uint16_t max_xmit, max_recv;
  uint32_t assoc_group;
  uint8_t n_ctx;
  dce_ctx_elem *ctx;
  const uint8_t *sec_addr;             /* bind_ack: port_spec incl. its NUL */
  uint16_t sec_addr_len;
  uint8_t n_results;
  dce_result *results;

  /* bind_nak */
  uint16_t reject_reason;
  uint8_t n_versions;
  const uint8_t *versions;             /* n_versions (major, minor) byte pairs */

  /* request, response, fault */
  uint32_t alloc_hint;
  uint16_t ctx_id;
  uint16_t opnum;                      /* request */
  uint8_t cancel_count;                /* response, fault */
  uint8_t reserved;                    /* response, fault: byte after cancel_count */
  uint32_t status;                     /* fault */
  int has_object;                      /* request with PFC_OBJECT_UUID */
  dce_uuid object;

  /* stub data (request/response/fault), or the opaque tail of a bind_nak
  ** (signature + extended error, [MS-RPCE] 2.2.2.6), without auth padding */
  const uint8_t *stub;
  size_t stub_len;

  int has_auth;
  dce_auth auth;

  void *mem;                           /* decoder's allocation, or NULL */
} dce_pdu;

/* ------------------------------------------------------------ errors */

enum dce_pdu_err {
  DCE_PDU_OK = 0,
  DCE_PDU_ESHORT = -1,    /* fewer bytes than the header or frag_length says */
  DCE_PDU_EVERSION = -2,  /* not 5.0 */
  DCE_PDU_EFRAGLEN = -3,  /* frag_length < 16 or beyond the data */
  DCE_PDU_EAUTHLEN = -4,  /* auth_length / auth_pad_length / trailer alignment */
  DCE_PDU_EPTYPE = -5,    /* unknown or connectionless ptype */
  DCE_PDU_EBODY = -6,     /* body shorter than its fields or counts say */
  DCE_PDU_EDREP = -7,     /* integer representation neither 0 nor 1 */
  DCE_PDU_ENOMEM = -8,
  DCE_PDU_EENCODE = -9    /* encoder: field does not fit (too long) */
};

/* A readable error: code plus a message naming the field and offset. */
typedef struct dce_pdu_error {
  int code;
  char msg[128];
} dce_pdu_error;

/* ------------------------------------------------------------ API */

/* Zero a PDU and set version 5.0, little-endian drep, FIRST|LAST flags. */
void dce_pdu_init(dce_pdu *p, uint8_t ptype, uint32_t call_id);

/* Name of a ptype ("bind_ack") or NULL; and the inverse (-1 when unknown). */
const char *dce_ptype_name(int ptype);
int dce_ptype_from_name(const char *name);

/* Look at the start of a byte stream. Returns 0 when fewer than 16 bytes are
** there yet, the fragment length when the header is sane, or a negative
** dce_pdu_err (bad version, frag_length < 16, auth_length > frag_length,
** bad drep). A stream reader calls this and waits for frag_length bytes. */
long dce_pdu_peek(const uint8_t *b, size_t len, dce_pdu_error *e);

/* Decode one whole fragment: exactly frag_length bytes (more is an error in
** strict mode; the stream reader hands in precisely one fragment). The PDU's
** pointers view `b`, which must outlive it. Returns 0 or a dce_pdu_err;
** call dce_pdu_free afterwards in both cases. */
int dce_pdu_decode(dce_pdu *p, const uint8_t *b, size_t len, dce_pdu_error *e);
void dce_pdu_free(dce_pdu *p);

/* Append the encoded PDU to `out`; frag_length and auth_length are computed
** (and written back to p). The auth pad (p->auth.pad_len zero bytes) goes
** between the body and the sec_trailer. Returns 0 or a dce_pdu_err. */
int dce_pdu_encode(dce_pdu *p, dce_buf *out, dce_pdu_error *e);

/* Byte offset of the stub in a request fragment (24, or 40 with an object
** UUID) and of response/fault stubs (24 / 32). */
#define DCE_REQUEST_HDR_LEN   24u
#define DCE_RESPONSE_HDR_LEN  24u
#define DCE_FAULT_HDR_LEN     32u

/* Tracing (docs/trace.md): a hook on an association or a server connection
** sees every fragment it sends or receives, whole and as on the wire, once
** it is final (signed or sealed) or as soon as it is read (before it is
** handled, so a reply never shows before what it answers). For a fragment
** sealed at the privacy level `clear` is the same fragment with its stub and
** auth padding in clear text (header, sec_trailer and verifier as on the
** wire, same length); otherwise NULL. The bytes are only valid during the
** call. The hook must not use the association it watches. With no hook set
** the cost is one pointer test per fragment. */
enum { DCE_TRACE_SEND = 0, DCE_TRACE_RECV = 1 };
typedef void (*dce_trace_fn)(void *ud, int dir, const uint8_t *wire, size_t len, const uint8_t *clear);

#endif
