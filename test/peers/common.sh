# Helpers shared by the peer scripts (source it). Peers bind to loopback only
# and keep all their state under $DCERPC_PEER_DIR (default /tmp/lua-dcerpc-peers).
# shellcheck shell=bash

DCERPC_PEER_DIR="${DCERPC_PEER_DIR:-/tmp/lua-dcerpc-peers}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf '[%s] %s\n' "$PEER" "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# alive PID [NEEDLE]: process exists, is not a zombie, and its command line
# contains NEEDLE (when given).
alive() {
    local pid=$1 needle=${2:-} state
    [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
    case $state in Z|X|"") return 1 ;; esac
    [ -z "$needle" ] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

# pids_with NEEDLE: every live process whose command line contains NEEDLE.
# One grep over /proc/*/cmdline picks the candidates (arguments are NUL
# separated there, so it looks for the needle's last space-free word), then
# alive checks the whole needle: a few forks instead of three per process.
pids_with() {
    local word=${1##* } f pid
    [ -n "$word" ] || word=$1
    for f in $(grep -lzsF -- "$word" /proc/[0-9]*/cmdline 2>/dev/null); do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [ "$pid" = $$ ] && continue
        alive "$pid" "$1" && echo "$pid"
    done
    return 0
}

# kill_wait PID...: TERM, wait up to 10 s, then KILL.
kill_wait() {
    local pid i left
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        left=""
        for pid in "$@"; do alive "$pid" && left="$left $pid"; done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
}

# listening ADDR PORT: a TCP listener is bound to ADDR:PORT.
listening() {
    ss -Htln "( sport = :$2 )" 2>/dev/null | awk '{print $4}' | grep -qxF "$1:$2"
}

wait_listening() {
    local i
    for ((i = 0; i < ${3:-30} * 10; i++)); do
        listening "$1" "$2" && return 0
        sleep 0.1
    done
    return 1
}

# port_free PORT: nothing listens on PORT on any address.
port_free() { [ -z "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]; }

# only_loopback PID...: every inet socket these processes listen on is on
# 127.0.0.0/8 or ::1.
only_loopback() {
    local pids=" $* " bad
    bad=$(ss -Htulnp 2>/dev/null | awk -v pids="$pids" '{
            n = split($0, parts, "pid=")
            for (i = 2; i <= n; i++) { split(parts[i], q, ","); if (index(pids, " " q[1] " ")) { print $5; break } }
          }' | grep -vE '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' || true)
    [ -z "$bad" ] || { say "listening outside loopback: $bad"; return 1; }
}

# tree PID...: these pids and all their descendants.
tree() {
    local all=" $* " more
    while :; do
        more=$(ps -eo pid=,ppid= | awk -v s="$all" 'index(s, " " $2 " ") && !index(s, " " $1 " ") {print $1}')
        [ -n "$more" ] || break
        all="$all$(echo $more) "
    done
    echo $all
}
