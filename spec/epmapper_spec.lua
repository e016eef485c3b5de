-- dcerpc.epmapper: the built-in endpoint mapper and mgmt. The database and
-- handlers in this process, then examples/echo-server.lua --epm in a child
-- process against our client, examples/rpcdump.lua and smbtorture
-- (rpc.epmapper on the server's own port; rpc.mgmt, rpc.scanner and epm-mapped
-- rpc.echo, which map through HOST:135, on a free 127.0.0.N:135).
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"

local epm = dcerpc.interface "epm"
local mgmt = dcerpc.interface "mgmt"
local rpcecho = dcerpc.interface "rpcecho"
local srvsvc = dcerpc.interface "srvsvc"

local EPT_S_NOT_REGISTERED = 0x16c9a0d6
local EPT_S_CANT_PERFORM_OP = 0x16c9a0d8
local ZERO = string.rep("\0", 20)
local NIL_UUID = "00000000-0000-0000-0000-000000000000"
local ALL, BY_IF, BY_OBJ = 0, 1, 2
local VERS_ALL, VERS_COMPATIBLE, VERS_EXACT = 1, 2, 3

local function tower_of(iface, binding, major, minor)
  local b = assert(core.binding_parse(binding))
  local t = core.tower_encode {
    interface = { uuid = iface.uuid, major = major or iface.major, minor = minor or iface.minor },
    syntax = dcerpc.NDR20, protseq = b.protseq, endpoint = b.endpoint, host = b.host,
  }
  return { tower_length = #t, tower_octet_string = t }
end

---------------------------------------------------------------- in process

describe("dcerpc.epmapper in process", function()
  local function handlers(srv, name)
    for _, ent in ipairs(srv.ifaces) do
      if ent.iface.name == name then return ent.handlers end
    end
  end
  local LOCAL = { peer = "127.0.0.1:40000" }

  it("registers mgmt on every server, epm only when asked", function()
    local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" }, log = function() end })
    assert.is_table(handlers(srv, "mgmt"))
    assert.is_nil(handlers(srv, "epm"))
    srv:close()
    srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" }, mgmt = false, log = function() end })
    assert.is_nil(handlers(srv, "mgmt"))
    srv:close()
  end)

  it("enters every interface on every endpoint, whatever the order", function()
    local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" }, log = function() end })
    srv:register("rpcecho", {})
    srv:enable_epmapper()
    local ep2 = assert(srv:listen("ncacn_ip_tcp:127.0.0.1[0]"))
    srv:register("srvsvc", {})
    local seen = {}
    for _, e in ipairs(srv:epm_entries()) do
      seen[e.interface.uuid .. " " .. e.binding] = true
      assert.are.equal(NIL_UUID, e.object)
    end
    for _, ep in ipairs { srv.endpoints[1], ep2 } do
      for _, i in ipairs { rpcecho, epm, srvsvc } do
        assert.is_true(seen[i.uuid .. " " .. ep], i.name .. " at " .. ep)
      end
      assert.is_nil(seen[mgmt.uuid .. " " .. ep])
    end
    assert.are.equal(6, #srv:epm_entries())
    srv:close()
  end)

  it("srv:epm_insert / epm_delete entries of other servers", function()
    local srv = assert(dcerpc.server { epmapper = true, log = function() end })
    assert(srv:epm_insert { interface = "srvsvc", binding = "ncacn_ip_tcp:10.1.2.3[49160]",
                            annotation = "elsewhere" })
    assert(srv:epm_insert { interface = "srvsvc", binding = "ncacn_ip_tcp:10.1.2.3[49160]",
                            annotation = "again" })                 -- same entry: no duplicate
    local es = srv:epm_entries()
    assert.are.equal(1, #es)
    assert.are.equal("again", es[1].annotation)
    assert.are.equal("ncacn_ip_tcp:10.1.2.3[49160]", es[1].binding)
    assert.are.equal(1, srv:epm_delete { interface = "srvsvc", binding = "ncacn_ip_tcp:10.1.2.3[49160]" })
    assert.are.equal(0, #srv:epm_entries())
    srv:close()
  end)

  it("refuses ept_insert / ept_delete from another host", function()
    local srv = assert(dcerpc.server { epmapper = true, log = function() end })
    local h = handlers(srv, "epm")
    local ent = { object = NIL_UUID, tower = tower_of(srvsvc, "ncacn_ip_tcp:10.0.0.1[5000]"), annotation = "x" }
    local r = h.ept_insert({ peer = "10.9.9.9:1234" }, { num_ents = 1, entries = { ent }, replace = 0 })
    assert.are.equal(EPT_S_CANT_PERFORM_OP, r.status)
    r = h.ept_insert(LOCAL, { num_ents = 1, entries = { ent }, replace = 0 })
    assert.are.equal(0, r.status)
    r = h.ept_delete({ peer = "[2001:db8::1]:99" }, { num_ents = 1, entries = { ent } })
    assert.are.equal(EPT_S_CANT_PERFORM_OP, r.status)
    r = h.ept_delete(LOCAL, { num_ents = 1, entries = { ent } })
    assert.are.equal(0, r.status)
    r = h.ept_delete(LOCAL, { num_ents = 1, entries = { ent } })
    assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
    srv:close()
  end)

  it("replaces entries of the same object, interface and protocol with replace set", function()
    local srv = assert(dcerpc.server { epmapper = true, log = function() end })
    local h = handlers(srv, "epm")
    local function ins(port, replace)
      local ent = { object = NIL_UUID, tower = tower_of(srvsvc, "ncacn_ip_tcp:10.0.0.1[" .. port .. "]"),
                    annotation = "p" .. port }
      return h.ept_insert(LOCAL, { num_ents = 1, entries = { ent }, replace = replace }).status
    end
    assert.are.equal(0, ins(5000, 0))
    assert.are.equal(0, ins(5001, 0))
    assert.are.equal(2, #srv:epm_entries())
    assert.are.equal(0, ins(5002, 1))
    local es = srv:epm_entries()
    assert.are.equal(1, #es)
    assert.are.equal("ncacn_ip_tcp:10.0.0.1[5002]", es[1].binding)
    srv:close()
  end)

  it("bounds the entries clients insert", function()
    local srv = assert(dcerpc.server { epmapper = true, epm_max_entries = 3, log = function() end })
    local h = handlers(srv, "epm")
    local st = {}
    for p = 1, 5 do
      local ent = { object = NIL_UUID, tower = tower_of(srvsvc, "ncacn_ip_tcp:10.0.0.1[" .. (5000 + p) .. "]"),
                    annotation = "" }
      st[p] = h.ept_insert(LOCAL, { num_ents = 1, entries = { ent }, replace = 0 }).status
    end
    assert.are.same({ 0, 0, 0, EPT_S_CANT_PERFORM_OP, EPT_S_CANT_PERFORM_OP }, st)
    assert.are.equal(3, #srv:epm_entries())
    srv:close()
  end)

  it("bounds the lookup handles a client abandons", function()
    local srv = assert(dcerpc.server { epmapper = true, epm_max_handles = 8, log = function() end })
    for p = 1, 3 do
      assert(srv:epm_insert { interface = "srvsvc", binding = "ncacn_ip_tcp:10.0.0.1[" .. (5000 + p) .. "]" })
    end
    local h = handlers(srv, "epm")
    local first
    for i = 1, 1000 do
      local r = h.ept_lookup(LOCAL, { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = ZERO, max_ents = 1 })
      assert.are.equal(0, r.status)
      assert.are_not.equal(ZERO, r.entry_handle)
      if i == 1 then first = r.entry_handle end
    end
    assert.is_true(srv._epm.db:live_handles() <= 8)
    -- the oldest was evicted: it now ends the search
    local r = h.ept_lookup(LOCAL, { inquiry_type = ALL, vers_option = VERS_ALL, entry_handle = first, max_ents = 1 })
    assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
    assert.are.equal(ZERO, r.entry_handle)
    srv:close()
  end)
end)

---------------------------------------------------------------- child process

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/epmapper_spec%.lua$")) or "."

-- Start examples/echo-server.lua --epm; returns { pid, port, endpoints, close() }
-- or nil, stderr when it does not start (e.g. the address is taken).
local examples = require "helpers.examples"
local torture = require "helpers.torture"

-- Start examples/echo-server.lua --epm; returns { pid, port, endpoints, close() }
-- or nil, stderr when it does not start (e.g. the address is taken).
local function start_server(...)
  return examples.start("echo-server.lua", { "--epm" }, ...)
end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

describe("examples/echo-server.lua --epm with our client #interop", function()
  local es, c
  setup(function()
    es = assert(start_server("ncacn_ip_tcp:127.0.0.1[0]"))
    c = assert(dcerpc.connect(es.endpoints[1], epm))
  end)
  teardown(function()
    if c then c:close() end
    if es then es.close() end
  end)

  local function lookup(args)
    args.vers_option = args.vers_option or VERS_ALL
    args.entry_handle = args.entry_handle or ZERO
    return assert(c:ept_lookup(args))
  end

  it("resolves rpcecho for dcerpc.connect through our epm", function()
    local e = assert(dcerpc.connect("ncacn_ip_tcp:127.0.0.1", "rpcecho", { epm_port = es.port }))
    assert.are.equal(43, e:AddOne { in_data = 42 }.out_data)
    assert.are.equal(string.format("ncacn_ip_tcp:127.0.0.1[%d]", es.port), e:info().binding)
    e:close()
  end)

  it("is listed by examples/rpcdump.lua", function()
    local p = assert(io.popen(string.format("cd %q && env LUA_PATH=%q LUA_CPATH=%q lua5.4 examples/rpcdump.lua 127.0.0.1 %d 2>&1",
      root, package.path, package.cpath, es.port)))
    local out = p:read("a")
    assert.is_true(p:close(), out)
    local ep = string.format("ncacn_ip_tcp:127.0.0.1[%d]", es.port)
    assert.is_truthy(out:find(rpcecho.uuid .. " v1.0  " .. ep .. "  rpcecho", 1, true), out)
    assert.is_truthy(out:find(epm.uuid .. " v3.0  " .. ep .. "  epm", 1, true), out)
    assert.is_truthy(out:find("rpcdump: 2 endpoints", 1, true), out)
  end)

  it("walks every entry with max_ents = 1, then ends with EPT_S_NOT_REGISTERED", function()
    local h, seen = ZERO, {}
    for _ = 1, 2 do
      local r = lookup { inquiry_type = ALL, entry_handle = h, max_ents = 1 }
      assert.are.equal(0, r.status)
      assert.are.equal(1, r.num_ents)
      assert.are_not.equal(ZERO, r.entry_handle)
      local t = assert(core.tower_decode(r.entries[1].tower.tower_octet_string))
      assert.are.equal(tostring(es.port), t.endpoint)
      assert.are.equal("127.0.0.1", t.host)
      seen[t.interface.uuid] = r.entries[1].annotation
      h = r.entry_handle
    end
    assert.are.same({ [rpcecho.uuid] = "rpcecho", [epm.uuid] = "epm" }, seen)
    local r = lookup { inquiry_type = ALL, entry_handle = h, max_ents = 1 }
    assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
    assert.are.equal(0, r.num_ents)
    assert.are.equal(ZERO, r.entry_handle)
  end)

  it("returns a short last batch with EPT_S_NOT_REGISTERED and a zero handle", function()
    local r = lookup { inquiry_type = ALL, max_ents = 10 }
    assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
    assert.are.equal(2, r.num_ents)
    assert.are.equal(ZERO, r.entry_handle)
  end)

  it("matches by interface and version, and by object", function()
    local ifid = { uuid = rpcecho.uuid, vers_major = 1, vers_minor = 0 }
    local r = lookup { inquiry_type = BY_IF, Ifid = ifid, vers_option = VERS_EXACT, max_ents = 10 }
    assert.are.equal(1, r.num_ents)
    local t = core.tower_decode(r.entries[1].tower.tower_octet_string)
    assert.are.equal(rpcecho.uuid, t.interface.uuid)
    r = lookup { inquiry_type = BY_IF, Ifid = { uuid = rpcecho.uuid, vers_major = 1, vers_minor = 1 },
                 vers_option = VERS_COMPATIBLE, max_ents = 10 }
    assert.are.equal(0, r.num_ents)
    assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
    r = lookup { inquiry_type = BY_OBJ, object = NIL_UUID, max_ents = 10 }
    assert.are.equal(2, r.num_ents)
    r = lookup { inquiry_type = BY_OBJ, object = "11111111-2222-3333-4444-555555555555", max_ents = 10 }
    assert.are.equal(0, r.num_ents)
  end)

  it("frees a lookup handle with ept_lookup_handle_free", function()
    local r = lookup { inquiry_type = ALL, max_ents = 1 }
    assert.are.equal(0, r.status)
    local f = assert(c:ept_lookup_handle_free { entry_handle = r.entry_handle })
    assert.are.equal(0, f.status)
    assert.are.equal(ZERO, f.entry_handle)
    local again = lookup { inquiry_type = ALL, entry_handle = r.entry_handle, max_ents = 1 }
    assert.are.equal(EPT_S_NOT_REGISTERED, again.status)
    assert.are.equal(ZERO, again.entry_handle)
  end)

  it("maps by interface uuid, major and minor version", function()
    local function map(major, minor, iface)
      return assert(c:ept_map { map_tower = tower_of(iface or rpcecho, "ncacn_ip_tcp:0.0.0.0[0]", major, minor),
                                entry_handle = ZERO, max_towers = 4 })
    end
    local r = map(1, 0)
    assert.are.equal(0, r.status)
    assert.are.equal(1, r.num_towers)
    local t = core.tower_decode(r.ITowers[1].tower_octet_string)
    assert.are.equal(tostring(es.port), t.endpoint)
    assert.are.equal(EPT_S_NOT_REGISTERED, map(1, 1).status)     -- server minor < client minor
    assert.are.equal(EPT_S_NOT_REGISTERED, map(2, 0).status)     -- other major
    r = map(nil, nil, srvsvc)                                    -- not registered at all
    assert.are.equal(EPT_S_NOT_REGISTERED, r.status)
    assert.are.equal(0, r.num_towers)
    local port, e = dcerpc.ept_map("127.0.0.1", srvsvc, { epm_port = es.port })
    assert.is_nil(port)
    assert.are.equal(EPT_S_NOT_REGISTERED, e.code)
  end)

  it("inserts, maps and deletes another server's entry", function()
    local ent = { object = NIL_UUID, tower = tower_of(srvsvc, "ncacn_ip_tcp:10.1.2.3[49999]"), annotation = "other" }
    assert.are.equal(0, assert(c:ept_insert { num_ents = 1, entries = { ent }, replace = 0 }).status)
    assert.are.equal("49999", assert(dcerpc.ept_map("127.0.0.1", srvsvc, { epm_port = es.port })))
    assert.are.equal(0, assert(c:ept_delete { num_ents = 1, entries = { ent } }).status)
    assert.are.equal(EPT_S_NOT_REGISTERED, assert(c:ept_delete { num_ents = 1, entries = { ent } }).status)
    assert.is_nil(dcerpc.ept_map("127.0.0.1", srvsvc, { epm_port = es.port }))
  end)

  it("serves mgmt on the endpoint", function()
    local m = assert(dcerpc.connect(es.endpoints[1], mgmt))
    local r = assert(m:inq_if_ids {})
    assert.are.equal(0, r.status)
    local ids = {}
    for _, i in ipairs(r.if_id_vector.if_id) do ids[i.uuid] = i.vers_major .. "." .. i.vers_minor end
    assert.are.same({ [rpcecho.uuid] = "1.0", [epm.uuid] = "3.0", [mgmt.uuid] = "1.0" }, ids)
    r = assert(m:inq_stats { count = 4 })
    assert.are.equal(0, r.status)
    assert.are.equal(4, #r.statistics)
    assert.is_true(r.statistics[1] >= 1)                       -- calls in, this one included
    assert.is_true(r.statistics[2] >= 1)                       -- calls out
    assert.are.equal(2, #assert(m:inq_stats { count = 2 }).statistics)
    r = assert(m:is_server_listening {})
    assert.are.equal(1, r.result)
    assert.are.equal(0, r.status)
    assert.are.equal(5, assert(m:stop_server_listening {}).status)          -- access denied
    r = assert(m:inq_princ_name { authn_proto = 10, princ_name_size = 64 })
    assert.are.equal(1747, r.status)                                        -- unknown authn service
    assert.are.equal("", r.princ_name)
    assert.are.equal(43, assert(dcerpc.connect(es.endpoints[1], "rpcecho")):AddOne { in_data = 42 }.out_data)
    m:close()
  end)
end)

-- smbtorture, anonymous, on binding: ok, bad, output
local function torture_run(binding, ...)
  return torture.run(binding, { ... })
end

describe("examples/echo-server.lua --epm with smbtorture rpc.epmapper #interop", function()
  if not torture.available() then return end
  local es
  setup(function() es = assert(start_server("ncacn_ip_tcp:127.0.0.1[0]")) end)
  teardown(function() if es then es.close() end end)

  it("passes all 5 sub-tests on the server's port", function()
    local ok, bad, out = torture_run(es.endpoints[1], "rpc.epmapper")
    assert.are.equal(0, #bad, out)
    assert.are.same({ "epmapper.Map_simple", "epmapper.Map_full", "epmapper.Lookup_simple",
                      "epmapper.Lookup_terminate_search", "epmapper.Insert_noreplace" }, ok)
  end)
end)

-- rpc.mgmt and rpc.scanner map every interface through HOST:135 even with an
-- explicit port, and a binding without a port maps through it too. The test
-- peers hold 127.0.0.1:135, so the server takes port 135 on the first free
-- 127.0.0.N (N = 10..40): binding port 135 needs root.
describe("examples/echo-server.lua --epm on port 135 with smbtorture #interop", function()
  if not torture.available() then return end
  local es, host, why
  for n = 10, 40 do
    host = "127.0.0." .. n
    es, why = start_server("ncacn_ip_tcp:" .. host .. "[135]", "ncacn_ip_tcp:" .. host .. "[0]")
    if es then break end
  end
  if not es then
    local reason = "cannot listen on port 135 of any of 127.0.0.10-40 (not root?): " .. tostring(why)
    if os.getenv("CI") == "true" then error(reason) end
    pending(reason)
    return
  end
  teardown(function() es.close() end)

  it("passes rpc.mgmt", function()
    local ok, bad, out = torture_run("ncacn_ip_tcp:" .. host .. "[135]", "rpc.mgmt")
    assert.are.equal(0, #bad, out)
    assert.are.same({ "mgmt" }, ok)
  end)

  it("passes rpc.scanner", function()
    local ok, bad, out = torture_run("ncacn_ip_tcp:" .. host .. "[135]", "rpc.scanner")
    assert.are.equal(0, #bad, out)
    assert.are.same({ "scanner" }, ok)
  end)

  it("passes rpc.echo and rpc.epmapper with the port mapped through our epm", function()
    local ok, bad, out = torture_run("ncacn_ip_tcp:" .. host, "rpc.epmapper", "rpc.echo")
    assert.are.equal(0, #bad, out)
    assert.are.equal(15, #ok, out)
  end)
end)
