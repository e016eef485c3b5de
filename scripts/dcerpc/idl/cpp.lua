-- dcerpc.idl.cpp: the part of the C preprocessor that real MIDL files use.
--
-- Object-like #define and #undef, #if / #ifdef / #ifndef / #elif / #else /
-- #endif with C's integer expressions and defined(), #include resolved
-- against a search path, #pragma and #line ignored, #error raised. Lines the
-- preprocessor removes become blank lines, so positions in the text the
-- parser sees are positions in the file. Macros are not expanded in the
-- text: the loader looks a name up among the macros when it meets it as a
-- constant or a type, except that a macro defined empty (`#define
-- __RPC_FAR`) is blanked out where it appears, column for column.

local parser = require "dcerpc.idl.parser"

local M = {}

local function fail(src, pos, message)
  error({ idl = true, src = src, pos = pos, message = message }, 0)
end

-- C integer arithmetic for #if: every value is a Lua integer
local function eval(e, macros, src, depth)
  depth = depth or 0
  if depth > 50 then fail(src, e.pos, "macro expansion too deep") end
  local t = e.tag
  if t == "num" then return e[1]
  elseif t == "id" then
    local m = macros[e[1]]
    if not m then return 0 end                 -- an undefined name is 0, as in C
    if m.body == "" then return 0 end
    local x = parser.parse_expr(m.src, m.body)
    if not x then fail(src, e.pos, "macro " .. e[1] .. " is not an integer expression") end
    return eval(x, macros, src, depth + 1)
  elseif t == "call" then
    return 0
  elseif t == "un" then
    local op, a = e[1], e[2]
    if op == "!" then return eval(a, macros, src, depth) == 0 and 1 or 0 end
    local v = eval(a, macros, src, depth)
    if op == "-" then return -v elseif op == "~" then return ~v elseif op == "+" then return v end
    fail(src, e.pos, "operator " .. op .. " in #if")
  elseif t == "cond" then
    if eval(e[1], macros, src, depth) ~= 0 then return eval(e[2], macros, src, depth) end
    return eval(e[3], macros, src, depth)
  elseif t == "cast" then
    return eval(e[2], macros, src, depth)
  elseif t == "bin" then
    local op = e[1]
    local a = eval(e[2], macros, src, depth)
    if op == "&&" then return (a ~= 0 and eval(e[3], macros, src, depth) ~= 0) and 1 or 0 end
    if op == "||" then return (a ~= 0 or eval(e[3], macros, src, depth) ~= 0) and 1 or 0 end
    local b = eval(e[3], macros, src, depth)
    if op == "+" then return a + b elseif op == "-" then return a - b elseif op == "*" then return a * b
    elseif op == "/" or op == "%" then
      if b == 0 then fail(src, e.pos, "division by zero in #if") end
      local q = a // b
      if (a % b ~= 0) and ((a < 0) ~= (b < 0)) then q = q + 1 end     -- C truncates
      return op == "/" and q or a - q * b
    elseif op == "<<" then return a << b elseif op == ">>" then return a >> b
    elseif op == "&" then return a & b elseif op == "|" then return a | b elseif op == "^" then return a ~ b
    elseif op == "==" then return a == b and 1 or 0 elseif op == "!=" then return a ~= b and 1 or 0
    elseif op == "<" then return a < b and 1 or 0 elseif op == ">" then return a > b and 1 or 0
    elseif op == "<=" then return a <= b and 1 or 0 elseif op == ">=" then return a >= b and 1 or 0 end
  end
  fail(src, e.pos or 1, "unsupported expression in #if")
end

-- "defined(X)" / "defined X" -> 1 or 0, before the expression is parsed
local function replace_defined(text, macros)
  text = text:gsub("defined%s*%(%s*([%a_][%w_]*)%s*%)", function(n) return macros[n] and "1" or "0" end)
  text = text:gsub("defined%s+([%a_][%w_]*)", function(n) return macros[n] and "1" or "0" end)
  return text
end

-- the offset of each line start
local function line_starts(text)
  local starts = { 1 }
  for i in text:gmatch("\n()") do starts[#starts + 1] = i end
  return starts
end

-- preprocess(src, ctx) -> text with directives and inactive lines blanked.
-- ctx: { macros = {NAME = {body, src}}, include = function(name, src, pos) } -
-- include is called for #include in active regions, in order.
function M.run(src, ctx)
  local text = src.text
  local macros = ctx.macros
  local out = {}
  local starts = line_starts(text)
  local stack = {}            -- { active, taken, else_seen, parent_active, pos }
  local active = true
  local in_comment = false
  local i = 1
  local nlines = #starts
  while i <= nlines do
    local s = starts[i]
    local e = (starts[i + 1] or (#text + 2)) - 1     -- index of the "\n" (or past the end)
    local line = text:sub(s, e - 1)
    local first = i
    -- a directive continues over lines ending in a backslash
    local is_dir = not in_comment and line:match("^%s*#")
    if is_dir then
      while line:sub(-1) == "\\" and i < nlines do
        i = i + 1
        local s2 = starts[i]
        local e2 = (starts[i + 1] or (#text + 2)) - 1
        line = line:sub(1, -2) .. " " .. text:sub(s2, e2 - 1)
      end
      -- comments inside a directive line
      line = line:gsub("/%*.-%*/", " "):gsub("//.*$", "")
      local dir, rest = line:match("^%s*#%s*([%a_]*)%s*(.-)%s*$")
      local pos = s + (text:sub(s, e):find("#", 1, true) or 1) - 1
      local function cond(expr)
        if expr == "" then fail(src, pos, "#" .. dir .. " without a condition") end
        local x = parser.parse_expr(src, replace_defined(expr, macros))
        if not x then fail(src, pos, "bad #" .. dir .. " condition '" .. expr .. "'") end
        return eval(x, macros, src) ~= 0
      end
      if dir == "if" or dir == "ifdef" or dir == "ifndef" then
        local parent = active
        local v = false
        if parent then
          if dir == "if" then v = cond(rest)
          else
            local name = rest:match("^([%a_][%w_]*)")
            if not name then fail(src, pos, "#" .. dir .. " needs a name") end
            v = (macros[name] ~= nil) == (dir == "ifdef")
          end
        end
        stack[#stack + 1] = { parent = parent, taken = v, pos = pos }
        active = parent and v
      elseif dir == "elif" then
        local top = stack[#stack]
        if not top then fail(src, pos, "#elif without #if") end
        if top.else_seen then fail(src, pos, "#elif after #else") end
        if top.parent and not top.taken and cond(rest) then top.taken = true; active = true
        else active = false end
      elseif dir == "else" then
        local top = stack[#stack]
        if not top then fail(src, pos, "#else without #if") end
        if top.else_seen then fail(src, pos, "#else after #else") end
        top.else_seen = true
        active = top.parent and not top.taken
        top.taken = true
      elseif dir == "endif" then
        if not stack[#stack] then fail(src, pos, "#endif without #if") end
        active = stack[#stack].parent
        stack[#stack] = nil
      elseif active then
        if dir == "define" then
          local name, params = rest:match("^([%a_][%w_]*)(%b())")
          if name and rest:sub(#name + 1, #name + 1) == "(" then
            macros[name] = { func = true, body = rest:sub(#name + #params + 1):match("^%s*(.-)$"), src = src, pos = pos }
          else
            name = rest:match("^([%a_][%w_]*)")
            if not name then fail(src, pos, "#define needs a name") end
            macros[name] = { body = rest:sub(#name + 1):match("^%s*(.-)$"), src = src, pos = pos }
          end
        elseif dir == "undef" then
          local name = rest:match("^([%a_][%w_]*)")
          if name then macros[name] = nil end
        elseif dir == "include" then
          local name = rest:match('^"([^"]+)"') or rest:match("^<([^>]+)>")
          if not name then fail(src, pos, "#include needs \"file\" or <file>") end
          ctx.include(name, src, pos)
        elseif dir == "error" then
          fail(src, pos, "#error " .. rest)
        elseif dir == "pragma" or dir == "line" or dir == "" or dir == "warning" or dir == "ident" then
          -- nothing: no effect on the wire
        else
          fail(src, pos, "unknown directive #" .. dir)
        end
      end
      for _ = first, i do out[#out + 1] = "" end
    else
      -- block comment state across lines (a '#' inside a comment is text)
      local j = 1
      while true do
        if in_comment then
          local c = line:find("*/", j, true)
          if not c then break end
          in_comment, j = false, c + 2
        else
          local q = line:find("[\"/]", j)
          if not q then break end
          local ch = line:sub(q, q)
          if ch == '"' then
            local close = q + 1
            while true do
              local k = line:find('[\\"]', close)
              if not k then close = #line + 1; break end
              if line:sub(k, k) == "\\" then close = k + 2 else close = k + 1; break end
            end
            j = close
          elseif line:sub(q, q + 1) == "/*" then in_comment, j = true, q + 2
          elseif line:sub(q, q + 1) == "//" then break
          else j = q + 1 end
        end
      end
      out[#out + 1] = active and line or ""
    end
    i = i + 1
  end
  if stack[#stack] then fail(src, stack[#stack].pos, "#if without #endif") end
  local result = table.concat(out, "\n")
  -- macros defined empty vanish from the text, column for column
  local empties = {}
  for name, m in pairs(macros) do
    if not m.func and m.body == "" then empties[name] = string.rep(" ", #name) end
  end
  if next(empties) then
    result = result:gsub("()([%a_][%w_]*)", function(p, w)
      local blank = empties[w]
      if blank and not result:sub(p - 1, p - 1):match("[%w_]") then return blank end
    end)
  end
  return result
end

return M
