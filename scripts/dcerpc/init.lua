-- dcerpc: the public Lua API of lua-dcerpc.
--
--   local dcerpc = require "dcerpc"
--   local srvsvc = dcerpc.interface "srvsvc"
--   local c = assert(dcerpc.connect("ncacn_ip_tcp:127.0.0.1", srvsvc))
--   local r = assert(c:NetrServerGetInfo{ ServerName = "\\\\127.0.0.1", Level = 101 })
--
-- Errors are values: expected failures (network, fault, bad reply, an error
-- status returned by the call) give `nil, err` where err has `code`, `name`,
-- `message` and, for failed calls, `executed` ("no": safe to retry; "maybe":
-- the request went out, no answer; "yes": it ran and returned an error
-- status, then the results come third). Only misuse of the API raises.
-- Every function, option and field: docs/client.md.

local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"
local options = require "dcerpc.opts"
local trace = require "dcerpc.trace"
local okstatus, status = pcall(require, "dcerpc.status")
if not okstatus then status = nil end

local M = {
  core = core,
  ndr = ndr,
  status = status,
  trace = trace,
  _VERSION = "lua-dcerpc " .. core.version,
}

-- Transfer syntaxes.
M.NDR20 = { uuid = "8a885d04-1ceb-11c9-9fe8-08002b104860", major = 2, minor = 0 }
M.NDR64 = { uuid = "71710533-beba-4937-8319-b5dbef9ccc36", major = 1, minor = 0 }

local EPM_PORT = 135
local EPT_S_NOT_REGISTERED = 0x16c9a0d6
local RPC_S_PROTSEQ_NOT_SUPPORTED = 1703
local RPC_S_UNKNOWN_IF = 1717
local RPC_S_INVALID_BINDING = 1702
local RPC_X_BAD_STUB_DATA = 0x6f7
local NULL_HANDLE = string.rep("\0", 20)
local NIL_UUID = "00000000-0000-0000-0000-000000000000"

local function err(code, name, message, executed)
  return core.error(code, name, message, executed)
end

-- The interfaces installed: every dcerpc/iface/*.lua reachable through
-- package.path, sorted, without duplicates. Lua cannot list a directory:
-- LuaFileSystem when it is there, else ls.
local function shipped_interfaces()
  local names, seen = {}, {}
  local okl, lfs = pcall(require, "lfs")
  for template in package.path:gmatch("[^;]+") do
    if template:find("?.lua", 1, true) and not template:find("init.lua", 1, true) then
      local dir = template:gsub("%?%.lua$", "dcerpc/iface")
      local files = {}
      if okl and lfs.attributes(dir, "mode") == "directory" then
        for f in lfs.dir(dir) do files[#files + 1] = f end
      elseif not okl and io.popen then
        local p = io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
        if p then
          for f in p:lines() do files[#files + 1] = f end
          p:close()
        end
      end
      for _, f in ipairs(files) do
        local n = f:match("^([%w_]+)%.lua$")
        if n and not seen[n] then seen[n] = true; names[#names + 1] = n end
      end
    end
  end
  table.sort(names)
  return names
end
M.shipped_interfaces = shipped_interfaces

-- dcerpc.interface "srvsvc" -> the interface description shipped in
-- scripts/dcerpc/iface/ (or a description table passed through unchanged).
-- An unknown name raises one error that lists what is installed and says
-- how to describe the interface; an error inside an installed file is
-- raised as it is.
function M.interface(name)
  if type(name) == "table" then return name end
  if type(name) == "string" and name:match("%.[Ii][Dd][Ll]$") then
    local iface, e = M.idl.load(name)               -- a MIDL file (docs/idl.md)
    if not iface then error(tostring(e), 2) end
    return iface
  end
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    error("dcerpc.interface: interface name (letters, digits, _) or description table expected, got " ..
          (type(name) == "string" and string.format("%q", name) or type(name)), 2)
  end
  local mod = "dcerpc.iface." .. name
  if not (package.loaded[mod] or package.preload[mod] or package.searchpath(mod, package.path)
          or package.searchpath(mod, package.cpath)) then
    local list = shipped_interfaces()
    error(string.format("dcerpc.interface: no interface named %q is installed (%s).\n" ..
      "Describe it in Lua (docs/ndr-dsl.md) and pass the table, or load its MIDL file " ..
      "with dcerpc.idl.load(path) (docs/idl.md).", name,
      #list > 0 and "installed: " .. table.concat(list, ", ") or "none found on package.path"), 2)
  end
  -- one value: require's second (the file name) would land in the options
  -- of dcerpc.connect(b, dcerpc.interface "srvsvc")
  return (require(mod))
end

-- dcerpc.binding(str) -> parsed string binding | nil, err
function M.binding(str)
  assert(type(str) == "string", "string binding expected")
  return core.binding_parse(str)
end

local function syntax_of(iface)
  return { uuid = iface.uuid, major = iface.major, minor = iface.minor }
end

---------------------------------------------------------------- endpoint map

-- ncalrpc endpoints are Unix sockets named in a directory: Samba's by
-- default, so "ncalrpc:[EPMAPPER]" reaches a local Samba; DCERPC_NCALRPC_DIR
-- or opts.ncalrpc_dir choose another. An endpoint with a "/" is a path.
M.ncalrpc_dir = os.getenv("DCERPC_NCALRPC_DIR") or "/run/samba/ncalrpc"

function M.ncalrpc_path(endpoint, dir)
  if endpoint:find("/", 1, true) then return endpoint end
  return (dir or M.ncalrpc_dir) .. "/" .. endpoint
end

-- Open a transport connection for protseq to host/endpoint.
local function open(protseq, host, endpoint, opts)
  local copts = { timeout = opts.connect_timeout, call_timeout = opts.timeout, max_response = opts.max_response }
  if protseq == "ncalrpc" then
    return core.connect_unix(M.ncalrpc_path(endpoint, opts.ncalrpc_dir), copts)
  end
  return core.connect_tcp(host, tonumber(endpoint) or endpoint, copts)
end

-- Ask the endpoint mapper (host:135, or the EPMAPPER socket for ncalrpc)
-- for the endpoint of `iface` over protseq. Returns the endpoint (string) or nil, err.
local function ept_map(host, iface, opts, protseq)
  local epm = M.interface "epm"
  protseq = protseq or "ncacn_ip_tcp"
  local conn, e
  if protseq == "ncacn_np" then
    conn, e = opts.open_np(host, "epmapper")                -- \pipe\epmapper on the same kind of session
  else
    conn, e = open(protseq, host, protseq == "ncalrpc" and "EPMAPPER" or (opts.epm_port or EPM_PORT),
                   { connect_timeout = opts.connect_timeout, timeout = opts.timeout, ncalrpc_dir = opts.ncalrpc_dir })
  end
  -- the endpoint mapper is a stage of its own: say so in its errors
  local function staged(x)
    if type(x) == "table" and type(x.message) == "string" then
      x.message = "asking the endpoint mapper for the " .. iface.name .. " endpoint: " .. x.message
    end
    return nil, x
  end
  if not conn then return staged(e) end
  trace.attach(conn, { hook = opts.trace, iface = epm, binding = protseq == "ncacn_np" and
    string.format("ncacn_np:%s[\\pipe\\epmapper]", host) or protseq == "ncalrpc" and "ncalrpc:[EPMAPPER]" or
    string.format("ncacn_ip_tcp:%s[%s]", host, opts.epm_port or EPM_PORT) })
  local ack
  ack, e = conn:bind({ { abstract = syntax_of(epm), transfer = { M.NDR20 } } },
                     { timeout = opts.timeout })
  if not ack then conn:close(); return staged(e) end
  local tower = core.tower_encode(protseq ~= "ncacn_ip_tcp" and {
    interface = syntax_of(iface), syntax = M.NDR20, protseq = protseq, endpoint = "",
    host = protseq == "ncacn_np" and "" or nil,
  } or {
    interface = syntax_of(iface), syntax = M.NDR20,
    protseq = "ncacn_ip_tcp", endpoint = "0", host = "0.0.0.0",
  })
  local fn = epm.functions.ept_map
  local stub = ndr.encode_call(fn, "in", {
    obj = opts.object,
    map_tower = { tower_length = #tower, tower_octet_string = tower },
    entry_handle = NULL_HANDLE,
    max_towers = 4,
  })
  local resp, drep = conn:call(0, fn.opnum, stub, { timeout = opts.timeout }, "epm.ept_map")
  conn:close()
  if not resp then return staged(drep) end
  local out, de = ndr.decode_call(fn, "out", resp, { drep = drep })
  if not out then return staged(de) end
  local where = protseq == "ncalrpc" and "this host" or host
  if out.status ~= 0 then
    return nil, err(out.status, nil, "endpoint mapper: " .. iface.name .. " " ..
                    iface.uuid .. " v" .. iface.version .. " is not registered on " .. where, "no")
  end
  for _, t in ipairs(out.ITowers or {}) do
    local dt = t and core.tower_decode(t.tower_octet_string)
    if dt and dt.protseq == protseq and dt.endpoint and dt.endpoint ~= "" then
      return dt.endpoint
    end
  end
  return nil, err(EPT_S_NOT_REGISTERED, nil, "endpoint mapper on " .. where ..
                  " has no " .. protseq .. " endpoint for " .. iface.name, "no")
end

---------------------------------------------------------------- options
-- Every option an entry point reads; an unknown key raises (dcerpc.opts).
-- A credential typo must not give an anonymous connection.

-- the security settings: options of dcerpc.connect and c:authenticate, and
-- fields of an opts.auth table (which adds `type`)
local AUTH_FIELDS = { "auth", "user", "domain", "password", "nt_hash", "workstation", "level",
                      "ntlmv1", "auth_context_id", "ccache", "keytab", "target", "kerberos" }
local AUTH_TABLE = options.keys(AUTH_FIELDS, { "type" })
local AUTHENTICATE = options.keys(AUTH_FIELDS)
-- per call: c:call, c:send and the methods (c:NetrShareEnum(args, opts))
local CALL_FIELDS = { "timeout", "object", "auth_context_id", "max_response", "strict" }
local CALL = options.keys(CALL_FIELDS)
local CONNECT = options.keys(AUTH_FIELDS, CALL_FIELDS, {
  "connect_timeout", "max_xmit", "max_recv", "conc_mpx", "drep", "assoc_group",
  "feature_negotiation", "epm_port", "ncalrpc_dir",
  "smb", "smb_port", "smb_signing", "smb_encrypt", "smb_ciphers", "smb_min_dialect", "smb_max_dialect",
  "smb_auth", "nbss_name", "trace",
})
M.option_keys = { connect = CONNECT, authenticate = AUTHENTICATE, auth = AUTH_TABLE, call = CALL }

-- opts of dcerpc.connect or c:authenticate, and its auth table if any;
-- level 3: the caller of the entry point that calls this.
local function check_opts(opts, valid, what)
  options.check(opts, valid, what, 3)
  if opts and type(opts.auth) == "table" then options.check(opts.auth, AUTH_TABLE, what, 3, " (auth table)") end
end

---------------------------------------------------------------- client

local Client = {}
Client.__index = Client

-- A class per interface: its functions become methods (c:NetrShareEnum{...}).
local classes = setmetatable({}, { __mode = "k" })
local function class_of(iface)
  local cls = classes[iface]
  if cls then return cls end
  cls = setmetatable({}, { __index = Client })
  cls.__index = cls
  cls.__close = Client.close
  cls.__gc = nil
  -- how messages name a call: "srvsvc.NetrShareEnum"
  cls.label_of = setmetatable({}, { __mode = "k", __index = function(t, fn)
    local l = tostring(iface.name) .. "." .. tostring(fn.name)
    t[fn] = l
    return l
  end })
  -- every name the functions table knows becomes a method, aliases included
  -- (mgmt's rpc__mgmt_inq_if_ids is also inq_if_ids)
  for key, fn in pairs(iface.functions) do
    if type(key) == "string" and type(fn) == "table" and fn.opnum and not Client[key] then
      cls[key] = function(self, args, opts) return self:call(fn, args, opts) end
    end
  end
  classes[iface] = cls
  return cls
end

-- Is `code`, returned by a function whose return type is `t`, an error?
local function status_kind(t)
  if t == ndr.NTSTATUS then return "ntstatus"
  elseif t == ndr.WERROR then return "werror"
  elseif t == ndr.HRESULT then return "hresult" end
end

local function status_error(kind, code, fname)
  local name = status and status.name(code, kind)
  return err(code, name, fname .. " returned " .. (name or string.format("0x%08x", code)), "yes")
end

local function is_error(kind, code)
  if status and status.is_error then return status.is_error(code, kind) end
  if kind == "ntstatus" then return (code & 0xC0000000) == 0xC0000000
  elseif kind == "werror" then return code ~= 0 and code ~= 234
  else return (code & 0x80000000) ~= 0 end
end

-- Decode the reply stub of `fn` (or pass a transport failure through); an
-- error status returned by the function becomes nil, err, results.
local function finish(fn, resp, drep)
  if not resp then return nil, drep end
  local out, de = ndr.decode_call(fn, "out", resp, { drep = drep })
  if not out then
    return nil, err(RPC_X_BAD_STUB_DATA, nil, fn.name .. ": undecodable reply: " ..
                    tostring(de and de.message or de), "yes")
  end
  local kind = fn.returns and status_kind(fn.returns)
  if kind and out.result and is_error(kind, out.result) then
    return nil, status_error(kind, out.result, fn.name), out
  end
  return out
end

local function lookup(self, f)
  local fn = f
  if type(f) ~= "table" then
    fn = self.iface.functions[f]
    if not fn then
      error(string.format("interface %s has no function %s", self.iface.name, tostring(f)), 3)
    end
  end
  return fn
end

-- c:call(fn | name | opnum, args [, opts]) -> results | nil, err [, results]
-- When the function returns NTSTATUS / WERROR / HRESULT and the value is an
-- error, the results are still given as the third value.
-- The per-call options with this client's security context (views made
-- by c:authenticate name theirs on every call).
local function opts_of(self, opts)
  if not opts then return self.call_opts end
  if self.auth_context_id == nil or opts.auth_context_id ~= nil then return opts end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.auth_context_id = self.auth_context_id
  return o
end

local function conn_of(self)
  -- a view made by c:authenticate dies with the client that made the connection
  if self.origin and not self.origin.conn then self.conn = nil end
  local conn = self.conn
  if not conn then error("attempt to use a closed client", 3) end
  return conn
end

-- Signed and sealed calls carry a verification trailer after the NDR data
-- ([MS-RPCE] 2.2.2.13: BITMASK_1 "header signing supported" and PCONTEXT), as
-- Samba's and Windows' clients send it, so the server can check the
-- presentation context was not swapped on the way. Little-endian even in a
-- big-endian PDU, as the spec, Samba and Windows have it (engine/rpc/vt.h).
-- Four variants per client, one per stub length modulo 4.
local function with_vt(self, stub)
  local vt = self.vt
  if not vt then return stub end
  local k = #stub % 4
  local t = vt[k]
  if not t then
    t = core.vt_trailer(k, { abstract = syntax_of(self.iface), transfer = M.NDR20 })
    vt[k] = t
  end
  return stub .. t
end

-- The request stub of fn: the options and the args' top-level names checked
-- (misuse raises at the line that made the call: level 3 seen from here,
-- the methods c:Name(...) being tail calls of c:call), every nested key too
-- in strict mode (ndr.strict, or strict in the connect or call options).
local function request_stub(self, fn, args, opts)
  if opts ~= nil then options.check(opts, CALL, "call ", 3, fn.name) end
  if args == nil then args = {} end
  if type(args) ~= "table" then
    error(string.format("%s: arguments must be a table, got %s", fn.name, type(args)), 3)
  end
  local eopts = self.encode_opts
  if ndr.strict or self.strict or (opts and opts.strict) then
    ndr.check_call(fn, "in", args, 3)
  else
    ndr.check_args(fn, "in", args, 3)
  end
  return with_vt(self, ndr.encode_call(fn, "in", args, eopts))
end

function Client:call(f, args, opts)
  local fn = lookup(self, f)
  local conn = conn_of(self)
  local stub = request_stub(self, fn, args, opts)
  local resp, drep = conn:call(self.context_id, fn.opnum, stub, opts_of(self, opts), self.label_of[fn])
  if self.ntlm_unproven then
    -- NTLM's AUTHENTICATE goes in an auth3 nobody answers: bad credentials
    -- show as the fault of the first call; say so
    if resp then
      self.ntlm_unproven = nil
    elseif type(drep) == "table" and drep.code ~= 1818 then
      drep.message = drep.message .. " (the first call after an NTLM bind: the server may have refused " ..
                     "the credentials: check user, domain and password (or nt_hash))"
    end
  end
  return finish(fn, resp, drep)
end

-- Several calls in flight on one connection (when the server allows it):
--   local h = c:send("NetrServerGetInfo", args); ...; local r = c:receive(h)
function Client:send(f, args, opts)
  local fn = lookup(self, f)
  local conn = conn_of(self)
  local stub = request_stub(self, fn, args, opts)
  local id, e = conn:send(self.context_id, fn.opnum, stub, opts_of(self, opts), self.label_of[fn])
  if not id then return nil, e end
  return { id = id, fn = fn }
end

function Client:receive(h, timeout)
  return finish(h.fn, conn_of(self):receive(h.id, timeout))
end

-- c:info(): the connection's state, and this client's security context:
-- auth_context_id, auth_type, auth_level, user, auth_state (nil fields for
-- an anonymous client).
function Client:info()
  if self.origin and not self.origin.conn then self.conn = nil end
  local i = self.conn and self.conn:info() or {}
  i.binding = self.binding
  i.interface = self.iface.name
  i.view = self.origin ~= nil
  local mine = self.auth_context_id
  if mine == nil and not self.origin and i.auth_type then
    mine = self.bind_auth_context_id          -- the bind's context
  end
  i.auth_type, i.auth_level, i.user, i.authenticated = nil, nil, nil, nil
  for _, x in ipairs(i.auth_contexts or {}) do
    if x.auth_context_id == mine then
      i.auth_context_id, i.auth_type, i.auth_level, i.user = mine, x.auth_type, x.auth_level, x.user
      i.auth_state, i.authenticated = x.state, x.state == "established"
    end
  end
  return i
end

-- c:session_key() -> bytes | nil, err: the key LSA and SAMR use to protect
-- secrets: the RPC security context's on an authenticated connection, else
-- the SMB session's (ncacn_np), as [MS-RPCE] 3.3.1.5.2.2 says.
-- c:set_trace(hook | nil): this connection's trace hook (dcerpc.trace,
-- docs/trace.md); the global one (dcerpc.trace.set) sees it too.
function Client:set_trace(hook)
  trace.set_hook(conn_of(self), hook)
  return self
end

function Client:session_key()
  if not self.conn then return nil, err(RPC_S_INVALID_BINDING, nil, "the client is closed", "no") end
  return self.conn:session_key()
end

-- Closing the client that made the connection closes it (its views, made by
-- c:authenticate, are closed with it); closing a view only drops the view.
function Client:close()
  if self.conn then
    if not self.origin then self.conn:close() end
    self.conn = nil
  end
end

---------------------------------------------------------------- authentication

local LEVELS = { connect = true, call = true, packet = true, integrity = true, privacy = true }
local VT_LEVELS = { integrity = true, privacy = true }      -- calls that carry a verification trailer
local LEVEL_ALIASES = { sign = "integrity", seal = "privacy", pkt = "packet" }
-- The mechanisms the core has (engine/auth/mech.c), in its order: the auth
-- types a client may ask for by name, and binding flags naming one.
local MECHS = {}
for _, name in ipairs(core.mechs) do MECHS[name] = true end
local MECH_LIST = table.concat(core.mechs, ", ")

-- The auth settings of dcerpc.connect: opts.auth (a mechanism's name,
-- "ntlm" | "spnego" | "krb5", or a table with the same fields as opts) or
-- the binding's Samba-style flags (sign, seal, connect, packet, ntlm,
-- spnego, krb5: any name in core.mechs) with opts.user and friends.
-- Kerberos' target (krb5, and spnego given a ccache or keytab, with which
-- it offers Kerberos): opts.target, else host/NAME with the binding's
-- target_hostname=NAME, else host/HOST of the binding.
local function auth_of(opts, flags, np, host)
  local a = opts.auth
  if type(a) == "table" then
    local t = {}
    for k, v in pairs(opts) do if k ~= "auth" then t[k] = v end end
    for k, v in pairs(a) do t[k] = v end
    opts, a = t, t.type or "spnego"
  end
  local level = opts.level
  for f in pairs(flags) do
    if MECHS[f] then a = a or f end
    if LEVELS[f] or LEVEL_ALIASES[f] then level = level or LEVEL_ALIASES[f] or f end
  end
  -- credentials alone (a user, or Kerberos from a ccache or keytab):
  -- SPNEGO, as Windows; over a named pipe they are the SMB session's, and the
  -- RPC inside is authenticated only when asked
  local creds = opts.user or opts.kerberos or opts.ccache or opts.keytab
  if not a and ((creds and not np) or level) then a = "spnego" end
  if not a then return nil end
  if not MECHS[a] then
    return nil, err(1741, nil, "authentication " .. tostring(a) .. " is not supported (" .. MECH_LIST .. ")", "no")
  end
  level = LEVEL_ALIASES[level or ""] or level or "privacy"
  if not LEVELS[level] then
    return nil, err(1741, nil, "authentication level " .. tostring(level) ..
                    " is not one of connect, call, packet, integrity, privacy", "no")
  end
  local user, domain = opts.user, opts.domain
  if user and not domain then
    local d, u = user:match("^([^\\/]+)[\\/](.+)$")
    if d then domain, user = d, u end
  end
  return {
    type = a, level = level, user = user or "", domain = domain or "",
    password = opts.password, nt_hash = opts.nt_hash, workstation = opts.workstation,
    ntlmv1 = opts.ntlmv1, context_id = opts.auth_context_id,
    ccache = opts.ccache, keytab = opts.keytab, kerberos = opts.kerberos,
    target = opts.target or ((a == "krb5" or a == "spnego" and (opts.ccache or opts.keytab or opts.kerberos)) and
                             (type(flags.target_hostname) == "string" and "host/" .. flags.target_hostname or
                              host and host ~= "" and "host/" .. host)) or nil,
  }
end

-- c:authenticate{auth = "ntlm" | "spnego", user =, domain =, password = |
--   nt_hash =, level =, workstation =, auth_context_id =} -> client | nil, err
-- Another security context on the same connection ([MS-RPCE] 3.3.1.5.4,
-- security context multiplexing): an alter_context carries its tokens, and
-- the client returned (a "view") makes its calls with it while c keeps its
-- own. The server must have acknowledged multiplexing at bind time unless c
-- is anonymous (its first context). auth_context_id defaults to one more
-- than the largest in use. A failed authentication gives nil, err and leaves
-- the connection as the server leaves it (Samba keeps it; with NTLM the
-- refusal only shows on the first call, as after an NTLM bind).
function Client:authenticate(opts)
  if type(opts) ~= "table" then error("authenticate: options table expected", 2) end
  check_opts(opts, AUTHENTICATE, "c:authenticate")
  local conn = conn_of(self)
  local auth, e = auth_of(opts, {}, nil, self.binding and self.binding:match("^[%w_]+:([^%[]*)"))
  if e then return nil, e end
  if not auth then error("authenticate: auth or user expected", 2) end
  if auth.context_id == nil then
    local top = -1
    for _, x in ipairs(conn:info().auth_contexts or {}) do
      if x.auth_context_id > top then top = x.auth_context_id end
    end
    auth.context_id = top + 1
  end
  local ack
  ack, e = conn:add_auth(auth, { { id = self.context_id, abstract = syntax_of(self.iface), transfer = { M.NDR20 } } },
                         { timeout = self.call_opts and self.call_opts.timeout })
  if not ack then return nil, e end
  local call_opts = {}
  for k, v in pairs(self.call_opts or {}) do call_opts[k] = v end
  call_opts.auth_context_id = auth.context_id
  return setmetatable({
    conn = conn, iface = self.iface, context_id = self.context_id, binding = self.binding,
    call_opts = call_opts, encode_opts = self.encode_opts, ack = ack, strict = self.strict,
    origin = self.origin or self, auth_context_id = auth.context_id,
    ntlm_unproven = auth.type == "ntlm" or nil,
    vt = VT_LEVELS[auth.level] and {} or nil,
  }, getmetatable(self))
end

---------------------------------------------------------------- named pipes

-- The pipe an interface is served on when a binding names none (the
-- well-known endpoints of [MS-SRVS], [MS-WKST], [MS-SAMR], [MS-LSAT],
-- [MS-RRP], [MS-SCMR], [MS-RPCE]); iface.pipe wins.
M.well_known_pipes = {
  srvsvc = "srvsvc", wkssvc = "wkssvc", samr = "samr", lsarpc = "lsarpc", winreg = "winreg",
  svcctl = "svcctl", epm = "epmapper", netlogon = "netlogon", spoolss = "spoolss",
  eventlog = "eventlog", ntsvcs = "ntsvcs", rpcecho = "rpcecho", dssetup = "lsarpc",
}

local SMB_PORT = 445
local NBSS_PORT = 139
local STATUS_BAD_NETWORK_NAME = 0xC00000CC

-- The NetBIOS name to call on port 139: the host's first label, or
-- *SMBSERVER for an address (as Windows does).
local function nbss_name_of(host)
  if host:match("^[%d.]+$") or host:find(":", 1, true) then return "*SMBSERVER" end
  return (host:match("^[^.]+") or host):upper():sub(1, 15)
end

-- Open \\pipe\\NAME on host: an SMB session (or opts.smb's) and the pipe.
-- The SMB session speaks SPNEGO, as Windows; with Kerberos asked for
-- (auth = "krb5" or the binding's krb5 flag: Kerberos alone; kerberos =
-- true, a ccache or a keytab: Kerberos first, NTLM after it) it offers
-- Kerberos for cifs/NAME (the binding's target_hostname=NAME, else the host).
local function open_np(host, pipe, opts, user, domain, flags)
  flags = flags or {}
  local copts = {
    timeout = opts.connect_timeout, call_timeout = opts.timeout, max_response = opts.max_response,
    smb_signing = opts.smb_signing, smb_encrypt = opts.smb_encrypt, smb_ciphers = opts.smb_ciphers,
    smb_min_dialect = opts.smb_min_dialect, smb_max_dialect = opts.smb_max_dialect,
  }
  local atype = type(opts.auth) == "table" and opts.auth.type or opts.auth
  local only = atype == "krb5" or flags.krb5
  local krb = only or opts.kerberos or opts.ccache or opts.keytab
  local sa = opts.smb_auth
  if sa == nil and ((user and user ~= "") or krb) then
    sa = { type = "spnego", user = user or "", domain = domain or "", password = opts.password,
           nt_hash = opts.nt_hash, workstation = opts.workstation, ntlmv1 = opts.ntlmv1 }
    if krb then
      sa.ccache, sa.keytab = opts.ccache, opts.keytab
      sa.kerberos = only and "only" or opts.kerberos or true
      sa.target = "cifs/" .. (type(flags.target_hostname) == "string" and flags.target_hostname or host)
    end
  end
  copts.smb_auth = sa or nil
  if opts.smb then
    local other = type(opts.smb) == "table" and opts.smb.conn or opts.smb
    return other:open_pipe(pipe, copts)
  end
  local port = opts.smb_port or SMB_PORT
  if tonumber(port) == NBSS_PORT or opts.nbss_name then
    copts.nbss = opts.nbss_name or nbss_name_of(host)
    local c, e = core.connect_np(host, port, pipe, copts)
    if c or copts.nbss == "*SMBSERVER" or opts.nbss_name or not e or e.code ~= STATUS_BAD_NETWORK_NAME then
      return c, e
    end
    copts.nbss = "*SMBSERVER"                      -- the name was refused: the wildcard, on a new connection
  end
  return core.connect_np(host, port, pipe, copts)
end

-- dcerpc.ept_map(host, iface [, opts [, protseq]]) -> endpoint | nil, err
-- Ask host's endpoint mapper where iface is served over protseq
-- ("ncacn_ip_tcp" by default: a port number as a string; "ncacn_np": a
-- pipe name; "ncalrpc": a socket name). opts as dcerpc.connect's (timeout,
-- connect_timeout, object, epm_port, ncalrpc_dir; for ncacn_np the SMB
-- credentials and options).
function M.ept_map(host, iface, opts, protseq)
  check_opts(opts, CONNECT, "dcerpc.ept_map")
  assert(type(host) == "string", "dcerpc.ept_map: host expected")
  iface = M.interface(iface)
  opts = opts or {}
  if protseq == "ncacn_np" and not opts.open_np then
    local o, user, domain = {}, opts.user, opts.domain
    for k, v in pairs(opts) do o[k] = v end
    if user and not domain then
      local d, u = user:match("^([^\\/]+)[\\/](.+)$")
      if d then domain, user = d, u end
    end
    o.open_np = function(h, p) return open_np(h, p, opts, user, domain) end
    opts = o
  end
  return ept_map(host, iface, opts, protseq)
end

-- dcerpc.connect(binding, iface [, opts]) -> client | nil, err
--   binding: "ncacn_ip_tcp:HOST[PORT]" (no port: ask the endpoint mapper),
--            "ncacn_np:HOST[\\pipe\\NAME]" (no pipe: the interface's
--            well-known one, else the endpoint mapper over \\pipe\\epmapper),
--            "ncalrpc:[NAME]"
--   ncacn_np only (docs/np.md): user/password/... authenticate the SMB
--         session; smb_port (445; 139 = NetBIOS session service),
--         nbss_name, smb_signing, smb_encrypt, smb_ciphers,
--         smb_min_dialect / smb_max_dialect, smb_auth (other credentials
--         for SMB), smb (a client whose SMB session to share)
--   opts: timeout (per call, s; default 60), connect_timeout (s; default 60),
--         object (uuid), max_xmit / max_recv, conc_mpx, drep = "be",
--         assoc_group, max_response (bytes a reply may reassemble to;
--         16 MiB, docs/limits.md), feature_negotiation (default true),
--         epm_port (default 135), ncalrpc_dir (where ncalrpc endpoint names
--         live; M.ncalrpc_dir), strict (check every nested key of the
--         arguments, as ndr.strict), auth = "ntlm" | "spnego" (or a table of
--         the fields below and type =), user ("DOMAIN\\user" or with
--         domain =), password | nt_hash (32 hex digits or 16 bytes),
--         workstation, ntlmv1, auth_context_id, level = "connect" |
--         "packet" | "integrity" | "privacy" (default privacy). Binding
--         flags work too: "ncacn_ip_tcp:host[port,sign]" / "[seal,ntlm]".
--   An unknown option raises before anything is sent (dcerpc.opts).
--   Per call (c:call, c:send, c:Name(args, opts)): timeout, object,
--   auth_context_id, max_response, strict; unknown ones raise too, and so
--   does an args key that names no [in] parameter of the function.
--   trace: a hook (dcerpc.trace, docs/trace.md) that sees every PDU of
--   this connection, decoded: trace = dcerpc.trace.text(io.stderr).
--   Inside a server handler or a task (srv:spawn, dcerpc.spawn) connecting
--   and every call yield to the event loop instead of blocking it.
function M.connect(binding, iface, opts)
  check_opts(opts, CONNECT, "dcerpc.connect")      -- before anything: a typo connects nowhere
  opts = opts or {}
  iface = M.interface(iface)
  local b, e = M.binding(binding)
  if not b then return nil, e end
  if b.protseq ~= "ncacn_ip_tcp" and b.protseq ~= "ncalrpc" and b.protseq ~= "ncacn_np" then
    return nil, err(RPC_S_PROTSEQ_NOT_SUPPORTED, nil,
                    "protocol sequence " .. tostring(b.protseq) .. " is not supported yet", "no")
  end
  local lrpc, np = b.protseq == "ncalrpc", b.protseq == "ncacn_np"
  if not lrpc and (not b.host or b.host == "") then
    return nil, err(RPC_S_INVALID_BINDING, nil, "binding has no host: " .. binding, "no")
  end
  local object = opts.object or (b.object ~= NIL_UUID and b.object) or nil
  local port = b.endpoint
  if np then
    port = port and port:gsub("^\\[Pp][Ii][Pp][Ee]\\", "")
    if not port or port == "" then port = iface.pipe or M.well_known_pipes[iface.name] end
    if not port then                -- ask the endpoint mapper over \pipe\epmapper
      local user, domain = opts.user, opts.domain
      if user and not domain then
        local d, u = user:match("^([^\\/]+)[\\/](.+)$")
        if d then domain, user = d, u end
      end
      port, e = ept_map(b.host, iface, { timeout = opts.timeout, object = object, trace = opts.trace,
        open_np = function(h, p) return open_np(h, p, opts, user, domain, b.options) end }, "ncacn_np")
      if not port then return nil, e end
      port = port:gsub("^\\[Pp][Ii][Pp][Ee]\\", "")
    end
  elseif not port or port == "" then
    port, e = ept_map(b.host, iface, { timeout = opts.timeout, connect_timeout = opts.connect_timeout,
                                       object = object, epm_port = opts.epm_port, trace = opts.trace,
                                       ncalrpc_dir = opts.ncalrpc_dir }, b.protseq)
    if not port then return nil, e end
  end
  local auth
  auth, e = auth_of(opts, b.options or {}, np, b.host)
  if e then return nil, e end
  local conn
  if np then
    local user, domain = opts.user, opts.domain
    if user and not domain then
      local d, u = user:match("^([^\\/]+)[\\/](.+)$")
      if d then domain, user = d, u end
    end
    conn, e = open_np(b.host, port, opts, user, domain, b.options)
  else
    conn, e = open(b.protseq, b.host, port, opts)
  end
  if not conn then return nil, e end
  local bstr = lrpc and string.format("ncalrpc:[%s]", port) or
               np and string.format("ncacn_np:%s[\\pipe\\%s]", b.host, port) or
               string.format("ncacn_ip_tcp:%s[%s]", b.host, port)
  -- before the bind, so that a hook sees it (dcerpc.trace; opts.trace or trace.set)
  trace.attach(conn, { hook = opts.trace, iface = iface, binding = bstr })
  if auth then
    local ok, se = pcall(conn.set_auth, conn, auth)
    if not ok then conn:close(); error(se, 2) end
  end
  local ack
  ack, e = conn:bind({ { abstract = syntax_of(iface), transfer = { M.NDR20 } } }, {
    feature_negotiation = opts.feature_negotiation ~= false,
    conc_mpx = opts.conc_mpx, drep = opts.drep, assoc_group = opts.assoc_group,
    max_xmit = opts.max_xmit or (np and 4280) or nil, max_recv = opts.max_recv or (np and 4280) or nil,
    timeout = opts.timeout,
  })
  if not ack then conn:close(); return nil, e end
  local r = ack.results and ack.results[1]
  if not r or r.result ~= 0 then
    conn:close()
    return nil, err(RPC_S_UNKNOWN_IF, nil, string.format(
      "server at %s[%s] does not support %s %s v%s (result %s, reason %s)", lrpc and "ncalrpc:" or b.host, port,
      iface.name, iface.uuid, iface.version, r and r.result, r and r.reason), "no")
  end
  local self = setmetatable({
    conn = conn, iface = iface, context_id = 0,
    binding = bstr,
    call_opts = { timeout = opts.timeout, object = object },
    encode_opts = opts.drep and { drep = opts.drep } or nil,
    strict = opts.strict or nil,
    ack = ack,
    ntlm_unproven = auth and auth.type == "ntlm" or nil,
    bind_auth_context_id = auth and (auth.context_id or 0) or nil,
    vt = auth and VT_LEVELS[auth.level] and {} or nil,
  }, class_of(iface))
  return self
end

---------------------------------------------------------------- server

-- dcerpc.server{...} and dcerpc.sleep(s): see scripts/dcerpc/server.lua
local server = require "dcerpc.server"
M.server = server.server
M.sleep = server.sleep
M.spawn = server.spawn
M.run = server.run

-- dcerpc.idl (MIDL at run time, docs/idl.md): loaded on first use, since
-- it needs LPeg and a client that never reads IDL need not load it
setmetatable(M, { __index = function(t, k)
  if k == "idl" then
    local idl = require "dcerpc.idl"
    rawset(t, k, idl)
    return idl
  end
end })

return M
