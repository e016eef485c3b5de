-- Kerberos with our client against the Samba AD DC: binds per second (a new
-- connection, a Kerberos bind at privacy, SamrConnect2 + SamrCloseHandle),
-- the service ticket cached in the ccache after the first bind ("binds") or
-- asked of the KDC for every bind ("fresh": each bind starts from a ccache
-- holding the TGT alone, the file rewritten), and SamrConnect2 +
-- SamrCloseHandle per second at privacy on one connection, with Kerberos
-- (auth type 16) and with NTLM.
--   lua5.4 bench/krb5_lua.lua HOST HOSTNAME DOMAIN USER PASSWORD CCACHE SECONDS
--     -> KRB5 ours binds|fresh <binds/s>, KRB5 ours calls krb5|ntlm <calls/s>
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"
local host, hostname, domain, user, password, ccache, seconds = table.unpack(arg, 1, 7)
seconds = tonumber(seconds)
if os.getenv("KRB5_CONFIG") then core.setenv("KRB5_CONFIG", os.getenv("KRB5_CONFIG")) end
local server = "\\\\" .. host
local krb = ("ncacn_ip_tcp:%s[krb5,seal,target_hostname=%s]"):format(host, hostname)
local ntlm = ("ncacn_ip_tcp:%s[ntlm,seal]"):format(host)

local now = require("floor").now      -- bench/floor.c's monotonic clock (run.sh builds it)

local function rate(fn)
  fn()
  local n, t0 = 0, now()
  local stop, t = t0 + seconds, t0
  repeat
    fn(); n = n + 1
    t = now()
  until t >= stop
  return n / (t - t0)
end

local function pair(c)
  local h = assert(c:SamrConnect2 { ServerName = server, DesiredAccess = 0x02000000 }).ServerHandle
  assert(c:SamrCloseHandle { SamHandle = h })
end

print(("KRB5 ours binds %.1f"):format(rate(function()
  local c = assert(dcerpc.connect(krb, "samr", { ccache = ccache, timeout = 20 }))
  pair(c)
  c:close()
end)))
-- the TGT-only ccache, copied into a file of our own before every bind
local tgt do
  local f = assert(io.open((ccache:gsub("^FILE:", "")), "rb"))
  tgt = f:read("a")
  f:close()
end
local fresh = os.tmpname()
print(("KRB5 ours fresh %.1f"):format(rate(function()
  local f = assert(io.open(fresh, "wb"))
  f:write(tgt)
  f:close()
  local c = assert(dcerpc.connect(krb, "samr", { ccache = "FILE:" .. fresh, timeout = 20 }))
  pair(c)
  c:close()
end)))
os.remove(fresh)
for _, k in ipairs { { "krb5", krb, { ccache = ccache, timeout = 20 } },
                     { "ntlm", ntlm, { user = domain .. "\\" .. user, password = password, timeout = 20 } } } do
  local c = assert(dcerpc.connect(k[2], "samr", k[3]))
  print(("KRB5 ours calls %s %.1f"):format(k[1], rate(function() pair(c) end)))
  c:close()
end
