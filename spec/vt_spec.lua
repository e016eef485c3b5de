-- The verification trailer ([MS-RPCE] 2.2.2.13) a client may append to a
-- request stub: Samba's rpcclient sends one on authenticated calls; the
-- server must accept a matching one and refuse one that does not match.
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"

local srvsvc = dcerpc.interface "srvsvc"
local fn = srvsvc.functions.NetrServerGetInfo

-- NetrServerGetInfo("\\127.0.0.1", 101) as rpcclient 4.17 sent it at the
-- integrity level (captured with tshark): NDR data, then a trailer with
-- BITMASK_1 and PCONTEXT (srvsvc v3.0, NDR 2.0).
local SAMBA_STUB = ("000002000c000000000000000c0000005c005c003100320037002e0030002e0030002e00310000006500" ..
  "00008ae3137102f43671010004000100000002402800c84f324b7016d30112785a47bf6ee18803000000045d888aeb1cc9119fe8" ..
  "08002b10486002000000"):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)

local function expect(t)
  local x = {
    abstract = { uuid = srvsvc.uuid, major = srvsvc.major, minor = srvsvc.minor },
    transfer = dcerpc.NDR20, call_id = 4, ctx_id = 0, opnum = fn.opnum, drep = 0x10,
  }
  for k, v in pairs(t or {}) do x[k] = v end
  return x
end

describe("verification trailer #unit", function()
  it("our client's trailer is byte for byte the one rpcclient sends (padding included)", function()
    local args, off = ndr.decode_call(fn, "in", SAMBA_STUB, { partial = true })
    assert.is_table(args)
    local data = SAMBA_STUB:sub(1, off)
    local t = core.vt_trailer(#data, { abstract = { uuid = srvsvc.uuid, major = srvsvc.major, minor = srvsvc.minor },
                                      transfer = dcerpc.NDR20, drep = 0x10 })
    assert.are.equal(SAMBA_STUB, data .. t)
    -- one trailer for both byte orders: the checker reads it back in a
    -- big-endian PDU too
    local tb = core.vt_trailer(5, { abstract = { uuid = srvsvc.uuid, major = 3, minor = 0 },
                                   transfer = dcerpc.NDR20 })
    assert.are.equal(core.vt_trailer(5, { abstract = { uuid = srvsvc.uuid, major = 3, minor = 0 },
                                         transfer = dcerpc.NDR20 }), tb)
    assert.is_true(core.vt_check(string.rep("\0", 5) .. tb, 5, expect { drep = 0 }))
  end)

  it("finds and accepts Samba's trailer after the NDR data", function()
    local args, off = ndr.decode_call(fn, "in", SAMBA_STUB, { partial = true })
    assert.are.equal("\\\\127.0.0.1", args.ServerName)
    assert.are.equal(101, args.Level)
    assert.is_true(off < #SAMBA_STUB)
    assert.is_true(core.vt_check(SAMBA_STUB, off, expect()))
    -- and without partial the stub does not decode: bytes are left over
    assert.is_nil((ndr.decode_call(fn, "in", SAMBA_STUB)))
  end)

  it("refuses a trailer naming another interface", function()
    local _, off = ndr.decode_call(fn, "in", SAMBA_STUB, { partial = true })
    local ok, e = core.vt_check(SAMBA_STUB, off, expect {
      abstract = { uuid = "6bffd098-a112-3610-9833-46c3f87e345a", major = 1, minor = 0 } })
    assert.is_nil(ok)
    assert.matches("PCONTEXT", e)
  end)

  it("accepts plain padding and refuses other leftovers", function()
    local stub = ndr.encode_call(fn, "in", { ServerName = "x", Level = 101 })
    assert.is_false(core.vt_check(stub, #stub, expect()))
    assert.is_false(core.vt_check(stub .. "\0\0\0", #stub, expect()))
    local ok, e = core.vt_check(stub .. "junk", #stub, expect())
    assert.is_nil(ok)
    assert.matches("padding", e)
    ok, e = core.vt_check(stub .. string.rep("\0", 12), #stub, expect())
    assert.is_nil(ok)
  end)

  it("checks HEADER2 against the PDU header and refuses unknown must-process commands", function()
    local stub = ndr.encode_call(fn, "in", { ServerName = "x", Level = 101 })
    local pad = string.rep("\0", (4 - #stub % 4) % 4)
    local magic = "\138\227\19\113\2\244\54\113"
    local h2 = string.pack("<I2I2 BBBB BBBB I4 I2I2", 0x4003, 16, 0, 0, 0, 0, 0x10, 0, 0, 0, 9, 0, fn.opnum)
    local t = stub .. pad .. magic .. h2
    assert.is_true(core.vt_check(t, #stub, expect { call_id = 9 }))
    local ok, e = core.vt_check(t, #stub, expect { call_id = 10 })
    assert.is_nil(ok)
    assert.matches("HEADER2", e)
    local must = stub .. pad .. magic .. string.pack("<I2I2", 0xc07f, 0)
    ok, e = core.vt_check(must, #stub, expect())
    assert.is_nil(ok)
    assert.matches("must%-process", e)
    local may = stub .. pad .. magic .. string.pack("<I2I2I4", 0x407f, 4, 0)
    assert.is_true(core.vt_check(may, #stub, expect()))
    local e2, refuse
    ok, e2, refuse = core.vt_check(stub .. pad .. magic .. string.pack("<I2I2", 0x4001, 400), #stub, expect())
    assert.is_nil(ok)                                  -- a command longer than the stub:
    assert.matches("longer than the stub", e2)
    assert.is_false(refuse)                            -- no trailer to hold against the call
    ok, e2, refuse = core.vt_check(must, #stub, expect())
    assert.is_true(refuse)                             -- one that reads and contradicts it
  end)
end)

-- [MS-RPCE] 2.2.2.13: the trailer's commands are little-endian in all fields,
-- whatever the PDU's drep. smbtorture (Samba's NDR pushes the trailer with a
-- context of its own) and Samba's server (it pulls it the same way) agree.
describe("verification trailer in a big-endian PDU #unit", function()
  local R = require "helpers.rawpdu"
  local rpcecho = dcerpc.interface "rpcecho"
  local addone = rpcecho.functions.AddOne
  local ECHO = { uuid = rpcecho.uuid, major = rpcecho.major, minor = rpcecho.minor }
  local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end
  -- smbtorture 4.17 rpc.echo at [sign,bigendian]: its first AddOne(0), a
  -- big-endian request (captured with tshark; the same bytes as test/c/test_vt.c)
  local TORTURE_BE = unhex("050000030000000000700010000000020000004000000000" .. "00000000" ..
    "8ae3137102f43671" .. "0100040001000000" ..
    "02402800c55ea160e84dd711a637005056a2018201000000045d888aeb1cc9119fe808002b10486002000000" ..
    "0905000000000001" .. "01000000742da40dc1324a8a01000000")
  local TRAILER = TORTURE_BE:sub(29, 88)       -- magic, BITMASK_1, PCONTEXT
  local function echo_expect(t)
    local x = { abstract = ECHO, transfer = dcerpc.NDR20, call_id = 2, ctx_id = 0, opnum = 0, drep = 0 }
    for k, v in pairs(t or {}) do x[k] = v end
    return x
  end
  -- the form our client wrote before: every field big-endian
  local function old_be_trailer(abstract)
    local function syn(sx)
      local b = unhex((sx.uuid:gsub("-", "")))          -- uuid text order = big-endian fields
      return b .. string.pack(">I2I2", sx.minor, sx.major)
    end
    return "\138\227\19\113\2\244\54\113" .. string.pack(">I2I2I4", 1, 4, 1) ..
      string.pack(">I2I2", 0x4002, 40) .. syn(abstract) .. syn(dcerpc.NDR20)
  end

  it("reads smbtorture's request: a big-endian PDU, a little-endian trailer", function()
    local p = assert(core.pdu_decode(TORTURE_BE))
    assert.are.equal("request", p.ptype)
    assert.are.equal(2, p.call_id)
    local args, off = ndr.decode_call(addone, "in", p.stub, { drep = "be", partial = true })
    assert.are.equal(0, args.in_data)
    assert.are.equal(4, off)
    assert.is_true(core.vt_check(p.stub, off, echo_expect()))
    local ok, e, refuse = core.vt_check(p.stub, off, echo_expect { abstract = { uuid = ECHO.uuid, major = 2, minor = 0 } })
    assert.is_nil(ok)
    assert.matches("PCONTEXT", e)
    assert.is_true(refuse)
  end)

  it("writes the same trailer, byte for byte, whatever the byte order", function()
    assert.are.equal(TRAILER, core.vt_trailer(4, { abstract = ECHO, transfer = dcerpc.NDR20 }))
    -- and a whole big-endian request around it is smbtorture's
    local p = assert(core.pdu_decode(TORTURE_BE))
    local ours = core.pdu_encode { ptype = "request", drep = "be", call_id = 2, alloc_hint = 0x40,
      context_id = 0, opnum = 0,
      stub = ndr.encode_call(addone, "in", { in_data = 0 }, { drep = "be" }) ..
             core.vt_trailer(4, { abstract = ECHO, transfer = dcerpc.NDR20 }),
      auth = p.auth }
    assert.are.equal(TORTURE_BE, ours)
  end)

  it("still checks the big-endian trailer our client wrote before, in big-endian PDUs only", function()
    local stub = string.rep("\0", 4) .. old_be_trailer(ECHO)
    assert.is_true(core.vt_check(stub, 4, echo_expect()))
    local other = old_be_trailer { uuid = ECHO.uuid, major = 2, minor = 0 }
    local ok, e, refuse = core.vt_check(string.rep("\0", 4) .. other, 4, echo_expect())
    assert.is_nil(ok)
    assert.matches("PCONTEXT", e)
    assert.is_true(refuse)
    -- in a little-endian PDU it does not read: ignored, as Samba ignores it
    ok, e, refuse = core.vt_check(stub, 4, echo_expect { drep = 0x10 })
    assert.is_nil(ok)
    assert.is_false(refuse)
  end)

  it("our client with drep = \"be\" hands the engine a little-endian trailer, and our server takes it", function()
    local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" },
      auth = { users = { alice = "Alice-Pass1" }, domain = "RPCSRV", computer = "LUASRV" },
      log = function(m) error("server logged: " .. m) end })
    local seen = {}
    srv:register(rpcecho, { AddOne = function(call, a)
      seen[#seen + 1] = call.drep
      return { out_data = a.in_data + 1 }
    end })
    local stubs, res, err = {}, nil, nil
    srv:spawn(function()
      local ok, e = pcall(function()
        local c = assert(dcerpc.connect(srv.endpoints[1], rpcecho, { auth = "ntlm", level = "integrity",
          user = "alice", domain = "RPCSRV", password = "Alice-Pass1", drep = "be" }))
        local real = c.conn
        c.conn = setmetatable({ call = function(_, ctx, opnum, stub, o)
          stubs[#stubs + 1] = stub
          return real:call(ctx, opnum, stub, o)
        end }, { __index = function(_, k)
          local v = real[k]
          if type(v) == "function" then return function(_, ...) return v(real, ...) end end
          return v
        end })
        res = assert(c:AddOne { in_data = 0 }).out_data
        assert(c:AddOne { in_data = 7 })
        c.conn = real
        c:close()
      end)
      err = not ok and e or nil
      srv:close()
    end)
    srv:run()
    assert.is_nil(err)
    assert.are.equal(1, res)
    assert.are.equal(2, #seen)
    assert.is_true((seen[1] & 0xf0) == 0)            -- the server saw big-endian PDUs
    assert.are.equal(string.rep("\0", 4) .. TRAILER, stubs[1])
    assert.are.equal("\0\0\0\7" .. TRAILER, stubs[2])
  end)
end)

describe("verification trailer at the server #unit", function()
  local R = require "helpers.rawpdu"
  local rpcecho = dcerpc.interface "rpcecho"
  local addone = rpcecho.functions.AddOne
  local srv
  local logs = {}
  setup(function()
    srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" },
                                 log = function(m) logs[#logs + 1] = m end })
    srv:register(rpcecho, { AddOne = function(_, a) return { out_data = a.in_data + 1 } end })
    srv.port = tonumber(srv.endpoints[1]:match("%[(%d+)%]$"))
  end)
  teardown(function() srv:close() end)

  local function pcontext(abstract)
    local function syn(s)
      local u = s.uuid:gsub("-", "")
      local b = u:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
      -- first three fields little-endian
      b = b:sub(4, 4) .. b:sub(3, 3) .. b:sub(2, 2) .. b:sub(1, 1) .. b:sub(6, 6) .. b:sub(5, 5) ..
          b:sub(8, 8) .. b:sub(7, 7) .. b:sub(9)
      return b .. string.pack("<I2I2", s.major, s.minor)
    end
    return string.pack("<I2I2", 0x4002, 40) .. syn(abstract) .. syn(dcerpc.NDR20)
  end

  local function call_with(trailer, drep)
    local s = R.bind(srv, { drep = drep })
    local stub = ndr.encode_call(addone, "in", { in_data = 41 }, { drep = drep }) .. trailer
    s:send(R.request { call_id = 2, opnum = addone.opnum, stub = stub, drep = drep })
    local p = R.read_pdus(srv, s, 1)[1]
    s:close()
    return p
  end

  local OTHER = { uuid = "4b324fc8-1670-01d3-1278-5a47bf6ee188", major = 3, minor = 0 }
  local MAGIC = "\138\227\19\113\2\244\54\113"
  -- the big-endian form of PCONTEXT our client wrote in big-endian PDUs before
  local function pcontext_be(abstract)
    local function syn(x)
      local b = x.uuid:gsub("-", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
      return b .. string.pack(">I2I2", x.minor, x.major)
    end
    return string.pack(">I2I2", 0x4002, 40) .. syn(abstract) .. syn(dcerpc.NDR20)
  end

  it("in a big-endian PDU: reads a little-endian trailer (smbtorture's), refuses one naming another interface", function()
    local p = call_with(MAGIC .. pcontext(R.ECHO), "be")
    assert.are.equal("response", p.ptype)
    assert.are.equal(42, ndr.decode_call(addone, "out", p.stub, { drep = p.drep }).out_data)
    p = call_with(MAGIC .. pcontext(OTHER), "be")
    assert.are.equal("fault", p.ptype)
    assert.are.equal(5, p.status)
  end)

  it("in a big-endian PDU: still checks the big-endian trailer of our older client", function()
    local p = call_with(MAGIC .. pcontext_be(R.ECHO), "be")
    assert.are.equal("response", p.ptype)
    p = call_with(MAGIC .. pcontext_be(OTHER), "be")
    assert.are.equal("fault", p.ptype)
    assert.are.equal(5, p.status)
  end)

  it("ignores a trailer it cannot read, as Samba does: serves the call, logs nothing", function()
    local n = #logs
    for _, c in ipairs {
      { MAGIC .. pcontext_be(OTHER), "le" },            -- big-endian in a little-endian PDU
      { MAGIC .. string.pack("<I2I2", 0x4001, 400), "le" },
      { MAGIC .. string.pack("<I2I2", 0x4001, 400), "be" },
      { MAGIC .. "\0\1\0", "be" },
    } do
      local p = call_with(c[1], c[2])
      assert.are.equal("response", p.ptype)
    end
    assert.are.equal(n, #logs, table.concat(logs, "\n", n + 1))
  end)

  it("serves a call whose trailer names its interface", function()
    local p = call_with("\138\227\19\113\2\244\54\113" .. pcontext(R.ECHO))
    assert.are.equal("response", p.ptype)
    assert.are.equal(42, ndr.decode_call(addone, "out", p.stub).out_data)
  end)

  it("refuses one naming another interface: access denied, did not execute", function()
    local p = call_with("\138\227\19\113\2\244\54\113" ..
      pcontext { uuid = "4b324fc8-1670-01d3-1278-5a47bf6ee188", major = 3, minor = 0 })
    assert.are.equal("fault", p.ptype)
    assert.are.equal(5, p.status)
  end)

  it("ignores other leftover bytes, as Windows and Samba do (Samba's raw_protocol tests pad requests)", function()
    local p = call_with("garbage!garbage!")
    assert.are.equal("response", p.ptype)
  end)
end)
