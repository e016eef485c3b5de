-- dcerpc.server: association negotiation, faults and hostile input against a
-- server running in this process (driven by srv:step, spoken to with raw
-- PDUs), then our client and smbtorture against examples/echo-server.lua in
-- a child process.
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"
local torture = require "helpers.torture"

local rpcecho = dcerpc.interface "rpcecho"
local ECHO = { uuid = rpcecho.uuid, major = 1, minor = 0 }
local OTHER = { uuid = "12345678-1234-abcd-ef00-0123456789ab", major = 1, minor = 0 }
local NDR20, NDR64 = dcerpc.NDR20, dcerpc.NDR64
local BTFN3 = { uuid = "6cb71c2c-9812-4540-0300-000000000000", major = 1, minor = 0 }

local NCA_S_OP_RNG_ERROR = 0x1c010002
local NCA_S_UNK_IF = 0x1c010003
local NCA_S_PROTO_ERROR = 0x1c01000b
local NCA_S_NO_CALL_ACTIVE = 0x1c010012
local ACCESS_DENIED = 5
local BAD_STUB = 0x6f7
local PFC_FIRST, PFC_LAST, PFC_PENDING_CANCEL, PFC_DNE = 1, 2, 4, 0x20

---------------------------------------------------------------- helpers

local logs = {}
local function new_server(opts)
  opts = opts or {}
  opts.listen = opts.listen or { "ncacn_ip_tcp:127.0.0.1[0]" }
  opts.log = function(m) logs[#logs + 1] = m end
  local srv = assert(dcerpc.server(opts))
  srv:register(rpcecho, {
    AddOne = function(call, a)
      if a.in_data == 666 then error({ code = ACCESS_DENIED, message = "no" }) end
      if a.in_data == 667 then error("boom") end
      return { out_data = (a.in_data + 1) & 0xffffffff }
    end,
    EchoData = function(call, a) return { out_data = a.in_data } end,
    SinkData = function() return {} end,
    TestSleep = function(call, a) dcerpc.sleep(a.seconds); return { result = a.seconds } end,
  })
  srv.port = tonumber(srv.endpoints[1]:match("%[(%d+)%]$"))
  return srv
end

-- Read whole PDUs from a raw socket while stepping the server.
-- Returns the list of decoded PDUs and whether the server closed.
local function read_pdus(srv, sock, want, seconds)
  local buf, pdus, closed = "", {}, false
  local deadline = os.time() + (seconds or 3)
  while #pdus < want and os.time() <= deadline do
    srv:step(0.01)
    local got, e = sock:recv(65536, 0.01)
    if got then buf = buf .. got
    elseif e == "closed" then closed = true end
    while #buf >= 10 do
      local flen = string.unpack("<I2", buf, 9)
      if #buf < flen or flen < 16 then break end
      pdus[#pdus + 1] = assert(core.pdu_decode(buf:sub(1, flen)))
      buf = buf:sub(flen + 1)
    end
    if closed then break end
  end
  return pdus, closed
end

-- After the server's answer: does it close the connection?
local function closes(srv, sock)
  for _ = 1, 100 do
    srv:step(0.01)
    local got, e = sock:recv(65536, 0.01)
    if not got and e == "closed" then return true end
  end
  return false
end

local function connect_raw(srv)
  return assert(core.raw_connect("127.0.0.1", srv.port))
end

local function bind_pdu(t)
  t.ptype = t.ptype or "bind"
  t.call_id = t.call_id or 1
  t.max_xmit = t.max_xmit or 5840
  t.max_recv = t.max_recv or 5840
  t.contexts = t.contexts or { { id = 0, abstract = ECHO, transfer = { NDR20 } } }
  return core.pdu_encode(t)
end

local function bind(srv, t)
  local s = connect_raw(srv)
  s:send(bind_pdu(t or {}))
  local p = read_pdus(srv, s, 1)
  return s, p[1]
end

local function request(t)
  t.ptype = "request"
  t.stub = t.stub or ""
  t.alloc_hint = t.alloc_hint or #t.stub
  return core.pdu_encode(t)
end

local function addone_stub(v) return ndr.encode_call(rpcecho.functions.AddOne, "in", { in_data = v }) end

---------------------------------------------------------------- in process

describe("dcerpc.server association #unit", function()
  local srv
  before_each(function() srv = new_server() end)
  after_each(function() srv:close() end)

  it("reports its endpoints with the port resolved", function()
    assert.matches("^ncacn_ip_tcp:127%.0%.0%.1%[%d+%]$", srv.endpoints[1])
    assert.is_true(srv.port > 0)
  end)

  it("negotiates fragment sizes as [MS-RPCE] says (limits.md case 4)", function()
    for _, c in ipairs { { 0, 0, 2048 }, { 0xffff, 0xffff, 5840 }, { 3199, 0xffff, 3192 } } do
      local s, ack = bind(srv, { max_xmit = c[1], max_recv = c[2] })
      assert.are.equal("bind_ack", ack.ptype)
      assert.are.equal(c[3], ack.max_xmit)
      assert.are.equal(c[3], ack.max_recv)
      assert.are.equal(tostring(srv.port), ack.secondary_address)
      s:close()
    end
  end)

  it("answers each context: acceptance, provider rejections, negotiate_ack", function()
    local s, ack = bind(srv, { contexts = {
      { id = 0, abstract = ECHO, transfer = { NDR64, NDR20 } },
      { id = 1, abstract = OTHER, transfer = { NDR20 } },
      { id = 2, abstract = ECHO, transfer = { NDR64 } },
      { id = 3, abstract = ECHO, transfer = { BTFN3 } },
    } })
    local r = ack.results
    assert.are.equal(0, r[1].result)
    assert.are.equal(NDR20.uuid, r[1].transfer.uuid)
    assert.are.same({ 2, 1 }, { r[2].result, r[2].reason })   -- abstract syntax not supported
    assert.are.same({ 2, 2 }, { r[3].result, r[3].reason })   -- transfer syntaxes not supported
    assert.are.same({ 3, 2 }, { r[4].result, r[4].reason })   -- negotiate_ack: keep conn on orphan
    -- a call on the rejected context 2 faults, the connection goes on
    s:send(request { call_id = 2, context_id = 2, opnum = 0, stub = addone_stub(1) })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal("fault", f.ptype)
    assert.are.equal(NCA_S_UNK_IF, f.status)
    assert.are.equal(PFC_DNE, f.flags & PFC_DNE)
    s:send(request { call_id = 3, context_id = 0, opnum = 0, stub = addone_stub(1) })
    local resp = read_pdus(srv, s, 1)[1]
    assert.are.equal("response", resp.ptype)
    assert.are.equal(2, ndr.decode_call(rpcecho.functions.AddOne, "out", resp.stub).out_data)
    s:close()
  end)

  it("adds contexts with alter_context", function()
    local s = bind(srv)
    s:send(bind_pdu { ptype = "alter_context", call_id = 2,
                      contexts = { { id = 7, abstract = ECHO, transfer = { NDR20 } } } })
    local r = read_pdus(srv, s, 1)[1]
    assert.are.equal("alter_context_resp", r.ptype)
    assert.are.equal(0, r.results[1].result)
    s:send(request { call_id = 3, context_id = 7, opnum = 0, stub = addone_stub(9) })
    assert.are.equal(10, ndr.decode_call(rpcecho.functions.AddOne, "out", read_pdus(srv, s, 1)[1].stub).out_data)
    s:close()
  end)

  it("shares association groups and refuses unknown ones", function()
    local s1, a1 = bind(srv)
    assert.is_true(a1.assoc_group ~= 0)
    local s2, a2 = bind(srv, { assoc_group = a1.assoc_group })
    assert.are.equal("bind_ack", a2.ptype)
    assert.are.equal(a1.assoc_group, a2.assoc_group)
    local s3, a3 = bind(srv, { assoc_group = (a1.assoc_group ~ 0x5a5a) })
    assert.are.equal("bind_nak", a3.ptype)
    assert.is_true(closes(srv, s3))
    s1:close(); s2:close(); s3:close()
  end)

  it("faults unknown opnums and undecodable stubs as did-not-execute", function()
    local s = bind(srv)
    s:send(request { call_id = 2, opnum = 42 })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal(NCA_S_OP_RNG_ERROR, f.status)
    assert.are.equal(PFC_DNE, f.flags & PFC_DNE)
    s:send(request { call_id = 3, opnum = 0, stub = "\1\2" })
    f = read_pdus(srv, s, 1)[1]
    assert.are.equal(BAD_STUB, f.status)
    s:close()
  end)

  it("turns a raising handler into a fault, logs it, and goes on", function()
    local s = bind(srv)
    logs = {}
    s:send(request { call_id = 2, opnum = 0, stub = addone_stub(666) })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal("fault", f.ptype)
    assert.are.equal(ACCESS_DENIED, f.status)
    assert.are.equal(0, f.flags & PFC_DNE)
    s:send(request { call_id = 3, opnum = 0, stub = addone_stub(667) })
    f = read_pdus(srv, s, 1)[1]
    assert.are.equal(1726, f.status)
    assert.matches("boom", table.concat(logs, "\n"))
    s:send(request { call_id = 4, opnum = 0, stub = addone_stub(1) })
    assert.are.equal("response", read_pdus(srv, s, 1)[1].ptype)
    s:close()
  end)

  it("runs calls of one connection concurrently (dcerpc.sleep yields)", function()
    local s = bind(srv, { flags = PFC_FIRST | PFC_LAST | 0x10 })
    local sleep = rpcecho.functions.TestSleep
    local t0 = os.time()
    for i = 1, 3 do
      s:send(request { call_id = 10 + i, opnum = 6, stub = ndr.encode_call(sleep, "in", { seconds = 1 }) })
    end
    local p = read_pdus(srv, s, 3, 5)
    assert.are.equal(3, #p)
    assert.is_true(os.time() - t0 <= 2, "calls ran one after another")
    s:close()
  end)

  it("fragments large replies to max_recv_frag and reassembles large requests", function()
    local s = bind(srv, { max_xmit = 2048, max_recv = 2048 })
    local data = string.rep("abcdefgh", 2000)                -- 16000 bytes
    local stub = ndr.encode_call(rpcecho.functions.EchoData, "in", { len = #data, in_data = data })
    local chunk, off, id = 2048 - 24, 0, 5
    while off < #stub do
      local n = math.min(chunk, #stub - off)
      local flags = (off == 0 and PFC_FIRST or 0) | (off + n == #stub and PFC_LAST or 0)
      s:send(request { call_id = id, opnum = 1, flags = flags, alloc_hint = #stub - off, stub = stub:sub(off + 1, off + n) })
      off = off + n
    end
    local parts = {}
    local pdus = read_pdus(srv, s, 8, 5)
    for _, p in ipairs(pdus) do
      assert.are.equal("response", p.ptype)
      assert.is_true(p.frag_length <= 2048)
      parts[#parts + 1] = p.stub
    end
    assert.are.equal(PFC_FIRST, pdus[1].flags & PFC_FIRST)
    assert.are.equal(PFC_LAST, pdus[#pdus].flags & PFC_LAST)
    local out = ndr.decode_call(rpcecho.functions.EchoData, "out", table.concat(parts))
    assert.are.equal(data, out.out_data)
    s:close()
  end)

  it("abandons a sleeping call whose client went away (limits.md case 24)", function()
    local s = bind(srv)
    s:send(request { call_id = 2, opnum = 6, stub = ndr.encode_call(rpcecho.functions.TestSleep, "in", { seconds = 1 }) })
    for _ = 1, 5 do srv:step(0.01) end
    assert.are.equal(1, srv:stats().calls)
    s:close()
    local t0 = os.time()
    while srv:stats().calls > 0 and os.time() - t0 < 4 do srv:step(0.05) end
    local st = srv:stats()
    assert.are.equal(0, st.calls)
    assert.are.equal(0, st.connections)
    assert.are.equal(0, st.groups)
  end)

  it("ignores co_cancel and orphaned for idle calls (limits.md case 11)", function()
    local s = bind(srv)
    s:send(core.pdu_encode { ptype = "co_cancel", call_id = 77 })
    s:send(core.pdu_encode { ptype = "orphaned", call_id = 78 })
    s:send(request { call_id = 2, opnum = 0, stub = addone_stub(1) })
    assert.are.equal("response", read_pdus(srv, s, 1)[1].ptype)
    s:send(request { call_id = 3, opnum = 0, flags = PFC_FIRST | PFC_LAST | PFC_PENDING_CANCEL, stub = addone_stub(1) })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal(NCA_S_NO_CALL_ACTIVE, f.status)
    s:close()
  end)
end)

describe("dcerpc.server against hostile clients #unit", function()
  local srv
  before_each(function() srv = new_server { max_request = 8192 } end)
  after_each(function() srv:close() end)

  local function still_serves()
    local s = bind(srv)
    s:send(request { call_id = 2, opnum = 0, stub = addone_stub(41) })
    local r = read_pdus(srv, s, 1)[1]
    s:close()
    return r and r.ptype == "response"
  end

  it("closes on frag_length below 16 without answering (case 1)", function()
    local s = connect_raw(srv)
    local h = core.pdu_encode { ptype = "bind", contexts = { { abstract = ECHO } } }
    s:send(h:sub(1, 8) .. string.pack("<I2", 10) .. h:sub(11, 16))
    local p, closed = read_pdus(srv, s, 1, 1)
    assert.are.equal(0, #p)
    assert.is_true(closed or closes(srv, s))
    s:close()
    assert.is_true(still_serves())
  end)

  it("faults 0x5 and disconnects on an alloc_hint beyond the limit (case 6)", function()
    local s = bind(srv)
    s:send(request { call_id = 2, opnum = 1, flags = PFC_FIRST, alloc_hint = 0x400001, stub = "\0\0\0\0" })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal(ACCESS_DENIED, f.status)
    assert.is_true(closes(srv, s))
    s:close()
    assert.is_true(still_serves())
  end)

  it("accepts exactly max_request and faults 0x5 one byte beyond (case 7)", function()
    for _, extra in ipairs { 0, 1 } do
      local s = bind(srv, { max_xmit = 4096, max_recv = 4096 })
      local total, off, chunk = 8192 + extra, 0, 4096 - 24
      local last
      while off < total do
        local n = math.min(chunk, total - off)
        local flags = (off == 0 and PFC_FIRST or 0) | (off + n == total and PFC_LAST or 0)
        s:send(request { call_id = 2, opnum = 2, flags = flags, alloc_hint = 0, stub = string.rep("\0", n) })
        off = off + n
      end
      last = read_pdus(srv, s, 1)[1]
      if extra == 0 then
        -- all zeros is not a valid SinkData stub past len=0... it decodes as len 0 + trailing bytes
        assert.is_truthy(last.ptype == "response" or (last.ptype == "fault" and last.status == BAD_STUB))
      else
        assert.are.equal("fault", last.ptype)
        assert.are.equal(ACCESS_DENIED, last.status)
        assert.is_true(closes(srv, s))
      end
      s:close()
    end
  end)

  it("faults proto_error and disconnects on a fragment above max_recv_frag (case 3)", function()
    local s = bind(srv, { max_xmit = 2048, max_recv = 2048 })
    s:send(request { call_id = 2, opnum = 1, stub = string.rep("x", 3000) })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal(NCA_S_PROTO_ERROR, f.status)
    assert.is_true(closes(srv, s))
    s:close()
    assert.is_true(still_serves())
  end)

  it("refuses a middle fragment with no first one (case 10)", function()
    local s = bind(srv)
    s:send(request { call_id = 9, opnum = 1, flags = PFC_LAST, stub = "abcd" })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal(NCA_S_PROTO_ERROR, f.status)
    assert.is_true(closes(srv, s))
    s:close()
  end)

  it("refuses a new call while a fragmented one is pending (case 9)", function()
    local s = bind(srv)
    s:send(request { call_id = 2, opnum = 1, flags = PFC_FIRST, stub = "abcd" })
    s:send(request { call_id = 3, opnum = 0, stub = addone_stub(1) })
    local f = read_pdus(srv, s, 1)[1]
    assert.are.equal(NCA_S_PROTO_ERROR, f.status)
    assert.is_true(closes(srv, s))
    s:close()
  end)

  it("closes a connection that sends a request before bind", function()
    local s = connect_raw(srv)
    s:send(request { call_id = 2, opnum = 0, stub = addone_stub(1) })
    local p = read_pdus(srv, s, 1)
    assert.are.equal(NCA_S_PROTO_ERROR, p[1].status)
    assert.is_true(closes(srv, s))
    s:close()
    assert.is_true(still_serves())
    for _ = 1, 50 do if srv:stats().connections == 0 then break end srv:step(0.01) end
    assert.are.equal(0, srv:stats().connections)
  end)
end)

describe("dcerpc.server limits #unit", function()
  local function sleep_req(id, secs)
    return request { call_id = id, opnum = 6, stub = ndr.encode_call(rpcecho.functions.TestSleep, "in", { seconds = secs }) }
  end

  it("closes idle connections after idle_timeout", function()
    local srv = new_server { idle_timeout = 1 }
    local s = bind(srv)
    assert.is_true(closes(srv, s) or closes(srv, s) or closes(srv, s))
    s:close()
    srv:close()
  end)

  it("closes a connection stalled in a partial PDU (limits.md case 2)", function()
    local srv = new_server { partial_timeout = 1 }
    local s = connect_raw(srv)
    local h = bind_pdu {}
    s:send(h:sub(1, 8) .. string.pack("<I2", 5840) .. h:sub(11, 17))
    local t0 = os.time()
    assert.is_true(closes(srv, s) or closes(srv, s) or closes(srv, s))
    assert.is_true(os.time() - t0 <= 4)
    assert.are.equal(0, srv:stats().connections)
    s:close()
    srv:close()
  end)

  it("faults a call that outlives call_timeout and keeps the connection", function()
    local srv = new_server { call_timeout = 0.5 }
    local s = bind(srv)
    s:send(sleep_req(2, 3))
    local f = read_pdus(srv, s, 1, 3)[1]
    assert.are.equal("fault", f.ptype)
    assert.are.equal(1818, f.status)
    s:send(request { call_id = 3, opnum = 0, stub = addone_stub(1) })
    assert.are.equal("response", read_pdus(srv, s, 1)[1].ptype)
    assert.are.equal(0, srv:stats().calls)
    s:close()
    srv:close()
  end)

  it("at max_connections closes the idlest connection for a new one, unless it runs a call", function()
    local srv = new_server { max_connections = 1, max_connections_per_address = false }
    local s1 = bind(srv)
    local s2 = bind(srv)                -- s1 is idle: it makes room (limits.md case 25)
    assert.is_true(closes(srv, s1))
    s2:send(request { call_id = 2, opnum = 0, stub = addone_stub(1) })
    assert.are.equal("response", read_pdus(srv, s2, 1)[1].ptype)
    assert.are.equal(1, srv:stats().evicted)
    -- a connection running a call is not closed for room: the newcomer is
    s2:send(sleep_req(3, 1))
    srv:step(0.05)
    local s3 = connect_raw(srv)
    assert.is_true(closes(srv, s3))
    assert.are.equal(1, srv:stats().refused)
    assert.are.equal("response", read_pdus(srv, s2, 1, 3)[1].ptype)
    s1:close(); s2:close(); s3:close()
    srv:close()
  end)

  it("answers server_too_busy beyond max_calls_per_connection", function()
    local srv = new_server { max_calls_per_connection = 2 }
    local s = bind(srv)
    s:send(sleep_req(2, 1) .. sleep_req(3, 1) .. sleep_req(4, 1))
    local p = read_pdus(srv, s, 3, 4)
    assert.are.equal(3, #p)
    assert.are.equal("fault", p[1].ptype)
    assert.are.equal(4, p[1].call_id)
    assert.are.equal(0x1c010014, p[1].status)
    assert.are.equal("response", p[2].ptype)
    s:close()
    srv:close()
  end)

  it("rejects bad options and bindings", function()
    assert.has_error(function() dcerpc.server { max_request = -1 } end)
    local srv, err = dcerpc.server { listen = { "ncacn_np:127.0.0.1[\\pipe\\x]" } }
    assert.is_nil(srv)
    assert.are.equal(1703, err.code)
    assert.has_error(function()
      local s = dcerpc.server {}
      s:register(rpcecho, { NoSuchFunction = function() end })
    end)
  end)
end)

describe("dcerpc.spawn and dcerpc.run #unit", function()
  it("runs tasks concurrently; dcerpc.sleep yields in them", function()
    local order = {}
    local t0 = os.time()
    dcerpc.spawn(function(tag) dcerpc.sleep(1); order[#order + 1] = tag end, "a")
    dcerpc.spawn(function(tag) dcerpc.sleep(0.5); order[#order + 1] = tag end, "b")
    dcerpc.spawn(function() error("task error is logged, not raised") end)
    dcerpc.run()
    assert.are.same({ "b", "a" }, order)
    assert.is_true(os.time() - t0 <= 2)
  end)

  it("sleeps blocking outside a task", function()
    dcerpc.sleep(0.01)
  end)
end)

---------------------------------------------------------------- child process

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/server_spec%.lua$")) or "."

-- Start examples/echo-server.lua; returns { pid, port, endpoints, close() }.
local examples = require "helpers.examples"

-- Start examples/echo-server.lua; returns { pid, port, endpoints, close() }.
local function start_echo_server(...)
  return assert(examples.start("echo-server.lua", nil, ...))
end

describe("examples/echo-server.lua with our client #interop", function()
  local es
  setup(function() es = start_echo_server("ncacn_ip_tcp:127.0.0.1[0]") end)
  teardown(function() if es then es.close() end end)

  local function connect(opts) return assert(dcerpc.connect(es.endpoints[1], "rpcecho", opts)) end

  it("answers every rpcecho function", function()
    local c = connect()
    assert.are.equal(42, c:AddOne { in_data = 41 }.out_data)
    assert.are.equal(0, c:AddOne { in_data = 0xFFFFFFFF }.out_data)
    assert.are.equal("\0\1\2abc", c:EchoData { len = 6, in_data = "\0\1\2abc" }.out_data)
    assert(c:SinkData { len = 3, data = "abc" })
    assert.are.equal("\0\1\2\3", c:SourceData { len = 4 }.data)
    assert.are.equal("héllo wörld ☃", c:TestCall { s1 = "héllo wörld ☃" }.s2)
    local arms = { "info1", "info2", "info3", "info4", "info5", "info6", "info7" }
    for level = 1, 7 do
      local r = assert(c:TestCall2 { level = level })
      assert.are.equal(0, r.result)
      assert.is_table(r.info[arms[level]])
    end
    assert.are.equal(0, c:TestSleep { seconds = 0 }.result)
    local r = assert(c:TestEnum { foo1 = 1, foo2 = { e1 = 1, e2 = 2 }, foo3 = { e1 = 1 } })
    assert.are.equal(1, r.foo1)
    assert.are.equal(2, r.foo2.e1)
    local s = {}
    for i = 1, 20 do s[i] = i end
    assert.are.equal(40, assert(c:TestSurrounding { data = { x = 20, surrounding = s } }).data.x)
    assert.are.equal(12, c:TestDoublePointer { data = 12 }.result)
    c:close()
  end)

  it("moves 200 KB requests and replies in fragments", function()
    local c = connect()
    local n = 200000
    local r = assert(c:SourceData { len = n })
    assert.are.equal(n, #r.data)
    assert.are.equal(string.char((n - 1) & 0xff), r.data:sub(-1))
    assert(c:SinkData { len = n, data = r.data })
    local big = string.rep("0123456789", 20000)
    assert.are.equal(big, c:EchoData { len = #big, in_data = big }.out_data)
    c:close()
  end)

  it("serves three sleeping calls in flight at once (conc_mpx)", function()
    local c = connect { conc_mpx = true }
    local t0 = os.time()
    local h = {}
    for i, secs in ipairs { 2, 2, 2 } do h[i] = assert(c:send("TestSleep", { seconds = secs })) end
    for i = 1, 3 do assert.are.equal(2, assert(c:receive(h[i])).result) end
    assert.is_true(os.time() - t0 <= 4, "sleeps ran one after another")
    c:close()
  end)

  it("joins an association group from a second connection", function()
    local c1 = connect()
    local g = c1:info().assoc_group
    local c2 = connect { assoc_group = g }
    assert.are.equal(g, c2:info().assoc_group)
    assert.are.equal(3, c2:AddOne { in_data = 2 }.out_data)
    c1:close(); c2:close()
  end)

  it("is driven by examples/echo-client.lua", function()
    local p = assert(io.popen(string.format("cd %q && env LUA_PATH=%q LUA_CPATH=%q lua5.4 examples/echo-client.lua '%s' 2>&1",
      root, package.path, package.cpath, es.endpoints[1])))
    local out = p:read("a")
    p:close()
    assert.matches("AddOne%(41%)\t42\n", out)
    assert.matches("TestDoublePointer\t12\n", out)
  end)

  it("faults an unknown opnum as did-not-execute", function()
    local c = connect()
    local resp, err = c.conn:call(c.context_id, 42, "")
    assert.is_nil(resp)
    assert.are.equal(NCA_S_OP_RNG_ERROR, err.code)
    assert.are.equal("no", err.executed)
    c:close()
  end)

  it("survives a hostile client and serves the next one", function()
    local s = assert(core.raw_connect("127.0.0.1", es.port))
    local h = core.pdu_encode { ptype = "bind", contexts = { { abstract = ECHO } } }
    s:send(h:sub(1, 8) .. string.pack("<I2", 10) .. h:sub(11))
    assert.are.equal("closed", select(2, s:recv(100, 3)))
    s:close()
    local c = connect()
    assert.are.equal(8, c:AddOne { in_data = 7 }.out_data)
    c:close()
  end)
end)

describe("examples/echo-server.lua over IPv6 #interop", function()
  local ok6 = core.raw_connect and (function()
    local l = core.listen_tcp("::1", 0)
    if l then l:close() return true end
    return false
  end)()
  if not ok6 then
    if os.getenv("CI") == "true" then error("IPv6 loopback is not available under CI") end
    pending("no IPv6 loopback here")
    return
  end
  it("listens on [::1] and answers", function()
    local es = start_echo_server("ncacn_ip_tcp:[::1][0]")
    assert.matches("^ncacn_ip_tcp:%[::1%]%[%d+%]$", es.endpoints[1])
    local c = assert(dcerpc.connect(es.endpoints[1], "rpcecho"))
    assert.are.equal(2, c:AddOne { in_data = 1 }.out_data)
    c:close()
    es.close()
  end)
end)

describe("examples/echo-server.lua with smbtorture rpc.echo #interop", function()
  if not torture.available() then return end
  local es
  setup(function() es = start_echo_server("ncacn_ip_tcp:127.0.0.1[0]") end)
  teardown(function() if es then es.close() end end)

  local function echo(opt)
    return torture.run(string.format("ncacn_ip_tcp:127.0.0.1[%d%s]", es.port, opt), { "rpc.echo" })
  end

  it("passes all 10 sub-tests", function()
    local ok, bad, out = echo("")
    assert.are.equal(0, #bad, out)
    assert.are.equal(10, #ok, out)
  end)

  it("passes all 10 sub-tests with [validate]", function()
    local ok, bad, out = echo(",validate")
    assert.are.equal(0, #bad, out)
    assert.are.equal(10, #ok, out)
  end)
end)
