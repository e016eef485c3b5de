-- spec/binding_spec.lua - string bindings: parse, format, round trips, errors.
local core = require "dcerpc.core"

local OBJ = "12345678-1234-abcd-ef00-0123456789ab"

-- input, expected parse result, canonical text (nil: the input is canonical)
local CASES = {
  { "ncacn_ip_tcp:127.0.0.1", { protseq = "ncacn_ip_tcp", host = "127.0.0.1" } },
  { "ncacn_ip_tcp:127.0.0.1[135]", { protseq = "ncacn_ip_tcp", host = "127.0.0.1", endpoint = "135" } },
  { "ncacn_ip_tcp:dc1.rpctest.local[49152]", { protseq = "ncacn_ip_tcp", host = "dc1.rpctest.local", endpoint = "49152" } },
  { "ncacn_ip_tcp:127.0.0.1[60135,sign,seal,target_hostname=dc1]",
    { protseq = "ncacn_ip_tcp", host = "127.0.0.1", endpoint = "60135",
      options = { sign = true, seal = true, target_hostname = "dc1" }, flags = { "sign", "seal" } } },
  { "ncacn_ip_tcp:127.0.0.1[seal]", { protseq = "ncacn_ip_tcp", host = "127.0.0.1",
      options = { seal = true }, flags = { "seal" } } },
  { "ncacn_ip_tcp:127.0.0.1[krb5,seal,target_hostname=dc1.rpctest.local]",
    { protseq = "ncacn_ip_tcp", host = "127.0.0.1", options = { krb5 = true, seal = true,
      target_hostname = "dc1.rpctest.local" }, flags = { "krb5", "seal" } } },
  { "ncacn_ip_tcp:::1", { protseq = "ncacn_ip_tcp", host = "::1" } },
  { "ncacn_ip_tcp:::1[sign]", { protseq = "ncacn_ip_tcp", host = "::1", options = { sign = true }, flags = { "sign" } } },
  { "ncacn_ip_tcp:[::1][135]", { protseq = "ncacn_ip_tcp", host = "::1", endpoint = "135" }, "ncacn_ip_tcp:::1[135]" },
  { "ncacn_ip_tcp:[::1]", { protseq = "ncacn_ip_tcp", host = "::1" }, "ncacn_ip_tcp:::1" },
  { "ncacn_ip_tcp:fe80::1%lo[135]", { protseq = "ncacn_ip_tcp", host = "fe80::1%lo", endpoint = "135" } },
  { "ncacn_ip_tcp:[fe80::1%eth0][49152,seal]", { protseq = "ncacn_ip_tcp", host = "fe80::1%eth0",
      endpoint = "49152", options = { seal = true }, flags = { "seal" } }, "ncacn_ip_tcp:fe80::1%eth0[49152,seal]" },
  { "ncacn_ip_tcp:2001:db8::10:1[1024]", { protseq = "ncacn_ip_tcp", host = "2001:db8::10:1", endpoint = "1024" } },
  { "ncacn_ip_tcp:[::ffff:127.0.0.1][135]", { protseq = "ncacn_ip_tcp", host = "::ffff:127.0.0.1", endpoint = "135" },
    "ncacn_ip_tcp:::ffff:127.0.0.1[135]" },
  { OBJ .. "@ncacn_ip_tcp:127.0.0.1[135]", { object = OBJ, protseq = "ncacn_ip_tcp", host = "127.0.0.1", endpoint = "135" } },
  { "12345678-1234-ABCD-EF00-0123456789AB@NCACN_NP:srv", { object = OBJ, protseq = "ncacn_np", host = "srv" },
    OBJ .. "@ncacn_np:srv" },
  { "ncacn_np:127.0.0.1[\\pipe\\srvsvc]", { protseq = "ncacn_np", host = "127.0.0.1", endpoint = "\\pipe\\srvsvc" } },
  { "ncacn_np:127.0.0.1[\\\\pipe\\\\srvsvc]", { protseq = "ncacn_np", host = "127.0.0.1", endpoint = "\\pipe\\srvsvc" },
    "ncacn_np:127.0.0.1[\\pipe\\srvsvc]" },
  { "ncacn_np:127.0.0.1[endpoint=\\pipe\\srvsvc]", { protseq = "ncacn_np", host = "127.0.0.1", endpoint = "\\pipe\\srvsvc" },
    "ncacn_np:127.0.0.1[\\pipe\\srvsvc]" },
  { "ncacn_np:\\\\\\\\SERVER[\\\\PIPE\\\\atsvc]", { protseq = "ncacn_np", host = "\\\\SERVER", endpoint = "\\PIPE\\atsvc" },
    "ncacn_np:\\\\\\\\SERVER[\\PIPE\\atsvc]" },
  { "ncacn_np:[\\pipe\\eventlog,abstract_syntax=82273fdc-e32a-18c3-3f78-827929dc23ea/0x00000000]",
    { protseq = "ncacn_np", host = "", endpoint = "\\pipe\\eventlog",
      options = { abstract_syntax = "82273fdc-e32a-18c3-3f78-827929dc23ea/0x00000000" } } },
  { "ncacn_np:127.0.0.1", { protseq = "ncacn_np", host = "127.0.0.1" } },
  { "ncalrpc:[EPMAPPER]", { protseq = "ncalrpc", host = "", endpoint = "EPMAPPER" } },
  { "ncalrpc:", { protseq = "ncalrpc", host = "" } },
  { "ncadg_ip_udp:10.1.2.3[135]", { protseq = "ncadg_ip_udp", host = "10.1.2.3", endpoint = "135" } },
  { "ncacn_http:0.0.0.0[593]", { protseq = "ncacn_http", host = "0.0.0.0", endpoint = "593" } },
  { "ncacn_http:web.example.com[593,RpcProxy=proxy.example.com:443]",
    { protseq = "ncacn_http", host = "web.example.com", endpoint = "593",
      options = { RpcProxy = "proxy.example.com:443" } } },
  { "ncacn_vns_spp:server[1234]", { protseq = "ncacn_vns_spp", host = "server", endpoint = "1234" } },
  { "ncacn_foo_bar:x[y,z=1]", { protseq = "ncacn_foo_bar", host = "x", endpoint = "y", options = { z = "1" } } },
  { "ncacn_ip_tcp:h[,myflag]", { protseq = "ncacn_ip_tcp", host = "h", options = { myflag = true }, flags = { "myflag" } } },
  { "ncacn_ip_tcp:h[]", { protseq = "ncacn_ip_tcp", host = "h" }, "ncacn_ip_tcp:h" },
  { "ncalrpc:[a\\,b\\]c\\=d]", { protseq = "ncalrpc", host = "", endpoint = "a,b]c=d" } },
  { "ncalrpc:[e,k=v\\,w\\]]", { protseq = "ncalrpc", host = "", endpoint = "e", options = { k = "v,w]" } } },
  { "ncacn_np:h\\[x\\][\\pipe\\p]", { protseq = "ncacn_np", host = "h[x]", endpoint = "\\pipe\\p" } },
  { "ncalrpc:[endpoint=sign]", { protseq = "ncalrpc", host = "", endpoint = "sign" } },
  { "ncalrpc:[trail\\\\]", { protseq = "ncalrpc", host = "", endpoint = "trail\\" } },
  { "ncacn_ip_tcp:h[135,b=2,a=1]", { protseq = "ncacn_ip_tcp", host = "h", endpoint = "135", options = { a = "1", b = "2" } },
    "ncacn_ip_tcp:h[135,a=1,b=2]" },
  { "ncacn_foo:[endpoint=::1]", { protseq = "ncacn_foo", host = "", endpoint = "::1" } },   -- not a [::1] host
  { "ncalrpc:[a::b]", { protseq = "ncalrpc", host = "", endpoint = "a::b" } },             -- no host for ncalrpc
  { "ncacn_ip_tcp:h[135,empty=]", { protseq = "ncacn_ip_tcp", host = "h", endpoint = "135", options = { empty = "" } } },
}

local function norm(e)
  return { object = e.object, protseq = e.protseq, host = e.host, endpoint = e.endpoint,
           options = e.options or {}, flags = e.flags or {} }
end

describe("dcerpc.core string bindings #unit", function()
  it("has enough cases", function() assert.is_true(#CASES >= 25) end)

  for _, c in ipairs(CASES) do
    local input, want, canon = c[1], c[2], c[3] or c[1]
    it("parses and formats " .. input, function()
      local b, err = core.binding_parse(input)
      assert.is_nil(err)
      assert.are.same(norm(want), b)
      local s = core.binding_format(b)
      assert.are.equal(canon, s)
      -- round trip: the canonical text parses to the same table, formats the same
      assert.are.same(b, core.binding_parse(s))
      assert.are.equal(s, core.binding_format(core.binding_parse(s)))
    end)
  end

  it("formats tables built by hand", function()
    assert.are.equal("ncacn_ip_tcp:10.0.0.1[49152]",
      core.binding_format { protseq = "ncacn_ip_tcp", host = "10.0.0.1", endpoint = 49152 })
    assert.are.equal("ncacn_ip_tcp:h[sign,seal,a=1,b=x]",
      core.binding_format { protseq = "ncacn_ip_tcp", host = "h", flags = { "sign" },
        options = { seal = true, a = 1, b = "x", off = false } })
    assert.are.equal(OBJ .. "@ncalrpc:", core.binding_format { protseq = "ncalrpc", object = OBJ:upper() })
    assert.are.equal("ncacn_np:[\\pipe\\x]", core.binding_format { protseq = "ncacn_np", endpoint = "\\pipe\\x" })
  end)

  it("raises on a bad table", function()
    assert.has_error(function() core.binding_format("ncacn_ip_tcp:h") end)
    assert.has_error(function() core.binding_format {} end)
    assert.has_error(function() core.binding_format { protseq = "bad seq" } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", object = "nope" } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", options = { ["bad key"] = "1" } } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", options = { endpoint = "x" } } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", options = { k = {} } } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", flags = { {} } } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", flags = { 7 } } end)
    assert.has_error(function() core.binding_format { protseq = "ncalrpc", flags = { "a" }, options = { a = "x" } } end)
    assert.has_error(function() core.binding_parse() end)
  end)

  describe("bad bindings", function()
    local BAD = {
      { "", 1, "empty" },
      { "127.0.0.1", 4, "invalid character in protocol sequence" },
      { "ncacn_ip_tcp", 13, "expected ':'" },
      { ":127.0.0.1", 1, "missing protocol sequence" },
      { "ncacn ip:x", 6, "invalid character" },
      { "not-a-uuid@ncacn_ip_tcp:h", 1, "object UUID" },
      { "ncacn_ip_tcp:h[135", 19, "missing ']'" },
      { "ncacn_ip_tcp:h[135]x", 20, "after ']'" },
      { "ncacn_ip_tcp:h]", 15, "unbalanced" },
      { "ncacn_ip_tcp:h[a[b]", 17, "unexpected '%['" },
      { "ncacn_ip_tcp:h[http]", 16, "port" },
      { "ncacn_ip_tcp:h[65536]", 16, "out of range" },
      { "ncacn_ip_tcp:h[123456]", 16, "port" },
      { "ncadg_ip_udp:h[-1]", 16, "port" },
      { "ncacn_ip_tcp:h[135,]", 20, "empty option" },
      { "ncacn_ip_tcp:h[135,sign,sign]", 25, "duplicate" },
      { "ncacn_ip_tcp:h[135,a=1,a=2]", 24, "duplicate" },
      { "ncacn_ip_tcp:h[135,=1]", 20, "option name" },
      { "ncacn_ip_tcp:h[135,bad flag]", 20, "flag name" },
      { "ncacn_np:h[\\pipe\\a,endpoint=\\pipe\\b]", 20, "twice" },
      { "ncacn_ip_tcp:h\n[135]", 15, "control character" },
      { "ncacn_ip_tcp:h[1\0]", 17, "control character" },
      { "ncacn_ip_tcp:[::1]x", 19, "expected '%['" },
      { "ncalrpc:[,endpoint]", 11, "needs a value" },
    }
    for _, c in ipairs(BAD) do
      it(("refuses %q"):format(c[1]), function()
        local b, err = core.binding_parse(c[1])
        assert.is_nil(b)
        assert.are.equal(1700, err.code)
        assert.are.equal("RPC_S_INVALID_STRING_BINDING", err.name)
        assert.are.equal(c[2], err.position)
        assert.matches(c[3], err.message)
        assert.matches("position " .. c[2], err.message, 1, true)
        assert.matches("^RPC_S_INVALID_STRING_BINDING %(0x000006a4%)", tostring(err))
      end)
    end

    it("refuses too many options and too long strings", function()
      local opts = {}
      for i = 1, 65 do opts[i] = "o" .. i .. "=1" end
      local b, err = core.binding_parse("ncalrpc:[x," .. table.concat(opts, ",") .. "]")
      assert.is_nil(b)
      assert.matches("too many options", err.message)
      b, err = core.binding_parse("ncacn_ip_tcp:" .. ("a"):rep(9000))
      assert.is_nil(b)
      assert.are.equal(1700, err.code)
    end)

    it("never crashes on mangled bindings", function()
      local seeds = { "ncacn_np:\\\\\\\\srv[\\\\pipe\\\\x,a=b\\,c]", OBJ .. "@ncacn_ip_tcp:[::1][135,seal]" }
      local chars = { "\\", "[", "]", ",", "=", "@", ":", "%", "a", "0", "\0", "\255" }
      local n = 0
      for _, s in ipairs(seeds) do
        for i = 1, #s + 1 do
          for _, ch in ipairs(chars) do
            for _, m in ipairs { s:sub(1, i - 1) .. ch .. s:sub(i), s:sub(1, i - 1) .. ch .. s:sub(i + 1),
                                 s:sub(1, i - 1) } do
              local b, err = core.binding_parse(m)
              if b then
                local f = core.binding_format(b)
                assert.are.same(b, core.binding_parse(f))
              else
                assert.are.equal(1700, err.code)
                assert.is_true(err.position >= 1 and err.position <= #m + 1)
              end
              n = n + 1
            end
          end
        end
      end
      assert.is_true(n > 1000)
    end)
  end)
end)
