# Shared helpers for the Python contenders (ndr_samba.py, ndr_impacket.py).
#
# Every contender prints machine-readable lines that run.sh collects:
#   RESULT <who> <op> <entries> <bytes> <best_s> <median_s> <reps>
#   CHECK  <who> <op> <entries> ok|FAIL <detail>
#   NOTE   <who> <text>
# and takes the same arguments:
#   SCRIPT FIXDIR N [--budget SECONDS] [--max-reps R]  timed run
#   SCRIPT FIXDIR N --ops OP K                          K untimed ops for callgrind
# In --ops mode the script does its setup (read the fixture and decode it
# once, whatever OP is, so that "encode" has values), collects garbage and
# then does exactly K
# operations OP (decode or encode). One run with K = 0 is thus the baseline
# of both ops, and (Ir(OP, K) - Ir(0)) / K is the cost of one operation,
# start-up and imports excluded.
import statistics
import sys
import time


def parse_args(argv):
    a = {"dir": argv[1], "n": int(argv[2]), "budget": 1.0, "max_reps": 15,
         "min_reps": 3, "ops": None}
    i = 3
    while i < len(argv):
        if argv[i] == "--budget":
            a["budget"] = float(argv[i + 1]); i += 2
        elif argv[i] == "--max-reps":
            a["max_reps"] = int(argv[i + 1]); i += 2
        elif argv[i] == "--min-reps":
            a["min_reps"] = int(argv[i + 1]); i += 2
        elif argv[i] == "--ops":
            a["ops"] = (argv[i + 1], int(argv[i + 2])); i += 3
        else:
            sys.exit("unknown argument %r" % argv[i])
    return a


def read_fixture(d, n, ext):
    with open("%s/share%d.%s" % (d, n, ext), "rb") as f:
        return f.read()


def read_spots(d, n):
    """[(index, netname, type, remark-or-None)] written by gen_share_enum.py."""
    spots = []
    with open("%s/share%d.spot" % (d, n), encoding="utf-8") as f:
        for line in f:
            i, name, typ, remark = line.rstrip("\n").split("\t")
            spots.append((int(i), name, int(typ), None if remark == "<NULL>" else remark))
    return spots


def measure(op, budget, min_reps, max_reps, warmup=True):
    """Run op() once untimed (warm-up), then time reps until the budget is
    spent (at least min_reps, at most max_reps). op() returns a value that
    is dropped before the next rep, outside the timed region, so freeing
    the previous result is not charged to the next one.
    Returns (best, median, reps, last result)."""
    res = op() if warmup else None
    times = []
    spent = 0.0
    while len(times) < min_reps or (spent < budget and len(times) < max_reps):
        res = None
        t0 = time.perf_counter()
        res = op()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return min(times), statistics.median(times), len(times), res


def result(who, op, n, nbytes, best, med, reps):
    print("RESULT %s %s %d %d %.6f %.6f %d" % (who, op, n, nbytes, best, med, reps))
    sys.stdout.flush()


def check(who, op, n, ok, detail=""):
    print("CHECK %s %s %d %s %s" % (who, op, n, "ok" if ok else "FAIL", detail))
    sys.stdout.flush()


def note(who, text):
    print("NOTE %s %s" % (who, text))
    sys.stdout.flush()
