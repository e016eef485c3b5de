-- ad_dc_spec: the Samba AD DC peer (test/peers/samba-ad-dc.sh through
-- peers.ad_dc(); it stops samba-member while it runs) as a server for our
-- client, with NTLM, compared with what Samba's rpcclient says:
--   samr user enumeration over ncacn_ip_tcp at privacy (enumdomusers [seal]),
--   lsarpc LsarLookupNames over ncacn_np (lookupnames),
--   srvsvc NetrShareEnum over ncacn_np (netshareenumall; pipes only on the DC).
-- And the Kerberos baseline for the Kerberos mechanism to match: rpcclient
-- --use-kerberos=required against the DC over [krb5,seal], [spnego,seal] and
-- ncacn_np, with a ccache from alice's keytab (spec/helpers/rpcclient.lua).
-- The last test gives the member back (peers.samba()) so the specs after this
-- one find it. Under CI=true nothing is skipped.

local peers = require "helpers.peers"
local rpcclient = require "helpers.rpcclient"
local dcerpc = require "dcerpc"

local CI = os.getenv("CI") == "true"
local MAXIMUM_ALLOWED = 0x02000000
local STATUS_MORE_ENTRIES = 0x105

local dc, dc_why
local function need_dc()
  if dc == nil then
    dc, dc_why = peers.ad_dc()          -- raises under CI when the DC cannot start
    dc = dc or false
  end
  if not dc then
    assert(not CI, "Samba AD DC unavailable under CI: " .. tostring(dc_why))
    pending("Samba AD DC not available: " .. tostring(dc_why))
    return nil
  end
  return dc
end

local function user_of(env) return env.SAMBA_DC_DOMAIN .. "\\" .. env.SAMBA_DC_USER end

-- The DC domain's normal user accounts through samr (UserAccountControl
-- USER_NORMAL_ACCOUNT, as rpcclient's enumdomusers asks: DC1$ is left out),
-- as "name=rid", sorted.
local function samr_users(c, env)
  local r = assert(c:SamrConnect5 { ServerName = "\\\\" .. env.SAMBA_DC_HOST, DesiredAccess = MAXIMUM_ALLOWED,
    InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } } })
  local sh = r.ServerHandle
  local sid = assert(c:SamrLookupDomainInSamServer { ServerHandle = sh, Name = env.SAMBA_DC_DOMAIN }).DomainId
  assert.matches("^S%-1%-5%-21%-", sid)
  local dh = assert(c:SamrOpenDomain { ServerHandle = sh, DesiredAccess = MAXIMUM_ALLOWED, DomainId = sid }).DomainHandle
  local users, ctx = {}, 0
  repeat
    r = assert(c:SamrEnumerateUsersInDomain { DomainHandle = dh, EnumerationContext = ctx,
                                              UserAccountControl = 0x10, PreferedMaximumLength = 0x100 })
    for _, u in ipairs(r.Buffer and r.Buffer.Buffer or {}) do users[#users + 1] = u.Name .. "=" .. u.RelativeId end
    ctx = r.EnumerationContext
  until r.result ~= STATUS_MORE_ENTRIES
  assert(c:SamrCloseHandle { SamHandle = dh })
  assert(c:SamrCloseHandle { SamHandle = sh })
  table.sort(users)
  return users, sid
end

describe("#interop the Samba AD DC with our client (NTLM)", function()
  it("the peer: realm, DC name, keytab and a ccache with alice's TGT", function()
    local env = need_dc()
    if not env then return end
    assert.are.equal("RPCTEST.LOCAL", env.SAMBA_DC_REALM)
    assert.are.equal("RPCTEST", env.SAMBA_DC_DOMAIN)
    assert.are.equal("dc1.rpctest.local", env.SAMBA_DC_HOSTNAME)
    assert.are.equal("127.0.0.1", env.SAMBA_DC_HOST)
    assert.is_truthy(tonumber(env.SAMBA_DC_SAMR_PORT))
    local t = rpcclient.tickets(env, env.SAMBA_DC_KRB5CCNAME)
    assert.is_true(t["krbtgt/RPCTEST.LOCAL@RPCTEST.LOCAL"], "no TGT in " .. env.SAMBA_DC_KRB5CCNAME)
    -- the DC listens on loopback only
    local out = rpcclient.sh("ss -Htln '( sport = :88 or sport = :135 or sport = :445 )'")
    local n = 0
    for line in out:gmatch("[^\n]+") do
      local addr = line:match("^%S+%s+%S+%s+%S+%s+(%S+)")
      assert.is_truthy(addr and (addr:match("^127%.") or addr:match("^%[::1%]:")), line)
      n = n + 1
    end
    assert.is_true(n >= 3, out)
  end)

  for _, auth in ipairs { "ntlm", "spnego" } do
    it(("samr over ncacn_ip_tcp at privacy (%s): the users rpcclient enumdomusers [seal] lists"):format(auth), function()
      local env = need_dc()
      if not env then return end
      local want = rpcclient.users(rpcclient.ntlm(env, "ncacn_ip_tcp:127.0.0.1[seal]", "enumdomusers"))
      local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. env.SAMBA_DC_HOST, "samr", { auth = auth, level = "privacy",
        user = user_of(env), password = env.SAMBA_DC_PASSWORD, timeout = 20, connect_timeout = 10 }))
      local info = c.conn:info()
      assert.are.equal("ncacn_ip_tcp", info.transport)
      assert.are.equal("privacy", info.auth_level)
      assert.are.equal(auth, info.auth_type)
      assert.are.equal(tonumber(env.SAMBA_DC_SAMR_PORT), tonumber(c.binding:match("%[(%d+)")))
      local got = samr_users(c, env)
      c:close()
      assert.are.same(want, got)
      local set = {}
      for _, u in ipairs(got) do set[u:match("^[^=]+")] = true end
      assert.is_true(set.alice and set.Administrator and set.krbtgt and set.Guest)
      assert.truthy(table.concat(got, " "):find("Administrator=500", 1, true))
    end)
  end

  it("lsarpc LsarLookupNames over ncacn_np: the SIDs and types rpcclient lookupnames prints", function()
    local env = need_dc()
    if not env then return end
    local names = { "alice", "Administrator", "krbtgt", "Guest" }
    local want = rpcclient.names(rpcclient.ntlm(env, "ncacn_np:127.0.0.1", "lookupnames " .. table.concat(names, " ")))
    local lsarpc = require "dcerpc.iface.lsarpc"
    local L = lsarpc.helpers
    local c = assert(dcerpc.connect("ncacn_np:127.0.0.1", "lsarpc", { user = env.SAMBA_DC_USER,
      password = env.SAMBA_DC_PASSWORD, domain = env.SAMBA_DC_DOMAIN, timeout = 20 }))
    assert.are.equal("ncacn_np", c.conn:info().transport)
    local pol = assert(c:LsarOpenPolicy2 { SystemName = "\\\\127.0.0.1", ObjectAttributes = L.object_attributes(true),
      DesiredAccess = MAXIMUM_ALLOWED }).PolicyHandle
    local r = assert(c:LsarLookupNames { PolicyHandle = pol, Count = #names, Names = names,
      TranslatedSids = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0 })
    assert.are.equal(#names, r.MappedCount)
    local t = L.translate_names(r)
    assert.are.equal(#names, #t)
    local uses = lsarpc.constants and lsarpc.constants.SID_NAME_USE or {}
    for i, n in ipairs(names) do
      assert.is_table(want[n], "rpcclient did not map " .. n)
      assert.are.equal(want[n].sid, t[i].Sid, n)
      local use = t[i].Use
      if type(use) ~= "number" then use = uses[use] or use end
      assert.are.equal(want[n].use, use, n)
      assert.are.equal(env.SAMBA_DC_DOMAIN, t[i].Domain)
    end
    assert.matches("%-500$", t[2].Sid)
    assert(c:LsarClose { ObjectHandle = pol })
    c:close()
  end)

  it("srvsvc NetrShareEnum over ncacn_np (named pipes only on the DC): rpcclient's netshareenumall", function()
    local env = need_dc()
    if not env then return end
    assert.is_nil(env.SAMBA_DC_SRVSVC_PORT)
    local want = rpcclient.shares(rpcclient.ntlm(env, "ncacn_np:127.0.0.1", "netshareenumall"))
    local c = assert(dcerpc.connect("ncacn_np:127.0.0.1", "srvsvc", { user = env.SAMBA_DC_USER,
      password = env.SAMBA_DC_PASSWORD, domain = env.SAMBA_DC_DOMAIN, timeout = 20 }))
    local got = peers.share_names(c)
    c:close()
    assert.are.same(want, got)
    assert.are.same({ "IPC$", "netlogon", "sysvol" }, got)
  end)
end)

describe("#interop Kerberos baseline: rpcclient --use-kerberos=required against the DC", function()
  -- binding, the service ticket rpcclient must get, the DCE/RPC auth_type
  -- its PDUs must carry (16 Kerberos, 9 SPNEGO; none over SMB, which carries
  -- the Kerberos session setup itself), the auth_level (6 privacy)
  local bindings = {
    { "ncacn_ip_tcp:127.0.0.1[krb5,seal]", "host/dc1.rpctest.local@RPCTEST.LOCAL", 16, 6 },
    { "ncacn_ip_tcp:127.0.0.1[spnego,seal]", "host/dc1.rpctest.local@RPCTEST.LOCAL", 9, 6 },
    { "ncacn_np:127.0.0.1", "cifs/dc1.rpctest.local@RPCTEST.LOCAL" },
  }
  for _, b in ipairs(bindings) do
    it("enumdomusers over " .. b[1] .. " with Kerberos only, as NTLM lists them", function()
      local env = need_dc()
      if not env then return end
      local want = rpcclient.users(rpcclient.ntlm(env, "ncacn_ip_tcp:127.0.0.1[seal]", "enumdomusers"))
      local out, ccache = rpcclient.kerberos(env, b[1], "enumdomusers", { debug = true })
      assert.are.same(want, rpcclient.users(out))
      -- it was Kerberos: the ccache now holds the ticket for the DC's service
      assert.is_true(rpcclient.tickets(env, ccache)[b[2]], "no ticket for " .. b[2])
      local types, levels = rpcclient.auth(out)
      if b[3] then
        assert.are.same({ [b[3]] = true }, types)
        assert.are.same({ [b[4]] = true }, levels)
      else
        assert.are.same({}, types)
      end
      assert.truthy(out:find("Starting GENSEC %a*%s*mechanism gse_krb5"), "no gse_krb5 in rpcclient's log")
    end)
  end

  it("without a ticket it fails (no fallback to NTLM)", function()
    local env = need_dc()
    if not env then return end
    local empty = env.SAMBA_DC_DIR .. "/empty.ccache"
    os.remove(empty)
    local out, ok = rpcclient.sh(string.format(
      "env KRB5_CONFIG=%s KRB5CCNAME=%s KRB5_CLIENT_KTNAME=/nonexistent timeout 60 rpcclient -s %s --use-kerberos=required -N -I 127.0.0.1 %s -c enumdomusers",
      rpcclient.quote(env.SAMBA_DC_KRB5_CONFIG), rpcclient.quote("FILE:" .. empty),
      rpcclient.quote(env.SAMBA_DC_CLIENT_CONF),
      rpcclient.quote(rpcclient.krb5_binding(env, "ncacn_ip_tcp:127.0.0.1[krb5,seal]"))))
    assert.is_false(ok, out)
    assert.is_nil(out:find("user:%[alice%]"))
  end)
end)

-- Our client with Kerberos against the DC: samr over TCP with auth types 16
-- and 9 at packet, integrity and privacy; lsarpc and srvsvc over ncacn_np with
-- a Kerberos SMB session; each equal to rpcclient --use-kerberos=required.
-- Tickets come from a private copy of the DC's ccache (alice's TGT), so the
-- spec can see which service tickets were fetched.
describe("#interop the Samba AD DC with our client (Kerberos)", function()
  local core = require "dcerpc.core"
  local function krb_env()
    local env = need_dc()
    if not env then return nil end
    core.setenv("KRB5_CONFIG", env.SAMBA_DC_KRB5_CONFIG)
    local path = os.tmpname()
    assert(rpcclient.kinit(env, path))
    return env, "FILE:" .. path, path
  end

  for _, case in ipairs {
    { "krb5", "krb5", 16 }, { "spnego", "spnego", 9 },
  } do
    for _, level in ipairs { "packet", "integrity", "privacy" } do
      it(("samr over ncacn_ip_tcp, %s at %s: the users rpcclient lists with Kerberos"):format(case[1], level), function()
        local env, ccache, path = krb_env()
        if not env then return end
        local want = rpcclient.users(rpcclient.kerberos(env, "ncacn_ip_tcp:127.0.0.1[krb5,seal]", "enumdomusers"))
        local c = assert(dcerpc.connect(("ncacn_ip_tcp:%s[%s,target_hostname=%s]"):format(env.SAMBA_DC_HOST,
          case[2], env.SAMBA_DC_HOSTNAME), "samr",
          { level = level, ccache = ccache, kerberos = case[1] == "spnego" and "only" or nil, timeout = 20 }))
        local info = c:info()
        assert.are.equal(case[2], info.auth_type)
        assert.are.equal(level, info.auth_level)
        assert.are.same(want, (samr_users(c, env)))
        c:close()
        assert.is_true(rpcclient.tickets(env, path)["host/dc1.rpctest.local@RPCTEST.LOCAL"])
        os.remove(path)
      end)
    end
  end

  it("samr with Kerberos from a password: the library gets the TGT itself", function()
    local env, _, path = krb_env()
    if not env then return end
    local want = rpcclient.users(rpcclient.kerberos(env, "ncacn_ip_tcp:127.0.0.1[krb5,seal]", "enumdomusers"))
    local c = assert(dcerpc.connect(("ncacn_ip_tcp:%s[krb5,seal,target_hostname=%s]"):format(env.SAMBA_DC_HOST,
      env.SAMBA_DC_HOSTNAME), "samr", { user = env.SAMBA_DC_USER, domain = env.SAMBA_DC_REALM,
      password = env.SAMBA_DC_PASSWORD, timeout = 20 }))
    assert.are.equal("krb5", c:info().auth_type)
    assert.are.same(want, (samr_users(c, env)))
    c:close()
    local _, e = dcerpc.connect(("ncacn_ip_tcp:%s[krb5,seal,target_hostname=%s]"):format(env.SAMBA_DC_HOST,
      env.SAMBA_DC_HOSTNAME), "samr", { user = env.SAMBA_DC_USER, domain = env.SAMBA_DC_REALM,
      password = "wrong", timeout = 20 })
    assert.is_table(e)
    assert.matches("password", e.message)
    os.remove(path)
  end)

  it("lsarpc LsarLookupNames over ncacn_np with a Kerberos SMB session: rpcclient's answer", function()
    local env, ccache, path = krb_env()
    if not env then return end
    local names = { "alice", "Administrator", "krbtgt" }
    local want = rpcclient.names(rpcclient.kerberos(env, "ncacn_np:127.0.0.1", "lookupnames " .. table.concat(names, " ")))
    local lsarpc = require "dcerpc.iface.lsarpc"
    local L = lsarpc.helpers
    local c = assert(dcerpc.connect(("ncacn_np:%s[krb5,target_hostname=%s]"):format(env.SAMBA_DC_HOST,
      env.SAMBA_DC_HOSTNAME), "lsarpc", { ccache = ccache, level = "privacy", timeout = 20 }))
    local pol = assert(c:LsarOpenPolicy2 { SystemName = "\\127.0.0.1", ObjectAttributes = L.object_attributes(true),
      DesiredAccess = MAXIMUM_ALLOWED }).PolicyHandle
    local r = assert(c:LsarLookupNames { PolicyHandle = pol, Count = #names, Names = names,
      TranslatedSids = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0 })
    local t = L.translate_names(r)
    for i, n in ipairs(names) do assert.are.equal(want[n].sid, t[i].Sid, n) end
    assert(c:LsarClose { ObjectHandle = pol })
    c:close()
    local tk = rpcclient.tickets(env, path)
    assert.is_true(tk["cifs/dc1.rpctest.local@RPCTEST.LOCAL"], "the SMB session did not use Kerberos")
    assert.is_true(tk["host/dc1.rpctest.local@RPCTEST.LOCAL"], "the RPC bind did not use Kerberos")
    os.remove(path)
  end)

  it("srvsvc over an encrypted Kerberos SMB session (3.1.1 GCM and CCM, 3.0): the keys come from the Kerberos session key", function()
    local env, ccache, path = krb_env()
    if not env then return end
    local want = rpcclient.shares(rpcclient.kerberos(env, "ncacn_np:127.0.0.1", "netshareenumall"))
    for _, case in ipairs { { "3.1.1", "aes-128-gcm" }, { "3.1.1", "aes-256-gcm" }, { "3.1.1", "aes-128-ccm" },
                            { "3.0", "aes-128-ccm" } } do
      local c = assert(dcerpc.connect(("ncacn_np:%s[target_hostname=%s]"):format(env.SAMBA_DC_HOST,
        env.SAMBA_DC_HOSTNAME), "srvsvc", { ccache = ccache, kerberos = "only", smb_encrypt = true, timeout = 20,
        smb_max_dialect = case[1], smb_ciphers = case[1] == "3.1.1" and { case[2] } or nil }))
      assert.are.same(want, peers.share_names(c))
      local smb = c:info().smb
      assert.are.equal(case[1], smb.dialect)
      assert.is_true(smb.encrypting)
      assert.are.equal(case[2], smb.cipher)
      assert.is_false(smb.anonymous)
      c:close()
    end
    os.remove(path)
  end)

  it("srvsvc over ncacn_np, the SMB session alone on Kerberos (kerberos = \"only\")", function()
    local env, ccache, path = krb_env()
    if not env then return end
    local want = rpcclient.shares(rpcclient.kerberos(env, "ncacn_np:127.0.0.1", "netshareenumall"))
    local c = assert(dcerpc.connect(("ncacn_np:%s[target_hostname=%s]"):format(env.SAMBA_DC_HOST, env.SAMBA_DC_HOSTNAME),
      "srvsvc", { ccache = ccache, kerberos = "only", timeout = 20 }))
    assert.is_nil(c:info().auth_type)                  -- no RPC-level authentication inside the pipe
    assert.are.same(want, peers.share_names(c))
    c:close()
    assert.is_true(rpcclient.tickets(env, path)["cifs/dc1.rpctest.local@RPCTEST.LOCAL"])
    os.remove(path)
  end)
end)

-- What our client sends the DC with Kerberos, dissected by Wireshark: the
-- binds over TCP (types 16 and 9) and the SMB2 session setup with its
-- Kerberos AP-REQ, signed and sealed SMB traffic and the RPC inside the pipe.
describe("#interop #tshark our Kerberos traffic to the DC dissects cleanly", function()
  local capture = require "helpers.capture"
  it("samr over TCP (krb5 and spnego, integrity and privacy) and lsarpc over a Kerberos SMB session", function()
    local env = need_dc()
    if not env then return end
    if not capture.available() then
      if CI then error("tshark/dumpcap missing under CI") end
      return
    end
    local core = require "dcerpc.core"
    core.setenv("KRB5_CONFIG", env.SAMBA_DC_KRB5_CONFIG)
    local path = os.tmpname()
    assert(rpcclient.kinit(env, path))
    local ccache = "FILE:" .. path
    local n_apreq
    local list = capture.run(function()
      for _, a in ipairs { { "krb5", "integrity" }, { "krb5", "privacy" }, { "spnego", "integrity" }, { "spnego", "privacy" } } do
        local c = assert(dcerpc.connect(("ncacn_ip_tcp:%s[%s,target_hostname=%s]"):format(env.SAMBA_DC_HOST, a[1],
          env.SAMBA_DC_HOSTNAME), "samr", { level = a[2], ccache = ccache, timeout = 20,
                                            kerberos = a[1] == "spnego" and "only" or nil }))
        samr_users(c, env)
        c:close()
      end
      local c = assert(dcerpc.connect(("ncacn_np:%s[krb5,target_hostname=%s]"):format(env.SAMBA_DC_HOST,
        env.SAMBA_DC_HOSTNAME), "lsarpc", { ccache = ccache, level = "privacy", timeout = 20 }))
      c:close()
    end, 20, { filter = string.format("port 135 or port 445 or port %s", env.SAMBA_DC_SAMR_PORT),
               mine = string.format("tcp.dstport in {135, 445, %s}", env.SAMBA_DC_SAMR_PORT),
               inspect = function(pcap, mine)
                 local out = capture.sh(string.format("env -u LD_PRELOAD tshark -n -r %q -Y '%s && kerberos.msg_type == 14' " ..
                                                      "-T fields -e frame.number", pcap, mine))
                 n_apreq = select(2, out:gsub("\n", ""))
               end })
    os.remove(path)
    list = "\n" .. list
    assert.matches("\n%d+\t11\t16\t5", list)             -- bind, Kerberos, integrity
    assert.matches("\n%d+\t0[,%d]*\t9[,%d]*\t6", list)    -- request, SPNEGO, privacy
    -- four binds over TCP, and the SMB2 session setup and the bind inside the pipe
    assert.is_true(n_apreq >= 6, "AP-REQ frames: " .. tostring(n_apreq))
  end)
end)

-- The examples take -k as Samba's tools do: Kerberos first, from the default
-- ccache (KRB5CCNAME). svcctl is on named pipes only.
describe("#interop the examples with -k against the DC", function()
  -- an example run with this process's module paths and environment (an
  -- ASan run keeps its LD_PRELOAD: the example loads the ASan build)
  local function example(env, path, args)
    local p = assert(io.popen(string.format("env KRB5_CONFIG=%s KRB5CCNAME=%s LUA_PATH=%s LUA_CPATH=%s lua5.4 %s/examples/%s 2>&1",
      rpcclient.quote(env.SAMBA_DC_KRB5_CONFIG), rpcclient.quote("FILE:" .. path), rpcclient.quote(package.path),
      rpcclient.quote(package.cpath), rpcclient.quote(peers.root), args)))
    local out = p:read("a")
    local ok = p:close()
    return out, ok == true
  end

  it("services.lua -k (svcctl over a Kerberos SMB session): the services net rpc service list gives", function()
    local env = need_dc()
    if not env then return end
    local path = assert(rpcclient.kinit(env, os.tmpname()))
    local want = {}
    local out = rpcclient.sh(string.format("env KRB5_CONFIG=%s KRB5CCNAME=%s timeout 60 net rpc service list -S %s -I 127.0.0.1 --use-kerberos=required -s %s </dev/null",
      rpcclient.quote(env.SAMBA_DC_KRB5_CONFIG), rpcclient.quote("FILE:" .. path), env.SAMBA_DC_HOSTNAME,
      rpcclient.quote(env.SAMBA_DC_CLIENT_CONF)))
    for name in out:gmatch("\n?([%w_%$]+)%s+\"") do want[#want + 1] = name end
    table.sort(want)
    local got, ok = example(env, path, string.format("services.lua 'ncacn_np:%s[target_hostname=%s]' -k",
      env.SAMBA_DC_HOST, env.SAMBA_DC_HOSTNAME))
    assert.is_true(ok, got)
    local names = {}
    for name in got:gmatch("([%w_%$]+)%s+[A-Z_]+%s+[^\n]*\n") do names[#names + 1] = name end
    table.sort(names)
    assert.is_true(#want >= 3, out)
    assert.are.same(want, names)
    assert.is_true(rpcclient.tickets(env, path)["cifs/dc1.rpctest.local@RPCTEST.LOCAL"])
    os.remove(path)
    -- and with the RPC bind inside the pipe on Kerberos too, sealed: the
    -- same list, a host/ ticket next to the cifs/ one
    path = assert(rpcclient.kinit(env, os.tmpname()))
    got, ok = example(env, path, string.format("services.lua 'ncacn_np:%s[krb5,seal,target_hostname=%s]' -k",
      env.SAMBA_DC_HOST, env.SAMBA_DC_HOSTNAME))
    assert.is_true(ok, got)
    names = {}
    for name in got:gmatch("([%w_%$]+)%s+[A-Z_]+%s+[^\n]*\n") do names[#names + 1] = name end
    table.sort(names)
    assert.are.same(want, names)
    local tk = rpcclient.tickets(env, path)
    assert.is_true(tk["cifs/dc1.rpctest.local@RPCTEST.LOCAL"], "the SMB session did not use Kerberos")
    assert.is_true(tk["host/dc1.rpctest.local@RPCTEST.LOCAL"], "the svcctl bind did not use Kerberos")
    os.remove(path)
  end)

  it("users.lua -k over TCP, from the ccache and from a password: rpcclient enumdomusers with Kerberos", function()
    local env = need_dc()
    if not env then return end
    local path = assert(rpcclient.kinit(env, os.tmpname()))
    local want = rpcclient.users(rpcclient.kerberos(env, "ncacn_ip_tcp:127.0.0.1", "enumdomusers"))
    local b = string.format("'ncacn_ip_tcp:%s[target_hostname=%s]'", env.SAMBA_DC_HOST, env.SAMBA_DC_HOSTNAME)
    local got, ok = example(env, path, "users.lua " .. b .. " -k")
    assert.is_true(ok, got)
    assert.are.same(want, rpcclient.users(got))
    assert.is_true(#want >= 4, got)
    -- the ccache's host/ ticket: Kerberos over TCP, not an anonymous bind
    assert.is_true(rpcclient.tickets(env, path)["host/dc1.rpctest.local@RPCTEST.LOCAL"])
    os.remove(path)
    -- no ccache at all: the library gets the TGT from the password
    got, ok = example(env, "/nonexistent/cc", string.format("users.lua %s %s@%s %s -k", b, env.SAMBA_DC_USER,
                                                             env.SAMBA_DC_REALM, env.SAMBA_DC_PASSWORD))
    assert.is_true(ok, got)
    assert.are.same(want, rpcclient.users(got))
  end)

  it("shares.lua -k and serverinfo.lua -k over a Kerberos SMB session: = rpcclient netshareenumall / srvinfo", function()
    local env = need_dc()
    if not env then return end
    local path = assert(rpcclient.kinit(env, os.tmpname()))
    local want = rpcclient.shares(rpcclient.kerberos(env, "ncacn_np:127.0.0.1", "netshareenumall"))
    local info = rpcclient.kerberos(env, "ncacn_np:127.0.0.1", "srvinfo")
    local b = string.format("'ncacn_np:%s[target_hostname=%s]'", env.SAMBA_DC_HOST, env.SAMBA_DC_HOSTNAME)
    local got, ok = example(env, path, "shares.lua " .. b .. " -k")
    assert.is_true(ok, got)
    local names = {}
    for line in got:gmatch("[^\n]+") do names[#names + 1] = (line:sub(1, 20):gsub("%s+$", "")) end
    table.sort(names)
    assert.are.same(want, names)
    got, ok = example(env, path, "serverinfo.lua " .. b .. " -k")
    assert.is_true(ok, got)
    -- rpcclient srvinfo: "DC1  Wk Sv PDC Tim NT  Samba 4.17..." and "platform_id : 500"
    local name = assert(info:match("^%s*(%S+)"))
    assert.matches("server name:%s+" .. name, got)
    assert.matches("platform id:%s+" .. assert(info:match("platform_id%s*:%s*(%d+)")), got)
    assert.is_true(rpcclient.tickets(env, path)["cifs/dc1.rpctest.local@RPCTEST.LOCAL"])
    os.remove(path)
  end)

  it("lookupsid.lua -k: the SIDs rpcclient lookupnames gives with Kerberos", function()
    local env = need_dc()
    if not env then return end
    local path = assert(rpcclient.kinit(env, os.tmpname()))
    local want = rpcclient.names(rpcclient.kerberos(env, "ncacn_np:127.0.0.1", "lookupnames alice Administrator"))
    local got, ok = example(env, path, string.format("lookupsid.lua 'ncacn_np:%s[target_hostname=%s]' alice Administrator -k",
      env.SAMBA_DC_HOST, env.SAMBA_DC_HOSTNAME))
    assert.is_true(ok, got)
    for _, n in ipairs { "alice", "Administrator" } do
      assert.truthy(got:find(want[n].sid .. "  " .. n, 1, true), got)
    end
    os.remove(path)
  end)
end)

describe("#interop back to samba-member", function()
  it("peers.samba() stops the DC and gives the member back, working", function()
    if not dc then return end
    local env = assert(peers.samba())
    assert.is_false(peers.running("samba-ad-dc"))
    local c = assert(dcerpc.connect("ncacn_np:" .. env.SAMBA_HOST, "srvsvc", { user = env.SAMBA_USER,
      password = env.SAMBA_PASSWORD, timeout = 20 }))
    assert.is_true(#peers.share_names(c) > 1)
    c:close()
    for _, s in ipairs(peers.swaps) do
      print(("swap %s -> %s: %.1f s"):format(s.stopped, s.started, s.seconds))
    end
  end)
end)
