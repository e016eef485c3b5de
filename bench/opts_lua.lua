-- What checking options and argument names costs on the call path, next to
-- encoding the request (dcerpc.opts, ndr.check_args, ndr.check_call).
--
--   LUA_PATH="scripts/?.lua;scripts/?/init.lua;;" LUA_CPATH="build/?.so;;" \
--     lua5.4 bench/opts_lua.lua [N]
--   valgrind --tool=callgrind lua5.4 bench/opts_lua.lua --ops OP K
--     OP: encode-small, check-small, strict-small, encode-big, strict-big
--
-- Rows (ns per operation, best of 5):
--   small   rpcecho.AddOne's request: the per-call options check plus the
--           top-level names (what every client call does), the strict walk,
--           and ndr.encode_call for scale
--   big     NetrShareEnum's reply with N SHARE_INFO_1 (the largest tree a
--           shipped interface builds): ndr.encode_call against the strict walk
-- Also: bytes allocated by 1e5 checks of valid options and names (must be 0).

local ndr = require "dcerpc.ndr"
local options = require "dcerpc.opts"
local dcerpc = require "dcerpc"

local CALL = dcerpc.option_keys.call
local add = dcerpc.interface("rpcecho").functions.AddOne
local enum = dcerpc.interface("srvsvc").functions.NetrShareEnum

local small_args, small_opts = { in_data = 41 }, { timeout = 5 }

local function big_results(n)
  local buf = {}
  for i = 1, n do
    buf[i] = { shi1_netname = "share" .. i, shi1_type = 0, shi1_remark = "remark " .. i }
  end
  return { InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = n, Buffer = buf } } },
           TotalEntries = n, ResumeHandle = 0, result = 0 }
end

local ops = {
  ["encode-small"] = function() return ndr.encode_call(add, "in", small_args) end,
  ["check-small"] = function()
    options.check(small_opts, CALL, "call ", 1, add.name)
    ndr.check_args(add, "in", small_args, 1)
  end,
  ["strict-small"] = function() ndr.check_call(add, "in", small_args, 1) end,
}

local function time(f, reps)
  local best = math.huge
  for _ = 1, 5 do
    local t0 = os.clock()
    for _ = 1, reps do f() end
    local dt = (os.clock() - t0) / reps
    if dt < best then best = dt end
  end
  return best * 1e9
end

if arg[1] == "--ops" then
  local op, k = arg[2], math.tointeger(tonumber(arg[3])) or 1000
  local big = big_results(1000)
  ops["encode-big"] = function() return ndr.encode_call(enum, "out", big) end
  ops["strict-big"] = function() ndr.check_call(enum, "out", big, 1) end
  local f = assert(ops[op], "unknown op " .. tostring(op))
  for _ = 1, k do f() end
  return
end

local n = math.tointeger(tonumber(arg[1])) or 1000
local big = big_results(n)

-- allocation on the valid path
collectgarbage("collect"); collectgarbage("stop")
local before = collectgarbage("count")
for _ = 1, 100000 do ops["check-small"]() end
local alloc = (collectgarbage("count") - before) * 1024
collectgarbage("restart")
print(string.format("check-small allocated %d bytes in 1e5 checks", math.floor(alloc)))

local enc_s = time(ops["encode-small"], 100000)
local chk_s = time(ops["check-small"], 100000)
local str_s = time(ops["strict-small"], 100000)
print(string.format("small: encode %.0f ns, options + names %.0f ns (%.1f%%), strict walk %.0f ns (%.1f%%)",
  enc_s, chk_s, 100 * chk_s / enc_s, str_s, 100 * str_s / enc_s))

local enc_b = time(function() return ndr.encode_call(enum, "out", big) end, 20)
local str_b = time(function() ndr.check_call(enum, "out", big, 1) end, 20)
print(string.format("big (%d entries): encode %.0f us, strict walk %.0f us (%.0f%% of encode)",
  n, enc_b / 1e3, str_b / 1e3, 100 * str_b / enc_b))
