-- serverinfo.lua BINDING [-U USER] [-P PASSWORD] [-k]: what srvsvc
-- NetrServerGetInfo (level 101, then 102) says about a server.
--
--   lua5.4 examples/serverinfo.lua ncacn_ip_tcp:127.0.0.1
--   lua5.4 examples/serverinfo.lua 'ncacn_np:10.0.0.5[target_hostname=dc1.example.com]' -k
-- -U USER (DOMAIN\USER, or USER@REALM for Kerberos) and -P PASSWORD
-- authenticate (SPNEGO; without -U the bind is anonymous); -k (--kerberos)
-- tries Kerberos first: the default ccache (KRB5CCNAME), or a TGT the library
-- gets itself with -U USER@REALM -P PASSWORD, as rpcclient -k. A binding
-- flag does it too: ncacn_np:HOST[krb5,target_hostname=NAME].
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"

local pos, opts = {}, { timeout = 30, connect_timeout = 15 }
do
  local i, user, password = 1, nil, nil
  while i <= #arg do
    local a = arg[i]
    if a == "-U" then user = arg[i + 1]; i = i + 2
    elseif a == "-P" then password = arg[i + 1]; i = i + 2
    elseif a == "-k" or a == "--kerberos" then opts.kerberos = true; i = i + 1
    else pos[#pos + 1] = a; i = i + 1 end
  end
  if user and user ~= "" then opts.user, opts.password = user, password or "" end
end
local binding = pos[1]
if not binding then
  io.stderr:write("usage: serverinfo.lua BINDING [-U USER] [-P PASSWORD] [-k]   (e.g. ncacn_ip_tcp:127.0.0.1)\n")
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
