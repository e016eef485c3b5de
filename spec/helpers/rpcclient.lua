-- spec/helpers/rpcclient.lua: Samba's rpcclient as the reference client of the
-- interop specs, against the Samba AD DC peer (peers.ad_dc()) with NTLM or
-- Kerberos.
--
--   local rpcclient = require "helpers.rpcclient"
--   local dc = peers.ad_dc()
--   local out = rpcclient.ntlm(dc, "ncacn_ip_tcp:127.0.0.1[seal]", "enumdomusers")
--   local out, ccache = rpcclient.kerberos(dc, "ncacn_ip_tcp:127.0.0.1[krb5,seal]", "enumdomusers")
--   rpcclient.users(out)     -- { "Administrator=500", "alice=1102", ... } sorted
--
-- kerberos() runs `rpcclient --use-kerberos=required` (no NTLM fallback) with
-- the peer's krb5.conf and a ccache of its own, filled from alice's keytab by
-- kinit() (the peer's own ccache is left alone). The DC's name is added to the
-- binding as target_hostname (ncacn_ip_tcp) or made the host (ncacn_np, with
-- -I for the address): Samba's client refuses Kerberos to a bare IP address.
-- Every call raises when rpcclient fails, with its output.

local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.quote = q

-- Run a shell command (without an ASan LD_PRELOAD meant for the Lua process:
-- Samba's tools hang under it); returns its output, ok, exit code.
function M.sh(cmd)
  local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok == true, code
end

-- A fresh ccache for the specs with alice's TGT (kinit from the keytab);
-- returns its path. `path` defaults to <peer dir>/spec.ccache.
function M.kinit(env, path)
  path = path or (env.SAMBA_DC_DIR .. "/spec.ccache")
  os.remove(path)
  local out, ok = M.sh(string.format("env KRB5_CONFIG=%s KRB5CCNAME=%s kinit -k -t %s %s",
    q(env.SAMBA_DC_KRB5_CONFIG), q("FILE:" .. path), q(env.SAMBA_DC_KEYTAB),
    q(env.SAMBA_DC_USER .. "@" .. env.SAMBA_DC_REALM)))
  assert(ok, "kinit failed: " .. out)
  return path
end

-- The service principals a ccache holds tickets for (klist), as a set.
function M.tickets(env, ccache)
  local out, ok = M.sh(string.format("env KRB5_CONFIG=%s klist -c %s", q(env.SAMBA_DC_KRB5_CONFIG), q("FILE:" .. ccache)))
  assert(ok, "klist failed: " .. out)
  local set = {}
  for p in out:gmatch("%d%d:%d%d:%d%d%s+([^%s]+@[^%s]+)") do set[p] = true end
  return set
end

-- The binding with the DC's host name where Kerberos needs it.
function M.krb5_binding(env, binding)
  local transport, host, rest = binding:match("^([%w_]+):([^%[]*)(.*)$")
  assert(transport, "bad binding " .. binding)
  if transport == "ncacn_np" then
    return transport .. ":" .. env.SAMBA_DC_HOSTNAME .. rest
  end
  if rest == "" then return binding .. "[target_hostname=" .. env.SAMBA_DC_HOSTNAME .. "]" end
  if rest:find("target_hostname=", 1, true) then return binding end
  return transport .. ":" .. host .. rest:gsub("%]$", ",target_hostname=" .. env.SAMBA_DC_HOSTNAME .. "]")
end

-- rpcclient `cmds` (';'-separated) as the peer's user with NTLM(SSP) (or
-- SPNEGO with NTLM inside, rpcclient's choice); returns its output.
function M.ntlm(env, binding, cmds)
  local out, ok, code = M.sh(string.format("timeout 60 rpcclient -s %s -U %s %s -c %s",
    q(env.SAMBA_DC_CLIENT_CONF), q(env.SAMBA_DC_DOMAIN .. "\\" .. env.SAMBA_DC_USER .. "%" .. env.SAMBA_DC_PASSWORD),
    q(binding), q(cmds)))
  assert(ok, "rpcclient " .. binding .. " failed (" .. tostring(code) .. "): " .. out)
  return out
end

-- rpcclient `cmds` with Kerberos only (--use-kerberos=required): the binding
-- gets the DC's name (krb5_binding). opts (or a ccache path in its place):
--   ccache   the ccache to use; default a fresh one from kinit()
--   debug    true: run at -d10, so that the output also holds rpcclient's PDU
--            dumps (read them with auth())
-- Returns the output and the ccache path (its tickets show which service
-- rpcclient asked for: host/ over TCP, cifs/ over SMB).
function M.kerberos(env, binding, cmds, opts)
  if type(opts) ~= "table" then opts = { ccache = opts } end
  local ccache = opts.ccache or M.kinit(env)
  local b = M.krb5_binding(env, binding)
  local out, ok, code = M.sh(string.format(
    "env KRB5_CONFIG=%s KRB5CCNAME=%s timeout 60 rpcclient -s %s --use-kerberos=required --use-krb5-ccache=%s -I %s %s%s -c %s",
    q(env.SAMBA_DC_KRB5_CONFIG), q("FILE:" .. ccache), q(env.SAMBA_DC_CLIENT_CONF), q("FILE:" .. ccache),
    q(env.SAMBA_DC_HOST), opts.debug and "-d10 " or "", q(b), q(cmds)))
  assert(ok, "rpcclient (Kerberos) " .. b .. " failed (" .. tostring(code) .. "): " .. out)
  return out, ccache
end

-- From -d10 output: the sets of DCE/RPC auth_type and auth_level numbers in
-- the PDUs rpcclient dumped ({ [16] = true }, { [6] = true } for [krb5,seal];
-- empty over ncacn_np without RPC-level auth, where SMB carries Kerberos).
function M.auth(out)
  local types, levels = {}, {}
  for n in out:gmatch("auth_type%s*: DCERPC_AUTH_TYPE_[%w_]+ %((%d+)%)") do types[tonumber(n)] = true end
  for n in out:gmatch("auth_level%s*: DCERPC_AUTH_LEVEL_[%w_]+ %((%d+)%)") do levels[tonumber(n)] = true end
  return types, levels
end

-- enumdomusers output -> sorted { "name=rid" }
function M.users(out)
  local list = {}
  for n, rid in out:gmatch("user:%[([^%]]*)%] rid:%[0x(%x+)%]") do list[#list + 1] = n .. "=" .. tonumber(rid, 16) end
  table.sort(list)
  return list
end

-- lookupnames output -> { name = { sid = "S-1-...", use = n } }
function M.names(out)
  local map = {}
  for n, sid, use in out:gmatch("([^\n]-) (S%-[%d%-]+) %([^:]*: (%d+)%)") do map[n] = { sid = sid, use = tonumber(use) } end
  return map
end

-- netshareenumall output -> sorted share names
function M.shares(out)
  local list = {}
  for name in out:gmatch("netname: ([^\n]+)") do list[#list + 1] = name end
  table.sort(list)
  return list
end

return M
