-- bench/idl_load.lua: the time to load an interface from MIDL (dcerpc.idl.load)
-- next to loading its shipped Lua description (the file run afresh), in one
-- run, best and median of N; and a generated interface the size of [MS-SAMR]'s
-- full IDL (68 procedures, ~150 types, ~2,000 lines) for "a large interface
-- loads in milliseconds".
--   lua5.4 bench/idl_load.lua [ROOT]
-- Prints a table; lines starting "IDLLOAD" are the raw figures.
local root = arg[1] or "."
package.path = root .. "/scripts/?.lua;" .. root .. "/scripts/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath

local idl = require "dcerpc.idl"
local ndr = require "dcerpc.ndr"
local clock = os.clock

local function measure(fn, budget)
  fn()                                       -- warm: LPeg grammar, file cache
  local times = {}
  local t_end = clock() + (budget or 0.6)
  repeat
    local t0 = clock()
    fn()
    times[#times + 1] = clock() - t0
  until (clock() > t_end and #times >= 5) or #times >= 2000
  table.sort(times)
  return times[1], times[(#times + 1) // 2], #times
end

-- the shipped interfaces and the IDL of each (spec/fixtures/idl, examples/)
local CASES = {
  { "rpcecho", "examples/rpcecho.idl" },
  { "mgmt", "spec/fixtures/idl/mgmt.idl" },
  { "epm", "spec/fixtures/idl/epm.idl" },
  { "wkssvc", "spec/fixtures/idl/wkssvc.idl" },
  { "srvsvc", "spec/fixtures/idl/srvsvc.idl" },
  { "samr", "spec/fixtures/idl/samr.idl" },
}

-- a generated interface shaped like [MS-SAMR]'s full IDL
local function big_idl()
  local out = { 'import "ms-dtyp.idl";',
                "[uuid(12345778-1234-abcd-ef00-0123456789ac), version(1.0), pointer_default(unique)]",
                "interface big {" }
  local function add(s) out[#out + 1] = s end
  add("  typedef [context_handle] void *BIG_HANDLE;")
  for i = 1, 20 do
    add(string.format("  typedef enum _ENUM_%d { E%d_A = 1, E%d_B, E%d_C, E%d_D = 10 } ENUM_%d;", i, i, i, i, i, i))
  end
  for i = 1, 100 do
    add(string.format("  typedef struct _S%d {", i))
    add("      RPC_UNICODE_STRING Name;")
    add("      ULONG Count;")
    add("      [size_is(Count)] PULONG Values;")
    add("      OLD_LARGE_INTEGER When;")
    add("      [string] wchar_t *Comment;")
    add("      PRPC_SID Sid;")
    add(string.format("      ENUM_%d Kind;", (i % 20) + 1))
    add("      unsigned short Flags;")
    add("      unsigned char Hash[16];")
    add("  } S" .. i .. ", *PS" .. i .. ";")
  end
  for i = 1, 30 do
    add(string.format("  typedef [switch_type(DOMAIN_LEVEL_%d)] union _U%d {", i, i))
    for k = 1, 5 do add(string.format("      [case(%d)] S%d Level%d;", k, ((i * 5 + k) % 100) + 1, k)) end
    add("  } U" .. i .. ", *PU" .. i .. ";")
    add(string.format("  typedef enum _DOMAIN_LEVEL_%d { DL%d_1 = 1, DL%d_2, DL%d_3, DL%d_4, DL%d_5 } DOMAIN_LEVEL_%d;",
                      i, i, i, i, i, i, i))
  end
  for i = 1, 68 do
    local u = (i % 30) + 1
    add(string.format("  NTSTATUS Proc%d(", i))
    add("      [in] BIG_HANDLE Handle,")
    add(string.format("      [in] DOMAIN_LEVEL_%d Level,", u))
    add("      [in, out] unsigned long *EnumerationContext,")
    add(string.format("      [out, switch_is(Level)] PU%d *Buffer,", u))
    add("      [in, unique] PRPC_UNICODE_STRING Filter,")
    add("      [out] unsigned long *CountReturned);")
  end
  add("}")
  return table.concat(out, "\n")
end

-- forward-referenced enums: put the DOMAIN_LEVEL enums first
local function reorder(text)
  local enums, rest = {}, {}
  for line in text:gmatch("[^\n]+") do
    if line:match("typedef enum _DOMAIN_LEVEL") then enums[#enums + 1] = line else rest[#rest + 1] = line end
  end
  local out = {}
  for _, l in ipairs(rest) do
    out[#out + 1] = l
    if l:match("^interface big") then for _, e in ipairs(enums) do out[#out + 1] = e end end
  end
  return table.concat(out, "\n")
end

local function fmt(s) return string.format("%8.3f ms", s * 1000) end

print(string.format("%-10s %-34s %13s %13s %13s %8s", "interface", "IDL file", "Lua desc best", "IDL best",
                    "IDL median", "IDL/Lua"))
for _, c in ipairs(CASES) do
  local name, path = c[1], root .. "/" .. c[2]
  local f = io.open(path)
  if not f then
    print(string.format("%-10s %-34s (no IDL file)", name, c[2]))
  else
    f:close()
    local lua_path = root .. "/scripts/dcerpc/iface/" .. name .. ".lua"
    local lb = measure(function() assert(loadfile(lua_path))() end)
    local ok, e = idl.load(path)
    if not ok then
      print(string.format("%-10s %-34s IDL error: %s", name, c[2], tostring(e)))
    else
      local ib, im, n = measure(function() assert(idl.load(path)) end)
      print(string.format("%-10s %-34s %13s %13s %13s %7.1fx", name, c[2], fmt(lb), fmt(ib), fmt(im), ib / lb))
      print(string.format("IDLLOAD %s lua_best %.6f idl_best %.6f idl_median %.6f reps %d", name, lb, ib, im, n))
    end
  end
end

local text = reorder(big_idl())
local lines = select(2, text:gsub("\n", "")) + 1
local big = assert(idl.parse(text, { file = "big.idl" }))
local nfn, ntypes = 0, 0
for k in pairs(big.functions) do if type(k) == "number" then nfn = nfn + 1 end end
for _ in pairs(big.types) do ntypes = ntypes + 1 end
local bb, bm, n = measure(function() assert(idl.parse(text, { file = "big.idl" })) end, 1.5)
-- and the first call's compilation, which a Lua description pays too
local t0 = clock()
for op = 0, nfn - 1 do ndr.program(big.functions[op]) end
local compile = clock() - t0
print(string.format("%-10s %-34s %13s %13s %13s", "generated", string.format("%d lines, %d procs, %d types", lines, nfn, ntypes),
                    "-", fmt(bb), fmt(bm)))
print(string.format("           compiling all %d procedures' programs once (paid by Lua descriptions too): %s", nfn, fmt(compile)))
print(string.format("IDLLOAD generated lines %d procs %d types %d idl_best %.6f idl_median %.6f reps %d compile %.6f",
                    lines, nfn, ntypes, bb, bm, n, compile))
