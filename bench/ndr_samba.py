#!/usr/bin/python3
# Samba's PIDL-generated C NDR, driven from python3-samba: decode is
# ndr_unpack_out(NetShareEnumAll) of the whole out stub (C pull into talloc'd
# C structures; Python wrappers are made lazily, only for what is touched),
# encode is ndr_pack_out of the decoded object (C push from those structures).
# NetShareCtr1 is not a public struct, so Samba cannot take the container
# alone: it reads the out stub, i.e. the container plus 24 bytes
# (level, switch, pointer before; TotalEntries, ResumeHandle, WERROR after).
#
# Usage: see benchlib.py. Leaves with os._exit: dropping the wrappers of a
# large array costs O(N^2) in talloc reference bookkeeping.
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from samba.dcerpc import srvsvc  # noqa: E402
from samba.ndr import ndr_pack_out, ndr_unpack_out  # noqa: E402

WHO = "samba"


def decode(data):
    r = srvsvc.NetShareEnumAll()
    ndr_unpack_out(r, data)
    return r


def spot_check(r, a):
    ctr = r.out_info_ctr
    if ctr.level != 1 or ctr.ctr.count != a["n"]:
        return False, "level/count %r/%r" % (ctr.level, ctr.ctr.count)
    arr = ctr.ctr.array
    if len(arr) != a["n"]:
        return False, "array length %d" % len(arr)
    for i, name, typ, remark in benchlib.read_spots(a["dir"], a["n"]):
        e = arr[i]
        if (e.name, e.type, e.comment) != (name, typ, remark):
            return False, "entry %d: %r" % (i, (e.name, e.type, e.comment))
    return True, ""


def main():
    a = benchlib.parse_args(sys.argv)
    n = a["n"]
    data = benchlib.read_fixture(a["dir"], n, "out")
    keep = []   # see the header: never free big decoded objects

    if a["ops"]:
        op, k = a["ops"]
        gc.collect()
        r = decode(data)
        for _ in range(k):
            if op == "decode":
                keep.append(decode(data))
            else:
                ndr_pack_out(r)
        return

    def dec():
        r = decode(data)
        keep.append(r)
        return r

    best, med, reps, r = benchlib.measure(dec, a["budget"], a["min_reps"], a["max_reps"])
    benchlib.result(WHO, "decode", n, len(data), best, med, reps)
    ok, why = spot_check(r, a)
    benchlib.check(WHO, "decode", n, ok, why)

    best, med, reps, out = benchlib.measure(lambda: ndr_pack_out(r), a["budget"],
                                            a["min_reps"], a["max_reps"])
    benchlib.result(WHO, "encode", n, len(out), best, med, reps)
    benchlib.check(WHO, "encode", n, out == data,
                   "" if out == data else "differs from the fixture (%d bytes)" % len(out))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
