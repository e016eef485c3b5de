-- services.lua BINDING [-U USER] [-P PASSWORD] [-k]: list the services of a
-- Windows (or Samba) host with the Service Control Manager (svcctl,
-- [MS-SCMR] REnumServicesStatusW), one per line:
--
--   Spooler                  RUNNING   Print Spooler
--
--   lua5.4 examples/services.lua ncacn_np:server -U 'DOM\admin' -P secret
--
-- Every Win32 service, active or not; the listing is paged with the resume
-- index when the server says ERROR_MORE_DATA (svcctl.helpers.enum_services).
-- USER may be DOMAIN\USER; without -U the bind is anonymous; -k
-- (--kerberos) tries Kerberos first (the default ccache, or a TGT got with
-- -U USER@REALM -P PASSWORD), as rpcclient -k. Samba serves
-- svcctl on named pipes only (ncacn_np). On failure the error goes to stderr
-- and the exit status is 1 (2 for bad usage).
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"
local args = require "dcerpc.args"
local pos, opts = args.parse(arg, { timeout = 30, connect_timeout = 15 })
local binding = pos and pos[1]
if not binding or pos[2] then
  io.stderr:write(pos and "" or opts .. "\n", "usage: services.lua BINDING ", args.usage, "\n")
  os.exit(2)
end

local svcctl = dcerpc.interface "svcctl"
local H, C = svcctl.helpers, svcctl.constants
local STATES = { "STOPPED", "START_PENDING", "STOP_PENDING", "RUNNING", "CONTINUE_PENDING",
                 "PAUSE_PENDING", "PAUSED" }

local c, err = dcerpc.connect(binding, svcctl, opts)
if not c then
  io.stderr:write("services: ", tostring(err), "\n")
  os.exit(1)
end
local scm
local function fail(e)
  io.stderr:write("services: ", tostring(e), "\n")
  if scm and c.conn then pcall(c.RCloseServiceHandle, c, { hSCObject = scm }) end
  c:close()
  os.exit(1)
end

local b = dcerpc.binding(binding)
local r, e = c:ROpenSCManagerW { lpMachineName = b.host and ("\\\\" .. b.host) or nil,
  lpDatabaseName = "ServicesActive", dwDesiredAccess = C.SC_MANAGER_CONNECT | C.SC_MANAGER_ENUMERATE_SERVICE }
if not r then fail(e) end
scm = r.lpScHandle

local list, le = H.enum_services(c, scm, C.SERVICE_WIN32, C.SERVICE_STATE_ALL)
if not list then fail(le) end
table.sort(list, function(a, x) return a.ServiceName:lower() < x.ServiceName:lower() end)
for _, s in ipairs(list) do
  local st = s.ServiceStatus.dwCurrentState
  print(("%-24s %-16s %s"):format(s.ServiceName, STATES[st] or tostring(st), s.DisplayName))
end
c:RCloseServiceHandle { hSCObject = scm }
c:close()
