-- dcerpc.idl: MIDL at run time.
--
--   local idl = require "dcerpc.idl"
--   local iface = assert(idl.load("winreg.idl"))          -- or idl.parse(text)
--   local c = assert(dcerpc.connect("ncacn_np:host", iface, { user = ..., password = ... }))
--   srv:register(idl.load("foo.idl"), handlers)
--
-- The result is the interface description dcerpc.ndr.interface builds
-- (docs/ndr-dsl.md): the same compiler, interpreter and client. Errors are
-- `nil, err` where err has file, line, column and message and prints as
-- "file:line:column: message" (docs/idl.md).

local ndr = require "dcerpc.ndr"
local parser = require "dcerpc.idl.parser"
local cpp = require "dcerpc.idl.cpp"
local lower = require "dcerpc.idl.lower"
local prelude = require "dcerpc.idl.prelude"
local options = require "dcerpc.opts"

local M = {}

local ErrMT = {}
ErrMT.__index = ErrMT
ErrMT.__name = "dcerpc.idl.error"
function ErrMT.__tostring(e)
  return string.format("%s:%d:%d: %s", e.file, e.line, e.column, e.message)
end
function ErrMT.__concat(a, b) return tostring(a) .. tostring(b) end

local function to_err(e)
  if type(e) == "table" and e.idl then
    local file, line, col = "?", 0, 0
    if e.src then
      file = e.src.name
      line, col = parser.where(e.src.text, e.pos or 1)
    end
    return setmetatable({ file = file, line = line, column = col, message = e.message,
                          code = 0x6f7, name = "idl" }, ErrMT)
  end
  return nil
end

local OPTS = options.keys({ "include", "defines", "name", "interface", "file", "ignore_attributes", "acf",
                            "predefined" })

-- the prelude: parsed and declared once
local prelude_items, prelude_state
local function prelude_tree()
  if not prelude_items then
    local src = { name = "(predefined types)", text = prelude.idl }
    prelude_items = parser.parse(src)
  end
  return prelude_items
end

local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

local function search_path(opts)
  local dirs = {}
  local inc = opts.include
  if type(inc) == "string" then inc = { inc } end
  for _, d in ipairs(inc or {}) do dirs[#dirs + 1] = d end
  for d in (os.getenv("DCERPC_IDL_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  return dirs
end

-- Parse one source (and what it includes or imports) into the state.
-- Returns the interfaces it defines (in order).
local function process(state, src, from_dir, is_main, seen)
  local function find(name, node)
    local candidates = {}
    if name:sub(1, 1) == "/" then candidates[1] = name
    else
      candidates[1] = from_dir .. "/" .. name
      for _, d in ipairs(state.dirs) do candidates[#candidates + 1] = d .. "/" .. name end
    end
    for _, p in ipairs(candidates) do
      local text = readfile(p)
      if text then return p, text end
    end
    return nil
  end
  local function include(name, isrc, pos, is_import)
    local base = name:match("[^/]+$")
    local path, text = find(name)
    if not path then
      if prelude.imports[base:lower()] then return end        -- stands for the predefined types
      local dirs = { from_dir }
      for _, d in ipairs(state.dirs) do dirs[#dirs + 1] = d end
      error({ idl = true, src = isrc, pos = pos,
              message = string.format("cannot find %s '%s' (searched %s)", is_import and "import" or "#include",
                                      name, table.concat(dirs, ", ")) }, 0)
    end
    if seen[path] then return end
    seen[path] = true
    process(state, { name = path, text = text }, dirname(path), false, seen)
  end
  local text = cpp.run(src, { macros = state.macros, include = function(n, s, p) include(n, s, p, false) end })
  local psrc = { name = src.name, text = text }
  local items = parser.parse(psrc)
  state.file_items[#state.file_items + 1] = { items = items, main = is_main }
  local ifaces = {}
  local function imports_of(list)
    for _, it in ipairs(list) do
      if it.tag == "import" then
        for _, f in ipairs(it[1]) do include(f, it.src, it.pos, true) end
      end
    end
  end
  imports_of(items)
  state:declare(items, state.file_pd)
  for _, it in ipairs(items) do
    if it.tag == "interface" then
      imports_of(it.items)
      local amap = {}
      for _, a in ipairs(it.attrs) do amap[a.name] = a end
      local pd = "unique"
      if amap.pointer_default then
        pd = (amap.pointer_default.args or ""):match("^%s*(%a+)%s*$")
        if pd ~= "ref" and pd ~= "unique" and pd ~= "ptr" then
          error({ idl = true, src = amap.pointer_default.src, pos = amap.pointer_default.argpos,
                  message = "pointer_default must be ref, unique or ptr" }, 0)
        end
      end
      state:declare(it.items, pd)
      ifaces[#ifaces + 1] = { node = it, attrs = amap, pd = pd, main = is_main }
    end
  end
  return ifaces, items
end

local UUID_PAT = "^%s*\"?(%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x)\"?%s*$"

-- build the ndr.interface of one interface node
local function build(state, info, all_items)
  local it, amap = info.node, info.attrs
  local function fail(node, msg) error({ idl = true, src = node.src, pos = node.pos, message = msg }, 0) end
  if it.base then fail(it, "interface " .. it.name .. " inherits from " .. it.base .. ": object (DCOM) interfaces are not supported yet") end
  for _, a in ipairs(it.attrs) do
    local k = lower.ATTRS[a.name]
    if type(k) == "string" and k ~= "shape" and k ~= "none" then fail(a, "[" .. a.name .. "]: " .. k) end
  end
  local uuid = amap.uuid and (amap.uuid.args or ""):match(UUID_PAT)
  if not uuid then fail(amap.uuid or it, "interface " .. it.name .. " needs [uuid(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)]") end
  local version = "1.0"
  if amap.version then
    local v = (amap.version.args or ""):match("^%s*(%d+%.?%d*)%s*$")
    if not v then fail(amap.version, "version(major.minor) expected") end
    version = v:find(".", 1, true) and v or (v .. ".0")
  end
  state.pd = info.pd
  local endpoints, pipe = {}, nil
  if amap.endpoint then
    for e in (amap.endpoint.args or ""):gmatch('"(.-)"') do
      e = e:gsub("\\\\", "\\")
      endpoints[#endpoints + 1] = e
      local p = e:match("^ncacn_np:%[\\[Pp][Ii][Pp][Ee]\\([^%]]+)%]")
      if p and not pipe then pipe = p end
    end
  end
  local spec = { name = state.opts.name or it.name, uuid = uuid:lower(), version = version }
  -- functions: opnums in order ([noopnum] ones take none)
  local opnum = 0
  for _, f in ipairs(it.items) do
    if f.tag == "func" then
      local noop = false
      for _, a in ipairs(f.attrs) do if a.name == "noopnum" then noop = true end end
      if not noop then
        spec[#spec + 1] = state:lower_func(f, opnum)
        opnum = opnum + 1
      end
    end
  end
  -- every named type of the main file, lowered (so its errors show now)
  local types = {}
  local function add_types(items, pd)
    for _, x in ipairs(items) do
      if x.tag == "typedef" then
        for _, d in ipairs(x.decls) do
          if not types[d.name] then
            state.pd = pd
            local t = state:lower_decl({ tag = "named", name = d.name, pos = d.pos, src = d.src },
                                       nil, {}, { what = "type " .. d.name })
            if t ~= "handle" then types[d.name] = t end
          end
        end
      end
    end
  end
  for _, f in ipairs(state.file_items) do
    if f.items ~= all_items then
      add_types(f.items, "unique")
      for _, x in ipairs(f.items) do if x.tag == "interface" then add_types(x.items, "unique") end end
    end
  end
  add_types(all_items, "unique")
  add_types(it.items, info.pd)
  state.pd = info.pd
  spec.types = types
  -- constants: const declarations, enum values, integer #defines
  local constants = {}
  for name, c in pairs(state.consts) do
    local v = c.value or state:const_value({ tag = "id", name, pos = c.node.pos, src = c.node.src })
    if v then constants[name] = v
    else
      -- const wchar_t *NAME = L"text": the string
      local x = c.expr
      while x and x.tag == "cast" do x = x[2] end
      if x and x.tag == "str" then constants[name] = x[1] end
    end
  end
  for name, m in pairs(state.macros) do
    if not m.func and m.body ~= "" and not constants[name] and not state.predefined_macros[name] then
      local x = parser.parse_expr(m.src, m.body)
      local v = x and state:const_value(x)
      if v then constants[name] = v end
    end
  end
  spec.constants = constants
  spec.endpoints = endpoints
  spec.pipe = pipe
  local iface
  local ok, e = pcall(ndr.interface, spec)
  if not ok then fail(it, tostring(e):gsub("^[^\n]-:%d+: ", ""):gsub("^ndr: ", "")) end
  iface = e
  return iface
end

-- An .acf changes nothing on the wire (its attributes shape the local
-- stubs): it is parsed, and what it names must exist in the interface.
local function check_acf(state, acf, inode, iface)
  local src = acf
  if type(acf) == "string" then
    local text = readfile(acf)
    if not text then error({ idl = true, src = inode.src, pos = inode.pos, message = "cannot read " .. acf }, 0) end
    src = { name = acf, text = text }
  end
  local text = cpp.run(src, { macros = state.macros, include = function() end })
  local items = parser.parse_acf({ name = src.name, text = text })
  local function fail(n, msg) error({ idl = true, src = n.src, pos = n.pos, message = msg }, 0) end
  for _, it in ipairs(items) do
    if it.tag == "acf_interface" then
      if it.name ~= inode.name then fail(it, "the .acf configures interface " .. it.name .. ", the .idl defines " .. inode.name) end
      for _, b in ipairs(it.body) do
        if b.tag == "acf_func" and not iface.functions[b.name] then
          fail(b, "the .acf names procedure " .. b.name .. ", which interface " .. inode.name .. " does not have")
        elseif b.tag == "acf_func" then
          local fn = iface.functions[b.name]
          for _, p in ipairs(b.params) do
            if not fn.byname[p.name] and not (p.attrs[1] and (p.attrs[1].name == "comm_status" or p.attrs[1].name == "fault_status")) then
              fail(b, "the .acf names parameter " .. p.name .. " of " .. b.name .. ", which has none by that name")
            end
          end
        elseif b.tag == "acf_typedef" then
          for _, n in ipairs(b.names) do
            if not state.typedefs[n] and not prelude.types[n] then fail(b, "the .acf names type " .. n .. ", which is not defined") end
          end
        end
      end
    end
  end
end

-- parse(text, opts) -> iface | nil, err
--   opts: file (the name errors give; "(string)"), include (a directory or a
--   list: where #include and import look, after the file's own directory;
--   DCERPC_IDL_PATH adds more), defines ({ NAME = "value" | true }),
--   interface (which one, when the file defines several), name (the
--   interface's name in the result), ignore_attributes ({ name = true }:
--   attributes to accept without reading them), predefined (false: a
--   file's own typedef of a predefined name, such as [MS-SAMR]'s
--   OLD_LARGE_INTEGER struct, replaces the predefined form)
function M.parse(text, opts)
  assert(type(text) == "string", "dcerpc.idl.parse: IDL text expected")
  options.check(opts, OPTS, "dcerpc.idl.parse", 2)
  opts = opts or {}
  local file = opts.file or "(string)"
  local macros = { __midl = { body = "501" }, __MIDL = { body = "501" }, TRUE = { body = "1" }, FALSE = { body = "0" } }
  local predefined = { __midl = true, __MIDL = true, TRUE = true, FALSE = true }
  for k, v in pairs(opts.defines or {}) do
    macros[k] = { body = v == true and "1" or tostring(v), src = { name = "(defines)", text = tostring(v) } }
    predefined[k] = true
  end
  local lopts = { macros = macros, ignore_attributes = opts.ignore_attributes, name = opts.name,
                  keep_predefined = opts.predefined ~= false }
  local state = lower.new(lopts, prelude.types)
  state.predefined_macros = predefined
  state.dirs = search_path(opts)
  state.file_items = {}
  state.file_pd = "unique"
  parser.type_names = {}
  for k in pairs(prelude.types) do parser.type_names[k] = true end
  local ok, r = pcall(function()
    -- the prelude's declarations, made once and shared (read-only) by every load
    if not prelude_state then
      prelude_state = lower.new({ macros = {} }, prelude.types)
      prelude_state:declare(prelude_tree(), "unique")
    end
    for _, k in ipairs({ "typedefs", "tags", "pref_name", "node_pd" }) do
      setmetatable(state[k], { __index = prelude_state[k] })
    end
    for k in pairs(prelude_state.typedefs) do parser.type_names[k] = true end
    local seen = {}
    local ifaces, items = process(state, { name = file, text = text }, opts.file and dirname(opts.file) or ".", true, seen)
    local main = {}
    for _, x in ipairs(ifaces) do if x.main then main[#main + 1] = x end end
    if #main == 0 then error({ idl = true, src = { name = file, text = text }, pos = #text + 1,
                               message = "no interface in this file" }, 0) end
    local pick
    if opts.interface then
      for _, x in ipairs(main) do if x.node.name == opts.interface then pick = x end end
      if not pick then
        local names = {}
        for _, x in ipairs(main) do names[#names + 1] = x.node.name end
        error({ idl = true, src = main[1].node.src, pos = 1, message = "no interface " .. opts.interface ..
                " (the file defines " .. table.concat(names, ", ") .. ")" }, 0)
      end
    elseif #main > 1 then
      local names = {}
      for _, x in ipairs(main) do names[#names + 1] = x.node.name end
      error({ idl = true, src = main[2].node.src, pos = main[2].node.pos,
              message = "the file defines several interfaces (" .. table.concat(names, ", ") ..
                        "): choose one with opts.interface" }, 0)
    else
      pick = main[1]
    end
    local iface = build(state, pick, items)
    if opts.acf then check_acf(state, opts.acf, pick.node, iface) end
    return iface
  end)
  parser.type_names = {}
  if ok then return r end
  local e = to_err(r)
  if e then return nil, e end
  error(r, 0)                        -- a bug of the loader, not of the file
end

-- load(path, opts) -> iface | nil, err (a .idl file; an .acf file next to
-- it is not needed: its attributes change nothing on the wire)
function M.load(path, opts)
  assert(type(path) == "string", "dcerpc.idl.load: file name expected")
  options.check(opts, OPTS, "dcerpc.idl.load", 2)
  local text = readfile(path)
  if not text then
    local f, why = io.open(path, "rb")
    if f then f:close() end
    return nil, setmetatable({ file = path, line = 0, column = 0, code = 0x6f7, name = "idl",
                               message = "cannot read: " .. tostring(why) }, ErrMT)
  end
  if path:match("%.[Aa][Cc][Ff]$") then
    return nil, setmetatable({ file = path, line = 1, column = 1, code = 0x6f7, name = "idl",
                               message = "an .acf configures an .idl: load the .idl (the .acf beside it is read too)" }, ErrMT)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.file = path
  if o.acf == nil then
    local sibling = path:gsub("%.[Ii][Dd][Ll]$", "") .. ".acf"
    if sibling ~= path and readfile(sibling) then o.acf = sibling end
  elseif o.acf == false then
    o.acf = nil
  end
  return M.parse(text, o)
end

return M
