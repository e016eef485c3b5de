#!/bin/bash
# The layer rule of engine/ (docs/architecture.md), checked from #include lines.
#
#   base   buffers, status names, crypto, clock, UTF-16      -> nothing
#   ndr    the NDR interpreter                                -> base
#   net    event loop, transports                             -> base
#   auth   security mechanisms: NTLM, SPNEGO, DER             -> base
#   rpc    PDUs, client and server associations, security
#          trailer, verification trailer, bindings, towers    -> base, auth
#   smb    (named pipes; to come)                             -> base, auth, net
#   run    drivers: where the sans-IO engines meet sockets    -> base, net, auth, rpc, smb
#
# A file may include headers of its own layer and of the layers listed for it;
# every engine include names its layer ("base/buf.h"), and nothing in engine/
# includes a Lua header. In bindings/, the client side (everything but
# lserver.c) must build without the server: it includes neither
# run/server.h, run/workers.h, rpc/co_server.h nor the server binding's headers.
#
#   tools/check-layers.sh            check the tree; exit 1 on any violation
#   tools/check-layers.sh DIR        check another checkout
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

declare -A allow=(
  [base]="base"
  [ndr]="base ndr"
  [net]="base net"
  [auth]="base auth"
  [rpc]="base auth rpc"
  [smb]="base auth net smb"
  [run]="base net auth rpc smb run"
)

bad=0
complain() { printf '%s\n' "$*"; bad=$((bad + 1)); }

for f in engine/*/*.[ch]; do
  layer=${f#engine/}; layer=${layer%%/*}
  if [ -z "${allow[$layer]+x}" ]; then
    complain "$f: engine/$layer/ is not a known layer (add it to tools/check-layers.sh and docs/architecture.md)"
    continue
  fi
  while IFS=: read -r line inc; do
    inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"][^>"]*[>"]).*/\1/' <<<"$inc")
    case $inc in
      \<lua.h\>|\<lauxlib.h\>|\<lualib.h\>|\"lua.h\"|\"lauxlib.h\"|\"lualib.h\")
        complain "$f:$line: engine/ must not include Lua ($inc)"; continue ;;
      \<*) continue ;;
    esac
    name=${inc#\"}; name=${name%\"}
    if [ "$name" = "$(basename "$f")" ]; then continue; fi      # ndr/vm.c includes itself
    case $name in
      */*) to=${name%%/*} ;;
      *) complain "$f:$line: #include \"$name\" does not name its layer (write \"$layer/$name\" or the layer it lives in)"; continue ;;
    esac
    if [ ! -f "engine/$name" ]; then complain "$f:$line: engine/$name does not exist"; continue; fi
    ok=0
    for a in ${allow[$layer]}; do [ "$a" = "$to" ] && ok=1; done
    [ $ok = 1 ] || complain "$f:$line: $layer/ may include only ${allow[$layer]// /, }: not $name"
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f")
done

# bindings: the client side (lauth.c included: client contexts, and the
# acceptor the server binding hands to the engine) builds without the server
for f in bindings/*.[ch]; do
  case $(basename "$f") in lserver.*) continue ;; esac
  while IFS=: read -r line inc; do
    case $inc in
      *'"run/server.h"'*|*'"run/workers.h"'*|*'"lserver.h"'*|*'"rpc/co_server.h"'*)
        complain "$f:$line: the client binding must not depend on the server (${inc#*#include })" ;;
    esac
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f")
done

if [ $bad -gt 0 ]; then
  echo "layer check: $bad violation(s)"
  exit 1
fi
echo "layer check: engine/ and bindings/ follow the rule"
