#!/bin/bash
# A standalone Samba server on loopback as the reference DCE/RPC peer:
#   smbd on 127.0.0.1:445 / [::1]:445 (named pipes),
#   samba-dcerpcd as a standalone daemon: endpoint mapper on :135 and the rpcd_*
#   helpers on dynamic ncacn_ip_tcp ports (49152 and up).
# User alice / Alice-Pass1 (a Unix account is created for tdbsam).
# Shares: share, plus data001..data040 (SAMBA_EXTRA_SHARES) with long comments.
#
# usage: samba-member.sh start|stop|restart|status|env|clean
# After start, `. $DCERPC_PEER_DIR/samba-member/env.sh` exports SAMBA_HOST,
# SAMBA_EPM_PORT, SAMBA_USER, SAMBA_PASSWORD, SAMBA_DOMAIN and one
# SAMBA_<IFACE>_PORT per TCP endpoint (SRVSVC, WKSSVC, SAMR, LSARPC, ...).
set -euo pipefail
PEER=samba-member
. "$(dirname "$(readlink -f "$0")")/common.sh"

DIR="$DCERPC_PEER_DIR/samba-member"
CONF="$DIR/etc/smb.conf"
CLIENT_CONF="$DIR/etc/client.conf"
USER_NAME="${SAMBA_USER:-alice}"
USER_PASS="${SAMBA_PASSWORD:-Alice-Pass1}"
NETBIOS=RPCSRV
DCERPCD=/usr/libexec/samba/samba-dcerpcd

is_running() {
    local a b
    a=$(cat "$DIR/pid/smbd.pid" 2>/dev/null || true)
    b=$(cat "$DIR/pid/samba-dcerpcd.pid" 2>/dev/null || true)
    alive "$a" "$CONF" && alive "$b" "$CONF"
}

configure() {
    mkdir -p "$DIR"/{etc,private,lock,state,cache,pid,log,ncalrpc,share,client}
    chmod 1777 "$DIR/share"
    cat >"$CONF" <<CONF
[global]
    netbios name = $NETBIOS
    workgroup = RPCTEST
    server role = standalone server
    passdb backend = tdbsam:$DIR/private/passdb.tdb
    interfaces = lo
    bind interfaces only = yes
    disable netbios = yes
    smb ports = 445
    private dir = $DIR/private
    lock directory = $DIR/lock
    state directory = $DIR/state
    cache directory = $DIR/cache
    pid directory = $DIR/pid
    ncalrpc dir = $DIR/ncalrpc
    log file = $DIR/log/log.%m
    max log size = 0
    log level = 1
    # standalone samba-dcerpcd: the endpoint mapper on 135 and TCP endpoints
    rpc start on demand helpers = no
    allow dcerpc auth level connect = ${SAMBA_ALLOW_AUTH_CONNECT:-no}
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes

[share]
    path = $DIR/share
    comment = lua-dcerpc test share
    read only = no
CONF
    # Extra shares with long comments: a NetrShareEnum reply then spans several
    # fragments, so the specs see Samba's own multi-fragment responses.
    local i
    for ((i = 1; i <= ${SAMBA_EXTRA_SHARES:-40}; i++)); do
        printf '\n[data%03d]\n    path = %s\n    comment = extra share %03d %s\n    read only = yes\n' \
            "$i" "$DIR/share" "$i" "$(printf 'remark-%.0s' {1..20})" >>"$CONF"
    done
    cat >"$CLIENT_CONF" <<CONF
[global]
    workgroup = RPCTEST
    lock directory = $DIR/client
    state directory = $DIR/client
    cache directory = $DIR/client
    private dir = $DIR/client
    log file = $DIR/log/client.log
CONF
}

add_user() {
    id "$USER_NAME" >/dev/null 2>&1 ||
        useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
    printf '%s\n%s\n' "$USER_PASS" "$USER_PASS" | smbpasswd -c "$CONF" -a -s "$USER_NAME" >/dev/null
}

# "name port" for each ncacn_ip_tcp endpoint the endpoint mapper lists.
tcp_endpoints() {
    timeout 20 rpcclient -s "$CLIENT_CONF" -N -U '' 'ncacn_ip_tcp:127.0.0.1[135]' -c epmlookup 2>/dev/null |
        sed -n 's/.*ncacn_ip_tcp:127\.0\.0\.1\[\([0-9]*\)[],].*: *\([A-Za-z0-9_]*\)$/\2 \1/p' | sort -u
}

start() {
    [ "$(id -u)" = 0 ] || fail "must run as root (ports 135 and 445)"
    for c in smbd smbpasswd rpcclient "$DCERPCD" ss; do
        command -v "$c" >/dev/null || [ -x "$c" ] || fail "missing $c (run tools/setup.sh test)"
    done
    if is_running; then say "already running"; return 0; fi
    stop >/dev/null 2>&1 || true
    port_free 445 && port_free 135 || fail "port 135 or 445 is taken: $(ss -Htlnp '( sport = :135 or sport = :445 )' | head -3)"
    configure
    add_user
    smbd -D -s "$CONF"
    "$DCERPCD" -D --libexec-rpcds -s "$CONF"
    wait_listening 127.0.0.1 445 30 || fail "smbd is not listening (logs in $DIR/log)"
    wait_listening 127.0.0.1 135 30 || fail "samba-dcerpcd is not listening (logs in $DIR/log)"
    # the rpcd_* helpers register their endpoints a moment later
    local map="" i
    for ((i = 0; i < 100; i++)); do
        map=$(tcp_endpoints)
        grep -q '^srvsvc ' <<<"$map" && grep -q '^samr ' <<<"$map" && grep -q '^winreg ' <<<"$map" && break
        sleep 0.3
    done
    grep -q '^srvsvc ' <<<"$map" || fail "srvsvc never showed up in the endpoint map"
    # shellcheck disable=SC2046
    only_loopback $(tree "$(cat "$DIR/pid/smbd.pid")" "$(cat "$DIR/pid/samba-dcerpcd.pid")") ||
        { stop; fail "stopped: a socket was bound outside loopback"; }
    {
        echo "# written by samba-member.sh start"
        echo "export SAMBA_DIR='$DIR' SAMBA_CONF='$CONF' SAMBA_CLIENT_CONF='$CLIENT_CONF'"
        echo "export SAMBA_HOST=127.0.0.1 SAMBA_EPM_PORT=135 SAMBA_SMB_PORT=445"
        echo "export SAMBA_USER='$USER_NAME' SAMBA_PASSWORD='$USER_PASS' SAMBA_DOMAIN=$NETBIOS"
        while read -r name port; do
            [ -n "$name" ] && echo "export SAMBA_$(tr '[:lower:]' '[:upper:]' <<<"$name")_PORT=$port"
        done <<<"$map"
    } >"$DIR/env.sh"
    say "running; endpoints: $(tr '\n' ' ' <<<"$map")"
}

stop() {
    local f pid
    for f in samba-dcerpcd smbd; do
        pid=$(cat "$DIR/pid/$f.pid" 2>/dev/null || true)
        alive "$pid" "$CONF" && kill_wait "$pid"
    done
    # shellcheck disable=SC2046
    kill_wait $(pids_with "$CONF")
    rm -f "$DIR"/pid/*.pid
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) if is_running; then echo "samba-member: running"; cat "$DIR/env.sh"; else echo "samba-member: stopped"; exit 3; fi ;;
env) cat "$DIR/env.sh" ;;
clean) stop; rm -rf "$DIR" ;;
*) echo "usage: $0 start|stop|restart|status|env|clean" >&2; exit 2 ;;
esac
