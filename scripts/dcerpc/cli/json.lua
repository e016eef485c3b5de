-- dcerpc.cli.json: the little JSON the `dcerpc` command needs: an encoder for
-- --json output and a strict decoder for arguments given as a JSON object.
--
--   local json = require "dcerpc.cli.json"
--   json.encode({ a = 1, b = { "x", "y" } })      --> '{"a":1,"b":["x","y"]}'
--   json.encode(v, { indent = 2 })                -- pretty, one member per line
--   local v, err = json.decode('{"Level": 101}')  -- v.Level == 101 (an integer)
--
-- Lua has one table type, so the encoder decides: a table whose keys are
-- exactly 1..n (n > 0) is an array, any other table an object with its keys
-- sorted, unless json.object(t, keys) gave it an order (the CLI keeps the
-- order of an interface's parameters and fields). json.array(t) marks an
-- empty table as []. Strings are written as they are when they are UTF-8;
-- any other byte becomes \u00XX (the caller hex-encodes binary beforehand).
-- The decoder gives integers as Lua integers (when they fit), null as
-- json.null, and fails with nil, "json: <what> at line L column C".

local M = {}

local sfmt, concat, type, mtype = string.format, table.concat, type, math.type

M.null = setmetatable({}, { __tostring = function() return "null" end, __name = "json.null" })

local ORDER = setmetatable({}, { __mode = "k" })   -- object -> its key order
local ARRAY = setmetatable({}, { __mode = "k" })   -- tables to write as arrays

-- json.object(t, keys) -> t, written with its members in the order of keys
-- (keys absent from t are skipped; keys of t not in the list follow, sorted).
function M.object(t, keys) ORDER[t] = keys; return t end
-- json.array(t) -> t, written as an array even when empty.
function M.array(t) ARRAY[t] = true; return t end

---------------------------------------------------------------- encoder

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
              ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s)
  if not utf8.len(s) then
    -- not UTF-8: every byte >= 0x80 stands for itself (U+0080..U+00FF)
    s = s:gsub("[\128-\255]", function(c) return utf8.char(c:byte()) end)
  end
  s = s:gsub('[%c"\\]', function(c) return ESC[c] or sfmt("\\u%04x", c:byte()) end)
  return '"' .. s .. '"'
end
M.quote = quote

local function is_array(t)
  if ARRAY[t] then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if mtype(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local function keys_of(t)
  local order, seen, keys = ORDER[t], {}, {}
  if order then
    for _, k in ipairs(order) do
      if t[k] ~= nil and not seen[k] then keys[#keys + 1] = k; seen[k] = true end
    end
  end
  local rest = {}
  for k in pairs(t) do
    if not seen[k] then
      if type(k) ~= "string" and mtype(k) ~= "integer" then
        error("json: object keys must be strings or integers, got " .. type(k), 0)
      end
      rest[#rest + 1] = k
    end
  end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

local function encode(v, out, indent, depth, visiting)
  local tv = type(v)
  if v == nil or v == M.null then out[#out + 1] = "null"
  elseif tv == "boolean" then out[#out + 1] = tostring(v)
  elseif tv == "number" then
    if mtype(v) == "integer" then out[#out + 1] = sfmt("%d", v)
    elseif v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    else out[#out + 1] = sfmt("%.17g", v) end
  elseif tv == "string" then out[#out + 1] = quote(v)
  elseif tv == "table" then
    if visiting[v] then error("json: a table contains itself", 0) end
    if depth > 200 then error("json: nested too deep", 0) end
    visiting[v] = true
    local nl = indent and ("\n" .. string.rep(" ", indent * (depth + 1))) or ""
    local close = indent and ("\n" .. string.rep(" ", indent * depth)) or ""
    if is_array(v) then
      if #v == 0 then out[#out + 1] = "[]"
      else
        out[#out + 1] = "["
        for i = 1, #v do
          out[#out + 1] = (i > 1 and "," or "") .. nl
          encode(v[i], out, indent, depth + 1, visiting)
        end
        out[#out + 1] = close .. "]"
      end
    else
      local keys = keys_of(v)
      if #keys == 0 then out[#out + 1] = "{}"
      else
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
          out[#out + 1] = (i > 1 and "," or "") .. nl .. quote(tostring(k)) .. (indent and ": " or ":")
          encode(v[k], out, indent, depth + 1, visiting)
        end
        out[#out + 1] = close .. "}"
      end
    end
    visiting[v] = nil
  else
    error("json: cannot encode a " .. tv, 0)
  end
end

-- json.encode(v [, { indent = n }]) -> text; raises on what JSON cannot hold
-- (functions, userdata, tables that contain themselves).
function M.encode(v, opts)
  local out = {}
  encode(v, out, opts and opts.indent, 0, {})
  return concat(out)
end

---------------------------------------------------------------- decoder

local Decoder = {}
Decoder.__index = Decoder

function Decoder:fail(what, pos)
  pos = pos or self.pos
  local before = self.s:sub(1, pos - 1)
  local line = select(2, before:gsub("\n", "")) + 1
  local col = pos - (before:match(".*()\n") or 0)
  error({ json = sfmt("json: %s at line %d column %d", what, line, col) }, 0)
end

function Decoder:skip()
  self.pos = self.s:find("[^ \t\r\n]", self.pos) or #self.s + 1
end

function Decoder:peek()
  self:skip()
  return self.s:sub(self.pos, self.pos)
end

local UNESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

function Decoder:string()
  local s, i, parts = self.s, self.pos + 1, {}
  while true do
    local j = s:find('["\\%c]', i)
    if not j then self:fail("unterminated string") end
    parts[#parts + 1] = s:sub(i, j - 1)
    local c = s:sub(j, j)
    if c == '"' then self.pos = j + 1; break end
    if c ~= "\\" then self:fail("control character in string", j) end
    local e = s:sub(j + 1, j + 1)
    if UNESC[e] then parts[#parts + 1] = UNESC[e]; i = j + 2
    elseif e == "u" then
      local h = s:match("^%x%x%x%x", j + 2)
      if not h then self:fail("bad \\u escape", j) end
      local cp = tonumber(h, 16)
      i = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then               -- a surrogate pair
        local lo = s:match("^\\u(%x%x%x%x)", i)
        lo = lo and tonumber(lo, 16)
        if not lo or lo < 0xDC00 or lo > 0xDFFF then self:fail("lone surrogate", j) end
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
        i = i + 6
      end
      parts[#parts + 1] = utf8.char(cp)
    else
      self:fail("bad escape", j)
    end
  end
  local r = concat(parts)
  if not utf8.len(r) then self:fail("string is not UTF-8") end
  return r
end

function Decoder:value(depth)
  if depth > 200 then self:fail("nested too deep") end
  local c = self:peek()
  local s = self.s
  if c == "{" then
    self.pos = self.pos + 1
    local t = {}
    if self:peek() == "}" then self.pos = self.pos + 1; return t end
    while true do
      if self:peek() ~= '"' then self:fail("member name expected") end
      local k = self:string()
      if self:peek() ~= ":" then self:fail("':' expected") end
      self.pos = self.pos + 1
      local v = self:value(depth + 1)
      t[k] = v
      c = self:peek()
      self.pos = self.pos + 1
      if c == "}" then return t end
      if c ~= "," then self:fail("',' or '}' expected", self.pos - 1) end
    end
  elseif c == "[" then
    self.pos = self.pos + 1
    local t = M.array({})
    if self:peek() == "]" then self.pos = self.pos + 1; return t end
    while true do
      t[#t + 1] = self:value(depth + 1)
      c = self:peek()
      self.pos = self.pos + 1
      if c == "]" then return t end
      if c ~= "," then self:fail("',' or ']' expected", self.pos - 1) end
    end
  elseif c == '"' then
    return self:string()
  else
    local int = s:match("^-?%d+", self.pos)
    if int then
      if int:match("^-?0%d") then self:fail("bad number (leading zero)") end
      local e = self.pos + #int
      local frac = s:match("^%.%d+", e) or ""
      if frac == "" and s:sub(e, e) == "." then self:fail("bad number", e) end
      e = e + #frac
      local exp = s:match("^[eE][-+]?%d+", e) or ""
      if exp == "" and s:sub(e, e):match("[eE]") then self:fail("bad number", e) end
      local num = int .. frac .. exp
      self.pos = self.pos + #num
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
    for word, v in pairs { ["true"] = true, ["false"] = false, null = M.null } do
      if s:sub(self.pos, self.pos + #word - 1) == word then
        self.pos = self.pos + #word
        return v
      end
    end
    if c == "" then self:fail("unexpected end of input") end
    self:fail("unexpected '" .. c .. "'")
  end
end

-- json.decode(text) -> value | nil, message
function M.decode(text)
  if type(text) ~= "string" then return nil, "json: text expected" end
  local d = setmetatable({ s = text, pos = 1 }, Decoder)
  local ok, v = pcall(function()
    local v = d:value(0)
    if d:peek() ~= "" then d:fail("trailing characters") end
    return v
  end)
  if ok then return v end
  if type(v) == "table" and v.json then return nil, v.json end
  error(v, 0)
end

return M
