-- dcerpc.server: RPC servers whose handlers are Lua functions.
--
--   local dcerpc = require "dcerpc"
--   local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:127.0.0.1[0]" } })
--   srv:register("rpcecho", {
--     AddOne = function(call, args) return { out_data = (args.in_data + 1) & 0xffffffff } end,
--   })
--   print(srv.endpoints[1])   -- "ncacn_ip_tcp:127.0.0.1[40123]"
--   srv:run()
--
-- Every call runs in its own coroutine on the server's event loop:
-- handler(call, args) gets the decoded [in] arguments and returns a table of
-- [out] arguments (and `result` for the return value). dcerpc.sleep(s) inside
-- a handler yields to the loop. A handler that raises produces a fault: the
-- status is err.code when it raises a table with a numeric `code` (such as a
-- dcerpc error object), else rpc_s_call_failed (1726); the server logs it
-- and goes on.

local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"
local options = require "dcerpc.opts"
local trace = require "dcerpc.trace"

local NCA_S_OP_RNG_ERROR = 0x1c010002
local RPC_X_BAD_STUB_DATA = 0x6f7
local RPC_S_CALL_FAILED = 1726

local M = {}

-- The options each entry point reads; unknown keys raise (dcerpc.opts).
-- The epmapper's (scripts/dcerpc/epmapper.lua, M.attach and M.enable) are
-- part of dcerpc.server's and srv:enable_epmapper's.
local EPM_OPTS = { "epm_max_handles", "epm_max_entries", "epm_remote_insert" }
local SERVER_OPTS = options.keys({
  "listen", "log", "workers", "auth", "ncalrpc_dir",
  "max_connections", "max_connections_per_address", "max_calls_per_connection", "max_calls",
  "max_auth_contexts", "max_request", "max_buffered", "max_frag",
  "idle_timeout", "call_timeout", "partial_timeout", "request_timeout", "reply_timeout",
  "epmapper", "mgmt", "trace",
}, EPM_OPTS)
local EPM_ENABLE_OPTS = options.keys(EPM_OPTS)
local REGISTER_OPTS = options.keys { "min_level", "annotation" }
local AUTH_OPTS = options.keys { "users", "lookup", "domain", "computer", "dns_domain", "dns_computer",
                                  "keytab", "service" }
M.option_keys = { server = SERVER_OPTS, register = REGISTER_OPTS, auth = AUTH_OPTS, enable_epmapper = EPM_ENABLE_OPTS }

local Server = {}
Server.__index = Server

local Call = {}
Call.__index = Call

-- call:cancelled() -> true once the client sent co_cancel or orphaned for
-- this call, or its connection went away: a long handler may stop early
-- (whatever it returns then is dropped, or goes back with the cancel noted).
function Call:cancelled()
  local core_srv = self.server and self.server.core
  return not (core_srv and core_srv:call_alive(self.connection, self.call_id))
end
function Call:__tostring()
  return string.format("dcerpc.call %s.%s #%d from %s", self.interface, self.name, self.call_id, self.peer)
end

-- dcerpc.sleep yields only in the coroutines of server calls and tasks
-- (core.on_loop: the core marks them; a coroutine made inside one is not)
local on_loop = core.on_loop

function M.sleep(seconds)
  assert(type(seconds) == "number" and seconds >= 0, "dcerpc.sleep: seconds expected")
  if on_loop() then
    coroutine.yield(core.SLEEP, seconds)
  else
    core.sleep_blocking(seconds)
  end
end

local function default_log(msg)
  io.stderr:write("dcerpc server: ", msg, "\n")
end

local function parse_binding(b)
  local pb, e = core.binding_parse(b)
  if not pb then return nil, e end
  if pb.protseq ~= "ncacn_ip_tcp" and pb.protseq ~= "ncalrpc" then
    return nil, core.error(1703, nil, "protocol sequence " .. tostring(pb.protseq) .. " is not supported by the server")
  end
  if pb.protseq == "ncalrpc" then return pb end
  local host = pb.host
  if not host or host == "" then host = "0.0.0.0" end
  return host, pb.endpoint and pb.endpoint ~= "" and pb.endpoint or "0"
end

local function format_binding(host, port)
  if host:find(":", 1, true) then host = "[" .. host .. "]" end
  return string.format("ncacn_ip_tcp:%s[%d]", host, port)
end

-- srv:listen(binding) -> actual binding (port 0 resolved) | nil, err
--   ncacn_ip_tcp:HOST[PORT] (PORT 0 or none: a dynamic port), or
--   ncalrpc:[NAME] (a Unix socket NAME in the server's ncalrpc_dir, or a
--   path; no NAME: a generated one)
function Server:listen(binding)
  local host, port = parse_binding(binding)
  if not host then return nil, port end
  local ep, bound, e
  if type(host) == "table" then                       -- ncalrpc
    local name = host.endpoint
    if not name or name == "" then name = string.format("LRPC-%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff)) end
    local path = require("dcerpc").ncalrpc_path(name, self.ncalrpc_dir)
    bound, e = self.core:listen_unix(path, name)
    ep = "ncalrpc:[" .. name .. "]"
  else
    bound, e = self.core:listen(host, port)
    ep = bound and format_binding(host, bound)
  end
  if not bound then
    return nil, core.error(1706, nil, "cannot listen on " .. binding .. ": " .. tostring(e))
  end
  self.endpoints[#self.endpoints + 1] = ep
  if self._epm then Server._epm_sync(self) end   -- epmapper hook
  return ep
end

-- srv:set_auth{ users = { name = password | { nt_hash = hex } } | lookup = fn,
--               domain = "NETBIOS-DOMAIN", computer = "NAME", dns_domain =, dns_computer =,
--               keytab = PATH, service = "host/name" }
-- Accept NTLM, SPNEGO and Kerberos binds. lookup(user, domain, workstation)
-- returns the password, { nt_hash = 32 hex digits or 16 bytes }, or nil for
-- an unknown user; it runs inside the server's loop and must not yield (no
-- RPC in it). Kerberos (auth type 16) accepts with the keytab (default
-- KRB5_KTNAME), as `service` when given, else as any principal in it; a
-- keytab alone (no users, no lookup) accepts Kerberos only.
function Server:set_auth(a)
  if type(a) ~= "table" then error("auth: a table expected", 2) end
  options.check(a, AUTH_OPTS, "srv:set_auth", 2)
  local lookup = a.lookup
  if not lookup and a.users == nil and a.keytab then
    lookup = function() return nil end     -- no NTLM user
  end
  if not lookup then
    local users = a.users
    assert(type(users) == "table", "auth: users = { name = password } or lookup = function expected")
    lookup = function(user, domain)
      local v = users[user] or users[domain .. "\\" .. user]
      if v == nil then                 -- user names compare without case, as Windows does
        local lu = user:lower()
        for k, x in pairs(users) do
          if type(k) == "string" and k:lower() == lu then v = x; break end
        end
      end
      return v
    end
  end
  self.core:set_auth { lookup = lookup, domain = a.domain, computer = a.computer,
                       dns_domain = a.dns_domain, dns_computer = a.dns_computer,
                       keytab = a.keytab, service = a.service }
  return self
end

-- srv:register(iface, handlers [, opts]) -> srv
--   iface: a description (ndr.interface) or a name shipped in dcerpc.iface
--   handlers: { FunctionName = function(call, args) ... end, ... }
function Server:register(iface, handlers, opts)
  options.check(opts, REGISTER_OPTS, "srv:register", 2)
  if type(iface) == "string" then iface = require("dcerpc.iface." .. iface) end
  assert(type(iface) == "table" and iface.uuid and iface.functions, "interface description expected")
  assert(type(handlers) == "table", "table of handlers expected")
  for name, h in pairs(handlers) do
    if not iface.functions[name] then
      error(string.format("interface %s has no function %s", iface.name, tostring(name)), 2)
    end
    assert(type(h) == "function", "handler for " .. tostring(name) .. " must be a function")
  end
  local key = #self.ifaces + 1
  local ok, e = self.core:add_interface({ uuid = iface.uuid, major = iface.major, minor = iface.minor }, key,
                                        opts and opts.min_level)
  if not ok then error("cannot register " .. iface.name .. ": " .. tostring(e), 2) end
  self.ifaces[key] = { iface = iface, handlers = handlers, opts = opts or {} }
  if self._epm then Server._epm_sync(self) end   -- epmapper hook
  return self
end

local function fault_of(e)
  if type(e) == "table" and math.type(e.code) == "integer" then return e.code end
  return RPC_S_CALL_FAILED
end

local function describe(e)
  if type(e) == "table" then
    return tostring(e.message or e.name or e.code)
  end
  return tostring(e)
end

-- Runs in the call's coroutine: stub | nil, status, did_not_execute
local function traceback(e)
  if type(e) == "table" then return e end
  return debug.traceback(tostring(e), 2)
end

-- decode options per data representation (a handful exist), and one encode
-- options table reused by every call (encode_call does not yield or keep it)
local drep_opts, n_drep_opts = {}, 0
local enc_opts = {}

local NDR20 = { uuid = "8a885d04-1ceb-11c9-9fe8-08002b104860", major = 2, minor = 0 }
local ACCESS_DENIED = 5
local partial_by_drep = {}
local function partial_opts(drep)
  local o = partial_by_drep[drep]
  if not o then o = { drep = drep, partial = true }; partial_by_drep[drep] = o end
  return o
end

local function make_dispatch(self)
  return function(info)
    local ent = self.ifaces[info.iface]
    local fn = ent and ent.iface.functions[info.opnum]
    local h = fn and ent.handlers[fn.name]
    if not h then return nil, NCA_S_OP_RNG_ERROR, true end
    local dopts = drep_opts[info.drep]
    if not dopts then
      dopts = { drep = info.drep }
      if n_drep_opts < 16 then drep_opts[info.drep] = dopts; n_drep_opts = n_drep_opts + 1 end
    end
    local args, de, maxfull = ndr.decode_call(fn, "in", info.stub, dopts)
    if not args and type(de) == "table" and de.name == "ndr_leftover" then
      -- bytes after the NDR data: a verification trailer ([MS-RPCE]
      -- 2.2.2.13, Samba's and Windows' clients send one) must match the call
      local off
      args, off, maxfull = ndr.decode_call(fn, "in", info.stub, partial_opts(info.drep))
      if args then
        local iface = ent.iface
        local vok, verr, refuse = core.vt_check(info.stub, off, {
          abstract = { uuid = iface.uuid, major = iface.major, minor = iface.minor }, transfer = NDR20,
          call_id = info.call_id, ctx_id = info.context_id, opnum = info.opnum, drep = info.drep })
        if vok == nil and refuse then
          self.log(string.format("%s.%s from %s: %s", iface.name, fn.name, info.peer, verr))
          return nil, ACCESS_DENIED, true
        end
        -- bytes that are no trailer, or a trailer that does not read (in
        -- either byte order), are ignored, as Windows and Samba do (Samba's
        -- raw_protocol tests pad requests with 0xfe bytes): the trailer is
        -- the client's own, under its signature where there is one, and
        -- removable on the way where there is none (docs/auth.md)
      end
    end
    if not args then
      self.log(string.format("%s.%s from %s: undecodable request: %s", ent.iface.name, fn.name,
                             info.peer, describe(de)))
      return nil, RPC_X_BAD_STUB_DATA, true
    end
    local call = setmetatable({
      server = self, interface = ent.iface.name, name = fn.name, opnum = info.opnum,
      call_id = info.call_id, context_id = info.context_id, object = info.object,
      peer = info.peer, client_address = info.peer, assoc_group = info.assoc_group,
      connection = info.conn, drep = info.drep, worker = info.worker or 0,
      auth = info.auth_type and { type = info.auth_type, level = info.auth_level,
                                  user = info.user, domain = info.domain,
                                  context_id = info.auth_context_id } or nil,
    }, Call)
    local ok, res = xpcall(h, traceback, call, args)
    if not ok then
      self.log(string.format("%s.%s from %s raised: %s", ent.iface.name, fn.name, info.peer, describe(res)))
      return nil, fault_of(res), false
    end
    if res == nil then res = {} end
    if type(res) ~= "table" then
      self.log(string.format("%s.%s: handler returned a %s, not a table", ent.iface.name, fn.name, type(res)))
      return nil, RPC_S_CALL_FAILED, false
    end
    enc_opts.request = args
    -- full pointers of the reply are numbered after the request's (C706:
    -- one id space per call; Wireshark takes a reused id for an alias)
    enc_opts.ptr_base = maxfull and maxfull > 0 and math.min(maxfull, 65536) or nil
    local eok, stub = pcall(ndr.encode_call, fn, "out", res, enc_opts)
    enc_opts.request = nil
    enc_opts.ptr_base = nil
    if not eok or type(stub) ~= "string" then
      self.log(string.format("%s.%s: cannot marshal the results: %s", ent.iface.name, fn.name, describe(stub)))
      return nil, RPC_X_BAD_STUB_DATA, false
    end
    return stub
  end
end

-- srv:step([timeout]) -> callbacks run; timeout in seconds (nil: wait)
function Server:step(timeout)
  return self.core:step(timeout)
end

-- srv:run(): serve until srv:close() (from a handler, or a signal handler).
-- With workers = N > 1 the process forks N - 1 workers first (everything set
-- up so far is copied into each) and serves as worker 0; SIGTERM / SIGINT
-- then close the server, which stops the workers, and run() returns. A
-- worker never returns from run(): if its loop ends (srv:close() in a
-- handler) the process exits and the parent starts a new one.
function Server:run()
  if self.workers > 1 then self.core:start_workers() end
  local open, worker = self.core:is_open()
  while open and not self.closed do
    self.core:step(-1)
    open, worker = self.core:is_open()
  end
  if worker ~= 0 then os.exit(0) end
  if not open then self.closed = true end
end

-- srv:stats() -> { connections, calls, groups, listeners, worker (this
-- process's index), workers, handed_in, handed_out }: of this process only.
function Server:stats() return self.core:stats() end

-- srv:worker_pids() -> { pid of worker 0, pid of worker 1, ... } (0: not
-- running; before run() only worker 0, this process, is known).
function Server:worker_pids() return self.core:worker_pids() end

-- srv:on_disconnect(fn): fn(connection, assoc_group, group_ended) once each
-- connection has closed (connection = call.connection of its calls;
-- assoc_group 0 if it never bound; group_ended: it was the last connection
-- of its association group, whose context handles are now stale). It runs
-- on the loop after the step that saw the close, under pcall; its errors
-- are logged. Calls still running on that connection go on (their replies
-- are dropped). Not called for connections srv:close() ends.
function Server:on_disconnect(fn)
  assert(type(fn) == "function", "function expected")
  local list = self._on_disconnect
  if not list then
    list = {}
    self._on_disconnect = list
    self.core:set_on_close(function(conn, group, ended)
      for _, f in ipairs(list) do
        local ok, e = pcall(f, conn, group, ended)
        if not ok then self.log("on_disconnect handler failed: " .. describe(e)) end
      end
    end)
  end
  list[#list + 1] = fn
  return self
end

-- srv:spawn(fn, ...): run fn(...) as a coroutine on this server's loop
-- (dcerpc.sleep yields in it); its results are dropped, its errors logged.
function Server:spawn(fn, ...)
  assert(type(fn) == "function", "function expected")
  return self.core:spawn(fn, ...)
end

-- srv:set_trace(hook | nil): this server's trace hook (dcerpc.trace).
function Server:set_trace(hook)
  trace.set_hook(self.core, hook)
  return self
end

function Server:close()
  if not self.closed then
    self.closed = true
    self.core:close()
  end
end
Server.__close = Server.close

---------------------------------------------------------------- epmapper hook
-- The built-in endpoint mapper and mgmt (scripts/dcerpc/epmapper.lua):
-- dcerpc.server{ epmapper = true, mgmt = false, epm_remote_insert = false,
-- epm_max_handles = 1024, epm_max_entries = 4096 }, srv:enable_epmapper(),
-- srv:epm_insert{...}, srv:epm_delete{...}, srv:epm_entries().
function Server._epm_sync(self) return require("dcerpc.epmapper").sync(self) end
function Server:enable_epmapper(opts)
  options.check(opts, EPM_ENABLE_OPTS, "srv:enable_epmapper", 2)
  return require("dcerpc.epmapper").enable(self, opts)
end
function Server:epm_insert(e) return require("dcerpc.epmapper").insert(self, e) end
function Server:epm_delete(e) return require("dcerpc.epmapper").delete(self, e) end
function Server:epm_entries() return require("dcerpc.epmapper").entries(self) end
----------------------------------------------------------------

-- dcerpc.server{ listen = {bindings...}, max_connections=, max_connections_per_address=,
--                max_calls_per_connection=, max_calls=, max_buffered=,
--                max_auth_contexts= (security contexts per connection, 2049), max_request=,
--                idle_timeout=, partial_timeout=, request_timeout=, reply_timeout=, call_timeout=,
--                max_frag=, log = fn, workers = 1, trace = hook } -> srv | nil, err  (docs/server.md)
-- trace: a hook (dcerpc.trace, docs/trace.md) seeing every PDU of every connection.
-- workers = N: srv:run() serves from N processes (see Server:run); the
-- limits (max_connections ...) are per worker.
function M.server(opts)
  options.check(opts, SERVER_OPTS, "dcerpc.server", 2)       -- before a socket is opened
  opts = opts or {}
  if type(opts.auth) == "table" then options.check(opts.auth, AUTH_OPTS, "dcerpc.server", 2, " (auth table)") end
  if not core.server_new then
    error("dcerpc.server: this dcerpc.core was built without the server (make client-only)", 2)
  end
  -- every limit under its own name (the core reads the ones it knows)
  local c = core.server_new {
    max_frag = opts.max_frag, max_request = opts.max_request,
    max_calls_per_connection = opts.max_calls_per_connection, max_calls = opts.max_calls,
    max_buffered = opts.max_buffered, max_connections = opts.max_connections,
    max_connections_per_address = opts.max_connections_per_address,
    max_auth_contexts = opts.max_auth_contexts,
    idle_timeout = opts.idle_timeout, partial_timeout = opts.partial_timeout,
    request_timeout = opts.request_timeout, reply_timeout = opts.reply_timeout,
    call_timeout = opts.call_timeout, workers = opts.workers,
  }
  local self = setmetatable({ core = c, endpoints = {}, ifaces = {}, log = opts.log or default_log,
                              ncalrpc_dir = opts.ncalrpc_dir, workers = opts.workers or 1 }, Server)
  c:set_dispatch(make_dispatch(self))
  c:set_log(function(msg) self.log(msg) end)
  if opts.auth then self:set_auth(opts.auth) end
  -- every connection's PDUs to opts.trace or the global hook (dcerpc.trace)
  trace.attach_server(c, {
    hook = opts.trace,
    ifaces = function()
      local l = {}
      for _, e in ipairs(self.ifaces) do l[#l + 1] = e.iface end
      return l
    end,
    iface_of = function(key) return self.ifaces[key] and self.ifaces[key].iface end,
    binding = function(loc)
      local h, p = tostring(loc):match("^%[?(.-)%]?:(%d+)$")
      return h and string.format("ncacn_ip_tcp:%s[%s]", h, p) or "ncalrpc"
    end,
    on_first = function()     -- forget a connection's tracer once it has closed
      self:on_disconnect(function(id) local t = trace.tracer_of(c); if t then t.forget(id) end end)
    end,
  })
  require("dcerpc.epmapper").attach(self, opts, make_dispatch(self))   -- epmapper hook
  local listen = opts.listen
  if type(listen) == "string" then listen = { listen } end
  for _, b in ipairs(listen or {}) do
    local ep, e = self:listen(b)
    if not ep then c:close(); return nil, e end
  end
  return self
end

-- dcerpc.spawn(fn, ...) / dcerpc.run(): tasks on a default loop (a server
-- with no endpoints); run() returns when every task has finished.
local hub
function M.spawn(fn, ...)
  if not hub or hub.closed then hub = assert(M.server {}) end
  return hub:spawn(fn, ...)
end

function M.run()
  while hub and not hub.closed and hub.core:stats().calls > 0 do hub.core:step(-1) end
end

return M
