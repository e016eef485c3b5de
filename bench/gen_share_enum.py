#!/usr/bin/python3
# Fixture for the NDR benchmark: the NetrShareEnum(All) level 1 reply with N
# SHARE_INFO_1 entries, marshalled by Samba's PIDL C code (ndr_pack_out), so no
# contender gets bytes made by itself.
#
#   gen_share_enum.py DIR N...
#
# For each N writes:
#   DIR/share<N>.out   the whole out stub (SHARE_ENUM_STRUCT, TotalEntries,
#                      ResumeHandle, WERROR) - what Samba's ndr_unpack_out reads
#   DIR/share<N>.ctr   the SHARE_INFO_1_CONTAINER alone, sliced out of .out
#                      (offset 12 is 4-aligned and nothing in it needs more,
#                      so the slice is a valid standalone encoding)
#   DIR/share<N>.spot  "index<TAB>netname<TAB>type<TAB>remark" lines (remark
#                      "<NULL>" for a null pointer) that every decoder must match
#
# Run with Debian's /usr/bin/python3 (python3-samba lives there).
import os
import struct
import sys

from samba.dcerpc import srvsvc
from samba.ndr import ndr_pack_out

STYPE_DISKTREE, STYPE_PRINTQ, STYPE_IPC = 0, 1, 3
STYPE_SPECIAL = 0x80000000

DEPTS = ["finance", "hr", "eng", "sales", "legal", "ops", "it", "research"]


def entry(i):
    """Deterministic, realistic share i: mostly disk shares, a few printers
    and admin shares, remarks of varied length, some NULL, some non-ASCII."""
    name = "share%05d" % i
    if i % 97 == 0:
        typ = STYPE_DISKTREE | STYPE_SPECIAL
        name = name + "$"
    elif i % 31 == 0:
        typ = STYPE_PRINTQ
    else:
        typ = STYPE_DISKTREE
    if i % 7 == 3:
        remark = None
    elif i % 11 == 5:
        remark = ""
    elif i % 13 == 0:
        remark = "Répertoire partagé %d – équipe %s" % (i, DEPTS[i % 8])
    else:
        remark = "%s team share %d" % (DEPTS[i % 8], i) + " (archive)" * (i % 3)
    return name, typ, remark


# Objects built here are never freed: python3-samba's talloc references make
# dropping N NetShareInfo1 wrappers O(N^2) (40,000 take 22 s), so main() keeps
# them alive in KEEP and leaves with os._exit.
KEEP = []


def build(n):
    infos = []
    for i in range(n):
        name, typ, remark = entry(i)
        info = srvsvc.NetShareInfo1()
        info.name = name
        info.type = typ
        info.comment = remark
        infos.append(info)
    ctr1 = srvsvc.NetShareCtr1()
    ctr1.count = n
    ctr1.array = infos
    ctr = srvsvc.NetShareInfoCtr()
    ctr.level = 1
    ctr.ctr = ctr1
    r = srvsvc.NetShareEnumAll()
    r.out_info_ctr = ctr
    r.out_totalentries = n
    r.out_resume_handle = None
    r.result = 0
    KEEP.append((infos, r))
    return ndr_pack_out(r)


def container_end(out, n):
    """Walk the container inside the out stub (a plain NDR20 walk, no Samba)
    and return the offset just past its last deferred string."""
    level, switch, ptr = struct.unpack_from("<III", out, 0)
    assert level == 1 and switch == 1 and ptr != 0
    count, aptr = struct.unpack_from("<II", out, 12)
    assert count == n and aptr != 0
    (maxc,) = struct.unpack_from("<I", out, 20)
    assert maxc == n
    off = 24
    ptrs = []
    for _ in range(n):
        p1, _t, p2 = struct.unpack_from("<III", out, off)
        ptrs.append(p1)
        ptrs.append(p2)
        off += 12
    for p in ptrs:
        if p == 0:
            continue
        off = (off + 3) & ~3
        m, o, a = struct.unpack_from("<III", out, off)
        assert o == 0 and a <= m
        off += 12 + 2 * a
    return off


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    for n in map(int, sys.argv[2:]):
        out = build(n)
        end = container_end(out, n)
        # the tail is: pad to 4, TotalEntries, null ResumeHandle, WERROR
        tail = out[(end + 3) & ~3:]
        assert tail == struct.pack("<III", n, 0, 0), tail
        ctr = out[12:end]
        with open(os.path.join(d, "share%d.out" % n), "wb") as f:
            f.write(out)
        with open(os.path.join(d, "share%d.ctr" % n), "wb") as f:
            f.write(ctr)
        with open(os.path.join(d, "share%d.spot" % n), "w", encoding="utf-8") as f:
            for i in sorted({0, 1, 3, 5, 13, 42, 97, n // 2, n - 1}):
                if i >= n:
                    continue
                name, typ, remark = entry(i)
                f.write("%d\t%s\t%d\t%s\n" % (i, name, typ,
                                             "<NULL>" if remark is None else remark))
        print("fixture N=%d out=%d bytes container=%d bytes" % (n, len(out), len(ctr)))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
