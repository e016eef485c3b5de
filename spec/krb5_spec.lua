-- Kerberos (auth type 16, [MS-KILE] 3.4.5) against the project's MIT KDC
-- (test/peers/mit-kdc.sh, realm TEST.RPC): our client and our server at
-- every level, the credentials a client gets its tickets from, the errors a
-- client reports, and Samba's rpcclient and smbtorture against our examples.
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local examples = require "helpers.examples"
local peers = require "helpers.peers"

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

local kdc = peers.mit_kdc()
if not kdc then
  describe("Kerberos #interop", function() pending("no MIT KDC here (tools/setup.sh test installs it)") end)
  return
end
-- the KDC's krb5.conf for GSSAPI in this process and in the servers it starts
core.setenv("KRB5_CONFIG", kdc.KRB5_CONFIG)
local REALM, USER, PASS = kdc.MIT_KDC_REALM, kdc.MIT_KDC_USER, kdc.MIT_KDC_PASSWORD
local KEYTAB, CLIENT_KEYTAB, CCACHE = kdc.MIT_KDC_KEYTAB, kdc.MIT_KDC_CLIENT_KEYTAB, kdc.MIT_KDC_CCACHE

-- An rpcecho server in this process that accepts Kerberos with the
-- service keytab; TestCall answers who called.
local function echo_server(auth, min_level)
  local logs = {}
  local srv = assert(dcerpc.server {
    listen = { "ncacn_ip_tcp:127.0.0.1[0]" },
    auth = auth or { keytab = KEYTAB },
    log = function(m) logs[#logs + 1] = m end,
  })
  srv:register("rpcecho", {
    AddOne = function(call, a) return { out_data = (a.in_data + 1) & 0xffffffff } end,
    TestCall = function(call, a)
      local au = call.auth
      return { s2 = au and string.format("%s %s %s@%s", au.type, au.level, au.user, au.domain) or "anonymous" }
    end,
    EchoData = function(call, a) return { out_data = a.in_data } end,
  }, { min_level = min_level })
  srv.logs = logs
  srv.port = tonumber(srv.endpoints[1]:match("%[(%d+)%]"))
  return srv
end

local with_task = require("helpers.tasks").with_task

-- "localhost" so that the default target is host/localhost, the service's
local function ep(srv) return string.format("ncacn_ip_tcp:localhost[%d]", srv.port) end

describe("Kerberos between our client and our server #interop", function()
  it("is one of core.mechs", function()
    local names = {}
    for _, m in ipairs(core.mechs) do names[m] = true end
    assert.is_true(names.krb5)
  end)

  for _, level in ipairs { "connect", "packet", "integrity", "privacy" } do
    it("authenticates both ways at " .. level .. " (ccache); the handler sees alice@" .. REALM, function()
      local srv = echo_server()
      local who, add, big, key
      local data = string.rep("kerberos", 3000)                 -- 24000 bytes: several fragments
      with_task(srv, function()
        local c = assert(dcerpc.connect(ep(srv), "rpcecho", { auth = "krb5", level = level, ccache = CCACHE }))
        add = assert(c:AddOne { in_data = 41 }).out_data
        who = assert(c:TestCall { s1 = "x" }).s2
        big = assert(c:EchoData { len = #data, in_data = data }).out_data
        key = assert(c.conn:session_key())
        c:close()
      end)
      assert.are.equal(42, add)
      assert.are.equal("krb5 " .. level .. " " .. USER .. "@" .. REALM, who)
      assert.are.equal(data, big)
      assert.are.equal(32, #key)                              -- aes256-cts: a 32-byte session key
    end)
  end

  for _, level in ipairs { "connect", "packet", "integrity", "privacy" } do
    it("negotiates Kerberos inside SPNEGO (auth type 9) at " .. level .. " with a ccache", function()
      local srv = echo_server { keytab = KEYTAB, users = { bob = "Bob-Pass1" } }
      local who, big, bob
      local data = string.rep("spnego", 4000)
      with_task(srv, function()
        local c = assert(dcerpc.connect(ep(srv), "rpcecho", { auth = "spnego", level = level, ccache = CCACHE }))
        who = assert(c:TestCall { s1 = "x" }).s2
        big = assert(c:EchoData { len = #data, in_data = data }).out_data
        c:close()
        -- the same server still takes NTLM inside SPNEGO from a password
        c = assert(dcerpc.connect(ep(srv), "rpcecho", { auth = "spnego", level = level,
                                                        user = "bob", password = "Bob-Pass1" }))
        bob = assert(c:TestCall { s1 = "x" }).s2
        c:close()
      end)
      assert.are.equal("spnego " .. level .. " " .. USER .. "@" .. REALM, who)
      assert.are.equal(data, big)
      assert.matches("^spnego " .. level .. " bob@", bob)
    end)
  end

  it("keeps an interface's min_level: integrity is refused where privacy is asked", function()
    local srv = echo_server(nil, "privacy")
    local r1, e1, r2
    with_task(srv, function()
      local c = assert(dcerpc.connect(ep(srv), "rpcecho", { auth = "krb5", level = "integrity", ccache = CCACHE }))
      r1, e1 = c:AddOne { in_data = 1 }
      c:close()
      c = assert(dcerpc.connect(ep(srv), "rpcecho", { auth = "krb5", level = "privacy", ccache = CCACHE }))
      r2 = assert(c:AddOne { in_data = 1 }).out_data
      c:close()
    end)
    assert.is_nil(r1)
    assert.are.equal(5, e1.code)                              -- access denied, as for NTLM
    assert.are.equal(2, r2)
  end)

  it("gets a ticket with a password (no ccache), into a private ccache", function()
    local srv = echo_server()
    local who
    with_task(srv, function()
      local c = assert(dcerpc.connect(ep(srv), "rpcecho",
        { auth = "krb5", level = "privacy", user = USER, password = PASS }))
      who = assert(c:TestCall { s1 = "x" }).s2
      c:close()
    end)
    assert.are.equal("krb5 privacy " .. USER .. "@" .. REALM, who)
  end)

  it("gets a ticket with the user's keytab", function()
    local srv = echo_server()
    local who
    with_task(srv, function()
      local c = assert(dcerpc.connect(ep(srv), "rpcecho",
        { auth = { type = "krb5", keytab = CLIENT_KEYTAB }, level = "integrity" }))
      who = assert(c:TestCall { s1 = "x" }).s2
      c:close()
    end)
    assert.are.equal("krb5 integrity " .. USER .. "@" .. REALM, who)
  end)

  it("takes the binding's krb5 and seal flags and target_hostname", function()
    local srv = echo_server()
    local who
    with_task(srv, function()
      local c = assert(dcerpc.connect(string.format("ncacn_ip_tcp:127.0.0.1[%d,krb5,seal,target_hostname=localhost]",
                                                    srv.port), "rpcecho", { ccache = CCACHE }))
      who = assert(c:TestCall { s1 = "x" }).s2
      c:close()
    end)
    assert.are.equal("krb5 privacy " .. USER .. "@" .. REALM, who)
  end)

  it("accepts as the one service principal the server names, and names the target in opts", function()
    local srv = echo_server { keytab = KEYTAB, service = "host/" .. kdc.MIT_KDC_HOSTNAME }
    local who, e2
    with_task(srv, function()
      local c = assert(dcerpc.connect(string.format("ncacn_ip_tcp:127.0.0.1[%d]", srv.port), "rpcecho",
        { auth = "krb5", level = "integrity", ccache = CCACHE, target = "host/" .. kdc.MIT_KDC_HOSTNAME }))
      who = assert(c:TestCall { s1 = "x" }).s2
      c:close()
      -- a ticket for host/localhost (also in the keytab) is not for this server
      local c2
      c2, e2 = dcerpc.connect(ep(srv), "rpcecho", { auth = "krb5", level = "integrity", ccache = CCACHE })
      if c2 then
        local r
        r, e2 = c2:TestCall { s1 = "x" }
        assert.is_nil(r)
        c2:close()
      end
    end)
    assert.are.equal("krb5 integrity " .. USER .. "@" .. REALM, who)
    assert.is_not_nil(e2)
  end)

  it("seals the stub at privacy: the wire does not carry it in clear", function()
    local srv = echo_server()
    local marker = "SECRET-PAYLOAD-" .. string.rep("Z", 64)
    local sent, sealed, clear_seen = 0, 0, false
    local flow = {}
    local function hook(ev)
      if ev.pdu then flow[#flow + 1] = ev.dir .. " " .. ev.pdu.ptype end
      if ev.pdu and (ev.pdu.ptype == "request" or ev.pdu.ptype == "response") then
        sent = sent + 1
        assert.are.equal(16, ev.pdu.auth_type)
        assert.are.equal(6, ev.pdu.auth_level)
        if ev.clear and ev.clear ~= ev.bytes then sealed = sealed + 1 end
        if ev.bytes:find(marker, 1, true) then clear_seen = true end
      end
    end
    local back
    with_task(srv, function()
      local c = assert(dcerpc.connect(ep(srv), "rpcecho",
        { auth = "krb5", level = "privacy", ccache = CCACHE, trace = hook }))
      back = assert(c:EchoData { len = #marker, in_data = marker }).out_data
      c:close()
    end)
    assert.are.equal(marker, back)
    -- [MS-KILE] 3.4.5.1: AP-REQ on the bind, AP-REP back, ours on an auth3
    assert.are.same({ "send bind", "recv bind_ack", "send auth3", "send request", "recv response" }, flow)
    assert.are.equal(2, sent)
    assert.are.equal(2, sealed)
    assert.is_false(clear_seen)
  end)
end)

-- What our client and our server put on the wire with Kerberos, dissected by
-- Wireshark: the AP-REQ / AP-REP legs (bind, bind_ack, auth3 or
-- alter_context), MICs and wrap tokens at every level, auth types 16 and 9.
-- SPNEGO with kerberos = true prefers Kerberos and falls back to NTLM, as
-- Windows' Negotiate and rpcclient's --use-kerberos=desired do; "only" never
-- falls back.
describe("SPNEGO falling back from Kerberos to NTLM #interop", function()
  local function who(srv, opts)
    local r, e
    with_task(srv, function()
      local c
      c, e = dcerpc.connect(ep(srv), "rpcecho", opts)
      if c then
        r = assert(c:TestCall { s1 = "x" }).s2
        c:close()
      end
    end)
    return r, e
  end

  it("when Kerberos cannot start (the KDC knows no such user): NTLM with the same password", function()
    local r, e = who(echo_server { keytab = KEYTAB, users = { bob = "Bob-Pass1" } },
                     { kerberos = true, user = "bob", password = "Bob-Pass1", level = "privacy" })
    assert.is_nil(e)
    assert.matches("^spnego privacy bob@", r)
  end)

  it("when the server has no Kerberos: it picks NTLM and the client follows (with the MIC exchange)", function()
    -- alice gets a TGT and a ticket for host/localhost, but the server has no keytab
    local r, e = who(echo_server { users = { [USER] = PASS } },
                     { kerberos = true, user = USER, password = PASS, level = "integrity" })
    assert.is_nil(e)
    assert.matches("^spnego integrity " .. USER .. "@", r)
  end)

  it("kerberos = \"only\" does not fall back, and says why Kerberos failed", function()
    local r, e = who(echo_server { keytab = KEYTAB, users = { bob = "Bob-Pass1" } },
                     { kerberos = "only", user = "bob", password = "Bob-Pass1", level = "privacy" })
    assert.is_nil(r)
    assert.matches("unknown client principal: Client 'bob@TEST.RPC' not found", tostring(e), 1, true)
  end)

  it("no fallback to an anonymous NTLM: Kerberos from a ccache that is not there fails as Kerberos", function()
    local r, e = who(echo_server { keytab = KEYTAB },
                     { kerberos = true, ccache = "FILE:/nonexistent/cc", level = "privacy" })
    assert.is_nil(r)
    assert.matches("krb5: kerberos: no usable credentials in the ccache", tostring(e), 1, true)
    assert.is_true(e:is("SEC_E_NO_CREDENTIALS"))
  end)

  it("against Samba with a ticket it cannot use: Samba picks NTLM, the client follows (integrity, privacy)", function()
    local samba = peers.samba()
    if not samba then return end
    -- a real ticket for host/luasrv.test.rpc (the KDC's), which Samba has no key for
    local trace = os.tmpname()
    core.setenv("KRB5_TRACE", trace)
    local ok, err = pcall(function()
      for _, level in ipairs { "integrity", "privacy" } do
        local c = assert(dcerpc.connect(("ncacn_ip_tcp:%s[%s,target_hostname=%s]"):format(samba.SAMBA_HOST,
          samba.SAMBA_SRVSVC_PORT, kdc.MIT_KDC_HOSTNAME), "srvsvc",
          { kerberos = true, user = samba.SAMBA_USER, password = samba.SAMBA_PASSWORD, level = level, timeout = 20 }))
        assert(c:NetrServerGetInfo { Level = 101 })
        assert.are.equal("spnego", c:info().auth_type)
        c:close()
      end
    end)
    core.setenv("KRB5_TRACE", nil)
    local f = io.open(trace)
    local text = f and f:read("a") or ""
    if f then f:close() end
    os.remove(trace)
    if not ok then error(err, 0) end
    assert.matches("TGS reply is for alice@TEST.RPC %-> host/luasrv.test.rpc@TEST.RPC", text)
  end)

  it("against Samba (no Kerberos for it here): a ticket is not to be had, NTLM inside SPNEGO serves", function()
    local samba = peers.samba()
    if not samba then return end
    -- alice has a TGT from the KDC, host/127.0.0.1 is no principal there
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. samba.SAMBA_HOST .. "[" .. samba.SAMBA_SRVSVC_PORT .. "]", "srvsvc",
      { kerberos = true, user = samba.SAMBA_USER, domain = samba.SAMBA_DOMAIN, password = samba.SAMBA_PASSWORD,
        level = "privacy", timeout = 20 }))
    assert(c:NetrServerGetInfo { Level = 101 })
    assert.are.equal("spnego", c:info().auth_type)
    c:close()
  end)
end)

describe("Kerberos on the wire #interop #tshark", function()
  local capture = require "helpers.capture"
  if not capture.available() then
    if os.getenv("CI") == "true" then error("tshark/dumpcap missing under CI") end
    pending("tshark not installed")
    return
  end

  it("dissects cleanly both ways: no malformed frame or warning, AP-REQ and AP-REP found", function()
    local srv = echo_server { keytab = KEYTAB, users = { bob = "Bob-Pass1" } }
    local filter = string.format("tcp port %d", srv.port)
    local krb = {}
    local list = capture.run(function()
      with_task(srv, function()
        for _, a in ipairs { { "krb5", "connect" }, { "krb5", "packet" }, { "krb5", "integrity" }, { "krb5", "privacy" },
                             { "spnego", "integrity" }, { "spnego", "privacy" } } do
          local c = assert(dcerpc.connect(ep(srv), "rpcecho", { auth = a[1], level = a[2], ccache = CCACHE }))
          assert.are.equal(2, assert(c:AddOne { in_data = 1 }).out_data)
          local data = string.rep("w", 9000)                    -- several fragments each way
          assert.are.equal(data, assert(c:EchoData { len = #data, in_data = data }).out_data)
          c:close()
        end
      end)
    end, 30, { filter = filter, mine = string.format("tcp.port == %d", srv.port),
               inspect = function(pcap, mine)
                 for _, t in ipairs { 14, 15 } do
                   local n = capture.sh(string.format("env -u LD_PRELOAD tshark -n -r %q -Y '%s && kerberos.msg_type == %d' " ..
                                                      "-T fields -e frame.number", pcap, mine, t))
                   krb[t] = select(2, n:gsub("\n", ""))
                 end
               end })
    list = "\n" .. list
    -- an AP-REQ on each bind but the packet-level one: Wireshark has no
    -- Kerberos SSP subdissector for that level (only connect, integrity,
    -- privacy), so it shows those credentials as bytes
    assert.is_true(krb[14] >= 5, "AP-REQ frames: " .. krb[14])
    -- two AP-REPs per bind: the server's, and the client's DCE-style one
    assert.is_true(krb[15] >= 10, "AP-REP frames: " .. krb[15])
    assert.matches("\n%d+\t11\t16\t2", list)                      -- bind, Kerberos, connect
    assert.matches("\n%d+\t0[,%d]*\t16[,%d]*\t6", list)            -- request, Kerberos, privacy
    assert.matches("\n%d+\t2[,%d]*\t16[,%d]*\t5", list)            -- response, Kerberos, integrity
    assert.matches("\n%d+\t0[,%d]*\t9[,%d]*\t6", list)             -- request, SPNEGO, privacy
  end)
end)

describe("Kerberos with several worker processes #interop", function()
  it("serves 80 sealed Kerberos associations from 8 concurrent tasks with --workers 2", function()
    local es = assert(examples.start("echo-server.lua", { "--workers", "2", "--keytab", KEYTAB },
                                     "ncacn_ip_tcp:127.0.0.1[0]"))
    local ok, bad, why = 0, 0, nil
    for t = 1, 8 do
      dcerpc.spawn(function()
        for i = 1, 10 do
          local c, e = dcerpc.connect(("ncacn_ip_tcp:localhost[%d]"):format(es.port), "rpcecho",
                                      { auth = "krb5", level = "privacy", ccache = CCACHE, timeout = 20 })
          local r = c and c:AddOne { in_data = t * 100 + i }
          if r and r.out_data == t * 100 + i + 1 then ok = ok + 1 else bad, why = bad + 1, e end
          if c then c:close() end
        end
      end)
    end
    dcerpc.run()
    es.close()
    assert.are.equal(0, bad, tostring(why))
    assert.are.equal(80, ok)
  end)
end)

describe("Kerberos client errors #interop", function()
  local function try(binding, opts)
    local srv = echo_server()
    local c, e
    with_task(srv, function()
      c, e = dcerpc.connect(binding or ep(srv), "rpcecho", opts)
      if c then c:close() end
    end)
    return c, e
  end

  it("a wrong password", function()
    local c, e = try(nil, { auth = "krb5", level = "integrity", user = USER, password = "wrong" })
    assert.is_nil(c)
    assert.matches("kerberos: cannot get a ticket with the password", tostring(e))
    assert.matches("wrong password or key", tostring(e))
    assert.is_true(e:is("STATUS_LOGON_FAILURE"))                -- as NTLM's wrong password
  end)

  it("an unknown service principal", function()
    local c, e = try(nil, { auth = "krb5", level = "integrity", ccache = CCACHE, target = "host/nosuch.test.rpc" })
    assert.is_nil(c)
    assert.matches("unknown service principal: Server host/nosuch.test.rpc@TEST.RPC not found in Kerberos database",
                   tostring(e), 1, true)
    assert.are.equal(0x80090303, e.code)                         -- SEC_E_TARGET_UNKNOWN, as SSPI
    assert.is_true(e:is("SEC_E_TARGET_UNKNOWN"))
  end)

  it("no ticket: a ccache that does not exist", function()
    local c, e = try(nil, { auth = "krb5", level = "integrity", ccache = "FILE:/nonexistent/krb5cc" })
    assert.is_nil(c)
    assert.matches("kerberos: no usable credentials in the ccache", tostring(e))
    assert.matches("no ticket: No credentials cache found", tostring(e), 1, true)
    assert.is_true(e:is("SEC_E_NO_CREDENTIALS"))
  end)

  it("the KDC unreachable (a port nobody listens on)", function()
    local dead = os.tmpname()
    local f = assert(io.open(dead, "w"))
    -- a port from the listener just closed: nobody listens there now
    local l = assert(core.listen_tcp("127.0.0.1", 0))
    local port = l:port()
    l:close()
    f:write(string.format("[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n udp_preference_limit = 1\n" ..
      "[realms]\n %s = {\n  kdc = 127.0.0.1:%d\n }\n", REALM, REALM, port))
    f:close()
    core.setenv("KRB5_CONFIG", dead)
    local ok, c, e = pcall(try, nil, { auth = "krb5", level = "integrity", user = USER, password = PASS })
    core.setenv("KRB5_CONFIG", kdc.KRB5_CONFIG)
    os.remove(dead)
    assert.is_true(ok, c)
    assert.is_nil(c)
    assert.matches("KDC unreachable: Cannot contact any KDC for realm", tostring(e), 1, true)
    assert.is_true(e:is("SEC_E_NO_AUTHENTICATING_AUTHORITY"))
  end)

  -- a fresh ccache for alice from kinit (extra: kinit's flags)
  local function kinit(path, extra)
    assert(os.execute(string.format("echo %s | env -u LD_PRELOAD KRB5_CONFIG=%q KRB5CCNAME=FILE:%s kinit %s %s@%s >/dev/null",
                                    PASS, kdc.KRB5_CONFIG, path, extra or "", USER, REALM)))
    return "FILE:" .. path
  end

  it("an expired ticket (a TGT that lived 1 s)", function()
    local path = os.tmpname()
    local cc = kinit(path, "-l 1s")
    os.execute("sleep 2")
    local c, e = try(nil, { auth = "krb5", level = "integrity", ccache = cc })
    os.remove(path)
    assert.is_nil(c)
    assert.matches("ticket expired: Ticket expired", tostring(e), 1, true)
    assert.matches("GSS major 0x%x+: .*; minor %d+%)", tostring(e))
    assert.is_true(e:is("SEC_E_CONTEXT_EXPIRED"))
  end)

  it("clock skew: our clock two hours ahead of the KDC's", function()
    -- the ccache's header keeps the client's offset to the KDC's clock
    -- (kdc_timesync): +7200 s makes every authenticator two hours early
    local path = os.tmpname()
    local cc = kinit(path)
    local f = assert(io.open(path, "r+b"))
    local head = f:read(12)
    assert.are.equal("\5\4\0\12\0\1\0\8", head:sub(1, 8))   -- v4 header, tag 1 (time offset), 8 bytes
    f:seek("set", 8)
    f:write(string.pack(">I4", 7200))
    f:close()
    local c, e = try(nil, { auth = "krb5", level = "integrity", ccache = cc })
    os.remove(path)
    assert.is_nil(c)
    assert.matches("clock skew too great: Clock skew too great", tostring(e), 1, true)
    assert.are.equal(0x80090324, e.code)
    assert.is_true(e:is("SEC_E_TIME_SKEW"))
  end)

  it("an encryption type not supported (a service with RC4 keys only, a client that permits AES only)", function()
    local conf = os.tmpname()
    local f = assert(io.open(kdc.KRB5_CONFIG))
    local text = f:read("a"):gsub("allow_rc4 = true",
      "permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96")
    f:close()
    f = assert(io.open(conf, "w"))
    f:write(text)
    f:close()
    local path = os.tmpname()
    local cc = kinit(path)
    core.setenv("KRB5_CONFIG", conf)
    local ok, c, e = pcall(try, nil, { auth = "krb5", level = "integrity", ccache = cc,
                                       target = kdc.MIT_KDC_RC4_SERVICE })
    core.setenv("KRB5_CONFIG", kdc.KRB5_CONFIG)
    os.remove(conf)
    os.remove(path)
    assert.is_true(ok, c)
    assert.is_nil(c)
    assert.matches("encryption type not supported: KDC has no support for encryption type", tostring(e), 1, true)
    assert.is_true(e:is("SEC_E_ETYPE_NOT_SUPP"))
  end)

  it("an NT hash is no Kerberos credential", function()
    local ok, e = pcall(try, nil, { auth = "krb5", user = USER, nt_hash = string.rep("00", 16) })
    assert.is_false(ok)
    assert.matches("an NT hash is no Kerberos credential", tostring(e))
  end)

  it("a server without the service's key refuses the bind", function()
    local srv = echo_server { keytab = CLIENT_KEYTAB }       -- alice's keys, not host/localhost's
    local c, e
    with_task(srv, function()
      c, e = dcerpc.connect(ep(srv), "rpcecho", { auth = "krb5", level = "integrity", ccache = CCACHE })
      if c then
        local r
        r, e = c:AddOne { in_data = 1 }
        assert.is_nil(r)
        c:close()
      end
    end)
    assert.is_not_nil(e)
  end)
end)

-- The command-line tool: -k / --kerberos (bin/dcerpc, scripts/dcerpc/cli.lua).
describe("dcerpc srvinfo --kerberos #interop", function()
  local ss
  setup(function()
    ss = assert(examples.start("srvsvc-server.lua", { "--keytab", KEYTAB }, "ncacn_ip_tcp:127.0.0.1[0]"))
  end)
  teardown(function() if ss then ss.close() end end)

  local function run(ccache, args)
    local p = assert(io.popen(string.format("env -u LD_PRELOAD KRB5_CONFIG=%q KRB5CCNAME=%q lua5.4 %q/bin/dcerpc %s 2>&1; echo \"exit $?\"",
      kdc.KRB5_CONFIG, ccache, peers.root, args)))
    local out = p:read("a")
    p:close()
    return out, tonumber(out:match("exit (%d+)%s*$"))
  end

  it("from the ccache (KRB5CCNAME), service host/HOST", function()
    local out, rc = run(CCACHE, string.format("srvinfo -k 'ncacn_ip_tcp:localhost[%d]'", ss.port))
    assert.are.equal(0, rc, out)
    assert.matches("lua%-dcerpc srvsvc server", out)
  end)

  it("from a password with -U, target_hostname in the binding, at privacy", function()
    local out, rc = run("FILE:/nonexistent/cc", string.format(
      "srvinfo --kerberos --seal -U '%s%%%s' 'ncacn_ip_tcp:127.0.0.1[%d,target_hostname=localhost]'", USER, PASS, ss.port))
    assert.are.equal(0, rc, out)
    assert.matches("lua%-dcerpc srvsvc server", out)
  end)

  it("without a ticket: exit 4 and why", function()
    local out, rc = run("FILE:/nonexistent/cc", string.format("srvinfo -k 'ncacn_ip_tcp:localhost[%d]'", ss.port))
    assert.are.equal(4, rc, out)
    assert.matches("no ticket", out)
  end)
end)

-- RC4-HMAC tokens (RFC 4757): host/rc4.test.rpc has an RC4 key and RC4
-- session keys; a server whose krb5.conf permits RC4 only keeps the context
-- on RC4 (an MIT acceptor would otherwise pick an AES subkey), and a MIC is
-- 37 bytes there, not 28.
describe("Kerberos with RC4-HMAC tokens #interop", function()
  local es, conf
  setup(function()
    conf = os.tmpname()
    local f = assert(io.open(kdc.KRB5_CONFIG))
    local text = f:read("a"):gsub("%[libdefaults%]", "[libdefaults]\n    permitted_enctypes = arcfour-hmac", 1)
    f:close()
    f = assert(io.open(conf, "w"))
    f:write(text)
    f:close()
    core.setenv("KRB5_CONFIG", conf)                -- for the server only
    es = examples.start("echo-server.lua", { "--keytab", KEYTAB }, "ncacn_ip_tcp:127.0.0.1[0]")
    core.setenv("KRB5_CONFIG", kdc.KRB5_CONFIG)
    assert(es)
  end)
  teardown(function()
    if es then es.close() end
    if conf then os.remove(conf) end
  end)

  for _, level in ipairs { "packet", "integrity", "privacy" } do
    it("our client at " .. level .. " (a 16-byte RC4 session key)", function()
      local c = assert(dcerpc.connect(string.format("ncacn_ip_tcp:127.0.0.1[%d]", es.port), "rpcecho",
        { auth = "krb5", level = level, ccache = CCACHE, target = kdc.MIT_KDC_RC4_SERVICE }))
      local data = string.rep("rc4-hmac", 2000)
      assert.are.equal(data, assert(c:EchoData { len = #data, in_data = data }).out_data)
      assert.are.equal(16, #assert(c.conn:session_key()))
      c:close()
    end)
  end

  if have("smbtorture") then
    for _, flag in ipairs { "sign", "seal" } do
      it("smbtorture rpc.echo passes all 10 sub-tests at [krb5," .. flag .. "]", function()
        local p = assert(io.popen(string.format("env -u LD_PRELOAD KRB5_CONFIG=%q KRB5CCNAME=%q timeout 300 smbtorture " ..
          "--use-kerberos=required --use-krb5-ccache=%q 'ncacn_ip_tcp:127.0.0.1[%d,krb5,%s,target_hostname=%s]' " ..
          "rpc.echo 2>&1", kdc.KRB5_CONFIG, CCACHE, CCACHE, es.port, flag, kdc.MIT_KDC_RC4_SERVICE:match("/(.*)"))))
        local out = p:read("a")
        p:close()
        local ok, bad = 0, 0
        for kind in out:gmatch("\n(%a+): echo%.[%w_]+") do
          if kind == "success" then ok = ok + 1 elseif kind ~= "test" then bad = bad + 1 end
        end
        assert.are.equal(0, bad, out)
        assert.are.equal(10, ok, out)
      end)
    end
  elseif os.getenv("CI") == "true" then
    error("smbtorture missing under CI")
  end
end)

-- Through spec/helpers/tamper_proxy.py between our client and
-- examples/echo-server.lua --keytab: a changed or replayed protected PDU is
-- refused in both directions, and the server goes on serving.
-- Run fn(binding) through spec/helpers/tamper_proxy.py in front of port,
-- changing the nth PDU as action says; the proxy is stopped afterwards.
local function through_proxy(port, action, n, fn)
  local p = assert(io.popen(string.format("echo $$; exec env -u LD_PRELOAD /usr/bin/python3 " ..
    "%s/spec/helpers/tamper_proxy.py 127.0.0.1 %d %s %d", peers.root, port, action, n)))
  local pid = assert(math.tointeger(tonumber(p:read("l"))))
  local pport = tonumber(p:read("l"):match("listening on (%d+)"))
  local ok, err = pcall(fn, string.format("ncacn_ip_tcp:127.0.0.1[%d]", pport))
  os.execute("kill " .. pid)
  p:close()
  if not ok then error(err, 0) end
end

describe("Kerberos-protected PDUs changed on the way #interop", function()
  local es
  setup(function()
    es = assert(examples.start("echo-server.lua", { "--keytab", KEYTAB }, "ncacn_ip_tcp:127.0.0.1[0]"))
  end)
  teardown(function() if es then es.close() end end)

  for _, case in ipairs {
    { "reqflip", "privacy", "a sealed request with a flipped bit" },
    { "reqflip", "integrity", "a signed request with a flipped bit" },
    { "reqreplay", "privacy", "a replayed sealed request" },
    { "reqreplay", "integrity", "a replayed signed request" },
    { "flip", "privacy", "a sealed response with a flipped bit" },
    { "sig", "integrity", "a signed response with a changed signature" },
    { "replay", "privacy", "a replayed sealed response" },
  } do
    it("refuses " .. case[3] .. "; the server serves the next client", function()
      through_proxy(es.port, case[1], 2, function(b)
        local c = assert(dcerpc.connect(b, "rpcecho", { auth = "krb5", level = case[2], ccache = CCACHE,
                                                        target = "host/localhost", timeout = 5 }))
        assert.are.equal(2, assert(c:AddOne { in_data = 1 }).out_data)
        local r, e = c:AddOne { in_data = 2 }
        if case[1] == "reqreplay" then
          -- the first copy is answered; the replay kills the association
          local r2, e2 = c:AddOne { in_data = 3 }
          assert.is_true(r2 == nil or r == nil, "a replayed request was accepted")
          e = e or e2
        else
          assert.is_nil(r)
        end
        assert.is_not_nil(e)
        c:close()
      end)
      local c = assert(dcerpc.connect(string.format("ncacn_ip_tcp:localhost[%d]", es.port), "rpcecho",
                                      { auth = "krb5", level = "privacy", ccache = CCACHE }))
      assert.are.equal(10, assert(c:AddOne { in_data = 9 }).out_data)
      c:close()
    end)
  end
end)

-- Reordered: two calls in flight (conc_mpx), the proxy swaps the second and
-- third requests, or the second and third responses. Each PDU is intact and
-- correctly sealed, only its sequence number comes early: the receiver's
-- GSS sequence check (GSS_S_GAP_TOKEN) must refuse it and drop the association.
describe("Kerberos-protected PDUs reordered on the way #interop", function()
  local es
  setup(function()
    es = assert(examples.start("echo-server.lua", { "--keytab", KEYTAB }, "ncacn_ip_tcp:127.0.0.1[0]"))
  end)
  teardown(function() if es then es.close() end end)

  for _, case in ipairs {
    { "reqswap", "privacy", "two sealed requests", "server" },
    { "reqswap", "integrity", "two signed requests", "server" },
    { "swap", "privacy", "two sealed responses", "client" },
    { "swap", "integrity", "two signed responses", "client" },
  } do
    it("refuses " .. case[3] .. " swapped (the " .. case[4] .. " checks); the server serves the next client", function()
      through_proxy(es.port, case[1], 2, function(b)
        local c = assert(dcerpc.connect(b, "rpcecho",
          { auth = "krb5", level = case[2], ccache = CCACHE, target = "host/localhost", timeout = 5,
            conc_mpx = true }))
        assert.is_true(c:info().conc_mpx)
        assert.are.equal(2, assert(c:AddOne { in_data = 1 }).out_data)
        local h2 = assert(c:send("AddOne", { in_data = 2 }))
        local h3 = assert(c:send("AddOne", { in_data = 3 }))
        local r2, e2 = c:receive(h2)
        local r3, e3 = c:receive(h3)
        -- neither answer is taken: the swapped PDU kills the association
        assert.is_nil(r2)
        assert.is_nil(r3)
        assert.is_not_nil(e2)
        assert.is_not_nil(e3)
        assert.is_true(c:info().dead)
        if case[4] == "server" then
          -- the server answers the early one with a fault, as Windows, and hangs up
          assert.are.equal(0x721, e3.code)                    -- rpc_s_sec_pkg_error
          assert.matches("connection closed", tostring(e2))
        else
          assert.matches("SEC_E_OUT_OF_SEQUENCE 0x80090310, replayed or reordered", tostring(c:info().dead_reason), 1, true)
        end
        c:close()
      end)
      local c = assert(dcerpc.connect(string.format("ncacn_ip_tcp:localhost[%d]", es.port), "rpcecho",
                                      { auth = "krb5", level = "privacy", ccache = CCACHE }))
      assert.are.equal(10, assert(c:AddOne { in_data = 9 }).out_data)
      c:close()
    end)
  end

  it("the server's log names the sequence error", function()
    local stderr
    es.close(function(e) stderr = e end)
    es = nil
    assert.matches("request fragment fails its seal check (SEC_E_OUT_OF_SEQUENCE 0x80090310, replayed or reordered)",
                   stderr, 1, true)
  end)
end)

describe("Kerberos with Samba's clients #interop", function()
  if not (have("rpcclient") and have("smbtorture")) then
    if os.getenv("CI") == "true" then error("rpcclient / smbtorture missing under CI") end
    pending("Samba client tools not installed")
    return
  end
  -- Samba's tools refuse Kerberos to "localhost" and to an address: they name
  -- the service host/luasrv.test.rpc (in the service keytab) with target_hostname.
  local HOSTNAME = kdc.MIT_KDC_HOSTNAME
  local ccenv = string.format("KRB5_CONFIG=%q KRB5CCNAME=%q", kdc.KRB5_CONFIG, CCACHE)

  -- Samba 4.17's rpcclient asks the endpoint mapper on HOST:135 whatever the
  -- binding's port (spec/auth_server_spec.lua): our server listens on
  -- 127.0.0.4, port 135 included.
  describe("examples/srvsvc-server.lua with rpcclient --use-kerberos=required", function()
    local l, le = core.listen_tcp("127.0.0.4", 135)
    if l then l:close() else
      if os.getenv("CI") == "true" then error("cannot listen on 127.0.0.4:135: " .. tostring(le)) end
      pending("cannot listen on 127.0.0.4:135 (needs root)")
      return
    end
    local ss, dir, conf
    setup(function()
      ss = assert(examples.start("srvsvc-server.lua", { "--keytab", KEYTAB },
                                 "ncacn_ip_tcp:127.0.0.4[0]", "ncacn_ip_tcp:127.0.0.4[135]"))
      local p = assert(io.popen("mktemp -d /tmp/krb5-spec.XXXXXX"))
      dir = p:read("l")
      p:close()
      os.execute(string.format("mkdir -p %q/private %q/lock %q/state %q/cache", dir, dir, dir, dir))
      conf = dir .. "/smb.conf"
      local f = assert(io.open(conf, "w"))
      f:write(string.format("[global]\n  workgroup = WORKGROUP\n  realm = %s\n  private dir = %s/private\n" ..
        "  lock directory = %s/lock\n  state directory = %s/state\n  cache directory = %s/cache\n" ..
        "  pid directory = %s/lock\n  log file = %s/log.%%m\n", REALM, dir, dir, dir, dir, dir, dir))
      f:close()
    end)
    teardown(function()
      if ss then ss.close() end
      if dir then os.execute(string.format("rm -rf %q", dir)) end
    end)

    for _, flag in ipairs { "krb5,sign", "krb5,seal", "spnego,sign", "spnego,seal" } do
      it("answers srvinfo and netshareenumall at [" .. flag .. "]", function()
        local p = assert(io.popen(string.format("env -u LD_PRELOAD %s timeout 60 rpcclient -s %q " ..
          "--use-kerberos=required --use-krb5-ccache=%q 'ncacn_ip_tcp:127.0.0.4[%d,%s,target_hostname=%s]' " ..
          "-c 'srvinfo; netshareenumall' 2>&1", ccenv, conf, CCACHE, ss.port, flag, HOSTNAME)))
        local out = p:read("a")
        p:close()
        assert.matches("lua%-dcerpc srvsvc server", out)
        assert.matches("platform_id%s*:%s*500", out)
        assert.matches("netname: ", out)
        assert.not_matches("NT_STATUS", out)
      end)
    end
  end)

  describe("examples/echo-server.lua with smbtorture rpc.echo and Kerberos", function()
    local es
    setup(function()
      es = assert(examples.start("echo-server.lua", { "--keytab", KEYTAB }, "ncacn_ip_tcp:127.0.0.1[0]"))
    end)
    teardown(function()
      if es then es.close() end
    end)
    for _, flag in ipairs { "krb5,sign", "krb5,seal", "spnego,sign", "spnego,seal" } do
      it("passes all 10 sub-tests at [" .. flag .. "]", function()
        local p = assert(io.popen(string.format("env -u LD_PRELOAD %s timeout 300 smbtorture " ..
          "--use-kerberos=required --use-krb5-ccache=%q 'ncacn_ip_tcp:127.0.0.1[%d,%s,target_hostname=%s]' " ..
          "rpc.echo 2>&1", ccenv, CCACHE, es.port, flag, HOSTNAME)))
        local out = p:read("a")
        p:close()
        local ok, bad = 0, 0
        for kind in out:gmatch("\n(%a+): echo%.[%w_]+") do
          if kind == "success" then ok = ok + 1
          elseif kind ~= "test" then bad = bad + 1 end       -- failure, error, skip
        end
        assert.are.equal(0, bad, out)
        assert.are.equal(10, ok, out)
      end)
    end
  end)
end)
