#!/bin/bash
# Install what lua-dcerpc needs on Debian 12, idempotently: only the packages
# that are missing, quietly, with service start-up blocked (the test peers are
# started by test/peers/*.sh on loopback, never by the packages).
#   tools/setup.sh demo   build tools, Lua, OpenSSL, Kerberos, Samba (the demo's peer)
#   tools/setup.sh test   all of demo + busted, luarocks, the peers the specs use, tshark
set -euo pipefail

mode=${1:-test}
pkgs=(gcc make pkg-config lua5.4 liblua5.4-dev lua-lpeg libssl-dev libkrb5-dev
      samba smbclient procps iproute2)
if [ "$mode" = test ]; then
    pkgs+=(lua-busted luarocks python3-samba python3-impacket samba-testsuite tshark valgrind
           clang libclang-rt-14-dev)
    # Kerberos: the MIT KDC peer (test/peers/mit-kdc.sh) and kinit/klist;
    # the Samba AD DC peer (test/peers/samba-ad-dc.sh): samba's DC role, its
    # provisioning data and directory modules
    pkgs+=(krb5-kdc krb5-admin-server krb5-user samba-ad-dc samba-ad-provision samba-dsdb-modules)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
fi
trap '[ -z "$guard" ] || rm -f "$guard"' EXIT
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections 2>/dev/null || true
echo 'krb5-config krb5-config/default_realm string' | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
