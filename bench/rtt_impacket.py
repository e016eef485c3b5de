#!/usr/bin/python3
# NetrServerGetInfo level 101 round trips per second on one connection with
# Impacket's DCE/RPC client, authenticated with NTLM (same measurement as
# rtt_samba.py / rtt_lua.lua).
#
#   rtt_impacket.py PORT SECONDS WINDOWS   (BENCH_AUTH as in rtt_samba.py)
#       -> RTT impacket <best rt/s> <median rt/s> <windows> <client CPU us/call>
import os
import sys
import time

from impacket.dcerpc.v5 import transport, srvs
from impacket.dcerpc.v5.rpcrt import (RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
                                      RPC_C_AUTHN_LEVEL_NONE)

LEVELS = {"integrity": RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, "privacy": RPC_C_AUTHN_LEVEL_PKT_PRIVACY}


def connect(port):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:127.0.0.1[%d]" % port)
    auth = os.environ.get("BENCH_AUTH", "none")
    level = RPC_C_AUTHN_LEVEL_NONE
    if auth != "none":
        mech_level, user, domain, password = auth.split(",", 3)
        level = LEVELS[mech_level.split(":")[1]]
        t.set_credentials(user, password, domain)
    dce = t.get_dce_rpc()
    if level != RPC_C_AUTHN_LEVEL_NONE:
        dce.set_auth_level(level)
    dce.connect()
    dce.bind(srvs.MSRPC_UUID_SRVS)
    return dce


def main():
    port, secs, windows = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    dce = connect(port)

    def call():
        return srvs.hNetrServerGetInfo(dce, 101)

    r = call()
    if r["InfoStruct"]["ServerInfo101"]["sv101_platform_id"] != 500:
        sys.exit("unexpected reply")
    t_end = time.perf_counter() + 0.3
    while time.perf_counter() < t_end:
        call()
    rates = []
    calls, c0 = 0, time.process_time()          # client CPU (user + system) over the windows
    for _ in range(windows):
        n = 0
        t0 = t = time.perf_counter()
        while t - t0 < secs:
            call()
            n += 1
            t = time.perf_counter()
        rates.append(n / (t - t0))
        calls += n
    cpu_us = (time.process_time() - c0) / calls * 1e6
    rates.sort()
    med = rates[len(rates) // 2] if len(rates) % 2 else \
        (rates[len(rates) // 2 - 1] + rates[len(rates) // 2]) / 2
    print("RTT impacket %.0f %.0f %d %.1f" % (rates[-1], med, windows, cpu_us))


if __name__ == "__main__":
    main()
