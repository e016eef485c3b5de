-- idl_interop_spec: the interfaces described from MIDL (spec/fixtures/idl/*.idl,
-- loaded by dcerpc.idl) interoperate byte for byte with the shipped Lua
-- descriptions of the same interfaces (scripts/dcerpc/iface/*.lua): srvsvc,
-- wkssvc, samr, epm, mgmt, rpcecho (issue 16).
--
--   a. loading, uuid, version, opnums, names, types, constants;
--   b. the same request stubs for the same arguments, and replies encoded by
--      one description decode to the same values with the other, little- and
--      big-endian; Samba-marshalled stubs (spec/fixtures/iface_fixtures.lua,
--      iface_live.lua) decode to the same values with both;
--   c. #interop: the same calls against the Samba peer (and the rpcecho peer)
--      with a client of each description: the same request bytes, one reply
--      decoded by both, and the high-level results deep-equal;
--   d. the pitfalls the shipped descriptions' header comments call out.
--
-- Where the loader still differs (a bug, see KNOWN), the test is pending with
-- the reason; IDL_INTEROP_STRICT=1 runs those as ordinary tests (they fail
-- until the loader is fixed).

local ndr = require "dcerpc.ndr"
local idl = require "dcerpc.idl"

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/idl_interop_spec%.lua$")) or "."
local FIX = root .. "/spec/fixtures/idl/"
local STRICT = os.getenv("IDL_INTEROP_STRICT") == "1"
local CI = os.getenv("CI") == "true"

local NAMES = { "srvsvc", "wkssvc", "samr", "epm", "mgmt", "rpcecho" }

-- Loader bugs found while writing this spec (reported to the lead): the
-- cases they break, by key, and why.
-- Loader bugs this spec found are fixed; a new one goes here with the reason,
-- and its tests stay pending unless IDL_INTEROP_STRICT=1.
local KNOWN = {}

local function unhex(h)
  return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end))
end
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local loaded = {}
local function pair(name)
  if not loaded[name] then
    -- rpcecho's MIDL ships with the examples (examples/echo-server.lua --idl)
    local i, err = idl.load(name == "rpcecho" and "examples/rpcecho.idl" or FIX .. name .. ".idl")
    assert(i, tostring(err))
    loaded[name] = { lua = require("dcerpc.iface." .. name), idl = i }
  end
  return loaded[name].lua, loaded[name].idl
end

local function fns(name, fname)
  local l, i = pair(name)
  local fl = assert(l.functions[fname], "lua: no " .. fname)
  local fi = assert(i.functions[fl.opnum], "idl: no opnum " .. fl.opnum)
  return fl, fi
end

local function copy(t, extra)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- A test that a known loader bug breaks: pending unless STRICT.
local function it_known(key, title, fn)
  if KNOWN[key] and not STRICT then
    pending(title .. " [" .. KNOWN[key] .. "]")
  else
    it(title, fn)
  end
end

--------------------------------------------------------------------------
-- the stub comparisons (part b)

local DREPS = { { "le", nil, 0x10 }, { "be", "be", 0x00 } }

-- [in]: both descriptions encode args to the same bytes; each decodes the
-- other's bytes to the same values
local function same_in(name, fname, args)
  local fl, fi = fns(name, fname)
  for _, d in ipairs(DREPS) do
    local eo = d[2] and { drep = d[2] } or nil
    local bl = ndr.encode_call(fl, "in", args, eo)
    local bi = ndr.encode_call(fi, "in", args, eo)
    assert.are.equal(hex(bl), hex(bi), fname .. " [in] " .. d[1])
    local vl = assert(ndr.decode_call(fl, "in", bi, { drep = d[3] }))
    local vi = assert(ndr.decode_call(fi, "in", bl, { drep = d[3] }))
    assert.are.same(vl, vi)
  end
  return ndr.encode_call(fl, "in", args)
end

-- [out]: the same bytes from both (the [in] values the sizes and switches
-- need in opts.request), decoded alike by both, little- and big-endian
local function same_out(name, fname, results, request)
  local fl, fi = fns(name, fname)
  for _, d in ipairs(DREPS) do
    local eo = { request = request, drep = d[2] }
    local bl = ndr.encode_call(fl, "out", results, eo)
    local bi = ndr.encode_call(fi, "out", results, eo)
    assert.are.equal(hex(bl), hex(bi), fname .. " [out] " .. d[1])
    local vl, el = ndr.decode_call(fl, "out", bi, { drep = d[3] })
    local vi, ei = ndr.decode_call(fi, "out", bl, { drep = d[3] })
    assert(vl, el and el.message)
    assert(vi, ei and ei.message)
    assert.are.same(vl, vi)
  end
end

-- Samba's bytes: both decode them to the same values (or both refuse them)
local function same_decode(name, fname, dir, bytes, drep)
  local fl, fi = fns(name, fname)
  local vl, el = ndr.decode_call(fl, dir, bytes, { drep = drep })
  local vi, ei = ndr.decode_call(fi, dir, bytes, { drep = drep })
  if vl == nil then
    assert.is_nil(vi, fname .. ": the Lua description refuses these bytes, the IDL one decodes them")
    assert.are.equal(el.name, ei.name)
    return nil, el
  end
  assert(vi, fname .. " (IDL) refuses what the Lua description decodes: " .. tostring(ei and ei.message))
  assert.are.same(vl, vi)
  -- and re-encoding gives the same bytes from both (or the same refusal: a
  -- NULL union arm decodes to {}, which cannot be re-encoded without the
  -- [in] switch value)
  local eo = { drep = drep == 0 and "be" or nil }
  local okl, bl = pcall(ndr.encode_call, fl, dir, vl, eo)
  local oki, bi = pcall(ndr.encode_call, fi, dir, vl, eo)
  assert.are.equal(okl, oki)
  if okl then assert.are.equal(hex(bl), hex(bi)) end
  return vl
end

--------------------------------------------------------------------------
-- values

local H1 = string.rep("\1", 4) .. "\17\34\51\68\85\102\119\136\153\170\187\204\221\238\255\0"   -- 20 bytes
local H2 = "\0\0\0\0" .. string.rep("\171", 16)
local ZERO20 = string.rep("\0", 20)
local SID = "S-1-5-21-570980444-294173684-222828579"
local GUID1 = "4b324fc8-1670-01d3-1278-5a47bf6ee188"
local GUID2 = "12345778-1234-abcd-ef00-0123456789ac"
local NEVER = math.maxinteger
local HOURS = string.rep("\255", 21)
local SD = unhex("01000480140000002400000000000000300000000102000000000005200000002002000001020000000000052000000020020000")

--------------------------------------------------------------------------
describe("IDL interfaces: loading, identity, opnums (a)", function()
  for _, name in ipairs(NAMES) do
    it(name .. ": loads, same uuid, version, opnums and names as the Lua description", function()
      local l, i = pair(name)
      assert.are.equal(l.uuid, i.uuid)
      assert.are.equal(l.version, i.version)
      local n = 0
      for k, fl in pairs(l.functions) do
        if type(k) == "number" then
          n = n + 1
          local fi = i.functions[k]
          assert(fi, name .. ": IDL has no opnum " .. k)
          assert.are.equal(fl.name, fi.name)
          assert.are.equal(k, fi.opnum)
          assert.are.equal(fi, i.functions[fl.name])
          -- the same parameters, in the same order and directions
          local pl, pi = {}, {}
          local function d(p) return p.name .. ":" .. (p["in"] and "in" or "") .. (p.out and "out" or "") end
          for _, p in ipairs(fl.params or {}) do pl[#pl + 1] = d(p) end
          for _, p in ipairs(fi.params or {}) do pi[#pi + 1] = d(p) end
          assert.are.same(pl, pi)
          assert.are.equal(fl.returns ~= nil, fi.returns ~= nil, fl.name .. ": result")
        end
      end
      assert.is_true(n > 0)
    end)

    it(name .. ": every type the Lua description exports compiles to the same program", function()
      local l, i = pair(name)
      -- types the IDL declares inline or under another name (same wire, checked by the stubs)
      local renamed = {
        wkssvc = { WKSTA_USER_ENUM_UNION = "inline union of WKSTA_USER_ENUM_STRUCT" },
        epm = { RPC_IF_ID = "rpc_if_id_t" },
      }
      -- the IDL's enums (v1_enum) where the Lua description reads uint32: ENUM32 vs U32
      local enum_vs_u32 = { samr = { SAMPR_DOMAIN_GENERAL_INFORMATION = true,
                                     SAMPR_DOMAIN_GENERAL_INFORMATION2 = true,
                                     SAMPR_DOMAIN_INFO_BUFFER = true } }
      local checked = 0
      for tname, tl in pairs(l.types or {}) do
        local alias = renamed[name] and renamed[name][tname]
        local ti = i.types[tname] or (alias and i.types[alias])
        if not (alias and not ti) then
          assert(ti, name .. ": IDL has no type " .. tname)
          if not (enum_vs_u32[name] and enum_vs_u32[name][tname]) then
            local cl = ndr.program_words(tl)
            local ci = ndr.program_words(ti)
            assert.are.equal(table.concat(cl, ","), table.concat(ci, ","), name .. "." .. tname)
          end
          checked = checked + 1
        end
      end
      assert.is_true(checked > 0)
    end)

    it(name .. ": the integer constants of the Lua description, with the same values", function()
      local l, i = pair(name)
      for k, v in pairs(l.constants or {}) do
        if math.type(v) == "integer" then
          assert.are.equal(v, i.constants[k], name .. " constant " .. k)
        end
      end
    end)
  end

  it("the functions' compiled programs are identical, but for the known differences", function()
    -- SamrQueryInformationDomain(2): ENUM32 (IDL [v1_enum]) where Lua has U32
    -- (the same 4 bytes and the same integer); ept_map: KNOWN.ept_map_out
    local differ = { samr = { [8] = true, [46] = true }, epm = { [3] = true } }
    for _, name in ipairs(NAMES) do
      local l, i = pair(name)
      for k, fl in pairs(l.functions) do
        if type(k) == "number" and not (differ[name] and differ[name][k]) then
          local cl = ndr.program_words(fl)
          local ci = ndr.program_words(i.functions[k])
          assert.are.equal(table.concat(cl, ","), table.concat(ci, ","), name .. "." .. fl.name)
        end
      end
    end
  end)
end)

--------------------------------------------------------------------------
describe("IDL interfaces: stubs (b)", function()
  -- srvsvc --------------------------------------------------------------
  describe("srvsvc", function()
    local SHARES = {
      [0] = { { shi0_netname = "share" }, { shi0_netname = "IPC$" } },
      [1] = { { shi1_netname = "share", shi1_type = 0, shi1_remark = "" },
              { shi1_netname = "IPC$", shi1_type = 0x80000003, shi1_remark = "IPC Service (Sämba ☃)" } },
      [2] = { { shi2_netname = "share", shi2_type = 0, shi2_remark = "r", shi2_permissions = 0,
                shi2_max_uses = 0xffffffff, shi2_current_uses = 1, shi2_path = "C:\\srv\\share", shi2_passwd = nil } },
      [501] = { { shi501_netname = "a", shi501_type = 1, shi501_remark = nil, shi501_flags = 0x30 } },
      [502] = { { shi502_netname = "share", shi502_type = 0, shi502_remark = "x", shi502_permissions = 0,
                  shi502_max_uses = 10, shi502_current_uses = 0, shi502_path = "/srv", shi502_passwd = nil,
                  shi502_reserved = #SD, shi502_security_descriptor = SD },
                { shi502_netname = "IPC$", shi502_type = 3, shi502_remark = nil, shi502_permissions = 0,
                  shi502_max_uses = 0, shi502_current_uses = 0, shi502_path = nil, shi502_passwd = nil,
                  shi502_reserved = 0, shi502_security_descriptor = nil } },
    }

    it("NetrShareEnum: every level, NULL and non-NULL ServerName, ResumeHandle, containers", function()
      for level, list in pairs(SHARES) do
        local arm = "Level" .. level
        -- request: an empty container (the usual), and one with a NULL buffer
        same_in("srvsvc", "NetrShareEnum", { ServerName = "\\\\127.0.0.1",
          InfoStruct = { Level = level, ShareInfo = { [arm] = { EntriesRead = 0 } } },
          PreferedMaximumLength = 0xffffffff })
        same_in("srvsvc", "NetrShareEnum", { ServerName = nil,
          InfoStruct = { Level = level, ShareInfo = { [arm] = { EntriesRead = 0, Buffer = {} } } },
          PreferedMaximumLength = 1024, ResumeHandle = 7 })
        same_in("srvsvc", "NetrShareEnum", { InfoStruct = { Level = level, ShareInfo = {} },
          PreferedMaximumLength = 0 })
        -- reply: entries, then an empty array, then a NULL container
        same_out("srvsvc", "NetrShareEnum", { InfoStruct = { Level = level,
          ShareInfo = { [arm] = { EntriesRead = #list, Buffer = list } } },
          TotalEntries = #list, ResumeHandle = 0, result = 0 })
        same_out("srvsvc", "NetrShareEnum", { InfoStruct = { Level = level,
          ShareInfo = { [arm] = { EntriesRead = 0, Buffer = {} } } }, TotalEntries = 0, result = 234 })
        same_out("srvsvc", "NetrShareEnum", { InfoStruct = { Level = level, ShareInfo = {} },
          TotalEntries = 0, result = 5 }, { InfoStruct = { Level = level } })
      end
    end)

    it("NetrShareGetInfo: every level, and a NULL arm", function()
      local one = {
        [0] = SHARES[0][1], [1] = SHARES[1][2], [2] = SHARES[2][1], [501] = SHARES[501][1],
        [502] = SHARES[502][1], [1004] = { shi1004_remark = "remark ✓" },
        [1005] = { shi1005_flags = 0x100 }, [1006] = { shi1006_max_uses = 0xffffffff },
      }
      for level, v in pairs(one) do
        local req = { ServerName = "\\\\srv", NetName = "share", Level = level }
        same_in("srvsvc", "NetrShareGetInfo", req)
        same_out("srvsvc", "NetrShareGetInfo", { InfoStruct = { ["ShareInfo" .. level] = v }, result = 0 }, req)
        same_out("srvsvc", "NetrShareGetInfo", { InfoStruct = {}, result = 2310 }, req)
      end
    end)

    it("NetrServerGetInfo: levels 100, 101, 102", function()
      local v = {
        [100] = { sv100_platform_id = 500, sv100_name = "RPCSRV" },
        [101] = { sv101_platform_id = 500, sv101_name = "RPCSRV", sv101_version_major = 6,
                  sv101_version_minor = 1, sv101_type = 0x00809a03, sv101_comment = nil },
        [102] = { sv102_platform_id = 500, sv102_name = "RPCSRV", sv102_version_major = 6,
                  sv102_version_minor = 1, sv102_type = 0x00809a03, sv102_comment = "Samba",
                  sv102_users = 0xffffffff, sv102_disc = -1, sv102_hidden = 0, sv102_announce = 240,
                  sv102_anndelta = 3000, sv102_licenses = 100000, sv102_userpath = "C:\\" },
      }
      for level, x in pairs(v) do
        local req = { ServerName = "\\\\127.0.0.1", Level = level }
        same_in("srvsvc", "NetrServerGetInfo", req)
        same_in("srvsvc", "NetrServerGetInfo", { Level = level })
        same_out("srvsvc", "NetrServerGetInfo", { InfoStruct = { ["ServerInfo" .. level] = x }, result = 0 }, req)
      end
    end)
  end)

  -- wkssvc --------------------------------------------------------------
  describe("wkssvc", function()
    it("NetrWkstaGetInfo: levels 100, 101, 102, 1013, 1018, 1046 and the [default] arm", function()
      local v = {
        [100] = { wki100_platform_id = 500, wki100_computername = "RPCSRV", wki100_langroup = "WORKGROUP",
                  wki100_ver_major = 6, wki100_ver_minor = 1 },
        [101] = { wki101_platform_id = 500, wki101_computername = "RPCSRV", wki101_langroup = nil,
                  wki101_ver_major = 6, wki101_ver_minor = 1, wki101_lanroot = "C:\\" },
        [102] = { wki102_platform_id = 500, wki102_computername = "ÿ", wki102_langroup = "",
                  wki102_ver_major = 6, wki102_ver_minor = 1, wki102_lanroot = nil, wki102_logged_on_users = 3 },
        [1013] = { wki1013_keep_conn = 600 }, [1018] = { wki1018_sess_timeout = 45 },
        [1046] = { wki1046_dormant_file_limit = 1 },
      }
      for level, x in pairs(v) do
        local req = { ServerName = "\\\\srv", Level = level }
        same_in("wkssvc", "NetrWkstaGetInfo", req)
        same_out("wkssvc", "NetrWkstaGetInfo", { WkstaInfo = { ["WkstaInfo" .. level] = x }, result = 0 }, req)
      end
      -- 502 (not described): the empty default arm
      same_in("wkssvc", "NetrWkstaGetInfo", { Level = 502 })
      same_out("wkssvc", "NetrWkstaGetInfo", { WkstaInfo = {}, result = 124 }, { Level = 502 })
    end)

    it("NetrWkstaUserEnum: levels 0 and 1, empty and NULL containers, resume handle", function()
      for _, level in ipairs { 0, 1 } do
        local arm = "Level" .. level
        same_in("wkssvc", "NetrWkstaUserEnum", { ServerName = "\\\\srv",
          UserInfo = { Level = level, WkstaUserInfo = { [arm] = { EntriesRead = 0 } } },
          PreferredMaximumLength = 0xffffffff, ResumeHandle = 0 })
        same_in("wkssvc", "NetrWkstaUserEnum", { UserInfo = { Level = level, WkstaUserInfo = {} },
          PreferredMaximumLength = 100 })
        local list = level == 0 and { { wkui0_username = "alice" }, { wkui0_username = nil } }
          or { { wkui1_username = "alice", wkui1_logon_domain = "RPCSRV", wkui1_oth_domains = "",
                 wkui1_logon_server = "\\\\RPCSRV" } }
        same_out("wkssvc", "NetrWkstaUserEnum", { UserInfo = { Level = level,
          WkstaUserInfo = { [arm] = { EntriesRead = #list, Buffer = list } } }, TotalEntries = #list,
          ResumeHandle = nil, result = 0 })
        same_out("wkssvc", "NetrWkstaUserEnum", { UserInfo = { Level = level,
          WkstaUserInfo = { [arm] = { EntriesRead = 0, Buffer = {} } } }, TotalEntries = 0,
          ResumeHandle = 12, result = 234 })
      end
      -- an unknown level: the default arm
      same_in("wkssvc", "NetrWkstaUserEnum", { UserInfo = { Level = 7, WkstaUserInfo = {} },
        PreferredMaximumLength = 100 })
    end)
  end)

  -- samr ----------------------------------------------------------------
  describe("samr", function()
    local RUS_ALL = { UserName = "alice", FullName = "Alice Ä. Example", HomeDirectory = "\\\\srv\\alice",
      HomeDirectoryDrive = "H:", ScriptPath = nil, ProfilePath = "", AdminComment = "c", WorkStations = nil }

    local function user_level(level)
      local g = RUS_ALL
      local hours = { UnitsPerWeek = 168, LogonHours = HOURS }
      local t = ({
        [1] = { General = { UserName = g.UserName, FullName = g.FullName, PrimaryGroupId = 513,
                            AdminComment = g.AdminComment, UserComment = nil } },
        [2] = { Preferences = { UserComment = "u", Reserved1 = nil, CountryCode = 49, CodePage = 1252 } },
        [3] = { Logon = { UserName = g.UserName, FullName = g.FullName, UserId = 1000, PrimaryGroupId = 513,
                          HomeDirectory = g.HomeDirectory, HomeDirectoryDrive = g.HomeDirectoryDrive,
                          ScriptPath = g.ScriptPath, ProfilePath = g.ProfilePath, WorkStations = g.WorkStations,
                          LastLogon = 0, LastLogoff = NEVER, PasswordLastSet = 134399924550000000,
                          PasswordCanChange = 0, PasswordMustChange = math.mininteger, LogonHours = hours,
                          BadPasswordCount = 0, LogonCount = 3, UserAccountControl = 0x210 } },
        [4] = { LogonHours = { LogonHours = hours } },
        [5] = { Account = { UserName = g.UserName, FullName = g.FullName, UserId = 1000, PrimaryGroupId = 513,
                            HomeDirectory = g.HomeDirectory, HomeDirectoryDrive = g.HomeDirectoryDrive,
                            ScriptPath = g.ScriptPath, ProfilePath = g.ProfilePath, AdminComment = "",
                            WorkStations = g.WorkStations, LastLogon = 1, LastLogoff = 2,
                            LogonHours = { UnitsPerWeek = 0, LogonHours = "" },
                            BadPasswordCount = 1, LogonCount = 2, PasswordLastSet = 3,
                            AccountExpires = NEVER, UserAccountControl = 0x10 } },
        [6] = { Name = { UserName = "alice", FullName = nil } },
        [7] = { AccountName = { UserName = "alice" } },
        [8] = { FullName = { FullName = "Alice" } },
        [9] = { PrimaryGroup = { PrimaryGroupId = 513 } },
        [10] = { Home = { HomeDirectory = "\\\\h", HomeDirectoryDrive = "" } },
        [11] = { Script = { ScriptPath = "logon.cmd" } },
        [12] = { Profile = { ProfilePath = nil } },
        [13] = { AdminComment = { AdminComment = "admin" } },
        [14] = { WorkStations = { WorkStations = "WS1,WS2" } },
        [16] = { Control = { UserAccountControl = 0x211 } },
        [17] = { Expires = { AccountExpires = NEVER } },
        [18] = { Internal1 = { EncryptedNtOwfPassword = { data = string.rep("\1", 16) },
                               EncryptedLmOwfPassword = { data = string.rep("\0", 16) },
                               NtPasswordPresent = 1, LmPasswordPresent = 0, PasswordExpired = 0 } },
        [20] = { Parameters = { Parameters = "p" } },
        [21] = { All = { LastLogon = 0, LastLogoff = NEVER, PasswordLastSet = 5, AccountExpires = NEVER,
                         PasswordCanChange = 6, PasswordMustChange = NEVER,
                         UserName = g.UserName, FullName = g.FullName, HomeDirectory = g.HomeDirectory,
                         HomeDirectoryDrive = g.HomeDirectoryDrive, ScriptPath = g.ScriptPath,
                         ProfilePath = g.ProfilePath, AdminComment = g.AdminComment,
                         WorkStations = g.WorkStations, UserComment = "", Parameters = nil,
                         LmOwfPassword = { Length = 0, MaximumLength = 0, Buffer = nil },
                         NtOwfPassword = { Length = 4, MaximumLength = 6, Buffer = { 0x1234, 0xfffe } },
                         PrivateData = nil,
                         SecurityDescriptor = { Length = #SD, SecurityDescriptor = SD },
                         UserId = 1000, PrimaryGroupId = 513, UserAccountControl = 0x210,
                         WhichFields = 0x00ffffff, LogonHours = hours, BadPasswordCount = 0,
                         LogonCount = 0, CountryCode = 0, CodePage = 0, LmPasswordPresent = 0,
                         NtPasswordPresent = 1, PasswordExpired = 0, PrivateDataSensitive = 0 } },
      })[level]
      return t
    end

    local function domain_level(level)
      local gen = { ForceLogoff = math.mininteger, OemInformation = "oem", DomainName = "RPCSRV",
                    ReplicaSourceNodeName = nil, DomainModifiedCount = 42, DomainServerState = 1,
                    DomainServerRole = 3, UasCompatibilityRequired = 1, UserCount = 1, GroupCount = 0,
                    AliasCount = 0 }
      return ({
        [1] = { Password = { MinPasswordLength = 7, PasswordHistoryLength = 24, PasswordProperties = 1,
                             MaxPasswordAge = -37108517437440, MinPasswordAge = 0 } },
        [2] = { General = gen },
        [3] = { Logoff = { ForceLogoff = NEVER } },
        [4] = { Oem = { OemInformation = "" } },
        [5] = { Name = { DomainName = "RPCSRV" } },
        [6] = { Replication = { ReplicaSourceNodeName = nil } },
        [7] = { Role = { DomainServerRole = 3 } },
        [8] = { Modified = { DomainModifiedCount = 1, CreationTime = 134399924550000000 } },
        [9] = { State = { DomainServerState = 2 } },
        [11] = { General2 = { I1 = gen, LockoutDuration = -18000000000, LockoutObservationWindow = -18000000000,
                              LockoutThreshold = 5 } },
        [12] = { Lockout = { LockoutDuration = 0, LockoutObservationWindow = 1, LockoutThreshold = 0 } },
        [13] = { Modified2 = { DomainModifiedCount = 1, CreationTime = 2, ModifiedCountAtLastPromotion = 3 } },
      })[level]
    end

    it("connect, close, lookup and open: handles, SIDs, strings, revision info", function()
      same_in("samr", "SamrConnect5", { ServerName = "\\\\127.0.0.1", DesiredAccess = 0x02000000,
        InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } } })
      same_in("samr", "SamrConnect5", { ServerName = nil, DesiredAccess = 0x30,
        InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0x10 } } })
      same_out("samr", "SamrConnect5", { OutVersion = 1,
        OutRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } }, ServerHandle = H1, result = 0 })
      same_in("samr", "SamrConnect2", { ServerName = "\\\\x", DesiredAccess = 0x02000000 })
      same_out("samr", "SamrConnect2", { ServerHandle = H1, result = 0 })
      same_out("samr", "SamrConnect2", { ServerHandle = ZERO20, result = 0xC0000022 })
      same_in("samr", "SamrCloseHandle", { SamHandle = H1 })
      same_out("samr", "SamrCloseHandle", { SamHandle = ZERO20, result = 0 })
      for _, name in ipairs { "RPCSRV", "", "Buïltin", nil } do
        same_in("samr", "SamrLookupDomainInSamServer", { ServerHandle = H1, Name = name })
      end
      same_out("samr", "SamrLookupDomainInSamServer", { DomainId = SID, result = 0 })
      same_out("samr", "SamrLookupDomainInSamServer", { DomainId = nil, result = 0xC00000DF })
      same_in("samr", "SamrOpenDomain", { ServerHandle = H1, DesiredAccess = 0x02000000, DomainId = SID })
      same_in("samr", "SamrOpenDomain", { ServerHandle = H1, DesiredAccess = 0x02000000, DomainId = "S-1-5-32" })
      same_out("samr", "SamrOpenDomain", { DomainHandle = H2, result = 0 })
      same_in("samr", "SamrOpenUser", { DomainHandle = H2, DesiredAccess = 0x02000000, UserId = 1000 })
      same_out("samr", "SamrOpenUser", { UserHandle = H1, result = 0 })
      same_in("samr", "SamrRidToSid", { ObjectHandle = H2, Rid = 500 })
      same_out("samr", "SamrRidToSid", { Sid = SID .. "-500", result = 0 })
      same_out("samr", "SamrRidToSid", { Sid = nil, result = 0xC0000008 })
    end)

    it("the enumerations: domains, groups, users, aliases (entries, empty, NULL buffer)", function()
      local bufs = {
        { EntriesRead = 2, Buffer = { { RelativeId = 0, Name = "RPCSRV" }, { RelativeId = 1, Name = "Builtin" } } },
        { EntriesRead = 1, Buffer = { { RelativeId = 1000, Name = nil } } },
        { EntriesRead = 0, Buffer = {} },
        { EntriesRead = 0, Buffer = nil },
      }
      for _, f in ipairs { "SamrEnumerateDomainsInSamServer", "SamrEnumerateGroupsInDomain",
                           "SamrEnumerateAliasesInDomain", "SamrEnumerateUsersInDomain" } do
        local h = f == "SamrEnumerateDomainsInSamServer" and "ServerHandle" or "DomainHandle"
        local req = { [h] = H1, EnumerationContext = 0, PreferedMaximumLength = 0xffffffff }
        if f == "SamrEnumerateUsersInDomain" then req.UserAccountControl = 0x10 end
        same_in("samr", f, req)
        req.EnumerationContext = 77
        same_in("samr", f, req)
        for _, b in ipairs(bufs) do
          same_out("samr", f, { EnumerationContext = 5, Buffer = b, CountReturned = b.EntriesRead, result = 0x105 })
        end
        same_out("samr", f, { EnumerationContext = 0, Buffer = nil, CountReturned = 0, result = 0xC0000022 })
      end
    end)

    it("SamrLookupNamesInDomain / SamrLookupIdsInDomain: size_is(1000) length_is(Count)", function()
      same_in("samr", "SamrLookupNamesInDomain", { DomainHandle = H2, Count = 2, Names = { "alice", "no-such-user" } })
      same_in("samr", "SamrLookupNamesInDomain", { DomainHandle = H2, Count = 1, Names = { "" } })
      same_in("samr", "SamrLookupNamesInDomain", { DomainHandle = H2, Count = 0, Names = {} })
      same_out("samr", "SamrLookupNamesInDomain", { RelativeIds = { Count = 2, Element = { 1000, 0 } },
        Use = { Count = 2, Element = { 1, 8 } }, result = 0x107 })
      same_out("samr", "SamrLookupNamesInDomain", { RelativeIds = { Count = 0, Element = nil },
        Use = { Count = 0, Element = nil }, result = 0xC0000073 })
      same_in("samr", "SamrLookupIdsInDomain", { DomainHandle = H2, Count = 3, RelativeIds = { 500, 501, 1000 } })
      same_in("samr", "SamrLookupIdsInDomain", { DomainHandle = H2, Count = 0, RelativeIds = {} })
      same_out("samr", "SamrLookupIdsInDomain", { Names = { Count = 2, Element = { "alice", "" } },
        Use = { Count = 2, Element = { 1, 8 } }, result = 0x107 })
      same_out("samr", "SamrLookupIdsInDomain", { Names = { Count = 0, Element = {} },
        Use = { Count = 0, Element = {} }, result = 0 })
    end)

    it("SamrQueryInformationDomain(2): every level", function()
      for _, f in ipairs { "SamrQueryInformationDomain", "SamrQueryInformationDomain2" } do
        for _, level in ipairs { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13 } do
          local req = { DomainHandle = H2, DomainInformationClass = level }
          same_in("samr", f, req)
          same_out("samr", f, { Buffer = domain_level(level), result = 0 }, req)
          same_out("samr", f, { Buffer = nil, result = 0xC0000003 }, req)
        end
        same_in("samr", f, { DomainHandle = H2, DomainInformationClass = "DomainLockoutInformation" })
      end
    end)

    it("SamrQueryInformationUser(2): every level, and SamrGetGroupsForUser", function()
      for _, f in ipairs { "SamrQueryInformationUser", "SamrQueryInformationUser2" } do
        for _, level in ipairs { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20, 21 } do
          local req = { UserHandle = H1, UserInformationClass = level }
          same_in("samr", f, req)
          same_out("samr", f, { Buffer = user_level(level), result = 0 }, req)
        end
        same_in("samr", f, { UserHandle = H1, UserInformationClass = "UserAllInformation" })
      end
      same_in("samr", "SamrGetGroupsForUser", { UserHandle = H1 })
      same_out("samr", "SamrGetGroupsForUser", { Groups = { MembershipCount = 2,
        Groups = { { RelativeId = 513, Attributes = 7 }, { RelativeId = 1100, Attributes = 7 } } }, result = 0 })
      same_out("samr", "SamrGetGroupsForUser", { Groups = { MembershipCount = 0, Groups = nil }, result = 0 })
      same_out("samr", "SamrGetGroupsForUser", { Groups = nil, result = 0xC0000022 })
    end)
  end)

  -- epm -----------------------------------------------------------------
  describe("epm", function()
    local F = require "fixtures.iface_fixtures"
    local TOWER = unhex(F.epm_tower_srvsvc_tcp_0.hex)
    local tw = { tower_length = #TOWER, tower_octet_string = TOWER }
    local entries = {
      { object = GUID1, tower = tw, annotation = "srvsvc" },
      { object = "00000000-0000-0000-0000-000000000000", tower = nil, annotation = "" },
    }

    it("ept_insert / ept_delete / ept_mgmt_delete / ept_inq_object / ept_lookup_handle_free", function()
      same_in("epm", "ept_insert", { num_ents = 2, entries = entries, replace = 1 })
      same_in("epm", "ept_insert", { num_ents = 0, entries = {}, replace = 0 })
      same_out("epm", "ept_insert", { status = 0 })
      same_in("epm", "ept_delete", { num_ents = 1, entries = { entries[1] } })
      same_out("epm", "ept_delete", { status = 0x16c9a0d7 })
      same_in("epm", "ept_mgmt_delete", { object_speced = 1, object = GUID2, tower = tw })
      same_in("epm", "ept_mgmt_delete", { object_speced = 0, object = nil, tower = nil })
      same_out("epm", "ept_mgmt_delete", { status = 0x16c9a0d8 })
      same_out("epm", "ept_inq_object", { ept_object = GUID2, status = 0 })
      same_in("epm", "ept_lookup_handle_free", { entry_handle = H1 })
      same_out("epm", "ept_lookup_handle_free", { entry_handle = ZERO20, status = 0 })
    end)

    it("ept_lookup: NULL and non-NULL full pointers, entries with and without towers", function()
      same_in("epm", "ept_lookup", { inquiry_type = 0, object = nil, Ifid = nil, vers_option = 1,
        entry_handle = ZERO20, max_ents = 500 })
      same_in("epm", "ept_lookup", { inquiry_type = 3, object = GUID1,
        Ifid = { uuid = GUID2, vers_major = 1, vers_minor = 0 }, vers_option = 3, entry_handle = H1, max_ents = 1 })
      same_out("epm", "ept_lookup", { entry_handle = H1, num_ents = 2, entries = entries, status = 0 },
               { max_ents = 10 })
      same_out("epm", "ept_lookup", { entry_handle = ZERO20, num_ents = 0, entries = {}, status = 0x16c9a0d6 },
               { max_ents = 500 })
    end)

    it("ept_map: the request", function()
      same_in("epm", "ept_map", { obj = nil, map_tower = tw, entry_handle = ZERO20, max_towers = 4 })
      same_in("epm", "ept_map", { obj = GUID1, map_tower = nil, entry_handle = H2, max_towers = 0 })
    end)

    it_known("ept_map_out", "ept_map: the reply (ITowers without a referent id)", function()
      same_out("epm", "ept_map", { entry_handle = ZERO20, num_towers = 2, ITowers = { tw, tw }, status = 0 },
               { max_towers = 4 })
      same_out("epm", "ept_map", { entry_handle = ZERO20, num_towers = 0, ITowers = {}, status = 0x16c9a0d6 },
               { max_towers = 1 })
    end)
  end)

  -- mgmt ----------------------------------------------------------------
  describe("mgmt", function()
    it("all five operations", function()
      same_in("mgmt", "rpc__mgmt_inq_if_ids", {})
      same_out("mgmt", "rpc__mgmt_inq_if_ids", { if_id_vector = { count = 3, if_id = {
        { uuid = GUID1, vers_major = 3, vers_minor = 0 }, { uuid = GUID2, vers_major = 1, vers_minor = 0 },
        { uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa", vers_major = 3, vers_minor = 0 } } }, status = 0 })
      same_out("mgmt", "rpc__mgmt_inq_if_ids", { if_id_vector = nil, status = 0x16c9a0b3 })
      same_out("mgmt", "rpc__mgmt_inq_if_ids", { if_id_vector = { count = 0, if_id = {} }, status = 0 })
      same_in("mgmt", "rpc__mgmt_inq_stats", { count = 4 })
      same_out("mgmt", "rpc__mgmt_inq_stats", { count = 4, statistics = { 1, 2, 3, 0xffffffff }, status = 0 })
      same_out("mgmt", "rpc__mgmt_inq_stats", { count = 0, statistics = {}, status = 0 })
      same_in("mgmt", "rpc__mgmt_is_server_listening", {})
      same_out("mgmt", "rpc__mgmt_is_server_listening", { status = 0, result = 1 })
      same_in("mgmt", "rpc__mgmt_stop_server_listening", {})
      same_out("mgmt", "rpc__mgmt_stop_server_listening", { status = 5 })
      same_in("mgmt", "rpc__mgmt_inq_princ_name", { authn_proto = 10, princ_name_size = 1024 })
      same_out("mgmt", "rpc__mgmt_inq_princ_name", { princ_name = "host/rpcsrv@EXAMPLE", status = 0 },
               { princ_name_size = 1024 })
      same_out("mgmt", "rpc__mgmt_inq_princ_name", { princ_name = "", status = 0x16c9a0d6 },
               { princ_name_size = 1 })
    end)
  end)

  -- rpcecho -------------------------------------------------------------
  describe("rpcecho", function()
    it("every function, every union arm, enums, the conformant struct, the pointer chain", function()
      same_in("rpcecho", "AddOne", { in_data = 0xffffffff })
      same_out("rpcecho", "AddOne", { out_data = 42 })
      same_in("rpcecho", "EchoData", { len = 5, in_data = "\0\1\2\3\255" })
      same_in("rpcecho", "EchoData", { len = 0, in_data = "" })
      same_out("rpcecho", "EchoData", { out_data = "abc" }, { len = 3 })
      same_in("rpcecho", "SinkData", { len = 3, data = "xyz" })
      same_in("rpcecho", "SourceData", { len = 4 })
      same_out("rpcecho", "SourceData", { data = "\0\1\2\3" }, { len = 4 })
      same_in("rpcecho", "TestCall", { s1 = "héllo wörld ☃" })
      same_in("rpcecho", "TestCall", { s1 = "" })
      same_out("rpcecho", "TestCall", { s2 = "héllo" })
      same_out("rpcecho", "TestCall", { s2 = nil })
      local infos = {
        { info1 = { v = 1 } }, { info2 = { v = 0xfffe } }, { info3 = { v = 0xfffffffe } },
        { info4 = { v = math.mininteger + 5 } }, { info5 = { v1 = 5, v2 = 0x0102030405060708 } },
        { info6 = { v1 = 6, info1 = { v = 7 } } }, { info7 = { v1 = 8, info4 = { v = -1 } } },
      }
      for level, v in ipairs(infos) do
        same_in("rpcecho", "TestCall2", { level = level })
        same_out("rpcecho", "TestCall2", { info = v, result = 0 }, { level = level })
      end
      same_in("rpcecho", "TestSleep", { seconds = 2 })
      same_out("rpcecho", "TestSleep", { result = 2 })
      local e1 = { foo1 = 1, foo2 = { e1 = 2, e2 = 1 }, foo3 = { e1 = 2 } }
      local e2 = { foo1 = 2, foo2 = { e1 = "ECHO_ENUM1", e2 = "ECHO_ENUM2_32" }, foo3 = { e2 = { e1 = 1, e2 = 2 } } }
      same_in("rpcecho", "TestEnum", e1)
      same_in("rpcecho", "TestEnum", e2)
      same_out("rpcecho", "TestEnum", { foo1 = 1, foo2 = { e1 = 1, e2 = 2 }, foo3 = { e1 = 1 } })
      same_out("rpcecho", "TestEnum", { foo1 = 2, foo2 = { e1 = 1, e2 = 2 }, foo3 = { e2 = { e1 = 2, e2 = 1 } } })
      same_in("rpcecho", "TestSurrounding", { data = { x = 3, surrounding = { 1, 2, 0xffff } } })
      same_in("rpcecho", "TestSurrounding", { data = { x = 0, surrounding = {} } })
      same_out("rpcecho", "TestSurrounding", { data = { x = 6, surrounding = { 1, 2, 3, 0, 0, 0 } } })
      same_in("rpcecho", "TestDoublePointer", { data = 12 })
      same_in("rpcecho", "TestDoublePointer", { data = nil })
      same_out("rpcecho", "TestDoublePointer", { result = 12 })
    end)
  end)
end)

--------------------------------------------------------------------------
-- Samba's own bytes: every fixture stub decodes to the same values
describe("IDL interfaces: Samba-marshalled stubs decode alike (b)", function()
  local F = require "fixtures.iface_fixtures"
  local L = require "fixtures.iface_live"
  local SHORT = { inq_if_ids = 1, inq_stats = 1, is_server_listening = 1, stop_server_listening = 1,
                  inq_princ_name = 1 }
  -- key -> iface, function, direction, drep (nil when the fixture is not a call stub)
  local function parse(key)
    local k = key:gsub("^live_", "")
    local iface, rest = k:match("^(%a+)_(.*)$")
    if not iface or not loaded[iface] and not pcall(pair, iface) then return nil end
    local l = pair(iface)
    local best
    for fname in pairs(l.functions) do
      if type(fname) == "string" and (rest == fname or rest:sub(1, #fname + 1) == fname .. "_")
         and (not best or #fname > #best) then best = fname end
    end
    if not best then return nil end
    local tail = rest:sub(#best + 1)
    local dir = tail:match("_req") and "in" or tail:match("_rep") and "out"
    if not dir then return nil end
    if SHORT[best] then best = "rpc__mgmt_" .. best end
    return iface, best, dir, tail:match("_be$") and 0x00 or 0x10
  end
  local keys = {}
  for k in pairs(F) do keys[#keys + 1] = { k, F[k] } end
  for k in pairs(L) do keys[#keys + 1] = { k, L[k] } end
  table.sort(keys, function(a, b) return a[1] < b[1] end)
  local n = 0
  for _, e in ipairs(keys) do
    local key, fx = e[1], e[2]
    local iface, fname, dir, drep = parse(key)
    if iface then
      n = n + 1
      local bug = (fname == "ept_map" and dir == "out") and "ept_map_out" or nil
      local run = function()
        same_decode(iface, fname, dir, unhex(fx.hex), drep)
      end
      if bug then it_known(bug, key, run) else it(key, run) end
    end
  end
  it("found the call fixtures of all the interfaces", function()
    assert.is_true(n >= 120, "only " .. n .. " fixtures")
  end)

  it("and the non-call fixtures (types) decode alike", function()
    local l, i = pair("srvsvc")
    local b = unhex(F.srvsvc_SERVER_INFO_101.hex)
    local T = "SERVER_INFO_101"
    assert.are.same(assert(ndr.decode(l.types[T], b)), assert(ndr.decode(i.types[T], b)))
    local el, ei = pair("epm")
    b = unhex(F.epm_twr_t_srvsvc_tcp.hex)
    -- twr_t comes from the imported nbase.idl: reached through a parameter
    local twr = ei.functions.ept_map.byname.map_tower.type.target
    assert.are.same(assert(ndr.decode(el.types.twr_t, b)), assert(ndr.decode(twr, b)))
  end)
end)

--------------------------------------------------------------------------
describe("IDL interfaces: the pitfalls of the Lua descriptions (d)", function()
  local F = require "fixtures.iface_fixtures"
  local function fx(n) return unhex(assert(F[n], n).hex) end

  it("srvsvc: ServerName is a unique pointer to a conformant varying wstring", function()
    local _, fi = fns("srvsvc", "NetrServerGetInfo")
    local null = ndr.encode_call(fi, "in", { Level = 100 })
    assert.are.equal("00000000" .. "64000000", hex(null))
    local s = ndr.encode_call(fi, "in", { ServerName = "ab", Level = 100 })
    -- referent id, max 3, offset 0, actual 3, "ab\0", pad, level
    assert.are.equal("00000200" .. "03000000" .. "00000000" .. "03000000" .. "610062000000" .. "0000" .. "64000000", hex(s))
  end)

  it("srvsvc: [out] LPSERVER_INFO / LPSHARE_INFO are top-level [ref]: no referent id before the union", function()
    local _, fi = fns("srvsvc", "NetrServerGetInfo")
    local b = ndr.encode_call(fi, "out", { InfoStruct = { ServerInfo100 = { sv100_platform_id = 500 } }, result = 0 })
    assert.are.equal("64000000", hex(b:sub(1, 4)))          -- the discriminant first
    local _, gi = fns("srvsvc", "NetrShareGetInfo")
    b = ndr.encode_call(gi, "out", { InfoStruct = { ShareInfo1005 = { shi1005_flags = 1 } }, result = 0 },
                        { request = { Level = 1005 } })
    assert.are.equal("ed030000", hex(b:sub(1, 4)))
  end)

  it("srvsvc: levels that are not described are refused on encode and decode, as by the Lua description", function()
    for _, which in ipairs { "lua", "idl" } do
      local fl, fi = fns("srvsvc", "NetrShareGetInfo")
      local f = which == "lua" and fl or fi
      assert.is_false(pcall(ndr.encode_call, f, "out", { InfoStruct = { ShareInfo503 = {} }, result = 0 },
                            { request = { Level = 503 } }))
      local v, e = ndr.decode_call(f, "out", unhex("f7010000" .. "00000000" .. "00000000"))
      assert.is_nil(v)
      assert.are.equal("ndr_switch", e.name)
    end
  end)

  it("wkssvc: 502 falls to the empty [default] arm in both; the result is a WERROR", function()
    local fl, fi = fns("wkssvc", "NetrWkstaGetInfo")
    assert.are.equal(ndr.WERROR, fi.returns)
    assert.are.equal(fl.returns, fi.returns)
    -- a 502 reply (discriminant, then data the default arm does not read): both refuse the leftover alike
    local bytes = unhex("f6010000" .. "00000200" .. "01000000" .. "00000000")
    local vl, el = ndr.decode_call(fl, "out", bytes)
    local vi, ei = ndr.decode_call(fi, "out", bytes)
    assert.are.same(vl, vi)
    assert.are.equal(el and el.name, ei and ei.name)
    -- just the discriminant and the status: the default arm, empty
    vi = assert(ndr.decode_call(fi, "out", unhex("f6010000" .. "7c000000")))
    assert.are.same({ WkstaInfo = {}, result = 124 }, vi)
  end)

  it("samr: handles are 20-byte strings; enums are 16 bits as parameters and discriminants", function()
    local _, fi = fns("samr", "SamrQueryInformationUser")
    local b = ndr.encode_call(fi, "in", { UserHandle = H1, UserInformationClass = 21 })
    assert.are.equal(22, #b)
    assert.are.equal(H1, b:sub(1, 20))
    local out = ndr.encode_call(fi, "out", { Buffer = { PrimaryGroup = { PrimaryGroupId = 513 } }, result = 0 },
                                { request = { UserInformationClass = 9 } })
    -- referent id of the unique pointer, then the 16-bit discriminant, pad, the arm
    assert.are.equal("00000200" .. "0900" .. "0000" .. "01020000" .. "00000000", hex(out))
  end)

  it("samr: OLD_LARGE_INTEGER is one integer (never = maxinteger), aligned 4; LARGE_INTEGER aligned 8", function()
    local _, i = pair("samr")
    local T = i.types.DOMAIN_PASSWORD_INFORMATION
    local v = { MinPasswordLength = 1, PasswordHistoryLength = 2, PasswordProperties = 3,
                MaxPasswordAge = NEVER, MinPasswordAge = math.mininteger }
    local b = ndr.encode(T, v)
    assert.are.equal(24, #b)
    assert.are.equal("ffffffffffffff7f", hex(b:sub(9, 16)))
    assert.are.same(v, assert(ndr.decode(T, b)))
    local lk = i.types.SAMPR_DOMAIN_LOCKOUT_INFORMATION
    assert.are.equal(18, #ndr.encode(lk, { LockoutDuration = 1, LockoutObservationWindow = 2, LockoutThreshold = 3 }))
    local r = same_decode("samr", "SamrQueryInformationDomain", "out", fx("samr_SamrQueryInformationDomain_L1_rep"))
    assert.is_number(r.Buffer.Password.MaxPasswordAge)
  end)

  it("samr: RPC_SHORT_BLOB's Buffer is integers; LogonHours a 21-byte string", function()
    local r = same_decode("samr", "SamrQueryInformationUser", "out", fx("samr_SamrQueryInformationUser_L21_rep"))
    assert.are.equal(21, #r.Buffer.All.LogonHours.LogonHours)
    assert.are.equal(168, r.Buffer.All.LogonHours.UnitsPerWeek)
    local _, i = pair("samr")
    local v = { Length = 4, MaximumLength = 8, Buffer = { 1, 2 } }
    assert.are.same(v, assert(ndr.decode(i.types.RPC_SHORT_BLOB, ndr.encode(i.types.RPC_SHORT_BLOB, v))))
  end)

  it("samr: a NULL LogonHours (UnitsPerWeek 0) encodes, and both decoders refuse it alike", function()
    local bytes = fx("samr_SamrQueryInformationUser_L4_rep_nullhours")
    local fl, fi = fns("samr", "SamrQueryInformationUser")
    local vl, el = ndr.decode_call(fl, "out", bytes)
    local vi, ei = ndr.decode_call(fi, "out", bytes)
    assert.are.same(vl, vi)
    assert.are.equal(el and el.name, ei and ei.name)
    local out = { Buffer = { LogonHours = { LogonHours = { UnitsPerWeek = 0, LogonHours = nil } } }, result = 0 }
    assert.are.equal(hex(ndr.encode_call(fl, "out", out, { request = { UserInformationClass = 4 } })),
                     hex(ndr.encode_call(fi, "out", out, { request = { UserInformationClass = 4 } })))
  end)

  it("samr: LookupNames/LookupIds put max_count 1000 on the wire; Count must be given", function()
    local _, fi = fns("samr", "SamrLookupIdsInDomain")
    local b = ndr.encode_call(fi, "in", { DomainHandle = H1, Count = 1, RelativeIds = { 1000 } })
    assert.are.equal("01000000" .. "e8030000" .. "00000000" .. "01000000" .. "e8030000", hex(b:sub(21)))
    assert.is_false(pcall(ndr.encode_call, fi, "in", { DomainHandle = H1, RelativeIds = { 1000 } }))
    -- [range(0, 1000)] Count: a request claiming 1001 is refused by both decoders alike
    local nl, ni = fns("samr", "SamrLookupNamesInDomain")
    local req = ndr.encode_call(nl, "in", { DomainHandle = H1, Count = 1, Names = { "a" } })
    assert.are.equal("01000000", hex(req:sub(21, 24)))
    local bad = req:sub(1, 20) .. unhex("e9030000") .. req:sub(25)
    local vl, el = ndr.decode_call(nl, "in", bad)
    local vi, ei = ndr.decode_call(ni, "in", bad)
    assert.is_nil(vl)
    assert.is_nil(vi)
    assert.are.equal("ndr_range", el.name)
    assert.are.equal(el.name, ei.name)
  end)

  it("samr: DOMAIN_SERVER_ROLE / ENABLE_STATE are 32 bits (levels 7 and 9 of Samba decode fully)", function()
    local r7 = same_decode("samr", "SamrQueryInformationDomain", "out", fx("samr_SamrQueryInformationDomain_L7_rep"))
    assert.is_number(r7.Buffer.Role.DomainServerRole)
    local r9 = same_decode("samr", "SamrQueryInformationDomain", "out", fx("samr_SamrQueryInformationDomain_L9_rep"))
    assert.is_number(r9.Buffer.State.DomainServerState)
    local _, i = pair("samr")
    assert.are.equal(4, #ndr.encode(i.types.DOMAIN_SERVER_ROLE_INFORMATION, { DomainServerRole = 3 }))
    assert.are.equal(4, #ndr.encode(i.types.DOMAIN_STATE_INFORMATION, { DomainServerState = 1 }))
  end)

  it("epm: the binding handle is no parameter; object/Ifid/obj/map_tower are full pointers", function()
    local _, fi = fns("epm", "ept_lookup")
    for _, p in ipairs(fi.params) do assert.is_true(p.name ~= "hEpMapper" and p.name ~= "h") end
    local b = ndr.encode_call(fi, "in", { inquiry_type = 0, vers_option = 1, entry_handle = ZERO20, max_ents = 1 })
    assert.are.equal("00000000" .. "00000000" .. "00000000" .. "01000000", hex(b:sub(1, 16)))
    b = ndr.encode_call(fi, "in", { inquiry_type = 0, object = GUID1, vers_option = 1, entry_handle = ZERO20, max_ents = 1 })
    assert.are.equal("01000000", hex(b:sub(5, 8)))          -- a full pointer's referent id: 1
  end)

  it("epm: twr_t is a conformant struct (max_count first); tower_length filled from the octets", function()
    local _, i = pair("epm")
    local twr = i.functions.ept_map.byname.map_tower.type.target      -- from the imported nbase.idl
    assert.are.equal("full", i.functions.ept_map.byname.map_tower.type.ptype)
    local b = ndr.encode(twr, { tower_octet_string = "abc" })
    assert.are.equal("03000000" .. "03000000" .. "616263", hex(b))
    assert.is_false(pcall(ndr.encode, twr, { tower_length = 4, tower_octet_string = "abc" }))
  end)

  it("epm: ept_lookup's entries: no referent id before the conformant varying array; status a key", function()
    local _, fi = fns("epm", "ept_lookup")
    local b = ndr.encode_call(fi, "out", { entry_handle = ZERO20, num_ents = 0, entries = {}, status = 0 },
                              { request = { max_ents = 7 } })
    assert.are.equal(hex(ZERO20) .. "00000000" .. "07000000" .. "00000000" .. "00000000" .. "00000000", hex(b))
    local r = assert(ndr.decode_call(fi, "out", b))
    assert.are.equal(0, r.status)
  end)

  it_known("ept_map_out", "epm: ept_map's ITowers: no referent id before the array ([out, ptr] is [ref])", function()
    local _, fi = fns("epm", "ept_map")
    local b = ndr.encode_call(fi, "out", { entry_handle = ZERO20, num_towers = 0, ITowers = {}, status = 0 },
                              { request = { max_towers = 4 } })
    assert.are.equal(hex(ZERO20) .. "00000000" .. "04000000" .. "00000000" .. "00000000" .. "00000000", hex(b))
  end)

  it("mgmt: if_id_vector is ref -> full: one referent id, then max_count, then the element ids", function()
    local _, fi = fns("mgmt", "rpc__mgmt_inq_if_ids")
    assert.are.equal(2, #fi.params)                            -- binding_handle is no parameter
    assert.are.equal("if_id_vector", fi.params[1].name)
    local b = ndr.encode_call(fi, "out", { if_id_vector = { count = 1, if_id = {
      { uuid = GUID1, vers_major = 3, vers_minor = 0 } } }, status = 0 })
    assert.are.equal("01000000" .. "01000000" .. "01000000" .. "02000000", hex(b:sub(1, 16)))
    same_decode("mgmt", "rpc__mgmt_inq_if_ids", "out", fx("mgmt_inq_if_ids_rep_3"))
    same_decode("mgmt", "rpc__mgmt_inq_if_ids", "out", fx("mgmt_inq_if_ids_rep_null"))
  end)

  it("mgmt: inq_stats is the C706 form (a 4-byte request); princ_name's max_count is princ_name_size", function()
    local _, fi = fns("mgmt", "rpc__mgmt_inq_stats")
    assert.are.equal(4, #ndr.encode_call(fi, "in", { count = 4 }))
    local _, pi = fns("mgmt", "rpc__mgmt_inq_princ_name")
    local b = ndr.encode_call(pi, "out", { princ_name = "ab", status = 0 }, { request = { princ_name_size = 9 } })
    assert.are.equal("09000000" .. "00000000" .. "03000000" .. "616200" .. "00" .. "00000000", hex(b))
  end)

  it("mgmt: the IDL has the C706 names only (the Lua file adds the short names by hand)", function()
    local l, i = pair("mgmt")
    assert.is_table(l.functions.inq_if_ids)
    assert.is_nil(i.functions.inq_if_ids)
    assert.is_table(i.functions.rpc__mgmt_inq_if_ids)
  end)

  it("rpcecho: union arms align to 8 after a 16-bit discriminant; enums 16 and 32 bits", function()
    local _, fi = fns("rpcecho", "TestCall2")
    local b = ndr.encode_call(fi, "out", { info = { info5 = { v1 = 1, v2 = 2 } }, result = 0 },
                              { request = { level = 5 } })
    assert.are.equal("0500" .. "000000000000" .. "01" .. "00000000000000" .. "0200000000000000" .. "00000000", hex(b))
    local _, ei = fns("rpcecho", "TestEnum")
    b = ndr.encode_call(ei, "in", { foo1 = 1, foo2 = { e1 = 2, e2 = 1 }, foo3 = { e1 = 2 } })
    assert.are.equal("0100" .. "0000" .. "0200" .. "0000" .. "01000000" .. "0100" .. "0200", hex(b))
  end)

  it("rpcecho: a conformant struct puts max_count first; ***data is ref -> unique -> unique", function()
    local _, si = fns("rpcecho", "TestSurrounding")
    local b = ndr.encode_call(si, "in", { data = { x = 2, surrounding = { 7, 8 } } })
    assert.are.equal("02000000" .. "02000000" .. "0700" .. "0800", hex(b))
    local _, di = fns("rpcecho", "TestDoublePointer")
    b = ndr.encode_call(di, "in", { data = 12 })
    assert.are.equal("00000200" .. "04000200" .. "0c00", hex(b))
  end)
end)

--------------------------------------------------------------------------
-- #interop (c): the same calls through a client of each description

local peers = require "helpers.peers"

-- Values that legitimately change between two calls on the shared peer
-- (other sessions log on, connect to shares, the domain's counters move):
-- stripped from the high-level comparison of two calls, never from the
-- comparison of one reply decoded by both descriptions.
local VOLATILE = {
  shi2_current_uses = true, shi502_current_uses = true, sv102_users = true,
  wki102_logged_on_users = true,
  DomainModifiedCount = true, ModifiedCountAtLastPromotion = true,
  UserCount = true, GroupCount = true, AliasCount = true,
  LastLogon = true, LastLogoff = true, LogonCount = true, BadPasswordCount = true,
}

-- strip values that legitimately change from one call to the next
local function strip(v, keys)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do
    if keys[k] or VOLATILE[k] then c[k] = "<varies>" else c[k] = strip(x, keys) end
  end
  return c
end

describe("#interop IDL-loaded interfaces against the Samba peer (c)", function()
  local env = peers.samba()
  if not env then
    if CI then error("Samba peer not available under CI") end
    pending("Samba peer not available")
    return
  end
  local dcerpc = require "dcerpc"

  local function connect(iface, port, opts)
    local o = { timeout = 20, connect_timeout = 10, auth = "ntlm", level = "integrity",
                user = env.SAMBA_DOMAIN .. "\\" .. env.SAMBA_USER, password = env.SAMBA_PASSWORD }
    for k, v in pairs(opts or {}) do o[k] = v end
    if o.auth == false then o.auth, o.level, o.user, o.password = nil, nil, nil, nil end
    local c, err = dcerpc.connect(("ncacn_ip_tcp:127.0.0.1[%s]"):format(port), iface, o)
    assert(c, tostring(err))
    return c
  end

  -- a pair of clients, one per description, on the same endpoint
  local function clients(name, port, opts)
    local l, i = pair(name)
    return connect(l, port, opts), connect(i, port, opts)
  end

  -- One call both ways:
  --  * the request stubs of both descriptions are the same bytes;
  --  * that stub sent once (raw, on the Lua client's connection): the reply
  --    decoded by both descriptions gives the same values;
  --  * the high-level call through each client gives the same results
  --    (fields in `vary` stripped) or the same error.
  local function both(cl, ci, fname, args, vary)
    local fl, fi = cl.iface.functions[fname], ci.iface.functions[fname]
    assert(fl and fi, fname)
    local eo = cl.encode_opts                   -- { drep = "be" } on a big-endian client
    local sl, si = ndr.encode_call(fl, "in", args, eo), ndr.encode_call(fi, "in", args, eo)
    assert.are.equal(hex(sl), hex(si), fname .. ": request stubs")
    local resp, drep = cl.conn:call(cl.context_id, fl.opnum, sl)
    local raw
    if resp then
      local vl, el = ndr.decode_call(fl, "out", resp, { drep = drep })
      local vi, ei = ndr.decode_call(fi, "out", resp, { drep = drep })
      assert.are.same(vl, vi)
      assert.are.equal(el and el.name, ei and ei.name)
      raw = vl
    end
    local rl, el, xl = cl:call(fname, args)
    local ri, ei, xi = ci:call(fname, args)
    vary = vary or {}
    assert.are.same(strip(rl, vary), strip(ri, vary))
    assert.are.equal(el and el.code, ei and ei.code)
    assert.are.same(strip(xl, vary), strip(xi, vary))
    return rl or xl, raw, el
  end

  for _, drep in ipairs { "le", "be" } do
    it("srvsvc (" .. drep .. "): NetrServerGetInfo 100/101/102, NetrShareEnum 0/1/2/501/502, NetrShareGetInfo", function()
      local cl, ci = clients("srvsvc", env.SAMBA_SRVSVC_PORT, { drep = drep })
      for _, level in ipairs { 100, 101, 102 } do
        local r = both(cl, ci, "NetrServerGetInfo", { ServerName = "\\\\127.0.0.1", Level = level })
        assert.is_table(r.InfoStruct["ServerInfo" .. level])
      end
      for _, level in ipairs { 0, 1, 2, 501, 502 } do
        local r = both(cl, ci, "NetrShareEnum", { ServerName = "\\\\127.0.0.1",
          InfoStruct = { Level = level, ShareInfo = { ["Level" .. level] = { EntriesRead = 0 } } },
          PreferedMaximumLength = 0xffffffff })
        assert.is_true(r.TotalEntries >= 1)
      end
      for _, level in ipairs { 0, 1, 2, 501, 502, 1005 } do
        both(cl, ci, "NetrShareGetInfo", { ServerName = "\\\\127.0.0.1", NetName = "IPC$", Level = level })
      end
      local _, _, err = both(cl, ci, "NetrShareGetInfo", { NetName = "no-such-share", Level = 1 })
      assert.is_table(err)
      cl:close(); ci:close()
    end)
  end

  it("wkssvc: NetrWkstaGetInfo 100/101/102/502/1013/1018/1046, NetrWkstaUserEnum 0/1", function()
    local cl, ci = clients("wkssvc", env.SAMBA_WKSSVC_PORT)
    for _, level in ipairs { 100, 101, 102, 502, 1013, 1018, 1046 } do
      both(cl, ci, "NetrWkstaGetInfo", { ServerName = "\\\\127.0.0.1", Level = level })
    end
    for _, level in ipairs { 0, 1 } do
      -- who is logged on changes with the other sessions on the peer: the
      -- whole UserInfo / TotalEntries stripped from the two-call comparison
      both(cl, ci, "NetrWkstaUserEnum", { ServerName = "\\\\127.0.0.1",
        UserInfo = { Level = level, WkstaUserInfo = { ["Level" .. level] = { EntriesRead = 0 } } },
        PreferredMaximumLength = 0xffffffff }, { UserInfo = true, TotalEntries = true })
    end
    cl:close(); ci:close()
  end)

  it("samr: connect, domains, users, groups, aliases, lookups, every query level, close", function()
    local cl, ci = clients("samr", env.SAMBA_SAMR_PORT, { level = "privacy" })
    local H = { ServerHandle = true, DomainHandle = true, UserHandle = true, SamHandle = true }
    -- a call that opens a handle, on each client: the results equal but for
    -- the handle (its uuid differs between connections); the two handles
    local function step(fname, args, key)
      local rl = assert(cl:call(fname, args.l))
      local ri = assert(ci:call(fname, args.i))
      assert.are.same(strip(rl, H), strip(ri, H))
      return rl[key], ri[key]
    end
    local c5 = { ServerName = "\\\\127.0.0.1", DesiredAccess = 0x02000000, InVersion = 1,
                 InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } } }
    local shl, shi = step("SamrConnect5", { l = c5, i = c5 }, "ServerHandle")
    local c2 = { ServerName = "\\\\127.0.0.1", DesiredAccess = 0x02000000 }
    local s2l, s2i = step("SamrConnect2", { l = c2, i = c2 }, "ServerHandle")
    -- a call on a handle: mk(true) the args with the Lua client's handle,
    -- mk(false) with the IDL client's; the results compared (handles stripped),
    -- then the same args encoded by both descriptions (equal bytes), sent once,
    -- and that one reply decoded by both
    local function pairwise(fname, mk)
      local al, ai = mk(true), mk(false)
      local rl, el, xl = cl:call(fname, al)
      local ri, ei, xi = ci:call(fname, ai)
      assert.are.same(strip(rl or xl, H), strip(ri or xi, H))
      assert.are.equal(el and el.code, ei and ei.code)
      -- the same request bytes for the same args; one reply decoded by both
      local fl, fi = cl.iface.functions[fname], ci.iface.functions[fname]
      assert.are.equal(hex(ndr.encode_call(fl, "in", al)), hex(ndr.encode_call(fi, "in", al)))
      local resp, drep = cl.conn:call(cl.context_id, fl.opnum, ndr.encode_call(fl, "in", al))
      if resp then
        assert.are.same(ndr.decode_call(fl, "out", resp, { drep = drep }),
                        ndr.decode_call(fi, "out", resp, { drep = drep }))
      end
      return rl or xl, ri or xi
    end
    local dl = pairwise("SamrEnumerateDomainsInSamServer", function(lua)
      return { ServerHandle = lua and shl or shi, EnumerationContext = 0, PreferedMaximumLength = 0xffffffff } end)
    assert.is_true(#dl.Buffer.Buffer >= 2)
    local sid = pairwise("SamrLookupDomainInSamServer", function(lua)
      return { ServerHandle = lua and shl or shi, Name = env.SAMBA_DOMAIN } end).DomainId
    pairwise("SamrLookupDomainInSamServer", function(lua)
      return { ServerHandle = lua and shl or shi, Name = "no-such-domain" } end)
    local od = { DesiredAccess = 0x02000000, DomainId = sid }
    local dhl, dhi = step("SamrOpenDomain", { l = copy(od, { ServerHandle = shl }), i = copy(od, { ServerHandle = shi }) },
                          "DomainHandle")
    local function D(lua) return lua and dhl or dhi end
    for _, f in ipairs { "SamrEnumerateGroupsInDomain", "SamrEnumerateAliasesInDomain" } do
      pairwise(f, function(lua) return { DomainHandle = D(lua), EnumerationContext = 0, PreferedMaximumLength = 0xffff } end)
    end
    local ul = pairwise("SamrEnumerateUsersInDomain", function(lua)
      return { DomainHandle = D(lua), EnumerationContext = 0, UserAccountControl = 0, PreferedMaximumLength = 0xffff } end)
    assert.is_true(#ul.Buffer.Buffer >= 1)
    for _, level in ipairs { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13 } do
      for _, f in ipairs { "SamrQueryInformationDomain", "SamrQueryInformationDomain2" } do
        -- the counters of levels 2, 8, 11, 13 may move between two calls: VOLATILE
        local a, b = pairwise(f, function(lua) return { DomainHandle = D(lua), DomainInformationClass = level } end)
        assert.are.equal(a == nil, b == nil)
      end
    end
    pairwise("SamrLookupNamesInDomain", function(lua)
      return { DomainHandle = D(lua), Count = 2, Names = { env.SAMBA_USER, "no-such-user" } } end)
    pairwise("SamrLookupIdsInDomain", function(lua)
      return { DomainHandle = D(lua), Count = 3, RelativeIds = { 500, 1000, 4242 } } end)
    local rid = pairwise("SamrRidToSid", function(lua) return { ObjectHandle = D(lua), Rid = 1000 } end)
    assert.are.equal(sid .. "-1000", rid.Sid)
    local uhl, uhi = step("SamrOpenUser", { l = { DomainHandle = dhl, DesiredAccess = 0x02000000, UserId = 1000 },
                                            i = { DomainHandle = dhi, DesiredAccess = 0x02000000, UserId = 1000 } },
                          "UserHandle")
    for _, level in ipairs { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21 } do
      for _, f in ipairs { "SamrQueryInformationUser", "SamrQueryInformationUser2" } do
        pairwise(f, function(lua) return { UserHandle = lua and uhl or uhi, UserInformationClass = level } end)
      end
    end
    pairwise("SamrGetGroupsForUser", function(lua) return { UserHandle = lua and uhl or uhi } end)
    for _, h in ipairs { { uhl, uhi }, { dhl, dhi }, { s2l, s2i }, { shl, shi } } do
      local a = assert(cl:SamrCloseHandle { SamHandle = h[1] })
      local b = assert(ci:SamrCloseHandle { SamHandle = h[2] })
      assert.are.same(a, b)
      assert.are.equal(ZERO20, b.SamHandle)
    end
    cl:close(); ci:close()
  end)

  it("epm: ept_lookup (walked to the end) and ept_inq_object", function()
    local cl, ci = clients("epm", 135, { auth = false })
    local hl, hi = ZERO20, ZERO20
    local n = 0
    repeat
      local rl = assert(cl:ept_lookup { inquiry_type = 0, vers_option = 1, entry_handle = hl, max_ents = 3 })
      local ri = assert(ci:ept_lookup { inquiry_type = 0, vers_option = 1, entry_handle = hi, max_ents = 3 })
      -- the entry handle differs between the two connections: stripped
      assert.are.same(strip(rl, { entry_handle = true }), strip(ri, { entry_handle = true }))
      hl, hi = rl.entry_handle, ri.entry_handle
      n = n + rl.num_ents
    until rl.status ~= 0 or hl == ZERO20 or n > 500
    assert.is_true(n > 3)
    -- one raw reply decoded by both
    both(cl, ci, "ept_lookup", { inquiry_type = 1, vers_option = 1, entry_handle = ZERO20, max_ents = 2,
      Ifid = { uuid = "4b324fc8-1670-01d3-1278-5a47bf6ee188", vers_major = 3, vers_minor = 0 } },
      { entry_handle = true })
    both(cl, ci, "ept_inq_object", {})
    cl:close(); ci:close()
  end)

  it_known("ept_map_out", "epm: ept_map for srvsvc over TCP", function()
    local F = require "fixtures.iface_fixtures"
    local TOWER = unhex(F.epm_tower_srvsvc_tcp_0.hex)
    local cl, ci = clients("epm", 135, { auth = false })
    both(cl, ci, "ept_map", { map_tower = { tower_length = #TOWER, tower_octet_string = TOWER },
                              entry_handle = ZERO20, max_towers = 4 }, { entry_handle = true })
    cl:close(); ci:close()
  end)

  it("mgmt: inq_if_ids, inq_stats, is_server_listening, inq_princ_name (on the srvsvc endpoint)", function()
    local cl, ci = clients("mgmt", env.SAMBA_SRVSVC_PORT)
    local r = both(cl, ci, "rpc__mgmt_inq_if_ids", {})
    assert.is_true(r.if_id_vector.count >= 1)
    -- Samba faults the C706 form of inq_stats, and inq_princ_name: the same errors from both
    local _, _, e1 = both(cl, ci, "rpc__mgmt_inq_stats", { count = 4 })
    assert.are.equal(0x6f7, e1.code)                       -- Samba wants two [in] uint32
    local l = both(cl, ci, "rpc__mgmt_is_server_listening", {})
    assert.are.equal(1, l.result)
    local _, _, e2 = both(cl, ci, "rpc__mgmt_inq_princ_name", { authn_proto = 10, princ_name_size = 256 })
    assert.are.equal(0x1c010002, e2.code)                  -- nca_s_op_rng_error
    cl:close(); ci:close()
  end)
end)

describe("#interop IDL-loaded interfaces over named pipes (c)", function()
  local env = peers.samba()
  if not env then
    if CI then error("Samba peer not available under CI") end
    pending("Samba peer not available")
    return
  end
  local dcerpc = require "dcerpc"

  it("the pipe of the IDL's endpoint attribute is the one the Lua description is connected to", function()
    local calls = {
      srvsvc = { "NetrServerGetInfo", { ServerName = "\\\\127.0.0.1", Level = 101 } },
      wkssvc = { "NetrWkstaGetInfo", { ServerName = "\\\\127.0.0.1", Level = 100 } },
      samr = { "SamrConnect2", { ServerName = "\\\\127.0.0.1", DesiredAccess = 0x02000000 } },
    }
    for _, name in ipairs { "srvsvc", "wkssvc", "samr" } do
      local l, i = pair(name)
      assert.are.equal(name, i.pipe)
      local o = { timeout = 20, user = env.SAMBA_DOMAIN .. "\\" .. env.SAMBA_USER, password = env.SAMBA_PASSWORD }
      local cl = assert(dcerpc.connect("ncacn_np:127.0.0.1", l, o))
      local ci = assert(dcerpc.connect("ncacn_np:127.0.0.1", i, o))
      assert.are.equal(cl.binding, ci.binding)
      local f, args = calls[name][1], calls[name][2]
      local rl = assert(cl:call(f, args))
      local ri = assert(ci:call(f, args))
      assert.are.same(strip(rl, { ServerHandle = true }), strip(ri, { ServerHandle = true }))
      cl:close(); ci:close()
    end
  end)
end)

describe("#interop IDL-loaded rpcecho against the rpcecho peer (c)", function()
  local echo = peers.rpcecho()
  if not echo then
    if CI then error("rpcecho peer not available under CI") end
    pending("rpcecho peer not available")
    return
  end
  local dcerpc = require "dcerpc"

  it("every function, both descriptions, little- and big-endian", function()
    local l, i = pair("rpcecho")
    for _, drep in ipairs { "le", "be" } do
      local b = ("ncacn_ip_tcp:%s[%s]"):format(echo.RPCECHO_HOST, echo.RPCECHO_PORT)
      local cl = assert(dcerpc.connect(b, l, { drep = drep, timeout = 20 }))
      local ci = assert(dcerpc.connect(b, i, { drep = drep, timeout = 20 }))
      local function same(fname, args)
        local rl, el = cl:call(fname, args)
        local ri, ei = ci:call(fname, args)
        assert.are.same(rl, ri)
        assert.are.equal(el and el.code, ei and ei.code)
        -- one raw reply, decoded by both
        local fl, fi = l.functions[fname], i.functions[fname]
        local stub = ndr.encode_call(fi, "in", args, { drep = drep == "be" and "be" or nil })
        assert.are.equal(hex(ndr.encode_call(fl, "in", args, { drep = drep == "be" and "be" or nil })), hex(stub))
        local resp, rdrep = cl.conn:call(cl.context_id, fl.opnum, stub, { drep = drep == "be" and 0 or nil })
        if resp then
          assert.are.same(assert(ndr.decode_call(fl, "out", resp, { drep = rdrep })),
                          assert(ndr.decode_call(fi, "out", resp, { drep = rdrep })))
        end
        return ri
      end
      assert.are.equal(42, same("AddOne", { in_data = 41 }).out_data)
      assert.are.equal("\0\1\2abc", same("EchoData", { len = 6, in_data = "\0\1\2abc" }).out_data)
      same("SinkData", { len = 3, data = "xyz" })
      assert.are.equal(1000, #same("SourceData", { len = 1000 }).data)
      assert.are.equal("héllo ☃", same("TestCall", { s1 = "héllo ☃" }).s2)
      for level = 1, 7 do same("TestCall2", { level = level }) end
      same("TestSleep", { seconds = 0 })
      same("TestEnum", { foo1 = 1, foo2 = { e1 = 1, e2 = 2 }, foo3 = { e1 = 1 } })
      same("TestEnum", { foo1 = 2, foo2 = { e1 = 2, e2 = 1 }, foo3 = { e2 = { e1 = 1, e2 = 1 } } })
      local s = {}
      for k = 1, 20 do s[k] = k * 3 end
      assert.are.equal(40, same("TestSurrounding", { data = { x = 20, surrounding = s } }).data.x)
      assert.are.equal(12, same("TestDoublePointer", { data = 12 }).result)
      cl:close(); ci:close()
    end
  end)
end)

--------------------------------------------------------------------------
-- Loader bugs and gaps found while writing the fixtures above: the expected
-- behaviour, on minimal snippets. Pending (with the reason) until fixed;
-- IDL_INTEROP_STRICT=1 runs them.
describe("IDL loader: findings on minimal snippets", function()
  local HDR = "[uuid(11111111-2222-3333-4444-555555555555), version(1.0), pointer_default(unique)]\ninterface t {\n"
  local function parse(body, pre) return idl.parse((pre or "") .. HDR .. body .. "\n}") end

  it_known("out_unique", "[out, unique] unsigned long *x has no referent id", function()
    local i = assert(parse("void f([out, unique] unsigned long *x, [out, ptr, size_is(2)] unsigned short *y);"))
    assert.are.equal("01000000" .. "02000000" .. "0100" .. "0200",
                     hex(ndr.encode_call(i.functions.f, "out", { x = 1, y = { 1, 2 } })))
  end)

  it_known("cpp_quote", "cpp_quote, midl_pragma and a stray ';' inside the interface keep what follows", function()
    for _, s in ipairs { 'cpp_quote("#include <windows.h>")', "midl_pragma warning(disable: 2111)", ";" } do
      local i = assert(parse(s .. "\nvoid f([in] unsigned long a);\nvoid g(void);"))
      assert.is_table(i.functions.f, s)
      assert.is_table(i.functions.g, s)
    end
  end)
  it_known("cpp_quote", "cpp_quote or ';' at file level before the interface", function()
    for _, s in ipairs { 'cpp_quote("// generated")\n', "typedef unsigned long X;;\n" } do
      local i, err = parse("void f([in] unsigned long a);", s)
      assert(i, tostring(err))
      assert.is_table(i.functions.f)
    end
  end)

  it_known("range_typedef", "[range] on a typedef and on a pointer parameter is checked like on a field", function()
    local i = assert(parse("typedef [range(1, 10)] unsigned long SMALLNUM;\n" ..
                           "void f([in] SMALLNUM n, [in, range(1, 10)] unsigned long *p);"))
    local f = i.functions.f
    local b = unhex("32000000" .. "05000000")                  -- n = 50
    local v, e = ndr.decode_call(f, "in", b)
    assert.is_nil(v)
    assert.are.equal("ndr_range", e.name)
    v, e = ndr.decode_call(f, "in", unhex("05000000" .. "32000000"))   -- *p = 50
    assert.is_nil(v)
    assert.are.equal("ndr_range", e.name)
  end)

  it_known("import_types", "types from an imported file are exported in iface.types", function()
    local _, i = pair("epm")
    assert.is_table(i.types.twr_t)
    assert.is_table(i.types.rpc_if_id_t)
  end)

  it_known("shadow", "[MS-SAMR]'s own OLD_LARGE_INTEGER typedef keeps the predefined one-integer form", function()
    local i = assert(parse("typedef struct _OLD_LARGE_INTEGER { unsigned long LowPart; long HighPart; } OLD_LARGE_INTEGER;\n" ..
                           "void f([in] OLD_LARGE_INTEGER t);"))
    local b = ndr.encode_call(i.functions.f, "in", { t = 5 })
    assert.are.equal("0500000000000000", hex(b))
  end)

  it_known("const_string", "string and boolean constants are accepted", function()
    for _, s in ipairs { 'const char *NAME = "abc";', 'const wchar_t *WNAME = L"abc";',
                         "const boolean B = TRUE;" } do
      local i, err = parse(s .. "\nvoid f(void);")
      assert(i, s .. ": " .. tostring(err))
    end
  end)

  it("documented limits, refused clearly: member access in size_is, pipes", function()
    local i, err = parse("typedef struct { unsigned long n; } H;\nvoid f([in] H *h, [in, size_is(h->n)] unsigned char *d);")
    assert.is_nil(i)
    assert.truthy(tostring(err):match("^%(string%):%d+:%d+: .*member access"))
    i, err = parse("typedef pipe unsigned char BYTE_PIPE;\nvoid f([in] BYTE_PIPE p);")
    assert.is_nil(i)
    assert.truthy(tostring(err):match("pipes are not supported"))
  end)
end)

--------------------------------------------------------------------------
-- our own servers: examples/echo-server.lua (the Lua description) called
-- through the IDL-loaded interface, and a server prototyped from
-- rpcecho.idl alone (examples/echo-server.lua --idl examples/rpcecho.idl) called through
-- the Lua description: the same answers both ways
describe("IDL-loaded rpcecho with our own servers (c)", function()
  local examples = require "helpers.examples"
  local dcerpc = require "dcerpc"

  local CALLS = {
    { "AddOne", { in_data = 0xffffffff } },
    { "EchoData", { len = 4, in_data = "\0\1\2\3" } },
    { "SinkData", { len = 2, data = "ab" } },
    { "SourceData", { len = 300 } },
    { "TestCall", { s1 = "héllo ☃" } },
    { "TestCall2", { level = 1 } }, { "TestCall2", { level = 5 } }, { "TestCall2", { level = 7 } },
    { "TestCall2", { level = 9 } },
    { "TestSleep", { seconds = 0 } },
    { "TestEnum", { foo1 = 2, foo2 = { e1 = 1, e2 = 2 }, foo3 = { e2 = { e1 = 1, e2 = 1 } } } },
    { "TestSurrounding", { data = { x = 3, surrounding = { 1, 2, 3 } } } },
    { "TestDoublePointer", { data = 77 } }, { "TestDoublePointer", {} },
  }

  local function compare(port)
    local l, i = pair("rpcecho")
    local b = ("ncacn_ip_tcp:127.0.0.1[%d]"):format(port)
    for _, drep in ipairs { "le", "be" } do
      local cl = assert(dcerpc.connect(b, l, { drep = drep, timeout = 20 }))
      local ci = assert(dcerpc.connect(b, i, { drep = drep, timeout = 20 }))
      for _, c in ipairs(CALLS) do
        local rl, el, xl = cl:call(c[1], c[2])
        local ri, ei, xi = ci:call(c[1], c[2])
        assert.are.same(rl, ri)
        assert.are.same(xl, xi)
        assert.are.equal(el and el.code, ei and ei.code)
        if c[1] == "AddOne" then assert.are.equal(0, ri.out_data) end
        if c[1] == "TestCall" then assert.are.equal("héllo ☃", ri.s2) end
        if c[1] == "SourceData" then assert.are.equal(300, #ri.data) end
        if c[2].level == 9 then assert.is_table(ei) end       -- no such arm: an error, the same from both
      end
      cl:close(); ci:close()
    end
  end

  it("examples/echo-server.lua (the Lua description) answers both descriptions alike", function()
    local s = assert(examples.start("echo-server.lua", {}, "ncacn_ip_tcp:127.0.0.1[0]"))
    local ok, e = pcall(compare, s.port)
    s.close()
    assert(ok, e)
  end)

  it("a server prototyped from rpcecho.idl answers both descriptions alike", function()
    local s = assert(examples.start("echo-server.lua", { "--idl", "examples/rpcecho.idl" }, "ncacn_ip_tcp:127.0.0.1[0]"))
    local ok, e = pcall(compare, s.port)
    s.close()
    assert(ok, e)
  end)
end)
