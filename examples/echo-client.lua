#!/usr/bin/env lua5.4
-- echo-client.lua [BINDING] [-U USER] [-P PASSWORD] [-k]: call every rpcecho
-- function once and print the results.
--   lua5.4 examples/echo-client.lua 'ncacn_ip_tcp:127.0.0.1[31135]'
--   lua5.4 examples/echo-client.lua 'ncacn_ip_tcp:127.0.0.1[31135,seal]' -U alice -P Alice-Pass1
-- Credentials as Samba's tools take them (dcerpc.args, docs/client.md):
-- -U [DOMAIN\]USER[%PASSWORD] (or USER@REALM, NAME:PASSWORD), -P PASSWORD,
-- --nt-hash HEX; without -U the bind is anonymous. -k (--kerberos) tries
-- Kerberos first: the default ccache (KRB5CCNAME), or a TGT the library gets
-- itself with -U USER@REALM -P PASSWORD, as rpcclient -k. A binding flag
-- does it too: ncacn_np:HOST[krb5,target_hostname=NAME].
-- From a checkout after `make` the lines below find the module there, unless
-- LUA_PATH / LUA_CPATH already lead to one; installed as a rock it runs anywhere.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"
local args = require "dcerpc.args"
local pos, opts = args.parse(arg, {})
if not pos then
  io.stderr:write(opts, "\nusage: echo-client.lua [BINDING] ", args.usage, "\n")
  os.exit(2)
end
local binding = pos[1] or "ncacn_ip_tcp:127.0.0.1[31135]"
local c = assert(dcerpc.connect(binding, "rpcecho", opts))

print("AddOne(41)", assert(c:AddOne { in_data = 41 }).out_data)
print("EchoData", assert(c:EchoData { len = 5, in_data = "hello" }).out_data)
print("SinkData", assert(c:SinkData { len = 3, data = "abc" }) and "ok")
print("SourceData(8)", (assert(c:SourceData { len = 8 }).data:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)))
print("TestCall", assert(c:TestCall { s1 = "input string" }).s2)
print("TestCall2(5)", assert(c:TestCall2 { level = 5 }).info.info5.v2)
print("TestSleep(1)", assert(c:TestSleep { seconds = 1 }).result)
local e = assert(c:TestEnum { foo1 = 1, foo2 = { e1 = 1, e2 = 1 }, foo3 = { e1 = 1 } })
print("TestEnum", e.foo1, e.foo2.e1, e.foo2.e2)
print("TestSurrounding", assert(c:TestSurrounding { data = { x = 2, surrounding = { 1, 2 } } }).data.x)
print("TestDoublePointer", assert(c:TestDoublePointer { data = 12 }).result)
c:close()
