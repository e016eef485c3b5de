/*
** status.h - names of the status codes the engine produces or meets on the
** wire: DCE/RPC nca_s_* / rpc_s_* fault codes, the Win32 RPC_S_* errors the
** Windows runtime uses (1722 server unavailable, 1726 call failed, 1727 call
** failed DNE, ...), and the engine's own local error codes.
*/
#ifndef DCE_STATUS_H
#define DCE_STATUS_H

#include <stdint.h>

#include <stddef.h>

/* Symbolic name of a status code, or NULL when unknown. */
const char *dce_status_name(uint32_t code);

/* The i-th entry of the name table (sorted by code): its name, with the code
** stored in *code; NULL past the end. For listing and for tests. */
const char *dce_status_at(size_t i, uint32_t *code);

/* Windows runtime error codes used to classify failed calls. */
#define DCE_RPC_S_SERVER_UNAVAILABLE   1722u  /* nothing was sent */
#define DCE_RPC_S_CALL_FAILED          1726u  /* may have executed */
#define DCE_RPC_S_CALL_FAILED_DNE      1727u  /* did not execute */
#define DCE_RPC_S_PROTOCOL_ERROR       1728u
#define DCE_RPC_S_CALL_CANCELLED       1818u  /* timed out, cancelled */
#define DCE_RPC_S_INVALID_BINDING      1702u  /* bad string binding */
#define DCE_RPC_S_INVALID_STRING_BINDING 1700u
#define DCE_RPC_S_UNKNOWN_IF           1717u
#define DCE_RPC_S_OUT_OF_MEMORY        14u    /* ERROR_OUTOFMEMORY */

/* DCE fault codes (C706 appendix E, [MS-RPCE] 2.2.2.11 / 3.1.1.5.5). */
#define DCE_NCA_S_COMM_FAILURE         0x1c010001u
#define DCE_NCA_S_OP_RNG_ERROR         0x1c010002u
#define DCE_NCA_S_UNK_IF               0x1c010003u
#define DCE_NCA_S_PROTO_ERROR          0x1c01000bu
#define DCE_NCA_S_NO_CALL_ACTIVE       0x1c010012u
#define DCE_NCA_S_FAULT_ACCESS_DENIED  0x00000005u
#define DCE_NCA_S_FAULT_NDR            0x000006f7u  /* RPC_X_BAD_STUB_DATA */
#define DCE_NCA_S_FAULT_OTHER          0x00000001u
#define DCE_NCA_S_FAULT_CANT_PERFORM   0x000006d8u
#define DCE_NCA_S_FAULT_CONTEXT_MISMATCH 0x1c00001au
#define DCE_NCA_S_FAULT_REMOTE_NO_MEMORY 0x1c00001bu
#define DCE_NCA_S_INVALID_PRES_CONTEXT_ID 0x1c00001cu
#define DCE_NCA_S_UNSUPPORTED_AUTHN_LEVEL 0x1c00001du
#define DCE_NCA_S_FAULT_INVALID_TAG    0x1c000006u
#define DCE_NCA_S_SERVER_TOO_BUSY      0x1c010014u
#define DCE_NCA_S_UNSUPPORTED_TYPE     0x1c010017u
#define DCE_EPT_S_NOT_REGISTERED       0x16c9a0d6u  /* end of an epm lookup */
#define DCE_RPC_S_INVALID_ENDPOINT_FORMAT 1706u
#define DCE_RPC_S_SEC_PKG_ERROR        1825u

/* What a message says when a server refuses a security context's or an SMB
** session's credentials (the status alone does not tell a user what to do). */
#define DCE_AUTH_HINT "the server refused the credentials: check user, domain and password (or nt_hash)"

#endif
