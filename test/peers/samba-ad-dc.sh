#!/bin/bash
# A Samba Active Directory domain controller on loopback: the Kerberos (and
# NTLM) peer for the interop specs.
#   realm RPCTEST.LOCAL, NetBIOS domain RPCTEST, DC dc1.rpctest.local. That name
#   is resolved by nobody: clients connect to 127.0.0.1 and name the host only
#   for the SPN (host/dc1.rpctest.local, cifs/dc1.rpctest.local).
#   KDC :88 and kpasswd :464 (tcp+udp), epm :135, SMB :445 (named pipes), LDAP
#   :389/:636, GC :3268/:3269, ncacn_ip_tcp on dynamic ports (49152 and up);
#   127.0.0.1 and ::1 only. No DNS server, no NetBIOS, no WINS.
#   Users: alice / Alice-Pass1 and Administrator / Admin-Pass1 (passwords never
#   expire); a keytab with alice's keys and a ccache holding her TGT.
#
# Provisions on the first start (samba-tool domain provision, a few seconds),
# later starts reuse the database. samba-member.sh needs 135 and 445 as well:
# only one of the two runs at a time (start refuses while the ports are held).
# The DC's smbd talks to its winbindd through the compiled-in /run/samba (the
# one path outside $DCERPC_PEER_DIR it uses).
#
# usage: samba-ad-dc.sh start|stop|restart|status|env|clean
# After start, `. $DCERPC_PEER_DIR/samba-ad-dc/env.sh` exports SAMBA_DC_HOST,
# SAMBA_DC_HOSTNAME, SAMBA_DC_REALM, SAMBA_DC_DOMAIN, SAMBA_DC_USER,
# SAMBA_DC_PASSWORD, SAMBA_DC_ADMIN_USER, SAMBA_DC_ADMIN_PASSWORD,
# SAMBA_DC_KEYTAB, SAMBA_DC_KRB5_CONFIG, SAMBA_DC_KRB5CCNAME, SAMBA_DC_CONF,
# SAMBA_DC_CLIENT_CONF, SAMBA_DC_{KDC,EPM,SMB}_PORT and one
# SAMBA_DC_<IFACE>_PORT per ncacn_ip_tcp endpoint (SAMR, LSARPC, NETLOGON, ...).
# `krb5-env.sh` next to it exports KRB5_CONFIG, KRB5CCNAME, KRB5_CLIENT_KTNAME.
set -euo pipefail
PEER=samba-ad-dc
. "$(dirname "$(readlink -f "$0")")/common.sh"

DIR="$DCERPC_PEER_DIR/samba-ad-dc"
CONF="$DIR/etc/smb.conf"
CLIENT_CONF="$DIR/etc/client.conf"
KRB5_CONF="$DIR/krb5.conf"
REALM=RPCTEST.LOCAL
DOMAIN=RPCTEST
DNS_DOMAIN=rpctest.local
HOST_SHORT=dc1
FQDN="$HOST_SHORT.$DNS_DOMAIN"
USER_NAME=alice
USER_PASS=Alice-Pass1
ADMIN_PASS=Admin-Pass1
KEYTAB="$DIR/$USER_NAME.keytab"
CCACHE="$DIR/$USER_NAME.ccache"
PY=/usr/bin/python3          # samba's python modules are Debian's, not pyenv's
SAMBA_TOOL=/usr/bin/samba-tool
PORTS=(88 135 389 445 464 636 3268 3269)
# ncacn_ip_tcp endpoints: above the kernel's ephemeral range (32768-60999) and
# away from samba-member's 49152+, whose helpers may still be dying after a
# swap. The DC does not skip a taken port: its rpc task fails and retries 10 s later.
RPC_PORTS=61350-61399

samba_pid() {
    local p=""
    [ -r "$DIR/pid/samba.pid" ] && p=$(<"$DIR/pid/samba.pid")
    echo "${p//[!0-9]/}"
}
# samba renames its processes ("samba: root process"): the pid file's process
# must be /usr/sbin/samba with our config among its open files' owners... its
# its smbd (started with --configfile=$CONF) is there.
samba_alive() {
    local pid=$1
    alive "$pid" && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(command -v samba)" ]
}
is_running() { samba_alive "$(samba_pid)" && [ -n "$(pids_with "$CONF")" ]; }

# held PORT: something listens on PORT where the DC would bind (127.0.0.1,
# ::1 or a wildcard). Other loopback addresses (127.0.0.3:135) do not clash.
held() {
    ss -Htuln "( sport = :$1 )" 2>/dev/null | awk '{print $5}' |
        grep -qE "^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::1\]|\[::\]|\[::ffff:127\.0\.0\.1\]):$1\$"
}

# holders " P1 P2": the listeners on those ports, for the error message
holders() {
    local p
    for p in $1; do ss -Htulnp "( sport = :$p )" 2>/dev/null | head -2; done | head -4
}

tool() { "$PY" "$SAMBA_TOOL" "$@"; }

write_krb5_conf() {
    cat >"$KRB5_CONF" <<EOF
# written by samba-ad-dc.sh: the DC's KDC on loopback, no DNS anywhere
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    forwardable = true

[realms]
    $REALM = {
        kdc = 127.0.0.1:88
        admin_server = 127.0.0.1:464
        kpasswd_server = 127.0.0.1:464
    }

[domain_realm]
    .$DNS_DOMAIN = $REALM
    $DNS_DOMAIN = $REALM
EOF
}

write_client_conf() {
    mkdir -p "$DIR/client"
    cat >"$CLIENT_CONF" <<EOF
[global]
    workgroup = $DOMAIN
    realm = $REALM
    lock directory = $DIR/client
    state directory = $DIR/client
    cache directory = $DIR/client
    private dir = $DIR/client
    log file = $DIR/log/client.log
EOF
}

provision() {
    local t0=$SECONDS
    rm -rf "$DIR"
    mkdir -p "$DIR"/{etc,log,pid,ncalrpc,ntp_signd}
    # an empty config: nothing of /etc/samba/smb.conf leaks into the provision
    : >"$DIR/etc/empty.conf"
    # Every --option lands in the generated smb.conf: loopback only, no DNS /
    # NetBIOS / WINS / NTP services, sockets and logs under $DIR.
    if ! tool domain provision -s "$DIR/etc/empty.conf" --targetdir="$DIR" \
        --realm="$REALM" --domain="$DOMAIN" --host-name="$HOST_SHORT" \
        --host-ip=127.0.0.1 --server-role=dc --dns-backend=NONE \
        --adminpass="$ADMIN_PASS" \
        --option="netbios name = DC1" \
        --option="interfaces = lo" \
        --option="bind interfaces only = yes" \
        --option="server services = s3fs, rpc, ldap, cldap, kdc, drepl, winbindd, kcc" \
        --option="disable netbios = yes" \
        --option="smb ports = 445" \
        --option="rpc server dynamic port range = $RPC_PORTS" \
        --option="pid directory = $DIR/pid" \
        --option="ncalrpc dir = $DIR/ncalrpc" \
        --option="ntp signd socket directory = $DIR/ntp_signd" \
        --option="log file = $DIR/log/samba.log" \
        --option="max log size = 0" \
        --option="log level = 1" \
        --option="dns update command = /bin/true" \
        --option="spn update command = /bin/true" \
        --option="load printers = no" \
        --option="printcap name = /dev/null" \
        --option="disable spoolss = yes" \
        >"$DIR/log/provision.log" 2>&1; then
        tail -20 "$DIR/log/provision.log" >&2
        fail "provision failed (log: $DIR/log/provision.log)"
    fi
    # provision writes its smb.conf into $DIR/etc (targetdir)
    [ -f "$CONF" ] || fail "provision wrote no $CONF"
    local sam="ldb://$DIR/private/sam.ldb"
    tool user create "$USER_NAME" "$USER_PASS" -s "$CONF" -H "$sam" >/dev/null
    tool user setexpiry "$USER_NAME" --noexpiry -s "$CONF" -H "$sam" >/dev/null
    tool user setexpiry Administrator --noexpiry -s "$CONF" -H "$sam" >/dev/null
    tool domain exportkeytab "$KEYTAB" --principal="$USER_NAME@$REALM" -s "$CONF" >/dev/null
    echo $((SECONDS - t0)) >"$DIR/provisioned"
    say "provisioned $REALM in $((SECONDS - t0)) s"
}

# "name port" for each ncacn_ip_tcp endpoint in the DC's endpoint mapper
# (mgmt sits on every port and is left out).
tcp_endpoints() {
    timeout 20 rpcclient -s "$CLIENT_CONF" -N -U '' 'ncacn_ip_tcp:127.0.0.1[135]' -c epmlookup 2>/dev/null |
        sed -n 's/.*ncacn_ip_tcp:[^[]*\[\([0-9]*\)[],].*: *\([A-Za-z0-9_]*\)$/\2 \1/p' |
        { grep -v '^mgmt ' || true; } | sort -u
}

start() {
    [ "$(id -u)" = 0 ] || fail "must run as root (ports 88, 135, 445)"
    local c
    for c in samba smbd winbindd rpcclient kinit ss "$PY" "$SAMBA_TOOL"; do
        command -v "$c" >/dev/null || fail "missing $c (run tools/setup.sh test)"
    done
    if is_running; then say "already running"; return 0; fi
    stop >/dev/null 2>&1 || true
    local p busy=""
    for p in "${PORTS[@]}" 61350 61351 61352; do held "$p" && busy="$busy $p"; done
    [ -z "$busy" ] || fail "port(s)$busy taken: $(holders "$busy")"
    [ -f "$DIR/provisioned" ] || provision
    write_krb5_conf
    write_client_conf
    mkdir -p "$DIR"/{log,pid,ncalrpc,ntp_signd} /run/samba
    local t0=$SECONDS
    samba -D -s "$CONF"
    for p in 135 445 88 389; do
        wait_listening 127.0.0.1 "$p" 60 || fail "samba is not listening on 127.0.0.1:$p (logs in $DIR/log)"
    done
    # the first TGT proves the KDC (the keytab holds alice's password keys)
    local i ok=""
    for ((i = 0; i < 100; i++)); do
        if env KRB5_CONFIG="$KRB5_CONF" KRB5CCNAME="FILE:$CCACHE" \
            kinit -k -t "$KEYTAB" "$USER_NAME@$REALM" 2>/dev/null; then ok=1; break; fi
        sleep 0.1
    done
    [ -n "$ok" ] || fail "kinit $USER_NAME@$REALM with $KEYTAB failed (logs in $DIR/log)"
    local map=""
    for ((i = 0; i < 100; i++)); do
        map=$(tcp_endpoints)
        grep -q '^samr ' <<<"$map" && grep -q '^lsarpc ' <<<"$map" && break
        sleep 0.2
    done
    grep -q '^samr ' <<<"$map" || fail "samr never showed up in the endpoint map"
    # smbd and winbindd started by samba run in their own sessions: find them by config
    # shellcheck disable=SC2046
    only_loopback $(tree "$(samba_pid)" $(pids_with "$CONF")) ||
        { stop; fail "stopped: a socket was bound outside loopback"; }
    {
        echo "# written by samba-ad-dc.sh start"
        echo "export SAMBA_DC_DIR='$DIR' SAMBA_DC_CONF='$CONF' SAMBA_DC_CLIENT_CONF='$CLIENT_CONF'"
        echo "export SAMBA_DC_HOST=127.0.0.1 SAMBA_DC_HOSTNAME='$FQDN' SAMBA_DC_REALM='$REALM' SAMBA_DC_DOMAIN='$DOMAIN'"
        echo "export SAMBA_DC_USER='$USER_NAME' SAMBA_DC_PASSWORD='$USER_PASS'"
        echo "export SAMBA_DC_ADMIN_USER=Administrator SAMBA_DC_ADMIN_PASSWORD='$ADMIN_PASS'"
        echo "export SAMBA_DC_KEYTAB='$KEYTAB' SAMBA_DC_KRB5_CONFIG='$KRB5_CONF' SAMBA_DC_KRB5CCNAME='$CCACHE'"
        echo "export SAMBA_DC_KDC_PORT=88 SAMBA_DC_EPM_PORT=135 SAMBA_DC_SMB_PORT=445"
        echo "export SAMBA_DC_PROVISION_SECONDS=$(cat "$DIR/provisioned") SAMBA_DC_START_SECONDS=$((SECONDS - t0))"
        while read -r name port; do
            [ -n "$name" ] && echo "export SAMBA_DC_$(tr '[:lower:]' '[:upper:]' <<<"$name")_PORT=$port"
        done <<<"$map"
    } >"$DIR/env.sh"
    {
        echo "# written by samba-ad-dc.sh start: Kerberos clients of the DC"
        echo "export KRB5_CONFIG='$KRB5_CONF' KRB5CCNAME='$CCACHE' KRB5_CLIENT_KTNAME='$KEYTAB'"
    } >"$DIR/krb5-env.sh"
    say "running (start $((SECONDS - t0)) s); endpoints: $(tr '\n' ' ' <<<"$map")"
}

stop() {
    local pid
    pid=$(samba_pid)
    samba_alive "$pid" || pid=""
    # TERM to the whole tree at once (the root, its task masters and workers,
    # smbd and winbindd, which run in sessions of their own) is much faster
    # than letting the root take its children down one by one.
    # shellcheck disable=SC2046,SC2086  # word splitting of the pid lists is intended
    kill_wait $(tree $pid $(pids_with "$CONF"))
    rm -f "$DIR"/pid/*.pid
    say "stopped"
}

status() {
    if is_running; then
        echo "samba-ad-dc: running (samba pid $(samba_pid)), realm $REALM, DC $FQDN at 127.0.0.1"
        cat "$DIR/env.sh"
    else
        echo "samba-ad-dc: stopped"
        return 3
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) status ;;
env) cat "$DIR/env.sh" "$DIR/krb5-env.sh" ;;
clean) stop; rm -rf "$DIR" ;;
*) echo "usage: $0 start|stop|restart|status|env|clean" >&2; exit 2 ;;
esac
