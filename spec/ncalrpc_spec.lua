-- ncalrpc: RPC over Unix stream sockets, client and server, with Samba's
-- samba-dcerpcd and smbtorture as the independent peers.
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local peers = require "helpers.peers"
local examples = require "helpers.examples"
local torture = require "helpers.torture"

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/lrpc-spec.XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

local function exists(path)          -- a socket file (io.open cannot open one)
  return os.execute("test -S '" .. path .. "'") == true
end

local with_task = require("helpers.tasks").with_task

describe("ncalrpc with our client and server #unit", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function echo_server(opts)
    opts = opts or {}
    opts.ncalrpc_dir = dir
    local srv = assert(dcerpc.server(opts))
    srv:register("rpcecho", {
      AddOne = function(call, a) return { out_data = a.in_data + 1 } end,
      TestCall = function(call, a) return { s2 = call.peer } end,
    })
    return srv
  end

  it("serves a named endpoint in the ncalrpc directory and removes it on close", function()
    local srv = echo_server { listen = { "ncalrpc:[ECHO]" } }
    assert.are.same({ "ncalrpc:[ECHO]" }, srv.endpoints)
    assert.is_true(exists(dir .. "/ECHO"))
    local add, peer, info
    with_task(srv, function()
      local c = assert(dcerpc.connect("ncalrpc:[ECHO]", "rpcecho", { ncalrpc_dir = dir }))
      add = assert(c:AddOne { in_data = 41 }).out_data
      peer = assert(c:TestCall { s1 = "x" }).s2
      info = c:info()
      c:close()
    end)
    assert.are.equal(42, add)
    -- the server sees who called: the caller's pid, uid and gid
    local me = io.popen("id -u"):read("l")
    assert.matches("^local:pid=%d+,uid=" .. me .. ",gid=%d+$", peer)
    assert.are.equal("ncalrpc", info.transport)
    assert.are.equal("ECHO", info.secondary_address)
    assert.is_false(exists(dir .. "/ECHO"))
  end)

  it("generates a name when the binding has none, and accepts a path", function()
    local srv = echo_server { listen = { "ncalrpc:", "ncalrpc:[" .. dir .. "/sub/by-path]" } }
    assert.matches("^ncalrpc:%[LRPC%-%x+%]$", srv.endpoints[1])
    assert.is_true(exists(dir .. "/sub/by-path"))
    local a, b
    with_task(srv, function()
      local c1 = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { ncalrpc_dir = dir }))
      a = assert(c1:AddOne { in_data = 1 }).out_data
      local c2 = assert(dcerpc.connect("ncalrpc:[" .. dir .. "/sub/by-path]", "rpcecho"))
      b = assert(c2:AddOne { in_data = 2 }).out_data
      c1:close(); c2:close()
    end)
    assert.are.same({ 2, 3 }, { a, b })
  end)

  it("maps an ncalrpc endpoint through the endpoint mapper", function()
    local srv = echo_server { listen = { "ncalrpc:[EPMAPPER]", "ncalrpc:[ECHO]", "ncacn_ip_tcp:127.0.0.1[0]" }, epmapper = true }
    local add, binding
    with_task(srv, function()
      local c = assert(dcerpc.connect("ncalrpc:", "rpcecho", { ncalrpc_dir = dir }))
      add = assert(c:AddOne { in_data = 6 }).out_data
      binding = c.binding
      c:close()
    end)
    assert.are.equal(7, add)
    -- EPMAPPER comes first in the map, but it does not serve rpcecho... it does:
    -- every endpoint serves every interface, so either is a right answer
    assert.is_truthy(binding == "ncalrpc:[ECHO]" or binding == "ncalrpc:[EPMAPPER]", binding)
  end)

  it("replaces a stale socket file and refuses a live one", function()
    local srv = echo_server { listen = { "ncalrpc:[ECHO]" } }
    local other, e = dcerpc.server { listen = { "ncalrpc:[ECHO]" }, ncalrpc_dir = dir }
    assert.is_nil(other)
    assert.matches("already listening", tostring(e))
    srv:close()
    -- leave a socket file behind that nobody listens on
    os.execute(string.format("env -u LD_PRELOAD /usr/bin/python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.bind('%s/ECHO')\"", dir))
    assert.is_true(exists(dir .. "/ECHO"))
    local srv2 = echo_server { listen = { "ncalrpc:[ECHO]" } }
    local add
    with_task(srv2, function()
      local c = assert(dcerpc.connect("ncalrpc:[ECHO]", "rpcecho", { ncalrpc_dir = dir }))
      add = assert(c:AddOne { in_data = 9 }).out_data
      c:close()
    end)
    assert.are.equal(10, add)
  end)

  it("fails cleanly when nobody listens", function()
    local c, e = dcerpc.connect("ncalrpc:[NOBODY]", "rpcecho", { ncalrpc_dir = dir })
    assert.is_nil(c)
    assert.are.equal(1722, e.code)
    assert.are.equal("no", e.executed)
    assert.matches("NOBODY", e.message)
    c, e = core.connect_unix(dir .. "/" .. string.rep("x", 200))
    assert.is_nil(c)
    assert.matches("too long", e.message)
  end)
end)

describe("ncalrpc against Samba #interop", function()
  local samba = peers.samba()
  if not samba then return end
  local dir = peers.dir .. "/samba-member/ncalrpc"

  it("calls srvsvc and wkssvc on samba-dcerpcd's sockets, mapped through its EPMAPPER", function()
    local c = assert(dcerpc.connect("ncalrpc:", "srvsvc", { ncalrpc_dir = dir }))
    assert.are.equal("ncalrpc", c:info().transport)
    local r = assert(c:NetrServerGetInfo { Level = 101 })
    local tcp = assert(dcerpc.connect("ncacn_ip_tcp:127.0.0.1", "srvsvc"))
    local rt = assert(tcp:NetrServerGetInfo { Level = 101 })
    assert.are.same(rt.InfoStruct.ServerInfo101, r.InfoStruct.ServerInfo101)
    assert.are.equal("RPCSRV", r.InfoStruct.ServerInfo101.sv101_name)
    c:close(); tcp:close()
    local w = assert(dcerpc.connect("ncalrpc:[rpcd_classic]", "wkssvc", { ncalrpc_dir = dir }))
    assert.are.equal("RPCTEST", assert(w:NetrWkstaGetInfo { Level = 100 }).WkstaInfo.WkstaInfo100.wki100_langroup)
    w:close()
  end)
end)

describe("examples/echo-server.lua over ncalrpc with smbtorture rpc.echo #interop", function()
  if not torture.available() then return end
  local dir, es
  setup(function()
    dir = tmpdir()
    es = assert(examples.start("echo-server.lua", {}, "ncalrpc:[" .. dir .. "/ECHO]"))
  end)
  teardown(function()
    if es then es.close() end
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("passes all 10 sub-tests", function()
    local ok, bad, out = torture.run("ncalrpc:[ECHO]", { "rpc.echo" }, { options = { "ncalrpc dir=" .. dir } })
    assert.are.equal(0, #bad, out)
    assert.are.equal(10, #ok, out)
  end)
end)
