-- Our NDR engine on the SHARE_INFO_1_CONTAINER fixture, and the floor.
--
--   lua5.4 ndr_lua.lua FIXDIR N [--budget S] [--min-reps R] [--max-reps R]
--   lua5.4 ndr_lua.lua FIXDIR N --ops OP K     (callgrind: OP = floor-decode,
--                                               floor-encode, ours-decode,
--                                               ours-encode, ours-stub)
--
-- Needs LUA_CPATH to find "floor" (bench/floor.c) and dcerpc.core, LUA_PATH
-- to find scripts/dcerpc; run.sh sets both. Output lines as benchlib.py
-- describes (RESULT / CHECK / NOTE). If dcerpc.ndr or dcerpc.iface.srvsvc is
-- missing or fails, prints "ours: not available yet" and still runs the floor.
--
-- Rows:
--   floor  decode  floor.build: the same Lua tables made from C, no decoding
--   floor  encode  floor.walk: every field of those tables read from C
--   ours   decode  ndr.decode(SHARE_INFO_1_CONTAINER, container bytes)
--   ours   encode  ndr.encode(SHARE_INFO_1_CONTAINER, decoded value)
--   ours-stub decode  ndr.decode_call(NetrShareEnum, "out", out stub): the
--                     very bytes Samba's ndr_unpack_out reads
--   ours-stub encode  ndr.encode_call(NetrShareEnum, "out", decoded): compared
--                     byte for byte with Samba's ndr_pack_out (the container
--                     alone cannot be: Samba numbered its referent ids from
--                     the start of the stub, so they are off by one pointer)

local floor = require "floor"
local now = floor.now

local function parse_args(argv)
  local a = { dir = argv[1], n = math.tointeger(tonumber(argv[2])), budget = 1.0,
              min_reps = 3, max_reps = 15 }
  local i = 3
  while argv[i] do
    local k = argv[i]
    if k == "--budget" then a.budget = tonumber(argv[i + 1]); i = i + 2
    elseif k == "--min-reps" then a.min_reps = tonumber(argv[i + 1]); i = i + 2
    elseif k == "--max-reps" then a.max_reps = tonumber(argv[i + 1]); i = i + 2
    elseif k == "--ops" then a.op, a.k = argv[i + 1], tonumber(argv[i + 2]); i = i + 3
    else error("unknown argument " .. k) end
  end
  return a
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function spots(a)
  local t = {}
  for line in io.lines(("%s/share%d.spot"):format(a.dir, a.n)) do
    local i, name, typ, remark = line:match("^(%d+)\t([^\t]*)\t(%d+)\t(.*)$")
    t[#t + 1] = { tonumber(i), name, math.tointeger(tonumber(typ)),
                  remark ~= "<NULL>" and remark or nil }
  end
  return t
end

-- Same policy as benchlib.measure: one warm-up, then reps until the budget
-- is spent; a full collection before each rep (untimed) so a rep pays for
-- the garbage it makes, not for the previous rep's.
local function measure(a, op)
  local res = op()
  local times, spent = {}, 0
  while #times < a.min_reps or (spent < a.budget and #times < a.max_reps) do
    res = nil
    collectgarbage("collect")
    local t0 = now()
    res = op()
    local dt = now() - t0
    times[#times + 1] = dt
    spent = spent + dt
  end
  table.sort(times)
  local m = #times
  local med = m % 2 == 1 and times[(m + 1) // 2] or (times[m // 2] + times[m // 2 + 1]) / 2
  return times[1], med, m, res
end

local function result(who, op, n, nbytes, best, med, reps)
  print(("RESULT %s %s %d %d %.6f %.6f %d"):format(who, op, n, nbytes, best, med, reps))
  io.stdout:flush()
end

local function check(who, op, n, ok, detail)
  print(("CHECK %s %s %d %s %s"):format(who, op, n, ok and "ok" or "FAIL", detail or ""))
  io.stdout:flush()
end

local function note(who, text)
  text = tostring(text):gsub("%s+", " ")
  if #text > 200 then text = text:sub(1, 200) .. "..." end
  print(("NOTE %s %s"):format(who, text))
  io.stdout:flush()
end

-- Compare a decoded container with the spot values; returns ok, detail.
local function spot_check(v, a)
  if type(v) ~= "table" then return false, "not a table: " .. type(v) end
  if v.EntriesRead ~= a.n then return false, "EntriesRead " .. tostring(v.EntriesRead) end
  if type(v.Buffer) ~= "table" or #v.Buffer ~= a.n then
    return false, "Buffer length " .. tostring(type(v.Buffer) == "table" and #v.Buffer)
  end
  for _, s in ipairs(spots(a)) do
    local e = v.Buffer[s[1] + 1]
    if e.shi1_netname ~= s[2] or e.shi1_type ~= s[3] or e.shi1_remark ~= s[4] then
      return false, ("entry %d: %s %s %s"):format(s[1], tostring(e.shi1_netname),
        tostring(e.shi1_type), tostring(e.shi1_remark))
    end
  end
  return true
end

-- Compare our encoding with Samba's, allowing for referent ids only: a
-- differing aligned word is accepted when both are referent-like (multiple
-- of 4 with the 0x20000 bit that both Samba and we put in every id). Ids may
-- legitimately differ: the container alone restarts numbering where Samba's
-- stub had already used one id, and numbering schemes vary (Samba ORs
-- 0x20000 into 4*k, so its ids repeat after 32767 pointers). Returns ok,
-- detail.
local function is_refid(x) return x & 0x20003 == 0x20000 end

local function same_but_refids(ours, samba)
  if ours == samba then return true, "byte-identical to Samba's" end
  if #ours ~= #samba then return false, ("%d bytes, Samba %d"):format(#ours, #samba) end
  local ids, B = 0, 4096
  for blk = 1, #ours, B do
    if ours:sub(blk, blk + B - 1) ~= samba:sub(blk, blk + B - 1) then
      for i = blk, math.min(blk + B - 1, #ours), 4 do
        local w = string.unpack("<I4", ours, i)
        local v = string.unpack("<I4", samba, i)
        if w ~= v then
          if not (is_refid(w) and is_refid(v)) then
            return false, ("first difference at offset %d: 0x%08x, Samba 0x%08x"):format(i - 1, w, v)
          end
          ids = ids + 1
        end
      end
    end
  end
  return true, ("same as Samba's but %d referent ids"):format(ids)
end

-- Our modules, tolerated missing: returns ndr, container type, NetrShareEnum
-- function (or nil), or nil and why.
local function load_ours()
  local ok, ndr = pcall(require, "dcerpc.ndr")
  if not ok then return nil, "dcerpc.ndr: " .. tostring(ndr) end
  local ok2, srvsvc = pcall(require, "dcerpc.iface.srvsvc")
  if not ok2 then return nil, "dcerpc.iface.srvsvc: " .. tostring(srvsvc) end
  local types = type(srvsvc) == "table" and srvsvc.types or {}
  local T = types.SHARE_INFO_1_CONTAINER or types.SHARE_INFO_1_CONTAINER_T
  if not T then return nil, "srvsvc.types.SHARE_INFO_1_CONTAINER missing" end
  local fn = srvsvc.functions and (srvsvc.functions.NetrShareEnum or srvsvc.functions[15])
  return ndr, T, fn
end

-- --ops: setup decodes once whatever OP is (see benchlib.py), then K ops.
local function ops_mode(a, ctr, out)
  local op, k = a.op, a.k
  local keep
  if op:match("^floor") then
    local p = floor.prepare(ctr)
    local t = floor.build(p)
    local f = op == "floor-decode" and function() return floor.build(p) end
      or op == "floor-encode" and function() return floor.walk(t) end
      or error("unknown op " .. op)
    collectgarbage("collect")   -- same GC state in the K = 0 and K > 0 runs
    for _ = 1, k do keep = f() end
  else
    local ndr, T, fn = load_ours()
    if not ndr then io.stderr:write("ours: not available yet (", T, ")\n"); os.exit(2) end
    local v = assert(ndr.decode(T, ctr))
    local f = op == "ours-decode" and function() return assert(ndr.decode(T, ctr)) end
      or op == "ours-encode" and function() return ndr.encode(T, v) end
      or op == "ours-stub" and function() return assert(ndr.decode_call(fn, "out", out)) end
      or error("unknown op " .. op)
    collectgarbage("collect")
    for _ = 1, k do keep = f() end
  end
  return keep
end

local function main(argv)
  local a = parse_args(argv)
  local n = a.n
  local ctr = read(("%s/share%d.ctr"):format(a.dir, n))
  local out = read(("%s/share%d.out"):format(a.dir, n))
  if a.op then ops_mode(a, ctr, out); return end

  -- floor
  local p = floor.prepare(ctr)
  local best, med, reps, t = measure(a, function() return floor.build(p) end)
  result("floor", "decode", n, #ctr, best, med, reps)
  check("floor", "decode", n, spot_check(t, a))
  best, med, reps = measure(a, function() return floor.walk(t) end)
  result("floor", "encode", n, #ctr, best, med, reps)
  t, p = nil, nil

  -- ours
  local ndr, T, fn = load_ours()
  if not ndr then
    print("ours: not available yet")
    note("ours", "not available yet: " .. tostring(T):gsub("\n", " "))
    return
  end
  local okd, bestd, medd, repsd, v = pcall(measure, a, function()
    local r, err = ndr.decode(T, ctr)
    if r == nil then error(err, 0) end
    return r
  end)
  if not okd then
    print("ours: not available yet")
    local e = bestd
    note("ours", "decode failed: " .. (type(e) == "table" and tostring(e.message) or tostring(e)):gsub("\n", " "))
    return
  end
  result("ours", "decode", n, #ctr, bestd, medd, repsd)
  check("ours", "decode", n, spot_check(v, a))

  local oke, beste, mede, repse, enc = pcall(measure, a, function() return ndr.encode(T, v) end)
  if oke then
    result("ours", "encode", n, #enc, beste, mede, repse)
    local ok, why = same_but_refids(enc, ctr)
    if ok then
      local ok2, why2 = spot_check(ndr.decode(T, enc), a)
      ok, why = ok and ok2, why .. (why2 and "; " .. why2 or "")
    end
    check("ours", "encode", n, ok, why)
  else
    note("ours", "encode failed: " .. tostring(type(beste) == "table" and beste.message or beste):gsub("\n", " "))
  end

  -- the whole out stub, as Samba reads it
  if fn and ndr.decode_call then
    v, enc = nil, nil
    local oks, bests, meds, repss, r = pcall(measure, a, function()
      local res, err = ndr.decode_call(fn, "out", out)
      if res == nil then error(err, 0) end
      return res
    end)
    if oks then
      result("ours-stub", "decode", n, #out, bests, meds, repss)
      local c = r.InfoStruct and r.InfoStruct.ShareInfo and
        (r.InfoStruct.ShareInfo.Level1 or r.InfoStruct.ShareInfo.Level1Container)
      check("ours-stub", "decode", n, spot_check(c, a))
      if ndr.encode_call then
        local oke2, beste2, mede2, repse2, enc2 = pcall(measure, a, function()
          return ndr.encode_call(fn, "out", r) end)
        if oke2 then
          result("ours-stub", "encode", n, #enc2, beste2, mede2, repse2)
          check("ours-stub", "encode", n, same_but_refids(enc2, out))
        else
          note("ours-stub", "encode_call failed: " .. tostring(type(beste2) == "table" and beste2.message or beste2):gsub("\n", " "))
        end
      end
    else
      note("ours-stub", "decode_call failed: " .. tostring(type(bests) == "table" and bests.message or bests):gsub("\n", " "))
    end
  end
end

main(arg)
