-- spec/helpers/smbfake.lua: a scripted SMB 2 server for the hostile-server
-- specs of the ncacn_np client (spec/smb_hostile_spec.lua). It speaks just
-- enough SMB 2.1 (or 3.x) to get a client through NEGOTIATE, SESSION_SETUP
-- (raw NTLMSSP: a fixed CHALLENGE, any AUTHENTICATE accepted), TREE_CONNECT
-- IPC$ and CREATE, then serves the pipe (WRITE / READ, with a tiny rpcecho
-- behind it: bind -> bind_ack, AddOne -> in_data + 1) unless the scenario
-- makes it misbehave.
--
-- It runs in a child process (the client under test blocks in poll in the
-- spec's process):
--
--   local child = R.start_child(SMB.CHILD, "SCENARIO[:CONNECTIONS]")
--
-- The child prints "listening on ncacn_np:127.0.0.1[PORT]", then serves
-- CONNECTIONS (default 1) connections one after the other, each scripted by
-- M.scenarios[SCENARIO] (a table of overrides of the steps below).
local core = require "dcerpc.core"

local M = {}

-- the child's source for helpers.rawpdu's start_child
M.CHILD = [[
local S = require "helpers.smbfake"
S.main(...)
]]

M.NEGOTIATE, M.SESSION_SETUP, M.LOGOFF, M.TREE_CONNECT = 0, 1, 2, 3
M.CREATE, M.CLOSE, M.READ, M.WRITE, M.IOCTL, M.CANCEL = 5, 6, 8, 9, 11, 12
local S2R, ASYNC = 0x1, 0x2
M.S2R, M.ASYNC = S2R, ASYNC
M.STATUS_PENDING = 0x00000103
M.STATUS_BUFFER_OVERFLOW = 0x80000005
M.STATUS_MORE_PROCESSING = 0xC0000016

local SESSION_ID = 0x0000100000000041
local TREE_ID = 7
local FID = "\x11\x11\x11\x11\x11\x11\x11\x11\x22\x22\x22\x22\x22\x22\x22\x22"

---------------------------------------------------------------- encoding

-- A response header: t.cmd, t.mid, t.status, t.credits (default 32), t.flags
-- (default SERVER_TO_REDIR), t.next, t.tree, t.sid, t.async; t.proto and
-- t.size to lie about the protocol id and the StructureSize.
function M.hdr(t)
  local flags = t.flags or S2R
  local h = string.pack("<c4I2I2I4I2I2I4I4I8", t.proto or "\xFESMB", t.size or 64, t.charge or 1,
                        t.status or 0, t.cmd, t.credits or 32, flags, t.next or 0, t.mid)
  if flags & ASYNC ~= 0 then h = h .. string.pack("<I8", t.async or 0x77)
  else h = h .. string.pack("<I4I4", 0xFEFF, t.tree or 0) end
  return h .. string.pack("<I8", t.sid or 0) .. string.rep("\0", 16)
end

-- The 4-byte direct-TCP frame header and the payload.
function M.frame(payload)
  return string.pack(">I4", #payload) .. payload
end

function M.negotiate_body(o)
  o = o or {}
  local buf = o.buffer or ""
  return string.pack("<I2I2I2I2c16I4I4I4I4I8I8I2I2I4", 65, o.secmode or 1, o.dialect or 0x0210,
                     o.ctx_count or 0, "fake-smb-server!", o.caps or 0x4, 65536, o.max_read or 65536,
                     o.max_write or 65536, 0, 0, o.sb_off or 128, o.sb_len or #buf, o.ctx_off or 0) .. buf
end

function M.session_body(tok, flags, off, len)
  tok = tok or ""
  return string.pack("<I2I2I2I2", 9, flags or 0, off or (64 + 8), len or #tok) .. tok
end

-- NTLMSSP CHALLENGE: UNICODE, SIGN, NTLM, ALWAYS_SIGN, ESS, TARGET_INFO, 128,
-- KEY_EXCH; target info holds only MsvAvEOL.
function M.ntlm_challenge()
  local flags = 0x1 | 0x10 | 0x200 | 0x8000 | 0x80000 | 0x800000 | 0x20000000 | 0x40000000
  local tinfo = string.pack("<I2I2", 0, 0)
  return "NTLMSSP\0" .. string.pack("<I4I2I2I4I4c8c8I2I2I4", 2, 0, 0, 48, flags, "\1\2\3\4\5\6\7\8",
                                    string.rep("\0", 8), #tinfo, #tinfo, 48) .. tinfo
end

function M.tree_body(share_type)
  return string.pack("<I2BBI4I4I4", 16, share_type or 2, 0, 0, 0, 0x001F01FF)
end

function M.create_body(fid)
  return string.pack("<I2BBI4", 89, 0, 0, 1) .. string.rep("\0", 32) ..
         string.pack("<I8I8I4I4", 4096, 0, 0x80, 0) .. (fid or FID) .. string.pack("<I4I4", 0, 0)
end

function M.write_body(n) return string.pack("<I2I2I4I4I2I2", 17, 0, n, 0, 0, 0) end

function M.read_body(data, off, len)
  return string.pack("<I2BBI4I4I4", 17, off or 80, 0, len or #data, 0, 0) .. data
end

function M.error_body() return string.pack("<I2BBI4B", 9, 0, 0, 0, 0) end

---------------------------------------------------------------- a connection

local Conn = {}
Conn.__index = Conn

-- exactly n bytes, or nil when the client closed (or said nothing for `secs`)
function Conn:read_exact(n, secs)
  while #self.buf < n do
    local got = self.sock:recv(65536, secs or 10)
    if not got then self.closed = true; return nil end
    self.buf = self.buf .. got
  end
  local r = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  return r
end

-- the next request: { cmd, mid, credits, charge, sid, tree, body, raw } | nil
function Conn:request(secs)
  local raw
  if self.chain then                   -- the next request of a compound chain
    raw, self.chain = self.chain, nil
  else
    local lh = self:read_exact(4, secs)
    if not lh then return nil end
    raw = self:read_exact(string.unpack(">I4", lh) & 0xFFFFFF, secs)
  end
  if not raw or #raw < 64 or raw:sub(1, 4) ~= "\xFESMB" then return nil end
  local next_command = string.unpack("<I4", raw, 21)
  if next_command >= 64 and next_command < #raw then
    self.chain = raw:sub(next_command + 1)       -- answered one by one, in their own frames
    raw = raw:sub(1, next_command)
  end
  local charge, cmd, credits, flags, mid = string.unpack("<I2xxxxI2I2I4xxxxI8", raw, 7)
  local r = { cmd = cmd, mid = mid, credits = credits, charge = charge, flags = flags, raw = raw,
              sid = string.unpack("<I8", raw, 41), tree = string.unpack("<I4", raw, 37),
              body = raw:sub(65) }
  if flags & 4 ~= 0 and r.tree == 0xFFFFFFFF then r.tree = self.last_tree or r.tree end   -- related
  self.last_tree = r.tree
  self.log[#self.log + 1] = cmd
  return r
end

function Conn:send(bytes)
  if self.closed then return end
  if not self.sock:send(bytes) then self.closed = true end
end

-- answer request req with body; t overrides header fields
function Conn:reply(req, body, t)
  t = t or {}
  local h = { cmd = req.cmd, mid = req.mid, sid = self.sid, tree = req.tree,
              credits = self.sc.credits and self.sc.credits(self, req) or 32 }
  for k, v in pairs(t) do h[k] = v end
  self:send(M.frame(M.hdr(h) .. body))
end

-- a line on stderr the spec may look for: "SAW what"
function Conn:note(what)
  io.stderr:write("SAW " .. what .. "\n")
  io.stderr:flush()
end

-- read and ignore until the client closes (or `secs` of silence)
function Conn:drain(secs)
  while not self.closed do
    local got = self.sock:recv(65536, secs or 10)
    if not got then self.closed = true end
  end
end

---------------------------------------------------------------- the steps

local default = {}
M.default = default

function default.negotiate(c, req)
  c:reply(req, M.negotiate_body())
end

function default.session_setup(c, req)
  local sb = req.body
  local off, len = string.unpack("<I2I2", sb, 13)
  local tok = req.raw:sub(off + 1, off + len)
  c.sid = SESSION_ID
  if tok:sub(1, 8) == "NTLMSSP\0" and string.unpack("<I4", tok, 9) == 1 then
    c:reply(req, M.session_body(M.ntlm_challenge()), { status = M.STATUS_MORE_PROCESSING })
  else
    c:reply(req, M.session_body())
  end
end

function default.tree_connect(c, req)
  c:reply(req, M.tree_body(), { tree = TREE_ID })
end

function default.create(c, req)
  c:reply(req, M.create_body())
end

-- What the pipe answers to one DCE/RPC PDU the client wrote: bytes to queue.
function default.rpc(c, pdu)
  if pdu.ptype == "bind" or pdu.ptype == "alter_context" then
    local results = {}
    for i, ctx in ipairs(pdu.contexts) do
      local t = ctx.transfer[1]
      if t.uuid == "8a885d04-1ceb-11c9-9fe8-08002b104860" then
        results[i] = { result = 0, reason = 0, transfer = t }
      else
        results[i] = { result = 2, reason = 2 }
      end
    end
    return core.pdu_encode { ptype = pdu.ptype == "bind" and "bind_ack" or "alter_context_resp",
                             call_id = pdu.call_id, max_xmit = 4280, max_recv = 4280,
                             assoc_group = 0x5151, secondary_address = "\\PIPE\\rpcecho", results = results }
  elseif pdu.ptype == "request" then
    c.calls = (c.calls or 0) + 1
    c.call_id = pdu.call_id
    local v = #(pdu.stub or "") >= 4 and string.unpack("<I4", pdu.stub) or 0
    local stub = string.pack("<I4", (v + 1) & 0xffffffff)
    return core.pdu_encode { ptype = "response", call_id = pdu.call_id, context_id = pdu.context_id,
                             alloc_hint = #stub, stub = stub }
  end
  return nil
end

function default.write(c, req)
  local off, len = string.unpack("<I2I4", req.body, 3)
  local data = req.raw:sub(off + 1, off + len)
  c:reply(req, M.write_body(len))
  c.inq = c.inq .. data
  while #c.inq >= 16 do
    local flen = string.unpack("<I2", c.inq, 9)
    if #c.inq < flen then break end
    local pdu = core.pdu_decode(c.inq:sub(1, flen))
    c.inq = c.inq:sub(flen + 1)
    local out = pdu and c.sc.rpc(c, pdu)
    if out then c.outq = c.outq .. out end
  end
end

-- a READ: answered now when there is data, else held until there is
function default.read(c, req)
  c.pending_read = req
end

-- give queued data to the held READ
function default.deliver(c)
  local req = c.pending_read
  if not req or #c.outq == 0 then return end
  c.pending_read = nil
  local want = string.unpack("<I4", req.body, 5)
  local data = c.outq:sub(1, want)
  c.outq = c.outq:sub(#data + 1)
  c:reply(req, M.read_body(data), { status = #c.outq > 0 and M.STATUS_BUFFER_OVERFLOW or 0,
                                    flags = req.async and (S2R | ASYNC) or S2R, async = req.async })
end

-- after each request: a held READ gets what there is; once a call was
-- written, a scenario's answer(c, req) takes over the READs
function default.flush(c)
  local req = c.pending_read
  if req and (c.calls or 0) >= 1 and c.sc.answer then
    c.pending_read = nil
    return c.sc.answer(c, req)
  end
  return c.sc.deliver(c)
end

function default.close(c, req) c:reply(req, string.pack("<I2I2I4", 60, 0, 0) .. string.rep("\0", 52)) end
function default.logoff(c, req) c:reply(req, string.pack("<I2I2", 4, 0)) end
function default.other(c, req) c:reply(req, M.error_body(), { status = 0xC00000BB }) end

local STEP = {
  [M.NEGOTIATE] = "negotiate", [M.SESSION_SETUP] = "session_setup", [M.TREE_CONNECT] = "tree_connect",
  [M.CREATE] = "create", [M.WRITE] = "write", [M.READ] = "read", [M.CLOSE] = "close",
  [M.LOGOFF] = "logoff",
}

-- Serve one connection with scenario sc until the client closes (or a step
-- returns "stop", after which the rest is read and ignored, or "hangup").
function M.serve(sock, sc)
  local c = setmetatable({ sock = sock, buf = "", sc = sc, sid = 0, inq = "", outq = "", log = {} }, Conn)
  if sc.start and sc.start(c) == "hangup" then return c end
  while not c.closed do
    local req = c:request(sc.idle or 10)
    if not req then break end
    local r = sc[STEP[req.cmd] or "other"](c, req)
    if r == nil then r = sc.flush(c) end
    if r == "hangup" then break end
    if r == "stop" then c:drain(); break end
  end
  if c.overflows then c:note("overflows " .. c.overflows) end
  return c
end

---------------------------------------------------------------- scenarios

local function scenario(over)
  return setmetatable(over, { __index = default })
end
M.scenario = scenario

-- a reply to req made of hdr fields t and body, sent raw
local function raw_reply(c, req, t, body)
  t.cmd = t.cmd or req.cmd
  t.mid = t.mid or req.mid
  c:send(M.frame(M.hdr(t) .. (body or "")))
  return "stop"
end

local S = {}
M.scenarios = S

S.ok = scenario {}

-- credits: none granted at all / the handshake gets exactly what it needs,
-- then the CREATE response grants nothing
S.no_credits = scenario { credits = function() return 0 end }
S.credits_run_out = scenario {
  credits = function(c, req) return req.cmd == M.CREATE and 0 or 1 end,
}

-- the READ of the first call gets an interim STATUS_PENDING and never an
-- answer (that call's response is lost); later calls are answered through
-- that same READ, as a server completes a pipe's outstanding read with the
-- next message
S.pending_forever = scenario {
  answer = function(c, req)
    c.pending_read = req
    if c.calls == 1 then
      if not req.async then
        req.async = 0x4242
        c:reply(req, M.error_body(), { status = M.STATUS_PENDING, flags = S2R | ASYNC, async = req.async, credits = 1 })
        c:note("interim")
      end
      c.outq = ""
      return
    end
    if req.async then c:note("held READ completed") end
    return default.deliver(c)
  end,
}

-- as pending_forever, but the first call's response comes late: with the
-- second call's, through the held READ
S.pending_late = scenario {
  answer = function(c, req)
    c.pending_read = req
    if c.calls == 1 then
      if not req.async then
        req.async = 0x4343
        c:reply(req, M.error_body(), { status = M.STATUS_PENDING, flags = S2R | ASYNC, async = req.async, credits = 1 })
        c:note("interim")
      end
      return
    end
    if req.async then c:note("late response") end
    return default.deliver(c)
  end,
}

-- half a READ response frame, then the connection closes
S.drop_mid_read = scenario {
  answer = function(c, req)
    local f = M.frame(M.hdr { cmd = req.cmd, mid = req.mid, sid = c.sid, tree = req.tree } ..
                      M.read_body(string.rep("x", 200)))
    c:send(f:sub(1, #f // 2))
    return "hangup"
  end,
}

-- malformed headers, in the NEGOTIATE response
S.bad_protocol = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { proto = "\xFEXYZ" }, M.negotiate_body()) end }
S.smb1 = scenario {
  negotiate = function(c, req)
    -- an SMB1 NEGOTIATE response header (32 bytes) and a short body
    c:send(M.frame("\xFFSMB\x72" .. string.rep("\0", 27) .. "\x11\0\0\0\0"))
    return "stop"
  end }
S.smb1_long = scenario {
  negotiate = function(c, req)
    -- an SMB1 NEGOTIATE response as a server that picked NT LM 0.12 sends it:
    -- header, WordCount 17 and its words, ByteCount 16 and a GUID (85 bytes)
    c:send(M.frame("\xFFSMB\x72" .. string.rep("\0", 27) .. "\x11" .. string.rep("\0", 34) ..
                   "\x10\0" .. string.rep("g", 16)))
    return "stop"
  end }
S.bad_structure_size = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { size = 72 }, M.negotiate_body()) end }
S.next_unaligned = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { next = 68 }, M.negotiate_body() .. string.rep("\0", 64)) end }
S.next_past_end = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { next = 4096 }, M.negotiate_body()) end }
S.next_short = scenario {       -- NextCommand 8 (aligned, within the frame, shorter than a header)
  negotiate = function(c, req) return raw_reply(c, req, { next = 8 }, M.negotiate_body()) end }
S.no_response_flag = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { flags = 0 }, M.negotiate_body()) end }
S.unknown_mid = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { mid = 9 }, M.negotiate_body()) end }
S.wrong_command = scenario {
  negotiate = function(c, req) return raw_reply(c, req, { cmd = M.SESSION_SETUP }, M.session_body()) end }
-- a READ answered with a bad header once the pipe is open
S.read_bad_header = scenario {
  answer = function(c, req) return raw_reply(c, req, { size = 65, sid = c.sid }, M.read_body("zz")) end }
-- compound: the first link fine (a WRITE response is answered elsewhere),
-- NextCommand pointing exactly at the end of the frame
S.next_at_end = scenario {
  negotiate = function(c, req)
    local body = M.negotiate_body()
    body = body .. string.rep("\0", (-#body) % 8)
    c:reply(req, body, { next = 64 + #body })
  end }

-- lengths and offsets beyond the message
S.read_data_past_end = scenario {
  answer = function(c, req) return raw_reply(c, req, { sid = c.sid, tree = req.tree }, M.read_body("abcd", 80, 4000)) end }
S.read_offset_past_end = scenario {
  answer = function(c, req) return raw_reply(c, req, { sid = c.sid, tree = req.tree }, M.read_body("abcd", 250, 4)) end }
S.read_offset_in_header = scenario {
  answer = function(c, req) return raw_reply(c, req, { sid = c.sid, tree = req.tree }, M.read_body("abcd", 16, 4)) end }
S.session_buffer_past_end = scenario {
  session_setup = function(c, req)
    return raw_reply(c, req, { status = M.STATUS_MORE_PROCESSING, sid = SESSION_ID },
                     M.session_body(M.ntlm_challenge(), 0, 72, 2000))
  end }
S.session_buffer_offset_past_end = scenario {
  session_setup = function(c, req)
    return raw_reply(c, req, { status = M.STATUS_MORE_PROCESSING, sid = SESSION_ID },
                     M.session_body(M.ntlm_challenge(), 0, 60000, 10))
  end }
-- 3.1.1: a preauth context whose DataLength runs past the end
S.ctx_past_end = scenario {
  negotiate = function(c, req)
    local ctx = string.pack("<I2I2I4I2I2I2", 1, 0x400, 0, 1, 32, 1) .. string.rep("s", 32)
    return raw_reply(c, req, {}, M.negotiate_body { dialect = 0x0311, ctx_count = 1, ctx_off = 128,
                                                   buffer = ctx, sb_len = 0 })
  end }
-- 3.1.1: more contexts announced than there are
S.ctx_count_past_end = scenario {
  negotiate = function(c, req)
    local ctx = string.pack("<I2I2I4I2I2I2", 1, 38, 0, 1, 32, 1) .. string.rep("s", 32)
    return raw_reply(c, req, {}, M.negotiate_body { dialect = 0x0311, ctx_count = 60000, ctx_off = 128,
                                                   buffer = ctx, sb_len = 0 })
  end }
-- 3.1.1: NegotiateContextOffset beyond the message
S.ctx_offset_past_end = scenario {
  negotiate = function(c, req)
    return raw_reply(c, req, {}, M.negotiate_body { dialect = 0x0311, ctx_count = 2, ctx_off = 0x10000, sb_len = 0 })
  end }
S.create_short = scenario {
  create = function(c, req) return raw_reply(c, req, { sid = c.sid, tree = req.tree }, M.create_body():sub(1, 80)) end }
S.create_short88 = scenario {   -- 88 bytes: the fixed part without the one-byte Buffer (valid)
  create = function(c, req) c:reply(req, M.create_body():sub(1, 88)) end }

-- a frame header announcing 16 MiB (less one), then silence
S.huge_frame = scenario {
  negotiate = function(c, req)
    c:send("\0\xFF\xFF\xFF" .. M.hdr { cmd = 0, mid = req.mid })
    return "stop"
  end }

-- READs answered with STATUS_BUFFER_OVERFLOW forever; the data starts a
-- response fragment announcing 65000 bytes (more than max_recv) and never
-- ends it
S.overflow_big_frag = scenario {
  answer = function(c, req)
    local data = c.sent_hdr and string.rep("o", 4096) or
      string.pack("<BBBBc4I2I2I4", 5, 0, 2, 1, "\16\0\0\0", 65000, 0, c.call_id) .. string.rep("o", 4080)
    c.sent_hdr = true
    c.overflows = (c.overflows or 0) + 1
    c:reply(req, M.read_body(data), { status = M.STATUS_BUFFER_OVERFLOW })
  end }
-- READs answered with STATUS_BUFFER_OVERFLOW forever, each carrying a whole
-- response fragment without PFC_LAST: the reply never ends
S.overflow_endless = scenario {
  answer = function(c, req)
    local frag = core.pdu_encode { ptype = "response", call_id = c.call_id, flags = c.sent_hdr and 0 or 1,
                                   alloc_hint = 0, stub = string.rep("e", 4000) }
    c.sent_hdr = true
    c.overflows = (c.overflows or 0) + 1
    c:reply(req, M.read_body(frag), { status = M.STATUS_BUFFER_OVERFLOW })
  end }

-- READs answered with STATUS_BUFFER_OVERFLOW and no data, forever
S.overflow_empty = scenario {
  answer = function(c, req)
    c.overflows = (c.overflows or 0) + 1
    c:reply(req, M.read_body(""), { status = M.STATUS_BUFFER_OVERFLOW })
  end }
-- the READ answering a call: 500 interim responses first, then the data
S.interim_storm = scenario {
  answer = function(c, req)
    req.async = 0x99
    local one = M.frame(M.hdr { cmd = req.cmd, mid = req.mid, sid = c.sid, status = M.STATUS_PENDING,
                                flags = S2R | ASYNC, async = req.async, credits = 1 } .. M.error_body())
    c:send(string.rep(one, 500))
    c:note("interim x500")
    c.pending_read = req
    return default.deliver(c)
  end }
-- STATUS_PENDING without the async flag: not an interim response
S.sync_pending = scenario {
  answer = function(c, req)
    return raw_reply(c, req, { sid = c.sid, status = M.STATUS_PENDING }, M.error_body())
  end }
-- a READ response bigger than anything asked for (70000 bytes of data)
S.read_too_big = scenario {
  answer = function(c, req)
    return raw_reply(c, req, { sid = c.sid }, M.read_body(string.rep("b", 70000)))
  end }
-- MaxReadSize below what a pipe needs
S.tiny_max_read = scenario {
  negotiate = function(c, req) c:reply(req, M.negotiate_body { max_read = 1024 }) end }
-- 3.0 instead of 2.1 (signing not required: nothing is signed)
S.ok30 = scenario {
  negotiate = function(c, req) c:reply(req, M.negotiate_body { dialect = 0x0300 }) end }
-- the WRITE and READ responses of a call compounded in one frame
S.compound = scenario {
  write = function(c, req)
    local sent = c.send
    c.held = nil
    c.send = function(self, bytes) c.held = bytes:sub(5) end    -- keep the WRITE response
    default.write(c, req)
    c.send = sent
    -- a READ already waiting: answer the WRITE alone; else hold it for the
    -- READ that follows and answer both in one frame
    if c.pending_read then c:send(M.frame(c.held)); c.held = nil end
  end,
  answer = function(c, req)
    if not c.held then c.pending_read = req; return default.deliver(c) end
    local want = string.unpack("<I4", req.body, 5)
    local data = c.outq:sub(1, want)
    c.outq = c.outq:sub(#data + 1)
    local w = c.held .. string.rep("\0", (-#c.held) % 8)
    w = w:sub(1, 20) .. string.pack("<I4", #w) .. w:sub(25)
    c.held = nil
    c:note("compound")
    c:send(M.frame(w .. M.hdr { cmd = req.cmd, mid = req.mid, sid = c.sid, tree = req.tree } .. M.read_body(data)))
  end }

-- NetBIOS session service (port 139)
S.nbss_negative = scenario {
  start = function(c)
    if not c:read_exact(72) then return "hangup" end
    c:send("\x83\0\0\1\x82")
    c:drain(5)
    return "hangup"
  end }
S.nbss_garbage = scenario {
  start = function(c)
    if not c:read_exact(72) then return "hangup" end
    c:send("HTTP/1.0 400 Bad Request\r\n\r\n")
    c:drain(5)
    return "hangup"
  end }
-- the first 4 bytes of a negative session response (the error code byte
-- never comes), then silence for 4 s
S.nbss_partial = scenario {
  start = function(c)
    if not c:read_exact(72) then return "hangup" end
    c:send("\x83\0\0\1")
    c.sock:recv(1, 4)
    c:note("partial done")
    return "hangup"
  end }
S.nbss_ok = scenario {
  start = function(c)
    if not c:read_exact(72) then return "hangup" end
    c:send("\x82\0\0\0\x85\0\0\0")                -- and a keep-alive
  end }

---------------------------------------------------------------- the child

function M.main(arg)
  local name, count = arg:match("^([%w_]+):?(%d*)$")
  local sc = assert(S[name], "no scenario " .. tostring(arg))
  count = tonumber(count) or 1
  local l = assert(core.listen_tcp("127.0.0.1", 0))
  print("listening on ncacn_np:127.0.0.1[" .. l:port() .. "]")
  io.stdout:flush()
  for _ = 1, count do
    local sock = l:accept(30)
    if not sock then break end
    M.serve(sock, sc)
    sock:close()
  end
  l:close()
end

return M
