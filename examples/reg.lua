-- reg.lua BINDING query|enum KEY [VALUE] [-U USER] [-P PASSWORD] [-k]: read a
-- remote registry (winreg, [MS-RRP]).
--
--   enum KEY           the subkeys of KEY, then its values (name, type, data)
--   query KEY [VALUE]  one value (the default value when VALUE is left out)
--
--   lua5.4 examples/reg.lua 'ncacn_ip_tcp:127.0.0.1[sign]' enum 'HKLM\SOFTWARE' -U alice -P Alice-Pass1
--   lua5.4 examples/reg.lua ncacn_np:server query 'HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion' SystemRoot -U 'DOM\admin' -P secret
--
-- KEY starts with a hive: HKLM (HKEY_LOCAL_MACHINE), HKU (HKEY_USERS), HKCU
-- (HKEY_CURRENT_USER) or HKCR (HKEY_CLASSES_ROOT). USER may be DOMAIN\USER;
-- without -U the bind is anonymous; -k (--kerberos) tries Kerberos first (the
-- default ccache, or a TGT got with -U USER@REALM -P PASSWORD). SPNEGO (NTLM inside) at privacy unless
-- the binding says otherwise ([sign], [seal], [ntlm], ...). Values are shown
-- decoded by type (winreg.helpers.decode_value): strings, lists joined with
-- " | ", numbers in decimal and hex, other data in hex. On failure the error
-- goes to stderr and the exit status is 1 (2 for bad usage).
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"
local args = require "dcerpc.args"
local function usage(why)
  io.stderr:write(why and why .. "\n" or "", "usage: reg.lua BINDING query|enum KEY [VALUE] ", args.usage, "\n")
  os.exit(2)
end

local pos, opts = args.parse(arg, { timeout = 30, connect_timeout = 15 })
if not pos then usage(opts) end
local binding, cmd, keypath, valuename = pos[1], pos[2], pos[3], pos[4]
if not (binding and (cmd == "query" or cmd == "enum") and keypath) or (cmd == "enum" and valuename) then usage() end

local winreg = dcerpc.interface "winreg"
local H, C = winreg.helpers, winreg.constants

local HIVES = {
  HKLM = "OpenLocalMachine", HKEY_LOCAL_MACHINE = "OpenLocalMachine",
  HKU = "OpenUsers", HKEY_USERS = "OpenUsers",
  HKCU = "OpenCurrentUser", HKEY_CURRENT_USER = "OpenCurrentUser",
  HKCR = "OpenClassesRoot", HKEY_CLASSES_ROOT = "OpenClassesRoot",
}
local hive, sub = keypath:match("^([^\\/]+)[\\/]?(.*)$")
local opener = hive and HIVES[hive:upper()]
if not opener then
  io.stderr:write("reg: KEY must start with HKLM, HKU, HKCU or HKCR\n")
  os.exit(2)
end
sub = sub:gsub("/", "\\")

local c, err = dcerpc.connect(binding, winreg, opts)
if not c then
  io.stderr:write("reg: ", tostring(err), "\n")
  os.exit(1)
end

local handles = {}
local function close_all()
  for i = #handles, 1, -1 do c:BaseRegCloseKey { hKey = handles[i] } end
  handles = {}
  c:close()
end
local function fail(e)
  io.stderr:write("reg: ", tostring(e), "\n")
  if c.conn then pcall(close_all) end
  os.exit(1)
end
local function call(name, args)
  local r, e = c[name](c, args)
  if not r then fail(e) end
  return r
end

local TYPES = {}
for _, n in ipairs { "REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN",
                     "REG_LINK", "REG_MULTI_SZ", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTOR",
                     "REG_RESOURCE_REQUIREMENTS_LIST", "REG_QWORD" } do
  TYPES[C[n]] = n
end

local function show(t, data)
  local v, e = H.decode_value(t, data)
  if v == nil then return "(undecodable: " .. e .. ") " .. (data:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)) end
  if type(v) == "table" then return table.concat(v, " | ") end
  if math.type(v) == "integer" then return ("%d (0x%x)"):format(v, v) end
  if t == C.REG_SZ or t == C.REG_EXPAND_SZ then return v end
  return (v:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end))
end

local root = call(opener, { samDesired = C.MAXIMUM_ALLOWED }).phKey
handles[#handles + 1] = root
local key = root
if sub ~= "" then
  key = call("BaseRegOpenKey", { hKey = root, lpSubKey = H.ustr(sub), dwOptions = 0, samDesired = C.KEY_READ }).phkResult
  handles[#handles + 1] = key
end

if cmd == "query" then
  local v, t, data = H.query_value(c, key, valuename or "")
  if v == nil then fail(t) end
  print(("%s  %s  %s"):format(valuename or "(default)", TYPES[t] or ("type " .. t), show(t, data)))
else
  for i = 0, math.maxinteger do
    local r, e, out = c:BaseRegEnumKey { hKey = key, dwIndex = i, lpNameIn = H.ubuf(512),
                                         lpClassIn = H.ubuf(0), lpftLastWriteTime = 0 }
    if not r then
      if out and out.result == C.ERROR_NO_MORE_ITEMS then break end
      fail(e)
    end
    print(("[%s]"):format(H.str(r.lpNameOut)))
  end
  for i = 0, math.maxinteger do
    local size = 4096
    local r, e, out
    repeat
      r, e, out = c:BaseRegEnumValue { hKey = key, dwIndex = i, lpValueNameIn = H.ubuf(32766), lpType = 0,
                                       lpData = "", lpcbData = size, lpcbLen = 0 }
      local grow = r and r.result == C.ERROR_MORE_DATA and (r.lpcbData or 0) > size
      if grow then size = r.lpcbData end
    until not grow
    if not r then
      if out and out.result == C.ERROR_NO_MORE_ITEMS then break end
      fail(e)
    end
    local name = H.str(r.lpValueNameOut)
    print(("%s  %s  %s"):format(name == "" and "(default)" or name, TYPES[r.lpType] or ("type " .. tostring(r.lpType)),
                                show(r.lpType or 0, r.lpData or "")))
  end
end
close_all()
