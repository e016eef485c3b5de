-- svcctl: Service Control Manager Remote Protocol ([MS-SCMR]).
--
-- uuid 367abb81-9844-35f1-ad32-98f038001003 v2.0.
-- Names (functions, parameters, structure fields) follow the IDL of [MS-SCMR]
-- section 6 ("Appendix A: Full IDL"). Covered so far:
--   RCloseServiceHandle   (0)
--   RControlService       (1)
--   RQueryServiceStatus   (6)
--   REnumServicesStatusW  (14)
--   ROpenSCManagerW       (15)
--   ROpenServiceW         (16)
--   RQueryServiceConfigW  (17)
--   RStartServiceW        (19)
--
-- Mapping notes (docs/ndr-dsl.md):
-- * SC_RPC_HANDLE is `typedef [context_handle] void *`: ndr.context_handle by
--   value, ndr.ref(ndr.context_handle) for LPSC_RPC_HANDLE.
-- * SVCCTL_HANDLEW is `[handle, string] wchar_t *`, passed as
--   `[in, string, unique]` -> ndr.unique(ndr.wstring); `[in, string]
--   wchar_t *lpServiceName` (a top-level [ref]) -> ndr.ref(ndr.wstring).
-- * The functions return DWORD Win32 error codes -> ndr.WERROR, so an error
--   gives nil, err, results and ERROR_MORE_DATA (234) does not.
-- * REnumServicesStatusW's lpBuffer is `[out, size_is(cbBufSize)] LPBYTE`: a
--   Lua string of bytes holding lpServicesReturned ENUM_SERVICE_STATUSW
--   entries (36 bytes: two DWORD offsets, from the start of the buffer, to
--   NUL-terminated UTF-16LE strings, then a SERVICE_STATUS) and the strings.
--   helpers.decode_enum_buffer turns it into Lua values, checking every
--   offset; helpers.enum_services pages through with the resume handle.
-- * LPSTRING_PTRSW argv of RStartServiceW: `[size_is(argc)]` array of
--   STRING_PTRSW { [string] wchar_t *StringPtr } -> { { StringPtr = "..." }, ... }.
-- * [range] on DWORD parameters (cbBufSize, argc) is enforced by the server;
--   only the descriptions' values matter on the wire.
--
-- Helpers (svcctl.helpers):
--   decode_enum_buffer(bytes, count) -> list of { ServiceName, DisplayName,
--        ServiceStatus = { dwServiceType, dwCurrentState, ... } } | nil, message
--   enum_services(c, hSCManager [, dwServiceType [, dwServiceState [, bufsize]]])
--        REnumServicesStatusW until the last page (ERROR_MORE_DATA with
--        lpResumeIndex), the buffer grown when not even one entry fits
--        -> list | nil, err

local ndr = require "dcerpc.ndr"
local utf16 = require "dcerpc.utf16"

local DWORD = ndr.uint32
local HANDLE = ndr.context_handle
local wstr = ndr.unique(ndr.wstring)

local SERVICE_STATUS = ndr.struct "SERVICE_STATUS" {
  { "dwServiceType",             DWORD },
  { "dwCurrentState",            DWORD },
  { "dwControlsAccepted",        DWORD },
  { "dwWin32ExitCode",           DWORD },
  { "dwServiceSpecificExitCode", DWORD },
  { "dwCheckPoint",              DWORD },
  { "dwWaitHint",                DWORD },
}

local QUERY_SERVICE_CONFIGW = ndr.struct "QUERY_SERVICE_CONFIGW" {
  { "dwServiceType",      DWORD },
  { "dwStartType",        DWORD },
  { "dwErrorControl",     DWORD },
  { "lpBinaryPathName",   wstr },
  { "lpLoadOrderGroup",   wstr },
  { "dwTagId",            DWORD },
  { "lpDependencies",     wstr },
  { "lpServiceStartName", wstr },
  { "lpDisplayName",      wstr },
}

local STRING_PTRSW = ndr.struct "STRING_PTRSW" {
  { "StringPtr", wstr },
}

local C = {
  -- SCM access rights ([MS-SCMR] 3.1.4)
  SC_MANAGER_CONNECT = 0x0001, SC_MANAGER_CREATE_SERVICE = 0x0002,
  SC_MANAGER_ENUMERATE_SERVICE = 0x0004, SC_MANAGER_LOCK = 0x0008,
  SC_MANAGER_QUERY_LOCK_STATUS = 0x0010, SC_MANAGER_MODIFY_BOOT_CONFIG = 0x0020,
  SC_MANAGER_ALL_ACCESS = 0x000F003F,
  -- service access rights
  SERVICE_QUERY_CONFIG = 0x0001, SERVICE_CHANGE_CONFIG = 0x0002, SERVICE_QUERY_STATUS = 0x0004,
  SERVICE_ENUMERATE_DEPENDENTS = 0x0008, SERVICE_START = 0x0010, SERVICE_STOP = 0x0020,
  SERVICE_PAUSE_CONTINUE = 0x0040, SERVICE_INTERROGATE = 0x0080,
  SERVICE_USER_DEFINED_CONTROL = 0x0100, SERVICE_ALL_ACCESS = 0x000F01FF,
  MAXIMUM_ALLOWED = 0x02000000, DELETE = 0x00010000, READ_CONTROL = 0x00020000,
  -- dwServiceType (2.2.47)
  SERVICE_KERNEL_DRIVER = 0x01, SERVICE_FILE_SYSTEM_DRIVER = 0x02, SERVICE_DRIVER = 0x0B,
  SERVICE_WIN32_OWN_PROCESS = 0x10, SERVICE_WIN32_SHARE_PROCESS = 0x20, SERVICE_WIN32 = 0x30,
  SERVICE_INTERACTIVE_PROCESS = 0x100, SERVICE_TYPE_ALL = 0x3F,
  -- dwServiceState of REnumServicesStatusW (3.1.4.14)
  SERVICE_ACTIVE = 0x01, SERVICE_INACTIVE = 0x02, SERVICE_STATE_ALL = 0x03,
  -- dwCurrentState (2.2.47)
  SERVICE_STOPPED = 1, SERVICE_START_PENDING = 2, SERVICE_STOP_PENDING = 3, SERVICE_RUNNING = 4,
  SERVICE_CONTINUE_PENDING = 5, SERVICE_PAUSE_PENDING = 6, SERVICE_PAUSED = 7,
  -- dwControl of RControlService (3.1.4.2)
  SERVICE_CONTROL_STOP = 1, SERVICE_CONTROL_PAUSE = 2, SERVICE_CONTROL_CONTINUE = 3,
  SERVICE_CONTROL_INTERROGATE = 4, SERVICE_CONTROL_PARAMCHANGE = 6,
  SERVICE_CONTROL_NETBINDADD = 7, SERVICE_CONTROL_NETBINDREMOVE = 8,
  SERVICE_CONTROL_NETBINDENABLE = 9, SERVICE_CONTROL_NETBINDDISABLE = 10,
  -- dwStartType (2.2.15)
  SERVICE_BOOT_START = 0, SERVICE_SYSTEM_START = 1, SERVICE_AUTO_START = 2,
  SERVICE_DEMAND_START = 3, SERVICE_DISABLED = 4,
  -- Win32 errors a client meets
  ERROR_ACCESS_DENIED = 5, ERROR_INSUFFICIENT_BUFFER = 122, ERROR_MORE_DATA = 234,
  ERROR_SERVICE_DOES_NOT_EXIST = 1060, ERROR_SERVICE_ALREADY_RUNNING = 1056,
  ERROR_SERVICE_NOT_ACTIVE = 1062,
}

---------------------------------------------------------------- helpers

local H = {}
local ENTRY = 36      -- ENUM_SERVICE_STATUSW in the buffer: 2 offsets + SERVICE_STATUS
local STATUS_FIELDS = { "dwServiceType", "dwCurrentState", "dwControlsAccepted", "dwWin32ExitCode",
                        "dwServiceSpecificExitCode", "dwCheckPoint", "dwWaitHint" }

local function string_at(buf, off, i, what)
  if off % 2 ~= 0 then
    return nil, ("entry %d: %s offset %d is odd"):format(i, what, off)
  end
  if off >= #buf then
    return nil, ("entry %d: %s offset %d is outside the buffer (%d bytes)"):format(i, what, off, #buf)
  end
  local s, err = utf16.decode_at(buf, off + 1, #buf)
  if not s then return nil, ("entry %d: %s: %s"):format(i, what, err) end
  return s
end

function H.decode_enum_buffer(buf, count)
  if type(buf) ~= "string" then return nil, "buffer (string) expected, got " .. type(buf) end
  if math.type(count) ~= "integer" or count < 0 then return nil, "entry count (integer >= 0) expected" end
  if count > #buf // ENTRY then
    return nil, ("%d entries of %d bytes do not fit in the buffer (%d bytes)"):format(count, ENTRY, #buf)
  end
  local list = {}
  for i = 1, count do
    local base = (i - 1) * ENTRY
    local fields = { string.unpack("<I4I4I4I4I4I4I4I4I4", buf, base + 1) }
    local name, err = string_at(buf, fields[1], i, "lpServiceName")
    if not name then return nil, err end
    local display
    display, err = string_at(buf, fields[2], i, "lpDisplayName")
    if not display then return nil, err end
    local st = {}
    for k, f in ipairs(STATUS_FIELDS) do st[f] = fields[k + 2] end
    list[i] = { ServiceName = name, DisplayName = display, ServiceStatus = st }
  end
  return list
end

local MAX_BUF = 256 * 1024     -- cbBufSize's [range(0, 1024*256)]

function H.enum_services(c, h, stype, sstate, size)
  stype = stype or C.SERVICE_WIN32
  sstate = sstate or C.SERVICE_STATE_ALL
  size = size or 16 * 1024
  local all, resume = {}, 0
  for _ = 1, 10000 do
    local r, e = c:REnumServicesStatusW { hSCManager = h, dwServiceType = stype, dwServiceState = sstate,
                                          cbBufSize = size, lpResumeIndex = resume }
    if not r then return nil, e end
    local n = r.lpServicesReturned or 0
    local list, de = H.decode_enum_buffer(r.lpBuffer or "", n)
    if not list then return nil, "REnumServicesStatusW: " .. de end
    for _, s in ipairs(list) do all[#all + 1] = s end
    if r.result ~= C.ERROR_MORE_DATA then return all end
    if n == 0 then
      -- not even one entry fitted: grow to what the server asks for
      local need = r.pcbBytesNeeded or 0
      if need <= size or size >= MAX_BUF then
        return nil, ("REnumServicesStatusW: ERROR_MORE_DATA with no entry (buffer %d, needed %d)"):format(size, need)
      end
      size = math.min(need, MAX_BUF)
    end
    resume = r.lpResumeIndex
    if resume == nil then return nil, "REnumServicesStatusW: ERROR_MORE_DATA without a resume index" end
  end
  return nil, "REnumServicesStatusW: too many pages"
end

---------------------------------------------------------------- interface

return ndr.interface {
  name = "svcctl",
  uuid = "367abb81-9844-35f1-ad32-98f038001003", version = "2.0",
  types = {
    SERVICE_STATUS = SERVICE_STATUS, QUERY_SERVICE_CONFIGW = QUERY_SERVICE_CONFIGW,
    STRING_PTRSW = STRING_PTRSW,
  },
  constants = C,
  helpers = H,

  -- MS-SCMR 3.1.4.1
  ndr.func(0, "RCloseServiceHandle") {
    { "hSCObject", ndr.ref(HANDLE), "in,out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.2
  ndr.func(1, "RControlService") {
    { "hService",        HANDLE, "in" },
    { "dwControl",       DWORD, "in" },
    { "lpServiceStatus", ndr.ref(SERVICE_STATUS), "out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.7
  ndr.func(6, "RQueryServiceStatus") {
    { "hService",        HANDLE, "in" },
    { "lpServiceStatus", ndr.ref(SERVICE_STATUS), "out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.14
  ndr.func(14, "REnumServicesStatusW") {
    { "hSCManager",         HANDLE, "in" },
    { "dwServiceType",      DWORD, "in" },
    { "dwServiceState",     DWORD, "in" },
    { "lpBuffer",           ndr.ref(ndr.array(ndr.uint8, { size_is = "cbBufSize" })), "out" },
    { "cbBufSize",          DWORD, "in" },
    { "pcbBytesNeeded",     ndr.ref(DWORD), "out" },
    { "lpServicesReturned", ndr.ref(DWORD), "out" },
    { "lpResumeIndex",      ndr.unique(DWORD), "in,out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.15
  ndr.func(15, "ROpenSCManagerW") {
    { "lpMachineName",   wstr, "in" },
    { "lpDatabaseName",  wstr, "in" },
    { "dwDesiredAccess", DWORD, "in" },
    { "lpScHandle",      ndr.ref(HANDLE), "out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.16
  ndr.func(16, "ROpenServiceW") {
    { "hSCManager",       HANDLE, "in" },
    { "lpServiceName",    ndr.ref(ndr.wstring), "in" },
    { "dwDesiredAccess",  DWORD, "in" },
    { "lpServiceHandle",  ndr.ref(HANDLE), "out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.17
  ndr.func(17, "RQueryServiceConfigW") {
    { "hService",        HANDLE, "in" },
    { "lpServiceConfig", ndr.ref(QUERY_SERVICE_CONFIGW), "out" },
    { "cbBufSize",       DWORD, "in" },
    { "pcbBytesNeeded",  ndr.ref(DWORD), "out" },
    returns = ndr.WERROR,
  },

  -- 3.1.4.19
  ndr.func(19, "RStartServiceW") {
    { "hService", HANDLE, "in" },
    { "argc",     DWORD, "in" },
    { "argv",     ndr.unique(ndr.array(STRING_PTRSW, { size_is = "argc" })), "in" },
    returns = ndr.WERROR,
  },
}
