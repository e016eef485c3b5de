-- Client authentication (NTLM and SPNEGO at every level) against the Samba
-- peer, and the client's refusal of tampered, replayed or unsigned replies
-- (through spec/helpers/tamper_proxy.py between us and Samba).
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local peers = require "helpers.peers"

local SEC_E_MESSAGE_ALTERED = 0x8009030F
local SEC_E_OUT_OF_SEQUENCE = 0x80090310
local RPC_S_PROTOCOL_ERROR = 1728

local share_names = peers.share_names

describe("client authentication against Samba #interop", function()
  local samba = peers.samba()
  if not samba then return end
  local host = samba.SAMBA_HOST
  local user, domain, password = samba.SAMBA_USER, "RPCSRV", samba.SAMBA_PASSWORD
  local binding = "ncacn_ip_tcp:" .. host
  local anon_names

  setup(function()
    local c = assert(dcerpc.connect(binding, "srvsvc"))
    anon_names = share_names(c)
    c:close()
  end)

  for _, auth in ipairs { "ntlm", "spnego" } do
    for _, level in ipairs { "packet", "integrity", "privacy" } do
      it(auth .. " at " .. level .. ": share list and server info as anonymous sees them", function()
        local c = assert(dcerpc.connect(binding, "srvsvc",
          { auth = auth, level = level, user = user, domain = domain, password = password }))
        local i = c:info()
        assert.are.equal(auth, i.auth_type)
        assert.are.equal(level, i.auth_level)
        assert.are.equal(domain .. "\\" .. user, i.user)
        assert.is_true(i.authenticated)
        assert.are.same(anon_names, share_names(c))        -- 42 shares: a multi-fragment reply
        assert.are.equal("RPCSRV", assert(c:NetrServerGetInfo { Level = 101 }).InfoStruct.ServerInfo101.sv101_name)
        -- a request of several fragments, each signed or sealed
        local r, e = c:NetrServerGetInfo { ServerName = "\\\\" .. string.rep("x", 12000), Level = 101 }
        assert.is_true(r ~= nil or e.executed == "yes", tostring(e))
        assert.are.equal(0, c:info().pending)
        c:close()
      end)
    end
  end

  it("takes the NT hash instead of the password (pass the hash)", function()
    local h = core.nt_hash(password)
    assert.are.equal(32, #h)
    local c = assert(dcerpc.connect(binding, "wkssvc", { user = domain .. "\\" .. user, nt_hash = h }))
    assert.are.equal("privacy", c:info().auth_level)          -- credentials alone: SPNEGO at privacy
    assert.are.equal("spnego", c:info().auth_type)
    assert.are.equal("RPCTEST", assert(c:NetrWkstaGetInfo { Level = 100 }).WkstaInfo.WkstaInfo100.wki100_langroup)
    c:close()
  end)

  it("reads sign / seal / ntlm flags from the binding", function()
    local c = assert(dcerpc.connect(binding .. "[sign,ntlm]", "srvsvc", { user = user, domain = domain, password = password }))
    assert.are.equal("integrity", c:info().auth_level)
    assert.are.equal("ntlm", c:info().auth_type)
    assert(c:NetrServerGetInfo { Level = 101 })
    c:close()
    c = assert(dcerpc.connect(binding .. "[seal]", "srvsvc", { user = user, domain = domain, password = password }))
    assert.are.equal("privacy", c:info().auth_level)
    c:close()
  end)

  it("reports a wrong password as an error value (SPNEGO: at bind)", function()
    local c, e = dcerpc.connect(binding, "srvsvc", { user = user, domain = domain, password = "wrong" })
    assert.is_nil(c)
    assert.are.equal("no", e.executed)
    assert.is_true(e.code ~= 0)
  end)

  it("reports a wrong password as an error value (NTLM: at the first call, as the server says)", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", { auth = "ntlm", user = user, domain = domain, password = "wrong" }))
    local r, e = c:NetrServerGetInfo { Level = 101 }
    assert.is_nil(r)
    assert.is_true(e.code ~= 0)
    c:close()
  end)

  it("passes Samba's refusal of the connect level through", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", { level = "connect", user = user, domain = domain, password = password }))
    local r, e = c:NetrServerGetInfo { Level = 101 }
    assert.is_nil(r)
    assert.are.equal(5, e.code)                                  -- nca_s_fault_access_denied
    c:close()
  end)

  it("refuses bad credential arguments", function()
    assert.has_error(function() dcerpc.connect(binding, "srvsvc", { user = user, nt_hash = "xyz" }) end)
    local c, e = dcerpc.connect(binding, "srvsvc", { auth = "kerberos5", user = user, password = password })
    assert.is_nil(c)
    assert.matches("not supported", e.message)
    c, e = dcerpc.connect(binding, "srvsvc", { level = "loud", user = user, password = password })
    assert.is_nil(c)
    assert.matches("level", e.message)
  end)

  describe("replies changed on the way", function()
    local port = tonumber(samba.SAMBA_SRVSVC_PORT)
    local function through_proxy(action, n, level, fn)
      local p = assert(io.popen(string.format("exec env -u LD_PRELOAD /usr/bin/python3 %s/spec/helpers/tamper_proxy.py %s %d %s %d",
        peers.root, host, port, action, n)))
      local pport = tonumber(p:read("l"):match("listening on (%d+)"))
      local ok, err = pcall(function()
        local c = assert(dcerpc.connect(string.format("ncacn_ip_tcp:127.0.0.1[%d]", pport), "srvsvc",
          { auth = "ntlm", level = level, user = user, domain = domain, password = password, timeout = 5 }))
        fn(c)
        c:close()
      end)
      os.execute("env -u LD_PRELOAD pkill -f 'tamper_proxy.py " .. host .. " " .. port .. " " .. action .. "'")
      p:close()
      if not ok then error(err, 0) end
    end

    it("passes an unchanged conversation (the proxy itself is sound)", function()
      through_proxy("none", 1, "privacy", function(c)
        assert(c:NetrServerGetInfo { Level = 101 })
        assert(c:NetrServerGetInfo { Level = 101 })
      end)
    end)

    for _, case in ipairs {
      { "flip", "privacy", SEC_E_MESSAGE_ALTERED, "a flipped bit in a sealed stub" },
      { "flip", "integrity", SEC_E_MESSAGE_ALTERED, "a flipped bit in a signed stub" },
      { "sig", "integrity", SEC_E_MESSAGE_ALTERED, "a flipped bit in the signature" },
      { "replay", "integrity", SEC_E_OUT_OF_SEQUENCE, "a replayed reply" },
      { "strip", "integrity", RPC_S_PROTOCOL_ERROR, "a reply without its verifier" },
    } do
      it("refuses " .. case[4] .. " and drops the connection", function()
        through_proxy(case[1], 2, case[2], function(c)
          assert(c:NetrServerGetInfo { Level = 101 })
          local r, e = c:NetrServerGetInfo { Level = 101 }
          assert.is_nil(r)
          if case[1] == "replay" then
            assert.is_true(e.code == SEC_E_OUT_OF_SEQUENCE or e.code == SEC_E_MESSAGE_ALTERED, tostring(e))
          else
            assert.are.equal(case[3], e.code, tostring(e))
          end
          assert.is_true(c:info().dead)
          local r2, e2 = c:NetrServerGetInfo { Level = 101 }
          assert.is_nil(r2)
          assert.are.equal("no", e2.executed)
        end)
      end)
    end
  end)
end)
