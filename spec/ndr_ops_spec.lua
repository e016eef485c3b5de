-- ndr_ops_spec: the NDR opcode list is written once, in C
-- (engine/ndr/ndr_ops.h), and exported as core.ndr_ops; these tests fail
-- when the Lua compiler (dcerpc.ndr) and the C core drift apart, and when
-- the programs the fuzz harness embeds (test/fuzz/fuzz_ndr_programs.h) are
-- no longer what tools/gen-fuzz-programs.lua generates.
local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"

local F_RANGE, F_AUTO, AUTO_UNION = 0x80, 0x40, 0x7F   -- ndr.h

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- opcode number -> { name = ..., len = ..., int = ... }, from the core
local bycode = {}
for name, o in pairs(core.ndr_ops) do bycode[o.code] = { name = name, len = o.len, int = o.int } end

-- The instruction starts of code[0..ncodeops), found with the core's lengths.
local function walk(code, ncodeops)
  local starts, pc = {}, 0
  while pc < ncodeops do
    local w = code[pc + 1]
    local o = assert(bycode[w & 0x3F], "unknown opcode " .. (w & 0x3F) .. " at " .. pc)
    local n = o.len
    if o.int then
      if w & F_RANGE ~= 0 then n = n + 4 end
      if w & F_AUTO ~= 0 then n = n + (((code[pc + n + 1] >> 24) & 0x7F) == AUTO_UNION and 2 or 1) end
    else
      assert.are.equal(0, w & (F_RANGE | F_AUTO), o.name .. " with integer flags at " .. pc)
    end
    starts[#starts + 1] = pc
    pc = pc + n
  end
  assert.are.equal(ncodeops, pc, "the last instruction runs past the code")
  return starts
end

-- Descriptions that, together, make the compiler emit every opcode.
local function corpus()
  local list = {}
  for _, m in ipairs { "epm", "mgmt", "rpcecho", "samr", "srvsvc", "wkssvc" } do
    local ok, iface = pcall(require, "dcerpc.iface." .. m)
    if ok then
      for k, fn in pairs(iface.functions) do
        if math.type(k) == "integer" then list[#list + 1] = fn end
      end
    end
  end
  local NODE = ndr.struct "NODE"
  NODE { { "v", ndr.uint32 }, { "s", ndr.RPC_UNICODE_STRING }, { "g", ndr.GUID },
         { "sid", ndr.unique(ndr.SID) }, { "next", ndr.full(NODE) } }
  list[#list + 1] = ndr.full(NODE)
  list[#list + 1] = ndr.struct "ALL" {
    { "u8", ndr.uint8 }, { "i8", ndr.int8 }, { "u16", ndr.uint16 }, { "i16", ndr.int16 },
    { "i32", ndr.int32 }, { "u64", ndr.uint64 }, { "ft", ndr.FILETIME }, { "f32", ndr.float },
    { "f64", ndr.double }, { "b", ndr.boolean }, { "e16", ndr.enum16 { A = 1 } },
    { "e32", ndr.v1_enum { X = 7 } }, { "h", ndr.context_handle }, { "r", ndr.uint32, range = { 1, 10 } },
    { "n", ndr.uint16, range = { 0, 4 } }, { "p", ndr.unique(ndr.array(ndr.uint16, { size_is = "n" })) },
    { "u", ndr.encapsulated_union "EU" { switch_type = ndr.uint16, switch_name = "k",
      [1] = { "s", ndr.unique(ndr.string) }, [2] = {} } },
    { "c", ndr.struct "TAIL" { { "m", ndr.uint32 }, { "a", ndr.array(ndr.uint8, { size_is = "m" }) } } },
  }
  list[#list + 1] = ndr.func(1, "md") { { "a", ndr.uint32, "in" }, { "b", ndr.uint32, "in" },
    { "m", ndr.ref(ndr.array(ndr.uint16, { size_is = { "a", "b" } })), "in" } }
  return list
end

describe("dcerpc.ndr #unit opcodes: one list in C, read by Lua", function()
  it("core.ndr_ops numbers the opcodes 0..n-1, each once", function()
    local n = 0
    for name, o in pairs(core.ndr_ops) do
      n = n + 1
      assert.is_string(name)
      assert.are.equal("integer", math.type(o.code))
      assert.is_true(o.len >= 1 and o.len <= 8, name)
      assert.is_boolean(o.int)
    end
    for code = 0, n - 1 do assert.is_table(bycode[code], "no opcode " .. code) end
    assert.is_true(n >= 36 and n <= 64)
    -- numbers compiled programs depend on
    assert.are.equal(0, core.ndr_ops.RET.code)
    assert.are.equal(28, core.ndr_ops.ARR.code)
    assert.are.equal(35, core.ndr_ops.RUSB.code)
  end)

  it("the compiler's opcode table is the core's", function()
    local seen = 0
    for name, code in next, ndr.opcodes do   -- raw: no __index
      seen = seen + 1
      assert.is_table(core.ndr_ops[name], "compiler opcode " .. name .. " not in the core")
      assert.are.equal(core.ndr_ops[name].code, code, name)
    end
    for name in pairs(core.ndr_ops) do assert.is_not_nil(rawget(ndr.opcodes, name), name) end
    assert.is_true(seen > 0)
    assert.has_error(function() return ndr.opcodes.NOSUCHOP end)
  end)

  it("every opcode named in the compiler's source exists in the core", function()
    local src = read(assert(package.searchpath("dcerpc.ndr", package.path)))
    local names = 0
    for name in src:gmatch("OP%.([%a_][%w_]*)") do
      names = names + 1
      assert.is_table(core.ndr_ops[name], "dcerpc.ndr uses OP." .. name .. ", unknown to the core")
    end
    assert.is_true(names > 30)
    assert.is_nil(src:match("RET%s*=%s*0"), "dcerpc.ndr spells out opcode numbers again")
  end)

  it("compiled programs: the compiler's instructions have the core's lengths and names", function()
    local used = {}
    for _, x in ipairs(corpus()) do
      local code, ncodeops, _, _, title, starts = ndr.program_words(x)
      -- the compiler's own instruction starts are the ones the core's lengths give
      assert.are.same(walk(code, ncodeops), starts, title)
      -- the disassembler (C) names each instruction as the compiler emitted it
      local dis = {}
      for pc, name in ndr.disasm(x):gmatch("\n%s*(%d+)  (%u[%u%d]*)") do dis[tonumber(pc)] = name end
      local n = 0
      for _, pc in ipairs(starts) do
        local o = bycode[code[pc + 1] & 0x3F]
        assert.are.equal(o.name, dis[pc], title .. " at " .. pc)
        used[o.name] = true
        n = n + 1
      end
      for _ in pairs(dis) do n = n - 1 end
      assert.are.equal(0, n, title .. ": the disassembly has other instructions")
    end
    for name in pairs(core.ndr_ops) do
      assert.is_true(used[name], "no description here makes the compiler emit " .. name)
    end
  end)
end)

describe("dcerpc.ndr #unit fuzz programs", function()
  local HEADER = "test/fuzz/fuzz_ndr_programs.h"

  it("test/fuzz/fuzz_ndr_programs.h is what tools/gen-fuzz-programs.lua writes today", function()
    local tmp = os.tmpname()
    local gen = assert(loadfile("tools/gen-fuzz-programs.lua"))
    local path, cpath = package.path, package.cpath
    gen(tmp)
    -- loaded here, it must use this run's modules and leave the paths alone
    -- (the specs after this one may run against the sanitizer build)
    assert.are.equal(path, package.path)
    assert.are.equal(cpath, package.cpath)
    local fresh = read(tmp)
    os.remove(tmp)
    assert.matches("^/%* generated by tools/gen%-fuzz%-programs%.lua", fresh)
    assert.is_true(fresh == read(HEADER),
      HEADER .. " is stale: run `make && lua5.4 tools/gen-fuzz-programs.lua` and commit it")
  end)

  it("the generated programs pass the core's program check", function()
    -- each p_NAME in the header loads (ndr_prog_check) from its words
    local h = read(HEADER)
    local n = 0
    for name, body in h:gmatch("static const uint32_t (p_[%w_]+)_code%[%] = {(.-)};") do
      local code = {}
      for w in body:gmatch("0x(%x+)") do code[#code + 1] = tonumber(w, 16) end
      local names = {}
      for s in h:match(name .. "_names%[%] = {(.-)};"):gmatch('"([^"]*)"') do names[#names + 1] = s end
      table.remove(names, 1)
      local entries = {}
      for e in h:match(name .. "_entry%[%] = {(.-)};"):gmatch("%d+") do entries[#entries + 1] = tonumber(e) end
      local nops = tonumber(h:match("#define " .. name .. "_NOPS (%d+)"))
      local p = core.ndr_load(code, nops, names, entries, name)
      assert.is_string(core.ndr_disasm(p))
      n = n + 1
    end
    assert.are.equal(4, n)
  end)
end)
