#!/usr/bin/env lua5.4
-- inventory.lua [options] HOST... : walk many hosts at once and say what each is.
--
-- For every host: srvsvc NetrServerGetInfo (level 101: name, OS version, role
-- bits, comment) and NetrShareEnum (how many shares), on one connection; all
-- hosts concurrently (tasks on dcerpc's event loop), each with its own
-- timeouts, then a summary of what answered and why the others did not.
--
--   lua5.4 examples/inventory.lua 10.0.0.1 10.0.0.2 fileserver
--   lua5.4 examples/inventory.lua -f hosts.txt --np -U 'CORP\alice%secret' --timeout 3
--
-- options:
--   -f FILE            hosts from FILE (one per line, # comments), besides those given
--   --np               over SMB named pipes (ncacn_np, port 445); default TCP via the endpoint mapper
--   --port N           the endpoint mapper's (TCP) or SMB's (--np) port
--   -U [DOM\]USER[%PASSWORD]   credentials (default anonymous)
--   -k, --kerberos     Kerberos first (the default ccache, or a TGT got with -U USER@REALM%PASSWORD)
--   --timeout S        per-host seconds for each stage: connecting, then each answer (default 5)
--   --parallel N       hosts in flight at once (default 64)
-- Exit status: 0 when every host answered, 1 when some did not, 2 for usage.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"

local function usage(msg)
  io.stderr:write("inventory: ", msg, "\nusage: inventory.lua [-f FILE] [--np] [--port N] [-U USER%PASS] [-k] ",
                  "[--timeout S] [--parallel N] HOST...\n")
  os.exit(2)
end

local hosts, np, port, user, password, timeout, parallel, kerberos = {}, false, nil, nil, nil, 5, 64, nil
local argv, i = { ... }, 1
local function value() i = i + 1; return argv[i] or usage(argv[i - 1] .. " needs a value") end
while i <= #argv do
  local a = argv[i]
  if a == "-f" then
    local f = io.open(value()) or usage("cannot read " .. argv[i])
    for line in f:lines() do
      local h = line:gsub("#.*", ""):match("^%s*(%S+)")
      if h then hosts[#hosts + 1] = h end
    end
    f:close()
  elseif a == "--np" then np = true
  elseif a == "-k" or a == "--kerberos" then kerberos = true
  elseif a == "--port" then port = tonumber(value()) or usage("--port: a number")
  elseif a == "-U" then user, password = value():match("^([^%%]*)%%?(.*)$")
  elseif a == "--timeout" then timeout = tonumber(value()) or usage("--timeout: seconds")
  elseif a == "--parallel" then parallel = math.tointeger(tonumber(value())) or usage("--parallel: a number")
  elseif a:sub(1, 1) == "-" then usage("unknown option " .. a)
  else hosts[#hosts + 1] = a end
  i = i + 1
end
if #hosts == 0 then usage("no hosts") end

-- why a host did not answer, in a word for the summary
local function kind(err)
  local m = tostring(err and err.message or err)
  if m:find("timed out", 1, true) then return "timeout" end
  if type(err) == "table" and err.is and err:is("RPC_S_SEC_PKG_ERROR", "STATUS_LOGON_FAILURE",
      "STATUS_ACCESS_DENIED", "ERROR_ACCESS_DENIED", "nca_s_fault_access_denied") then return "refused credentials" end
  if m:find("refused", 1, true) then return "connection refused" end
  if m:find("endpoint mapper", 1, true) then return "no srvsvc endpoint" end
  return "other error"
end

local function survey(host)
  local binding = np and ("ncacn_np:" .. host) or ("ncacn_ip_tcp:" .. host)
  local opts = { timeout = timeout, connect_timeout = timeout, user = user, password = password, kerberos = kerberos }
  if port then if np then opts.smb_port = port else opts.epm_port = port end end
  local c, err = dcerpc.connect(binding, "srvsvc", opts)
  if not c then return nil, err end
  local server = "\\\\" .. host
  local r, e = c:NetrServerGetInfo { ServerName = server, Level = 101 }
  if not r then c:close(); return nil, e end
  local info = r.InfoStruct.ServerInfo101
  local s = c:NetrShareEnum { ServerName = server, PreferedMaximumLength = 0xffffffff,
                              InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } } }
  c:close()
  return {
    name = info.sv101_name, version = info.sv101_version_major .. "." .. info.sv101_version_minor,
    type = info.sv101_type, comment = info.sv101_comment or "",
    shares = s and #(s.InfoStruct.ShareInfo.Level1.Buffer or {}) or nil,
  }
end

-- a pool of `parallel` tasks taking hosts in turn
local results, next_host, started = {}, 1, os.time()
local clock0 = os.clock()
for _ = 1, math.min(parallel, #hosts) do
  dcerpc.spawn(function()
    while next_host <= #hosts do
      local n = next_host
      next_host = n + 1
      local ok, what, err = pcall(survey, hosts[n])
      if not ok then what, err = nil, what end
      results[n] = { host = hosts[n], info = what, err = err }
    end
  end)
end
dcerpc.run()

local answered, why = 0, {}
for _, r in ipairs(results) do
  if r.info then
    answered = answered + 1
    local t = r.info
    print(string.format("%-20s %-16s %-5s type 0x%08x  %s shares  %s", r.host, t.name, t.version, t.type,
                        t.shares and tostring(t.shares) or "?", t.comment))
  else
    local k = kind(r.err)
    why[k] = (why[k] or 0) + 1
    print(string.format("%-20s -- %s: %s", r.host, k, tostring(r.err and r.err.message or r.err)))
  end
end
local parts = {}
for k, n in pairs(why) do parts[#parts + 1] = string.format("%d %s", n, k) end
table.sort(parts)
print(string.format("\n%d hosts: %d answered%s%s (%d s, %.2f s of CPU)", #hosts, answered,
                    #parts > 0 and ", " or "", table.concat(parts, ", "), os.time() - started, os.clock() - clock0))
os.exit(answered == #hosts and 0 or 1)
