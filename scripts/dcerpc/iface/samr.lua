-- samr: Security Account Manager (SAM) Remote Protocol ([MS-SAMR]).
--
-- uuid 12345778-1234-abcd-ef00-0123456789ac v1.0.
-- Names (functions, parameters, structure fields) follow the IDL of [MS-SAMR]
-- section 6 ("Appendix A: Full IDL"); union arm names are the IDL's too
-- (SAMPR_USER_INFO_BUFFER.All, .General, ...). Covered so far:
--   SamrConnect5                     (64)  revision info level 1
--   SamrConnect2                     (57)
--   SamrCloseHandle                  (1)
--   SamrLookupDomainInSamServer      (5)
--   SamrEnumerateDomainsInSamServer  (6)
--   SamrOpenDomain                   (7)
--   SamrQueryInformationDomain       (8)   levels 1-9, 11, 12, 13
--   SamrQueryInformationDomain2      (46)  same levels
--   SamrEnumerateGroupsInDomain      (11)
--   SamrEnumerateUsersInDomain       (13)
--   SamrEnumerateAliasesInDomain     (15)
--   SamrLookupNamesInDomain          (17)
--   SamrLookupIdsInDomain            (18)
--   SamrOpenUser                     (34)
--   SamrQueryInformationUser         (36)  levels 1-14, 16, 17, 18, 20, 21
--   SamrQueryInformationUser2        (47)  same levels
--   SamrGetGroupsForUser             (39)
--   SamrRidToSid                     (65)
-- The unions have no [default] arm (neither has the IDL): a level that is
-- not described is refused on encode and a reply carrying one is a decode
-- error (nil, err), never misread. Levels 23-26 and 31/32 (password sets)
-- are [in]-only in practice and not described.
--
-- Mapping notes (docs/ndr-dsl.md):
-- * SAMPR_HANDLE is `typedef [context_handle] void *`: by value it is
--   ndr.context_handle (20 bytes); `SAMPR_HANDLE *` (an [out] or [in,out]
--   top-level pointer) is ndr.ref(ndr.context_handle).
-- * PSAMPR_SERVER_NAME is `[handle, string] wchar_t *`, passed as
--   `[in, unique, string]` -> ndr.unique(ndr.wstring).
-- * `[out] PSAMPR_ENUMERATION_BUFFER *Buffer` and friends: a top-level [ref]
--   pointer to a unique pointer -> ndr.ref(ndr.unique(T)); the [out]
--   `PRPC_SID *DomainId` likewise ndr.ref(ndr.unique(ndr.SID)).
-- * The information classes (DOMAIN_INFORMATION_CLASS,
--   USER_INFORMATION_CLASS) are plain IDL enums: 16 bits on the wire, both as
--   parameters and as union discriminants (switch_type) -> ndr.enum16.
-- * OLD_LARGE_INTEGER is `struct { unsigned long LowPart; long HighPart; }`
--   (4-byte aligned): ndr.FILETIME has the same wire form and gives one Lua
--   integer (HighPart << 32 | LowPart, so 0x7fffffffffffffff "never" and
--   0x8000000000000000 come out as math.maxinteger / math.mininteger).
--   LARGE_INTEGER (8-byte aligned) is ndr.int64.
-- * RPC_SHORT_BLOB (`[size_is(MaximumLength/2), length_is(Length/2)]
--   unsigned short *Buffer`) is not text: its Buffer is a sequence of
--   integers.
-- * SAMPR_LOGON_HOURS.LogonHours is `[size_is(1260), length_is((UnitsPerWeek+7)/8)]
--   unsigned char *`: a Lua string of (UnitsPerWeek+7)/8 bytes (21 for 168
--   hours). Samba writes length_is(units_per_week/8); the two agree for every
--   multiple of 8. A NULL pointer (UnitsPerWeek 0) encodes, but the decoder
--   refuses it for now (it wants a non-NULL pointer when size_is is a non-zero
--   constant); servers answer queries with the 168 bits.
-- * SamrLookupNamesInDomain / SamrLookupIdsInDomain take
--   `[size_is(1000), length_is(Count)]` arrays: max_count is always 1000 on
--   the wire, the Lua value has Count elements (Count must be given: the
--   encoder does not fill a length_is parameter in).

local ndr = require "dcerpc.ndr"

local ULONG = ndr.uint32
local USHORT = ndr.uint16
local UCHAR = ndr.uint8
local RUS = ndr.RPC_UNICODE_STRING
local HANDLE = ndr.context_handle
local OLD_LARGE_INTEGER = ndr.FILETIME
local LARGE_INTEGER = ndr.int64

-- Common structures (MS-SAMR 2.2.2, 2.2.3, 2.2.7) ----------------------------

local RPC_SHORT_BLOB = ndr.struct "RPC_SHORT_BLOB" {
  { "Length",        USHORT },
  { "MaximumLength", USHORT },
  { "Buffer", ndr.unique(ndr.array(USHORT, { size_is = "MaximumLength/2", length_is = "Length/2" })) },
}

local SAMPR_ULONG_ARRAY = ndr.struct "SAMPR_ULONG_ARRAY" {
  { "Count",   ULONG },
  { "Element", ndr.unique(ndr.array(ULONG, { size_is = "Count" })) },
}

local SAMPR_RETURNED_USTRING_ARRAY = ndr.struct "SAMPR_RETURNED_USTRING_ARRAY" {
  { "Count",   ULONG },
  { "Element", ndr.unique(ndr.array(RUS, { size_is = "Count" })) },
}

local SAMPR_RID_ENUMERATION = ndr.struct "SAMPR_RID_ENUMERATION" {
  { "RelativeId", ULONG },
  { "Name",       RUS },
}

local SAMPR_ENUMERATION_BUFFER = ndr.struct "SAMPR_ENUMERATION_BUFFER" {
  { "EntriesRead", ULONG },
  { "Buffer", ndr.unique(ndr.array(SAMPR_RID_ENUMERATION, { size_is = "EntriesRead" })) },
}

local SAMPR_SR_SECURITY_DESCRIPTOR = ndr.struct "SAMPR_SR_SECURITY_DESCRIPTOR" {
  { "Length", ULONG, range = { 0, 256 * 1024 } },
  { "SecurityDescriptor", ndr.unique(ndr.array(UCHAR, { size_is = "Length" })) },
}

-- Logon hours: a bit per time unit; 168 units (hours) a week give 21 bytes.
local SAMPR_LOGON_HOURS = ndr.struct "SAMPR_LOGON_HOURS" {
  { "UnitsPerWeek", USHORT },
  { "LogonHours", ndr.unique(ndr.array(UCHAR, { size_is = "1260", length_is = "(UnitsPerWeek+7)/8" })) },
}

local GROUP_MEMBERSHIP = ndr.struct "GROUP_MEMBERSHIP" {
  { "RelativeId", ULONG },
  { "Attributes", ULONG },
}

local SAMPR_GET_GROUPS_BUFFER = ndr.struct "SAMPR_GET_GROUPS_BUFFER" {
  { "MembershipCount", ULONG },
  { "Groups", ndr.unique(ndr.array(GROUP_MEMBERSHIP, { size_is = "MembershipCount" })) },
}

local SAMPR_REVISION_INFO_V1 = ndr.struct "SAMPR_REVISION_INFO_V1" {
  { "Revision",          ULONG },
  { "SupportedFeatures", ULONG },
}

local SAMPR_REVISION_INFO = ndr.union "SAMPR_REVISION_INFO" {
  switch_type = ULONG,
  [1] = { "V1", SAMPR_REVISION_INFO_V1 },
}

-- Domain information (MS-SAMR 2.2.3, 2.2.4) --------------------------------

local DOMAIN_INFORMATION_CLASS_NAMES = {
  DomainPasswordInformation = 1, DomainGeneralInformation = 2,
  DomainLogoffInformation = 3, DomainOemInformation = 4, DomainNameInformation = 5,
  DomainReplicationInformation = 6, DomainServerRoleInformation = 7,
  DomainModifiedInformation = 8, DomainStateInformation = 9,
  DomainGeneralInformation2 = 11, DomainLockoutInformation = 12,
  DomainModifiedInformation2 = 13,
}
local DOMAIN_INFORMATION_CLASS = ndr.enum16(DOMAIN_INFORMATION_CLASS_NAMES)

-- DOMAIN_SERVER_ROLE / DOMAIN_SERVER_ENABLE_STATE are plain enums in
-- [MS-SAMR] 2.2.3.3/2.2.3.4, which would be 16 bits on the wire in levels 7
-- and 9. Samba's samr.idl marshals both as 32 bits (samr_Role is [v1_enum],
-- DomInfo9 a uint32) and the live Samba peer answers that way (a 16-bit
-- reading leaves 4 bytes over); described as 32-bit, values as the enums'.
local DOMAIN_SERVER_ROLE = ndr.v1_enum { DomainServerRoleBackup = 2, DomainServerRolePrimary = 3 }
local DOMAIN_SERVER_ENABLE_STATE = ndr.v1_enum { DomainServerEnabled = 1, DomainServerDisabled = 2 }

local DOMAIN_PASSWORD_INFORMATION = ndr.struct "DOMAIN_PASSWORD_INFORMATION" {
  { "MinPasswordLength",     USHORT },
  { "PasswordHistoryLength", USHORT },
  { "PasswordProperties",    ULONG },
  { "MaxPasswordAge",        OLD_LARGE_INTEGER },
  { "MinPasswordAge",        OLD_LARGE_INTEGER },
}

local SAMPR_DOMAIN_GENERAL_INFORMATION = ndr.struct "SAMPR_DOMAIN_GENERAL_INFORMATION" {
  { "ForceLogoff",              OLD_LARGE_INTEGER },
  { "OemInformation",           RUS },
  { "DomainName",               RUS },
  { "ReplicaSourceNodeName",    RUS },
  { "DomainModifiedCount",      OLD_LARGE_INTEGER },
  { "DomainServerState",        ULONG },
  { "DomainServerRole",         ULONG },
  { "UasCompatibilityRequired", UCHAR },
  { "UserCount",                ULONG },
  { "GroupCount",               ULONG },
  { "AliasCount",               ULONG },
}

local DOMAIN_LOGOFF_INFORMATION = ndr.struct "DOMAIN_LOGOFF_INFORMATION" {
  { "ForceLogoff", OLD_LARGE_INTEGER },
}

local SAMPR_DOMAIN_OEM_INFORMATION = ndr.struct "SAMPR_DOMAIN_OEM_INFORMATION" {
  { "OemInformation", RUS },
}

local SAMPR_DOMAIN_NAME_INFORMATION = ndr.struct "SAMPR_DOMAIN_NAME_INFORMATION" {
  { "DomainName", RUS },
}

local SAMPR_DOMAIN_REPLICATION_INFORMATION = ndr.struct "SAMPR_DOMAIN_REPLICATION_INFORMATION" {
  { "ReplicaSourceNodeName", RUS },
}

local DOMAIN_SERVER_ROLE_INFORMATION = ndr.struct "DOMAIN_SERVER_ROLE_INFORMATION" {
  { "DomainServerRole", DOMAIN_SERVER_ROLE },
}

local DOMAIN_MODIFIED_INFORMATION = ndr.struct "DOMAIN_MODIFIED_INFORMATION" {
  { "DomainModifiedCount", OLD_LARGE_INTEGER },
  { "CreationTime",        OLD_LARGE_INTEGER },
}

local DOMAIN_STATE_INFORMATION = ndr.struct "DOMAIN_STATE_INFORMATION" {
  { "DomainServerState", DOMAIN_SERVER_ENABLE_STATE },
}

local SAMPR_DOMAIN_GENERAL_INFORMATION2 = ndr.struct "SAMPR_DOMAIN_GENERAL_INFORMATION2" {
  { "I1",                       SAMPR_DOMAIN_GENERAL_INFORMATION },
  { "LockoutDuration",          LARGE_INTEGER },
  { "LockoutObservationWindow", LARGE_INTEGER },
  { "LockoutThreshold",         USHORT },
}

local SAMPR_DOMAIN_LOCKOUT_INFORMATION = ndr.struct "SAMPR_DOMAIN_LOCKOUT_INFORMATION" {
  { "LockoutDuration",          LARGE_INTEGER },
  { "LockoutObservationWindow", LARGE_INTEGER },
  { "LockoutThreshold",         USHORT },
}

local DOMAIN_MODIFIED_INFORMATION2 = ndr.struct "DOMAIN_MODIFIED_INFORMATION2" {
  { "DomainModifiedCount",          OLD_LARGE_INTEGER },
  { "CreationTime",                 OLD_LARGE_INTEGER },
  { "ModifiedCountAtLastPromotion", OLD_LARGE_INTEGER },
}

local SAMPR_DOMAIN_INFO_BUFFER = ndr.union "SAMPR_DOMAIN_INFO_BUFFER" {
  switch_type = DOMAIN_INFORMATION_CLASS,
  [1]  = { "Password",     DOMAIN_PASSWORD_INFORMATION },
  [2]  = { "General",      SAMPR_DOMAIN_GENERAL_INFORMATION },
  [3]  = { "Logoff",       DOMAIN_LOGOFF_INFORMATION },
  [4]  = { "Oem",          SAMPR_DOMAIN_OEM_INFORMATION },
  [5]  = { "Name",         SAMPR_DOMAIN_NAME_INFORMATION },
  [6]  = { "Replication",  SAMPR_DOMAIN_REPLICATION_INFORMATION },
  [7]  = { "Role",         DOMAIN_SERVER_ROLE_INFORMATION },
  [8]  = { "Modified",     DOMAIN_MODIFIED_INFORMATION },
  [9]  = { "State",        DOMAIN_STATE_INFORMATION },
  [11] = { "General2",     SAMPR_DOMAIN_GENERAL_INFORMATION2 },
  [12] = { "Lockout",      SAMPR_DOMAIN_LOCKOUT_INFORMATION },
  [13] = { "Modified2",    DOMAIN_MODIFIED_INFORMATION2 },
}

-- User information (MS-SAMR 2.2.6, 2.2.7) ----------------------------------

local USER_INFORMATION_CLASS_NAMES = {
  UserGeneralInformation = 1, UserPreferencesInformation = 2, UserLogonInformation = 3,
  UserLogonHoursInformation = 4, UserAccountInformation = 5, UserNameInformation = 6,
  UserAccountNameInformation = 7, UserFullNameInformation = 8,
  UserPrimaryGroupInformation = 9, UserHomeInformation = 10, UserScriptInformation = 11,
  UserProfileInformation = 12, UserAdminCommentInformation = 13,
  UserWorkStationsInformation = 14, UserControlInformation = 16,
  UserExpiresInformation = 17, UserInternal1Information = 18,
  UserParametersInformation = 20, UserAllInformation = 21,
  UserInternal4Information = 23, UserInternal5Information = 24,
  UserInternal4InformationNew = 25, UserInternal5InformationNew = 26,
  UserInternal7Information = 31, UserInternal8Information = 32,
}
local USER_INFORMATION_CLASS = ndr.enum16(USER_INFORMATION_CLASS_NAMES)

local SAMPR_USER_ALL_INFORMATION = ndr.struct "SAMPR_USER_ALL_INFORMATION" {
  { "LastLogon",            OLD_LARGE_INTEGER },
  { "LastLogoff",           OLD_LARGE_INTEGER },
  { "PasswordLastSet",      OLD_LARGE_INTEGER },
  { "AccountExpires",       OLD_LARGE_INTEGER },
  { "PasswordCanChange",    OLD_LARGE_INTEGER },
  { "PasswordMustChange",   OLD_LARGE_INTEGER },
  { "UserName",             RUS },
  { "FullName",             RUS },
  { "HomeDirectory",        RUS },
  { "HomeDirectoryDrive",   RUS },
  { "ScriptPath",           RUS },
  { "ProfilePath",          RUS },
  { "AdminComment",         RUS },
  { "WorkStations",         RUS },
  { "UserComment",          RUS },
  { "Parameters",           RUS },
  { "LmOwfPassword",        RPC_SHORT_BLOB },
  { "NtOwfPassword",        RPC_SHORT_BLOB },
  { "PrivateData",          RUS },
  { "SecurityDescriptor",   SAMPR_SR_SECURITY_DESCRIPTOR },
  { "UserId",               ULONG },
  { "PrimaryGroupId",       ULONG },
  { "UserAccountControl",   ULONG },
  { "WhichFields",          ULONG },
  { "LogonHours",           SAMPR_LOGON_HOURS },
  { "BadPasswordCount",     USHORT },
  { "LogonCount",           USHORT },
  { "CountryCode",          USHORT },
  { "CodePage",             USHORT },
  { "LmPasswordPresent",    UCHAR },
  { "NtPasswordPresent",    UCHAR },
  { "PasswordExpired",      UCHAR },
  { "PrivateDataSensitive", UCHAR },
}

local SAMPR_USER_GENERAL_INFORMATION = ndr.struct "SAMPR_USER_GENERAL_INFORMATION" {
  { "UserName",       RUS },
  { "FullName",       RUS },
  { "PrimaryGroupId", ULONG },
  { "AdminComment",   RUS },
  { "UserComment",    RUS },
}

local SAMPR_USER_PREFERENCES_INFORMATION = ndr.struct "SAMPR_USER_PREFERENCES_INFORMATION" {
  { "UserComment", RUS },
  { "Reserved1",   RUS },
  { "CountryCode", USHORT },
  { "CodePage",    USHORT },
}

local SAMPR_USER_LOGON_INFORMATION = ndr.struct "SAMPR_USER_LOGON_INFORMATION" {
  { "UserName",           RUS },
  { "FullName",           RUS },
  { "UserId",             ULONG },
  { "PrimaryGroupId",     ULONG },
  { "HomeDirectory",      RUS },
  { "HomeDirectoryDrive", RUS },
  { "ScriptPath",         RUS },
  { "ProfilePath",        RUS },
  { "WorkStations",       RUS },
  { "LastLogon",          OLD_LARGE_INTEGER },
  { "LastLogoff",         OLD_LARGE_INTEGER },
  { "PasswordLastSet",    OLD_LARGE_INTEGER },
  { "PasswordCanChange",  OLD_LARGE_INTEGER },
  { "PasswordMustChange", OLD_LARGE_INTEGER },
  { "LogonHours",         SAMPR_LOGON_HOURS },
  { "BadPasswordCount",   USHORT },
  { "LogonCount",         USHORT },
  { "UserAccountControl", ULONG },
}

local SAMPR_USER_LOGON_HOURS_INFORMATION = ndr.struct "SAMPR_USER_LOGON_HOURS_INFORMATION" {
  { "LogonHours", SAMPR_LOGON_HOURS },
}

local SAMPR_USER_ACCOUNT_INFORMATION = ndr.struct "SAMPR_USER_ACCOUNT_INFORMATION" {
  { "UserName",           RUS },
  { "FullName",           RUS },
  { "UserId",             ULONG },
  { "PrimaryGroupId",     ULONG },
  { "HomeDirectory",      RUS },
  { "HomeDirectoryDrive", RUS },
  { "ScriptPath",         RUS },
  { "ProfilePath",        RUS },
  { "AdminComment",       RUS },
  { "WorkStations",       RUS },
  { "LastLogon",          OLD_LARGE_INTEGER },
  { "LastLogoff",         OLD_LARGE_INTEGER },
  { "LogonHours",         SAMPR_LOGON_HOURS },
  { "BadPasswordCount",   USHORT },
  { "LogonCount",         USHORT },
  { "PasswordLastSet",    OLD_LARGE_INTEGER },
  { "AccountExpires",     OLD_LARGE_INTEGER },
  { "UserAccountControl", ULONG },
}

local SAMPR_USER_NAME_INFORMATION = ndr.struct "SAMPR_USER_NAME_INFORMATION" {
  { "UserName", RUS },
  { "FullName", RUS },
}

local SAMPR_USER_A_NAME_INFORMATION = ndr.struct "SAMPR_USER_A_NAME_INFORMATION" {
  { "UserName", RUS },
}

local SAMPR_USER_F_NAME_INFORMATION = ndr.struct "SAMPR_USER_F_NAME_INFORMATION" {
  { "FullName", RUS },
}

local USER_PRIMARY_GROUP_INFORMATION = ndr.struct "USER_PRIMARY_GROUP_INFORMATION" {
  { "PrimaryGroupId", ULONG },
}

local SAMPR_USER_HOME_INFORMATION = ndr.struct "SAMPR_USER_HOME_INFORMATION" {
  { "HomeDirectory",      RUS },
  { "HomeDirectoryDrive", RUS },
}

local SAMPR_USER_SCRIPT_INFORMATION = ndr.struct "SAMPR_USER_SCRIPT_INFORMATION" {
  { "ScriptPath", RUS },
}

local SAMPR_USER_PROFILE_INFORMATION = ndr.struct "SAMPR_USER_PROFILE_INFORMATION" {
  { "ProfilePath", RUS },
}

local SAMPR_USER_ADMIN_COMMENT_INFORMATION = ndr.struct "SAMPR_USER_ADMIN_COMMENT_INFORMATION" {
  { "AdminComment", RUS },
}

local SAMPR_USER_WORKSTATIONS_INFORMATION = ndr.struct "SAMPR_USER_WORKSTATIONS_INFORMATION" {
  { "WorkStations", RUS },
}

local USER_CONTROL_INFORMATION = ndr.struct "USER_CONTROL_INFORMATION" {
  { "UserAccountControl", ULONG },
}

local USER_EXPIRES_INFORMATION = ndr.struct "USER_EXPIRES_INFORMATION" {
  { "AccountExpires", OLD_LARGE_INTEGER },
}

-- ENCRYPTED_NT_OWF_PASSWORD / ENCRYPTED_LM_OWF_PASSWORD: `char data[16]`
local ENCRYPTED_OWF_PASSWORD = ndr.struct "ENCRYPTED_OWF_PASSWORD" {
  { "data", ndr.array(ndr.char, { length = 16 }) },
}

local SAMPR_USER_INTERNAL1_INFORMATION = ndr.struct "SAMPR_USER_INTERNAL1_INFORMATION" {
  { "EncryptedNtOwfPassword", ENCRYPTED_OWF_PASSWORD },
  { "EncryptedLmOwfPassword", ENCRYPTED_OWF_PASSWORD },
  { "NtPasswordPresent",      UCHAR },
  { "LmPasswordPresent",      UCHAR },
  { "PasswordExpired",        UCHAR },
}

local SAMPR_USER_PARAMETERS_INFORMATION = ndr.struct "SAMPR_USER_PARAMETERS_INFORMATION" {
  { "Parameters", RUS },
}

local SAMPR_USER_INFO_BUFFER = ndr.union "SAMPR_USER_INFO_BUFFER" {
  switch_type = USER_INFORMATION_CLASS,
  [1]  = { "General",       SAMPR_USER_GENERAL_INFORMATION },
  [2]  = { "Preferences",   SAMPR_USER_PREFERENCES_INFORMATION },
  [3]  = { "Logon",         SAMPR_USER_LOGON_INFORMATION },
  [4]  = { "LogonHours",    SAMPR_USER_LOGON_HOURS_INFORMATION },
  [5]  = { "Account",       SAMPR_USER_ACCOUNT_INFORMATION },
  [6]  = { "Name",          SAMPR_USER_NAME_INFORMATION },
  [7]  = { "AccountName",   SAMPR_USER_A_NAME_INFORMATION },
  [8]  = { "FullName",      SAMPR_USER_F_NAME_INFORMATION },
  [9]  = { "PrimaryGroup",  USER_PRIMARY_GROUP_INFORMATION },
  [10] = { "Home",          SAMPR_USER_HOME_INFORMATION },
  [11] = { "Script",        SAMPR_USER_SCRIPT_INFORMATION },
  [12] = { "Profile",       SAMPR_USER_PROFILE_INFORMATION },
  [13] = { "AdminComment",  SAMPR_USER_ADMIN_COMMENT_INFORMATION },
  [14] = { "WorkStations",  SAMPR_USER_WORKSTATIONS_INFORMATION },
  [16] = { "Control",       USER_CONTROL_INFORMATION },
  [17] = { "Expires",       USER_EXPIRES_INFORMATION },
  [18] = { "Internal1",     SAMPR_USER_INTERNAL1_INFORMATION },
  [20] = { "Parameters",    SAMPR_USER_PARAMETERS_INFORMATION },
  [21] = { "All",           SAMPR_USER_ALL_INFORMATION },
  -- 23, 24, 25, 26, 31, 32 (Internal4/5/7/8: encrypted password sets): not described.
}

local function user_query(opnum, name)
  return ndr.func(opnum, name) {
    { "UserHandle",           HANDLE, "in" },
    { "UserInformationClass", USER_INFORMATION_CLASS, "in" },
    { "Buffer", ndr.ref(ndr.unique(SAMPR_USER_INFO_BUFFER)), "out",
      switch_is = "UserInformationClass" },
    returns = ndr.NTSTATUS,
  }
end

local function domain_query(opnum, name)
  return ndr.func(opnum, name) {
    { "DomainHandle",           HANDLE, "in" },
    { "DomainInformationClass", DOMAIN_INFORMATION_CLASS, "in" },
    { "Buffer", ndr.ref(ndr.unique(SAMPR_DOMAIN_INFO_BUFFER)), "out",
      switch_is = "DomainInformationClass" },
    returns = ndr.NTSTATUS,
  }
end

-- SamrEnumerateGroupsInDomain / SamrEnumerateAliasesInDomain
local function enum_accounts(opnum, name)
  return ndr.func(opnum, name) {
    { "DomainHandle",          HANDLE, "in" },
    { "EnumerationContext",    ndr.ref(ULONG), "in,out" },
    { "Buffer",                ndr.ref(ndr.unique(SAMPR_ENUMERATION_BUFFER)), "out" },
    { "PreferedMaximumLength", ULONG, "in" },
    { "CountReturned",         ndr.ref(ULONG), "out" },
    returns = ndr.NTSTATUS,
  }
end

return ndr.interface {
  name = "samr",
  uuid = "12345778-1234-abcd-ef00-0123456789ac", version = "1.0",
  types = {
    RPC_SHORT_BLOB = RPC_SHORT_BLOB, SAMPR_ULONG_ARRAY = SAMPR_ULONG_ARRAY,
    SAMPR_RETURNED_USTRING_ARRAY = SAMPR_RETURNED_USTRING_ARRAY,
    SAMPR_RID_ENUMERATION = SAMPR_RID_ENUMERATION,
    SAMPR_ENUMERATION_BUFFER = SAMPR_ENUMERATION_BUFFER,
    SAMPR_SR_SECURITY_DESCRIPTOR = SAMPR_SR_SECURITY_DESCRIPTOR,
    SAMPR_LOGON_HOURS = SAMPR_LOGON_HOURS, GROUP_MEMBERSHIP = GROUP_MEMBERSHIP,
    SAMPR_GET_GROUPS_BUFFER = SAMPR_GET_GROUPS_BUFFER,
    SAMPR_REVISION_INFO_V1 = SAMPR_REVISION_INFO_V1, SAMPR_REVISION_INFO = SAMPR_REVISION_INFO,
    DOMAIN_INFORMATION_CLASS = DOMAIN_INFORMATION_CLASS,
    DOMAIN_PASSWORD_INFORMATION = DOMAIN_PASSWORD_INFORMATION,
    SAMPR_DOMAIN_GENERAL_INFORMATION = SAMPR_DOMAIN_GENERAL_INFORMATION,
    SAMPR_DOMAIN_GENERAL_INFORMATION2 = SAMPR_DOMAIN_GENERAL_INFORMATION2,
    SAMPR_DOMAIN_LOCKOUT_INFORMATION = SAMPR_DOMAIN_LOCKOUT_INFORMATION,
    SAMPR_DOMAIN_INFO_BUFFER = SAMPR_DOMAIN_INFO_BUFFER,
    USER_INFORMATION_CLASS = USER_INFORMATION_CLASS,
    SAMPR_USER_ALL_INFORMATION = SAMPR_USER_ALL_INFORMATION,
    SAMPR_USER_GENERAL_INFORMATION = SAMPR_USER_GENERAL_INFORMATION,
    SAMPR_USER_LOGON_INFORMATION = SAMPR_USER_LOGON_INFORMATION,
    SAMPR_USER_ACCOUNT_INFORMATION = SAMPR_USER_ACCOUNT_INFORMATION,
    SAMPR_USER_INFO_BUFFER = SAMPR_USER_INFO_BUFFER,
  },
  constants = {
    -- DesiredAccess: generic and standard rights ([MS-SAMR] 2.2.1.1)
    MAXIMUM_ALLOWED = 0x02000000, GENERIC_READ = 0x80000000, GENERIC_WRITE = 0x40000000,
    GENERIC_EXECUTE = 0x20000000, GENERIC_ALL = 0x10000000,
    DELETE = 0x00010000, READ_CONTROL = 0x00020000, WRITE_DAC = 0x00040000,
    WRITE_OWNER = 0x00080000, ACCESS_SYSTEM_SECURITY = 0x01000000,
    -- server object (2.2.1.3)
    SAM_SERVER_CONNECT = 0x00000001, SAM_SERVER_SHUTDOWN = 0x00000002,
    SAM_SERVER_INITIALIZE = 0x00000004, SAM_SERVER_CREATE_DOMAIN = 0x00000008,
    SAM_SERVER_ENUMERATE_DOMAINS = 0x00000010, SAM_SERVER_LOOKUP_DOMAIN = 0x00000020,
    SAM_SERVER_ALL_ACCESS = 0x000F003F, SAM_SERVER_READ = 0x00020010,
    SAM_SERVER_WRITE = 0x0002000E, SAM_SERVER_EXECUTE = 0x00020021,
    -- domain object (2.2.1.4)
    DOMAIN_READ_PASSWORD_PARAMETERS = 0x00000001, DOMAIN_WRITE_PASSWORD_PARAMS = 0x00000002,
    DOMAIN_READ_OTHER_PARAMETERS = 0x00000004, DOMAIN_WRITE_OTHER_PARAMETERS = 0x00000008,
    DOMAIN_CREATE_USER = 0x00000010, DOMAIN_CREATE_GROUP = 0x00000020,
    DOMAIN_CREATE_ALIAS = 0x00000040, DOMAIN_GET_ALIAS_MEMBERSHIP = 0x00000080,
    DOMAIN_LIST_ACCOUNTS = 0x00000100, DOMAIN_LOOKUP = 0x00000200,
    DOMAIN_ADMINISTER_SERVER = 0x00000400,
    DOMAIN_ALL_ACCESS = 0x000F07FF, DOMAIN_READ = 0x00020084,
    DOMAIN_WRITE = 0x0002047A, DOMAIN_EXECUTE = 0x00020301,
    -- user object (2.2.1.7)
    USER_READ_GENERAL = 0x00000001, USER_READ_PREFERENCES = 0x00000002,
    USER_WRITE_PREFERENCES = 0x00000004, USER_READ_LOGON = 0x00000008,
    USER_READ_ACCOUNT = 0x00000010, USER_WRITE_ACCOUNT = 0x00000020,
    USER_CHANGE_PASSWORD = 0x00000040, USER_FORCE_PASSWORD_CHANGE = 0x00000080,
    USER_LIST_GROUPS = 0x00000100, USER_READ_GROUP_INFORMATION = 0x00000200,
    USER_WRITE_GROUP_INFORMATION = 0x00000400,
    USER_ALL_ACCESS = 0x000F07FF, USER_READ = 0x0002031A,
    USER_WRITE = 0x00020044, USER_EXECUTE = 0x00020041,
    -- UserAccountControl bits (2.2.1.12)
    USER_ACCOUNT_DISABLED = 0x00000001, USER_HOME_DIRECTORY_REQUIRED = 0x00000002,
    USER_PASSWORD_NOT_REQUIRED = 0x00000004, USER_TEMP_DUPLICATE_ACCOUNT = 0x00000008,
    USER_NORMAL_ACCOUNT = 0x00000010, USER_MNS_LOGON_ACCOUNT = 0x00000020,
    USER_INTERDOMAIN_TRUST_ACCOUNT = 0x00000040, USER_WORKSTATION_TRUST_ACCOUNT = 0x00000080,
    USER_SERVER_TRUST_ACCOUNT = 0x00000100, USER_DONT_EXPIRE_PASSWORD = 0x00000200,
    USER_ACCOUNT_AUTO_LOCKED = 0x00000400, USER_ENCRYPTED_TEXT_PASSWORD_ALLOWED = 0x00000800,
    USER_SMARTCARD_REQUIRED = 0x00001000, USER_TRUSTED_FOR_DELEGATION = 0x00002000,
    USER_NOT_DELEGATED = 0x00004000, USER_USE_DES_KEY_ONLY = 0x00008000,
    USER_DONT_REQUIRE_PREAUTH = 0x00010000, USER_PASSWORD_EXPIRED = 0x00020000,
    USER_TRUSTED_TO_AUTHENTICATE_FOR_DELEGATION = 0x00040000,
    USER_NO_AUTH_DATA_REQUIRED = 0x00080000, USER_PARTIAL_SECRETS_ACCOUNT = 0x00100000,
    USER_USE_AES_KEYS = 0x00200000,
    -- SID_NAME_USE (the Use of SamrLookupNamesInDomain / SamrLookupIdsInDomain)
    SidTypeUser = 1, SidTypeGroup = 2, SidTypeDomain = 3, SidTypeAlias = 4,
    SidTypeWellKnownGroup = 5, SidTypeDeletedAccount = 6, SidTypeInvalid = 7,
    SidTypeUnknown = 8, SidTypeComputer = 9, SidTypeLabel = 10,
    -- group attributes (2.2.1.10)
    SE_GROUP_MANDATORY = 0x00000001, SE_GROUP_ENABLED_BY_DEFAULT = 0x00000002,
    SE_GROUP_ENABLED = 0x00000004,
    -- revision info (2.2.3.15): SamrConnect5 InRevisionInfo.V1.Revision
    SAM_CLIENT_REVISION = 3,
    DOMAIN_INFORMATION_CLASS = DOMAIN_INFORMATION_CLASS_NAMES,
    USER_INFORMATION_CLASS = USER_INFORMATION_CLASS_NAMES,
    -- well-known RIDs
    DOMAIN_USER_RID_ADMIN = 500, DOMAIN_USER_RID_GUEST = 501,
    DOMAIN_GROUP_RID_USERS = 513,
  },

  -- MS-SAMR 3.1.5.13.3
  ndr.func(1, "SamrCloseHandle") {
    { "SamHandle", ndr.ref(HANDLE), "in,out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.11.1
  ndr.func(5, "SamrLookupDomainInSamServer") {
    { "ServerHandle", HANDLE, "in" },
    { "Name",         ndr.ref(RUS), "in" },
    { "DomainId",     ndr.ref(ndr.unique(ndr.SID)), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.2.1
  ndr.func(6, "SamrEnumerateDomainsInSamServer") {
    { "ServerHandle",          HANDLE, "in" },
    { "EnumerationContext",    ndr.ref(ULONG), "in,out" },
    { "Buffer",                ndr.ref(ndr.unique(SAMPR_ENUMERATION_BUFFER)), "out" },
    { "PreferedMaximumLength", ULONG, "in" },
    { "CountReturned",         ndr.ref(ULONG), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.1.5
  ndr.func(7, "SamrOpenDomain") {
    { "ServerHandle",  HANDLE, "in" },
    { "DesiredAccess", ULONG, "in" },
    { "DomainId",      ndr.ref(ndr.SID), "in" },
    { "DomainHandle",  ndr.ref(HANDLE), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.5.2
  domain_query(8, "SamrQueryInformationDomain"),

  -- 3.1.5.2.3
  enum_accounts(11, "SamrEnumerateGroupsInDomain"),

  -- 3.1.5.2.5
  ndr.func(13, "SamrEnumerateUsersInDomain") {
    { "DomainHandle",          HANDLE, "in" },
    { "EnumerationContext",    ndr.ref(ULONG), "in,out" },
    { "UserAccountControl",    ULONG, "in" },
    { "Buffer",                ndr.ref(ndr.unique(SAMPR_ENUMERATION_BUFFER)), "out" },
    { "PreferedMaximumLength", ULONG, "in" },
    { "CountReturned",         ndr.ref(ULONG), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.2.4
  enum_accounts(15, "SamrEnumerateAliasesInDomain"),

  -- 3.1.5.11.2
  ndr.func(17, "SamrLookupNamesInDomain") {
    { "DomainHandle", HANDLE, "in" },
    { "Count",        ULONG, "in", range = { 0, 1000 } },
    { "Names",        ndr.array(RUS, { size_is = "1000", length_is = "Count" }), "in" },
    { "RelativeIds",  ndr.ref(SAMPR_ULONG_ARRAY), "out" },
    { "Use",          ndr.ref(SAMPR_ULONG_ARRAY), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.11.3
  ndr.func(18, "SamrLookupIdsInDomain") {
    { "DomainHandle", HANDLE, "in" },
    { "Count",        ULONG, "in", range = { 0, 1000 } },
    { "RelativeIds",  ndr.ref(ndr.array(ULONG, { size_is = "1000", length_is = "Count" })), "in" },
    { "Names",        ndr.ref(SAMPR_RETURNED_USTRING_ARRAY), "out" },
    { "Use",          ndr.ref(SAMPR_ULONG_ARRAY), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.1.9
  ndr.func(34, "SamrOpenUser") {
    { "DomainHandle",  HANDLE, "in" },
    { "DesiredAccess", ULONG, "in" },
    { "UserId",        ULONG, "in" },
    { "UserHandle",    ndr.ref(HANDLE), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.5.6
  user_query(36, "SamrQueryInformationUser"),

  -- 3.1.5.9.1
  ndr.func(39, "SamrGetGroupsForUser") {
    { "UserHandle", HANDLE, "in" },
    { "Groups",     ndr.ref(ndr.unique(SAMPR_GET_GROUPS_BUFFER)), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.5.1
  domain_query(46, "SamrQueryInformationDomain2"),

  -- 3.1.5.5.5
  user_query(47, "SamrQueryInformationUser2"),

  -- 3.1.5.1.3
  ndr.func(57, "SamrConnect2") {
    { "ServerName",    ndr.unique(ndr.wstring), "in" },
    { "ServerHandle",  ndr.ref(HANDLE), "out" },
    { "DesiredAccess", ULONG, "in" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.1.1
  ndr.func(64, "SamrConnect5") {
    { "ServerName",      ndr.unique(ndr.wstring), "in" },
    { "DesiredAccess",   ULONG, "in" },
    { "InVersion",       ULONG, "in" },
    { "InRevisionInfo",  ndr.ref(SAMPR_REVISION_INFO), "in", switch_is = "InVersion" },
    { "OutVersion",      ndr.ref(ULONG), "out" },
    { "OutRevisionInfo", ndr.ref(SAMPR_REVISION_INFO), "out", switch_is = "*OutVersion" },
    { "ServerHandle",    ndr.ref(HANDLE), "out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.5.13.5
  ndr.func(65, "SamrRidToSid") {
    { "ObjectHandle", HANDLE, "in" },
    { "Rid",          ULONG, "in" },
    { "Sid",          ndr.ref(ndr.unique(ndr.SID)), "out" },
    returns = ndr.NTSTATUS,
  },
}
