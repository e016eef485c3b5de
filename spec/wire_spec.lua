-- What we put on the wire, dissected by Wireshark: capture our client talking
-- to Samba on loopback (endpoint mapper, bind with feature negotiation,
-- fragmented requests and replies, a fault) and require tshark to find no
-- malformed packet and no expert warning in what we sent.
local peers = require "helpers.peers"
local core = require "dcerpc.core"
local samba = peers.samba()

local capture_lib = require "helpers.capture"
local sh = capture_lib.sh

local function have(cmd) return sh("command -v " .. cmd) ~= "" end

describe("wire #interop #tshark", function()
  if not samba then
    pending("Samba peer not available on this machine")
    return
  end
  if not (have("dumpcap") and have("tshark")) then
    if os.getenv("CI") == "true" then error("tshark/dumpcap missing under CI") end
    pending("tshark not installed")
    return
  end
  local dcerpc = require "dcerpc"
  local host = samba.SAMBA_HOST

  -- Capture what fn does on loopback and check it with tshark
  -- (helpers/capture.lua); our frames are those towards the server's ports
  -- (our own ephemeral ports can be >= 49152 too: replies to them are not ours).
  local function capture(fn, min_frames, opts)
    opts = opts or {}
    local o = { filter = opts.filter, inspect = opts.inspect,
                mine = opts.mine or string.format("tcp.dstport in {135, %s}", samba.SAMBA_SRVSVC_PORT) }
    return capture_lib.run(fn, min_frames, o)
  end

  it("dissects cleanly", function()
    capture(function()
      local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, dcerpc.interface "srvsvc"))
      assert(c:NetrServerGetInfo { ServerName = "\\\\" .. host, Level = 101 })
      assert(c:NetrShareEnum {
        ServerName = "\\\\" .. host,
        InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
        PreferedMaximumLength = 0xffffffff,
      })
      -- a request larger than one fragment (Samba answers it with an error status)
      c:NetrServerGetInfo { ServerName = "\\\\" .. string.rep("x", 12000), Level = 101 }
      c.conn:call(c.context_id, 200, "")   -- nca_s_op_rng_error
      c:close()
    end, 10)
  end)

  it("dissects ncacn_np cleanly: SMB2 and the DCE/RPC inside the pipe (2.1, 3.0 and 3.1.1 signed, 139, [sign])", function()
    local list = capture(function()
      local cred = { user = samba.SAMBA_USER, password = samba.SAMBA_PASSWORD, timeout = 20 }
      local function with(t) for k, v in pairs(cred) do t[k] = v end return t end
      for _, o in ipairs { { smb_max_dialect = "2.1" }, { smb_max_dialect = "3.0", smb_signing = true },
                           { smb_signing = true }, { smb_port = 139 } } do
        local c = assert(dcerpc.connect("ncacn_np:" .. host, "srvsvc", with(o)))
        assert(c:NetrServerGetInfo { Level = 101 })
        assert(c:NetrShareEnum { InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
                                 PreferedMaximumLength = 0xffffffff })
        -- a request of several fragments (WRITEs, then READs)
        c:NetrServerGetInfo { ServerName = "\\\\" .. string.rep("x", 9000), Level = 101 }
        c:close()
      end
      local c = assert(dcerpc.connect("ncacn_np:" .. host .. "[sign]", "srvsvc", with {}))
      assert(c:NetrServerGetInfo { Level = 101 })
      c:close()
    end, 20, { filter = "port 445 or port 139", mine = "tcp.dstport in {445, 139}" })
    -- binds, requests and their answers were seen inside SMB2
    assert.matches("\n%d+\t11", list)
    assert.matches("\n%d+\t0", list)
    assert.matches("\n%d+\t2", list)
  end)

  it("dissects several security contexts on one connection cleanly (bind + 2 alter_contexts, interleaved)", function()
    local list = capture(function()
      local cred = { user = samba.SAMBA_USER, domain = "RPCSRV", password = samba.SAMBA_PASSWORD }
      local function with(t) for k, v in pairs(cred) do t[k] = v end return t end
      local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", with { auth = "ntlm", level = "integrity" }))
      local c2 = assert(c:authenticate(with { auth = "spnego", level = "privacy" }))
      local c3 = assert(c:authenticate(with { auth = "ntlm", level = "packet" }))
      local c4 = assert(c:authenticate(with { auth = "ntlm", level = "connect" }))
      for _ = 1, 3 do
        for _, x in ipairs { c, c2, c3 } do assert(x:NetrServerGetInfo { Level = 101 }) end
      end
      c4:NetrServerGetInfo { Level = 101 }      -- the dummy connect verifier; Samba denies the level
      assert(c2:NetrServerGetInfo { Level = 101 })
      c:close()
    end, 20)
    -- alter_context (14) with NTLMSSP (10) and SPNEGO (9), auth3 (16) for NTLM
    assert.matches("\n%d+\t14[,%d]*\t9", list)
    assert.matches("\n%d+\t14[,%d]*\t10", list)
    assert.matches("\n%d+\t16[,%d]*\t10", list)
  end)

  it("dissects authenticated sessions cleanly (NTLM, SPNEGO; sign, seal)", function()
    local list = capture(function()
      for _, a in ipairs { { "ntlm", "integrity" }, { "spnego", "privacy" }, { "ntlm", "privacy" } } do
        local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, "srvsvc", {
          auth = a[1], level = a[2], user = samba.SAMBA_USER, domain = "RPCSRV", password = samba.SAMBA_PASSWORD }))
        assert(c:NetrShareEnum {
          InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
          PreferedMaximumLength = 0xffffffff,
        })
        c:NetrServerGetInfo { ServerName = "\\\\" .. string.rep("x", 12000), Level = 101 }
        c:close()
      end
    end, 12)
    -- auth3 (NTLM's third leg) and alter_context (SPNEGO's) went out, and
    -- requests carried verifiers at levels 5 and 6 with types 10 and 9
    list = "\n" .. list
    assert.matches("\n%d+\t16[,%d]*\t10", list)          -- auth3, NTLMSSP
    assert.matches("\n%d+\t14\t9\t", list)              -- alter_context, SPNEGO
    assert.matches("\n%d+\t0[,%d]*\t10[,%d]*\t5", list) -- request, NTLMSSP, integrity
    assert.matches("\n%d+\t0[,%d]*\t9[,%d]*\t6", list)  -- request, SPNEGO, privacy
  end)

  -- [MS-RPCE] 2.2.2.13: the verification trailer is little-endian even in a
  -- big-endian PDU; Samba's server pulls it so (a big-endian one made it log
  -- an NDR pull error on every call and drop the trailer), and Wireshark
  -- decodes it so.
  it("dissects our big-endian signed requests with their verification trailer; Samba logs no pull error", function()
    -- samba-dcerpcd's helpers log to Samba's own log directory, whatever
    -- "log file" says: note where each log.rpcd_* ends now
    local logdir = sh("smbd -b"):match("LOGFILEBASE:%s*(%S+)") or "/var/log/samba"
    local before = {}
    for f in sh(string.format("ls %q/log.rpcd_* %q/log.samba-dcerpcd", logdir, logdir)):gmatch("[^\n]+") do
      local h = io.open(f, "rb")
      if h then before[f] = h:seek("end"); h:close() end
    end
    local srvsvc = dcerpc.interface "srvsvc"
    local seen
    capture(function()
      local c = assert(dcerpc.connect("ncacn_ip_tcp:" .. host, srvsvc, { auth = "ntlm", level = "integrity",
        user = samba.SAMBA_USER, domain = "RPCSRV", password = samba.SAMBA_PASSWORD, drep = "be" }))
      assert(c:NetrServerGetInfo { ServerName = "\\\\" .. host, Level = 101 })
      assert(c:NetrShareEnum {
        InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
        PreferedMaximumLength = 0xffffffff,
      })
      c:close()
    end, 6, { inspect = function(pcap, mine)
      local code
      seen, code = sh(string.format("tshark -n -r %q -Y '%s && dcerpc.pkt_type == 0 && dcerpc.auth_level' " ..
        "-T fields -E separator=';' -e frame.number -e dcerpc.drep.byteorder -e dcerpc.auth_level " ..
        "-e dcerpc.rpc_sec_vt.signature -e dcerpc.rpc_sec_vt.command.cmd " ..
        "-e dcerpc.rpc_sec_vt.pcontext.interface.uuid", pcap, mine))
      assert.are.equal(0, code)
    end })
    -- every request: big-endian (byte order 0), signed (level 5), a trailer
    -- with BITMASK_1 and PCONTEXT naming srvsvc and NDR 2.0 (a frame may
    -- also hold the auth3 before it: values repeat, comma-separated)
    local n = 0
    for line in seen:gmatch("[^\n]+") do
      n = n + 1
      local _, order, level, sig, cmds, uuids = line:match("^(%d+);([%d,]+);([%d,]+);(%x*);([^;]*);(.*)$")
      assert.matches("^0[0,]*$", order or "", line)
      assert.matches("^5[5,]*$", level or "", line)
      assert.are.equal("8ae3137102f43671", sig, line)
      assert.are.equal("0x0001,0x0002", cmds, line)
      assert.are.equal(srvsvc.uuid .. "," .. dcerpc.NDR20.uuid, uuids, line)
    end
    assert.are.equal(2, n, "requests seen by tshark:\n" .. seen)
    -- and Samba's server pulled them without an NDR error
    local logged = {}
    for f, off in pairs(before) do
      local h = io.open(f, "rb")
      if h then
        h:seek("set", off)
        local text = h:read("a") or ""
        h:close()
        for l in text:gmatch("[^\n]*ndr_pull_error[^\n]*") do logged[#logged + 1] = f .. ": " .. l end
      end
    end
    assert.are.equal(0, #logged, table.concat(logged, "\n"))
  end)

  it("dissects our server's authenticated replies cleanly (rpcclient at seal, our client at sign)", function()
    -- rpcclient asks the endpoint mapper on HOST:135 whatever the binding's
    -- port: our server takes 127.0.0.4, port 135 included
    local l = core.listen_tcp("127.0.0.4", 135)
    if not l then
      if os.getenv("CI") == "true" then error("cannot listen on 127.0.0.4:135") end
      pending("cannot listen on 127.0.0.4:135 (needs root)")
      return
    end
    l:close()
    local examples = require "helpers.examples"
    local ss = assert(examples.start("srvsvc-server.lua", { "--user", "alice:Alice-Pass1" },
                                     "ncacn_ip_tcp:127.0.0.4[0]", "ncacn_ip_tcp:127.0.0.4[135]"))
    local ok, err = pcall(function()
      local list = capture(function()
        local p = assert(io.popen(string.format("env -u LD_PRELOAD timeout 60 rpcclient -s /dev/null -U alice%%Alice-Pass1 " ..
          "'ncacn_ip_tcp:127.0.0.4[%d,seal]' -c 'srvinfo; netshareenumall' 2>&1", ss.port)))
        local out = p:read("a")
        p:close()
        assert.matches("lua%-dcerpc srvsvc server", out)
        local c = assert(dcerpc.connect(ss.endpoints[1], "srvsvc",
          { auth = "ntlm", level = "integrity", user = "alice", password = "Alice-Pass1" }))
        assert(c:NetrShareEnum {
          InfoStruct = { Level = 1, ShareInfo = { Level1 = { EntriesRead = 0 } } },
          PreferedMaximumLength = 0xffffffff,
        })
        c:close()
      end, 8, { filter = "host 127.0.0.4", mine = "ip.src == 127.0.0.4" })
      list = "\n" .. list
      assert.matches("\n%d+\t12[,%d]*\t%d+[,%d]*\t6", list)      -- bind_ack at privacy
      assert.matches("\n%d+\t2[,%d]*\t%d+[,%d]*\t6", list)       -- sealed responses
      assert.matches("\n%d+\t2[,%d]*\t10[,%d]*\t5", list)        -- signed responses, NTLMSSP
    end)
    ss.close()
    if not ok then error(err, 0) end
  end)
end)
