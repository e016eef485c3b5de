-- serverinfo.lua BINDING [-U USER] [-P PASSWORD] [-k]: what srvsvc
-- NetrServerGetInfo (level 101, then 102) says about a server.
--
--   lua5.4 examples/serverinfo.lua ncacn_ip_tcp:127.0.0.1
--   lua5.4 examples/serverinfo.lua 'ncacn_np:10.0.0.5[target_hostname=dc1.example.com]' -k
-- Credentials as Samba's tools take them (dcerpc.args, docs/client.md):
-- -U [DOMAIN\]USER[%PASSWORD] (or USER@REALM, NAME:PASSWORD), -P PASSWORD,
-- --nt-hash HEX; without -U the bind is anonymous. -k (--kerberos) tries
-- Kerberos first: the default ccache (KRB5CCNAME), or a TGT the library gets
-- itself with -U USER@REALM -P PASSWORD, as rpcclient -k. A binding flag
-- does it too: ncacn_np:HOST[krb5,target_hostname=NAME].
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"
local args = require "dcerpc.args"
local pos, opts = args.parse(arg, { timeout = 30, connect_timeout = 15 })
local binding = pos and pos[1]
if not binding then
  io.stderr:write(pos and "" or opts .. "\n", "usage: serverinfo.lua BINDING ", args.usage, "\n")
  os.exit(2)
end
local b = assert(dcerpc.binding(binding))
local c, err = dcerpc.connect(binding, dcerpc.interface "srvsvc", opts)
if not c then
  io.stderr:write("serverinfo: ", tostring(err), "\n")
  os.exit(1)
end

local r, e = c:NetrServerGetInfo { ServerName = "\\\\" .. b.host, Level = 101 }
if not r then
  io.stderr:write("serverinfo: ", tostring(e), "\n")
  os.exit(1)
end
local i = r.InfoStruct.ServerInfo101
print(("server name:  %s"):format(i.sv101_name))
print(("platform id:  %d"):format(i.sv101_platform_id))
print(("version:      %d.%d"):format(i.sv101_version_major, i.sv101_version_minor))
print(("server type:  0x%08x"):format(i.sv101_type))
print(("comment:      %s"):format(i.sv101_comment or ""))
local r2 = c:NetrServerGetInfo { ServerName = "\\\\" .. b.host, Level = 102 }
if r2 and r2.InfoStruct.ServerInfo102 then
  local j = r2.InfoStruct.ServerInfo102
  print(("users:        %d"):format(j.sv102_users))
  print(("user path:    %s"):format(j.sv102_userpath or ""))
end
c:close()
