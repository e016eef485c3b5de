-- The public module's own behaviour, no peer needed: bindings, interfaces,
-- the error-value convention, and connection failures.
local dcerpc = require "dcerpc"

describe("dcerpc #unit", function()
  it("parses string bindings", function()
    local b = assert(dcerpc.binding("ncacn_ip_tcp:127.0.0.1[49152]"))
    assert.are.equal("ncacn_ip_tcp", b.protseq)
    assert.are.equal("127.0.0.1", b.host)
    assert.are.equal("49152", b.endpoint)
  end)

  it("returns nil, err for a bad binding", function()
    local b, err = dcerpc.binding("ncacn_ip_tcp:127.0.0.1[49152")
    assert.is_nil(b)
    assert.are.equal(1700, err.code)
    assert.matches("^RPC_S_INVALID_STRING_BINDING %(0x000006a4%): ", tostring(err))
  end)

  it("loads shipped interfaces by name", function()
    local s = dcerpc.interface "srvsvc"
    assert.are.equal("4b324fc8-1670-01d3-1278-5a47bf6ee188", s.uuid)
    assert.are.equal(3, s.major)
    assert.are.equal(0, s.minor)
    assert.are.equal(21, s.functions.NetrServerGetInfo.opnum)
    assert.are.equal(s.functions[15], s.functions.NetrShareEnum)
    assert.are.equal(dcerpc.interface "epm", require "dcerpc.iface.epm")
  end)

  it("refuses protocol sequences it does not speak yet, as an error value", function()
    local c, err = dcerpc.connect("ncadg_ip_udp:127.0.0.1[135]", "epm")
    assert.is_nil(c)
    assert.are.equal(1703, err.code)
    assert.are.equal("no", err.executed)
  end)

  it("reports a refused connection as server unavailable, not executed", function()
    local c, err = dcerpc.connect("ncacn_ip_tcp:127.0.0.1[9]", "epm", { connect_timeout = 3 })
    assert.is_nil(c)
    assert.are.equal(1722, err.code)
    assert.are.equal("no", err.executed)
    assert.is_string(err.message)
  end)

  it("raises on misuse, not on failures", function()
    assert.has_error(function() dcerpc.connect(42, "epm") end)
    assert.has_error(function() dcerpc.interface "no such/iface" end)
  end)
end)
