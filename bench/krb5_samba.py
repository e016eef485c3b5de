#!/usr/bin/python3
# Kerberos with python3-samba's C client (Samba's gensec_gssapi under the PIDL
# stubs) against the Samba AD DC: binds per second (a new connection, a
# Kerberos bind at privacy and SamrConnect2 + SamrClose each; the TGT and,
# after the first, the service ticket come from the ccache: "binds"; or a
# service ticket asked of the KDC for every bind, each bind with new
# credentials on a ccache holding the TGT alone, the file rewritten: "fresh")
# and SamrConnect2 + SamrClose calls per second at privacy on one
# connection, with Kerberos (auth type 16) and with NTLM.
#
#   krb5_samba.py HOST HOSTNAME DOMAIN USER PASSWORD CCACHE SECONDS [CLIENT_CONF]
#       -> KRB5 samba binds <binds/s>
#          KRB5 samba fresh <binds/s>
#          KRB5 samba calls krb5 <calls/s>
#          KRB5 samba calls ntlm <calls/s>
import os
import sys
import tempfile
import time

from samba import credentials
from samba.credentials import Credentials
from samba.dcerpc import samr
from samba.param import LoadParm


def creds_for(lp, user, domain, password, ccache, kerberos):
    c = Credentials()
    c.guess(lp)
    c.set_username(user)
    c.set_domain(domain)
    if kerberos:
        c.set_kerberos_state(credentials.MUST_USE_KERBEROS)
        c.set_named_ccache(ccache, credentials.SPECIFIED, lp)
    else:
        c.set_password(password)
        c.set_kerberos_state(credentials.DONT_USE_KERBEROS)
    return c


def rate(fn, seconds):
    fn()
    n, t0 = 0, time.perf_counter()
    end = t0 + seconds
    while True:
        fn()
        n += 1
        now = time.perf_counter()
        if now >= end:
            return n / (now - t0)


def main():
    host, hostname, domain, user, password, ccache = sys.argv[1:7]
    seconds = float(sys.argv[7])
    conf = sys.argv[8] if len(sys.argv) > 8 else None
    lp = LoadParm()
    if conf and os.path.exists(conf):
        lp.load(conf)
    kc = creds_for(lp, user, domain, password, ccache, True)
    nc = creds_for(lp, user, domain, password, ccache, False)
    krb = "ncacn_ip_tcp:%s[krb5,seal,target_hostname=%s]" % (host, hostname)
    ntlm = "ncacn_ip_tcp:%s[ntlm,seal]" % host
    server = "\\\\" + host

    def bind_once():
        c = samr.samr(krb, lp, kc)
        h = c.Connect2(server, 0x02000000)
        c.Close(h)
        del c

    print("KRB5 samba binds %.1f" % rate(bind_once, seconds))

    with open(ccache[len("FILE:"):] if ccache.startswith("FILE:") else ccache, "rb") as f:
        tgt = f.read()
    fd, fresh = tempfile.mkstemp()
    os.close(fd)

    def fresh_once():
        with open(fresh, "wb") as f:
            f.write(tgt)
        cr = creds_for(lp, user, domain, password, "FILE:" + fresh, True)
        c = samr.samr(krb, lp, cr)
        h = c.Connect2(server, 0x02000000)
        c.Close(h)
        del c

    print("KRB5 samba fresh %.1f" % rate(fresh_once, seconds))
    os.remove(fresh)
    for name, b, cr in (("krb5", krb, kc), ("ntlm", ntlm, nc)):
        c = samr.samr(b, lp, cr)

        def call():
            h = c.Connect2(server, 0x02000000)
            c.Close(h)

        print("KRB5 samba calls %s %.1f" % (name, rate(call, seconds)))


main()
