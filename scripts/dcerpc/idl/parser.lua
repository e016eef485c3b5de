-- dcerpc.idl.parser: MIDL text -> syntax tree (with positions), built with
-- LPeg the way LPeg's `re` module builds its patterns: a grammar table of
-- rules, lexical helpers that skip blanks and comments after every token,
-- and captures that make the tree nodes.
--
-- The tree is plain tables; every node that can be the subject of an error
-- carries `pos` (byte offset in the source) and `src` (the source object
-- { name = file name, text = text }); dcerpc.idl.lower turns the tree into
-- dcerpc.ndr descriptions. A syntax error raises { idl = true, src, pos,
-- message } at the farthest point the grammar reached, naming what it
-- expected there.

local lpeg = require "lpeg"
local P, S, R, V, C, Ct, Cc, Cp, Cf, Cg, Cmt =
  lpeg.P, lpeg.S, lpeg.R, lpeg.V, lpeg.C, lpeg.Ct, lpeg.Cc, lpeg.Cp, lpeg.Cf, lpeg.Cg, lpeg.Cmt

local M = {}

-- ------------------------------------------------------------ match state
-- The grammar is built once; a match reads the source it works on and
-- records the farthest token it tried (for the syntax error) through these.
local cur_src                  -- { name, text } being matched
local far_pos, far_what = 0, {}

-- The grammar is built twice: without tracking for speed, and with a
-- Lua call at every token it tries, run only after a failed match to find
-- where and what it expected (the fast one would pay that on every token).
local function build(track)

local function reached(what)
  if not track then return P(true) end
  return Cmt(P(true), function(_, i)
    if i > far_pos then far_pos, far_what = i, { what }
    elseif i == far_pos then far_what[#far_what + 1] = what end
    return true
  end)
end

-- ------------------------------------------------------------ lexical
local nl = P"\r\n" + P"\n" + P"\r"
local line_comment = P"//" * (1 - S"\r\n")^0
local block_comment = P"/*" * (1 - P"*/")^0 * P"*/"
local open_comment = Cmt(P"/*" * Cp(), function(_, _, p)
  error({ idl = true, src = cur_src, pos = p - 2, message = "comment not closed" }, 0)
end)
local sp = (S" \t\f\v" + nl + line_comment + block_comment + open_comment)^0

local idstart = R("az", "AZ") + P"_"
local idchar = idstart + R"09"
local ident = idstart * idchar^0

local function kw(w) return reached("'" .. w .. "'") * P(w) * -idchar * sp end
local function sym(s) return reached("'" .. s .. "'") * P(s) * sp end

-- words that never name a declarator, a field or a type
local RESERVED = {}
for w in ([[struct union enum typedef const interface import switch case default
  unsigned signed long short small hyper int char void float double sizeof pipe
  bitmap cpp_quote midl_pragma library coclass dispinterface module]]):gmatch("%S+") do
  RESERVED[w] = true
end
M.RESERVED = RESERVED

local reserved_word = P(false)
for w in pairs(RESERVED) do reserved_word = reserved_word + P(w) end
local ID = reached("a name") * C(ident - (reserved_word * -idchar)) * sp

-- items with no meaning (cpp_quote, a lone ';', a forward declaration):
-- a value all the same, so the list has no holes
local SKIP = { tag = "skip" }

local function node(tag)
  return function(pos, ...)
    local n = { tag = tag, pos = pos, src = cur_src }
    local a = { ... }
    for i = 1, #a do n[i] = a[i] end
    return n
  end
end

-- literals
local hex = (P"0x" + P"0X") * R("09", "af", "AF")^1
local dec = R"09"^1
local intsuffix = S"uUlL"^0
local number = reached("a number") * Cp() * C(hex + dec) * intsuffix * -idchar * sp / function(pos, s)
  local v
  if s:match("^0[xX]") then v = math.tointeger(tonumber(s:sub(3), 16))
  elseif #s > 1 and s:sub(1, 1) == "0" then v = math.tointeger(tonumber(s, 8))
  else v = math.tointeger(tonumber(s)) end
  if not v then
    error({ idl = true, src = cur_src, pos = pos, message = "bad number '" .. s .. "'" }, 0)
  end
  return { tag = "num", pos = pos, src = cur_src, v }
end
local escape = P"\\" * P(1)
local strbody = (escape + (1 - S"\"\\\r\n"))^0
local string_lit = reached("a string") * P"L"^-1 * P'"' * C(strbody) * P'"' * sp
local char_lit = reached("a character") * Cp() * P"L"^-1 * P"'" * C(escape + (1 - S"'\\")) * P"'" * sp / function(pos, s)
  local map = { n = 10, t = 9, r = 13, ["0"] = 0, ["\\"] = 92, ["'"] = 39, ['"'] = 34 }
  local v = #s == 2 and (map[s:sub(2)] or s:byte(2)) or s:byte()
  return { tag = "num", pos = pos, src = cur_src, v }
end

-- the argument text of an attribute, parentheses balanced, strings atomic
local balanced = P{ ((P'"' * strbody * P'"') + (P"'" * (escape + (1 - S"'\\")) * P"'") +
                     (P"(" * V(1) * P")") + (1 - S"()\"'"))^0 }

-- ------------------------------------------------------------ expressions
-- C's operators with C's precedence; a node is { tag = "bin", op, a, b },
-- { tag = "un", op, a }, { tag = "cond", c, a, b }, { tag = "id", name },
-- { tag = "num", v }, { tag = "cast", typewords, a }, { tag = "member", a, name }.
-- Binary operators by precedence (C's). An operand chain is captured flat
-- (one table: operand, pos, op, operand, ...) and folded here by precedence
-- climbing, so only parentheses and unary operators nest captures: LPeg
-- limits capture nesting, and a grammar rule per precedence level would nest
-- ten captures per parenthesis.
local PREC = { ["||"] = 1, ["&&"] = 2, ["|"] = 3, ["^"] = 4, ["&"] = 5, ["=="] = 6, ["!="] = 6,
               ["<"] = 7, [">"] = 7, ["<="] = 7, [">="] = 7, ["<<"] = 8, [">>"] = 8,
               ["+"] = 9, ["-"] = 9, ["*"] = 10, ["/"] = 10, ["%"] = 10 }
local binop = P"||" + P"&&" + P"<<" + P">>" + P"<=" + P">=" + P"==" + P"!=" + S"|^&<>+-*/%"
local function climb(chain)
  local i = 1
  local function parse(minprec)
    local lhs = chain[i]
    i = i + 1
    while chain[i] do
      local pos, op = chain[i], chain[i + 1]
      local prec = PREC[op]
      if prec < minprec then break end
      i = i + 2
      local rhs = parse(prec + 1)                     -- left associative
      lhs = { tag = "bin", pos = pos, src = chain.src, op, lhs, rhs }
    end
    return lhs
  end
  return parse(1)
end

-- words that make a cast "(unsigned long) -1"; a cast to a named type is
-- recognised when the name is a known type (M.type_names, filled by the
-- caller with the predefined names and every typedef met so far)
M.type_names = {}
local basewords
for _, w in ipairs({ "unsigned", "signed", "long", "short", "small", "int", "hyper", "char", "__int8",
                    "__int16", "__int32", "__int64", "__int3264", "float", "double", "void" }) do
  local p = reached("'" .. w .. "'") * C(P(w)) * -idchar * sp
  basewords = basewords and (basewords + p) or p
end
local castname = Cmt(C(ident), function(_, i, id)
  if M.type_names[id] then return i, id end
  return false
end) * sp

local expr_rules = {
  "expr",
  expr = V"cond",
  cond = Cp() * V"chain" * (sym"?" * V"expr" * sym":" * V"cond")^-1 / function(pos, c, a, b)
    if a == nil then return c end
    return { tag = "cond", pos = pos, src = cur_src, c, a, b }
  end,
  chain = Ct(V"unary" * (Cp() * reached("an operator") * C(binop) * sp * V"unary")^0) / function(t)
    if #t == 1 then return t[1] end
    t.src = cur_src
    return climb(t)
  end,
  unary = (Cp() * sym"(" * Ct((basewords + castname)^1) * sym")" * V"unary" / function(pos, words, a)
             return { tag = "cast", pos = pos, src = cur_src, words, a }
           end)
        + (Cp() * reached("an operator") * C(S"-~!+*&") * sp * V"unary" / function(pos, op, a)
             return { tag = "un", pos = pos, src = cur_src, op, a }
           end)
        + V"postfix",
  postfix = Cf(V"primary" * Cg(Cp() * (sym"->" + sym".") * ID)^0, function(a, pos, name)
    return { tag = "member", pos = pos, src = cur_src, a, name }
  end),
  primary = number + char_lit
          + (Cp() * string_lit / function(pos, s) return { tag = "str", pos = pos, src = cur_src, s } end)
          + (Cp() * ID / function(pos, id) return { tag = "id", pos = pos, src = cur_src, id } end)
          + (sym"(" * V"expr" * sym")"),
}
local Expr = P(expr_rules)

-- an attribute's argument list: expressions, and empty entries
-- (size_is(, n)); the whole argument text must be consumed
local ArgList = sp * Ct((Cp() * Expr + Cp() * Cc(false)) * (sym"," * (Cp() * Expr + Cp() * Cc(false)))^0) * Cp()

-- ------------------------------------------------------------ declarations
local callconv = kw"__stdcall" + kw"__cdecl" + kw"__fastcall" + kw"__pascal" + kw"_stdcall" +
                 kw"__RPC_FAR" + kw"__RPC_API" + kw"__RPC_USER" + kw"__RPC_STUB" + kw"WINAPI" +
                 kw"RPC_ENTRY" + kw"__far" + kw"__near" + kw"__ptr64" + kw"__ptr32"
local qualifier = kw"const" + kw"volatile" + kw"__const"

local G = {
  "file",
  file = sp * Ct(V"item"^0) * (-1 + reached("a declaration") * P(false)),
  item = V"import" + V"cppquote" + V"midlpragma" + V"interface" + V"typedef" + V"constdecl"
       + V"library" + V"tagdecl" + V"func" + (sym";" / function() return SKIP end),

  import = Cp() * kw"import" * Ct(string_lit * (sym"," * string_lit)^0) * sym";" / node("import"),
  cppquote = kw"cpp_quote" * sym"(" * string_lit * sym")" * sym";"^-1 / function() return SKIP end,
  midlpragma = kw"midl_pragma" * ID * sym"(" * balanced * sym")" * sym";"^-1 / function() return SKIP end,
  library = Cmt(Cp() * (V"attrs" + Cc(nil)) * C(P"library" + P"coclass" + P"dispinterface" + P"module") * -idchar,
    function(_, _, pos, _, what)
      error({ idl = true, src = cur_src, pos = pos, message = what .. " blocks (COM type libraries) are not supported" }, 0)
    end),

  -- [attr, attr(args)] ... (several lists in a row merge)
  attrs = Cf(Ct"" * (sym"[" * V"attr" * (sym"," * V"attr")^0 * sym","^-1 * sym"]")^1, function(t, a)
    t[#t + 1] = a; return t
  end),
  attr = Cp() * reached("an attribute") * C(ident) * sp * (sym"(" * Cp() * C(balanced) * sym")")^-1 /
    function(pos, name, argpos, args)
      return { tag = "attr", pos = pos, src = cur_src, name = name, argpos = argpos, args = args }
    end,

  interface = Cp() * (V"attrs" + Cc{}) * kw"interface" * ID * (sym":" * ID + Cc(nil)) *
              sym"{" * Ct(V"iitem"^0) * sym"}" * sym";"^-1 /
    function(pos, attrs, name, base, items)
      return { tag = "interface", pos = pos, src = cur_src, attrs = attrs, name = name, base = base, items = items }
    end
    + (V"attrs"^-1 * kw"interface" * ID * sym";") / function() return SKIP end,
  iitem = V"import" + V"cppquote" + V"midlpragma" + V"typedef" + V"constdecl" + V"tagdecl" + V"func" + (sym";" / function() return SKIP end),

  typedef = Cmt(Cp() * kw"typedef" * (V"attrs" + Cc{}) * V"typespec" * V"declarators" * sym";", function(_, i, pos, attrs, ts, decls)
      -- at match time: later casts "(NAME) x" in this file know the name
      for _, d in ipairs(decls) do if d.name then M.type_names[d.name] = true end end
      return i, { tag = "typedef", pos = pos, src = cur_src, attrs = attrs, type = ts, decls = decls }
    end),
  constdecl = Cp() * kw"const" * V"typespec" * V"ptrs" * ID * sym"=" * Expr * sym";" /
    function(pos, ts, nptr, name, e)
      return { tag = "const", pos = pos, src = cur_src, type = ts, name = name, value = e }
    end,
  tagdecl = (V"structspec" + V"unionspec" + V"enumspec" + V"bitmapspec") * sym";" /
    function(ts) return { tag = "tagdecl", pos = ts.pos, src = cur_src, type = ts } end,

  typespec = qualifier^0 * (V"structspec" + V"unionspec" + V"enumspec" + V"bitmapspec" + V"pipespec" +
                            V"basetype" + V"named") * qualifier^0,
  basetype = Cp() * Ct(basewords^1) / function(pos, words)
    return { tag = "base", pos = pos, src = cur_src, words = words }
  end,
  named = Cp() * ID / function(pos, name) return { tag = "named", pos = pos, src = cur_src, name = name } end,
  pipespec = Cp() * kw"pipe" * V"typespec" / function(pos, t) return { tag = "pipe", pos = pos, src = cur_src, t } end,

  structspec = Cp() * kw"struct" * (ID + Cc(nil)) * (sym"{" * Ct(V"member"^0) * sym"}" + Cc(nil)) /
    function(pos, name, members)
      return { tag = "struct", pos = pos, src = cur_src, name = name, members = members }
    end,
  member = Cp() * (V"attrs" + Cc{}) * V"typespec" * V"declarators" * sym";" /
    function(pos, attrs, ts, decls) return { tag = "member", pos = pos, src = cur_src, attrs = attrs, type = ts, decls = decls } end,

  unionspec = Cp() * kw"union" * (ID + Cc(nil)) *
    (kw"switch" * sym"(" * V"typespec" * ID * sym")" * (ID + Cc(nil)) / function(t, n, u) return { type = t, name = n, union_name = u } end
     + Cc(nil)) *
    (sym"{" * Ct(V"arm"^0) * sym"}" + Cc(nil)) /
    function(pos, name, switch, arms)
      return { tag = "union", pos = pos, src = cur_src, name = name, switch = switch, arms = arms }
    end,
  -- encapsulated arms: case X: case Y: T x;   non-encapsulated: [case(X, Y)] T x;
  arm = Cp() * Ct((kw"case" * Cp() * Expr * sym":" / function(p, e) return { p, e } end
                  + kw"default" * sym":" * Cc("default"))^0) *
        (V"attrs" + Cc{}) * (V"typespec" * V"declarator" + Cc(nil) * Cc(nil)) * sym";" /
    function(pos, labels, attrs, ts, decl)
      return { tag = "arm", pos = pos, src = cur_src, labels = labels, attrs = attrs, type = ts, decl = decl }
    end,

  enumspec = Cp() * kw"enum" * (ID + Cc(nil)) *
    (sym"{" * Ct(V"enumerator" * (sym"," * V"enumerator")^0 * sym","^-1) * sym"}" + Cc(nil)) /
    function(pos, name, items) return { tag = "enum", pos = pos, src = cur_src, name = name, items = items } end,
  enumerator = Cp() * (V"attrs" + Cc(nil)) * ID * (sym"=" * Expr + Cc(nil)) / function(pos, _, name, value)
    return { pos = pos, src = cur_src, name = name, value = value }
  end,
  -- Samba pidl: bitmap NAME { FLAG = 0x1, ... }
  bitmapspec = Cp() * kw"bitmap" * (ID + Cc(nil)) *
    sym"{" * Ct((V"enumerator" * (sym"," * V"enumerator")^0 * sym","^-1)^-1) * sym"}" /
    function(pos, name, items) return { tag = "bitmap", pos = pos, src = cur_src, name = name, items = items } end,

  -- declarators: pointers, a name (absent in abstract parameter
  -- declarators), array dimensions; function pointers are refused
  declarators = Ct(V"declarator" * (sym"," * V"declarator")^0),
  ptrs = Cf(Cc(0) * (callconv^0 * sym"*" * qualifier^0 * Cc(1))^0, function(a, b) return a + b end) * callconv^0,
  declarator = Cp() * V"ptrs" * (ID + Cc(nil)) * Ct(V"dim"^0) * Cmt(Cp() * #P"(", function(_, _, p)
      error({ idl = true, src = cur_src, pos = p, message = "function pointers are not supported" }, 0)
    end)^-1 / function(pos, nptr, name, dims)
      return { tag = "decl", pos = pos, src = cur_src, ptrs = nptr, name = name, dims = dims }
    end,
  dim = sym"[" * (Expr + Cp() * sym"*" / function(p) return { tag = "star", pos = p, src = cur_src } end
                  + Cp() / function(p) return { tag = "open", pos = p, src = cur_src } end) * sym"]",

  func = Cp() * (V"attrs" + Cc{}) * V"typespec" * V"ptrs" * ID * sym"(" * V"params" * sym")" * sym";" /
    function(pos, attrs, ts, nptr, name, params)
      return { tag = "func", pos = pos, src = cur_src, attrs = attrs, type = ts, ptrs = nptr, name = name, params = params }
    end,
  params = Ct((kw"void" * #sym")") ^ -1 * (V"param" * (sym"," * V"param")^0)^-1),
  param = Cp() * (V"attrs" + Cc{}) * V"typespec" * V"declarator" /
    function(pos, attrs, ts, decl) return { tag = "param", pos = pos, src = cur_src, attrs = attrs, type = ts, decl = decl } end,
}

local File = P(G)

-- An application configuration file (.acf): attributes for the stubs of one
-- machine, none of which changes the wire. Read to check it and to find the
-- procedures and types it names.
local acf_params = Ct(((V"attrs" + Cc{}) * ID / function(a, n) return { attrs = a, name = n } end *
                       (sym"," * (V"attrs" + Cc{}) * ID / function(a, n) return { attrs = a, name = n } end)^0)^-1)
local Acf = P{
  "acf",
  acf = sp * Ct(V"aitem"^0) * (-1 + reached("an interface") * P(false)),
  aitem = Cp() * kw"include" * Ct(string_lit * (sym"," * string_lit)^0) * sym";" / function() return SKIP end
        + Cp() * kw"import" * Ct(string_lit * (sym"," * string_lit)^0) * sym";" / function() return SKIP end
        + Cp() * (V"attrs" + Cc{}) * kw"interface" * ID * sym"{" * Ct(V"abody"^0) * sym"}" * sym";"^-1 /
          function(pos, attrs, name, body)
            return { tag = "acf_interface", pos = pos, src = cur_src, attrs = attrs, name = name, body = body }
          end,
  abody = Cp() * kw"typedef" * (V"attrs" + Cc{}) * Ct(ID * (sym"," * ID)^0) * sym";" /
          function(pos, attrs, names) return { tag = "acf_typedef", pos = pos, src = cur_src, attrs = attrs, names = names } end
        + Cp() * kw"include" * Ct(string_lit * (sym"," * string_lit)^0) * sym";" / function() return SKIP end
        + Cp() * (V"attrs" + Cc{}) * ID * sym"(" * acf_params * sym")" * sym";" /
          function(pos, attrs, name, params) return { tag = "acf_func", pos = pos, src = cur_src, attrs = attrs, name = name, params = params } end,
  attrs = G.attrs, attr = G.attr,
}

return { File = File, ArgList = ArgList, Acf = Acf, Whole = sp * Expr * -1 }
end

local FAST, DIAG = build(false), build(true)

-- LPeg raises when text nests deeper than its backtrack stack allows
-- (lpeg.setmaxstack, 400 by default: about 30 levels of parentheses): an
-- error of the file, not of the loader
local function guarded(patt, src, ...)
  local ok, r, r2 = pcall(patt.match, patt, ...)
  if ok then return r, r2 end
  local m = tostring(r)
  if m:find("stack overflow", 1, true) or m:find("nesting too deep", 1, true) then
    error({ idl = true, src = src, pos = 1,
            message = "nested too deeply for the parser (LPeg's backtrack stack; lpeg.setmaxstack raises it)" }, 0)
  end
  error(r, 0)
end

function M.parse_acf(src)
  cur_src = src
  local items = guarded(FAST.Acf, src, src.text)
  if not items then
    far_pos, far_what = 0, {}
    guarded(DIAG.Acf, src, src.text)
    local pos = math.max(far_pos, 1)
    local near = src.text:match("^[%w_]+", pos) or src.text:match("^%S", pos)
    error({ idl = true, src = src, pos = pos, message = near and ("syntax error near '" .. near .. "'") or
           "syntax error at the end of the file" }, 0)
  end
  return items
end

-- line and column of byte offset pos in text (1-based)
function M.where(text, pos)
  local line, last = 1, 1
  for i in text:sub(1, pos - 1):gmatch("()\n") do line = line + 1; last = i + 1 end
  return line, pos - last + 1
end

-- parse(src) -> items; raises { idl = true, src, pos, message } on a syntax error
function M.parse(src)
  cur_src = src
  local items = guarded(FAST.File, src, src.text)
  if not items then
    far_pos, far_what = 0, {}
    cur_src = src
    guarded(DIAG.File, src, src.text)
    local pos = math.max(far_pos, 1)
    local seen, list = {}, {}
    for _, w in ipairs(far_what) do if not seen[w] then seen[w] = true; list[#list + 1] = w end end
    local near = src.text:match("^[%w_]+", pos) or src.text:match("^%S", pos)
    local msg = near and ("syntax error near '" .. near .. "'") or "syntax error at the end of the file"
    if #list > 0 and #list <= 6 then msg = msg .. " (expected " .. table.concat(list, ", ") .. ")" end
    error({ idl = true, src = src, pos = pos, message = msg }, 0)
  end
  return items
end

-- the arguments of an attribute as expressions (false for an empty entry)
function M.attr_args(attr)
  if not attr.args then return {} end
  cur_src = attr.src
  -- matched in place (no copy of the text): it must stop where the argument text ends
  local r, stop = guarded(FAST.ArgList, attr.src, attr.src.text, attr.argpos)
  if not r or stop ~= attr.argpos + #attr.args then
    error({ idl = true, src = attr.src, pos = attr.argpos,
            message = "bad argument to [" .. attr.name .. "]: '" .. attr.args .. "'" }, 0)
  end
  local out = {}
  for i = 1, #r, 2 do out[#out + 1] = r[i + 1] or false end
  return out
end

-- an expression from a string (a #define's body, a #if condition)
function M.parse_expr(src, text)
  cur_src = src
  far_pos, far_what = 0, {}
  local e = guarded(FAST.Whole, src, text)
  return e
end

return M
