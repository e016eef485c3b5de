#!/usr/bin/env lua5.4
-- srvsvc-server.lua [--workers N] [--per-address N] [--user NAME:PASSWORD] [--keytab PATH] [BINDING...]: a small Server Service ([MS-SRVS]) served by
-- Lua handlers: a fixed share table answered by NetrShareEnum (levels 0, 1, 2,
-- 501, 502), NetrShareGetInfo (0, 1, 2, 501, 502, 1004, 1005, 1006) and
-- NetrServerGetInfo (100, 101, 102). Anonymous; `rpcclient -U% BINDING -c
-- srvinfo` / `-c netshareenumall` / `-c 'netsharegetinfo share'` talk to it.
--   lua5.4 examples/srvsvc-server.lua                     -- ncacn_ip_tcp:127.0.0.1[31136]
--   lua5.4 examples/srvsvc-server.lua 'ncacn_ip_tcp:127.0.0.1[0]' 'ncacn_ip_tcp:[::1][0]'
-- --workers N: serve from N processes (the server's `workers` option).
-- --per-address N: connections one address may hold (`max_connections_per_address`).
-- --user NAME:PASSWORD: accept NTLM / SPNEGO binds from that user (repeatable).
-- --keytab PATH: accept Kerberos binds (auth type 16) with the service keys in PATH.
-- Prints "listening on <binding>" for each endpoint once it accepts calls.
-- From a checkout after `make` the lines below find the module there, unless
-- LUA_PATH / LUA_CPATH already lead to one; installed as a rock it runs anywhere.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"

local srvsvc = dcerpc.interface "srvsvc"
local K = srvsvc.constants

local ERROR_SUCCESS = 0
local ERROR_MORE_DATA = 234
local ERROR_INVALID_LEVEL = 124
local NERR_NetNameNotFound = 2310

local bindings, workers, users, per_address, keytab = {}, 1, nil, nil, nil
do
  local argv, i = { ... }, 1
  while i <= #argv do
    if argv[i] == "--per-address" then
      i = i + 1
      per_address = assert(math.tointeger(tonumber(argv[i])), "--per-address: a number expected")
    elseif argv[i] == "--workers" then
      i = i + 1
      workers = assert(math.tointeger(tonumber(argv[i])), "--workers: a number expected")
    elseif argv[i] == "--keytab" then
      i = i + 1
      keytab = assert(argv[i], "--keytab: a path expected")
    elseif argv[i] == "--user" then
      i = i + 1
      local name, pw = tostring(argv[i]):match("^([^:]+):(.*)$")
      assert(name, "--user: NAME:PASSWORD expected")
      users = users or {}
      users[name] = pw
    else
      bindings[#bindings + 1] = argv[i]
    end
    i = i + 1
  end
end
if #bindings == 0 then bindings = { "ncacn_ip_tcp:127.0.0.1[31136]" } end

---------------------------------------------------------------- the server

-- The NetBIOS-style name: the host name up to its first dot, upper case, at
-- most 15 characters ([MS-SRVS] sv*_name; what Windows and Samba answer).
local function host_name()
  local name
  local f = io.open("/proc/sys/kernel/hostname")
  if f then name = f:read("l"); f:close() end
  if not name or name == "" then name = os.getenv("HOSTNAME") end
  if not name or name == "" then
    local p = io.popen("uname -n 2>/dev/null")
    if p then name = p:read("l"); p:close() end
  end
  if not name or name == "" then name = "LUA-DCERPC" end
  return (name:match("^[^.]+") or name):upper():sub(1, 15)
end

local SERVER = {
  platform_id = K.PLATFORM_ID_NT,                       -- 500
  name = host_name(),
  version_major = 10, version_minor = 0,
  type = K.SV_TYPE_WORKSTATION | K.SV_TYPE_SERVER | K.SV_TYPE_PRINTQ_SERVER
       | K.SV_TYPE_NT | K.SV_TYPE_SERVER_NT,            -- 0x00009203
  comment = "lua-dcerpc srvsvc server",
  users = 10, disc = 15, hidden = 0, announce = 240, anndelta = 3000, licenses = 0,
  userpath = "C:\\",
}

-- The share table, in enumeration order.
local SHARES = {
  { name = "share",  type = K.STYPE_DISKTREE, remark = "lua-dcerpc share",
    path = "C:\\share", max_uses = 0xFFFFFFFF, current_uses = 1, flags = 0 },
  { name = "print$", type = K.STYPE_DISKTREE, remark = "Printer Drivers",
    path = "C:\\Windows\\system32\\spool\\drivers", max_uses = 0xFFFFFFFF, current_uses = 0, flags = 0 },
  { name = "laser",  type = K.STYPE_PRINTQ, remark = "lua-dcerpc printer",
    path = "", max_uses = 0xFFFFFFFF, current_uses = 0, flags = 0 },
  { name = "IPC$",   type = K.STYPE_IPC | K.STYPE_SPECIAL, remark = "IPC Service",
    path = "", max_uses = 0xFFFFFFFF, current_uses = 2, flags = 0 },
}

local function find_share(name)
  local lname = name and name:lower()
  for _, s in ipairs(SHARES) do
    if s.name:lower() == lname then return s end
  end
end

-- One share as SHARE_INFO_<level> (a table keyed by the [MS-SRVS] field names).
local function share_info(s, level)
  if level == 0 then
    return { shi0_netname = s.name }
  elseif level == 1 then
    return { shi1_netname = s.name, shi1_type = s.type, shi1_remark = s.remark }
  elseif level == 2 then
    return { shi2_netname = s.name, shi2_type = s.type, shi2_remark = s.remark,
             shi2_permissions = 0, shi2_max_uses = s.max_uses, shi2_current_uses = s.current_uses,
             shi2_path = s.path, shi2_passwd = nil }
  elseif level == 501 then
    return { shi501_netname = s.name, shi501_type = s.type, shi501_remark = s.remark,
             shi501_flags = s.flags }
  elseif level == 502 then
    return { shi502_netname = s.name, shi502_type = s.type, shi502_remark = s.remark,
             shi502_permissions = 0, shi502_max_uses = s.max_uses,
             shi502_current_uses = s.current_uses, shi502_path = s.path, shi502_passwd = nil,
             shi502_reserved = 0, shi502_security_descriptor = nil }   -- no security descriptor
  elseif level == 1004 then
    return { shi1004_remark = s.remark }
  elseif level == 1005 then
    return { shi1005_flags = s.flags }
  elseif level == 1006 then
    return { shi1006_max_uses = s.max_uses }
  end
end

-- Roughly the bytes one entry takes in the reply: its fixed part plus, for each
-- string, a conformant varying header (12) and the UTF-16 text with its NUL.
local FIXED = { [0] = 4, [1] = 12, [2] = 32, [501] = 16, [502] = 40 }
local function entry_size(info)
  local n = 0
  for _, v in pairs(info) do
    if type(v) == "string" then n = n + 12 + 2 * (utf8.len(v) or #v) + 2 end
  end
  return n
end

local ENUM_ARM = { [0] = "Level0", [1] = "Level1", [2] = "Level2", [501] = "Level501", [502] = "Level502" }
local INFO_ARM = { [0] = "ShareInfo0", [1] = "ShareInfo1", [2] = "ShareInfo2", [501] = "ShareInfo501",
                   [502] = "ShareInfo502", [1004] = "ShareInfo1004", [1005] = "ShareInfo1005",
                   [1006] = "ShareInfo1006" }

local handlers = {}

-- MS-SRVS 3.1.4.8. The resume handle is the index of the next share to send;
-- PreferedMaximumLength bounds the reply (0xFFFFFFFF: no bound), but at least one
-- entry goes out; ERROR_MORE_DATA when entries remain, and then the resume
-- handle says where to go on (0 once the enumeration is complete).
-- TotalEntries is the number of shares that could be enumerated from the
-- resume position.
function handlers.NetrShareEnum(call, a)
  local level = a.InfoStruct.Level
  local arm = ENUM_ARM[level]
  local start = a.ResumeHandle or 0
  local total = math.max(#SHARES - start, 0)
  local limit = a.PreferedMaximumLength
  local buffer, used = {}, 0
  local i = start + 1
  while i <= #SHARES do
    local info = share_info(SHARES[i], level)
    local size = FIXED[level] + entry_size(info)
    if limit ~= 0xFFFFFFFF and #buffer > 0 and used + size > limit then break end
    buffer[#buffer + 1] = info
    used = used + size
    i = i + 1
  end
  local more = i <= #SHARES
  local resume
  if a.ResumeHandle ~= nil then resume = more and (i - 1) or 0 end
  return {
    InfoStruct = { Level = level,
                   ShareInfo = { [arm] = { EntriesRead = #buffer, Buffer = #buffer > 0 and buffer or nil } } },
    TotalEntries = total,
    ResumeHandle = resume,
    result = more and ERROR_MORE_DATA or ERROR_SUCCESS,
  }
end

-- MS-SRVS 3.1.4.10
function handlers.NetrShareGetInfo(call, a)
  local arm = INFO_ARM[a.Level]
  if not arm then
    -- [MS-SRVS] wants ERROR_INVALID_LEVEL, but SHARE_INFO has no arm (and no
    -- default) to marshal it with: the union cannot encode an unknown level.
    error { code = ERROR_INVALID_LEVEL, message = "level " .. a.Level .. " is not served" }
  end
  local s = find_share(a.NetName)
  if not s then return { InfoStruct = {}, result = NERR_NetNameNotFound } end
  return { InfoStruct = { [arm] = share_info(s, a.Level) }, result = ERROR_SUCCESS }
end

-- MS-SRVS 3.1.4.17
function handlers.NetrServerGetInfo(call, a)
  local S, l = SERVER, a.Level
  if l == 100 then
    return { InfoStruct = { ServerInfo100 = { sv100_platform_id = S.platform_id, sv100_name = S.name } },
             result = ERROR_SUCCESS }
  elseif l == 101 then
    return { InfoStruct = { ServerInfo101 = {
      sv101_platform_id = S.platform_id, sv101_name = S.name,
      sv101_version_major = S.version_major, sv101_version_minor = S.version_minor,
      sv101_type = S.type, sv101_comment = S.comment } }, result = ERROR_SUCCESS }
  elseif l == 102 then
    return { InfoStruct = { ServerInfo102 = {
      sv102_platform_id = S.platform_id, sv102_name = S.name,
      sv102_version_major = S.version_major, sv102_version_minor = S.version_minor,
      sv102_type = S.type, sv102_comment = S.comment, sv102_users = S.users,
      sv102_disc = S.disc, sv102_hidden = S.hidden, sv102_announce = S.announce,
      sv102_anndelta = S.anndelta, sv102_licenses = S.licenses,
      sv102_userpath = S.userpath } }, result = ERROR_SUCCESS }
  end
  -- as for NetrShareGetInfo: SERVER_INFO cannot marshal an unknown level
  error { code = ERROR_INVALID_LEVEL, message = "level " .. l .. " is not served" }
end

-- With the built-in endpoint mapper, clients that look srvsvc up on port 135
-- whatever their binding says (Samba 4.17's rpcclient does) find it: give this
-- server a 135 endpoint too (`ncacn_ip_tcp:127.0.0.2[135]`, root).
-- max_connections: room for the 10,000-idle-connection hold test of bench/
local srv = assert(dcerpc.server { listen = bindings, epmapper = true, workers = workers,
                                   max_connections = 20000, max_connections_per_address = per_address,
                                   auth = (users or keytab) and { users = users, keytab = keytab, domain = "RPCSRV",
                                                                  computer = "LUASRVSVC" } })
srv:register(srvsvc, handlers)

for _, ep in ipairs(srv.endpoints) do print("listening on " .. ep) end
io.stdout:flush()
srv:run()
