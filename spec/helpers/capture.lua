-- spec/helpers/capture.lua: what a spec puts on the wire, dissected by
-- Wireshark. capture(fn, min_frames, opts) runs fn while dumpcap records
-- loopback, then asks tshark about the frames of the connections fn opened:
-- none of those we sent (opts.mine: a display filter for them, e.g.
-- "tcp.dstport in {135, 49152}") may be malformed or carry an expert item at
-- warning level or above, none at all may be malformed, and at least
-- min_frames DCE/RPC frames must be there. Returns the DCE/RPC frames as
-- "frame\tpkt_type\tauth_type\tauth_level" lines.
--   opts.filter   dumpcap's capture filter (default "port 135 or portrange 49152-65535")
--   opts.inspect  function(pcap, mine): a closer look before the file goes
--
--   local capture = require "helpers.capture"
--   if not capture.available() then ... end
--   capture.run(function() ... end, 4, { filter = "port 31135", mine = "tcp.dstport == 31135" })
local M = {}

local function sh(cmd)
  -- stderr is dropped: tshark notes there that it runs as root
  local f = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok and 0 or code
end
M.sh = sh

function M.available()
  return sh("command -v dumpcap") ~= "" and sh("command -v tshark") ~= ""
end

-- Wireshark hands a subdissector the stub up to the verification trailer's
-- signature, so the 1-3 zero octets that align the trailer ([MS-RPCE]
-- 2.2.2.13: "stub padding octets", as Samba's and Windows' clients send
-- them) show as "Long frame (N bytes)" after a stub whose length is not a
-- multiple of 4. Those lines are dropped from `bad` (tshark's
-- "frame\tmessage\t..." lines): the frame carries a trailer, its only
-- expert item is that one, and N < 4. Anything else stays.
function M.drop_vt_padding(pcap, bad)
  if bad == "" then return bad end
  local keep = {}
  for line in bad:gmatch("[^\n]+") do
    local frame, msg = line:match("^(%d+)\t([^\t]*)")
    local ok = false
    if frame and msg == "Long frame" then
      local info = sh(string.format("env -u LD_PRELOAD tshark -n -r %q -Y 'frame.number == %s' -T fields " ..
                                    "-e dcerpc.rpc_sec_vt.signature -e _ws.col.Info", pcap, frame))
      local sig, n = info:match("^(%x+)\t.*%[Long frame %((%d) bytes?%)%]")
      ok = sig == "8ae3137102f43671" and tonumber(n) < 4
    end
    if not ok then keep[#keep + 1] = line end
  end
  return #keep > 0 and table.concat(keep, "\n") .. "\n" or ""
end

function M.run(fn, min_frames, opts)
  opts = opts or {}
  assert(opts.mine, "capture: opts.mine (a filter for the frames we sent) expected")
  local pcap = os.tmpname() .. ".pcap"
  local pidfile = os.tmpname()
  local filter = opts.filter or "port 135 or portrange 49152-65535"
  os.execute(string.format("(env -u LD_PRELOAD dumpcap -q -i lo -f %q -w %q >/dev/null 2>&1 & echo $! > %q)",
                           filter, pcap, pidfile))
  local pid = io.open(pidfile):read("l")
  -- wait for the capture to be running (pcap header written)
  for _ = 1, 50 do
    local f = io.open(pcap, "rb")
    local n = f and #f:read("a") or 0
    if f then f:close() end
    if n > 0 then break end
    os.execute("sleep 0.1")
  end
  os.execute("sleep 0.5")
  local ok, err = pcall(fn)
  os.execute("sleep 0.5")
  os.execute("kill -INT " .. pid .. "; sleep 0.5")
  if not ok then os.remove(pcap); os.remove(pidfile); error(err, 0) end
  -- only connections that started inside the capture (other traffic on
  -- these ports, e.g. a benchmark, may be running)
  local streams = {}
  for id in sh(string.format("env -u LD_PRELOAD tshark -n -r %q -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' " ..
                             "-T fields -e tcp.stream", pcap)):gmatch("%d+") do
    streams[#streams + 1] = id
  end
  assert(#streams >= 1, "no connection captured")
  local mine = "tcp.stream in {" .. table.concat(streams, ",") .. "} && " .. opts.mine
  -- (a filter tshark refuses prints nothing: the exit code tells)
  local bad, code = sh(string.format(
    "env -u LD_PRELOAD tshark -n -r %q -Y '%s && (_ws.malformed || _ws.expert.severity >= \"warning\")' " ..
    "-T fields -e frame.number -e _ws.expert.message -e dcerpc.pkt_type -e dcerpc.opnum " ..
    "-e dcerpc.cn_flags -e dcerpc.auth_level -e dcerpc.cn_frag_len -e tcp.len", pcap, mine))
  assert(code == 0, "tshark refused the filter: " .. mine)
  bad = M.drop_vt_padding(pcap, bad)
  if bad ~= "" then
    -- keep the capture for a look: which frames, and what tshark says of them
    local keep = "/tmp/lua-dcerpc-wire-failure.pcap"
    os.execute(string.format("cp %q %q", pcap, keep))
    error("tshark flags our frames (frame, message, ptype, opnum, flags, level, frag_len, tcp.len):\n" .. bad ..
          "(capture kept in " .. keep .. ")", 2)
  end
  -- and the replies decode without malformed packets either
  local malformed = sh(string.format("env -u LD_PRELOAD tshark -n -r %q -Y 'tcp.stream in {%s} && _ws.malformed' " ..
                                     "-T fields -e frame.number", pcap, table.concat(streams, ",")))
  assert(malformed == "", "malformed frames: " .. malformed)
  local list = sh(string.format("env -u LD_PRELOAD tshark -n -r %q -Y 'tcp.stream in {%s} && dcerpc' -T fields " ..
                                "-e frame.number -e dcerpc.pkt_type -e dcerpc.auth_type -e dcerpc.auth_level",
                                pcap, table.concat(streams, ",")))
  local n = select(2, list:gsub("\n", ""))
  assert(n >= min_frames, "too few DCE/RPC frames captured:\n" .. list)
  if opts.inspect then opts.inspect(pcap, mine) end
  os.remove(pcap); os.remove(pidfile)
  return list
end

return M
