-- The shape of the tree: the layer rule of engine/ (tools/check-layers.sh,
-- docs/architecture.md) holds, fails on an include that goes up or sideways,
-- and the client side of the module builds and works without the server.
local peers = require "helpers.peers"
local ROOT = peers.root

local function sh(cmd)
  -- children must not inherit a sanitizer LD_PRELOAD meant for this Lua process
  local f = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok and 0 or code
end

local function q(s) return string.format("%q", s) end

-- A scratch copy of engine/, bindings/ and the checker, to break on purpose.
local function scratch_tree()
  local dir = assert(io.popen("mktemp -d /tmp/dcerpc-layers.XXXXXX")):read("l")
  local _, rc = sh(string.format("mkdir -p %s/tools && cp -r %s %s %s && cp %s %s/tools/",
    q(dir), q(ROOT .. "/engine"), q(ROOT .. "/bindings"), q(dir), q(ROOT .. "/tools/check-layers.sh"), q(dir)))
  assert.are.equal(0, rc)
  return dir
end

local function append(path, line)
  local f = assert(io.open(path, "a"))
  f:write(line, "\n")
  f:close()
end

local function check(dir)
  return sh(string.format("bash %s %s", q(dir .. "/tools/check-layers.sh"), q(dir)))
end

describe("layers #unit", function()
  it("engine/ and bindings/ follow the rule", function()
    local out, rc = sh("bash " .. q(ROOT .. "/tools/check-layers.sh"))
    assert.are.equal(0, rc, out)
    assert.matches("follow the rule", out)
  end)

  it("fails when a lower layer includes a higher one (net/ -> rpc/)", function()
    local dir = scratch_tree()
    append(dir .. "/engine/net/loop.h", '#include "rpc/pdu.h"')
    local out, rc = check(dir)
    sh("rm -rf " .. q(dir))
    assert.are_not.equal(0, rc)
    assert.matches("engine/net/loop.h:%d+: net/ may include only base, net: not rpc/pdu.h", out)
    assert.matches("1 violation", out)
  end)

  it("fails on a sideways include between layers of one floor (auth/ -> ndr/)", function()
    local dir = scratch_tree()
    append(dir .. "/engine/auth/ntlm.c", '#include "ndr/ndr.h"')
    local out, rc = check(dir)
    sh("rm -rf " .. q(dir))
    assert.are_not.equal(0, rc)
    assert.matches("engine/auth/ntlm.c:%d+: auth/ may include only base, auth: not ndr/ndr.h", out)
  end)

  it("fails on an include that does not name its layer, and on Lua in the engine", function()
    local dir = scratch_tree()
    append(dir .. "/engine/rpc/pdu.c", '#include "buf.h"')
    append(dir .. "/engine/base/buf.c", "#include <lua.h>")
    local out, rc = check(dir)
    sh("rm -rf " .. q(dir))
    assert.are_not.equal(0, rc)
    assert.matches('engine/rpc/pdu.c:%d+: #include "buf.h" does not name its layer', out)
    assert.matches("engine/base/buf.c:%d+: engine/ must not include Lua", out)
    assert.matches("2 violation", out)
  end)

  it("fails when the client binding depends on the server runner", function()
    local dir = scratch_tree()
    append(dir .. "/bindings/lconn.c", '#include "run/server.h"')
    local out, rc = check(dir)
    sh("rm -rf " .. q(dir))
    assert.are_not.equal(0, rc)
    assert.matches("bindings/lconn.c:%d+: the client binding must not depend on the server", out)
  end)
end)

describe("client-only build #unit", function()
  local so = ROOT .. "/build-client/dcerpc/core.so"
  local built_out, built_rc = sh(string.format("make -s -j2 -C %s client-only", q(ROOT)))

  it("builds without the server runner, the event loop or the server binding", function()
    assert.are.equal(0, built_rc, built_out)
    local syms = sh("nm -D " .. q(so))
    -- nothing of the server's Linux-only machinery is linked in
    for _, s in ipairs { "signalfd", "prctl", "fork", "epoll_create1", "epoll_wait", "sendmsg" } do
      assert.is_nil(syms:match("%f[%w_]" .. s .. "@"), s .. " is linked into the client-only module")
    end
    assert.is_nil(syms:match("dce_runner_"), "the server runner is linked into the client-only module")
    assert.is_nil(syms:match("dce_sconn_"), "the server association is linked into the client-only module")
  end)

  local function run_client(code)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    local out, rc = sh(string.format("sh -c 'cd / && LUA_PATH=%s LUA_CPATH=%s exec lua5.4 %s'",
      q(ROOT .. "/scripts/?.lua;" .. ROOT .. "/scripts/?/init.lua;;"), q(ROOT .. "/build-client/?.so;;"), q(path)))
    os.remove(path)
    return out, rc
  end

  it("loads, has the client, and says clearly that it has no server", function()
    local out, rc = run_client [[
      local core = require "dcerpc.core"
      assert(core.server_new == nil and core.connect_tcp and core.pdu_encode and core.on_loop)
      local dcerpc = require "dcerpc"
      local ok, e = pcall(dcerpc.server, {})
      print(ok, e)
      print(core.on_loop())
    ]]
    assert.are.equal(0, rc, out)
    assert.matches("false\t.*built without the server %(make client%-only%)", out)
    assert.matches("\nfalse\n", out)
  end)

  local samba = peers.samba()
  it("calls Samba's srvsvc over TCP, anonymous and sealed #interop", function()
    if not samba then pending("Samba peer not available on this machine"); return end
    local out, rc = run_client(string.format([[
      local dcerpc = require "dcerpc"
      local c = assert(dcerpc.connect("ncacn_ip_tcp:%s[%s]", "srvsvc"))
      local r = assert(c:NetrServerGetInfo { ServerName = "\\\\%s", Level = 101 })
      print(r.InfoStruct.ServerInfo101.sv101_platform_id, r.InfoStruct.ServerInfo101.sv101_name)
      c:close()
      -- and sealed, with SPNEGO/NTLM: authentication is part of the client
      c = assert(dcerpc.connect("ncacn_ip_tcp:%s[%s]", "srvsvc",
        { user = %q, password = %q, domain = %q, level = "privacy" }))
      r = assert(c:NetrServerGetInfo { ServerName = "\\\\%s", Level = 101 })
      print(c:info().auth_type, c:info().auth_level, r.InfoStruct.ServerInfo101.sv101_platform_id)
      c:close()
    ]], samba.SAMBA_HOST, samba.SAMBA_SRVSVC_PORT, samba.SAMBA_HOST,
        samba.SAMBA_HOST, samba.SAMBA_SRVSVC_PORT, samba.SAMBA_USER, samba.SAMBA_PASSWORD,
        samba.SAMBA_DOMAIN or "", samba.SAMBA_HOST))
    assert.are.equal(0, rc, out)
    assert.matches("^500\t%S+", out)
    assert.matches("\nspnego\tprivacy\t500\n", out)
  end)
end)
