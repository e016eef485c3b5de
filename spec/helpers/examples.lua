-- spec/helpers/examples.lua: run an example server (examples/*.lua) in a child
-- process, with this process's module paths (so an ASan run tests the ASan
-- build), and learn its endpoints from its "listening on <binding>" lines.
--
--   local examples = require "helpers.examples"
--   local s = assert(examples.start("echo-server.lua", { "--epm" }, "ncacn_ip_tcp:127.0.0.1[0]"))
--   ... s.endpoints[1], s.port ...
--   s.close()            -- stops it; fails on sanitizer reports in its stderr
--
-- start returns nil, stderr when the server does not come up (e.g. the address
-- is taken). close(check) also passes the stderr text to `check`, so a spec
-- can assert on what the server logged.
local M = {}

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers/examples%.lua$")) or "."

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path)
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s
end

-- start(script, flags, binding...) -> { pid, endpoints, port, close } | nil, stderr
function M.start(script, flags, ...)
  local args = {}
  for _, a in ipairs(flags or {}) do args[#args + 1] = quote(a) end
  for _, b in ipairs { ... } do args[#args + 1] = quote(b) end
  local errfile = os.tmpname()
  local cmd = string.format(
    "cd %q && exec env LUA_PATH=%q LUA_CPATH=%q sh -c %s 2>%q",
    root, package.path, package.cpath,
    quote("echo $$; exec lua5.4 examples/" .. script .. " " .. table.concat(args, " ")), errfile)
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  local eps = {}
  for _ = 1, select("#", ...) do
    local line = p:read("l")
    if not line then break end
    eps[#eps + 1] = line:match("^listening on (.*)$")
  end
  if not pid or #eps ~= select("#", ...) then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    p:close()
    local err = slurp(errfile)
    os.remove(errfile)
    return nil, script .. " did not start: " .. err
  end
  return {
    pid = pid, endpoints = eps, port = tonumber(eps[1]:match("%[(%d+)%]$")),
    close = function(check)
      os.execute("kill " .. pid)
      p:close()
      local err = slurp(errfile)
      os.remove(errfile)
      assert(not err:find("AddressSanitizer", 1, true) and not err:find("runtime error:", 1, true), err)
      if check then check(err) end
    end,
  }
end

return M
