-- winreg: Windows Remote Registry Protocol ([MS-RRP]).
--
-- uuid 338cd001-2244-31f1-aaaa-900038001003 v1.0.
-- Names (functions, parameters, structure fields) follow the IDL of [MS-RRP]
-- section 6 ("Appendix A: Full IDL"). Covered so far:
--   OpenClassesRoot       (0)    alias OpenHKCR
--   OpenCurrentUser       (1)    alias OpenHKCU
--   OpenLocalMachine      (2)    alias OpenHKLM
--   OpenUsers             (4)    alias OpenHKU
--   BaseRegCloseKey       (5)
--   BaseRegCreateKey      (6)
--   BaseRegDeleteKey      (7)
--   BaseRegDeleteValue    (8)
--   BaseRegEnumKey        (9)
--   BaseRegEnumValue      (10)
--   BaseRegFlushKey       (11)
--   BaseRegOpenKey        (15)
--   BaseRegQueryInfoKey   (16)
--   BaseRegQueryValue     (17)
--   BaseRegSetValue       (22)
--   BaseRegGetVersion     (26)
-- The aliases (Samba's names for the hive openers) are the same function
-- objects, added to iface.functions at the end of this file; on a client
-- both c:OpenLocalMachine and c:OpenHKLM work.
--
-- Mapping notes (docs/ndr-dsl.md):
-- * RPC_HKEY is `typedef [context_handle] void *`: ndr.context_handle by
--   value, ndr.ref(ndr.context_handle) for PRPC_HKEY ([out] / [in,out]).
-- * PREGISTRY_SERVER_NAME is `[handle] wchar_t *`: a unique pointer to ONE
--   wchar_t (not a string) -> ndr.unique(ndr.wchar_t); clients send NULL (nil).
-- * RRP_UNICODE_STRING has the wire form of RPC_UNICODE_STRING, but [MS-RRP]
--   2.2.4 wants Length and MaximumLength to count the terminating NUL, and
--   BaseRegEnumKey / BaseRegEnumValue pass an empty buffer (Length 0,
--   MaximumLength = its size) for the server to fill. ndr.RPC_UNICODE_STRING
--   always sends Length = MaximumLength = the text without a NUL, so it is
--   described field by field here: the Lua value is
--   { Length = n, MaximumLength = m, Buffer = "text\0" } (Buffer holds the
--   NUL as a character). helpers.ustr("SOFTWARE") builds one with the NUL
--   counted, helpers.ubuf(bytes) an empty buffer, helpers.str(v) reads one
--   back without the NUL. The [out] PRPC_UNICODE_STRING parameters
--   (lpValueNameOut, lpClassOut, *lplpClassOut) use the same description so
--   Length and MaximumLength are kept as sent.
-- * BaseRegQueryValue / BaseRegEnumValue lpData is
--   `[size_is(lpcbData ? *lpcbData : 0), length_is(lpcbLen ? *lpcbLen : 0)]`:
--   the DSL has no `?:`, so size_is = "*lpcbData", length_is = "*lpcbLen"
--   (an expression naming a nil parameter counts as unknown: the array's own
--   length is used, which is what the IDL's 0 means for a NULL lpData).
--   The sizes name parameters that come after lpData; on decode the counts are
--   then taken from the wire, and they are checked on encode.
-- * LPBYTE data is a Lua string (bytes). helpers.decode_value(type, bytes)
--   and helpers.encode_value(type, value) convert by REG_* type.
--
-- Helpers (winreg.helpers, also dcerpc.interface("winreg").helpers):
--   ustr(s)                  RRP_UNICODE_STRING for s (nil s: NULL Buffer, 0/0)
--   ubuf(nbytes)             an empty RRP_UNICODE_STRING buffer of nbytes
--   str(v)                   the text of an RRP_UNICODE_STRING value, NUL dropped
--   decode_value(type, data) REG_SZ / REG_EXPAND_SZ -> string (UTF-8, cut at
--                            the first NUL), REG_MULTI_SZ -> list of strings,
--                            REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD ->
--                            integer, anything else -> the bytes;
--                            nil, message on malformed data
--   encode_value(type, v)    the reverse (for BaseRegSetValue); raises on a
--                            value that does not fit the type
--   query_value(c, hKey, name [, size])  BaseRegQueryValue with the buffer
--                            grown on ERROR_MORE_DATA -> value, type, bytes
--                            | nil, err
--   set_value(c, hKey, name, type, v)    BaseRegSetValue with encode_value

local ndr = require "dcerpc.ndr"
local utf16 = require "dcerpc.utf16"

local DWORD = ndr.uint32
local USHORT = ndr.uint16
local REGSAM = ndr.uint32
local HKEY = ndr.context_handle
local error_status_t = ndr.WERROR   -- error_status_t carrying Win32 error codes

-- RRP_UNICODE_STRING (MS-RRP 2.2.4), RPC_UNICODE_STRING wire form with the NUL counted
local RRP_UNICODE_STRING = ndr.struct "RRP_UNICODE_STRING" {
  { "Length",        USHORT },
  { "MaximumLength", USHORT },
  { "Buffer", ndr.unique(ndr.wchars { size_is = "MaximumLength/2", length_is = "Length/2" }) },
}

-- RPC_SECURITY_DESCRIPTOR / RPC_SECURITY_ATTRIBUTES (MS-RRP 2.2.8, 2.2.7)
local RPC_SECURITY_DESCRIPTOR = ndr.struct "RPC_SECURITY_DESCRIPTOR" {
  { "lpSecurityDescriptor", ndr.unique(ndr.array(ndr.uint8,
      { size_is = "cbInSecurityDescriptor", length_is = "cbOutSecurityDescriptor" })) },
  { "cbInSecurityDescriptor",  DWORD },
  { "cbOutSecurityDescriptor", DWORD },
}

local RPC_SECURITY_ATTRIBUTES = ndr.struct "RPC_SECURITY_ATTRIBUTES" {
  { "nLength",               DWORD },
  { "RpcSecurityDescriptor", RPC_SECURITY_DESCRIPTOR },
  { "bInheritHandle",        ndr.uint8 },   -- BOOLEAN
}

local function open_hive(opnum, name)
  return ndr.func(opnum, name) {
    { "ServerName", ndr.unique(ndr.wchar_t), "in" },
    { "samDesired", REGSAM, "in" },
    { "phKey",      ndr.ref(HKEY), "out" },
    returns = error_status_t,
  }
end

-- lpData of BaseRegQueryValue / BaseRegEnumValue
local function value_data()
  return ndr.unique(ndr.array(ndr.uint8, { size_is = "*lpcbData", length_is = "*lpcbLen" }))
end

local C = {
  -- REGSAM (MS-RRP 2.2.3)
  KEY_QUERY_VALUE = 0x00000001, KEY_SET_VALUE = 0x00000002, KEY_CREATE_SUB_KEY = 0x00000004,
  KEY_ENUMERATE_SUB_KEYS = 0x00000008, KEY_CREATE_LINK = 0x00000020,
  KEY_WOW64_64KEY = 0x00000100, KEY_WOW64_32KEY = 0x00000200,
  KEY_EXECUTE = 0x00020019, KEY_READ = 0x00020019, KEY_WRITE = 0x00020006,
  KEY_ALL_ACCESS = 0x000F003F, MAXIMUM_ALLOWED = 0x02000000,
  DELETE = 0x00010000, READ_CONTROL = 0x00020000, WRITE_DAC = 0x00040000, WRITE_OWNER = 0x00080000,
  -- value types (MS-RRP 2.2.5)
  REG_NONE = 0, REG_SZ = 1, REG_EXPAND_SZ = 2, REG_BINARY = 3, REG_DWORD = 4,
  REG_DWORD_LITTLE_ENDIAN = 4, REG_DWORD_BIG_ENDIAN = 5, REG_LINK = 6, REG_MULTI_SZ = 7,
  REG_RESOURCE_LIST = 8, REG_FULL_RESOURCE_DESCRIPTOR = 9, REG_RESOURCE_REQUIREMENTS_LIST = 10,
  REG_QWORD = 11, REG_QWORD_LITTLE_ENDIAN = 11,
  -- BaseRegCreateKey / BaseRegOpenKey dwOptions (MS-RRP 3.1.5.7, 3.1.5.15)
  REG_OPTION_NON_VOLATILE = 0x00000000, REG_OPTION_VOLATILE = 0x00000001,
  REG_OPTION_CREATE_LINK = 0x00000002, REG_OPTION_BACKUP_RESTORE = 0x00000004,
  REG_OPTION_OPEN_LINK = 0x00000008,
  -- lpdwDisposition
  REG_CREATED_NEW_KEY = 0x00000001, REG_OPENED_EXISTING_KEY = 0x00000002,
  -- Win32 errors a client meets
  ERROR_SUCCESS = 0, ERROR_FILE_NOT_FOUND = 2, ERROR_ACCESS_DENIED = 5,
  ERROR_INVALID_PARAMETER = 87, ERROR_MORE_DATA = 234, ERROR_NO_MORE_ITEMS = 259,
}

---------------------------------------------------------------- helpers

local H = {}

function H.ustr(s)
  if s == nil then return { Length = 0, MaximumLength = 0 } end
  if type(s) ~= "string" then error("winreg.helpers.ustr: string expected, got " .. type(s), 2) end
  local n = 2 * (utf16.units(s) + 1)
  if n > 0xFFFF then error("winreg.helpers.ustr: string too long for an RRP_UNICODE_STRING", 2) end
  return { Length = n, MaximumLength = n, Buffer = s .. "\0" }
end

function H.ubuf(nbytes)
  nbytes = nbytes or 512
  if math.type(nbytes) ~= "integer" or nbytes < 0 or nbytes > 0xFFFE or nbytes % 2 ~= 0 then
    error("winreg.helpers.ubuf: even byte count 0..65534 expected", 2)
  end
  return { Length = 0, MaximumLength = nbytes, Buffer = "" }
end

function H.str(v)
  if v == nil or v.Buffer == nil then return nil end
  local s = v.Buffer
  local z = s:find("\0", 1, true)
  if z then s = s:sub(1, z - 1) end
  return s
end

local function le32(b, i) return string.unpack("<I4", b, i) end

function H.decode_value(t, data)
  if math.type(t) ~= "integer" then return nil, "value type (integer) expected" end
  if type(data) ~= "string" then return nil, "value data (string) expected, got " .. type(data) end
  if t == C.REG_SZ or t == C.REG_EXPAND_SZ then
    if #data % 2 ~= 0 then return nil, ("REG_SZ data: odd UTF-16 length (%d bytes)"):format(#data) end
    -- up to the first NUL; a string without terminator is taken whole
    local k = 1
    while k < #data do
      if data:byte(k) == 0 and data:byte(k + 1) == 0 then break end
      k = k + 2
    end
    return (utf16.decode(data:sub(1, k - 1)))
  elseif t == C.REG_MULTI_SZ then
    if #data % 2 ~= 0 then return nil, ("REG_MULTI_SZ data: odd UTF-16 length (%d bytes)"):format(#data) end
    local list, i = {}, 1
    while i <= #data do
      if data:byte(i) == 0 and data:byte(i + 1) == 0 then break end   -- the empty string ends the list
      local s, nexti = utf16.decode_at(data, i, #data)
      if not s then
        return nil, ("REG_MULTI_SZ data: string %d at offset %d is not terminated"):format(#list + 1, i - 1)
      end
      list[#list + 1] = s
      i = nexti
    end
    return list
  elseif t == C.REG_DWORD then
    if #data ~= 4 then return nil, ("REG_DWORD data: 4 bytes expected, got %d"):format(#data) end
    return (le32(data, 1))
  elseif t == C.REG_DWORD_BIG_ENDIAN then
    if #data ~= 4 then return nil, ("REG_DWORD_BIG_ENDIAN data: 4 bytes expected, got %d"):format(#data) end
    return (string.unpack(">I4", data))
  elseif t == C.REG_QWORD then
    if #data ~= 8 then return nil, ("REG_QWORD data: 8 bytes expected, got %d"):format(#data) end
    return (string.unpack("<i8", data))
  end
  return data
end

local function check_text(s, what)
  if type(s) ~= "string" then error(what .. ": string expected, got " .. type(s), 3) end
  if s:find("\0", 1, true) then error(what .. ": string contains a NUL", 3) end
  if not utf8.len(s) then error(what .. ": invalid UTF-8 text", 3) end
end

local function check_int(v, lo, hi, what)
  if math.type(v) ~= "integer" then error(what .. ": integer expected, got " .. (math.type(v) or type(v)), 3) end
  if v < lo or v > hi then error(("%s: %d out of range"):format(what, v), 3) end
end

function H.encode_value(t, v)
  if math.type(t) ~= "integer" then error("winreg.helpers.encode_value: value type (integer) expected", 2) end
  if t == C.REG_SZ or t == C.REG_EXPAND_SZ then
    check_text(v, "REG_SZ value")
    return utf16.encode(v) .. "\0\0"
  elseif t == C.REG_MULTI_SZ then
    if type(v) ~= "table" then error("REG_MULTI_SZ value: list of strings expected, got " .. type(v), 2) end
    local parts = {}
    for i, s in ipairs(v) do
      check_text(s, "REG_MULTI_SZ value[" .. i .. "]")
      if s == "" then error("REG_MULTI_SZ value[" .. i .. "]: empty string (it would end the list)", 2) end
      parts[#parts + 1] = utf16.encode(s) .. "\0\0"
    end
    parts[#parts + 1] = "\0\0"
    return table.concat(parts)
  elseif t == C.REG_DWORD then
    check_int(v, -0x80000000, 0xFFFFFFFF, "REG_DWORD value")
    return string.pack("<I4", v & 0xFFFFFFFF)
  elseif t == C.REG_DWORD_BIG_ENDIAN then
    check_int(v, -0x80000000, 0xFFFFFFFF, "REG_DWORD_BIG_ENDIAN value")
    return string.pack(">I4", v & 0xFFFFFFFF)
  elseif t == C.REG_QWORD then
    check_int(v, math.mininteger, math.maxinteger, "REG_QWORD value")
    return string.pack("<i8", v)
  end
  if type(v) ~= "string" then error("registry value of type " .. t .. ": bytes (string) expected, got " .. type(v), 2) end
  return v
end

-- BaseRegQueryValue, growing the buffer while the server says ERROR_MORE_DATA
function H.query_value(c, hKey, name, size)
  size = size or 1024
  for _ = 1, 8 do
    local r, e, partial = c:BaseRegQueryValue { hKey = hKey, lpValueName = H.ustr(name),
      lpType = 0, lpData = "", lpcbData = size, lpcbLen = 0 }
    local res = r or partial
    if res and res.result == C.ERROR_MORE_DATA and (res.lpcbData or 0) > size then
      size = res.lpcbData
    elseif not r then
      return nil, e
    elseif r.result == C.ERROR_MORE_DATA then
      size = size * 2
    else
      local data = r.lpData or ""
      local v, de = H.decode_value(r.lpType or C.REG_NONE, data)
      if v == nil then return nil, de end
      return v, r.lpType, data
    end
  end
  return nil, "BaseRegQueryValue: the value keeps growing"
end

function H.set_value(c, hKey, name, t, v)
  local data = H.encode_value(t, v)
  return c:BaseRegSetValue { hKey = hKey, lpValueName = H.ustr(name), dwType = t, lpData = data, cbData = #data }
end

---------------------------------------------------------------- interface

local iface = ndr.interface {
  name = "winreg",
  uuid = "338cd001-2244-31f1-aaaa-900038001003", version = "1.0",
  types = {
    RRP_UNICODE_STRING = RRP_UNICODE_STRING,
    RPC_SECURITY_DESCRIPTOR = RPC_SECURITY_DESCRIPTOR,
    RPC_SECURITY_ATTRIBUTES = RPC_SECURITY_ATTRIBUTES,
  },
  constants = C,
  helpers = H,

  -- MS-RRP 3.1.5.1 .. 3.1.5.5
  open_hive(0, "OpenClassesRoot"),
  open_hive(1, "OpenCurrentUser"),
  open_hive(2, "OpenLocalMachine"),
  open_hive(4, "OpenUsers"),

  -- 3.1.5.6
  ndr.func(5, "BaseRegCloseKey") {
    { "hKey", ndr.ref(HKEY), "in,out" },
    returns = error_status_t,
  },

  -- 3.1.5.7
  ndr.func(6, "BaseRegCreateKey") {
    { "hKey",                 HKEY, "in" },
    { "lpSubKey",             ndr.ref(RRP_UNICODE_STRING), "in" },
    { "lpClass",              ndr.ref(RRP_UNICODE_STRING), "in" },
    { "dwOptions",            DWORD, "in" },
    { "samDesired",           REGSAM, "in" },
    { "lpSecurityAttributes", ndr.unique(RPC_SECURITY_ATTRIBUTES), "in" },
    { "phkResult",            ndr.ref(HKEY), "out" },
    { "lpdwDisposition",      ndr.unique(DWORD), "in,out" },
    returns = error_status_t,
  },

  -- 3.1.5.8
  ndr.func(7, "BaseRegDeleteKey") {
    { "hKey",     HKEY, "in" },
    { "lpSubKey", ndr.ref(RRP_UNICODE_STRING), "in" },
    returns = error_status_t,
  },

  -- 3.1.5.9
  ndr.func(8, "BaseRegDeleteValue") {
    { "hKey",        HKEY, "in" },
    { "lpValueName", ndr.ref(RRP_UNICODE_STRING), "in" },
    returns = error_status_t,
  },

  -- 3.1.5.10
  ndr.func(9, "BaseRegEnumKey") {
    { "hKey",              HKEY, "in" },
    { "dwIndex",           DWORD, "in" },
    { "lpNameIn",          ndr.ref(RRP_UNICODE_STRING), "in" },
    { "lpNameOut",         ndr.ref(RRP_UNICODE_STRING), "out" },
    { "lpClassIn",         ndr.unique(RRP_UNICODE_STRING), "in" },
    { "lplpClassOut",      ndr.ref(ndr.unique(RRP_UNICODE_STRING)), "out" },
    { "lpftLastWriteTime", ndr.unique(ndr.FILETIME), "in,out" },
    returns = error_status_t,
  },

  -- 3.1.5.11
  ndr.func(10, "BaseRegEnumValue") {
    { "hKey",           HKEY, "in" },
    { "dwIndex",        DWORD, "in" },
    { "lpValueNameIn",  ndr.ref(RRP_UNICODE_STRING), "in" },
    { "lpValueNameOut", ndr.ref(RRP_UNICODE_STRING), "out" },
    { "lpType",         ndr.unique(DWORD), "in,out" },
    { "lpData",         value_data(), "in,out" },
    { "lpcbData",       ndr.unique(DWORD), "in,out" },
    { "lpcbLen",        ndr.unique(DWORD), "in,out" },
    returns = error_status_t,
  },

  -- 3.1.5.12
  ndr.func(11, "BaseRegFlushKey") {
    { "hKey", HKEY, "in" },
    returns = error_status_t,
  },

  -- 3.1.5.15
  ndr.func(15, "BaseRegOpenKey") {
    { "hKey",       HKEY, "in" },
    { "lpSubKey",   ndr.ref(RRP_UNICODE_STRING), "in" },
    { "dwOptions",  DWORD, "in" },
    { "samDesired", REGSAM, "in" },
    { "phkResult",  ndr.ref(HKEY), "out" },
    returns = error_status_t,
  },

  -- 3.1.5.16
  ndr.func(16, "BaseRegQueryInfoKey") {
    { "hKey",                   HKEY, "in" },
    { "lpClassIn",              ndr.ref(RRP_UNICODE_STRING), "in" },
    { "lpClassOut",             ndr.ref(RRP_UNICODE_STRING), "out" },
    { "lpcSubKeys",             ndr.ref(DWORD), "out" },
    { "lpcbMaxSubKeyLen",       ndr.ref(DWORD), "out" },
    { "lpcbMaxClassLen",        ndr.ref(DWORD), "out" },
    { "lpcValues",              ndr.ref(DWORD), "out" },
    { "lpcbMaxValueNameLen",    ndr.ref(DWORD), "out" },
    { "lpcbMaxValueLen",        ndr.ref(DWORD), "out" },
    { "lpcbSecurityDescriptor", ndr.ref(DWORD), "out" },
    { "lpftLastWriteTime",      ndr.ref(ndr.FILETIME), "out" },
    returns = error_status_t,
  },

  -- 3.1.5.17
  ndr.func(17, "BaseRegQueryValue") {
    { "hKey",        HKEY, "in" },
    { "lpValueName", ndr.ref(RRP_UNICODE_STRING), "in" },
    { "lpType",      ndr.unique(DWORD), "in,out" },
    { "lpData",      value_data(), "in,out" },
    { "lpcbData",    ndr.unique(DWORD), "in,out" },
    { "lpcbLen",     ndr.unique(DWORD), "in,out" },
    returns = error_status_t,
  },

  -- 3.1.5.22
  ndr.func(22, "BaseRegSetValue") {
    { "hKey",        HKEY, "in" },
    { "lpValueName", ndr.ref(RRP_UNICODE_STRING), "in" },
    { "dwType",      DWORD, "in" },
    { "lpData",      ndr.ref(ndr.array(ndr.uint8, { size_is = "cbData" })), "in" },
    { "cbData",      DWORD, "in" },
    returns = error_status_t,
  },

  -- 3.1.5.25
  ndr.func(26, "BaseRegGetVersion") {
    { "hKey",        HKEY, "in" },
    { "lpdwVersion", ndr.ref(DWORD), "out" },
    returns = error_status_t,
  },
}

for alias, name in pairs {
  OpenHKCR = "OpenClassesRoot", OpenHKCU = "OpenCurrentUser",
  OpenHKLM = "OpenLocalMachine", OpenHKU = "OpenUsers",
} do
  iface.functions[alias] = iface.functions[name]
end

return iface
