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
    -- big-endian stubs get a big-endian trailer, which the checker reads back
    local tb = core.vt_trailer(5, { abstract = { uuid = srvsvc.uuid, major = 3, minor = 0 },
                                   transfer = dcerpc.NDR20, drep = 0 })
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
    ok = core.vt_check(stub .. pad .. magic .. string.pack("<I2I2", 0x4001, 400), #stub, expect())
    assert.is_nil(ok)                                  -- a command longer than the stub
  end)
end)

describe("verification trailer at the server #unit", function()
  local R = require "helpers.rawpdu"
  local rpcecho = dcerpc.interface "rpcecho"
  local addone = rpcecho.functions.AddOne
  local srv
  setup(function()
    srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" }, log = function() end })
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

  local function call_with(trailer)
    local s = R.bind(srv)
    local stub = ndr.encode_call(addone, "in", { in_data = 41 }) .. trailer
    s:send(R.request { call_id = 2, opnum = addone.opnum, stub = stub })
    local p = R.read_pdus(srv, s, 1)[1]
    s:close()
    return p
  end

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
