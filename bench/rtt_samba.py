#!/usr/bin/python3
# NetrServerGetInfo level 101 round trips per second on one connection,
# with python3-samba's C client (the PIDL client stubs and Samba's dcerpc
# stack; Python only makes the call and gets a NetSrvInfo101 wrapper back).
#
#   rtt_samba.py PORT SECONDS WINDOWS [CLIENT_CONF]
#       -> RTT samba <best rt/s> <median rt/s> <windows> <client CPU us/call>
#   rtt_samba.py --sizes PORT [CLIENT_CONF]
#       -> SIZES <request PDU bytes> <response PDU bytes>
#   rtt_samba.py --calls K PORT [CLIENT_CONF]
#       connect, one call, then K calls, untimed: run under callgrind with
#       K = 0 and K > 0 for the client's instructions per call
#
# Anonymous bind (auth_len 0) over ncacn_ip_tcp straight to the port, no epm.
# --sizes makes one real call and marshals the same request and reply with
# Samba's ndr_pack_in / ndr_pack_out; a request or response PDU without auth
# is 24 header bytes plus the stub. pingpong.c uses those sizes.
import os
import sys
import time

from samba.credentials import Credentials
from samba.dcerpc import srvsvc
from samba.ndr import ndr_pack_in, ndr_pack_out
from samba.param import LoadParm

SERVER = "\\\\127.0.0.1"
PDU_HDR = 16 + 8     # common header + request/response header (alloc_hint, ctx, opnum/cancel)


def connect(port, conf):
    lp = LoadParm()
    if conf and os.path.exists(conf):
        lp.load(conf)
    creds = Credentials()
    creds.guess(lp)
    # BENCH_AUTH="ntlm:privacy,alice,RPCSRV,Alice-Pass1": NTLMSSP at sign/seal
    auth = os.environ.get("BENCH_AUTH", "none")
    flags = ""
    if auth != "none":
        mech_level, user, domain, password = auth.split(",", 3)
        mech, level = mech_level.split(":")
        creds.set_username(user)
        creds.set_domain(domain)
        creds.set_password(password)
        flags = "," + {"integrity": "sign", "privacy": "seal", "packet": "sign"}[level]
        flags += ",ntlm" if mech == "ntlm" else ",spnego"
    else:
        creds.set_anonymous()
    return srvsvc.srvsvc("ncacn_ip_tcp:127.0.0.1[%d%s]" % (port, flags), lp, creds)


def sizes(c):
    info = c.NetSrvGetInfo(SERVER, 101)
    f = srvsvc.NetSrvGetInfo()
    f.in_server_unc = SERVER
    f.in_level = 101
    f.out_info = info
    f.result = 0
    return PDU_HDR + len(ndr_pack_in(f)), PDU_HDR + len(ndr_pack_out(f))


def main():
    if sys.argv[1] == "--sizes":
        c = connect(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
        print("SIZES %d %d" % sizes(c))
        return
    if sys.argv[1] == "--calls":
        k = int(sys.argv[2])
        c = connect(int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
        for _ in range(k + 1):
            c.NetSrvGetInfo(SERVER, 101)
        return
    port, secs, windows = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    c = connect(port, sys.argv[4] if len(sys.argv) > 4 else None)
    call = c.NetSrvGetInfo
    info = call(SERVER, 101)
    if info.platform_id != 500 or not info.server_name:
        sys.exit("unexpected NetSrvInfo101: %r %r" % (info.platform_id, info.server_name))
    t_end = time.perf_counter() + 0.3            # warm-up
    while time.perf_counter() < t_end:
        call(SERVER, 101)
    rates = []
    calls, c0 = 0, time.process_time()          # client CPU (user + system) over the windows
    for _ in range(windows):
        n = 0
        t0 = t = time.perf_counter()
        while t - t0 < secs:
            call(SERVER, 101)
            n += 1
            t = time.perf_counter()
        rates.append(n / (t - t0))
        calls += n
    cpu_us = (time.process_time() - c0) / calls * 1e6
    rates.sort()
    med = rates[len(rates) // 2] if len(rates) % 2 else \
        (rates[len(rates) // 2 - 1] + rates[len(rates) // 2]) / 2
    print("RTT samba %.0f %.0f %d %.1f" % (rates[-1], med, windows, cpu_us))


if __name__ == "__main__":
    main()
