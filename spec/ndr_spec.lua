-- dcerpc.ndr: expected bytes are derived by hand from C706 ch. 14 and
-- [MS-RPCE] 2.2.4 (comments show the derivation), or produced by Samba's
-- independent NDR encoder (python3-samba, hex pasted below), never by our
-- own encoder alone.
local ndr = require "dcerpc.ndr"

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function H(s) return (s:gsub("[%s|]", "")) end
local function unhex(h)
  h = h:gsub("[%s|]", "")
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- encode, check the bytes, decode them back (both byte orders when be given)
local function roundtrip(T, v, lehex, behex, cmp)
  local b = ndr.encode(T, v)
  assert.are.equal(lehex:gsub("[%s|]", ""), hex(b))
  local d, err = ndr.decode(T, b)
  assert.is_nil(err)
  local want = v
  if cmp ~= nil then want = cmp end
  assert.are.same(want, d)
  if behex then
    local bb = ndr.encode(T, v, { drep = "be" })
    assert.are.equal(behex:gsub("[%s|]", ""), hex(bb))
    local d2, err2 = ndr.decode(T, unhex(behex), { drep = 0x00 })
    assert.is_nil(err2)
    assert.are.same(want, d2)
  end
end

local function decode_fails(T, bytes, pattern, opts)
  local v, err = ndr.decode(T, bytes, opts)
  assert.is_nil(v)
  assert.is_table(err)
  assert.is_string(err.message)
  assert.are.equal(0x6f7, err.code)
  if pattern then assert.matches(pattern, err.message) end
  return err
end

describe("dcerpc.ndr #unit primitives", function()
  it("encodes every primitive in both byte orders", function()
    roundtrip(ndr.uint8, 0x12, "12", "12")
    roundtrip(ndr.int8, -2, "fe", "fe")
    roundtrip(ndr.uint16, 0x1234, "3412", "1234")
    roundtrip(ndr.int16, -2, "feff", "fffe")
    roundtrip(ndr.wchar_t, 0x41, "4100", "0041")
    roundtrip(ndr.uint32, 0x12345678, "78563412", "12345678")
    roundtrip(ndr.int32, -2, "feffffff", "fffffffe")
    roundtrip(ndr.error_status_t, 5, "05000000", "00000005")
    roundtrip(ndr.hyper, 0x0102030405060708, "0807060504030201", "0102030405060708")
    roundtrip(ndr.uint64, -1, "ffffffffffffffff", "ffffffffffffffff")
    roundtrip(ndr.int64, -2, "feffffffffffffff", "fffffffffffffffe")
    -- IEEE 754: 1.0f = 0x3f800000, 1.0 = 0x3ff0000000000000
    roundtrip(ndr.float, 1.0, "0000803f", "3f800000")
    roundtrip(ndr.double, 1.0, "000000000000f03f", "3ff0000000000000")
    roundtrip(ndr.double, -2.5, "00000000000004c0", "c004000000000000")
    roundtrip(ndr.boolean, true, "01", "01")
    roundtrip(ndr.boolean, false, "00", "00")
    roundtrip(ndr.NTSTATUS, 0xC0000022, "220000c0", "c0000022")
    roundtrip(ndr.WERROR, 5, "05000000")
    roundtrip(ndr.HRESULT, 0x80004005, "05400080")
  end)

  it("reads any non-zero boolean as true", function()
    assert.is_true(ndr.decode(ndr.boolean, "\7"))
  end)

  it("encodes enums from names or numbers (enum16 is 2 bytes, v1_enum 4)", function()
    local E = ndr.enum16 { A = 1, B = 0x102 }
    roundtrip(E, 0x102, "0201", "0102")
    assert.are.equal("0201", hex(ndr.encode(E, "B")))
    local V = ndr.v1_enum { X = 7 }
    assert.are.equal("07000000", hex(ndr.encode(V, "X")))
    assert.has_error(function() ndr.encode(E, "NOPE") end)
  end)

  it("GUID: u32, u16, u16 in the drep order, then 8 bytes as is", function()
    local g = "12345678-9abc-def0-0123-456789abcdef"
    roundtrip(ndr.GUID, g, "78563412 bc9a f0de 0123456789abcdef", "12345678 9abc def0 0123456789abcdef")
  end)

  it("FILETIME: two u32 halves, low first", function()
    roundtrip(ndr.FILETIME, 0x0102030405060708, "08070605 04030201", "05060708 01020304")
  end)

  it("context handles are 20 raw bytes", function()
    -- { u32 attributes; GUID uuid }: the value is the little-endian layout
    local h = unhex("01000000 78563412 bc9a f0de 0123456789abcdef")
    roundtrip(ndr.context_handle, h, hex(h), "00000001 12345678 9abc def0 0123456789abcdef")
  end)

  it("checks integer widths and Lua types when encoding", function()
    assert.has_error(function() ndr.encode(ndr.uint8, 256) end)
    assert.has_error(function() ndr.encode(ndr.uint32, "x") end)
    assert.has_error(function() ndr.encode(ndr.boolean, 1) end)
  end)
end)

describe("dcerpc.ndr #unit structs", function()
  it("aligns a hyper after a short to 8 (struct aligned to its largest member)", function()
    local S = ndr.struct "S" { { "a", ndr.uint16 }, { "b", ndr.hyper } }
    -- a=1 (2 bytes), 6 pad, b=2
    roundtrip(S, { a = 1, b = 2 }, "0100 000000000000 0200000000000000",
      "0001 000000000000 0000000000000002")
  end)

  it("aligns relative to the stub start, across parameters", function()
    local S = ndr.struct "S8" { { "h", ndr.hyper } }
    local f = ndr.func(0, "F") { { "x", ndr.uint8, "in" }, { "s", S, "in" } }
    -- x at 0, struct aligned to 8: 7 pad
    local b = ndr.encode_call(f, "in", { x = 1, s = { h = 3 } })
    assert.are.equal("01" .. "00000000000000" .. "0300000000000000", hex(b))
    assert.are.same({ x = 1, s = { h = 3 } }, ndr.decode_call(f, "in", b))
  end)

  it("forces alignment with align =", function()
    local S = ndr.struct "SA" { align = 8, { "a", ndr.uint8 } }
    local P = ndr.struct "P" { { "x", ndr.uint8 }, { "s", S } }
    assert.are.equal("010000000000000002", hex(ndr.encode(P, { x = 1, s = { a = 2 } })))
  end)

  it("nests structs and reports the field path on a wrong Lua type", function()
    local In = ndr.struct "In" { { "v", ndr.uint32 } }
    local Out = ndr.struct "Out" { { "inner", In } }
    local ok, e = pcall(ndr.encode, Out, { inner = { v = "x" } })
    assert.is_false(ok)
    assert.matches("inner%.v: integer expected, got string", e)
  end)
end)

describe("dcerpc.ndr #unit arrays", function()
  it("fixed arrays: elements only", function()
    roundtrip(ndr.array(ndr.uint16, { length = 3 }), { 1, 2, 3 }, "0100 0200 0300", "0001 0002 0003")
  end)

  it("fixed byte arrays are Lua strings", function()
    roundtrip(ndr.array(ndr.uint8, { length = 4 }), "abcd", "61626364")
  end)

  it("conformant struct: max_count hoisted before the struct", function()
    local S = ndr.struct "CS" { { "n", ndr.uint32 }, { "a", ndr.array(ndr.uint32, { size_is = "n" }) } }
    -- max_count 2 | n 2 | 5 | 6
    roundtrip(S, { n = 2, a = { 5, 6 } }, "02000000 | 02000000 | 05000000 06000000",
      "00000002 | 00000002 | 00000005 00000006")
  end)

  it("conformant struct with a short member: count aligned 4, struct aligned to 2", function()
    local S = ndr.struct "CS2" { { "n", ndr.uint16 }, { "a", ndr.array(ndr.uint16, { size_is = "n" }) } }
    roundtrip(S, { n = 1, a = { 9 } }, "01000000 | 0100 | 0900")
  end)

  it("a conformant struct as the last member: the count goes to the very front", function()
    local In = ndr.struct "NIn" { { "n", ndr.uint16 }, { "a", ndr.array(ndr.uint16, { size_is = "n" }) } }
    local Out = ndr.struct "NOut" { { "x", ndr.uint32 }, { "inner", In } }
    -- max_count 2 | x 7 | n 2 | 5 6
    roundtrip(Out, { x = 7, inner = { n = 2, a = { 5, 6 } } }, "02000000 | 07000000 | 0200 | 0500 0600")
  end)

  it("varying array inside a struct: offset, actual count, then the elements", function()
    local S = ndr.struct "VS" { { "n", ndr.uint32 },
      { "a", ndr.array(ndr.uint16, { length = 4, length_is = "n" }) }, { "z", ndr.uint16 } }
    roundtrip(S, { n = 2, a = { 1, 2 }, z = 7 }, "02000000 | 00000000 02000000 | 0100 0200 | 0700")
  end)

  it("conformant varying array", function()
    local S = ndr.struct "CVS" { { "size", ndr.uint32 }, { "len", ndr.uint32 },
      { "a", ndr.array(ndr.uint16, { size_is = "size", length_is = "len" }) } }
    roundtrip(S, { size = 4, len = 2, a = { 1, 2 } },
      "04000000 | 04000000 02000000 | 00000000 02000000 | 0100 0200")
  end)

  it("conformant array behind a pointer parameter, sized by another parameter", function()
    local f = ndr.func(1, "G") { { "count", ndr.uint32, "in" },
      { "data", ndr.ref(ndr.array(ndr.uint8, { size_is = "count" })), "in" } }
    -- count 3 | max_count 3 | bytes (top-level ref: no referent id)
    local b = ndr.encode_call(f, "in", { count = 3, data = "xyz" })
    assert.are.equal(H("03000000 03000000 78797a"), hex(b))
    assert.are.same({ count = 3, data = "xyz" }, ndr.decode_call(f, "in", b))
  end)

  it("fills a nil size field from the array it sizes", function()
    local S = ndr.struct "Auto" { { "n", ndr.uint32 }, { "p", ndr.unique(ndr.array(ndr.uint32, { size_is = "n" })) } }
    assert.are.equal(H("02000000 00000200 02000000 01000000 02000000"),
      hex(ndr.encode(S, { p = { 1, 2 } })))
    assert.are.equal(H("00000000 00000000"), hex(ndr.encode(S, {})))
  end)

  it("size_is expressions with arithmetic and *deref", function()
    local f = ndr.func(2, "H") { { "len", ndr.ref(ndr.uint32), "in" },
      { "buf", ndr.ref(ndr.array(ndr.uint16, { size_is = "*len/2", length_is = "(*len - 2)/2" })), "in" } }
    local b = ndr.encode_call(f, "in", { len = 6, buf = { 7, 8 } })
    -- len 6 | max 3 | offset 0 | actual 2 | 7 8
    assert.are.equal(H("06000000 03000000 00000000 02000000 0700 0800"), hex(b))
    assert.are.same({ len = 6, buf = { 7, 8 } }, ndr.decode_call(f, "in", b))
  end)

  it("max_is gives size e + 1", function()
    local S = ndr.struct "MI" { { "m", ndr.uint32 }, { "a", ndr.array(ndr.uint8, { max_is = "m" }) } }
    roundtrip(S, { m = 1, a = "ab" }, "02000000 01000000 6162")
  end)

  it("arrays of fixed arrays (two dimensions)", function()
    local T = ndr.array(ndr.array(ndr.uint16, { length = 2 }), { length = 2 })
    roundtrip(T, { { 1, 2 }, { 3, 4 } }, "0100 0200 0300 0400")
  end)

  it("multi-dimensional conformant arrays: all max counts first, cells row-major", function()
    local f = ndr.func(1, "md") { { "a", ndr.uint32, "in" }, { "b", ndr.uint32, "in" },
      { "m", ndr.ref(ndr.array(ndr.uint16, { size_is = { "a", "b" } })), "in" } }
    -- a 2 | b 3 | Z1 2, Z2 3 | 1 2 3 4 5 6
    local args = { a = 2, b = 3, m = { { 1, 2, 3 }, { 4, 5, 6 } } }
    local want = "02000000 03000000 | 02000000 03000000 | 0100 0200 0300 0400 0500 0600"
    assert.are.equal(H(want), hex(ndr.encode_call(f, "in", args)))
    assert.are.same(args, ndr.decode_call(f, "in", unhex(want)))
    local v, err = ndr.decode_call(f, "in", unhex("02000000 03000000 02000000 04000000 0100")); assert.is_nil(v); assert.matches("dimension 2", err.message)
  end)

  it("multi-dimensional conformant varying: Z1 Z2, then (offset, actual) per dimension", function()
    local T = ndr.unique(ndr.array(ndr.uint8, { size_is = { "x", "y" }, length_is = { "x", "y" } }))
    roundtrip(T, { "ab", "cd", "ef" },
      "00000200 | 03000000 02000000 | 00000000 03000000 00000000 02000000 | 616263646566")
    decode_fails(T, unhex("00000200 ffffffff ffffffff 00000000 ffffffff 00000000 ffffffff 00"), "bytes left")
  end)

  it("rejects a value count that disagrees with size_is", function()
    local S = ndr.struct "Bad" { { "n", ndr.uint32 }, { "p", ndr.unique(ndr.array(ndr.uint32, { size_is = "n" })) } }
    assert.has_error(function() ndr.encode(S, { n = 3, p = { 1 } }) end)
  end)
end)

describe("dcerpc.ndr #unit strings", function()
  it("[string] char: counts include the NUL", function()
    -- max 4, offset 0, actual 4, "abc\0"
    roundtrip(ndr.string, "abc", "04000000 00000000 04000000 61626300", "00000004 00000000 00000004 61626300")
  end)

  it("[string] wchar_t: UTF-16 on the wire, UTF-8 in Lua", function()
    roundtrip(ndr.wstring, "ab", "03000000 00000000 03000000 6100 6200 0000",
      "00000003 00000000 00000003 0061 0062 0000")
    -- U+00E9 and U+1F600 (surrogate pair d83d de00)
    roundtrip(ndr.wstring, "\u{e9}\u{1F600}", "04000000 00000000 04000000 e900 3dd8 00de 0000")
    roundtrip(ndr.wstring, "", "01000000 00000000 01000000 0000")
  end)

  it("lone surrogates round-trip (WTF-8)", function()
    local bytes = unhex("02000000 00000000 02000000 00d8 0000")
    local s = assert(ndr.decode(ndr.wstring, bytes))
    assert.are.equal("\xed\xa0\x80", s)
    assert.are.equal(hex(bytes), hex(ndr.encode(ndr.wstring, s)))
  end)

  it("[string] in a fixed array is varying only", function()
    local T = ndr.wstring { length = 8 }
    roundtrip(T, "hi", "00000000 03000000 6800 6900 0000")
    assert.has_error(function() ndr.encode(ndr.string { length = 2 }, "abc") end)
  end)

  it("a unique pointer to a string", function()
    roundtrip(ndr.unique(ndr.wstring), "a", "00000200 02000000 00000000 02000000 6100 0000")
    roundtrip(ndr.unique(ndr.wstring), nil, "00000000")
  end)

  it("refuses invalid UTF-8 when encoding", function()
    assert.has_error(function() ndr.encode(ndr.wstring, "\xff") end)
  end)
end)

describe("dcerpc.ndr #unit pointers", function()
  it("defers referents: A{p1->B{q->u32}, p2->u32} gives p1 p2 | B(q) | *q | *p2", function()
    local B = ndr.struct "B" { { "q", ndr.unique(ndr.uint32) } }
    local A = ndr.struct "A" { { "p1", ndr.unique(B) }, { "p2", ndr.unique(ndr.uint32) } }
    -- ids: p1 0x20000, p2 0x20004 (A's scalars), q 0x20008 (B's scalars, written in A's buffers)
    roundtrip(A, { p1 = { q = 7 }, p2 = 9 },
      "00000200 04000200 | 08000200 | 07000000 | 09000000")
  end)

  it("arrays of structs with embedded pointers: all scalars, then referents in order", function()
    local E = ndr.struct "E" { { "s", ndr.unique(ndr.string) }, { "n", ndr.uint32 } }
    local T = ndr.unique(ndr.array(E, { length = 2 }))
    roundtrip(T, { { s = "a", n = 1 }, { s = "b", n = 2 } },
      "00000200 | 04000200 01000000 08000200 02000000 | 02000000 00000000 02000000 6100 | 0000 " ..
      "02000000 00000000 02000000 6200")
  end)

  it("embedded [ref] pointers carry an id; null is refused", function()
    local S = ndr.struct "R" { { "r", ndr.ref(ndr.uint16) } }
    roundtrip(S, { r = 5 }, "00000200 0500")
    assert.has_error(function() ndr.encode(S, {}) end)
    decode_fails(S, unhex("00000000"), "null %[ref%] pointer")
  end)

  it("full pointers alias: one id per table, one referent (ids 1, 2, ... as Samba)", function()
    local X = ndr.struct "X" { { "v", ndr.uint32 } }
    local S = ndr.struct "FS" { { "a", ndr.full(X) }, { "b", ndr.full(X) } }
    local t = { v = 5 }
    local b = ndr.encode(S, { a = t, b = t })
    assert.are.equal(H("01000000 01000000 05000000"), hex(b))
    local d = assert(ndr.decode(S, b))
    assert.are.equal(d.a, d.b)
    assert.are.equal(5, d.a.v)
  end)

  it("unique and full pointers share Samba's pointer count", function()
    local S = ndr.struct "UF" { { "a", ndr.unique(ndr.uint32) }, { "b", ndr.full(ndr.uint32) } }
    -- a: 0x00020000 | 4*0, b: 1 + 1
    roundtrip(S, { a = 7, b = 8 }, "00000200 02000000 07000000 08000000")
  end)

  it("full pointers: cycles terminate both ways", function()
    local N = ndr.struct "Node"
    N { { "v", ndr.uint32 }, { "next", ndr.full(N) } }
    local n1 = { v = 1 }
    n1.next = n1
    local b = ndr.encode(ndr.full(N), n1)
    assert.are.equal(H("01000000 01000000 01000000"), hex(b))
    local d = assert(ndr.decode(ndr.full(N), b))
    assert.are.equal(d, d.next)
    -- two nodes pointing at each other
    local a, c = { v = 1 }, { v = 2 }
    a.next, c.next = c, a
    local d2 = assert(ndr.decode(ndr.full(N), ndr.encode(ndr.full(N), a)))
    assert.are.equal(d2, d2.next.next)
    assert.are.equal(2, d2.next.v)
  end)

  it("a linked list through unique pointers", function()
    local L = ndr.struct "List"
    L { { "v", ndr.uint32 }, { "next", ndr.unique(L) } }
    roundtrip(ndr.unique(L), { v = 1, next = { v = 2 } },
      "00000200 01000000 04000200 02000000 00000000")
  end)
end)

describe("dcerpc.ndr #unit unions", function()
  local U = ndr.union "U" {
    switch_type = ndr.uint32,
    [1] = { "a", ndr.uint32 },
    [2] = { "s", ndr.unique(ndr.wstring) },
    [3] = {},
    default = { "other", ndr.uint16 },
  }
  local S = ndr.struct "SU" { { "Level", ndr.uint32 }, { "u", U, switch_is = "Level" } }

  it("non-encapsulated: the discriminant precedes the arm", function()
    roundtrip(S, { Level = 1, u = { a = 7 } }, "01000000 01000000 07000000")
    roundtrip(S, { Level = 2, u = { s = "x" } }, "02000000 02000000 00000200 02000000 00000000 02000000 7800 0000")
    roundtrip(S, { Level = 3, u = {} }, "03000000 03000000")
  end)

  it("default arm", function()
    roundtrip(S, { Level = 9, u = { other = 4 } }, "09000000 09000000 0400")
  end)

  it("infers the discriminant from the arm when there is no switch_is", function()
    local S2 = ndr.struct "US2" { { "u", U } }
    assert.are.equal(H("01000000 05000000"), hex(ndr.encode(S2, { u = { a = 5 } })))
  end)

  it("fills a nil switch_is field from the arm present", function()
    assert.are.equal("020000000200000000000000",
      hex(ndr.encode(S, { u = { s = nil, other = nil } , Level = 2 })))
    assert.are.equal("010000000100000009000000", hex(ndr.encode(S, { u = { a = 9 } })))
    assert.has_error(function() ndr.encode(S, { u = {} }) end)
  end)

  it("decoding checks the discriminant against switch_is", function()
    decode_fails(S, unhex("01000000 02000000 00000000"), "switch")
  end)

  it("encapsulated: discriminant inside, arms aligned to the largest arm", function()
    local EU = ndr.encapsulated_union "EU" {
      switch_type = ndr.uint16, switch_name = "Level",
      [1] = { "h", ndr.hyper }, [2] = { "s", ndr.uint16 },
    }
    -- union aligned 8; discriminant 2 bytes; arms at 8
    roundtrip(EU, { Level = 2, s = 7 }, "0200 000000000000 0700", "0002 000000000000 0007")
    roundtrip(EU, { Level = 1, h = 1 }, "0100 000000000000 0100000000000000")
  end)

  it("an arm that is a pointer to a struct with pointers (srvsvc style)", function()
    local I = ndr.struct "I1" { { "n", ndr.unique(ndr.wstring) } }
    local C = ndr.struct "C1" { { "count", ndr.uint32 },
      { "array", ndr.unique(ndr.array(I, { size_is = "count" })) } }
    local UU = ndr.union "UU" { [1] = { "ctr1", ndr.unique(C) } }
    local T = ndr.struct "T" { { "level", ndr.uint32 }, { "ctr", UU, switch_is = "level" } }
    roundtrip(T, { level = 1, ctr = { ctr1 = { count = 1, array = { { n = "a" } } } } },
      "01000000 01000000 00000200 | 01000000 04000200 | 01000000 08000200 | 02000000 00000000 02000000 6100 0000")
  end)
end)

describe("dcerpc.ndr #unit helper types", function()
  it("SID: conformant struct with sub-authority count hoisted", function()
    -- max_count 3 | rev 1 | count 3 | authority 0 0 0 0 0 5 | 21 | 1 | 2
    roundtrip(ndr.SID, "S-1-5-21-1-2", "03000000 01 03 000000000005 15000000 01000000 02000000",
      "00000003 01 03 000000000005 00000015 00000001 00000002")
    roundtrip(ndr.unique(ndr.SID), "S-1-1-0", "00000200 01000000 01 01 000000000001 00000000")
    assert.has_error(function() ndr.encode(ndr.SID, "S-x") end)
  end)

  it("RPC_UNICODE_STRING: Length, MaximumLength in bytes, deferred wchar buffer", function()
    local S = ndr.struct "US" { { "s", ndr.RPC_UNICODE_STRING }, { "n", ndr.uint32 } }
    roundtrip(S, { s = "ab", n = 1 }, "0400 0400 00000200 01000000 | 02000000 00000000 02000000 6100 6200")
    roundtrip(S, { n = 1 }, "0000 0000 00000000 01000000")
  end)
end)

describe("dcerpc.ndr #unit functions", function()
  -- [MS-SRVS] NetrShareEnum (opnum 15), checked against Samba's encoder:
  --   python3-samba: srvsvc.NetShareEnumAll with a NetShareCtr1 of two entries
  --   ("IPC$", 3, "Remote IPC") and ("C$", 0, NULL), server_unc "\\srv",
  --   max_buffer 0xffffffff, resume_handle NULL; ndr_pack_in / ndr_pack_out
  local SAMBA_IN = "000002000600000000000000060000005c005c0073007200760000000100000001000000040002000200000008000200020000000c00020003000000100002001400020000000000000000000500000000000000050000004900500043002400000000000b000000000000000b000000520065006d006f00740065002000490050004300000000000300000000000000030000004300240000000000ffffffff00000000"
  local SAMBA_OUT = "01000000010000000000020002000000040002000200000008000200030000000c0002001000020000000000000000000500000000000000050000004900500043002400000000000b000000000000000b000000520065006d006f00740065002000490050004300000000000300000000000000030000004300240000000000020000000000000000000000"
  local SHARE_INFO_0 = ndr.struct "SHARE_INFO_0" { { "shi0_netname", ndr.unique(ndr.wstring) } }
  local SHARE_INFO_1 = ndr.struct "SHARE_INFO_1" {
    { "shi1_netname", ndr.unique(ndr.wstring) }, { "shi1_type", ndr.uint32 }, { "shi1_remark", ndr.unique(ndr.wstring) } }
  local C0 = ndr.struct "SHARE_INFO_0_CONTAINER" { { "EntriesRead", ndr.uint32 },
    { "Buffer", ndr.unique(ndr.array(SHARE_INFO_0, { size_is = "EntriesRead" })) } }
  local C1 = ndr.struct "SHARE_INFO_1_CONTAINER" { { "EntriesRead", ndr.uint32 },
    { "Buffer", ndr.unique(ndr.array(SHARE_INFO_1, { size_is = "EntriesRead" })) } }
  local UN = ndr.union "SHARE_ENUM_UNION" { switch_type = ndr.uint32,
    [0] = { "Level0", ndr.unique(C0) }, [1] = { "Level1", ndr.unique(C1) } }
  local SES = ndr.struct "SHARE_ENUM_STRUCT" { { "Level", ndr.uint32 }, { "ShareInfo", UN, switch_is = "Level" } }
  local iface = ndr.interface {
    name = "srvsvc", uuid = "4B324FC8-1670-01D3-1278-5A47BF6EE188", version = "3.0",
    ndr.func(15, "NetrShareEnum") {
      { "ServerName", ndr.unique(ndr.wstring), "in" },
      { "InfoStruct", ndr.ref(SES), "in,out" },
      { "PreferedMaximumLength", ndr.uint32, "in" },
      { "TotalEntries", ndr.ref(ndr.uint32), "out" },
      { "ResumeHandle", ndr.unique(ndr.uint32), "in,out" },
      returns = ndr.WERROR,
    },
  }
  local fn = iface.functions.NetrShareEnum
  local info = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 2, Buffer = {
    { shi1_netname = "IPC$", shi1_type = 3, shi1_remark = "Remote IPC" },
    { shi1_netname = "C$", shi1_type = 0 } } } } }

  it("interface fields", function()
    assert.are.equal("4b324fc8-1670-01d3-1278-5a47bf6ee188", iface.uuid)
    assert.are.equal("3.0", iface.version)
    assert.are.equal(3, iface.major)
    assert.are.equal(0, iface.minor)
    assert.are.equal("srvsvc", iface.name)
    assert.are.equal(fn, iface.functions[15])
    assert.are.equal(15, fn.opnum)
    assert.are.equal("NetrShareEnum", fn.name)
  end)

  it("request stub matches Samba byte for byte", function()
    local args = { ServerName = "\\\\srv", InfoStruct = info, PreferedMaximumLength = 0xffffffff }
    assert.are.equal(SAMBA_IN, hex(ndr.encode_call(fn, "in", args)))
    local d = assert(ndr.decode_call(fn, "in", unhex(SAMBA_IN)))
    assert.are.same(args, d)
  end)

  it("response stub matches Samba byte for byte", function()
    local res = { InfoStruct = info, TotalEntries = 2, result = 0 }
    assert.are.equal(SAMBA_OUT, hex(ndr.encode_call(fn, "out", res)))
    assert.are.same(res, assert(ndr.decode_call(fn, "out", unhex(SAMBA_OUT))))
  end)

  it("big-endian response decodes to the same values", function()
    local be = ndr.encode_call(fn, "out", { InfoStruct = info, TotalEntries = 2, result = 0 }, { drep = "be" })
    assert.are.equal(H("00000001 00000001 00020000"), hex(be:sub(1, 12)))
    assert.are.same({ InfoStruct = info, TotalEntries = 2, result = 0 },
      assert(ndr.decode_call(fn, "out", be, { drep = "\0\0\0\0" })))
  end)

  it("truncated response at every offset gives an error, never a crash", function()
    local b = unhex(SAMBA_OUT)
    for i = 0, #b - 1 do
      local v, err = ndr.decode_call(fn, "out", b:sub(1, i))
      assert.is_nil(v)
      assert.is_table(err)
    end
  end)

  it("disassembles", function()
    local d = ndr.disasm(fn)
    assert.matches("UNION", d)
    assert.matches("PTRB", d)
    assert.matches("SHARE_ENUM_STRUCT", ndr.disasm(SES))
  end)
end)

describe("dcerpc.ndr #unit data representation", function()
  it("refuses EBCDIC characters and non-IEEE floats", function()
    decode_fails(ndr.uint32, "\0\0\0\0", "EBCDIC", { drep = 0x11 })
    decode_fails(ndr.uint32, "\0\0\0\0", "VAX", { drep = "\x10\x01\0\0" })
    decode_fails(ndr.uint32, "\0\0\0\0", "IBM", { drep = "\x10\x03\0\0" })
  end)
end)

describe("dcerpc.ndr #unit hostile input", function()
  local CA = ndr.unique(ndr.array(ndr.uint32, { size_is = "n" }))
  local S = ndr.struct "H1" { { "n", ndr.uint32 }, { "p", CA } }

  it("max_count 0xFFFFFFFF with an 8-byte body fails before allocating", function()
    decode_fails(ndr.array(ndr.uint32, { size_is = "n" }), unhex("ffffffff 01000000 02000000"), "bytes left")
    decode_fails(S, unhex("ffffffff 00000200 ffffffff 01000000"), "bytes left")
  end)

  it("offset + actual > max", function()
    decode_fails(ndr.string, unhex("02000000 01000000 02000000 6100"), "exceed")
    decode_fails(ndr.string, unhex("02000000 ffffffff 02000000 6100"), "exceed")
  end)

  it("a null unique pointer with a non-zero size", function()
    decode_fails(S, unhex("05000000 00000000"), "null pointer")
  end)

  it("size_is disagreeing with max_count", function()
    decode_fails(S, unhex("01000000 00000200 02000000 01000000 02000000"), "bad array size")
  end)

  it("unterminated and wrongly terminated strings", function()
    decode_fails(ndr.wstring, unhex("02000000 00000000 02000000 6100 6200"), "not terminated")
    decode_fails(ndr.string, unhex("02000000 00000000 02000000 6162"), "not terminated")
    decode_fails(ndr.string, unhex("00000000 00000000 00000000"), "terminator")
  end)

  it("leftover bytes unless partial", function()
    decode_fails(ndr.uint16, "\1\0\0", "left over")
    local v, off = ndr.decode(ndr.uint16, "\1\0\0", { partial = true })
    assert.are.equal(1, v)
    assert.are.equal(2, off)
  end)

  it("a description nested 10^5 deep is refused when built", function()
    assert.has_error(function()
      local t = ndr.uint32
      for _ = 1, 100000 do t = ndr.unique(t) end
    end)
  end)

  it("data nested 10^5 deep fails cleanly", function()
    local L = ndr.struct "Deep"
    L { { "v", ndr.uint32 }, { "next", ndr.unique(L) } }
    local parts = { "\0\0\2\0" }
    for _ = 1, 100000 do parts[#parts + 1] = "\1\0\0\0\4\0\2\0" end
    parts[#parts + 1] = "\1\0\0\0\0\0\0\0"
    decode_fails(ndr.unique(L), table.concat(parts), "nesting")
    -- and a deep Lua value when encoding
    local v = { v = 1 }
    for _ = 1, 100000 do v = { v = 1, next = v } end
    assert.has_error(function() ndr.encode(ndr.unique(L), v) end)
    -- within the limit it works
    local ok = { v = 1 }
    for _ = 1, 20 do ok = { v = 1, next = ok } end
    assert.are.same(ok, ndr.decode(ndr.unique(L), ndr.encode(ndr.unique(L), ok)))
  end)

  it("repeated full-pointer referent ids alias, never loop", function()
    local X = ndr.struct "HX" { { "v", ndr.uint32 }, { "self", ndr.full(ndr.struct "HY" { { "w", ndr.uint32 } }) } }
    local A = ndr.array(ndr.full(X), { length = 3 })
    -- three elements all with id 0x20000: one referent
    local d = assert(ndr.decode(A, unhex("00000200 00000200 00000200 07000000 04000200 09000000")))
    assert.are.equal(d[1], d[2])
    assert.are.equal(d[2], d[3])
    assert.are.equal(9, d[1].self.w)
  end)

  it("a union discriminant with no arm", function()
    local U = ndr.union "HU" { [1] = { "a", ndr.uint8 } }
    decode_fails(ndr.struct "HUS" { { "u", U } }, unhex("05000000"), "no union arm")
  end)

  it("range", function()
    local S2 = ndr.struct "RG" { { "n", ndr.uint32, range = { 1, 10 } } }
    roundtrip(S2, { n = 5 }, "05000000")
    decode_fails(S2, unhex("0b000000"), "range")
    assert.has_error(function() ndr.encode(S2, { n = 0 }) end)
  end)
end)

describe("dcerpc.ndr #unit description checks", function()
  it("names the type and field", function()
    local ok, e = pcall(ndr.struct "V1", { { "a", ndr.unique(ndr.array(ndr.uint8, { size_is = "nope" })) } })
    assert.is_false(ok)
    assert.matches("V1 field a: unknown field 'nope'", e)
    ok, e = pcall(ndr.struct "V2", { { "n", ndr.uint32 }, { "a", ndr.uint32, switch_is = "n" } })
    assert.is_false(ok)
    assert.matches("V2 field a: switch_is on a non%-union", e)
    ok, e = pcall(ndr.struct "V3", { { "a", ndr.array(ndr.uint8, { size_is = "n" }) }, { "n", ndr.uint32 } })
    assert.is_false(ok)
    assert.matches("last field", e)
    ok, e = pcall(ndr.func(1, "f"), { { "p", ndr.ref(ndr.array(ndr.uint8, { size_is = "q" })), "in" } })
    assert.is_false(ok)
    assert.matches("unknown parameter 'q'", e)
    assert.has_error(function() ndr.struct "V4" { { "a", 5 } } end)
  end)
end)

describe("dcerpc.ndr #unit Lua errors inside the interpreter", function()
  local In = ndr.struct "LE_In" { { "v", ndr.uint32 } }
  local S = ndr.struct "LE" { { "a", ndr.uint32 }, { "b", In } }

  it("an __index that raises propagates, and the module keeps working", function()
    local proxy = setmetatable({}, { __index = function(_, k) if k == "b" then error("boom") end return 1 end })
    local ok, e = pcall(ndr.encode, S, proxy)
    assert.is_false(ok)
    assert.matches("boom", tostring(e))
    assert.are.equal("0100000002000000", hex(ndr.encode(S, { a = 1, b = { v = 2 } })))
  end)

  it("values behind __index are read", function()
    local proxy = setmetatable({}, { __index = { a = 3, b = { v = 4 } } })
    assert.are.equal("0300000004000000", hex(ndr.encode(S, proxy)))
  end)

  it("a metamethod may itself call ndr.encode (nested runs)", function()
    local proxy = setmetatable({}, { __index = function(_, k)
      if k == "a" then return #ndr.encode(ndr.string, "xyz") end
      return { v = 5 }
    end })
    -- #encode(string "xyz") = 4 + 4 + 4 + 4 = 16
    assert.are.equal("1000000005000000", hex(ndr.encode(S, proxy)))
  end)

  it("decode errors are values, encode errors raise", function()
    local v, err = ndr.decode(S, "\1\0")
    assert.is_nil(v)
    assert.are.equal("ndr_buffer_size", err.name)
    assert.matches("LE: a: need 4 bytes, 2 left %(offset 0%)", err.message)
    assert.has_error(function() ndr.encode(S, { a = 1 }) end, "b: table expected, got nil")
  end)
end)

describe("dcerpc.ndr #unit cross-checked with Samba", function()
  it("lsa_String as RPC_UNICODE_STRING", function()
    -- python3-samba: ndr_pack(lsa.String(string = "ab\u00e9"))
    local S = ndr.struct "LS" { { "s", ndr.RPC_UNICODE_STRING } }
    roundtrip(S, { s = "ab\u{e9}" }, "060006000000020003000000000000000300000061006200e900")
  end)

  it("lsa_SidArray: array of pointers to conformant SIDs", function()
    -- python3-samba: ndr_pack(lsa.SidArray(num_sids = 2, sids = [SidPtr(S-1-5-21-1-2-3), SidPtr(NULL)]))
    local SidPtr = ndr.struct "lsa_SidPtr" { { "sid", ndr.unique(ndr.SID) } }
    local SA = ndr.struct "lsa_SidArray" { { "num_sids", ndr.uint32 },
      { "sids", ndr.unique(ndr.array(SidPtr, { size_is = "num_sids" })) } }
    roundtrip(SA, { num_sids = 2, sids = { { sid = "S-1-5-21-1-2-3" }, {} } },
      "020000000000020002000000040002000000000004000000010400000000000515000000010000000200000003000000")
  end)

  it("full pointers: the referent follows the first pointer met in the buffers pass", function()
    local X = ndr.struct "FX" { { "v", ndr.uint32 } }
    local R = ndr.struct "FR" { { "p2", ndr.full(X) } }
    local O = ndr.struct "FO" { { "p1", ndr.full(R) }, { "p3", ndr.full(X) } }
    local x = { v = 7 }
    -- O: p1 id 1, p3 id 2 (x first seen here) | R: p2 -> 2 | x's referent
    -- goes under p2, the first pointer to x reached while writing referents
    local b = ndr.encode(O, { p1 = { p2 = x }, p3 = x })
    assert.are.equal("01000000020000000200000007000000", hex(b))
    local d = assert(ndr.decode(O, b))
    assert.are.equal(d.p3, d.p1.p2)
    assert.are.equal(7, d.p3.v)
  end)
end)

describe("dcerpc.ndr #unit collector", function()
  it("is running again after big decodes, good or bad", function()
    local T = ndr.array(ndr.uint32, { size_is = "n" })
    local good = string.pack("<I4", 2000) .. string.rep("\1\0\0\0", 2000)
    assert.are.equal(2000, #assert(ndr.decode(T, good)))
    assert.is_true(collectgarbage("isrunning"))
    local v, err = ndr.decode(T, good:sub(1, -2))
    assert.is_nil(v)
    assert.is_table(err)
    assert.is_true(collectgarbage("isrunning"))
    collectgarbage("stop")
    assert(ndr.decode(T, good))
    assert.is_false(collectgarbage("isrunning"))
    collectgarbage("restart")
  end)
end)

describe("dcerpc.ndr #unit Samba rpcecho fixtures", function()
  -- python3-samba, samba.dcerpc.echo: ndr_pack_in / ndr_pack_out
  local info1 = ndr.struct "echo_info1" { { "v", ndr.uint8 } }
  local info4 = ndr.struct "echo_info4" { { "v", ndr.hyper } }
  local info6 = ndr.struct "echo_info6" { { "v1", ndr.uint8 }, { "info1", info1 } }
  local info7 = ndr.struct "echo_info7" { { "v1", ndr.uint8 }, { "info4", info4 } }
  local Info = ndr.union "echo_Info" { switch_type = ndr.uint16,
    [1] = { "info1", info1 }, [4] = { "info4", info4 }, [6] = { "info6", info6 }, [7] = { "info7", info7 } }
  local Surrounding = ndr.struct "echo_Surrounding" { { "x", ndr.uint32 },
    { "surrounding", ndr.array(ndr.uint16, { size_is = "x" }) } }
  local TestCall2 = ndr.func(4, "echo_TestCall2") { { "level", ndr.uint16, "in" },
    { "info", ndr.ref(Info), "out", switch_is = "level" }, returns = ndr.NTSTATUS }
  local TestSurrounding = ndr.func(8, "echo_TestSurrounding") { { "data", ndr.ref(Surrounding), "in,out" } }

  it("TestSurrounding: conformant struct, count hoisted", function()
    local args = { data = { x = 3, surrounding = { 1, 2, 3 } } }
    assert.are.equal("0300000003000000010002000300", hex(ndr.encode_call(TestSurrounding, "in", args)))
    assert.are.same(args, ndr.decode_call(TestSurrounding, "in", unhex("0300000003000000010002000300")))
  end)

  it("TestCall2: u16 discriminant, arms align themselves, then the NTSTATUS", function()
    assert.are.equal("0600090700000000", hex(ndr.encode_call(TestCall2, "out",
      { info = { info6 = { v1 = 9, info1 = { v = 7 } } }, result = 0 })))
    local out7 = "07000000000000000900000000000000887766554433221100000000"
    local r = { info = { info7 = { v1 = 9, info4 = { v = 0x1122334455667788 } } }, result = 0 }
    assert.are.equal(out7, hex(ndr.encode_call(TestCall2, "out", r)))
    assert.are.same(r, ndr.decode_call(TestCall2, "out", unhex(out7)))
    assert.are.equal("0700", hex(ndr.encode_call(TestCall2, "in", { level = 7 })))
  end)

  it("server side: [out] sizes from [in]-only parameters via opts.request", function()
    local f = ndr.func(1, "lookup") { { "max", ndr.uint32, "in" }, { "n", ndr.ref(ndr.uint32), "out" },
      { "ents", ndr.array(ndr.uint16, { size_is = "max", length_is = "*n" }), "out" } }
    -- max_count 4 (from the request), offset 0, actual 1
    local b = ndr.encode_call(f, "out", { n = 1, ents = { 9 } }, { request = { max = 4 } })
    assert.are.equal("010000000400000000000000010000000900", hex(b))
    -- without it the array's own length is used
    assert.are.equal("010000000100000000000000010000000900",
      hex(ndr.encode_call(f, "out", { n = 1, ents = { 9 } })))
  end)
end)

describe("dcerpc.ndr #unit expressions with C's operators", function()
  local core = require "dcerpc.core"
  local function sized(expr)
    return ndr.struct "X" { { "a", ndr.uint32 }, { "b", ndr.uint32 },
                            { "v", ndr.unique(ndr.array(ndr.uint8, { size_is = expr })) } }
  end
  -- each: expression, a, b, the count C computes
  local cases = {
    { "a % b", 17, 5, 2 }, { "a & b", 12, 10, 8 }, { "a | b", 12, 3, 15 }, { "a ^ b", 12, 10, 6 },
    { "a << b", 3, 2, 12 }, { "a >> b", 40, 3, 5 }, { "(a == b) + 1", 4, 4, 2 }, { "(a != b) + 1", 4, 4, 1 },
    { "(a < b) + (a > b) * 2", 3, 1, 2 }, { "(a <= b) + (a >= b)", 7, 7, 2 }, { "(a && b) + (a || b)", 0, 9, 1 },
    { "!a + 1", 0, 0, 2 }, { "~a & 7", 2, 0, 5 }, { "a ? b : 3", 0, 9, 3 }, { "a ? b : 3", 1, 9, 9 },
    { "a + b * 2 - 1", 1, 3, 6 }, { "a - b - 1", 9, 3, 5 }, { "a > 2 ? a > 4 ? 1 : 2 : 3", 5, 0, 1 },
    { "-a + b", 2, 7, 5 }, { "a << 64", 1, 0, 0 }, { "a >> b", 0, 70, 0 },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " with a=" .. c[2] .. ", b=" .. c[3] .. " sizes " .. c[4], function()
      local T = sized(c[1])
      local v = { a = c[2], b = c[3], v = string.rep("z", c[4]) }
      local bytes = ndr.encode(T, v)
      assert.are.equal(c[4], string.unpack("<I4", bytes, 13))    -- the max_count on the wire
      assert.are.same(v, (ndr.decode(T, bytes)))
      -- a reply whose count disagrees with the expression is refused
      local bad = bytes:sub(1, 12) .. string.pack("<I4", c[4] + 1) .. bytes:sub(17) .. "z"
      local d, err = ndr.decode(T, bad)
      assert.is_nil(d)
      assert.are.equal("ndr_array_size", err.name)
    end)
  end

  it("division and modulo by zero leave the size unknown: the given array is taken", function()
    local T = sized("a / b")
    assert.are.same({ a = 1, b = 0, v = "qq" }, (ndr.decode(T, ndr.encode(T, { a = 1, b = 0, v = "qq" }))))
  end)

  it("refuses malformed expressions when described and when loaded", function()
    for _, bad in ipairs { "a ?", "a ? b", "a <<", "(a", "a $ b", "a ? b : ", "!", "a b" } do
      assert.has_error(function() sized(bad) end)
    end
    -- a program whose ?: lacks operands is refused by the core's validator
    local code, nops, names, entries, title = ndr.program_words(sized("a ? b : 3"))
    local patched, found = {}, false
    for i, w in ipairs(code) do
      patched[i] = w
      if i > nops and w == 23 and not found then patched[i] = 21; found = true end   -- ?: -> ! keeps the count, breaks the stack
    end
    assert.is_true(found)
    local ok, e = pcall(core.ndr_load, patched, nops, names, entries, title)
    assert.is_false(ok and e ~= nil)
  end)
end)
