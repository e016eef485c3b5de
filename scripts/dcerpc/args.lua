-- dcerpc.args: the credential options of a script's command line, the way
-- Samba's tools and Impacket's examples spell them, turned into the options
-- of dcerpc.connect. Every example under examples/ reads its command line
-- with it; a script of yours can too:
--
--   local args = require "dcerpc.args"
--   local pos, opts = args.parse(arg, { timeout = 30 })
--   if not (pos and pos[1]) then
--     io.stderr:write(pos and "" or opts .. "\n", "usage: shares.lua BINDING ", args.usage, "\n")
--     os.exit(2)
--   end
--   local c = assert(dcerpc.connect(pos[1], "srvsvc", opts))
--
-- Options (anywhere among the positional arguments; "--" ends them):
--   -U, --user [DOMAIN\]USER[%PASSWORD]   also USER:PASSWORD and USER@REALM
--   -P, --password PASSWORD
--   --nt-hash HEX                         32 hex digits (NTLM only)
--   -k, --kerberos                        Kerberos first: the default ccache
--                                         (KRB5CCNAME), or a TGT the library
--                                         gets with the user's password;
--                                         NTLM after it (dcerpc.connect's
--                                         kerberos = true)
--   --timeout SECONDS                     the connect and call timeouts
-- Without -U the connection is anonymous (unless -k: the ccache's user).
-- A user given without a password takes DCERPC_PASSWORD from the
-- environment when set.
local M = {}

M.usage = "[-U [DOMAIN\\]USER[%PASSWORD]] [-P PASSWORD] [--nt-hash HEX] [-k] [--timeout SECONDS]"

local VALUE = { ["-U"] = "user", ["--user"] = "user", ["-P"] = "password", ["--password"] = "password",
                ["--nt-hash"] = "nt_hash", ["--timeout"] = "timeout" }

--- args.parse(argv [, defaults [, getenv]]) -> positional, connect options | nil, message
-- argv: the script's `arg` (indices 1..n are read). defaults: options to
-- start from (copied, not changed). getenv: os.getenv unless given.
function M.parse(argv, defaults, getenv)
  if type(argv) ~= "table" then error("bad argument #1 to 'parse' (table expected)", 2) end
  getenv = getenv or os.getenv
  local pos, opts, got = {}, {}, {}
  for k, v in pairs(defaults or {}) do opts[k] = v end
  local i, only_pos = 1, false
  while i <= #argv do
    local a = argv[i]
    if only_pos or a == "-" or a:sub(1, 1) ~= "-" then
      pos[#pos + 1] = a
    elseif a == "--" then
      only_pos = true
    elseif a == "-k" or a == "--kerberos" then
      opts.kerberos = true
    elseif VALUE[a] then
      i = i + 1
      local v = argv[i]
      if v == nil then return nil, a .. " needs a value" end
      got[VALUE[a]] = v
    else
      return nil, "unknown option " .. a
    end
    i = i + 1
  end
  local user, password = got.user, got.password
  if user then
    local u, p = user:match("^([^%%]*)%%(.*)$")               -- rpcclient's USER%PASSWORD
    if not u then u, p = user:match("^([^:]*):(.*)$") end     -- NAME:PASSWORD
    if u then user, password = u, password or p end
    local d, rest = user:match("^([^\\/]+)[\\/](.+)$")        -- DOMAIN\USER
    if d then opts.domain, user = d, rest end
  end
  if user and user ~= "" then
    opts.user = user
    if got.nt_hash then
      if not (got.nt_hash:match("^%x+$") and #got.nt_hash == 32) then return nil, "--nt-hash: 32 hex digits expected" end
      opts.nt_hash = got.nt_hash
    else
      opts.password = password or getenv("DCERPC_PASSWORD") or ""
    end
  elseif password or got.nt_hash then
    return nil, (password and "a password" or "--nt-hash") .. " without a user (-U USER)"
  end
  if got.timeout then
    local t = tonumber(got.timeout)
    if not t or t <= 0 then return nil, "--timeout: a number of seconds expected" end
    opts.timeout, opts.connect_timeout = t, t
  end
  return pos, opts
end

return M
