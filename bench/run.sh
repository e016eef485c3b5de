#!/bin/bash
# lua-dcerpc benchmark (what `make bench` runs, after `make`). See bench/README.md.
#
#   bash bench/run.sh            everything, about 2-3 minutes
#   BENCH_PARTS=a bash bench/run.sh     only (a) NDR;  =b only (b) round trips;
#                                =c only (c) servers under load (bench/server.sh)
#                                =d only (d) authenticated round trips
#                                =e only (e) named pipes (ncacn_np over SMB)
#                                =f only (f) loading interfaces from MIDL
#                                =g only (g) Kerberos against the Samba AD DC
#   BENCH_CALLGRIND=0 ...        skip the instruction counts
#   BENCH_B_ROUNDS=N ...         rounds per placement in (b) (default 4)
#   BENCH_RESULTS=FILE ...       where the raw result lines are kept
#                                (default /tmp/dcerpc-bench-results.txt)
#
# (a) NDR decode/encode of a NetrShareEnum level-1 reply (100,000 and 10,000
#     SHARE_INFO_1) by Samba's C NDR, Impacket, our engine and the C floor,
#     on the same fixture bytes, timed (best and median of N) and counted
#     with callgrind.
# (b) NetrServerGetInfo level 101 round trips per second on one connection
#     to the Samba peer: Samba's C client, ours, and a raw TCP ping-pong with
#     the same PDU sizes, with client and server on one CPU and on two.
#     Then the same call against a C server (echo_epoll.c --preset srvsvc101,
#     pre-built replies) from Samba's C client, ours and Impacket: the clients'
#     own cost, not capped by Samba's server.
# (c) servers under a C load generator (bench/server.sh, its own table):
#     calls/s and calls per server CPU-second with 1/4/16 connections, ours
#     next to the asyncio rpcecho server and samba-dcerpcd, an epoll ceiling,
#     and memory per idle connection with 10,000 held.
# (e) ncacn_np against the Samba peer's smbd, one session: the time to open
#     (TCP connect through the first call's reply, median of N) and
#     NetrServerGetInfo 101 calls per second, ours next to python3-samba's C
#     client and Impacket's SMBTransport, with the server plain, requiring
#     signing, and requiring encryption (smbd's extra.conf, reloaded).
# (f) the time to load each shipped interface from its MIDL file
#     (dcerpc.idl.load) next to running its Lua description, and a generated
#     interface the size of [MS-SAMR]'s full IDL (bench/idl_load.lua).
# (g) Kerberos against the Samba AD DC (test/peers/samba-ad-dc.sh, in place of
#     the member Samba for the part): binds per second (a new connection, a
#     Kerberos bind at privacy, two calls; tickets from one ccache) and calls
#     per second at privacy with Kerberos and with NTLM, ours next to
#     python3-samba's C client (bench/krb5_lua.lua, bench/krb5_samba.py).
#
# Every contender prints RESULT/CHECK/NOTE/RTT lines into one results file;
# bench/report.py turns that into the table. Our Lua side is optional: when
# dcerpc.ndr or the client do not work yet, their rows say so and the rest runs.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3           # Debian's: python3-samba and python3-impacket live there
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in bench/
LUA=${LUA:-lua5.4}
PARTS=${BENCH_PARTS:-abcdefg}
CALLGRIND=${BENCH_CALLGRIND:-1}
N_BIG=100000
N_SMALL=10000
N_TINY=1000                   # Impacket's encode linearity
N_CG_IMPACKET=200             # Impacket under callgrind (~700k instructions per entry)

WORK=$(mktemp -d /tmp/dcerpc-bench.XXXXXX)
export WORK
RES=$WORK/results.txt
: >"$RES"
PINNED=()                     # "pid mask" of processes whose affinity we changed
EE_PIDS=()                    # echo_epoll servers this run started (always stopped)
PEER_STARTED=0                # 1: this run started test/peers/samba-member.sh (stopped at exit)
PEER_SCRIPT=${BENCH_PEER_SCRIPT:-$ROOT/test/peers/samba-member.sh}

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
emit() { tee -a "$RES" >&2; }

cleanup() {
  local entry pid
  for pid in "${EE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for entry in "${PINNED[@]}"; do        # give the peer its CPUs back
    taskset -a -p "${entry#* }" "${entry%% *}" >/dev/null 2>&1
  done
  # a peer that was already running is left alone; one this run started is stopped
  if [ "$PEER_STARTED" = 1 ]; then
    say "stopping the Samba peer this run started ($PEER_SCRIPT stop)"
    bash "$PEER_SCRIPT" stop >&2 || say "could not stop the Samba peer"
  fi
  for pid in "${EE_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ------------------------------------------------------------ build helpers
export LUA_PATH="$ROOT/scripts/?.lua;$ROOT/scripts/?/init.lua;;"
export LUA_CPATH="$WORK/?.so;$ROOT/build/?.so;;"
LUA_CFLAGS=$(pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
CFLAGS_B="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -pedantic -Wmissing-prototypes"
gcc $CFLAGS_B -fPIC -shared $LUA_CFLAGS -o "$WORK/floor.so" "$HERE/floor.c" || exit 1
gcc $CFLAGS_B -o "$WORK/pingpong" "$HERE/pingpong.c" || exit 1
gcc $CFLAGS_B -o "$WORK/echo_epoll" "$HERE/echo_epoll.c" || exit 1
[ -f "$ROOT/build/dcerpc/core.so" ] || say "note: build/dcerpc/core.so missing (run make); ours will be unavailable"

say "== lua-dcerpc bench  $(date -u +%FT%TZ)  $(nproc) CPUs  $(uname -r)"
echo "META date $(date -u +%FT%TZ)" >>"$RES"
echo "META cpus $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//;s/ /_/g')" >>"$RES"

# ------------------------------------------------------------ (a) NDR
part_a() {
  local FX=$WORK/fx
  say "-- (a) fixture: Samba ndr_pack_out of NetShareEnumAll level 1"
  $PY "$HERE/gen_share_enum.py" "$FX" $N_CG_IMPACKET $N_TINY $N_SMALL $N_BIG | emit || return 1

  # Timed runs on the same files. Each script warms up (except Impacket:
  # CPython has nothing to warm) and reports the best and the median of its
  # reps. Samba, ours and the floor run in two rounds, alternating, so that
  # load from elsewhere on the machine hits them alike; the report keeps the
  # better round of each.
  say "-- (a) timing"
  local round n
  for round in 1 2; do
    for n in $N_BIG $N_SMALL; do
      $PY "$HERE/ndr_samba.py" "$FX" $n 2>&1 | emit
      $LUA "$HERE/ndr_lua.lua" "$FX" $n 2>&1 | emit
    done
  done
  # Impacket: 100k decode once (~6.5 s), encode up to 10k only (O(N^2))
  $PY "$HERE/ndr_impacket.py" "$FX" $N_BIG --min-reps 1 --max-reps 1 --budget 0 2>&1 | emit
  $PY "$HERE/ndr_impacket.py" "$FX" $N_SMALL --min-reps 2 --max-reps 2 --budget 0 2>&1 | emit
  $PY "$HERE/ndr_impacket.py" "$FX" $N_TINY --min-reps 3 --max-reps 5 --budget 0.5 2>&1 | emit

  [ "$CALLGRIND" = 1 ] || return 0
  # Instructions per operation: (Ir(K ops) - Ir(0 ops)) / K, each run doing
  # the same setup (read fixture, decode once). Deterministic enough to
  # compare across machines and runs; two runs in parallel (counts do not
  # care about load).
  command -v valgrind >/dev/null || { say "valgrind missing: no instruction counts"; return 0; }
  say "-- (a) callgrind (instruction counts)"
  local jobs=$WORK/cg.jobs op o k
  : >"$jobs"
  for op in 0 decode encode; do
    o=${op/0/decode} k=1; [ "$op" = 0 ] && k=0
    echo "samba $o $N_BIG $k $PY $HERE/ndr_samba.py $FX $N_BIG --ops $o $k" >>"$jobs"
    echo "floor $o $N_BIG $k $LUA $HERE/ndr_lua.lua $FX $N_BIG --ops floor-$o $k" >>"$jobs"
    for n in $N_BIG $N_SMALL; do    # ours at both sizes: linearity in instructions
      echo "ours $o $n $k $LUA $HERE/ndr_lua.lua $FX $n --ops ours-$o $k" >>"$jobs"
    done
    echo "impacket $o $N_CG_IMPACKET $k $PY $HERE/ndr_impacket.py $FX $N_CG_IMPACKET --ops $o $k" >>"$jobs"
  done
  echo "ours-stub decode $N_BIG 1 $LUA $HERE/ndr_lua.lua $FX $N_BIG --ops ours-stub 1" >>"$jobs"
  # shellcheck disable=SC2016
  xargs -P 2 -L 1 bash -c '
    who=$1 op=$2 n=$3 k=$4; shift 4
    out=$WORK/cg.$who.$op.$k.$$
    if PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.err"; then
      ir=$(sed -n "s/^\(summary\|totals\): *//p" "$out" | head -1)
      echo "IR $who $op $n $k $ir"
    else
      echo "IR $who $op $n $k FAIL"
    fi
    rm -f "$out" "$out.err"' _ <"$jobs" | sort | emit
}

# ------------------------------------------------------------ (b) round trips
PEER_SMB_CONF=""
pin_peer() {          # pin_peer CPU: every rpcd_classic of our peer onto CPU
  local cpu=$1 pid mask pids
  pids=$(pgrep -f "rpcd_classic.*${PEER_SMB_CONF}")
  if [ -z "$pids" ]; then
    echo "NOTE rtt no rpcd_classic of $PEER_SMB_CONF found: server NOT pinned" | emit
    return 1
  fi
  for pid in $pids; do
    if ! printf '%s\n' "${PINNED[@]}" | grep -q "^$pid "; then
      mask=$(taskset -p "$pid" 2>/dev/null | sed -n 's/.*mask: *//p')
      [ -n "$mask" ] && PINNED+=("$pid $mask")
    fi
    taskset -a -p -c "$cpu" "$pid" >/dev/null 2>&1 || say "cannot pin rpcd_classic $pid"
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Find a running Samba peer: the shared one (/work/shared/peers, env.sh under
# $PEER_DIR) or the project's test/peers one (env.sh under $DCERPC_PEER_DIR);
# start the project's if neither answers. Sets port, conf, PEER_SMB_CONF.
find_peer() {
  local e=${PEER_DIR:-/tmp/rpc-peers}/samba-member/env.sh
  if [ -f "$e" ]; then
    # shellcheck disable=SC1090
    . "$e"
    port=${SAMBA_MEMBER_SRVSVC_PORT:-} conf=${SAMBA_MEMBER_CLIENT_CONF:-} PEER_SMB_CONF=${SAMBA_MEMBER_SMB_CONF:-}
    # a stale env.sh can name a port that another peer now holds: also
    # require this peer's own rpcd_classic to be running
    [ -n "$port" ] && [ -n "$PEER_SMB_CONF" ] && pgrep -f "rpcd_classic.*$PEER_SMB_CONF" >/dev/null &&
      port_open "$port" && return 0
  fi
  e=${DCERPC_PEER_DIR:-/tmp/lua-dcerpc-peers}/samba-member/env.sh
  if ! { [ -f "$e" ] && bash "$PEER_SCRIPT" status >/dev/null 2>&1; }; then
    say "-- starting the Samba peer ($PEER_SCRIPT)"
    # recorded before it can fail half-way (a partial start is cleaned up
    # too), unless the script finds it running after all: then it is not ours
    PEER_STARTED=1
    bash "$PEER_SCRIPT" start 2>&1 | tee "$WORK/peer-start.log" >&2
    local rc=${PIPESTATUS[0]}
    grep -q "already running" "$WORK/peer-start.log" && PEER_STARTED=0
    [ "$PEER_STARTED" = 1 ] && say "-- this run started the Samba peer: it is stopped at exit"
    [ "$rc" = 0 ] || return 1
  fi
  # shellcheck disable=SC1090
  . "$e"
  port=${SAMBA_SRVSVC_PORT:-} conf=${SAMBA_CLIENT_CONF:-} PEER_SMB_CONF=${SAMBA_CONF:-}
  [ -n "$port" ] && port_open "$port"
}

# start_echo: bench/echo_epoll.c --preset srvsvc101 on a free loopback port;
# sets EE_PID and EE_PORT (stopped by stop_echo, or at exit)
start_echo() {
  local i
  "$WORK/echo_epoll" --preset srvsvc101 0 >"$WORK/ee.log" 2>&1 </dev/null &
  EE_PID=$!
  EE_PIDS+=("$EE_PID")
  for ((i = 0; i < 50; i++)); do
    EE_PORT=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$WORK/ee.log")
    [ -n "$EE_PORT" ] && return 0
    kill -0 "$EE_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}
stop_echo() {
  local pid
  for pid in "${EE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  EE_PIDS=()
}

# rtt_echo WHO PLACEMENT CPU SECS WINDOWS CONF: one client process against the
# C server; its RTT line becomes "RTT WHO-echo PLACEMENT ..."
rtt_echo() {
  local who=$1 pl=$2 cpu=$3 secs=$4 windows=$5 conf=$6 cmd
  case $who in
    samba) cmd=("$PY" "$HERE/rtt_samba.py" "$EE_PORT" "$secs" "$windows" "$conf") ;;
    ours) cmd=("$LUA" "$HERE/rtt_lua.lua" "$EE_PORT" "$secs" "$windows") ;;
    impacket) cmd=("$PY" "$HERE/rtt_impacket.py" "$EE_PORT" "$secs" "$windows") ;;
  esac
  taskset -c "$cpu" "${cmd[@]}" 2>&1 |
    sed "s/^RTT $who /RTT $who-echo $pl /; s/^NOTE ours-rtt /NOTE ours-rtt-echo /; s/^ours: not available yet/ours (C server): not available yet/" | emit
}

part_b() {
  local port conf
  find_peer || { echo "NOTE rtt Samba peer not available" | emit; return 1; }
  local sizes req resp
  sizes=$($PY "$HERE/rtt_samba.py" --sizes "$port" "$conf") || { echo "NOTE rtt Samba client failed" | emit; return 1; }
  echo "$sizes" | emit
  read -r _ req resp <<<"$sizes"
  say "-- (b) round trips: srvsvc on 127.0.0.1[$port] ($PEER_SMB_CONF), request $req B, response $resp B"
  echo "META peer $PEER_SMB_CONF port $port" >>"$RES"
  # The C server: echo_epoll answers the bind with a pre-built bind_ack and
  # every NetrServerGetInfo with the reply stub rpcd_classic gave (same
  # sizes, call_id patched): the clients' own cost shows, not Samba's server's.
  local ee=""
  if start_echo; then
    ee=$EE_PORT
    say "-- (b) C server: echo_epoll --preset srvsvc101 on 127.0.0.1[$ee] (pid $EE_PID)"
  else
    echo "NOTE rtt-echo echo_epoll did not start: $(tr '\n' ' ' <"$WORK/ee.log" 2>/dev/null)" | emit
  fi
  local secs=0.5 windows=2 placement ccpu scpu round i who
  local trio=(samba ours impacket)
  for placement in 1cpu 2cpu; do
    if [ $placement = 1cpu ]; then ccpu=0 scpu=0; else ccpu=0 scpu=1; fi
    pin_peer $scpu || echo "NOTE rtt $placement: the server was not pinned" | emit
    if [ -n "$ee" ] && ! taskset -p -c $scpu "$EE_PID" >/dev/null 2>&1; then
      echo "NOTE rtt-echo $placement: echo_epoll was not pinned" | emit
    fi
    # alternate Samba and ours four times so drift hits both alike (the
    # 2-CPU case moves by 1.5x within a minute here); the report gives the
    # best window and the median of the rounds' medians. Each round then
    # runs the three clients against the C server, starting with a
    # different one each round.
    "$WORK/pingpong" "$req" "$resp" $secs $windows $ccpu $scpu | sed "s/^RTT pingpong/RTT pingpong $placement/" | emit
    for ((round = 1; round <= ${BENCH_B_ROUNDS:-4}; round++)); do
      taskset -c $ccpu $PY "$HERE/rtt_samba.py" "$port" $secs $windows "$conf" 2>&1 |
        sed "s/^RTT samba/RTT samba $placement/" | emit
      taskset -c $ccpu $LUA "$HERE/rtt_lua.lua" "$port" $secs $windows 2>&1 |
        sed "s/^RTT ours/RTT ours $placement/" | emit
      pin_peer $scpu >/dev/null 2>&1   # a worker spawned meanwhile gets pinned too
      [ -n "$ee" ] || continue
      for i in 0 1 2; do
        who=${trio[$(((round + i) % 3))]}
        rtt_echo "$who" $placement $ccpu $secs $windows "$conf"
      done
    done
  done
  stop_echo

  [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null || return 0
  # Client-side instructions per call: connect + 1 call + K calls, minus the
  # same with K = 0 (the server's work is not counted: it is another process).
  say "-- (b) callgrind (client instructions per call)"
  local k
  for k in 0 1000; do
    echo "samba $k $PY $HERE/rtt_samba.py --calls $k $port $conf"
    echo "ours $k $LUA $HERE/rtt_lua.lua $port --calls $k"
  done | xargs -P 2 -L 1 bash -c '
    who=$1 k=$2; shift 2
    out=$WORK/cgc.$who.$k.$$
    if PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1; then
      echo "IRC $who $k $(sed -n "s/^\(summary\|totals\): *//p" "$out" | head -1)"
    else
      echo "IRC $who $k FAIL"
    fi
    rm -f "$out"' _ | sort | emit
}

# ------------------------------------------------------------ (d) auth
# NetrServerGetInfo 101 round trips on one connection at the auth levels
# none / integrity / privacy (NTLMSSP), ours next to Samba's C client and
# Impacket, client on CPU 0 and rpcd_classic on CPU 1, rounds alternating.
# The cost of a level is its rate as a fraction of the unauthenticated rate.
part_d() {
  local port conf round level placement scpu
  find_peer || { echo "NOTE auth Samba peer not available" | emit; return 1; }
  local creds="alice,RPCSRV,Alice-Pass1"
  say "-- (d) authenticated round trips: srvsvc on 127.0.0.1[$port]"
  for placement in 1cpu 2cpu; do
    if [ $placement = 1cpu ]; then scpu=0; else scpu=1; fi
    pin_peer $scpu || echo "NOTE auth: the server was not pinned" | emit
    for round in 1 2 3; do
      for level in none integrity privacy; do
        local a=none
        [ $level != none ] && a="ntlm:$level,$creds"
        BENCH_AUTH=$a taskset -c 0 $PY "$HERE/rtt_samba.py" "$port" 0.5 2 "$conf" 2>&1 |
          sed -n "s/^RTT samba /AUTH $placement samba $level /p" | emit
        BENCH_AUTH=$a taskset -c 0 $LUA "$HERE/rtt_lua.lua" "$port" 0.5 2 2>&1 |
          sed -n "s/^RTT ours /AUTH $placement ours $level /p" | emit
        if [ $level != integrity ]; then
          BENCH_AUTH=$a taskset -c 0 $PY "$HERE/rtt_impacket.py" "$port" 0.5 1 2>&1 |
            sed -n "s/^RTT impacket /AUTH $placement impacket $level /p" | emit
        fi
        pin_peer $scpu >/dev/null 2>&1
      done
    done
  done
  if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    # client instructions per call (connect + K calls minus connect + 0)
    say "-- (d) callgrind (client instructions per call, none and privacy)"
    local k
    for a in none "ntlm:privacy,$creds"; do
      for k in 0 1000; do
        echo "$a samba $k $PY $HERE/rtt_samba.py --calls $k $port $conf"
        echo "$a ours $k $LUA $HERE/rtt_lua.lua $port --calls $k"
      done
    done | xargs -P 2 -L 1 bash -c '
      a=$1 who=$2 k=$3; shift 3
      out=$WORK/cgd.$who.$k.$$
      lvl=${a%%,*}; lvl=${lvl#ntlm:}
      if BENCH_AUTH=$a PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1; then
        echo "AUTHIR $who $lvl $k $(sed -n "s/^\(summary\|totals\): *//p" "$out" | head -1)"
      fi
      rm -f "$out"' _ | sort | emit
  fi
  # best window of each contender and level, then the ratios
  awk '$1 == "AUTHIR" { ir[$2 " " $3 " " $4] = $5 }
    $1 == "AUTH" { k = $2 " " $3 " " $4; if ($5 > best[k]) best[k] = $5 }
    END {
      split("1cpu 2cpu", pl, " ")
      for (j = 1; j <= 2; j++) {
        p = pl[j]
        printf "\n(d) NetrServerGetInfo 101 round trips/s with NTLMSSP, %s (best window of 3 rounds)\n", \
          p == "1cpu" ? "client and server on one CPU" : "client and server on two CPUs"
        printf "  %-9s %10s %10s %10s\n", "", "none", "integrity", "privacy"
        split("ours samba impacket", who, " ")
        for (i = 1; i <= 3; i++) {
          w = p " " who[i]
          printf "  %-9s %10.0f %10s %10.0f\n", who[i], best[w " none"], \
            (best[w " integrity"] ? sprintf("%.0f", best[w " integrity"]) : "-"), best[w " privacy"]
        }
        if (best[p " ours none"] && best[p " samba none"]) {
          oi = best[p " ours integrity"] / best[p " ours none"]; op = best[p " ours privacy"] / best[p " ours none"]
          si = best[p " samba integrity"] / best[p " samba none"]; sp = best[p " samba privacy"] / best[p " samba none"]
          printf "  rate kept at integrity: ours %.2f, Samba %.2f; at privacy: ours %.2f, Samba %.2f\n", oi, si, op, sp
          printf "  privacy cost (1 - kept): ours %.0f%%, Samba %.0f%% (goal: ours <= Samba)\n", (1 - op) * 100, (1 - sp) * 100
        }
        if (best[p " impacket privacy"])
          printf "  ours/Impacket at privacy: %.1fx (goal >= 15)\n", best[p " ours privacy"] / best[p " impacket privacy"]
      }
      if (ir["ours none 1000"] && ir["samba none 1000"] && ir["ours privacy 1000"] && ir["samba privacy 1000"]) {
        on = (ir["ours none 1000"] - ir["ours none 0"]) / 1000; op = (ir["ours privacy 1000"] - ir["ours privacy 0"]) / 1000
        sn = (ir["samba none 1000"] - ir["samba none 0"]) / 1000; sp = (ir["samba privacy 1000"] - ir["samba privacy 0"]) / 1000
        printf "\n(d) client instructions per call: ours %.0f -> %.0f at privacy (+%.0f), Samba %.0f -> %.0f (+%.0f); added cost ours/Samba %.2f\n", \
          on, op, op - on, sn, sp, sp - sn, (op - on) / (sp - sn)
      }
    }' "$RES" >&2
}

# ------------------------------------------------------------ (e) named pipes
part_e() {
  local port conf mode round extra
  find_peer || { echo "NOTE np Samba peer not available" | emit; return 1; }
  extra=${SAMBA_EXTRA_CONF:-}
  say "-- (e) ncacn_np: srvsvc over \\pipe\\srvsvc on 127.0.0.1:445"
  for mode in plain signed encrypted; do
    if [ -n "$extra" ]; then
      case $mode in
        plain) : >"$extra" ;;
        signed) echo "server signing = mandatory" >"$extra" ;;
        encrypted) echo "smb encrypt = required" >"$extra" ;;
      esac
      bash "$PEER_SCRIPT" reload >/dev/null 2>&1
    elif [ $mode != plain ]; then
      echo "NOTE np $mode: this peer has no extra.conf to change; skipped" | emit
      continue
    fi
    for round in 1 2; do
      $LUA "$HERE/np_lua.lua" 127.0.0.1 alice RPCSRV Alice-Pass1 15 2 2>&1 | sed -n "s/^NP ours /NP $mode ours /p" | emit
      $PY "$HERE/np_samba.py" 127.0.0.1 alice RPCSRV Alice-Pass1 15 2 "$conf" 2>&1 | sed -n "s/^NP samba /NP $mode samba /p" | emit
      $PY "$HERE/np_impacket.py" 127.0.0.1 alice RPCSRV Alice-Pass1 5 2 2>&1 | sed -n "s/^NP impacket /NP $mode impacket /p" | emit
    done
  done
  [ -n "$extra" ] && { : >"$extra"; bash "$PEER_SCRIPT" reload >/dev/null 2>&1; }
  awk '$1 == "NP" { k = $2 " " $3; if ($6 > best[k]) best[k] = $6
                    if (!open[k] || $4 < open[k]) open[k] = $4 }
    END {
      printf "\n(e) ncacn_np, one SMB session (best of 2 rounds): calls/s and open ms (median of 15; Impacket 5)\n"
      printf "  %-9s %12s %12s %12s %10s %10s %10s\n", "", "plain/s", "signed/s", "encrypted/s", "open", "open sig", "open enc"
      split("ours samba impacket", who, " ")
      for (i = 1; i <= 3; i++) {
        w = who[i]
        printf "  %-9s %12.0f %12.0f %12.0f %10.1f %10.1f %10.1f\n", w, best["plain " w], best["signed " w], \
          best["encrypted " w], open["plain " w], open["signed " w], open["encrypted " w]
      }
      split("plain signed encrypted", md, " ")
      for (j = 1; j <= 3; j++) {
        m = md[j]
        if (best[m " ours"] && best[m " samba"])
          printf "  %-9s calls ours/Samba %.2f (goal >= 1), ours/Impacket %.1f (goal >= 10); open Samba/ours %.2f (goal >= 1)\n", \
            m, best[m " ours"] / best[m " samba"], best[m " impacket"] ? best[m " ours"] / best[m " impacket"] : 0, \
            open[m " samba"] / open[m " ours"]
      }
      if (best["plain ours"] && best["encrypted ours"] && best["plain samba"] && best["encrypted samba"])
        printf "  encryption costs ours %.0f%% of the call rate, Samba %.0f%% (goal: ours <= Samba)\n", \
          (1 - best["encrypted ours"] / best["plain ours"]) * 100, (1 - best["encrypted samba"] / best["plain samba"]) * 100
    }' "$RES" >&2
}

case $PARTS in *a*) part_a ;; esac
case $PARTS in *b*) part_b ;; esac
# (c) is bench/server.sh; a Samba peer it needs is found (or started) here
# first, so that this run knows whether it started it and stops it at exit
part_c() {
  local port conf
  find_peer >/dev/null || say "-- (c) no Samba peer: server.sh will say so"
  bash "$HERE/server.sh" "$RES"
}
case $PARTS in *c*) part_c ;; esac
case $PARTS in *d*) part_d ;; esac
case $PARTS in *e*) part_e ;; esac

# ------------------------------------------------------------ (f) IDL loading
part_f() {
  say "-- (f) interfaces from MIDL: dcerpc.idl.load next to the shipped Lua descriptions"
  $LUA "$HERE/idl_load.lua" "$ROOT" >"$WORK/idl.txt" 2>&1 || { cat "$WORK/idl.txt" >&2; return 1; }
  grep '^IDLLOAD' "$WORK/idl.txt" | emit >/dev/null
  { echo; echo "(f) loading an interface (best of N, one run):"; grep -v '^IDLLOAD' "$WORK/idl.txt"; } >&2
}
case $PARTS in *f*) part_f ;; esac

# ------------------------------------------------------------ (g) Kerberos
part_g() {
  local dcs=$ROOT/test/peers/samba-ad-dc.sh member=0 round cc=$WORK/krb5.ccache
  local pd=${DCERPC_PEER_DIR:-/tmp/lua-dcerpc-peers}
  bash "$PEER_SCRIPT" status >/dev/null 2>&1 && member=1
  bash "$PEER_SCRIPT" stop >/dev/null 2>&1
  say "-- (g) Kerberos: starting the Samba AD DC ($dcs)"
  if ! bash "$dcs" start >"$WORK/dc-start.log" 2>&1; then
    echo "NOTE krb5 the Samba AD DC did not start: $(tail -1 "$WORK/dc-start.log")" | emit
  else
    # shellcheck disable=SC1090,SC1091
    . "$pd/samba-ad-dc/env.sh"
    export KRB5_CONFIG=$SAMBA_DC_KRB5_CONFIG
    kinit -k -t "$SAMBA_DC_KEYTAB" -c "FILE:$cc" "$SAMBA_DC_USER@$SAMBA_DC_REALM" >&2
    for round in 1 2; do
      $LUA "$HERE/krb5_lua.lua" 127.0.0.1 "$SAMBA_DC_HOSTNAME" "$SAMBA_DC_DOMAIN" "$SAMBA_DC_USER" \
        "$SAMBA_DC_PASSWORD" "FILE:$cc" 3 2>&1 | grep '^KRB5 ' | emit
      $PY "$HERE/krb5_samba.py" 127.0.0.1 "$SAMBA_DC_HOSTNAME" "$SAMBA_DC_DOMAIN" "$SAMBA_DC_USER" \
        "$SAMBA_DC_PASSWORD" "FILE:$cc" 3 "$SAMBA_DC_CLIENT_CONF" 2>&1 | grep '^KRB5 ' | emit
    done
    unset KRB5_CONFIG
  fi
  bash "$dcs" stop >/dev/null 2>&1
  [ "$member" = 1 ] && bash "$PEER_SCRIPT" start >/dev/null 2>&1
  awk '$1 == "KRB5" { k = $2 " " $3 " " (NF == 4 ? "" : $4); v = $NF; if (v > best[k]) best[k] = v }
    END {
      printf "\n(g) Kerberos against the Samba AD DC, privacy (best of 2 rounds of 3 s)\n"
      printf "  %-9s %12s %16s %14s %14s\n", "", "binds/s", "binds/s fresh", "calls/s krb5", "calls/s ntlm"
      split("ours samba", who, " ")
      for (i = 1; i <= 2; i++) { w = who[i]
        printf "  %-9s %12.1f %16.1f %14.1f %14.1f\n", w, best[w " binds "], best[w " fresh "], best[w " calls krb5"], best[w " calls ntlm"] }
      if (best["samba binds "] && best["samba calls krb5"] && best["samba fresh "])
        printf "  ours/Samba: binds %.2f, binds with a new service ticket %.2f, calls with Kerberos %.2f (goals >= 1); Kerberos/NTLM call rate: ours %.2f, Samba %.2f\n", \
          best["ours binds "] / best["samba binds "], best["ours fresh "] / best["samba fresh "], \
          best["ours calls krb5"] / best["samba calls krb5"], \
          best["ours calls krb5"] / best["ours calls ntlm"], best["samba calls krb5"] / best["samba calls ntlm"]
    }' "$RES" >&2
}
case $PARTS in *g*) part_g ;; esac

say ""
$PY "$HERE/report.py" "$RES"
cp "$RES" "${BENCH_RESULTS:-/tmp/dcerpc-bench-results.txt}" 2>/dev/null &&
  say "raw lines: ${BENCH_RESULTS:-/tmp/dcerpc-bench-results.txt} (bench/report.py FILE reprints the table)"
