#!/bin/bash
# The main job: lua-dcerpc's client talking to a real server on loopback.
# Starts the standalone Samba peer (test/peers/samba-member.sh), then runs the
# examples against it: the endpoint map, server info, the share list.
set -euo pipefail
cd "$(dirname "$0")/.."
export DCERPC_PEER_DIR=${DCERPC_PEER_DIR:-/tmp/lua-dcerpc-peers}
started_samba=0 server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    [ $started_samba = 1 ] && bash test/peers/samba-member.sh stop    # stop it only if we started it
    return 0
}
trap cleanup EXIT
if ! bash test/peers/samba-member.sh status >/dev/null 2>&1; then
    SAMBA_EXTRA_SHARES=3 bash test/peers/samba-member.sh start   # the specs use 40; 3 read better
    started_samba=1
fi
echo
echo "\$ lua5.4 examples/rpcdump.lua 127.0.0.1"
lua5.4 examples/rpcdump.lua 127.0.0.1
echo
echo "\$ lua5.4 examples/serverinfo.lua ncacn_ip_tcp:127.0.0.1   (port from the endpoint mapper)"
lua5.4 examples/serverinfo.lua ncacn_ip_tcp:127.0.0.1
echo
echo "\$ lua5.4 examples/shares.lua ncacn_ip_tcp:127.0.0.1"
lua5.4 examples/shares.lua ncacn_ip_tcp:127.0.0.1
echo
echo "\$ lua5.4 examples/users.lua 'ncacn_ip_tcp:127.0.0.1[seal]' alice Alice-Pass1 RPCSRV   (samr, SPNEGO/NTLM sealed)"
lua5.4 examples/users.lua 'ncacn_ip_tcp:127.0.0.1[seal]' alice Alice-Pass1 RPCSRV

# Our own server and our own client: the rpcecho interface, served by Lua
# handlers (examples/echo-server.lua) on a port the system picks.
echo
echo "\$ lua5.4 examples/echo-server.lua --user alice:Alice-Pass1 'ncacn_ip_tcp:127.0.0.1[0]' &"
fifo=$(mktemp -u)
mkfifo "$fifo"
lua5.4 examples/echo-server.lua --user alice:Alice-Pass1 'ncacn_ip_tcp:127.0.0.1[0]' >"$fifo" 2>&1 &
server=$!
exec 3<"$fifo"
rm -f "$fifo"
read -r -t 10 line <&3 || { echo "echo server did not start"; kill $server; exit 1; }
echo "$line"
binding=${line#listening on }
echo "\$ lua5.4 examples/echo-client.lua '$binding'"
lua5.4 examples/echo-client.lua "$binding"
sealed="${binding%]},seal]"
echo
echo "\$ lua5.4 -e '...dcerpc.connect(\"$sealed\", \"rpcecho\", {user = \"alice\", password = ...}):AddOne{in_data = 41}'"
LUA_PATH="$PWD/scripts/?.lua;$PWD/scripts/?/init.lua;${LUA_PATH:-;}" LUA_CPATH="$PWD/build/?.so;${LUA_CPATH:-;}" \
    lua5.4 - "$sealed" <<'LUA'
local dcerpc = require "dcerpc"
local c = assert(dcerpc.connect(arg[1], "rpcecho", { user = "alice", domain = "RPCSRV", password = "Alice-Pass1" }))
local i = c:info()
print(string.format("AddOne(41) = %d over %s at %s as %s", assert(c:AddOne { in_data = 41 }).out_data,
                    i.auth_type, i.auth_level, i.user))
LUA
kill $server
wait $server 2>/dev/null || true
server=""
