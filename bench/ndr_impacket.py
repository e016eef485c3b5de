#!/usr/bin/python3
# Impacket (python3-impacket 0.10): impacket.dcerpc.v5.srvs.SHARE_INFO_1_CONTAINER
# on the container bytes. A top-level NDRSTRUCT does not follow its own
# pointers, so decode is fromString + fromStringReferents and encode is
# getData + getDataReferents, as NDRCALL does for a whole stub.
#
# Impacket is pure Python: about 60 us per entry to decode, so there is no
# warm-up at 100,000 entries (nothing to warm in CPython) and few reps. Its
# encoder grows a bytes object by concatenation (O(N^2): 10,000 entries take
# about 2 s), so encode is only run up to --encode-max entries.
#
# Encoded bytes differ from Samba's in referent ids and pad bytes (Impacket
# pads with 0xbf/0xdd...), so the encode check is: same length, and it
# decodes back to the same spot values.
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from impacket.dcerpc.v5 import srvs  # noqa: E402

WHO = "impacket"


def decode(data):
    c = srvs.SHARE_INFO_1_CONTAINER()
    off = c.fromString(data)
    off += c.fromStringReferents(data, off)
    if off != len(data):
        raise ValueError("consumed %d of %d bytes" % (off, len(data)))
    return c


def encode(c):
    out = c.getData()
    return out + c.getDataReferents(len(out))


def text(v):
    # LPWSTR values come back as str with the terminator; NULL is b''
    if isinstance(v, bytes):
        return None if v == b"" else v.decode("utf-16-le").rstrip("\0")
    return v.rstrip("\0")


def spot_check(c, a):
    if c["EntriesRead"] != a["n"] or len(c["Buffer"]) != a["n"]:
        return False, "count %r" % c["EntriesRead"]
    for i, name, typ, remark in benchlib.read_spots(a["dir"], a["n"]):
        e = c["Buffer"][i]
        got = (text(e["shi1_netname"]), e["shi1_type"], text(e["shi1_remark"]))
        if got != (name, typ, remark):
            return False, "entry %d: %r" % (i, got)
    return True, ""


def main():
    argv = list(sys.argv)
    encode_max = 10000
    if "--encode-max" in argv:
        j = argv.index("--encode-max")
        encode_max = int(argv[j + 1])
        del argv[j:j + 2]
    a = benchlib.parse_args(argv)
    n = a["n"]
    data = benchlib.read_fixture(a["dir"], n, "ctr")

    if a["ops"]:
        op, k = a["ops"]
        gc.collect()
        c = decode(data)
        for _ in range(k):
            if op == "decode":
                decode(data)
            else:
                encode(c)
        return

    best, med, reps, c = benchlib.measure(lambda: decode(data), a["budget"],
                                          a["min_reps"], a["max_reps"], warmup=False)
    benchlib.result(WHO, "decode", n, len(data), best, med, reps)
    ok, why = spot_check(c, a)
    benchlib.check(WHO, "decode", n, ok, why)

    if n > encode_max:
        benchlib.note(WHO, "encode of %d entries skipped (O(N^2) bytes concatenation; "
                      "--encode-max %d)" % (n, encode_max))
        return
    best, med, reps, out = benchlib.measure(lambda: encode(c), a["budget"],
                                            a["min_reps"], a["max_reps"], warmup=False)
    benchlib.result(WHO, "encode", n, len(out), best, med, reps)
    ok, why = len(out) == len(data), "length %d" % len(out)
    if ok:
        ok, why = spot_check(decode(out), a)
    benchlib.check(WHO, "encode", n, ok, why)


if __name__ == "__main__":
    main()
