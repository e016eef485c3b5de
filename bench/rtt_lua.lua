-- NetrServerGetInfo level 101 round trips per second on one connection with
-- our client: the same call, server and measurement as rtt_samba.py.
--
--   lua5.4 rtt_lua.lua PORT SECONDS WINDOWS
--       -> RTT ours <best rt/s> <median rt/s> <windows> <client CPU us/call>
--       or "ours: not available yet" plus a NOTE line with the reason
--   lua5.4 rtt_lua.lua PORT --calls K
--       connect, one call, then K calls, untimed (callgrind, as rtt_samba.py)
--
-- Needs "floor" (bench/floor.c, for its monotonic clock) and dcerpc on
-- LUA_CPATH / LUA_PATH; run.sh sets them.

local now = require("floor").now
local port, secs, windows = tonumber(arg[1]), tonumber(arg[2]), math.tointeger(tonumber(arg[3]))
local calls = arg[2] == "--calls" and math.tointeger(tonumber(arg[3])) or nil

local function unavailable(why)
  print("ours: not available yet")
  why = tostring(why):gsub("%s+", " ")
  if #why > 200 then why = why:sub(1, 200) .. "..." end
  print("NOTE ours-rtt " .. why)
  os.exit(0)
end

-- Anything that fails here (module missing, connect or bind refused, bad
-- reply) means "not available yet", not a crash of the whole bench.
local ok, c = pcall(function()
  local dcerpc = require "dcerpc"
  -- BENCH_AUTH="ntlm:privacy,alice,RPCSRV,Alice-Pass1" authenticates
  local opts
  local a = os.getenv("BENCH_AUTH")
  if a and a ~= "" and a ~= "none" then
    local mech, level, user, domain, password = a:match("^(%w+):(%w+),([^,]*),([^,]*),(.*)$")
    opts = { auth = mech, level = level, user = user, domain = domain, password = password }
  end
  local conn, err = dcerpc.connect(("ncacn_ip_tcp:127.0.0.1[%d]"):format(port),
                                   dcerpc.interface "srvsvc", opts)
  if not conn then error(err, 0) end
  return conn
end)
if not ok then unavailable(type(c) == "table" and (c.message or c.name) or c) end

local req = { ServerName = "\\\\127.0.0.1", Level = 101 }
local function call()
  local r, err = c:NetrServerGetInfo(req)
  if not r then error(err, 0) end
  return r
end

local ok2, r = pcall(call)
if not ok2 then unavailable(type(r) == "table" and (r.message or r.name) or r) end
-- The reply: InfoStruct is the union { ServerInfo101 = {...} }; result WERROR 0.
local info = type(r) == "table" and r.InfoStruct
info = type(info) == "table" and (info.ServerInfo101 or info.LevelInfo101 or info[101]) or info
if r.result ~= 0 or type(info) ~= "table" or info.sv101_platform_id ~= 500 then
  unavailable("unexpected reply (result " .. tostring(r.result) .. ")")
end

if calls then
  for _ = 1, calls do call() end
  os.exit(0)
end

local rates, calls, c0 = {}, 0, os.clock()   -- os.clock: this process's CPU time (user + system)
local ok3, err3 = pcall(function()
  local t_end = now() + 0.3                -- warm-up
  while now() < t_end do call() end
  for w = 1, windows do
    local n, t0 = 0, now()
    local t = t0
    while t - t0 < secs do
      call()
      n = n + 1
      t = now()
    end
    rates[w] = n / (t - t0)
    calls = calls + n
  end
end)
if not ok3 then unavailable("call failed while measuring: " ..
  tostring(type(err3) == "table" and (err3.message or err3.name) or err3)) end
local cpu_us = (os.clock() - c0) / calls * 1e6
table.sort(rates)
local m = #rates
local med = m % 2 == 1 and rates[(m + 1) // 2] or (rates[m // 2] + rates[m // 2 + 1]) / 2
print(("RTT ours %.0f %.0f %d %.1f"):format(rates[m], med, m, cpu_us))
if c.close then c:close() end
