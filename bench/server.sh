#!/bin/bash
# lua-dcerpc benchmark, part (c): servers under load. See bench/README.md.
#
#   bash bench/server.sh [RESULTS_FILE]      (run.sh calls it for BENCH_PARTS=c)
#
# One C load generator (loadgen.c: epoll, pre-built PDUs, every reply checked)
# against:
#   addone     rpcecho AddOne: the asyncio reference server (test/peers), ours
#              (examples/echo-server.lua), and the epoll ceiling (echo_epoll.c)
#   srvsvc101  NetrServerGetInfo level 101: samba-dcerpcd's rpcd_classic, ours
#              (examples/srvsvc-server.lua, the handler in Lua, with workers = 1
#              and with --workers 2), and the epoll ceiling
# with 1, 4 and 16 connections, each a closed loop of one call at a time,
# interleaved (for each connection count every server in turn); then 10,000
# idle connections held against each RPC server (memory per connection).
# Server CPU comes from /proc/PID/stat (utime+stime of the server process and
# its descendants, all threads) at the start and end of each timed window.
#
# Placement: loadgen on CPU $BENCH_GEN_CPU (0), spinning (epoll_wait with
# timeout 0: a reply never waits for the generator to wake up), every server
# process (all threads; workers forked later inherit it) on CPU
# $BENCH_SRV_CPU (1). Peers' affinity is restored at exit; servers we start
# ourselves are stopped at exit.
#
# Environment: BENCH_C_SECS (1.5) timed seconds per run after BENCH_C_WARM
# (0.5); BENCH_C_ROUNDS (2) rounds of every run, the report keeps the best;
# BENCH_C_CONNS ("1 4 16"); BENCH_HOLD (10000, 0 = skip); BENCH_HOLD_SECS (3);
# BENCH_OURS_ARGS extra arguments for our servers after the binding (the
# worker count, once they take one). RESULTS_FILE: where the raw lines are
# appended (run.sh passes its own; standalone, none are kept).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
LUA=${LUA:-lua5.4}
GEN_CPU=${BENCH_GEN_CPU:-0}
SRV_CPU=${BENCH_SRV_CPU:-1}
SECS=${BENCH_C_SECS:-1.5}
ROUNDS=${BENCH_C_ROUNDS:-2}
WARM=${BENCH_C_WARM:-0.5}
CONNS=${BENCH_C_CONNS:-"1 4 16"}
HOLD_N=${BENCH_HOLD:-10000}
HOLD_SECS=${BENCH_HOLD_SECS:-3}
OURS_ARGS=${BENCH_OURS_ARGS:-}
RESULTS=${1:-}      # raw lines are appended there (run.sh passes its results file)

OWN_WORK=0
if [ -z "${WORK:-}" ] || [ ! -d "$WORK" ]; then WORK=$(mktemp -d /tmp/dcerpc-bench-c.XXXXXX); OWN_WORK=1; fi
C=$WORK/c
mkdir -p "$C"
RES=$C/results.txt
: >"$RES"
PINNED=()        # "pid mask": peer processes whose affinity we changed (roots)
STARTED=()       # process groups of the servers we started
PEER_STARTED=0   # 1: this script started test/peers/samba-member.sh (stopped at exit)
PEER_SCRIPT=${BENCH_PEER_SCRIPT:-$ROOT/test/peers/samba-member.sh}

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
emit() { tee -a "$RES" >&2; }

cleanup() {
  local entry pg pid
  for pg in "${STARTED[@]}"; do kill -TERM -- "-$pg" 2>/dev/null; done
  # a peer's root gets its mask back, and so does every process below it
  # (workers it forked while pinned inherited the pinned mask)
  for entry in "${PINNED[@]}"; do
    for pid in $(descendants "${entry%% *}"); do taskset -a -p "${entry#* }" "$pid" >/dev/null 2>&1; done
  done
  # a Samba peer that was already running is left alone (run.sh finds or
  # starts it before calling this script, and stops what it started)
  if [ "$PEER_STARTED" = 1 ]; then
    say "stopping the Samba peer this script started ($PEER_SCRIPT stop)"
    bash "$PEER_SCRIPT" stop >&2 || say "could not stop the Samba peer"
  fi
  [ "$OWN_WORK" = 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ helpers
CFLAGS_C="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -pedantic -Wmissing-prototypes"
# shellcheck disable=SC2086
gcc $CFLAGS_C -o "$C/loadgen" "$HERE/loadgen.c" || exit 1
# shellcheck disable=SC2086
gcc $CFLAGS_C -o "$C/echo_epoll" "$HERE/echo_epoll.c" || exit 1
LG=$C/loadgen

# pid of the process listening on 127.0.0.1:PORT
listener_pid() { ss -Htlnp "( sport = :$1 )" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1; }

# descendants PID: PID and every process below it
descendants() {
  local pid=$1 kid
  echo "$pid"
  for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null); do descendants "$kid"; done
}

# pin_tree PID: PID and its descendants (all threads) onto SRV_CPU; remember
# the root's old mask (cleanup gives it back to the whole tree). Children
# forked later inherit the root's pinned mask.
pin_tree() {
  local pid mask
  if ! printf '%s\n' "${PINNED[@]}" | grep -q "^$1 "; then
    mask=$(taskset -p "$1" 2>/dev/null | sed -n 's/.*mask: *//p')
    [ -n "$mask" ] && PINNED+=("$1 $mask")
  fi
  for pid in $(descendants "$1"); do
    taskset -a -p -c "$SRV_CPU" "$pid" >/dev/null 2>&1 || { say "cannot pin $pid"; return 1; }
  done
}

free_port() {
  local p
  for p in $(seq 60200 60299); do
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  return 1
}

# start_server NAME LOG CMD...: start CMD in its own process group on SRV_CPU,
# wait up to 10 s for "listening on" in LOG (LOG = /dev/null: for a listener
# on $SPORT); sets SPID and SPORT (from the printed binding / port when it
# names one).
start_server() {
  local name=$1 log=$2 i
  shift 2
  setsid taskset -c "$SRV_CPU" "$@" >"$log" 2>&1 </dev/null &
  SPID=$!
  STARTED+=("$SPID")
  for ((i = 0; i < 100; i++)); do
    if [ "$log" = /dev/null ]; then
      [ "$(listener_pid "$SPORT")" = "$SPID" ] && return 0
    elif grep -q "listening on" "$log" 2>/dev/null; then
      local p
      p=$(grep -m1 "listening on" "$log" | sed -n 's/.*\[\([0-9][0-9]*\).*/\1/p; t; s/.*listening on \([0-9][0-9]*\).*/\1/p')
      [ -n "$p" ] && SPORT=$p
      return 0
    fi
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  NA_REASON="$name did not print 'listening on' ($(tail -c 300 "$log" 2>/dev/null | tr '\n' ' '))"
  kill -TERM -- "-$SPID" 2>/dev/null
  return 1
}

# ------------------------------------------------------------ the servers
declare -A PORT PIDS COMM   # label -> port, --server-pid arguments, --server-comm
LABELS_ADDONE=() LABELS_SRVSVC=()

# (i) the asyncio reference rpcecho server (test/peers/rpcecho-server.py): a
# private instance, so that its memory in the hold test starts from a process
# that has not held thousands of connections before (CPython keeps freed heap),
# logging to /dev/null (it writes and flushes one line per call; to a file,
# as the shared peer does, that costs it more); the shared peer (rpcecho.sh,
# port 60135) if that cannot start
p=$(free_port) && SPORT=$p &&
  start_server asyncio /dev/null "$PY" "$ROOT/test/peers/rpcecho-server.py" --host 127.0.0.1 --port "$p" &&
  PORT[asyncio]=$p PIDS[asyncio]=$SPID && LABELS_ADDONE+=(asyncio)
if [ -z "${PORT[asyncio]:-}" ]; then
  echo "SRVNOTE private asyncio server did not start ($NA_REASON): using the shared rpcecho peer" | emit
  if bash "$ROOT/test/peers/rpcecho.sh" status >/dev/null 2>&1 || bash "$ROOT/test/peers/rpcecho.sh" start >&2; then
    p=${RPCECHO_PORT:-60135}
    pid=$(listener_pid "$p")
    if [ -n "$pid" ] && pin_tree "$pid"; then
      PORT[asyncio]=$p PIDS[asyncio]=$pid
      LABELS_ADDONE+=(asyncio)
    fi
  fi
  [ -n "${PORT[asyncio]:-}" ] || echo "SRVNA asyncio reference server not available" | emit
fi

# (ii) ours: examples/echo-server.lua
export LUA_PATH="$ROOT/scripts/?.lua;$ROOT/scripts/?/init.lua;;"
export LUA_CPATH="$ROOT/build/?.so;;"
try_ours() {    # try_ours LABEL SCRIPT PRESET [EXTRA ARGS...]
  local label=$1 script=$2 preset=$3 port
  shift 3
  NA_REASON=""
  if [ ! -f "$ROOT/$script" ]; then
    echo "SRVNA $label $script does not exist" | emit
    return 1
  fi
  port=$(free_port) || { echo "SRVNA $label no free port" | emit; return 1; }
  SPORT=$port
  # shellcheck disable=SC2086
  if ! start_server "$label" "$C/$label.log" $LUA "$ROOT/$script" "ncacn_ip_tcp:127.0.0.1[$port]" --per-address 20000 $OURS_ARGS "$@"; then
    echo "SRVNA $label $NA_REASON" | emit
    return 1
  fi
  # it must answer one checked call before it is measured
  if ! out=$(timeout 10 "$LG" --preset "$preset" --dump 127.0.0.1 "$SPORT" 2>&1); then
    echo "SRVNA $label does not answer: $(echo "$out" | tail -1)" | emit
    kill -TERM -- "-$SPID" 2>/dev/null
    return 1
  fi
  PORT[$label]=$SPORT PIDS[$label]=$SPID
}
try_ours ours "examples/echo-server.lua" addone && LABELS_ADDONE+=(ours)

# (iii) the ceiling
start_server ceiling "$C/ceiling-addone.log" "$C/echo_epoll" --preset addone 0 &&
  PORT[ceiling]=$SPORT PIDS[ceiling]=$SPID && LABELS_ADDONE+=(ceiling)

# srvsvc: samba-dcerpcd's rpcd_classic (the project's Samba peer; the shared
# one under $PEER_DIR if that is what answers)
samba_port=""
for e in "${DCERPC_PEER_DIR:-/tmp/lua-dcerpc-peers}/samba-member/env.sh" "${PEER_DIR:-/tmp/rpc-peers}/samba-member/env.sh"; do
  [ -f "$e" ] || continue
  p=$(bash -c ". '$e'; echo \${SAMBA_SRVSVC_PORT:-\${SAMBA_MEMBER_SRVSVC_PORT:-}}")
  [ -n "$p" ] && [ -n "$(listener_pid "$p")" ] && { samba_port=$p; break; }
done
if [ -z "$samba_port" ] && [ -f "$PEER_SCRIPT" ]; then
  say "-- (c) starting the Samba peer ($PEER_SCRIPT)"
  PEER_STARTED=1
  bash "$PEER_SCRIPT" start 2>&1 | tee "$C/peer-start.log" >&2
  rc=${PIPESTATUS[0]}
  grep -q "already running" "$C/peer-start.log" && PEER_STARTED=0
  [ "$PEER_STARTED" = 1 ] && say "-- (c) this script started the Samba peer: it is stopped at exit"
  [ "$rc" = 0 ] &&
    samba_port=$(bash -c ". '${DCERPC_PEER_DIR:-/tmp/lua-dcerpc-peers}/samba-member/env.sh'; echo \$SAMBA_SRVSVC_PORT")
fi
if [ -n "$samba_port" ] && pid=$(listener_pid "$samba_port") && [ -n "$pid" ]; then
  # the listener is samba-dcerpcd; it hands each connection to an rpcd_classic
  # worker it forks: count samba-dcerpcd + rpcd_classic (not the other helpers)
  pin_tree "$pid" || echo "SRVNOTE samba-dcerpcd $pid: not pinned" | emit
  PORT[samba]=$samba_port PIDS[samba]=$pid COMM[samba]=rpcd_classic
  LABELS_SRVSVC+=(samba)
else
  echo "SRVNA samba no Samba peer with a srvsvc port" | emit
fi
try_ours ours-srvsvc "examples/srvsvc-server.lua" srvsvc101 && LABELS_SRVSVC+=(ours-srvsvc)
# the same with two worker processes (both on SRV_CPU like every server here:
# forked workers inherit the pinned mask)
try_ours ours-srvsvc-w2 "examples/srvsvc-server.lua" srvsvc101 --workers 2 && LABELS_SRVSVC+=(ours-srvsvc-w2)
start_server ceiling-srvsvc "$C/ceiling-srvsvc.log" "$C/echo_epoll" --preset srvsvc101 0 &&
  PORT[ceiling-srvsvc]=$SPORT PIDS[ceiling-srvsvc]=$SPID && LABELS_SRVSVC+=(ceiling-srvsvc)

# ------------------------------------------------------------ throughput
idle=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat); sleep 0.5
idle2=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
busy=$(echo "$idle $idle2" | awk '{d = $4 - $2; b = 0; if (d > 0) b = 100 * (1 - ($3 - $1) / d); printf("%.0f", b)}')
echo "SRVMETA $(date -u +%FT%TZ) cpus=$(nproc) gen_cpu=$GEN_CPU srv_cpu=$SRV_CPU secs=$SECS warm=$WARM busy_before=$busy% hold=$HOLD_N/${HOLD_SECS}s ours_args=${OURS_ARGS:-none}" | emit
[ "${busy:-0}" -gt 15 ] && echo "SRVNOTE the machine was ${busy}% busy before part (c) started: other load skews these numbers" | emit

run_lg() {     # run_lg LABEL PRESET CONNS [extra loadgen args]
  local label=$1 preset=$2 n=$3 out
  shift 3
  local extra=()
  [ -n "${COMM[$label]:-}" ] && extra+=(--server-comm "${COMM[$label]}")
  if out=$("$LG" --preset "$preset" --label "$label" -c "$n" -w "$WARM" -d "$SECS" --cpu "$GEN_CPU" --spin \
      --srv-cpu "$SRV_CPU" --server-pid "${PIDS[$label]}" "${extra[@]}" "$@" 127.0.0.1 "${PORT[$label]}" 2>&1); then
    echo "$out" | grep '^SRV ' | emit
  else
    echo "SRVFAIL $label $n $(echo "$out" | tail -1)" | emit
  fi
}

say "-- (c) servers: addone -> ${LABELS_ADDONE[*]:-none}; srvsvc101 -> ${LABELS_SRVSVC[*]:-none}"
for ((round = 1; round <= ROUNDS; round++)); do
  for n in $CONNS; do
    for l in "${LABELS_ADDONE[@]}"; do run_lg "$l" addone "$n"; done
    for l in "${LABELS_SRVSVC[@]}"; do
      [ "$l" = samba ] && pin_tree "${PIDS[samba]}" >/dev/null 2>&1   # workers forked meanwhile
      run_lg "$l" srvsvc101 "$n"
    done
  done
done

# ------------------------------------------------------------ hold
if [ "$HOLD_N" -gt 0 ]; then
  for l in "${LABELS_ADDONE[@]}" "${LABELS_SRVSVC[@]}"; do
    case $l in ceiling*|*-w2) continue ;; esac
    preset=addone
    case $l in samba|ours-srvsvc) preset=srvsvc101 ;; esac
    say "-- (c) hold: $HOLD_N idle connections to $l"
    extra=()
    [ -n "${COMM[$l]:-}" ] && extra+=(--server-comm "${COMM[$l]}")
    if out=$("$LG" --preset "$preset" --label "$l" --hold "$HOLD_N" --hold-secs "$HOLD_SECS" --cpu "$GEN_CPU" \
        --server-pid "${PIDS[$l]}" "${extra[@]}" 127.0.0.1 "${PORT[$l]}" 2>&1); then
      echo "$out" | grep '^HOLD ' | emit
    else
      echo "$out" | grep '^HOLD ' | emit
      echo "SRVFAIL hold-$l $HOLD_N $(echo "$out" | grep -v '^HOLD ' | tail -1)" | emit
    fi
    sleep 1     # let the server close them before the next one
  done
fi

[ -n "$RESULTS" ] && cat "$RES" >>"$RESULTS"
# ------------------------------------------------------------ report
$PY - "$RES" <<'EOF'
import sys
srv, hold, na, fail, notes, meta = {}, {}, {}, [], [], ""
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    f = line.split()
    if not f:
        continue
    if f[0] == "SRV" and len(f) == 12:
        v = dict(rate=float(f[3]), scpu=None if f[4] == "-" else float(f[4]),
                 per=None if f[5] == "-" else float(f[5]), gcpu=float(f[6]),
                 secs=float(f[8]), req=int(f[9]), resp=int(f[10]),
                 idle=None if f[11] == "-" else float(f[11]), rounds=1)
        old = srv.get((f[1], int(f[2])))
        if old:                       # several rounds: keep the best one
            v["rounds"] = old["rounds"] + 1
            if old["rate"] >= v["rate"]:
                old["rounds"] = v["rounds"]
                v = old
        srv[(f[1], int(f[2]))] = v
    elif f[0] == "HOLD" and len(f) == 12:
        b, n = f[2].split("/")
        hold[f[1]] = dict(bound=int(b), n=int(n), bind=float(f[3]), rss0=int(f[4]), rss1=int(f[5]),
                          rss=float(f[6]), pss=float(f[9]), ver=int(f[10]), drop=int(f[11]))
    elif f[0] == "SRVNA":
        na[f[1]] = " ".join(f[2:])
    elif f[0] == "SRVFAIL":
        fail.append(" ".join(f[1:]))
    elif f[0] == "SRVNOTE":
        notes.append(" ".join(f[1:]))
    elif f[0] == "SRVMETA":
        meta = " ".join(f[1:])

names = {"asyncio": "asyncio reference (Python)", "ours": "ours: examples/echo-server.lua",
         "ceiling": "epoll ping-pong ceiling (C)", "samba": "samba-dcerpcd rpcd_classic",
         "ours-srvsvc": "ours: examples/srvsvc-server.lua", "ours-srvsvc-w2": "ours: srvsvc-server.lua --workers 2",
         "ceiling-srvsvc": "epoll ping-pong ceiling (C)"}
conns = sorted({n for _, n in srv})
print("\n(c) servers under a C load generator  [%s]" % meta)
print("    closed loop, one call in flight per connection, every reply checked; best of %d rounds; generator spins on CPU %s, servers on CPU %s"
      % (max([v["rounds"] for v in srv.values()] or [0]), meta.split("gen_cpu=")[1].split()[0] if "gen_cpu=" in meta else "?",
         meta.split("srv_cpu=")[1].split()[0] if "srv_cpu=" in meta else "?"))
print("    srv CPU = utime+stime of the server's processes / wall; other = the rest of the server's CPU not idle (other load, irq)")
for call, labels, ceil in (("addone", ("asyncio", "ours", "ceiling"), "ceiling"),
                           ("srvsvc101", ("samba", "ours-srvsvc", "ours-srvsvc-w2", "ceiling-srvsvc"), "ceiling-srvsvc")):
    sz = next((v for (l, _), v in srv.items() if l in labels), None)
    print("\n  %s%s" % (call, "  (request %d B, response %d B)" % (sz["req"], sz["resp"]) if sz else ""))
    print("  %-34s %5s %10s %8s %12s %8s %8s %8s" % ("server", "conns", "calls/s", "srv CPU", "calls/CPU-s", "gen busy", "other", "vs ceil"))
    for l in labels:
        if l in na:
            print("  %-34s %s" % (names[l], "not available yet" if l.startswith("ours") else "not available") + " (" + na[l] + ")")
            continue
        for n in conns:
            v = srv.get((l, n))
            if not v:
                print("  %-34s %5d %10s" % (names[l], n, "FAILED"))
                continue
            c = srv.get((ceil, n))
            scpu = 100 * v["scpu"] / v["secs"] if v["scpu"] is not None else None
            other = 100 - v["idle"] - scpu if v["idle"] is not None and scpu is not None else None
            if v["gcpu"] > 90:
                notes.append("%s %d conns: the generator was %.0f%% busy, so this rate is a lower bound%s" % (
                    l, n, v["gcpu"], " (the ceiling's server and the generator do the same work)" if l.startswith("ceiling") else ""))
            if other is not None and other > 20:
                notes.append("%s %d conns: %.0f%% of the server's CPU went to something else (other load, interrupts)" % (l, n, other))
            print("  %-34s %5d %10.0f %7s %12s %7.0f%% %8s %8s" % (
                names[l], n, v["rate"], "%.0f%%" % scpu if scpu is not None else "-",
                "%.0f" % v["per"] if v["per"] else "-", v["gcpu"],
                "%.0f%%" % max(other, 0) if other is not None else "-",
                "%.2f" % (v["rate"] / c["rate"]) if c and l != ceil else ""))

if hold:
    print("\n  hold: idle connections bound, kept idle, then one checked call on each; memory = sum over the server's processes")
    print("  %-34s %11s %8s %12s %10s %10s %9s" % ("server", "bound", "bind s", "RSS +MiB", "B/conn RSS", "B/conn PSS", "verified"))
    for l, h in hold.items():
        print("  %-34s %5d/%-5d %8.2f %12.1f %10.0f %10s %9d%s" % (
            names.get(l, l), h["bound"], h["n"], h["bind"], (h["rss1"] - h["rss0"]) / 1024.0, h["rss"],
            "%.0f" % h["pss"] if h["pss"] >= 0 else "-", h["ver"], "  dropped %d" % h["drop"] if h["drop"] else ""))
    if "samba" in hold:
        print("  (samba: its rpcd_classic workers live on between runs and reuse heap they kept from earlier\n"
              "   connections, so its figure is a lower bound unless they are fresh; asyncio and ours start fresh)")

def rate(l, n, k="rate"):
    v = srv.get((l, n))
    return v[k] if v else None

print("\n  goals (issue 7 item 8)")
def goal(text, num, den, limit, less=False):
    if num is None or den is None:
        print("  %-66s  %s" % (text, "n/a (ours not available yet)" if num is None else "n/a"))
        return
    r = num / den
    ok = r < limit if less else r >= limit
    print("  %-66s  %6.2f  %s" % (text, r, "MET" if ok else "not met"))
hi = max(conns) if conns else 16
goal("ours/asyncio calls/s, 1 connection >= 1", rate("ours", 1), rate("asyncio", 1), 1)
goal("ours/asyncio calls per server CPU-s, %d connections >= 1.5" % hi, rate("ours", hi, "per"), rate("asyncio", hi, "per"), 1.5)
goal("ours(workers=2)/samba srvsvc calls/s, %d connections >= 2" % hi, rate("ours-srvsvc-w2", hi), rate("samba", hi), 2)
for n in conns:
    for l, what in (("ours-srvsvc", "workers=1"), ("ours-srvsvc-w2", "workers=2")):
        if rate(l, n) and rate("samba", n):
            print("  %-66s  %6.2f" % ("  ours(%s)/samba srvsvc calls/s, %d connection%s" % (what, n, "s" if n > 1 else ""),
                                       rate(l, n) / rate("samba", n)))
for n in conns:
    goal("ours/ceiling calls/s (addone), %d connection%s >= 0.5" % (n, "s" if n > 1 else ""), rate("ours", n), rate("ceiling", n), 0.5)
h = hold.get("ours")
if h and h["bound"] < h["n"]:
    print("  %-66s  %6.2f  not met: only %d of %d connections accepted" % (
        "ours bytes per idle connection (RSS) <= 4 KiB  [value/4096]", h["rss"] / 4096.0, h["bound"], h["n"]))
else:
    goal("ours bytes per idle connection (RSS) <= 4 KiB  [value/4096]", h["rss"] if h else None, 4096.0, 1, less=True)
print("  (reference: asyncio/ceiling %s; samba/ceiling %s at %d connections)" % (
    "%.2f" % (rate("asyncio", hi) / rate("ceiling", hi)) if rate("asyncio", hi) and rate("ceiling", hi) else "-",
    "%.2f" % (rate("samba", hi) / rate("ceiling-srvsvc", hi)) if rate("samba", hi) and rate("ceiling-srvsvc", hi) else "-", hi))
if fail or notes:
    print("\n  notes")
    for x in notes:
        print("    " + x)
    for x in fail:
        print("    FAILED " + x)
EOF
