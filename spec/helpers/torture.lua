-- spec/helpers/torture.lua: run Samba's smbtorture against one of our servers.
--
--   local torture = require "helpers.torture"
--   if not torture.available() then return end      -- pending outside CI, an error under CI
--   local ok, bad, out = torture.run("ncacn_ip_tcp:127.0.0.1[PORT,seal]", { "rpc.echo" },
--                                    { user = "alice%pw", options = { "ncalrpc dir=/tmp/x" } })
--   -- ok / bad: names of the sub-tests that passed / failed, errored, were skipped
local M = {}

function M.available()
  if os.execute("command -v smbtorture >/dev/null 2>&1") then return true end
  if os.getenv("CI") == "true" then error("smbtorture is not installed (CI must run this)") end
  pending("smbtorture not installed")
  return false
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- run(binding, tests, opts) -> ok, bad, output
--   opts.user: "name%password" (default anonymous), opts.options: smb.conf
--   settings given with --option
function M.run(binding, tests, opts)
  opts = opts or {}
  local args = { "-U" .. quote(opts.user or "%") }
  for _, o in ipairs(opts.options or {}) do args[#args + 1] = "--option=" .. quote(o) end
  args[#args + 1] = quote(binding)
  for _, t in ipairs(tests) do args[#args + 1] = quote(t) end
  local p = assert(io.popen("env -u LD_PRELOAD timeout 300 smbtorture " .. table.concat(args, " ") .. " 2>&1"))
  local out = p:read("a")
  p:close()
  local ok, bad = {}, {}
  for kind, name in out:gmatch("\n(%a+): ([%w%._]+)") do
    if kind == "success" then ok[#ok + 1] = name
    elseif kind == "failure" or kind == "error" or kind == "skip" or kind == "uxsuccess" then bad[#bad + 1] = name end
  end
  return ok, bad, out
end

return M
