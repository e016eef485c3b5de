-- srvsvc: Server Service Remote Protocol ([MS-SRVS]).
--
-- uuid 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0.
-- Names (functions, parameters, structure fields, union arms) follow the IDL of
-- [MS-SRVS] section 6 ("Appendix A: Full IDL") so the spec can be read beside a
-- script. Covered so far:
--   NetrShareEnum      (15) levels 0, 1, 2, 501, 502
--   NetrShareGetInfo   (16) levels 0, 1, 2, 501, 502, 1004, 1005, 1006
--   NetrServerGetInfo  (21) levels 100, 101, 102
-- Other levels are not described yet: their arms are absent from the unions
-- ([MS-SRVS] declares no [default] arm), so they are refused on encode and
-- give a decode error, rather than being misread.
--
-- Notes on the mapping to the DSL (docs/ndr-dsl.md):
-- * SRVSVC_HANDLE is `typedef [handle, string] wchar_t *SRVSVC_HANDLE` and every
--   method takes it as `[in, string, unique] SRVSVC_HANDLE ServerName`: a unique
--   pointer to a conformant varying UTF-16 string -> ndr.unique(ndr.wstring).
--   (Being a customised binding handle has no wire effect.)
-- * `[string] wchar_t *x` inside a structure (pointer_default(unique)) ->
--   ndr.unique(ndr.wstring).
-- * `[size_is(n)] LPSHARE_INFO_1 Buffer` (pointer to an array) ->
--   ndr.unique(ndr.array(T, { size_is = "n" })).
-- * LPSHARE_INFO (the [out] InfoStruct of NetrShareGetInfo) is a top-level
--   pointer parameter: [ref] by default, so no referent id; the switch_is on the
--   parameter selects the arm of the non-encapsulated union it points to.

local ndr = require "dcerpc.ndr"

local wstr = ndr.unique(ndr.wstring)      -- [string] wchar_t *  (LMSTR on the wire)
local DWORD = ndr.uint32

-- SHARE_INFO_* (MS-SRVS 2.2.4.22 .. 2.2.4.29) ------------------------------

local SHARE_INFO_0 = ndr.struct "SHARE_INFO_0" {
  { "shi0_netname", wstr },
}

local SHARE_INFO_1 = ndr.struct "SHARE_INFO_1" {
  { "shi1_netname", wstr },
  { "shi1_type",    DWORD },
  { "shi1_remark",  wstr },
}

local SHARE_INFO_2 = ndr.struct "SHARE_INFO_2" {
  { "shi2_netname",       wstr },
  { "shi2_type",          DWORD },
  { "shi2_remark",        wstr },
  { "shi2_permissions",   DWORD },
  { "shi2_max_uses",      DWORD },
  { "shi2_current_uses",  DWORD },
  { "shi2_path",          wstr },
  { "shi2_passwd",        wstr },
}

local SHARE_INFO_501 = ndr.struct "SHARE_INFO_501" {
  { "shi501_netname", wstr },
  { "shi501_type",    DWORD },
  { "shi501_remark",  wstr },
  { "shi501_flags",   DWORD },
}

-- shi502_security_descriptor: `[size_is(shi502_reserved)] unsigned char *`,
-- a self-relative SECURITY_DESCRIPTOR as raw bytes (a Lua string).
local SHARE_INFO_502_I = ndr.struct "SHARE_INFO_502_I" {
  { "shi502_netname",             wstr },
  { "shi502_type",                DWORD },
  { "shi502_remark",              wstr },
  { "shi502_permissions",         DWORD },
  { "shi502_max_uses",            DWORD },
  { "shi502_current_uses",        DWORD },
  { "shi502_path",                wstr },
  { "shi502_passwd",              wstr },
  { "shi502_reserved",            DWORD },
  { "shi502_security_descriptor",
    ndr.unique(ndr.array(ndr.uint8, { size_is = "shi502_reserved" })) },
}

local SHARE_INFO_1004 = ndr.struct "SHARE_INFO_1004" {
  { "shi1004_remark", wstr },
}

local SHARE_INFO_1005 = ndr.struct "SHARE_INFO_1005" {
  { "shi1005_flags", DWORD },
}

local SHARE_INFO_1006 = ndr.struct "SHARE_INFO_1006" {
  { "shi1006_max_uses", DWORD },
}

-- Containers (MS-SRVS 2.2.4.32 .. 2.2.4.37) -------------------------------

local function container(name, T)
  return ndr.struct(name) {
    { "EntriesRead", DWORD },
    { "Buffer", ndr.unique(ndr.array(T, { size_is = "EntriesRead" })) },
  }
end

local SHARE_INFO_0_CONTAINER   = container("SHARE_INFO_0_CONTAINER", SHARE_INFO_0)
local SHARE_INFO_1_CONTAINER   = container("SHARE_INFO_1_CONTAINER", SHARE_INFO_1)
local SHARE_INFO_2_CONTAINER   = container("SHARE_INFO_2_CONTAINER", SHARE_INFO_2)
local SHARE_INFO_501_CONTAINER = container("SHARE_INFO_501_CONTAINER", SHARE_INFO_501)
local SHARE_INFO_502_CONTAINER = container("SHARE_INFO_502_CONTAINER", SHARE_INFO_502_I)

-- SHARE_ENUM_UNION / SHARE_ENUM_STRUCT (MS-SRVS 2.2.3.5, 2.2.4.38) ------------

local SHARE_ENUM_UNION = ndr.union "SHARE_ENUM_UNION" {
  switch_type = DWORD,
  [0]   = { "Level0",   ndr.unique(SHARE_INFO_0_CONTAINER) },
  [1]   = { "Level1",   ndr.unique(SHARE_INFO_1_CONTAINER) },
  [2]   = { "Level2",   ndr.unique(SHARE_INFO_2_CONTAINER) },
  [501] = { "Level501", ndr.unique(SHARE_INFO_501_CONTAINER) },
  [502] = { "Level502", ndr.unique(SHARE_INFO_502_CONTAINER) },
  -- [503] Level503 (SHARE_INFO_503_CONTAINER): not described yet.
}

local SHARE_ENUM_STRUCT = ndr.struct "SHARE_ENUM_STRUCT" {
  { "Level",     DWORD },
  { "ShareInfo", SHARE_ENUM_UNION, switch_is = "Level" },
}

-- SHARE_INFO union (MS-SRVS 2.2.3.6) ----------------------------------------

local SHARE_INFO = ndr.union "SHARE_INFO" {
  switch_type = DWORD,
  [0]    = { "ShareInfo0",    ndr.unique(SHARE_INFO_0) },
  [1]    = { "ShareInfo1",    ndr.unique(SHARE_INFO_1) },
  [2]    = { "ShareInfo2",    ndr.unique(SHARE_INFO_2) },
  [501]  = { "ShareInfo501",  ndr.unique(SHARE_INFO_501) },
  [502]  = { "ShareInfo502",  ndr.unique(SHARE_INFO_502_I) },
  [1004] = { "ShareInfo1004", ndr.unique(SHARE_INFO_1004) },
  [1005] = { "ShareInfo1005", ndr.unique(SHARE_INFO_1005) },
  [1006] = { "ShareInfo1006", ndr.unique(SHARE_INFO_1006) },
  -- 503, 1501: not described yet.
}

-- SERVER_INFO_* (MS-SRVS 2.2.4.40 .. 2.2.4.42) and SERVER_INFO (2.2.3.7) ------

local SERVER_INFO_100 = ndr.struct "SERVER_INFO_100" {
  { "sv100_platform_id", DWORD },
  { "sv100_name",        wstr },
}

local SERVER_INFO_101 = ndr.struct "SERVER_INFO_101" {
  { "sv101_platform_id",   DWORD },
  { "sv101_name",          wstr },
  { "sv101_version_major", DWORD },
  { "sv101_version_minor", DWORD },
  { "sv101_type",          DWORD },
  { "sv101_comment",       wstr },
}

local SERVER_INFO_102 = ndr.struct "SERVER_INFO_102" {
  { "sv102_platform_id",   DWORD },
  { "sv102_name",          wstr },
  { "sv102_version_major", DWORD },
  { "sv102_version_minor", DWORD },
  { "sv102_type",          DWORD },
  { "sv102_comment",       wstr },
  { "sv102_users",         DWORD },
  { "sv102_disc",          ndr.int32 },   -- long
  { "sv102_hidden",        ndr.int32 },   -- int (BOOL)
  { "sv102_announce",      DWORD },
  { "sv102_anndelta",      DWORD },
  { "sv102_licenses",      DWORD },
  { "sv102_userpath",      wstr },
}

local SERVER_INFO = ndr.union "SERVER_INFO" {
  switch_type = DWORD,
  [100] = { "ServerInfo100", ndr.unique(SERVER_INFO_100) },
  [101] = { "ServerInfo101", ndr.unique(SERVER_INFO_101) },
  [102] = { "ServerInfo102", ndr.unique(SERVER_INFO_102) },
  -- 103, 502, 503, 599, 1005, ...: not described yet.
}

return ndr.interface {
  name = "srvsvc",
  uuid = "4b324fc8-1670-01d3-1278-5a47bf6ee188", version = "3.0",
  types = {
    SHARE_INFO_0 = SHARE_INFO_0, SHARE_INFO_1 = SHARE_INFO_1, SHARE_INFO_2 = SHARE_INFO_2,
    SHARE_INFO_501 = SHARE_INFO_501, SHARE_INFO_502_I = SHARE_INFO_502_I,
    SHARE_INFO_1004 = SHARE_INFO_1004, SHARE_INFO_1005 = SHARE_INFO_1005,
    SHARE_INFO_1006 = SHARE_INFO_1006,
    SHARE_INFO_0_CONTAINER = SHARE_INFO_0_CONTAINER,
    SHARE_INFO_1_CONTAINER = SHARE_INFO_1_CONTAINER,
    SHARE_INFO_2_CONTAINER = SHARE_INFO_2_CONTAINER,
    SHARE_INFO_501_CONTAINER = SHARE_INFO_501_CONTAINER,
    SHARE_INFO_502_CONTAINER = SHARE_INFO_502_CONTAINER,
    SHARE_ENUM_UNION = SHARE_ENUM_UNION, SHARE_ENUM_STRUCT = SHARE_ENUM_STRUCT,
    SHARE_INFO = SHARE_INFO,
    SERVER_INFO_100 = SERVER_INFO_100, SERVER_INFO_101 = SERVER_INFO_101,
    SERVER_INFO_102 = SERVER_INFO_102, SERVER_INFO = SERVER_INFO,
  },
  -- kept on the interface object by ndr.interface (extra keys are kept)
  constants = {
    -- shi*_type ([MS-SRVS] 2.2.2.4)
    STYPE_DISKTREE = 0x00000000, STYPE_PRINTQ = 0x00000001, STYPE_DEVICE = 0x00000002,
    STYPE_IPC = 0x00000003, STYPE_CLUSTER_FS = 0x02000000, STYPE_CLUSTER_SOFS = 0x04000000,
    STYPE_CLUSTER_DFS = 0x08000000, STYPE_TEMPORARY = 0x40000000, STYPE_SPECIAL = 0x80000000,
    -- sv*_platform_id ([MS-SRVS] 2.2.2.6)
    PLATFORM_ID_DOS = 300, PLATFORM_ID_OS2 = 400, PLATFORM_ID_NT = 500,
    PLATFORM_ID_OSF = 600, PLATFORM_ID_VMS = 700,
    -- sv*_type bits ([MS-SRVS] 2.2.2.7)
    SV_TYPE_WORKSTATION = 0x00000001, SV_TYPE_SERVER = 0x00000002,
    SV_TYPE_SQLSERVER = 0x00000004, SV_TYPE_DOMAIN_CTRL = 0x00000008,
    SV_TYPE_DOMAIN_BAKCTRL = 0x00000010, SV_TYPE_TIME_SOURCE = 0x00000020,
    SV_TYPE_AFP = 0x00000040, SV_TYPE_NOVELL = 0x00000080,
    SV_TYPE_DOMAIN_MEMBER = 0x00000100, SV_TYPE_PRINTQ_SERVER = 0x00000200,
    SV_TYPE_DIALIN_SERVER = 0x00000400, SV_TYPE_SERVER_UNIX = 0x00000800,
    SV_TYPE_NT = 0x00001000, SV_TYPE_WFW = 0x00002000, SV_TYPE_SERVER_MFPN = 0x00004000,
    SV_TYPE_SERVER_NT = 0x00008000, SV_TYPE_POTENTIAL_BROWSER = 0x00010000,
    SV_TYPE_BACKUP_BROWSER = 0x00020000, SV_TYPE_MASTER_BROWSER = 0x00040000,
    SV_TYPE_DOMAIN_MASTER = 0x00080000, SV_TYPE_SERVER_OSF = 0x00100000,
    SV_TYPE_SERVER_VMS = 0x00200000, SV_TYPE_WINDOWS = 0x00400000, SV_TYPE_DFS = 0x00800000,
    SV_TYPE_CLUSTER_NT = 0x01000000, SV_TYPE_TERMINALSERVER = 0x02000000,
    SV_TYPE_CLUSTER_VS_NT = 0x04000000, SV_TYPE_DCE = 0x10000000,
    SV_TYPE_ALTERNATE_XPORT = 0x20000000, SV_TYPE_LOCAL_LIST_ONLY = 0x40000000,
    SV_TYPE_DOMAIN_ENUM = 0x80000000,
  },

  -- MS-SRVS 3.1.4.8
  ndr.func(15, "NetrShareEnum") {
    { "ServerName",            wstr, "in" },
    { "InfoStruct",            ndr.ref(SHARE_ENUM_STRUCT), "in,out" },
    { "PreferedMaximumLength", DWORD, "in" },
    { "TotalEntries",          ndr.ref(DWORD), "out" },
    { "ResumeHandle",          ndr.unique(DWORD), "in,out" },
    returns = ndr.WERROR,   -- NET_API_STATUS
  },

  -- MS-SRVS 3.1.4.10
  ndr.func(16, "NetrShareGetInfo") {
    { "ServerName", wstr, "in" },
    { "NetName",    ndr.ref(ndr.wstring), "in" },   -- [in, string] WCHAR *
    { "Level",      DWORD, "in" },
    { "InfoStruct", ndr.ref(SHARE_INFO), "out", switch_is = "Level" },
    returns = ndr.WERROR,
  },

  -- MS-SRVS 3.1.4.17
  ndr.func(21, "NetrServerGetInfo") {
    { "ServerName", wstr, "in" },
    { "Level",      DWORD, "in" },
    { "InfoStruct", ndr.ref(SERVER_INFO), "out", switch_is = "Level" },
    returns = ndr.WERROR,
  },
}
