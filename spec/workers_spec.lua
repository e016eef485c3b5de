-- spec/workers_spec.lua: dcerpc.server{ workers = N } (processes forked by
-- srv:run(), connections handed over between them) and the association-end
-- hook (srv:on_disconnect, lookup handles of the endpoint mapper).
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local examples = require "helpers.examples"

local ZERO = string.rep("\0", 20)
local ALL, VERS_ALL = 0, 1
local EPT_S_NOT_REGISTERED = 0x16c9a0d6

-- the pids of PID's children, sorted (from /proc, not pgrep: procps hangs
-- under the sanitizer pass's LD_PRELOAD)
local function children(pid)
  local t = {}
  local f = io.open(string.format("/proc/%d/task/%d/children", pid, pid))
  if f then
    for n in f:read("a"):gmatch("%d+") do t[#t + 1] = tonumber(n) end
    f:close()
  end
  table.sort(t)
  return t
end

-- a process that exists and is not a zombie
local function alive(pid)
  local f = io.open(string.format("/proc/%d/stat", pid))
  if not f then return false end
  local st = f:read("a")
  f:close()
  return st:match("^%d+ %b() (%a)") ~= "Z"
end

local function wait_until(f, secs)
  local deadline = os.time() + (secs or 5)
  repeat
    if f() then return true end
    core.sleep_blocking(0.05)
  until os.time() > deadline
  return f() and true or false
end

local ECHO = { AddOne = function(call, a) return { out_data = (a.in_data + 1) & 0xffffffff } end }

-- Run fn as a task on srv's loop (a client inside it yields to the loop)
-- and step until it has finished; its error, if any, is raised here.
local function in_task(srv, fn, secs)
  local done, ok, err = false, nil, nil
  srv:spawn(function()
    ok, err = pcall(fn)
    done = true
  end)
  local deadline = os.time() + (secs or 10)
  while not done and os.time() <= deadline do srv:step(0.05) end
  assert(done, "task did not finish")
  if not ok then error(err, 0) end
end

describe("workers #unit", function()
  it("checks the workers option", function()
    for _, bad in ipairs { 0, -1, 1.5, 65, "x" } do
      assert.has_error(function() dcerpc.server { workers = bad } end)
    end
    local srv = assert(dcerpc.server { workers = 64 })
    assert.are.equal(64, srv:stats().workers)
    srv:close()
  end)

  it("serves from one process under srv:step(); group ids name worker 0", function()
    local srv = assert(dcerpc.server { listen = "ncacn_ip_tcp:127.0.0.1[0]", workers = 2 })
    local seen
    srv:register("rpcecho", { AddOne = function(call, a) seen = call.worker; return { out_data = a.in_data + 1 } end })
    local st = srv:stats()
    assert.are.equal(0, st.worker)
    assert.are.equal(2, st.workers)
    local groups = {}
    in_task(srv, function()
      for i = 1, 3 do
        local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
        assert.are.equal(i + 1, c:AddOne { in_data = i }.out_data)
        groups[i] = c:info().assoc_group
        c:close()
      end
    end)
    for _, g in ipairs(groups) do
      assert.are_not.equal(0, g)
      assert.are.equal(0, g >> 24)       -- worker 0 in the top 8 bits
    end
    assert.are.equal(0, seen)
    local pids = srv:worker_pids()
    assert.are.equal(2, #pids)
    assert.are.equal(0, pids[2])         -- nothing forked: step() is single-process
    srv:close()
  end)

  it("keeps 32-bit random group ids with workers = 1", function()
    local srv = assert(dcerpc.server { listen = "ncacn_ip_tcp:127.0.0.1[0]" })
    srv:register("rpcecho", ECHO)
    local high = false
    in_task(srv, function()
      for _ = 1, 8 do
        local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
        if c:info().assoc_group >> 24 ~= 0 then high = true end
        c:close()
      end
    end)
    assert.is_true(high)
    srv:close()
  end)
end)

describe("association end #unit", function()
  it("calls srv:on_disconnect with the connection, its group and whether the group ended", function()
    local srv = assert(dcerpc.server { listen = "ncacn_ip_tcp:127.0.0.1[0]" })
    local conns = {}
    srv:register("rpcecho", { AddOne = function(call, a)
      conns[#conns + 1] = call.connection
      return { out_data = a.in_data + 1 }
    end })
    local ends = {}
    srv:on_disconnect(function(conn, group, ended) ends[#ends + 1] = { conn, group, ended } end)
    srv:on_disconnect(function() error("a failing hook is logged") end)
    local logged = {}
    srv.log = function(m) logged[#logged + 1] = m end
    local g
    in_task(srv, function()
      local a = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      g = a:info().assoc_group
      local b = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { assoc_group = g }))
      a:AddOne { in_data = 1 }
      b:AddOne { in_data = 2 }
      a:close()
      dcerpc.sleep(0.1)
      b:close()
      dcerpc.sleep(0.1)
    end)
    for _ = 1, 10 do srv:step(0.01) end
    assert.are.equal(2, #ends)
    assert.are.same({ conns[1], g, false }, ends[1])
    assert.are.same({ conns[2], g, true }, ends[2])
    assert.is_truthy(table.concat(logged, "\n"):find("a failing hook is logged", 1, true))
    srv:close()
  end)

  it("frees the endpoint mapper's lookup handles when their association ends", function()
    local srv = assert(dcerpc.server { listen = "ncacn_ip_tcp:127.0.0.1[0]", epmapper = true })
    srv:register("rpcecho", ECHO)
    local db = srv._epm.db
    local h1, h2
    in_task(srv, function()
      local a = assert(dcerpc.connect(srv.endpoints[1], "epm"))
      local g = a:info().assoc_group
      local b = assert(dcerpc.connect(srv.endpoints[1], "epm", { assoc_group = g }))
      local other = assert(dcerpc.connect(srv.endpoints[1], "epm"))
      local r = assert(a:ept_lookup { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = ZERO, max_ents = 1 })
      assert.are.equal(0, r.status)
      h1 = r.entry_handle
      r = assert(other:ept_lookup { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = ZERO, max_ents = 1 })
      h2 = r.entry_handle
      assert.are.equal(2, db:live_handles())
      a:close()                          -- b keeps the association: the handle lives on
      dcerpc.sleep(0.1)
      assert.are.equal(2, db:live_handles())
      r = assert(b:ept_lookup { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = h1, max_ents = 1 })
      assert.are.equal(0, r.status)
      assert.are.equal(1, r.num_ents)
      b:close()                          -- the association ends: its handle goes
      dcerpc.sleep(0.1)
      assert.are.equal(1, db:live_handles())
      assert.is_nil(db.handles[h1])
      assert.is_truthy(db.handles[h2])
      other:close()
      dcerpc.sleep(0.1)
    end)
    for _ = 1, 10 do srv:step(0.01) end
    assert.are.equal(0, db:live_handles())
    assert.is_nil(next(db.by_conn))
    srv:close()
  end)

  it("answers an unknown handle with EPT_S_NOT_REGISTERED once it was freed", function()
    local srv = assert(dcerpc.server { listen = "ncacn_ip_tcp:127.0.0.1[0]", epmapper = true })
    srv:register("rpcecho", ECHO)
    local h
    in_task(srv, function()
      local a = assert(dcerpc.connect(srv.endpoints[1], "epm"))
      h = assert(a:ept_lookup { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = ZERO, max_ents = 1 }).entry_handle
      a:close()
      dcerpc.sleep(0.1)
      local b = assert(dcerpc.connect(srv.endpoints[1], "epm"))
      local r = assert(b:ept_lookup { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = h, max_ents = 1 })
      assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
      assert.are.equal(ZERO, r.entry_handle)
      b:close()
    end)
    srv:close()
  end)
end)

describe("examples/echo-server.lua --workers 2 #interop", function()
  local es, kids
  setup(function()
    es = assert(examples.start("echo-server.lua", { "--workers", "2" }, "ncacn_ip_tcp:127.0.0.1[0]"))
    assert(wait_until(function() return #children(es.pid) == 1 end), "worker 1 did not start")
    kids = children(es.pid)
  end)
  teardown(function()
    if es then es.close() end
  end)

  local function connect(opts) return dcerpc.connect(es.endpoints[1], "rpcecho", opts) end

  -- n connections, one AddOne each, kept open; -> clients, count per worker, a group per worker
  local function open_many(n)
    local cs, per, group = {}, {}, {}
    for i = 1, n do
      local c = assert(connect())
      assert.are.equal(i + 1, assert(c:AddOne { in_data = i }).out_data)
      local g = c:info().assoc_group
      per[g >> 24] = (per[g >> 24] or 0) + 1
      group[g >> 24] = group[g >> 24] or g
      cs[i] = c
    end
    return cs, per, group
  end
  -- close, then give the workers a moment to see it (their load counts
  -- steer where the next connections go)
  local function close_all(cs)
    for _, c in ipairs(cs) do c:close() end
    os.execute("sleep 0.3")
  end
  -- connections until each worker holds a group (placement follows the
  -- workers' load, which lags behind connections a previous test closed)
  local function open_until_both()
    local cs, per, group = {}, {}, {}
    for i = 1, 40 do
      local c = assert(connect())
      assert.are.equal(i + 1, assert(c:AddOne { in_data = i }).out_data)
      local g = c:info().assoc_group
      per[g >> 24] = (per[g >> 24] or 0) + 1
      group[g >> 24] = group[g >> 24] or g
      cs[i] = c
      if group[0] and group[1] and i >= 4 then break end
    end
    return cs, per, group
  end

  it("serves 20 connections from both workers", function()
    local cs, per = open_many(20)
    assert.are.equal(20, (per[0] or 0) + (per[1] or 0))
    assert.is_true((per[0] or 0) >= 5 and (per[1] or 0) >= 5,
                   string.format("worker 0: %d, worker 1: %d", per[0] or 0, per[1] or 0))
    close_all(cs)
  end)

  it("hands 10 joining connections to the worker of their association group", function()
    local cs, _, group = open_until_both()
    assert.is_truthy(group[0] and group[1], "no group on each worker")
    for w = 0, 1 do
      for i = 1, 10 do
        local c, e = connect { assoc_group = group[w] }
        assert(c, tostring(e))
        assert.are.equal(group[w], c:info().assoc_group)
        assert.are.equal(i + 1, assert(c:AddOne { in_data = i }).out_data)
        cs[#cs + 1] = c
      end
    end
    -- a group nobody made is refused, as with one process
    local c, e = connect { assoc_group = 0x01abcdef }
    assert.is_nil(c)
    assert.is_truthy(e)
    close_all(cs)
  end)

  it("restarts a worker killed with SIGKILL and goes on serving", function()
    local cs, _, group = open_until_both()
    assert.is_truthy(group[0] and group[1], "no group on each worker")
    local old = kids[1]
    assert.is_true(os.execute("kill -9 " .. old))
    assert(wait_until(function()
      local k = children(es.pid)
      return #k == 1 and k[1] ~= old
    end, 5), "worker 1 was not restarted")
    kids = children(es.pid)
    close_all(cs)
    -- the killed worker's groups went with it
    local c = connect { assoc_group = group[1] }
    assert.is_nil(c)
    local cs2, per = open_many(20)
    assert.is_true((per[0] or 0) >= 5 and (per[1] or 0) >= 5,
                   string.format("worker 0: %d, worker 1: %d", per[0] or 0, per[1] or 0))
    close_all(cs2)
  end)
end)

describe("stopping a server with workers #interop", function()
  it("stops every worker with the parent (SIGTERM), leaving no orphan", function()
    local s = assert(examples.start("echo-server.lua", { "--workers", "3" }, "ncacn_ip_tcp:127.0.0.1[0]"))
    assert(wait_until(function() return #children(s.pid) == 2 end), "workers did not start")
    local k = children(s.pid)
    local c = assert(dcerpc.connect(s.endpoints[1], "rpcecho"))
    assert.are.equal(8, c:AddOne { in_data = 7 }.out_data)
    c:close()
    local log
    s.close(function(err) log = err end)
    assert.is_false(alive(s.pid))
    for _, pid in ipairs(k) do assert.is_false(alive(pid), "worker " .. pid .. " outlived the parent") end
    assert.is_truthy(log:find("worker 1 pid " .. k[1], 1, true) or log:find("worker 2 pid " .. k[1], 1, true), log)
  end)

  it("workers die with a parent killed by SIGKILL", function()
    local s = assert(examples.start("echo-server.lua", { "--workers", "2" }, "ncacn_ip_tcp:127.0.0.1[0]"))
    assert(wait_until(function() return #children(s.pid) == 1 end), "worker did not start")
    local k = children(s.pid)
    os.execute("kill -9 " .. s.pid)
    assert.is_true(wait_until(function() return not alive(k[1]) end, 5), "worker outlived its parent")
    pcall(s.close)
  end)
end)
