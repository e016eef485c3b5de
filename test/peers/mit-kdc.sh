#!/bin/bash
# An MIT Kerberos KDC on loopback for the Kerberos specs (auth type 16):
#   realm TEST.RPC (MIT_KDC_REALM), krb5kdc on 127.0.0.1:$MIT_KDC_PORT (tcp and
#   udp, default 60088), no DNS anywhere (krb5.conf names the KDC).
#   alice@TEST.RPC / Alice-Pass1, her keys also in alice.keytab;
#   host/localhost@TEST.RPC and host/luasrv.test.rpc@TEST.RPC (Samba's tools
#   refuse Kerberos to "localhost": they get target_hostname=luasrv.test.rpc,
#   MIT_KDC_HOSTNAME) with random AES keys, and host/rc4.test.rpc with an
#   RC4-HMAC key and RC4 session keys (MIT_KDC_RC4_SERVICE), in service.keytab.
#
# usage: mit-kdc.sh start|stop|restart|status|env|clean
# After start, `. $DCERPC_PEER_DIR/mit-kdc/env.sh` exports KRB5_CONFIG (the
# generated krb5.conf), MIT_KDC_{REALM,HOST,PORT,USER,PASSWORD,SERVICE,HOSTNAME},
# MIT_KDC_KEYTAB (the service's), MIT_KDC_CLIENT_KEYTAB (alice's),
# MIT_KDC_CCACHE (a file ccache kinit filled for alice) and MIT_KDC_DIR.
# Nothing is exported for KRB5CCNAME / KRB5_KTNAME: the specs name their
# ccache and keytab explicitly.
set -euo pipefail
PEER=mit-kdc
. "$(dirname "$(readlink -f "$0")")/common.sh"

DIR="$DCERPC_PEER_DIR/mit-kdc"
PORT="${MIT_KDC_PORT:-60088}"
REALM="${MIT_KDC_REALM:-TEST.RPC}"
USER_NAME=alice
USER_PASS=Alice-Pass1
SERVICE=host/localhost
HOSTNAME2=luasrv.test.rpc
RC4HOST=rc4.test.rpc
PIDFILE="$DIR/krb5kdc.pid"

export KRB5_CONFIG="$DIR/krb5.conf"
export KRB5_KDC_PROFILE="$DIR/kdc.conf"

is_running() { alive "$(cat "$PIDFILE" 2>/dev/null || true)" "$PIDFILE"; }

configure() {
    mkdir -p "$DIR"
    cat >"$KRB5_CONFIG" <<CONF
[libdefaults]
    default_realm = $REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    # RC4-HMAC (RFC 4757) for host/rc4.test.rpc only: its keys and session keys
    allow_rc4 = true
[realms]
    $REALM = {
        kdc = 127.0.0.1:$PORT
    }
[domain_realm]
    localhost = $REALM
    127.0.0.1 = $REALM
    .test.rpc = $REALM
CONF
    cat >"$KRB5_KDC_PROFILE" <<CONF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$PORT
    kdc_tcp_listen = 127.0.0.1:$PORT
[realms]
    $REALM = {
        database_name = $DIR/db/principal
        key_stash_file = $DIR/db/stash
        acl_file = $DIR/kadm5.acl
        kdc_listen = 127.0.0.1:$PORT
        kdc_tcp_listen = 127.0.0.1:$PORT
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
[logging]
    kdc = FILE:$DIR/log/kdc.log
CONF
    : >"$DIR/kadm5.acl"
}

# The database, once per realm and port (kept across restarts).
provision() {
    local stamp="$REALM $USER_NAME $SERVICE host/$HOSTNAME2 host/$RC4HOST"
    [ -f "$DIR/db/.done" ] && [ "$(cat "$DIR/db/.done")" = "$stamp" ] && return 0
    rm -rf "$DIR/db" "$DIR"/*.keytab
    mkdir -p "$DIR/db" "$DIR/log"
    kdb5_util -r "$REALM" create -s -P "kdc-master-$$" >"$DIR/log/provision.log" 2>&1 ||
        fail "kdb5_util create failed: $(tail -3 "$DIR/log/provision.log")"
    {
        kadmin.local -r "$REALM" -q "addprinc -pw $USER_PASS $USER_NAME"
        # the password's keys also go into a keytab (-norandkey keeps them)
        kadmin.local -r "$REALM" -q "ktadd -norandkey -k $DIR/alice.keytab $USER_NAME"
        kadmin.local -r "$REALM" -q "addprinc -randkey $SERVICE"
        kadmin.local -r "$REALM" -q "ktadd -k $DIR/service.keytab $SERVICE"
        kadmin.local -r "$REALM" -q "addprinc -randkey host/$HOSTNAME2"
        kadmin.local -r "$REALM" -q "ktadd -k $DIR/service.keytab host/$HOSTNAME2"
        # a service with RC4 keys and RC4 session keys (RFC 4757 tokens)
        kadmin.local -r "$REALM" -q "addprinc -randkey -e arcfour-hmac:normal host/$RC4HOST"
        kadmin.local -r "$REALM" -q "setstr host/$RC4HOST session_enctypes arcfour-hmac"
        kadmin.local -r "$REALM" -q "ktadd -k $DIR/service.keytab -e arcfour-hmac:normal host/$RC4HOST"
    } >>"$DIR/log/provision.log" 2>&1 || fail "kadmin.local failed: $(tail -3 "$DIR/log/provision.log")"
    if [ ! -s "$DIR/alice.keytab" ] || [ ! -s "$DIR/service.keytab" ]; then fail "no keytabs made"; fi
    chmod 600 "$DIR"/*.keytab
    echo "$stamp" >"$DIR/db/.done"
}

# a ccache with alice's TGT, as kinit leaves it for rpcclient and our client
fresh_tgt() {
    echo "$USER_PASS" | KRB5CCNAME="FILE:$DIR/alice.ccache" kinit "$USER_NAME@$REALM" >/dev/null ||
        fail "kinit $USER_NAME@$REALM failed"
}

write_env() {
    cat >"$DIR/env.sh.tmp" <<ENV
export KRB5_CONFIG='$KRB5_CONFIG'
export MIT_KDC_DIR='$DIR'
export MIT_KDC_REALM='$REALM'
export MIT_KDC_HOST=127.0.0.1
export MIT_KDC_PORT=$PORT
export MIT_KDC_USER='$USER_NAME'
export MIT_KDC_PASSWORD='$USER_PASS'
export MIT_KDC_SERVICE='$SERVICE'
export MIT_KDC_HOSTNAME='$HOSTNAME2'
export MIT_KDC_RC4_SERVICE='host/$RC4HOST'
export MIT_KDC_KEYTAB='$DIR/service.keytab'
export MIT_KDC_CLIENT_KEYTAB='$DIR/alice.keytab'
export MIT_KDC_CCACHE='FILE:$DIR/alice.ccache'
ENV
    mv "$DIR/env.sh.tmp" "$DIR/env.sh"
}

start() {
    command -v krb5kdc >/dev/null || fail "krb5kdc not installed (tools/setup.sh test installs krb5-kdc)"
    command -v kinit >/dev/null || fail "kinit not installed (krb5-user)"
    if is_running; then
        fresh_tgt                  # the ccache's TGT may have expired since
        write_env
        status
        return 0
    fi
    local stale
    stale=$(pids_with "$PIDFILE")
    # shellcheck disable=SC2086
    [ -z "$stale" ] || kill_wait $stale
    port_free "$PORT" || fail "port $PORT is taken"
    configure
    provision
    rm -f "$PIDFILE"
    krb5kdc -r "$REALM" -P "$PIDFILE" || fail "krb5kdc did not start"
    local i
    for ((i = 0; i < 50; i++)); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
    wait_listening 127.0.0.1 "$PORT" 10 || fail "krb5kdc does not listen on 127.0.0.1:$PORT (see $DIR/log/kdc.log)"
    only_loopback "$(cat "$PIDFILE")" || { stop; fail "krb5kdc listened outside loopback; stopped"; }
    fresh_tgt
    write_env
    say "started: realm $REALM on 127.0.0.1:$PORT"
}

stop() {
    local pid pids
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    pids=$(pids_with "$PIDFILE")
    if alive "$pid" "$PIDFILE"; then pids="$pids $pid"; fi
    # shellcheck disable=SC2086
    [ -z "${pids// /}" ] || kill_wait $pids
    rm -f "$PIDFILE"
}

status() {
    if is_running; then
        echo "mit-kdc: running (pid $(cat "$PIDFILE")), realm $REALM on 127.0.0.1:$PORT; env: $DIR/env.sh"
        return 0
    fi
    echo "mit-kdc: stopped"
    return 3
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) status ;;
env) [ -f "$DIR/env.sh" ] && cat "$DIR/env.sh" || fail "not started" ;;
clean) stop; rm -rf "$DIR" ;;
*) echo "usage: $0 start|stop|restart|status|env|clean" >&2; exit 2 ;;
esac
