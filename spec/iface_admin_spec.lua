-- iface_admin_spec: the lsarpc, svcctl and winreg descriptions
-- (scripts/dcerpc/iface/{lsarpc,svcctl,winreg}.lua) and their helpers.
--   1. request stubs byte for byte against Impacket's encoder, reply stubs
--      built by Impacket decoded (spec/helpers/impacket_admin.py);
--   2. #interop winreg against the Samba peer over ncacn_ip_tcp (NTLM at
--      packet integrity), compared with what Impacket reads; lsarpc and svcctl
--      live tests are pending until ncacn_np (Samba refuses lsarpc on TCP and
--      does not serve svcctl there);
--   3. hostile input to the helpers that parse bytes.
-- Skips when /usr/bin/python3 + Impacket or the peer are missing, except under
-- CI=true, where that fails.

local ndr = require "dcerpc.ndr"

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/iface_admin_spec%.lua$")) or "."
local CI = os.getenv("CI") == "true"
local PY = "/usr/bin/python3"

local function unhex(h)
  return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end))
end
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local function handle(n) return "\0\0\0\0" .. string.rep(string.char(n), 16) end

local lsarpc = require "dcerpc.iface.lsarpc"
local svcctl = require "dcerpc.iface.svcctl"
local winreg = require "dcerpc.iface.winreg"
local R, S, L = winreg.helpers, svcctl.helpers, lsarpc.helpers
local RC, SC = winreg.constants, svcctl.constants

-- Impacket's stubs, once: name -> hex (nil, why when it cannot run)
local stubs, stubs_why
local function impacket()
  if stubs or stubs_why then return stubs, stubs_why end
  local f = io.open(PY)
  if not f then
    stubs_why = PY .. " is missing"
  else
    f:close()
    local p = io.popen(string.format("%s %q 2>&1; echo \"exit $?\"", PY, root .. "/spec/helpers/impacket_admin.py"))
    local out = p:read("a")
    p:close()
    local code = tonumber(out:match("exit (%d+)%s*$"))
    if code ~= 0 then
      stubs_why = "impacket_admin.py failed (exit " .. tostring(code) .. "): " .. out:sub(1, 300)
    else
      stubs = {}
      for name, rest in out:gmatch("([%w_]+) ([^\n]*)\n") do stubs[name] = rest end
    end
  end
  if stubs_why and CI then error("Impacket reference unavailable under CI: " .. stubs_why) end
  return stubs, stubs_why
end

local function need_impacket()
  local st, why = impacket()
  if not st then pending("Impacket reference not available: " .. why) end
  return st
end

local function ref(st, name)
  local h = st[name]
  assert(h, "no Impacket case " .. name)
  assert(not h:find("^ERROR"), name .. ": " .. h)
  return h
end

local function fn_of(iface, name) return assert(iface.functions[name], name) end

-- our request stub equals Impacket's, and decodes back to the arguments' values
local function check_request(st, case, iface, fname, args)
  local f = fn_of(iface, fname)
  local got = hex(ndr.encode_call(f, "in", args))
  assert.are.equal(ref(st, case), got, case)
  return assert(ndr.decode_call(f, "in", unhex(got)))
end

-- Impacket's reply stub decodes; re-encoded (with the [in] values switches
-- need) it gives the same bytes back
-- (no_reencode: lpData of BaseRegQueryValue / BaseRegEnumValue, whose wire
-- max_count, the client's buffer size, is not kept by the decoder: re-encoded
-- it is *lpcbData, the data's size)
local function check_reply(st, case, iface, fname, ins, no_reencode)
  local f = fn_of(iface, fname)
  local bytes = unhex(ref(st, case))
  local out, err = ndr.decode_call(f, "out", bytes)
  assert(out, case .. ": " .. tostring(err and err.message))
  if no_reencode then return out end
  local again = {}
  for k, v in pairs(out) do again[k] = v end
  for k, v in pairs(ins or {}) do again[k] = v end
  assert.are.equal(hex(bytes), hex(ndr.encode_call(f, "out", again, { request = ins })), case .. " (re-encoded)")
  return out
end

local MAXIMUM_ALLOWED = 0x02000000
local MULTI = { "first", "second é", "C:\\third" }

--------------------------------------------------------------------------
describe("admin interface descriptions", function()
  it("have the specs' uuids, versions and opnums", function()
    assert.are.equal("12345778-1234-abcd-ef00-0123456789ab", lsarpc.uuid)
    assert.are.equal("0.0", lsarpc.version)
    assert.are.equal("367abb81-9844-35f1-ad32-98f038001003", svcctl.uuid)
    assert.are.equal("2.0", svcctl.version)
    assert.are.equal("338cd001-2244-31f1-aaaa-900038001003", winreg.uuid)
    assert.are.equal("1.0", winreg.version)
    local want = {
      [lsarpc] = { LsarClose = 0, LsarOpenPolicy = 6, LsarQueryInformationPolicy = 7,
        LsarEnumerateAccounts = 11, LsarEnumerateTrustedDomains = 13, LsarLookupNames = 14,
        LsarLookupSids = 15, LsarOpenPolicy2 = 44, LsarGetUserName = 45,
        LsarQueryInformationPolicy2 = 46, LsarEnumerateTrustedDomainsEx = 50, LsarLookupSids2 = 57,
        LsarLookupNames2 = 58, LsarLookupNames3 = 68, LsarLookupSids3 = 76 },
      [svcctl] = { RCloseServiceHandle = 0, RControlService = 1, RQueryServiceStatus = 6,
        REnumServicesStatusW = 14, ROpenSCManagerW = 15, ROpenServiceW = 16,
        RQueryServiceConfigW = 17, RStartServiceW = 19 },
      [winreg] = { OpenClassesRoot = 0, OpenCurrentUser = 1, OpenLocalMachine = 2, OpenUsers = 4,
        BaseRegCloseKey = 5, BaseRegCreateKey = 6, BaseRegDeleteKey = 7, BaseRegDeleteValue = 8,
        BaseRegEnumKey = 9, BaseRegEnumValue = 10, BaseRegFlushKey = 11, BaseRegOpenKey = 15,
        BaseRegQueryInfoKey = 16, BaseRegQueryValue = 17, BaseRegSetValue = 22, BaseRegGetVersion = 26,
        OpenHKLM = 2, OpenHKU = 4, OpenHKCU = 1, OpenHKCR = 0 },
    }
    for iface, fns in pairs(want) do
      for name, opnum in pairs(fns) do
        assert.are.equal(opnum, fn_of(iface, name).opnum, iface.name .. "." .. name)
      end
    end
    assert.are.equal(winreg.functions.OpenLocalMachine, winreg.functions.OpenHKLM)
  end)

  it("load through dcerpc.interface and make client methods (aliases too)", function()
    local dcerpc = require "dcerpc"
    assert.are.equal(winreg, dcerpc.interface "winreg")
    assert.are.equal(R, dcerpc.interface("winreg").helpers)
    assert.is_function(S.decode_enum_buffer)
    assert.is_function(L.translate_sids)
  end)
end)

--------------------------------------------------------------------------
describe("lsarpc stubs against Impacket", function()
  it("LsarOpenPolicy2 with ObjectAttributes (and its QoS), LsarClose", function()
    local st = need_impacket()
    local back = check_request(st, "lsa_OpenPolicy2_req", lsarpc, "LsarOpenPolicy2", {
      SystemName = "\\\\127.0.0.1", ObjectAttributes = L.object_attributes(true),
      DesiredAccess = MAXIMUM_ALLOWED })
    assert.are.same({ Length = 12, ImpersonationLevel = 2, ContextTrackingMode = 1, EffectiveOnly = 0 },
                    back.ObjectAttributes.SecurityQualityOfService)
    assert.are.equal(24, back.ObjectAttributes.Length)
    check_request(st, "lsa_Close_req", lsarpc, "LsarClose", { ObjectHandle = handle(1) })
    local r = check_reply(st, "lsa_OpenPolicy2_rep", lsarpc, "LsarOpenPolicy2")
    assert.are.equal(handle(1), r.PolicyHandle)
    assert.are.equal(0, r.result)
  end)

  it("LsarQueryInformationPolicy(2): classes 2, 3, 5, 12", function()
    local st = need_impacket()
    check_request(st, "lsa_QueryInformationPolicy2_req", lsarpc, "LsarQueryInformationPolicy2",
                  { PolicyHandle = handle(1), InformationClass = 12 })
    check_request(st, "lsa_QueryInformationPolicy_req", lsarpc, "LsarQueryInformationPolicy",
                  { PolicyHandle = handle(1), InformationClass = "PolicyAccountDomainInformation" })
    local r = check_reply(st, "lsa_QueryInformationPolicy2_L3_rep", lsarpc, "LsarQueryInformationPolicy2",
                          { InformationClass = 3 })
    assert.are.same({ PolicyPrimaryDomainInfo = { Name = "RPCTEST", Sid = "S-1-5-21-1-2-3" } },
                    r.PolicyInformation)
    r = check_reply(st, "lsa_QueryInformationPolicy2_L5_rep", lsarpc, "LsarQueryInformationPolicy2",
                    { InformationClass = 5 })
    assert.are.same({ PolicyAccountDomainInfo = { DomainName = "RPCSRV",
      DomainSid = "S-1-5-21-570980444-294173684-222828579" } }, r.PolicyInformation)
    r = check_reply(st, "lsa_QueryInformationPolicy2_L12_rep", lsarpc, "LsarQueryInformationPolicy2",
                    { InformationClass = 12 })
    assert.are.same({ PolicyDnsDomainInfo = { Name = "EXAMPLE", DnsDomainName = "example.com",
      DnsForestName = "example.com", DomainGuid = "00112233-4455-6677-8899-aabbccddeeff",
      Sid = "S-1-5-21-11-22-33" } }, r.PolicyInformation)
    r = check_reply(st, "lsa_QueryInformationPolicy2_L2_rep", lsarpc, "LsarQueryInformationPolicy2",
                    { InformationClass = 2 })
    assert.are.same({ PolicyAuditEventsInfo = { AuditingMode = 1, MaximumAuditEventCount = 9,
      EventAuditingOptions = { 0, 1, 2, 3, 0, 0, 1, 0, 3 } } }, r.PolicyInformation)
  end)

  it("LsarEnumerateAccounts, LsarEnumerateTrustedDomains(Ex)", function()
    local st = need_impacket()
    check_request(st, "lsa_EnumerateAccounts_req", lsarpc, "LsarEnumerateAccounts",
                  { PolicyHandle = handle(1), EnumerationContext = 0, PreferedMaximumLength = 0xffffffff })
    local r = check_reply(st, "lsa_EnumerateAccounts_rep", lsarpc, "LsarEnumerateAccounts")
    assert.are.equal(3, r.EnumerationContext)
    assert.are.same({ EntriesRead = 3, Information = { { Sid = "S-1-5-32-544" }, { Sid = "S-1-5-32-545" },
                                                       { Sid = "S-1-1-0" } } }, r.EnumerationBuffer)
    check_request(st, "lsa_EnumerateTrustedDomainsEx_req", lsarpc, "LsarEnumerateTrustedDomainsEx",
                  { PolicyHandle = handle(1), EnumerationContext = 0, PreferedMaximumLength = 0x10000 })
    check_request(st, "lsa_EnumerateTrustedDomains_req", lsarpc, "LsarEnumerateTrustedDomains",
                  { PolicyHandle = handle(1), EnumerationContext = 5, PreferedMaximumLength = 0x1000 })
    r = check_reply(st, "lsa_EnumerateTrustedDomainsEx_rep", lsarpc, "LsarEnumerateTrustedDomainsEx")
    assert.are.same({ EntriesRead = 1, EnumerationBuffer = { { Name = "other.example", FlatName = "OTHER",
      Sid = "S-1-5-21-7-8-9", TrustDirection = 3, TrustType = 2, TrustAttributes = 8 } } },
      r.EnumerationBuffer)
  end)

  local SIDS = { "S-1-5-21-1-2-3-500", "S-1-5-32-544", "S-1-5-21-1-2-3-1000", "S-1-1-0" }
  local function sid_enum()
    local t = {}
    for i, s in ipairs(SIDS) do t[i] = { Sid = s } end
    return { Entries = #t, SidInfo = t }
  end

  it("LsarLookupSids2 / LsarLookupSids3 with several SIDs", function()
    local st = need_impacket()
    local back = check_request(st, "lsa_LookupSids2_req", lsarpc, "LsarLookupSids2", {
      PolicyHandle = handle(1), SidEnumBuffer = sid_enum(), TranslatedNames = { Entries = 0 },
      LookupLevel = "LsapLookupWksta", MappedCount = 0, LookupOptions = 0, ClientRevision = 2 })
    assert.are.same(sid_enum(), back.SidEnumBuffer)
    check_request(st, "lsa_LookupSids3_req", lsarpc, "LsarLookupSids3", {
      SidEnumBuffer = sid_enum(), TranslatedNames = { Entries = 0 }, LookupLevel = 2, MappedCount = 0,
      LookupOptions = 0x80000000, ClientRevision = 2 })
    local r = check_reply(st, "lsa_LookupSids2_rep", lsarpc, "LsarLookupSids2")
    assert.are.equal(0x107, r.result)
    assert.are.equal(3, r.MappedCount)
    assert.are.same({ Entries = 3, MaxEntries = 32, Domains = {
      { Name = "RPCSRV", Sid = "S-1-5-21-1-2-3" }, { Name = "BUILTIN", Sid = "S-1-5-32" },
      { Name = "", Sid = "S-1-1" } } }, r.ReferencedDomains)
    assert.are.same({
      { Name = "Administrator", Domain = "RPCSRV", DomainSid = "S-1-5-21-1-2-3", Use = 1 },
      { Name = "Administrators", Domain = "BUILTIN", DomainSid = "S-1-5-32", Use = 4 },
      { Name = "", Use = 8 },
      { Name = "Everyone", Domain = "", DomainSid = "S-1-1", Use = 5 },
    }, L.translate_sids(r))
  end)

  it("LsarLookupNames2 / LsarLookupNames3", function()
    local st = need_impacket()
    local names = { "RPCSRV\\alice", "Administrators", "nobody-here" }
    local args = { PolicyHandle = handle(1), Count = 3, Names = names, TranslatedSids = { Entries = 0 },
                   LookupLevel = 1, MappedCount = 0, LookupOptions = 0, ClientRevision = 2 }
    check_request(st, "lsa_LookupNames3_req", lsarpc, "LsarLookupNames3", args)
    args.ClientRevision = 1
    args.Count = nil          -- filled in from #Names
    check_request(st, "lsa_LookupNames2_req", lsarpc, "LsarLookupNames2", args)
    local r = check_reply(st, "lsa_LookupNames3_rep", lsarpc, "LsarLookupNames3")
    assert.are.equal(2, r.MappedCount)
    assert.are.same({
      { Sid = "S-1-5-21-1-2-3-1000", Domain = "RPCSRV", Use = 1 },
      { Sid = "S-1-5-32-544", Domain = "BUILTIN", Use = 4 },
      { Use = 8 },
    }, L.translate_names(r))
    r = check_reply(st, "lsa_LookupNames2_rep", lsarpc, "LsarLookupNames2")
    assert.are.same({
      { Sid = "S-1-5-21-1-2-3-1000", Domain = "RPCSRV", Use = 1 },
      { Sid = "S-1-5-21-1-2-3-513", Domain = "RPCSRV", Use = 2 },
    }, L.translate_names(r))
  end)
end)

--------------------------------------------------------------------------
local ENUM_WANT = {
  { ServiceName = "Spooler", DisplayName = "Print Spooler", ServiceStatus = { dwServiceType = 0x10,
    dwCurrentState = 4, dwControlsAccepted = 5, dwWin32ExitCode = 0, dwServiceSpecificExitCode = 0,
    dwCheckPoint = 0, dwWaitHint = 0 } },
  { ServiceName = "WinRM", DisplayName = "Windows Remote Management (WS-Management)", ServiceStatus = {
    dwServiceType = 0x20, dwCurrentState = 1, dwControlsAccepted = 0, dwWin32ExitCode = 1077,
    dwServiceSpecificExitCode = 0, dwCheckPoint = 0, dwWaitHint = 0 } },
  { ServiceName = "Dnscache", DisplayName = "DNS Client é中", ServiceStatus = { dwServiceType = 0x20,
    dwCurrentState = 4, dwControlsAccepted = 0x81, dwWin32ExitCode = 0, dwServiceSpecificExitCode = 0,
    dwCheckPoint = 0, dwWaitHint = 0 } },
}

describe("svcctl stubs against Impacket", function()
  it("ROpenSCManagerW, ROpenServiceW, RQueryServiceStatus, RControlService, RCloseServiceHandle", function()
    local st = need_impacket()
    check_request(st, "svc_OpenSCManagerW_req", svcctl, "ROpenSCManagerW", { lpMachineName = "DUMMY",
      lpDatabaseName = "ServicesActive",
      dwDesiredAccess = SC.SC_MANAGER_CONNECT | SC.SC_MANAGER_ENUMERATE_SERVICE })
    assert.are.equal(handle(2), check_reply(st, "svc_OpenSCManagerW_rep", svcctl, "ROpenSCManagerW").lpScHandle)
    check_request(st, "svc_OpenServiceW_req", svcctl, "ROpenServiceW", { hSCManager = handle(2),
      lpServiceName = "Spooler", dwDesiredAccess = 0x35 })
    check_request(st, "svc_QueryServiceStatus_req", svcctl, "RQueryServiceStatus", { hService = handle(3) })
    local r = check_reply(st, "svc_QueryServiceStatus_rep", svcctl, "RQueryServiceStatus")
    assert.are.same(ENUM_WANT[1].ServiceStatus, r.lpServiceStatus)
    check_request(st, "svc_ControlService_req", svcctl, "RControlService",
                  { hService = handle(3), dwControl = SC.SERVICE_CONTROL_STOP })
    check_request(st, "svc_CloseServiceHandle_req", svcctl, "RCloseServiceHandle", { hSCObject = handle(3) })
  end)

  it("RQueryServiceConfigW, RStartServiceW (with and without argv)", function()
    local st = need_impacket()
    check_request(st, "svc_QueryServiceConfigW_req", svcctl, "RQueryServiceConfigW",
                  { hService = handle(3), cbBufSize = 8192 })
    local r = check_reply(st, "svc_QueryServiceConfigW_rep", svcctl, "RQueryServiceConfigW")
    assert.are.same({ dwServiceType = 0x10, dwStartType = 2, dwErrorControl = 1,
      lpBinaryPathName = "C:\\Windows\\System32\\spoolsv.exe", lpLoadOrderGroup = "SpoolerGroup",
      dwTagId = 0, lpDependencies = "RPCSS/http", lpServiceStartName = "LocalSystem",
      lpDisplayName = "Print Spooler" }, r.lpServiceConfig)
    assert.are.equal(250, r.pcbBytesNeeded)
    check_request(st, "svc_StartServiceW_req", svcctl, "RStartServiceW", { hService = handle(3), argc = 2,
      argv = { { StringPtr = "--verbose" }, { StringPtr = "x" } } })
    check_request(st, "svc_StartServiceW_req_noargs", svcctl, "RStartServiceW", { hService = handle(3), argc = 0 })
  end)

  it("REnumServicesStatusW: request, and the reply's buffer through decode_enum_buffer", function()
    local st = need_impacket()
    check_request(st, "svc_EnumServicesStatusW_req", svcctl, "REnumServicesStatusW", { hSCManager = handle(2),
      dwServiceType = SC.SERVICE_WIN32, dwServiceState = SC.SERVICE_STATE_ALL, cbBufSize = 4096,
      lpResumeIndex = 0 })
    local r = check_reply(st, "svc_EnumServicesStatusW_rep", svcctl, "REnumServicesStatusW")
    assert.are.equal(3, r.lpServicesReturned)
    assert.is_nil(r.lpResumeIndex)
    assert.are.same(ENUM_WANT, assert(S.decode_enum_buffer(r.lpBuffer, r.lpServicesReturned)))
    r = check_reply(st, "svc_EnumServicesStatusW_rep_more", svcctl, "REnumServicesStatusW")
    assert.are.equal(SC.ERROR_MORE_DATA, r.result)
    assert.are.equal(1, r.lpResumeIndex)
    assert.are.same({ ENUM_WANT[1] }, assert(S.decode_enum_buffer(r.lpBuffer, r.lpServicesReturned)))
  end)

  it("enum_services pages with the resume index and grows the buffer", function()
    local st = need_impacket()
    -- a fake client answering from Impacket's replies: first a page of one
    -- entry with ERROR_MORE_DATA, then nothing fits, then the rest
    local f = fn_of(svcctl, "REnumServicesStatusW")
    local more = assert(ndr.decode_call(f, "out", unhex(ref(st, "svc_EnumServicesStatusW_rep_more"))))
    local all = assert(ndr.decode_call(f, "out", unhex(ref(st, "svc_EnumServicesStatusW_rep"))))
    local seen = {}
    local fake = {}
    function fake:REnumServicesStatusW(args)
      seen[#seen + 1] = { resume = args.lpResumeIndex, size = args.cbBufSize }
      if #seen == 1 then return more end
      if #seen == 2 then
        return { result = 234, lpBuffer = "", lpServicesReturned = 0, pcbBytesNeeded = 9000, lpResumeIndex = 1 }
      end
      return { result = 0, lpBuffer = all.lpBuffer, lpServicesReturned = 2, pcbBytesNeeded = 0 }
    end
    local list = assert(S.enum_services(fake, handle(2), nil, nil, 4096))
    assert.are.same({ ENUM_WANT[1], ENUM_WANT[1], ENUM_WANT[2] }, list)
    assert.are.same({ { resume = 0, size = 4096 }, { resume = 1, size = 4096 }, { resume = 1, size = 9000 } }, seen)
  end)
end)

--------------------------------------------------------------------------
describe("winreg stubs against Impacket", function()
  it("the hive openers, BaseRegOpenKey, BaseRegCloseKey", function()
    local st = need_impacket()
    for case, name in pairs { reg_OpenLocalMachine_req = "OpenHKLM", reg_OpenUsers_req = "OpenHKU",
                              reg_OpenCurrentUser_req = "OpenHKCU", reg_OpenClassesRoot_req = "OpenClassesRoot" } do
      check_request(st, case, winreg, name, { samDesired = MAXIMUM_ALLOWED })
    end
    assert.are.equal(handle(4), check_reply(st, "reg_OpenLocalMachine_rep", winreg, "OpenLocalMachine").phKey)
    local back = check_request(st, "reg_BaseRegOpenKey_req", winreg, "BaseRegOpenKey", { hKey = handle(4),
      lpSubKey = R.ustr("SOFTWARE\\Samba"), dwOptions = 0, samDesired = RC.KEY_READ })
    -- [MS-RRP] 2.2.4: Length and MaximumLength count the terminating NUL
    assert.are.same({ Length = 30, MaximumLength = 30, Buffer = "SOFTWARE\\Samba\0" }, back.lpSubKey)
    assert.are.equal("SOFTWARE\\Samba", R.str(back.lpSubKey))
    check_request(st, "reg_BaseRegCloseKey_req", winreg, "BaseRegCloseKey", { hKey = handle(6) })
  end)

  it("BaseRegEnumKey, BaseRegEnumValue (empty name buffers, lpData sized by *lpcbData)", function()
    local st = need_impacket()
    check_request(st, "reg_BaseRegEnumKey_req", winreg, "BaseRegEnumKey", { hKey = handle(5), dwIndex = 2,
      lpNameIn = R.ubuf(512), lpClassIn = R.ustr(" "), lpftLastWriteTime = 0 })
    local r = check_reply(st, "reg_BaseRegEnumKey_rep", winreg, "BaseRegEnumKey")
    assert.are.same({ Length = 12, MaximumLength = 512, Buffer = "Samba\0" }, r.lpNameOut)
    assert.is_nil(r.lplpClassOut)
    assert.are.equal(0x01d9c1f0a0b0c0d0, r.lpftLastWriteTime)
    check_request(st, "reg_BaseRegEnumValue_req", winreg, "BaseRegEnumValue", { hKey = handle(5), dwIndex = 0,
      lpValueNameIn = R.ubuf(256), lpType = 0, lpData = "", lpcbData = 1024, lpcbLen = 0 })
    r = check_reply(st, "reg_BaseRegEnumValue_rep", winreg, "BaseRegEnumValue", nil, true)
    assert.are.equal("Version", R.str(r.lpValueNameOut))
    assert.are.equal(RC.REG_SZ, r.lpType)
    assert.are.equal("4.17.12", R.decode_value(r.lpType, r.lpData))
    assert.are.equal(16, r.lpcbData)
  end)

  it("BaseRegQueryValue request and replies (REG_MULTI_SZ, ERROR_MORE_DATA), BaseRegQueryInfoKey", function()
    local st = need_impacket()
    check_request(st, "reg_BaseRegQueryValue_req", winreg, "BaseRegQueryValue", { hKey = handle(5),
      lpValueName = R.ustr("Version"), lpType = 0, lpData = "", lpcbData = 512, lpcbLen = 0 })
    local r = check_reply(st, "reg_BaseRegQueryValue_rep_multi", winreg, "BaseRegQueryValue", nil, true)
    assert.are.equal(RC.REG_MULTI_SZ, r.lpType)
    assert.are.same(MULTI, R.decode_value(r.lpType, r.lpData))
    r = check_reply(st, "reg_BaseRegQueryValue_rep_more", winreg, "BaseRegQueryValue")
    assert.are.equal(RC.ERROR_MORE_DATA, r.result)
    assert.are.equal(5000, r.lpcbData)
    assert.is_nil(r.lpData)
    check_request(st, "reg_BaseRegQueryInfoKey_req", winreg, "BaseRegQueryInfoKey",
                  { hKey = handle(5), lpClassIn = R.ustr(nil) })
    r = check_reply(st, "reg_BaseRegQueryInfoKey_rep", winreg, "BaseRegQueryInfoKey")
    assert.are.same({ 3, 16, 0, 2, 14, 64, 120, 133000000000000000 }, { r.lpcSubKeys, r.lpcbMaxSubKeyLen,
      r.lpcbMaxClassLen, r.lpcValues, r.lpcbMaxValueNameLen, r.lpcbMaxValueLen, r.lpcbSecurityDescriptor,
      r.lpftLastWriteTime })
  end)

  it("BaseRegSetValue (REG_MULTI_SZ, REG_DWORD), BaseRegCreateKey, the deletes", function()
    local st = need_impacket()
    local data = R.encode_value(RC.REG_MULTI_SZ, MULTI)
    check_request(st, "reg_BaseRegSetValue_req_multi", winreg, "BaseRegSetValue", { hKey = handle(6),
      lpValueName = R.ustr("Paths"), dwType = RC.REG_MULTI_SZ, lpData = data, cbData = #data })
    data = R.encode_value(RC.REG_DWORD, 0xdeadbeef)
    check_request(st, "reg_BaseRegSetValue_req_dword", winreg, "BaseRegSetValue", { hKey = handle(6),
      lpValueName = R.ustr("Count"), dwType = RC.REG_DWORD, lpData = data, cbData = 4 })
    check_request(st, "reg_BaseRegCreateKey_req", winreg, "BaseRegCreateKey", { hKey = handle(5),
      lpSubKey = R.ustr("LuaDcerpc\\Test"), lpClass = R.ustr(nil), dwOptions = 0,
      samDesired = RC.KEY_ALL_ACCESS, lpdwDisposition = 0 })
    local r = check_reply(st, "reg_BaseRegCreateKey_rep", winreg, "BaseRegCreateKey")
    assert.are.equal(handle(6), r.phkResult)
    assert.are.equal(RC.REG_CREATED_NEW_KEY, r.lpdwDisposition)
    check_request(st, "reg_BaseRegDeleteValue_req", winreg, "BaseRegDeleteValue",
                  { hKey = handle(6), lpValueName = R.ustr("Paths") })
    check_request(st, "reg_BaseRegDeleteKey_req", winreg, "BaseRegDeleteKey",
                  { hKey = handle(5), lpSubKey = R.ustr("LuaDcerpc\\Test") })
  end)
end)

--------------------------------------------------------------------------
describe("winreg value helpers", function()
  it("decode each type and encode it back", function()
    local cases = {
      { RC.REG_SZ, "héllo 😀", "h\0\xe9\0l\0l\0o\0 \0\x3d\xd8\x00\xde\0\0" },
      { RC.REG_EXPAND_SZ, "%SystemRoot%", nil },
      { RC.REG_MULTI_SZ, { "a", "bé" }, "a\0\0\0b\0\xe9\0\0\0\0\0" },
      { RC.REG_MULTI_SZ, {}, "\0\0" },
      { RC.REG_DWORD, 0xdeadbeef, "\xef\xbe\xad\xde" },
      { RC.REG_DWORD_BIG_ENDIAN, 0x01020304, "\1\2\3\4" },
      { RC.REG_QWORD, 0x1122334455667788, "\x88\x77\x66\x55\x44\x33\x22\x11" },
      { RC.REG_QWORD, -1, string.rep("\xff", 8) },
      { RC.REG_BINARY, "\0\1\255", "\0\1\255" },
      { RC.REG_NONE, "", "" },
      { 0x1234, "raw", "raw" },
    }
    for _, c in ipairs(cases) do
      local bytes = R.encode_value(c[1], c[2])
      if c[3] then assert.are.equal(hex(c[3]), hex(bytes)) end
      assert.are.same(c[2], (R.decode_value(c[1], bytes)))
    end
    -- lenient where Windows is: no terminator, text after the first NUL, no list terminator
    assert.are.equal("ab", R.decode_value(RC.REG_SZ, "a\0b\0"))
    assert.are.equal("a", R.decode_value(RC.REG_SZ, "a\0\0\0z\0"))
    assert.are.same({ "a", "b" }, R.decode_value(RC.REG_MULTI_SZ, "a\0\0\0b\0\0\0"))
    assert.are.same({}, R.decode_value(RC.REG_MULTI_SZ, ""))
    assert.are.same({ "a" }, R.decode_value(RC.REG_MULTI_SZ, "a\0\0\0\0\0z\0\0\0\0\0"))
    -- unpaired surrogates become U+FFFD
    assert.are.equal("\u{FFFD}x", R.decode_value(RC.REG_SZ, "\x00\xd8x\0"))
    -- a DWORD given as a negative int32 is its two's complement
    assert.are.equal(hex("\xff\xff\xff\xff"), hex(R.encode_value(RC.REG_DWORD, -1)))
  end)

  it("ustr / ubuf / str", function()
    assert.are.same({ Length = 2, MaximumLength = 2, Buffer = "\0" }, R.ustr(""))
    assert.are.same({ Length = 0, MaximumLength = 0 }, R.ustr(nil))
    -- units, not bytes: é is one unit, 😀 two
    assert.are.same({ Length = 8, MaximumLength = 8, Buffer = "é😀\0" }, R.ustr("é😀"))
    assert.are.same({ Length = 0, MaximumLength = 64, Buffer = "" }, R.ubuf(64))
    assert.is_nil(R.str({ Length = 0, MaximumLength = 0 }))
    assert.are.equal("x", R.str({ Buffer = "x" }))
    assert.has_error(function() R.ubuf(3) end)
    assert.has_error(function() R.ustr(string.rep("a", 40000)) end)
    assert.has_error(function() R.ustr("\xff") end)
  end)
end)

--------------------------------------------------------------------------
describe("hostile input to the helpers", function()
  local function fails(pattern, v, err)
    assert.is_nil(v)
    assert.is_string(err)
    assert.truthy(err:find(pattern), err)
  end

  it("registry values: odd UTF-16, unterminated REG_MULTI_SZ, short integers", function()
    fails("odd UTF%-16 length", R.decode_value(RC.REG_SZ, "abc"))
    fails("odd UTF%-16 length", R.decode_value(RC.REG_EXPAND_SZ, "a"))
    fails("odd UTF%-16 length", R.decode_value(RC.REG_MULTI_SZ, "a\0b\0\0"))
    fails("not terminated", R.decode_value(RC.REG_MULTI_SZ, "a\0\0\0b\0"))
    fails("not terminated", R.decode_value(RC.REG_MULTI_SZ, "abcd"))
    fails("4 bytes expected, got 3", R.decode_value(RC.REG_DWORD, "\1\2\3"))
    fails("4 bytes expected, got 5", R.decode_value(RC.REG_DWORD_BIG_ENDIAN, "\1\2\3\4\5"))
    fails("8 bytes expected, got 7", R.decode_value(RC.REG_QWORD, "1234567"))
    fails("8 bytes expected, got 0", R.decode_value(RC.REG_QWORD, ""))
    fails("%(string%) expected", R.decode_value(RC.REG_SZ, nil))
    fails("integer", R.decode_value("1", "x"))
    -- random bytes: a value or a clean error, never a raise
    math.randomseed(7)
    for _ = 1, 500 do
      local n = math.random(0, 24)
      local t = {}
      for i = 1, n do t[i] = string.char(math.random(0, 255)) end
      for _, ty in ipairs { 1, 2, 3, 4, 5, 7, 11 } do
        local ok, v, e = pcall(R.decode_value, ty, table.concat(t))
        assert.is_true(ok, tostring(v))
        assert.is_true(v ~= nil or type(e) == "string")
      end
    end
  end)

  it("registry values: encode_value refuses what does not fit", function()
    assert.has_error(function() R.encode_value(RC.REG_MULTI_SZ, { "a", "" }) end)
    assert.has_error(function() R.encode_value(RC.REG_MULTI_SZ, { "a\0b" }) end)
    assert.has_error(function() R.encode_value(RC.REG_MULTI_SZ, "a") end)
    assert.has_error(function() R.encode_value(RC.REG_SZ, "\xc3") end)
    assert.has_error(function() R.encode_value(RC.REG_DWORD, 0x100000000) end)
    assert.has_error(function() R.encode_value(RC.REG_DWORD, 1.5) end)
    assert.has_error(function() R.encode_value(RC.REG_QWORD, "1") end)
    assert.has_error(function() R.encode_value(RC.REG_BINARY, 1) end)
  end)

  -- one entry: name at 36, display name after it
  local function entry(noff, doff, tail)
    return string.pack("<I4I4I4I4I4I4I4I4I4", noff, doff, 0x10, 4, 0, 0, 0, 0, 0) .. tail
  end
  local NAME = "S\0v\0c\0\0\0"          -- 8 bytes at 36
  local DISP = "D\0\0\0"                -- 4 bytes at 44

  it("svcctl enum buffer: counts, offsets and strings are checked", function()
    local good = entry(36, 44, NAME .. DISP)
    assert.are.same({ { ServiceName = "Svc", DisplayName = "D", ServiceStatus = { dwServiceType = 0x10,
      dwCurrentState = 4, dwControlsAccepted = 0, dwWin32ExitCode = 0, dwServiceSpecificExitCode = 0,
      dwCheckPoint = 0, dwWaitHint = 0 } } }, assert(S.decode_enum_buffer(good, 1)))
    assert.are.same({}, assert(S.decode_enum_buffer("", 0)))
    fails("do not fit", S.decode_enum_buffer(good, 2))
    fails("do not fit", S.decode_enum_buffer(good:sub(1, 30), 1))                    -- truncated entry
    fails("do not fit", S.decode_enum_buffer(good, 0x7fffffff))
    fails("lpServiceName offset 48 is outside", S.decode_enum_buffer(entry(48, 44, NAME .. DISP), 1))
    fails("lpDisplayName offset 4294967294 is outside",
          S.decode_enum_buffer(entry(36, 0xfffffffe, NAME .. DISP), 1))
    fails("lpServiceName offset 37 is odd", S.decode_enum_buffer(entry(37, 44, NAME .. DISP), 1))
    fails("lpDisplayName: string at offset 44 is not terminated",
          S.decode_enum_buffer(entry(36, 44, NAME .. "D\0E\0"), 1))
    -- odd total length: the last string's terminator would straddle the end
    fails("not terminated", S.decode_enum_buffer(entry(36, 44, NAME .. "D\0\0"), 1))
    fails("entry count", S.decode_enum_buffer(good, -1))
    fails("buffer", S.decode_enum_buffer(nil, 1))
    -- offsets into the fixed part are allowed (they are just bytes): no crash either way
    local v, e = S.decode_enum_buffer(entry(0, 8, NAME .. DISP), 1)
    assert.is_true(v ~= nil or type(e) == "string")
    -- random buffers and counts: a list or an error, never a raise
    math.randomseed(11)
    for _ = 1, 500 do
      local n = math.random(0, 90)
      local t = {}
      for i = 1, n do t[i] = string.char(math.random(0, 3) == 0 and math.random(0, 255) or math.random(0, 60)) end
      local ok, lst, err = pcall(S.decode_enum_buffer, table.concat(t), math.random(0, 3))
      assert.is_true(ok, tostring(lst))
      assert.is_true(lst ~= nil or type(err) == "string")
    end
  end)

  it("reply stubs cut short or lying about sizes give nil, err", function()
    local st = need_impacket()
    for case, spec in pairs {
      svc_EnumServicesStatusW_rep = { svcctl, "REnumServicesStatusW" },
      reg_BaseRegQueryValue_rep_multi = { winreg, "BaseRegQueryValue" },
      reg_BaseRegEnumKey_rep = { winreg, "BaseRegEnumKey" },
      lsa_LookupSids2_rep = { lsarpc, "LsarLookupSids2" },
    } do
      local bytes = unhex(ref(st, case))
      local f = fn_of(spec[1], spec[2])
      for cut = 0, #bytes - 1, 3 do
        local v, err = ndr.decode_call(f, "out", bytes:sub(1, cut))
        assert.is_nil(v, case .. " cut at " .. cut)
        assert.are.equal(0x6f7, err.code)
      end
    end
    -- REnumServicesStatusW: a max_count far beyond the bytes
    local bytes = unhex(ref(st, "svc_EnumServicesStatusW_rep"))
    local v, err = ndr.decode_call(fn_of(svcctl, "REnumServicesStatusW"), "out", "\255\255\255\127" .. bytes:sub(5))
    assert.is_nil(v)
    assert.are.equal(0x6f7, err.code)
    -- RRP string: Length > MaximumLength
    bytes = unhex(ref(st, "reg_BaseRegEnumKey_rep"))
    v = ndr.decode_call(fn_of(winreg, "BaseRegEnumKey"), "out", "\0\4\0\2" .. bytes:sub(5))
    assert.is_nil(v)
  end)
end)

--------------------------------------------------------------------------
-- #interop: the Samba peer
local peers = require "helpers.peers"
local dcerpc = require "dcerpc"

local samba, samba_why
local function peer()
  if not samba and not samba_why then
    samba, samba_why = peers.samba()   -- raises under CI when the peer cannot start
  end
  if not samba then pending("Samba peer not available: " .. tostring(samba_why)) end
  return samba
end

local function connect_winreg(env, admin)
  local user, password = env.SAMBA_USER, env.SAMBA_PASSWORD
  if admin then user, password = env.SAMBA_ADMIN_USER, env.SAMBA_ADMIN_PASSWORD end
  return dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. env.SAMBA_WINREG_PORT .. "]", "winreg", {
    auth = "ntlm", level = "integrity", user = user, password = password, domain = env.SAMBA_DOMAIN,
    timeout = 20, connect_timeout = 10 })
end

local function enum_keys(c, h)
  local keys = {}
  for i = 0, 10000 do
    local r, e, out = c:BaseRegEnumKey { hKey = h, dwIndex = i, lpNameIn = R.ubuf(512),
                                         lpClassIn = R.ubuf(0), lpftLastWriteTime = 0 }
    if not r then
      assert.are.equal(RC.ERROR_NO_MORE_ITEMS, out and out.result, tostring(e))
      break
    end
    keys[#keys + 1] = R.str(r.lpNameOut)
  end
  return keys
end

local function enum_values(c, h)
  local vals = {}
  for i = 0, 10000 do
    local r, e, out = c:BaseRegEnumValue { hKey = h, dwIndex = i, lpValueNameIn = R.ubuf(512), lpType = 0,
                                           lpData = "", lpcbData = 4096, lpcbLen = 0 }
    if not r then
      assert.are.equal(RC.ERROR_NO_MORE_ITEMS, out and out.result, tostring(e))
      break
    end
    vals[#vals + 1] = { name = R.str(r.lpValueNameOut), type = r.lpType, data = r.lpData or "" }
  end
  return vals
end

-- what Impacket reads from the same key: keys, values
local function impacket_live(env, path)
  if not io.open(PY) then return nil end
  local p = io.popen(string.format("%s %q live %q %q %q %q %q 2>&1", PY, root .. "/spec/helpers/impacket_admin.py",
    env.SAMBA_WINREG_PORT, env.SAMBA_USER, env.SAMBA_PASSWORD, env.SAMBA_DOMAIN, path))
  local out = p:read("a")
  p:close()
  if out:find("Traceback") or out:find("impacket missing") then
    if CI then error("Impacket live read failed: " .. out) end
    return nil
  end
  local keys, vals = {}, {}
  for line in out:gmatch("[^\n]+") do
    local k = line:match("^key (.*)$")
    if k then keys[#keys + 1] = k end
    local n, t, h = line:match("^value (.-) (%d+) (%S+)$")
    if n then vals[#vals + 1] = { name = n, type = tonumber(t), data = h == "-" and "" or unhex(h) } end
  end
  return keys, vals
end

describe("#interop winreg against the Samba peer (ncacn_ip_tcp, NTLM, integrity)", function()
  it("reads HKLM\\SOFTWARE as alice: what Impacket reads", function()
    local env = peer()
    local c = assert(connect_winreg(env))
    local hklm = assert(c:OpenHKLM { samDesired = MAXIMUM_ALLOWED }).phKey
    local sw = assert(c:BaseRegOpenKey { hKey = hklm, lpSubKey = R.ustr("SOFTWARE"), dwOptions = 0,
                                         samDesired = RC.KEY_READ }).phkResult
    local keys = enum_keys(c, sw)
    assert.truthy(#keys > 0)
    local info = assert(c:BaseRegQueryInfoKey { hKey = sw, lpClassIn = R.ustr(nil) })
    assert.are.equal(#keys, info.lpcSubKeys)
    local ikeys = impacket_live(env, "SOFTWARE")
    if ikeys then assert.are.same(ikeys, keys) end

    local path = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
    local cv = assert(c:BaseRegOpenKey { hKey = hklm, lpSubKey = R.ustr(path), dwOptions = 0,
                                         samDesired = RC.KEY_READ }).phkResult
    local vals = enum_values(c, cv)
    local ikeys2, ivals = impacket_live(env, path)
    if ikeys2 then
      assert.are.same(ikeys2, enum_keys(c, cv))
      assert.are.same(ivals, vals)
    end
    for _, v in ipairs(vals) do
      local x, t, raw = R.query_value(c, cv, v.name, 2)     -- a tiny buffer: grown on ERROR_MORE_DATA
      assert(x ~= nil, v.name .. ": " .. tostring(t))
      assert.are.equal(v.type, t)
      assert.are.equal(v.data, raw)
      assert.are.same(R.decode_value(v.type, v.data), x)
    end
    -- a value that is not there: an error value
    local x, e = R.query_value(c, cv, "no-such-value")
    assert.is_nil(x)
    assert.are.equal(RC.ERROR_FILE_NOT_FOUND, e.code)
    for _, h in ipairs { cv, sw, hklm } do
      assert.are.equal(string.rep("\0", 20), assert(c:BaseRegCloseKey { hKey = h }).hKey)
    end
    c:close()
  end)

  local registry_writes
  it("creates a key under HKLM\\SOFTWARE, sets values of each type, reads them back, deletes all", function()
    local env = peer()
    -- Samba lets only administrators write the registry (alice gets
    -- ERROR_ACCESS_DENIED, checked below). The shared peer has no admin
    -- account on purpose: one more passdb user changes what samr_spec pins
    -- (enumdomusers: alice alone). alice joins BUILTIN\Administrators for the
    -- writes, or SAMBA_ADMIN_USER / SAMBA_ADMIN_PASSWORD name another account.
    local admin_user = os.getenv("SAMBA_ADMIN_USER") or env.SAMBA_ADMIN_USER
    local admin_pw = os.getenv("SAMBA_ADMIN_PASSWORD") or env.SAMBA_ADMIN_PASSWORD
    -- a plain user may not write the registry
    local cu = assert(connect_winreg(env))
    local h = assert(cu:OpenHKLM { samDesired = MAXIMUM_ALLOWED }).phKey
    local sw = assert(cu:BaseRegOpenKey { hKey = h, lpSubKey = R.ustr("SOFTWARE"), dwOptions = 0,
                                          samDesired = MAXIMUM_ALLOWED }).phkResult
    local r, e = cu:BaseRegCreateKey { hKey = sw, lpSubKey = R.ustr("LuaDcerpcSpec"), lpClass = R.ustr(nil),
      dwOptions = 0, samDesired = RC.KEY_ALL_ACCESS, lpdwDisposition = 0 }
    assert.is_nil(r)
    assert.are.equal(RC.ERROR_ACCESS_DENIED, e.code)
    cu:close()
    if not admin_user then
      -- no administrator given: alice becomes one for the writes
      -- (peers.with_admin), in a session opened after she joined
      return peers.with_admin(env, function()
        local e2 = setmetatable({ SAMBA_ADMIN_USER = env.SAMBA_USER, SAMBA_ADMIN_PASSWORD = env.SAMBA_PASSWORD },
                                { __index = env })
        return registry_writes(e2)
      end)
    end
    return registry_writes(setmetatable({ SAMBA_ADMIN_USER = admin_user, SAMBA_ADMIN_PASSWORD = admin_pw },
                                        { __index = env }))
  end)

  registry_writes = function(env)
    local c = assert(connect_winreg(env, true))
    local hklm = assert(c:OpenHKLM { samDesired = MAXIMUM_ALLOWED }).phKey
    sw = assert(c:BaseRegOpenKey { hKey = hklm, lpSubKey = R.ustr("SOFTWARE"), dwOptions = 0,
                                   samDesired = MAXIMUM_ALLOWED }).phkResult
    local name = "LuaDcerpcSpec" .. os.time() .. math.random(1000)
    r = assert(c:BaseRegCreateKey { hKey = sw, lpSubKey = R.ustr(name), lpClass = R.ustr(nil), dwOptions = 0,
      samDesired = RC.KEY_ALL_ACCESS, lpdwDisposition = 0 })
    assert.are.equal(RC.REG_CREATED_NEW_KEY, r.lpdwDisposition)
    local k = r.phkResult
    local values = {
      { "sz", RC.REG_SZ, "héllo wörld 😀" },
      { "expand", RC.REG_EXPAND_SZ, "%SystemRoot%\\system32" },
      { "multi", RC.REG_MULTI_SZ, { "one", "twö", "C:\\three" } },
      { "dword", RC.REG_DWORD, 0xdeadbeef },
      { "dwordbe", RC.REG_DWORD_BIG_ENDIAN, 0x01020304 },
      { "qword", RC.REG_QWORD, 0x1122334455667788 },
      { "binary", RC.REG_BINARY, "\0\1\2\255\254" },
      { "long", RC.REG_BINARY, string.rep("0123456789abcdef", 200) },
    }
    for _, v in ipairs(values) do assert(R.set_value(c, k, v[1], v[2], v[3])) end
    for _, v in ipairs(values) do
      local x, t = R.query_value(c, k, v[1], 8)
      assert.are.equal(v[2], t, v[1])
      assert.are.same(v[3], x, v[1])
    end
    local seen = {}
    for _, v in ipairs(enum_values(c, k)) do seen[v.name] = R.decode_value(v.type, v.data) end
    for _, v in ipairs(values) do assert.are.same(v[3], seen[v[1]], v[1]) end
    -- opening it again: an existing key
    r = assert(c:BaseRegCreateKey { hKey = sw, lpSubKey = R.ustr(name), lpClass = R.ustr(nil), dwOptions = 0,
      samDesired = RC.KEY_READ, lpdwDisposition = 0 })
    assert.are.equal(RC.REG_OPENED_EXISTING_KEY, r.lpdwDisposition)
    assert(c:BaseRegCloseKey { hKey = r.phkResult })
    for _, v in ipairs(values) do assert(c:BaseRegDeleteValue { hKey = k, lpValueName = R.ustr(v[1]) }) end
    assert.are.same({}, enum_values(c, k))
    assert(c:BaseRegCloseKey { hKey = k })
    assert(c:BaseRegDeleteKey { hKey = sw, lpSubKey = R.ustr(name) })
    local _, oe = c:BaseRegOpenKey { hKey = sw, lpSubKey = R.ustr(name), dwOptions = 0, samDesired = RC.KEY_READ }
    assert.are.equal(RC.ERROR_FILE_NOT_FOUND, oe.code)
    assert(c:BaseRegCloseKey { hKey = sw })
    assert(c:BaseRegCloseKey { hKey = hklm })
    c:close()
  end

  it("examples/reg.lua enum and query", function()
    local env = peer()
    local function run(...)
      local args = {}
      for _, a in ipairs { ... } do args[#args + 1] = string.format("%q", a) end
      local p = io.popen(string.format("cd %q && LUA_PATH=%q LUA_CPATH=%q lua5.4 examples/reg.lua %s 2>&1; echo \"exit $?\"",
        root, package.path, package.cpath, table.concat(args, " ")))
      local out = p:read("a")
      p:close()
      return out
    end
    local b = "ncacn_ip_tcp:127.0.0.1[" .. env.SAMBA_WINREG_PORT .. ",sign,ntlm]"
    local out = run(b, "enum", "HKLM\\SOFTWARE", "-U", env.SAMBA_USER, "-P", env.SAMBA_PASSWORD)
    assert.truthy(out:find("exit 0"), out)
    assert.truthy(out:find("Microsoft", 1, true), out)
    out = run(b, "query", "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", "SystemRoot",
              "-U", env.SAMBA_USER, "-P", env.SAMBA_PASSWORD)
    assert.truthy(out:find("exit 0"), out)
    assert.truthy(out:find("REG_SZ", 1, true) and out:lower():find("c:\\windows", 1, true), out)
  end)
end)

describe("#interop lsarpc and svcctl against the Samba peer", function()
  it("over ncacn_ip_tcp Samba refuses lsarpc (fault access denied)", function()
    local env = peer()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. env.SAMBA_LSARPC_PORT .. "]", "lsarpc", {
      auth = "ntlm", level = "integrity", user = env.SAMBA_USER, password = env.SAMBA_PASSWORD,
      domain = env.SAMBA_DOMAIN, timeout = 20 }))
    local r, e = c:LsarOpenPolicy2 { ObjectAttributes = L.object_attributes(true), DesiredAccess = MAXIMUM_ALLOWED }
    assert.is_nil(r)
    assert.are.equal(5, e.code)             -- nca_s_fault_access_denied: lsarpc is for ncacn_np
    c:close()
  end)

  -- over ncacn_np, where Samba serves them (more in spec/np_spec.lua)
  it("lsarpc over ncacn_np: OpenPolicy2, QueryInformationPolicy 3 and 5, LookupNames3, LookupSids2/3, EnumerateAccounts", function()
    local env = peer()
    local C = lsarpc.constants
    local c = assert(dcerpc.connect("ncacn_np:127.0.0.1", "lsarpc", { user = env.SAMBA_USER,
      password = env.SAMBA_PASSWORD, domain = env.SAMBA_DOMAIN, timeout = 20 }))
    local pol = assert(c:LsarOpenPolicy2 { SystemName = "\\\\127.0.0.1", ObjectAttributes = L.object_attributes(true),
      DesiredAccess = MAXIMUM_ALLOWED }).PolicyHandle
    local q3 = assert(c:LsarQueryInformationPolicy { PolicyHandle = pol, InformationClass = 3 })
    assert.are.equal("RPCTEST", q3.PolicyInformation.PolicyPrimaryDomainInfo.Name)
    local q5 = assert(c:LsarQueryInformationPolicy { PolicyHandle = pol, InformationClass = 5 })
    local dom = q5.PolicyInformation.PolicyAccountDomainInfo
    assert.are.equal(env.SAMBA_DOMAIN, dom.DomainName)
    assert.matches("^S%-1%-5%-21%-", dom.DomainSid)
    local out = assert(c:LsarLookupNames3 { PolicyHandle = pol, Count = 1, Names = { env.SAMBA_USER },
      TranslatedSids = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0,
      LookupOptions = 0, ClientRevision = C.LSA_CLIENT_REVISION_2 })
    local sid = L.translate_names(out)[1].Sid
    assert.are.equal(dom.DomainSid .. "-1000", sid)
    out = assert(c:LsarLookupSids2 { PolicyHandle = pol, SidEnumBuffer = { Entries = 2,
      SidInfo = { { Sid = sid }, { Sid = "S-1-5-32-544" } } }, TranslatedNames = { Entries = 0 },
      LookupLevel = "LsapLookupWksta", MappedCount = 0, LookupOptions = 0, ClientRevision = C.LSA_CLIENT_REVISION_2 })
    local t = L.translate_sids(out)
    assert.are.equal(env.SAMBA_USER, t[1].Name)
    assert.are.equal("Administrators", t[2].Name)
    assert.are.equal("BUILTIN", t[2].Domain)
    -- EnumerateAccounts needs more than a plain user: Samba says so clearly
    local r, e = c:LsarEnumerateAccounts { PolicyHandle = pol, EnumerationContext = 0, PreferedMaximumLength = 0xffff }
    if r then assert.is_table(r.EnumerationBuffer) else assert.is_number(e.code) end
    assert(c:LsarClose { ObjectHandle = pol })
    c:close()
  end)

  it("svcctl over ncacn_np: OpenSCManagerW, EnumServicesStatusW, OpenServiceW, QueryServiceStatus, QueryServiceConfigW", function()
    local env = peer()
    local c = assert(dcerpc.connect("ncacn_np:127.0.0.1", "svcctl", { user = env.SAMBA_USER,
      password = env.SAMBA_PASSWORD, domain = env.SAMBA_DOMAIN, timeout = 20 }))
    local scm = assert(c:ROpenSCManagerW { lpMachineName = "\\\\127.0.0.1", lpDatabaseName = "ServicesActive",
      dwDesiredAccess = SC.SC_MANAGER_CONNECT | SC.SC_MANAGER_ENUMERATE_SERVICE }).lpScHandle
    local list = assert(S.enum_services(c, scm, SC.SERVICE_WIN32, SC.SERVICE_STATE_ALL))
    local by = {}
    for _, x in ipairs(list) do by[x.ServiceName] = x end
    assert.is_table(by.Spooler)
    assert.are.equal("Print Spooler", by.Spooler.DisplayName)
    local h = assert(c:ROpenServiceW { hSCManager = scm, lpServiceName = "Spooler",
      dwDesiredAccess = SC.SERVICE_QUERY_CONFIG | SC.SERVICE_QUERY_STATUS }).lpServiceHandle
    local st = assert(c:RQueryServiceStatus { hService = h }).lpServiceStatus
    assert.are.equal(by.Spooler.ServiceStatus.dwCurrentState, st.dwCurrentState)
    local cfg = assert(c:RQueryServiceConfigW { hService = h, cbBufSize = 8192 }).lpServiceConfig
    assert.are.equal("Print Spooler", cfg.lpDisplayName)
    assert(c:RCloseServiceHandle { hSCObject = h })
    assert(c:RCloseServiceHandle { hSCObject = scm })
    c:close()
  end)
end)

--------------------------------------------------------------------------
-- The lsarpc and svcctl examples end to end, against Lua handlers
-- (spec/helpers/admin_fake_server.lua) until a real server is reachable.
describe("examples/services.lua and examples/lookupsid.lua against a Lua server", function()
  local function sh(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  local env = string.format("LUA_PATH=%s LUA_CPATH=%s", sh(package.path), sh(package.cpath))

  local function with_server(body)
    local out = os.tmpname()
    local pidf = os.tmpname()
    os.execute(string.format("cd %s && %s lua5.4 spec/helpers/admin_fake_server.lua >%s 2>&1 & echo $! >%s",
                             sh(root), env, sh(out), sh(pidf)))
    local pid = io.open(pidf):read("l")
    local binding
    for _ = 1, 100 do
      local f = io.open(out)
      local line = f and f:read("l")
      if f then f:close() end
      binding = line and line:match("^listening on (.*)$")
      if binding then break end
      os.execute("sleep 0.05")
    end
    local ok, e = pcall(body, binding)
    os.execute("kill " .. pid .. " 2>/dev/null")
    local log = io.open(out):read("a")
    os.remove(out); os.remove(pidf)
    assert(binding, "fake server did not start: " .. log)
    if not ok then error(e, 0) end
  end

  local function run(script, ...)
    local args = {}
    for _, a in ipairs { ... } do args[#args + 1] = sh(a) end
    local p = io.popen(string.format("cd %s && %s lua5.4 examples/%s %s 2>&1; echo \"exit $?\"",
                                     sh(root), env, script, table.concat(args, " ")))
    local o = p:read("a")
    p:close()
    return o
  end

  it("services.lua lists every service across the pages", function()
    with_server(function(b)
      local out = run("services.lua", b)
      assert.truthy(out:find("exit 0", 1, true), out)
      assert.truthy(out:find("Dnscache%s+RUNNING%s+DNS Client é"), out)
      assert.truthy(out:find("Spooler%s+RUNNING%s+Print Spooler"), out)
      assert.truthy(out:find("WinRM%s+STOPPED%s+Windows Remote Management"), out)
    end)
  end)

  it("lookupsid.lua translates SIDs and names, and says which did not map", function()
    with_server(function(b)
      local out = run("lookupsid.lua", b, "S-1-5-32-544", "S-1-5-9-9", "RPCSRV\\alice")
      assert.truthy(out:find("S-1-5-32-544  BUILTIN\\Administrators  (Alias)", 1, true), out)
      assert.truthy(out:find("S-1-5-9-9  (unknown)", 1, true), out)
      assert.truthy(out:find("S-1-5-21-1-2-3-1000  RPCSRV\\alice  (User)", 1, true), out)
      assert.truthy(out:find("exit 3", 1, true), out)
      out = run("lookupsid.lua", b, "S-1-5-32-544")
      assert.truthy(out:find("exit 0", 1, true), out)
      assert.truthy(run("lookupsid.lua", b):find("usage:", 1, true))
    end)
  end)
end)
