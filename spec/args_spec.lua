-- dcerpc.args: a script's credential options (-U, -P, --nt-hash, -k,
-- --timeout) turned into dcerpc.connect's options, as the examples read them.
local args = require "dcerpc.args"

local function env(t) return function(k) return t[k] end end
local none = env {}

describe("dcerpc.args #unit", function()
  it("keeps positional arguments in order, options anywhere among them", function()
    local pos, opts = args.parse({ "ncacn_np:srv", "-k", "S-1-5-32-544", "alice" }, nil, none)
    assert.are.same({ "ncacn_np:srv", "S-1-5-32-544", "alice" }, pos)
    assert.are.same({ kerberos = true }, opts)
  end)

  it("reads -U USER -P PASSWORD, DOMAIN\\USER and rpcclient's USER%PASSWORD", function()
    local _, o = args.parse({ "b", "-U", "alice", "-P", "pw" }, nil, none)
    assert.are.same({ user = "alice", password = "pw" }, o)
    _, o = args.parse({ "-U", "CORP\\alice%Secret%1", "b" }, nil, none)
    assert.are.same({ user = "alice", domain = "CORP", password = "Secret%1" }, o)
    _, o = args.parse({ "--user", "CORP/alice", "--password", "x" }, nil, none)
    assert.are.same({ user = "alice", domain = "CORP", password = "x" }, o)
    -- -P wins over the %PASSWORD part
    _, o = args.parse({ "-U", "alice%a", "-P", "b" }, nil, none)
    assert.are.equal("b", o.password)
  end)

  it("reads NAME:PASSWORD and USER@REALM (the realm stays in the name, for Kerberos)", function()
    local _, o = args.parse({ "-U", "alice:Alice-Pass1" }, nil, none)
    assert.are.same({ user = "alice", password = "Alice-Pass1" }, o)
    _, o = args.parse({ "-U", "alice@RPCTEST.LOCAL", "-k" }, nil, none)
    assert.are.same({ user = "alice@RPCTEST.LOCAL", password = "", kerberos = true }, o)
  end)

  it("takes the password from DCERPC_PASSWORD when -U has none", function()
    local _, o = args.parse({ "-U", "alice" }, nil, env { DCERPC_PASSWORD = "from-env" })
    assert.are.equal("from-env", o.password)
    _, o = args.parse({ "-U", "alice" }, nil, none)
    assert.are.equal("", o.password)
  end)

  it("takes --nt-hash for NTLM, 32 hex digits", function()
    local h = string.rep("ab", 16)
    local _, o = args.parse({ "-U", "alice", "--nt-hash", h }, nil, none)
    assert.are.same({ user = "alice", nt_hash = h }, o)
    local p, e = args.parse({ "-U", "alice", "--nt-hash", "xyz" }, nil, none)
    assert.is_nil(p)
    assert.are.equal("--nt-hash: 32 hex digits expected", e)
  end)

  it("starts from the defaults given, without changing them; --timeout sets both timeouts", function()
    local d = { timeout = 30, connect_timeout = 15 }
    local _, o = args.parse({ "--timeout", "2.5" }, d, none)
    assert.are.same({ timeout = 2.5, connect_timeout = 2.5 }, o)
    assert.are.same({ timeout = 30, connect_timeout = 15 }, d)
    _, o = args.parse({}, d, none)
    assert.are.same(d, o)
    assert.are_not.equal(d, o)
  end)

  it("an empty -U is anonymous; -- ends the options", function()
    local pos, o = args.parse({ "-U", "", "--", "-k", "x" }, nil, none)
    assert.are.same({ "-k", "x" }, pos)
    assert.are.same({}, o)
  end)

  it("refuses what it does not know, with nil and a message", function()
    for _, case in ipairs {
      { { "--bogus" }, "unknown option --bogus" },
      { { "b", "-U" }, "-U needs a value" },
      { { "-P", "pw" }, "a password without a user (-U USER)" },
      { { "--nt-hash", string.rep("0", 32) }, "--nt-hash without a user (-U USER)" },
      { { "--timeout", "soon" }, "--timeout: a number of seconds expected" },
      { { "--timeout", "0" }, "--timeout: a number of seconds expected" },
    } do
      local p, e = args.parse(case[1], nil, none)
      assert.is_nil(p)
      assert.are.equal(case[2], e)
    end
    assert.has_error(function() args.parse("x") end, "bad argument #1 to 'parse' (table expected)")
  end)

  it("documents its options in one usage string", function()
    assert.are.equal("[-U [DOMAIN\\]USER[%PASSWORD]] [-P PASSWORD] [--nt-hash HEX] [-k] [--timeout SECONDS]", args.usage)
  end)
end)
