#!/bin/bash
# The project's rpcecho reference server (test/peers/rpcecho-server.py) on
# loopback: 127.0.0.1:$RPCECHO_PORT (default 60135) and [::1]:$RPCECHO_PORT when
# the host has IPv6 loopback. Interface rpcecho 60a15ec5-4de8-11d7-a637-005056a20182
# v1.0; smbtorture's rpc.echo passes against it:
#   smbtorture -U% 'ncacn_ip_tcp:127.0.0.1[60135]' rpc.echo
#
# usage: rpcecho.sh start|stop|restart|status|env|clean
# After start, `. $DCERPC_PEER_DIR/rpcecho/env.sh` exports RPCECHO_HOST,
# RPCECHO_PORT (and RPCECHO_HOST6=::1 when it listens there too).
# Needs /usr/bin/python3 (or $DCERPC_PYTHON) only; no root.
set -euo pipefail
PEER=rpcecho
. "$(dirname "$(readlink -f "$0")")/common.sh"

DIR="$DCERPC_PEER_DIR/rpcecho"
PORT="${RPCECHO_PORT:-60135}"
PYTHON="${DCERPC_PYTHON:-/usr/bin/python3}"
SERVER="$HERE/rpcecho-server.py"
PIDFILE="$DIR/rpcecho.pid"
LOGFILE="$DIR/log"

[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -gt 0 ] && [ "$PORT" -lt 65536 ] || fail "bad RPCECHO_PORT '$PORT'"

# the running server's pid (any port), or nothing
server_pid() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    alive "$pid" "rpcecho-server.py" && echo "$pid"
    return 0
}

is_running() {
    local pid
    pid=$(server_pid)
    [ -n "$pid" ] && alive "$pid" "--port $PORT --log" && listening 127.0.0.1 "$PORT"
}

has_ipv6_loopback() {
    [ -r /proc/net/if_inet6 ] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

write_env() {
    {
        echo "# written by rpcecho.sh start"
        echo "export RPCECHO_HOST=127.0.0.1 RPCECHO_PORT=$PORT"
        if listening '[::1]' "$PORT"; then echo "export RPCECHO_HOST6=::1"; fi
        echo "export RPCECHO_LOG='$LOGFILE'"
    } >"$DIR/env.sh"
}

start() {
    [ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null || fail "missing $PYTHON"
    command -v ss >/dev/null || fail "missing ss (iproute2)"
    [ -r "$SERVER" ] || fail "missing $SERVER"
    mkdir -p "$DIR"
    if is_running; then
        write_env
        say "already running on port $PORT (pid $(server_pid))"
        return 0
    fi
    stop >/dev/null 2>&1 || true
    port_free "$PORT" || fail "port $PORT is taken: $(ss -Htlnp "( sport = :$PORT )" | head -3)"
    local hosts=(--host 127.0.0.1)
    has_ipv6_loopback && hosts+=(--host ::1)
    # children must not inherit an ASan LD_PRELOAD meant for a test process
    setsid env -u LD_PRELOAD "$PYTHON" "$SERVER" "${hosts[@]}" --port "$PORT" --log "$LOGFILE" \
        </dev/null >>"$LOGFILE" 2>&1 &
    echo $! >"$PIDFILE"
    if ! wait_listening 127.0.0.1 "$PORT" 15; then
        stop >/dev/null 2>&1 || true
        fail "not listening on 127.0.0.1:$PORT (log: $LOGFILE): $(tail -3 "$LOGFILE" 2>/dev/null)"
    fi
    only_loopback "$(server_pid)" || { stop; fail "stopped: a socket was bound outside loopback"; }
    write_env
    say "running on 127.0.0.1:$PORT$(listening '[::1]' "$PORT" && echo " and [::1]:$PORT") (pid $(server_pid), log $LOGFILE)"
}

stop() {
    local pid
    pid=$(server_pid)
    [ -z "$pid" ] || kill_wait "$pid"
    # a server of this peer directory whose pid file was lost
    # shellcheck disable=SC2046
    kill_wait $(pids_with "--log $LOGFILE")
    rm -f "$PIDFILE"
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) if is_running; then echo "rpcecho: running (pid $(server_pid))"; cat "$DIR/env.sh"; else echo "rpcecho: stopped"; exit 3; fi ;;
env) cat "$DIR/env.sh" ;;
clean) stop; rm -rf "$DIR" ;;
*) echo "usage: $0 start|stop|restart|status|env|clean" >&2; exit 2 ;;
esac
