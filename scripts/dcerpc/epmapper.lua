-- dcerpc.epmapper: a built-in endpoint mapper (epm, e1af8308 v3) and the
-- remote management interface (mgmt, afa8bd80 v1) for dcerpc.server.
--
--   local srv = assert(dcerpc.server { listen = { "ncacn_ip_tcp:0.0.0.0[135]" }, epmapper = true })
--   srv:register("rpcecho", handlers)      -- inserted into the map automatically
--   srv:epm_insert { interface = "srvsvc", binding = "ncacn_ip_tcp:10.0.0.2[49160]",
--                    annotation = "srvsvc on the other box" }
--
-- The endpoint database holds entries { object, tower (bytes), annotation } as
-- [C706] Appendix O describes; every interface registered on a server with the
-- endpoint mapper enabled is entered once per endpoint the server listens on
-- (mgmt excepted: it is on every endpoint anyway).
--
-- ept_lookup: lookup handles are 20-byte context handles kept per server in a
-- table bounded by `max_handles` (oldest evicted first). Each belongs to the
-- association group of the call that made it and is freed when the group's
-- last connection closes (srv:on_disconnect), so only clients that hold
-- many searches open at once meet the bound. A batch shorter than max_ents ends the search: it comes
-- back with its entries, status EPT_S_NOT_REGISTERED and a zero handle, as Samba
-- does and as smbtorture's rpc.epmapper Lookup_simple requires (it stops at a
-- short batch and then wants that status). A full batch has status 0 and a live
-- handle, even when it took the last entry: the next call gets no entries,
-- EPT_S_NOT_REGISTERED and a zero handle (Lookup_terminate_search frees a
-- handle after a full first batch of 2).
--
-- mgmt: inq_if_ids lists every interface of the server; inq_stats gives calls
-- in / calls out counted by the dispatcher, and packets in / out as the same
-- numbers (a lower bound: the core does not count fragments);
-- stop_server_listening is refused with rpc_s_access_denied (5);
-- inq_princ_name answers rpc_s_unknown_authn_service (1747), the server having
-- no authentication.

local core = require "dcerpc.core"
local ndr = require "dcerpc.ndr"

local M = {}

local EPT_S_NOT_REGISTERED = 0x16c9a0d6
local EPT_S_INVALID_ENTRY = 0x16c9a0d7
local EPT_S_CANT_PERFORM_OP = 0x16c9a0d8
local RPC_S_ACCESS_DENIED = 5
local RPC_X_BAD_STUB_DATA = 0x6f7
local RPC_S_UNKNOWN_AUTHN_SERVICE = 1747
local NIL_UUID = "00000000-0000-0000-0000-000000000000"
local ZERO_HANDLE = string.rep("\0", 20)
local NDR20 = { uuid = "8a885d04-1ceb-11c9-9fe8-08002b104860", major = 2, minor = 0 }

local RPC_C_EP_ALL_ELTS, RPC_C_EP_MATCH_BY_IF, RPC_C_EP_MATCH_BY_OBJ, RPC_C_EP_MATCH_BY_BOTH = 0, 1, 2, 3
local RPC_C_VERS_ALL, RPC_C_VERS_COMPATIBLE, RPC_C_VERS_EXACT, RPC_C_VERS_MAJOR_ONLY, RPC_C_VERS_UPTO = 1, 2, 3, 4, 5

local function norm_uuid(u)
  if u == nil then return NIL_UUID end
  return u:lower()
end

---------------------------------------------------------------- database

local Db = {}
Db.__index = Db

local function new_db(opts)
  return setmetatable({
    entries = {},                    -- in insertion order
    handles = {}, handle_order = {}, -- lookup handles: bytes -> state; FIFO for eviction
    by_conn = {},                    -- owner (association group) -> { [handle] = true }
    max_handles = opts.max_handles or 1024,
    serial = 0,
  }, Db)
end

-- A database entry from an object uuid, encoded tower and annotation.
-- Returns the entry or nil when the tower does not decode.
local function make_entry(object, tower, annotation)
  local t = core.tower_decode(tower)
  if not t or not t.interface then return nil end
  return {
    object = norm_uuid(object), tower = tower, annotation = annotation or "",
    uuid = norm_uuid(t.interface.uuid), major = t.interface.major, minor = t.interface.minor,
    protseq = t.protseq, protocol = t.protocol, endpoint = t.endpoint,
  }
end

function Db:insert(e, replace)
  local list = self.entries
  if replace then
    -- [C706] ept_insert: replace entries with the same object, interface and protocol sequence
    for i = #list, 1, -1 do
      local o = list[i]
      if o.object == e.object and o.uuid == e.uuid and o.major == e.major and o.minor == e.minor
         and o.protocol == e.protocol and o.protseq == e.protseq then
        table.remove(list, i)
      end
    end
  else
    for _, o in ipairs(list) do
      if o.object == e.object and o.tower == e.tower then
        o.annotation = e.annotation
        return o
      end
    end
  end
  list[#list + 1] = e
  return e
end

-- Remove the entries with this object and tower; returns how many.
function Db:delete(object, tower)
  local n, list = 0, self.entries
  object = norm_uuid(object)
  for i = #list, 1, -1 do
    if list[i].object == object and list[i].tower == tower then
      table.remove(list, i)
      n = n + 1
    end
  end
  return n
end

local function vers_match(e, want, opt)
  if opt == RPC_C_VERS_COMPATIBLE then
    return e.major == want.vers_major and e.minor >= want.vers_minor
  elseif opt == RPC_C_VERS_EXACT then
    return e.major == want.vers_major and e.minor == want.vers_minor
  elseif opt == RPC_C_VERS_MAJOR_ONLY then
    return e.major == want.vers_major
  elseif opt == RPC_C_VERS_UPTO then
    return e.major < want.vers_major or (e.major == want.vers_major and e.minor <= want.vers_minor)
  end
  return true                                        -- RPC_C_VERS_ALL (and anything else)
end

function Db:lookup(inquiry, object, ifid, vers_option)
  local out = {}
  object = norm_uuid(object)
  local by_if = (inquiry == RPC_C_EP_MATCH_BY_IF or inquiry == RPC_C_EP_MATCH_BY_BOTH) and ifid
  local by_obj = inquiry == RPC_C_EP_MATCH_BY_OBJ or inquiry == RPC_C_EP_MATCH_BY_BOTH
  for _, e in ipairs(self.entries) do
    local ok = true
    if by_if then
      ok = e.uuid == norm_uuid(ifid.uuid) and vers_match(e, ifid, vers_option)
    end
    if ok and by_obj then ok = e.object == object end
    if ok then out[#out + 1] = e end
  end
  return out
end

-- [C706] 2.3 / ept_map: same interface uuid and major version, the entry's
-- minor version at least the client's, the same protocol sequence; an object
-- other than nil matches entries of that object, then entries of the nil object.
function Db:map(t, object)
  object = norm_uuid(object)
  local uuid = norm_uuid(t.interface.uuid)
  local exact, fallback = {}, {}
  for _, e in ipairs(self.entries) do
    if e.uuid == uuid and e.major == t.interface.major and e.minor >= t.interface.minor
       and e.protocol == t.protocol and e.protseq == t.protseq then
      if e.object == object then exact[#exact + 1] = e
      elseif object == NIL_UUID or e.object == NIL_UUID then fallback[#fallback + 1] = e end
    end
  end
  if #exact == 0 then return fallback end
  return exact
end

-- Forget handle h (and its place in its connection's set).
function Db:drop(h)
  local st = self.handles[h]
  if not st then return false end
  self.handles[h] = nil
  local set = st.conn and self.by_conn[st.conn]
  if set then
    set[h] = nil
    if next(set) == nil then self.by_conn[st.conn] = nil end
  end
  return true
end

-- state.conn: the owner, the association group of the call that made the
-- handle (freed when the group ends)
function Db:new_handle(state)
  self.serial = self.serial + 1
  local h = string.pack("<I4I4I4I4I4", 0, self.serial, math.random(0, 0xffffffff),
                        math.random(0, 0xffffffff), math.random(1, 0xffffffff))
  self.handles[h] = state
  if state.conn then
    local set = self.by_conn[state.conn]
    if not set then set = {}; self.by_conn[state.conn] = set end
    set[h] = true
  end
  local order = self.handle_order
  order[#order + 1] = h
  -- bounded: drop freed handles from the order, then evict the oldest live ones
  if #order > 2 * self.max_handles then
    local keep = {}
    for _, k in ipairs(order) do if self.handles[k] then keep[#keep + 1] = k end end
    order = keep
    self.handle_order = keep
  end
  local live = 0
  for _ in pairs(self.handles) do live = live + 1 end
  local i = 1
  while live > self.max_handles and i <= #order do
    local k = order[i]
    if self.handles[k] and k ~= h then self:drop(k); live = live - 1 end
    i = i + 1
  end
  return h
end

function Db:free_handle(h)
  return self:drop(h)
end

-- The owner (association group) ended: free its handles. Returns how many.
function Db:free_connection(conn)
  local set, n = self.by_conn[conn], 0
  if not set then return 0 end
  for h in pairs(set) do
    if self.handles[h] then self.handles[h] = nil; n = n + 1 end
  end
  self.by_conn[conn] = nil
  return n
end

function Db:live_handles()
  local n = 0
  for _ in pairs(self.handles) do n = n + 1 end
  return n
end

---------------------------------------------------------------- epm handlers

local function twr(bytes) return { tower_length = #bytes, tower_octet_string = bytes } end

-- ept_insert / ept_delete / ept_mgmt_delete change the map: only from the
-- local machine unless the server was told otherwise (as Windows does).
local function may_change(call, opts)
  if opts.epm_remote_insert then return true end
  local p = call.peer or ""
  return p:match("^127%.") ~= nil or p:match("^%[::1%]") ~= nil or p:match("^::1") ~= nil
end

local function epm_handlers(srv, db, opts)
  local h = {}

  function h.ept_insert(call, a)
    if not may_change(call, opts) then return { status = EPT_S_CANT_PERFORM_OP } end
    local new = {}
    for i = 1, a.num_ents do
      local ent = a.entries[i]
      local e = ent and ent.tower and make_entry(ent.object, ent.tower.tower_octet_string, ent.annotation)
      if not e then return { status = EPT_S_INVALID_ENTRY } end
      new[#new + 1] = e
    end
    if #db.entries + #new > (opts.epm_max_entries or 4096) then return { status = EPT_S_CANT_PERFORM_OP } end
    for _, e in ipairs(new) do db:insert(e, a.replace ~= 0) end
    return { status = 0 }
  end

  function h.ept_delete(call, a)
    if not may_change(call, opts) then return { status = EPT_S_CANT_PERFORM_OP } end
    local st = 0
    for i = 1, a.num_ents do
      local ent = a.entries[i]
      if not (ent and ent.tower) then return { status = EPT_S_INVALID_ENTRY } end
      if db:delete(ent.object, ent.tower.tower_octet_string) == 0 then st = EPT_S_NOT_REGISTERED end
    end
    return { status = st }
  end

  function h.ept_lookup(call, a)
    local handle, state = a.entry_handle, nil
    if handle ~= ZERO_HANDLE then
      state = db.handles[handle]
      if not state then
        return { entry_handle = ZERO_HANDLE, num_ents = 0, entries = {}, status = EPT_S_NOT_REGISTERED }
      end
    else
      local list = db:lookup(a.inquiry_type, a.object, a.Ifid, a.vers_option)
      if #list == 0 then
        return { entry_handle = ZERO_HANDLE, num_ents = 0, entries = {}, status = EPT_S_NOT_REGISTERED }
      end
      state = { list = list, pos = 1, conn = call.assoc_group }
      handle = db:new_handle(state)
    end
    local out = {}
    local last = math.min(#state.list, state.pos + a.max_ents - 1)
    for i = state.pos, last do
      local e = state.list[i]
      out[#out + 1] = { object = e.object, tower = twr(e.tower), annotation = e.annotation:sub(1, 63) }
    end
    state.pos = last + 1
    -- a short batch ends the search; a full one keeps the handle even when it
    -- took the last entry (the next call then gets no entries and the status)
    if state.pos > #state.list and (#out < a.max_ents or #out == 0) then
      db:free_handle(handle)
      return { entry_handle = ZERO_HANDLE, num_ents = #out, entries = out, status = EPT_S_NOT_REGISTERED }
    end
    return { entry_handle = handle, num_ents = #out, entries = out, status = 0 }
  end

  function h.ept_map(call, a)
    local none = { entry_handle = ZERO_HANDLE, num_towers = 0, ITowers = {}, status = EPT_S_NOT_REGISTERED }
    local t = a.map_tower and core.tower_decode(a.map_tower.tower_octet_string)
    if not t or not t.interface then return none end
    local found = db:map(t, a.obj)
    if #found == 0 then return none end
    local towers = {}
    for i = 1, math.min(#found, a.max_towers) do towers[i] = twr(found[i].tower) end
    return { entry_handle = ZERO_HANDLE, num_towers = #towers, ITowers = towers, status = 0 }
  end

  function h.ept_lookup_handle_free(call, a)
    local had = db:free_handle(a.entry_handle)
    return { entry_handle = ZERO_HANDLE, status = had and 0 or EPT_S_INVALID_ENTRY }
  end

  function h.ept_inq_object(call, a)
    return { ept_object = NIL_UUID, status = 0 }
  end

  function h.ept_mgmt_delete(call, a)
    if not may_change(call, opts) then return { status = EPT_S_CANT_PERFORM_OP } end
    if not a.tower then return { status = EPT_S_INVALID_ENTRY } end
    local n, list = 0, db.entries
    local obj = norm_uuid(a.object)
    for i = #list, 1, -1 do
      local e = list[i]
      if e.tower == a.tower.tower_octet_string and (a.object_speced == 0 or e.object == obj) then
        table.remove(list, i)
        n = n + 1
      end
    end
    return { status = n > 0 and 0 or EPT_S_NOT_REGISTERED }
  end

  return h
end

---------------------------------------------------------------- mgmt handlers

local function mgmt_handlers(srv)
  local h = {}
  function h.rpc__mgmt_inq_if_ids(call, a)
    local ids = {}
    for _, ent in ipairs(srv.ifaces) do
      local i = ent.iface
      ids[#ids + 1] = { uuid = i.uuid, vers_major = i.major, vers_minor = i.minor }
    end
    return { if_id_vector = { count = #ids, if_id = ids }, status = 0 }
  end
  function h.rpc__mgmt_inq_stats(call, a)
    local c = srv._mgmt_counters
    local all = { c.calls_in, c.calls_out, c.calls_in, c.calls_out }
    local n = math.min(a.count, 4)
    local st = {}
    for i = 1, n do st[i] = all[i] & 0xffffffff end
    return { count = n, statistics = st, status = 0 }
  end
  function h.rpc__mgmt_is_server_listening(call, a)
    return { status = 0, result = srv.closed and 0 or 1 }
  end
  function h.rpc__mgmt_stop_server_listening(call, a)
    return { status = RPC_S_ACCESS_DENIED }
  end
  function h.rpc__mgmt_inq_princ_name(call, a)
    return { princ_name = "", status = RPC_S_UNKNOWN_AUTHN_SERVICE }
  end
  return h
end

---------------------------------------------------------------- server glue

-- Entries for every (interface, endpoint) pair of the server not yet entered.
local function sync(srv)
  local st = srv._epm
  if not st then return end
  for _, ent in ipairs(srv.ifaces) do
    local i = ent.iface
    if i.uuid:lower() ~= "afa8bd80-7d8a-11c9-bef4-08002b102989" then
      for _, ep in ipairs(srv.endpoints) do
        local key = i.uuid:lower() .. "/" .. i.major .. "." .. i.minor .. "@" .. ep
        if not st.auto[key] then
          local pb = core.binding_parse(ep)
          if pb then
            local tower = core.tower_encode {
              interface = { uuid = i.uuid, major = i.major, minor = i.minor }, syntax = NDR20,
              protseq = pb.protseq, endpoint = pb.endpoint, host = pb.host,
            }
            local e = make_entry(nil, tower, (ent.opts and ent.opts.annotation) or i.name or "")
            if e then st.db:insert(e, false); st.auto[key] = true end
          end
        end
      end
    end
  end
end

-- Called by dcerpc.server when a server is made: mgmt unless opts.mgmt == false,
-- the endpoint mapper when opts.epmapper; counts calls for mgmt inq_stats.
function M.attach(srv, opts, dispatch)
  srv._mgmt_counters = { calls_in = 0, calls_out = 0 }
  local c = srv._mgmt_counters
  local mgmt_key, stats_fn, stats_h
  local function out(...)           -- count the answer, pass the results through
    c.calls_out = c.calls_out + 1
    return ...
  end
  srv.core:set_dispatch(function(info)
    c.calls_in = c.calls_in + 1
    if info.iface == mgmt_key and info.opnum == 1 and mgmt_key then
      local r
      -- rpc__mgmt_inq_stats: C706 sends one [in] uint32 (count), Samba's
      -- mgmt.idl (smbtorture rpc.mgmt) two (max_count, unknown); the replies
      -- are the same bytes. Accept both: decode the first, allow 4 more.
      local args = #info.stub <= 8 and ndr.decode_call(stats_fn, "in", info.stub,
                                                        { drep = info.drep, partial = true })
      if type(args) ~= "table" then
        r = table.pack(nil, RPC_X_BAD_STUB_DATA, true)
      else
        r = table.pack(ndr.encode_call(stats_fn, "out", stats_h(nil, args), { request = args }))
      end
      return out(table.unpack(r, 1, r.n))
    end
    return out(dispatch(info))
  end)
  srv._epm_opts = opts
  if opts.mgmt ~= false then
    local mgmt = require "dcerpc.iface.mgmt"
    local h = mgmt_handlers(srv)
    srv:register(mgmt, h)
    mgmt_key, stats_fn, stats_h = #srv.ifaces, mgmt.functions.rpc__mgmt_inq_stats, h.rpc__mgmt_inq_stats
  end
  if opts.epmapper then M.enable(srv) end
end

-- srv:enable_epmapper([opts]): serve epm on every endpoint, with the map kept
-- in step with srv:register / srv:listen. Returns srv.
function M.enable(srv, opts)
  if srv._epm then return srv end
  opts = opts or srv._epm_opts or {}
  local db = new_db { max_handles = opts.epm_max_handles }
  srv._epm = { db = db, auto = {} }
  srv:register(require "dcerpc.iface.epm", epm_handlers(srv, db, opts))
  srv:on_disconnect(function(_, group, ended) if ended then db:free_connection(group) end end)
  sync(srv)
  return srv
end

M.sync = sync

-- srv:epm_insert{ interface = desc|name | { uuid=, major=, minor= },
--                 binding = "ncacn_ip_tcp:HOST[PORT]" | tower = bytes,
--                 object = uuid, annotation = s, replace = bool } -> true | nil, err
function M.insert(srv, e)
  assert(type(e) == "table", "table expected")
  if not srv._epm then M.enable(srv) end
  local tower = e.tower
  if not tower then
    local i = e.interface
    if type(i) == "string" then i = require("dcerpc.iface." .. i) end
    assert(type(i) == "table" and i.uuid, "interface expected")
    local pb, perr = core.binding_parse(assert(e.binding, "binding or tower expected"))
    if not pb then return nil, perr end
    tower = core.tower_encode {
      interface = { uuid = i.uuid, major = i.major or 0, minor = i.minor or 0 }, syntax = NDR20,
      protseq = pb.protseq, endpoint = pb.endpoint, host = pb.host,
    }
  end
  local ent = make_entry(e.object, tower, e.annotation)
  if not ent then return nil, core.error(EPT_S_INVALID_ENTRY, nil, "tower does not decode") end
  srv._epm.db:insert(ent, e.replace)
  return true
end

-- srv:epm_delete{ object =, tower = bytes | interface =, binding = } -> number removed
function M.delete(srv, e)
  if not srv._epm then return 0 end
  local tower = e.tower
  if not tower then
    local i = e.interface
    if type(i) == "string" then i = require("dcerpc.iface." .. i) end
    local pb = assert(core.binding_parse(e.binding))
    tower = core.tower_encode {
      interface = { uuid = i.uuid, major = i.major or 0, minor = i.minor or 0 }, syntax = NDR20,
      protseq = pb.protseq, endpoint = pb.endpoint, host = pb.host,
    }
  end
  return srv._epm.db:delete(e.object, tower)
end

-- srv:epm_entries() -> { { object=, interface = {uuid,major,minor}, binding=, annotation= }, ... }
function M.entries(srv)
  local out = {}
  if not srv._epm then return out end
  for _, e in ipairs(srv._epm.db.entries) do
    out[#out + 1] = {
      object = e.object, annotation = e.annotation, tower = e.tower,
      interface = { uuid = e.uuid, major = e.major, minor = e.minor },
      binding = core.tower_to_binding(e.tower, { abstract_syntax = false }),
    }
  end
  return out
end

M.EPT_S_NOT_REGISTERED = EPT_S_NOT_REGISTERED
M.new_db = new_db
M.make_entry = make_entry

return M
