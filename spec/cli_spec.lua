-- cli_spec: the `dcerpc` command (bin/dcerpc, scripts/dcerpc/cli.lua).
-- Unit parts run in this process (options, credentials, values, JSON); the
-- rest runs the command as a child process (lua5.4 bin/dcerpc ..., from
-- another directory, as a user would) and, #interop, compares what it prints
-- with what Samba's rpcclient prints for the same questions to the Samba peer
-- (spec/helpers/peers.lua). Under CI=true nothing is skipped.

local peers = require "helpers.peers"
local cli = require "dcerpc.cli"
local json = require "dcerpc.cli.json"

local ROOT = peers.root
local BIN = ROOT .. "/bin/dcerpc"
local FIX = ROOT .. "/spec/fixtures/"
local CI = os.getenv("CI") == "true"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path)
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s
end

-- Run a shell command line; stdout, stderr, exit code.
local function run(cmdline)
  local errf = os.tmpname()
  local p = assert(io.popen(cmdline .. " 2>" .. q(errf)))
  local out = p:read("a")
  local ok, how, code = p:close()
  local err = slurp(errf)
  os.remove(errf)
  if ok then code = 0 elseif how == "signal" then code = 128 + code end
  return out, err, code
end

-- dcerpc(args..., [{ env = "K=V ...", stdin = "text" }]) -> stdout, stderr, exit code.
-- From / with no LUA_PATH / LUA_CPATH: the launcher finds the checkout itself;
-- no sanitizer LD_PRELOAD meant for this process.
local function dcerpc(...)
  local args, extra = { ... }, {}
  if type(args[#args]) == "table" then extra = table.remove(args) end
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  local input = extra.stdin and ("printf %s " .. q(extra.stdin) .. " | ") or "</dev/null "
  return run(string.format("cd / && %s env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH -u DCERPC_USER -u DCERPC_PASSWORD %s lua5.4 %s %s",
                           input, extra.env or "", q(BIN), table.concat(parts, " ")))
end

local function lines_of(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end


--------------------------------------------------------------------------
describe("dcerpc command: help and usage #unit", function()
  it("prints the overall help with every subcommand, exit 0; none given is a usage error", function()
    local out, _, code = dcerpc("--help")
    assert.are.equal(0, code)
    for _, sub in ipairs { "dump", "call", "srvinfo", "shares", "users", "idl", "serve", "help" } do
      assert.is_truthy(out:find("\n  " .. sub .. " ", 1, true), sub)
    end
    assert.is_truthy(out:find("Exit status: 0 ok, 1 internal error, 2 usage, 3 connection, 4 authentication", 1, true))
    local _, err, code2 = dcerpc()
    assert.are.equal(2, code2)
    assert.is_truthy(err:find("usage: dcerpc SUBCOMMAND", 1, true))
  end)

  it("prints each subcommand's usage with --help, -h and help SUB", function()
    for _, sub in ipairs { "dump", "call", "srvinfo", "shares", "netshareenumall", "users", "enumdomusers",
                           "idl", "serve" } do
      local out, err, code = dcerpc(sub, "--help")
      assert.are.equal(0, code, sub .. ": " .. err)
      assert.is_truthy(out:find("^usage: dcerpc ") and out:find("dcerpc " .. sub .. " [OPTIONS]", 1, true), sub .. ": " .. out)
      local out2, _, code2 = dcerpc("help", sub)
      assert.are.equal(0, code2)
      assert.are.equal(out, out2)
      local out3 = dcerpc(sub, "-h")
      assert.are.equal(out, out3)
    end
    local _, err, code = dcerpc("help", "nosuch")
    assert.are.equal(2, code)
    assert.is_truthy(err:find("no subcommand 'nosuch'", 1, true))
  end)

  it("exits 2 on usage errors, with the reason and a pointer to --help", function()
    local cases = {
      { { "frobnicate" }, "no subcommand 'frobnicate'" },
      { { "dump", "--bogus", "h" }, "unknown option --bogus" },
      { { "dump", "-Z" }, "unknown option -Z" },
      { { "dump" }, "HOST or BINDING expected" },
      { { "call", "ncacn_ip_tcp:127.0.0.1[1]", "srvsvc" }, "BINDING IFACE FUNCTION expected" },
      { { "call", "127.0.0.1", "nosuch", "X" }, "no shipped interface 'nosuch' (shipped: epm," },
      { { "call", "127.0.0.1", "srvsvc", "NoSuchFunction" }, "interface srvsvc has no function 'NoSuchFunction'" },
      { { "call", "127.0.0.1", "srvsvc", "NetrServerGetInfo", "Level=abc" }, "Level: an integer expected, got 'abc'" },
      { { "call", "127.0.0.1", "srvsvc", "NetrServerGetInfo", "Levl=1" },
        "NetrServerGetInfo has no [in] parameter 'Levl' (its [in] parameters: ServerName, Level)" },
      { { "call", "127.0.0.1", "srvsvc", "NetrServerGetInfo", "Level" }, "NAME=VALUE or a {table} expected" },
      { { "call", "127.0.0.1", "srvsvc", "NetrServerGetInfo", "{Level=os.exit(3)}" }, "neither a JSON object" },
      { { "call", "127.0.0.1", "srvsvc", "NetrServerGetInfo", "--args", "/nonexistent/args.json" }, "cannot read" },
      { { "srvinfo", "127.0.0.1", "--level", "extreme" }, "--level: connect, packet, integrity or privacy expected" },
      { { "srvinfo", "127.0.0.1", "--auth", "kerberos5" }, "--auth: ntlm, spnego or krb5 expected" },
      { { "srvinfo", "127.0.0.1", "--timeout", "soon" }, "--timeout: a number of seconds expected" },
      { { "srvinfo", "127.0.0.1", "--nt-hash", "abc", "-U", "alice" }, "--nt-hash: 32 hex digits expected" },
      { { "srvinfo", "127.0.0.1", "--password", "x" }, "--password / --nt-hash without -U USER" },
      { { "shares", "127.0.0.1", "7" }, "unsupported info level 7" },
      { { "srvinfo", "ncacn_ip_tcp:" }, "bad binding" },
      { { "serve", FIX .. "cli_serve.lua", "--user", "nopassword" }, "--user: NAME:PASSWORD expected" },
    }
    for _, c in ipairs(cases) do
      local out, err, code = dcerpc(table.unpack(c[1]))
      assert.are.equal(2, code, table.concat(c[1], " ") .. "\n" .. err)
      assert.is_truthy(err:find(c[2], 1, true), table.concat(c[1], " ") .. ": " .. err)
      assert.is_truthy(err:find("try 'dcerpc", 1, true) or err:find("cannot read", 1, true), err)
      assert.are.equal("", out)
    end
  end)

  it("asks for a password only on a terminal: none on a pipe is a usage error, never a hang", function()
    local _, err, code = dcerpc("srvinfo", "127.0.0.1", "-U", "alice", { stdin = "Alice-Pass1\n" })
    assert.are.equal(2, code)
    assert.is_truthy(err:find("no password for alice", 1, true))
    assert.is_falsy(err:find("Alice-Pass1", 1, true))
  end)

  it("says its version (loading the C core) from any directory", function()
    local out, err, code = dcerpc("--version")
    assert.are.equal(0, code, err)
    assert.is_truthy(out:match("^lua%-dcerpc %d+%.%d+"), out)
  end)

end)

--------------------------------------------------------------------------
describe("dcerpc.cli internals #unit", function()
  it("parses options and positionals in any order, --x=v, -Xv, and --", function()
    local specs = { { long = "user", short = "U", arg = true }, { long = "json" },
                    { long = "include", short = "I", arg = true, multi = true } }
    local o, pos = cli.parse_options({ "call", "a", "-Ubob%pw", "--json", "b=1", "-I", "x", "--include=y", "--", "-c" },
                                     2, specs)
    assert.are.same({ user = "bob%pw", json = true, include = { "x", "y" } }, o)
    assert.are.same({ "a", "b=1", "-c" }, pos)
  end)

  it("reads credentials like rpcclient's -U, and the environment", function()
    local function env(vars, tty, answer)
      return { getenv = function(k) return vars[k] end, isatty = function() return tty end,
               prompt = function(text) assert(text:find("Password for %[CORP\\bob%]")); return answer end }
    end
    local c = cli.credentials({ user = "CORP\\bob%se%cret" }, env({}))
    assert.are.same({ domain = "CORP", user = "bob", password = "se%cret" }, c)
    c = cli.credentials({ user = "bob", password = "pw", seal = true, timeout = "5" }, env({}))
    assert.are.same({ user = "bob", password = "pw", level = "privacy", timeout = 5, connect_timeout = 5 }, c)
    c = cli.credentials({}, env({ DCERPC_USER = "CORP/bob", DCERPC_PASSWORD = "envpw" }))
    assert.are.same({ domain = "CORP", user = "bob", password = "envpw" }, c)
    c = cli.credentials({ user = "CORP\\bob" }, env({}, true, "typed"))
    assert.are.equal("typed", c.password)
    c = cli.credentials({ user = "" }, env({ DCERPC_PASSWORD = "x" }))
    assert.are.same({}, c)                                  -- anonymous
    c = cli.credentials({ user = "bob", ["nt-hash"] = string.rep("ab", 16), auth = "ntlm", sign = true }, env({}))
    assert.are.same({ user = "bob", nt_hash = string.rep("ab", 16), auth = "ntlm", level = "integrity" }, c)
    c = cli.credentials({ user = "bob", ["no-pass"] = true }, env({}))
    assert.are.equal("", c.password)
  end)

  it("reads NAME=VALUE by the parameter's type, dotted paths included", function()
    local srvsvc = require "dcerpc.iface.srvsvc"
    local f = srvsvc.functions.NetrShareEnum
    assert.are.equal(2, cli.coerce(cli.type_at(f, "InfoStruct.Level"), "2", "x"))
    assert.are.equal(0x1f, cli.coerce(cli.type_at(f, "PreferedMaximumLength"), "0x1f", "x"))
    assert.are.equal("0x1f", cli.coerce(cli.type_at(f, "ServerName"), "0x1f", "x"))   -- a string stays one
    assert.are.equal(0, cli.coerce(cli.type_at(f, "InfoStruct.ShareInfo.Level1.EntriesRead"), "0", "x"))
    local samr = require "dcerpc.iface.samr"
    local h = cli.coerce(cli.type_at(samr.functions.SamrCloseHandle, "SamHandle"), string.rep("0a", 20), "x")
    assert.are.equal(string.rep("\10", 20), h)
    local echo = require "dcerpc.iface.rpcecho"
    assert.are.equal("abc", cli.coerce(cli.type_at(echo.functions.EchoData, "in_data"), "616263", "x"))
    assert.are.equal(2, cli.coerce(cli.type_at(echo.functions.TestEnum, "foo1"), "ECHO_ENUM2", "x"))
    assert.are.same({ 1, 2, 3 }, cli.coerce(cli.type_at(echo.functions.TestSurrounding, "data.surrounding"), "1,2,3", "x"))
  end)

  it("takes Lua table literals as data only", function()
    assert.are.same({ Level = 101, x = { 1, "a" } }, cli.lua_table("{ Level = 101, x = { 1, 'a' } }", "t"))
    local v, e = cli.lua_table("{ os.exit(1) }", "t")
    assert.is_nil(v)
    assert.is_truthy(e:find("os", 1, true))
    v, e = cli.lua_table("{ (function() while true do end end)() }", "t")
    assert.is_nil(v)
    assert.is_truthy(e:find("too much work", 1, true))
    v = cli.lua_table("\27Lua", "t")
    assert.is_nil(v)
  end)

  it("writes and reads JSON", function()
    local doc = { a = 1, b = { "x", true, 2.5 }, c = json.array({}), d = "é\"\n\1", e = { f = -7 } }
    local back = assert(json.decode(json.encode(doc)))
    assert.are.same(doc, back)
    assert.are.same(doc, assert(json.decode(json.encode(doc, { indent = 2 }))))
    assert.are.equal('{"b":1,"a":2}', json.encode(json.object({ a = 2, b = 1 }, { "b", "a" })))
    assert.are.equal(math.maxinteger, json.decode(tostring(math.maxinteger)))
    local v, e = json.decode('{"a": 1,}')
    assert.is_nil(v)
    assert.are.equal("json: member name expected at line 1 column 9", e)
    assert.is_nil((json.decode("[1] 2")))
    assert.is_nil((json.decode('"\\ud800"')))
  end)

  it("names server types as rpcclient does", function()
    assert.are.equal("Wk Sv PrQ Unx NT SNT", cli.server_type_text(0x809a03))
    assert.are.equal("All", cli.server_type_text(0xffffffff))
  end)

  it("sorts failures into exit codes", function()
    assert.are.equal(4, cli.call_exit({ ntlm_unproven = true }, { code = 0x1c01000b }))
    assert.are.equal(3, cli.call_exit({ ntlm_unproven = true }, { code = 1818 }))
    assert.are.equal(3, cli.call_exit({}, { code = 1722 }))
    assert.are.equal(5, cli.call_exit({}, { code = 0x1c010002, message = "fault" }))
    assert.are.equal(5, cli.call_exit({}, { code = 123, message = "NetrShareGetInfo returned ERROR_INVALID_NAME" }))
  end)
end)

--------------------------------------------------------------------------
-- A `dcerpc serve` child: its pid and endpoints (from "listening on" lines).
local function serve(...)
  local args = {}
  for i, a in ipairs { ... } do args[i] = q(a) end
  local errf = os.tmpname()
  local p = assert(io.popen(string.format(
    "cd / && exec env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH sh -c %s 2>%s",
    q("echo $$; exec lua5.4 " .. q(BIN) .. " serve " .. table.concat(args, " ")), q(errf))))
  local pid = tonumber(p:read("l"))
  local eps = {}
  for line in p:lines() do
    local ep = line:match("^listening on (.*)$")
    if not ep then break end
    eps[#eps + 1] = ep
    if #eps == 1 then break end
  end
  return {
    pid = pid, endpoint = eps[1],
    close = function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      p:close()
      local err = slurp(errf)
      os.remove(errf)
      return err
    end,
    stderr = function() return slurp(errf) end,
  }
end

describe("dcerpc serve #interop", function()
  it("serves a script's interface and handlers; dcerpc call talks to it", function()
    local s = serve(FIX .. "cli_serve.lua", "--listen", "ncacn_ip_tcp:127.0.0.1[0]")
    finally(s.close)
    assert.is_truthy(s.endpoint, "no endpoint: " .. s.stderr())
    assert.is_truthy(s.endpoint:match("^ncacn_ip_tcp:127%.0%.0%.1%[%d+%]$"), s.endpoint)
    local out, err, code = dcerpc("call", s.endpoint, "rpcecho", "AddOne", "in_data=41")
    assert.are.equal(0, code, err)
    assert.are.equal("out_data: 42 (0x2a)\n", out)
    -- binary out as hex; the same through --json
    out, err, code = dcerpc("call", s.endpoint, "rpcecho", "EchoData", "len=3", "in_data=00ff41")
    assert.are.equal(0, code, err)
    assert.are.equal("out_data: 00ff41\n", out)
    out, err, code = dcerpc("call", s.endpoint, "rpcecho", "EchoData", '{"len": 2, "in_data": "beef"}', "--json")
    assert.are.equal(0, code, err)
    assert.are.same({ out_data = "beef" }, json.decode(out))
    -- an error status: exit 5, the results printed all the same
    out, err, code = dcerpc("call", s.endpoint, "rpcecho", "TestCall2", "level=1")
    assert.are.equal(5, code)
    assert.is_truthy(out:find("result: 0xc0000003 (STATUS_INVALID_INFO_CLASS)", 1, true), out)
    assert.is_truthy(err:find("TestCall2 returned STATUS_INVALID_INFO_CLASS", 1, true), err)
    -- a function without a handler faults: exit 5
    _, err, code = dcerpc("call", s.endpoint, "rpcecho", "SinkData", "len=1", "data=00")
    assert.are.equal(5, code)
    assert.is_truthy(err:find("nca_s_op_rng_error", 1, true), err)
  end)

  it("accepts the users of --user, refuses a wrong password with exit 4", function()
    local s = serve(FIX .. "cli_serve.lua", "--user", "carol:Carol-Pass1", "--domain", "CLITEST")
    finally(s.close)
    assert.is_truthy(s.endpoint, "no endpoint: " .. s.stderr())
    local out, err, code = dcerpc("call", s.endpoint, "rpcecho", "AddOne", "in_data=1", "-U", "carol%Carol-Pass1", "--seal")
    assert.are.equal(0, code, err)
    assert.are.equal("out_data: 2\n", out)
    out, err, code = dcerpc("call", s.endpoint, "rpcecho", "AddOne", "in_data=1", "-U", "carol",
                            { env = "DCERPC_PASSWORD=Carol-Pass1" })
    assert.are.equal(0, code, err)
    _, err, code = dcerpc("call", s.endpoint, "rpcecho", "AddOne", "in_data=1", "-U", "carol%wrong")
    assert.are.equal(4, code, err)
    assert.is_falsy(err:find("wrong", 1, true))            -- the password is never printed
    _, err, code = dcerpc("call", s.endpoint, "rpcecho", "AddOne", "in_data=1", "-U", "carol%wrong", "--auth", "ntlm")
    assert.are.equal(4, code, err)
  end)

  it("serves an .idl file with --handlers", function()
    local s = serve(FIX .. "cli_echo.idl", "--handlers", FIX .. "cli_echo_handlers.lua")
    finally(s.close)
    assert.is_truthy(s.endpoint, "no endpoint: " .. s.stderr())
    local out, err, code = dcerpc("call", s.endpoint, FIX .. "cli_echo.idl", "AddOne", "in_data=1")
    assert.are.equal(0, code, err)
    assert.are.equal("out_data: 101 (0x65)\n", out)
  end)
end)

describe("dcerpc idl", function()

  it("prints the interface, its functions and their programs", function()
    local out, err, code = dcerpc("idl", FIX .. "cli_echo.idl")
    assert.are.equal(0, code, err)
    assert.is_truthy(out:find("interface rpcecho\n  uuid 60a15ec5-4de8-11d7-a637-005056a20182\n  version 1.0\n", 1, true), out)
    assert.is_truthy(out:find("    0  void AddOne(", 1, true), out)
    assert.is_truthy(out:find("    1  void EchoData(", 1, true), out)
    assert.is_truthy(out:find("; AddOne: ", 1, true), out)            -- ndr.disasm's title line
    out, err, code = dcerpc("idl", FIX .. "cli_echo.idl", "--json")
    assert.are.equal(0, code, err)
    local d = assert(json.decode(out))
    assert.are.equal("rpcecho", d.name)
    assert.are.equal("AddOne", d.functions[1].name)
    assert.are.equal("in_data", d.functions[1].params[1].name)
  end)

  it("names the file, line and column of what does not load, exit 2", function()
    local _, err, code = dcerpc("idl", FIX .. "cli_bad.idl")
    assert.are.equal(2, code)
    assert.is_truthy(err:find("cli_bad.idl:6:", 1, true), err)
  end)
end)

--------------------------------------------------------------------------
describe("dcerpc against Samba, compared with rpcclient #interop", function()
  local samba = peers.samba()
  if not samba then
    if CI then error("Samba peer missing under CI") end
    it("needs the Samba peer", function() pending("Samba peer not available on this machine") end)
    return
  end
  local HOST = samba.SAMBA_HOST
  local CRED = samba.SAMBA_USER .. "%" .. samba.SAMBA_PASSWORD

  local function rpcclient(binding, cmd, auth)
    local out, err, code = run(string.format("env -u LD_PRELOAD timeout 60 rpcclient -s %s %s %s -c %s",
      q(samba.SAMBA_CLIENT_CONF), auth or ("-U " .. q(CRED)), q(binding), q(cmd)))
    assert(code == 0, "rpcclient " .. cmd .. " failed: " .. out .. err)
    return out
  end

  it("srvinfo prints what rpcclient srvinfo prints, field by field", function()
    local theirs = rpcclient("ncacn_np:" .. HOST, "srvinfo")
    local ours, err, code = dcerpc("srvinfo", HOST, "-U", CRED)
    assert.are.equal(0, code, err)
    local function fields(s)
      local name, types, comment = s:match("^\t(%S+)%s+([%u%l%d ]-)%s%s+(.-)\n")
      if not name then name, types, comment = s:match("^\t(%S+)%s+(%S.-) (.-)\n") end
      return {
        name = name, comment = comment,
        platform = s:match("platform_id%s*:\t(%d+)"), version = s:match("os version%s*:\t([%d.]+)"),
        type = s:match("server type%s*:\t(0x%x+)"),
      }
    end
    local a, b = fields(ours), fields(theirs)
    assert.is_truthy(b.name and b.type and b.version, theirs)
    assert.are.same(b, a)
    assert.are.same(lines_of(theirs), lines_of(ours))        -- and line for line
    -- over TCP, authenticated at privacy (rpcclient's answer does not depend on the transport)
    local tcp
    tcp, err, code = dcerpc("srvinfo", "ncacn_ip_tcp:" .. HOST, "-U", CRED, "--seal")
    assert.are.equal(0, code, err)
    assert.are.equal(ours, tcp)
  end)

  local function parse_shares(s)
    local t, n = {}, 0
    for block in (s .. "netname: "):gmatch("(.-)\n?netname: ") do
      if block ~= "" then
        local name = block:match("^([^\n]*)")
        t[name] = {
          remark = block:match("\n\tremark:\t([^\n]*)"), path = block:match("\n\tpath:\t([^\n]*)"),
          password = block:match("\n\tpassword:\t([^\n]*)"),
        }
        n = n + 1
      end
    end
    return t, n
  end

  it("shares prints what rpcclient netshareenumall prints (levels 2 and 1)", function()
    local theirs = rpcclient("ncacn_np:" .. HOST, "netshareenumall")
    local ours, err, code = dcerpc("shares", HOST, "-U", CRED)
    assert.are.equal(0, code, err)
    local a, n = parse_shares(ours)
    local b, m = parse_shares(theirs)
    assert.is_true(m >= 40, theirs)
    assert.are.equal(m, n)
    assert.are.same(b, a)
    assert.is_truthy(b.share.path and b.share.path ~= "")
    theirs = rpcclient("ncacn_np:" .. HOST, "netshareenumall 1")
    ours, err, code = dcerpc("netshareenumall", HOST, "1", "-U", CRED)
    assert.are.equal(0, code, err)
    assert.are.same((parse_shares(theirs)), (parse_shares(ours)))
    assert.are.same(lines_of(theirs), lines_of(ours))
  end)

  it("users prints what rpcclient enumdomusers prints; credentials from the environment", function()
    local theirs = rpcclient("ncacn_np:" .. HOST, "enumdomusers")
    local ours, err, code = dcerpc("users", HOST, "-U", CRED)
    assert.are.equal(0, code, err)
    local function set(s)
      local t, n = {}, 0
      for name, rid in s:gmatch("user:%[([^%]]*)%] rid:%[(0x%x+)%]") do t[name] = rid; n = n + 1 end
      return t, n
    end
    local a = set(ours)
    local b, n = set(theirs)
    assert.is_true(n >= 1)
    assert.are.equal(samba.SAMBA_USER, next(b) and (b[samba.SAMBA_USER] and samba.SAMBA_USER))
    assert.are.same(b, a)
    -- over TCP (samr wants an authenticated bind), user and password from the environment
    local tcp
    tcp, err, code = dcerpc("enumdomusers", "ncacn_ip_tcp:" .. HOST,
                            { env = "DCERPC_USER=" .. q(samba.SAMBA_DOMAIN .. "\\" .. samba.SAMBA_USER) ..
                                    " DCERPC_PASSWORD=" .. q(samba.SAMBA_PASSWORD) })
    assert.are.equal(0, code, err)
    assert.are.same(b, (set(tcp)))
    local js
    js, err, code = dcerpc("users", HOST, "-U", CRED, "--json")
    assert.are.equal(0, code, err)
    local list = assert(json.decode(js))
    for _, u in ipairs(list) do assert.are.equal(b[u.name], string.format("0x%x", u.rid)) end
    assert.are.equal(n, #list)
  end)

  it("dump lists the entries rpcclient epmlookup lists", function()
    -- rpcclient: "OBJECT PROTSEQ:HOST[ENDPOINT,abstract_syntax=UUID/0xVVVVVVVV]: ANNOTATION",
    -- the version word being major | minor << 16. Ours: "UUID vMAJ.MIN  [OBJECT@]BINDING  ANNOTATION"
    -- with the object shown only when it is not nil (rpcclient always prints it).
    -- Samba's endpoint mapper hands its last entries back together with
    -- EPT_S_NOT_REGISTERED; rpcclient drops that last batch, we keep it (as
    -- examples/rpcdump.lua). Both walk the map in the server's order, so
    -- rpcclient's list is the start of ours, and the rest is that batch.
    local theirs = rpcclient("ncacn_ip_tcp:" .. HOST .. "[135]", "epmlookup", "-N -U ''")
    local NIL = "00000000-0000-0000-0000-000000000000"
    local b = {}
    for line in theirs:gmatch("[^\n]+") do
      local obj, prot, where, ep, uuid, ver, ann =
        line:match("^(%S+) ([%w_]+):([^%[]*)%[([^,%]]*),abstract_syntax=([%x-]+)/0x(%x+)%]: ?(.*)$")
      if obj then
        local v = tonumber(ver, 16)
        b[#b + 1] = table.concat({ obj, uuid, (v & 0xffff) .. "." .. (v >> 16),
                                   prot .. ":" .. where .. "[" .. ep .. "]", ann }, " | ")
      end
    end
    assert.is_true(#b > 10, theirs)
    local ours, err, code = dcerpc("dump", HOST)
    assert.are.equal(0, code, err)
    local a = {}
    for line in ours:gmatch("[^\n]+") do
      local uuid, ver, obj, binding, ann = line:match("^([%x-]+) v(%d+%.%d+)  ([%x-]*@?)(%S+)  ?(.*)$")
      assert.is_truthy(uuid, line)
      obj = obj ~= "" and obj:sub(1, -2) or NIL
      a[#a + 1] = table.concat({ obj, uuid, ver, binding, ann }, " | ")
    end
    assert.is_true(#a >= #b)
    assert.are.same(b, table.move(a, 1, #b, 1, {}))
    assert.is_true(#a - #b <= 10, "more than a last batch: " .. (#a - #b))
    local n = #a
    -- the same through --json, and over \pipe\epmapper
    local js
    js, err, code = dcerpc("dump", HOST, "--json")
    assert.are.equal(0, code, err)
    local list = assert(json.decode(js))
    assert.are.equal(n, #list)
    assert.are.equal("string", type(list[1].interface))
    local np
    np, err, code = dcerpc("dump", "ncacn_np:" .. HOST, "-U", CRED)
    assert.are.equal(0, code, err)
    assert.are.equal(#lines_of(ours), #lines_of(np))
  end)

  it("call --json parses back to what srvinfo and shares print", function()
    local out, err, code = dcerpc("call", HOST, "srvsvc", "NetrServerGetInfo", "Level=101", "--json", "-U", CRED)
    assert.are.equal(0, code, err)
    local r = assert(json.decode(out))
    assert.are.equal(0, r.result)
    local i = r.InfoStruct.ServerInfo101
    assert.are.equal(samba.SAMBA_DOMAIN, i.sv101_name)
    assert.are.equal(500, i.sv101_platform_id)
    local srvinfo = rpcclient("ncacn_np:" .. HOST, "srvinfo")
    assert.are.equal(tonumber(srvinfo:match("server type%s*:\t0x(%x+)"), 16), i.sv101_type)
    -- readable form: the same values as a tree
    local tree
    tree, err, code = dcerpc("call", "ncacn_np:" .. HOST, "srvsvc", "NetrServerGetInfo", "Level=101", "-U", CRED)
    assert.are.equal(0, code, err)
    assert.is_truthy(tree:find('\n    sv101_name: "' .. samba.SAMBA_DOMAIN .. '"\n', 1, true), tree)
    assert.is_truthy(tree:find(string.format("\n    sv101_type: %d (0x%x)\n", i.sv101_type, i.sv101_type), 1, true), tree)
    assert.is_truthy(tree:find("\nresult: 0x00000000 (ERROR_SUCCESS)\n", 1, true), tree)
    -- a table argument (Lua literal and JSON, and --args from a file), over TCP
    local argf = os.tmpname()
    local f = assert(io.open(argf, "w")); f:write('{"InfoStruct": {"Level": 1}}'); f:close()
    out, err, code = dcerpc("call", "ncacn_ip_tcp:" .. HOST, "srvsvc", "NetrShareEnum", "--args", argf, "--json")
    os.remove(argf)
    assert.are.equal(0, code, err)
    r = assert(json.decode(out))
    local names = {}
    for _, s in ipairs(r.InfoStruct.ShareInfo.Level1.Buffer) do names[#names + 1] = s.shi1_netname end
    table.sort(names)
    local theirs = {}
    for name in rpcclient("ncacn_np:" .. HOST, "netshareenumall 1"):gmatch("netname: ([^\n]*)") do
      theirs[#theirs + 1] = name
    end
    table.sort(theirs)
    assert.are.same(theirs, names)
    assert.are.equal(#names, r.TotalEntries)
    out, err, code = dcerpc("call", "ncacn_ip_tcp:" .. HOST, "srvsvc", "NetrServerGetInfo", "{ Level = 100 }")
    assert.are.equal(0, code, err)
    assert.is_truthy(out:find("sv100_platform_id: 500 (0x1f4)", 1, true), out)
  end)

  it("asks for the password on a terminal, without echo", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      if CI then error("script(1) missing under CI") end
      pending("script(1) (util-linux) is not installed: no pseudo-terminal to test with")
      return
    end
    -- script(1) gives the command a pseudo-terminal; the password is typed a
    -- second later, once echo is off
    local cmd = string.format("cd / && env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH lua5.4 %s srvinfo %s -U %s",
                              q(BIN), q(HOST), q(samba.SAMBA_DOMAIN .. "\\" .. samba.SAMBA_USER))
    local out, err, code = run(string.format("(sleep 1; printf '%%s\\n' %s) | timeout 30 script -qfec %s /dev/null",
                                             q(samba.SAMBA_PASSWORD), q(cmd)))
    assert.are.equal(0, code, out .. err)
    assert.is_truthy(out:find("Password for [" .. samba.SAMBA_DOMAIN .. "\\" .. samba.SAMBA_USER .. "]: ", 1, true), out)
    assert.is_truthy(out:find("platform_id     :\t500", 1, true), out)
    assert.is_falsy(out:find(samba.SAMBA_PASSWORD, 1, true), "the password was echoed")
  end)

  it("exits 3 when the server cannot be reached", function()
    local _, err, code = dcerpc("srvinfo", "ncacn_ip_tcp:127.0.0.1[1]")
    assert.are.equal(3, code)
    assert.is_truthy(err:find("Connection refused", 1, true), err)
    _, err, code = dcerpc("dump", "127.0.0.1[1]")             -- HOST[PORT]: that port
    assert.are.equal(3, code, err)
    assert.is_truthy(err:find("127.0.0.1 port 1", 1, true), err)
    _, err, code = dcerpc("call", "ncacn_ip_tcp:" .. HOST .. "[1]", "srvsvc", "NetrServerGetInfo", "Level=100",
                          "--timeout", "5")
    assert.are.equal(3, code, err)
  end)

  it("exits 4 on a wrong password (SMB, SPNEGO and NTLM binds) and never prints it", function()
    local bad = samba.SAMBA_USER .. "%Not-The-Pass9"
    local _, err, code = dcerpc("srvinfo", HOST, "-U", bad)
    assert.are.equal(4, code, err)
    assert.is_truthy(err:find("STATUS_LOGON_FAILURE", 1, true), err)
    _, err, code = dcerpc("srvinfo", "ncacn_ip_tcp:" .. HOST, "-U", bad)
    assert.are.equal(4, code, err)
    _, err, code = dcerpc("srvinfo", "ncacn_ip_tcp:" .. HOST, "-U", bad, "--auth", "ntlm")
    assert.are.equal(4, code, err)
    assert.is_falsy(err:find("Not-The-Pass9", 1, true))
  end)

  it("exits 5 when the call returns an error status, with the results printed", function()
    local out, err, code = dcerpc("call", "ncacn_ip_tcp:" .. HOST, "srvsvc", "NetrShareGetInfo",
                                  "NetName=no-such-share", "Level=1")
    assert.are.equal(5, code)
    assert.is_truthy(err:find("NetrShareGetInfo returned ", 1, true), err)
    local status = out:match("\nresult: (0x%x+)") or out:match("^result: (0x%x+)")
    assert.is_truthy(status, out)
    out, err, code = dcerpc("call", "ncacn_ip_tcp:" .. HOST, "srvsvc", "NetrShareGetInfo",
                            "NetName=no-such-share", "Level=1", "--json")
    assert.are.equal(5, code)
    assert.are.equal(tonumber(status), assert(json.decode(out)).result)
  end)

  it("traces with --trace and --pcap when dcerpc.trace is there", function()
    local pcap = os.tmpname()
    local out, err, code = dcerpc("srvinfo", "ncacn_ip_tcp:" .. HOST, "--trace", "--pcap", pcap)
    assert.are.equal(0, code, err)
    assert.is_truthy(out:find("platform_id", 1, true))
    -- the text dump on stderr: the bind, the call and its decoded reply
    assert.is_truthy(err:find("NetrServerGetInfo", 1, true), err)
    assert.is_truthy(err:find("sv101_name", 1, true), err)
    local magic = slurp(pcap):sub(1, 4)
    os.remove(pcap)
    assert.is_truthy(magic == "\212\195\178\161" or magic == "\161\178\195\212" or
                     magic == "\77\60\178\161" or magic == "\10\13\13\10", "not a capture")
  end)
end)
