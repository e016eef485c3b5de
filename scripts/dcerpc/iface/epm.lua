-- epm: the DCE/RPC endpoint mapper (ept), [C706] Appendix O as extended by
-- [MS-RPCE] 2.2.1.2.
--
-- uuid e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0, all seven operations:
--   ept_insert (0), ept_delete (1), ept_lookup (2), ept_map (3),
--   ept_lookup_handle_free (4), ept_inq_object (5), ept_mgmt_delete (6).
--
-- Names: ept_lookup and ept_map use the parameter names of their [MS-RPCE]
-- redefinitions (2.2.1.2.4: object, Ifid; 2.2.1.2.5: obj, map_tower, ITowers);
-- the other methods and all types use the [C706] Appendix O / nbase.idl names.
--
-- Mapping notes (docs/ndr-dsl.md):
-- * `[in] handle_t h` / hEpMapper is the explicit binding handle: it has no
--   wire representation, so it is not a parameter here.
-- * uuid_p_t, twr_p_t and rpc_if_id_p_t are `[ptr]` typedefs (full pointers);
--   [MS-RPCE] also marks object/Ifid/obj/map_tower `[ptr]` -> ndr.full(...).
--   A NULL pointer is nil.
-- * twr_t is a conformant structure: the max_count of tower_octet_string
--   precedes the structure. The Lua value is
--   { tower_length = n, tower_octet_string = <n-byte Lua string> } with the
--   tower floors still encoded (core.tower_encode / core.tower_decode handle
--   the content). tower_length is the size_is field of the octets: set it
--   to #tower_octet_string (today's encoder also fills a nil tower_length
--   from the string's length, and refuses a mismatch; docs/ndr-dsl.md does
--   not promise either).
-- * ept_lookup_handle_t is a [context_handle]: ndr.context_handle, a 20-byte
--   Lua string; a NULL handle (first call) is 20 zero bytes.
-- * The [out] arrays `[length_is(*num_ents), size_is(max_ents)] ept_entry_t
--   entries[]` and `[size_is(max_towers), length_is(*num_towers)] twr_p_t
--   *ITowers` are top-level conformant varying arrays, described as
--   ndr.ref(ndr.array(...)): no referent id, as on the wire from Windows and
--   Samba (the [ptr] on ITowers in [MS-RPCE] does not add one).
--   The size_is expressions name an [in] parameter (max_ents, max_towers):
--   encoding a response therefore needs that [in] value in the args table,
--   decoding takes max_count from the wire.
-- * error_status_t *status: ndr.ref(ndr.error_status_t), result key "status".

local ndr = require "dcerpc.ndr"

local unsigned32 = ndr.uint32
local error_status_t = ndr.error_status_t

local ept_max_annotation_size = 64

-- nbase.idl: twr_t / twr_p_t
local twr_t = ndr.struct "twr_t" {
  { "tower_length", unsigned32 },
  { "tower_octet_string", ndr.array(ndr.byte, { size_is = "tower_length" }) },
}
local twr_p_t = ndr.full(twr_t)

-- nbase.idl: rpc_if_id_t (RPC_IF_ID in [MS-RPCE])
local rpc_if_id_t = ndr.struct "rpc_if_id_t" {
  { "uuid",       ndr.GUID },
  { "vers_major", ndr.uint16 },
  { "vers_minor", ndr.uint16 },
}

local ept_entry_t = ndr.struct "ept_entry_t" {
  { "object",     ndr.GUID },
  { "tower",      twr_p_t },
  { "annotation", ndr.string { length = ept_max_annotation_size } },
}

local ept_lookup_handle_t = ndr.context_handle

return ndr.interface {
  name = "epm",
  uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa", version = "3.0",
  types = {
    twr_t = twr_t, twr_p_t = twr_p_t,
    rpc_if_id_t = rpc_if_id_t, RPC_IF_ID = rpc_if_id_t,
    ept_entry_t = ept_entry_t,
    ept_lookup_handle_t = ept_lookup_handle_t,
  },
  -- kept on the interface object by ndr.interface (extra keys are kept)
  constants = {
    ept_max_annotation_size = ept_max_annotation_size,
    -- ept_lookup inquiry_type
    RPC_C_EP_ALL_ELTS = 0, RPC_C_EP_MATCH_BY_IF = 1, RPC_C_EP_MATCH_BY_OBJ = 2,
    RPC_C_EP_MATCH_BY_BOTH = 3,
    -- ept_lookup vers_option
    RPC_C_VERS_ALL = 1, RPC_C_VERS_COMPATIBLE = 2, RPC_C_VERS_EXACT = 3,
    RPC_C_VERS_MAJOR_ONLY = 4, RPC_C_VERS_UPTO = 5,
    -- status values
    EPT_S_CANT_PERFORM_OP = 0x16c9a0d8, EPT_S_INVALID_ENTRY = 0x16c9a0d7,
    EPT_S_NOT_REGISTERED = 0x16c9a0d6,
  },

  ndr.func(0, "ept_insert") {
    { "num_ents", unsigned32, "in" },
    { "entries",  ndr.ref(ndr.array(ept_entry_t, { size_is = "num_ents" })), "in" },
    { "replace",  unsigned32, "in" },                 -- boolean32
    { "status",   ndr.ref(error_status_t), "out" },
  },

  ndr.func(1, "ept_delete") {
    { "num_ents", unsigned32, "in" },
    { "entries",  ndr.ref(ndr.array(ept_entry_t, { size_is = "num_ents" })), "in" },
    { "status",   ndr.ref(error_status_t), "out" },
  },

  -- [MS-RPCE] 2.2.1.2.4
  ndr.func(2, "ept_lookup") {
    { "inquiry_type", unsigned32, "in" },
    { "object",       ndr.full(ndr.GUID), "in" },
    { "Ifid",         ndr.full(rpc_if_id_t), "in" },
    { "vers_option",  unsigned32, "in" },
    { "entry_handle", ndr.ref(ept_lookup_handle_t), "in,out" },
    { "max_ents",     unsigned32, "in", range = { 0, 500 } },
    { "num_ents",     ndr.ref(unsigned32), "out" },
    { "entries",      ndr.ref(ndr.array(ept_entry_t,
                        { size_is = "max_ents", length_is = "*num_ents" })), "out" },
    { "status",       ndr.ref(error_status_t), "out" },
  },

  -- [MS-RPCE] 2.2.1.2.5
  ndr.func(3, "ept_map") {
    { "obj",          ndr.full(ndr.GUID), "in" },
    { "map_tower",    twr_p_t, "in" },
    { "entry_handle", ndr.ref(ept_lookup_handle_t), "in,out" },
    { "max_towers",   unsigned32, "in", range = { 0, 500 } },
    { "num_towers",   ndr.ref(unsigned32), "out" },
    { "ITowers",      ndr.ref(ndr.array(twr_p_t,
                        { size_is = "max_towers", length_is = "*num_towers" })), "out" },
    { "status",       ndr.ref(error_status_t), "out" },
  },

  ndr.func(4, "ept_lookup_handle_free") {
    { "entry_handle", ndr.ref(ept_lookup_handle_t), "in,out" },
    { "status",       ndr.ref(error_status_t), "out" },
  },

  ndr.func(5, "ept_inq_object") {
    { "ept_object", ndr.ref(ndr.GUID), "out" },
    { "status",     ndr.ref(error_status_t), "out" },
  },

  ndr.func(6, "ept_mgmt_delete") {
    { "object_speced", unsigned32, "in" },            -- boolean32
    { "object",        ndr.full(ndr.GUID), "in" },
    { "tower",         twr_p_t, "in" },
    { "status",        ndr.ref(error_status_t), "out" },
  },
}
