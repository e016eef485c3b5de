-- inventory_spec: examples/inventory.lua walks many hosts concurrently with
-- per-host timeouts and prints a summary. Against the Samba peer (its answers
-- compared with rpcclient's), hosts that refuse, and hosts that accept and never
-- answer: those time out together, not one after another.

local peers = require "helpers.peers"

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local env = peers.samba()
if not env then
  describe("examples/inventory.lua", function() pending("Samba peer not available on this machine") end)
  return
end

local function run(args)
  local p = assert(io.popen(string.format("cd %s && env LUA_PATH=%s LUA_CPATH=%s lua5.4 examples/inventory.lua %s 2>&1; echo \"rc=$?\"",
    sh_quote(peers.root), sh_quote(package.path), sh_quote(package.cpath), args)))
  local out = p:read("a")
  p:close()
  return out, tonumber(out:match("rc=(%d+)%s*$"))
end

-- a listener that accepts connections and never answers (the kernel completes
-- the handshakes), on a port it prints; stopped by the spec
local function blackhole()
  local port_file = os.tmpname()
  local pid = io.popen(string.format([[/usr/bin/python3 -c '
import socket, time, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(60)' %s >/dev/null 2>&1 & echo $!]], sh_quote(port_file))):read("l")
  local port
  for _ = 1, 100 do
    local f = io.open(port_file)
    port = f and tonumber(f:read("a"))
    if f then f:close() end
    if port then break end
    os.execute("sleep 0.05")
  end
  os.remove(port_file)
  return assert(port, "blackhole listener did not start"), pid
end

describe("examples/inventory.lua #interop", function()
  it("surveys answering and refusing hosts, its answers equal to rpcclient's", function()
    local hosts = "127.0.0.1 localhost 127.0.0.1 127.0.0.2 127.0.0.3"
    local out, rc = run("--timeout 5 " .. hosts)
    assert.are.equal(1, rc, out)                 -- some hosts did not answer
    local answered = 0
    for line in out:gmatch("[^\n]+") do
      local host, name, ver, stype, shares, comment =
        line:match("^(%S+)%s+(%S+)%s+(%S+)%s+type 0x(%x+)%s+(%d+) shares%s+(.*)$")
      if host then
        answered = answered + 1
        -- rpcclient's srvinfo and netshareenumall on the same server
        local p = assert(io.popen(string.format(
          "env -u LD_PRELOAD timeout 60 rpcclient -s %s -U%% %s -c 'srvinfo; netshareenumall' 2>&1",
          sh_quote(env.SAMBA_CLIENT_CONF), sh_quote(env.SAMBA_HOST))))
        local rc_out = p:read("a")
        p:close()
        local want_name = rc_out:match("^%s*(%S+)%s+Wk")
        assert.are.equal(want_name, name, rc_out)
        assert.are.equal(rc_out:match("os version%s*:%s*(%S+)"), ver)
        local n = 0
        for _ in rc_out:gmatch("netname: ") do n = n + 1 end
        assert.are.equal(n, tonumber(shares))
        assert.are.equal(tonumber(rc_out:match("server type%s*:%s*0x(%x+)"), 16), tonumber(stype, 16))
        assert.truthy(comment:find("Samba", 1, true))
      end
    end
    assert.are.equal(3, answered, out)
    assert.matches("127%.0%.0%.2%s+%-%- connection refused: ", out)
    assert.matches("5 hosts: 3 answered, 2 connection refused", out)
  end)

  it("times hosts out together, each after its own timeout, and says why", function()
    local port, pid = blackhole()
    local hosts = {}
    for i = 1, 12 do hosts[i] = "127.0.0.1" end
    local t0 = os.time()
    local out, rc = run(string.format("--timeout 1 --port %d %s", port, table.concat(hosts, " ")))
    local elapsed = os.time() - t0
    os.execute("kill " .. pid .. " 2>/dev/null")
    assert.are.equal(1, rc, out)
    assert.matches("12 hosts: 0 answered, 12 timeout", out)
    assert.matches("timed out after 1 s waiting for the bind_ack from 127%.0%.0%.1%[" .. port .. "%]", out)
    assert.is_true(elapsed <= 4, "12 timeouts of 1 s took " .. elapsed .. " s: not concurrent")
  end)

  it("says when credentials are refused, and exits 2 on bad usage", function()
    local out, rc = run("--np -U 'alice%wrong-password' 127.0.0.1")
    assert.are.equal(1, rc, out)
    assert.matches("refused credentials: SMB session setup refused: STATUS_LOGON_FAILURE", out)
    local out2, rc2 = run("--bogus")
    assert.are.equal(2, rc2, out2)
    assert.matches("unknown option %-%-bogus", out2)
  end)
end)
