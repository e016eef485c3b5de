-- examples/srvsvc-server.lua in a child process, driven by three independent
-- clients: ours (dcerpc.connect), Impacket (impacket.dcerpc.v5.srvs) and
-- Samba's rpcclient. Under CI=true nothing here is skipped.
--
-- Samba 4.17's rpcclient ignores the port of an ncacn_ip_tcp binding: it asks
-- the endpoint mapper on HOST:135 for srvsvc. So for rpcclient the server also
-- listens on 127.0.0.2[135] (its ept_map answers with its own endpoints; the
-- Samba peer's endpoint mapper holds 127.0.0.1:135), which takes root.
local dcerpc = require "dcerpc"
local core = require "dcerpc.core"

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/srvsvc_server_spec%.lua$")) or "."
local CI = os.getenv("CI") == "true"

local ERROR_MORE_DATA, NERR_NetNameNotFound = 234, 2310
local SERVER_TYPE = 0x00009203   -- WORKSTATION|SERVER|PRINTQ_SERVER|NT|SERVER_NT
local SHARES = {                 -- what examples/srvsvc-server.lua serves, in order
  { "share",  0x00000000, "lua-dcerpc share",   "C:\\share", 1 },
  { "print$", 0x00000000, "Printer Drivers",    "C:\\Windows\\system32\\spool\\drivers", 0 },
  { "laser",  0x00000001, "lua-dcerpc printer", "", 0 },
  { "IPC$",   0x80000003, "IPC Service",        "", 2 },
}
local COMMENT = "lua-dcerpc srvsvc server"

-- the name the server should give: the host name, up to its first dot, in upper case
local function expected_name()
  local p = assert(io.popen("uname -n"))
  local n = p:read("l")
  p:close()
  return (n:match("^[^.]+") or n):upper():sub(1, 15)
end

-- Start examples/srvsvc-server.lua; returns { port, endpoints, close() }.
local examples = require "helpers.examples"

-- handlers raise only for the levels the unions cannot marshal (faulted on purpose)
local function no_other_raises(err)
  local other = err:gsub("[^\n]*raised: level %d+ is not served\n", "")
  assert(not other:find("raised", 1, true) and not other:find("cannot marshal", 1, true), err)
end

-- Start examples/srvsvc-server.lua; returns { port, endpoints, close() }.
local function start_server(...)
  local s = assert(examples.start("srvsvc-server.lua", nil, ...))
  local close = s.close
  s.close = function() close(no_other_raises) end
  return s
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

---------------------------------------------------------------- our client

describe("examples/srvsvc-server.lua with our client #interop", function()
  local s, c
  setup(function()
    s = start_server("ncacn_ip_tcp:127.0.0.1[0]")
    c = assert(dcerpc.connect(s.endpoints[1], "srvsvc"))
  end)
  teardown(function()
    if c then c:close() end
    if s then s.close() end
  end)

  local function enum(level, max, resume)
    local arm = "Level" .. level
    local r = assert(c:NetrShareEnum {
      ServerName = "\\\\127.0.0.1",
      InfoStruct = { Level = level, ShareInfo = { [arm] = { EntriesRead = 0 } } },
      PreferedMaximumLength = max or 0xFFFFFFFF,
      ResumeHandle = resume,
    })
    assert.are.equal(level, r.InfoStruct.Level)
    return r, r.InfoStruct.ShareInfo[arm]
  end

  it("listens where it says", function()
    assert.matches("^ncacn_ip_tcp:127%.0%.0%.1%[%d+%]$", s.endpoints[1])
    assert.is_true(s.port > 0)
  end)

  it("enumerates the shares at level 0 and 1", function()
    local r, l0 = enum(0)
    assert.are.equal(0, r.result)
    assert.are.equal(4, r.TotalEntries)
    assert.are.equal(4, l0.EntriesRead)
    for i, sh in ipairs(SHARES) do assert.are.equal(sh[1], l0.Buffer[i].shi0_netname) end
    local r1, l1 = enum(1)
    assert.are.equal(0, r1.result)
    assert.are.equal(4, l1.EntriesRead)
    for i, sh in ipairs(SHARES) do
      assert.are.same({ shi1_netname = sh[1], shi1_type = sh[2], shi1_remark = sh[3] }, l1.Buffer[i])
    end
  end)

  it("enumerates the shares at level 2 and 502", function()
    local r, l2 = enum(2)
    assert.are.equal(0, r.result)
    assert.are.equal(4, l2.EntriesRead)
    for i, sh in ipairs(SHARES) do
      local b = l2.Buffer[i]
      assert.are.equal(sh[1], b.shi2_netname)
      assert.are.equal(sh[2], b.shi2_type)
      assert.are.equal(sh[3], b.shi2_remark)
      assert.are.equal(sh[4], b.shi2_path)
      assert.are.equal(sh[5], b.shi2_current_uses)
      assert.are.equal(0xFFFFFFFF, b.shi2_max_uses)
      assert.is_nil(b.shi2_passwd)
    end
    local r5, l5 = enum(502)
    assert.are.equal(0, r5.result)
    assert.are.equal(4, l5.EntriesRead)
    for i, sh in ipairs(SHARES) do
      local b = l5.Buffer[i]
      assert.are.equal(sh[1], b.shi502_netname)
      assert.are.equal(sh[3], b.shi502_remark)
      assert.are.equal(sh[4], b.shi502_path)
      assert.are.equal(0, b.shi502_reserved)
      assert.is_nil(b.shi502_security_descriptor)
    end
  end)

  it("pages with ResumeHandle and PreferedMaximumLength", function()
    -- a tiny limit still gives one entry a call, then ERROR_MORE_DATA and where to go on
    local names, resume, calls = {}, 0, 0
    repeat
      local r, l = enum(1, 1, resume)
      calls = calls + 1
      assert.are.equal(1, l.EntriesRead)
      assert.are.equal(#SHARES - #names, r.TotalEntries)
      names[#names + 1] = l.Buffer[1].shi1_netname
      resume = r.ResumeHandle
      if #names < #SHARES then
        assert.are.equal(ERROR_MORE_DATA, r.result)
        assert.are.equal(#names, resume)
      else
        assert.are.equal(0, r.result)
        assert.are.equal(0, resume)
      end
    until r.result == 0 or calls > 10
    assert.are.same({ "share", "print$", "laser", "IPC$" }, names)
    -- a limit for about two level-0 entries
    local r, l = enum(0, 60, 0)
    assert.are.equal(ERROR_MORE_DATA, r.result)
    assert.are.equal(2, l.EntriesRead)
    assert.are.equal(2, r.ResumeHandle)
    -- from a resume handle, unbounded: the rest
    r, l = enum(0, 0xFFFFFFFF, 2)
    assert.are.equal(0, r.result)
    assert.are.equal(2, r.TotalEntries)
    assert.are.same({ { shi0_netname = "laser" }, { shi0_netname = "IPC$" } }, l.Buffer)
    -- past the end: nothing
    r, l = enum(0, 0xFFFFFFFF, 9)
    assert.are.equal(0, r.result)
    assert.are.equal(0, l.EntriesRead)
    assert.are.equal(0, r.TotalEntries)
  end)

  it("answers NetrShareGetInfo at every level, case-insensitively", function()
    local r = assert(c:NetrShareGetInfo { NetName = "SHARE", Level = 1 })
    assert.are.equal(0, r.result)
    assert.are.same({ shi1_netname = "share", shi1_type = 0, shi1_remark = "lua-dcerpc share" },
                    r.InfoStruct.ShareInfo1)
    r = assert(c:NetrShareGetInfo { NetName = "ipc$", Level = 0 })
    assert.are.same({ shi0_netname = "IPC$" }, r.InfoStruct.ShareInfo0)
    r = assert(c:NetrShareGetInfo { NetName = "share", Level = 2 })
    assert.are.equal("C:\\share", r.InfoStruct.ShareInfo2.shi2_path)
    r = assert(c:NetrShareGetInfo { NetName = "laser", Level = 502 })
    assert.are.equal(1, r.InfoStruct.ShareInfo502.shi502_type)
    r = assert(c:NetrShareGetInfo { NetName = "laser", Level = 1004 })
    assert.are.equal("lua-dcerpc printer", r.InfoStruct.ShareInfo1004.shi1004_remark)
  end)

  it("says NERR_NetNameNotFound for an unknown share", function()
    local r, e = c:NetrShareGetInfo { NetName = "nosuch", Level = 1 }
    local code = r and r.result or (e and e.code)
    assert.are.equal(NERR_NetNameNotFound, code)
  end)

  it("faults ERROR_INVALID_LEVEL for a level it does not serve", function()
    -- (SHARE_INFO / SERVER_INFO have no arm to marshal a WERROR answer with)
    local r, e = c:NetrShareGetInfo { NetName = "share", Level = 503 }
    assert.is_nil(r)
    assert.are.equal(124, e.code)
    r, e = c:NetrServerGetInfo { Level = 103 }
    assert.is_nil(r)
    assert.are.equal(124, e.code)
    -- and the connection goes on
    assert.are.equal(0, assert(c:NetrServerGetInfo { Level = 100 }).result)
  end)

  it("answers NetrServerGetInfo 100, 101, 102", function()
    local name = expected_name()
    local i0 = assert(c:NetrServerGetInfo { Level = 100 }).InfoStruct.ServerInfo100
    assert.are.same({ sv100_platform_id = 500, sv100_name = name }, i0)
    local i1 = assert(c:NetrServerGetInfo { Level = 101 }).InfoStruct.ServerInfo101
    assert.are.same({ sv101_platform_id = 500, sv101_name = name, sv101_version_major = 10,
                      sv101_version_minor = 0, sv101_type = SERVER_TYPE, sv101_comment = COMMENT }, i1)
    local i2 = assert(c:NetrServerGetInfo { Level = 102 }).InfoStruct.ServerInfo102
    assert.are.equal(name, i2.sv102_name)
    assert.are.equal(SERVER_TYPE, i2.sv102_type)
    assert.are.equal(COMMENT, i2.sv102_comment)
    assert.are.equal("C:\\", i2.sv102_userpath)
  end)

  it("is found through its own endpoint mapper (ept_map)", function()
    local c2 = assert(dcerpc.connect("ncacn_ip_tcp:127.0.0.1", "srvsvc", { epm_port = s.port }))
    local r = assert(c2:NetrShareGetInfo { NetName = "share", Level = 0 })
    assert.are.equal("share", r.InfoStruct.ShareInfo0.shi0_netname)
    c2:close()
  end)

  it("is listed by examples/shares.lua and examples/serverinfo.lua", function()
    local env = string.format("cd %q && env LUA_PATH=%q LUA_CPATH=%q lua5.4 ", root, package.path, package.cpath)
    local out = run(env .. "examples/shares.lua '" .. s.endpoints[1] .. "'")
    assert.matches("share%s+Disk%s+lua%-dcerpc share\n", out)
    assert.matches("IPC%$%s+IPC %(special%)%s+IPC Service\n", out)
    out = run(env .. "examples/serverinfo.lua '" .. s.endpoints[1] .. "'")
    assert.matches("version:%s+10%.0\n", out)
    assert.matches("server type:%s+0x00009203\n", out)
  end)
end)

---------------------------------------------------------------- Impacket

local PY = "/usr/bin/python3"
local have_impacket = os.execute("env -u LD_PRELOAD " .. PY .. " -c 'import impacket.dcerpc.v5.srvs' >/dev/null 2>&1") == true

describe("examples/srvsvc-server.lua with Impacket #interop", function()
  if not have_impacket then
    if CI then error("impacket is not installed (CI must run this)") end
    pending("impacket not installed")
    return
  end
  local s
  setup(function() s = start_server("ncacn_ip_tcp:127.0.0.1[0]") end)
  teardown(function() if s then s.close() end end)

  local SCRIPT = [[
import sys
from impacket.dcerpc.v5 import transport, srvs
from impacket.dcerpc.v5.rpcrt import DCERPCException
t = transport.DCERPCTransportFactory(sys.argv[1])
t.set_credentials('', '')
dce = t.get_dce_rpc()
dce.connect()
dce.bind(srvs.MSRPC_UUID_SRVS)
for level in (1, 2):
    r = srvs.hNetrShareEnum(dce, level)
    print("total %d" % r['TotalEntries'])
    for e in r['InfoStruct']['ShareInfo']['Level%d' % level]['Buffer']:
        if level == 1:
            print("L1|%s|%d|%s" % (e['shi1_netname'][:-1], e['shi1_type'], e['shi1_remark'][:-1]))
        else:
            print("L2|%s|%d|%s|%s|%d" % (e['shi2_netname'][:-1], e['shi2_type'], e['shi2_remark'][:-1],
                                        e['shi2_path'][:-1], e['shi2_current_uses']))
r = srvs.hNetrShareGetInfo(dce, 'share\x00', 2)
print("GI|%s|%s" % (r['InfoStruct']['ShareInfo2']['shi2_netname'][:-1], r['InfoStruct']['ShareInfo2']['shi2_path'][:-1]))
try:
    srvs.hNetrShareGetInfo(dce, 'nosuch\x00', 1)
    print("GI nosuch ok?")
except DCERPCException as e:
    print("GI nosuch error 0x%x" % e.get_error_code())
r = srvs.hNetrServerGetInfo(dce, 101)['InfoStruct']['ServerInfo101']
print("SI|%d|%s|%d.%d|0x%x|%s" % (r['sv101_platform_id'], r['sv101_name'][:-1], r['sv101_version_major'],
                                   r['sv101_version_minor'], r['sv101_type'], r['sv101_comment'][:-1]))
dce.disconnect()
]]

  it("enumerates, gets share and server info", function()
    local f = os.tmpname()
    local h = assert(io.open(f, "w"))
    h:write(SCRIPT)
    h:close()
    local out, code = run(string.format("env -u LD_PRELOAD timeout 60 %s %q '%s'", PY, f, s.endpoints[1]))
    os.remove(f)
    assert.are.equal(0, code, out)
    local _, totals = out:gsub("total 4\n", "")
    assert.are.equal(2, totals, out)
    for _, sh in ipairs(SHARES) do
      assert.is_truthy(out:find(string.format("L1|%s|%d|%s\n", sh[1], sh[2], sh[3]), 1, true), out)
      assert.is_truthy(out:find(string.format("L2|%s|%d|%s|%s|%d\n", sh[1], sh[2], sh[3], sh[4], sh[5]), 1, true), out)
    end
    assert.is_truthy(out:find("GI|share|C:\\share\n", 1, true), out)
    assert.is_truthy(out:find("GI nosuch error 0x906\n", 1, true), out)
    assert.is_truthy(out:find(string.format("SI|500|%s|10.0|0x9203|%s\n", expected_name(), COMMENT), 1, true), out)
  end)
end)

---------------------------------------------------------------- rpcclient

describe("examples/srvsvc-server.lua with Samba's rpcclient #interop", function()
  local why
  if not have("rpcclient") then
    why = "rpcclient not installed"
  else
    local l, e = core.listen_tcp("127.0.0.2", 135)
    if l then l:close() else why = "cannot listen on 127.0.0.2:135 (" .. tostring(e) .. ")" end
  end
  if why then
    if CI then error(why .. " (CI must run this)") end
    pending(why)
    return
  end

  local s, dir, conf
  setup(function()
    s = start_server("ncacn_ip_tcp:127.0.0.2[0]", "ncacn_ip_tcp:127.0.0.2[135]")
    local p = assert(io.popen("mktemp -d /tmp/srvsvc-spec.XXXXXX"))
    dir = p:read("l")
    p:close()
    os.execute(string.format("mkdir -p %q/private %q/lock %q/state %q/cache", dir, dir, dir, dir))
    conf = dir .. "/smb.conf"
    local f = assert(io.open(conf, "w"))
    f:write(string.format([[
[global]
  workgroup = WORKGROUP
  private dir = %s/private
  lock directory = %s/lock
  state directory = %s/state
  cache directory = %s/cache
  pid directory = %s/lock
  log file = %s/log.%%m
  client min protocol = SMB2
]], dir, dir, dir, dir, dir, dir))
    f:close()
  end)
  teardown(function()
    if s then s.close() end
    if dir then os.execute(string.format("rm -rf %q", dir)) end
  end)

  local function rpcclient(cmd)
    return run(string.format("env -u LD_PRELOAD timeout 60 rpcclient -s %q -U%% '%s' -c %q",
                             conf, s.endpoints[1], cmd))
  end

  it("srvinfo shows our name, platform, version, type and comment", function()
    local out, code = rpcclient("srvinfo")
    assert.are.equal(0, code, out)
    local name = expected_name()
    local function esc(x) return (x:gsub("%p", "%%%0")) end
    assert.matches("\t" .. esc(name) .. "%s+Wk Sv PrQ NT SNT%s+" .. esc(COMMENT) .. "\n", out)
    assert.matches("platform_id%s+:\t500\n", out)
    assert.matches("os version%s+:\t10%.0\n", out)
    assert.matches("server type%s+:\t0x9203\n", out)
  end)

  it("netshareenumall lists our shares with remarks and paths", function()
    local out, code = rpcclient("netshareenumall")
    assert.are.equal(0, code, out)
    local want = {}
    for _, sh in ipairs(SHARES) do
      want[#want + 1] = string.format("netname: %s\n\tremark:\t%s\n\tpath:\t%s\n\tpassword:\t(null)\n",
                                      sh[1], sh[3], sh[4])
    end
    assert.are.equal(table.concat(want), out)
    out, code = rpcclient("netshareenumall 1")
    assert.are.equal(0, code, out)
    want = {}
    for _, sh in ipairs(SHARES) do
      want[#want + 1] = string.format("netname: %s\n\tremark:\t%s\n", sh[1], sh[3])
    end
    assert.are.equal(table.concat(want), out)
  end)

  it("netsharegetinfo share shows our share", function()
    local out, code = rpcclient("netsharegetinfo share")
    assert.are.equal(0, code, out)
    assert.are.equal("netname: share\n\tremark:\tlua-dcerpc share\n\tpath:\tC:\\share\n" ..
                     "\tpassword:\t(null)\n\ttype:\t0x0\n\tperms:\t0\n\tmax_uses:\t-1\n\tnum_uses:\t1\n", out)
    out, code = rpcclient("netsharegetinfo IPC$ 502")
    assert.are.equal(0, code, out)
    assert.matches("netname: IPC%$\n\tremark:\tIPC Service\n", out)
    assert.matches("\ttype:\t0x80000003\n", out)
  end)

  it("netsharegetinfo of an unknown share says WERR_NERR_NETNAMENOTFOUND", function()
    local out = rpcclient("netsharegetinfo nosuch")
    assert.matches("WERR_NERR_NETNAMENOTFOUND", out)
  end)
end)
