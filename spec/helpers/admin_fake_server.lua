-- admin_fake_server.lua: svcctl and lsarpc answered by Lua handlers with
-- canned data, for running examples/services.lua and examples/lookupsid.lua
-- where no real server offers these interfaces on a transport we have.
-- Prints "listening on <binding>" per endpoint, then serves until killed.
-- REnumServicesStatusW answers one service per page (ERROR_MORE_DATA and a
-- resume index), so the example's paging is exercised.
local dcerpc = require "dcerpc"

local HANDLE = string.rep("\1", 20)
local SERVICES = {
  { "Spooler", "Print Spooler", 4 },
  { "WinRM", "Windows Remote Management", 1 },
  { "Dnscache", "DNS Client é", 4 },
}

local function u16z(s)
  local out = {}
  for _, c in utf8.codes(s) do out[#out + 1] = string.pack("<I2", c) end
  return table.concat(out) .. "\0\0"
end

local function page(i)
  local s = SERVICES[i]
  local name, disp = u16z(s[1]), u16z(s[2])
  return string.pack("<I4I4I4I4I4I4I4I4I4", 36, 36 + #name, 0x10, s[3], 0, 0, 0, 0, 0) .. name .. disp
end

local svc = {}
function svc.ROpenSCManagerW() return { lpScHandle = HANDLE, result = 0 } end
function svc.RCloseServiceHandle() return { hSCObject = string.rep("\0", 20), result = 0 } end
function svc.REnumServicesStatusW(_, a)
  local i = (a.lpResumeIndex or 0) + 1
  local buf = page(i)
  if #buf > a.cbBufSize then
    return { lpBuffer = string.rep("\0", a.cbBufSize), pcbBytesNeeded = #buf, lpServicesReturned = 0, lpResumeIndex = i - 1, result = 234 }
  end
  local last = i == #SERVICES
  -- lpBuffer is [out, size_is(cbBufSize)]: always cbBufSize bytes on the wire
  return { lpBuffer = buf .. string.rep("\0", a.cbBufSize - #buf), pcbBytesNeeded = last and 0 or #page(i + 1), lpServicesReturned = 1,
           lpResumeIndex = (not last) and i or nil, result = last and 0 or 234 }
end

local ACCOUNTS = {
  ["S-1-5-32-544"] = { "BUILTIN", "S-1-5-32", "Administrators", 4 },
  ["S-1-5-21-1-2-3-1000"] = { "RPCSRV", "S-1-5-21-1-2-3", "alice", 1 },
}
local lsa = {}
function lsa.LsarOpenPolicy2() return { PolicyHandle = HANDLE, result = 0 } end
function lsa.LsarClose() return { ObjectHandle = string.rep("\0", 20), result = 0 } end
local function domains_add(doms, idx, name, sid)
  if not idx[name] then
    doms[#doms + 1] = { Name = name, Sid = sid }
    idx[name] = #doms - 1
  end
  return idx[name]
end
function lsa.LsarLookupSids2(_, a)
  local doms, idx, names, mapped = {}, {}, {}, 0
  for i, s in ipairs(a.SidEnumBuffer.SidInfo or {}) do
    local x = ACCOUNTS[s.Sid]
    if x then
      mapped = mapped + 1
      names[i] = { Use = x[4], Name = x[3], DomainIndex = domains_add(doms, idx, x[1], x[2]), Flags = 0 }
    else
      names[i] = { Use = 8, Name = "", DomainIndex = -1, Flags = 0 }
    end
  end
  return { ReferencedDomains = { Entries = #doms, Domains = doms, MaxEntries = 32 },
           TranslatedNames = { Entries = #names, Names = names }, MappedCount = mapped,
           result = mapped == #names and 0 or (mapped == 0 and 0xC0000073 or 0x107) }
end
function lsa.LsarLookupNames3(_, a)
  local doms, idx, sids, mapped = {}, {}, {}, 0
  for i, n in ipairs(a.Names) do
    local found
    for sid, x in pairs(ACCOUNTS) do
      if n:lower() == x[3]:lower() or n:lower() == (x[1] .. "\\" .. x[3]):lower() then found = { sid, x } end
    end
    if found then
      mapped = mapped + 1
      sids[i] = { Use = found[2][4], Sid = found[1], DomainIndex = domains_add(doms, idx, found[2][1], found[2][2]), Flags = 0 }
    else
      sids[i] = { Use = 8, DomainIndex = -1, Flags = 0 }
    end
  end
  return { ReferencedDomains = { Entries = #doms, Domains = doms, MaxEntries = 32 },
           TranslatedSids = { Entries = #sids, Sids = sids }, MappedCount = mapped,
           result = mapped == #sids and 0 or (mapped == 0 and 0xC0000073 or 0x107) }
end

local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]", "ncacn_ip_tcp:127.0.0.1[0]" } })
srv:register("svcctl", svc)
srv:register("lsarpc", lsa)
for _, e in ipairs(srv.endpoints) do print("listening on " .. e) end
io.stdout:flush()
srv:run()
