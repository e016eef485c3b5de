-- dcerpc.trace: see every PDU a connection or a server sends and receives,
-- decoded, as text (in the spirit of rpcclient -d 10) or as a pcap that
-- Wireshark dissects, sealed calls in clear text included (docs/trace.md).
--
--   local trace = require "dcerpc.trace"
--   trace.set(trace.text(io.stderr))                 -- every connection and server
--   dcerpc.connect(b, iface, { trace = hook })        -- one connection
--   dcerpc.server{ ..., trace = hook }                -- every connection of a server
--   local p = trace.pcap("calls.pcap"); ...; p:close()
--
-- A hook is a function (or callable object) hook(ev); ev is described at
-- make_event below. Hooks run inside the engine's I/O, under pcall: an
-- error is handed to trace.on_error (default: a line on io.stderr) and the
-- call goes on. A hook must not use the connection it watches.
--
-- The engine calls into Lua only for connections that have a hook (their
-- own, or the global one when it is set): with no hook the cost is one
-- pointer test per fragment.

local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"

local M = {}

local global_hook                            -- trace.set
local live = setmetatable({}, { __mode = "k" })   -- core conn / core server -> tracer

---------------------------------------------------------------- names

local AUTH_TYPES = { [0] = "none", [9] = "spnego", [10] = "ntlmssp", [16] = "kerberos",
                     [68] = "netlogon", [255] = "default" }
local AUTH_LEVELS = { [1] = "none", [2] = "connect", [3] = "call", [4] = "packet",
                      [5] = "integrity", [6] = "privacy" }
-- pfc_flags; 0x04 is support_header_sign on binds and their answers
-- ([MS-RPCE] 2.2.2.3), pending_cancel elsewhere
local FLAG_NAMES = { { 0x01, "first" }, { 0x02, "last" }, { 0x04, "pending_cancel" },
                     { 0x08, "reserved_1" }, { 0x10, "conc_mpx" },
                     { 0x20, "did_not_execute" }, { 0x40, "maybe" }, { 0x80, "object_uuid" } }
local BINDS = { bind = true, bind_ack = true, bind_nak = true, alter_context = true,
                alter_context_resp = true }
local PRIVACY = 6

M.auth_types, M.auth_levels = AUTH_TYPES, AUTH_LEVELS

local function flag_list(f, ptype)
  local t = {}
  for _, x in ipairs(FLAG_NAMES) do
    if f & x[1] ~= 0 then
      t[#t + 1] = (x[1] == 0x04 and BINDS[ptype]) and "support_header_sign" or x[2]
    end
  end
  return table.concat(t, ",")
end
M.flag_names = flag_list

-- "127.0.0.1:135" / "[::1]:135" -> host, port
local function split_addr(a)
  if type(a) ~= "string" then return nil end
  local h, p = a:match("^%[(.-)%]:(%d+)$")
  if not h then h, p = a:match("^([^:]+):(%d+)$") end
  return h, tonumber(p)
end

---------------------------------------------------------------- errors

-- trace.on_error(msg, ev): a hook raised. Replace to collect or re-route.
function M.on_error(msg)
  io.stderr:write("dcerpc.trace: hook failed: ", tostring(msg), "\n")
end

local function run_hook(h, ev)
  if h == nil then return end
  local ok, e = pcall(h, ev)
  if not ok then
    local ok2, e2 = pcall(M.on_error, e, ev)
    if not ok2 then io.stderr:write("dcerpc.trace: on_error failed: ", tostring(e2), "\n") end
  end
end

---------------------------------------------------------------- decoding

-- interfaces known to a tracer by uuid: its own, then any description
-- loaded from dcerpc.iface.*
local function iface_by_uuid(tr, uuid)
  uuid = uuid and uuid:lower()
  local i = tr.ifaces[uuid]
  if i then return i end
  for name, mod in pairs(package.loaded) do
    if type(name) == "string" and name:find("^dcerpc%.iface%.") and type(mod) == "table"
       and type(mod.uuid) == "string" and mod.uuid:lower() == uuid then
      tr.ifaces[uuid] = mod
      return mod
    end
  end
  return nil
end

local function decode_args(fn, dir, stub, drep)
  local opts = { drep = drep }
  local args, e = ndr.decode_call(fn, dir, stub, opts)
  if not args and type(e) == "table" and e.name == "ndr_leftover" then
    -- a verification trailer after the NDR data ([MS-RPCE] 2.2.2.13)
    args, e = ndr.decode_call(fn, dir, stub, { drep = drep, partial = true })
  end
  if args then return args end
  return nil, type(e) == "table" and tostring(e.message or e.name) or tostring(e)
end

-- Build the event for one fragment and update the tracer's view of the
-- association (contexts bound, calls in flight, fragments gathered).
--
-- ev = { dir = "send"|"recv", side = "client"|"server", time = seconds,
--        bytes = the fragment as on the wire, clear = the same with the stub
--        unsealed (privacy level) or nil,
--        pdu = { ptype, flags, flag_names, call_id, drep, frag_length,
--                auth_length, context_id, opnum, alloc_hint, status, contexts,
--                results, ..., auth = { type, type_name, level, level_name,
--                pad_length, context_id, value } } (nil when undecodable,
--                then decode_error),
--        stub = this fragment's stub in clear (requests, responses, faults),
--        call_stub = the whole reassembled stub (the last fragment),
--        iface = the interface name, iface_desc, fn = the function
--        description (when known), dir_args = "in"|"out",
--        args = decoded arguments / results (last fragment), args_error,
--        conn = { side, binding, peer, local, id } }
local function make_event(tr, dir, wire, clear, time, ctx_iface)
  local ev = { dir = dir, side = tr.side, bytes = wire, clear = clear, time = time, conn = tr.conn }
  local p, e = core.pdu_decode(clear or wire)
  if not p then ev.decode_error = tostring(e and e.message or e); return ev end
  ev.stub = p.stub
  p.stub = nil
  p.flag_names = flag_list(p.flags, p.ptype)
  local a = p.auth
  if a then
    a.type_name, a.level_name = AUTH_TYPES[a.type], AUTH_LEVELS[a.level]
    -- the sec_trailer flat on the header too, under its C706 names
    p.auth_type, p.auth_level, p.auth_pad_length, p.auth_context_id = a.type, a.level, a.pad_length, a.context_id
  end
  ev.pdu = p
  local pt = p.ptype
  if pt == "bind" or pt == "alter_context" then
    for _, c in ipairs(p.contexts or {}) do
      local i = c.abstract and iface_by_uuid(tr, c.abstract.uuid)
      if i then tr.ctx[c.id] = i end
    end
  elseif pt == "request" or pt == "response" or pt == "fault" then
    local key = p.call_id
    local call = tr.calls[key]
    if pt == "request" then
      -- a context bound before the trace began: the server names it, else
      -- with one interface known it is that one
      local i = tr.ctx[p.context_id] or ctx_iface or tr.only
      if p.flags & 1 ~= 0 or not call then
        call = { iface = i, fn = i and i.functions[p.opnum], parts = {} }
        tr.calls[key] = call
      end
    end
    if call then
      ev.iface, ev.iface_desc, ev.fn = call.iface and call.iface.name, call.iface, call.fn
      if pt ~= "fault" then
        if pt == "response" and p.flags & 1 ~= 0 then call.parts = {} end
        call.parts[#call.parts + 1] = ev.stub
      end
      local last = p.flags & 2 ~= 0
      if pt == "fault" or (pt == "response" and last) then tr.calls[key] = nil end
      if last and pt ~= "fault" then
        ev.call_stub = table.concat(call.parts)
        call.parts = {}
        ev.dir_args = pt == "request" and "in" or "out"
        if call.fn then
          ev.args, ev.args_error = decode_args(call.fn, ev.dir_args, ev.call_stub, p.drep_bytes)
        end
      end
    end
  end
  return ev
end

local function dispatch(tr, dir, wire, clear, time, ctx_iface)
  local own, g = tr.hook, global_hook
  if own == nil and g == nil then return end
  local ok, ev = pcall(make_event, tr, dir, wire, clear, time, ctx_iface)
  if not ok then
    ev = { dir = dir, side = tr.side, bytes = wire, clear = clear, time = time, conn = tr.conn,
           decode_error = tostring(ev) }
  end
  run_hook(own, ev)
  if g ~= nil and g ~= own then run_hook(g, ev) end
end

-- ifaces: the interfaces the connection may bind; contexts: what is known
-- bound already (context id -> interface). A context bound before the
-- trace began is not seen: with one interface known it is that one.
local function new_tracer(side, conn, hook, ifaces, contexts)
  local by_uuid = {}
  ifaces = ifaces or {}
  for _, i in ipairs(ifaces) do by_uuid[i.uuid:lower()] = i end
  local ctx = {}
  for k, v in pairs(contexts or {}) do ctx[k] = v end
  return { side = side, conn = conn, hook = hook, ifaces = by_uuid, ctx = ctx, calls = {},
           only = #ifaces == 1 and ifaces[1] or nil }
end

---------------------------------------------------------------- attaching

-- The core object traces when someone listens: its own hook or the global.
local function sync(obj, t)
  local on = t.hook ~= nil or global_hook ~= nil
  if on == t.on then return end
  if on and t.tr and not t.tr.conn.peer then
    local info = obj:info()     -- the addresses, read once, outside the engine's I/O
    local c = t.tr.conn
    c.peer, c["local"], c.transport = info.peer, info["local"], info.transport
  end
  obj:set_trace(on and t.fn or nil)
  t.on = on
end

-- trace.attach(conn, { binding =, iface = | ifaces = {...}, contexts = {[id] = iface}, hook = })
-- A client connection of dcerpc.core (dcerpc.connect does this).
function M.attach(conn, o)
  o = o or {}
  local c = { side = "client", binding = o.binding }
  local tr = new_tracer("client", c, o.hook, o.ifaces or { o.iface }, o.contexts)
  local t = { hook = o.hook, tr = tr }
  t.fn = function(dir, wire, clear, time) dispatch(tr, dir, wire, clear, time) end
  live[conn] = t
  sync(conn, t)
  return t
end

-- trace.attach_server(core_srv, { hook =, ifaces = function() -> list end,
--   iface_of = function(key) -> iface, binding = function(local) -> string })
-- A server of dcerpc.core (dcerpc.server does this). One tracer per
-- connection; forget(id) drops one when its connection has closed.
function M.attach_server(srv, o)
  o = o or {}
  local t = { hook = o.hook, conns = {} }
  t.fn = function(dir, wire, clear, time, id, peer, loc, key)
    local tr = t.conns[id]
    if not tr then
      if o.on_first then o.on_first(); o.on_first = nil end
      tr = new_tracer("server", { side = "server", id = id, peer = peer, ["local"] = loc,
                                  binding = o.binding and o.binding(loc) or nil },
                      nil, o.ifaces and o.ifaces() or nil)
      t.conns[id] = tr
    end
    tr.hook = t.hook
    dispatch(tr, dir, wire, clear, time, key and o.iface_of and o.iface_of(key) or nil)
  end
  function t.forget(id) t.conns[id] = nil end
  live[srv] = t
  sync(srv, t)
  return t
end

-- Change the hook of an attached connection or server (nil: none).
function M.set_hook(obj, hook)
  local t = live[obj]
  if not t then return end
  t.hook = hook
  if t.tr then t.tr.hook = hook end
  sync(obj, t)
end

-- trace.set(hook | nil): the global hook, for every connection and server,
-- those open now included. Returns the previous one.
function M.set(hook)
  local old = global_hook
  global_hook = hook
  for obj, t in pairs(live) do
    local ok, e = pcall(sync, obj, t)   -- a closed one raises: forget it
    if not ok then
      -- else it is busy (trace.set from inside a hook): it keeps calling
      -- into Lua, dispatch finds no hook, the next trace.set retries
      if tostring(e):find("closed", 1, true) then live[obj] = nil end
    end
  end
  return old
end

function M.get() return global_hook end

-- The attachment of a core connection or server (internal).
function M.tracer_of(obj) return live[obj] end

---------------------------------------------------------------- text

local function hexdump(b, indent)
  local out = {}
  for off = 1, #b, 16 do
    local chunk = b:sub(off, off + 15)
    local hex = chunk:gsub(".", function(c) return string.format("%02x ", c:byte()) end)
    local asc = chunk:gsub("[^\32-\126]", ".")
    out[#out + 1] = string.format("%s%04x  %-48s %s", indent, off - 1, hex, asc)
  end
  return out
end
M.hexdump = hexdump

local function is_text(s)
  return #s > 0 and not s:find("[^\32-\126\t\r\n\128-\255]") and utf8.len(s) ~= nil
end

-- Values as an indented tree (Samba's ndr_print style): name: value, with
-- structures and arrays opened beneath their name.
local function tree(lines, name, v, indent, seen, depth)
  local pad = string.rep("    ", indent)
  local t = type(v)
  if t == "table" then
    if seen[v] or depth > 32 then lines[#lines + 1] = pad .. name .. ": ..."; return end
    seen[v] = true
    local n = #v
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    if n > 0 then
      lines[#lines + 1] = string.format("%s%s: array of %d", pad, name, n)
      for i = 1, n do tree(lines, "[" .. (i - 1) .. "]", v[i], indent + 1, seen, depth + 1) end
    elseif #keys == 0 then
      lines[#lines + 1] = pad .. name .. ": {}"
    else
      lines[#lines + 1] = pad .. name .. ":"
    end
    for _, k in ipairs(keys) do tree(lines, tostring(k), v[k], indent + 1, seen, depth + 1) end
    seen[v] = nil
  elseif t == "string" then
    if is_text(v) then
      lines[#lines + 1] = string.format("%s%s: %q", pad, name, v)
    elseif #v <= 32 then
      lines[#lines + 1] = string.format("%s%s: <%d bytes> %s", pad, name, #v,
                                        (v:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
    else
      lines[#lines + 1] = string.format("%s%s: <%d bytes>", pad, name, #v)
      for _, l in ipairs(hexdump(v, pad .. "    ")) do lines[#lines + 1] = l end
    end
  elseif math.type(v) == "integer" then
    lines[#lines + 1] = string.format("%s%s: %d (0x%x)", pad, name, v, v)
  else
    lines[#lines + 1] = string.format("%s%s: %s", pad, name, tostring(v))
  end
end

-- What an auth token says, for the text dump: the NTLMSSP message (bare or
-- inside SPNEGO's DER) and, for AUTHENTICATE, who. Nothing secret.
local NTLM_MSG = { "NTLMSSP_NEGOTIATE", "NTLMSSP_CHALLENGE", "NTLMSSP_AUTH" }
local function utf16(s)
  local t = {}
  for i = 1, #s - 1, 2 do t[#t + 1] = utf8.char((string.unpack("<I2", s, i))) end
  return table.concat(t)
end
local function token_summary(v)
  local at = v and v:find("NTLMSSP\0", 1, true)
  if not at or #v < at + 11 then return nil end
  local kind = string.unpack("<I4", v, at + 8)
  local name = NTLM_MSG[kind]
  if not name then return nil end
  if kind == 3 and #v >= at + 63 then
    local function field(off)
      local len, _, o = string.unpack("<I2I2I4", v, at + off)
      local s = v:sub(at + o, at + o + len - 1)
      local flags = string.unpack("<I4", v, at + 60)
      return flags & 1 ~= 0 and utf16(s) or s
    end
    local ok, dom, user, ws = pcall(function() return field(28), field(36), field(44) end)
    if ok then return string.format("%s %s\\%s%s", name, dom, user, ws ~= "" and " from " .. ws or "") end
  end
  return name
end
M.token_summary = token_summary

-- The decoded arguments in the function's parameter order, then result.
local function args_lines(lines, ev, indent)
  local fn, args = ev.fn, ev.args
  local seen, done = {}, {}
  for _, p in ipairs(fn.params or {}) do
    if args[p.name] ~= nil then
      tree(lines, p.name, args[p.name], indent, seen, 0)
      done[p.name] = true
    end
  end
  local rest = {}
  for k in pairs(args) do if not done[k] then rest[#rest + 1] = k end end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do tree(lines, tostring(k), args[k], indent, seen, 0) end
end

-- The lines trace.text writes for one event.
function M.format(ev, o)
  o = o or {}
  local lines = {}
  local c = ev.conn or {}
  local from, to = c["local"] or "?", c.peer or "?"
  if ev.dir == "recv" then from, to = to, from end
  local p = ev.pdu
  local secs = ev.time or 0
  local stamp = os.date("!%H:%M:%S", math.floor(secs)) .. string.format(".%06d", math.floor((secs % 1) * 1e6))
  lines[1] = string.format("[%s] %s %s %s -> %s%s%s", stamp, ev.side or "?", ev.dir, from, to,
                           c.binding and "  " .. c.binding or "", p and "  " .. p.ptype or "")
  if not p then
    lines[#lines + 1] = "    undecodable PDU: " .. tostring(ev.decode_error)
  else
    local h = string.format("    call_id %d  frag_length %d  auth_length %d  flags 0x%02x (%s)  drep %s",
                            p.call_id, p.frag_length, p.auth_length, p.flags, p.flag_names, p.drep)
    lines[#lines + 1] = h
    if p.alloc_hint then
      lines[#lines + 1] = string.format("    context_id %d%s  alloc_hint %d%s", p.context_id,
        p.opnum and "  opnum " .. p.opnum or "", p.alloc_hint,
        p.status and string.format("  status 0x%08x%s", p.status, p.status_name and " " .. p.status_name or "") or "")
    end
    if p.max_xmit and p.ptype ~= "auth3" then
      lines[#lines + 1] = string.format("    max_xmit %d  max_recv %d%s", p.max_xmit, p.max_recv,
        p.assoc_group and "  assoc_group 0x" .. string.format("%08x", p.assoc_group) or "")
    end
    for _, x in ipairs(p.contexts or {}) do
      local i = x.abstract and iface_by_uuid({ ifaces = {} }, x.abstract.uuid)
      local ts = {}
      for _, s in ipairs(x.transfer or {}) do ts[#ts + 1] = s.uuid .. " v" .. s.major .. "." .. (s.minor or 0) end
      lines[#lines + 1] = string.format("    context %d: %s v%d.%d%s  transfer %s", x.id, x.abstract.uuid,
        x.abstract.major, x.abstract.minor or 0, i and " (" .. i.name .. ")" or "", table.concat(ts, ", "))
    end
    for k, r in ipairs(p.results or {}) do
      lines[#lines + 1] = string.format("    result %d: %s reason %s", k - 1, tostring(r.result), tostring(r.reason))
    end
    if p.secondary_address then lines[#lines + 1] = "    secondary_address " .. p.secondary_address end
    if p.reject_reason then
      lines[#lines + 1] = string.format("    reject_reason %d (%s)", p.reject_reason, tostring(p.reject_reason_name))
    end
    local a = p.auth
    if a then
      lines[#lines + 1] = string.format("    auth: type %d (%s)  level %d (%s)  pad %d  context_id %d  verifier %d bytes%s",
        a.type, a.type_name or "?", a.level, a.level_name or "?", a.pad_length, a.context_id, #a.value,
        ev.clear and "  (stub unsealed)" or "")
      local tok = not ev.stub and token_summary(a.value)
      if tok then lines[#lines + 1] = "    token: " .. tok end
    end
    if ev.fn then
      local fname = (ev.iface and ev.iface .. "." or "") .. ev.fn.name
      if ev.args then
        lines[#lines + 1] = string.format("    %s (%s)", fname, ev.dir_args)
        args_lines(lines, ev, 2)
      elseif ev.args_error then
        lines[#lines + 1] = string.format("    %s (%s): cannot decode: %s", fname, ev.dir_args, ev.args_error)
      elseif ev.pdu.ptype ~= "fault" then
        lines[#lines + 1] = string.format("    %s: fragment (%d bytes of stub)", fname, #(ev.stub or ""))
      end
    end
    if o.hex and ev.stub and #ev.stub > 0 then
      lines[#lines + 1] = string.format("    stub (%d bytes%s):", #ev.stub, ev.clear and ", clear text" or "")
      for _, l in ipairs(hexdump(ev.stub, "      ")) do lines[#lines + 1] = l end
    end
  end
  if o.hex then
    lines[#lines + 1] = string.format("    PDU (%d bytes as sent):", #ev.bytes)
    for _, l in ipairs(hexdump(ev.bytes, "      ")) do lines[#lines + 1] = l end
  end
  return lines
end

-- trace.text(out [, { hex = true }]) -> hook: a readable dump of each PDU,
-- to a file handle (io.stderr, a file) or a function(line).
function M.text(out, o)
  out = out or io.stderr
  local write
  if type(out) == "function" then
    write = out
  else
    write = function(l) out:write(l, "\n") end
  end
  return function(ev)
    for _, l in ipairs(M.format(ev, o)) do write(l) end
    if type(out) ~= "function" and out.flush then out:flush() end
  end
end

---------------------------------------------------------------- pcap

-- What is written for a sealed fragment: the PDU in clear text with its
-- auth trailer as on the wire except for the level, written as
-- "integrity" (5): Wireshark then dissects the stub instead of calling it
-- encrypted, and reads the verifier as an NTLMSSP or SPNEGO one.
local function pcap_pdu(ev)
  local clear = ev.clear
  if not clear then return ev.bytes end
  local p = ev.pdu
  if not (p and p.auth and p.auth.level == PRIVACY) then return clear end
  local at = #clear - p.auth_length - 8 + 2     -- sec_trailer: type, level, ...
  return clear:sub(1, at - 1) .. string.char(5) .. clear:sub(at + 1)
end
M.pcap_pdu = pcap_pdu

local function ip4(s)
  local a, b, c, d = (s or ""):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end

local function csum(s)
  local sum = 0
  local n = #s
  for i = 1, n - 1, 2 do sum = sum + (s:byte(i) << 8) + s:byte(i + 1) end
  if n % 2 == 1 then sum = sum + (s:byte(n) << 8) end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return (~sum) & 0xffff
end

local TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10
local MAX_SEG = 65000          -- an IPv4 packet holds at most 65535 bytes

local Pcap = {}
Pcap.__index = Pcap

function Pcap:_packet(time, src, sport, dst, dport, seq, ack, flags, payload)
  self.ip_id = (self.ip_id + 1) & 0xffff
  local tcp = string.pack(">I2I2I4I4BBI2I2I2", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                          5 << 4, flags, 65535, 0, 0)
  local pseudo = src .. dst .. string.pack(">BBI2", 0, 6, #tcp + #payload)
  local tsum = csum(pseudo .. tcp .. payload)
  tcp = tcp:sub(1, 16) .. string.pack(">I2", tsum) .. tcp:sub(19)
  local ip = string.pack(">BBI2I2I2BBI2", 0x45, 0, 20 + #tcp + #payload, self.ip_id, 0x4000, 64, 6, 0) .. src .. dst
  ip = ip:sub(1, 10) .. string.pack(">I2", csum(ip)) .. ip:sub(13)
  local pkt = ip .. tcp .. payload
  local sec = math.floor(time)
  local usec = math.floor((time - sec) * 1e6)
  self.f:write(string.pack("<I4I4I4I4", sec, usec, #pkt, #pkt), pkt)
end

-- The stream of one traced connection: its two ends, opened with a
-- handshake the first time it is seen. Addresses that are no IPv4 ones
-- (IPv6, ncalrpc) become 127.0.0.1 / 127.0.0.2; an ncacn_np pipe is written
-- as a TCP connection to port 135 of its host (its PDUs travel in SMB2
-- READ/WRITE/IOCTL, which the pcap does not reproduce).
function Pcap:_stream(ev)
  local c = ev.conn or {}
  local s = self.streams[c]
  if s then return s end
  local lh, lp = split_addr(c["local"])
  local ph, pp = split_addr(c.peer)
  local ch, cp, sh, sp
  if ev.side == "server" then ch, cp, sh, sp = ph, pp, lh, lp else ch, cp, sh, sp = lh, lp, ph, pp end
  local np = c.transport == "ncacn_np"
  ch, sh = ip4(ch) or "\127\0\0\1", ip4(sh) or "\127\0\0\2"
  if np then sp = 135 end
  sp = sp or 135
  self.next_port = self.next_port + 1
  cp = (not np and cp) or self.next_port
  while self.tuples[ch .. sh .. cp .. ":" .. sp] do cp = cp % 65535 + 1 end
  self.tuples[ch .. sh .. cp .. ":" .. sp] = true
  s = { cip = ch, cport = cp, sip = sh, sport = sp, cseq = 0x10000000 + self.next_port * 7919,
        sseq = 0x20000000 + self.next_port * 104729 }
  self.streams[c] = s
  local t = ev.time or os.time()
  self:_packet(t, s.cip, s.cport, s.sip, s.sport, s.cseq, 0, TCP_SYN, "")
  self:_packet(t, s.sip, s.sport, s.cip, s.cport, s.sseq, s.cseq + 1, TCP_SYN | TCP_ACK, "")
  s.cseq, s.sseq = s.cseq + 1, s.sseq + 1
  self:_packet(t, s.cip, s.cport, s.sip, s.sport, s.cseq, s.sseq, TCP_ACK, "")
  self.order[#self.order + 1] = s
  s.time = t
  return s
end

function Pcap:write(ev)
  if not self.f then return end
  local s = self:_stream(ev)
  local data = pcap_pdu(ev)
  local from_client = (ev.side == "client") == (ev.dir == "send")
  local t = ev.time or os.time()
  s.time = t
  for off = 1, #data, MAX_SEG do
    local seg = data:sub(off, off + MAX_SEG - 1)
    if from_client then
      self:_packet(t, s.cip, s.cport, s.sip, s.sport, s.cseq, s.sseq, TCP_PSH | TCP_ACK, seg)
      s.cseq = s.cseq + #seg
    else
      self:_packet(t, s.sip, s.sport, s.cip, s.cport, s.sseq, s.cseq, TCP_PSH | TCP_ACK, seg)
      s.sseq = s.sseq + #seg
    end
  end
  if self.flush then self.f:flush() end
end

Pcap.__call = Pcap.write

-- p:close(): each stream ends with FIN, ACK both ways; the file is closed.
function Pcap:close()
  if not self.f then return end
  for _, s in ipairs(self.order) do
    local t = s.time
    self:_packet(t, s.cip, s.cport, s.sip, s.sport, s.cseq, s.sseq, TCP_FIN | TCP_ACK, "")
    self:_packet(t, s.sip, s.sport, s.cip, s.cport, s.sseq, s.cseq + 1, TCP_FIN | TCP_ACK, "")
    self:_packet(t, s.cip, s.cport, s.sip, s.sport, s.cseq + 1, s.sseq + 1, TCP_ACK, "")
  end
  self.f:close()
  self.f = nil
end
Pcap.__close = Pcap.close
Pcap.__gc = Pcap.close

-- trace.pcap(path | file [, { flush = true }]) -> hook object (callable)
-- with :close(): a classic pcap (LINKTYPE_RAW, IPv4) with synthetic TCP
-- framing, one stream per connection, each PDU in its own segment.
function M.pcap(path, o)
  local f, e = path, nil
  if type(path) == "string" then
    f, e = io.open(path, "wb")
    if not f then return nil, e end
  end
  -- magic, version 2.4, GMT offset, accuracy, snaplen, LINKTYPE_RAW (101)
  f:write(string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 101))
  return setmetatable({ f = f, streams = setmetatable({}, { __mode = "k" }), order = {}, tuples = {},
                        ip_id = 0, next_port = 49999, flush = o and o.flush }, Pcap)
end

-- trace.tee(h1, h2, ...) -> hook: every event to each hook in turn.
function M.tee(...)
  local hs = table.pack(...)
  return function(ev)
    for i = 1, hs.n do if hs[i] ~= nil then hs[i](ev) end end
  end
end

return M
