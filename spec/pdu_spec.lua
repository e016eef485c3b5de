-- pdu_spec.lua - dcerpc.core.pdu_encode / pdu_decode: every connection-oriented
-- PDU type against bytes derived by hand from C706 12.6 and [MS-RPCE] 2.2.2,
-- round trips, big-endian decoding, and the hostile header cases.
local core = require "dcerpc.core"

local function hex(s)
  return (s:gsub("%s+", ""):gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end
local function tohex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local EPM = { uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa", major = 3, minor = 0 }
local NDR = { uuid = "8a885d04-1ceb-11c9-9fe8-08002b104860", major = 2, minor = 0 }
local NDR64 = { uuid = "71710533-beba-4937-8319-b5dbef9ccc36", major = 1, minor = 0 }
local EPM_LE = "0883afe11f5dc91191a408002b14a0fa"
local NDR_LE = "045d888aeb1cc9119fe808002b104860"
local NDR64_LE = "33057171babe37498319b5dbef9ccc36"

local FIRST, LAST, CONC_MPX, DNE, OBJECT = 0x01, 0x02, 0x10, 0x20, 0x80

-- encode, compare with the expected bytes, decode again and compare fields
local function check(tbl, want_hex)
  local bytes = core.pdu_encode(tbl)
  assert.are.equal(want_hex:gsub("%s+", ""), tohex(bytes))
  local back, err = core.pdu_decode(bytes)
  assert.is_nil(err)
  assert.are.equal(core.pdu_encode(back), bytes)       -- decode -> encode is byte-exact
  return back
end

describe("dcerpc.core pdu codec #unit", function()

  it("bind with two contexts (one with two transfer syntaxes)", function()
    local p = check({ ptype = "bind", call_id = 1, max_xmit = 5840, max_recv = 5840,
      contexts = {
        { abstract = EPM, transfer = { NDR } },
        { abstract = EPM, transfer = { NDR64, NDR } },
      } },
      -- header: 5.0, ptype 11, FIRST|LAST, drep 10000000, frag 136, auth 0, call 1
      "05000b03 10000000 8800 0000 01000000" ..
      "d016 d016 00000000" ..                              -- max_xmit, max_recv, assoc_group
      "02 000000" ..                                       -- n_context_elem + reserved
      "0000 01 00" .. EPM_LE .. "03000000" .. NDR_LE .. "02000000" ..
      "0100 02 00" .. EPM_LE .. "03000000" .. NDR64_LE .. "01000000" .. NDR_LE .. "02000000")
    assert.are.equal("bind", p.ptype)
    assert.are.equal(2, #p.contexts)
    assert.are.equal(1, p.contexts[2].id)
    assert.are.same(EPM, p.contexts[2].abstract)
    assert.are.same({ NDR64, NDR }, p.contexts[2].transfer)
    assert.are.equal(136, p.frag_length)
  end)

  it("bind_ack with secondary address \"135\\0\" and its 4-byte pad", function()
    local p = check({ ptype = "bind_ack", call_id = 1, max_xmit = 4280, max_recv = 4280,
      assoc_group = 0x5300, secondary_address = "135", flags = FIRST | LAST | CONC_MPX,
      results = {
        { result = 0, reason = 0, transfer = NDR },
        { result = 2, reason = 2, transfer = { uuid = "00000000-0000-0000-0000-000000000000" } },
        { result = 3, reason = 3, transfer = { uuid = "00000000-0000-0000-0000-000000000000" } },
      } },
      "05000c13 10000000 6c00 0000 01000000" ..
      "b810 b810 00530000" ..
      "0400 31333500" .. "0000" ..                         -- port_any "135\0", pad to 32
      "03 000000" ..
      "0000 0000" .. NDR_LE .. "02000000" ..
      "0200 0200" .. string.rep("00", 20) ..
      "0300 0300" .. string.rep("00", 20))
    assert.are.equal("135", p.secondary_address)
    assert.are.equal(3, #p.results)
    assert.are.equal(3, p.results[3].result)
    assert.are.same(NDR, p.results[1].transfer)
  end)

  it("alter_context and alter_context_resp (empty secondary address)", function()
    check({ ptype = "alter_context", call_id = 2, max_xmit = 5840, max_recv = 5840, assoc_group = 0x5300,
      contexts = { { id = 5, abstract = EPM, transfer = { NDR } } } },
      "05000e03 10000000 4800 0000 02000000 d016d016 00530000 01000000" ..
      "0500 0100" .. EPM_LE .. "03000000" .. NDR_LE .. "02000000")
    check({ ptype = "alter_context_resp", call_id = 2, max_xmit = 5840, max_recv = 5840, assoc_group = 0x5300,
      results = { { result = 0, reason = 0, transfer = NDR } } },
      -- 16 + 8 + 2 (length 0) = 26: pad 2 to 28
      "05000f03 10000000 3800 0000 02000000 d016d016 00530000 0000 0000 01000000" ..
      "00000000" .. NDR_LE .. "02000000")
  end)

  it("bind_nak with a versions list", function()
    local p = check({ ptype = "bind_nak", call_id = 1, reject_reason = 4,
      versions = { { major = 5, minor = 0 } } },
      "05000d03 10000000 1500 0000 01000000 0400 01 0500")
    assert.are.equal(4, p.reject_reason)
    assert.are.equal("protocol_version_not_supported", p.reject_reason_name)
    assert.are.same({ { major = 5, minor = 0 } }, p.versions)
  end)

  it("bind_nak with the reason only (older peers)", function()
    local p = assert(core.pdu_decode(hex("05000d03 10000000 1200 0000 01000000 0100")))
    assert.are.equal(1, p.reject_reason)
    assert.are.same({}, p.versions)
  end)

  it("request with an object UUID", function()
    local p = check({ ptype = "request", call_id = 3, alloc_hint = 4, context_id = 1, opnum = 5,
      object = "12345678-1234-abcd-ef00-0123456789ab", stub = "\1\2\3\4" },
      "05000083 10000000 2c00 0000 03000000 04000000 0100 0500" ..
      "78563412 3412 cdab ef00 0123456789ab" .. "01020304")
    assert.are.equal("12345678-1234-abcd-ef00-0123456789ab", p.object)
    assert.are.equal(FIRST | LAST | OBJECT, p.flags)
  end)

  it("response (middle fragment)", function()
    local p = check({ ptype = "response", call_id = 4, flags = 0, alloc_hint = 1000, context_id = 0,
      cancel_count = 1, stub = "abcd" },
      "05000200 10000000 1c00 0000 04000000 e8030000 0000 01 00 61626364")
    assert.are.equal(1, p.cancel_count)
    assert.are.equal("abcd", p.stub)
  end)

  it("fault with did-not-execute", function()
    local p = check({ ptype = "fault", call_id = 2, flags = FIRST | LAST | DNE, status = 0x1c010002 },
      "05000323 10000000 2000 0000 02000000 00000000 0000 00 00 0200011c 00000000")
    assert.are.equal(0x1c010002, p.status)
    assert.is_true(p.did_not_execute)
  end)

  it("shutdown, co_cancel, orphaned (header only)", function()
    check({ ptype = "shutdown", call_id = 0 }, "05001103 10000000 1000 0000 00000000")
    check({ ptype = "co_cancel", call_id = 7 }, "05001203 10000000 1000 0000 07000000")
    check({ ptype = "orphaned", call_id = 7 }, "05001303 10000000 1000 0000 07000000")
  end)

  it("auth3 and an auth verifier passed through", function()
    local p = check({ ptype = "auth3", call_id = 9,
      auth = { type = 10, level = 6, context_id = 0, value = "NTLM" } },
      "05001003 10000000 2000 0400 09000000 00000000 0a060000 00000000 4e544c4d")
    assert.are.same({ type = 10, level = 6, pad_length = 0, reserved = 0, context_id = 0, value = "NTLM" }, p.auth)
    -- a request with stub, 4 bytes of auth pad, trailer and an 8-byte value
    p = check({ ptype = "request", call_id = 1, opnum = 0, stub = "abcd",
      auth = { type = 10, level = 5, pad_length = 4, context_id = 1, value = "12345678" } },
      "05000003 10000000 3000 0800 01000000 00000000 0000 0000 61626364 00000000" ..
      "0a050400 01000000 3132333435363738")
    assert.are.equal("abcd", p.stub)                   -- the pad is not stub data
  end)

  it("decodes big-endian PDUs and encodes them on request", function()
    local le = core.pdu_encode({ ptype = "bind", call_id = 0x01020304, max_xmit = 5840, max_recv = 4280,
      assoc_group = 0x11223344, contexts = { { abstract = EPM, transfer = { NDR } } } })
    local be = core.pdu_encode({ ptype = "bind", drep = "be", call_id = 0x01020304, max_xmit = 5840,
      max_recv = 4280, assoc_group = 0x11223344, contexts = { { abstract = EPM, transfer = { NDR } } } })
    assert.are.equal(("05000b03 00000000 0048 0000 01020304 16d0 10b8 11223344 01000000 0000 0100" ..
      " e1af8308 5d1f 11c9 91a408002b14a0fa 00000003 8a885d04 1ceb 11c9 9fe808002b104860 00000002"):gsub(" ", ""),
      tohex(be))
    local a, b = assert(core.pdu_decode(le)), assert(core.pdu_decode(be))
    assert.are.equal("be", b.drep)
    b.drep, a.drep, b.drep_bytes, a.drep_bytes = nil, nil, nil, nil
    assert.are.same(a, b)
    -- a big-endian fault
    local f = assert(core.pdu_decode(hex("05000323 00000000 0020 0000 00000002 00000000 0000 00 00 1c010002 00000000")))
    assert.are.equal(0x1c010002, f.status)
    assert.are.equal(2, f.call_id)
  end)

  describe("rejects hostile input with an error value", function()
    local function bad(h, pattern)
      local p, err = core.pdu_decode(type(h) == "string" and hex(h) or h)
      assert.is_nil(p)
      assert.are.equal(1728, err.code)
      if pattern then assert.matches(pattern, err.message) end
    end
    it("frag_length < 16", function() bad("05000203 10000000 0f00 0000 01000000", "below 16") end)
    it("frag_length > data", function() bad("05000203 10000000 2000 0000 01000000 00000000", "beyond the data") end)
    it("auth_length beyond the fragment", function()
      bad("05000203 10000000 2000 2000 01000000 00000000 00000000 00000000 00000000", "auth_length") end)
    it("auth_pad_length beyond the body", function()
      bad("05000203 10000000 2800 0400 01000000 00000000 00000000 00000000 0a05ff00 00000000 41414141",
        "auth_pad_length") end)
    it("unaligned sec_trailer", function()
      bad("05000203 10000000 2600 0300 01000000 00000000 00000000 000000 0a050000 00000000 414141",
        "aligned") end)
    it("unknown ptype", function() bad("05006303 10000000 1000 0000 01000000", "ptype") end)
    it("connectionless ptype", function() bad("05000103 10000000 1000 0000 01000000", "ptype") end)
    it("wrong version", function()
      bad("04000203 10000000 1000 0000 01000000", "version")
      bad("05010203 10000000 1000 0000 01000000", "version")
    end)
    it("fewer than 16 bytes", function() bad("050002", "16") end)
    it("p_cont_list count beyond the PDU", function()
      bad("05000b03 10000000 1c00 0000 01000000 d016d016 00000000 05000000", "p_cont_elem") end)
    it("p_result_list count beyond the PDU", function()
      bad("05000c03 10000000 2000 0000 01000000 d016d016 00000000 0000 0000 09000000", "p_result") end)
    it("secondary address beyond the PDU", function()
      bad("05000c03 10000000 1c00 0000 01000000 d016d016 00000000 ff00 0000", "secondary") end)
    it("every truncation of a valid bind_ack", function()
      local ok = core.pdu_encode({ ptype = "bind_ack", max_xmit = 5840, max_recv = 5840, secondary_address = "135",
        results = { { result = 0, transfer = NDR } } })
      for n = 0, #ok - 1 do
        local s = ok:sub(1, n)
        if n >= 10 then s = s:sub(1, 8) .. string.pack("<I2", n) .. s:sub(11) end
        assert.is_nil((core.pdu_decode(s)))
      end
    end)
  end)

  it("raises on API misuse, not on bad bytes", function()
    assert.has_error(function() core.pdu_encode({ ptype = "nonsense" }) end)
    assert.has_error(function() core.pdu_encode({ ptype = "bind", contexts = { { abstract = { uuid = "xyz" } } } }) end)
    assert.has_error(function() core.pdu_decode(nil) end)
  end)
end)
