-- dcerpc.idl.lower: the syntax tree of MIDL files -> dcerpc.ndr descriptions.
--
-- The descriptions are the ones the Lua DSL builds (docs/ndr-dsl.md): the
-- same compiler and interpreter run them, so an interface loaded from IDL
-- and the same interface described in Lua put the same bytes on the wire.
--
-- A declaration is lowered by first flattening it into levels, outermost
-- first - the declarator's array dimensions, its pointers, then those of
-- each typedef it names - down to a leaf (a primitive, a struct, a union, an
-- enum). The attributes then find their level: a pointer attribute the
-- outermost pointer of its declaration, size_is(a, b, ...) the levels in
-- order, [string] the level holding the characters, [context_handle] the
-- pointer to void it names.

local ndr = require "dcerpc.ndr"
local parser = require "dcerpc.idl.parser"

local sfmt = string.format

local M = {}

local function fail(node, message)
  error({ idl = true, src = node and node.src, pos = node and node.pos or 1, message = message }, 0)
end

-- ------------------------------------------------------------ attributes
-- What the loader knows. "shape": read, changes the NDR. "none": no effect on
-- the wire (or on this engine), accepted. A string: refused with that reason.
local ATTRS = {
  -- shape
  ["in"] = "shape", out = "shape", ref = "shape", unique = "shape", ptr = "shape", string = "shape",
  size_is = "shape", length_is = "shape", first_is = "shape", last_is = "shape", max_is = "shape",
  min_is = "shape", switch_is = "shape", switch_type = "shape", case = "shape", default = "shape",
  range = "shape", context_handle = "shape", v1_enum = "shape", uuid = "shape", version = "shape",
  pointer_default = "shape", endpoint = "shape", charset = "shape", flag = "shape",
  enum8bit = "shape", enum16bit = "shape", bitmap8bit = "shape", bitmap16bit = "shape",
  bitmap32bit = "shape", bitmap64bit = "shape", noopnum = "shape",
  -- no effect on the wire
  idempotent = "none", broadcast = "none", maybe = "none", handle = "none", ignore = "none",
  ms_union = "none", local_ = "none", helpstring = "none", helpfile = "none", helpcontext = "none",
  hidden = "none", restricted = "none", lcid = "none", async = "none", public = "none",
  noprint = "none", nopush = "none", nopull = "none", nopython = "none", noejs = "none",
  strict_context_handle = "none", type_strict_context_handle = "none",
  context_handle_noserialize = "none", context_handle_serialize = "none",
  implicit_handle = "none", explicit_handle = "none", auto_handle = "none",
  comm_status = "none", fault_status = "none", enable_allocate = "none", allocate = "none",
  encode = "none", decode = "none", optimize = "none", code = "none", nocode = "none",
  notify = "none", notify_flag = "none", force_allocate = "none", disable_consistency_check = "none",
  annotation = "none", todo = "none", keepref = "none", secure = "none", message = "none",
  partial_ignore = "none", custom = "none", defaultvalue = "none", pragma = "none", nosize = "none",
  helpstringdll = "none", helpstringcontext = "none", ["local"] = "none", neutral = "none",
  -- refused: they change the wire in ways the engine does not do yet
  object = "object (DCOM) interfaces are not supported yet",
  iid_is = "interface pointers (DCOM) are not supported yet",
  callback = "callbacks (server-to-client calls) are not supported",
  represent_as = "represent_as needs local code; describe the transmitted type instead",
  transmit_as = "transmit_as needs local code; describe the transmitted type instead",
  user_marshal = "user_marshal needs local code; describe the wire type instead",
  wire_marshal = "wire_marshal needs local code; describe the wire type instead",
  value = "pidl's [value()] (a value computed when marshalling) is not supported; give the field in the arguments",
  subcontext = "pidl's [subcontext()] is not supported",
  subcontext_size = "pidl's [subcontext_size()] is not supported",
  relative = "pidl's [relative] pointers are not supported",
  relative_short = "pidl's [relative_short] pointers are not supported",
  relative_base = "pidl's [relative_base] is not supported",
  nodiscriminant = "pidl's [nodiscriminant] unions are not supported",
  compression = "pidl's [compression()] is not supported",
  gensize = "pidl's [gensize] is not supported",
  align2 = "pidl's [align2] is not supported", align4 = "pidl's [align4] is not supported",
  align8 = "pidl's [align8] is not supported", manual = "pidl's [manual] is not supported",
  switch = "a [switch] attribute is not supported",
  call_as = "[call_as] maps a local procedure: describe the remote one",
  async_uuid = "asynchronous DCOM interfaces are not supported",
}
M.ATTRS = ATTRS

-- pidl's [flag(...)]: the flags with no effect on NDR are accepted, the
-- others refused by name
local NOEFFECT_FLAGS = {
  NDR_PAHEX = true, LIBNDR_PRINT_ARRAY_HEX = true, LIBNDR_PRINT_SET_VALUES = true,
  NDR_SECRET = true, LIBNDR_FLAG_NOALIGN_PRINT = true, LIBNDR_FLAG_ALIGN_PRINT = true,
  NDR_BIG_ENDIAN_PRINT = true,
}

-- attrs (list of attr nodes) -> { name = node }; unknown and refused ones raise
local function attr_map(list, opts)
  local m = {}
  for _, a in ipairs(list or {}) do
    local kind = ATTRS[a.name]
    if kind == nil and not (opts.ignore_attributes and opts.ignore_attributes[a.name]) then
      fail(a, sfmt("unknown attribute [%s] (it may change the wire format; opts.ignore_attributes lists attributes to accept)", a.name))
    end
    if type(kind) == "string" and kind ~= "shape" and kind ~= "none" then
      fail(a, sfmt("[%s]: %s", a.name, kind))
    end
    if a.name == "flag" then
      for f in (a.args or ""):gmatch("[%a_][%w_]*") do
        if not NOEFFECT_FLAGS[f] then fail(a, sfmt("pidl flag %s is not supported (it changes the NDR)", f)) end
      end
    end
    m[a.name] = a
  end
  return m
end

-- merge attribute maps, later ones win
local function merged(a, b)
  if not b or next(b) == nil then return a or {} end
  if not a or next(a) == nil then return b end
  local r = {}
  for k, v in pairs(a) do r[k] = v end
  for k, v in pairs(b) do r[k] = v end
  return r
end

-- ------------------------------------------------------------ the loader state
local State = {}
State.__index = State

function M.new(opts, predefined)
  return setmetatable({
    opts = opts,
    typedefs = {},          -- name -> { node = typedef node, decl = decl, attrs = map, pd = pointer default }
    tags = {},              -- "struct X" -> struct/union/enum node (with a body)
    consts = {},            -- name -> { node, value = expr node | integer }
    macros = opts.macros or {},
    pref_name = {},         -- struct/union/enum node -> its typedef name
    lowered = {},           -- node (+ variant) -> ndr type
    defining = {},
    builtin = predefined,   -- name -> ndr type or { handle = true }
    node_pd = {},           -- node -> pointer default where it was declared
  }, State)
end

-- ------------------------------------------------------------ constants
-- C integer arithmetic over constants; nil when e names something that is not one
function State:const_value(e, depth)
  depth = depth or 0
  if depth > 64 then fail(e, "constant expression too deep (a macro that refers to itself?)") end
  local t = e.tag
  if t == "num" then return e[1]
  elseif t == "id" then
    local name = e[1]
    local c = self.consts[name]
    if c then
      if c.value == nil then
        if c.busy then fail(e, "constant " .. name .. " refers to itself") end
        c.busy = true
        c.value = self:const_value(c.expr, depth + 1) or false
        c.busy = nil
      end
      return c.value or nil          -- false: a string constant, or one naming no integer
    end
    local m = self.macros[name]
    if m and not m.func and m.body ~= "" then
      local x = parser.parse_expr(m.src, m.body)
      if x then return self:const_value(x, depth + 1) end
    end
    return nil
  elseif t == "cast" then
    local v = self:const_value(e[2], depth)
    if v == nil then return nil end
    return self:convert(v, e)
  elseif t == "un" then
    local v = self:const_value(e[2], depth)
    if v == nil then return nil end
    local op = e[1]
    if op == "-" then return -v elseif op == "+" then return v elseif op == "~" then return ~v
    elseif op == "!" then return v == 0 and 1 or 0 end
    return nil
  elseif t == "cond" then
    local c = self:const_value(e[1], depth)
    if c == nil then return nil end
    return self:const_value(c ~= 0 and e[2] or e[3], depth)
  elseif t == "bin" then
    local a, b = self:const_value(e[2], depth), self:const_value(e[3], depth)
    if a == nil or b == nil then return nil end
    local op = e[1]
    if op == "+" then return a + b elseif op == "-" then return a - b elseif op == "*" then return a * b
    elseif op == "/" or op == "%" then
      if b == 0 then fail(e, "division by zero") end
      local q = a // b
      if (a % b ~= 0) and ((a < 0) ~= (b < 0)) then q = q + 1 end
      return op == "/" and q or a - q * b
    elseif op == "<<" then return a << b elseif op == ">>" then return a >> b
    elseif op == "&" then return a & b elseif op == "|" then return a | b elseif op == "^" then return a ~ b
    elseif op == "&&" then return (a ~= 0 and b ~= 0) and 1 or 0
    elseif op == "||" then return (a ~= 0 or b ~= 0) and 1 or 0
    elseif op == "==" then return a == b and 1 or 0 elseif op == "!=" then return a ~= b and 1 or 0
    elseif op == "<" then return a < b and 1 or 0 elseif op == ">" then return a > b and 1 or 0
    elseif op == "<=" then return a <= b and 1 or 0 elseif op == ">=" then return a >= b and 1 or 0 end
  end
  return nil
end

-- a cast "(DWORD) -1": the value as the type holds it (unsigned types wrap)
local UNSIGNED = { uint8 = true, uint16 = true, uint32 = true, char = true, wchar_t = true,
                   error_status_t = true, NTSTATUS = true, WERROR = true, HRESULT = true }
function State:convert(v, e)
  local words = e[1]
  local ts
  if #words == 1 and not parser.RESERVED[words[1]] then ts = { tag = "named", name = words[1], pos = e.pos, src = e.src }
  else ts = { tag = "base", words = words, pos = e.pos, src = e.src } end
  local ok, t = pcall(self.lower_decl, self, ts, nil, {}, { what = "a cast" })
  if not ok or type(t) ~= "table" or t.kind ~= "prim" or not t.size or t.size >= 8 then return v end
  local bits = t.size * 8
  v = v & ((1 << bits) - 1)
  if not UNSIGNED[t.name] and v >= (1 << (bits - 1)) then v = v - (1 << bits) end
  return v
end

function State:const(e, what)
  local v = self:const_value(e)
  if v == nil then fail(e, what .. " must be an integer constant") end
  return v
end

-- A sizing or switch expression -> the DSL's expression string: fields or
-- parameters by name (`*name` dereferences), integer constants folded, C's
-- operators (the engine evaluates them all). names: the fields or
-- parameters in scope (a name that is neither one nor a constant raises).
function State:dsl_expr(e, names, what)
  local v = self:const_value(e)
  if v ~= nil then return tostring(v) end
  local t = e.tag
  if t == "id" then
    if names and not names[e[1]] then
      fail(e, sfmt("%s: '%s' is neither a %s nor a constant", what, e[1], names.__what or "field"))
    end
    return e[1]
  elseif t == "un" and e[1] == "*" and e[2].tag == "id" then
    return "*" .. self:dsl_expr(e[2], names, what)
  elseif t == "un" and (e[1] == "-" or e[1] == "~" or e[1] == "!" or e[1] == "+") then
    return "(" .. e[1] .. self:dsl_expr(e[2], names, what) .. ")"
  elseif t == "cast" then
    return self:dsl_expr(e[2], names, what)
  elseif t == "bin" then
    return "(" .. self:dsl_expr(e[2], names, what) .. e[1] .. self:dsl_expr(e[3], names, what) .. ")"
  elseif t == "cond" then
    return "(" .. self:dsl_expr(e[1], names, what) .. "?" .. self:dsl_expr(e[2], names, what) .. ":" ..
           self:dsl_expr(e[3], names, what) .. ")"
  elseif t == "member" then
    fail(e, what .. ": member access (a.b, a->b) in an expression is not supported")
  end
  fail(e, sfmt("%s: '%s' is not supported in an expression over fields", what, (t == "un" and e[1]) or t))
end

-- ------------------------------------------------------------ declarations
-- Collect the definitions of a list of items (a file or an interface body).
-- pd: the pointer default in force.
function State:declare(items, pd)
  for _, it in ipairs(items) do
    local tag = it.tag
    if tag == "typedef" then
      local amap = attr_map(it.attrs, self.opts)
      self:declare_tags(it.type, pd)
      for _, d in ipairs(it.decls) do
        if not d.name then fail(d, "typedef needs a name") end
        if self.builtin[d.name] == nil or not self.opts.keep_predefined then
          self.typedefs[d.name] = { node = it, decl = d, type = it.type, attrs = amap, pd = pd }
        end
        local ts = it.type
        if (ts.tag == "struct" or ts.tag == "union" or ts.tag == "enum" or ts.tag == "bitmap")
           and d.ptrs == 0 and #d.dims == 0 and not self.pref_name[ts] then
          self.pref_name[ts] = d.name
        end
      end
    elseif tag == "const" then
      -- "const unsigned long X = -1": the value as the declared type holds it
      local words = it.type.tag == "base" and it.type.words or (it.type.tag == "named" and { it.type.name })
      local expr = it.value
      if words then expr = { tag = "cast", pos = it.value.pos, src = it.value.src, words, it.value } end
      self.consts[it.name] = { node = it, expr = expr }
    elseif tag == "tagdecl" then
      self:declare_tags(it.type, pd)
    end
  end
end

-- struct/union/enum tags defined inside a type (nested ones too), and enum
-- values as constants
function State:declare_tags(ts, pd)
  if not ts then return end
  local tag = ts.tag
  if tag == "struct" or tag == "union" or tag == "enum" or tag == "bitmap" then
    self.node_pd[ts] = pd
    if ts.name and (ts.members or ts.arms or ts.items) then
      self.tags[tag .. " " .. ts.name] = ts
    end
    for _, m in ipairs(ts.members or {}) do self:declare_tags(m.type, pd) end
    for _, a in ipairs(ts.arms or {}) do self:declare_tags(a.type, pd) end
    if ts.items then
      local nextv = 0
      for _, item in ipairs(ts.items) do
        local c = { node = item, expr = item.value or { tag = "num", pos = item.pos, src = item.src, nextv } }
        if item.value then
          c.value = self:const(item.value, "enum value " .. item.name)
        else
          c.value = nextv
        end
        nextv = c.value + 1
        self.consts[item.name] = c
      end
    end
  end
end

-- Integer types from base words
local function base_type(node)
  local w = {}
  for _, x in ipairs(node.words) do w[x] = (w[x] or 0) + 1 end
  local unsigned = w.unsigned ~= nil
  if w.void then return "void" end
  if w.float then return ndr.float end
  if w.double then return ndr.double end
  if w.hyper or w.__int64 or (w.long or 0) >= 2 then return unsigned and ndr.uint64 or ndr.int64 end
  if w.char then
    if unsigned then return ndr.uint8 end
    if w.signed then return ndr.int8 end
    return ndr.char
  end
  if w.small or w.__int8 then return unsigned and ndr.uint8 or ndr.int8 end
  if w.short or w.__int16 then return unsigned and ndr.uint16 or ndr.int16 end
  return unsigned and ndr.uint32 or ndr.int32          -- long, int, __int32, __int3264 (NDR20), bare unsigned
end

-- Flatten a type specifier: returns levels (outermost first) and the leaf.
-- A level: { kind = "ptr" | "arr", dim = node?, attrs = map of the
-- typedef (or use site) it comes from, first = true for the first level of
-- that declaration }. The leaf: { type = ndr type | "void" | "handle",
-- node = the struct/union/enum node or nil, attrs = typedef attrs }.
function State:flatten(ts, decl, attrs, depth)
  depth = depth or 0
  if depth > 64 then fail(ts, "typedef chain too deep") end
  local levels = {}
  local function add_decl(d, amap, pd)
    if not d then return end
    local first = true
    for _, dim in ipairs(d.dims) do
      levels[#levels + 1] = { kind = "arr", dim = dim, attrs = amap, first = first, pd = pd, node = d }
      first = false
    end
    for _ = 1, d.ptrs do
      levels[#levels + 1] = { kind = "ptr", attrs = amap, first = first, pd = pd, node = d }
      first = false
    end
  end
  add_decl(decl, attrs, nil)
  local leaf
  local tag = ts.tag
  if tag == "base" then
    leaf = { type = base_type(ts), node = ts }
  elseif tag == "pipe" then
    fail(ts, "pipes are not supported (pipe types stream data in chunks; describe the call without them)")
  elseif tag == "struct" or tag == "union" or tag == "enum" or tag == "bitmap" then
    leaf = { type = "tagged", node = ts }
  elseif tag == "named" then
    local name = ts.name
    local td = self.typedefs[name]
    if td then
      local inner_levels, inner_leaf = self:flatten(td.type, td.decl, td.attrs, depth + 1)
      for _, l in ipairs(inner_levels) do
        l.pd = l.pd or td.pd
        levels[#levels + 1] = l
      end
      leaf = inner_leaf
      leaf.typedef_attrs = leaf.typedef_attrs or td.attrs
      leaf.via = leaf.via or name
      if #inner_levels == 0 then leaf.attrs = merged(td.attrs, leaf.attrs) end
    elseif self.builtin[name] ~= nil then
      leaf = { type = self.builtin[name], node = ts, via = name }
    else
      local m = self.macros[name]
      if m and not m.func then
        -- a macro naming a type: "#define LPMYSTR wchar_t *" is not read; a bare name is
        local alias = m.body:match("^([%a_][%w_]*)$")
        if alias then return self:flatten({ tag = "named", name = alias, pos = ts.pos, src = ts.src }, decl, attrs, depth + 1) end
      end
      fail(ts, "unknown type '" .. name .. "'")
    end
  else
    fail(ts, "unexpected type " .. tostring(tag))
  end
  return levels, leaf
end

-- The tagged type of a leaf node (struct/union/enum/bitmap), by name if it
-- is only a reference ("struct _X" declared elsewhere).
function State:resolve_tag(node)
  if node.members or node.arms or node.items then return node end
  local key = node.tag .. " " .. tostring(node.name)
  local def = self.tags[key]
  if not def then fail(node, "unknown " .. key) end
  return def
end

local SIZING = { "size_is", "length_is", "first_is", "last_is", "max_is", "min_is" }

-- expression lists of an attribute (size_is(a, b) -> { a, b })
local function args_of(a) return a and parser.attr_args(a) or nil end

-- ------------------------------------------------------------ types
-- Lower a declaration to an ndr type.
--   ts, decl: the type specifier and declarator; uattrs: the use site's attributes (map)
--   ctx: { top = true for a parameter, names = fields/params in scope, what = "field x" }
function State:lower_decl(ts, decl, uattrs, ctx)
  local ok, t = pcall(self.lower_decl_raw, self, ts, decl, uattrs, ctx)
  if ok then return t end
  if type(t) == "table" and t.idl then error(t, 0) end
  -- the DSL's own checks (nesting depth, ...): at this declaration
  fail(decl or ts, (tostring(t):gsub("^[^\n]-:%d+: ", ""):gsub("^ndr: ", "")))
end

function State:lower_decl_raw(ts, decl, uattrs, ctx)
  local levels, leaf = self:flatten(ts, decl, uattrs)
  local pd_default = ctx.pd or self.pd or "unique"
  -- sizing attributes, by level (outermost first): the i-th entry sizes
  -- the i-th level of the declaration
  for _, an in ipairs(SIZING) do
    local a = uattrs[an]
    if a then
      for i, e in ipairs(args_of(a)) do
        if e then
          local lv = levels[i]
          if not lv then fail(a, sfmt("[%s] has more entries than the declaration has pointers and arrays", an)) end
          lv.sizing = lv.sizing or {}
          lv.sizing[an] = self:dsl_expr(e, ctx.names, sfmt("%s of %s", an, ctx.what))
          lv.sizing_node = a
        end
      end
    end
  end
  -- [string] marks the level holding the characters: the innermost one
  local is_string = uattrs.string ~= nil
  for _, l in ipairs(levels) do if l.attrs and l.attrs.string then is_string = true end end
  if leaf.typedef_attrs and leaf.typedef_attrs.string and #levels == 0 then is_string = true end
  -- [context_handle] on the use site or a typedef: the innermost pointer to void
  local ctxh = uattrs.context_handle ~= nil
  for _, l in ipairs(levels) do if l.attrs and l.attrs.context_handle then ctxh = true end end
  if leaf.attrs and leaf.attrs.context_handle then ctxh = true end

  -- the leaf type
  local t
  if ctxh then
    if levels[#levels] and levels[#levels].kind == "ptr" and (leaf.type == "void" or leaf.type == "tagged") then
      levels[#levels] = nil
    elseif not (leaf.type == ndr.context_handle) then
      fail(decl or ts, "[context_handle] needs a pointer to void (or to an opaque struct)")
    end
    t = ndr.context_handle
  elseif leaf.type == "tagged" then
    t = self:lower_tagged(self:resolve_tag(leaf.node), merged(leaf.attrs, leaf.typedef_attrs), uattrs, ctx)
  elseif leaf.type == "void" then
    if #levels == 0 then fail(ts, "void is not a type for data") end
    fail(ts, "a pointer to void carries no data: give the pointee's type (or [context_handle])")
  elseif leaf.type == "handle" then
    if #levels == 0 then return "handle" end
    fail(ts, "a pointer to handle_t is not supported")
  else
    t = leaf.type
    -- pidl: [charset(UTF16)] uint16 -> wchar_t
    local cs = uattrs.charset or (leaf.attrs and leaf.attrs.charset)
    if cs then
      local arg = (cs.args or ""):match("[%w_]+")
      if arg == "UTF16" then t = ndr.wchar_t
      elseif arg == "DOS" or arg == "UTF8" or arg == "ASCII" then t = ndr.char
      else fail(cs, "charset(" .. tostring(cs.args) .. ") is not supported") end
    end
  end

  -- [range] on the use site or the typedef: the integer at the leaf
  local ra = uattrs.range or (leaf.attrs and leaf.attrs.range)
  if ra and type(t) == "table" and t.kind == "prim" then
    local list = args_of(ra)
    if #list ~= 2 or not list[1] or not list[2] then fail(ra, "[range] takes two bounds") end
    t = ndr.range(t, self:const(list[1], "range bound"), self:const(list[2], "range bound"))
  end

  -- build from the innermost level outwards
  local nlev = #levels
  -- the first pointer below an [out]-only parameter's own (which is [ref])
  -- takes the parameter's pointer attribute
  local inner_target
  if ctx.out_only then
    for k = 2, nlev do if levels[k].kind == "ptr" then inner_target = k; break end end
  end
  for i = nlev, 1, -1 do
    local l = levels[i]
    local sz = l.sizing
    local innermost = (i == nlev)
    local chars = innermost and is_string
    if chars and not (t == ndr.char or t == ndr.uint8 or t == ndr.int8 or t == ndr.wchar_t or t == ndr.byte) then
      fail(decl or ts, "[string] needs char, byte or wchar_t (got " .. tostring(t.name) .. ")")
    end
    local function array_opts(fixed)
      local o = {}
      if fixed then o.length = fixed end
      if sz then
        o.size_is, o.length_is, o.first_is = sz.size_is, sz.length_is, sz.first_is
        if sz.max_is then
          if o.size_is then fail(l.sizing_node, "size_is and max_is together") end
          o.max_is = sz.max_is
        end
        if sz.last_is then
          if o.length_is then fail(l.sizing_node, "length_is and last_is together") end
          o.length_is = "(" .. sz.last_is .. "-" .. (sz.first_is or "0") .. "+1)"
        end
        if sz.min_is and sz.min_is ~= "0" then fail(l.sizing_node, "[min_is] other than 0 is not supported") end
      end
      return o
    end
    local function make_array(fixed)
      local o = array_opts(fixed)
      if chars then
        local ctor = (t == ndr.wchar_t) and ndr.wstring or ndr.string
        if o.size_is == nil and o.length_is == nil and o.first_is == nil and o.max_is == nil and o.length == nil then
          return ctor
        end
        return ctor(o)
      end
      if o.size_is == nil and o.max_is == nil and o.length == nil then
        fail(l.node or decl or ts, sfmt("%s: an array needs a size (a dimension, [size_is] or [max_is])", ctx.what))
      end
      return ndr.array(t, o)
    end
    if l.kind == "arr" then
      local dim = l.dim
      local fixed
      if dim.tag ~= "star" and dim.tag ~= "open" then
        fixed = self:const(dim, "array dimension of " .. ctx.what)
        if fixed < 0 then fail(dim, "negative array dimension") end
      elseif not (sz and (sz.size_is or sz.max_is)) and not chars then
        fail(dim, sfmt("%s: a conformant array [] needs [size_is] or [max_is]", ctx.what))
      end
      t = make_array(fixed)
    else
      -- a pointer: to an array when sized (or a string), else to t
      if sz or chars then t = make_array(nil) end
      -- the pointer attribute of the use site names the outermost pointer;
      -- a typedef's, the first pointer of that typedef
      local kind
      local function pkind(a) return a and ((a.ref and "ref") or (a.unique and "unique") or (a.ptr and "ptr")) end
      local pattr = (i == 1 and pkind(uattrs)) or (l.first and pkind(l.attrs)) or nil
      if i == 1 and ctx.out_only then
        -- an [out]-only top-level pointer is [ref] whatever it says (the
        -- caller's storage: MIDL, Samba and Windows send no referent id);
        -- its pointer attribute names the next pointer down
        -- ([out, ptr] twr_p_t *ITowers of ept_map)
        kind = "ref"
      elseif pattr then kind = pattr
      elseif i == 1 and ctx.top then kind = "ref"
      elseif i == inner_target and pkind(uattrs) then kind = pkind(uattrs)
      else kind = l.pd or pd_default end
      if kind == "ref" and ctx.ret then kind = "unique" end
      t = (kind == "ref" and ndr.ref or kind == "unique" and ndr.unique or ndr.full)(t)
    end
  end
  if nlev == 0 and is_string then
    fail(decl or ts, "[string] needs a pointer or an array of characters")
  end
  return t
end

-- structs, unions, enums and bitmaps: one ndr type per node (and variant)
function State:lower_tagged(node, tattrs, uattrs, ctx)
  local tag = node.tag
  if tag == "enum" then
    local v1 = (tattrs and (tattrs.v1_enum or tattrs.enum32bit)) or (uattrs and uattrs.v1_enum)
    local key = v1 and "v1" or "16"
    if tattrs and tattrs.enum8bit then key = "8" end
    local memo = self.lowered[node]
    if not memo then memo = {}; self.lowered[node] = memo end
    if memo[key] then return memo[key] end
    local names = {}
    for _, item in ipairs(node.items) do names[item.name] = self.consts[item.name].value end
    local t
    if key == "8" then t = ndr.uint8
    else t = (key == "v1" and ndr.v1_enum or ndr.enum16)(names) end
    memo[key] = t
    return t
  elseif tag == "bitmap" then
    local t = ndr.uint32
    if tattrs then
      if tattrs.bitmap8bit then t = ndr.uint8 elseif tattrs.bitmap16bit then t = ndr.uint16
      elseif tattrs.bitmap64bit then t = ndr.uint64 end
    end
    return t
  elseif tag == "struct" then
    local memo = self.lowered[node]
    if memo then return memo end
    local name = self.pref_name[node] or node.name or sfmt("struct@%d", parser.where(node.src.text, node.pos))
    local st = ndr.struct(name)
    self.lowered[node] = st
    local fields, names = {}, { __what = "field of " .. name }
    for _, m in ipairs(node.members) do
      for _, d in ipairs(m.decls) do
        if d.name then names[d.name] = true end
      end
    end
    for _, m in ipairs(node.members) do
      local amap = attr_map(m.attrs, self.opts)
      for _, d in ipairs(m.decls) do
        if not d.name then fail(d, "a struct field needs a name") end
        local fctx = { names = names, what = "field " .. d.name .. " of " .. name, pd = self.node_pd[node] }
        local ft = self:lower_decl(m.type, d, amap, fctx)
        if ft == "handle" then fail(d, "handle_t inside a struct") end
        local f = { d.name, ft }
        self:field_attrs(f, amap, fctx)
        fields[#fields + 1] = f
      end
    end
    self:guard(node, function() st(fields) end)
    return st
  elseif tag == "union" then
    local enc = node.switch ~= nil
    local stype
    if enc then
      stype = self:lower_decl(node.switch.type, nil, {}, { what = "switch of union " .. tostring(node.name) })
    else
      local sa = (uattrs and uattrs.switch_type) or (tattrs and tattrs.switch_type)
      if sa then
        local txt = sa.args or ""
        local words = {}
        for w in txt:gmatch("[%a_][%w_]*") do words[#words + 1] = w end
        local ts
        if #words == 1 and not parser.RESERVED[words[1]] then ts = { tag = "named", name = words[1], pos = sa.argpos, src = sa.src }
        else ts = { tag = "base", words = words, pos = sa.argpos, src = sa.src } end
        stype = self:lower_decl(ts, nil, {}, { what = "switch_type" })
      else
        stype = ndr.uint32
      end
    end
    local memo = self.lowered[node]
    if not memo then memo = {}; self.lowered[node] = memo end
    if memo[stype] then return memo[stype] end
    local name = self.pref_name[node] or node.name or sfmt("union@%d", parser.where(node.src.text, node.pos))
    local u = (enc and ndr.encapsulated_union or ndr.union)(name)
    memo[stype] = u
    local spec = { switch_type = stype }
    if enc then spec.switch_name = node.switch.name end
    for _, arm in ipairs(node.arms) do
      local amap = attr_map(arm.attrs, self.opts)
      local entry = {}
      if arm.type then
        local aname = arm.decl and arm.decl.name
        if not aname then fail(arm, "a union arm needs a name") end
        local at = self:lower_decl(arm.type, arm.decl, amap, { what = "arm " .. aname .. " of " .. name, pd = self.node_pd[node] })
        entry = { aname, at }
        if amap.switch_is then fail(amap.switch_is, "[switch_is] in a union arm is not supported") end
      end
      local cases = {}
      for _, lab in ipairs(arm.labels) do
        if lab == "default" then cases[#cases + 1] = "default"
        else cases[#cases + 1] = self:const(lab[2], "case label") end
      end
      if amap.case then
        for _, e in ipairs(args_of(amap.case)) do
          if not e then fail(amap.case, "empty case label") end
          cases[#cases + 1] = self:const(e, "case label")
        end
      end
      if amap.default then cases[#cases + 1] = "default" end
      if #cases == 0 then fail(arm, "a union arm needs [case()] or [default]") end
      for _, c in ipairs(cases) do
        if spec[c] ~= nil then fail(arm, "case " .. tostring(c) .. " twice in union " .. name) end
        spec[c] = entry
      end
    end
    self:guard(node, function() u(spec) end)
    return u
  end
  fail(node, "unexpected " .. tostring(tag))
end

-- field/parameter attributes the DSL applies itself: switch_is
function State:field_attrs(f, amap, ctx)
  if amap.switch_is then
    local list = args_of(amap.switch_is)
    if #list ~= 1 or not list[1] then fail(amap.switch_is, "[switch_is] takes one expression") end
    f.switch_is = self:dsl_expr(list[1], ctx.names, "switch_is of " .. ctx.what)
  end
end

-- run a DSL constructor, turning its error into one at node
function State:guard(node, fn)
  local ok, e = pcall(fn)
  if not ok then
    if type(e) == "table" and e.idl then error(e, 0) end
    local msg = tostring(e):gsub("^[^\n]-:%d+: ", ""):gsub("^ndr: ", "")
    fail(node, msg)
  end
end

-- ------------------------------------------------------------ functions
function State:lower_func(f, opnum)
  local fattrs = attr_map(f.attrs, self.opts)
  local names = { __what = "parameter of " .. f.name }
  for _, p in ipairs(f.params) do if p.decl.name then names[p.decl.name] = true end end
  local spec = {}
  for i, p in ipairs(f.params) do
    local amap = attr_map(p.attrs, self.opts)
    local pname = p.decl.name or ("arg" .. i)
    local ctx = { top = true, names = names, what = "parameter " .. pname .. " of " .. f.name,
                  out_only = amap.out ~= nil and amap["in"] == nil }
    local t = self:lower_decl(p.type, p.decl, amap, ctx)
    if t ~= "handle" then
      local dir
      if amap["in"] and amap.out then dir = "in,out" elseif amap.out then dir = "out" else dir = "in" end
      local e = { pname, t, dir }
      self:field_attrs(e, amap, ctx)
      spec[#spec + 1] = e
    end
  end
  if not (f.type.tag == "base" and f.type.words[1] == "void" and f.ptrs == 0) then
    local rt = self:lower_decl(f.type, { ptrs = f.ptrs, dims = {}, pos = f.pos, src = f.src }, {},
                               { what = "the result of " .. f.name, ret = true })
    if rt ~= "handle" then spec.returns = rt end
  end
  local fn
  self:guard(f, function() fn = ndr.func(opnum, f.name)(spec) end)
  fn.idempotent = fattrs.idempotent and true or nil
  return fn
end

return M
