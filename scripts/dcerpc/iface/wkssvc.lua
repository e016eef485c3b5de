-- wkssvc: Workstation Service Remote Protocol ([MS-WKST]).
--
-- uuid 6bffd098-a112-3610-9833-46c3f87e345a v1.0.
-- Names follow the IDL of [MS-WKST] section 6 ("Appendix A: Full IDL").
-- Covered so far:
--   NetrWkstaGetInfo   (0) levels 100, 101, 102, 1013, 1018, 1046
--                          (502 not described yet: it falls to the [default]
--                          empty arm, so a 502 reply does not decode fully)
--   NetrWkstaUserEnum  (2) levels 0, 1
--
-- Mapping notes (docs/ndr-dsl.md):
-- * WKSSVC_IDENTIFY_HANDLE is `typedef [handle, string] wchar_t *`, passed as
--   `[in, string, unique]` -> ndr.unique(ndr.wstring).
-- * `[string] wchar_t *` structure members (pointer_default(unique)) ->
--   ndr.unique(ndr.wstring).
-- * The [out] LPWKSTA_INFO WkstaInfo is a top-level [ref] pointer to the
--   non-encapsulated WKSTA_INFO union, switched by the Level parameter.
-- * Return type `unsigned long` carries a NET_API_STATUS (Win32 error code),
--   described as ndr.WERROR (a uint32 on the wire).

local ndr = require "dcerpc.ndr"

local wstr = ndr.unique(ndr.wstring)
local ULONG = ndr.uint32

-- WKSTA_INFO_* (MS-WKST 2.2.5.1 .. 2.2.5.7) ---------------------------------

local WKSTA_INFO_100 = ndr.struct "WKSTA_INFO_100" {
  { "wki100_platform_id",  ULONG },
  { "wki100_computername", wstr },
  { "wki100_langroup",     wstr },
  { "wki100_ver_major",    ULONG },
  { "wki100_ver_minor",    ULONG },
}

local WKSTA_INFO_101 = ndr.struct "WKSTA_INFO_101" {
  { "wki101_platform_id",  ULONG },
  { "wki101_computername", wstr },
  { "wki101_langroup",     wstr },
  { "wki101_ver_major",    ULONG },
  { "wki101_ver_minor",    ULONG },
  { "wki101_lanroot",      wstr },
}

local WKSTA_INFO_102 = ndr.struct "WKSTA_INFO_102" {
  { "wki102_platform_id",     ULONG },
  { "wki102_computername",    wstr },
  { "wki102_langroup",        wstr },
  { "wki102_ver_major",       ULONG },
  { "wki102_ver_minor",       ULONG },
  { "wki102_lanroot",         wstr },
  { "wki102_logged_on_users", ULONG },
}

local WKSTA_INFO_1013 = ndr.struct "WKSTA_INFO_1013" {
  { "wki1013_keep_conn", ULONG },
}

local WKSTA_INFO_1018 = ndr.struct "WKSTA_INFO_1018" {
  { "wki1018_sess_timeout", ULONG },
}

local WKSTA_INFO_1046 = ndr.struct "WKSTA_INFO_1046" {
  { "wki1046_dormant_file_limit", ULONG },
}

-- WKSTA_INFO (MS-WKST 2.2.4.1) ------------------------------------------------

local WKSTA_INFO = ndr.union "WKSTA_INFO" {
  switch_type = ULONG,
  [100]  = { "WkstaInfo100",  ndr.unique(WKSTA_INFO_100) },
  [101]  = { "WkstaInfo101",  ndr.unique(WKSTA_INFO_101) },
  [102]  = { "WkstaInfo102",  ndr.unique(WKSTA_INFO_102) },
  -- [502] WkstaInfo502 (LPWKSTA_INFO_502): not described yet.
  [1013] = { "WkstaInfo1013", ndr.unique(WKSTA_INFO_1013) },
  [1018] = { "WkstaInfo1018", ndr.unique(WKSTA_INFO_1018) },
  [1046] = { "WkstaInfo1046", ndr.unique(WKSTA_INFO_1046) },
  default = {},
}

-- WKSTA_USER_INFO_* and the enumeration structure (MS-WKST 2.2.5.9 .. 2.2.5.14)

local WKSTA_USER_INFO_0 = ndr.struct "WKSTA_USER_INFO_0" {
  { "wkui0_username", wstr },
}

local WKSTA_USER_INFO_1 = ndr.struct "WKSTA_USER_INFO_1" {
  { "wkui1_username",     wstr },
  { "wkui1_logon_domain", wstr },
  { "wkui1_oth_domains",  wstr },
  { "wkui1_logon_server", wstr },
}

local WKSTA_USER_INFO_0_CONTAINER = ndr.struct "WKSTA_USER_INFO_0_CONTAINER" {
  { "EntriesRead", ULONG },
  { "Buffer", ndr.unique(ndr.array(WKSTA_USER_INFO_0, { size_is = "EntriesRead" })) },
}

local WKSTA_USER_INFO_1_CONTAINER = ndr.struct "WKSTA_USER_INFO_1_CONTAINER" {
  { "EntriesRead", ULONG },
  { "Buffer", ndr.unique(ndr.array(WKSTA_USER_INFO_1, { size_is = "EntriesRead" })) },
}

-- The IDL declares this union inline in WKSTA_USER_ENUM_STRUCT as
-- `union _WKSTA_USER_ENUM_UNION`; the DSL needs it named, so it is.
local WKSTA_USER_ENUM_UNION = ndr.union "WKSTA_USER_ENUM_UNION" {
  switch_type = ULONG,
  [0] = { "Level0", ndr.unique(WKSTA_USER_INFO_0_CONTAINER) },
  [1] = { "Level1", ndr.unique(WKSTA_USER_INFO_1_CONTAINER) },
  default = {},
}

local WKSTA_USER_ENUM_STRUCT = ndr.struct "WKSTA_USER_ENUM_STRUCT" {
  { "Level",         ULONG },
  { "WkstaUserInfo", WKSTA_USER_ENUM_UNION, switch_is = "Level" },
}

return ndr.interface {
  name = "wkssvc",
  uuid = "6bffd098-a112-3610-9833-46c3f87e345a", version = "1.0",
  types = {
    WKSTA_INFO_100 = WKSTA_INFO_100, WKSTA_INFO_101 = WKSTA_INFO_101,
    WKSTA_INFO_102 = WKSTA_INFO_102, WKSTA_INFO_1013 = WKSTA_INFO_1013,
    WKSTA_INFO_1018 = WKSTA_INFO_1018, WKSTA_INFO_1046 = WKSTA_INFO_1046,
    WKSTA_INFO = WKSTA_INFO,
    WKSTA_USER_INFO_0 = WKSTA_USER_INFO_0, WKSTA_USER_INFO_1 = WKSTA_USER_INFO_1,
    WKSTA_USER_INFO_0_CONTAINER = WKSTA_USER_INFO_0_CONTAINER,
    WKSTA_USER_INFO_1_CONTAINER = WKSTA_USER_INFO_1_CONTAINER,
    WKSTA_USER_ENUM_UNION = WKSTA_USER_ENUM_UNION,
    WKSTA_USER_ENUM_STRUCT = WKSTA_USER_ENUM_STRUCT,
  },

  -- MS-WKST 3.2.4.1
  ndr.func(0, "NetrWkstaGetInfo") {
    { "ServerName", wstr, "in" },
    { "Level",      ULONG, "in" },
    { "WkstaInfo",  ndr.ref(WKSTA_INFO), "out", switch_is = "Level" },
    returns = ndr.WERROR,
  },

  -- MS-WKST 3.2.4.3
  ndr.func(2, "NetrWkstaUserEnum") {
    { "ServerName",             wstr, "in" },
    { "UserInfo",               ndr.ref(WKSTA_USER_ENUM_STRUCT), "in,out" },
    { "PreferredMaximumLength", ULONG, "in" },
    { "TotalEntries",           ndr.ref(ULONG), "out" },
    { "ResumeHandle",           ndr.unique(ULONG), "in,out" },
    returns = ndr.WERROR,
  },
}
