#!/usr/bin/python3
# Turns the lines collected by run.sh into the tables. Input lines:
#   RESULT who op entries bytes best_s median_s reps
#   CHECK  who op entries ok|FAIL detail
#   NOTE   who text
#   IR     who op entries k instructions|FAIL   (callgrind, k ops after setup)
#   SIZES  request_bytes response_bytes
#   RTT    who placement best_rt/s median_rt/s windows [client_cpu_us/call]
#          (who samba / ours / pingpong against the Samba peer; samba-echo,
#          ours-echo, impacket-echo against the C server echo_epoll)
# Anything else is ignored. Ratios are of best times (or best rates) from the
# same run; instruction ratios from the callgrind counts.
import collections
import sys

res = {}                                  # (who, op, n) -> (bytes, best, med, reps)
checks = collections.OrderedDict()
notes = []
ir = {}                                   # (who, op, n, k) -> int or None
rtt = collections.defaultdict(list)       # (who, placement) -> [(best, med)]
rtt_cpu = collections.defaultdict(list)   # (who, placement) -> [client CPU us per call]
sizes = None
meta = []
irc = {}                                  # (who, k) -> client instructions or None

for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    f = line.split()
    if not f:
        continue
    if f[0] == "RESULT" and len(f) == 8:
        # several rounds of the same measurement: keep the best time and
        # the best round's median
        k, v = (f[1], f[2], int(f[3])), (int(f[4]), float(f[5]), float(f[6]), int(f[7]))
        old = res.get(k)
        res[k] = v if old is None else (v[0], min(old[1], v[1]), min(old[2], v[2]), old[3] + v[3])
    elif f[0] == "CHECK" and len(f) >= 5:
        checks[(f[1], f[2], int(f[3]))] = (f[4], " ".join(f[5:]))
    elif f[0] == "NOTE":
        notes.append(" ".join(f[1:]))
    elif f[0] == "IR" and len(f) == 6:
        ir[(f[1], f[2], int(f[3]), int(f[4]))] = None if f[5] == "FAIL" else int(f[5])
    elif f[0] == "SIZES" and len(f) == 3:
        sizes = (int(f[1]), int(f[2]))
    elif f[0] == "RTT" and len(f) in (6, 7):
        rtt[(f[1], f[2])].append((float(f[3]), float(f[4])))
        if len(f) == 7:
            rtt_cpu[(f[1], f[2])].append(float(f[6]))
    elif f[0] == "IRC" and len(f) == 4:
        irc[(f[1], int(f[2]))] = None if f[3] == "FAIL" else int(f[3])
    elif f[0] == "META":
        meta.append(" ".join(f[1:]))


def ir_per_op(who, op, n):
    """(Ir(op, k) - Ir(decode, 0)) / k, or None."""
    # ours-stub shares ours' setup (ndr_lua.lua --ops decodes the container
    # once whatever the op), so it shares its baseline
    base = ir.get(("ours" if who == "ours-stub" else who, "decode", n, 0))
    for (w, o, m, k), v in ir.items():
        if (w, o, m) == (who, op, n) and k > 0 and v is not None and base is not None:
            return (v - base) / k
    return None


def fmt_ratio(x):
    return "-" if x is None else ("%.2fx" % x if x < 100 else "%.0fx" % x)


def fmt_ir(x, n):
    if x is None:
        return "-", "-"
    return "%.0fM" % (x / 1e6), "%.0f" % (x / n)


ns = sorted({n for (_, _, n) in res} | {n for (_, _, n, _) in ir}, reverse=True)
WHO = ["impacket", "samba", "ours", "ours-stub", "floor"]
LABEL = {
    "impacket": "Impacket (Python)",
    "samba": "Samba C (PIDL)",
    "ours": "ours",
    "ours-stub": "ours, whole out stub",
    "floor": "floor (C builds tables)",
}

def report_a():
    print("=" * 100)
    print("(a) NDR: SHARE_INFO_1_CONTAINER (NetrShareEnum level 1 reply)   " +
          "  ".join(m for m in meta if not m.startswith("peer ")))
    print("=" * 100)
    for op in ("decode", "encode"):
        for n in ns:
            rows = [(w, res[(w, op, n)]) for w in WHO if (w, op, n) in res]
            irs = {w: ir_per_op(w, op, n) for w in WHO}
            if not rows and not any(v is not None for v in irs.values()):
                continue
            sam = res.get(("samba", op, n))
            imp = res.get(("impacket", op, n))
            flo = res.get(("floor", op, n))
            print("\n%s, %d entries%s" % (op, n, "  (floor encode = read every field from C, write nothing)"
                                          if op == "encode" else ""))
            print("  %-24s %9s %9s %8s %10s %9s %9s %9s %8s %7s %s" % (
                "contender", "best ms", "median ms", "MB/s", "entries/s", "vs Samba",
                "vs Impkt", "vs floor", "Ir/op", "Ir/ent", "check"))
            for w, (nbytes, best, med, reps) in rows:
                ck = checks.get((w, op, n))
                ir_op, ir_ent = fmt_ir(irs.get(w), n)
                print("  %-24s %9.2f %9.2f %8.1f %10.0f %9s %9s %9s %8s %7s %s" % (
                    LABEL[w], best * 1e3, med * 1e3, nbytes / best / 1e6, n / best,
                    fmt_ratio(best / sam[1]) if sam else "-",
                    fmt_ratio(imp[1] / best) if imp and w != "impacket" else "-",
                    fmt_ratio(best / flo[1]) if flo else "-",
                    ir_op, ir_ent, ("%s %s" % ck).strip() if ck else ""))
            for w in WHO:   # counted but not timed at this n (Impacket at 1,000)
                if irs.get(w) is not None and (w, op, n) not in res:
                    print("  %-24s %9s %9s %8s %10s %9s %9s %9s %8s %7s" % (
                        LABEL[w], "-", "-", "-", "-", "-", "-", "-", *fmt_ir(irs[w], n)))

    # ---------------------------------------------------------- linearity + goals
    print("\nlinearity: cost per entry at the larger n / at the smaller n (1.00 = linear)")
    print("  %-24s %-6s %18s %8s %8s" % ("contender", "op", "entries", "time", "Ir"))
    for w in WHO:
        for op in ("decode", "encode"):
            pts = sorted((n, v[1]) for (ww, o, n), v in res.items() if ww == w and o == op)
            irp = sorted((n, ir_per_op(w, op, n)) for n in ns if ir_per_op(w, op, n) is not None)
            tl = il = "-"
            rng = ""
            if len(pts) >= 2:
                (n0, t0), (n1, t1) = pts[0], pts[-1]
                tl, rng = "%.2f" % ((t1 / n1) / (t0 / n0)), "%d->%d" % (n0, n1)
            if len(irp) >= 2:
                (m0, i0), (m1, i1) = irp[0], irp[-1]
                il = "%.2f" % ((i1 / m1) / (i0 / m0))
                rng = rng or "%d->%d" % (m0, m1)
            if rng:
                print("  %-24s %-6s %18s %8s %8s" % (LABEL[w], op, rng, tl, il))

    print("\ngoals (ratios of best times in this run; instruction ratios in brackets)")
    big = ns[0] if ns else 0


    def goal(text, num, den, limit, num_ir=None, den_ir=None):
        if num is None or den is None:
            print("  %-58s  n/a" % text)
            return
        r = num / den
        extra = ""
        if num_ir is not None and den_ir is not None:
            extra = "  [Ir %.2f]" % (num_ir / den_ir)
        print("  %-58s  %.2f  %s%s" % (text, r, "MET" if r <= limit else "not met", extra))


    def best(w, op, n):
        v = res.get((w, op, n))
        return v[1] if v else None


    goal("decode: ours / Samba C pull            (goal <= 1.0)",
         best("ours", "decode", big), best("samba", "decode", big), 1.0,
         ir_per_op("ours", "decode", big), ir_per_op("samba", "decode", big))
    goal("decode: ours / floor                   (goal <= 1.5)",
         best("ours", "decode", big), best("floor", "decode", big), 1.5,
         ir_per_op("ours", "decode", big), ir_per_op("floor", "decode", big))
    goal("encode: ours / Samba C push            (goal <= 1.0)",
         best("ours", "encode", big), best("samba", "encode", big), 1.0,
         ir_per_op("ours", "encode", big), ir_per_op("samba", "encode", big))
    sm = [n for n in ns if n != big]
    if sm:
        s = sm[0]
        t1, t0 = best("ours", "encode", big), best("ours", "encode", s)
        i1, i0 = ir_per_op("ours", "encode", big), ir_per_op("ours", "encode", s)
        goal("encode linear: ours per entry, %dk / %dk    (goal <= 1.25)" % (big // 1000, s // 1000),
             t1 / big if t1 else None, t0 / s if t0 else None, 1.25,
             i1 / big if i1 else None, i0 / s if i0 else None)
    imp, sam = best("impacket", "decode", big), best("samba", "decode", big)
    if imp and sam:
        print("  %-58s  %.0fx" % ("(reference) decode: Impacket / Samba", imp / sam))



# ---------------------------------------------------------- (b)
def report_b():
    print("\n" + "=" * 100)
    print("(b) NetrServerGetInfo level 101 round trips/s, one connection, Samba rpcd_classic peer")
    for m in meta:
        if m.startswith("peer "):
            print("    " + m)
    if sizes:
        print("    PDU sizes: request %d B, response %d B (pingpong uses the same)" % sizes)
    print("=" * 100)
    print("  %-10s %12s %12s %12s %11s %13s %12s   %s" % (
        "placement", "pingpong", "Samba C", "ours", "ours/Samba", "Samba/ceiling", "ours/ceiling",
        "median: Samba, ours, ours/Samba"))

    def top(w, pl):
        v = rtt.get((w, pl))
        return max(b for b, _ in v) if v else None

    def mid(w, pl):
        v = rtt.get((w, pl))
        if not v:
            return None
        m = sorted(md for _, md in v)
        return m[len(m) // 2] if len(m) % 2 else (m[len(m) // 2 - 1] + m[len(m) // 2]) / 2

    def cell(x):
        return "%12.0f" % x if x else "%12s" % "-"

    def rat(a, b):
        return "%.2f" % (a / b) if a and b else "-"

    for pl, text in (("1cpu", "1 CPU"), ("2cpu", "2 CPUs")):
        pp, sa, ou = top("pingpong", pl), top("samba", pl), top("ours", pl)
        msa, mou = mid("samba", pl), mid("ours", pl)
        print("  %-10s %s %s %s %11s %13s %12s   %s, %s, %s" % (
            text, cell(pp), cell(sa), cell(ou), rat(ou, sa), rat(sa, pp), rat(ou, pp),
            "%.0f" % msa if msa else "-", "%.0f" % mou if mou else "-", rat(mou, msa)))
    n_rounds = max((len(v) for (w, _), v in rtt.items() if w in ("samba", "ours")), default=0)
    print("  (rt/s; best window of 0.5-1 s; Samba and ours alternate %d times per placement;"
          " 1 CPU = client and rpcd_classic both on CPU 0, 2 CPUs = client on 0, server on 1)" % n_rounds)
    per_call = {}
    for who in ("samba", "ours"):
        base = irc.get((who, 0))
        for (w, k), v in irc.items():
            if w == who and k > 0 and v is not None and base is not None:
                per_call[who] = (v - base) / k
    if per_call:
        print("  client instructions per call (callgrind, server not counted): " + ", ".join(
            "%s %.0f" % ({"samba": "Samba C", "ours": "ours"}[w], v) for w, v in sorted(per_call.items())) +
            ("  (ours/Samba %.2f)" % (per_call["ours"] / per_call["samba"])
             if "ours" in per_call and "samba" in per_call else ""))
    for pl in ("1cpu", "2cpu"):
        sa, ou = top("samba", pl), top("ours", pl)
        if sa and ou:
            r, rm = ou / sa, mid("ours", pl) / mid("samba", pl)
            print("  goal: ours >= Samba C client, %s: best %.2f, median %.2f  %s" % (
                pl, r, rm, "MET" if min(r, rm) >= 1 else "MET on best only" if r >= 1 else "not met"))

    # ------------------------------------------------------ against the C server
    if not any(w.endswith("-echo") for w, _ in rtt):
        return
    print("\n  against the C server (echo_epoll --preset srvsvc101: pre-built bind_ack and reply of the same"
          " sizes; no server work,\n  so the clients' own cost shows)")
    print("  %-10s %12s %12s %12s %12s %11s %13s %12s   %s" % (
        "placement", "pingpong", "Samba C", "ours", "Impacket", "ours/Samba", "ours/Impacket", "ours/ceiling",
        "median: Samba, ours, Impacket, ours/Samba"))
    for pl, text in (("1cpu", "1 CPU"), ("2cpu", "2 CPUs")):
        pp = top("pingpong", pl)
        sa, ou, im = top("samba-echo", pl), top("ours-echo", pl), top("impacket-echo", pl)
        msa, mou, mim = mid("samba-echo", pl), mid("ours-echo", pl), mid("impacket-echo", pl)
        print("  %-10s %s %s %s %s %11s %13s %12s   %s, %s, %s, %s" % (
            text, cell(pp), cell(sa), cell(ou), cell(im), rat(ou, sa), rat(ou, im), rat(ou, pp),
            "%.0f" % msa if msa else "-", "%.0f" % mou if mou else "-", "%.0f" % mim if mim else "-",
            rat(mou, msa)))
    def cpu(w, pl):
        v = sorted(rtt_cpu.get((w, pl), []))
        return (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2) if v else None

    def us(x):
        return "%.1f" % x if x else "-"

    print("  %-10s %12s %12s %12s %12s %11s %13s" % (
        "", "CPU us/call", "Samba C", "ours", "Impacket", "Samba/ours", "Impacket/ours"))
    for pl, text in (("1cpu", "1 CPU"), ("2cpu", "2 CPUs")):
        sa, ou, im = cpu("samba-echo", pl), cpu("ours-echo", pl), cpu("impacket-echo", pl)
        print("  %-10s %12s %12s %12s %12s %11s %13s" % (
            text, "", us(sa), us(ou), us(im), rat(sa, ou), rat(im, ou)))
    n_echo = max((len(v) for (w, _), v in rtt.items() if w.endswith("-echo")), default=0)
    print("  (rt/s; best window of 0.5-1 s; the three clients run %d times per placement, in the same rounds"
          " as the rows above;\n   1 CPU = client and echo_epoll on CPU 0, 2 CPUs = client on 0, echo_epoll on 1;\n   CPU us/call = the client process's user + system time over its timed windows / its calls, median of the processes)" % n_echo)
    for pl in ("1cpu", "2cpu"):
        sa, ou = top("samba-echo", pl), top("ours-echo", pl)
        msa, mou = mid("samba-echo", pl), mid("ours-echo", pl)
        if sa and ou and msa and mou:
            r, rm = ou / sa, mou / msa
            sc, oc = cpu("samba-echo", pl), cpu("ours-echo", pl)
            print("  goal: ours >= 1.5x Samba's C client against the C server, %s: best %.2f, median %.2f  %s%s" % (
                pl, r, rm, "MET" if min(r, rm) >= 1.5 else "MET on best only" if r >= 1.5 else "not met",
                "  [client CPU per call Samba/ours %.2f]" % (sc / oc) if sc and oc else ""))
        else:
            print("  goal: ours >= 1.5x Samba's C client against the C server, %s: n/a (a client gave no rate)" % pl)


if res or ir:
    report_a()
if rtt:
    report_b()

fails = [(k, v) for k, v in checks.items() if v[0] != "ok"]
if notes or fails:
    print("\nnotes")
    for nt in notes:
        print("  " + nt)
    for (w, op, n), (st, d) in fails:
        print("  CHECK FAILED %s %s %d: %s" % (w, op, n, d))
