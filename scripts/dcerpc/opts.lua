-- dcerpc.opts: option tables checked against the keys an entry point knows.
--
--   local opts = require "dcerpc.opts"
--   local CONNECT = opts.keys { "timeout", "user", "password", ... }
--   opts.check(t, CONNECT, "dcerpc.connect", 2)
--   -- unknown option 'username' to dcerpc.connect (did you mean 'user'?)
--
-- A misspelled option is misuse, so it raises, at the caller's line, before
-- anything is done: a typo in a security option (`levle = "privacy"`,
-- `username =`) must never quietly give an anonymous or weaker connection.
-- The check runs on every call for per-call options, so the path where all
-- keys are known allocates nothing: one `next` walk and one set lookup per
-- key. Only the error path builds strings and looks for the nearest key.

local type, next, tostring, error, sfmt = type, next, tostring, error, string.format

local M = {}

-- The sorted names of each set, for messages (kept beside the set so that
-- the set holds nothing but its keys).
local names_of = setmetatable({}, { __mode = "k" })

-- keys(list [, more lists...]) -> set { a = true, b = true }
function M.keys(list, ...)
  local set, names = {}, {}
  local function add(l)
    for _, k in ipairs(l) do
      if not set[k] then set[k] = true; names[#names + 1] = k end
    end
  end
  add(list)
  for _, more in ipairs { ... } do add(more) end
  table.sort(names)
  names_of[set] = names
  return set
end

-- names(set) -> the sorted list of its keys
function M.names(set) return names_of[set] end

-- Optimal string alignment distance (Levenshtein plus transposition of two
-- neighbours, as in Damerau's "levle" for "level"), on two rows of the
-- table. Stops early, returning limit + 1, once every cell of a row is
-- beyond limit.
local function distance(a, b, limit)
  local la, lb = #a, #b
  if la - lb > limit or lb - la > limit then return limit + 1 end
  local prev2, prev, cur = {}, {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ai = a:byte(i)
    local best = i
    for j = 1, lb do
      local bj = b:byte(j)
      local cost = ai == bj and 0 or 1
      local d = prev[j - 1] + cost
      if prev[j] + 1 < d then d = prev[j] + 1 end
      if cur[j - 1] + 1 < d then d = cur[j - 1] + 1 end
      if i > 1 and j > 1 and ai == b:byte(j - 1) and a:byte(i - 1) == bj and prev2[j - 2] + 1 < d then
        d = prev2[j - 2] + 1
      end
      cur[j] = d
      if d < best then best = d end
    end
    if best > limit then return limit + 1 end
    prev2, prev, cur = prev, cur, prev2
  end
  return prev[lb]
end
M.distance = distance

-- The valid key nearest to `key`, or nil when none is close. Close: within
-- an edit distance that grows with the length (1 up to 4 characters, 2 up
-- to 8, then 3), compared without case ("servername" for "ServerName");
-- failing that, a valid key of 4 or more characters that the key contains or
-- that contains it ("username" -> "user", "pass" -> "password").
function M.suggest(key, valid)
  if type(key) ~= "string" then return nil end
  local names = names_of[valid] or {}
  local lk = key:lower()
  local limit = #lk <= 4 and 1 or (#lk <= 8 and 2 or 3)
  local best, bestd
  for _, name in ipairs(names) do
    local d = distance(lk, name:lower(), limit)
    if d <= limit and (not bestd or d < bestd) then best, bestd = name, d end
  end
  if best then return best end
  for _, name in ipairs(names) do
    local ln = name:lower()
    if (#ln >= 4 and lk:find(ln, 1, true)) or (#lk >= 4 and ln:find(lk, 1, true)) then
      local d = distance(lk, ln, math.huge)
      if not bestd or d < bestd then best, bestd = name, d end
    end
  end
  return best
end

local function show(k)
  if type(k) == "string" then return "'" .. k .. "'" end
  return "[" .. tostring(k) .. "]"
end

-- The message for an unknown key: names it and the nearest valid one, or
-- lists the valid ones when none is near. kind: "option", "parameter", ...;
-- prep joins it to what ("to" unless given: "unknown field 'x' in ...").
function M.unknown_message(kind, key, valid, what, prep)
  local near = M.suggest(key, valid)
  local tail
  if near then
    tail = sfmt(" (did you mean '%s'?)", near)
  else
    tail = " (known: " .. table.concat(names_of[valid] or {}, ", ") .. ")"
  end
  return sfmt("unknown %s %s %s %s%s", kind, show(key), prep or "to", what, tail)
end

-- check(t, valid, what, level [, detail]) -> t
-- Raises when t (nil is fine) is not a table or has a key not in the set
-- `valid` (made by M.keys). what names the entry point in the message
-- ("dcerpc.connect"), detail is appended to it when given (a function's
-- name: concatenated only on the error path). level is error()'s level as
-- seen from the function calling check (2: that function's caller).
function M.check(t, valid, what, level, detail)
  if t == nil then return t end
  if type(t) ~= "table" then
    error(sfmt("%s%s: options must be a table, got %s", what, detail or "", type(t)), level + 1)
  end
  for k in next, t do
    if not valid[k] then
      error(M.unknown_message("option", k, valid, what .. (detail or "")), level + 1)
    end
  end
  return t
end

return M
