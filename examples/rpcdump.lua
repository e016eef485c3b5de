-- rpcdump.lua HOST [PORT] [-U USER] [-P PASSWORD] [-k]: list the endpoints an
-- endpoint mapper knows, one line each: interface uuid, version, string
-- binding, annotation. Anonymous unless -U or -k:
-- Credentials as Samba's tools take them (dcerpc.args, docs/client.md):
-- -U [DOMAIN\]USER[%PASSWORD] (or USER@REALM, NAME:PASSWORD), -P PASSWORD,
-- --nt-hash HEX; without -U the bind is anonymous. -k (--kerberos) tries
-- Kerberos first: the default ccache (KRB5CCNAME), or a TGT the library gets
-- itself with -U USER@REALM -P PASSWORD, as rpcclient -k. A binding flag
-- does it too: ncacn_np:HOST[krb5,target_hostname=NAME].
--
--   lua5.4 examples/rpcdump.lua 127.0.0.1
--
-- Runs from a checkout after `make` (the lines below find the module there,
-- unless LUA_PATH / LUA_CPATH already lead to one) or anywhere once the rock
-- is installed.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"
local args = require "dcerpc.args"
local pos, opts = args.parse(arg, { timeout = 30, connect_timeout = 15 })
local host, port = pos and pos[1], pos and pos[2] or "135"
if not host then
  io.stderr:write(pos and "" or opts .. "\n", "usage: rpcdump.lua HOST [PORT] ", args.usage, "\n")
  os.exit(2)
end

local epm = dcerpc.interface "epm"
local c, err = dcerpc.connect(("ncacn_ip_tcp:%s[%s]"):format(host, port), epm, opts)
if not c then
  io.stderr:write("rpcdump: ", tostring(err), "\n")
  os.exit(1)
end

local RPC_C_EP_ALL_ELTS = 0
local EPT_S_NOT_REGISTERED = 0x16c9a0d6
local handle = string.rep("\0", 20)
local count = 0
repeat
  local r, e = c:ept_lookup {
    inquiry_type = RPC_C_EP_ALL_ELTS, vers_option = 1,
    entry_handle = handle, max_ents = 100,
  }
  if not r then
    io.stderr:write("rpcdump: ", tostring(e), "\n")
    os.exit(1)
  end
  -- Samba returns its last batch together with EPT_S_NOT_REGISTERED: keep it.
  for _, ent in ipairs(r.entries or {}) do
    local t = ent.tower and dcerpc.core.tower_decode(ent.tower.tower_octet_string)
    if t then
      count = count + 1
      print(("%s v%d.%d  %s  %s"):format(t.interface.uuid, t.interface.major, t.interface.minor,
        dcerpc.core.tower_to_binding(t, { abstract_syntax = false }) or "?", ent.annotation or ""))
    end
  end
  handle = r.entry_handle
until r.status ~= 0 or handle == string.rep("\0", 20)
c:close()
io.stderr:write(("rpcdump: %d endpoints\n"):format(count))
