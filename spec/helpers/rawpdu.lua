-- spec/helpers/rawpdu.lua: raw PDU exchanges with a dcerpc.server running in
-- this process (driven by srv:step), and a throw-away server script run in a
-- child process for tests where our (blocking) client is the peer.
--
--   local R = require "helpers.rawpdu"
--   local s, ack = R.bind(srv)                      -- srv.port must be set
--   s:send(R.request { call_id = 2, opnum = 0, stub = ... })
--   local pdus, closed = R.read_pdus(srv, s, 1)
--   assert(R.closes(srv, s))
--
--   local child = assert(R.start_child(lua_source, "ncacn_ip_tcp:127.0.0.1[0]"))
--   ... child.endpoints[1], child.port ...; child.close(function(stderr) ... end)
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"

local M = {}

M.NDR20, M.NDR64 = dcerpc.NDR20, dcerpc.NDR64
M.PFC_FIRST, M.PFC_LAST, M.PFC_PENDING_CANCEL, M.PFC_CONC_MPX, M.PFC_DNE = 1, 2, 4, 0x10, 0x20

local function syntax(iface) return { uuid = iface.uuid, major = iface.major, minor = iface.minor } end
M.syntax = syntax
M.ECHO = syntax(dcerpc.interface "rpcecho")

-- Is this recv error a closed connection (orderly or reset)?
local function is_closed(e) return e ~= nil and e ~= "timeout" end
M.is_closed = is_closed

-- Read whole PDUs from `sock` while stepping `srv`, until `want` PDUs came,
-- the peer closed, or `seconds` passed. -> pdus, closed
function M.read_pdus(srv, sock, want, seconds)
  local buf, pdus, closed = "", {}, false
  local deadline = os.time() + (seconds or 3)
  while #pdus < want and os.time() <= deadline do
    srv:step(0.01)
    local got, e = sock:recv(65536, 0.01)
    if got then buf = buf .. got
    elseif is_closed(e) then closed = true end
    while #buf >= 10 do
      local flen = string.unpack("<I2", buf, 9)
      if #buf < flen or flen < 16 then break end
      pdus[#pdus + 1] = assert(core.pdu_decode(buf:sub(1, flen)))
      buf = buf:sub(flen + 1)
    end
    if closed then break end
  end
  return pdus, closed
end

-- Does the server close `sock` (within about `seconds`)? Bytes still arriving
-- are returned as the second value.
function M.closes(srv, sock, seconds)
  local extra = ""
  local deadline = os.time() + (seconds or 2)
  repeat
    srv:step(0.01)
    local got, e = sock:recv(65536, 0.01)
    if got then extra = extra .. got
    elseif is_closed(e) then return true, extra end
  until os.time() > deadline
  return false, extra
end

-- Step the server until pred() holds or `seconds` pass; -> pred()
function M.step_until(srv, pred, seconds)
  local deadline = os.time() + (seconds or 3)
  while not pred() and os.time() <= deadline do srv:step(0.02) end
  return pred()
end

function M.connect(srv, port)
  return assert(core.raw_connect("127.0.0.1", port or srv.port))
end

function M.bind_pdu(t)
  t = t or {}
  t.ptype = t.ptype or "bind"
  t.call_id = t.call_id or 1
  t.max_xmit = t.max_xmit or 5840
  t.max_recv = t.max_recv or 5840
  t.contexts = t.contexts or { { id = 0, abstract = M.ECHO, transfer = { M.NDR20 } } }
  return core.pdu_encode(t)
end

-- connect and bind; -> sock, first PDU answered
function M.bind(srv, t, port)
  local s = M.connect(srv, port)
  s:send(M.bind_pdu(t))
  local p = M.read_pdus(srv, s, 1)
  return s, p[1]
end

function M.request(t)
  t.ptype = "request"
  t.stub = t.stub or ""
  t.alloc_hint = t.alloc_hint or #t.stub
  return core.pdu_encode(t)
end

---------------------------------------------------------------- child process

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers/rawpdu%.lua$")) or "."

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path)
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s
end

-- start_child(source, binding...) -> { pid, endpoints, port, close(check) } |
-- nil, stderr. `source` is a Lua chunk run by lua5.4 with this process's
-- module paths and the bindings as `...`; it must print "listening on <binding>"
-- for each binding (and flush) once it serves.
function M.start_child(source, ...)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(source)
  f:close()
  local args = {}
  for _, b in ipairs { ... } do args[#args + 1] = quote(b) end
  local errfile = os.tmpname()
  local cmd = string.format(
    "cd %q && exec env LUA_PATH=%q LUA_CPATH=%q sh -c %s 2>%q",
    root, package.path, package.cpath,
    quote("echo $$; exec lua5.4 " .. quote(script) .. " " .. table.concat(args, " ")), errfile)
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  local eps = {}
  for _ = 1, select("#", ...) do
    local line = p:read("l")
    if not line then break end
    eps[#eps + 1] = line:match("^listening on (.*)$")
  end
  local function cleanup()
    p:close()
    local err = slurp(errfile)
    os.remove(errfile)
    os.remove(script)
    return err
  end
  if not pid or #eps ~= select("#", ...) then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    return nil, "child server did not start: " .. cleanup()
  end
  return {
    pid = pid, endpoints = eps, port = tonumber(eps[1]:match("%[(%d+)%]$")),
    stderr = function() return slurp(errfile) end,   -- what it wrote on stderr so far
    close = function(check)
      os.execute("kill " .. pid)
      local err = cleanup()
      assert(not err:find("AddressSanitizer", 1, true) and not err:find("runtime error:", 1, true), err)
      if check then check(err) end
    end,
  }
end

return M
