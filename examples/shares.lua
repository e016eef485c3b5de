-- shares.lua BINDING [-U USER] [-P PASSWORD] [-k]: list a server's shares
-- (srvsvc NetrShareEnum, level 1): name, type, remark.
--
--   lua5.4 examples/shares.lua ncacn_ip_tcp:127.0.0.1
--   lua5.4 examples/shares.lua 'ncacn_np:10.0.0.5[target_hostname=dc1.example.com]' -k
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
  io.stderr:write(pos and "" or opts .. "\n", "usage: shares.lua BINDING ", args.usage, "\n")
  os.exit(2)
end
local b = assert(dcerpc.binding(binding))
local c, err = dcerpc.connect(binding, dcerpc.interface "srvsvc", opts)
if not c then
  io.stderr:write("shares: ", tostring(err), "\n")
  os.exit(1)
end

local TYPES = { [0] = "Disk", [1] = "Print", [2] = "Device", [3] = "IPC" }
local function typename(t)
  local base = TYPES[t & 0xff] or ("type " .. (t & 0xff))
  if t & 0x80000000 ~= 0 then base = base .. " (special)" end
  if t & 0x40000000 ~= 0 then base = base .. " (temporary)" end
  return base
end

local r, e = c:NetrShareEnum {
  ServerName = "\\\\" .. b.host,
  InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
  PreferedMaximumLength = 0xffffffff,
}
if not r then
  io.stderr:write("shares: ", tostring(e), "\n")
  os.exit(1)
end
for _, s in ipairs(r.InfoStruct.ShareInfo.Level1.Buffer or {}) do
  print(("%-20s %-16s %s"):format(s.shi1_netname, typename(s.shi1_type), s.shi1_remark or ""))
end
c:close()
