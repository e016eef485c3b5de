/*
** tower.h - endpoint mapper protocol towers (C706 appendix L, [MS-RPCE]
** 2.2.1.1): the content of a twr_t's tower_octet_string.
**
**   u16 LE floor_count, then floor_count floors:
**     u16 LE lhs_len, lhs (first byte: protocol identifier, then lhs data),
**     u16 LE rhs_len, rhs.
**   floor 1  0x0d + interface UUID (16, LE) + major (u16 LE) | minor (u16 LE)
**   floor 2  0x0d + transfer syntax UUID + major             | minor
**   floor 3  RPC protocol 0x0b ncacn / 0x0a ncadg / 0x0c ncalrpc | minor (u16 LE)
**   floor 4+ transport: 0x07 TCP / 0x08 UDP / 0x1f HTTP port (u16 BE),
**            0x09 IPv4 (4 bytes), 0x0f SMB pipe name, 0x11 NetBIOS name,
**            0x10 local (ncalrpc) endpoint, 0x20 Unix socket path: NUL-terminated
**
** Decoding allocates nothing: a dce_tower points into the input, which must
** outlive it. Every length is checked against the bytes that are there.
** A tower whose floors match one of the known protocol sequences exactly gets
** `protseq`, `endpoint` and `host`; any other well-formed tower decodes with
** protseq == NULL and only its raw floors (nothing is lost).
*/
#ifndef DCE_TOWER_H
#define DCE_TOWER_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"
#include "rpc/pdu.h"         /* dce_syntax */

#if !defined(DCE_TOWER_MAX_FLOORS)
#define DCE_TOWER_MAX_FLOORS 32
#endif

/* Protocol identifiers (C706 appendix I; [MS-RPCE] 2.2.1.1). */
#define DCE_EPM_PROTO_DNET_NSP   0x04
#define DCE_EPM_PROTO_OSI_TP4    0x05
#define DCE_EPM_PROTO_OSI_CLNS   0x06
#define DCE_EPM_PROTO_TCP        0x07
#define DCE_EPM_PROTO_UDP        0x08
#define DCE_EPM_PROTO_IP         0x09
#define DCE_EPM_PROTO_NCADG      0x0a   /* connectionless RPC */
#define DCE_EPM_PROTO_NCACN      0x0b   /* connection-oriented RPC */
#define DCE_EPM_PROTO_NCALRPC    0x0c   /* local RPC */
#define DCE_EPM_PROTO_UUID       0x0d
#define DCE_EPM_PROTO_IPX        0x0e
#define DCE_EPM_PROTO_SMB        0x0f   /* named pipe over SMB (ncacn_np) */
#define DCE_EPM_PROTO_NAMED_PIPE 0x10   /* local endpoint name (ncalrpc) */
#define DCE_EPM_PROTO_NETBIOS    0x11
#define DCE_EPM_PROTO_NETBEUI    0x12
#define DCE_EPM_PROTO_SPX        0x13
#define DCE_EPM_PROTO_NB_IPX     0x14
#define DCE_EPM_PROTO_DSP        0x16
#define DCE_EPM_PROTO_DDP        0x17
#define DCE_EPM_PROTO_APPLETALK  0x18
#define DCE_EPM_PROTO_VINES_SPP  0x1a
#define DCE_EPM_PROTO_VINES_IPC  0x1b
#define DCE_EPM_PROTO_STREETTALK 0x1c
#define DCE_EPM_PROTO_HTTP       0x1f
#define DCE_EPM_PROTO_UNIX_DS    0x20

typedef struct dce_floor {
  const uint8_t *lhs;   /* lhs[0] is the protocol identifier */
  uint16_t lhs_len;     /* >= 1 */
  const uint8_t *rhs;
  uint16_t rhs_len;
} dce_floor;

typedef struct dce_tower {
  size_t nfloors;
  dce_floor floor[DCE_TOWER_MAX_FLOORS];
  int has_iface;              /* floor 1 is a UUID floor */
  dce_syntax iface;
  int has_syntax;             /* floor 2 is a UUID floor */
  dce_syntax syntax;
  int has_rpc;                /* floor 3 is ncacn / ncadg / ncalrpc */
  uint8_t rpc_proto;
  uint16_t rpc_minor;
  const char *protseq;        /* static name, or NULL: unknown floor layout */
  const char *endpoint;       /* NULL when the protseq has none */
  size_t endpoint_len;
  const char *host;           /* NULL when the protseq has none */
  size_t host_len;
  char ep_text[8];            /* port numbers as text */
  char host_text[16];         /* dotted IPv4 */
} dce_tower;

/* Decode a tower. Returns 0, or -1 with a message in err[0..errcap). */
int dce_tower_decode(dce_tower *t, const uint8_t *p, size_t len, char *err, size_t errcap);

/* What dce_tower_encode builds from. NULL endpoint: port 0 / empty name;
** NULL host: 0.0.0.0 / empty name. */
typedef struct dce_tower_spec {
  dce_syntax iface, syntax;
  const char *protseq;
  uint16_t rpc_minor;
  const char *endpoint; size_t endpoint_len;
  const char *host; size_t host_len;
} dce_tower_spec;

/* Encode into out[0..cap); return the size needed, or (size_t)-1 with a
** message in err (unknown protseq, a port that is not 0..65535, a host that
** is not dotted IPv4 where the tower needs one, a NUL inside a name, ...).
** Call with cap 0 to size the buffer. */
size_t dce_tower_encode(const dce_tower_spec *s, uint8_t *out, size_t cap,
                        char *err, size_t errcap);

/* Encode raw floors as given (lhs_len >= 1). Same return convention. */
size_t dce_tower_encode_floors(const dce_floor *f, size_t n, uint8_t *out, size_t cap,
                               char *err, size_t errcap);

/* The tower floor layout of a protocol sequence: how many floors after the
** two UUID floors and their protocol ids. NULL when unknown. */
typedef struct dce_tower_layout {
  const char *protseq;
  uint8_t n;                  /* transport floors, 2 or 3 */
  uint8_t proto[3];           /* floor 3, 4, 5 protocol identifiers */
} dce_tower_layout;
const dce_tower_layout *dce_tower_layout_of(const char *protseq);

#endif
