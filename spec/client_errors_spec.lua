-- client_errors_spec: what a client user meets when something goes wrong
-- (docs/client.md, "Errors" and "Status rules"): an unknown interface name,
-- error values (concatenation, tostring, ==, err:is), the status rules of
-- returned NTSTATUS / WERROR / HRESULT values, timeouts and refusals that
-- name the peer and the stage, and refused credentials that say what to
-- check (against the Samba peer).
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"
local status = require "dcerpc.status"
local peers = require "helpers.peers"

local PYTHON = "env -u LD_PRELOAD /usr/bin/python3"
local RPC_S_SERVER_UNAVAILABLE = 1722
local RPC_S_CALL_CANCELLED = 1818
local RPC_S_SEC_PKG_ERROR = 0x721

-- A port nothing listens on: bound, then closed.
local function dead_port()
  local l = assert(core.listen_tcp("127.0.0.1", 0))
  local port = l:port()
  l:close()
  return port
end

local function is_error_object(e)
  return type(e) == "table" and getmetatable(e) == core.error_mt
end

------------------------------------------------------------------ interface

describe("dcerpc.interface with a name that is not installed", function()
  it("raises one short error listing what is installed and how to describe it", function()
    local ok, msg = pcall(dcerpc.interface, "winreg2")
    assert.is_false(ok)
    assert.matches('no interface named "winreg2"', msg, 1, true)
    for _, name in ipairs { "srvsvc", "samr", "epm", "wkssvc", "lsarpc" } do
      assert.matches("%f[%w]" .. name .. "%f[^%w_]", msg)
    end
    assert.matches("docs/ndr-dsl.md", msg, 1, true)
    assert.matches("dcerpc.idl.load(path)", msg, 1, true)
    assert.is_nil(msg:find("no file", 1, true))                     -- not require's search list
    local _, lines = msg:gsub("\n", "")
    assert.is_true(lines <= 2, msg)
  end)

  it("points at the caller's line", function()
    local ok, msg = pcall(function() local i = dcerpc.interface "nosuch"; return i end)
    assert.is_false(ok)
    assert.matches("client_errors_spec.lua:%d+: dcerpc.interface: no interface", msg)
  end)

  it("lists every installed file it finds on package.path, and a broken one shows its own error", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/dcerpc/iface"))
    local f = assert(io.open(dir .. "/dcerpc/iface/zz_broken.lua", "w"))
    f:write("local ndr = require 'dcerpc.ndr'\nreturn ndr.interface {\n  name = 'zz_broken' uuid = 1,\n}\n")
    f:close()
    local saved = package.path
    package.path = dir .. "/?.lua;" .. package.path
    local ok1, listed = pcall(dcerpc.interface, "zz_absent")
    local ok2, broken = pcall(dcerpc.interface, "zz_broken")
    package.path = saved
    package.loaded["dcerpc.iface.zz_broken"] = nil
    os.execute("rm -rf " .. dir)
    assert.is_false(ok1)
    assert.matches("zz_broken", listed, 1, true)
    assert.is_truthy(dcerpc.shipped_interfaces and #dcerpc.shipped_interfaces() >= 9)
    assert.is_false(ok2)
    assert.matches("zz_broken.lua:3:", broken, 1, true)             -- the syntax error, where it is
    assert.is_nil(broken:find("no interface named", 1, true))
  end)

  it("passes a description table through and refuses a name that cannot be one", function()
    local srvsvc = dcerpc.interface "srvsvc"
    assert.are.equal(srvsvc, dcerpc.interface(srvsvc))
    assert.has_error(function() dcerpc.interface "../etc/passwd" end)
    assert.has_error(function() dcerpc.interface(42) end)
  end)
end)

------------------------------------------------------------------ error values

describe("error values", function()
  local e = core.error(5, nil, "boom", "no")

  it("tostring: NAME (0xCODE): message", function()
    assert.are.equal("nca_s_fault_access_denied (0x00000005): boom", tostring(e))
    assert.are.equal("STATUS_ACCESS_DENIED (0xc0000022): no", tostring(core.error(0xC0000022, nil, "no")))
    assert.are.equal("0x12345678 (0x12345678): odd", tostring(core.error(0x12345678, nil, "odd")))
  end)

  it("concatenate on either side, with strings, numbers and each other", function()
    assert.are.equal("failed: " .. tostring(e), "failed: " .. e)
    assert.are.equal(tostring(e) .. " (retrying)", e .. " (retrying)")
    assert.are.equal("1" .. tostring(e), 1 .. e)
    assert.are.equal(tostring(e) .. tostring(e), e .. e)
    assert.are.equal("a" .. tostring(e) .. "b", "a" .. e .. "b")
    assert.has_error(function() return e .. {} end, "attempt to concatenate a table value")
    assert.has_error(function() return e .. nil end)
  end)

  it("compare equal when code and name are", function()
    assert.is_true(e == core.error(5, nil, "another message", "maybe"))
    assert.is_false(e == core.error(6, nil, "boom", "no"))
    assert.is_false(e == core.error(5, "ERROR_ACCESS_DENIED", "boom"))  -- same code, other family
    assert.is_true(e ~= core.error(1726))
    assert.is_false(e == 5)                                               -- a number is never an error object
  end)

  it("err:is(code | name, ...) and status.is(v, ...)", function()
    assert.is_true(e:is(5))
    assert.is_true(e:is("nca_s_fault_access_denied"))
    assert.is_true(e:is(1726, "x", 5))
    assert.is_false(e:is(6, "ERROR_ACCESS_DENIED"))
    local nt = core.error(0xC0000022)
    assert.is_true(nt:is(-1073741790))                    -- the signed reading of 0xC0000022
    assert.is_true(nt:is(status.ntstatus.STATUS_ACCESS_DENIED))
    assert.has_error(function() e:is() end)
    assert.has_error(function() e:is({}) end)
    assert.is_true(status.is(e, 5))
    assert.is_false(status.is(nil, 5))
    assert.is_false(status.is("a string error", 5))
    assert.is_false(status.is({ code = 5 }, 5))
  end)

  it("every kind the client returns shares the metatable", function()
    local _, be = dcerpc.binding("nonsense")                              -- binding
    local _, te = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. dead_port() .. "]", "srvsvc")  -- transport
    local _, de = ndr.decode(ndr.uint32, "\1")                            -- NDR decode
    local _, ae = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[1]", "srvsvc", { auth = "kerberos9" })
    local se = status.error(0xC0000022, "ntstatus")
    for _, x in ipairs { be, te, de, ae, se } do
      assert.is_true(is_error_object(x), tostring(x))
      assert.are.equal("string", type("x" .. x))
    end
  end)
end)

------------------------------------------------------------------ a Lua server

-- An interface whose functions return each status family, and one that sleeps.
local stat_iface = ndr.interface {
  name = "stat_test", uuid = "5e7a7e57-0000-4000-8000-0000000000aa", version = "1.0",
  ndr.func(0, "WErr") { { "code", ndr.uint32, "in" }, { "value", ndr.ref(ndr.uint32), "out" }, returns = ndr.WERROR },
  ndr.func(1, "NtErr") { { "code", ndr.uint32, "in" }, { "value", ndr.ref(ndr.uint32), "out" }, returns = ndr.NTSTATUS },
  ndr.func(2, "HrErr") { { "code", ndr.uint32, "in" }, { "value", ndr.ref(ndr.uint32), "out" }, returns = ndr.HRESULT },
  ndr.func(3, "Slow") { { "seconds", ndr.double, "in" }, returns = ndr.uint32 },
  -- a paged enumeration: ERROR_MORE_DATA until the last page
  ndr.func(4, "Enum") {
    { "ResumeHandle", ndr.ref(ndr.uint32), "in,out" },
    { "Items", ndr.ref(ndr.array(ndr.uint32, { size_is = "Count" })), "out" },
    { "Count", ndr.ref(ndr.uint32), "out" },
    returns = ndr.WERROR,
  },
}

-- The same interface as a client knows it, with a function the server lacks.
local stat_client_iface = ndr.interface {
  name = "stat_test", uuid = stat_iface.uuid, version = "1.0",
  ndr.func(9, "Missing") { returns = ndr.uint32 },
}

local function serve(fn)
  local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" }, log = function() end })
  local function echo(_, a) return { value = 7, result = a.code } end
  srv:register(stat_iface, {
    WErr = echo, NtErr = echo, HrErr = echo,
    Slow = function(_, a) dcerpc.sleep(a.seconds); return { result = 0 } end,
    Enum = function(_, a)
      local from = a.ResumeHandle
      local items = {}
      for i = from + 1, math.min(from + 3, 10) do items[#items + 1] = i end
      local last = from + #items >= 10
      return { ResumeHandle = from + #items, Items = items, Count = #items, result = last and 0 or 234 }
    end,
  })
  local err
  srv:spawn(function()
    local ok, e = pcall(fn, srv.endpoints[1])
    if not ok then err = e end
    srv:close()
  end)
  srv:spawn(function() dcerpc.sleep(20); if not srv.closed then err = err or "timed out"; srv:close() end end)
  srv:run()
  if err then error(err, 0) end
end

describe("status rules", function()
  it("ERROR_MORE_DATA, informational and warning NTSTATUS, S_FALSE are results, r.result set", function()
    serve(function(ep)
      local c = assert(dcerpc.connect(ep, stat_iface))
      local r = assert(c:WErr { code = 234 })
      assert.are.equal(234, r.result)
      assert.are.equal(7, r.value)
      assert.are.equal(0, assert(c:WErr { code = 0 }).result)
      for _, code in ipairs { 0x105, 0x107, 0x8000001A, 0x40000000 } do   -- MORE_ENTRIES, SOME_NOT_MAPPED, NO_MORE_ENTRIES
        assert.are.equal(code, assert(c:NtErr { code = code }).result)
      end
      assert.are.equal(1, assert(c:HrErr { code = 1 }).result)            -- S_FALSE
      c:close()
    end)
  end)

  it("error statuses give nil, err, results with executed = \"yes\"", function()
    serve(function(ep)
      local c = assert(dcerpc.connect(ep, stat_iface))
      local r, e, res = c:WErr { code = 5 }
      assert.is_nil(r)
      assert.is_true(is_error_object(e))
      assert.are.equal(5, e.code)
      assert.are.equal("ERROR_ACCESS_DENIED", e.name)                 -- named in its family
      assert.are.equal("yes", e.executed)
      assert.are.equal("WErr returned ERROR_ACCESS_DENIED", e.message)
      assert.are.equal(7, res.value)
      assert.are.equal(5, res.result)
      r, e, res = c:NtErr { code = 0xC0000022 }
      assert.is_nil(r)
      assert.is_true(e:is("STATUS_ACCESS_DENIED"))
      assert.are.equal("yes", e.executed)
      assert.are.equal(0xC0000022, res.result)
      r, e = c:HrErr { code = 0x80070005 }
      assert.is_nil(r)
      assert.are.equal("E_ACCESSDENIED", e.name)
      c:close()
      -- a fault is an error object too, executed "no" when the server says so
      local c2 = assert(dcerpc.connect(ep, stat_client_iface))
      r, e = c2:Missing()
      assert.is_nil(r)
      assert.is_true(is_error_object(e))
      assert.is_true(e:is("nca_s_op_rng_error"))
      assert.are.equal("no", e.executed)
      assert.are.equal("fault 0x1c010002 nca_s_op_rng_error (did not execute)", e.message)
      c2:close()
    end)
  end)

  it("the documented retry-on-234 loop reads every page", function()
    serve(function(ep)
      local c = assert(dcerpc.connect(ep, stat_iface))
      local all, resume, pages = {}, 0, 0
      repeat
        local r = assert(c:Enum { ResumeHandle = resume })
        for _, v in ipairs(r.Items) do all[#all + 1] = v end
        resume, pages = r.ResumeHandle, pages + 1
      until r.result ~= status.werror.ERROR_MORE_DATA
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, all)
      assert.are.equal(4, pages)
      c:close()
    end)
  end)
end)

------------------------------------------------------------------ timeouts and refusals

describe("timeouts name the stage and the peer", function()
  it("connecting: a listener whose backlog is full", function()
    local f = assert(io.popen(PYTHON .. [[ -c "import socket,time
s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0); print(s.getsockname()[1],flush=True); time.sleep(2)"]]))
    local port = tonumber(f:read("l"))
    local first = core.connect_tcp("127.0.0.1", port, { timeout = 0.3 })
    local c, e = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. port .. "]", "srvsvc", { connect_timeout = 0.3 })
    if first then first:close() end
    f:close()
    assert.is_nil(c)
    assert.are.equal(RPC_S_SERVER_UNAVAILABLE, e.code)
    assert.are.equal("no", e.executed)
    assert.are.equal("timed out after 0.3 s connecting to 127.0.0.1[" .. port .. "]", e.message)
  end)

  it("binding: a listener that accepts and never answers", function()
    local l = assert(core.listen_tcp("127.0.0.1", 0))        -- the kernel completes the handshake
    local port = l:port()
    local c, e = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. port .. "]", "srvsvc", { timeout = 0.3 })
    l:close()
    assert.is_nil(c)
    assert.are.equal(RPC_S_CALL_CANCELLED, e.code)
    assert.are.equal("no", e.executed)
    assert.are.equal("timed out after 0.3 s waiting for the bind_ack from 127.0.0.1[" .. port .. "]", e.message)
  end)

  it("setting up an SMB session: a listener that never answers", function()
    local l = assert(core.listen_tcp("127.0.0.1", 0))
    local port = l:port()
    local c, e = dcerpc.connect("ncacn_np:127.0.0.1", "srvsvc", { smb_port = port, connect_timeout = 0.3 })
    l:close()
    assert.is_nil(c)
    assert.are.equal("no", e.executed)
    assert.are.equal("timed out after 0.3 s setting up the SMB session and the pipe 127.0.0.1[\\pipe\\srvsvc]",
                     e.message)
  end)

  it("calling: the function, the call id and the peer; send/receive too", function()
    serve(function(ep)
      local port = ep:match("%[(%d+)%]")
      local c = assert(dcerpc.connect(ep, stat_iface, { timeout = 0.3 }))
      local r, e = c:Slow { seconds = 2 }
      assert.is_nil(r)
      assert.is_true(is_error_object(e))
      assert.are.equal(RPC_S_CALL_CANCELLED, e.code)
      assert.are.equal("maybe", e.executed)
      assert.are.equal("timed out after 0.3 s waiting for the response to stat_test.Slow (call 2) from 127.0.0.1["
                       .. port .. "]", e.message)
      local h = assert(c:send("Slow", { seconds = 2 }))
      r, e = c:receive(h, 0.2)
      assert.is_nil(r)
      assert.matches("^timed out after 0.2 s waiting for the response to stat_test.Slow %(call 3%) from 127.0.0.1%["
                     .. port .. "%]$", e.message)
      -- the per-call option wins over the connection's
      r, e = c:Slow({ seconds = 2 }, { timeout = 0.1 })
      assert.matches("^timed out after 0.1 s", e.message)
      c:close()
    end)
  end)

  it("the core names an unlabelled call by its opnum", function()
    serve(function(ep)
      local host, port = ep:match("^ncacn_ip_tcp:(.-)%[(%d+)%]$")
      local conn = assert(core.connect_tcp(host, tonumber(port)))
      assert(conn:bind { { abstract = { uuid = stat_iface.uuid, major = 1, minor = 0 } } })
      local r, e = conn:call(0, 3, ndr.encode_call(stat_iface.functions.Slow, "in", { seconds = 2 }), { timeout = 0.2 })
      assert.is_nil(r)
      assert.are.equal("timed out after 0.2 s waiting for the response to opnum 3 (call 2) from " .. host .. "["
                       .. port .. "]", e.message)
      conn:close()
    end)
  end)
end)

describe("refusals name the peer", function()
  it("connection refused: host and port", function()
    local port = dead_port()
    local c, e = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. port .. "]", "srvsvc")
    assert.is_nil(c)
    assert.are.equal(RPC_S_SERVER_UNAVAILABLE, e.code)
    assert.are.equal("no", e.executed)
    assert.are.equal("cannot connect to 127.0.0.1 port " .. port .. ": Connection refused", e.message)
  end)

  it("through the endpoint mapper: the stage is named", function()
    local port = dead_port()
    local c, e = dcerpc.connect("ncacn_ip_tcp:127.0.0.1", "srvsvc", { epm_port = port })
    assert.is_nil(c)
    assert.are.equal("asking the endpoint mapper for the srvsvc endpoint: cannot connect to 127.0.0.1 port "
                     .. port .. ": Connection refused", e.message)
    local ep, e2 = dcerpc.ept_map("127.0.0.1", "srvsvc", { epm_port = port })
    assert.is_nil(ep)
    assert.is_true(e2 == e)
  end)

  it("a peer that closes after the bind: who closed", function()
    local srv = assert(io.popen(PYTHON .. [[ -c "import socket
s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1); print(s.getsockname()[1], flush=True)
a, _ = s.accept(); a.recv(4096); a.close()"]]))
    local port = tonumber(srv:read("l"))
    local c, e = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. port .. "]", "srvsvc", { timeout = 5 })
    srv:close()
    assert.is_nil(c)
    assert.are.equal("no", e.executed)
    assert.matches("127.0.0.1:" .. port, e.message, 1, true)
  end)
end)

------------------------------------------------------------------ credentials (Samba)

describe("refused credentials say what to check #interop", function()
  local samba = peers.samba()
  if not samba then return end
  local host, domain = samba.SAMBA_HOST, samba.SAMBA_DOMAIN or "RPCSRV"
  local HINT = "the server refused the credentials: check user, domain and password (or nt_hash)"
  local cases = { { "a wrong password", samba.SAMBA_USER, "wrong-Pass9" }, { "an unknown user", "nobody_here", "x" } }

  for _, case in ipairs(cases) do
    local what, user, password = case[1], case[2], case[3]

    it("SPNEGO over ncacn_ip_tcp, " .. what .. ": the fault answered the alter_context", function()
      local c, e = dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", { auth = "spnego", user = user, domain = domain,
                                                                       password = password })
      assert.is_nil(c)
      assert.are.equal(RPC_S_SEC_PKG_ERROR, e.code)
      assert.are.equal("RPC_S_SEC_PKG_ERROR", e.name)
      assert.are.equal("no", e.executed)
      assert.are.equal("fault 0x00000721 RPC_S_SEC_PKG_ERROR in reply to the authentication's alter_context; " .. HINT,
                       e.message)
    end)

    it("NTLM over ncacn_ip_tcp, " .. what .. ": refused at the first call, with the hint", function()
      local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", { auth = "ntlm", user = user, domain = domain,
                                                                           password = password }))
      local r, e = c:NetrServerGetInfo { Level = 101 }
      c:close()
      assert.is_nil(r)
      assert.are.equal("no", e.executed)
      assert.matches("the first call after an NTLM bind: the server may have refused the credentials: check user, "
                     .. "domain and password (or nt_hash)", e.message, 1, true)
    end)

    it("ncacn_np, " .. what .. ": the SMB session setup's STATUS_LOGON_FAILURE, with the hint", function()
      local c, e = dcerpc.connect("ncacn_np:" .. host, "srvsvc", { user = user, domain = domain, password = password })
      assert.is_nil(c)
      assert.is_true(e:is("STATUS_LOGON_FAILURE"))
      assert.are.equal("no", e.executed)
      assert.are.equal("SMB session setup refused: STATUS_LOGON_FAILURE; " .. HINT, e.message)
    end)
  end

  it("an added context (c:authenticate) refused over SPNEGO names the alter_context", function()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", { user = samba.SAMBA_USER, domain = domain,
                                                                         password = samba.SAMBA_PASSWORD }))
    local v, e = c:authenticate { auth = "spnego", user = samba.SAMBA_USER, domain = domain, password = "wrong-Pass9" }
    assert.is_nil(v)
    assert.matches("in reply to the authentication's alter_context; " .. HINT, e.message, 1, true)
    c:close()
  end)

  it("dcerpc.ept_map takes a name, no options, and asks over \\pipe\\epmapper too", function()
    assert.are.equal(samba.SAMBA_SRVSVC_PORT, assert(dcerpc.ept_map(host, "srvsvc")))
    assert.are.equal("\\pipe\\samr", assert(dcerpc.ept_map(host, "samr", nil, "ncacn_np")))
    assert.are.equal("\\pipe\\samr", assert(dcerpc.ept_map(host, "samr", { user = samba.SAMBA_USER, domain = domain,
                                                                          password = samba.SAMBA_PASSWORD }, "ncacn_np")))
    assert.has_error(function() dcerpc.ept_map(host, "srvsvc", { epm_prot = 135 }) end,
                     "unknown option 'epm_prot' to dcerpc.ept_map (did you mean 'epm_port'?)")
  end)

  it("the right credentials still work (the control)", function()
    for _, auth in ipairs { "ntlm", "spnego" } do
      local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", { auth = auth, user = samba.SAMBA_USER,
                                                                           domain = domain, password = samba.SAMBA_PASSWORD }))
      assert(c:NetrServerGetInfo { Level = 101 })
      c:close()
    end
  end)
end)
