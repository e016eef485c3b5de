-- dcerpc.cli.help: the usage texts of the `dcerpc` command, one per
-- subcommand and HELP.main for the whole tool, printed by --help and
-- `dcerpc help SUB`. docs/dcerpc.1 is the long form: keep the two agreeing.

local COMMON_HELP = [[
Credentials and security (client subcommands):
  -U, --user [DOMAIN\]USER[%PASSWORD]   authenticate as USER ('' or -N alone: anonymous)
  -W, --domain DOMAIN      the user's domain (also DOMAIN\USER in -U)
      --password PASSWORD  the password (visible to ps: prefer DCERPC_PASSWORD)
      --nt-hash HEX        the NT hash (32 hex digits) instead of a password
  -N, --no-pass            no password: anonymous, or an empty password with -U
      --auth ntlm|spnego|krb5   the RPC authentication (default spnego when a
                           user is given over TCP; over ncacn_np the user logs on
                           to SMB and RPC auth is used only when asked)
  -k, --kerberos           Kerberos (--auth krb5): tickets from the ccache
                           (KRB5CCNAME), or from the KDC with -U USER%PASSWORD;
                           service host/HOST, or target_hostname=NAME in BINDING
      --level LEVEL        connect, packet, integrity, privacy (default privacy)
      --sign, --seal       the same as --level integrity / --level privacy
      --timeout SECONDS    connect and call timeouts (default 60)
Output and tracing:
      --json               machine-readable output on stdout
      --trace              every PDU, decoded, on stderr
      --pcap FILE          every PDU into a pcap file (Wireshark reads it)
  -h, --help               this help
Environment: DCERPC_USER and DCERPC_PASSWORD stand for -U and --password.
A user without a password is asked for one on a terminal (no echo).
Exit status: 0 ok, 1 internal error, 2 usage, 3 connection, 4 authentication,
5 the call returned a fault or an error status, 130 interrupted.]]

local HELP = {}

HELP.main = [[
usage: dcerpc SUBCOMMAND [OPTIONS] ARGS...

Subcommands:
  dump HOST|BINDING                     the endpoint map (like rpcclient epmlookup)
  call BINDING IFACE FUNCTION [ARGS]    call one function, print the results
  srvinfo BINDING                       server information (rpcclient srvinfo)
  shares BINDING [LEVEL]                shares (rpcclient netshareenumall)
  users BINDING                         domain users (rpcclient enumdomusers)
  idl FILE                              what the IDL loader makes of FILE
  serve SCRIPT.lua|FILE.idl             serve an interface from Lua handlers
  help [SUBCOMMAND]                     help on a subcommand

BINDING is a string binding (ncacn_ip_tcp:HOST[PORT], ncacn_np:HOST[\pipe\NAME],
ncalrpc:[NAME]) or a bare HOST (ncacn_np:HOST; for dump ncacn_ip_tcp:HOST[135]).
'dcerpc SUBCOMMAND --help' and man dcerpc(1) say more.
]] .. COMMON_HELP .. "\n"

HELP.dump = [[
usage: dcerpc dump [OPTIONS] HOST|BINDING

List what the endpoint mapper of HOST knows, one entry a line:
  INTERFACE-UUID vMAJOR.MINOR  [OBJECT@]BINDING  ANNOTATION
A bare HOST asks ncacn_ip_tcp:HOST[135] (HOST[PORT]: that port); a binding
such as ncacn_np:HOST asks over \pipe\epmapper. --json prints a list of
{ interface, version, binding, object, annotation }.
]] .. COMMON_HELP .. "\n"

HELP.call = [[
usage: dcerpc call [OPTIONS] BINDING IFACE FUNCTION [NAME=VALUE | TABLE]...

Call FUNCTION (a name or an opnum) of IFACE (a shipped interface: epm,
lsarpc, mgmt, rpcecho, samr, srvsvc, svcctl, winreg, wkssvc, or a path to a
.idl file) and print its [out] parameters and return value as a tree.
Arguments:
  NAME=VALUE          an [in] parameter; dotted names reach into structures,
                      unions and arrays: InfoStruct.Level=1, Buffer.1.x=2
  VALUE               read by the parameter's type: integers (12, 0x1f, -1),
                      true/false, enum member names, strings; binary (byte
                      arrays, context handles) as hex digits
  {...}               a Lua table literal (data only) or a JSON object with
                      the arguments; NAME=VALUE pairs after it override
  --args FILE         the same, from FILE ('-': standard input)
  -I, --include DIR   where an IDL file's imports are looked for
Conveniences: ServerName (and SystemName) default to \\HOST; NetrShareEnum
defaults to level 1 and an unlimited PreferedMaximumLength; ept_lookup lists
everything from the start.
Printed: integers in decimal (and hex), strings quoted, binary as hex, status
codes with their names. --json prints the same as one JSON object.
Exit status 5 when the call faults or returns an error status (the results
are printed all the same).
Example:
  dcerpc call ncacn_np:HOST srvsvc NetrServerGetInfo Level=101
]] .. COMMON_HELP .. "\n"

HELP.srvinfo = [[
usage: dcerpc srvinfo [OPTIONS] BINDING [LEVEL]

srvsvc NetrServerGetInfo (level 101, or 102), printed as rpcclient's srvinfo.
]] .. COMMON_HELP .. "\n"

HELP.shares = [[
usage: dcerpc shares [OPTIONS] BINDING [LEVEL]
       dcerpc netshareenumall [OPTIONS] BINDING [LEVEL]

srvsvc NetrShareEnum, every page, printed as rpcclient's netshareenumall:
level 2 (default: name, remark, path, password), 1 (name, remark) or 0.
]] .. COMMON_HELP .. "\n"

HELP.users = [[
usage: dcerpc users [OPTIONS] BINDING
       dcerpc enumdomusers [OPTIONS] BINDING

samr: the users of every account domain (all but Builtin), every page,
printed as rpcclient's enumdomusers:  user:[NAME] rid:[0xRID]
]] .. COMMON_HELP .. "\n"

HELP.idl = [[
usage: dcerpc idl [OPTIONS] FILE

Load FILE with the IDL loader (dcerpc.idl) and print the interface it
describes (uuid, version, functions with their parameters, types,
constants) and the NDR program each function compiles to (ndr.disasm).
  -I, --include DIR    where imports and #includes are looked for (repeatable)
  -f, --function NAME  only this function (name or opnum)
      --no-program     leave out the compiled programs
      --json           the description as JSON (no programs)
  -h, --help           this help
Exit status 2 when the file does not load (the message names file, line and
column).
]]

HELP.serve = [[
usage: dcerpc serve [OPTIONS] SCRIPT.lua | FILE.idl

Serve an interface with Lua handlers until interrupted (Ctrl-C: exit 0). Prints
"listening on BINDING" for each endpoint once it accepts calls.
SCRIPT.lua is run with the server as its argument (...) and returns either
  { interface = IFACE, handlers = { Name = function(call, args) ... end },
    min_level = LEVEL, annotation = TEXT }
(IFACE: a shipped name, a path to a .idl file or an ndr.interface
description), or a list of such tables, or nothing when it registered its
interfaces itself on the server it was given.
FILE.idl is loaded with the IDL loader and served with the handlers that
--handlers FILE.lua returns ({ Name = function(call, args) ... end });
functions without a handler fault with nca_s_op_rng_error.
  -l, --listen BINDING   an endpoint (repeatable; default ncacn_ip_tcp:127.0.0.1[0])
  -H, --handlers FILE    the handlers of an IDL file
  -U, --user NAME:PASSWORD   accept NTLM / SPNEGO binds from NAME (repeatable;
                         NAME%PASSWORD too); anonymous calls are still served
      --domain NAME      the NetBIOS domain the server answers NTLM with
      --epm              also serve an endpoint mapper on the endpoints
  -I, --include DIR      where an IDL file's imports are looked for
      --trace, --pcap FILE   trace the server's PDUs
  -h, --help             this help
]]

HELP.netshareenumall = HELP.shares
HELP.enumdomusers = HELP.users

return HELP
