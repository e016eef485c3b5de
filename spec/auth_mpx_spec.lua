-- Several security contexts on one association ([MS-RPCE] 3.3.1.5.4,
-- security context multiplexing) against the Samba peer: c:authenticate
-- adds a context by alter_context and returns a client (a "view") on the
-- same connection whose calls use it.
local dcerpc = require "dcerpc"
local peers = require "helpers.peers"

local RPC_S_SEC_PKG_ERROR = 0x721
local RPC_S_CALL_FAILED = 0x6be
local RPC_S_CALL_FAILED_DNE = 0x6bf
local NCA_S_PROTO_ERROR = 0x1c01000b
local ACCESS_DENIED = 5

local share_names = peers.share_names

local function server_name(c)
  return assert(c:NetrServerGetInfo { Level = 101 }).InfoStruct.ServerInfo101.sv101_name
end

describe("security context multiplexing against Samba #interop", function()
  local samba = peers.samba()
  if not samba then return end
  local host = samba.SAMBA_HOST
  local binding = "ncacn_ip_tcp:" .. host
  local user, domain, password = samba.SAMBA_USER, "RPCSRV", samba.SAMBA_PASSWORD
  local single_names

  local function cred(t)
    t.user, t.domain = user, domain
    t.password = t.password or password
    return t
  end

  setup(function()
    -- what one context alone sees: the reference for the multiplexed calls
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "ntlm", level = "integrity" }))
    single_names = share_names(c)
    c:close()
  end)

  it("three contexts on one connection: NTLM integrity (bind), SPNEGO privacy, NTLM packet", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "ntlm", level = "integrity" }))
    assert.are.equal(3, c:info().features & 3)              -- Samba acks SEC_CTX_MPX | KEEP_CONN
    local c2 = assert(c:authenticate(cred { auth = "spnego", level = "privacy" }))
    local c3 = assert(c:authenticate(cred { auth = "ntlm", level = "packet" }))
    assert.are.equal(c.conn, c2.conn)                       -- one TCP connection
    assert.are.equal(c.conn, c3.conn)
    local want = {
      { c, 0, "ntlm", "integrity" }, { c2, 1, "spnego", "privacy" }, { c3, 2, "ntlm", "packet" },
    }
    for _, w in ipairs(want) do
      local i = w[1]:info()
      assert.are.equal(w[2], i.auth_context_id)
      assert.are.equal(w[3], i.auth_type)
      assert.are.equal(w[4], i.auth_level)
      assert.are.equal(domain .. "\\" .. user, i.user)
      assert.are.equal("established", i.auth_state)
      assert.are.equal(3, #i.auth_contexts)
    end
    assert.is_false(c:info().view)
    assert.is_true(c2:info().view)
    -- interleave: every context's RC4 state and sequence numbers advance on
    -- their own; 20 rounds x 3 contexts x 2 calls (one a multi-fragment reply)
    local calls = 0
    for _ = 1, 20 do
      for _, x in ipairs { c3, c, c2 } do
        assert.are.same(single_names, share_names(x))
        assert.are.equal("RPCSRV", server_name(x))
        calls = calls + 2
      end
    end
    assert.are.equal(120, calls)
    -- a request of several fragments on the sealed context
    local r, e = c2:NetrServerGetInfo { ServerName = "\\\\" .. string.rep("x", 12000), Level = 101 }
    assert.is_true(r ~= nil or e.executed == "yes", tostring(e))
    -- pipelined: sends on every context before any receive
    local hs = {}
    for _, x in ipairs { c, c2, c3, c2, c } do hs[#hs + 1] = { x, assert(x:send("NetrServerGetInfo", { Level = 101 })) } end
    for _, h in ipairs(hs) do
      assert.are.equal("RPCSRV", assert(h[1]:receive(h[2])).InfoStruct.ServerInfo101.sv101_name)
    end
    assert.is_false(c:info().dead)
    assert.are.equal(0, c:info().pending)
    -- closing a view leaves the connection; closing the original closes it
    c3:close()
    assert.has_error(function() c3:NetrServerGetInfo { Level = 101 } end, "attempt to use a closed client")
    assert.are.equal("RPCSRV", server_name(c2))
    c:close()
    assert.has_error(function() c2:NetrServerGetInfo { Level = 101 } end, "attempt to use a closed client")
  end)

  it("an anonymous bind, then the first context by alter_context, then a second", function()
    local a = assert(dcerpc.connect(binding, "srvsvc"))
    assert.is_nil(a:info().auth_type)
    local a1 = assert(a:authenticate(cred { auth = "ntlm", level = "privacy" }))
    local i = a1:info()
    assert.are.same({ 0, "ntlm", "privacy" }, { i.auth_context_id, i.auth_type, i.auth_level })
    local a2 = assert(a:authenticate(cred { auth = "spnego", level = "integrity", auth_context_id = 77 }))
    assert.are.equal(77, a2:info().auth_context_id)
    for _ = 1, 10 do
      assert.are.same(single_names, share_names(a))     -- anonymous calls carry no sec_trailer
      assert.are.same(single_names, share_names(a1))
      assert.are.same(single_names, share_names(a2))
    end
    assert.is_nil(a:info().auth_context_id)
    a:close()
  end)

  it("a connect-level context among several sends the dummy verifier; Samba applies its connect policy", function()
    -- allow dcerpc auth level connect = no (Samba's default): access denied,
    -- and the connection stays because a context above connect exists
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "spnego", level = "integrity" }))
    local cc = assert(c:authenticate(cred { auth = "ntlm", level = "connect" }))
    local r, e = cc:NetrServerGetInfo { Level = 101 }
    assert.is_nil(r)
    assert.are.equal(ACCESS_DENIED, e.code)
    assert.is_false(c:info().dead)
    assert.are.equal("RPCSRV", server_name(c))
    c:close()
  end)

  it("SPNEGO with a wrong password on an added context: nil, err; Samba then drops the connection", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "ntlm", level = "integrity" }))
    assert.are.equal("RPCSRV", server_name(c))
    local bad, e = c:authenticate(cred { auth = "spnego", level = "privacy", password = "wrong" })
    assert.is_nil(bad)
    assert.are.equal(RPC_S_SEC_PKG_ERROR, e.code)         -- fault 0x721 to the alter_context
    assert.are.equal("failed", c:info().auth_contexts[2].state)
    -- Samba answers with dcesrv_fault_disconnect: the association is gone
    local r, e2 = c:NetrServerGetInfo { Level = 101 }
    assert.is_nil(r)
    assert.are.equal(RPC_S_CALL_FAILED, e2.code)
    assert.is_true(c:info().dead)
    c:close()
  end)

  it("NTLM with a wrong password on an added context: refused at its first call; Samba drops the connection", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "spnego", level = "integrity" }))
    -- the AUTHENTICATE goes in an auth3, which nobody answers: the view is made
    local bad = assert(c:authenticate(cred { auth = "ntlm", level = "integrity", password = "wrong" }))
    local r, e = bad:NetrServerGetInfo { Level = 101 }
    assert.is_nil(r)
    assert.are.equal(NCA_S_PROTO_ERROR, e.code)           -- Samba marked the context invalid
    assert.are.equal("no", e.executed)
    assert.matches("may have refused the credentials", e.message, 1, true)
    r, e = c:NetrServerGetInfo { Level = 101 }
    assert.is_nil(r)
    assert.are.equal(RPC_S_CALL_FAILED, e.code)
    assert.is_true(c:info().dead)
    c:close()
  end)

  it("no second context without the server's multiplexing ack", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "ntlm", level = "integrity", feature_negotiation = false }))
    assert.is_nil(c:info().features)
    local v, e = c:authenticate(cred { auth = "ntlm", level = "packet" })
    assert.is_nil(v)
    assert.are.equal(RPC_S_CALL_FAILED_DNE, e.code)
    assert.matches("did not acknowledge security context multiplexing", e.message, 1, true)
    assert.are.equal("RPCSRV", server_name(c))            -- nothing was sent, nothing lost
    c:close()
    -- the first context after an anonymous bind is not multiplexing
    local a = assert(dcerpc.connect(binding, "srvsvc", { feature_negotiation = false }))
    local a1 = assert(a:authenticate(cred { auth = "spnego", level = "privacy" }))
    assert.are.same(single_names, share_names(a1))
    assert.is_nil((a:authenticate(cred { auth = "ntlm", level = "packet" })))
    a:close()
  end)

  it("contexts used from several tasks at once on one connection", function()
    local c = assert(dcerpc.connect(binding, "srvsvc", cred { auth = "ntlm", level = "privacy" }))
    local views = { c, assert(c:authenticate(cred { auth = "spnego", level = "integrity" })),
                    assert(c:authenticate(cred { auth = "ntlm", level = "packet" })) }
    local done, bad = 0, {}
    for k = 1, 6 do
      dcerpc.spawn(function()
        local v = views[(k - 1) % 3 + 1]
        for _ = 1, 5 do
          local ok, names = pcall(share_names, v)
          if not ok or #names ~= #single_names then bad[#bad + 1] = tostring(names) end
        end
        done = done + 1
      end)
    end
    dcerpc.run()
    assert.are.same({}, bad)
    assert.are.equal(6, done)
    c:close()
  end)
end)
