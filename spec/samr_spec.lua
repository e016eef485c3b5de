-- samr_spec: the samr description (scripts/dcerpc/iface/samr.lua) against
-- Samba's PIDL marshallers (spec/fixtures/iface_fixtures.lua, samr_* entries
-- made by test/fixtures/gen_iface_fixtures.py), and #interop against the
-- Samba peer (spec/helpers/peers.lua) as alice, NTLM and SPNEGO at packet,
-- integrity and privacy, compared with what Samba's rpcclient prints for the
-- same questions; plus examples/users.lua. Under CI=true nothing is skipped.

local ndr = require "dcerpc.ndr"
local F = require "fixtures.iface_fixtures"

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/samr_spec%.lua$")) or "."
local CI = os.getenv("CI") == "true"

local SAMR_UUID = "12345778-1234-abcd-ef00-0123456789ac"
local DOMAIN_SID = "S-1-5-21-570980444-294173684-222828579"   -- the fixtures' domain
local STATUS_MORE_ENTRIES = 0x105
local STATUS_SOME_NOT_MAPPED = 0x107
local MAXIMUM_ALLOWED = 0x02000000
local NEVER = math.maxinteger            -- OLD_LARGE_INTEGER 0x7fffffffffffffff
local T_PWD_SET = 134399924550000000
local T_2036 = 137303967990000000

local function unhex(h)
  return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end))
end
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local function fx(name)
  local f = assert(F[name], "no fixture " .. name)
  return unhex(f.hex)
end
local function samr() return require "dcerpc.iface.samr" end
local function fn(name) return assert(samr().functions[name], name) end

-- handle(n) of the generator: { 0, 11223344-0000-4000-8000-00000000000n }
local function gen_handle(n)
  return unhex("00000000" .. "44332211" .. "0000" .. "0040" .. "8000" .. string.format("%012x", n))
end
local ZERO20 = string.rep("\0", 20)

local function copy(t, extra)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- request: our encoding of `args` is the fixture, byte for byte; both decode alike
local function check_request(fname, args, fixture)
  local f = fn(fname)
  local want = fx(fixture)
  local got = ndr.encode_call(f, "in", args)
  assert.are.equal(hex(want), hex(got))
  local back = assert(ndr.decode_call(f, "in", got))
  assert.are.same(assert(ndr.decode_call(f, "in", want)), back)
  return back
end

-- reply: decode the fixture, re-encode (with the [in] values switches need) byte-exact
local function check_reply(fname, fixture, ins)
  local f = fn(fname)
  local bytes = fx(fixture)
  local out, err = ndr.decode_call(f, "out", bytes)
  assert.is_nil(err)
  local again = ndr.encode_call(f, "out", copy(out, ins))
  assert.are.equal(hex(bytes), hex(again))
  assert.are.same(out, assert(ndr.decode_call(f, "out", again)))
  return out
end

-- Fixtures with a test of their own below (not in the generic round trip).
local KNOWN_GAPS = { samr_SamrQueryInformationUser_L4_rep_nullhours = true }

--------------------------------------------------------------------------
describe("samr description", function()
  it("has the spec's uuid, version and opnums", function()
    local s = samr()
    assert.are.equal(SAMR_UUID, s.uuid)
    assert.are.equal("1.0", s.version)
    local want = {
      SamrCloseHandle = 1, SamrLookupDomainInSamServer = 5, SamrEnumerateDomainsInSamServer = 6,
      SamrOpenDomain = 7, SamrQueryInformationDomain = 8, SamrEnumerateGroupsInDomain = 11,
      SamrEnumerateUsersInDomain = 13, SamrEnumerateAliasesInDomain = 15,
      SamrLookupNamesInDomain = 17, SamrLookupIdsInDomain = 18, SamrOpenUser = 34,
      SamrQueryInformationUser = 36, SamrGetGroupsForUser = 39, SamrQueryInformationDomain2 = 46,
      SamrQueryInformationUser2 = 47, SamrConnect2 = 57, SamrConnect5 = 64, SamrRidToSid = 65,
    }
    for name, opnum in pairs(want) do
      assert.are.equal(opnum, s.functions[name].opnum, name)
      assert.are.equal(s.functions[name], s.functions[opnum])
    end
    assert.are.equal(0x02000000, s.constants.MAXIMUM_ALLOWED)
    assert.are.equal(21, s.constants.USER_INFORMATION_CLASS.UserAllInformation)
  end)

  it("every samr fixture decodes and re-encodes to Samba's bytes", function()
    local n = 0
    for name, f in pairs(F) do
      local fname = name:match("^samr_(Samr%w+)_")
      if fname and not KNOWN_GAPS[name] then
        local dir = name:match("_req") and "in" or "out"
        local lvl = tonumber(name:match("_L(%d+)_") or "")
        local bytes = unhex(f.hex)
        local v, err = ndr.decode_call(fn(fname), dir, bytes)
        assert(v, name .. ": " .. tostring(err and err.message))
        local ins = lvl and { UserInformationClass = lvl, DomainInformationClass = lvl } or {}
        assert.are.equal(f.hex, hex(ndr.encode_call(fn(fname), dir, copy(v, ins))), name)
        n = n + 1
      end
    end
    assert.is_true(n >= 70, "samr fixtures: " .. n)
  end)
end)

--------------------------------------------------------------------------
describe("samr requests encode like Samba", function()
  it("SamrConnect5", function()
    local back = check_request("SamrConnect5", {
      ServerName = "\\\\127.0.0.1", DesiredAccess = MAXIMUM_ALLOWED, InVersion = 1,
      InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } },
    }, "samr_SamrConnect5_req")
    assert.are.same({ V1 = { Revision = 3, SupportedFeatures = 0 } }, back.InRevisionInfo)
    check_request("SamrConnect5", {
      DesiredAccess = 0x31, InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } },
    }, "samr_SamrConnect5_req_null")
  end)

  it("SamrConnect2, SamrCloseHandle, SamrOpenUser, SamrGetGroupsForUser, SamrRidToSid", function()
    check_request("SamrConnect2", { ServerName = "\\\\127.0.0.1", DesiredAccess = MAXIMUM_ALLOWED },
                  "samr_SamrConnect2_req")
    check_request("SamrCloseHandle", { SamHandle = gen_handle(3) }, "samr_SamrCloseHandle_req")
    check_request("SamrOpenUser", { DomainHandle = gen_handle(2), DesiredAccess = MAXIMUM_ALLOWED,
                                    UserId = 1000 }, "samr_SamrOpenUser_req")
    check_request("SamrGetGroupsForUser", { UserHandle = gen_handle(3) }, "samr_SamrGetGroupsForUser_req")
    check_request("SamrRidToSid", { ObjectHandle = gen_handle(2), Rid = 1000 }, "samr_SamrRidToSid_req")
  end)

  it("SamrLookupDomainInSamServer and SamrOpenDomain (SIDs)", function()
    check_request("SamrLookupDomainInSamServer", { ServerHandle = gen_handle(1), Name = "RPCSRV" },
                  "samr_SamrLookupDomainInSamServer_req")
    local back = check_request("SamrOpenDomain", { ServerHandle = gen_handle(1),
      DesiredAccess = MAXIMUM_ALLOWED, DomainId = DOMAIN_SID }, "samr_SamrOpenDomain_req")
    assert.are.equal(DOMAIN_SID, back.DomainId)
    check_request("SamrOpenDomain", { ServerHandle = gen_handle(1), DesiredAccess = 0x205,
                                      DomainId = "S-1-5-32" }, "samr_SamrOpenDomain_req_builtin")
  end)

  it("the enumerations", function()
    check_request("SamrEnumerateDomainsInSamServer", { ServerHandle = gen_handle(1),
      EnumerationContext = 0, PreferedMaximumLength = 0xffffffff }, "samr_SamrEnumerateDomainsInSamServer_req")
    check_request("SamrEnumerateUsersInDomain", { DomainHandle = gen_handle(2), EnumerationContext = 0,
      UserAccountControl = 0, PreferedMaximumLength = 0xffff }, "samr_SamrEnumerateUsersInDomain_req")
    check_request("SamrEnumerateUsersInDomain", { DomainHandle = gen_handle(2), EnumerationContext = 2,
      UserAccountControl = 0x10, PreferedMaximumLength = 100 }, "samr_SamrEnumerateUsersInDomain_req_resume")
    check_request("SamrEnumerateGroupsInDomain", { DomainHandle = gen_handle(2), EnumerationContext = 0,
      PreferedMaximumLength = 0xffff }, "samr_SamrEnumerateGroupsInDomain_req")
  end)

  it("SamrLookupNamesInDomain / SamrLookupIdsInDomain: size_is(1000), length_is(Count)", function()
    local back = check_request("SamrLookupNamesInDomain", { DomainHandle = gen_handle(2), Count = 2,
      Names = { "alice", "nobody" } }, "samr_SamrLookupNamesInDomain_req")
    assert.are.same({ "alice", "nobody" }, back.Names)
    -- max_count 1000, offset 0, actual count 2 after Count
    assert.are.equal("02000000" .. "e8030000" .. "00000000" .. "02000000",
                     hex(fx("samr_SamrLookupNamesInDomain_req"):sub(21, 36)))
    back = check_request("SamrLookupIdsInDomain", { DomainHandle = gen_handle(2), Count = 2,
      RelativeIds = { 1000, 513 } }, "samr_SamrLookupIdsInDomain_req")
    assert.are.same({ 1000, 513 }, back.RelativeIds)
    -- Count filled in from the array
    assert.are.equal(hex(fx("samr_SamrLookupIdsInDomain_req")), hex(ndr.encode_call(
      fn("SamrLookupIdsInDomain"), "in", { DomainHandle = gen_handle(2), RelativeIds = { 1000, 513 }, Count = 2 })))
  end)

  it("the information queries", function()
    check_request("SamrQueryInformationUser", { UserHandle = gen_handle(3), UserInformationClass = 21 },
                  "samr_SamrQueryInformationUser_L21_req")
    check_request("SamrQueryInformationUser", { UserHandle = gen_handle(3),
                  UserInformationClass = "UserAllInformation" }, "samr_SamrQueryInformationUser_L21_req")
    check_request("SamrQueryInformationDomain", { DomainHandle = gen_handle(2), DomainInformationClass = 2 },
                  "samr_SamrQueryInformationDomain_L2_req")
  end)
end)

--------------------------------------------------------------------------
describe("samr replies decode like Samba", function()
  it("SamrConnect5 / SamrConnect2 / SamrCloseHandle / SamrOpenDomain / SamrOpenUser", function()
    local r = check_reply("SamrConnect5", "samr_SamrConnect5_rep")
    assert.are.equal(1, r.OutVersion)
    assert.are.same({ V1 = { Revision = 3, SupportedFeatures = 0 } }, r.OutRevisionInfo)
    assert.are.equal(gen_handle(1), r.ServerHandle)
    assert.are.equal(0, r.result)
    r = check_reply("SamrConnect5", "samr_SamrConnect5_rep_denied")
    assert.are.equal(ZERO20, r.ServerHandle)
    assert.are.equal(0xC0000022, r.result)
    assert.are.equal(gen_handle(1), check_reply("SamrConnect2", "samr_SamrConnect2_rep").ServerHandle)
    assert.are.equal(ZERO20, check_reply("SamrCloseHandle", "samr_SamrCloseHandle_rep").SamHandle)
    assert.are.equal(gen_handle(2), check_reply("SamrOpenDomain", "samr_SamrOpenDomain_rep").DomainHandle)
    assert.are.equal(gen_handle(3), check_reply("SamrOpenUser", "samr_SamrOpenUser_rep").UserHandle)
  end)

  it("SamrLookupDomainInSamServer and SamrRidToSid give SIDs; NULL with an error", function()
    local r = check_reply("SamrLookupDomainInSamServer", "samr_SamrLookupDomainInSamServer_rep")
    assert.are.equal(DOMAIN_SID, r.DomainId)
    r = check_reply("SamrLookupDomainInSamServer", "samr_SamrLookupDomainInSamServer_rep_nodomain")
    assert.is_nil(r.DomainId)
    assert.are.equal(0xC00000DF, r.result)
    assert.are.equal(DOMAIN_SID .. "-1000", check_reply("SamrRidToSid", "samr_SamrRidToSid_rep").Sid)
  end)

  it("the enumerations (STATUS_MORE_ENTRIES, empty and NULL buffers)", function()
    local r = check_reply("SamrEnumerateDomainsInSamServer", "samr_SamrEnumerateDomainsInSamServer_rep")
    assert.are.same({ EntriesRead = 2, Buffer = { { RelativeId = 0, Name = "RPCSRV" },
                                                  { RelativeId = 1, Name = "Builtin" } } }, r.Buffer)
    assert.are.equal(2, r.CountReturned)
    assert.are.equal(2, r.EnumerationContext)
    r = check_reply("SamrEnumerateUsersInDomain", "samr_SamrEnumerateUsersInDomain_rep")
    assert.are.same({ { RelativeId = 1000, Name = "alice" } }, r.Buffer.Buffer)
    r = check_reply("SamrEnumerateUsersInDomain", "samr_SamrEnumerateUsersInDomain_rep_more")
    assert.are.equal(STATUS_MORE_ENTRIES, r.result)
    assert.are.equal(2, r.EnumerationContext)
    assert.are.equal("Administrator", r.Buffer.Buffer[1].Name)
    r = check_reply("SamrEnumerateUsersInDomain", "samr_SamrEnumerateUsersInDomain_rep_denied")
    assert.is_nil(r.Buffer)
    assert.are.equal(0xC0000022, r.result)
    r = check_reply("SamrEnumerateGroupsInDomain", "samr_SamrEnumerateGroupsInDomain_rep_empty")
    assert.are.same({ EntriesRead = 0 }, r.Buffer)
    r = check_reply("SamrEnumerateGroupsInDomain", "samr_SamrEnumerateGroupsInDomain_rep")
    assert.are.same({ RelativeId = 514, Name = "" }, r.Buffer.Buffer[3])
    r = check_reply("SamrEnumerateAliasesInDomain", "samr_SamrEnumerateAliasesInDomain_rep")
    assert.are.equal("Administrators", r.Buffer.Buffer[1].Name)
    assert.are.equal(544, r.Buffer.Buffer[1].RelativeId)
  end)

  it("SamrLookupNamesInDomain / SamrLookupIdsInDomain / SamrGetGroupsForUser", function()
    local r = check_reply("SamrLookupNamesInDomain", "samr_SamrLookupNamesInDomain_rep")
    assert.are.same({ Count = 2, Element = { 1000, 0xffffffff } }, r.RelativeIds)
    assert.are.same({ Count = 2, Element = { 1, 8 } }, r.Use)
    assert.are.equal(STATUS_SOME_NOT_MAPPED, r.result)
    r = check_reply("SamrLookupNamesInDomain", "samr_SamrLookupNamesInDomain_rep_none")
    assert.are.same({ Count = 0 }, r.RelativeIds)
    r = check_reply("SamrLookupIdsInDomain", "samr_SamrLookupIdsInDomain_rep")
    assert.are.same({ Count = 2, Element = { "alice", "None" } }, r.Names)
    assert.are.same({ Count = 2, Element = { 1, 2 } }, r.Use)
    r = check_reply("SamrGetGroupsForUser", "samr_SamrGetGroupsForUser_rep")
    assert.are.same({ MembershipCount = 2, Groups = { { RelativeId = 513, Attributes = 7 },
                                                      { RelativeId = 512, Attributes = 7 } } }, r.Groups)
  end)

  it("SamrQueryInformationUser level 21 (SAMPR_USER_ALL_INFORMATION)", function()
    local a = check_reply("SamrQueryInformationUser", "samr_SamrQueryInformationUser_L21_rep",
                          { UserInformationClass = 21 }).Buffer.All
    assert.are.equal("alice", a.UserName)
    assert.are.equal("", a.FullName)
    assert.are.equal("\\\\RPCSRV\\alice", a.HomeDirectory)
    assert.are.equal("\\\\RPCSRV\\alice\\profile", a.ProfilePath)
    assert.are.equal("", a.Parameters)
    assert.is_nil(a.PrivateData)
    assert.are.same({ Length = 0, MaximumLength = 0 }, a.LmOwfPassword)
    assert.are.same({ Length = 0 }, a.SecurityDescriptor)
    assert.are.equal(1000, a.UserId)
    assert.are.equal(513, a.PrimaryGroupId)
    assert.are.equal(0x10, a.UserAccountControl)
    assert.are.equal(0x00ffffff, a.WhichFields)
    assert.are.same({ UnitsPerWeek = 168, LogonHours = string.rep("\255", 21) }, a.LogonHours)
    assert.are.equal(0, a.LastLogon)
    assert.are.equal(T_2036, a.LastLogoff)
    assert.are.equal(T_PWD_SET, a.PasswordLastSet)
    assert.are.equal(NEVER, a.PasswordMustChange)
    assert.are.equal(0, a.LmPasswordPresent)
    assert.are.equal(1, a.NtPasswordPresent)
  end)

  it("SamrQueryInformationUser levels 1-14, 16, 17, 18, 20", function()
    local want = {
      [1] = { "General", { UserName = "alice", FullName = "Alice Liddell", PrimaryGroupId = 513,
                           AdminComment = "test user", UserComment = "" } },
      [2] = { "Preferences", { UserComment = "hello", CountryCode = 49, CodePage = 850 } },
      [4] = { "LogonHours", { LogonHours = { UnitsPerWeek = 168, LogonHours = string.rep("\15", 21) } } },
      [6] = { "Name", { UserName = "alice", FullName = "Alice" } },
      [7] = { "AccountName", { UserName = "alice" } },
      [8] = { "FullName", { FullName = "Alice" } },
      [9] = { "PrimaryGroup", { PrimaryGroupId = 513 } },
      [10] = { "Home", { HomeDirectory = "\\\\RPCSRV\\alice", HomeDirectoryDrive = "H:" } },
      [11] = { "Script", { ScriptPath = "logon.cmd" } },
      [12] = { "Profile", { ProfilePath = "\\\\RPCSRV\\alice\\profile" } },
      [13] = { "AdminComment", { AdminComment = "test user" } },
      [14] = { "WorkStations", { WorkStations = "WS1" } },
      [16] = { "Control", { UserAccountControl = 0x10 } },
      [17] = { "Expires", { AccountExpires = T_2036 } },
      [20] = { "Parameters", { Parameters = " A" } },
    }
    for level, w in pairs(want) do
      local r = check_reply("SamrQueryInformationUser", "samr_SamrQueryInformationUser_L" .. level .. "_rep",
                            { UserInformationClass = level })
      assert.are.same({ [w[1]] = w[2] }, r.Buffer, "level " .. level)
    end
    local l3 = check_reply("SamrQueryInformationUser", "samr_SamrQueryInformationUser_L3_rep",
                           { UserInformationClass = 3 }).Buffer.Logon
    assert.are.equal("alice", l3.UserName)
    assert.are.equal(1000, l3.UserId)
    assert.are.equal(NEVER, l3.PasswordMustChange)
    local l5 = check_reply("SamrQueryInformationUser", "samr_SamrQueryInformationUser_L5_rep",
                           { UserInformationClass = 5 }).Buffer.Account
    assert.are.equal("WS1,WS2", l5.WorkStations)
    assert.is_nil(l5.ProfilePath)
    assert.are.equal(2, l5.BadPasswordCount)
    assert.are.equal(7, l5.LogonCount)
    assert.are.equal(0x210, l5.UserAccountControl)
    local l18 = check_reply("SamrQueryInformationUser", "samr_SamrQueryInformationUser_L18_rep",
                            { UserInformationClass = 18 }).Buffer.Internal1
    assert.are.equal(16, #l18.EncryptedNtOwfPassword.data)
    assert.are.equal(1, l18.PasswordExpired)
    local r2 = check_reply("SamrQueryInformationUser2", "samr_SamrQueryInformationUser2_L7_rep",
                           { UserInformationClass = 7 })
    assert.are.same({ AccountName = { UserName = "alice" } }, r2.Buffer)
  end)

  it("SamrQueryInformationDomain levels 1-9, 11, 12, 13", function()
    local gen = {
      ForceLogoff = math.mininteger, OemInformation = "Samba 4.17.12-Debian", DomainName = "RPCTEST",
      ReplicaSourceNodeName = "RPCSRV", DomainModifiedCount = 1795520651, DomainServerState = 1,
      DomainServerRole = 3, UasCompatibilityRequired = 1, UserCount = 1, GroupCount = 0, AliasCount = 0,
    }
    local want = {
      [1] = { Password = { MinPasswordLength = 5, PasswordHistoryLength = 24, PasswordProperties = 1,
                           MaxPasswordAge = -36288000000000, MinPasswordAge = -864000000000 } },
      [2] = { General = gen },
      [3] = { Logoff = { ForceLogoff = math.mininteger } },
      [4] = { Oem = { OemInformation = "Samba 4.17.12-Debian" } },
      [5] = { Name = { DomainName = "RPCSRV" } },
      [6] = { Replication = { ReplicaSourceNodeName = "RPCSRV" } },
      [7] = { Role = { DomainServerRole = 3 } },
      [8] = { Modified = { DomainModifiedCount = 1795520651, CreationTime = T_PWD_SET } },
      [9] = { State = { DomainServerState = 1 } },
      [11] = { General2 = { I1 = gen, LockoutDuration = -18000000000,
                            LockoutObservationWindow = -18000000000, LockoutThreshold = 3 } },
      [12] = { Lockout = { LockoutDuration = -18000000000, LockoutObservationWindow = -6000000000,
                           LockoutThreshold = 5 } },
      [13] = { Modified2 = { DomainModifiedCount = 1795520651, CreationTime = T_PWD_SET,
                             ModifiedCountAtLastPromotion = 42 } },
    }
    for level, w in pairs(want) do
      local r = check_reply("SamrQueryInformationDomain", "samr_SamrQueryInformationDomain_L" .. level .. "_rep",
                            { DomainInformationClass = level })
      assert.are.same(w, r.Buffer, "level " .. level)
      assert.are.equal(0, r.result)
    end
    local r = check_reply("SamrQueryInformationDomain2", "samr_SamrQueryInformationDomain2_L2_rep",
                          { DomainInformationClass = 2 })
    assert.are.same({ General = gen }, r.Buffer)
  end)

  it("SAMPR_LOGON_HOURS with a NULL LogonHours pointer (UnitsPerWeek 0)", function()
    -- [size_is(1260), length_is((UnitsPerWeek+7)/8)] unsigned char *LogonHours:
    -- a NULL unique pointer is valid NDR whatever the constant size_is says
    -- (Samba's PIDL packs and parses it; clients send it in SamrSetInformationUser).
    local f = fn("SamrQueryInformationUser")
    local bytes = fx("samr_SamrQueryInformationUser_L4_rep_nullhours")
    local v = { Buffer = { LogonHours = { LogonHours = { UnitsPerWeek = 0 } } }, result = 0 }
    -- encoding a NULL pointer gives Samba's bytes
    assert.are.equal(hex(bytes), hex(ndr.encode_call(f, "out", copy(v, { UserInformationClass = 4 }))))
    local out, err = ndr.decode_call(f, "out", bytes)
    assert.is_table(out, tostring(err and err.message))
    assert.are.same(v, out)
  end)

  it("levels that are not described fail cleanly", function()
    -- a NULL buffer with an error status decodes (the Lua layer makes it nil, err)
    local r = check_reply("SamrQueryInformationUser", "samr_SamrQueryInformationUser_L15_rep_invalid",
                          { UserInformationClass = 15 })
    assert.is_nil(r.Buffer)
    assert.are.equal(0xC0000003, r.result)
    -- a non-NULL buffer switched to an undescribed level (15, 23, 0) is a decode error
    for _, level in ipairs { 15, 23, 0 } do
      local stub = unhex("00000200" .. string.format("%02x%02x", level, 0) .. "0000" .. "00000000" .. "00000000")
      local out, err = ndr.decode_call(fn("SamrQueryInformationUser"), "out", stub)
      assert.is_nil(out)
      assert.is_table(err)
    end
    -- and encoding one is refused
    assert.has_error(function()
      ndr.encode_call(fn("SamrQueryInformationUser"), "out",
                      { Buffer = { Internal4 = {} }, result = 0, UserInformationClass = 23 })
    end)
  end)

  it("every truncation of every samr reply fixture gives nil, err", function()
    local n = 0
    for name, f in pairs(F) do
      local fname = name:match("^samr_(Samr%w+)_.*_rep")
      if fname then
        local bytes = unhex(f.hex)
        for len = 0, #bytes - 1 do
          local out, err = ndr.decode_call(fn(fname), "out", bytes:sub(1, len))
          assert(out == nil and type(err) == "table", name .. " truncated to " .. len .. " bytes decoded")
          n = n + 1
        end
      end
    end
    assert.is_true(n > 2500, "truncations: " .. n)
  end)
end)

--------------------------------------------------------------------------
-- #interop: the Samba peer

local peers = require "helpers.peers"
local samba, samba_why

local function need_samba()
  if samba == nil then
    samba, samba_why = peers.samba()   -- raises under CI when the peer cannot start
    if not samba then samba = false end
  end
  if not samba then
    assert(not CI, "Samba peer unavailable under CI: " .. tostring(samba_why))
    pending("Samba peer not available: " .. tostring(samba_why))
    return nil
  end
  return samba
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- rpcclient's output for `cmds` (';'-separated), as alice over [seal] or anonymously
local function rpcclient(env, cmds, anonymous)
  -- (without an ASan LD_PRELOAD meant for the Lua process: rpcclient hangs under it)
  local cmd = string.format("env -u LD_PRELOAD timeout 60 rpcclient -s %s %s %s -c %s 2>&1",
    sh_quote(env.SAMBA_CLIENT_CONF),
    anonymous and "-U%" or ("-U " .. sh_quote(env.SAMBA_USER .. "%" .. env.SAMBA_PASSWORD)),
    sh_quote(anonymous and "ncacn_ip_tcp:127.0.0.1" or "ncacn_ip_tcp:127.0.0.1[seal]"),
    sh_quote(cmds))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  assert(ok, "rpcclient failed (" .. tostring(code) .. "): " .. out)
  return out
end

-- What rpcclient says about the peer's SAM, parsed.
local rc_cache
local function rpcclient_view(env)
  if rc_cache then return rc_cache end
  local out = rpcclient(env, "enumdomains; lookupdomain " .. env.SAMBA_DOMAIN .. "; enumdomusers; " ..
                             "queryuser 0x3e8; queryusergroups 0x3e8; samlookupnames domain " ..
                             env.SAMBA_USER .. "; samlookuprids domain 0x3e8")
  local v = { domains = {}, users = {}, userlines = {}, groups = {}, raw = out }
  for name, idx in out:gmatch("name:%[([^%]]*)%] idx:%[0x(%x+)%]") do
    v.domains[#v.domains + 1] = { name = name, idx = tonumber(idx, 16) }
  end
  v.sid = out:match("Domain SID: (S%-[%d%-]+)")
  for line in out:gmatch("[^\n]+") do
    local n, rid = line:match("^user:%[([^%]]*)%] rid:%[0x(%x+)%]$")
    if n then
      v.users[#v.users + 1] = { name = n, rid = tonumber(rid, 16) }
      v.userlines[#v.userlines + 1] = line
    end
  end
  v.user_name = out:match("User Name%s*:\t([^\n]*)")
  v.full_name = out:match("Full Name%s*:\t([^\n]*)")
  v.home_dir = out:match("Home Drive%s*:\t([^\n]*)")      -- rpcclient labels home_directory so
  v.profile = out:match("Profile Path:\t([^\n]*)")
  v.user_rid = tonumber(out:match("user_rid :\t0x(%x+)") or "", 16)
  v.group_rid = tonumber(out:match("group_rid:\t0x(%x+)") or "", 16)
  v.acb = tonumber(out:match("acb_info :\t0x(%x+)") or "", 16)
  v.fields_present = tonumber(out:match("fields_present:\t0x(%x+)") or "", 16)
  v.logon_divs = tonumber(out:match("logon_divs:\t(%d+)") or "")
  for rid, attr in out:gmatch("group rid:%[0x(%x+)%] attr:%[0x(%x+)%]") do
    v.groups[#v.groups + 1] = { rid = tonumber(rid, 16), attr = tonumber(attr, 16) }
  end
  local lrid, ltype = out:match("name " .. env.SAMBA_USER .. ": 0x(%x+) %((%d+)%)")
  v.lookup_rid, v.lookup_type = tonumber(lrid or "", 16), tonumber(ltype or "")
  local rname, rtype = out:match("rid 0x3e8: ([^ ]+) %((%d+)%)")
  v.rid_name, v.rid_type = rname, tonumber(rtype or "")
  rc_cache = v
  return v
end

local function connect(env, auth, level, extra)
  local dcerpc = require "dcerpc"
  local opts = { timeout = 20, connect_timeout = 10 }
  if auth then
    opts.auth, opts.level = auth, level
    opts.user = env.SAMBA_DOMAIN .. "\\" .. env.SAMBA_USER
    opts.password = env.SAMBA_PASSWORD
  end
  for k, v in pairs(extra or {}) do opts[k] = v end
  return dcerpc.connect("ncacn_ip_tcp:127.0.0.1", "samr", opts)
end

-- The whole walk; returns what we saw (compared with rpcclient by the caller).
local function walk(c, env)
  local seen = { domains = {}, users = {} }
  local r, e = c:SamrConnect5 { ServerName = "\\\\127.0.0.1", DesiredAccess = MAXIMUM_ALLOWED,
    InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } } }
  assert(r, tostring(e))
  assert.are.equal(1, r.OutVersion)
  assert.is_table(r.OutRevisionInfo.V1)
  local sh = r.ServerHandle
  assert.are_not.equal(ZERO20, sh)

  r = assert(c:SamrEnumerateDomainsInSamServer { ServerHandle = sh, EnumerationContext = 0,
                                                  PreferedMaximumLength = 0xffffffff })
  assert.are.equal(r.CountReturned, #r.Buffer.Buffer)
  for _, d in ipairs(r.Buffer.Buffer) do seen.domains[#seen.domains + 1] = { name = d.Name, idx = d.RelativeId } end

  r = assert(c:SamrLookupDomainInSamServer { ServerHandle = sh, Name = env.SAMBA_DOMAIN })
  seen.sid = r.DomainId
  local builtin = assert(c:SamrLookupDomainInSamServer { ServerHandle = sh, Name = "Builtin" })
  assert.are.equal("S-1-5-32", builtin.DomainId)

  local dh = assert(c:SamrOpenDomain { ServerHandle = sh, DesiredAccess = MAXIMUM_ALLOWED,
                                       DomainId = seen.sid }).DomainHandle
  local ctx = 0
  repeat
    r = assert(c:SamrEnumerateUsersInDomain { DomainHandle = dh, EnumerationContext = ctx,
                                              UserAccountControl = 0, PreferedMaximumLength = 1 })
    for _, u in ipairs(r.Buffer and r.Buffer.Buffer or {}) do
      seen.users[#seen.users + 1] = { name = u.Name, rid = u.RelativeId }
    end
    ctx = r.EnumerationContext
  until r.result ~= STATUS_MORE_ENTRIES

  r = assert(c:SamrEnumerateGroupsInDomain { DomainHandle = dh, EnumerationContext = 0,
                                             PreferedMaximumLength = 0xffff })
  seen.ngroups = r.CountReturned

  r = assert(c:SamrQueryInformationDomain { DomainHandle = dh, DomainInformationClass = 2 })
  seen.dominfo = r.Buffer.General

  r = assert(c:SamrLookupNamesInDomain { DomainHandle = dh, Count = 1, Names = { env.SAMBA_USER } })
  seen.lookup = { rid = r.RelativeIds.Element[1], use = r.Use.Element[1], result = r.result }
  r = assert(c:SamrLookupNamesInDomain { DomainHandle = dh, Count = 2, Names = { env.SAMBA_USER, "no-such-user" } })
  assert.are.equal(STATUS_SOME_NOT_MAPPED, r.result)      -- a success code
  assert.are.equal(8, r.Use.Element[2])                    -- SidTypeUnknown
  r = assert(c:SamrLookupIdsInDomain { DomainHandle = dh, Count = 1, RelativeIds = { 1000 } })
  seen.ids = { name = r.Names.Element[1], use = r.Use.Element[1] }

  local uh = assert(c:SamrOpenUser { DomainHandle = dh, DesiredAccess = MAXIMUM_ALLOWED, UserId = 1000 }).UserHandle
  r = assert(c:SamrQueryInformationUser { UserHandle = uh, UserInformationClass = 21 })
  seen.all = r.Buffer.All
  seen.levels = {}
  for _, level in ipairs { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20 } do
    r = assert(c:SamrQueryInformationUser { UserHandle = uh, UserInformationClass = level })
    seen.levels[level] = r.Buffer
  end
  -- a level Samba does not answer: an error value, no exception, no hang
  local bad, berr, bout = c:SamrQueryInformationUser { UserHandle = uh, UserInformationClass = 15 }
  assert.is_nil(bad)
  assert.are.equal(0xC0000003, berr.code)                 -- STATUS_INVALID_INFO_CLASS
  assert.is_nil(bout.Buffer)
  r = assert(c:SamrGetGroupsForUser { UserHandle = uh })
  seen.groups = {}
  for _, g in ipairs(r.Groups.Groups or {}) do seen.groups[#seen.groups + 1] = { rid = g.RelativeId, attr = g.Attributes } end

  for _, h in ipairs { uh, dh, sh } do
    r = assert(c:SamrCloseHandle { SamHandle = h })
    assert.are.equal(ZERO20, r.SamHandle)
  end
  -- a closed handle is refused by the server: nil, err (STATUS_INVALID_HANDLE or a fault)
  local again, aerr = c:SamrCloseHandle { SamHandle = sh }
  assert.is_nil(again)
  assert.is_table(aerr)
  return seen
end

describe("#interop samr against the Samba peer", function()
  for _, auth in ipairs { "ntlm", "spnego" } do
    for _, level in ipairs { "packet", "integrity", "privacy" } do
      it(("as alice, %s at %s: sees what rpcclient sees"):format(auth, level), function()
        local env = need_samba()
        if not env then return end
        local rc = rpcclient_view(env)
        local c, err = connect(env, auth, level)
        assert(c, tostring(err))
        local seen = walk(c, env)
        c:close()

        -- enumdomains: RPCSRV and Builtin
        assert.are.same(rc.domains, seen.domains)
        local names = {}
        for _, d in ipairs(seen.domains) do names[d.name] = true end
        assert.is_true(names[env.SAMBA_DOMAIN] and names.Builtin)
        -- lookupdomain
        assert.are.equal(rc.sid, seen.sid)
        assert.truthy(seen.sid:match("^S%-1%-5%-21%-"))
        -- enumdomusers: alice, 0x3e8
        assert.are.same(rc.users, seen.users)
        assert.are.same({ { name = env.SAMBA_USER, rid = 1000 } }, seen.users)
        -- queryuser 0x3e8
        local a = seen.all
        assert.are.equal(rc.user_name, a.UserName)
        assert.are.equal(env.SAMBA_USER, a.UserName)
        assert.are.equal(rc.full_name, a.FullName)
        assert.are.equal(rc.home_dir, a.HomeDirectory)
        assert.are.equal(rc.profile, a.ProfilePath)
        assert.are.equal(rc.user_rid, a.UserId)
        assert.are.equal(rc.group_rid, a.PrimaryGroupId)
        assert.are.equal(rc.acb, a.UserAccountControl)
        assert.are.equal(rc.fields_present, a.WhichFields)
        assert.are.equal(rc.logon_divs, a.LogonHours.UnitsPerWeek)
        assert.are.equal(21, #a.LogonHours.LogonHours)
        -- the other levels agree with level 21
        assert.are.equal(a.UserName, seen.levels[1].General.UserName)
        assert.are.equal(a.PrimaryGroupId, seen.levels[1].General.PrimaryGroupId)
        assert.are.equal(a.UserId, seen.levels[3].Logon.UserId)
        assert.are.equal(a.PasswordLastSet, seen.levels[3].Logon.PasswordLastSet)
        assert.are.same(a.LogonHours, seen.levels[4].LogonHours.LogonHours)
        assert.are.equal(a.AccountExpires, seen.levels[5].Account.AccountExpires)
        assert.are.equal(a.UserName, seen.levels[7].AccountName.UserName)
        assert.are.equal(a.HomeDirectory, seen.levels[10].Home.HomeDirectory)
        assert.are.equal(a.ProfilePath, seen.levels[12].Profile.ProfilePath)
        assert.are.equal(a.UserAccountControl, seen.levels[16].Control.UserAccountControl)
        assert.are.equal(a.AccountExpires, seen.levels[17].Expires.AccountExpires)
        -- queryusergroups 0x3e8
        assert.are.same(rc.groups, seen.groups)
        -- samlookupnames domain alice / samlookuprids domain 0x3e8
        assert.are.equal(rc.lookup_rid, seen.lookup.rid)
        assert.are.equal(rc.lookup_type, seen.lookup.use)
        assert.are.equal(0, seen.lookup.result)
        assert.are.equal(rc.rid_name, seen.ids.name)
        assert.are.equal(rc.rid_type, seen.ids.use)
        -- querydominfo 2 counts the users we listed
        assert.are.equal(#seen.users, seen.dominfo.UserCount)
        assert.are.equal(seen.ngroups, seen.dominfo.GroupCount)
      end)
    end
  end

  it("anonymously (no authentication): Samba answers, as it does rpcclient -U%", function()
    local env = need_samba()
    if not env then return end
    local out = rpcclient(env, "enumdomusers", true)
    local rc_users = {}
    for n, rid in out:gmatch("user:%[([^%]]*)%] rid:%[0x(%x+)%]") do rc_users[#rc_users + 1] = { name = n, rid = tonumber(rid, 16) } end
    local c = assert(connect(env, nil))
    local r, e = c:SamrConnect5 { ServerName = "\\\\127.0.0.1", DesiredAccess = MAXIMUM_ALLOWED,
      InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } } }
    if #rc_users == 0 then
      -- a peer that refuses anonymous SAM access: a clean error value
      assert.is_nil(r)
      assert.is_table(e)
      assert.is_number(e.code)
      c:close()
      return
    end
    assert(r, tostring(e))
    local sh = r.ServerHandle
    local sid = assert(c:SamrLookupDomainInSamServer { ServerHandle = sh, Name = env.SAMBA_DOMAIN }).DomainId
    local dh = assert(c:SamrOpenDomain { ServerHandle = sh, DesiredAccess = MAXIMUM_ALLOWED, DomainId = sid }).DomainHandle
    local u = assert(c:SamrEnumerateUsersInDomain { DomainHandle = dh, EnumerationContext = 0,
                                                    UserAccountControl = 0, PreferedMaximumLength = 0xffff })
    local ours = {}
    for _, x in ipairs(u.Buffer.Buffer or {}) do ours[#ours + 1] = { name = x.Name, rid = x.RelativeId } end
    assert.are.same(rc_users, ours)
    assert(c:SamrCloseHandle { SamHandle = dh })
    assert(c:SamrCloseHandle { SamHandle = sh })
    c:close()
  end)

  it("SamrConnect2 works too and gives a handle SamrCloseHandle closes", function()
    local env = need_samba()
    if not env then return end
    local c = assert(connect(env, "spnego", "integrity"))
    local r = assert(c:SamrConnect2 { ServerName = "\\\\127.0.0.1", DesiredAccess = MAXIMUM_ALLOWED })
    assert.are_not.equal(ZERO20, r.ServerHandle)
    local d = assert(c:SamrEnumerateDomainsInSamServer { ServerHandle = r.ServerHandle,
                                                         EnumerationContext = 0, PreferedMaximumLength = 0xffff })
    assert.is_true(d.CountReturned >= 2)
    assert(c:SamrCloseHandle { SamHandle = r.ServerHandle })
    c:close()
  end)

  for _, auth in ipairs { "ntlm", "spnego" } do
    it(auth .. " with a wrong password gives nil, err (no hang)", function()
      local env = need_samba()
      if not env then return end
      local t0 = os.time()
      local c, err = connect(env, auth, "privacy", { password = "not-the-password" })
      if c then
        -- NTLM: the failure can only show on the first call (auth3 has no reply)
        local r, e = c:SamrConnect5 { ServerName = "\\\\127.0.0.1", DesiredAccess = MAXIMUM_ALLOWED,
          InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } } }
        c:close()
        assert.is_nil(r)
        err = e
      end
      assert.is_table(err)
      assert.is_number(err.code)
      assert.is_string(err.message)
      assert.is_true(os.time() - t0 <= 15, "took " .. (os.time() - t0) .. " s")
    end)
  end
end)

--------------------------------------------------------------------------
describe("#interop examples/users.lua", function()
  local function run(args, env_extra)
    local q = {}
    for _, a in ipairs(args) do q[#q + 1] = sh_quote(a) end
    local cmd = string.format("cd %s && env LUA_PATH=%s LUA_CPATH=%s %s timeout 60 lua5.4 examples/users.lua %s 2>&1",
      sh_quote(root), sh_quote(package.path), sh_quote(package.cpath), env_extra or "", table.concat(q, " "))
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    local ok, _, code = p:close()
    return out, ok and 0 or code
  end

  it("lists the users like rpcclient enumdomusers", function()
    local env = need_samba()
    if not env then return end
    local rc = rpcclient_view(env)
    assert.is_true(#rc.userlines >= 1)
    local want = table.concat(rc.userlines, "\n") .. "\n"
    local out, code = run { "ncacn_ip_tcp:127.0.0.1", env.SAMBA_USER, env.SAMBA_PASSWORD, env.SAMBA_DOMAIN }
    assert.are.equal(0, code, out)
    assert.are.equal(want, out)
    assert.are.equal("user:[alice] rid:[0x3e8]\n", out)
    -- DOMAIN\USER, NTLM at integrity from the binding, one-byte pages
    out, code = run({ "ncacn_ip_tcp:127.0.0.1[sign,ntlm]", env.SAMBA_DOMAIN .. "\\" .. env.SAMBA_USER,
                      env.SAMBA_PASSWORD }, "USERS_PAGE_SIZE=1")
    assert.are.equal(0, code, out)
    assert.are.equal(want, out)
  end)

  it("exits non-zero with the error on failure", function()
    local env = need_samba()
    if not env then return end
    local out, code = run { "ncacn_ip_tcp:127.0.0.1", env.SAMBA_USER, "wrong-password", env.SAMBA_DOMAIN }
    assert.are.equal(1, code)
    assert.truthy(out:match("^users: "), out)
    out, code = run {}
    assert.are.equal(2, code)
    assert.truthy(out:match("usage"), out)
    out, code = run { "ncacn_ip_tcp:127.0.0.1[1]", env.SAMBA_USER, env.SAMBA_PASSWORD }
    assert.are.equal(1, code)
    assert.truthy(out:match("^users: "), out)
  end)
end)

--------------------------------------------------------------------------
-- examples/users.lua against a samr server of our own (dcerpc.server, no
-- authentication, so the example runs anonymously with USER ''): several
-- account domains, enumerations in pages with STATUS_MORE_ENTRIES.
describe("examples/users.lua against a paging samr server", function()
  it("follows STATUS_MORE_ENTRIES, skips Builtin, closes every handle", function()
    local dcerpc = require "dcerpc"
    local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" } })
    local port = assert(tonumber(srv.endpoints[1]:match("%[(%d+)%]$")))
    local DOMAINS = {
      { name = "SRV", sid = "S-1-5-21-1-2-3",
        users = { { "Administrator", 500 }, { "Guest", 501 }, { "alice", 1000 }, { "bob", 1001 }, { "carol", 1002 } } },
      { name = "Builtin", sid = "S-1-5-32", users = { { "not-listed", 9999 } } },
      { name = "EXTRA", sid = "S-1-5-21-4-5-6", users = { { "dave", 1100 } } },
    }
    local PAGE = 2
    local open, nextid, calls = {}, 0, {}
    local function new_handle(what)
      nextid = nextid + 1
      local h = string.pack("<I4I4I4I4I4", 0, 0x5a5a0000 + nextid, 0, 0, nextid)
      open[h] = what
      return h
    end
    -- entries[ctx+1 .. ctx+PAGE], the next context, and the status
    local function page(list, ctx, map)
      local out = {}
      for i = ctx + 1, math.min(ctx + PAGE, #list) do out[#out + 1] = map(list[i], i) end
      local nxt = ctx + #out
      return { EnumerationContext = nxt, CountReturned = #out,
               Buffer = { EntriesRead = #out, Buffer = out },
               result = nxt < #list and STATUS_MORE_ENTRIES or 0 }
    end
    local function count(name) calls[name] = (calls[name] or 0) + 1 end
    srv:register("samr", {
      SamrConnect5 = function(_, a)
        count("SamrConnect5")
        assert(a.InRevisionInfo.V1)
        return { OutVersion = 1, OutRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } },
                 ServerHandle = new_handle { kind = "server" }, result = 0 }
      end,
      SamrEnumerateDomainsInSamServer = function(_, a)
        count("SamrEnumerateDomainsInSamServer")
        assert(open[a.ServerHandle], "enumerate with a closed handle")
        return page(DOMAINS, a.EnumerationContext, function(d, i) return { RelativeId = i - 1, Name = d.name } end)
      end,
      SamrLookupDomainInSamServer = function(_, a)
        for _, d in ipairs(DOMAINS) do
          if d.name == a.Name then return { DomainId = d.sid, result = 0 } end
        end
        return { result = 0xC00000DF }
      end,
      SamrOpenDomain = function(_, a)
        for _, d in ipairs(DOMAINS) do
          if d.sid == a.DomainId then return { DomainHandle = new_handle { kind = "domain", d = d }, result = 0 } end
        end
        return { DomainHandle = ZERO20, result = 0xC00000DF }
      end,
      SamrEnumerateUsersInDomain = function(_, a)
        count("SamrEnumerateUsersInDomain")
        local h = assert(open[a.DomainHandle], "enumerate with a closed handle")
        return page(h.d.users, a.EnumerationContext, function(u) return { RelativeId = u[2], Name = u[1] } end)
      end,
      SamrCloseHandle = function(_, a)
        count("SamrCloseHandle")
        if not open[a.SamHandle] then return { SamHandle = a.SamHandle, result = 0xC0000008 } end
        open[a.SamHandle] = nil
        return { SamHandle = ZERO20, result = 0 }
      end,
    })
    local outf, rcf = os.tmpname(), os.tmpname()
    os.remove(rcf)
    os.execute(string.format("cd %s && (env LUA_PATH=%s LUA_CPATH=%s timeout 60 lua5.4 examples/users.lua %s '' '' >%s 2>&1; echo $? >%s) &",
      sh_quote(root), sh_quote(package.path), sh_quote(package.cpath),
      sh_quote("ncacn_ip_tcp:127.0.0.1[" .. port .. "]"), sh_quote(outf), sh_quote(rcf)))
    local deadline = os.time() + 60
    local rc
    repeat
      srv:step(0.05)
      local f = io.open(rcf)
      if f then rc = tonumber(f:read("a")); f:close() end
    until rc or os.time() > deadline
    srv:close()
    local f = io.open(outf)
    local out = f and f:read("a") or ""
    if f then f:close() end
    os.remove(outf); os.remove(rcf)
    assert.are.equal(0, rc, out)
    assert.are.equal(table.concat({
      "user:[Administrator] rid:[0x1f4]", "user:[Guest] rid:[0x1f5]", "user:[alice] rid:[0x3e8]",
      "user:[bob] rid:[0x3e9]", "user:[carol] rid:[0x3ea]", "user:[dave] rid:[0x44c]", "" }, "\n"), out)
    assert.are.equal(2, calls.SamrEnumerateDomainsInSamServer)   -- 2 + 1 domains
    assert.are.equal(3 + 1, calls.SamrEnumerateUsersInDomain)     -- SRV 2 + 2 + 1, EXTRA 1
    assert.are.equal(3, calls.SamrCloseHandle)                    -- server + 2 domains
    assert.is_nil(next(open), "handles left open")
  end)
end)
