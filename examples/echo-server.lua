#!/usr/bin/env lua5.4
-- echo-server.lua [--epm] [--workers N] [--per-address N] [--user NAME:PASSWORD]... [--keytab PATH]
--                 [--idl FILE] [BINDING...]:
-- Samba's rpcecho test interface served by Lua handlers (the interface
-- smbtorture's rpc.echo drives).
-- --idl FILE: the interface from a MIDL file (examples/rpcecho.idl) instead
--   of the shipped Lua description: the handlers are the same.
-- --workers N: serve from N processes (the server's `workers` option).
-- --per-address N: connections one address may hold (the server's
--   `max_connections_per_address`; default a quarter of max_connections).
-- --user NAME:PASSWORD: accept NTLM / SPNEGO binds from that user (several
--   --user flags for several users); anonymous calls are still served.
-- --keytab PATH: accept Kerberos binds (auth type 16) with the service keys
--   in PATH (KRB5_CONFIG names the realm's KDC for the client side).
--   lua5.4 examples/echo-server.lua                       -- ncacn_ip_tcp:127.0.0.1[31135]
--   lua5.4 examples/echo-server.lua 'ncacn_ip_tcp:127.0.0.1[0]' 'ncacn_ip_tcp:[::1][0]'
-- Prints "listening on <binding>" for each endpoint once it accepts calls.
-- From a checkout after `make` the lines below find the module there, unless
-- LUA_PATH / LUA_CPATH already lead to one; installed as a rock it runs anywhere.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"

local bindings, epm, workers, users, per_address, iface = {}, false, 1, nil, nil, "rpcecho"
local keytab
local argv = { ... }
local i = 1
while i <= #argv do
  local a = argv[i]
  if a == "--epm" then epm = true
  elseif a == "--per-address" then
    i = i + 1
    per_address = assert(math.tointeger(tonumber(argv[i])), "--per-address: a number expected")
  elseif a == "--idl" then
    i = i + 1
    iface = assert(dcerpc.idl.load((assert(argv[i], "--idl: a file expected"))))
  elseif a == "--workers" then
    i = i + 1
    workers = assert(math.tointeger(tonumber(argv[i])), "--workers: a number expected")
  elseif a == "--keytab" then
    i = i + 1
    keytab = assert(argv[i], "--keytab: a path expected")
  elseif a == "--user" then
    i = i + 1
    local name, pw = tostring(argv[i]):match("^([^:]+):(.*)$")
    assert(name, "--user: NAME:PASSWORD expected")
    users = users or {}
    users[name] = pw
  else bindings[#bindings + 1] = a end
  i = i + 1
end
if #bindings == 0 then bindings = { "ncacn_ip_tcp:127.0.0.1[31135]" } end

-- room for the 10,000-idle-connection hold test of bench/ (the default is 1024)
-- --epm: also serve the endpoint mapper (on the same endpoints), which maps rpcecho
local srv = assert(dcerpc.server { listen = bindings, max_connections = 20000, epmapper = epm,
                                   max_connections_per_address = per_address,
                                   workers = workers,
                                   auth = (users or keytab) and { users = users, keytab = keytab,
                                                                  domain = "RPCSRV", computer = "LUAECHO" } })

-- Sizes and delays come from the caller: a hostile (or scanning) client must
-- not make the server build gigabytes or sleep for years. Over the bound: the
-- fault nca_s_fault_remote_no_memory, as a server that cannot allocate answers.
local NO_MEMORY = 0x1c00001b
local function bounded(n, max)
  if n > max then error({ code = NO_MEMORY }, 0) end
  return n
end

srv:register(iface, {
  AddOne = function(call, a) return { out_data = (a.in_data + 1) & 0xffffffff } end,
  EchoData = function(call, a) return { out_data = a.in_data } end,
  SinkData = function(call, a) return {} end,
  SourceData = function(call, a)
    local t, n = {}, bounded(a.len, 16 * 1024 * 1024)
    local block = {}
    for i = 0, 255 do block[i + 1] = string.char(i) end
    block = table.concat(block)
    for i = 1, n // 256 do t[i] = block end
    t[#t + 1] = block:sub(1, n % 256)
    return { data = table.concat(t) }
  end,
  TestCall = function(call, a) return { s2 = a.s1 } end,
  TestCall2 = function(call, a)
    local l = a.level
    local info
    if l == 1 then info = { info1 = { v = 10 } }
    elseif l == 2 then info = { info2 = { v = 20 } }
    elseif l == 3 then info = { info3 = { v = 30 } }
    elseif l == 4 then info = { info4 = { v = 40 } }
    elseif l == 5 then info = { info5 = { v1 = 50, v2 = 60 } }
    elseif l == 6 then info = { info6 = { v1 = 70, info1 = { v = 80 } } }
    elseif l == 7 then info = { info7 = { v1 = 80, info4 = { v = 90 } } }
    else return { info = {}, result = 0xC0000003 } end   -- NT_STATUS_INVALID_INFO_CLASS
    return { info = info, result = 0 }
  end,
  TestSleep = function(call, a)
    dcerpc.sleep(bounded(a.seconds, 300))
    return { result = a.seconds }
  end,
  TestEnum = function(call, a)
    return { foo1 = a.foo1, foo2 = { e1 = 2, e2 = a.foo2.e2 }, foo3 = a.foo3 }
  end,
  TestSurrounding = function(call, a)
    local x = bounded(a.data.x, 1024 * 1024) * 2
    local s = {}
    for i = 1, x do s[i] = 0 end
    return { data = { x = x, surrounding = s } }
  end,
  TestDoublePointer = function(call, a) return { result = a.data or 0 } end,
})

for _, ep in ipairs(srv.endpoints) do print("listening on " .. ep) end
io.stdout:flush()
srv:run()
