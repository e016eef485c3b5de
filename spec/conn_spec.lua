-- conn_spec.lua - client connections (dcerpc.core.connect_tcp and conn:*):
-- interop with the real Samba peer and the rpcecho reference server, and
-- failure classes against a scripted hostile server in another process.
local core = require "dcerpc.core"

---------------------------------------------------------------- peers
-- The project's own peers (test/peers/), started by spec/helpers/peers.lua;
-- outside CI a peer that cannot run here turns its tests into pending ones,
-- under CI=true that raises.
local peers = require "helpers.peers"
local HERE = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
-- children must not inherit an ASan LD_PRELOAD meant for the Lua process
local PYTHON = "env -u LD_PRELOAD " .. (os.getenv("DCERPC_PYTHON") or "/usr/bin/python3")

-- `it` when the peer runs, otherwise a pending test that says why
local function it_with(ok, why)
  if ok then return it end
  return function(name) pending(name .. " (skipped: " .. tostring(why) .. ")") end
end

local samba, samba_why = peers.samba()
local samba_ok = samba ~= nil
samba_why = "Samba peer not available: " .. tostring(samba_why)
local echo, echo_why = peers.rpcecho()
local echo_ok = echo ~= nil
echo_why = "rpcecho peer not available: " .. tostring(echo_why)
local ECHO_HOST = echo and echo.RPCECHO_HOST or "127.0.0.1"
local ECHO_PORT = tonumber(echo and echo.RPCECHO_PORT) or 60135

---------------------------------------------------------------- fake server
-- Run spec/helpers/fakeserver.py SCENARIO in another process; returns its
-- port and a function that waits for it and returns its log.
local function fake(scenario, host)
  local f = assert(io.popen(string.format("%s %q %s --host %s", PYTHON, HERE .. "helpers/fakeserver.py",
    scenario, host or "127.0.0.1")))
  local line = f:read("l") or ""
  local port = tonumber(line:match("^PORT (%d+)"))
  assert(port, "fake server did not start: " .. line)
  return port, function()
    local log = f:read("a")
    f:close()
    return log
  end
end

---------------------------------------------------------------- syntaxes
local EPM = { uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa", major = 3, minor = 0 }
local MGMT = { uuid = "afa8bd80-7d8a-11c9-bef4-08002b102989", major = 1, minor = 0 }
local ECHO = { uuid = "60a15ec5-4de8-11d7-a637-005056a20182", major = 1, minor = 0 }
local NDR = { uuid = "8a885d04-1ceb-11c9-9fe8-08002b104860", major = 2, minor = 0 }
local NDR64 = { uuid = "71710533-beba-4937-8319-b5dbef9ccc36", major = 1, minor = 0 }
local EPM_LE = "\x08\x83\xaf\xe1\x1f\x5d\xc9\x11\x91\xa4\x08\x00\x2b\x14\xa0\xfa"

local function u32(n) return string.pack("<I4", n) end

---------------------------------------------------------------- Samba
describe("conn against Samba #interop", function()
  local sit = it_with(samba_ok, samba_why)

  sit("binds to the epm with two contexts and feature negotiation", function()
    local c = assert(core.connect_tcp("127.0.0.1", 135, { timeout = 5 }))
    local ack = assert(c:bind({
      { abstract = EPM, transfer = { NDR } },
      { abstract = EPM, transfer = { NDR64 } },
    }, { feature_negotiation = true }))
    assert.are.equal(2, #ack.results)
    assert.are.equal(0, ack.results[1].result)             -- acceptance, NDR
    assert.are.same(NDR, ack.results[1].transfer)
    assert.are.equal(2, ack.results[2].result)             -- provider rejection
    assert.is_number(ack.features)                         -- negotiate_ack came back
    assert.are.equal("135", ack.secondary_address)
    assert.is_true(ack.max_xmit >= 1432 and ack.max_recv >= 1432)
    assert.are_not.equal(0, ack.assoc_group)
    local info = c:info()
    assert.is_true(info.bound)
    assert.are.equal(math.min(5840, ack.max_recv), info.max_xmit)
    assert.are.equal(ack.assoc_group, info.assoc_group)
    assert.are.equal("127.0.0.1:135", info.peer)
    c:close()
  end)

  sit("calls mgmt inq_if_ids after an alter_context and gets the raw stub", function()
    local c = assert(core.connect_tcp("127.0.0.1", 135))
    assert(c:bind({ { abstract = EPM, transfer = { NDR } } }))
    local ack = assert(c:alter_context({ { id = 1, abstract = MGMT, transfer = { NDR } } }))
    assert.are.equal(0, ack.results[1].result)
    local stub, drep = c:call(1, 0, "")
    assert.is_string(stub)
    assert.are.equal(0x10, drep)
    assert.truthy(stub:find(EPM_LE, 1, true), "epm uuid in the inq_if_ids reply")
    c:close()
  end)

  sit("returns nca_s_op_rng_error for an out-of-range opnum, executed no", function()
    local c = assert(core.connect_tcp("127.0.0.1", 135))
    assert(c:bind({ { abstract = EPM, transfer = { NDR } } }))
    local r, err = c:call(0, 99, "")
    assert.is_nil(r)
    assert.are.equal(0x1c010002, err.code)
    assert.are.equal("nca_s_op_rng_error", err.name)
    assert.are.equal("no", err.executed)                   -- Samba sets PFC_DID_NOT_EXECUTE
    -- the association survives a fault
    local stub = c:call(0, 99, "")
    assert.is_nil(stub)
    assert.is_false(c:info().dead)
    c:close()
  end)

  sit("binds and calls over IPv6 (::1)", function()
    local c, err = core.connect_tcp("::1", 135, { timeout = 5 })
    assert(c, tostring(err))
    assert(c:bind({ { abstract = MGMT, transfer = { NDR } } }))
    assert.are.equal("[::1]:135", c:info().peer)
    local stub = assert(c:call(0, 0, ""))
    assert.truthy(stub:find(EPM_LE, 1, true))
    c:close()
  end)

  sit("speaks big-endian when asked", function()
    local c = assert(core.connect_tcp("127.0.0.1", 135))
    assert(c:bind({ { abstract = MGMT, transfer = { NDR } } }, { drep = "be" }))
    local stub, drep = assert(c:call(0, 0, ""))
    assert.is_number(drep)
    assert.truthy(#stub > 0)
    c:close()
  end)

  sit("queues calls on a connection without CONC_MPX", function()
    local c = assert(core.connect_tcp("127.0.0.1", 135))
    assert(c:bind({ { abstract = MGMT, transfer = { NDR } } }))
    local ids = {}
    for i = 1, 5 do ids[i] = assert(c:send(0, 0, "")) end
    for i = 5, 1, -1 do assert.truthy(assert(c:receive(ids[i])):find(EPM_LE, 1, true)) end
    c:close()
  end)
end)

---------------------------------------------------------------- rpcecho
describe("conn against rpcecho #interop", function()
  local eit = it_with(echo_ok, echo_why)
  local function echo_conn(opts)
    local c = assert(core.connect_tcp(ECHO_HOST, ECHO_PORT, { timeout = 5 }))
    local ack = assert(c:bind({ { abstract = ECHO, transfer = { NDR } } }, opts))
    assert.are.equal(0, ack.results[1].result)
    return c, ack
  end

  eit("sends a 200 000-byte request in fragments (SinkData)", function()
    local c = echo_conn()
    local n = 200000
    local stub = assert(c:call(0, 2, u32(n) .. u32(n) .. string.rep("\x5a", n)))
    assert.are.equal("", stub)
    local info = c:info()
    assert.is_true(info.bytes_sent > n + math.floor(n / info.max_xmit) * 24)
    c:close()
  end)

  eit("reassembles a 200 000-byte multi-fragment response (SourceData)", function()
    local c = echo_conn()
    local n = 200000
    local stub = assert(c:call(0, 3, u32(n)))
    assert.are.equal(n + 4, #stub)
    assert.are.equal(n, string.unpack("<I4", stub))
    for i = 0, n - 1, 997 do assert.are.equal(i & 0xff, stub:byte(5 + i)) end
    assert.are.equal((n - 1) & 0xff, stub:byte(4 + n))
    c:close()
  end)

  eit("runs several outstanding calls at once with CONC_MPX", function()
    local c = echo_conn({ conc_mpx = true })
    assert.is_true(c:info().conc_mpx)
    local t0 = os.time()
    local slow = assert(c:send(0, 6, u32(2)))             -- TestSleep 2 s
    local fast = assert(c:send(0, 0, u32(41)))            -- AddOne
    local r = assert(c:receive(fast))
    assert.are.equal(42, string.unpack("<I4", r))
    assert.is_true(os.time() - t0 <= 1, "AddOne did not wait for TestSleep")
    r = assert(c:receive(slow))
    assert.are.equal(2, string.unpack("<I4", r))
    c:close()
  end)

  eit("can be driven by an outside loop (getfd, step, done)", function()
    local c = echo_conn({ conc_mpx = true })
    local id = assert(c:send(0, 0, u32(99)))
    local fd, ev = c:getfd()
    assert.is_true(fd >= 0)
    assert.matches("^r", ev)
    local deadline = os.clock() + 5
    while not c:done(id) and os.clock() < deadline do assert(c:step()) end
    assert.is_true(c:done(id))
    assert.are.equal(100, string.unpack("<I4", (assert(c:receive(id)))))
    c:close()
  end)

  eit("is pollable the way cqueues polls (pollfd, events, timeout)", function()
    local c = echo_conn()
    local id = assert(c:send(0, 0, u32(41)))
    assert.are.equal((c:getfd()), c:pollfd())
    assert.matches("^r", c:events())
    assert.is_nil(c:timeout())          -- nothing held by the transport: wait on the fd
    local deadline = os.clock() + 5
    while not c:done(id) and os.clock() < deadline do assert(c:step()) end
    assert.are.equal(42, string.unpack("<I4", (assert(c:receive(id)))))
    assert.are.equal("r", c:events())   -- nothing left to send
    c:close()
    assert.has_error(function() c:pollfd() end, "attempt to use a closed connection")
  end)

  eit("passes an object UUID", function()
    local c = echo_conn()
    local r = assert(c:call(0, 0, u32(1), { object = "12345678-1234-abcd-ef00-0123456789ab" }))
    assert.are.equal(2, string.unpack("<I4", r))
    c:close()
  end)

  eit("times out a call as rpc_s_call_cancelled, then keeps working", function()
    local c = echo_conn()
    local r, err = c:call(0, 6, u32(2), { timeout = 0.3 })
    assert.is_nil(r)
    assert.are.equal(1818, err.code)
    assert.are.equal("maybe", err.executed)
    -- the late reply is discarded; the next call works
    r = assert(c:call(0, 0, u32(7), { timeout = 5 }))
    assert.are.equal(8, string.unpack("<I4", r))
    r = assert(c:call(0, 0, u32(8), { timeout = 5 }))
    assert.are.equal(9, string.unpack("<I4", r))
    c:close()
  end)

  eit("respects a smaller max_xmit", function()
    local c, ack = echo_conn({ max_xmit = 2048, max_recv = 2048 })
    assert.are.equal(2048, c:info().max_xmit)
    local n = 10000
    local stub = assert(c:call(0, 1, u32(n) .. u32(n) .. string.rep("e", n)))    -- EchoData
    assert.are.equal(u32(n) .. string.rep("e", n), stub)
    c:close()
  end)
end)

---------------------------------------------------------------- failure classes
describe("conn failure classes #unit", function()
  local function bound(scenario)
    local port, wait = fake(scenario)
    local c = assert(core.connect_tcp("127.0.0.1", port, { timeout = 5 }))
    return c, wait
  end

  it("server unavailable: connection refused -> 1722, executed no", function()
    local l = assert(core.listen_tcp("127.0.0.1", 0))
    local port = l:port()
    l:close()                                             -- now nothing listens there
    local c, err = core.connect_tcp("127.0.0.1", port, { timeout = 2 })
    assert.is_nil(c)
    assert.are.equal(1722, err.code)
    assert.are.equal("no", err.executed)
    assert.matches("refused", err.message)
  end)

  it("connect timeout -> 1722, executed no", function()
    -- a listener with backlog 0 that never accepts: the second SYN is dropped
    local f = assert(io.popen(PYTHON .. [[ -c "import socket,time
s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0); print(s.getsockname()[1],flush=True); time.sleep(1.5)"]]))
    local port = tonumber(f:read("l"))
    local first = core.connect_tcp("127.0.0.1", port, { timeout = 0.3 })
    local c, err = core.connect_tcp("127.0.0.1", port, { timeout = 0.3 })
    if first then first:close() end
    f:close()
    assert.is_nil(c)
    assert.are.equal(1722, err.code)
    assert.are.equal("no", err.executed)
    assert.matches("timed out", err.message)
  end)

  it("unresolvable host -> 1722", function()
    local c, err = core.connect_tcp("no-such-host.invalid", 135, { timeout = 2 })
    assert.is_nil(c)
    assert.are.equal(1722, err.code)
  end)

  it("bind_ack with max frag below 1432 -> protocol error", function()
    local c, wait = bound("small_frag")
    local ack, err = c:bind({ { abstract = ECHO } })
    assert.is_nil(ack)
    assert.are.equal(1728, err.code)
    assert.are.equal("no", err.executed)
    assert.matches("1432", err.message)
    c:close()
    wait()
  end)

  it("bind_nak -> rpc_s_call_failed_dne with the reason", function()
    local c, wait = bound("bind_nak")
    local ack, err = c:bind({ { abstract = ECHO } })
    assert.is_nil(ack)
    assert.are.equal(1727, err.code)
    assert.are.equal("no", err.executed)
    assert.matches("protocol_version_not_supported", err.message)
    c:close()
    wait()
  end)

  local function call_fails(scenario, code, executed, pattern)
    local c, wait = bound(scenario)
    assert(c:bind({ { abstract = ECHO } }))
    local r, err = c:call(0, 1, "abcd", { timeout = 5 })
    assert.is_nil(r)
    assert.are.equal(code, err.code)
    assert.are.equal(executed, err.executed)
    if pattern then assert.matches(pattern, err.message) end
    c:close()
    return wait()
  end

  it("response with a wrong call_id -> rejected", function()
    call_fails("wrong_call_id", 1726, "maybe", "never sent")
  end)
  it("truncated PDU then close -> 1726 maybe", function()
    call_fails("truncated", 1726, "maybe", "closed")
  end)
  it("frag_length < 16 -> 1726 maybe", function()
    call_fails("fraglen_small", 1726, "maybe", "below 16")
  end)
  it("frag_length beyond the data, then close -> 1726 maybe", function()
    call_fails("fraglen_big", 1726, "maybe", "closed")
  end)
  it("auth_length beyond the fragment -> 1726 maybe", function()
    call_fails("auth_len", 1726, "maybe", "auth_length")
  end)
  it("unknown ptype -> 1726 maybe", function()
    call_fails("bad_ptype", 1726, "maybe", "ptype")
  end)
  it("wrong version -> 1726 maybe", function()
    call_fails("bad_version", 1726, "maybe", "version")
  end)
  it("connection dropped mid-response -> 1726 maybe", function()
    call_fails("drop_mid_response", 1726, "maybe", "closed")
  end)
  it("fault with PFC_DID_NOT_EXECUTE -> its status, executed no", function()
    call_fails("dne_fault", 0x1c010002, "no")
  end)
  it("fault without DNE -> its status, executed maybe", function()
    call_fails("fault", 5, "maybe")
  end)

  it("big-endian bind_ack and response are understood", function()
    local c, wait = bound("big_endian")
    local ack = assert(c:bind({ { abstract = ECHO } }))
    assert.are.same(NDR, ack.results[1].transfer)
    local stub, drep = assert(c:call(0, 1, "abcd"))
    assert.are.equal("\0\0\0\x2a", stub)
    assert.are.equal(0, drep)
    c:close()
    wait()
  end)

  it("server never answers -> timeout 1818, co_cancel seen, late reply discarded", function()
    local c, wait = bound("silent")
    assert(c:bind({ { abstract = ECHO } }))
    local r, err = c:call(0, 1, "abcd", { timeout = 0.3 })
    assert.is_nil(r)
    assert.are.equal(1818, err.code)
    assert.are.equal("maybe", err.executed)
    local stub = assert(c:call(0, 1, "next", { timeout = 5 }))
    assert.are.equal("next", stub)
    c:close()
    local log = wait()
    assert.matches("SAW co_cancel call_id=2", log)
  end)

  it("raises on misuse and after close", function()
    local c, wait = bound("dne_fault")
    assert.has_error(function() c:bind({}) end)
    assert.has_error(function() c:call(0, 0, "") end, "not bound: call bind first")
    c:close()
    c:close()                                             -- idempotent
    assert.has_error(function() c:info() end, "attempt to use a closed connection")
    assert.has_error(function() c:call(0, 0, "") end, "attempt to use a closed connection")
    wait()
    do
      local port2, wait2 = fake("dne_fault")
      local c2 <close> = assert(core.connect_tcp("127.0.0.1", port2))
      assert.truthy(tostring(c2):find("dcerpc.conn"))
      c2:close()
      wait2()
    end
  end)
end)
