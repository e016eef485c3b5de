#!/usr/bin/python3
# ncacn_np with python3-samba's C client (Samba's SMB2 client and dcerpc
# stack under the PIDL stubs): the time to open (TCP connect through the
# first call's reply) and NetrServerGetInfo level 101 calls per second on
# one session.
#
#   np_samba.py HOST USER DOMAIN PASSWORD OPENS SECONDS [CLIENT_CONF]
#       -> NP samba <open ms median> <open ms best> <calls/s> <dialect-independent>
import os
import statistics
import sys
import time

from samba.credentials import Credentials
from samba.dcerpc import srvsvc
from samba.param import LoadParm


def main():
    host, user, domain, password = sys.argv[1:5]
    opens, seconds = int(sys.argv[5]), float(sys.argv[6])
    conf = sys.argv[7] if len(sys.argv) > 7 else None
    lp = LoadParm()
    if conf and os.path.exists(conf):
        lp.load(conf)
    creds = Credentials()
    creds.guess(lp)
    creds.set_username(user)
    creds.set_domain(domain)
    creds.set_password(password)
    server = "\\\\" + host
    binding = "ncacn_np:%s[\\pipe\\srvsvc]" % host
    times = []
    for _ in range(opens):
        t0 = time.perf_counter()
        c = srvsvc.srvsvc(binding, lp, creds)
        c.NetSrvGetInfo(server, 101)
        times.append((time.perf_counter() - t0) * 1000.0)
        del c
    c = srvsvc.srvsvc(binding, lp, creds)
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(50):
            c.NetSrvGetInfo(server, 101)
        n += 50
        now = time.perf_counter()
        if now >= end:
            break
    rate = n / (now - t0)
    print("NP samba %.3f %.3f %.1f" % (statistics.median(times), min(times), rate))


main()
