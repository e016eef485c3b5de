-- Client calls on the event loop: inside a server handler or a task
-- (srv:spawn, dcerpc.spawn) connecting and calling yield to the loop, so a
-- handler that calls another server holds up no other call, and a script can
-- run many client calls at once.
local dcerpc = require "dcerpc"
local examples = require "helpers.examples"

local ECHO_BINDING = "ncacn_ip_tcp:127.0.0.1[0]"

local function now()
  local p = io.popen("env -u LD_PRELOAD date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- A front server in this process whose handlers call the back server.
local function front_server(back_binding, logs)
  local srv = assert(dcerpc.server {
    listen = { "ncacn_ip_tcp:127.0.0.1[0]" },
    log = function(m) logs[#logs + 1] = m end,
  })
  srv:register("rpcecho", {
    -- AddOne asks the back server to add one, after it slept `in_data` ms
    AddOne = function(call, a)
      local c = assert(dcerpc.connect(back_binding, "rpcecho"))
      if a.in_data >= 1000 then assert(c:TestSleep { seconds = a.in_data // 1000 }) end
      local r = assert(c:AddOne { in_data = a.in_data })
      c:close()
      return { out_data = r.out_data }
    end,
    -- TestSleep forwards the sleep to the back server
    TestSleep = function(call, a)
      local c = assert(dcerpc.connect(back_binding, "rpcecho"))
      local r, e = c:TestSleep { seconds = a.seconds }
      c:close()
      if not r then error(e) end
      return { result = r.result }
    end,
    -- EchoData: one back connection per call, several calls pipelined on it
    EchoData = function(call, a)
      local c = assert(dcerpc.connect(back_binding, "rpcecho", { conc_mpx = true }))
      local h1 = assert(c:send("EchoData", { len = #a.in_data, in_data = a.in_data }))
      local h2 = assert(c:send("AddOne", { in_data = #a.in_data }))
      local r1, r2 = assert(c:receive(h1)), assert(c:receive(h2))
      c:close()
      return { out_data = string.char(r2.out_data & 0xff) .. r1.out_data:sub(2) }
    end,
  })
  return srv
end

-- Run each function as a task on srv's loop; close srv when all are done (or
-- after 10 s); re-raise the first error a task raised.
local function drive(srv, ...)
  local fns, left, first_err = { ... }, select("#", ...), nil
  for _, fn in ipairs(fns) do
    srv:spawn(function()
      local ok, e = pcall(fn)
      if not ok and not first_err then first_err = e end
      left = left - 1
      if left == 0 then srv:close() end
    end)
  end
  srv:spawn(function() dcerpc.sleep(10); if left > 0 then first_err = first_err or "tasks did not finish"; srv:close() end end)
  srv:run()
  if first_err then error(first_err, 0) end
end

describe("a handler that calls another server #interop", function()
  local back, logs
  setup(function()
    back = assert(examples.start("echo-server.lua", {}, ECHO_BINDING))
  end)
  teardown(function() if back then back.close() end end)
  before_each(function() logs = {} end)

  it("answers through the other server", function()
    local srv = front_server(back.endpoints[1], logs)
    local got
    drive(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      got = assert(c:AddOne { in_data = 41 }).out_data
      c:close()
    end)
    assert.are.equal(42, got)
    assert.are.same({}, logs)
  end)

  it("does not hold up other calls while it waits on the other server", function()
    local srv = front_server(back.endpoints[1], logs)
    local results, quick_at = {}, nil
    local t0 = now()
    -- four calls that each wait 1 s on the back server, and a quick one
    local function slow(i)
      return function()
        local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
        results[i] = assert(c:TestSleep { seconds = 1 }).result
        c:close()
      end
    end
    drive(srv, slow(1), slow(2), slow(3), slow(4), function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      assert.are.equal(8, assert(c:AddOne { in_data = 7 }).out_data)
      quick_at = now() - t0
      c:close()
    end)
    local elapsed = now() - t0
    assert.are.same({ 1, 1, 1, 1 }, results)
    assert.is_true(quick_at < 0.5, "the quick call waited for the slow ones: " .. quick_at)
    assert.is_true(elapsed < 2.5, "the sleeping calls ran one after another: " .. elapsed)
  end)

  it("pipelines several calls on one client connection from a handler", function()
    local srv = front_server(back.endpoints[1], logs)
    local got
    drive(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      got = assert(c:EchoData { len = 3, in_data = "abc" }).out_data
      c:close()
    end)
    assert.are.equal("\4bc", got)
  end)

  it("gives a clean error when the other server is unreachable", function()
    local srv = front_server("ncacn_ip_tcp:127.0.0.1[1]", logs)
    local r, e
    drive(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      r, e = c:AddOne { in_data = 1 }
      c:close()
    end)
    assert.is_nil(r)
    assert.are.equal(1726, e.code)          -- the handler raised: rpc_s_call_failed
    assert.matches("RPC_S_SERVER_UNAVAILABLE", table.concat(logs, "\n"))   -- logged (1722)
  end)
end)

describe("client tasks on the default loop (dcerpc.spawn / dcerpc.run) #interop", function()
  local back
  setup(function() back = assert(examples.start("echo-server.lua", {}, ECHO_BINDING)) end)
  teardown(function() if back then back.close() end end)

  it("runs many client calls at once", function()
    local t0 = now()
    local got = {}
    for i = 1, 8 do
      dcerpc.spawn(function()
        local c = assert(dcerpc.connect(back.endpoints[1], "rpcecho"))
        assert(c:TestSleep { seconds = 1 })
        got[i] = assert(c:AddOne { in_data = i }).out_data
        c:close()
      end)
    end
    dcerpc.run()
    local elapsed = now() - t0
    for i = 1, 8 do assert.are.equal(i + 1, got[i]) end
    assert.is_true(elapsed < 2.5, "eight 1 s calls took " .. elapsed .. " s")
  end)

  it("times a call out without blocking the others", function()
    local r1, e1, r2
    dcerpc.spawn(function()
      local c = assert(dcerpc.connect(back.endpoints[1], "rpcecho", { timeout = 0.3 }))
      r1, e1 = c:TestSleep { seconds = 2 }
      -- the connection is kept after a timed-out call (co_cancel sent)
      r2 = c:AddOne { in_data = 1 }
      c:close()
    end)
    local quick
    dcerpc.spawn(function()
      local c = assert(dcerpc.connect(back.endpoints[1], "rpcecho"))
      quick = assert(c:AddOne { in_data = 9 }).out_data
      c:close()
    end)
    dcerpc.run()
    assert.is_nil(r1)
    assert.are.equal(1818, e1.code)
    assert.are.equal("maybe", e1.executed)
    assert.are.equal(10, quick)
    -- the sleeping call is still on the server's (non-multiplexed) connection:
    -- the next call waits for it or fails cleanly, never hangs past its timeout
    assert.is_true(r2 == nil or r2.out_data == 2)
  end)

  it("wakes a waiting task when another closes its connection", function()
    local c, r, e
    dcerpc.spawn(function()
      c = assert(dcerpc.connect(back.endpoints[1], "rpcecho"))
      r, e = c:TestSleep { seconds = 3 }
    end)
    dcerpc.spawn(function()
      dcerpc.sleep(0.2)
      c:close()
    end)
    local t0 = now()
    dcerpc.run()
    assert.is_true(now() - t0 < 2, "the waiter was not woken")
    assert.is_nil(r)
    assert.are.equal(1726, e.code)
    assert.matches("closed", e.message)
    assert.has_error(function() c:AddOne { in_data = 1 } end)
  end)

  it("reports an unreachable server as an error value inside a task", function()
    local c, e
    dcerpc.spawn(function() c, e = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[1]", "rpcecho", { connect_timeout = 2 }) end)
    dcerpc.run()
    assert.is_nil(c)
    assert.are.equal(1722, e.code)
    assert.are.equal("no", e.executed)
  end)

  it("blocks as before outside a task", function()
    local c = assert(dcerpc.connect(back.endpoints[1], "rpcecho"))
    assert.are.equal(3, assert(c:AddOne { in_data = 2 }).out_data)
    -- a coroutine of the script's own is not a loop task: the call blocks inside it
    local co = coroutine.wrap(function() return c:AddOne { in_data = 5 }.out_data end)
    assert.are.equal(6, co())
    c:close()
  end)
end)
