-- The public client against the real Samba peer: endpoint mapper lookups,
-- srvsvc and wkssvc calls, the examples, each compared with what Samba's own
-- rpcclient reports for the same server.
local peers = require "helpers.peers"

local samba = peers.samba()
local ROOT = peers.root

local function sh(cmd)
  -- children must not inherit a sanitizer LD_PRELOAD meant for this Lua process
  local f = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok and 0 or code
end

local function rpcclient(binding, cmd, auth)
  return sh(string.format("timeout 30 rpcclient -s %q %s %q -c %q", samba.SAMBA_CLIENT_CONF,
    auth or string.format("-U %s%%%s", samba.SAMBA_USER, samba.SAMBA_PASSWORD), binding, cmd))
end

local function example(name, ...)
  local args = {}
  for i, a in ipairs({ ... }) do args[i] = string.format("%q", a) end
  -- run from another directory: the example must find the module by itself
  return sh(string.format("sh -c 'cd / && exec lua5.4 %s %s'", ROOT .. "/examples/" .. name, table.concat(args, " ")))
end

describe("client against Samba #interop", function()
  if not samba then
    pending("Samba peer not available on this machine")
    return
  end
  local dcerpc = require "dcerpc"
  local host = samba.SAMBA_HOST

  it("finds srvsvc's dynamic port through ept_map", function()
    local port = assert(dcerpc.ept_map(host, dcerpc.interface "srvsvc", {}))
    assert.are.equal(samba.SAMBA_SRVSVC_PORT, tostring(port))
  end)

  it("reports an unregistered interface from ept_map as an error value", function()
    local fake = dcerpc.ndr.interface { name = "nosuch", uuid = "12345678-1234-1234-1234-123456789abc",
                                       version = "1.0" }
    local port, err = dcerpc.ept_map(host, fake, {})
    assert.is_nil(port)
    assert.are.equal(0x16c9a0d6, err.code)
    assert.are.equal("no", err.executed)
  end)

  it("calls NetrServerGetInfo 101 and agrees with rpcclient srvinfo", function()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, dcerpc.interface "srvsvc"))
    local r = assert(c:NetrServerGetInfo { ServerName = "\\\\" .. host, Level = 101 })
    local i = r.InfoStruct.ServerInfo101
    c:close()
    local out = rpcclient("ncacn_ip_tcp:" .. host, "srvinfo")
    -- "	RPCSRV         Wk Sv PrQ Unx NT SNT Samba 4.17.12-Debian"
    local name, comment = out:match("^%s*(%S+)%s+[%w ]-%s%s+(.-)\n")
    assert.are.equal(name, i.sv101_name)
    assert.are.equal(500, i.sv101_platform_id)
    assert.are.equal(tonumber(out:match("platform_id%s*:%s*(%d+)")), i.sv101_platform_id)
    assert.are.equal(out:match("os version%s*:%s*([%d.]+)"),
                     i.sv101_version_major .. "." .. i.sv101_version_minor)
    assert.are.equal(tonumber(out:match("server type%s*:%s*0x(%x+)"), 16), i.sv101_type)
    assert.is_truthy(comment and comment:find(i.sv101_comment, 1, true))
  end)

  it("lists the same shares and remarks as rpcclient netshareenumall (multi-fragment reply)", function()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, dcerpc.interface "srvsvc"))
    local r = assert(c:NetrShareEnum {
      ServerName = "\\\\" .. host,
      InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
      PreferedMaximumLength = 0xffffffff,
    })
    c:close()
    local ours = {}
    for _, s in ipairs(r.InfoStruct.ShareInfo.Level1.Buffer) do ours[s.shi1_netname] = s.shi1_remark end
    local out = rpcclient("ncacn_ip_tcp:" .. host, "netshareenumall")
    local theirs, n = {}, 0
    for name, remark in out:gmatch("netname: ([^\n]*)\n%s*remark:%s*([^\n]*)") do
      theirs[name] = remark; n = n + 1
    end
    assert.is_true(n >= 40)
    assert.are.same(theirs, ours)
    assert.are.equal(n, r.TotalEntries)
  end)

  it("gets NetrWkstaGetInfo 100", function()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, dcerpc.interface "wkssvc"))
    local r = assert(c:NetrWkstaGetInfo { ServerName = "\\\\" .. host, Level = 100 })
    c:close()
    local w = r.WkstaInfo.WkstaInfo100
    assert.are.equal(500, w.wki100_platform_id)
    assert.are.equal(samba.SAMBA_DOMAIN, w.wki100_computername)
    assert.are.equal("RPCTEST", w.wki100_langroup)
  end)

  it("turns an unknown opnum into nca_s_op_rng_error", function()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, dcerpc.interface "srvsvc"))
    local resp, err = c.conn:call(c.context_id, 200, "")
    c:close()
    assert.is_nil(resp)
    assert.are.equal(0x1c010002, err.code)
    assert.are.equal("nca_s_op_rng_error", err.name)
  end)

  it("fails to connect to a closed port with server unavailable, nothing executed", function()
    local c, err = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[1]", dcerpc.interface "srvsvc",
                                  { connect_timeout = 5 })
    assert.is_nil(c)
    assert.are.equal(1722, err.code)
    assert.are.equal("no", err.executed)
  end)

  it("works over IPv6 loopback", function()
    local c = assert(dcerpc.connect("ncacn_ip_tcp:::1[" .. samba.SAMBA_SRVSVC_PORT .. "]",
                                    dcerpc.interface "srvsvc"))
    local r = assert(c:NetrServerGetInfo { ServerName = "\\\\::1", Level = 100 })
    c:close()
    assert.are.equal(500, r.InfoStruct.ServerInfo100.sv100_platform_id)
  end)

  describe("examples", function()
    it("rpcdump lists what rpcclient epmlookup lists", function()
      local out, code = example("rpcdump.lua", host)
      assert.are.equal(0, code, out)
      local ours = {}
      for uuid, ver, binding in out:gmatch("(%x+%-[%x-]+) v(%d+%.%d+)%s+(%S+)") do
        ours[uuid .. " " .. binding] = true
      end
      local theirs, n = {}, 0
      local ep = rpcclient("ncacn_ip_tcp:" .. host .. "[135]", "epmlookup", "-N -U ''")
      for line in ep:gmatch("[^\n]+") do
        -- "<object> ncacn_ip_tcp:127.0.0.1[49153,abstract_syntax=<uuid>/0x00000001]: winreg"
        local prot, addr, endpoint, uuid = line:match("^%S+ (%w+):([^%[]*)%[([^,%]]*),abstract_syntax=([%x-]+)/")
        if prot then
          local b = prot .. ":" .. addr .. "[" .. endpoint .. "]"
          theirs[uuid .. " " .. b] = true; n = n + 1
        end
      end
      assert.is_true(n > 10)
      for k in pairs(theirs) do assert.is_true(ours[k], "rpcdump misses " .. k .. "\n" .. out) end
    end)

    it("serverinfo prints the server's name and version", function()
      local out, code = example("serverinfo.lua", "ncacn_ip_tcp:" .. host)
      assert.are.equal(0, code, out)
      assert.is_truthy(out:find("server name:%s+" .. samba.SAMBA_DOMAIN))
      assert.is_truthy(out:find("platform id:%s+500"))
    end)

    it("shares lists the test shares with their remarks", function()
      local out, code = example("shares.lua", "ncacn_ip_tcp:" .. host)
      assert.are.equal(0, code, out)
      assert.is_truthy(out:find("share%s+Disk%s+lua%-dcerpc test share"))
      assert.is_truthy(out:find("IPC%$%s+IPC"))
      assert.is_truthy(out:find("data040%s+Disk%s+extra share 040"))
    end)
  end)
end)
