-- options_spec.lua - options are checked (dcerpc.opts): a misspelled option,
-- call option or [in] parameter raises at the caller's line, naming the
-- nearest valid key, before anything is connected or sent; every documented
-- option is accepted; the client's max_response bounds what a server can
-- make it hold (docs/limits.md).
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"
local options = require "dcerpc.opts"
local server = require "dcerpc.server"

local HERE = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
local PYTHON = "env -u LD_PRELOAD " .. (os.getenv("DCERPC_PYTHON") or "/usr/bin/python3")

-- fn(...) that must raise; returns the message. Called from a Lua line of
-- this file (not a tail call), so that a misuse error shows that line.
local function raises(fn, ...)
  local args = table.pack(...)
  local ok, e = pcall(function()
    local r = fn(table.unpack(args, 1, args.n))
    return r
  end)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

-- the message points at this file (the caller's line), not into the library
local function here(msg)
  assert.is_truthy(msg:match("options_spec%.lua:%d+: "), "not at the caller's line: " .. msg)
end

-- a listening socket nobody answers: did the client connect to it?
local function listener()
  local l = assert(core.listen_tcp("127.0.0.1", 0))
  return l, "ncacn_ip_tcp:127.0.0.1[" .. l:port() .. "]"
end
local function no_accept(l)
  local s = l:accept(0.2)
  if s then s:close() end
  l:close()
  assert.is_nil(s, "a connection was made")
end

-- an rpcecho server on this process's loop; fn(binding) runs as a task
local function echo_server(handlers)
  local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" }, log = function() end })
  srv.calls = 0
  local h = {
    AddOne = function(_, a) srv.calls = srv.calls + 1; return { out_data = (a.in_data + 1) & 0xffffffff } end,
    TestSurrounding = function(_, a) srv.calls = srv.calls + 1; return { data = a.data } end,
  }
  for k, v in pairs(handlers or {}) do h[k] = v end
  srv:register("rpcecho", h)
  return srv
end

local with_task = require("helpers.tasks").with_task

describe("dcerpc.opts #unit", function()
  local K = options.keys({ "user", "password", "level", "timeout", "max_response" }, { "nt_hash" })

  it("suggests the nearest key: transpositions, edits, containment", function()
    assert.are.equal("user", options.suggest("username", K))
    assert.are.equal("level", options.suggest("levle", K))
    assert.are.equal("timeout", options.suggest("timeuot", K))
    assert.are.equal("password", options.suggest("passwd", K))
    assert.are.equal("max_response", options.suggest("maxresponse", K))
    assert.are.equal("nt_hash", options.suggest("hash", K))
    assert.are.equal("level", options.suggest("Level", K))
    assert.is_nil(options.suggest("xyz", K))
    assert.is_nil(options.suggest(1, K))
  end)

  it("distance is Damerau's (one transposition is one edit)", function()
    assert.are.equal(1, options.distance("levle", "level", 5))
    assert.are.equal(3, options.distance("kitten", "sitting", 5))
    assert.are.equal(2, options.distance("abcdef", "xyz", 1))     -- beyond the limit: limit + 1
  end)

  it("check passes nil and known keys, raises on the rest", function()
    assert.is_nil(options.check(nil, K, "f", 1))
    local t = { user = "a", level = "privacy" }
    assert.are.equal(t, options.check(t, K, "f", 1))
    local e = raises(options.check, { usr = "a" }, K, "f", 1)
    assert.is_truthy(e:find("unknown option 'usr' to f (did you mean 'user'?)", 1, true))
    e = raises(options.check, { zzz = 1 }, K, "f", 1)
    assert.is_truthy(e:find("(known: level, max_response, nt_hash, password, timeout, user)", 1, true))
    e = raises(options.check, { "privacy" }, K, "f", 1)
    assert.is_truthy(e:find("unknown option [1] to f", 1, true))
    e = raises(options.check, "privacy", K, "f", 1)
    assert.is_truthy(e:find("options must be a table, got string", 1, true))
  end)
end)

describe("dcerpc.connect options #unit", function()
  for _, case in ipairs {
    { { username = "alice", password = "x" }, "unknown option 'username' to dcerpc.connect (did you mean 'user'?)" },
    { { user = "alice", password = "x", levle = "privacy" }, "unknown option 'levle' to dcerpc.connect (did you mean 'level'?)" },
    { { timeuot = 5 }, "unknown option 'timeuot' to dcerpc.connect (did you mean 'timeout'?)" },
    { { auth = { type = "ntlm", usre = "alice" } },
      "unknown option 'usre' to dcerpc.connect (auth table) (did you mean 'user'?)" },
    { { max_reponse = 1 }, "unknown option 'max_reponse' to dcerpc.connect (did you mean 'max_response'?)" },
  } do
    local opts, want = case[1], case[2]
    local key = next(opts.auth or {}) == "type" and "usre" or next(opts)
    it("raises for " .. tostring(key) .. " and connects nowhere", function()
      local l, b = listener()
      local e = raises(dcerpc.connect, b, "rpcecho", opts)
      here(e)
      assert.is_truthy(e:find(want, 1, true), e)
      no_accept(l)
    end)
  end

  it("raises before asking the endpoint mapper (no port in the binding)", function()
    local e = raises(dcerpc.connect, "ncacn_ip_tcp:127.0.0.1", "rpcecho", { epm_prot = 1 })
    assert.is_truthy(e:find("did you mean 'epm_port'?", 1, true), e)
  end)

  it("accepts every documented option", function()
    local srv = echo_server()
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho", {
        timeout = 5, connect_timeout = 5, object = "00000000-0000-0000-0000-000000000000",
        max_xmit = 4280, max_recv = 4280, conc_mpx = true, assoc_group = 0, max_response = 1 << 20,
        feature_negotiation = true, epm_port = 135, ncalrpc_dir = "/tmp", strict = true,
      }))
      assert.are.equal(8, c:AddOne({ in_data = 7 }, { timeout = 5, max_response = 100, strict = true,
                                                     object = "00000000-0000-0000-0000-000000000000" }).out_data)
      c:close()
    end)
    -- the security options: checked, not used (no server auth here)
    local K = dcerpc.option_keys
    for _, k in ipairs { "auth", "user", "domain", "password", "nt_hash", "workstation", "level", "ntlmv1",
                         "auth_context_id", "drep" } do
      assert.is_true(K.connect[k], k)
    end
    for _, k in ipairs { "type", "user", "domain", "password", "nt_hash", "workstation", "level" } do
      assert.is_true(K.auth[k], k)
    end
    for _, k in ipairs { "auth", "user", "domain", "password", "nt_hash", "level", "workstation", "auth_context_id" } do
      assert.is_true(K.authenticate[k], k)
    end
  end)
end)

describe("per-call options and arguments #unit", function()
  it("a misspelled call option raises and sends nothing", function()
    local srv = echo_server()
    local e1, e2, e3
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho"))
      e1 = raises(c.AddOne, c, { in_data = 1 }, { timeuot = 5 })
      e2 = raises(c.call, c, "AddOne", { in_data = 1 }, { max_respones = 5 })
      e3 = raises(c.send, c, "AddOne", { in_data = 1 }, { objcet = "x" })
      c:close()
    end)
    assert.is_truthy(e1:find("unknown option 'timeuot' to call AddOne (did you mean 'timeout'?)", 1, true), e1)
    assert.is_truthy(e2:find("did you mean 'max_response'?", 1, true), e2)
    assert.is_truthy(e3:find("did you mean 'object'?", 1, true), e3)
    assert.are.equal(0, srv.calls)
  end)

  it("the error points at the line of the call, method or c:call", function()
    local srv = echo_server()
    local e1, e2
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho"))
      e1 = select(2, pcall(function() local r = c:AddOne({ in_data = 1 }, { timeuot = 5 }); return r end))
      e2 = select(2, pcall(function() local r = c:call("AddOne", { in_dat = 1 }); return r end))
      c:close()
    end)
    here(e1); here(e2)
  end)

  it("a misspelled [in] parameter raises, naming the function and the nearest one", function()
    local srv = echo_server()
    local e1, e2, e3
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho"))
      e1 = raises(c.AddOne, c, { in_dat = 1 })
      e2 = raises(c.AddOne, c, { in_data = 1, out_data = 2 })
      e3 = raises(c.AddOne, c, { in_data = 1, zzz = 1 })
      assert.are.equal(2, c:AddOne({ in_data = 1 }).out_data)      -- still usable
      c:close()
    end)
    assert.is_truthy(e1:find("unknown parameter 'in_dat' to rpcecho.AddOne (did you mean 'in_data'?)", 1, true), e1)
    assert.is_truthy(e2:find("parameter 'out_data' of rpcecho.AddOne is [out] only", 1, true), e2)
    assert.is_truthy(e3:find("(known: in_data)", 1, true), e3)
    assert.are.equal(1, srv.calls)
  end)

  it("nested fields: dropped unless strict; strict names the path and the nearest field", function()
    local fn = dcerpc.interface("rpcecho").functions.TestSurrounding
    local good = { data = { x = 2, surrounding = { 1, 2 } } }
    local typo = { data = { x = 0, surrounding = {}, surounding = { 1, 2 } } }
    assert.is_string(ndr.encode_call(fn, "in", typo))           -- not strict: the key is dropped
    local e = raises(ndr.encode_call, fn, "in", typo, { strict = true })
    assert.is_truthy(e:find("unknown field 'surounding' in data (struct echo_Surrounding) (did you mean 'surrounding'?)",
                            1, true), e)
    here(e)
    assert.are.equal(ndr.encode_call(fn, "in", good), ndr.encode_call(fn, "in", good, { strict = true }))
    ndr.strict = true
    local ok, e2 = pcall(ndr.encode_call, fn, "in", typo)
    ndr.strict = false
    assert.is_false(ok)
    assert.is_truthy(tostring(e2):find("surounding", 1, true))
  end)

  it("strict: union arms, arrays of structs, aliases and loops", function()
    local fn = dcerpc.interface("srvsvc").functions.NetrShareEnum
    local args = { ServerName = "x", PreferedMaximumLength = 1, InfoStruct = { Level = 1,
      ShareInfo = { Level1 = { EntriesRead = 1, Buffer = { { shi1_netname = "a", shi1_type = 0, shi1_remark = "r" } } } } } }
    ndr.check_call(fn, "in", args)
    args.InfoStruct.ShareInfo.Level1.Buffer[1].shi1_remrk = "x"
    local e = raises(ndr.check_call, fn, "in", args)
    assert.is_truthy(e:find("unknown field 'shi1_remrk' in InfoStruct.ShareInfo.Level1.Buffer[1]", 1, true), e)
    assert.is_truthy(e:find("(did you mean 'shi1_remark'?)", 1, true), e)
    args.InfoStruct.ShareInfo = { Levl1 = {} }
    e = raises(ndr.check_call, fn, "in", args)
    assert.is_truthy(e:find("unknown arm 'Levl1' in InfoStruct.ShareInfo", 1, true), e)
    assert.is_truthy(e:find("did you mean 'Level1'?", 1, true), e)
    -- a loop through full pointers ends
    local Node = ndr.struct "Node"
    Node { { "v", ndr.uint32 }, { "next", ndr.full(Node) } }
    local a = { v = 1 }; a.next = a
    ndr.check_value(Node, a)
    a.nxt = a
    e = raises(ndr.check_value, Node, a)
    assert.is_truthy(e:find("did you mean 'next'?", 1, true), e)
  end)

  it("strict from the connect options checks every call of the client", function()
    local srv = echo_server()
    local e
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho", { strict = true }))
      e = raises(c.TestSurrounding, c, { data = { x = 0, surrounding = {}, surounding = {} } })
      local r = assert(c:TestSurrounding { data = { x = 1, surrounding = { 5 } } })
      assert.are.same({ 5 }, r.data.surrounding)
      c:close()
    end)
    assert.is_truthy(e:find("did you mean 'surrounding'?", 1, true), e)
    assert.are.equal(1, srv.calls)
  end)
end)

describe("server options #unit", function()
  it("a misspelled dcerpc.server option raises before anything listens", function()
    local l = assert(core.listen_tcp("127.0.0.1", 0))
    local port = l:port()
    l:close()
    local e = raises(dcerpc.server, { listen = { "ncacn_ip_tcp:127.0.0.1[" .. port .. "]" }, max_conections = 5 })
    here(e)
    assert.is_truthy(e:find("unknown option 'max_conections' to dcerpc.server (did you mean 'max_connections'?)",
                            1, true), e)
    assert.is_nil((core.raw_connect("127.0.0.1", port, 1)))
    e = raises(dcerpc.server, { auth = { user = { a = "b" } } })
    assert.is_truthy(e:find("unknown option 'user' to dcerpc.server (auth table) (did you mean 'users'?)", 1, true), e)
  end)

  it("a misspelled srv:register option raises and registers nothing", function()
    local srv = assert(dcerpc.server { log = function() end })
    local n = #srv.ifaces
    local e = raises(srv.register, srv, "rpcecho", {}, { min_levl = "privacy" })
    assert.is_truthy(e:find("unknown option 'min_levl' to srv:register (did you mean 'min_level'?)", 1, true), e)
    here(e)
    assert.are.equal(n, #srv.ifaces)
    e = raises(srv.enable_epmapper, srv, { epm_max_handle = 3 })
    assert.is_truthy(e:find("did you mean 'epm_max_handles'?", 1, true), e)
    e = raises(srv.set_auth, srv, { users = {}, domian = "D" })
    assert.is_truthy(e:find("did you mean 'domain'?", 1, true), e)
    srv:close()
  end)

  it("accepts every documented server option, the new limits included", function()
    local f = assert(io.open(HERE .. "../docs/server.md"))
    local doc = f:read("a")
    f:close()
    local K = server.option_keys.server
    local row = assert(doc:match("`dcerpc%.server{([^`]*)}`"))
    local n = 0
    for k in row:gmatch("([%a_]+)%s*=") do assert.is_true(K[k], k); n = n + 1 end
    assert.is_true(n >= 10)
    for k in doc:gmatch("\n| `([%a_]+) = [^`]*` |") do assert.is_true(K[k], k) end   -- the epmapper rows
    for _, k in ipairs { "request_timeout", "reply_timeout", "max_connections_per_address", "max_calls",
                         "max_buffered", "max_calls_per_connection", "max_auth_contexts", "epmapper", "mgmt",
                         "epm_remote_insert", "epm_max_handles", "epm_max_entries" } do
      assert.is_true(K[k], k)
    end
    local srv = assert(dcerpc.server {
      listen = "ncacn_ip_tcp:127.0.0.1[0]", max_connections = 10, max_auth_contexts = 4,
      max_request = 1 << 20, idle_timeout = 0, call_timeout = 0, partial_timeout = 40, max_frag = 5840,
      workers = 1, log = function() end, ncalrpc_dir = "/tmp", epmapper = true, mgmt = true,
      epm_remote_insert = false, epm_max_handles = 8, epm_max_entries = 8,
      request_timeout = 30, reply_timeout = 30, max_connections_per_address = 10, max_calls = 100,
      max_buffered = 1 << 20,
    })
    srv:register("rpcecho", {}, { min_level = "connect", annotation = "echo" })
    srv:close()
  end)
end)

describe("client max_response #unit", function()
  local function source_server()
    return echo_server { SourceData = function(_, a) return { data = string.rep("s", a.len) } end }
  end

  it("a reply over the connection's limit fails cleanly; per call it can be raised or lowered", function()
    local srv = source_server()
    local e1, e2, r2, r3
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho", { max_response = 100000 }))
      local r
      r, e1 = c:SourceData { len = 200000 }
      assert.is_nil(r)
      r2 = assert(c:SourceData({ len = 200000 }, { max_response = 300000 }))
      r3, e2 = c:SourceData({ len = 2000 }, { max_response = 1000 })
      assert.are.equal(5, #assert(c:SourceData { len = 5 }).data)   -- the connection goes on
      c:close()
    end)
    assert.are.equal(1726, e1.code)                       -- rpc_s_call_failed
    assert.are.equal("maybe", e1.executed)
    assert.is_truthy(e1.message:find("max_response (100000 bytes)", 1, true), e1.message)
    assert.are.equal(200000, #r2.data)
    assert.is_nil(r3)
    assert.is_truthy(e2.message:find("max_response (1000 bytes)", 1, true), e2.message)
  end)

  it("16 MiB by default; a call may ask for more", function()
    local srv = source_server()
    local e, big
    local n = 16 * 1024 * 1024 + 4096
    with_task(srv, function(b)
      local c = assert(dcerpc.connect(b, "rpcecho", { timeout = 60 }))
      local r
      r, e = c:SourceData { len = n }
      assert.is_nil(r)
      big = #assert(c:SourceData({ len = n }, { max_response = 32 * 1024 * 1024 })).data
      c:close()
    end)
    assert.is_truthy(e.message:find("max_response (16777216 bytes)", 1, true), e.message)
    assert.are.equal(n, big)
  end)

  it("a server announcing 4 GiB and streaming 64 MiB costs at most the limit", function()
    local function peak_kb()
      local f = io.open("/proc/self/status")
      if not f then return nil end
      local s = f:read("a"); f:close()
      return tonumber(s:match("VmHWM:%s*(%d+)"))
    end
    local p = assert(io.popen(string.format("%s %q huge_response", PYTHON, HERE .. "helpers/fakeserver.py")))
    local port = assert(tonumber((p:read("l") or ""):match("^PORT (%d+)")))
    local reset = io.open("/proc/self/clear_refs", "w")
    local can_measure = reset and reset:write("5") and reset:close() and peak_kb()
    local before = can_measure and peak_kb()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:127.0.0.1[" .. port .. "]", "rpcecho", { timeout = 30 }))
    local r, e = c:SourceData { len = 1 }
    local after = can_measure and peak_kb()
    c:close()
    local log = p:read("a")
    p:close()
    assert.is_nil(r)
    assert.is_truthy(e.message:find("max_response (16777216 bytes)", 1, true), e.message)
    if can_measure then
      -- the reassembly buffer grows with what arrives, to the limit at most
      -- (a geometric growth step above 16 MiB is not taken: capped at it)
      assert.is_true(after - before < 40 * 1024, string.format("peak grew by %d KiB", after - before))
    end
    assert.is_truthy(log:find("SAW request", 1, true))
  end)
end)
