-- mgmt: DCE/RPC remote management interface, [C706] Appendix Q (mgmt.idl),
-- served implicitly on every endpoint by Windows and Samba.
--
-- uuid afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0, all five operations, named
-- as in the IDL (rpc__mgmt_*):
--   rpc__mgmt_inq_if_ids (0), rpc__mgmt_inq_stats (1),
--   rpc__mgmt_is_server_listening (2), rpc__mgmt_stop_server_listening (3),
--   rpc__mgmt_inq_princ_name (4).
-- Samba's mgmt.idl and Wireshark shorten these to inq_if_ids, inq_stats, ...;
-- the DSL has no function aliases, so the short names are added to
-- iface.functions at the end of this file (same function objects; methods on
-- a client are named after fn.name, i.e. the IDL names).
--
-- Interop note, rpc__mgmt_inq_stats: this is the C706 signature (one [in]
-- uint32). Samba 4.17's server expects two [in] uint32 (its mgmt.idl has
-- `[in] uint32 max_count, [in] uint32 unknown`) and faults a 4-byte request
-- with rpc_x_bad_stub_data (0x6f7, seen against the test peer with impacket,
-- which also sends the C706 form). Samba also answers
-- rpc__mgmt_inq_princ_name with nca_s_op_rng_error.
--
-- Mapping notes (docs/ndr-dsl.md):
-- * `[in] handle_t binding_handle` has no wire representation: omitted.
-- * rpc_if_id_vector_p_t and rpc_if_id_p_t are `[ptr]` typedefs (nbase.idl):
--   full pointers. `[out] rpc_if_id_vector_p_t *if_id_vector` is a top-level
--   ref pointer to a full pointer: the reply carries one referent id for the
--   vector, then the conformant structure (max_count first), then one
--   referent id per element, then the rpc_if_id_t referents.
-- * rpc__mgmt_inq_stats: `[in, out] unsigned32 *count` and
--   `[out, size_is(*count)] unsigned32 statistics[*]`.
-- * rpc__mgmt_inq_princ_name: `[out, string, size_is(princ_name_size)] char
--   princ_name[]`: a conformant varying char string whose max_count is the
--   [in] princ_name_size -> ndr.ref(ndr.string) with size_is on the field.

local ndr = require "dcerpc.ndr"

local unsigned32 = ndr.uint32
local error_status_t = ndr.error_status_t

local rpc_if_id_t = ndr.struct "rpc_if_id_t" {
  { "uuid",       ndr.GUID },
  { "vers_major", ndr.uint16 },
  { "vers_minor", ndr.uint16 },
}
local rpc_if_id_p_t = ndr.full(rpc_if_id_t)

local rpc_if_id_vector_t = ndr.struct "rpc_if_id_vector_t" {
  { "count", unsigned32 },
  { "if_id", ndr.array(rpc_if_id_p_t, { size_is = "count" }) },
}
local rpc_if_id_vector_p_t = ndr.full(rpc_if_id_vector_t)


local iface = ndr.interface {
  name = "mgmt",
  uuid = "afa8bd80-7d8a-11c9-bef4-08002b102989", version = "1.0",
  types = {
    rpc_if_id_t = rpc_if_id_t, rpc_if_id_p_t = rpc_if_id_p_t,
    rpc_if_id_vector_t = rpc_if_id_vector_t,
    rpc_if_id_vector_p_t = rpc_if_id_vector_p_t,
  },
  -- kept on the interface object by ndr.interface (extra keys are kept)
  constants = {
    -- indexes (1-based in Lua: +1) into rpc__mgmt_inq_stats' statistics
    rpc_c_stats_calls_in = 0, rpc_c_stats_calls_out = 1,
    rpc_c_stats_pkts_in = 2, rpc_c_stats_pkts_out = 3,
  },

  ndr.func(0, "rpc__mgmt_inq_if_ids") {
    { "if_id_vector", ndr.ref(rpc_if_id_vector_p_t), "out" },
    { "status",       ndr.ref(error_status_t), "out" },
  },

  ndr.func(1, "rpc__mgmt_inq_stats") {
    { "count",      ndr.ref(unsigned32), "in,out" },
    { "statistics", ndr.ref(ndr.array(unsigned32, { size_is = "*count" })), "out" },
    { "status",     ndr.ref(error_status_t), "out" },
  },

  ndr.func(2, "rpc__mgmt_is_server_listening") {
    { "status", ndr.ref(error_status_t), "out" },
    returns = unsigned32,                              -- boolean32
  },

  ndr.func(3, "rpc__mgmt_stop_server_listening") {
    { "status", ndr.ref(error_status_t), "out" },
  },

  ndr.func(4, "rpc__mgmt_inq_princ_name") {
    { "authn_proto",     unsigned32, "in" },
    { "princ_name_size", unsigned32, "in" },
    { "princ_name",      ndr.ref(ndr.string), "out", size_is = "princ_name_size" },
    { "status",          ndr.ref(error_status_t), "out" },
  },
}

for short, long in pairs {
  inq_if_ids = "rpc__mgmt_inq_if_ids", inq_stats = "rpc__mgmt_inq_stats",
  is_server_listening = "rpc__mgmt_is_server_listening",
  stop_server_listening = "rpc__mgmt_stop_server_listening",
  inq_princ_name = "rpc__mgmt_inq_princ_name",
} do
  iface.functions[short] = iface.functions[long]
end

return iface
