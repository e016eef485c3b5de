-- spec/helpers/peers.lua: start the real peers the interop specs talk to.
--
--   local peers = require "helpers.peers"
--   local samba = peers.samba()   -- starts test/peers/samba-member.sh if needed
--   if not samba then return end  -- (only outside CI) the peer cannot run here
--   samba.SAMBA_SRVSVC_PORT, samba.SAMBA_USER, ...
--   local echo = peers.rpcecho()  -- test/peers/rpcecho.sh: echo.RPCECHO_HOST, echo.RPCECHO_PORT
--   local kdc = peers.mit_kdc()   -- test/peers/mit-kdc.sh: kdc.KRB5_CONFIG, kdc.MIT_KDC_KEYTAB, ...
--   local dc = peers.ad_dc()      -- test/peers/samba-ad-dc.sh: dc.SAMBA_DC_HOST, dc.SAMBA_DC_REALM, ...
--
-- samba-member and samba-ad-dc both hold 127.0.0.1:135 and :445, so only one
-- runs at a time: asking for one stops the other (and forgets its cached env,
-- so that asking for it again starts it again). A swap takes about 3.5 s
-- either way, plus about 8 s of provisioning the first time the DC starts
-- (measured ones are in M.swaps).
--
-- Outside CI a spec may skip when a peer cannot run on this machine (not root
-- for Samba, Samba not installed); under CI=true that is a failure, never a skip.

local M = {}

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers/peers%.lua$")) or "."
if root:sub(1, 1) ~= "/" then
  -- absolute, so that specs may run commands from other directories
  local p = io.popen(string.format("cd %q && pwd", root))
  root = p and p:read("l") or root
  if p then p:close() end
end
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
  return env, why
end

local started = {}

-- Peers that bind privileged ports and so need root.
local NEEDS_ROOT = { ["samba-member"] = "ports 135/445", ["samba-ad-dc"] = "ports 88/135/445" }

-- Peers that cannot run at the same time as the named one (shared ports).
local EXCLUDES = { ["samba-member"] = { "samba-ad-dc" }, ["samba-ad-dc"] = { "samba-member" } }

-- Each swap done by this process: { stopped = name, started = name, seconds = s }.
M.swaps = {}

local function clock()
  local p = io.popen("date +%s.%N")
  local t = p and tonumber(p:read("l")) or os.time()
  if p then p:close() end
  return t
end

-- Stop a peer with its script (idempotent), and forget its env.
local function stop(name)
  started[name] = nil
  local script = root .. "/test/peers/" .. name .. ".sh"
  return os.execute(string.format("env -u LD_PRELOAD DCERPC_PEER_DIR=%q bash %q stop >>%q 2>&1", M.dir, script,
                                  M.dir .. "/" .. name .. ".stop.log"))
end

-- Is a peer running now (its script's status)? Also true for a peer started
-- by another process.
local function running(name)
  local script = root .. "/test/peers/" .. name .. ".sh"
  return os.execute(string.format("env -u LD_PRELOAD DCERPC_PEER_DIR=%q bash %q status >/dev/null 2>&1",
                                  M.dir, script)) == true
end

-- Run a peer script's start; returns its env table or nil, reason.
local function start(name)
  if started[name] then return started[name] end
  local script = root .. "/test/peers/" .. name .. ".sh"
  local ok, why
  local uid = io.popen("id -u"):read("l")
  if NEEDS_ROOT[name] and uid ~= "0" then
    ok, why = false, "peer " .. name .. " needs root (" .. NEEDS_ROOT[name] .. ")"
  else
    -- Stop the peers this one excludes, whether or not they look running
    -- (stop is idempotent and finds their processes by config path even
    -- without pid files); retry once if the ports were taken again meanwhile.
    local t0, swapped = clock(), nil
    local cmd = string.format("env -u LD_PRELOAD DCERPC_PEER_DIR=%q bash %q start >%q 2>&1", M.dir, script,
                              M.dir .. "/" .. name .. ".start.log")
    os.execute("mkdir -p " .. string.format("%q", M.dir))
    for attempt = 1, 2 do
      for _, other in ipairs(EXCLUDES[name] or {}) do
        if started[other] or running(other) then swapped = other end
        stop(other)
      end
      -- the peers must not inherit an ASan LD_PRELOAD meant for the Lua process
      ok = os.execute(cmd)
      if ok then break end
      local f = io.open(M.dir .. "/" .. name .. ".start.log")
      why = (f and f:read("a") or "start failed"):gsub("%s+$", "")
      if f then f:close() end
      if attempt == 2 or not (EXCLUDES[name] and why:find("taken", 1, true)) then break end
    end
    if swapped then M.swaps[#M.swaps + 1] = { stopped = swapped, started = name, seconds = clock() - t0 } end
  end
  if not ok then
    if os.getenv("CI") == "true" then
      error("peer " .. name .. " failed to start under CI: " .. tostring(why), 2)
    end
    return nil, why
  end
  local env = read_env(M.dir .. "/" .. name .. "/env.sh")
  if not env then
    why = "no " .. M.dir .. "/" .. name .. "/env.sh after start"
    if os.getenv("CI") == "true" then error("peer " .. name .. ": " .. why, 2) end
    return nil, why
  end
  started[name] = env
  return env
end

-- The standalone Samba server (epm on 135, srvsvc/wkssvc/samr on dynamic ports).
function M.samba()
  local env, why = start("samba-member")
  if not env then
    print("SKIP: Samba peer not available: " .. tostring(why))
  end
  return env, why
end

-- The project's rpcecho reference server (test/peers/rpcecho.sh): RPCECHO_HOST,
-- RPCECHO_PORT (default 60135, RPCECHO_PORT overrides), RPCECHO_HOST6 when it
-- also listens on ::1.
function M.rpcecho()
  local env, why = start("rpcecho")
  if not env then
    print("SKIP: rpcecho peer not available: " .. tostring(why))
  end
  return env, why
end

-- The project's MIT KDC (test/peers/mit-kdc.sh): KRB5_CONFIG, MIT_KDC_REALM,
-- MIT_KDC_PORT, MIT_KDC_USER / MIT_KDC_PASSWORD, MIT_KDC_SERVICE,
-- MIT_KDC_KEYTAB (the service's), MIT_KDC_CLIENT_KEYTAB (the user's),
-- MIT_KDC_CCACHE (the user's TGT, from kinit).
function M.mit_kdc()
  local env, why = start("mit-kdc")
  if not env then
    print("SKIP: MIT KDC peer not available: " .. tostring(why))
  end
  return env, why
end

-- The Samba AD DC (test/peers/samba-ad-dc.sh; stops samba-member first):
-- realm RPCTEST.LOCAL, domain RPCTEST, DC dc1.rpctest.local at 127.0.0.1.
-- The env table: SAMBA_DC_HOST, SAMBA_DC_HOSTNAME (the name for SPNs; nobody
-- resolves it), SAMBA_DC_REALM, SAMBA_DC_DOMAIN, SAMBA_DC_USER,
-- SAMBA_DC_PASSWORD, SAMBA_DC_ADMIN_USER, SAMBA_DC_ADMIN_PASSWORD,
-- SAMBA_DC_KEYTAB (alice's keys), SAMBA_DC_KRB5_CONFIG, SAMBA_DC_KRB5CCNAME
-- (a ccache with alice's TGT, taken at start), SAMBA_DC_CLIENT_CONF (smb.conf
-- for Samba's client tools), SAMBA_DC_{KDC,EPM,SMB}_PORT, one
-- SAMBA_DC_<IFACE>_PORT per ncacn_ip_tcp endpoint (SAMR, LSARPC, NETLOGON,
-- WKSSVC, DRSUAPI, ...; srvsvc is on named pipes only), and
-- SAMBA_DC_PROVISION_SECONDS / SAMBA_DC_START_SECONDS.
function M.ad_dc()
  local env, why = start("samba-ad-dc")
  if not env then
    print("SKIP: Samba AD DC peer not available: " .. tostring(why))
  end
  return env, why
end

M.start = start
M.stop = stop
M.running = running

-- Run fn() with the Samba peer's user in BUILTIN\Administrators (Samba lets
-- only administrators write its registry or change services), then take the
-- membership away again, also when fn raises. Sessions opened inside fn get
-- the group; those opened after do not. Returns what fn returned, or raises
-- its error.
function M.with_admin(env, fn)
  local conf = "'" .. env.SAMBA_CONF:gsub("'", "'\\''") .. "'"
  local member = "'" .. (env.SAMBA_DOMAIN .. "\\" .. env.SAMBA_USER):gsub("'", "'\\''") .. "'"
  os.execute("getent group rpcadmins >/dev/null || groupadd rpcadmins")
  os.execute("env -u LD_PRELOAD net -s " .. conf .. " groupmap add sid=S-1-5-32-544 unixgroup=rpcadmins " ..
             "type=builtin ntgroup=Administrators >/dev/null 2>&1")
  assert(os.execute("env -u LD_PRELOAD net -s " .. conf .. " sam addmem 'BUILTIN\\Administrators' " ..
                    member .. " >/dev/null"), "cannot make the peer's user an administrator")
  local res = table.pack(pcall(fn))
  os.execute("env -u LD_PRELOAD net -s " .. conf .. " sam delmem 'BUILTIN\\Administrators' " ..
             member .. " >/dev/null 2>&1")
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- The sorted share names a srvsvc client `c` lists (NetrShareEnum level 1):
-- what the interop specs compare between anonymous and authenticated calls.
function M.share_names(c)
  local r = assert(c:NetrShareEnum {
    InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
    PreferedMaximumLength = 0xffffffff,
  })
  local names = {}
  for _, s in ipairs(r.InfoStruct.ShareInfo.Level1.Buffer) do names[#names + 1] = s.shi1_netname end
  table.sort(names)
  return names
end

return M
