-- lsarpc: Local Security Authority (Domain Policy) Remote Protocol ([MS-LSAD])
-- and its translation methods ([MS-LSAT]), one interface on the wire.
--
-- uuid 12345778-1234-abcd-ef00-0123456789ab v0.0.
-- Names (functions, parameters, structure fields, union arms) follow the IDL
-- of [MS-LSAD] section 6 and [MS-LSAT] section 6. Covered so far:
--   LsarClose                      (0)
--   LsarOpenPolicy                 (6)
--   LsarQueryInformationPolicy     (7)   classes 1-7, 9-15
--   LsarEnumerateAccounts          (11)
--   LsarEnumerateTrustedDomains    (13)
--   LsarLookupNames                (14)  [MS-LSAT]
--   LsarLookupSids                 (15)  [MS-LSAT]
--   LsarOpenPolicy2                (44)
--   LsarGetUserName                (45)  [MS-LSAT]
--   LsarQueryInformationPolicy2    (46)  same classes as 7
--   LsarEnumerateTrustedDomainsEx  (50)
--   LsarLookupSids2                (57)  [MS-LSAT]
--   LsarLookupNames2               (58)  [MS-LSAT]
--   LsarLookupNames3               (68)  [MS-LSAT]
--   LsarLookupSids3                (76)  [MS-LSAT] (servers want a Netlogon
--                                        secure channel for it)
-- LSAPR_POLICY_INFORMATION has no [default] arm (neither has the IDL): class
-- 8 (PolicyInformationNotUsedOnWire) and classes above 15 are refused on
-- encode and are a decode error, never misread.
--
-- Mapping notes (docs/ndr-dsl.md):
-- * LSAPR_HANDLE is `typedef [context_handle] void *`: ndr.context_handle by
--   value, ndr.ref(ndr.context_handle) for `LSAPR_HANDLE *`.
-- * PLSAPR_SERVER_NAME is `[handle, string] wchar_t *`, passed as
--   `[in, unique, string]` -> ndr.unique(ndr.wstring). LsarOpenPolicy's
--   SystemName is `[in, unique] wchar_t *` (one character, not a string) ->
--   ndr.unique(ndr.wchar_t), normally nil.
-- * PRPC_SID inside structures -> ndr.unique(ndr.SID) (Lua value "S-1-5-...").
-- * The enums (POLICY_INFORMATION_CLASS, SID_NAME_USE, LSAP_LOOKUP_LEVEL,
--   SECURITY_IMPERSONATION_LEVEL, POLICY_LSA_SERVER_ROLE) are plain IDL enums:
--   16 bits on the wire -> ndr.enum16, also as a union discriminant.
-- * LARGE_INTEGER (8-byte aligned) -> ndr.int64.
-- * `[out] PLSAPR_POLICY_INFORMATION *PolicyInformation` and
--   `[out] PLSAPR_REFERENCED_DOMAIN_LIST *ReferencedDomains`: a top-level
--   [ref] pointer to a unique pointer -> ndr.ref(ndr.unique(T)).
-- * `[in, size_is(Count)] PRPC_UNICODE_STRING Names` -> a top-level [ref]
--   pointer to a conformant array: ndr.ref(ndr.array(RPC_UNICODE_STRING,
--   { size_is = "Count" })); Count may be left out (filled from #Names).
-- * LSAPR_OBJECT_ATTRIBUTES follows the IDL: RootDirectory is `unsigned char *`
--   and ObjectName a PSTRING (both NULL in practice: [MS-LSAD] 2.2.9 says
--   servers ignore them); SecurityDescriptor is PLSAPR_SECURITY_DESCRIPTOR with
--   its LSAPR_ACL (a conformant struct, Dummy1 of AclSize - 4 bytes).
-- * LsarGetUserName's `[in, out, unique] PRPC_UNICODE_STRING *DomainName` is a
--   unique pointer to a unique pointer: ndr.unique(ndr.unique(RUS)). The DSL
--   gives both pointers one Lua value (no box), so "outer non-NULL, inner NULL"
--   (what rpcclient sends to ask for the domain) cannot be written: nil sends
--   a NULL outer pointer (no domain asked), a string sends both non-NULL.
--
-- Helpers (lsarpc.helpers):
--   object_attributes([sqos])   LSAPR_OBJECT_ATTRIBUTES as clients send it
--                               (Length 24, all pointers NULL; sqos = true adds
--                               the usual SECURITY_QUALITY_OF_SERVICE)
--   translate_sids(r)           from a LsarLookupSids* reply: a list, in the
--                               order asked, of { Name, Domain, DomainSid, Use }
--   translate_names(r)          from a LsarLookupNames* reply: a list of
--                               { Sid, Domain, Use } (Sid is built from the
--                               domain SID and RelativeId for the non-EX2 forms)

local ndr = require "dcerpc.ndr"

local ULONG = ndr.uint32
local LONG = ndr.int32
local USHORT = ndr.uint16
local UCHAR = ndr.uint8
local RUS = ndr.RPC_UNICODE_STRING
local HANDLE = ndr.context_handle
local PSID = ndr.unique(ndr.SID)
local LARGE_INTEGER = ndr.int64
local ACCESS_MASK = ndr.uint32

-- Enums (MS-LSAD 2.2.4.1, 2.2.3.5, 2.2.4.14; MS-LSAT 2.2.13, 2.2.16) ------------

local POLICY_INFORMATION_CLASS_NAMES = {
  PolicyAuditLogInformation = 1, PolicyAuditEventsInformation = 2,
  PolicyPrimaryDomainInformation = 3, PolicyPdAccountInformation = 4,
  PolicyAccountDomainInformation = 5, PolicyLsaServerRoleInformation = 6,
  PolicyReplicaSourceInformation = 7, PolicyInformationNotUsedOnWire = 8,
  PolicyModificationInformation = 9, PolicyAuditFullSetInformation = 10,
  PolicyAuditFullQueryInformation = 11, PolicyDnsDomainInformation = 12,
  PolicyDnsDomainInformationInt = 13, PolicyLocalAccountDomainInformation = 14,
  PolicyMachineAccountInformation = 15,
}
local POLICY_INFORMATION_CLASS = ndr.enum16(POLICY_INFORMATION_CLASS_NAMES)

local SID_NAME_USE_NAMES = {
  SidTypeUser = 1, SidTypeGroup = 2, SidTypeDomain = 3, SidTypeAlias = 4,
  SidTypeWellKnownGroup = 5, SidTypeDeletedAccount = 6, SidTypeInvalid = 7,
  SidTypeUnknown = 8, SidTypeComputer = 9, SidTypeLabel = 10,
}
local SID_NAME_USE = ndr.enum16(SID_NAME_USE_NAMES)

local LSAP_LOOKUP_LEVEL_NAMES = {
  LsapLookupWksta = 1, LsapLookupPDC = 2, LsapLookupTDL = 3, LsapLookupGC = 4,
  LsapLookupXForestReferral = 5, LsapLookupXForestResolve = 6, LsapLookupRODCReferralToFullDC = 7,
}
local LSAP_LOOKUP_LEVEL = ndr.enum16(LSAP_LOOKUP_LEVEL_NAMES)

local SECURITY_IMPERSONATION_LEVEL = ndr.enum16 {
  SecurityAnonymous = 0, SecurityIdentification = 1, SecurityImpersonation = 2, SecurityDelegation = 3,
}
local POLICY_LSA_SERVER_ROLE = ndr.enum16 { PolicyServerRoleBackup = 2, PolicyServerRolePrimary = 3 }

-- Object attributes (MS-LSAD 2.2.2.1 .. 2.2.2.4, 2.2.3.7, 2.2.9) ---------------

local STRING = ndr.struct "STRING" {
  { "Length",        USHORT },
  { "MaximumLength", USHORT },
  { "Buffer", ndr.unique(ndr.array(ndr.char, { size_is = "MaximumLength", length_is = "Length" })) },
}

local LSAPR_ACL = ndr.struct "LSAPR_ACL" {
  { "AclRevision", UCHAR },
  { "Sbz1",        UCHAR },
  { "AclSize",     USHORT },
  { "Dummy1",      ndr.array(UCHAR, { size_is = "AclSize-4" }) },
}

local LSAPR_SECURITY_DESCRIPTOR = ndr.struct "LSAPR_SECURITY_DESCRIPTOR" {
  { "Revision", ndr.char },
  { "Sbz1",     ndr.char },
  { "Control",  USHORT },   -- SECURITY_DESCRIPTOR_CONTROL
  { "Owner",    PSID },
  { "Group",    PSID },
  { "Sacl",     ndr.unique(LSAPR_ACL) },
  { "Dacl",     ndr.unique(LSAPR_ACL) },
}

local SECURITY_QUALITY_OF_SERVICE = ndr.struct "SECURITY_QUALITY_OF_SERVICE" {
  { "Length",              ULONG },
  { "ImpersonationLevel",  SECURITY_IMPERSONATION_LEVEL },
  { "ContextTrackingMode", UCHAR },   -- SECURITY_CONTEXT_TRACKING_MODE
  { "EffectiveOnly",       UCHAR },
}

local LSAPR_OBJECT_ATTRIBUTES = ndr.struct "LSAPR_OBJECT_ATTRIBUTES" {
  { "Length",                   ULONG },
  { "RootDirectory",            ndr.unique(UCHAR) },
  { "ObjectName",               ndr.unique(STRING) },
  { "Attributes",               ULONG },
  { "SecurityDescriptor",       ndr.unique(LSAPR_SECURITY_DESCRIPTOR) },
  { "SecurityQualityOfService", ndr.unique(SECURITY_QUALITY_OF_SERVICE) },
}

-- Policy information (MS-LSAD 2.2.4.3 .. 2.2.4.19) ------------------------------

local POLICY_AUDIT_LOG_INFO = ndr.struct "POLICY_AUDIT_LOG_INFO" {
  { "AuditLogPercentFull",            ULONG },
  { "MaximumLogSize",                 ULONG },
  { "AuditRetentionPeriod",           LARGE_INTEGER },
  { "AuditLogFullShutdownInProgress", UCHAR },
  { "TimeToShutdown",                 LARGE_INTEGER },
  { "NextAuditRecordId",              ULONG },
}

local LSAPR_POLICY_AUDIT_EVENTS_INFO = ndr.struct "LSAPR_POLICY_AUDIT_EVENTS_INFO" {
  { "AuditingMode",           UCHAR },
  { "EventAuditingOptions",   ndr.unique(ndr.array(ULONG, { size_is = "MaximumAuditEventCount" })) },
  { "MaximumAuditEventCount", ULONG },
}

local LSAPR_POLICY_PRIMARY_DOM_INFO = ndr.struct "LSAPR_POLICY_PRIMARY_DOM_INFO" {
  { "Name", RUS },
  { "Sid",  PSID },
}

local LSAPR_POLICY_PD_ACCOUNT_INFO = ndr.struct "LSAPR_POLICY_PD_ACCOUNT_INFO" {
  { "Name", RUS },
}

local LSAPR_POLICY_ACCOUNT_DOM_INFO = ndr.struct "LSAPR_POLICY_ACCOUNT_DOM_INFO" {
  { "DomainName", RUS },
  { "DomainSid",  PSID },
}

local POLICY_LSA_SERVER_ROLE_INFO = ndr.struct "POLICY_LSA_SERVER_ROLE_INFO" {
  { "LsaServerRole", POLICY_LSA_SERVER_ROLE },
}

local LSAPR_POLICY_REPLICA_SRCE_INFO = ndr.struct "LSAPR_POLICY_REPLICA_SRCE_INFO" {
  { "ReplicaSource",      RUS },
  { "ReplicaAccountName", RUS },
}

local POLICY_MODIFICATION_INFO = ndr.struct "POLICY_MODIFICATION_INFO" {
  { "ModifiedId",           LARGE_INTEGER },
  { "DatabaseCreationTime", LARGE_INTEGER },
}

local POLICY_AUDIT_FULL_SET_INFO = ndr.struct "POLICY_AUDIT_FULL_SET_INFO" {
  { "ShutDownOnFull", UCHAR },
}

local POLICY_AUDIT_FULL_QUERY_INFO = ndr.struct "POLICY_AUDIT_FULL_QUERY_INFO" {
  { "ShutDownOnFull", UCHAR },
  { "LogIsFull",      UCHAR },
}

local LSAPR_POLICY_DNS_DOMAIN_INFO = ndr.struct "LSAPR_POLICY_DNS_DOMAIN_INFO" {
  { "Name",          RUS },
  { "DnsDomainName", RUS },
  { "DnsForestName", RUS },
  { "DomainGuid",    ndr.GUID },
  { "Sid",           PSID },
}

local POLICY_MACHINE_ACCT_INFO = ndr.struct "POLICY_MACHINE_ACCT_INFO" {
  { "Rid", ULONG },
  { "Sid", PSID },
}

local LSAPR_POLICY_INFORMATION = ndr.union "LSAPR_POLICY_INFORMATION" {
  switch_type = POLICY_INFORMATION_CLASS,
  [1]  = { "PolicyAuditLogInfo",           POLICY_AUDIT_LOG_INFO },
  [2]  = { "PolicyAuditEventsInfo",        LSAPR_POLICY_AUDIT_EVENTS_INFO },
  [3]  = { "PolicyPrimaryDomainInfo",      LSAPR_POLICY_PRIMARY_DOM_INFO },
  [4]  = { "PolicyPdAccountInfo",          LSAPR_POLICY_PD_ACCOUNT_INFO },
  [5]  = { "PolicyAccountDomainInfo",      LSAPR_POLICY_ACCOUNT_DOM_INFO },
  [6]  = { "PolicyServerRoleInfo",         POLICY_LSA_SERVER_ROLE_INFO },
  [7]  = { "PolicyReplicaSourceInfo",      LSAPR_POLICY_REPLICA_SRCE_INFO },
  [9]  = { "PolicyModificationInfo",       POLICY_MODIFICATION_INFO },
  [10] = { "PolicyAuditFullSetInfo",       POLICY_AUDIT_FULL_SET_INFO },
  [11] = { "PolicyAuditFullQueryInfo",     POLICY_AUDIT_FULL_QUERY_INFO },
  [12] = { "PolicyDnsDomainInfo",          LSAPR_POLICY_DNS_DOMAIN_INFO },
  [13] = { "PolicyDnsDomainInfoInt",       LSAPR_POLICY_DNS_DOMAIN_INFO },
  [14] = { "PolicyLocalAccountDomainInfo", LSAPR_POLICY_ACCOUNT_DOM_INFO },
  [15] = { "PolicyMachineAccountInfo",     POLICY_MACHINE_ACCT_INFO },
}

-- Enumerations (MS-LSAD 2.2.5.1, 2.2.7.1, 2.2.7.8 .. 2.2.7.10) ------------------

local LSAPR_ACCOUNT_INFORMATION = ndr.struct "LSAPR_ACCOUNT_INFORMATION" {
  { "Sid", PSID },
}

local LSAPR_ACCOUNT_ENUM_BUFFER = ndr.struct "LSAPR_ACCOUNT_ENUM_BUFFER" {
  { "EntriesRead", ULONG },
  { "Information", ndr.unique(ndr.array(LSAPR_ACCOUNT_INFORMATION, { size_is = "EntriesRead" })) },
}

local LSAPR_TRUST_INFORMATION = ndr.struct "LSAPR_TRUST_INFORMATION" {
  { "Name", RUS },
  { "Sid",  PSID },
}

local LSAPR_TRUSTED_ENUM_BUFFER = ndr.struct "LSAPR_TRUSTED_ENUM_BUFFER" {
  { "EntriesRead", ULONG },
  { "Information", ndr.unique(ndr.array(LSAPR_TRUST_INFORMATION, { size_is = "EntriesRead" })) },
}

local LSAPR_TRUSTED_DOMAIN_INFORMATION_EX = ndr.struct "LSAPR_TRUSTED_DOMAIN_INFORMATION_EX" {
  { "Name",            RUS },
  { "FlatName",        RUS },
  { "Sid",             PSID },
  { "TrustDirection",  ULONG },
  { "TrustType",       ULONG },
  { "TrustAttributes", ULONG },
}

local LSAPR_TRUSTED_ENUM_BUFFER_EX = ndr.struct "LSAPR_TRUSTED_ENUM_BUFFER_EX" {
  { "EntriesRead",      ULONG },
  { "EnumerationBuffer", ndr.unique(ndr.array(LSAPR_TRUSTED_DOMAIN_INFORMATION_EX, { size_is = "EntriesRead" })) },
}

-- Translation (MS-LSAT 2.2.12 .. 2.2.24) ----------------------------------------

local LSAPR_REFERENCED_DOMAIN_LIST = ndr.struct "LSAPR_REFERENCED_DOMAIN_LIST" {
  { "Entries",    ULONG },
  { "Domains",    ndr.unique(ndr.array(LSAPR_TRUST_INFORMATION, { size_is = "Entries" })) },
  { "MaxEntries", ULONG },
}

local LSAPR_SID_INFORMATION = ndr.struct "LSAPR_SID_INFORMATION" {
  { "Sid", PSID },
}

local LSAPR_SID_ENUM_BUFFER = ndr.struct "LSAPR_SID_ENUM_BUFFER" {
  { "Entries", ULONG, range = { 0, 20480 } },
  { "SidInfo", ndr.unique(ndr.array(LSAPR_SID_INFORMATION, { size_is = "Entries" })) },
}

local LSA_TRANSLATED_SID = ndr.struct "LSA_TRANSLATED_SID" {
  { "Use",         SID_NAME_USE },
  { "RelativeId",  ULONG },
  { "DomainIndex", LONG },
}

local LSAPR_TRANSLATED_SIDS = ndr.struct "LSAPR_TRANSLATED_SIDS" {
  { "Entries", ULONG, range = { 0, 1000 } },
  { "Sids",    ndr.unique(ndr.array(LSA_TRANSLATED_SID, { size_is = "Entries" })) },
}

local LSAPR_TRANSLATED_SID_EX = ndr.struct "LSAPR_TRANSLATED_SID_EX" {
  { "Use",         SID_NAME_USE },
  { "RelativeId",  ULONG },
  { "DomainIndex", LONG },
  { "Flags",       ULONG },
}

local LSAPR_TRANSLATED_SIDS_EX = ndr.struct "LSAPR_TRANSLATED_SIDS_EX" {
  { "Entries", ULONG, range = { 0, 1000 } },
  { "Sids",    ndr.unique(ndr.array(LSAPR_TRANSLATED_SID_EX, { size_is = "Entries" })) },
}

local LSAPR_TRANSLATED_SID_EX2 = ndr.struct "LSAPR_TRANSLATED_SID_EX2" {
  { "Use",         SID_NAME_USE },
  { "Sid",         PSID },
  { "DomainIndex", LONG },
  { "Flags",       ULONG },
}

local LSAPR_TRANSLATED_SIDS_EX2 = ndr.struct "LSAPR_TRANSLATED_SIDS_EX2" {
  { "Entries", ULONG, range = { 0, 1000 } },
  { "Sids",    ndr.unique(ndr.array(LSAPR_TRANSLATED_SID_EX2, { size_is = "Entries" })) },
}

local LSAPR_TRANSLATED_NAME = ndr.struct "LSAPR_TRANSLATED_NAME" {
  { "Use",         SID_NAME_USE },
  { "Name",        RUS },
  { "DomainIndex", LONG },
}

local LSAPR_TRANSLATED_NAMES = ndr.struct "LSAPR_TRANSLATED_NAMES" {
  { "Entries", ULONG, range = { 0, 20480 } },
  { "Names",   ndr.unique(ndr.array(LSAPR_TRANSLATED_NAME, { size_is = "Entries" })) },
}

local LSAPR_TRANSLATED_NAME_EX = ndr.struct "LSAPR_TRANSLATED_NAME_EX" {
  { "Use",         SID_NAME_USE },
  { "Name",        RUS },
  { "DomainIndex", LONG },
  { "Flags",       ULONG },
}

local LSAPR_TRANSLATED_NAMES_EX = ndr.struct "LSAPR_TRANSLATED_NAMES_EX" {
  { "Entries", ULONG, range = { 0, 20480 } },
  { "Names",   ndr.unique(ndr.array(LSAPR_TRANSLATED_NAME_EX, { size_is = "Entries" })) },
}

---------------------------------------------------------------- functions

local function query_policy(opnum, name)
  return ndr.func(opnum, name) {
    { "PolicyHandle",      HANDLE, "in" },
    { "InformationClass",  POLICY_INFORMATION_CLASS, "in" },
    { "PolicyInformation", ndr.ref(ndr.unique(LSAPR_POLICY_INFORMATION)), "out",
      switch_is = "InformationClass" },
    returns = ndr.NTSTATUS,
  }
end

local function open_policy(opnum, name, system_name)
  return ndr.func(opnum, name) {
    { "SystemName",       system_name, "in" },
    { "ObjectAttributes", ndr.ref(LSAPR_OBJECT_ATTRIBUTES), "in" },
    { "DesiredAccess",    ACCESS_MASK, "in" },
    { "PolicyHandle",     ndr.ref(HANDLE), "out" },
    returns = ndr.NTSTATUS,
  }
end

-- LsarLookupNames / 2 / 3 (MS-LSAT 3.1.4.5 .. 3.1.4.8)
local function lookup_names(opnum, name, sids_type, extended)
  local p = {
    { "PolicyHandle",      HANDLE, "in" },
    { "Count",             ULONG, "in", range = { 0, 1000 } },
    { "Names",             ndr.ref(ndr.array(RUS, { size_is = "Count" })), "in" },
    { "ReferencedDomains", ndr.ref(ndr.unique(LSAPR_REFERENCED_DOMAIN_LIST)), "out" },
    { "TranslatedSids",    ndr.ref(sids_type), "in,out" },
    { "LookupLevel",       LSAP_LOOKUP_LEVEL, "in" },
    { "MappedCount",       ndr.ref(ULONG), "in,out" },
    returns = ndr.NTSTATUS,
  }
  if extended then
    p[#p + 1] = { "LookupOptions",  ULONG, "in" }
    p[#p + 1] = { "ClientRevision", ULONG, "in" }
  end
  return ndr.func(opnum, name)(p)
end

-- LsarLookupSids / 2 / 3 (MS-LSAT 3.1.4.9 .. 3.1.4.11)
local function lookup_sids(opnum, name, names_type, extended, handle)
  local p = {}
  if handle then p[#p + 1] = { "PolicyHandle", HANDLE, "in" } end
  p[#p + 1] = { "SidEnumBuffer",     ndr.ref(LSAPR_SID_ENUM_BUFFER), "in" }
  p[#p + 1] = { "ReferencedDomains", ndr.ref(ndr.unique(LSAPR_REFERENCED_DOMAIN_LIST)), "out" }
  p[#p + 1] = { "TranslatedNames",   ndr.ref(names_type), "in,out" }
  p[#p + 1] = { "LookupLevel",       LSAP_LOOKUP_LEVEL, "in" }
  p[#p + 1] = { "MappedCount",       ndr.ref(ULONG), "in,out" }
  if extended then
    p[#p + 1] = { "LookupOptions",  ULONG, "in" }
    p[#p + 1] = { "ClientRevision", ULONG, "in" }
  end
  p.returns = ndr.NTSTATUS
  return ndr.func(opnum, name)(p)
end

local function enum_trusts(opnum, name, buffer_type)
  return ndr.func(opnum, name) {
    { "PolicyHandle",          HANDLE, "in" },
    { "EnumerationContext",    ndr.ref(ULONG), "in,out" },
    { "EnumerationBuffer",     ndr.ref(buffer_type), "out" },
    { "PreferedMaximumLength", ULONG, "in" },
    returns = ndr.NTSTATUS,
  }
end

---------------------------------------------------------------- helpers

local H = {}

function H.object_attributes(sqos)
  local oa = { Length = 24, Attributes = 0 }
  if sqos then
    oa.SecurityQualityOfService = { Length = 12, ImpersonationLevel = 2, ContextTrackingMode = 1, EffectiveOnly = 0 }
  end
  return oa
end

local function domain_of(r, idx)
  local doms = r.ReferencedDomains and r.ReferencedDomains.Domains or {}
  local d = (math.type(idx) == "integer" and idx >= 0) and doms[idx + 1] or nil
  return d
end

function H.translate_sids(r)
  local list = {}
  local tn = r.TranslatedNames
  for i, n in ipairs(tn and tn.Names or {}) do
    local d = domain_of(r, n.DomainIndex)
    list[i] = { Name = n.Name, Domain = d and d.Name, DomainSid = d and d.Sid, Use = n.Use }
  end
  return list
end

function H.translate_names(r)
  local list = {}
  local ts = r.TranslatedSids
  for i, s in ipairs(ts and ts.Sids or {}) do
    local d = domain_of(r, s.DomainIndex)
    local sid = s.Sid
    if sid == nil and s.RelativeId ~= nil and d and d.Sid then
      -- a domain's own entry (SidTypeDomain) has no RID to append
      sid = (s.Use == SID_NAME_USE_NAMES.SidTypeDomain) and d.Sid or (d.Sid .. "-" .. s.RelativeId)
    end
    list[i] = { Sid = sid, Domain = d and d.Name, Use = s.Use }
  end
  return list
end

local C = {
  -- policy object access ([MS-LSAD] 2.2.1.1.2)
  POLICY_VIEW_LOCAL_INFORMATION = 0x00000001, POLICY_VIEW_AUDIT_INFORMATION = 0x00000002,
  POLICY_GET_PRIVATE_INFORMATION = 0x00000004, POLICY_TRUST_ADMIN = 0x00000008,
  POLICY_CREATE_ACCOUNT = 0x00000010, POLICY_CREATE_SECRET = 0x00000020,
  POLICY_CREATE_PRIVILEGE = 0x00000040, POLICY_SET_DEFAULT_QUOTA_LIMITS = 0x00000080,
  POLICY_SET_AUDIT_REQUIREMENTS = 0x00000100, POLICY_AUDIT_LOG_ADMIN = 0x00000200,
  POLICY_SERVER_ADMIN = 0x00000400, POLICY_LOOKUP_NAMES = 0x00000800,
  POLICY_NOTIFICATION = 0x00001000, MAXIMUM_ALLOWED = 0x02000000,
  -- LsarLookup* ClientRevision / LookupOptions ([MS-LSAT] 3.1.4.5)
  LSA_CLIENT_REVISION_1 = 1, LSA_CLIENT_REVISION_2 = 2,
  LSA_LOOKUP_ISOLATED_AS_LOCAL = 0x80000000,
  -- statuses a lookup returns besides success
  STATUS_SOME_NOT_MAPPED = 0x00000107, STATUS_NONE_MAPPED = 0xC0000073,
  STATUS_MORE_ENTRIES = 0x00000105, STATUS_NO_MORE_ENTRIES = 0x8000001A,
  POLICY_INFORMATION_CLASS = POLICY_INFORMATION_CLASS_NAMES,
  SID_NAME_USE = SID_NAME_USE_NAMES,
  LSAP_LOOKUP_LEVEL = LSAP_LOOKUP_LEVEL_NAMES,
}

return ndr.interface {
  name = "lsarpc",
  uuid = "12345778-1234-abcd-ef00-0123456789ab", version = "0.0",
  types = {
    STRING = STRING, LSAPR_ACL = LSAPR_ACL, LSAPR_SECURITY_DESCRIPTOR = LSAPR_SECURITY_DESCRIPTOR,
    SECURITY_QUALITY_OF_SERVICE = SECURITY_QUALITY_OF_SERVICE,
    LSAPR_OBJECT_ATTRIBUTES = LSAPR_OBJECT_ATTRIBUTES,
    POLICY_INFORMATION_CLASS = POLICY_INFORMATION_CLASS,
    POLICY_AUDIT_LOG_INFO = POLICY_AUDIT_LOG_INFO,
    LSAPR_POLICY_AUDIT_EVENTS_INFO = LSAPR_POLICY_AUDIT_EVENTS_INFO,
    LSAPR_POLICY_PRIMARY_DOM_INFO = LSAPR_POLICY_PRIMARY_DOM_INFO,
    LSAPR_POLICY_PD_ACCOUNT_INFO = LSAPR_POLICY_PD_ACCOUNT_INFO,
    LSAPR_POLICY_ACCOUNT_DOM_INFO = LSAPR_POLICY_ACCOUNT_DOM_INFO,
    POLICY_LSA_SERVER_ROLE_INFO = POLICY_LSA_SERVER_ROLE_INFO,
    LSAPR_POLICY_REPLICA_SRCE_INFO = LSAPR_POLICY_REPLICA_SRCE_INFO,
    POLICY_MODIFICATION_INFO = POLICY_MODIFICATION_INFO,
    POLICY_AUDIT_FULL_SET_INFO = POLICY_AUDIT_FULL_SET_INFO,
    POLICY_AUDIT_FULL_QUERY_INFO = POLICY_AUDIT_FULL_QUERY_INFO,
    LSAPR_POLICY_DNS_DOMAIN_INFO = LSAPR_POLICY_DNS_DOMAIN_INFO,
    POLICY_MACHINE_ACCT_INFO = POLICY_MACHINE_ACCT_INFO,
    LSAPR_POLICY_INFORMATION = LSAPR_POLICY_INFORMATION,
    LSAPR_ACCOUNT_INFORMATION = LSAPR_ACCOUNT_INFORMATION,
    LSAPR_ACCOUNT_ENUM_BUFFER = LSAPR_ACCOUNT_ENUM_BUFFER,
    LSAPR_TRUST_INFORMATION = LSAPR_TRUST_INFORMATION,
    LSAPR_TRUSTED_ENUM_BUFFER = LSAPR_TRUSTED_ENUM_BUFFER,
    LSAPR_TRUSTED_DOMAIN_INFORMATION_EX = LSAPR_TRUSTED_DOMAIN_INFORMATION_EX,
    LSAPR_TRUSTED_ENUM_BUFFER_EX = LSAPR_TRUSTED_ENUM_BUFFER_EX,
    LSAPR_REFERENCED_DOMAIN_LIST = LSAPR_REFERENCED_DOMAIN_LIST,
    LSAPR_SID_INFORMATION = LSAPR_SID_INFORMATION, LSAPR_SID_ENUM_BUFFER = LSAPR_SID_ENUM_BUFFER,
    LSA_TRANSLATED_SID = LSA_TRANSLATED_SID, LSAPR_TRANSLATED_SIDS = LSAPR_TRANSLATED_SIDS,
    LSAPR_TRANSLATED_SID_EX = LSAPR_TRANSLATED_SID_EX, LSAPR_TRANSLATED_SIDS_EX = LSAPR_TRANSLATED_SIDS_EX,
    LSAPR_TRANSLATED_SID_EX2 = LSAPR_TRANSLATED_SID_EX2, LSAPR_TRANSLATED_SIDS_EX2 = LSAPR_TRANSLATED_SIDS_EX2,
    LSAPR_TRANSLATED_NAME = LSAPR_TRANSLATED_NAME, LSAPR_TRANSLATED_NAMES = LSAPR_TRANSLATED_NAMES,
    LSAPR_TRANSLATED_NAME_EX = LSAPR_TRANSLATED_NAME_EX, LSAPR_TRANSLATED_NAMES_EX = LSAPR_TRANSLATED_NAMES_EX,
  },
  constants = C,
  helpers = H,

  -- MS-LSAD 3.1.4.9.4
  ndr.func(0, "LsarClose") {
    { "ObjectHandle", ndr.ref(HANDLE), "in,out" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.4.4.2
  open_policy(6, "LsarOpenPolicy", ndr.unique(ndr.wchar_t)),

  -- 3.1.4.4.4
  query_policy(7, "LsarQueryInformationPolicy"),

  -- 3.1.4.5.2
  ndr.func(11, "LsarEnumerateAccounts") {
    { "PolicyHandle",          HANDLE, "in" },
    { "EnumerationContext",    ndr.ref(ULONG), "in,out" },
    { "EnumerationBuffer",     ndr.ref(LSAPR_ACCOUNT_ENUM_BUFFER), "out" },
    { "PreferedMaximumLength", ULONG, "in" },
    returns = ndr.NTSTATUS,
  },

  -- 3.1.4.7.1
  enum_trusts(13, "LsarEnumerateTrustedDomains", LSAPR_TRUSTED_ENUM_BUFFER),

  -- MS-LSAT 3.1.4.8, 3.1.4.11
  lookup_names(14, "LsarLookupNames", LSAPR_TRANSLATED_SIDS, false),
  lookup_sids(15, "LsarLookupSids", LSAPR_TRANSLATED_NAMES, false, true),

  -- MS-LSAD 3.1.4.4.1
  open_policy(44, "LsarOpenPolicy2", ndr.unique(ndr.wstring)),

  -- MS-LSAT 3.1.4.4
  ndr.func(45, "LsarGetUserName") {
    { "SystemName",    ndr.unique(ndr.wstring), "in" },
    { "UserName",      ndr.ref(ndr.unique(RUS)), "in,out" },
    { "DomainName",    ndr.unique(ndr.unique(RUS)), "in,out" },
    returns = ndr.NTSTATUS,
  },

  -- MS-LSAD 3.1.4.4.3
  query_policy(46, "LsarQueryInformationPolicy2"),

  -- 3.1.4.7.7
  enum_trusts(50, "LsarEnumerateTrustedDomainsEx", LSAPR_TRUSTED_ENUM_BUFFER_EX),

  -- MS-LSAT 3.1.4.10, 3.1.4.7, 3.1.4.6, 3.1.4.9
  lookup_sids(57, "LsarLookupSids2", LSAPR_TRANSLATED_NAMES_EX, true, true),
  lookup_names(58, "LsarLookupNames2", LSAPR_TRANSLATED_SIDS_EX, true),
  lookup_names(68, "LsarLookupNames3", LSAPR_TRANSLATED_SIDS_EX2, true),
  lookup_sids(76, "LsarLookupSids3", LSAPR_TRANSLATED_NAMES_EX, true, false),
}
