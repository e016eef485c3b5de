-- dcerpc.idl.prelude: the types every MIDL file may use without declaring
-- them: MIDL's own (handle_t, boolean, byte, wchar_t, error_status_t), the
-- base types of [MS-DTYP] (so `import "ms-dtyp.idl";` resolves without the
-- file), and the basic types of Samba's pidl.
--
-- Scalars and the types the engine has a special form for map straight to
-- dcerpc.ndr types, the same ones the shipped Lua descriptions use (SID,
-- GUID, FILETIME, RPC_UNICODE_STRING as strings and integers, BOOLEAN as a
-- Lua boolean, LARGE_INTEGER as an integer). The pointer typedefs and small
-- structs are IDL, parsed once.

local ndr = require "dcerpc.ndr"

local M = {}

local u8, u16, u32, u64 = ndr.uint8, ndr.uint16, ndr.uint32, ndr.uint64
local i8, i16, i32, i64 = ndr.int8, ndr.int16, ndr.int32, ndr.int64

M.types = {
  -- MIDL
  handle_t = "handle", boolean = ndr.boolean, byte = u8, wchar_t = ndr.wchar_t,
  -- error_status_t carries Win32 error codes in [MS-*] interfaces: WERROR
  -- makes a non-zero result an error of the call (docs/idl.md)
  error_status_t = ndr.WERROR,
  -- [MS-DTYP] 2.2
  DWORD = u32, ULONG = u32, UINT = u32, UINT32 = u32, DWORD32 = u32, ULONG32 = u32,
  ACCESS_MASK = u32, SECURITY_INFORMATION = u32, LCID = u32,
  LONG = i32, INT = i32, INT32 = i32, LONG32 = i32, BOOL = i32,
  WORD = u16, USHORT = u16, UINT16 = u16, LANGID = u16, ATOM = u16,
  SHORT = i16, INT16 = i16,
  BYTE = u8, UCHAR = u8, UINT8 = u8, CHAR = ndr.char, INT8 = i8,
  BOOLEAN = ndr.boolean, WCHAR = ndr.wchar_t,
  ULONGLONG = u64, DWORD64 = u64, ULONG64 = u64, UINT64 = u64, QWORD = u64, DWORDLONG = u64,
  LONGLONG = i64, LONG64 = i64, INT64 = i64,
  LARGE_INTEGER = i64, ULARGE_INTEGER = u64, OLD_LARGE_INTEGER = ndr.FILETIME,
  NTSTATUS = ndr.NTSTATUS, HRESULT = ndr.HRESULT, WERROR = ndr.WERROR, NET_API_STATUS = ndr.WERROR,
  GUID = ndr.GUID, UUID = ndr.GUID, RPC_SID = ndr.SID, SID = ndr.SID,
  FILETIME = ndr.FILETIME,
  RPC_UNICODE_STRING = ndr.RPC_UNICODE_STRING, UNICODE_STRING = ndr.RPC_UNICODE_STRING,
  -- pidl
  uint8 = u8, uint16 = u16, uint32 = u32, uint64 = u64, int8 = i8, int16 = i16, int32 = i32,
  int64 = i64, uint3264 = u32, int3264 = i32, hyper = u64, dlong = i64, udlong = ndr.FILETIME,
  NTTIME = ndr.FILETIME, NTTIME_1sec = ndr.FILETIME, NTTIME_hyper = u64, time_t = u32,
  dom_sid = ndr.SID, policy_handle = ndr.context_handle,
}

M.idl = [[
typedef [string] wchar_t *LPWSTR, *PWSTR, *LPCWSTR, *PCWSTR, *LMSTR, *LMCSTR;
typedef [string] char *LPSTR, *PSTR, *LPCSTR, *PCSTR;
typedef DWORD *PDWORD, *LPDWORD;
typedef ULONG *PULONG;
typedef LONG *PLONG, *LPLONG;
typedef BYTE *PBYTE, *LPBYTE;
typedef WORD *PWORD, *LPWORD;
typedef USHORT *PUSHORT;
typedef UCHAR *PUCHAR;
typedef BOOL *PBOOL, *LPBOOL;
typedef BOOLEAN *PBOOLEAN;
typedef WCHAR *PWCHAR;
typedef CHAR *PCHAR;
typedef ULONGLONG *PULONGLONG;
typedef LONGLONG *PLONGLONG;
typedef RPC_SID *PRPC_SID, *PSID;
typedef GUID *PGUID, *LPGUID;
typedef FILETIME *PFILETIME, *LPFILETIME;
typedef RPC_UNICODE_STRING *PRPC_UNICODE_STRING;
typedef UNICODE_STRING *PUNICODE_STRING;
typedef LARGE_INTEGER *PLARGE_INTEGER;
typedef [context_handle] void *PCONTEXT_HANDLE;
typedef struct _LUID { DWORD LowPart; LONG HighPart; } LUID, *PLUID;
typedef struct _SYSTEMTIME {
  WORD wYear; WORD wMonth; WORD wDayOfWeek; WORD wDay;
  WORD wHour; WORD wMinute; WORD wSecond; WORD wMilliseconds;
} SYSTEMTIME, *PSYSTEMTIME;
typedef struct _RPC_SID_IDENTIFIER_AUTHORITY { byte Value[6]; } RPC_SID_IDENTIFIER_AUTHORITY;
typedef struct _STRING {
  USHORT Length;
  USHORT MaximumLength;
  [size_is(MaximumLength), length_is(Length)] char *Buffer;
} STRING, *PSTRING;
]]

-- files an [MS-*] IDL imports that the prelude stands for, when the search
-- path does not have them
M.imports = {
  ["ms-dtyp.idl"] = true, ["ms-rpce.idl"] = true, ["wtypes.idl"] = true, ["wtypesbase.idl"] = true,
  ["basetsd.h"] = true, ["unknwn.idl"] = true, ["oaidl.idl"] = true, ["ocidl.idl"] = true,
  ["objidl.idl"] = true, ["winerror.h"] = true, ["windef.h"] = true, ["rpc.h"] = true,
  ["rpcndr.h"] = true, ["misc.idl"] = true, ["security.idl"] = true, ["lsa.idl"] = false,
}

return M
