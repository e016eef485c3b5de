-- tools/gen-smb2-corpus.lua: write the seed corpus of test/fuzz/fuzz_smb2.c
-- (test/fuzz/corpus/smb2/): valid server response sequences in the
-- harness's record format, built with spec/helpers/smbfake.lua.
--
--   make && LUA_PATH="scripts/?.lua;scripts/?/init.lua;spec/?.lua;;" \
--     LUA_CPATH="build/?.so;;" lua5.4 tools/gen-smb2-corpus.lua [DIR]
local core = require "dcerpc.core"
local SMB = require "helpers.smbfake"

local dir = arg[1] or "test/fuzz/corpus/smb2"
os.execute("mkdir -p " .. dir)

local PENDING, MORE, OVERFLOW = SMB.STATUS_PENDING, SMB.STATUS_MORE_PROCESSING, SMB.STATUS_BUFFER_OVERFLOW
local ASYNC = 0x02

-- config byte: bit 0 SPNEGO, bit 1 NBSS, bits 2-4 dialect index, bit 6 two pipes
local function conf(t)
  local d = ({ ["2.0.2"] = 0, ["2.1"] = 1, ["3.0"] = 2, ["3.0.2"] = 3, ["3.1.1"] = 4 })[t.dialect or "2.1"]
  return string.char((t.spnego and 1 or 0) | (t.nbss and 2 or 0) | (d << 2) | (t.two and 0x40 or 0))
end

local function rec(kind, payload) return string.char(kind) .. string.pack("<I2", #payload) .. payload end
-- a made reply (kind 1, or kind | 0x80 held for a compound chain)
local function reply(body, status, flags, kind)
  return rec(kind or 1, string.pack("<I4I2B", status or 0, 32, flags or 0) .. body)
end
local function raw(bytes) return rec(0, bytes) end

-- DER for the SPNEGO negTokenResp around an NTLM CHALLENGE
local function der(tag, content)
  local n = #content
  local len
  if n < 128 then len = string.char(n)
  elseif n < 256 then len = "\x81" .. string.char(n)
  else len = "\x82" .. string.pack(">I2", n) end
  return string.char(tag) .. len .. content
end
local NTLM_OID = der(0x06, "\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a")
local function neg_resp(state, token)
  local seq = der(0xa0, der(0x0a, string.char(state)))
  if token then seq = seq .. der(0xa1, NTLM_OID) .. der(0xa2, der(0x04, token)) end
  return der(0xa1, der(0x30, seq))
end

local function bind_ack()
  return core.pdu_encode { ptype = "bind_ack", call_id = 1, max_xmit = 4280, max_recv = 4280, assoc_group = 0x5151,
                           secondary_address = "\\PIPE\\srvsvc",
                           results = { { result = 0, reason = 0, transfer = { uuid = "8a885d04-1ceb-11c9-9fe8-08002b104860",
                                                                              major = 2, minor = 0 } } } }
end

local function handshake(t)
  local dialect = ({ ["2.0.2"] = 0x0202, ["2.1"] = 0x0210, ["3.0"] = 0x0300, ["3.0.2"] = 0x0302, ["3.1.1"] = 0x0311 })[t.dialect or "2.1"]
  local nb = { dialect = dialect }
  if dialect == 0x0311 then
    local preauth = string.pack("<I2I2I4I2I2I2", 1, 38, 0, 1, 32, 1) .. string.rep("s", 32)
    preauth = preauth .. string.rep("\0", (-#preauth) % 8)
    local cipher = string.pack("<I2I2I4I2I2", 2, 4, 0, 1, 1)
    nb.ctx_count, nb.ctx_off, nb.buffer, nb.sb_len = 2, 128, preauth .. cipher, 0
  end
  local chal, fin = SMB.ntlm_challenge(), ""
  if t.spnego then chal, fin = neg_resp(1, chal), neg_resp(0) end
  local out = {}
  if t.nbss then out[#out + 1] = raw("\x82\0\0\0") end
  out[#out + 1] = reply(SMB.negotiate_body(nb))
  out[#out + 1] = reply(SMB.session_body(chal), MORE)
  out[#out + 1] = reply(SMB.session_body(fin))
  out[#out + 1] = reply(SMB.tree_body())
  out[#out + 1] = reply(SMB.create_body())
  if t.two then out[#out + 1] = reply(SMB.create_body(string.rep("\x33", 16))) end
  return table.concat(out)
end

local seeds = {}
-- 2.1, NTLM: the handshake, the bind's WRITE, its READ answered
seeds.ntlm21 = conf {} .. handshake {} .. reply(SMB.write_body(72)) .. reply(SMB.read_body(bind_ack()))
-- the READ first answered by an interim response
seeds.interim = conf {} .. handshake {} .. reply(SMB.write_body(72)) ..
  reply(SMB.error_body(), PENDING, ASYNC) .. reply(SMB.read_body(bind_ack()), 0, ASYNC)
-- the WRITE and READ responses compounded
seeds.compound = conf {} .. handshake {} .. reply(SMB.write_body(72), 0, 0, 0x81) .. reply(SMB.read_body(bind_ack()))
-- the bind_ack in two READs (STATUS_BUFFER_OVERFLOW, then the rest)
do
  local ack = bind_ack()
  seeds.overflow = conf {} .. handshake {} .. reply(SMB.write_body(72)) ..
    reply(SMB.read_body(ack:sub(1, 20)), OVERFLOW) .. reply(SMB.read_body(ack:sub(21)))
end
seeds.smb30 = conf { dialect = "3.0" } .. handshake { dialect = "3.0" } .. reply(SMB.write_body(72)) ..
  reply(SMB.read_body(bind_ack()))
seeds.smb202 = conf { dialect = "2.0.2" } .. handshake { dialect = "2.0.2" } .. reply(SMB.write_body(72)) ..
  reply(SMB.read_body(bind_ack()))
seeds.smb311 = conf { dialect = "3.1.1" } .. handshake { dialect = "3.1.1" }
seeds.nbss = conf { nbss = true } .. handshake { nbss = true } .. reply(SMB.write_body(72)) ..
  reply(SMB.read_body(bind_ack()))
seeds.spnego = conf { spnego = true } .. handshake { spnego = true } .. reply(SMB.write_body(72)) ..
  reply(SMB.read_body(bind_ack()))
seeds.two_pipes = conf { two = true } .. handshake { two = true } .. reply(SMB.write_body(72)) ..
  reply(SMB.read_body(bind_ack())) .. reply(SMB.write_body(72)) .. reply(SMB.read_body(bind_ack()))
-- a NEGOTIATE response written as raw bytes (message id 0)
seeds.raw_negotiate = conf {} .. raw(SMB.frame(SMB.hdr { cmd = 0, mid = 0 } .. SMB.negotiate_body()))
-- failures the client must report: a refused CREATE, a closed pipe
seeds.create_refused = conf {} .. handshake {}:sub(1, -1 - #reply(SMB.create_body())) ..
  reply(SMB.error_body(), 0xC0000034)
seeds.pipe_broken = conf {} .. handshake {} .. reply(SMB.write_body(72)) .. reply(SMB.error_body(), 0xC000014B)

local n = 0
for name, bytes in pairs(seeds) do
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
  n = n + 1
end
print(string.format("%d seeds in %s", n, dir))
