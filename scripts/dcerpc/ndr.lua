-- dcerpc.ndr - the NDR20 type description DSL and its compiler.
--
-- Descriptions are plain Lua tables built by the constructors below and
-- validated when built (errors name the type and the field). The first
-- encode/decode of a type or function compiles it, once, into a flat program
-- (see engine/ndr/ndr.h) that dcerpc.core loads into a userdata and the C
-- interpreter runs directly against Lua values. The program is cached on the
-- description.
--
-- Compiler shape: every type gets routines S (scalars), B (buffers, only when
-- the type holds pointers) and F (S then B with its own pointer queue, for
-- referents and top-level values). Routines are generated from a worklist, so
-- recursive types (a list node pointing to itself) compile without recursion
-- through the type graph.

local core = require "dcerpc.core"
local options = require "dcerpc.opts"

local M = {}
M.max_depth = 128           -- description nesting limit, and default data nesting limit
M.strict = false            -- check every table key of encoded values (see M.check_value)

local sfmt, type, pairs, ipairs, error, tostring, setmetatable, getmetatable =
  string.format, type, pairs, ipairs, error, tostring, setmetatable, getmetatable

-- ------------------------------------------------------------ opcodes
-- The opcode list is the C core's (engine/ndr/ndr_ops.h, exported as
-- core.ndr_ops): numbers are never written here. OP[name] is the number;
-- OPINT[n] says whether opcode n may carry F_RANGE / F_AUTO operands. A name
-- the core does not know raises (spec/ndr_ops_spec.lua checks every OP use
-- below against the core).
local OP, OPINT = {}, {}
for name, o in pairs(core.ndr_ops) do OP[name] = o.code; OPINT[o.code] = o.int end
setmetatable(OP, { __index = function(_, k) error("ndr: no opcode " .. tostring(k) .. " in dcerpc.core", 2) end })
local F_RANGE, F_AUTO = 0x80, 0x40
local PTR = { ref = 1, unique = 2, full = 3 }
local A_CONF, A_VARY, A_HOIST, A_STRING, A_NEEDB, A_MAXIS = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
local E = { COMPLEX = 0, BYTE = 1, WCHAR = 2, U16 = 3, U32 = 4, U64 = 5, I8 = 6, I16 = 7, I32 = 8 }
local U_ENCAP, U_NEEDB = 0x01, 0x02
local X = { FIELD = 1, CONST = 2, ["+"] = 3, ["-"] = 4, ["*"] = 5, ["/"] = 6, ["%"] = 7, ["&"] = 8,
            ["|"] = 9, ["^"] = 10, ["<<"] = 11, [">>"] = 12, ["=="] = 13, ["!="] = 14, ["<"] = 15,
            [">"] = 16, ["<="] = 17, [">="] = 18, ["&&"] = 19, ["||"] = 20, ["!"] = 21, ["~"] = 22,
            ["?:"] = 23 }

-- ------------------------------------------------------------ type objects
local TypeMT = { __name = "dcerpc.ndr.type" }
TypeMT.__index = TypeMT
function TypeMT.__tostring(t) return "ndr type " .. (t.name or t.kind) end

local function is_type(t) return getmetatable(t) == TypeMT end
M.is_type = is_type

local function newtype(t)
  t.depth = t.depth or 0
  if t.depth > M.max_depth then
    error(sfmt("ndr: description of %s nested deeper than %d", t.name or t.kind, M.max_depth), 3)
  end
  return setmetatable(t, TypeMT)
end

local function clone(t)
  local c = {}
  for k, v in pairs(t) do if k ~= "__prog" then c[k] = v end end
  return setmetatable(c, TypeMT)
end

local function tname(t) return t.name or t.kind end

local function checktype(t, where, level)
  if not is_type(t) then
    error(sfmt("ndr: %s: type expected, got %s", where, type(t) == "table" and "table" or type(t)), (level or 2) + 1)
  end
  return t
end

-- primitives
local function prim(name, op, size, ek, extra)
  local t = { kind = "prim", name = name, op = op, size = size, align = size, minsize = size, ek = ek }
  for k, v in pairs(extra or {}) do t[k] = v end
  return newtype(t)
end

M.uint8 = prim("uint8", OP.U8, 1, E.BYTE)
M.byte = M.uint8
M.char = prim("char", OP.U8, 1, E.BYTE)
M.int8 = prim("int8", OP.I8, 1, E.I8)
M.uint16 = prim("uint16", OP.U16, 2, E.U16)
M.int16 = prim("int16", OP.I16, 2, E.I16)
M.wchar_t = prim("wchar_t", OP.U16, 2, E.U16, { wchar = true })
M.uint32 = prim("uint32", OP.U32, 4, E.U32)
M.int32 = prim("int32", OP.I32, 4, E.I32)
M.error_status_t = prim("error_status_t", OP.U32, 4, E.U32)
M.uint64 = prim("uint64", OP.U64, 8, E.U64)
M.int64 = prim("int64", OP.U64, 8, E.U64)
M.hyper = prim("hyper", OP.U64, 8, E.U64)
M.float = prim("float", OP.F32, 4, nil)
M.double = prim("double", OP.F64, 8, nil)
M.boolean = prim("boolean", OP.BOOL, 1, nil)
M.NTSTATUS = prim("NTSTATUS", OP.U32, 4, E.U32, { status = "NTSTATUS" })
M.WERROR = prim("WERROR", OP.U32, 4, E.U32, { status = "WERROR" })
M.HRESULT = prim("HRESULT", OP.U32, 4, E.U32, { status = "HRESULT" })
-- DWORD & co, for descriptions written from Microsoft IDL
M.DWORD, M.ULONG, M.LONG, M.WORD, M.USHORT, M.BYTE, M.BOOLEAN =
  M.uint32, M.uint32, M.int32, M.uint16, M.uint16, M.uint8, M.boolean

local function check_names(names, what)
  if names == nil then return nil end
  if type(names) ~= "table" then error(sfmt("ndr: %s: names table expected", what), 3) end
  for k, v in pairs(names) do
    if type(k) ~= "string" or math.type(v) ~= "integer" then
      error(sfmt("ndr: %s: names must map NAME = integer", what), 3)
    end
  end
  return names
end

function M.enum16(names)
  return newtype { kind = "prim", name = "enum16", op = OP.ENUM16, size = 2, align = 2, minsize = 2, names = check_names(names, "enum16") }
end
M.enum = M.enum16
function M.v1_enum(names)
  return newtype { kind = "prim", name = "v1_enum", op = OP.ENUM32, size = 4, align = 4, minsize = 4, names = check_names(names, "v1_enum") }
end

M.GUID = newtype { kind = "prim", name = "GUID", op = OP.GUID, size = 16, align = 4, minsize = 16 }
M.UUID = M.GUID
M.context_handle = newtype { kind = "prim", name = "context_handle", op = OP.CTXH, size = 20, align = 4, minsize = 20 }
M.policy_handle = M.context_handle
M.FILETIME = newtype { kind = "prim", name = "FILETIME", op = OP.U64A4, size = 8, align = 4, minsize = 8 }
M.SID = newtype { kind = "prim", name = "SID", op = OP.SID, align = 4, minsize = 12, conformant_special = true }
M.RPC_SID = M.SID
M.RPC_UNICODE_STRING = newtype { kind = "rus", name = "RPC_UNICODE_STRING", align = 4, minsize = 8 }

-- ------------------------------------------------------------ pointers
local function pointer(kind)
  return function(t)
    checktype(t, kind .. "()", 2)
    return newtype { kind = "ptr", ptype = kind, target = t, name = kind .. "(" .. tname(t) .. ")",
                     align = 4, minsize = 4, depth = (t.depth or 0) + 1 }
  end
end
M.ref, M.unique, M.full = pointer("ref"), pointer("unique"), pointer("full")
M.ptr = M.full

-- ------------------------------------------------------------ expressions
-- MIDL expressions: C's integer expressions over identifiers (fields or
-- parameters), *identifier (a pointer parameter's value), integer constants,
-- the binary operators with C's precedence, unary - ~ !, and c ? a : b.
-- Parsed to RPN: { {"f", name}, {"c", n}, {"+"}, ... }
local BINARY = { ["||"] = 1, ["&&"] = 2, ["|"] = 3, ["^"] = 4, ["&"] = 5, ["=="] = 6, ["!="] = 6,
                 ["<"] = 7, [">"] = 7, ["<="] = 7, [">="] = 7, ["<<"] = 8, [">>"] = 8,
                 ["+"] = 9, ["-"] = 9, ["*"] = 10, ["/"] = 10, ["%"] = 10 }
local function parse_expr(s, where)
  if math.type(s) == "integer" then return { { "c", s } }, {} end
  if type(s) ~= "string" then error(sfmt("ndr: %s: expression must be a string", where), 4) end
  local toks, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    local two = s:sub(i, i + 1)
    if c:match("%s") then i = i + 1
    elseif c:match("[%a_]") then
      local id = s:match("^[%w_]+", i); toks[#toks + 1] = { "id", id }; i = i + #id
    elseif c:match("%d") then
      local num = s:match("^0[xX]%x+", i) or s:match("^%d+", i)
      toks[#toks + 1] = { "num", math.tointeger(tonumber(num)) }; i = i + #num
    elseif two == "<<" or two == ">>" or two == "<=" or two == ">=" or two == "==" or two == "!="
        or two == "&&" or two == "||" then
      toks[#toks + 1] = { two }; i = i + 2
    elseif c:match("[%+%-%*/%%&|%^<>!~%?:%(%)]") then toks[#toks + 1] = { c }; i = i + 1
    else error(sfmt("ndr: %s: bad character '%s' in expression '%s'", where, c, s), 4) end
  end
  local pos, out, refs = 1, {}, {}
  local cond
  local function unary()
    local t = toks[pos]
    if not t then error(sfmt("ndr: %s: incomplete expression '%s'", where, s), 6) end
    pos = pos + 1
    if t[1] == "*" or t[1] == "+" then return unary()      -- dereference: the pointee is the value
    elseif t[1] == "id" then out[#out + 1] = { "f", t[2] }; refs[#refs + 1] = t[2]
    elseif t[1] == "num" then out[#out + 1] = { "c", t[2] }
    elseif t[1] == "(" then
      cond()
      if not toks[pos] or toks[pos][1] ~= ")" then error(sfmt("ndr: %s: missing ')' in '%s'", where, s), 6) end
      pos = pos + 1
    elseif t[1] == "-" then out[#out + 1] = { "c", 0 }; unary(); out[#out + 1] = { "-" }
    elseif t[1] == "~" or t[1] == "!" then unary(); out[#out + 1] = { t[1] }
    else error(sfmt("ndr: %s: unexpected '%s' in '%s'", where, t[1], s), 6) end
  end
  local function binary(minprec)
    unary()
    while toks[pos] do
      local op = toks[pos][1]
      local prec = BINARY[op]
      if not prec or prec < minprec then break end
      pos = pos + 1
      binary(prec + 1)                                    -- left associative
      out[#out + 1] = { op }
    end
  end
  function cond()
    binary(1)
    if toks[pos] and toks[pos][1] == "?" then
      pos = pos + 1
      cond()
      if not toks[pos] or toks[pos][1] ~= ":" then error(sfmt("ndr: %s: '?' without ':' in '%s'", where, s), 6) end
      pos = pos + 1
      cond()
      out[#out + 1] = { "?:" }
    end
  end
  cond()
  if pos <= #toks then error(sfmt("ndr: %s: trailing input in expression '%s'", where, s), 4) end
  if #out > 60 then error(sfmt("ndr: %s: expression too long", where), 4) end
  -- the engine's stack holds 16 values
  local depth, top = 0, 0
  for _, tk in ipairs(out) do
    local o = tk[1]
    if o == "f" or o == "c" then depth = depth + 1
    elseif o == "!" or o == "~" then -- pops one, pushes one
    elseif o == "?:" then depth = depth - 2
    else depth = depth - 1 end
    if depth > top then top = depth end
  end
  if top > 16 then error(sfmt("ndr: %s: expression '%s' nests too deeply for the engine", where, s), 4) end
  return out, refs
end

-- ------------------------------------------------------------ arrays
local SIZE_ATTRS = { "size_is", "length_is", "first_is", "max_is" }

local function elem_kind(elem, text)
  if elem.kind ~= "prim" or elem.range or elem.names then return E.COMPLEX end
  if text and elem.wchar then return E.WCHAR end
  return elem.ek or E.COMPLEX
end

-- A multi-dimensional conformant (and varying) array: size_is = {"a", "b", ...}.
-- All max counts come first (then an offset/actual pair per dimension), then
-- the cells in row-major order; the Lua value is nested sequences. Built as a
-- chain of arrays: the outermost reads/writes every count, the inner ones
-- (md_inner = dimension index) take theirs from it.
local function make_md(t, where)
  local sizes, lens = t.size_is, t.length_is
  local n = #sizes
  if n < 2 or n > 8 then error(sfmt("ndr: %s: 2 to 8 dimensions", where), 5) end
  if lens ~= nil and (type(lens) ~= "table" or #lens ~= n) then
    error(sfmt("ndr: %s: length_is needs one expression per dimension", where), 5)
  end
  if t.first_is ~= nil or t.max_is ~= nil or t.string or t.length then
    error(sfmt("ndr: %s: multi-dimensional arrays take size_is and length_is only", where), 5)
  end
  local sx, lx, refs = {}, {}, {}
  for i = 1, n do
    local r
    sx[i], r = parse_expr(sizes[i], where .. " size_is")
    for _, id in ipairs(r) do refs[#refs + 1] = id end
    if lens then
      lx[i], r = parse_expr(lens[i], where .. " length_is")
      for _, id in ipairs(r) do refs[#refs + 1] = id end
    end
  end
  local base = t.md_base_elem or t.elem
  local cell_min = base.minsize or 0
  local inner = base
  for d = n - 1, 1, -1 do
    local it = { kind = "array", elem = inner, name = "array(" .. tname(inner) .. ")", conformant = true,
                 varying = lens and true or nil, md_inner = d, text = t.text,
                 align = math.max(inner.align or 1, 1), minsize = 0, depth = (inner.depth or 0) + 1 }
    it.ek = (d == n - 1) and elem_kind(base, t.text) or E.COMPLEX
    inner = newtype(it)
  end
  t.elem, t.md_base_elem, t.md = inner, base, n
  t.md_size_x, t.md_len_x = sx, lens and lx or nil
  t.size_is_refs, t.length_is_refs = refs, nil
  t.conformant, t.varying = true, lens and true or nil
  t.ek = E.COMPLEX
  t.md_cell_min = cell_min
  t.align = math.max(4, base.align or 1)
  t.minsize = 4 * n + (lens and 8 * n or 0)
  t.depth = (inner.depth or 0) + 1
  return newtype(t)
end

local function finish_array(t, where)
  local o = t
  if o.size_is ~= nil and type(o.size_is) == "table" then return make_md(t, where) end
  t.conformant = (o.size_is ~= nil or o.max_is ~= nil or (o.string and o.length == nil)) or nil
  t.varying = (o.length_is ~= nil or o.first_is ~= nil or o.string) or nil
  if not t.conformant and not t.length then
    error(sfmt("ndr: %s: array needs length, size_is or max_is", where), 4)
  end
  if t.length and (math.type(t.length) ~= "integer" or t.length < 0 or t.length > 0xFFFFFFFF) then
    error(sfmt("ndr: %s: bad array length", where), 4)
  end
  for _, a in ipairs(SIZE_ATTRS) do
    if t[a] ~= nil then t[a .. "_x"], t[a .. "_refs"] = parse_expr(t[a], where .. " " .. a) end
  end
  t.ek = elem_kind(t.elem, t.text)
  local ea = t.elem.align or 1
  -- a conformant array's max_count aligns itself (and is hoisted in structs);
  -- offset and actual count of a varying array sit inline
  t.align = math.max(t.varying and 4 or 1, ea)
  t.minsize = (t.conformant and 4 or 0) + (t.varying and 8 or 0)
  if not t.conformant and not t.varying then t.minsize = t.length * (t.elem.minsize or 0) end
  t.depth = (t.elem.depth or 0) + 1
  return newtype(t)
end

function M.array(elem, opts)
  checktype(elem, "array()", 2)
  opts = opts or {}
  if type(opts) ~= "table" then error("ndr: array(): options table expected", 2) end
  local t = { kind = "array", elem = elem, name = "array(" .. tname(elem) .. ")", length = opts.length, text = opts.text }
  for _, a in ipairs(SIZE_ATTRS) do t[a] = opts[a] end
  for k in pairs(opts) do
    if k ~= "length" and k ~= "text" and k ~= "size_is" and k ~= "length_is" and k ~= "first_is" and k ~= "max_is" then
      error(sfmt("ndr: array(): unknown option '%s'", tostring(k)), 2)
    end
  end
  return finish_array(t, t.name)
end

local function string_ctor(name, elem)
  local base = finish_array({ kind = "array", elem = elem, name = name, string = true, text = true }, name)
  return setmetatable(base, {
    __index = TypeMT, __name = "dcerpc.ndr.type", __tostring = TypeMT.__tostring,
    __call = function(_, opts)
      opts = opts or {}
      local t = { kind = "array", elem = elem, name = name, string = true, text = true, length = opts.length }
      for _, a in ipairs(SIZE_ATTRS) do t[a] = opts[a] end
      return finish_array(t, name)
    end,
  })
end
-- string constructors are callable type objects: make is_type accept them
M.string = string_ctor("string", M.char)
M.wstring = string_ctor("wstring", M.wchar_t)
local string_mts = { [getmetatable(M.string)] = true, [getmetatable(M.wstring)] = true }
is_type = function(t) local mt = getmetatable(t); return mt == TypeMT or (mt ~= nil and string_mts[mt] == true) end
M.is_type = is_type

function M.wchars(opts)
  opts = opts or {}
  local t = { kind = "array", elem = M.wchar_t, name = "wchars", text = true, length = opts.length }
  for _, a in ipairs(SIZE_ATTRS) do t[a] = opts[a] end
  return finish_array(t, "wchars")
end

-- ------------------------------------------------------------ attributes
-- Sizing attributes apply to the first array reached from a field (through
-- pointers), switch_is to the first union, range to an integer.
local function apply_attrs(t, attrs, where)
  local any = false
  for _, a in ipairs(SIZE_ATTRS) do if attrs[a] ~= nil then any = true end end
  if any then
    local function go(x)
      if x.kind == "ptr" then
        local c = clone(x); c.target = go(x.target); c.name = x.ptype .. "(" .. tname(c.target) .. ")"; return c
      elseif x.kind == "array" then
        local c = {}
        for k, v in pairs(x) do if k ~= "__prog" then c[k] = v end end
        for _, a in ipairs(SIZE_ATTRS) do if attrs[a] ~= nil then c[a] = attrs[a] end end
        return finish_array(c, where)
      else
        error(sfmt("ndr: %s: size_is/length_is/first_is/max_is need an array, got %s", where, tname(x)), 5)
      end
    end
    t = go(t)
  end
  if attrs.switch_is ~= nil then
    local function go(x)
      if x.kind == "ptr" then
        local c = clone(x); c.target = go(x.target); return c
      elseif x.kind == "union" and not x.encapsulated then
        local c = clone(x); c.switch_is = attrs.switch_is
        c.switch_is_x, c.switch_is_refs = parse_expr(attrs.switch_is, where .. " switch_is")
        return c
      else
        error(sfmt("ndr: %s: switch_is on a non-union (%s)", where, tname(x)), 5)
      end
    end
    t = go(t)
  end
  if attrs.range ~= nil then
    local r = attrs.range
    if type(r) ~= "table" or math.type(r[1]) ~= "integer" or math.type(r[2]) ~= "integer" or r[1] > r[2] then
      error(sfmt("ndr: %s: range = {lo, hi} with integers expected", where), 4)
    end
    if t.kind ~= "prim" or not t.size or t.op == OP.GUID or t.op == OP.CTXH or t.op == OP.F32 or t.op == OP.F64
       or t.op == OP.BOOL or t.op == OP.U64A4 or t.op == OP.SID then
      error(sfmt("ndr: %s: range needs an integer type", where), 4)
    end
    t = clone(t); t.range = { r[1], r[2] }
  end
  return t
end

-- ndr.range(T, lo, hi): the integer type T whose decoded values must lie in
-- [lo, hi] (MIDL's [range]; the same as range = {lo, hi} on a field)
function M.range(t, lo, hi)
  checktype(t, "range()", 2)
  return apply_attrs(t, { range = { lo, hi } }, "range(" .. tname(t) .. ")")
end

-- identifiers used by the sizing/switch expressions reachable from t
local function expr_refs(t, acc, seen)
  acc = acc or {}
  seen = seen or {}
  if seen[t] then return acc end
  seen[t] = true
  if t.kind == "ptr" then expr_refs(t.target, acc, seen)
  elseif t.kind == "array" then
    for _, a in ipairs(SIZE_ATTRS) do
      for _, r in ipairs(t[a .. "_refs"] or {}) do acc[#acc + 1] = { r, a, t } end
    end
    if t.elem.kind == "ptr" or t.elem.kind == "array" then expr_refs(t.elem, acc, seen) end
  elseif t.kind == "union" then
    for _, r in ipairs(t.switch_is_refs or {}) do acc[#acc + 1] = { r, "switch_is", t } end
  end
  return acc
end

-- ------------------------------------------------------------ structs
local KNOWN_FIELD_ATTRS = { size_is = true, length_is = true, first_is = true, max_is = true,
                            switch_is = true, range = true }

local function is_conformant(t)
  return (t.kind == "array" and t.conformant) or (t.kind == "struct" and t.conf ~= nil)
end

local function define_struct(st, spec)
  local name = st.name
  if st.fields then error(sfmt("ndr: struct %s defined twice", name), 3) end
  if type(spec) ~= "table" then error(sfmt("ndr: struct %s: field list expected", name), 3) end
  local fields, byname, align, minsize, depth = {}, {}, 1, 0, 0
  for i, f in ipairs(spec) do
    if type(f) ~= "table" or type(f[1]) ~= "string" then
      error(sfmt("ndr: struct %s: field %d must be { name, type, attrs... }", name, i), 3)
    end
    local fname = f[1]
    local where = sfmt("struct %s field %s", name, fname)
    if byname[fname] then error(sfmt("ndr: %s: duplicate field", where), 3) end
    checktype(f[2], where, 3)
    for k in pairs(f) do
      if k ~= 1 and k ~= 2 and not KNOWN_FIELD_ATTRS[k] then
        error(sfmt("ndr: %s: unknown attribute '%s'", where, tostring(k)), 3)
      end
    end
    local ft = apply_attrs(f[2], f, where)
    local fd = { name = fname, type = ft }
    fields[i] = fd
    byname[fname] = fd
    if ft.fields == nil and ft.kind == "struct" and ft ~= st then
      -- a forward-declared struct used inline: only pointers may refer to it
      error(sfmt("ndr: %s: struct %s used before it is defined", where, ft.name), 3)
    end
    if ft.kind == "array" and ft.md then
      error(sfmt("ndr: %s: a multi-dimensional conformant array inside a struct is not supported (use a pointer)", where), 3)
    end
    if is_conformant(ft) and i ~= #spec then
      error(sfmt("ndr: %s: a conformant array or struct must be the last field", where), 3)
    end
    if ft.conformant_special and i == #spec and #spec > 1 then
      error(sfmt("ndr: %s: an inline SID as the last field is not supported (use a pointer)", where), 3)
    end
    align = math.max(align, ft.align or 1)
    minsize = minsize + (ft.minsize or 0)
    depth = math.max(depth, ft.depth or 0)
  end
  if spec.align ~= nil then
    if spec.align ~= 1 and spec.align ~= 2 and spec.align ~= 4 and spec.align ~= 8 then
      error(sfmt("ndr: struct %s: align must be 1, 2, 4 or 8", name), 3)
    end
    align = spec.align
  end
  for k in pairs(spec) do
    if math.type(k) ~= "integer" and k ~= "align" then
      error(sfmt("ndr: struct %s: unknown option '%s'", name, tostring(k)), 3)
    end
  end
  -- expressions name fields of this struct
  for _, fd in ipairs(fields) do
    for _, r in ipairs(expr_refs(fd.type)) do
      if not byname[r[1]] then
        error(sfmt("ndr: struct %s field %s: unknown field '%s' in %s", name, fd.name, r[1], r[2]), 3)
      end
    end
  end
  local last = fields[#fields]
  if last and is_conformant(last.type) then
    st.conf = last
    -- the array itself, and the path of fields to the struct that holds it
    local path, inner = {}, last
    while inner.type.kind == "struct" do
      path[#path + 1] = inner.name
      inner = inner.type.conf
    end
    st.conf_array, st.conf_path = inner, path
    minsize = minsize + 4
  end
  st.fields, st.byname, st.align, st.minsize = fields, byname, align, minsize
  st.depth = depth + 1
  if st.depth > M.max_depth then
    error(sfmt("ndr: description of %s nested deeper than %d", name, M.max_depth), 3)
  end
  return st
end

local StructMT = { __name = "dcerpc.ndr.type", __index = TypeMT, __tostring = TypeMT.__tostring,
                   __call = function(self, spec) return define_struct(self, spec) end }
string_mts[StructMT] = true

function M.struct(name)
  if type(name) == "table" then  -- anonymous: ndr.struct { ... }
    local st = setmetatable({ kind = "struct", name = "struct", align = 1, minsize = 0, depth = 0 }, StructMT)
    return define_struct(st, name)
  end
  if type(name) ~= "string" then error("ndr: struct(): name expected", 2) end
  -- the struct object is usable at once (forward references through
  -- pointers); calling it with the field list defines it
  return setmetatable({ kind = "struct", name = name, align = 4, minsize = 0, depth = 0 }, StructMT)
end

-- ------------------------------------------------------------ unions
local function define_union(u, spec, encap)
  local name = u.name
  if u.arms then error(sfmt("ndr: union %s defined twice", name), 3) end
  if type(spec) ~= "table" then error(sfmt("ndr: union %s: arm list expected", name), 3) end
  local st = spec.switch_type or M.uint32
  checktype(st, "union " .. name .. " switch_type", 3)
  if st.kind ~= "prim" or not st.ek or st.ek == E.WCHAR or st.ek == E.COMPLEX then
    if not (st.op == OP.ENUM16 or st.op == OP.ENUM32) then
      error(sfmt("ndr: union %s: switch_type must be an integer type", name), 3)
    end
  end
  local sek = st.ek or (st.op == OP.ENUM16 and E.U16) or E.U32
  local ssize = st.size
  local arms, names, aalign, depth = {}, {}, 1, 0
  local function arm(key, a, isdefault)
    local where = sfmt("union %s arm %s", name, tostring(key))
    if type(a) ~= "table" or is_type(a) then error(sfmt("ndr: %s: { name, type } or {} expected", where), 4) end
    local an, at = a[1], a[2]
    if an ~= nil and type(an) ~= "string" then error(sfmt("ndr: %s: arm name must be a string", where), 4) end
    if at ~= nil then checktype(at, where, 4) end
    if an and at == nil then error(sfmt("ndr: %s: arm %s has no type", where, an), 4) end
    if at and not an then error(sfmt("ndr: %s: arm needs a name", where), 4) end
    if at then
      at = apply_attrs(at, a, where)
      aalign = math.max(aalign, at.align or 1)
      depth = math.max(depth, at.depth or 0)
      if is_conformant(at) then error(sfmt("ndr: %s: conformant arms are not supported", where), 4) end
    end
    if an then
      if encap and an == spec.switch_name then error(sfmt("ndr: %s: arm named like the switch", where), 4) end
      names[an] = names[an] or {}
    end
    local v = key
    if not isdefault then
      -- normalise the case value to what the switch type decodes to
      local bits = ssize * 8
      if bits < 64 then
        v = key & ((1 << bits) - 1)
        if sek == E.I8 or sek == E.I16 or sek == E.I32 then
          if v >= (1 << (bits - 1)) then v = v - (1 << bits) end
        end
      end
    end
    arms[#arms + 1] = { case = v, name = an, type = at, default = isdefault }
    if an then names[an] = arms[#arms] end
  end
  local keys = {}
  for k in pairs(spec) do
    if math.type(k) == "integer" then keys[#keys + 1] = k
    elseif k ~= "switch_type" and k ~= "default" and not (encap and k == "switch_name") then
      error(sfmt("ndr: union %s: unknown option '%s'", name, tostring(k)), 3)
    end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do arm(k, spec[k], false) end
  if spec.default ~= nil then arm("default", spec.default, true) end
  if #arms == 0 then error(sfmt("ndr: union %s: no arms", name), 3) end
  if encap and type(spec.switch_name) ~= "string" then
    error(sfmt("ndr: union %s: switch_name expected", name), 3)
  end
  u.arms, u.switch_type, u.sek, u.ssize, u.arm_align = arms, st, sek, ssize, aalign
  u.switch_name = spec.switch_name
  u.encapsulated = encap or nil
  u.align = math.max(ssize, aalign)
  u.minsize = ssize
  u.depth = depth + 1
  if u.depth > M.max_depth then
    error(sfmt("ndr: description of %s nested deeper than %d", name, M.max_depth), 3)
  end
  return u
end

local function union_ctor(encap)
  local mt = { __name = "dcerpc.ndr.type", __index = TypeMT, __tostring = TypeMT.__tostring,
               __call = function(self, spec) return define_union(self, spec, encap) end }
  string_mts[mt] = true
  return function(name)
    if type(name) ~= "string" then error("ndr: union(): name expected", 2) end
    return setmetatable({ kind = "union", name = name, align = 4, minsize = 0, depth = 0 }, mt)
  end
end
M.union = union_ctor(false)
M.encapsulated_union = union_ctor(true)

-- ------------------------------------------------------------ the compiler
local has_b_memo = setmetatable({}, { __mode = "k" })
local function has_b(t, visiting)
  local m = has_b_memo[t]
  if m ~= nil then return m end
  if (t.kind == "struct" and not t.fields) or (t.kind == "union" and not t.arms) then return false end
  visiting = visiting or {}
  if visiting[t] then return false end
  visiting[t] = true
  local r = false
  if t.kind == "ptr" or t.kind == "rus" then r = true
  elseif t.kind == "struct" then
    for _, f in ipairs(t.fields or {}) do if has_b(f.type, visiting) then r = true end end
  elseif t.kind == "array" then r = has_b(t.elem, visiting)
  elseif t.kind == "union" then
    for _, a in ipairs(t.arms or {}) do if a.type and has_b(a.type, visiting) then r = true end end
  end
  visiting[t] = nil
  has_b_memo[t] = r
  return r
end

local Compiler = {}
Compiler.__index = Compiler

local function new_compiler(title)
  return setmetatable({ code = {}, data = {}, names = {}, nameidx = {}, labels = {}, work = {},
                        fix = {}, starts = {}, title = title }, Compiler)
end

function Compiler:name(s)
  local k = self.nameidx[s]
  if not k then
    k = #self.names + 1
    self.names[k] = s
    self.nameidx[s] = k
  end
  return k
end

function Compiler:emit(w) local c = self.code; c[#c + 1] = w; return #c end
-- an instruction: its opcode word (operand words follow with emit); starts
-- keeps where each begins (0-based), for program_words
function Compiler:op(op, a, flags)
  local s = self.starts
  s[#s + 1] = #self.code
  return self:emit(op | (flags or 0) | ((a or 0) << 8))
end
-- a word holding a routine address, patched later
function Compiler:label_word(lab, where)
  where = where or self.code
  where[#where + 1] = 0
  self.fix[#self.fix + 1] = { where, #where, lab }
end
-- a word holding a data address
function Compiler:data_word(off)
  self.code[#self.code + 1] = 0
  self.fix[#self.fix + 1] = { self.code, #self.code, nil, off }
end

-- routine label for (type, phase): generated later from the worklist
function Compiler:routine(t, phase)
  if phase == "F" and not has_b(t) then phase = "S" end
  local per = self.labels[t]
  if not per then per = {}; self.labels[t] = per end
  local lab = per[phase]
  if not lab then
    lab = { t = t, phase = phase }
    per[phase] = lab
    self.work[#self.work + 1] = lab
  end
  return lab
end

function Compiler:expr(x)
  if not x then return nil end
  local d = self.data
  local off = #d
  d[#d + 1] = #x
  for _, tk in ipairs(x) do
    if tk[1] == "f" then d[#d + 1] = X.FIELD | (self:name(tk[2]) << 8)
    elseif tk[1] == "c" then d[#d + 1] = X.CONST; d[#d + 1] = tk[2] & 0xFFFFFFFF; d[#d + 1] = (tk[2] >> 32) & 0xFFFFFFFF
    else d[#d + 1] = X[tk[1]] end
  end
  return off
end

function Compiler:expr_word(x)
  local off = self:expr(x)
  if off then self:data_word(off) else self:emit(0) end
end

local function i64words(v) return v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF end

-- the scalars of type t at field a (0: current location), inline
function Compiler:emit_S(t, a, auto)
  local k = t.kind
  if k == "prim" then
    local flags = 0
    if t.range then flags = flags | F_RANGE end
    local isint = OPINT[t.op]
    if auto and isint then flags = flags | F_AUTO end
    self:op(t.op, a, flags)
    if t.op == OP.ENUM16 or t.op == OP.ENUM32 then
      if t.names then
        self.names[#self.names + 1] = t.names
        self:emit(#self.names)
      else self:emit(0) end
    end
    if t.range then
      local l1, l2 = i64words(t.range[1]); local h1, h2 = i64words(t.range[2])
      self:emit(l1); self:emit(l2); self:emit(h1); self:emit(h2)
    end
    if auto and isint then
      if auto.union then
        self:emit(self:name(auto.field) | (0x7F << 24))
        self:data_word(self:arm_table(auto.union))
      else
        self:emit(self:name(auto.field) | (auto.ek << 24) | (auto.string and (1 << 31) or 0))
      end
    end
  elseif k == "ptr" then
    self:op(OP.PTRS, a); self:emit(PTR[t.ptype])
  elseif k == "rus" then
    self:op(OP.RUSS, a)
  else
    self:op(OP.CALL, a); self:label_word(self:routine(t, "S"))
  end
end

function Compiler:emit_B(t, a)
  if not has_b(t) then return end
  local k = t.kind
  if k == "ptr" then
    self:op(OP.PTRB, a); self:emit(PTR[t.ptype]); self:label_word(self:routine(t.target, "F"))
    -- a null pointer to an array sized from the wire (size_is naming a
    -- field) with a nonzero size is refused (docs/limits.md case 19); a constant
    -- size_is says nothing of the wire: null is fine there, as in
    -- [MS-SAMR] SAMPR_LOGON_HOURS ([size_is(1260)] unique *LogonHours)
    local tg = t.target
    local sx = tg.kind == "array" and tg.size_is_x or nil
    if sx then
      local const = true
      for _, tk in ipairs(sx) do if tk[1] == "f" then const = false end end
      if const then sx = nil end
    end
    self:expr_word(sx)
  elseif k == "rus" then
    self:op(OP.RUSB, a)
  else
    self:op(OP.CALL, a); self:label_word(self:routine(t, "B"))
  end
end

-- which fields can be filled in from a sibling's length when nil (encode)
local function auto_fields(fields)
  local auto = {}
  for _, fd in ipairs(fields) do
    local t = fd.type
    while t.kind == "ptr" do t = t.target end
    if t.kind == "union" and not t.encapsulated and t.switch_is_x and #t.switch_is_x == 1
       and t.switch_is_x[1][1] == "f" and not auto[t.switch_is_x[1][2]] then
      auto[t.switch_is_x[1][2]] = { field = fd.name, union = t }
    end
    if t.kind == "array" and not t.string then
      local x = t.size_is_x or t.length_is_x
      if t.size_is_x and t.length_is_x then x = nil end
      if x and #x == 1 and x[1][1] == "f" and not auto[x[1][2]] then
        auto[x[1][2]] = { field = fd.name, ek = t.ek, string = false }
      end
    end
  end
  return auto
end

function Compiler:array_words(t, hoisted)
  if t.md or t.md_inner then
    local fl = A_CONF | (t.varying and A_VARY or 0)
    if t.ek == E.COMPLEX and has_b(t.elem) then fl = fl | A_NEEDB end
    fl = fl | (t.ek << 8)
    if t.md then
      fl = fl | 0x40 | (t.md << 16)
      self:emit(fl); self:emit(0)
      local d = self.data
      local blk = #d
      d[#d + 1] = t.md
      for i = 1, 2 * t.md do d[#d + 1] = 0 end
      for i = 1, t.md do
        d[blk + 1 + i] = self:expr(t.md_size_x[i]) or 0
        if t.md_len_x then d[blk + 1 + t.md + i] = self:expr(t.md_len_x[i]) or 0 end
      end
      self:data_word(blk)
      -- expression offsets inside the block are data-relative: fix them up
      self.fix_data_rel = self.fix_data_rel or {}
      for i = 1, 2 * t.md do
        if d[blk + 1 + i] ~= 0 then self.fix_data_rel[#self.fix_data_rel + 1] = blk + 1 + i end
      end
      self:emit(0); self:emit(0)
      local em = t.md_cell_min
      if em > 0xFFFFFF then em = 0xFFFFFF end
      self:emit((t.md_base_elem.align or 1) | (em << 8))
    else
      fl = fl | 0x80 | (t.md_inner << 16)
      self:emit(fl); self:emit(0); self:emit(0); self:emit(0); self:emit(0)
      local ea = t.elem.align or 1
      local em = t.elem.minsize or 0
      if t.ek ~= E.COMPLEX then em = t.elem.size end
      if em > 0xFFFFFF then em = 0xFFFFFF end
      self:emit(ea | (em << 8))
    end
    return
  end
  local fl = 0
  if t.conformant then fl = fl | A_CONF end
  if t.varying then fl = fl | A_VARY end
  if hoisted then fl = fl | A_HOIST end
  if t.string then fl = fl | A_STRING end
  if t.ek == E.COMPLEX and has_b(t.elem) then fl = fl | A_NEEDB end
  local sx = t.size_is_x
  if t.max_is_x then sx = t.max_is_x; fl = fl | A_MAXIS end
  fl = fl | (t.ek << 8)
  self:emit(fl)
  self:emit(t.length or 0)
  self:expr_word(sx)
  self:expr_word(t.length_is_x)
  self:expr_word(t.first_is_x)
  local ea = t.elem.align or 1
  local em = t.elem.minsize or 0
  if t.ek ~= E.COMPLEX then em = t.elem.size end
  if em > 0xFFFFFF then em = 0xFFFFFF end
  self:emit(ea | (em << 8))
end

function Compiler:gen(lab)
  local t, phase = lab.t, lab.phase
  local k = t.kind
  if phase == "F" then
    self:op(OP.PMARK)
    self:op(OP.CALL); self:label_word(self:routine(t, "S"))
    self:op(OP.PCUR)
    self:op(OP.CALL); self:label_word(self:routine(t, "B"))
    self:op(OP.PDROP)
    self:op(OP.RET)
    return
  end
  if k == "struct" then
    if not t.fields then error(sfmt("ndr: struct %s is used but never defined", t.name), 0) end
    if phase == "S" or phase == "SH" then  -- SH: a nested conformant struct, count already read
      local auto = auto_fields(t.fields)
      self:op(OP.OPEN); self:emit(#t.fields)
      if t.conf and phase == "S" then
        local at = t.conf_array.type
        local sx, fl = at.size_is_x, 0
        if at.max_is_x then sx = at.max_is_x; fl = fl | A_MAXIS end
        if at.string then fl = fl | A_STRING end
        fl = fl | (at.ek << 8)
        self:op(OP.CONF); self:expr_word(sx); self:emit(fl); self:emit(self:name(t.conf_array.name))
        if #t.conf_path > 0 then
          local d = self.data
          local off = #d
          d[#d + 1] = #t.conf_path
          for _, f in ipairs(t.conf_path) do d[#d + 1] = self:name(f) end
          self:data_word(off)
        else
          self:emit(0)
        end
      end
      self:op(OP.ALIGN, t.align)
      for _, fd in ipairs(t.fields) do
        local kf = self:name(fd.name)
        if fd == t.conf then
          self:op(OP.CALL, kf); self:label_word(self:routine_hoisted(fd.type))
        else
          self:emit_S(fd.type, kf, auto[fd.name])
        end
      end
      self:op(OP.CLOSE); self:op(OP.RET)
    else
      self:op(OP.OPENB)
      for _, fd in ipairs(t.fields) do self:emit_B(fd.type, self:name(fd.name)) end
      self:op(OP.CLOSE); self:op(OP.RET)
    end
  elseif k == "array" then
    local complex = t.ek == E.COMPLEX
    if phase == "S" or phase == "SH" then
      self:op(OP.ARR); self:array_words(t, phase == "SH")
      if complex then
        local loop = #self.code
        self:op(OP.ANEXT); local endw = self:emit(0)
        self:op(OP.CALL); self:label_word(self:routine(t.elem, "S"))
        self:op(OP.JMP); self:emit(loop)
        self.code[endw] = #self.code
        self:op(OP.CLOSE)
      end
      self:op(OP.RET)
    else
      self:op(OP.ARRB)
      local loop = #self.code
      self:op(OP.ANEXT); local endw = self:emit(0)
      self:op(OP.CALL); self:label_word(self:routine(t.elem, "B"))
      self:op(OP.JMP); self:emit(loop)
      self.code[endw] = #self.code
      self:op(OP.CLOSE); self:op(OP.RET)
    end
  elseif k == "union" then
    if not t.arms then error(sfmt("ndr: union %s is used but never defined", t.name), 0) end
    local at = self:arm_table(t)
    if phase == "S" then
      local fl = (t.encapsulated and U_ENCAP or 0) | (has_b(t) and U_NEEDB or 0) | (t.sek << 8)
      if t.encapsulated then fl = fl | (t.arm_align << 16) end
      self:op(OP.UNION); self:emit(fl)
      self:expr_word(t.switch_is_x)
      self:data_word(at)
      self:emit(t.encapsulated and self:name(t.switch_name) or 0)
      self:op(OP.CLOSE); self:op(OP.RET)
    else
      self:op(OP.UNIONB); self:data_word(at)
      self:op(OP.CLOSE); self:op(OP.RET)
    end
  else
    -- prim, ptr, rus as a routine of their own (array elements, referents)
    if phase == "S" then self:emit_S(t, 0) else self:emit_B(t, 0) end
    self:op(OP.RET)
  end
end

-- a union's arm table in the data area (once per union per program)
function Compiler:arm_table(t)
  self.armtabs = self.armtabs or {}
  if self.armtabs[t] then return self.armtabs[t] end
  local d = self.data
  local at = #d
  local dflt = 0
  d[#d + 1] = #t.arms
  d[#d + 1] = 0
  for i, arm in ipairs(t.arms) do
    if arm.default then dflt = i end
    local lo, hi = 0, 0
    if not arm.default then lo, hi = i64words(arm.case) end
    d[#d + 1] = lo; d[#d + 1] = hi
    d[#d + 1] = arm.name and self:name(arm.name) or 0
    if arm.type then self:label_word(self:routine(arm.type, "S"), d) else d[#d + 1] = 0 end
    if arm.type and has_b(arm.type) then self:label_word(self:routine(arm.type, "B"), d) else d[#d + 1] = 0 end
  end
  d[at + 2] = dflt
  self.armtabs[t] = at
  return at
end

function Compiler:routine_hoisted(t)
  local per = self.labels[t]
  if not per then per = {}; self.labels[t] = per end
  local lab = per.SH
  if not lab then
    lab = { t = t, phase = "SH" }
    per.SH = lab
    self.work[#self.work + 1] = lab
  end
  return lab
end

function Compiler:drain()
  local i = 1
  while i <= #self.work do
    local lab = self.work[i]
    lab.addr = #self.code
    self:gen(lab)
    i = i + 1
  end
end

function Compiler:finish(entries, raw)
  local code = self.code
  local ncodeops = #code
  for _, f in ipairs(self.fix) do
    local where, pos, lab, off = f[1], f[2], f[3], f[4]
    if lab then where[pos] = lab.addr else where[pos] = ncodeops + off end
  end
  for _, pos in ipairs(self.fix_data_rel or {}) do self.data[pos] = self.data[pos] + ncodeops end
  for _, w in ipairs(self.data) do code[#code + 1] = w end
  local ent = {}
  for i, e in ipairs(entries) do ent[i] = e.addr end
  if raw then return code, ncodeops, self.names, ent, self.title, self.starts end
  return core.ndr_load(code, ncodeops, self.names, ent, self.title)
end

local function compile_type(t, raw)
  local c = new_compiler(tname(t))
  local lab = c:routine(t, "F")
  c:drain()
  return c:finish({ lab }, raw)
end

local function compile_func(fn, raw)
  local c = new_compiler(fn.name)
  local entries = {}
  for di, dir in ipairs({ "in", "out" }) do
    local lab = { addr = nil }
    entries[di] = lab
    -- the entry routine: each parameter with its referents, in order
    local body = {}
    for _, p in ipairs(fn.params) do
      if p[dir] then body[#body + 1] = p end
    end
    lab.params = body
    lab.dir = dir
  end
  -- entry routines first (addresses known after emission)
  for _, lab in ipairs(entries) do
    lab.addr = #c.code
    local auto = auto_fields(lab.params)
    for _, p in ipairs(lab.params) do
      local kf = c:name(p.name)
      local t = p.type
      if t.kind == "ptr" and t.ptype == "ref" then t = t.target end  -- top-level [ref]: no referent id
      if t.kind == "prim" and auto[p.name] then
        c:emit_S(t, kf, auto[p.name])
      else
        c:op(OP.CALL, kf); c:label_word(c:routine(t, "F"))
      end
    end
    if lab.dir == "out" and fn.returns then
      c:op(OP.CALL, c:name("result")); c:label_word(c:routine(fn.returns, "F"))
    end
    c:op(OP.RET)
  end
  c:drain()
  return c:finish(entries, raw)
end

-- The raw program (code words, code size, name table, entries, title, and
-- the pc of every instruction as the compiler emitted them), for tools such
-- as tools/gen-fuzz-programs.lua and for spec/ndr_ops_spec.lua.
function M.program_words(x)
  if x.kind == "func" then return compile_func(x, true) end
  return compile_type(x, true)
end

local function program(x)
  local p = rawget(x, "__prog")
  if not p then
    if x.kind == "func" then p = compile_func(x) else p = compile_type(x) end
    rawset(x, "__prog", p)
  end
  return p
end
M.program = program

-- ------------------------------------------------------------ functions, interfaces
local FuncMT = { __name = "dcerpc.ndr.func" }
FuncMT.__index = FuncMT
function FuncMT.__tostring(f) return sfmt("ndr function %s (opnum %d)", f.name, f.opnum) end

local PARAM_ATTRS = { size_is = true, length_is = true, first_is = true, max_is = true, switch_is = true, range = true }

function M.func(opnum, name)
  if math.type(opnum) ~= "integer" or opnum < 0 or opnum > 0xFFFF then error("ndr: func(): opnum expected", 2) end
  if type(name) ~= "string" then error("ndr: func(): name expected", 2) end
  return function(spec)
    if type(spec) ~= "table" then error(sfmt("ndr: function %s: parameter list expected", name), 2) end
    local params, byname = {}, {}
    for i, p in ipairs(spec) do
      if type(p) ~= "table" or type(p[1]) ~= "string" then
        error(sfmt("ndr: function %s: parameter %d must be { name, type, direction }", name, i), 2)
      end
      local where = sfmt("function %s parameter %s", name, p[1])
      if byname[p[1]] or p[1] == "result" then error(sfmt("ndr: %s: duplicate name", where), 2) end
      checktype(p[2], where, 2)
      local dir = p[3] or "in"
      if type(dir) ~= "string" then error(sfmt("ndr: %s: direction must be a string", where), 2) end
      local d = dir:lower()
      local pin, pout = d:find("in", 1, true) ~= nil, d:find("out", 1, true) ~= nil
      if not pin and not pout then error(sfmt("ndr: %s: direction must be in, out or in,out", where), 2) end
      for k in pairs(p) do
        if k ~= 1 and k ~= 2 and k ~= 3 and not PARAM_ATTRS[k] then
          error(sfmt("ndr: %s: unknown attribute '%s'", where, tostring(k)), 2)
        end
      end
      local t = apply_attrs(p[2], p, where)
      if pout and not pin and t.kind ~= "ptr" and t.kind ~= "array" and false then
        error(sfmt("ndr: %s: an [out] parameter must be a pointer", where), 2)
      end
      local pd = { name = p[1], type = t, ["in"] = pin, out = pout }
      params[#params + 1] = pd
      byname[p[1]] = pd
    end
    for _, pd in ipairs(params) do
      for _, r in ipairs(expr_refs(pd.type)) do
        if not byname[r[1]] then
          error(sfmt("ndr: function %s parameter %s: unknown parameter '%s' in %s", name, pd.name, r[1], r[2]), 2)
        end
      end
    end
    for k in pairs(spec) do
      if math.type(k) ~= "integer" and k ~= "returns" then
        error(sfmt("ndr: function %s: unknown option '%s'", name, tostring(k)), 2)
      end
    end
    if spec.returns ~= nil then checktype(spec.returns, "function " .. name .. " returns", 2) end
    -- the keys an args table may have, per direction (M.check_args)
    local innames, outnames = {}, {}
    for _, pd in ipairs(params) do
      if pd["in"] then innames[#innames + 1] = pd.name end
      if pd.out then outnames[#outnames + 1] = pd.name end
    end
    if spec.returns ~= nil then outnames[#outnames + 1] = "result" end
    return setmetatable({ kind = "func", opnum = opnum, name = name, params = params,
                          byname = byname, returns = spec.returns,
                          in_names = options.keys(innames), out_names = options.keys(outnames) }, FuncMT)
  end
end

local IfaceMT = { __name = "dcerpc.ndr.interface" }
IfaceMT.__index = IfaceMT

function M.interface(spec)
  if type(spec) ~= "table" then error("ndr: interface(): table expected", 2) end
  local name = spec.name
  if type(name) ~= "string" then error("ndr: interface(): name expected", 2) end
  local uuid = spec.uuid
  if type(uuid) ~= "string" or not uuid:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") then
    error(sfmt("ndr: interface %s: uuid 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx' expected", name), 2)
  end
  local version = spec.version or "1.0"
  if type(version) == "number" then
    version = math.type(version) == "integer" and (version .. ".0") or tostring(version)
  end
  local maj, min = tostring(version):match("^(%d+)%.(%d+)$")
  if not maj then maj, min = tostring(version):match("^(%d+)$"), "0" end
  if not maj then error(sfmt("ndr: interface %s: version 'major.minor' expected", name), 2) end
  local iface = setmetatable({ name = name, uuid = uuid:lower(), version = maj .. "." .. min,
                               major = math.tointeger(tonumber(maj)), minor = math.tointeger(tonumber(min)),
                               types = spec.types or {}, functions = {} }, IfaceMT)
  for i, f in ipairs(spec) do
    if getmetatable(f) ~= FuncMT then error(sfmt("ndr: interface %s: entry %d is not an ndr.func", name, i), 2) end
    if iface.functions[f.opnum] then error(sfmt("ndr: interface %s: opnum %d defined twice", name, f.opnum), 2) end
    if iface.functions[f.name] then error(sfmt("ndr: interface %s: function %s defined twice", name, f.name), 2) end
    iface.functions[f.opnum] = f
    iface.functions[f.name] = f
    f.interface = name
  end
  for k in pairs(spec) do
    if math.type(k) ~= "integer" and k ~= "name" and k ~= "uuid" and k ~= "version" and k ~= "types" then
      -- extra keys are kept (other modules may annotate interfaces)
      iface[k] = spec[k]
    end
  end
  return iface
end

-- ------------------------------------------------------------ checking values
-- The encoder reads the fields and parameters a description names and never
-- looks at other keys, so a misspelled one is silently dropped (and a
-- pointer sent null). M.check_args checks the top-level names of a call's
-- arguments: cheap (one walk of the args table, no allocation), done on
-- every client call by dcerpc. M.check_value walks a whole value against its
-- description and raises at the first unknown struct field or union arm: on
-- with ndr.strict = true or opts.strict, off by default because its cost
-- grows with the data (docs/ndr-dsl.md gives the measurement).

local function qname(fn)
  return fn.interface and (fn.interface .. "." .. fn.name) or fn.name
end

-- check_args(fn, dir, args, level): dir "in" (a request's args) or "out"
-- (results); level as error()'s, seen from the caller of check_args.
function M.check_args(fn, dir, args, level)
  local out = dir == "out" or dir == "response"
  local valid = out and fn.out_names or fn.in_names
  for k in next, args do
    if not valid[k] then
      local p = type(k) == "string" and fn.byname[k]
      local msg
      if p then
        msg = sfmt("parameter '%s' of %s is [%s] only: %s", k, qname(fn), out and "in" or "out",
                   out and "results hold the [out] parameters" or "a call takes the [in] parameters")
      else
        msg = options.unknown_message("parameter", k, valid, qname(fn))
      end
      error(msg, (level or 1) + 1)
    end
  end
end

-- keys of struct and union values (options.keys sets), per type
local key_sets = setmetatable({}, { __mode = "k" })
local function key_set(t)
  local set = key_sets[t]
  if set then return set end
  local names = {}
  if t.kind == "struct" then
    for i, f in ipairs(t.fields) do names[i] = f.name end
  else
    for _, a in ipairs(t.arms) do if a.name then names[#names + 1] = a.name end end
    if t.encapsulated then names[#names + 1] = t.switch_name end
  end
  set = options.keys(names)
  key_sets[t] = set
  return set
end

-- does a value of type t hold keyed tables (structs, unions)? Arrays of
-- scalars are then skipped whole.
local keyed = setmetatable({}, { __mode = "k" })
local function has_keyed(t)
  local r = keyed[t]
  if r ~= nil then return r end
  keyed[t] = false                 -- while looking: a recursive type meets itself through a struct first
  local k = t.kind
  if k == "struct" or k == "union" then r = true
  elseif k == "ptr" then r = has_keyed(t.target)
  elseif k == "array" then r = has_keyed(t.elem)
  else r = false end
  keyed[t] = r
  return r
end

-- One walk at a time (it calls no user code): the path of names and indexes
-- down to the value being looked at, and the tables met (full pointers may
-- alias and loop), both reused.
local path, seen, seen_used = {}, {}, false

local function path_string(n)
  local b = {}
  for i = 1, n do
    local x = path[i]
    if type(x) == "number" then b[#b + 1] = "[" .. x .. "]"
    else b[#b + 1] = (i > 1 and "." or "") .. tostring(x) end
  end
  return table.concat(b)
end

local walk
-- raised without a position: walk_root raises it again at the caller's line
local function unknown_key(t, k, set, n)
  local what = sfmt("%s (%s %s)", path_string(n), t.kind, tname(t))
  error(options.unknown_message(t.kind == "struct" and "field" or "arm", k, set, what, "in"), 0)
end

-- walk(t, v, n, depth): v a value of type t found at path[1..n]
function walk(t, v, n, depth)
  local kind = t.kind
  while kind == "ptr" do
    if v == nil then return end
    t = t.target; kind = t.kind
  end
  if type(v) ~= "table" or depth > M.max_depth or not has_keyed(t) then return end
  if seen[v] then return end         -- the encoder judges wrong types and aliases
  seen[v] = true; seen_used = true
  if kind == "struct" then
    local set = key_set(t)
    for k in next, v do
      if not set[k] then unknown_key(t, k, set, n) end
    end
    for _, f in ipairs(t.fields) do
      local fv = v[f.name]
      if fv ~= nil then path[n + 1] = f.name; walk(f.type, fv, n + 1, depth + 1) end
    end
  elseif kind == "union" then
    local set = key_set(t)
    for k in next, v do
      if not set[k] then unknown_key(t, k, set, n) end
    end
    for _, a in ipairs(t.arms) do
      local av = a.type and v[a.name]
      if av ~= nil then path[n + 1] = a.name; walk(a.type, av, n + 1, depth + 1) end
    end
  elseif kind == "array" then
    local e = t.elem
    for i = 1, #v do path[n + 1] = i; walk(e, v[i], n + 1, depth + 1) end
  end
end

local function walk_root(t, v, name, level)
  path[1] = name
  local ok, e = pcall(walk, t, v, 1, 1)
  if seen_used then
    for k in next, seen do seen[k] = nil end
    seen_used = false
  end
  if not ok then error(e, level + 1) end
end

-- check_value(t, value [, level]): raises at the first struct field or
-- union arm that t does not describe. check_call(fn, dir, args [, level]):
-- the same for a call's arguments (or results), top-level names included.
function M.check_value(t, value, level)
  checktype(t, "check_value()", 2)
  walk_root(t, value, "value", (level or 1) + 1)
end

function M.check_call(fn, dir, args, level)
  level = (level or 1) + 1
  M.check_args(fn, dir, args, level)
  local key = (dir == "out" or dir == "response") and "out" or "in"
  for _, p in ipairs(fn.params) do
    local v = p[key] and args[p.name]
    if v ~= nil then walk_root(p.type, v, p.name, level) end
  end
end

-- ------------------------------------------------------------ encode / decode
-- opts.drep: "le" / "be", the drep byte 0 as an integer (0x10, 0x00), or the
-- PDU's raw drep bytes as a string.
local function drep_of(opts)
  local d = opts and opts.drep
  if d == nil or d == "le" then return 0x10, 0 end
  if d == "be" then return 0x00, 0 end
  if math.type(d) == "integer" then return d & 0xFF, (d >> 8) & 0xFF end
  if type(d) == "string" and #d >= 1 then return d:byte(1), d:byte(2) or 0 end
  error("ndr: bad drep option", 3)
end

local function maxdepth(opts)
  local m = opts and opts.max_depth or M.max_depth
  if math.type(m) ~= "integer" or m < 1 then error("ndr: max_depth must be a positive integer", 3) end
  return m
end

function M.encode(t, value, opts)
  checktype(t, "encode()", 2)
  if M.strict or (opts and opts.strict) then walk_root(t, value, "value", 2) end
  local d0 = drep_of(opts)
  return core.ndr_encode(program(t), 0, value, d0, maxdepth(opts), false)
end

function M.decode(t, bytes, opts)
  checktype(t, "decode()", 2)
  if type(bytes) ~= "string" then error("ndr: decode(): string expected", 2) end
  local d0, d1 = drep_of(opts)
  return core.ndr_decode(program(t), 0, bytes, d0, d1, opts and opts.partial, maxdepth(opts), false)
end

local function dir_entry(dir)
  if dir == "in" or dir == "request" then return 0 end
  if dir == "out" or dir == "response" then return 1 end
  error("ndr: direction must be \"in\" or \"out\"", 3)
end

-- opts.request (server side, "out"): the call's [in] arguments. size_is,
-- length_is and switch_is of [out] parameters often name [in]-only ones
-- (ept_lookup's max_ents, TestCall2's level); they are read from there when
-- the results do not hold them.
function M.encode_call(fn, dir, args, opts)
  if getmetatable(fn) ~= FuncMT then error("ndr: encode_call(): function expected", 2) end
  local e = dir_entry(dir)
  local d0 = drep_of(opts)
  args = args or {}
  if M.strict or (opts and opts.strict) then M.check_call(fn, e == 0 and "in" or "out", args, 2) end
  local req = opts and opts.request
  if req ~= nil and e == 1 then
    if type(req) ~= "table" then error("ndr: encode_call(): opts.request must be a table", 2) end
    local merged = {}
    for _, p in ipairs(fn.params) do
      local v = args[p.name]
      if v == nil and not p.out then v = req[p.name] end
      merged[p.name] = v
    end
    merged.result = args.result
    args = merged
  end
  return core.ndr_encode(program(fn), e, args, d0, maxdepth(opts), true, opts and opts.ptr_base)
end

function M.decode_call(fn, dir, bytes, opts)
  if getmetatable(fn) ~= FuncMT then error("ndr: decode_call(): function expected", 2) end
  if type(bytes) ~= "string" then error("ndr: decode_call(): string expected", 2) end
  local e = dir_entry(dir)
  local d0, d1 = drep_of(opts)
  return core.ndr_decode(program(fn), e, bytes, d0, d1, opts and opts.partial, maxdepth(opts), true)
end

function M.disasm(x)
  if getmetatable(x) ~= FuncMT then checktype(x, "disasm()", 2) end
  return core.ndr_disasm(program(x))
end

M.opcodes = OP
return M
