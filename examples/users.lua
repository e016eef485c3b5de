-- users.lua BINDING [USER PASSWORD [DOMAIN]] [-U ...] [-k]: list the users of every
-- account domain of a SAM server (samr), like `rpcclient -c enumdomusers`:
--
--   user:[alice] rid:[0x3e8]
--
--   lua5.4 examples/users.lua ncacn_ip_tcp:127.0.0.1 alice Alice-Pass1 RPCSRV
--   lua5.4 examples/users.lua 'ncacn_ip_tcp:127.0.0.1[sign]' 'RPCSRV\alice' Alice-Pass1
--
-- SPNEGO (NTLM inside) at privacy unless the binding says otherwise
-- ([sign], [seal], [packet], [ntlm]). USER may be given as DOMAIN\USER; an
-- empty USER ('') connects without authentication (anonymous bind). The
-- options of dcerpc.args work too (-U 'DOMAIN\USER%PASSWORD', --nt-hash).
-- -k (--kerberos): Kerberos first, as rpcclient -k: from the default ccache
-- (KRB5CCNAME) when USER and PASSWORD are left out, else with a TGT the
-- library gets itself for USER@REALM:
--   lua5.4 examples/users.lua 'ncacn_ip_tcp:10.0.0.5[target_hostname=dc1.example.com]' -k
-- Every domain but Builtin is listed, page by page (the enumeration context
-- handed back with STATUS_MORE_ENTRIES); every handle is closed. On failure
-- the error goes to stderr and the exit status is 1 (2 for bad usage).
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"

local args = require "dcerpc.args"
local pos, opts = args.parse(arg, { timeout = 30, connect_timeout = 15 })
local binding = pos and pos[1]
if pos and pos[2] then
  -- USER PASSWORD [DOMAIN] as positional arguments, as this example first
  -- took them: the same as -U [DOMAIN\]USER -P PASSWORD
  local user, password, domain = pos[2], pos[3], pos[4]
  if not password or pos[5] then binding = nil
  elseif user ~= "" then
    local ok, more = args.parse({ "-U", (domain and domain ~= "" and domain .. "\\" or "") .. user, "-P", password })
    if not ok then pos, opts, binding = nil, more, nil
    else for k, v in pairs(more) do opts[k] = v end end
  end
end
if not binding then
  io.stderr:write(pos and "" or opts .. "\n", "usage: users.lua BINDING [USER PASSWORD [DOMAIN]] ", args.usage, "\n",
                  "   (e.g. ncacn_ip_tcp:127.0.0.1 alice secret RPCSRV, or -U 'RPCSRV\\alice%secret')\n")
  os.exit(2)
end

local STATUS_MORE_ENTRIES = 0x105
local MAXIMUM_ALLOWED = 0x02000000
local PAGE = tonumber(os.getenv("USERS_PAGE_SIZE") or "") or 0x10000  -- PreferedMaximumLength

local c, err = dcerpc.connect(binding, "samr", opts)
if not c then
  io.stderr:write("users: ", tostring(err), "\n")
  os.exit(1)
end

local handles = {}   -- open handles, closed in reverse order
local function close_all()
  for i = #handles, 1, -1 do c:SamrCloseHandle { SamHandle = handles[i] } end
  handles = {}
  c:close()
end
local function fail(e)
  io.stderr:write("users: ", tostring(e), "\n")
  if c.conn then pcall(close_all) end
  os.exit(1)
end

local function call(name, args)
  local r, e = c[name](c, args)
  if not r then fail(e) end
  return r
end

-- Run an enumeration to its end: EnumerationContext 0 first, then the one
-- each STATUS_MORE_ENTRIES reply hands back.
local function enumerate(name, args)
  local all = {}
  args.EnumerationContext = 0
  args.PreferedMaximumLength = PAGE
  repeat
    local r = call(name, args)
    for _, e in ipairs(r.Buffer and r.Buffer.Buffer or {}) do all[#all + 1] = e end
    args.EnumerationContext = r.EnumerationContext
  until r.result ~= STATUS_MORE_ENTRIES
  return all
end

local server = call("SamrConnect5", {
  ServerName = "\\\\" .. (dcerpc.binding(binding).host or ""),
  DesiredAccess = MAXIMUM_ALLOWED,
  InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } },
}).ServerHandle
handles[#handles + 1] = server

for _, d in ipairs(enumerate("SamrEnumerateDomainsInSamServer", { ServerHandle = server })) do
  if d.Name:lower() ~= "builtin" then
    local sid = call("SamrLookupDomainInSamServer", { ServerHandle = server, Name = d.Name }).DomainId
    local dh = call("SamrOpenDomain", { ServerHandle = server, DesiredAccess = MAXIMUM_ALLOWED,
                                        DomainId = sid }).DomainHandle
    handles[#handles + 1] = dh
    -- ACB_NORMAL (0x10): user accounts, not machine or trust accounts, as rpcclient
    local users = enumerate("SamrEnumerateUsersInDomain", { DomainHandle = dh, UserAccountControl = 0x10 })
    for _, u in ipairs(users) do
      print(("user:[%s] rid:[0x%x]"):format(u.Name or "", u.RelativeId))
    end
    call("SamrCloseHandle", { SamHandle = dh })
    handles[#handles] = nil
  end
end
close_all()
