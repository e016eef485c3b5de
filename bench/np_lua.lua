-- ncacn_np with lua-dcerpc: the time to open (TCP connect through the
-- first call's reply) and NetrServerGetInfo level 101 calls per second on
-- one session (see bench/run.sh part e).
--
--   lua5.4 bench/np_lua.lua HOST USER DOMAIN PASSWORD OPENS SECONDS
--       -> NP ours <open ms median> <open ms best> <calls/s> <dialect> <signing> <encrypting>
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../scripts/?.lua;" .. here .. "/../scripts/?/init.lua;" .. package.path
package.cpath = here .. "/../build/?.so;" .. package.cpath
-- (floor.so comes from LUA_CPATH, set by run.sh)
local dcerpc = require "dcerpc"

local host, user, domain, password = arg[1], arg[2], arg[3], arg[4]
local opens, seconds = tonumber(arg[5]), tonumber(arg[6])
local now = require("floor").now      -- bench/floor.c's monotonic clock (run.sh builds it)
local function t() return now() end

local opts = { user = user, domain = domain, password = password, timeout = 30 }
local times = {}
local info
for i = 1, opens do
  local t0 = t()
  local c = assert(dcerpc.connect("ncacn_np:" .. host, "srvsvc", opts))
  assert(c:NetrServerGetInfo { ServerName = "\\\\" .. host, Level = 101 })
  times[i] = (t() - t0) * 1000
  info = c.conn:info().smb
  c:close()
end
table.sort(times)
local c = assert(dcerpc.connect("ncacn_np:" .. host, "srvsvc", opts))
local n, t0 = 0, t()
local stop = t0 + seconds
local tn
repeat
  for _ = 1, 50 do assert(c:NetrServerGetInfo { ServerName = "\\\\" .. host, Level = 101 }) end
  n = n + 50
  tn = t()
until tn >= stop
print(string.format("NP ours %.3f %.3f %.1f %s %s %s", times[(#times + 1) // 2], times[1], n / (tn - t0),
  info.dialect, tostring(info.signing), tostring(info.encrypting)))
c:close()
