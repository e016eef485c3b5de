-- dcerpc.cli: the `dcerpc` command (bin/dcerpc is a launcher for it).
--
--   local cli = require "dcerpc.cli"
--   os.exit(cli.main(arg))                  -- argv without the program name
--   cli.main(argv, { stdout = f, stderr = f, stdin = f, getenv = fn, isatty = fn }) -> exit code
--
-- Subcommands: dump, call, srvinfo, shares (netshareenumall), users
-- (enumdomusers), idl, serve, help. docs/dcerpc.1 is the reference; each
-- subcommand prints its own usage with --help.
--
-- Exit codes (M.EXIT): 0 ok; 1 an internal error (a bug: the traceback is
-- printed); 2 usage (bad options or arguments, an unreadable or invalid
-- file); 3 connection (the server cannot be reached, a timeout, no endpoint,
-- the interface is not offered); 4 authentication (credentials refused);
-- 5 the call failed (a fault, or an error status returned by the function);
-- 130 interrupted (Ctrl-C), except for serve, which it ends normally (0).
--
-- Errors inside are raised as Fail objects (M.fail) and turned into a
-- message and an exit code by main; anything else raised is a bug.

local M = {}

M.EXIT = { ok = 0, internal = 1, usage = 2, connection = 3, auth = 4, call = 5, interrupted = 130 }
local EXIT = M.EXIT

local sfmt, concat = string.format, table.concat

---------------------------------------------------------------- failures

local Fail = { __name = "dcerpc.cli.fail" }
Fail.__index = Fail
function Fail.__tostring(f) return f.message end

-- fail(exit, message [, hint]): stop the subcommand with this exit code.
local function fail(code, message, hint)
  error(setmetatable({ exit = code, message = message, hint = hint }, Fail), 0)
end
M.fail = fail

local current_sub                       -- the subcommand running (for hints)
local function usage(message)
  fail(EXIT.usage, message, "try 'dcerpc " .. (current_sub and current_sub .. " " or "") .. "--help'")
end

local HELP = require "dcerpc.cli.help"

---------------------------------------------------------------- options

-- An option: long name, short letter or false, takes an argument, repeatable.
local function opt(long, short, arg, multi) return { long = long, short = short, arg = arg, multi = multi } end

local CLIENT_OPTS = {
  opt("user", "U", true), opt("domain", "W", true), opt("password", false, true),
  opt("nt-hash", false, true), opt("no-pass", "N"), opt("auth", false, true), opt("level", false, true),
  opt("kerberos", "k"),
  opt("sign"), opt("seal"), opt("timeout", false, true),
  opt("json"), opt("trace"), opt("pcap", false, true), opt("help", "h"),
}

local function with(base, more)
  local t = {}
  for _, o in ipairs(base) do t[#t + 1] = o end
  for _, o in ipairs(more or {}) do t[#t + 1] = o end
  return t
end

local OPTS = {
  dump = CLIENT_OPTS, srvinfo = CLIENT_OPTS, shares = CLIENT_OPTS, users = CLIENT_OPTS,
  call = with(CLIENT_OPTS, { opt("args", false, true), opt("include", "I", true, true) }),
  idl = { opt("include", "I", true, true), opt("function", "f", true), opt("no-program"), opt("json"),
          opt("help", "h") },
  serve = { opt("listen", "l", true, true), opt("handlers", "H", true), opt("user", "U", true, true),
            opt("domain", false, true), opt("epm"), opt("include", "I", true, true), opt("trace"),
            opt("pcap", false, true), opt("help", "h") },
  help = { opt("help", "h") },
}
OPTS.netshareenumall, OPTS.enumdomusers = OPTS.shares, OPTS.users

-- parse(argv, first, specs) -> options (long name -> value | true | list),
-- positionals. Options and positionals may mix; "--" ends the options;
-- "--name=value", "--name value", "-Xvalue", "-X value" all work.
local function parse(argv, first, specs)
  local bylong, byshort = {}, {}
  for _, o in ipairs(specs) do
    bylong[o.long] = o
    if o.short then byshort[o.short] = o end
  end
  local opts, pos = {}, {}
  local function set(o, v)
    if o.multi then
      opts[o.long] = opts[o.long] or {}
      table.insert(opts[o.long], v)
    else
      opts[o.long] = v
    end
  end
  local i = first
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, val = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local o = bylong[name]
      if not o then usage("unknown option --" .. name) end
      if o.arg then
        if not val then
          i = i + 1
          val = argv[i]
          if val == nil then usage("option --" .. name .. " needs a value") end
        end
        set(o, val)
      else
        if val then usage("option --" .. name .. " takes no value") end
        set(o, true)
      end
    elseif a:sub(1, 1) == "-" and #a > 1 and not a:match("^%-%d") then
      local o = byshort[a:sub(2, 2)]
      if not o then usage("unknown option " .. a:sub(1, 2)) end
      if o.arg then
        local val = a:sub(3)
        if val == "" then
          i = i + 1
          val = argv[i]
          if val == nil then usage("option -" .. o.short .. " needs a value") end
        end
        set(o, val)
      else
        if #a > 2 then usage("option -" .. o.short .. " takes no value") end
        set(o, true)
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end
M.parse_options = parse

---------------------------------------------------------------- small helpers

local dcerpc                              -- loaded on first use (help needs no core)
local function lib()
  dcerpc = dcerpc or require "dcerpc"
  return dcerpc
end


local function readfile(path, what)
  local f, e = io.open(path, "rb")
  if not f then fail(EXIT.usage, sfmt("cannot read %s: %s", what or path, e)) end
  local s = f:read("a")
  f:close()
  return s
end

local function hex(s)
  return (s:gsub(".", function(c) return sfmt("%02x", c:byte()) end))
end

local function unhex(s, what)
  local h = s:gsub("^0[xX]", ""):gsub("[%s:%-]", "")
  if #h % 2 ~= 0 or h:find("[^%x]") then
    usage(sfmt("%s: hex digits expected, got '%s'", what, s))
  end
  return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end))
end

---------------------------------------------------------------- credentials

-- The connect options from -U, --password, ... and the environment.
-- Returns opts (possibly empty: anonymous), and the user for messages.
local function credentials(o, env)
  local copts = {}
  local user = o.user
  if user == nil then user = env.getenv("DCERPC_USER") end
  local password
  if user and user ~= "" then
    local u, p = user:match("^([^%%]*)%%(.*)$")              -- rpcclient's USER%PASSWORD
    if u then user, password = u, p end
  end
  if o.password then password = o.password end
  if password == nil and user and user ~= "" and not o["nt-hash"] then
    password = env.getenv("DCERPC_PASSWORD")
  end
  -- Kerberos: the ccache (KRB5CCNAME) unless a password is given, with
  -- which the library gets the ticket itself; nothing to ask for
  local krb5 = o.kerberos or o.auth == "krb5"
  if user and user ~= "" then
    local d, u = user:match("^([^\\/]+)[\\/](.+)$")
    if d then copts.domain, user = d, u end
    if o.domain then copts.domain = o.domain end
    copts.user = user
    if o["nt-hash"] then
      local h = o["nt-hash"]
      if not h:match("^%x+$") or #h ~= 32 then usage("--nt-hash: 32 hex digits expected") end
      copts.nt_hash = h
    elseif password then
      copts.password = password
    elseif krb5 then
      copts.password = nil
    elseif o["no-pass"] then
      copts.password = ""
    elseif env.isatty() then
      copts.password = env.prompt(sfmt("Password for [%s%s]: ", copts.domain and (copts.domain .. "\\") or "",
                                       user))
    else
      usage("no password for " .. user .. " (give USER%PASSWORD, --password, DCERPC_PASSWORD, " ..
            "--nt-hash, or -N; standard input is not a terminal to ask on)")
    end
  elseif o.password or o["nt-hash"] then
    usage("--password / --nt-hash without -U USER")
  end
  local level = o.level
  if o.sign then level = level or "integrity" end
  if o.seal then level = "privacy" end
  if level then
    local LEVELS = { connect = 1, packet = 1, integrity = 1, privacy = 1, sign = 1, seal = 1, call = 1 }
    if not LEVELS[level] then usage("--level: connect, packet, integrity or privacy expected, got " .. level) end
    copts.level = level
  end
  if o.auth then
    if o.auth ~= "ntlm" and o.auth ~= "spnego" and o.auth ~= "krb5" then
      usage("--auth: ntlm, spnego or krb5 expected, got " .. o.auth)
    end
    copts.auth = o.auth
  end
  if o.kerberos then
    if o.auth and o.auth ~= "krb5" then usage("--kerberos with --auth " .. o.auth) end
    copts.auth = "krb5"
  end
  if o.timeout then
    local t = tonumber(o.timeout)
    if not t or t <= 0 then usage("--timeout: a number of seconds expected, got " .. o.timeout) end
    copts.timeout, copts.connect_timeout = t, t
  end
  return copts, copts.user
end
M.credentials = credentials

---------------------------------------------------------------- tracing

-- The trace hook of --trace / --pcap (dcerpc.trace), or nil; its closer is
-- queued on the cleanup list.
local function tracer(o, env, cleanup, server)
  if not (o.trace or o.pcap) then return nil end
  local trace = require "dcerpc.trace"
  local hooks = {}
  if o.trace then hooks[#hooks + 1] = trace.text(env.stderr) end
  if o.pcap then
    local p, e = trace.pcap(o.pcap)
    if not p then fail(EXIT.usage, sfmt("--pcap %s: %s", o.pcap, tostring(e))) end
    hooks[#hooks + 1] = p
    cleanup[#cleanup + 1] = function() p:close() end
  end
  return #hooks == 1 and hooks[1] or trace.tee(table.unpack(hooks))
end

---------------------------------------------------------------- connecting

-- A BINDING argument: a string binding as it is, a bare host with the
-- default protocol sequence. Returns the binding and its parsed form.
local function binding_of(s, default)
  if not s then usage("BINDING expected") end
  local b = s
  if not (s:match("^[%x%-]+@nca") or s:match("^nca[%w_]*:")) then
    b = default .. ":" .. s
    if default == "ncacn_ip_tcp" and not s:match("%[%d+%]$") then   -- HOST[PORT] keeps its port
      b = b .. "[135]"
      if s:find(":", 1, true) and not s:find("[", 1, true) then b = default .. ":[" .. s .. "][135]" end
    end
  end
  local pb, e = lib().binding(b)
  if not pb then usage(sfmt("bad binding '%s': %s", s, tostring(e and e.message or e))) end
  if pb.protseq ~= "ncalrpc" and (pb.host == nil or pb.host == "") then
    usage(sfmt("bad binding '%s': no host", s))
  end
  return b, pb
end
M.binding_of = binding_of

-- Credentials refused (exit 4) rather than a server out of reach (3).
local AUTH_CODES = {
  [5] = true,              -- ERROR_ACCESS_DENIED / nca_s_fault_access_denied (at bind)
  [1326] = true,           -- ERROR_LOGON_FAILURE
  [1825] = true,           -- RPC_S_SEC_PKG_ERROR (a refused NTLM / SPNEGO exchange)
  [0xC000006D] = true,     -- STATUS_LOGON_FAILURE
  [0xC000006A] = true,     -- STATUS_WRONG_PASSWORD
  [0xC0000064] = true,     -- STATUS_NO_SUCH_USER
  [0xC000006E] = true,     -- STATUS_ACCOUNT_RESTRICTION
  [0xC000006F] = true, [0xC0000070] = true, [0xC0000071] = true, [0xC0000072] = true,
  [0xC0000193] = true, [0xC0000224] = true, [0xC0000234] = true, [0xC000015B] = true,
  [0xC0000022] = true,     -- STATUS_ACCESS_DENIED (SMB tree connect / pipe open)
  [0x8009030C] = true,     -- SEC_E_LOGON_DENIED
}
-- Kerberos failures to get or use a ticket (the library's SSPI codes).
local KRB5_CODES = {
  [0x8009030E] = true,     -- SEC_E_NO_CREDENTIALS: no ticket
  [0x80090317] = true,     -- SEC_E_CONTEXT_EXPIRED: the ticket expired
  [0x80090324] = true,     -- SEC_E_TIME_SKEW
  [0x80090303] = true,     -- SEC_E_TARGET_UNKNOWN: no such service principal
  [0x80090311] = true,     -- SEC_E_NO_AUTHENTICATING_AUTHORITY: KDC unreachable
  [0x80090341] = true,     -- SEC_E_ETYPE_NOT_SUPP
}
for k in pairs(KRB5_CODES) do AUTH_CODES[k] = true end
M.AUTH_CODES = AUTH_CODES

local function describe(e)
  if type(e) == "table" then
    return tostring(e.message or e.name or e.code)
  end
  return tostring(e)
end

-- connect(binding, iface, o, env, cleanup) -> client; fails with 3 or 4.
local function connect(b, iface, o, env, cleanup)
  local copts = credentials(o, env)
  local hook = tracer(o, env, cleanup)
  if hook then copts.trace = hook end
  local c, e = lib().connect(b, iface, copts)
  if not c then
    local code = type(e) == "table" and e.code
    if AUTH_CODES[code] then
      fail(EXIT.auth, sfmt("%s: authentication failed: %s", b, describe(e)),
           KRB5_CODES[code] and "check the ticket (klist, kinit), the realm's KDC in krb5.conf, the service " ..
             "name (target_hostname=) and the clock"
           or "check the user name, domain and password (-U DOMAIN\\USER%PASSWORD)")
    end
    fail(EXIT.connection, sfmt("%s: %s", b, describe(e)))
  end
  cleanup[#cleanup + 1] = function() c:close() end
  return c
end

-- A failed call: 4 when an NTLM bind's credentials were refused (the
-- refusal shows on the first call), 3 when the connection was lost or the
-- call timed out, 5 otherwise (a fault or an error status).
local function call_exit(c, e)
  local code = type(e) == "table" and e.code
  if c.ntlm_unproven and code ~= 1818 then return EXIT.auth end
  if code == 1722 or code == 1818 then return EXIT.connection end
  if type(e) == "table" and tostring(e.message):match("^connection closed") then return EXIT.connection end
  return EXIT.call
end
M.call_exit = call_exit

local function call_fail(c, fname, e)
  local code = call_exit(c, e)
  local msg = describe(e)
  if msg:sub(1, #fname + 1) ~= fname .. " " then msg = fname .. ": " .. msg end
  fail(code, msg,
       code == EXIT.auth and "check the user name, domain and password (-U DOMAIN\\USER%PASSWORD)" or nil)
end

---------------------------------------------------------------- interfaces

local function load_idl(path, includes)
  local idl = require "dcerpc.idl"
  local dirs = {}
  for _, d in ipairs(includes or {}) do dirs[#dirs + 1] = d end
  local dir = path:match("^(.*)/[^/]*$")
  dirs[#dirs + 1] = dir or "."
  local ok2, iface, e = pcall(idl.load, path, { include = dirs })
  if not ok2 then fail(EXIT.usage, tostring(iface)) end
  if not iface then fail(EXIT.usage, tostring(e)) end        -- "file:line:column: message"
  return iface
end

-- IFACE: a shipped interface name, or a path to a .idl file.
local function interface_of(name, includes)
  if name:match("%.idl$") or name:find("/", 1, true) then return load_idl(name, includes) end
  if not name:match("^[%w_]+$") then usage("bad interface name '" .. name .. "'") end
  local ok, iface = pcall(require, "dcerpc.iface." .. name)
  if not ok then
    local shipped = {}
    local dir = package.searchpath("dcerpc.iface.srvsvc", package.path)
    dir = dir and dir:match("^(.*)/[^/]*$")
    local p = dir and io.popen("ls " .. sfmt("%q", dir) .. " 2>/dev/null")
    for f in (p and p:lines() or function() end) do
      if f:match("%.lua$") then shipped[#shipped + 1] = f:sub(1, -5) end
    end
    if p then p:close() end
    usage(sfmt("no shipped interface '%s' (shipped: %s; or give a .idl file)", name,
               #shipped > 0 and concat(shipped, ", ") or "?"))
  end
  return iface
end

---------------------------------------------------------------- values in

local OP                                   -- ndr.opcodes, loaded with dcerpc
local function ops() OP = OP or lib().ndr.opcodes; return OP end

local function deref(t)
  local n = 0
  while t and t.kind == "ptr" do t = t.target; n = n + 1; if n > 64 then break end end
  return t
end

local function is_text(t) return t and t.kind == "array" and (t.text or t.string) end
local function is_bytes(t)
  return t and t.kind == "array" and not is_text(t) and t.elem and t.elem.kind == "prim" and
         (t.elem.op == ops().U8 or t.elem.op == ops().I8) and not t.elem.names
end

-- What a prim is: "int", "bool", "float", "guid", "handle", "sid", "filetime"
local function prim_class(t)
  local O = ops()
  local op = t.op
  if op == O.BOOL then return "bool"
  elseif op == O.F32 or op == O.F64 then return "float"
  elseif op == O.GUID then return "guid"
  elseif op == O.CTXH then return "handle"
  elseif op == O.SID then return "sid"
  elseif op == O.U64A4 or t.name == "FILETIME" then return "filetime"
  end
  return "int"
end

local function parse_int(s)
  local neg, body = s:match("^(%-?)(.*)$")
  local v
  if body:match("^0[xX]%x+$") then v = math.tointeger(tonumber(body:sub(3), 16))
  elseif body:match("^%d+$") then v = math.tointeger(tonumber(body)) end
  if v and neg == "-" then v = -v end
  return v
end

-- coerce(t, v, where) -> v as the encoder wants it for type t (v: a string
-- from the command line, or a value from a Lua table / JSON object).
local coerce
coerce = function(t, v, where)
  if v == nil then return nil end
  t = deref(t)
  if not t then
    -- no type known: guess from the text
    if type(v) == "string" then
      if v == "true" then return true elseif v == "false" then return false end
      return parse_int(v) or v
    end
    return v
  end
  local kind = t.kind
  if kind == "prim" then
    local class = prim_class(t)
    if class == "int" then
      if type(v) == "string" then
        if t.names and t.names[v] then return t.names[v] end
        local n = parse_int(v)
        if not n then
          if v == "true" then return 1 elseif v == "false" then return 0 end
          local names = {}
          for k in pairs(t.names or {}) do names[#names + 1] = k end
          table.sort(names)
          usage(sfmt("%s: an integer expected%s, got '%s'", where,
                     #names > 0 and (" or one of " .. concat(names, ", ")) or "", v))
        end
        return n
      end
      if type(v) == "boolean" then return v and 1 or 0 end
      return v
    elseif class == "bool" then
      if v == "true" or v == "1" or v == 1 then return true end
      if v == "false" or v == "0" or v == 0 then return false end
      if type(v) == "boolean" then return v end
      usage(sfmt("%s: true or false expected, got '%s'", where, tostring(v)))
    elseif class == "float" then
      local n = tonumber(v)
      if not n then usage(sfmt("%s: a number expected, got '%s'", where, tostring(v))) end
      return n + 0.0
    elseif class == "handle" then
      if type(v) == "string" and #v ~= 20 then return unhex(v, where) end
      return v
    elseif class == "filetime" then
      if type(v) == "string" then
        local n = parse_int(v)
        if not n then usage(sfmt("%s: an integer (100 ns since 1601) expected, got '%s'", where, v)) end
        return n
      end
      return v
    end
    return v                                       -- guid, sid: strings as they are
  elseif kind == "array" then
    if is_text(t) then return type(v) == "table" and v or tostring(v) end
    if is_bytes(t) then
      if type(v) == "string" then return unhex(v, where) end
      return v
    end
    if type(v) == "string" then
      -- a list of scalars given as a,b,c
      local out = {}
      for item in (v .. ","):gmatch("([^,]*),") do out[#out + 1] = coerce(t.elem, item, where) end
      return out
    end
    if type(v) == "table" then
      local out = {}
      for k, x in pairs(v) do out[k] = coerce(t.elem, x, sfmt("%s[%s]", where, tostring(k))) end
      return out
    end
    return v
  elseif kind == "struct" then
    if type(v) ~= "table" then
      usage(sfmt("%s: %s is a structure: give its fields (%s.FIELD=VALUE)", where, t.name or "it", where))
    end
    local out = {}
    for k, x in pairs(v) do
      local f = t.byname and t.byname[k]
      out[k] = coerce(f and f.type, x, where .. "." .. tostring(k))
    end
    return out
  elseif kind == "union" then
    if type(v) ~= "table" then
      usage(sfmt("%s: %s is a union: give one arm (%s.ARM.FIELD=VALUE)", where, t.name or "it", where))
    end
    local out = {}
    for k, x in pairs(v) do
      local a
      for _, arm in ipairs(t.arms or {}) do if arm.name == k then a = arm end end
      if a then out[k] = coerce(a.type, x, where .. "." .. k)
      elseif k == t.switch_name then out[k] = coerce(t.switch_type, x, where .. "." .. k)
      else out[k] = coerce(nil, x, where .. "." .. tostring(k)) end
    end
    return out
  end
  if type(v) == "string" and kind ~= "rus" then return parse_int(v) or v end
  return v
end
M.coerce = coerce

-- Set args[path] = value for a dotted path ("InfoStruct.ShareInfo.Level1.EntriesRead");
-- numeric segments are array indexes.
local function deep_set(args, path, value)
  local segs = {}
  for seg in path:gmatch("[^.]+") do segs[#segs + 1] = math.tointeger(tonumber(seg)) or seg end
  if #segs == 0 or path:find("%.%.") or path:match("^%.") or path:match("%.$") then
    usage("bad argument name '" .. path .. "'")
  end
  local t = args
  for i = 1, #segs - 1 do
    local k = segs[i]
    if type(t[k]) ~= "table" then t[k] = {} end
    t = t[k]
  end
  t[segs[#segs]] = value
end

local function strip_null(v, json)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if x == json.null then v[k] = nil else strip_null(x, json) end
  end
  return v
end

-- A Lua table literal, data only: loaded as text in an empty environment,
-- with an instruction budget (a literal cannot loop, code could).
local function lua_table(text, what)
  local chunk, e = load("return " .. text, "=" .. what, "t", {})
  if not chunk then return nil, e end
  local co = coroutine.create(chunk)
  debug.sethook(co, function() error("too much work for a table literal", 0) end, "", 1000000)
  local ok, v = coroutine.resume(co)
  if not ok then return nil, tostring(v) end
  if type(v) ~= "table" then return nil, "a table expected" end
  return v
end
M.lua_table = lua_table

-- A table of arguments from text: JSON first, then a Lua table literal.
local function table_arg(text, what)
  local json = require "dcerpc.cli.json"
  local v, je = json.decode(text)
  if v ~= nil then
    if type(v) ~= "table" then usage(what .. ": a JSON object or Lua table expected") end
    return strip_null(v, json)
  end
  local lv, le = lua_table(text, what)
  if lv then return lv end
  usage(sfmt("%s: neither a JSON object (%s) nor a Lua table (%s)", what, je, le))
end
M.table_arg = table_arg

-- The [in] arguments of fn from the command line's NAME=VALUE pairs and tables.
local function build_args(fn, items, argsfile, stdin)
  local raw = {}
  local function merge(t)
    for k, v in pairs(t) do raw[k] = v end
  end
  if argsfile then
    local text = argsfile == "-" and stdin:read("a") or readfile(argsfile, "--args " .. argsfile)
    merge(table_arg(text, argsfile))
  end
  local pairs_ = {}
  for _, item in ipairs(items) do
    if item:match("^%s*{") then
      merge(table_arg(item, "argument"))
    else
      local k, v = item:match("^([%w_.]+)=(.*)$")
      if not k then usage(sfmt("argument '%s': NAME=VALUE or a {table} expected", item)) end
      pairs_[#pairs_ + 1] = { k, v }
    end
  end
  -- the tables first (typed as they come), then the pairs, coerced one path
  -- at a time so that each value is read by the type at its own path
  local args = {}
  for k, v in pairs(raw) do
    local p = fn.byname[k]
    args[k] = coerce(p and p.type, v, k)
  end
  for _, kv in ipairs(pairs_) do
    local path, text = kv[1], kv[2]
    local t = M.type_at(fn, path)
    deep_set(args, path, coerce(t, text, path))
  end
  for k in pairs(args) do
    local p = fn.byname[k]
    if not p or not p["in"] then
      local names = {}
      for _, q in ipairs(fn.params) do if q["in"] then names[#names + 1] = q.name end end
      usage(sfmt("%s has no [in] parameter '%s' (its [in] parameters: %s)", fn.name, k,
                 #names > 0 and concat(names, ", ") or "none"))
    end
  end
  return args
end

-- The type at a dotted path of fn's parameters, or nil when the path leaves
-- what the description says.
function M.type_at(fn, path)
  local segs = {}
  for seg in path:gmatch("[^.]+") do segs[#segs + 1] = seg end
  local p = fn.byname[segs[1]]
  local t = p and p.type
  for i = 2, #segs do
    t = deref(t)
    if not t then return nil end
    local s = segs[i]
    if t.kind == "struct" then
      local f = t.byname and t.byname[s]
      t = f and f.type
    elseif t.kind == "union" then
      local found
      for _, arm in ipairs(t.arms or {}) do if arm.name == s then found = arm.type end end
      if not found and s == t.switch_name then found = t.switch_type end
      t = found
    elseif t.kind == "array" and tonumber(s) then
      t = t.elem
    else
      return nil
    end
  end
  return t
end

-- Conveniences that make the common calls one-liners (and reproduce what
-- rpcclient sends): ServerName = \\HOST, NetrShareEnum's container, ept_lookup
-- from the start. Only what the user did not give is filled in.
local function defaults(fn, args, host)
  for _, p in ipairs(fn.params) do
    if p["in"] and args[p.name] == nil and (p.name == "ServerName" or p.name == "SystemName") and
       is_text(deref(p.type)) and host and host ~= "" then
      args[p.name] = "\\\\" .. host
    end
  end
  if fn.name == "NetrShareEnum" then
    args.InfoStruct = args.InfoStruct or {}
    local level = args.InfoStruct.Level or 1
    args.InfoStruct.Level = level
    args.InfoStruct.ShareInfo = args.InfoStruct.ShareInfo or { ["Level" .. level] = { EntriesRead = 0 } }
    if args.PreferedMaximumLength == nil then args.PreferedMaximumLength = 0xffffffff end
  elseif fn.name == "ept_lookup" then
    if args.inquiry_type == nil then args.inquiry_type = 0 end
    if args.vers_option == nil then args.vers_option = 1 end
    if args.entry_handle == nil then args.entry_handle = string.rep("\0", 20) end
    if args.max_ents == nil then args.max_ents = 100 end
  end
end

---------------------------------------------------------------- values out

local status_names                          -- dcerpc.status, if present
local function status_name(code, kind)
  if status_names == nil then
    local ok, s = pcall(require, "dcerpc.status")
    status_names = ok and s or false
  end
  return status_names and status_names.name(code, kind) or nil
end

local function status_kind(t)
  local s = t and (t.status or (t.name == "NTSTATUS" and "NTSTATUS") or (t.name == "WERROR" and "WERROR") or
                   (t.name == "HRESULT" and "HRESULT"))
  if s == "NTSTATUS" then return "ntstatus" elseif s == "WERROR" then return "werror"
  elseif s == "HRESULT" then return "hresult" end
  if t and t.name == "error_status_t" then return "werror" end
end

local function filetime_text(v)
  if math.type(v) ~= "integer" or v <= 0 or v >= 0x7fffffffffffffff then return nil end
  local secs = v // 10000000 - 11644473600
  if secs < 0 or secs > 253402300799 then return nil end
  return os.date("!%Y-%m-%d %H:%M:%S UTC", secs)
end

-- The readable form of a scalar of type t: text, or nil when v is not a scalar.
local function scalar_text(t, v)
  t = deref(t)
  local tv = type(v)
  if tv == "table" then return nil end
  if tv == "nil" then return "NULL" end
  if tv == "boolean" then return tostring(v) end
  if tv == "number" then
    if math.type(v) == "float" then return sfmt("%.17g", v) end
    local kind = t and t.kind == "prim" and status_kind(t)
    if kind then
      local name = status_name(v, kind)
      return sfmt("0x%08x%s", v & 0xffffffff, name and (" (" .. name .. ")") or "")
    end
    if t and t.kind == "prim" and t.names then
      for k, n in pairs(t.names) do if n == v then return sfmt("%s (%d)", k, v) end end
    end
    if t and t.kind == "prim" and prim_class(t) == "filetime" then
      local d = filetime_text(v)
      if d then return sfmt("%d (%s)", v, d) end
    end
    if v >= 10 then return sfmt("%d (0x%x)", v, v) end
    return sfmt("%d", v)
  end
  if tv == "string" then
    local binary = t and ((t.kind == "prim" and prim_class(t) == "handle") or is_bytes(t))
    if binary or not utf8.len(v) then
      return #v == 0 and "(0 bytes)" or hex(v)
    end
    return (require "dcerpc.cli.json").quote(v)
  end
  return tostring(v)
end

-- Print value v of type t as an indented tree into the lines list.
local function tree(t, v, name, depth, lines)
  local pad = string.rep("  ", depth)
  t = deref(t)
  local label = pad .. name .. ":"
  if type(v) ~= "table" then
    lines[#lines + 1] = label .. " " .. scalar_text(t, v)
    return
  end
  local kind = t and t.kind
  if next(v) == nil then
    lines[#lines + 1] = label .. ((kind == "array" or #v > 0) and " (empty)" or " (none)")
    return
  end
  if kind == "struct" and t.fields then
    lines[#lines + 1] = label
    local seen = {}
    for _, f in ipairs(t.fields) do
      seen[f.name] = true
      if v[f.name] ~= nil or deref(f.type) == nil or (f.type and f.type.kind == "ptr") then
        tree(f.type, v[f.name], f.name, depth + 1, lines)
      end
    end
    for k, x in pairs(v) do if not seen[k] then tree(nil, x, tostring(k), depth + 1, lines) end end
  elseif kind == "union" and t.arms then
    lines[#lines + 1] = label
    local seen = {}
    for _, a in ipairs(t.arms) do
      if a.name and v[a.name] ~= nil then seen[a.name] = true; tree(a.type, v[a.name], a.name, depth + 1, lines) end
    end
    local rest = {}
    for k in pairs(v) do if not seen[k] then rest[#rest + 1] = k end end
    table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(rest) do
      tree(k == t.switch_name and t.switch_type or nil, v[k], tostring(k), depth + 1, lines)
    end
  elseif kind == "array" or (not kind and #v > 0) then
    local elem = t and t.elem
    if #v == 0 then lines[#lines + 1] = label .. " (empty)"; return end
    lines[#lines + 1] = label .. sfmt(" (%d)", #v)
    for i = 1, #v do tree(elem, v[i], sfmt("[%d]", i), depth + 1, lines) end
  else
    lines[#lines + 1] = label
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do tree(nil, v[k], tostring(k), depth + 1, lines) end
  end
end
M.tree = tree

-- The JSON form of v (type t): binary as hex, objects in description order.
local function jsonable(t, v)
  local json = require "dcerpc.cli.json"
  t = deref(t)
  local tv = type(v)
  if tv == "string" then
    local binary = t and ((t.kind == "prim" and prim_class(t) == "handle") or is_bytes(t))
    if binary or not utf8.len(v) then return hex(v) end
    return v
  end
  if tv ~= "table" then return v end
  local kind = t and t.kind
  local out, order = {}, {}
  if kind == "struct" and t.fields then
    for _, f in ipairs(t.fields) do
      order[#order + 1] = f.name
      out[f.name] = jsonable(f.type, v[f.name])
    end
    for k, x in pairs(v) do if out[k] == nil then out[k] = jsonable(nil, x) end end
    return json.object(out, order)
  elseif kind == "union" and t.arms then
    for k, x in pairs(v) do
      local at
      for _, a in ipairs(t.arms) do if a.name == k then at = a.type end end
      out[k] = jsonable(at or (k == t.switch_name and t.switch_type) or nil, x)
    end
    return out
  elseif kind == "array" then
    for i = 1, #v do out[i] = jsonable(t.elem, v[i]) end
    return json.array(out)
  end
  for k, x in pairs(v) do out[k] = jsonable(nil, x) end
  if #v > 0 then json.array(out) end
  return out
end
M.jsonable = jsonable

-- The results of fn as printable lines, or a JSON-ready object.
local function results_tree(fn, out)
  local lines = {}
  for _, p in ipairs(fn.params) do
    if p.out then tree(p.type, out[p.name], p.name, 0, lines) end
  end
  if fn.returns then tree(fn.returns, out.result, "result", 0, lines) end
  return lines
end

local function results_json(fn, out)
  local json = require "dcerpc.cli.json"
  local t, order = {}, {}
  for _, p in ipairs(fn.params) do
    if p.out then order[#order + 1] = p.name; t[p.name] = jsonable(p.type, out[p.name]) end
  end
  if fn.returns then order[#order + 1] = "result"; t.result = out.result end
  return json.object(t, order)
end

---------------------------------------------------------------- subcommands

local SUB = {}

local function need(pos, n, what)
  if #pos < n then usage(what .. " expected") end
end

local function write_json(env, v)
  local json = require "dcerpc.cli.json"
  env.stdout:write(json.encode(v, { indent = 2 }), "\n")
end

-- dump HOST|BINDING
function SUB.dump(o, pos, env, cleanup)
  need(pos, 1, "HOST or BINDING")
  if #pos > 1 then usage("one HOST or BINDING expected") end
  local b = binding_of(pos[1], "ncacn_ip_tcp")
  local d = lib()
  local c = connect(b, "epm", o, env, cleanup)
  local NULL = string.rep("\0", 20)
  local NIL_UUID = "00000000-0000-0000-0000-000000000000"
  local handle, entries = NULL, {}
  for _ = 1, 10000 do                                  -- a bound on a server that never says "done"
    local r, e = c:ept_lookup { inquiry_type = 0, vers_option = 1, entry_handle = handle, max_ents = 100 }
    if not r then call_fail(c, "ept_lookup", e) end
    -- Samba returns its last batch together with EPT_S_NOT_REGISTERED: keep it
    for _, ent in ipairs(r.entries or {}) do
      local tw = ent.tower and d.core.tower_decode(ent.tower.tower_octet_string)
      if tw then
        local bind = d.core.tower_to_binding(tw, { abstract_syntax = false }) or "?"
        local object = ent.object ~= NIL_UUID and ent.object or nil
        entries[#entries + 1] = {
          interface = tw.interface.uuid, version = tw.interface.major .. "." .. tw.interface.minor,
          binding = bind, object = object, annotation = ent.annotation or "",
        }
      end
    end
    handle = r.entry_handle
    if r.status ~= 0 or handle == NULL then break end
  end
  if o.json then
    local json = require "dcerpc.cli.json"
    for i, x in ipairs(entries) do
      entries[i] = json.object(x, { "interface", "version", "binding", "object", "annotation" })
    end
    write_json(env, json.array(entries))
  else
    for _, x in ipairs(entries) do
      env.stdout:write(sfmt("%s v%s  %s%s  %s\n", x.interface, x.version,
                            x.object and (x.object .. "@") or "", x.binding, x.annotation))
    end
  end
  return EXIT.ok
end

-- call BINDING IFACE FUNCTION [ARGS...]
function SUB.call(o, pos, env, cleanup)
  need(pos, 3, "BINDING IFACE FUNCTION")
  local b, pb = binding_of(pos[1], "ncacn_np")
  local iface = interface_of(pos[2], o.include)
  local fname = pos[3]
  local fn = iface.functions[fname] or iface.functions[math.tointeger(tonumber(fname)) or false]
  if not fn then
    local names = {}
    for k, f in pairs(iface.functions) do
      if type(k) == "string" and type(f) == "table" and f.opnum then names[#names + 1] = k end
    end
    table.sort(names)
    usage(sfmt("interface %s has no function '%s' (it has: %s)", iface.name, fname, concat(names, ", ")))
  end
  local items = {}
  for i = 4, #pos do items[#items + 1] = pos[i] end
  local args = build_args(fn, items, o.args, env.stdin)
  defaults(fn, args, pb.host)
  local c = connect(b, iface, o, env, cleanup)
  local ok, r, e, partial = pcall(c.call, c, fn, args)
  if not ok then
    -- misuse of the description (a missing or mistyped argument) raises
    usage(sfmt("%s: %s", fn.name, tostring(r):gsub("^[^:]*:%d+: ", "")))
  end
  local out = r or partial
  if out then
    if o.json then write_json(env, results_json(fn, out))
    else env.stdout:write(concat(results_tree(fn, out), "\n"), "\n") end
  end
  if not r then call_fail(c, fn.name, e) end
  return EXIT.ok
end

-- rpcclient's names for the server type bits (source3/rpcclient/cmd_srvsvc.c),
-- in bit order; the last two are rpcclient's labels as printed (swapped there).
local SV_TYPES = {
  { 0x00000001, "Wk" }, { 0x00000002, "Sv" }, { 0x00000004, "Sql" }, { 0x00000008, "PDC" },
  { 0x00000010, "BDC" }, { 0x00000020, "Tim" }, { 0x00000040, "AFP" }, { 0x00000080, "Nov" },
  { 0x00000100, "Dom" }, { 0x00000200, "PrQ" }, { 0x00000400, "Din" }, { 0x00000800, "Unx" },
  { 0x00001000, "NT" }, { 0x00002000, "Wfw" }, { 0x00004000, "Mfp" }, { 0x00008000, "SNT" },
  { 0x00010000, "PtB" }, { 0x00020000, "BMB" }, { 0x00040000, "LMB" }, { 0x00080000, "DMB" },
  { 0x00100000, "OSF" }, { 0x00200000, "VMS" }, { 0x00400000, "W95" }, { 0x20000000, "Xpt" },
  { 0x40000000, "Dom" }, { 0x80000000, "Loc" },
}
function M.server_type_text(v)
  if v == 0xffffffff then return "All" end
  local t = {}
  for _, s in ipairs(SV_TYPES) do if v & s[1] ~= 0 then t[#t + 1] = s[2] end end
  return concat(t, " ")
end

local function level_arg(s, allowed, default)
  if s == nil then return default end
  local n = math.tointeger(tonumber(s))
  if not n or not allowed[n] then usage("unsupported info level " .. tostring(s)) end
  return n
end

-- srvinfo BINDING [LEVEL]
function SUB.srvinfo(o, pos, env, cleanup)
  need(pos, 1, "BINDING")
  local b, pb = binding_of(pos[1], "ncacn_np")
  local level = level_arg(pos[2], { [100] = true, [101] = true, [102] = true }, 101)
  local c = connect(b, "srvsvc", o, env, cleanup)
  local r, e = c:NetrServerGetInfo { ServerName = "\\\\" .. (pb.host or ""), Level = level }
  if not r then call_fail(c, "NetrServerGetInfo", e) end
  local i = r.InfoStruct["ServerInfo" .. level]
  if o.json then
    local fn = c.iface.functions.NetrServerGetInfo
    write_json(env, jsonable(fn.byname.InfoStruct.type, r.InfoStruct)["ServerInfo" .. level])
    return EXIT.ok
  end
  local w = function(...) env.stdout:write(sfmt(...)) end
  local p = level == 100 and "sv100_" or level == 101 and "sv101_" or "sv102_"
  if level == 100 then
    w("\t%-15.15s\n", i.sv100_name or "")
    w("\tplatform_id     :\t%d\n", i.sv100_platform_id)
    return EXIT.ok
  end
  w("\t%-15.15s%-20s %s\n", i[p .. "name"] or "", M.server_type_text(i[p .. "type"]), i[p .. "comment"] or "")
  w("\tplatform_id     :\t%d\n", i[p .. "platform_id"])
  w("\tos version      :\t%d.%d\n", i[p .. "version_major"], i[p .. "version_minor"])
  if level == 101 then
    w("\tserver type     :\t0x%x\n", i.sv101_type)
  else
    w("\tusers           :\t%x\n", i.sv102_users)
    w("\tdisc, hidden    :\t%x, %x\n", i.sv102_disc, i.sv102_hidden)
    w("\tannounce, delta :\t%d, %d\n", i.sv102_announce, i.sv102_anndelta)
    w("\tlicenses        :\t%d\n", i.sv102_licenses)
    w("\tuser path       :\t%s\n", i.sv102_userpath or "")
  end
  return EXIT.ok
end

-- shares BINDING [LEVEL]
function SUB.shares(o, pos, env, cleanup)
  need(pos, 1, "BINDING")
  local b, pb = binding_of(pos[1], "ncacn_np")
  local level = level_arg(pos[2], { [0] = true, [1] = true, [2] = true }, 2)
  local c = connect(b, "srvsvc", o, env, cleanup)
  local arm = "Level" .. level
  local all, resume = {}, nil
  for _ = 1, 100000 do
    local r, e = c:NetrShareEnum {
      ServerName = "\\\\" .. (pb.host or ""),
      InfoStruct = { Level = level, ShareInfo = { [arm] = { EntriesRead = 0 } } },
      PreferedMaximumLength = 0xffffffff, ResumeHandle = resume,
    }
    if not r then call_fail(c, "NetrShareEnum", e) end
    local got = r.InfoStruct.ShareInfo[arm] and r.InfoStruct.ShareInfo[arm].Buffer or {}
    for _, s in ipairs(got) do all[#all + 1] = s end
    -- ERROR_MORE_DATA: another page from the resume handle
    if r.result ~= 234 or #got == 0 or not r.ResumeHandle then break end
    resume = r.ResumeHandle
  end
  if o.json then
    local fn = c.iface.functions.NetrShareEnum
    local t = fn.byname.InfoStruct.type
    local list = jsonable(t, { Level = level, ShareInfo = { [arm] = { EntriesRead = #all, Buffer = all } } })
    write_json(env, list.ShareInfo[arm].Buffer or (require "dcerpc.cli.json").array({}))
    return EXIT.ok
  end
  local w = function(...) env.stdout:write(sfmt(...)) end
  for _, s in ipairs(all) do
    if level == 0 then
      w("netname: %s\n", s.shi0_netname or "")
    elseif level == 1 then
      w("netname: %s\n\tremark:\t%s\n", s.shi1_netname or "", s.shi1_remark or "")
    else
      w("netname: %s\n\tremark:\t%s\n\tpath:\t%s\n\tpassword:\t%s\n", s.shi2_netname or "",
        s.shi2_remark or "", s.shi2_path or "", s.shi2_passwd or "")
    end
  end
  return EXIT.ok
end
SUB.netshareenumall = SUB.shares

-- users BINDING
function SUB.users(o, pos, env, cleanup)
  need(pos, 1, "BINDING")
  if #pos > 1 then usage("one BINDING expected") end
  local b, pb = binding_of(pos[1], "ncacn_np")
  local c = connect(b, "samr", o, env, cleanup)
  local MAXIMUM_ALLOWED, STATUS_MORE_ENTRIES = 0x02000000, 0x105
  local handles = {}
  cleanup[#cleanup + 1] = function()
    for i = #handles, 1, -1 do pcall(c.SamrCloseHandle, c, { SamHandle = handles[i] }) end
  end
  local function call(name, args)
    local r, e = c[name](c, args)
    if not r then call_fail(c, name, e) end
    return r
  end
  local function enumerate(name, args)
    local all = {}
    args.EnumerationContext, args.PreferedMaximumLength = 0, 0x10000
    for _ = 1, 100000 do
      local r = call(name, args)
      for _, x in ipairs(r.Buffer and r.Buffer.Buffer or {}) do all[#all + 1] = x end
      args.EnumerationContext = r.EnumerationContext
      if r.result ~= STATUS_MORE_ENTRIES then break end
    end
    return all
  end
  local server = call("SamrConnect5", {
    ServerName = "\\\\" .. (pb.host or ""), DesiredAccess = MAXIMUM_ALLOWED,
    InVersion = 1, InRevisionInfo = { V1 = { Revision = 3, SupportedFeatures = 0 } },
  }).ServerHandle
  handles[#handles + 1] = server
  local users = {}
  for _, d in ipairs(enumerate("SamrEnumerateDomainsInSamServer", { ServerHandle = server })) do
    if d.Name:lower() ~= "builtin" then
      local sid = call("SamrLookupDomainInSamServer", { ServerHandle = server, Name = d.Name }).DomainId
      local dh = call("SamrOpenDomain", { ServerHandle = server, DesiredAccess = MAXIMUM_ALLOWED,
                                          DomainId = sid }).DomainHandle
      handles[#handles + 1] = dh
      -- ACB_NORMAL: user accounts, not machine or trust accounts (rpcclient's default)
      for _, u in ipairs(enumerate("SamrEnumerateUsersInDomain", { DomainHandle = dh, UserAccountControl = 0x10 })) do
        users[#users + 1] = { domain = d.Name, name = u.Name or "", rid = u.RelativeId }
      end
      call("SamrCloseHandle", { SamHandle = dh })
      handles[#handles] = nil
    end
  end
  if o.json then
    local json = require "dcerpc.cli.json"
    for i, u in ipairs(users) do users[i] = json.object(u, { "name", "rid", "domain" }) end
    write_json(env, json.array(users))
  else
    for _, u in ipairs(users) do env.stdout:write(sfmt("user:[%s] rid:[0x%x]\n", u.name, u.rid)) end
  end
  return EXIT.ok
end
SUB.enumdomusers = SUB.users

-- The signature of fn in IDL-like text.
local function type_name(t)
  if not t then return "?" end
  if t.kind == "ptr" then return (t.ptype or "ptr") .. " " .. type_name(t.target) end
  if t.kind == "array" then
    if t.text or t.string then return t.name or "string" end
    local dims = {}
    for _, a in ipairs { "size_is", "length_is", "first_is", "max_is" } do
      if t[a] ~= nil then dims[#dims + 1] = a .. "(" .. tostring(type(t[a]) == "table" and concat(t[a], ",") or t[a]) .. ")" end
    end
    if t.length then dims[#dims + 1] = tostring(t.length) end
    return type_name(t.elem) .. "[" .. concat(dims, ", ") .. "]"
  end
  return t.name or t.kind
end

local function signature(fn)
  local ps = {}
  for _, p in ipairs(fn.params) do
    local dir = (p["in"] and p.out) and "in,out" or (p["in"] and "in" or "out")
    ps[#ps + 1] = sfmt("[%s] %s %s", dir, type_name(p.type), p.name)
  end
  return sfmt("%s %s(%s)", fn.returns and type_name(fn.returns) or "void", fn.name, concat(ps, ", "))
end

local function functions_of(iface)
  local fns = {}
  for k, f in pairs(iface.functions) do
    if math.type(k) == "integer" then fns[#fns + 1] = f end
  end
  table.sort(fns, function(a, b) return a.opnum < b.opnum end)
  return fns
end

local function describe_type(t)
  if t.kind == "struct" then
    local fs = {}
    for _, f in ipairs(t.fields or {}) do fs[#fs + 1] = type_name(f.type) .. " " .. f.name end
    return "struct { " .. concat(fs, "; ") .. " }"
  elseif t.kind == "union" then
    local as = {}
    for _, a in ipairs(t.arms or {}) do
      as[#as + 1] = sfmt("[%s] %s", a.default and "default" or tostring(a.case),
                         a.name and (type_name(a.type) .. " " .. a.name) or "(empty)")
    end
    return (t.encapsulated and "encapsulated " or "") .. "union { " .. concat(as, "; ") .. " }"
  elseif t.kind == "prim" and t.names then
    local ns = {}
    for k, v in pairs(t.names) do ns[#ns + 1] = { k, v } end
    table.sort(ns, function(a, b) return a[2] < b[2] end)
    for i, n in ipairs(ns) do ns[i] = n[1] .. " = " .. n[2] end
    return t.name .. " { " .. concat(ns, ", ") .. " }"
  end
  return type_name(t)
end

-- idl FILE
function SUB.idl(o, pos, env)
  need(pos, 1, "FILE")
  if #pos > 1 then usage("one FILE expected") end
  local iface = load_idl(pos[1], o.include)
  local ndr = lib().ndr
  local fns = functions_of(iface)
  if o["function"] then
    local f = iface.functions[o["function"]] or iface.functions[math.tointeger(tonumber(o["function"])) or false]
    if not f then usage(sfmt("%s has no function '%s'", iface.name, o["function"])) end
    fns = { f }
  end
  if o.json then
    local json = require "dcerpc.cli.json"
    local fl = {}
    for _, f in ipairs(fns) do
      local ps = {}
      for _, p in ipairs(f.params) do
        ps[#ps + 1] = json.object({ name = p.name, type = type_name(p.type), ["in"] = p["in"] or false,
                                    out = p.out or false }, { "name", "type", "in", "out" })
      end
      fl[#fl + 1] = json.object({ opnum = f.opnum, name = f.name, params = json.array(ps),
                                  returns = f.returns and type_name(f.returns) or nil },
                                { "opnum", "name", "params", "returns" })
    end
    local types = {}
    for k, t in pairs(iface.types or {}) do
      if type(k) == "string" and type(t) == "table" then types[k] = describe_type(t) end
    end
    write_json(env, json.object({ name = iface.name, uuid = iface.uuid, version = iface.version,
                                  functions = json.array(fl), types = types, constants = iface.constants },
                                { "name", "uuid", "version", "functions", "types", "constants" }))
    return EXIT.ok
  end
  local w = function(...) env.stdout:write(sfmt(...)) end
  w("interface %s\n  uuid %s\n  version %s\n", iface.name, iface.uuid, iface.version)
  if iface.pointer_default then w("  pointer_default %s\n", tostring(iface.pointer_default)) end
  w("\nfunctions (%d):\n", #fns)
  for _, f in ipairs(fns) do w("  %3d  %s\n", f.opnum, signature(f)) end
  if not o["function"] then
    local tnames = {}
    for k, t in pairs(iface.types or {}) do if type(k) == "string" and type(t) == "table" then tnames[#tnames + 1] = k end end
    table.sort(tnames)
    if #tnames > 0 then
      w("\ntypes (%d):\n", #tnames)
      for _, k in ipairs(tnames) do w("  %s: %s\n", k, describe_type(iface.types[k])) end
    end
    local cnames = {}
    for k, v in pairs(iface.constants or {}) do if type(v) ~= "table" then cnames[#cnames + 1] = k end end
    table.sort(cnames)
    if #cnames > 0 then
      w("\nconstants (%d):\n", #cnames)
      for _, k in ipairs(cnames) do
        local v = iface.constants[k]
        w("  %s = %s\n", k, math.type(v) == "integer" and (v >= 10 and sfmt("%d (0x%x)", v, v) or tostring(v)) or
                            (require "dcerpc.cli.json").quote(tostring(v)))
      end
    end
  end
  if not o["no-program"] then
    for _, f in ipairs(fns) do
      local ok, text = pcall(ndr.disasm, f)
      w("\n%s\n", ok and text:gsub("\n$", "") or ("; " .. f.name .. ": does not compile: " .. tostring(text)))
    end
  end
  return EXIT.ok
end

-- Run a Lua file (handlers or a serve script) with args...; its results.
local function run_file(path, ...)
  local chunk, e = loadfile(path, "t")
  if not chunk then fail(EXIT.usage, tostring(e)) end
  local res = table.pack(pcall(chunk, ...))
  if not res[1] then fail(EXIT.usage, sfmt("%s: %s", path, tostring(res[2]))) end
  return table.unpack(res, 2, res.n)
end

-- serve SCRIPT.lua | FILE.idl
function SUB.serve(o, pos, env, cleanup)
  need(pos, 1, "SCRIPT.lua or FILE.idl")
  if #pos > 1 then usage("one SCRIPT.lua or FILE.idl expected") end
  local d = lib()
  local users
  for _, u in ipairs(o.user or {}) do
    local name, pw = u:match("^([^:%%]+)[:%%](.*)$")
    if not name then usage("--user: NAME:PASSWORD expected") end
    users = users or {}
    users[name] = pw
  end
  local listen = o.listen or { "ncacn_ip_tcp:127.0.0.1[0]" }
  local sopts = {
    listen = listen, epmapper = o.epm or nil,
    auth = users and { users = users, domain = o.domain or "WORKGROUP", computer = "DCERPC" } or nil,
  }
  local hook = tracer(o, env, cleanup, true)
  if hook then sopts.trace = hook end
  local path = pos[1]
  local regs = {}
  local script_fn
  if path:match("%.idl$") then
    local iface = load_idl(path, o.include)
    local handlers = {}
    if o.handlers then
      handlers = run_file(o.handlers, iface)
      if type(handlers) ~= "table" then usage(o.handlers .. ": must return a table of handlers") end
    end
    regs[1] = { interface = iface, handlers = handlers }
  else
    if o.handlers then usage("--handlers goes with an .idl file; a script returns its handlers") end
    local chunk, e = loadfile(path, "t")
    if not chunk then fail(EXIT.usage, tostring(e)) end
    script_fn = chunk
  end
  local srv, e = d.server(sopts)
  if not srv then fail(EXIT.connection, "cannot listen: " .. describe(e)) end
  cleanup[#cleanup + 1] = function() srv:close() end
  if script_fn then
    local res = table.pack(pcall(script_fn, srv, d))
    if not res[1] then fail(EXIT.usage, sfmt("%s: %s", path, tostring(res[2]))) end
    local r = res[2]
    if type(r) == "table" and r.interface then regs = { r }
    elseif type(r) == "table" then regs = r
    elseif r ~= nil then usage(path .. ": must return { interface =, handlers = }, a list of them, or nothing") end
  end
  for i, reg in ipairs(regs) do
    if type(reg) ~= "table" or reg.interface == nil then usage(sfmt("%s: entry %d has no interface", path, i)) end
    local iface = reg.interface
    if type(iface) == "string" then iface = interface_of(iface, o.include) end
    local handlers = reg.handlers or {}
    local ok, re = pcall(srv.register, srv, iface, handlers,
                         (reg.min_level or reg.annotation) and { min_level = reg.min_level, annotation = reg.annotation } or nil)
    if not ok then fail(EXIT.usage, tostring(re):gsub("^[^:]*:%d+: ", "")) end
  end
  if #srv.ifaces == 0 then usage(path .. ": registered no interface") end
  for _, ep in ipairs(srv.endpoints) do env.stdout:write("listening on ", ep, "\n") end
  env.stdout:flush()
  -- Ctrl-C (the interpreter's "interrupted!") is how a served interface ends
  local ok, e = pcall(srv.run, srv)
  if not ok and not tostring(e):find("interrupted!", 1, true) then error(e, 0) end
  return EXIT.ok
end

function SUB.help(o, pos, env)
  local sub = pos[1]
  if sub and not HELP[sub] then usage("no subcommand '" .. sub .. "'") end
  env.stdout:write(HELP[sub or "main"])
  return EXIT.ok
end

---------------------------------------------------------------- main

-- The terminal prompt for a password, without echo (stty on standard input).
local function prompt(env)
  return function(text)
    env.stderr:write(text)
    env.stderr:flush()
    os.execute("stty -echo 2>/dev/null")
    local ok, line = pcall(env.stdin.read, env.stdin, "l")
    os.execute("stty echo 2>/dev/null")
    env.stderr:write("\n")
    if not ok or line == nil then fail(EXIT.usage, "no password read") end
    return line
  end
end

local function default_env(env)
  env = env or {}
  local e = {
    stdout = env.stdout or io.stdout, stderr = env.stderr or io.stderr, stdin = env.stdin or io.stdin,
    getenv = env.getenv or os.getenv,
    isatty = env.isatty or function() return os.execute("test -t 0") == true end,
  }
  e.prompt = env.prompt or prompt(e)
  return e
end

-- main(argv [, env]) -> exit code. argv holds the arguments after the
-- program name; env overrides stdout, stderr, stdin, getenv, isatty, prompt.
function M.main(argv, env)
  env = default_env(env)
  current_sub = nil
  local sub = argv[1]
  if sub == nil or sub == "-h" or sub == "--help" then
    env[sub and "stdout" or "stderr"]:write(HELP.main)
    return sub and EXIT.ok or EXIT.usage
  end
  if sub == "--version" then
    local ok, d = pcall(lib)                   -- loads dcerpc.core: a check of the installation
    if not ok then
      env.stderr:write("dcerpc: cannot load the dcerpc module: ", tostring(d), "\n")
      return EXIT.internal
    end
    env.stdout:write(d._VERSION, "\n")
    return EXIT.ok
  end
  local cleanup = {}
  local ok, code = xpcall(function()
    if not SUB[sub] then
      current_sub = nil
      usage("no subcommand '" .. sub .. "'")
    end
    current_sub = sub
    local o, pos = parse(argv, 2, OPTS[sub])
    if o.help then
      env.stdout:write(HELP[sub])
      return EXIT.ok
    end
    return SUB[sub](o, pos, env, cleanup)
  end, function(e)
    if getmetatable(e) == Fail then return e end
    if e == "interrupted!" then return setmetatable({ exit = EXIT.interrupted, message = "interrupted" }, Fail) end
    return debug.traceback(tostring(e), 2)
  end)
  for i = #cleanup, 1, -1 do pcall(cleanup[i]) end
  if ok then return code or EXIT.ok end
  if getmetatable(code) == Fail then
    env.stderr:write("dcerpc", current_sub and (" " .. current_sub) or "", ": ", code.message, "\n")
    if code.hint then env.stderr:write("  (", code.hint, ")\n") end
    return code.exit
  end
  env.stderr:write("dcerpc: internal error: ", tostring(code), "\n")
  return EXIT.internal
end

M.HELP = HELP
return M
