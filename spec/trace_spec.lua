-- dcerpc.trace: hooks that see every PDU of a client connection or a server
-- (decoded header, auth trailer, the NDR arguments when the interface is
-- known, the clear text of sealed calls), the text dump and the pcap, which
-- tshark must open without a malformed frame or an expert warning and
-- dissect down to the arguments of sealed calls. Against our own server in
-- this process and the Samba peer (ncacn_ip_tcp and ncacn_np).
local dcerpc = require "dcerpc"
local trace = require "dcerpc.trace"
local peers = require "helpers.peers"

local USER, PASS, DOMAIN = "alice", "Alice-Pass1", "RPCSRV"
local SHARES = {
  { shi1_netname = "alpha-share", shi1_type = 0, shi1_remark = "the first" },
  { shi1_netname = "beta$", shi1_type = 0x80000003, shi1_remark = "the second" },
}

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local tmpdir = os.getenv("TMPDIR") or "/tmp"
local function tmpname(tag)
  return string.format("%s/trace_spec_%d_%s_%d.pcap", tmpdir, os.time(), tag, math.random(1, 1e9))
end

-- An in-process server: srvsvc (NetrShareEnum with SHARES) and rpcecho.
local function test_server(opts)
  opts = opts or {}
  local srv = assert(dcerpc.server {
    listen = { "ncacn_ip_tcp:127.0.0.1[0]" },
    auth = { users = { [USER] = PASS }, domain = DOMAIN, computer = "LUASRV" },
    trace = opts.trace,
    log = function() end,
  })
  srv:register("srvsvc", {
    NetrShareEnum = function(call, a)
      return { InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = #SHARES, Buffer = SHARES } } },
               TotalEntries = #SHARES, result = 0 }
    end,
  })
  srv:register("rpcecho", {
    AddOne = function(call, a) return { out_data = (a.in_data + 1) & 0xffffffff } end,
    EchoData = function(call, a) return { out_data = a.in_data } end,
  })
  return srv
end

-- Run fn(srv) as a task on srv's loop, then close srv; re-raise its error.
local function with_server(srv, fn)
  local done, err
  srv:spawn(function()
    local ok, e = pcall(fn, srv)
    done, err = true, not ok and e or nil
    srv:close()
  end)
  srv:spawn(function() dcerpc.sleep(20); if not done then err = "task did not finish"; srv:close() end end)
  srv:run()
  if err then error(err, 0) end
end

local function enum_shares(c)
  return c:NetrShareEnum { ServerName = "\\\\127.0.0.1",
    InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } }, PreferedMaximumLength = 0xffffffff }
end

local function collector()
  local evs = {}
  return evs, function(ev) evs[#evs + 1] = ev end
end

local function text_of(hook_opts)
  local lines = {}
  return lines, trace.text(function(l) lines[#lines + 1] = l end, hook_opts)
end

local function find(evs, f)
  for _, ev in ipairs(evs) do if f(ev) then return ev end end
end

-- tshark's verdict on a pcap: frames flagged malformed or with an expert
-- item at warning level or above (empty: none), and the -V text.
local function tshark(path)
  local bad, code = sh(string.format("tshark -n -r %q -Y '_ws.malformed || _ws.expert.severity >= \"warning\"' " ..
                                     "-T fields -e frame.number -e _ws.expert.message", path))
  assert.are.equal(0, code, "tshark failed on " .. path)
  local expert = sh(string.format("tshark -n -r %q -z expert,warn -q", path))
  local v = sh(string.format("tshark -n -r %q -V", path))
  return bad, expert, v
end

describe("dcerpc.trace #unit", function()
  after_each(function() trace.set(nil) end)

  it("an anonymous call: header, context, decoded [in] and [out] arguments, in order", function()
    local evs, hook = collector()
    local srv = test_server()
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { trace = hook }))
      assert.are.equal(42, assert(c:AddOne { in_data = 41 }).out_data)
      c:close()
    end)
    local kinds = {}
    for _, ev in ipairs(evs) do kinds[#kinds + 1] = ev.dir .. " " .. ev.pdu.ptype end
    assert.are.same({ "send bind", "recv bind_ack", "send request", "recv response" }, kinds)
    for _, ev in ipairs(evs) do
      assert.are.equal("client", ev.side)
      assert.is_nil(ev.clear)
      assert.are.equal("number", type(ev.time))
      assert.are.equal(ev.pdu.frag_length, #ev.bytes)
      assert.are.equal(srv.endpoints[1], ev.conn.binding)
      assert.matches("^127%.0%.0%.1:%d+$", ev.conn["local"])
      assert.matches("^127%.0%.0%.1:%d+$", ev.conn.peer)
    end
    assert.are.equal("60a15ec5-4de8-11d7-a637-005056a20182", evs[1].pdu.contexts[1].abstract.uuid)
    local req, resp = evs[3], evs[4]
    assert.are.equal(0, req.pdu.opnum)        -- AddOne
    assert.are.equal(0, req.pdu.context_id)
    assert.are.equal(req.pdu.call_id, resp.pdu.call_id)
    assert.are.equal("rpcecho", req.iface)
    assert.are.equal("AddOne", req.fn.name)
    assert.are.equal("in", req.dir_args)
    assert.are.same({ in_data = 41 }, req.args)
    assert.are.equal("out", resp.dir_args)
    assert.are.equal(42, resp.args.out_data)
    assert.are.equal(string.pack("<I4", 41), req.stub)
  end)

  it("a fault: its status, named, on the call's function", function()
    local evs, hook = collector()
    local lines, thook = text_of()
    local srv = test_server()
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { trace = trace.tee(hook, thook) }))
      local r, e = c:SinkData { len = 2, data = "ab" }      -- no handler: nca_s_op_rng_error
      assert.is_nil(r)
      assert.are.equal(0x1c010002, e.code)
      c:close()
    end)
    local f = evs[#evs]
    assert.are.equal("fault", f.pdu.ptype)
    assert.are.equal(0x1c010002, f.pdu.status)
    assert.are.equal("SinkData", f.fn.name)
    assert.is_nil(f.args)
    assert.matches("status 0x1c010002 nca_s_op_rng_error", table.concat(lines, "\n"))
  end)

  it("text: a readable dump with the arguments as a tree, hex on request", function()
    local lines, hook = text_of()
    local hlines, hhook = text_of { hex = true }
    local srv = test_server()
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { trace = trace.tee(hook, hhook) }))
      assert(c:AddOne { in_data = 0x1234 })
      c:close()
    end)
    local all = table.concat(lines, "\n")
    assert.matches("client send 127%.0%.0%.1:%d+ %-> 127%.0%.0%.1:%d+  ncacn_ip_tcp:127%.0%.0%.1%[%d+%]  bind", all)
    assert.matches("context 0: 60a15ec5%-4de8%-11d7%-a637%-005056a20182 v1%.0 %(rpcecho%)", all)
    assert.matches("rpcecho%.AddOne %(in%)\n        in_data: 4660 %(0x1234%)", all)
    assert.matches("rpcecho%.AddOne %(out%)\n        out_data: 4661 %(0x1235%)", all)
    assert.is_nil(all:find("0000  ", 1, true))
    local hall = table.concat(hlines, "\n")
    assert.matches("stub %(4 bytes%):\n      0000  34 12 00 00", hall)
    assert.matches("PDU %(%d+ bytes as sent%):\n      0000  05 00 0b 03", hall)   -- the bind
  end)

  it("an NTLM sealed session: the stub in clear, the decoded shares, the trailer", function()
    local evs, hook = collector()
    local lines, thook = text_of()
    local srv = test_server()
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "srvsvc", { trace = trace.tee(hook, thook),
        auth = "ntlm", level = "privacy", user = USER, domain = DOMAIN, password = PASS }))
      assert(enum_shares(c))
      c:close()
    end)
    local kinds = {}
    for _, ev in ipairs(evs) do kinds[#kinds + 1] = ev.dir .. " " .. ev.pdu.ptype end
    assert.are.same({ "send bind", "recv bind_ack", "send auth3", "send request", "recv response" }, kinds)
    local bind = evs[1]
    assert.are.equal(10, bind.pdu.auth.type)
    assert.are.equal(10, bind.pdu.auth_type)
    assert.are.equal(6, bind.pdu.auth_level)
    assert.are.equal(0, bind.pdu.auth_context_id)
    assert.are.equal("ntlmssp", bind.pdu.auth.type_name)
    assert.are.equal("privacy", bind.pdu.auth.level_name)
    local req, resp = evs[4], evs[5]
    for _, ev in ipairs { req, resp } do
      assert.is_string(ev.clear)
      assert.are.equal(#ev.bytes, #ev.clear)
      assert.are_not.equal(ev.bytes, ev.clear)
      -- header and verifier as on the wire; only stub and padding differ
      assert.are.equal(ev.bytes:sub(1, 24), ev.clear:sub(1, 24))
      assert.are.equal(ev.bytes:sub(-24), ev.clear:sub(-24))
      assert.are.equal(6, ev.pdu.auth.level)
      assert.are.equal(16, #ev.pdu.auth.value)
    end
    assert.is_nil(resp.bytes:find("alpha-share", 1, true))   -- sealed on the wire ...
    assert.truthy(resp.stub:find("a\0l\0p\0h\0a\0", 1, true))  -- ... clear in the event
    assert.are.equal("NetrShareEnum", resp.fn.name)
    local buf = resp.args.InfoStruct.ShareInfo.Level1.Buffer
    assert.are.equal("alpha-share", buf[1].shi1_netname)
    assert.are.equal("beta$", buf[2].shi1_netname)
    assert.are.equal(1, req.args.InfoStruct.Level)
    local all = table.concat(lines, "\n")
    assert.matches("auth: type 10 %(ntlmssp%)  level 6 %(privacy%)  pad %d+  context_id 0  verifier 16 bytes  %(stub unsealed%)", all)
    assert.matches('shi1_netname: "alpha%-share"', all)
    assert.truthy(all:find("token: NTLMSSP_NEGOTIATE\n", 1, true))
    assert.truthy(all:find("token: NTLMSSP_AUTH RPCSRV\\alice", 1, true))
    assert.matches('shi1_remark: "the second"', all)
  end)

  it("a server-side trace: every connection's PDUs, received before answered, decoded", function()
    local evs, hook = collector()
    local srv = test_server { trace = hook }
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "srvsvc",
        { auth = "spnego", level = "privacy", user = USER, domain = DOMAIN, password = PASS }))
      assert(enum_shares(c))
      c:close()
      local e = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      assert(e:AddOne { in_data = 1 })
      e:close()
    end)
    local kinds = {}
    for _, ev in ipairs(evs) do
      assert.are.equal("server", ev.side)
      kinds[#kinds + 1] = ev.dir .. " " .. ev.pdu.ptype
    end
    assert.are.same({ "recv bind", "send bind_ack", "recv alter_context", "send alter_context_resp",
                      "recv request", "send response",
                      "recv bind", "send bind_ack", "recv request", "send response" }, kinds)
    local req = evs[5]
    assert.is_string(req.clear)
    assert.are.equal("NetrShareEnum", req.fn.name)
    assert.are.equal("\\\\127.0.0.1", req.args.ServerName)
    assert.are.equal("beta$", evs[6].args.InfoStruct.ShareInfo.Level1.Buffer[2].shi1_netname)
    assert.are_not.equal(evs[1].conn.id, evs[7].conn.id)
    assert.are.equal(srv.endpoints[1], evs[1].conn.binding)
    assert.are.equal(2, evs[10].args.out_data)
  end)

  it("fragmented calls are decoded when their last fragment is seen", function()
    local evs, hook = collector()
    local parts = {}
    for i = 1, 20000 do parts[i] = string.char(i % 251) end
    local data = table.concat(parts)
    local srv = test_server()
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { trace = hook, auth = "ntlm",
        level = "privacy", user = USER, domain = DOMAIN, password = PASS }))
      assert.are.same(data, assert(c:EchoData { len = #data, in_data = data }).out_data)
      c:close()
    end)
    local reqs, resps = {}, {}
    for _, ev in ipairs(evs) do
      if ev.pdu.ptype == "request" then reqs[#reqs + 1] = ev end
      if ev.pdu.ptype == "response" then resps[#resps + 1] = ev end
    end
    assert.is_true(#reqs >= 4 and #resps >= 4)
    for i, ev in ipairs(reqs) do
      assert.is_string(ev.clear)
      if i < #reqs then assert.is_nil(ev.args) end
    end
    assert.are.same(data, reqs[#reqs].args.in_data)
    assert.are.same(data, resps[#resps].args.out_data)
  end)

  it("trace.set: a global hook sees connections open before it; nil stops every event", function()
    local evs = {}
    local function hook(ev) if ev.side == "client" then evs[#evs + 1] = ev end end
    local sevs = {}
    local both = function(ev) hook(ev); if ev.side == "server" then sevs[#sevs + 1] = ev end end
    local srv = test_server()
    with_server(srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho"))
      assert(c:AddOne { in_data = 1 })
      assert.are.equal(0, #evs)
      assert.is_nil(trace.set(both))
      assert(c:AddOne { in_data = 2 })
      assert.are.equal(2, #evs)
      assert.are.equal(2, #sevs)             -- the server's side of it too
      assert.are.equal(both, trace.set(nil))
      assert(c:AddOne { in_data = 3 })
      assert.are.equal(2, #evs)
      -- a connection's own hook, set and removed
      local own, ohook = collector()
      c:set_trace(ohook)
      assert(c:AddOne { in_data = 4 })
      c:set_trace(nil)
      assert(c:AddOne { in_data = 5 })
      assert.are.equal(2, #own)
      assert.are.equal(4, own[1].args.in_data)
      c:close()
    end)
    assert.are.equal(2, #evs)
    assert.are.equal(2, #sevs)
    assert.are.equal(2, evs[1].args.in_data)
    assert.are.equal(2, sevs[1].args.in_data)
  end)

  it("a hook that raises does not break the call: trace.on_error reports it", function()
    local errs = {}
    local old = trace.on_error
    trace.on_error = function(msg, ev) errs[#errs + 1] = { msg = tostring(msg), ptype = ev.pdu.ptype } end
    local srv = test_server { trace = function() error("server hook boom") end }
    local ok, e = pcall(with_server, srv, function()
      local c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho",
        { trace = function(ev) if ev.pdu.ptype == "request" then error("client hook boom") end end }))
      assert.are.equal(8, assert(c:AddOne { in_data = 7 }).out_data)
      c:close()
    end)
    trace.on_error = old
    assert(ok, e)
    local client, server = 0, 0
    for _, x in ipairs(errs) do
      if x.msg:find("client hook boom", 1, true) then client = client + 1; assert.are.equal("request", x.ptype) end
      if x.msg:find("server hook boom", 1, true) then server = server + 1 end
    end
    assert.are.equal(1, client)
    assert.are.equal(4, server)
  end)

  it("a hook cannot use or close the connection it traces; trace.set from a hook works", function()
    local errs = {}
    local old = trace.on_error
    trace.on_error = function(msg) errs[#errs + 1] = tostring(msg) end
    local srv = test_server()
    local seen = 0
    local ok, e = pcall(with_server, srv, function()
      local c
      c = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { trace = function(ev)
        if ev.pdu.ptype == "request" then c:AddOne { in_data = 1 } end
        if ev.pdu.ptype == "response" then c:close() end
      end }))
      assert.are.equal(2, assert(c:AddOne { in_data = 1 }).out_data)
      -- a global hook that removes itself after its first event
      trace.set(function() seen = seen + 1; trace.set(nil) end)
      assert(c:AddOne { in_data = 2 })
      assert(c:AddOne { in_data = 3 })
      c:close()
    end)
    trace.on_error = old
    assert(ok, e)
    assert.are.equal(1, seen)
    assert.are.equal(6, #errs)                  -- three calls, a request and a response each
    for i = 1, 6, 2 do
      assert.matches("a trace hook cannot use the connection it traces", errs[i])
      assert.matches("a trace hook cannot close the connection it traces", errs[i + 1])
    end
  end)

  it("an unknown option still raises, trace is a known one", function()
    assert.has_error(function() dcerpc.connect("ncacn_ip_tcp:127.0.0.1[1]", "rpcecho", { traec = print }) end)
    assert.truthy(dcerpc.option_keys.connect.trace)
  end)

  describe("pcap #tshark", function()
    if not have("tshark") then
      if os.getenv("CI") == "true" then error("tshark missing under CI") end
      pending("tshark not installed")
      return
    end

    it("a sealed session against our server: no malformed frame or warning, the shares dissected", function()
      local path = tmpname("own")
      local p = assert(trace.pcap(path))
      local srv = test_server()
      with_server(srv, function()
        local c = assert(dcerpc.connect(srv.endpoints[1], "srvsvc", { trace = p,
          auth = "ntlm", level = "privacy", user = USER, domain = DOMAIN, password = PASS }))
        assert(enum_shares(c))
        c:close()
        local e = assert(dcerpc.connect(srv.endpoints[1], "rpcecho", { trace = p }))
        assert(e:AddOne { in_data = 1 })
        e:close()
      end)
      p:close()
      local bad, expert, v = tshark(path)
      os.remove(path)
      assert.are.equal("", bad)
      assert.is_nil(expert:find("Warn", 1, true))
      assert.is_nil(expert:find("Error", 1, true))
      assert.truthy(v:find("Name: alpha-share", 1, true))
      assert.truthy(v:find("Comment: the second", 1, true))
      assert.truthy(v:find("NetShareEnumAll", 1, true))
      assert.truthy(v:find("Auth type: NTLMSSP (10)", 1, true))
      assert.truthy(v:find("Opnum: 0", 1, true))           -- AddOne: tshark has no rpcecho dissector
      assert.truthy(v:find("User name: alice", 1, true))
      assert.is_nil(v:find("Encrypted stub", 1, true))
    end)

    it("a server-side pcap: the same conversation from the server's side", function()
      local path = tmpname("srv")
      local p = assert(trace.pcap(path))
      local srv = test_server { trace = p }
      with_server(srv, function()
        local c = assert(dcerpc.connect(srv.endpoints[1], "srvsvc",
          { auth = "spnego", level = "privacy", user = USER, domain = DOMAIN, password = PASS }))
        assert(enum_shares(c))
        c:close()
      end)
      p:close()
      local bad, expert, v = tshark(path)
      os.remove(path)
      assert.are.equal("", bad)
      assert.is_nil(expert:find("Warn", 1, true))
      assert.truthy(v:find("Name: beta$", 1, true))
    end)
  end)
end)

describe("dcerpc.trace against Samba #interop", function()
  local samba = peers.samba()
  if not samba then return end
  local host = samba.SAMBA_HOST
  local user, password = samba.SAMBA_USER, samba.SAMBA_PASSWORD
  after_each(function() trace.set(nil) end)

  it("a sealed NetrShareEnum level 1 (a reply of several fragments): text and pcap", function()
    local lines, thook = text_of()
    local evs, hook = collector()
    local path = tmpname("samba")
    local p = assert(trace.pcap(path))
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", { trace = trace.tee(thook, hook, p),
      auth = "ntlm", level = "privacy", user = user, domain = "RPCSRV", password = password }))
    local names = peers.share_names(c)
    c:close()
    p:close()
    assert.is_true(#names > 10)
    local all = table.concat(lines, "\n")
    for _, n in ipairs(names) do
      assert.truthy(all:find('shi1_netname: "' .. n .. '"', 1, true), n)
    end
    assert.matches("srvsvc%.NetrShareEnum %(out%)", all)
    local resps = {}
    -- (the endpoint mapper's lookup comes first, anonymous, on a connection of its own)
    for _, ev in ipairs(evs) do
      if ev.pdu.ptype == "response" and ev.iface == "srvsvc" then resps[#resps + 1] = ev end
    end
    assert.is_true(#resps > 1)
    for _, ev in ipairs(resps) do assert.is_string(ev.clear) end
    assert.are.equal(#names, #resps[#resps].args.InfoStruct.ShareInfo.Level1.Buffer)
    if have("tshark") then
      local bad, expert, v = tshark(path)
      assert.are.equal("", bad)
      assert.is_nil(expert:find("Warn", 1, true))
      assert.is_nil(expert:find("Error", 1, true))
      for _, n in ipairs(names) do assert.truthy(v:find("Name: " .. n, 1, true), n) end
    end
    os.remove(path)
  end)

  it("the endpoint mapper lookup before the connection is traced too", function()
    local evs, hook = collector()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", { trace = hook }))
    c:close()
    local map = find(evs, function(ev) return ev.fn and ev.fn.name == "ept_map" and ev.dir_args == "out" end)
    assert.truthy(map)
    assert.are.equal("epm", map.iface)
    assert.matches("%[135%]$", map.conn.binding)
    assert.are.equal(0, map.args.status)
    assert.is_true(map.args.num_towers >= 1)
    -- then the bind to the endpoint it named, on a connection of its own
    local bind = find(evs, function(ev) return ev.pdu.ptype == "bind" and ev.conn ~= map.conn end)
    assert.truthy(bind)
    assert.are.equal("4b324fc8-1670-01d3-1278-5a47bf6ee188", bind.pdu.contexts[1].abstract.uuid)
  end)

  it("ncacn_np: the RPC PDUs inside the pipe, decoded, and a pcap tshark dissects", function()
    local evs, hook = collector()
    local path = tmpname("np")
    local p = assert(trace.pcap(path))
    local c = assert(dcerpc.connect("ncacn_np:" .. host, "srvsvc", { trace = trace.tee(hook, p),
      user = user, password = password, timeout = 20 }))
    local names = peers.share_names(c)
    c:close()
    p:close()
    local last = evs[#evs]
    assert.are.equal("response", last.pdu.ptype)
    assert.are.equal("ncacn_np", last.conn.transport)
    assert.matches("^ncacn_np:", last.conn.binding)
    local got = {}
    for _, s in ipairs(last.args.InfoStruct.ShareInfo.Level1.Buffer) do got[#got + 1] = s.shi1_netname end
    table.sort(got)
    assert.are.same(names, got)
    if have("tshark") then
      local bad, _, v = tshark(path)
      assert.are.equal("", bad)
      assert.truthy(v:find("Name: " .. names[1], 1, true))
    end
    os.remove(path)
  end)
end)
