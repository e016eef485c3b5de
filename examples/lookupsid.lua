-- lookupsid.lua BINDING SID|NAME... [-U USER] [-P PASSWORD] [-k]: translate SIDs
-- to account names and names to SIDs with the LSA (lsarpc, [MS-LSAT]), like
-- `rpcclient -c lookupsids` / `lookupnames`:
--
--   S-1-5-32-544  BUILTIN\Administrators  (Alias)
--
--   lua5.4 examples/lookupsid.lua ncacn_np:server S-1-5-32-544 'DOM\alice' -U 'DOM\admin' -P secret
--
-- An argument starting with S- is a SID (LsarLookupSids2), anything else a
-- name (LsarLookupNames3); both ask at LsapLookupWksta level. USER may be
-- DOMAIN\USER; without -U the bind is anonymous. -k (--kerberos): Kerberos
-- first (the default ccache, or a TGT got with -U USER@REALM -P PASSWORD),
-- as rpcclient -k; a binding flag does it too: ncacn_np:HOST[krb5]. Samba serves lsarpc on
-- named pipes only (ncacn_np); Windows also on TCP. On failure the error goes
-- to stderr and the exit status is 1 (2 for bad usage); names or SIDs that do
-- not map print "(unknown)" and the exit status is 3.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"
local args = require "dcerpc.args"
local pos, opts = args.parse(arg, { timeout = 30, connect_timeout = 15 })
local binding = pos and table.remove(pos, 1)
if not binding or #pos == 0 then
  io.stderr:write(pos and "" or opts .. "\n", "usage: lookupsid.lua BINDING SID|NAME... ", args.usage, "\n")
  os.exit(2)
end

local lsa = dcerpc.interface "lsarpc"
local H, C = lsa.helpers, lsa.constants
local USE = {}
for name, v in pairs(C.SID_NAME_USE) do USE[v] = name:gsub("^SidType", "") end

local c, err = dcerpc.connect(binding, lsa, opts)
if not c then
  io.stderr:write("lookupsid: ", tostring(err), "\n")
  os.exit(1)
end
local policy
local function fail(e)
  io.stderr:write("lookupsid: ", tostring(e), "\n")
  if policy and c.conn then pcall(c.LsarClose, c, { ObjectHandle = policy }) end
  c:close()
  os.exit(1)
end

local b = dcerpc.binding(binding)
local r, e = c:LsarOpenPolicy2 { SystemName = b.host and ("\\\\" .. b.host) or nil,
  ObjectAttributes = H.object_attributes(true), DesiredAccess = C.POLICY_LOOKUP_NAMES }
if not r then fail(e) end
policy = r.PolicyHandle

local sids, names = {}, {}
for _, a in ipairs(pos) do
  if a:match("^[Ss]%-%d") then sids[#sids + 1] = a:upper() else names[#names + 1] = a end
end

local unmapped = false
-- STATUS_SOME_NOT_MAPPED is a success code; STATUS_NONE_MAPPED an error with results
local function lookup(name, args)
  local res, le, out = c[name](c, args)
  if not res and out and out.result == C.STATUS_NONE_MAPPED then return out end
  if not res then fail(le) end
  return res
end

if #sids > 0 then
  local info = {}
  for i, s in ipairs(sids) do info[i] = { Sid = s } end
  local out = lookup("LsarLookupSids2", { PolicyHandle = policy, SidEnumBuffer = { Entries = #info, SidInfo = info },
    TranslatedNames = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0,
    LookupOptions = 0, ClientRevision = C.LSA_CLIENT_REVISION_2 })
  local t = H.translate_sids(out)
  for i, s in ipairs(sids) do
    local x = t[i]
    if not x or x.Use == C.SID_NAME_USE.SidTypeUnknown or x.Use == C.SID_NAME_USE.SidTypeInvalid then
      unmapped = true
      print(("%s  (unknown)"):format(s))
    else
      local full = (x.Domain and x.Domain ~= "" and x.Use ~= C.SID_NAME_USE.SidTypeDomain)
                   and (x.Domain .. "\\" .. (x.Name or "")) or (x.Name or "")
      print(("%s  %s  (%s)"):format(s, full, USE[x.Use] or tostring(x.Use)))
    end
  end
end

if #names > 0 then
  local out = lookup("LsarLookupNames3", { PolicyHandle = policy, Count = #names, Names = names,
    TranslatedSids = { Entries = 0 }, LookupLevel = "LsapLookupWksta", MappedCount = 0,
    LookupOptions = 0, ClientRevision = C.LSA_CLIENT_REVISION_2 })
  local t = H.translate_names(out)
  for i, n in ipairs(names) do
    local x = t[i]
    if not x or not x.Sid then
      unmapped = true
      print(("%s  (unknown)"):format(n))
    else
      print(("%s  %s  (%s)"):format(x.Sid, n, USE[x.Use] or tostring(x.Use)))
    end
  end
end

c:LsarClose { ObjectHandle = policy }
c:close()
if unmapped then os.exit(3) end
