/*
** status.c - names of the status codes met in fault and reject PDUs and in
** the engine's own failures (see status.h).
**
** Naming (also documented in scripts/dcerpc/status.lua):
**   - DCE status values (C706 appendix E, 0x1c00xxxx / 0x1c01xxxx): C706's
**     lower-case names, always with the nca_s_ prefix ("nca_s_op_rng_error");
**   - DCE runtime values (0x16c9axxx): rpc_s_* / ept_s_*, lower case;
**   - the four Win32 values Samba and Windows send as generic faults
**     (1, 5, 0x6d8, 0x6f7): Samba's fault names, lower case
**     ("nca_s_fault_access_denied", "nca_s_fault_ndr");
**   - every other Win32 value: its winerror.h name ("RPC_S_CALL_FAILED").
** So one code has one name here; scripts/dcerpc/status.lua also knows the
** winerror.h name of the four (ERROR_ACCESS_DENIED, RPC_X_BAD_STUB_DATA ...).
*/
#include <stddef.h>
#include "base/status.h"

typedef struct status_entry { uint32_t code; const char *name; } status_entry;

/* Sorted by code (checked by test/c/test_binding.c through dce_status_at). */
static const status_entry status_table[] = {
  /* Win32 values that appear as fault status */
  { 0x00000001u, "nca_s_fault_other" },
  { 0x00000005u, "nca_s_fault_access_denied" },
  { 0x00000006u, "ERROR_INVALID_HANDLE" },
  { 0x00000008u, "ERROR_NOT_ENOUGH_MEMORY" },
  { 0x0000000eu, "ERROR_OUTOFMEMORY" },
  { 0x00000032u, "ERROR_NOT_SUPPORTED" },
  { 0x00000057u, "ERROR_INVALID_PARAMETER" },
  { 0x0000007au, "ERROR_INSUFFICIENT_BUFFER" },
  /* Win32 RPC runtime errors (winerror.h, [MS-ERREF] 2.2) */
  { 1700, "RPC_S_INVALID_STRING_BINDING" },
  { 1701, "RPC_S_WRONG_KIND_OF_BINDING" },
  { 1702, "RPC_S_INVALID_BINDING" },
  { 1703, "RPC_S_PROTSEQ_NOT_SUPPORTED" },
  { 1704, "RPC_S_INVALID_RPC_PROTSEQ" },
  { 1705, "RPC_S_INVALID_STRING_UUID" },
  { 1706, "RPC_S_INVALID_ENDPOINT_FORMAT" },
  { 1707, "RPC_S_INVALID_NET_ADDR" },
  { 1708, "RPC_S_NO_ENDPOINT_FOUND" },
  { 1709, "RPC_S_INVALID_TIMEOUT" },
  { 1710, "RPC_S_OBJECT_NOT_FOUND" },
  { 1711, "RPC_S_ALREADY_REGISTERED" },
  { 1712, "RPC_S_TYPE_ALREADY_REGISTERED" },
  { 1713, "RPC_S_ALREADY_LISTENING" },
  { 1714, "RPC_S_NO_PROTSEQS_REGISTERED" },
  { 1715, "RPC_S_NOT_LISTENING" },
  { 1716, "RPC_S_UNKNOWN_MGR_TYPE" },
  { 1717, "RPC_S_UNKNOWN_IF" },
  { 1718, "RPC_S_NO_BINDINGS" },
  { 1719, "RPC_S_NO_PROTSEQS" },
  { 1720, "RPC_S_CANT_CREATE_ENDPOINT" },
  { 1721, "RPC_S_OUT_OF_RESOURCES" },
  { 1722, "RPC_S_SERVER_UNAVAILABLE" },
  { 1723, "RPC_S_SERVER_TOO_BUSY" },
  { 1724, "RPC_S_INVALID_NETWORK_OPTIONS" },
  { 1725, "RPC_S_NO_CALL_ACTIVE" },
  { 1726, "RPC_S_CALL_FAILED" },
  { 1727, "RPC_S_CALL_FAILED_DNE" },
  { 1728, "RPC_S_PROTOCOL_ERROR" },
  { 1729, "RPC_S_PROXY_ACCESS_DENIED" },
  { 1730, "RPC_S_UNSUPPORTED_TRANS_SYN" },
  { 1732, "RPC_S_UNSUPPORTED_TYPE" },
  { 1733, "RPC_S_INVALID_TAG" },
  { 1734, "RPC_S_INVALID_BOUND" },
  { 1735, "RPC_S_NO_ENTRY_NAME" },
  { 1736, "RPC_S_INVALID_NAME_SYNTAX" },
  { 1737, "RPC_S_UNSUPPORTED_NAME_SYNTAX" },
  { 1739, "RPC_S_UUID_NO_ADDRESS" },
  { 1740, "RPC_S_DUPLICATE_ENDPOINT" },
  { 1741, "RPC_S_UNKNOWN_AUTHN_TYPE" },
  { 1742, "RPC_S_MAX_CALLS_TOO_SMALL" },
  { 1743, "RPC_S_STRING_TOO_LONG" },
  { 1744, "RPC_S_PROTSEQ_NOT_FOUND" },
  { 1745, "RPC_S_PROCNUM_OUT_OF_RANGE" },
  { 1746, "RPC_S_BINDING_HAS_NO_AUTH" },
  { 1747, "RPC_S_UNKNOWN_AUTHN_SERVICE" },
  { 1748, "RPC_S_UNKNOWN_AUTHN_LEVEL" },
  { 1749, "RPC_S_INVALID_AUTH_IDENTITY" },
  { 1750, "RPC_S_UNKNOWN_AUTHZ_SERVICE" },
  { 1751, "EPT_S_INVALID_ENTRY" },
  { 1752, "nca_s_fault_cant_perform" },     /* EPT_S_CANT_PERFORM_OP */
  { 1753, "EPT_S_NOT_REGISTERED" },
  { 1754, "RPC_S_NOTHING_TO_EXPORT" },
  { 1755, "RPC_S_INCOMPLETE_NAME" },
  { 1756, "RPC_S_INVALID_VERS_OPTION" },
  { 1757, "RPC_S_NO_MORE_MEMBERS" },
  { 1758, "RPC_S_NOT_ALL_OBJS_UNEXPORTED" },
  { 1759, "RPC_S_INTERFACE_NOT_FOUND" },
  { 1760, "RPC_S_ENTRY_ALREADY_EXISTS" },
  { 1761, "RPC_S_ENTRY_NOT_FOUND" },
  { 1762, "RPC_S_NAME_SERVICE_UNAVAILABLE" },
  { 1763, "RPC_S_INVALID_NAF_ID" },
  { 1764, "RPC_S_CANNOT_SUPPORT" },
  { 1765, "RPC_S_NO_CONTEXT_AVAILABLE" },
  { 1766, "RPC_S_INTERNAL_ERROR" },
  { 1767, "RPC_S_ZERO_DIVIDE" },
  { 1768, "RPC_S_ADDRESS_ERROR" },
  { 1769, "RPC_S_FP_DIV_ZERO" },
  { 1770, "RPC_S_FP_UNDERFLOW" },
  { 1771, "RPC_S_FP_OVERFLOW" },
  { 1772, "RPC_X_NO_MORE_ENTRIES" },
  { 1773, "RPC_X_SS_CHAR_TRANS_OPEN_FAIL" },
  { 1774, "RPC_X_SS_CHAR_TRANS_SHORT_FILE" },
  { 1775, "RPC_X_SS_IN_NULL_CONTEXT" },
  { 1777, "RPC_X_SS_CONTEXT_DAMAGED" },
  { 1778, "RPC_X_SS_HANDLES_MISMATCH" },
  { 1779, "RPC_X_SS_CANNOT_GET_CALL_HANDLE" },
  { 1780, "RPC_X_NULL_REF_POINTER" },
  { 1781, "RPC_X_ENUM_VALUE_OUT_OF_RANGE" },
  { 1782, "RPC_X_BYTE_COUNT_TOO_SMALL" },
  { 1783, "nca_s_fault_ndr" },              /* RPC_X_BAD_STUB_DATA */
  { 1818, "RPC_S_CALL_CANCELLED" },
  { 1819, "RPC_S_BINDING_INCOMPLETE" },
  { 1820, "RPC_S_COMM_FAILURE" },
  { 1821, "RPC_S_UNSUPPORTED_AUTHN_LEVEL" },
  { 1822, "RPC_S_NO_PRINC_NAME" },
  { 1823, "RPC_S_NOT_RPC_ERROR" },
  { 1824, "RPC_S_UUID_LOCAL_ONLY" },
  { 1825, "RPC_S_SEC_PKG_ERROR" },
  { 1826, "RPC_S_NOT_CANCELLED" },
  { 1827, "RPC_X_INVALID_ES_ACTION" },
  { 1828, "RPC_X_WRONG_ES_VERSION" },
  { 1829, "RPC_X_WRONG_STUB_VERSION" },
  { 1830, "RPC_X_INVALID_PIPE_OBJECT" },
  { 1831, "RPC_X_WRONG_PIPE_ORDER" },
  { 1832, "RPC_X_WRONG_PIPE_VERSION" },
  { 1898, "RPC_S_GROUP_MEMBER_NOT_FOUND" },
  { 1899, "EPT_S_CANT_CREATE" },
  { 1900, "RPC_S_INVALID_OBJECT" },
  /* DCE runtime status (C706 appendix E, table E-3 / rpcsts) */
  { 0x16c9a01bu, "rpc_s_fault_object_not_found" },
  { 0x16c9a031u, "rpc_s_call_cancelled" },
  { 0x16c9a074u, "rpc_s_fault_addr_error" },
  { 0x16c9a075u, "rpc_s_fault_context_mismatch" },
  { 0x16c9a076u, "rpc_s_fault_fp_div_by_zero" },
  { 0x16c9a077u, "rpc_s_fault_fp_error" },
  { 0x16c9a078u, "rpc_s_fault_fp_overflow" },
  { 0x16c9a079u, "rpc_s_fault_fp_underflow" },
  { 0x16c9a07au, "rpc_s_fault_ill_inst" },
  { 0x16c9a07bu, "rpc_s_fault_int_div_by_zero" },
  { 0x16c9a07cu, "rpc_s_fault_int_overflow" },
  { 0x16c9a07du, "rpc_s_fault_invalid_bound" },
  { 0x16c9a07eu, "rpc_s_fault_invalid_tag" },
  { 0x16c9a07fu, "rpc_s_fault_pipe_closed" },
  { 0x16c9a080u, "rpc_s_fault_pipe_comm_error" },
  { 0x16c9a081u, "rpc_s_fault_pipe_discipline" },
  { 0x16c9a082u, "rpc_s_fault_pipe_empty" },
  { 0x16c9a083u, "rpc_s_fault_pipe_memory" },
  { 0x16c9a084u, "rpc_s_fault_pipe_order" },
  { 0x16c9a086u, "rpc_s_fault_remote_no_memory" },
  { 0x16c9a087u, "rpc_s_fault_unspec" },
  { 0x16c9a0d6u, "ept_s_not_registered" },
  { 0x16c9a113u, "rpc_s_fault_user_defined" },
  { 0x16c9a116u, "rpc_s_fault_tx_open_failed" },
  { 0x16c9a16eu, "rpc_s_fault_codeset_conv_error" },
  { 0x16c9a170u, "rpc_s_fault_no_client_stub" },
  /* NCA status (C706 appendix E): faults and rejects */
  { 0x1c000001u, "nca_s_fault_int_div_by_zero" },
  { 0x1c000002u, "nca_s_fault_addr_error" },
  { 0x1c000003u, "nca_s_fault_fp_div_zero" },
  { 0x1c000004u, "nca_s_fault_fp_underflow" },
  { 0x1c000005u, "nca_s_fault_fp_overflow" },
  { 0x1c000006u, "nca_s_fault_invalid_tag" },
  { 0x1c000007u, "nca_s_fault_invalid_bound" },
  { 0x1c000008u, "nca_s_rpc_version_mismatch" },
  { 0x1c000009u, "nca_s_unspec_reject" },
  { 0x1c00000au, "nca_s_bad_actid" },
  { 0x1c00000bu, "nca_s_who_are_you_failed" },
  { 0x1c00000cu, "nca_s_manager_not_entered" },
  { 0x1c00000du, "nca_s_fault_cancel" },
  { 0x1c00000eu, "nca_s_fault_ill_inst" },
  { 0x1c00000fu, "nca_s_fault_fp_error" },
  { 0x1c000010u, "nca_s_fault_int_overflow" },
  { 0x1c000012u, "nca_s_fault_unspec" },
  { 0x1c000013u, "nca_s_fault_remote_comm_failure" },
  { 0x1c000014u, "nca_s_fault_pipe_empty" },
  { 0x1c000015u, "nca_s_fault_pipe_closed" },
  { 0x1c000016u, "nca_s_fault_pipe_order" },
  { 0x1c000017u, "nca_s_fault_pipe_discipline" },
  { 0x1c000018u, "nca_s_fault_pipe_comm_error" },
  { 0x1c000019u, "nca_s_fault_pipe_memory" },
  { 0x1c00001au, "nca_s_fault_context_mismatch" },
  { 0x1c00001bu, "nca_s_fault_remote_no_memory" },
  { 0x1c00001cu, "nca_s_invalid_pres_context_id" },
  { 0x1c00001du, "nca_s_unsupported_authn_level" },
  { 0x1c00001fu, "nca_s_invalid_checksum" },
  { 0x1c000020u, "nca_s_invalid_crc" },
  { 0x1c000021u, "nca_s_fault_user_defined" },
  { 0x1c000022u, "nca_s_fault_tx_open_failed" },
  { 0x1c000023u, "nca_s_fault_codeset_conv_error" },
  { 0x1c000024u, "nca_s_fault_object_not_found" },
  { 0x1c000025u, "nca_s_fault_no_client_stub" },
  { 0x1c010001u, "nca_s_comm_failure" },
  { 0x1c010002u, "nca_s_op_rng_error" },
  { 0x1c010003u, "nca_s_unk_if" },
  { 0x1c010006u, "nca_s_wrong_boot_time" },
  { 0x1c010009u, "nca_s_you_crashed" },
  { 0x1c01000bu, "nca_s_proto_error" },
  { 0x1c010012u, "nca_s_no_call_active" },      /* as status.h defines it */
  { 0x1c010013u, "nca_s_out_args_too_big" },
  { 0x1c010014u, "nca_s_server_too_busy" },
  { 0x1c010015u, "nca_s_fault_string_too_long" },
  { 0x1c010017u, "nca_s_unsupported_type" },
  /* NTSTATUS an SMB session or a pipe reports (smb/smb_client.c) */
  { 0x80000005u, "STATUS_BUFFER_OVERFLOW" },
  { 0xc000000du, "STATUS_INVALID_PARAMETER" },
  { 0xc0000017u, "STATUS_NO_MEMORY" },
  { 0xc0000022u, "STATUS_ACCESS_DENIED" },
  { 0xc0000034u, "STATUS_OBJECT_NAME_NOT_FOUND" },
  { 0xc0000064u, "STATUS_NO_SUCH_USER" },
  { 0xc000006du, "STATUS_LOGON_FAILURE" },
  { 0xc000006eu, "STATUS_ACCOUNT_RESTRICTION" },
  { 0xc0000071u, "STATUS_PASSWORD_EXPIRED" },
  { 0xc0000072u, "STATUS_ACCOUNT_DISABLED" },
  { 0xc00000b0u, "STATUS_PIPE_DISCONNECTED" },
  { 0xc00000b1u, "STATUS_PIPE_CLOSING" },
  { 0xc00000b5u, "STATUS_IO_TIMEOUT" },
  { 0xc00000bbu, "STATUS_NOT_SUPPORTED" },
  { 0xc00000c3u, "STATUS_INVALID_NETWORK_RESPONSE" },
  { 0xc00000ccu, "STATUS_BAD_NETWORK_NAME" },
  { 0xc00000d0u, "STATUS_REQUEST_NOT_ACCEPTED" },
  { 0xc000014bu, "STATUS_PIPE_BROKEN" },
  { 0xc0000203u, "STATUS_USER_SESSION_DELETED" },
  { 0xc000020cu, "STATUS_CONNECTION_DISCONNECTED" },
  { 0xc000035cu, "STATUS_NETWORK_SESSION_EXPIRED" },
  { 0xc000a000u, "STATUS_INVALID_SIGNATURE" },
  { 0xc000a004u, "STATUS_DECRYPTION_FAILED" },
};

#define STATUS_COUNT (sizeof status_table / sizeof status_table[0])

const char *dce_status_name(uint32_t code) {
  size_t lo = 0, hi = STATUS_COUNT;
  while (lo < hi) {                       /* binary search, table sorted */
    size_t mid = lo + (hi - lo) / 2;
    if (status_table[mid].code == code) return status_table[mid].name;
    if (status_table[mid].code < code) lo = mid + 1; else hi = mid;
  }
  return NULL;
}

const char *dce_status_at(size_t i, uint32_t *code) {
  if (i >= STATUS_COUNT) return NULL;
  if (code) *code = status_table[i].code;
  return status_table[i].name;
}
