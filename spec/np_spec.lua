-- np_spec: DCE/RPC over named pipes (ncacn_np) on SMB 2 and 3, against the
-- Samba peer's smbd (spec/helpers/peers.lua): every dialect, port 139 (the
-- NetBIOS session service), anonymous and authenticated sessions, signing
-- and encryption as the server or the caller requires them (each cipher
-- Samba can be told to use), RPC-level sealing inside the pipe, several
-- pipes on one session from concurrent coroutines, and the errors a user
-- meets (wrong password, no such pipe). Answers are compared with what
-- Samba's rpcclient prints over ncacn_np. Under CI=true nothing is skipped.

local peers = require "helpers.peers"
local dcerpc = require "dcerpc"

local CI = os.getenv("CI") == "true"

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local env = peers.samba()
if not env then
  describe("ncacn_np against Samba", function()
    pending("Samba peer not available on this machine")
  end)
  return
end

local HOST = env.SAMBA_HOST
local USER, PASS = env.SAMBA_USER, env.SAMBA_PASSWORD
local EXTRA = env.SAMBA_EXTRA_CONF
local PEER = peers.root .. "/test/peers/samba-member.sh"

-- Write smbd's extra configuration and make it reread it (new connections).
local function samba_conf(text)
  local f = assert(io.open(EXTRA, "w"))
  f:write(text or "")
  f:close()
  assert(os.execute(string.format("env -u LD_PRELOAD DCERPC_PEER_DIR=%q bash %q reload", peers.dir, PEER)))
end

local function rpcclient(binding, cmds, anonymous)
  local cmd = string.format("env -u LD_PRELOAD timeout 60 rpcclient -s %s %s %s -c %s 2>&1",
    sh_quote(env.SAMBA_CLIENT_CONF), anonymous and "-U%" or ("-U " .. sh_quote(USER .. "%" .. PASS)),
    sh_quote(binding), sh_quote(cmds))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "rpcclient failed: " .. out)
  return out
end

local rc_shares
local function rpcclient_shares()
  if not rc_shares then
    local out = rpcclient("ncacn_np:" .. HOST, "netshareenumall")
    rc_shares = {}
    for name in out:gmatch("netname: ([^\n]+)") do rc_shares[#rc_shares + 1] = name end
    table.sort(rc_shares)
  end
  return rc_shares
end

local function connect(iface, opts, binding)
  opts = opts or {}
  if opts.user == nil then opts.user, opts.password = USER, opts.password or PASS end
  if opts.user == false then opts.user = nil end
  opts.timeout = opts.timeout or 20
  return dcerpc.connect(binding or ("ncacn_np:" .. HOST), iface, opts)
end

describe("ncacn_np against Samba's smbd", function()
  setup(function() samba_conf("") end)

  it("lists the shares as rpcclient does over ncacn_np, on every dialect", function()
    local want = rpcclient_shares()
    assert.is_true(#want > 40)
    for _, d in ipairs { "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1" } do
      local c = assert(connect("srvsvc", { smb_max_dialect = d }))
      assert.same(want, peers.share_names(c))
      local smb = c.conn:info().smb
      assert.equal(d, smb.dialect)
      assert.equal("ncacn_np", c.conn:info().transport)
      assert.equal(c.binding, "ncacn_np:" .. HOST .. "[\\pipe\\srvsvc]")
      assert.is_false(smb.anonymous)
      assert.equal(16, #smb.session_key)
      c.conn:close()
    end
  end)

  it("fragments as Windows does over a pipe (4280) and reassembles Samba's multi-fragment replies", function()
    local c = assert(connect("srvsvc"))
    local info = c.conn:info()
    assert.equal(4280, info.max_xmit)
    local r = assert(c:NetrShareEnum {
      InfoStruct = { Level = 2, ShareInfo = { Level2 = { EntriesRead = 0 } } }, PreferedMaximumLength = 0xffffffff })
    assert.is_true(#r.InfoStruct.ShareInfo.Level2.Buffer > 40)
    assert.is_true(c.conn:info().bytes_received > 3 * 4280)
  end)

  it("works anonymously where the server allows it", function()
    local c = assert(connect("srvsvc", { user = false }))
    assert.same(rpcclient_shares(), peers.share_names(c))
    assert.is_true(c.conn:info().smb.anonymous)
  end)

  it("enumerates users over \\pipe\\samr as rpcclient enumdomusers does", function()
    local out = rpcclient("ncacn_np:" .. HOST, "enumdomusers")
    local want = {}
    for n, rid in out:gmatch("user:%[([^%]]*)%] rid:%[0x(%x+)%]") do want[#want + 1] = n .. "=" .. tonumber(rid, 16) end
    assert.is_true(#want >= 1)
    local p = assert(io.popen(string.format("lua5.4 %q %q %q %q %q 2>&1", peers.root .. "/examples/users.lua",
      "ncacn_np:" .. HOST, USER, PASS, env.SAMBA_DOMAIN)))
    local got = {}
    for n, rid in p:read("a"):gmatch("user:%[([^%]]*)%] rid:%[0x(%x+)%]") do got[#got + 1] = n .. "=" .. tonumber(rid, 16) end
    p:close()
    table.sort(want); table.sort(got)
    assert.same(want, got)
  end)

  it("runs over the NetBIOS session service on port 139", function()
    local want = rpcclient_shares()
    -- an address: *SMBSERVER; a name given; a name Samba does not hold (it accepts any)
    for _, o in ipairs { { smb_port = 139 }, { smb_port = 139, nbss_name = "RPCSRV" },
                         { smb_port = 139, nbss_name = "SOMEONE-ELSE" } } do
      local c = assert(connect("srvsvc", o))
      assert.same(want, peers.share_names(c))
      assert.equal(139, tonumber(c.conn:info().peer:match(":(%d+)$")))
    end
  end)

  it("seals the RPC inside the pipe when the binding asks ([seal], as rpcclient)", function()
    for _, flag in ipairs { "seal", "sign" } do
      local c = assert(connect("srvsvc", nil, "ncacn_np:" .. HOST .. "[" .. flag .. "]"))
      local r = assert(c:NetrServerGetInfo { Level = 101 })
      assert.equal(env.SAMBA_DOMAIN, r.InfoStruct.ServerInfo101.sv101_name)
      assert.equal(flag == "seal" and "privacy" or "integrity", c.conn:info().auth_level)
    end
  end)

  it("carries several pipes on one session, used from concurrent coroutines", function()
    local base = assert(connect("srvsvc"))
    local session = base.conn:info().smb.session_id
    local done, failures = 0, {}
    for i = 1, 6 do
      dcerpc.spawn(function()
        local iface = i % 2 == 0 and "wkssvc" or "srvsvc"
        local c, e = dcerpc.connect("ncacn_np:" .. HOST, iface, { smb = base, timeout = 20 })
        if not c then failures[#failures + 1] = tostring(e); return end
        assert.equal(session, c.conn:info().smb.session_id)
        for _ = 1, 15 do
          local r, ce
          if iface == "wkssvc" then r, ce = c:NetrWkstaGetInfo { Level = 100 }
          else r, ce = c:NetrServerGetInfo { Level = 101 } end
          if not r then failures[#failures + 1] = tostring(ce); return end
        end
        c.conn:close()
        done = done + 1
      end)
    end
    dcerpc.run()
    assert.same({}, failures)
    assert.equal(6, done)
    assert.equal(1, base.conn:info().smb.pipes)
  end)

  it("says what went wrong (wrong password, no such pipe) and maps a pipe through the endpoint mapper", function()
    local c, e = connect("srvsvc", { password = "wrong" })
    assert.is_nil(c)
    assert.equal(0xC000006D, e.code)
    assert.equal("no", e.executed)
    assert.matches("session setup", e.message)
    c, e = connect("srvsvc", nil, "ncacn_np:" .. HOST .. "[\\pipe\\nosuchpipe]")
    assert.is_nil(c)
    assert.equal(0xC0000034, e.code)
    assert.matches("nosuchpipe", e.message)
    -- no well-known pipe: the endpoint mapper over \pipe\epmapper answers
    c, e = connect("mgmt", nil, "ncacn_np:" .. HOST)
    assert.is_nil(c)
    assert.equal(0x16c9a0d6, e.code)             -- ept_s_not_registered
    local saved = dcerpc.well_known_pipes.srvsvc
    dcerpc.well_known_pipes.srvsvc = nil
    c, e = connect("srvsvc", nil, "ncacn_np:" .. HOST)
    dcerpc.well_known_pipes.srvsvc = saved
    assert(c, e)
    assert.equal("ncacn_np:" .. HOST .. "[\\pipe\\srvsvc]", c.binding)
    c, e = connect("srvsvc", { smb_port = 1, connect_timeout = 5 })
    assert.is_nil(c)
    assert.equal("no", e.executed)
  end)
end)

-- The same answers under each way a server (or the caller) protects the
-- session: signing required by the server, encryption required by the
-- server, each cipher chosen by the client, port 139, and RPC sealing
-- inside an encrypted pipe.
describe("ncacn_np under signing and encryption", function()
  local users_want
  local function users_of(binding, extra)
    local p = assert(io.popen(string.format("%s lua5.4 %q %q %q %q %q 2>&1", extra or "",
      peers.root .. "/examples/users.lua", binding, USER, PASS, env.SAMBA_DOMAIN)))
    local got = {}
    local out = p:read("a")
    p:close()
    for n, rid in out:gmatch("user:%[([^%]]*)%] rid:%[0x(%x+)%]") do got[#got + 1] = n .. "=" .. tonumber(rid, 16) end
    table.sort(got)
    return got, out
  end
  setup(function()
    samba_conf("")
    local out = rpcclient("ncacn_np:" .. HOST, "enumdomusers")
    users_want = {}
    for n, rid in out:gmatch("user:%[([^%]]*)%] rid:%[0x(%x+)%]") do users_want[#users_want + 1] = n .. "=" .. tonumber(rid, 16) end
    table.sort(users_want)
  end)
  teardown(function() samba_conf("") end)

  local function check(opts, expect)
    local c = assert(connect("srvsvc", opts))
    assert.same(rpcclient_shares(), peers.share_names(c))
    local smb = c.conn:info().smb
    for k, v in pairs(expect) do assert.equal(v, smb[k], k .. " with " .. (opts.smb_max_dialect or "3.1.1")) end
    c.conn:close()
  end

  it("signs every message when the server requires it (HMAC-SHA256, AES-CMAC, AES-GMAC)", function()
    samba_conf("server signing = mandatory\n")
    local algo = { ["2.0.2"] = "hmac-sha256", ["2.1"] = "hmac-sha256", ["3.0"] = "aes-cmac",
                   ["3.0.2"] = "aes-cmac", ["3.1.1"] = "aes-gmac" }
    for d, a in pairs(algo) do
      check({ smb_max_dialect = d }, { dialect = d, signing = true, signing_algorithm = a, encrypting = false })
    end
    local got, out = users_of("ncacn_np:" .. HOST)
    assert.same(users_want, got, out)
  end)

  it("signs when the caller requires it of a server that does not", function()
    samba_conf("")
    check({ smb_signing = true, smb_max_dialect = "3.0" }, { signing = true, signing_algorithm = "aes-cmac" })
    check({ smb_signing = true }, { signing = true, signing_algorithm = "aes-gmac" })
  end)

  it("encrypts when the server requires it: AES-128-CCM on 3.0 and 3.0.2, AES-128-GCM on 3.1.1", function()
    samba_conf("smb encrypt = required\n")
    check({ smb_max_dialect = "3.0" }, { encrypting = true, cipher = "aes-128-ccm" })
    check({ smb_max_dialect = "3.0.2" }, { encrypting = true, cipher = "aes-128-ccm" })
    check({}, { encrypting = true, cipher = "aes-128-gcm", dialect = "3.1.1" })
    local got, out = users_of("ncacn_np:" .. HOST)
    assert.same(users_want, got, out)
    -- over 139 too, and with the RPC sealed inside the encrypted pipe
    check({ smb_port = 139 }, { encrypting = true })
    local c = assert(connect("srvsvc", nil, "ncacn_np:" .. HOST .. "[seal]"))
    assert.equal("RPCSRV", assert(c:NetrServerGetInfo { Level = 101 }).InfoStruct.ServerInfo101.sv101_name)
    assert.equal("privacy", c.conn:info().auth_level)
    assert.is_true(c.conn:info().smb.encrypting)
    -- SMB 2 cannot encrypt: the server refuses the session
    local _, e = connect("srvsvc", { smb_max_dialect = "2.1" })
    assert.equal(0xC0000022, e.code)
  end)

  it("encrypts with each cipher the caller offers alone", function()
    samba_conf("")
    for _, ci in ipairs { "aes-128-ccm", "aes-128-gcm", "aes-256-ccm", "aes-256-gcm" } do
      check({ smb_encrypt = true, smb_ciphers = { ci } }, { encrypting = true, cipher = ci, dialect = "3.1.1" })
    end
    local _, e = connect("srvsvc", { smb_encrypt = true, smb_max_dialect = "2.1" })
    assert.matches("SMB 3", e.message)
  end)
end)


-- The admin interfaces that live on pipes (lsarpc, svcctl, winreg), their
-- answers equal to Samba's own tools over ncacn_np (rpcclient lsaquery /
-- lookupnames / lookupsids, net rpc service list / status, net rpc registry
-- enumerate), under each protection: the server requiring signing, the
-- server requiring encryption, port 139, and RPC sealing inside the pipe.
describe("lsarpc, svcctl and winreg over ncacn_np", function()
  local ref = {}
  local function net(args)
    local p = assert(io.popen(string.format("env -u LD_PRELOAD timeout 60 net -s %s %s -S %s -U %s 2>&1",
      sh_quote(env.SAMBA_CLIENT_CONF), args, HOST, sh_quote(USER .. "%" .. PASS))))
    local out = p:read("a")
    p:close()
    return out
  end
  setup(function()
    samba_conf("")
    local out = rpcclient("ncacn_np:" .. HOST, "lsaquery; lookupnames " .. USER .. "; lookupsids S-1-5-32-544")
    ref.domain = out:match("Domain Name: (%S+)")
    ref.user_sid = out:match(USER .. " (S%-[%d%-]+) %(User: 1%)")
    ref.admins = out:match("S%-1%-5%-32%-544 (%S+\\%S+) %(4%)")
    assert(ref.domain and ref.user_sid and ref.admins, out)
    ref.services = {}
    for name in net("rpc service list"):gmatch("\n?(%S+)%s+\"[^\n]*\"") do ref.services[#ref.services + 1] = name end
    table.sort(ref.services)
    assert.is_true(#ref.services >= 3)
    local st = net("rpc service status Spooler")
    ref.spooler_path = st:match("Executable Path%s*= ([^\n]+)")
    ref.spooler_display = st:match("Display Name%s*= ([^\n]+)")
    ref.keys = {}
    for k in net("rpc registry enumerate 'HKLM\\SOFTWARE\\Samba'"):gmatch("Keyname%s*= ([^\n]+)") do ref.keys[#ref.keys + 1] = k end
    table.sort(ref.keys)
    assert.is_true(#ref.keys >= 1)
  end)
  teardown(function() samba_conf("") end)

  local function lsa_check(opts, binding)
    local lsa = dcerpc.interface "lsarpc"
    local C, H = lsa.constants, lsa.helpers
    local c = assert(connect(lsa, opts, binding))
    local pol = assert(c:LsarOpenPolicy2 { SystemName = "\\\\" .. HOST, ObjectAttributes = H.object_attributes(true),
      DesiredAccess = C.POLICY_LOOKUP_NAMES | C.POLICY_VIEW_LOCAL_INFORMATION }).PolicyHandle
    -- (Samba 4.17 answers QueryInformationPolicy2 with op_rng_error; rpcclient
    -- lsaquery uses the first form too)
    local q = assert(c:LsarQueryInformationPolicy { PolicyHandle = pol, InformationClass = 3 })
    assert.equal(ref.domain, q.PolicyInformation.PolicyPrimaryDomainInfo.Name)
    local out = assert(c:LsarLookupNames3 { PolicyHandle = pol, Count = 1, Names = { USER },
      TranslatedSids = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0,
      LookupOptions = 0, ClientRevision = C.LSA_CLIENT_REVISION_2 })
    assert.equal(ref.user_sid, H.translate_names(out)[1].Sid)
    out = assert(c:LsarLookupSids2 { PolicyHandle = pol, SidEnumBuffer = { Entries = 1, SidInfo = { { Sid = "S-1-5-32-544" } } },
      TranslatedNames = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0,
      LookupOptions = 0, ClientRevision = C.LSA_CLIENT_REVISION_2 })
    local t = H.translate_sids(out)[1]
    assert.equal(ref.admins, t.Domain .. "\\" .. t.Name)
    assert(c:LsarClose { ObjectHandle = pol })
    return c
  end

  local function svc_check(opts, binding)
    local svc = dcerpc.interface "svcctl"
    local C, H = svc.constants, svc.helpers
    local c = assert(connect(svc, opts, binding))
    local scm = assert(c:ROpenSCManagerW { lpMachineName = "\\\\" .. HOST, lpDatabaseName = "ServicesActive",
      dwDesiredAccess = C.SC_MANAGER_CONNECT | C.SC_MANAGER_ENUMERATE_SERVICE }).lpScHandle
    local list = assert(H.enum_services(c, scm, C.SERVICE_WIN32, C.SERVICE_STATE_ALL))
    local names = {}
    for _, s in ipairs(list) do names[#names + 1] = s.ServiceName end
    table.sort(names)
    assert.same(ref.services, names)
    local h = assert(c:ROpenServiceW { hSCManager = scm, lpServiceName = "Spooler",
                                       dwDesiredAccess = C.SERVICE_QUERY_CONFIG }).lpServiceHandle
    local cfg = assert(c:RQueryServiceConfigW { hService = h, cbBufSize = 8192 }).lpServiceConfig
    assert.equal(ref.spooler_path, cfg.lpBinaryPathName)
    assert.equal(ref.spooler_display, cfg.lpDisplayName)
    assert(c:RCloseServiceHandle { hSCObject = h })
    assert(c:RCloseServiceHandle { hSCObject = scm })
  end

  local function reg_check(opts, binding)
    local reg = dcerpc.interface "winreg"
    local C, H = reg.constants, reg.helpers
    local c = assert(connect(reg, opts, binding))
    local hklm = assert(c:OpenHKLM { samDesired = C.KEY_READ }).phKey
    local k = assert(c:BaseRegOpenKey { hKey = hklm, lpSubKey = H.ustr("SOFTWARE\\Samba"), dwOptions = 0,
                                        samDesired = C.KEY_READ }).phkResult
    local keys, i = {}, 0
    while true do
      local r, e = c:BaseRegEnumKey { hKey = k, dwIndex = i, lpNameIn = H.ubuf(512), lpClassIn = H.ubuf(0),
                                      lpftLastWriteTime = 0 }
      if not r then assert.equal(C.ERROR_NO_MORE_ITEMS or 259, e.code); break end
      keys[#keys + 1] = H.str(r.lpNameOut)
      i = i + 1
    end
    table.sort(keys)
    assert.same(ref.keys, keys)
    assert(c:BaseRegCloseKey { hKey = k })
    assert(c:BaseRegCloseKey { hKey = hklm })
    return c
  end

  local CASES = {
    { "by default", "", {} },
    { "with the server requiring signing", "server signing = mandatory\n", {} },
    { "with the server requiring encryption", "smb encrypt = required\n", {} },
    { "over port 139", "", { smb_port = 139 } },
    { "sealed inside the pipe", "", {}, "[seal]" },
  }
  for _, case in ipairs(CASES) do
    it("answers as Samba's tools " .. case[1], function()
      samba_conf(case[2])
      local binding = "ncacn_np:" .. HOST .. (case[4] or "")
      local function o() local t = {} for k, v in pairs(case[3]) do t[k] = v end return t end
      local c = lsa_check(o(), binding)
      if case[2]:find("signing") then assert.is_true(c.conn:info().smb.signing) end
      if case[2]:find("encrypt") then assert.is_true(c.conn:info().smb.encrypting) end
      if case[4] then assert.equal("privacy", c.conn:info().auth_level) end
      svc_check(o(), binding)
      reg_check(o(), binding)
    end)
  end

  it("creates a key and values with the write calls, reads them back decoded, deletes them", function()
    samba_conf("")
    -- Samba lets only administrators write its registry: alice joins
    -- BUILTIN\Administrators for this test (a new session picks it up)
    peers.with_admin(env, function()
      local reg = dcerpc.interface "winreg"
      local C, H = reg.constants, reg.helpers
      local c = assert(connect(reg, { smb_signing = true }))
      local hklm = assert(c:OpenHKLM { samDesired = C.MAXIMUM_ALLOWED or 0x02000000 }).phKey
      local sw = assert(c:BaseRegOpenKey { hKey = hklm, lpSubKey = H.ustr("SOFTWARE"), dwOptions = 0,
                                           samDesired = 0x02000000 }).phkResult
      local name = "LuaDcerpcNp" .. os.time()
      local r = assert(c:BaseRegCreateKey { hKey = sw, lpSubKey = H.ustr(name), lpClass = H.ustr(nil),
        dwOptions = 0, samDesired = C.KEY_ALL_ACCESS, lpdwDisposition = 0 })
      local k = r.phkResult
      local values = {
        { "sz", C.REG_SZ, "héllo" }, { "expand", C.REG_EXPAND_SZ, "%SystemRoot%\\x" },
        { "multi", C.REG_MULTI_SZ, { "a", "bé", "c" } }, { "dword", C.REG_DWORD, 0x12345678 },
        { "qword", C.REG_QWORD, 0x123456789abc }, { "bin", C.REG_BINARY, "\0\1\2\255" },
      }
      for _, v in ipairs(values) do assert(H.set_value(c, k, v[1], v[2], v[3])) end
      for _, v in ipairs(values) do
        local x, t = assert(H.query_value(c, k, v[1]))
        assert.equal(v[2], t)
        assert.same(v[3], x)
      end
      -- net rpc registry sees the value we wrote
      local p = assert(io.popen(string.format("env -u LD_PRELOAD timeout 60 net -s %s rpc registry getvalue %s sz -S %s -U %s 2>&1",
        sh_quote(env.SAMBA_CLIENT_CONF), sh_quote("HKLM\\SOFTWARE\\" .. name), HOST, sh_quote(USER .. "%" .. PASS))))
      local out = p:read("a")
      p:close()
      assert.matches("héllo", out, 1, true)
      for _, v in ipairs(values) do assert(c:BaseRegDeleteValue { hKey = k, lpValueName = H.ustr(v[1]) }) end
      local _, e = H.query_value(c, k, "sz")
      assert.equal(2, e.code)                    -- ERROR_FILE_NOT_FOUND
      assert(c:BaseRegCloseKey { hKey = k })
      assert(c:BaseRegDeleteKey { hKey = sw, lpSubKey = H.ustr(name) })
      assert(c:BaseRegCloseKey { hKey = sw })
      assert(c:BaseRegCloseKey { hKey = hklm })
    end)
  end)
end)

-- Tampering on the way back from the real server: a signed or encrypted
-- message altered by a proxy (spec/helpers/smb_tamper_proxy.py) is refused,
-- the connection ends with a clear error, and nothing wrong is delivered.
describe("ncacn_np refuses altered protected messages", function()
  setup(function() samba_conf("") end)
  local function through_proxy(action, n, opts)
    local p = assert(io.popen(string.format("exec env -u LD_PRELOAD /usr/bin/python3 %s/spec/helpers/smb_tamper_proxy.py 445 %s %d",
      peers.root, action, n)))
    local port = tonumber(p:read("l"):match("listening on (%d+)"))
    opts.smb_port = port
    opts.timeout = 5
    local c, e = connect("srvsvc", opts)
    local r, ce
    if c then r, ce = c:NetrServerGetInfo { Level = 101 } end
    os.execute("env -u LD_PRELOAD pkill -f 'smb_tamper_proxy.py 445 " .. action .. " " .. n .. "'")
    p:close()
    return c, e, r, ce
  end

  it("passes an unaltered signed and an encrypted session (the proxy itself is transparent)", function()
    for _, o in ipairs { { smb_signing = true }, { smb_encrypt = true } } do
      local c, e, r, ce = through_proxy("none", 1, o)
      assert(c, e)
      assert(r, ce)
    end
  end)

  it("a flipped signature bit or a flipped message bit on a signed session: STATUS_INVALID_SIGNATURE", function()
    for _, action in ipairs { "sig", "body" } do
      for _, d in ipairs { "2.1", "3.0", "3.1.1" } do
        local c, e, r, ce = through_proxy(action, 4, { smb_signing = true, smb_max_dialect = d })
        local err = e or ce
        assert.is_nil(c and r, action .. " " .. d)
        assert.equal(0xC000A000, err.code, action .. " " .. d .. ": " .. tostring(err))
      end
    end
  end)

  it("an altered encrypted message (ciphertext, SessionId, size, flags): refused, the session ends", function()
    for _, action in ipairs { "body", "sess", "size", "flags" } do
      local c, e, r, ce = through_proxy(action, 4, { smb_encrypt = true })
      local err = e or ce
      assert.is_nil(c and r, action)
      assert.matches("decryption", tostring(err.message), 1, true)
    end
  end)
end)

