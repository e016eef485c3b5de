-- The public client against our rpcecho reference peer (test/peers/rpcecho.sh,
-- which passes smbtorture's rpc.echo): every function of the interface, large
-- fragmented requests and replies, several calls in flight on one connection,
-- big-endian marshalling, and a timed-out call.
local peers = require "helpers.peers"
local echo = peers.rpcecho()

describe("client against rpcecho #interop", function()
  if not echo then
    pending("rpcecho peer not available")
    return
  end
  local dcerpc = require "dcerpc"
  local binding = ("ncacn_ip_tcp:%s[%s]"):format(echo.RPCECHO_HOST, echo.RPCECHO_PORT)
  local function connect(opts) return assert(dcerpc.connect(binding, "rpcecho", opts)) end

  it("runs every function with the values the interface defines", function()
    local c = connect()
    assert.are.equal(42, c:AddOne { in_data = 41 }.out_data)
    assert.are.equal(0, c:AddOne { in_data = 0xFFFFFFFF }.out_data)
    assert.are.equal("\0\1\2abc", c:EchoData { len = 6, in_data = "\0\1\2abc" }.out_data)
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
    assert.are.equal(2, r.foo2.e2)
    local s = {}
    for i = 1, 20 do s[i] = i * 3 end
    r = assert(c:TestSurrounding { data = { x = 20, surrounding = s } })
    assert.are.equal(40, r.data.x)
    assert.are.equal(40, #r.data.surrounding)
    assert.are.equal(12, c:TestDoublePointer { data = 12 }.result)
    c:close()
  end)

  it("sends and receives 200 000 bytes in fragments", function()
    local c = connect()
    local n = 200000
    local r = assert(c:SourceData { len = n })
    assert.are.equal(n, #r.data)
    assert.are.equal(string.char(0, 1, 2), r.data:sub(1, 3))
    assert.are.equal(string.char((n - 1) & 0xff), r.data:sub(-1))
    assert(c:SinkData { len = n, data = r.data })
    local big = string.rep("0123456789", 20000)
    assert.are.equal(big, c:EchoData { len = #big, in_data = big }.out_data)
    c:close()
  end)

  it("keeps several calls in flight on one connection (CONC_MPX)", function()
    local c = connect { conc_mpx = true }
    local t0 = os.time()
    local slow = assert(c:send("TestSleep", { seconds = 2 }))
    local fast = assert(c:send("AddOne", { in_data = 1 }))
    assert.are.equal(2, assert(c:receive(fast)).out_data)
    assert.is_true(os.time() - t0 <= 1, "AddOne waited for TestSleep")
    assert.are.equal(2, assert(c:receive(slow)).result)
    c:close()
  end)

  it("marshals big-endian on request (the server makes it right)", function()
    local c = connect { drep = "be" }
    assert.are.equal(0x01020304 + 1, c:AddOne { in_data = 0x01020304 }.out_data)
    assert.are.equal("big", c:TestCall { s1 = "big" }.s2)
    c:close()
  end)

  it("times out, says the call may have executed, and the connection goes on", function()
    local c = connect()
    local r, err = c:TestSleep({ seconds = 3 }, { timeout = 0.5 })
    assert.is_nil(r)
    assert.are.equal(1818, err.code)
    assert.are.equal("maybe", err.executed)
    assert.are.equal(8, c:AddOne { in_data = 7 }.out_data)
    c:close()
  end)

  it("gives an unknown opnum as a fault that did not execute", function()
    local c = connect()
    local resp, err = c.conn:call(c.context_id, 42, "")
    assert.is_nil(resp)
    assert.are.equal(0x1c010002, err.code)
    assert.are.equal("no", err.executed)
    c:close()
  end)
end)
