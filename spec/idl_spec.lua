-- dcerpc.idl: MIDL files -> the descriptions the Lua DSL builds.
--
-- spec/fixtures/idl/constructs.idl is a body of IDL written for the purpose,
-- with every construct the loader reads; each type and function it defines
-- is compared with the same thing written by hand in the DSL: the compiled
-- programs must be the same words (so the bytes on the wire are the same),
-- and values round-trip. Then one spec per kind of mistake, each naming
-- file, line and column. spec/idl_interop_spec.lua compares whole
-- interfaces with the shipped descriptions and with Samba.
local ndr = require "dcerpc.ndr"
local idl = require "dcerpc.idl"

local FIX = "spec/fixtures/idl/"
local u8, u16, u32, i32 = ndr.uint8, ndr.uint16, ndr.uint32, ndr.int32

local function load_constructs()
  local iface, err = idl.load(FIX .. "constructs.idl", { include = FIX .. "inc" })
  assert(iface, tostring(err))
  return iface
end

-- the same program: the same code words and the same field names
local function same_program(a, b)
  local ca, _, na = ndr.program_words(a)
  local cb, _, nb = ndr.program_words(b)
  assert.are.same(nb, na)
  assert.are.same(cb, ca)
end

-- the DSL descriptions of constructs.idl's types, by hand
local POINT = ndr.struct "POINT" { { "x", i32 }, { "y", i32 } }
local COLOR = ndr.v1_enum { Red = 1, Green = 2, Blue = 16 }
local NAMED = ndr.struct "NAMED" { { "name", ndr.unique(ndr.wstring) }, { "color", COLOR } }
local LIST = ndr.struct "LIST"
LIST { { "value", u32 }, { "next", ndr.unique(LIST) } }
local function info_union(stype)
  return ndr.union "INFO" {
    switch_type = stype,
    [1] = { "Level1", u32 }, [2] = { "Level2", NAMED }, [3] = { "Level2", NAMED },
    [6] = { "Level6", ndr.unique(LIST) }, [10] = {}, default = { "Other", POINT },
  }
end
local INFO = info_union(u32)

describe("dcerpc.idl #unit constructs.idl", function()
  local iface = load_constructs()
  local T = iface.types

  it("reads the interface header, opnums and constants", function()
    assert.are.equal("constructs", iface.name)
    assert.are.equal("6b0a5d1e-1f2c-4b8e-9a55-1234567890ab", iface.uuid)
    assert.are.equal("2.1", iface.version)
    assert.are.equal(2, iface.major)
    assert.are.equal(1, iface.minor)
    assert.are.equal("constructs", iface.pipe)
    assert.are.same({ "ncacn_np:[\\pipe\\constructs]", "ncacn_ip_tcp:[5555]" }, iface.endpoints)
    local names = {}
    for op = 0, 6 do names[#names + 1] = iface.functions[op].name end
    assert.are.same({ "OpenThing", "GetInfo", "Opnum2NotUsedOnWire", "EnumItems", "PutArrays",
                      "ReadBlock", "CloseThing" }, names)
    assert.is_nil(iface.functions[7])
    local c = iface.constants
    assert.are.equal(256, c.MAX_ITEMS)
    assert.are.equal(-1, c.MINUS_ONE)
    assert.are.equal(18, c.SHIFTED)
    assert.are.equal(17, c.FROM_DEFINE)            -- #define from an #include'd file
    assert.are.equal(0xFFFFFFFF, c.ALL_BITS)        -- (DWORD) -1 wraps as the unsigned type
    assert.are.equal(8, c.SHAPE_MAX)
    assert.are.same({ 0, 5, 6 }, { c.Small, c.Medium, c.Large })
    assert.are.same({ 1, 2, 16 }, { c.Red, c.Green, c.Blue })   -- from the imported common.idl
    assert.are.same({ 1, 2 }, { c.FLAG_A, c.FLAG_B })            -- pidl bitmap values
    assert.are.equal(1, c.HAVE_MIDL)                -- #ifdef __midl took the first branch
    assert.is_nil(c.MEDIUM_SHAPES)
  end)

  it("arrays of every kind", function()
    same_program(T.ARRAYS, ndr.struct "ARRAYS" {
      { "fixed", ndr.array(u32, { length = 4 }) },
      { "bytes", ndr.array(u8, { length = 8 }) },
      { "count", u32 }, { "first", u32 }, { "used", u32 },
      { "varying", ndr.array(u32, { length = 10, length_is = "used" }) },
      { "window", ndr.array(u32, { length = 10, first_is = "first", length_is = "used" }) },
      { "sized", ndr.unique(ndr.array(u32, { size_is = "count" })) },
      { "sized_varying", ndr.unique(ndr.array(u32, { size_is = "count", length_is = "used" })) },
      { "upto", ndr.unique(ndr.array(ndr.int16, { max_is = "count" })) },
      { "slice", ndr.array(u32, { length = 10, first_is = "first", length_is = "used-first+1" }) },
      { "grid", ndr.array(ndr.array(ndr.int16, { length = 3 }), { length = 2 }) },
      { "conformant", ndr.array(u32, { size_is = "count" }) },
    })
    local v = {
      fixed = { 1, 2, 3, 4 }, bytes = "ABCDEFGH", count = 3, first = 1, used = 3,
      varying = { 7, 8, 9 }, window = { 5, 6, 7 }, sized = { 11, 12, 13 }, sized_varying = { 13, 14, 15 },
      upto = { 1, 2, 3, 4 }, slice = { 21, 22, 23 }, grid = { { 1, 2, 3 }, { 4, 5, 6 } }, conformant = { 99, 98, 97 },
    }
    local b = ndr.encode(T.ARRAYS, v)
    assert.are.same(v, (ndr.decode(T.ARRAYS, b)))
  end)

  it("expressions with C's operators over fields", function()
    same_program(T.EXPRS, ndr.struct "EXPRS" {
      { "flags", u32 }, { "n", u32 },
      { "picked", ndr.unique(ndr.array(u8, { size_is = "flags & 1 ? n * 2 : n >> 1" })) },
      { "mixed", ndr.unique(ndr.array(u8, { size_is = "(n << 2) % 7 + !flags - -1" })) },
    })
    local v = { flags = 1, n = 3, picked = "abcdef" }                  -- flags & 1: n * 2
    v.mixed = string.rep("m", (3 << 2) % 7 + 0 + 1)
    assert.are.same(v, (ndr.decode(T.EXPRS, ndr.encode(T.EXPRS, v))))
    local w = { flags = 0, n = 9, picked = "abcd", mixed = string.rep("m", (9 << 2) % 7 + 1 + 1) }
    assert.are.same(w, (ndr.decode(T.EXPRS, ndr.encode(T.EXPRS, w))))
    assert.has_error(function() ndr.encode(T.EXPRS, { flags = 0, n = 9, picked = "abc", mixed = "" }) end)
  end)

  it("strings: pointers, fixed arrays, sized, counted", function()
    same_program(T.STRINGS, ndr.struct "STRINGS" {
      { "wide", ndr.unique(ndr.wstring) },
      { "narrow", ndr.unique(ndr.string) },
      { "lpwstr", ndr.unique(ndr.wstring) },
      { "fixed_wide", ndr.wstring { length = 16 } },
      { "fixed_narrow", ndr.string { length = 20 } },
      { "cap", u32 },
      { "capped", ndr.unique(ndr.wstring { size_is = "cap" }) },
      { "counted", ndr.RPC_UNICODE_STRING },
    })
    local v = { wide = "wïde", narrow = "narrow", lpwstr = "lp", fixed_wide = "fw", fixed_narrow = "fn",
                cap = 10, capped = "capped", counted = "counted" }
    assert.are.same(v, (ndr.decode(T.STRINGS, ndr.encode(T.STRINGS, v))))
  end)

  it("pointers: defaults, attributes, typedefs, two levels", function()
    same_program(T.POINTERS, ndr.struct "POINTERS" {
      { "by_default", ndr.unique(u32) },          -- pointer_default(unique)
      { "uniq", ndr.unique(u32) },
      { "full", ndr.full(u32) },
      { "never_null", ndr.ref(u32) },
      { "two_levels", ndr.unique(ndr.unique(u32)) },
      { "point", ndr.unique(POINT) },             -- PPOINT from the #include'd header
      { "named", ndr.unique(NAMED) },             -- PNAMED from the imported file
    })
    same_program(T.LIST, LIST)
    same_program(T.REF_DWORD, ndr.ref(u32))
  end)

  it("nested anonymous struct and union", function()
    local n = T.NESTED
    assert.are.equal("struct", n.fields[1].type.kind)
    same_program(n.fields[1].type, ndr.struct "inner" { { "a", u16 }, { "b", u16 } })
    same_program(n, ndr.struct "NESTED" {
      { "inner", ndr.struct "inner" { { "a", u16 }, { "b", u16 } } },
      { "tag", u32 },
      { "choice", ndr.union "choice" { switch_type = u32, [1] = { "one", u32 }, [2] = { "two", ndr.wchar_t } },
        switch_is = "tag" },
    })
  end)

  it("unions: switch_type, multi-case arms, empty and default arms, switch_is, field switch_type", function()
    same_program(T.INFO, INFO)
    same_program(T.INFO_HOLDER, ndr.struct "INFO_HOLDER" {
      { "Level", u32 },
      { "Info", INFO, switch_is = "Level" },
      { "Short", u16 },
      { "ShortInfo", info_union(u16), switch_is = "Short" },
    })
    local v = { Level = 2, Info = { Level2 = { name = "n", color = 2 } }, Short = 6,
                ShortInfo = { Level6 = { value = 1, next = { value = 2 } } } }
    assert.are.same(v, (ndr.decode(T.INFO_HOLDER, ndr.encode(T.INFO_HOLDER, v))))
    local w = { Level = 77, Info = { Other = { x = -1, y = 2 } }, Short = 10, ShortInfo = {} }
    local got = ndr.decode(T.INFO_HOLDER, ndr.encode(T.INFO_HOLDER, w))
    assert.are.same({ x = -1, y = 2 }, got.Info.Other)
    assert.are.equal(10, got.Short)
  end)

  it("encapsulated unions", function()
    local text = { "Text", ndr.unique(ndr.wstring) }
    same_program(T.ENCAP, ndr.encapsulated_union "ENCAP" {
      switch_type = i32, switch_name = "Kind",
      [1] = { "Number", u32 }, [2] = text, [3] = text,   -- one arm, two cases
      default = {},
    })
    local v = { Kind = 3, Text = "three" }
    assert.are.same(v, (ndr.decode(T.ENCAP, ndr.encode(T.ENCAP, v))))
  end)

  it("scalars, enums, [range], pidl attributes with no NDR effect, bitmaps", function()
    same_program(T.MISC, ndr.struct "MISC" {
      { "percent", u32, range = { 0, 100 } },
      { "size", ndr.enum16 { Small = 0, Medium = 5, Large = 6 } },
      { "color", COLOR },
      { "flag", ndr.boolean },
      { "flag2", ndr.boolean },
      { "big", ndr.int64 },
      { "big2", ndr.uint64 },
      { "tiny", ndr.int8 },
      { "real", ndr.double },
      { "id", ndr.GUID },
      { "when", ndr.FILETIME },
      { "large", ndr.int64 },
      { "hexed", u32 },
      { "pidl_name", ndr.unique(ndr.wstring) },
      { "plain", u32 },
    })
    same_program(T.FLAGS, u16)
    same_program(T.SIZE, ndr.enum16 { Small = 0, Medium = 5, Large = 6 })
    -- a [range] is checked when decoding
    local ok = ndr.encode(T.MISC, { percent = 100, size = 5, color = 1, flag = true, flag2 = false, big = -1,
      big2 = 2, tiny = -3, real = 0.5, id = "6b0a5d1e-1f2c-4b8e-9a55-1234567890ab", when = 1, large = 3,
      hexed = 4, plain = 5 })
    local bad = ok:sub(1, 0) .. string.pack("<I4", 101) .. ok:sub(5)
    local v, err = ndr.decode(T.MISC, bad)
    assert.is_nil(v)
    assert.are.equal("ndr_range", err.name)
  end)

  it("SIDs and pointers to them", function()
    same_program(T.SIDS, ndr.struct "SIDS" {
      { "owner", ndr.unique(ndr.SID) },
      { "group", ndr.unique(ndr.SID) },
      { "n", u32 },
      { "all", ndr.unique(ndr.array(ndr.unique(ndr.SID), { size_is = "n" })) },
    })
  end)

  it("functions: binding handles dropped, top-level [ref], context handles, sized [out] arrays", function()
    local F = iface.functions
    local CTX = ndr.context_handle
    same_program(F.OpenThing, ndr.func(0, "OpenThing") {
      { "ServerName", ndr.unique(ndr.wstring), "in" },
      { "DesiredAccess", u32, "in" },
      { "Thing", ndr.ref(CTX), "out" },
      returns = u32,
    })
    assert.are.equal(u32, F.OpenThing.returns)
    same_program(F.GetInfo, ndr.func(1, "GetInfo") {
      { "Thing", CTX, "in" },
      { "Level", u32, "in", range = { 1, 10 } },
      { "Info", ndr.ref(ndr.unique(INFO)), "out", switch_is = "Level" },
      returns = ndr.NTSTATUS,
    })
    assert.are.equal(ndr.NTSTATUS, F.GetInfo.returns)
    assert.is_true(F.GetInfo.idempotent)
    same_program(F.EnumItems, ndr.func(3, "EnumItems") {
      { "Thing", CTX, "in" },
      { "Resume", ndr.unique(u32), "in,out" },
      { "Max", u32, "in" },
      { "Count", ndr.ref(u32), "out" },
      { "Items", ndr.ref(ndr.unique(ndr.array(NAMED, { size_is = "*Count" }))), "out" },
      returns = i32,
    })
    same_program(F.ReadBlock, ndr.func(5, "ReadBlock") {
      { "Handle", CTX, "in" },
      { "Size", u32, "in" },
      { "Buffer", ndr.ref(ndr.array(u8, { size_is = "Size", length_is = "*Read" })), "out" },
      { "Read", ndr.ref(u32), "out" },
      { "Data", ndr.array(u8, { size_is = "Size*2+1" }), "in" },
      returns = ndr.WERROR,                 -- error_status_t: Win32 codes
    })
    same_program(F.CloseThing, ndr.func(6, "CloseThing") { { "Thing", ndr.ref(CTX), "in,out" } })
    assert.is_nil(F.CloseThing.returns)
    assert.are.equal(0, #F.Opnum2NotUsedOnWire.params)
    -- PutArrays: every top-level pointer is [ref], the typedef'd context handle pointer too
    local p = F.PutArrays.byname
    assert.are.same({ "ref", "unique", "ref", "struct", "ref", "ref", "ref", "prim", "ref", "ref" },
      (function()
        local r = {}
        for _, pd in ipairs(F.PutArrays.params) do r[#r + 1] = pd.type.ptype or pd.type.kind end
        return r
      end)())
    assert.is_true(p.Strings.type.kind == "ptr" and p.Strings.type.ptype == "unique")
    assert.are.equal(ndr.context_handle, p.Handle.type.target)
    assert.are.equal("in,out", (p.Handle["in"] and p.Handle.out) and "in,out")
  end)

  it("encodes a call the same as the DSL", function()
    local F = iface.functions
    local args = { Thing = string.rep("\1", 20), Resume = 7, Max = 100 }
    local dsl = ndr.func(3, "EnumItems") {
      { "Thing", ndr.context_handle, "in" }, { "Resume", ndr.unique(u32), "in,out" }, { "Max", u32, "in" },
      { "Count", ndr.ref(u32), "out" }, { "Items", ndr.ref(ndr.unique(ndr.array(NAMED, { size_is = "*Count" }))), "out" },
      returns = i32,
    }
    assert.are.equal(ndr.encode_call(dsl, "in", args), ndr.encode_call(F.EnumItems, "in", args))
    local out = { Resume = 9, Count = 2, Items = { { name = "a", color = 1 }, { name = "b", color = 16 } }, result = 0 }
    local bytes = ndr.encode_call(dsl, "out", out)
    assert.are.equal(bytes, ndr.encode_call(F.EnumItems, "out", out))
    assert.are.same(out, (ndr.decode_call(F.EnumItems, "out", bytes)))
    local be = ndr.encode_call(F.EnumItems, "out", out, { drep = "be" })
    assert.are.same(out, (ndr.decode_call(dsl, "out", be, { drep = 0x00 })))
  end)
end)

describe("dcerpc.idl #unit sources", function()
  it("parses text with idl.parse, the predefined types standing for ms-dtyp.idl", function()
    local iface = assert(idl.parse([[
      import "ms-dtyp.idl";
      [uuid(00000001-0002-0003-0405-060708090a0b)] interface tiny {
        DWORD Ping([in] LPWSTR Who, [out] PDWORD Count, [out] NET_API_STATUS *Status);
      }
    ]]))
    assert.are.equal("tiny", iface.name)
    assert.are.equal("1.0", iface.version)
    local f = iface.functions.Ping
    same_program(f, ndr.func(0, "Ping") {
      { "Who", ndr.ref(ndr.wstring), "in" }, { "Count", ndr.ref(u32), "out" },
      { "Status", ndr.ref(ndr.WERROR), "out" }, returns = u32,
    })
  end)

  it("accepts calling conventions, cpp_quote, midl_pragma, [local] and forward declarations", function()
    local iface = assert(idl.parse([[
      interface fwd;
      cpp_quote("// nothing")
      [uuid(00000001-0002-0003-0405-060708090a0b), version(1), local] interface cc {
        typedef struct _S S;
        struct _S { long a; };
        midl_pragma warning(disable: 2362)
        long __stdcall A([in] S *s);
        long __cdecl B(void);
        long __RPC_FAR __stdcall C([in] long __RPC_FAR *p);
      };
    ]]))
    assert.are.equal("1.0", iface.version)
    assert.are.equal("C", iface.functions[2].name)
  end)

  it("reads the .acf beside the .idl and checks the names it uses", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local function write(name, text) local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close() end
    write("a.idl", [=[[uuid(00000001-0002-0003-0405-060708090a0b)] interface a { long F([in] long x); }]=])
    write("a.acf", "[implicit_handle(handle_t h)] interface a { F([comm_status] s); }")
    assert(idl.load(dir .. "/a.idl"))
    write("a.acf", "interface a {\n  G();\n}")
    local _, err = idl.load(dir .. "/a.idl")
    assert.are.equal(dir .. "/a.acf", err.file)
    assert.are.equal(2, err.line)
    assert.matches("procedure G", err.message)
    assert(idl.load(dir .. "/a.idl", { acf = false }))
    local _, e2 = idl.load(dir .. "/a.acf")
    assert.matches("load the .idl", e2.message)
    os.execute("rm -rf " .. dir)
  end)

  it("takes defines from the options, and several interfaces by name", function()
    local text = [[
      #ifdef WANT_B
      [uuid(00000001-0002-0003-0405-060708090a0b)] interface a { void F(void); }
      [uuid(00000001-0002-0003-0405-060708090a0c)] interface b { void G(void); }
      #else
      [uuid(00000001-0002-0003-0405-060708090a0b)] interface a { void F(void); }
      #endif
    ]]
    assert.are.equal("a", assert(idl.parse(text)).name)
    local _, err = idl.parse(text, { defines = { WANT_B = true } })
    assert.matches("several interfaces %(a, b%)", err.message)
    local b = assert(idl.parse(text, { defines = { WANT_B = true }, interface = "b", name = "bee" }))
    assert.are.equal("bee", b.name)
    assert.are.equal("00000001-0002-0003-0405-060708090a0c", b.uuid)
  end)

  it("raises on misuse of the API (not a file error)", function()
    assert.has_error(function() idl.parse(42) end)
    assert.has_error(function() idl.parse("", { includ = "x" }) end, nil)
  end)
end)

-- ------------------------------------------------------------ errors
-- Each: the text, the line and column the error names, and its message.
local HDR = "[uuid(00000001-0002-0003-0405-060708090a0b)] interface e {\n"
local ERRORS = {
  { "syntax: a missing ';'", HDR .. "  typedef long A\n  typedef long B;\n}", 3, 3, "syntax error near 'typedef'" },
  { "syntax: stray text", HDR .. "  void F(void);\n}\n$", 4, 1, "syntax error near '%$'" },
  { "an unclosed comment", HDR .. "  /* never closed\n}", 2, 3, "comment not closed" },
  { "an unknown type", HDR .. "  typedef DWROD X;\n}", 2, 11, "unknown type 'DWROD'" },
  { "an unknown type in a parameter", HDR .. "  void F([in] Foo x);\n}", 2, 15, "unknown type 'Foo'" },
  { "an unknown attribute", HDR .. "  void F([in, frobnicate] long x);\n}", 2, 15, "unknown attribute %[frobnicate%]" },
  { "pipes", HDR .. "  typedef pipe long P;\n}", 2, 11, "pipes are not supported" },
  { "pidl [value()]", HDR .. "  typedef struct { [value(4)] long n; } S;\n}", 2, 21, "%[value%]" },
  { "pidl flag with an NDR effect", HDR .. "  typedef struct { [flag(NDR_NOALIGN)] long n; } S;\n}", 2, 21, "NDR_NOALIGN" },
  { "an object interface", "[object, uuid(00000001-0002-0003-0405-060708090a0b)] interface e { }", 1, 2, "object %(DCOM%)" },
  { "size_is naming no field", HDR .. "  typedef struct { long n; [size_is(m)] long *p; } S;\n}", 2, 37, "'m' is neither a field" },
  { "size_is naming no parameter", HDR .. "  void F([in] long n, [in, size_is(count)] long *p);\n}", 2, 36, "'count' is neither a parameter" },
  { "a string in an expression", HDR .. "  void F([in] long n, [in, size_is(n + \"x\")] long *p);\n}", 2, 40, "'str' is not supported" },
  { "a pointer taken in an expression", HDR .. "  void F([in] long n, [in, size_is(&n)] long *p);\n}", 2, 36, "'&' is not supported" },
  { "a conformant array without size", HDR .. "  typedef struct { long n; long a[]; } S;\n}", 2, 35, "needs %[size_is%]" },
  { "[string] on a non-character", HDR .. "  void F([in, string] long *p);\n}", 2, 28, "%[string%] needs char" },
  { "a union arm without a case", HDR .. "  typedef [switch_type(long)] union { long a; } U;\n}", 2, 39, "needs %[case%(%)%] or %[default%]" },
  { "a case twice", HDR .. "  typedef [switch_type(long)] union { [case(1)] long a; [case(1)] long b; } U;\n}", 2, 57, "case 1 twice" },
  { "a case label that is not constant", HDR .. "  typedef [switch_type(long)] union { [case(x)] long a; } U;\n}", 2, 45, "case label must be an integer constant" },
  { "a missing uuid", "[version(1.0)] interface e { void F(void); }", 1, 1, "needs %[uuid" },
  { "a bad pointer_default", "[uuid(00000001-0002-0003-0405-060708090a0b), pointer_default(weak)] interface e { }", 1, 62, "pointer_default must be" },
  { "no interface", "typedef long A;\n", 2, 1, "no interface" },
  { "#if without #endif", "#if 1\n" .. HDR .. "}", 1, 1, "#if without #endif" },
  { "#endif without #if", HDR .. "}\n#endif", 3, 1, "#endif without #if" },
  { "#error", "#ifndef X\n#error X is needed\n#endif\n", 2, 1, "#error X is needed" },
  { "an unknown directive", "#frob\n", 1, 1, "unknown directive #frob" },
  { "an import not found", 'import "nowhere.idl";\n' .. HDR .. "}", 1, 1, "cannot find import 'nowhere.idl'" },
  { "an #include not found", '\n#include "nowhere.h"\n', 2, 1, "cannot find #include 'nowhere.h'" },
  { "a function pointer", HDR .. "  typedef long (*FP)(long);\n}", 2, 16, "function pointers are not supported" },
  { "a library block", "[uuid(00000001-0002-0003-0405-060708090a0b)] library L { }", 1, 1, "library blocks" },
  { "a pointer to void", HDR .. "  void F([in] void *p);\n}", 2, 15, "pointer to void carries no data" },
  { "inheritance", "[uuid(00000001-0002-0003-0405-060708090a0b)] interface e : IUnknown { }", 1, 1, "inherits from IUnknown" },
  { "too many size_is entries", HDR .. "  void F([in] long n, [in, size_is(n, n)] long *p);\n}", 2, 28, "more entries than the declaration" },
  { "a constant referring to itself", HDR .. "  const long A = A + 1;\n  void F([in] long x[A]);\n}", 2, 18, "refers to itself" },
  { "a field twice", HDR .. "  typedef struct {\n    long a;\n    long a;\n  } S;\n}", 2, 11, "duplicate field" },
}

describe("dcerpc.idl #unit errors name file, line and column", function()
  for _, case in ipairs(ERRORS) do
    it(case[1], function()
      local iface, err = idl.parse(case[2], { file = "case.idl" })
      assert.is_nil(iface)
      assert.is_table(err)
      assert.matches(case[5], err.message)
      assert.are.equal("case.idl", err.file)
      assert.are.same({ case[3], case[4] }, { err.line, err.column })
      assert.are.equal(string.format("case.idl:%d:%d: %s", err.line, err.column, err.message), tostring(err))
      assert.are.equal("x: " .. tostring(err), "x: " .. err)
    end)
  end

  it("names the included file for an error inside it", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local f = assert(io.open(dir .. "/inc.h", "w"))
    f:write("// header\n#define OK 1\ntypedef long ;\n")
    f:close()
    local _, err = idl.parse('#include "inc.h"\n' .. HDR .. "}", { file = dir .. "/main.idl" })
    assert.are.equal(dir .. "/inc.h", err.file)
    assert.are.same({ 3, 14 }, { err.line, err.column })
    -- the include path option finds it from elsewhere
    local _, err2 = idl.parse('#include "inc.h"\n' .. HDR .. "}", { include = { dir } })
    assert.are.equal(dir .. "/inc.h", err2.file)
    os.execute("rm -rf " .. dir)
  end)

  it("a file that cannot be read", function()
    local _, err = idl.load("/nonexistent/x.idl")
    assert.matches("cannot read", err.message)
    assert.are.equal("/nonexistent/x.idl", err.file)
  end)
end)

-- ------------------------------------------------------------ a server from IDL
-- examples/rpcecho.idl served by examples/echo-server.lua's handlers: Samba's
-- smbtorture (an independent client with its own NDR) passes against it, and
-- our client with the shipped Lua description gets the same answers.
describe("dcerpc.idl #interop a server loaded from an .idl file", function()
  local examples = require "helpers.examples"
  local torture = require "helpers.torture"
  local dcerpc = require "dcerpc"
  local es
  setup(function()
    es = assert(examples.start("echo-server.lua", { "--idl", "examples/rpcecho.idl" }, "ncacn_ip_tcp:127.0.0.1[0]"))
  end)
  teardown(function() if es then es.close() end end)

  it("the IDL's programs are the shipped description's, word for word", function()
    local from_idl = assert(idl.load("examples/rpcecho.idl"))
    local shipped = dcerpc.interface "rpcecho"
    for op = 0, 9 do same_program(from_idl.functions[op], shipped.functions[op]) end
    assert.are.equal(shipped.uuid, from_idl.uuid)
    assert.are.equal("rpcecho", from_idl.pipe)
  end)

  it("smbtorture rpc.echo passes all 10 sub-tests", function()
    if not torture.available() then return end
    local ok, bad, out = torture.run(string.format("ncacn_ip_tcp:127.0.0.1[%d]", es.port), { "rpc.echo" })
    assert.are.equal(0, #bad, out)
    assert.are.equal(10, #ok, out)
  end)

  it("answers our client using the shipped description", function()
    local c = assert(dcerpc.connect(es.endpoints[1], "rpcecho"))
    assert.are.same({ out_data = 42 }, assert(c:AddOne { in_data = 41 }))
    assert.are.same({ info = { info5 = { v1 = 50, v2 = 60 } }, result = 0 }, assert(c:TestCall2 { level = 5 }))
    assert.are.same({ s2 = "héllo" }, assert(c:TestCall { s1 = "héllo" }))
    c:close()
  end)
end)

describe("dcerpc.idl #unit hostile text", function()
  local hdr = "[uuid(00000001-0002-0003-0405-060708090a0b)] interface e {\n"

  it("gives an error, never raises, for text nested past the parser's limits", function()
    for _, n in ipairs { 30, 200, 5000 } do
      local r, err = idl.parse(hdr .. "const long A = " .. string.rep("(", n) .. "1" .. string.rep(")", n) .. ";\n}")
      if n == 30 then assert.are.equal(1, r.constants.A)
      else assert.is_nil(r); assert.matches("nested too deeply", err.message) end
      local r2, err2 = idl.parse(hdr .. "typedef long " .. string.rep("*", n) .. "P;\n void F([in] P p);}")
      if n == 30 then assert.truthy(r2) else assert.is_nil(r2); assert.matches("nested deeper than", err2.message) end
    end
  end)

  it("mangled files give nil, err with a position, never a Lua error (300 mutations)", function()
    local base = io.open(FIX .. "constructs.idl"):read("a")
    local toks = { "[", "]", "(", ")", "{", "}", ";", ",", "*", "#if", "#endif", "/*", '"', "'", "switch", "case",
                   "union", "struct", "[]", "size_is(", "-", "<<", "?", "typedef", "interface", "#define X" }
    for t in base:gmatch("[%w_]+") do toks[#toks + 1] = t end
    local seed = 12345
    local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end
    local loaded = 0
    for _ = 1, 300 do
      local s = base
      for _ = 1, rnd(4) do
        local pos, r = rnd(#s), rnd(3)
        if r == 1 then s = s:sub(1, pos) .. s:sub(pos + rnd(20))
        elseif r == 2 then s = s:sub(1, pos) .. " " .. toks[rnd(#toks)] .. " " .. s:sub(pos + 1)
        else local p2 = rnd(#s); s = s:sub(1, pos) .. s:sub(p2, p2 + rnd(30)) .. s:sub(pos + 1) end
      end
      local ok, r, err = pcall(idl.parse, s, { file = "m.idl", include = { FIX .. "inc", FIX } })
      assert(ok, r)
      if r then loaded = loaded + 1
      else
        assert.are.equal("m.idl", err.file:match("[^/]+$") == "shapes.h" and "m.idl" or err.file)
        assert.is_true(err.line >= 1 and err.column >= 1, "[" .. tostring(err) .. "]")
      end
    end
    assert.is_true(loaded > 0 and loaded < 300)
  end)
end)

-- examples/notes-server.lua: an interface that exists only as MIDL, served
-- from it, and called by a client that loads the same file
describe("dcerpc.idl #interop a prototype server from examples/notes.idl", function()
  local examples = require "helpers.examples"
  local dcerpc = require "dcerpc"
  local es
  setup(function() es = assert(examples.start("notes-server.lua", {}, "ncacn_ip_tcp:127.0.0.1[0]")) end)
  teardown(function() if es then es.close() end end)

  it("adds, lists by kind and deletes notes through a context handle", function()
    local notes = assert(idl.load("examples/notes.idl"))
    local K = notes.constants
    local c = assert(dcerpc.connect(es.endpoints[1], notes))
    local nb = assert(c:OpenNotebook { Name = "work" }).Notebook
    assert.are.equal(20, #nb)
    local r1 = assert(c:AddNote { Notebook = nb, Note = { Id = 0, Title = "first", Kind = K.KindText,
                                                          Body = { Text = "hello, wörld" } } })
    local r2 = assert(c:AddNote { Notebook = nb, Note = { Id = 0, Title = "todo", Kind = K.KindTodo,
                                                          Body = { Todo = { Done = false, Due = 133000000000000000 } } } })
    assert.are.same({ 1, 2 }, { r1.Id, r2.Id })
    local all = assert(c:ListNotes { Notebook = nb, Kind = 0 }).List
    assert.are.equal(2, all.Count)
    assert.are.same({ Id = 1, Title = "first", Kind = K.KindText, Body = { Text = "hello, wörld" } }, all.Notes[1])
    assert.are.same({ Done = false, Due = 133000000000000000 }, all.Notes[2].Body.Todo)
    local todos = assert(c:ListNotes { Notebook = nb, Kind = K.KindTodo }).List
    assert.are.equal(1, todos.Count)
    assert(c:DeleteNote { Notebook = nb, Id = 1 })
    local _, err, res = c:DeleteNote { Notebook = nb, Id = 1 }
    assert.are.equal("STATUS_NOT_FOUND", err.name)
    assert.are.equal(0xC0000225, res.result)
    assert.are.equal(string.rep("\0", 20), assert(c:CloseNotebook { Notebook = nb }).Notebook)
    local _, e2 = c:ListNotes { Notebook = nb, Kind = 0 }
    assert.are.equal("STATUS_INVALID_HANDLE", e2.name)
    c:close()
  end)
end)
