-- spec/helpers/peers.lua: start the real peers the interop specs talk to.
--
--   local peers = require "helpers.peers"
--   local samba = peers.samba()   -- starts test/peers/samba-member.sh if needed
--   if not samba then return end  -- (only outside CI) the peer cannot run here
--   samba.SAMBA_SRVSVC_PORT, samba.SAMBA_USER, ...
--
-- Outside CI a spec may skip when a peer cannot run on this machine (not root,
-- Samba not installed); under CI=true that is a failure, never a skip.

local M = {}

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers/peers%.lua$")) or "."
M.root = root
M.dir = os.getenv("DCERPC_PEER_DIR") or "/tmp/lua-dcerpc-peers"

local function read_env(path)
  local f = io.open(path)
  if not f then return nil end
  local env = {}
  for line in f:lines() do
    for k, v in line:gmatch("([%w_]+)='?([^'%s]*)'?") do
      if k ~= "export" then env[k] = v end
    end
  end
  f:close()
  return env
end

local started = {}

-- Run a peer script's start; returns its env table or nil, reason.
local function start(name)
  if started[name] then return started[name] end
  local script = root .. "/test/peers/" .. name .. ".sh"
  local ok, why
  local uid = io.popen("id -u"):read("l")
  if uid ~= "0" then
    ok, why = false, "peers need root (ports 135/445)"
  else
    local cmd = string.format("DCERPC_PEER_DIR=%q bash %q start >%q 2>&1", M.dir, script,
                              M.dir .. "/" .. name .. ".start.log")
    os.execute("mkdir -p " .. string.format("%q", M.dir))
    ok = os.execute(cmd)
    if not ok then
      local f = io.open(M.dir .. "/" .. name .. ".start.log")
      why = f and f:read("a") or "start failed"
      if f then f:close() end
    end
  end
  if not ok then
    if os.getenv("CI") == "true" then
      error("peer " .. name .. " failed to start under CI: " .. tostring(why), 2)
    end
    return nil, why
  end
  local env = read_env(M.dir .. "/" .. name .. "/env.sh")
  started[name] = env
  return env
end

-- The standalone Samba server (epm on 135, srvsvc/wkssvc/samr on dynamic ports).
function M.samba()
  local env, why = start("samba-member")
  if not env then
    print("SKIP: Samba peer not available: " .. tostring(why))
  end
  return env
end

M.start = start
return M
