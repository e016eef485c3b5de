-- tools/gen-fuzz-programs.lua - writes test/fuzz/fuzz_ndr_programs.h, the
-- compiled NDR programs that the fuzz harness test/fuzz/fuzz_ndr.c runs
-- (the harness has no Lua in it), from the descriptions below and the real
-- compiler (dcerpc.ndr) with the built core (build/dcerpc/core.so).
--
--   make && lua5.4 tools/gen-fuzz-programs.lua [OUT]
--
-- OUT defaults to test/fuzz/fuzz_ndr_programs.h; "-" writes to stdout.
-- spec/ndr_ops_spec.lua runs this into a temporary file and fails when the
-- committed header differs, so rerun it after changing the compiler or the
-- opcode list, and commit the result.
--
-- Byte 0 of a fuzz input picks the program by its place in PROGRAMS (the
-- seed corpus depends on that order): append, do not reorder.

-- the checkout this file lives in (run as a script or loaded by the spec)
-- Run as a script, it finds the checkout's modules; loaded by the spec it
-- uses what is loaded already and leaves the search paths alone (the spec
-- may run against another build, the sanitizer one say).
local root = debug.getinfo(1, "S").source:match("^@(.*)/tools/[^/]*$") or "."
if not package.loaded["dcerpc.ndr"] then
  package.path = root .. "/scripts/?.lua;" .. root .. "/scripts/?/init.lua;" .. package.path
  package.cpath = root .. "/build/?.so;" .. package.cpath
end

local ndr = require "dcerpc.ndr"

local OUT_DEFAULT = "test/fuzz/fuzz_ndr_programs.h"
local COMMAND = "lua5.4 tools/gen-fuzz-programs.lua " .. OUT_DEFAULT

-- ------------------------------------------------------------ descriptions
-- [MS-SRVS] NetrShareEnum, level 1 (with an empty arm and a default arm,
-- which the real srvsvc description has not)
local SHARE_INFO_1 = ndr.struct "SHARE_INFO_1" {
  { "shi1_netname", ndr.unique(ndr.wstring) }, { "shi1_type", ndr.uint32 },
  { "shi1_remark", ndr.unique(ndr.wstring) } }
local SHARE_INFO_1_CONTAINER = ndr.struct "SHARE_INFO_1_CONTAINER" {
  { "EntriesRead", ndr.uint32 },
  { "Buffer", ndr.unique(ndr.array(SHARE_INFO_1, { size_is = "EntriesRead" })) } }
local SHARE_ENUM_UNION = ndr.union "SHARE_ENUM_UNION" { switch_type = ndr.uint32,
  [1] = { "Level1", ndr.unique(SHARE_INFO_1_CONTAINER) }, [2] = {}, default = { "x", ndr.uint16 } }
local SHARE_ENUM_STRUCT = ndr.struct "SHARE_ENUM_STRUCT" {
  { "Level", ndr.uint32 }, { "ShareInfo", SHARE_ENUM_UNION, switch_is = "Level" } }
local NetrShareEnum = ndr.func(15, "NetrShareEnum") {
  { "ServerName", ndr.unique(ndr.wstring), "in" },
  { "InfoStruct", ndr.ref(SHARE_ENUM_STRUCT), "in,out" },
  { "PreferedMaximumLength", ndr.uint32, "in" },
  { "TotalEntries", ndr.ref(ndr.uint32), "out" },
  { "ResumeHandle", ndr.unique(ndr.uint32), "in,out" },
  returns = ndr.WERROR,
}

-- a self-referencing struct behind full pointers, with RPC_UNICODE_STRING,
-- GUID and SID
local NODE = ndr.struct "NODE"
NODE { { "v", ndr.uint32 }, { "s", ndr.RPC_UNICODE_STRING }, { "g", ndr.GUID },
       { "sid", ndr.unique(ndr.SID) }, { "next", ndr.full(NODE) }, { "other", ndr.full(NODE) } }

-- a struct whose last member is a conformant struct (max_count hoisted to
-- the front), an encapsulated union, FILETIME, double, a varying string
local EU = ndr.encapsulated_union "EU" { switch_type = ndr.uint16, switch_name = "Level",
  [1] = { "h", ndr.hyper }, [2] = { "s", ndr.unique(ndr.string) }, [3] = { "n", ndr.full(NODE) } }
local INNER = ndr.struct "INNER" { { "size", ndr.uint32 }, { "len", ndr.uint32 },
  { "a", ndr.array(ndr.array(ndr.uint16, { length = 2 }), { size_is = "size", length_is = "len" }) } }
local CS = ndr.struct "CS" { { "e", EU }, { "f", ndr.FILETIME }, { "d", ndr.double },
  { "w", ndr.unique(ndr.wstring { length = 8 }) }, { "in", INNER } }

-- multi-dimensional conformant (varying) arrays
local CELL = ndr.struct "CELL" { { "v", ndr.unique(ndr.string) }, { "n", ndr.uint16 } }
local MD = ndr.func(1, "md") { { "a", ndr.uint32, "in" }, { "b", ndr.uint32, "in" },
  { "m", ndr.ref(ndr.array(CELL, { size_is = { "a", "b" }, length_is = { "a", "b" } })), "in" },
  { "t", ndr.unique(ndr.array(ndr.uint8, { size_is = { "a", "b", "a" } })), "in" },
  -- every operator of the expression engine, over fields the input decides
  { "x", ndr.unique(ndr.array(ndr.uint16, {
      size_is = "(a % 7 + (b >> 3) - (a << 1) * !b) ^ (a & b | ~a & 3) + (a == b) + (a != b) * (a < b)",
      length_is = "a > b ? (a >= 9 && b <= 2) : (a || b) ? b / (a | 1) : 0" })), "in" } }

-- C name, description; functions run with an argument table as their root
local PROGRAMS = {
  { "p_share", NetrShareEnum },
  { "p_node", ndr.full(NODE) },
  { "p_cs", CS },
  { "p_md", MD },
}

-- ------------------------------------------------------------ output
local sfmt, concat = string.format, table.concat

local function cstr(s)
  if type(s) ~= "string" then return '""' end  -- an enum's name map: the harness has none
  if s:find('[^%w_ .$]') then error("gen-fuzz-programs: name needs escaping: " .. s) end
  return '"' .. s .. '"'
end

local function words(t, fmt, per)
  local lines, line = {}, {}
  for i, w in ipairs(t) do
    line[#line + 1] = sfmt(fmt, w)
    if #line == per or i == #t then lines[#lines + 1] = "  " .. concat(line, ", ") .. ","; line = {} end
  end
  return concat(lines, "\n")
end

local function generate()
  local o = {}
  local function put(...) o[#o + 1] = sfmt(...) end
  put("/* generated by tools/gen-fuzz-programs.lua (make && %s): do not edit */\n", COMMAND)
  put("/*\n** The NDR programs test/fuzz/fuzz_ndr.c runs, compiled by dcerpc.ndr from the\n")
  put("** descriptions in tools/gen-fuzz-programs.lua. spec/ndr_ops_spec.lua fails when\n")
  put("** this file is not what the generator writes today.\n*/\n")
  local list = {}
  for _, pr in ipairs(PROGRAMS) do
    local cname, x = pr[1], pr[2]
    local code, ncodeops, names, entries = ndr.program_words(x)
    local quoted = { '""' }
    for i, n in ipairs(names) do quoted[i + 1] = cstr(n) end
    put("\n/* %s */\n", x.name or x.kind)
    put("static const uint32_t %s_code[] = {\n%s\n};\n", cname, words(code, "0x%x", 10))
    put("static const char *const %s_names[] = {\n%s\n};\n", cname, words(quoted, "%s", 6))
    put("#define %s_NOPS %d\n#define %s_NNAMES %d\n", cname, ncodeops, cname, #names)
    put("static const uint32_t %s_entry[] = { %s };\n#define %s_NENT %d\n", cname, concat(entries, ", "), cname, #entries)
    list[#list + 1] = sfmt("X(%s, %d)", cname, x.kind == "func" and 1 or 0)
  end
  put("\n/* X(name, isfunc) for each program, in the order byte 0 of an input picks them */\n")
  put("#define FUZZ_NDR_PROGRAMS(X) %s\n", concat(list, " "))
  return concat(o)
end

local out = ... or (root .. "/" .. OUT_DEFAULT)
local text = generate()
if out == "-" then
  io.write(text)
else
  local f = assert(io.open(out, "wb"))
  assert(f:write(text))
  assert(f:close())
end
