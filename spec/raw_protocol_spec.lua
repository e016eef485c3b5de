-- raw_protocol_spec: Samba's own DCE/RPC conformance tests (python3-samba's
-- samba/tests/dcerpc/raw_protocol.py, written against Windows and run by
-- Samba's selftest) pointed at OUR server: examples/echo-server.lua with the
-- endpoint mapper and mgmt on port 135 of a spare loopback address, user
-- alice for NTLM and the MIT KDC's service keytab for Kerberos. They send
-- hand-built PDUs (binds, alter_contexts, fragments, several security
-- contexts, hostile orders) and check every field of the answers.
--
-- The module runs twice (about 5 s each): once with a realm no KDC serves
-- (SPNEGO falls back to NTLM, the krb5 tests cannot run), once against the
-- project's MIT KDC (test/peers/mit-kdc.sh, realm TEST.RPC, target
-- luasrv.test.rpc): there the client's SPNEGO picks Kerberos and the krb5
-- tests run. MUST_PASS pass in both runs, MUST_PASS_KRB5 in the second; the
-- rest need SMB named pipes, netlogon/lsarpc, or Windows behaviours not
-- matched yet (tracked as their own issue). #interop: starts our server
-- itself; needs root for port 135. Under CI=true nothing is skipped.

local examples = require "helpers.examples"
local peers = require "helpers.peers"
local core = require "dcerpc.core"
local CI = os.getenv("CI") == "true"
local MODULE = "/usr/lib/python3/dist-packages/samba/tests/dcerpc/raw_protocol.py"
local HOST = "127.0.0.7"

local MUST_PASS = {
  "test_alloc_hint",
  "test_alter_no_auth_no_ctx",
  "test_assoc_group_diff1",
  "test_assoc_group_fail1",
  "test_assoc_group_fail2",
  "test_assoc_group_ok1",
  "test_auth_none_0_bind",
  "test_auth_none_255_bind",
  "test_auth_none_7_bind",
  "test_auth_none_call_bind",
  "test_auth_none_call_request",
  "test_auth_none_connect_bind",
  "test_auth_none_connect_request",
  "test_auth_none_integrity_bind",
  "test_auth_none_none_bind",
  "test_auth_none_none_request",
  "test_auth_none_packet_bind",
  "test_auth_none_packet_request",
  "test_auth_none_privacy_bind",
  "test_co_cancel_no_request",
  "test_co_cancel_request_after_first",
  "test_multiple_auth_limit",
  "test_neg_xmit_ffff_ffff",
  "test_no_auth_bind_time_keep_on_orphan_ignore_additional",
  "test_no_auth_bind_time_keep_on_orphan_simple",
  "test_no_auth_bind_time_none_ignore_additional",
  "test_no_auth_bind_time_none_simple",
  "test_no_auth_bind_time_only_first",
  "test_no_auth_bind_time_sec_ctx_ignore_additional",
  "test_no_auth_bind_time_twice",
  "test_no_auth_invalid_valid_request",
  "test_no_auth_no_ctx",
  "test_no_auth_presentation_ctx_invalid1",
  "test_no_auth_presentation_ctx_invalid2",
  "test_no_auth_presentation_ctx_invalid3",
  "test_no_auth_presentation_ctx_valid1",
  "test_no_auth_presentation_ctx_valid2",
  "test_no_auth_request",
  "test_no_auth_request_alter_pfc_00",
  "test_no_auth_request_alter_pfc_08",
  "test_no_auth_request_alter_pfc_CONC_MPX",
  "test_no_auth_request_alter_pfc_DID_NOT_EXECUTE",
  "test_no_auth_request_alter_pfc_FIRST",
  "test_no_auth_request_alter_pfc_HDR_SIGNING",
  "test_no_auth_request_alter_pfc_LAST",
  "test_no_auth_request_alter_pfc_MAYBE",
  "test_no_auth_request_alter_pfc_OBJECT_UUID",
  "test_no_auth_request_alter_pfc_ff",
  "test_no_auth_request_bind_pfc_00",
  "test_no_auth_request_bind_pfc_08",
  "test_no_auth_request_bind_pfc_CONC_MPX",
  "test_no_auth_request_bind_pfc_DID_NOT_EXECUTE",
  "test_no_auth_request_bind_pfc_FIRST",
  "test_no_auth_request_bind_pfc_HDR_SIGNING",
  "test_no_auth_request_bind_pfc_LAST",
  "test_no_auth_request_bind_pfc_MAYBE",
  "test_no_auth_request_bind_pfc_OBJECT_UUID",
  "test_no_auth_valid_valid_request",
  "test_ntlm_hdr_signing_integrity",
  "test_ntlm_hdr_signing_packet",
  "test_ntlm_signing_integrity",
  "test_ntlm_signing_packet",
  "test_ntlmssp_auth_MPX_middle_all_111",
  "test_ntlmssp_auth_MPX_middle_alone",
  "test_ntlmssp_auth_MPX_middle_auth_all_111",
  "test_ntlmssp_auth_MPX_middle_auth_context_111",
  "test_ntlmssp_auth_MPX_middle_auth_level_111",
  "test_ntlmssp_auth_MPX_middle_auth_type_111",
  "test_ntlmssp_auth_middle_all_111",
  "test_ntlmssp_auth_middle_alone",
  "test_ntlmssp_auth_middle_auth_all_111",
  "test_ntlmssp_auth_middle_auth_context_111",
  "test_ntlmssp_auth_middle_auth_level_111",
  "test_ntlmssp_auth_middle_auth_type_111",
  "test_ntlmssp_multi_auth_MPX_first1_firstNext111",
  "test_ntlmssp_multi_auth_MPX_first1_firstNextNone",
  "test_ntlmssp_multi_auth_MPX_first1_firstNextNone111",
  "test_ntlmssp_multi_auth_MPX_first1_firstSame111",
  "test_ntlmssp_multi_auth_MPX_first1_firstSameNone",
  "test_ntlmssp_multi_auth_MPX_first1_firstSameNone111",
  "test_ntlmssp_multi_auth_MPX_first1_lastNext111",
  "test_ntlmssp_multi_auth_MPX_first1_lastNextNone",
  "test_ntlmssp_multi_auth_MPX_first1_lastNextNone111",
  "test_ntlmssp_multi_auth_MPX_first1_lastSameNone",
  "test_ntlmssp_multi_auth_MPX_first1_lastSameNone111",
  "test_ntlmssp_multi_auth_first1_firstNext111",
  "test_ntlmssp_multi_auth_first1_firstNext2",
  "test_ntlmssp_multi_auth_first1_firstNextNone",
  "test_ntlmssp_multi_auth_first1_firstNextNone111",
  "test_ntlmssp_multi_auth_first1_firstSame111",
  "test_ntlmssp_multi_auth_first1_firstSame2",
  "test_ntlmssp_multi_auth_first1_firstSameNone",
  "test_ntlmssp_multi_auth_first1_firstSameNone111",
  "test_ntlmssp_multi_auth_first1_lastNext111",
  "test_ntlmssp_multi_auth_first1_lastNext2",
  "test_ntlmssp_multi_auth_first1_lastNextNone",
  "test_ntlmssp_multi_auth_first1_lastNextNone111",
  "test_ntlmssp_multi_auth_first1_lastSame111",
  "test_ntlmssp_multi_auth_first1_lastSame2",
  "test_ntlmssp_multi_auth_first1_lastSameNone",
  "test_ntlmssp_multi_auth_first1_lastSameNone111",
  "test_orphaned_no_request",
  "test_spnego_0_bind",
  "test_spnego_255_bind",
  "test_spnego_7_bind",
  "test_spnego_auth_pad_fail_alter",
  "test_spnego_auth_pad_fail_bind",
  "test_spnego_change_abstract",
  "test_spnego_change_auth_level",
  "test_spnego_change_auth_type3",
  "test_spnego_connect_bind_none",
  "test_spnego_connect_bind_seal",
  "test_spnego_connect_bind_sign",
  "test_spnego_hdr_signing_integrity",
  "test_spnego_hdr_signing_packet",
  "test_spnego_integrity_bind_none",
  "test_spnego_integrity_bind_seal",
  "test_spnego_integrity_bind_sign",
  "test_spnego_none_bind",
  "test_spnego_packet_bind_none",
  "test_spnego_packet_bind_seal",
  "test_spnego_packet_bind_sign",
  "test_spnego_privacy_bind_none",
  "test_spnego_privacy_bind_seal",
  "test_spnego_privacy_bind_sign",
  "test_spnego_signing_integrity",
  "test_spnego_signing_packet",
  "test_spnego_unfinished_request",
}

-- The tests that need Kerberos (auth type 16 with the KDC's tickets):
-- signing with and without header signing, and header signing turned on
-- for the whole connection by a later alter_context (never by an auth3).
local MUST_PASS_KRB5 = {
  "test_krb5_signing_packet",
  "test_krb5_hdr_signing_packet",
  "test_krb5_signing_integrity",
  "test_krb5_hdr_signing_integrity",
  "test_krb5_hdr_sign_delayed1_ok1",
  "test_krb5_hdr_sign_delayed1_fail1",
  "test_krb5_hdr_sign_delayed2_ok1",
  "test_krb5_hdr_sign_delayed2_fail1",
  "test_krb5_hdr_sign_delayed3_fail1",
  "test_spnego_multiple_auth_hdr_signing",
}

local function readable(p) local f = io.open(p) if f then f:close() return true end return false end

local function is_root()
  local p = io.popen("id -u")
  local u = p and p:read("l")
  if p then p:close() end
  return u == "0"
end

-- Run the whole module against HOST; env: the variables raw_testcase.py
-- reads (and KRB5_CONFIG). Returns { [test name] = "successful" | ... }.
local function run_module(env)
  local results = {}
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local f = assert(io.open(dir .. "/smb.conf", "w"))
  f:write(string.format("[global]\n workgroup = %s\n realm = %s\n lock directory = %s\n" ..
                        " state directory = %s\n cache directory = %s\n private dir = %s\n",
                        env.DOMAIN, env.REALM, dir, dir, dir, dir))
  f:close()
  local vars = {}
  for k, v in pairs(env) do vars[#vars + 1] = k .. "='" .. v .. "'" end
  table.sort(vars)
  local cmd = string.format("cd %s && env -u LD_PRELOAD SERVER=%s %s SMB_CONF_PATH=%s/smb.conf timeout 300 " ..
                            "/usr/bin/python3 -m samba.subunit.run samba.tests.dcerpc.raw_protocol 2>&1",
                            dir, HOST, table.concat(vars, " "), dir)
  local p = assert(io.popen(cmd))
  for line in p:lines() do
    local st, name = line:match("^(%a+): samba%.tests%.dcerpc%.raw_protocol%.TestDCERPC_BIND%.(test_[%w_]+)")
    if st == "successful" or st == "failure" or st == "error" or st == "skip" then results[name] = st end
  end
  p:close()
  os.execute("rm -rf " .. dir)
  return results
end

describe("Samba's raw_protocol conformance tests against our server #interop", function()
  local results, kresults, why_not, server, stderr = {}, {}, nil, nil, ""

  setup(function()
    if not readable(MODULE) then why_not = "python3-samba's raw_protocol.py is not installed" return end
    if not is_root() then why_not = "port 135 needs root" return end
    local kdc, kwhy = peers.mit_kdc()
    if not kdc then why_not = "no MIT KDC: " .. tostring(kwhy) return end
    -- the server reads the realm from the KDC's krb5.conf, its keys from the keytab
    core.setenv("KRB5_CONFIG", kdc.KRB5_CONFIG)
    local err
    server, err = examples.start("echo-server.lua", { "--epm", "--user", "alice:Alice-Pass1",
                                                      "--keytab", kdc.MIT_KDC_KEYTAB },
                                 "ncacn_ip_tcp:" .. HOST .. "[135]")
    if not server then why_not = err return end
    results = run_module { USERNAME = "alice", PASSWORD = "Alice-Pass1", DOMAIN = "RPCSRV", REALM = "RPCSRV.LOCAL" }
    kresults = run_module { USERNAME = kdc.MIT_KDC_USER, PASSWORD = kdc.MIT_KDC_PASSWORD, DOMAIN = "TEST",
                            REALM = kdc.MIT_KDC_REALM, TARGET_HOSTNAME = kdc.MIT_KDC_HOSTNAME,
                            KRB5_CONFIG = kdc.KRB5_CONFIG }
  end)

  teardown(function()
    if server then server.close(function(e) stderr = e end) end
  end)

  local function usable()
    if why_not then
      if CI then error("cannot run Samba's raw_protocol tests: " .. why_not) end
      print("skipping raw_protocol tests: " .. why_not)
      return false
    end
    return true
  end

  local function count(r)
    local n, ok = 0, 0
    for _, st in pairs(r) do
      n = n + 1
      if st == "successful" then ok = ok + 1 end
    end
    return n, ok
  end

  it("ran the whole module (194 tests) twice and at least the pinned ones passed", function()
    if not usable() then return end
    local n, ok = count(results)
    local kn, kok = count(kresults)
    assert.is_true(n >= 190, "only " .. n .. " results")
    assert.is_true(kn >= 190, "only " .. kn .. " results with Kerberos")
    assert.is_true(ok >= #MUST_PASS, ok .. " passed, " .. #MUST_PASS .. " pinned")
    assert.is_true(kok >= #MUST_PASS + #MUST_PASS_KRB5, kok .. " passed with Kerberos")
    print(string.format("raw_protocol against our server: %d of %d pass; with Kerberos %d of %d", ok, n, kok, kn))
  end)

  for _, name in ipairs(MUST_PASS) do
    it(name, function()
      if not usable() then return end
      assert.are.equal("successful", results[name], name .. ": " .. tostring(results[name]))
      assert.are.equal("successful", kresults[name], name .. " (Kerberos run): " .. tostring(kresults[name]))
    end)
  end

  for _, name in ipairs(MUST_PASS_KRB5) do
    it(name .. " (Kerberos)", function()
      if not usable() then return end
      assert.are.equal("successful", kresults[name], name .. ": " .. tostring(kresults[name]))
    end)
  end
end)
