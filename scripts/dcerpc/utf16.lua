-- dcerpc.utf16: UTF-8 (Lua) <-> UTF-16LE (wire) for the few places where text
-- travels inside opaque byte buffers rather than as an NDR string (registry
-- values, the self-relative buffers of [MS-SCMR]). The NDR strings themselves
-- are converted in C by the interpreter.
--
--   utf16.encode(s)            -> UTF-16LE bytes (raises on invalid UTF-8: misuse)
--   utf16.units(s)             -> number of UTF-16 code units of s (raises likewise)
--   utf16.decode(bytes)        -> UTF-8 string | nil, message (odd length)
--   utf16.decode_at(bytes, i, j) -> the NUL-terminated string starting at byte i
--                                  (1-based) and ending before byte j+1 at the
--                                  latest, and the index after its terminator
--                                  | nil, message (no terminator, odd offset, ...)
-- Unpaired surrogates decode to U+FFFD (Windows lets them into names).

local M = {}

local char, byte, concat = string.char, string.byte, table.concat
local uchar = utf8.char

local function codes(s)
  local ok, r = pcall(function()
    local t = {}
    for _, c in utf8.codes(s) do t[#t + 1] = c end
    return t
  end)
  if not ok then error("invalid UTF-8 text", 3) end
  return r
end

function M.units(s)
  local n = 0
  for _, c in ipairs(codes(s)) do n = n + (c >= 0x10000 and 2 or 1) end
  return n
end

function M.encode(s)
  local out = {}
  for _, c in ipairs(codes(s)) do
    if c >= 0x10000 then
      c = c - 0x10000
      local hi, lo = 0xD800 | (c >> 10), 0xDC00 | (c & 0x3FF)
      out[#out + 1] = char(hi & 0xFF, hi >> 8, lo & 0xFF, lo >> 8)
    else
      out[#out + 1] = char(c & 0xFF, c >> 8)
    end
  end
  return concat(out)
end

-- the units of bytes[i..j] (j - i + 1 even) as UTF-8
local function convert(b, i, j)
  local out, k = {}, i
  while k < j do
    local lo1, hi1 = byte(b, k, k + 1)
    local u = lo1 | (hi1 << 8)
    k = k + 2
    if u >= 0xD800 and u <= 0xDBFF and k < j then
      local lo2, hi2 = byte(b, k, k + 1)
      local v = lo2 | (hi2 << 8)
      if v >= 0xDC00 and v <= 0xDFFF then
        u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00)
        k = k + 2
      else
        u = 0xFFFD
      end
    elseif u >= 0xD800 and u <= 0xDFFF then
      u = 0xFFFD
    end
    out[#out + 1] = uchar(u)
  end
  return concat(out)
end

function M.decode(b)
  if type(b) ~= "string" then return nil, "bytes expected, got " .. type(b) end
  if #b % 2 ~= 0 then return nil, ("odd UTF-16 length (%d bytes)"):format(#b) end
  return convert(b, 1, #b)
end

function M.decode_at(b, i, j)
  j = j or #b
  if j > #b then j = #b end
  if i < 1 or i > j then return nil, ("string offset %d outside the data (%d bytes)"):format(i - 1, j) end
  local k = i
  while k + 1 <= j do
    local lo, hi = byte(b, k, k + 1)
    if lo == 0 and hi == 0 then return convert(b, i, k - 1), k + 2 end
    k = k + 2
  end
  return nil, ("string at offset %d is not terminated within the data"):format(i - 1)
end

return M
