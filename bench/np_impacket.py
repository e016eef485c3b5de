#!/usr/bin/python3
# ncacn_np with Impacket (SMBTransport, its SMB2/3 client and pure-Python
# NDR): the time to open (TCP connect through the first call's reply) and
# NetrServerGetInfo level 101 calls per second on one session.
#
#   np_impacket.py HOST USER DOMAIN PASSWORD OPENS SECONDS
#       -> NP impacket <open ms median> <open ms best> <calls/s>
import statistics
import sys
import time

from impacket.dcerpc.v5 import srvs, transport


def open_one(host, user, domain, password):
    t = transport.SMBTransport(host, 445, r"\srvsvc", username=user, password=password, domain=domain)
    d = t.get_dce_rpc()
    d.connect()
    d.bind(srvs.MSRPC_UUID_SRVS)
    return d


def main():
    host, user, domain, password = sys.argv[1:5]
    opens, seconds = int(sys.argv[5]), float(sys.argv[6])
    server = "\\\\" + host + "\x00"
    times = []
    for _ in range(opens):
        t0 = time.perf_counter()
        d = open_one(host, user, domain, password)
        srvs.hNetrServerGetInfo(d, 101)
        times.append((time.perf_counter() - t0) * 1000.0)
        d.disconnect()
    d = open_one(host, user, domain, password)
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(10):
            srvs.hNetrServerGetInfo(d, 101)
        n += 10
        now = time.perf_counter()
        if now >= end:
            break
    print("NP impacket %.3f %.3f %.1f" % (statistics.median(times), min(times), n / (now - t0)))
    d.disconnect()


main()
