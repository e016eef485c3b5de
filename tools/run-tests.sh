#!/bin/bash
# Run every test of lua-dcerpc and end with one line "N passed, N failed".
#   tools/run-tests.sh            C unit tests, busted specs (unit + interop with
#                                 real peers), the rock install, then C tests and
#                                 specs again under AddressSanitizer + UBSan
#   tools/run-tests.sh --spec-only   only the busted specs (normal build)
#   tools/run-tests.sh --asan        only the sanitizer pass
# Exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mode=${1:-all}
passed=0 failed=0 skipped=0
LOG=${DCERPC_TEST_LOG:-/tmp/lua-dcerpc-test.log}
: >"$LOG"

note() { printf '== %s\n' "$*"; }

# count_tap FILE: add a TAP stream's ok / not ok lines to the totals.
count_tap() {
    local p f s
    p=$(grep -cE '^ok [0-9]+' "$1" | head -1)
    s=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$1" | head -1)
    f=$(grep -cE '^not ok [0-9]+' "$1" | head -1)
    passed=$((passed + p - s)); skipped=$((skipped + s)); failed=$((failed + f))
    grep -E '^not ok' "$1" | head -40
}

# count_c FILE: the C tests print "ok - ..." / "not ok - ...".
count_c() {
    local p f
    p=$(grep -cE '^ok - ' "$1" | head -1)
    f=$(grep -cE '^not ok - ' "$1" | head -1)
    passed=$((passed + p)); failed=$((failed + f))
    grep -E '^not ok - ' "$1" | head -40
}

run_ctests() {  # BUILD dir, label, extra env
    local build=$1 label=$2 t out rc
    for t in "$build"/test/test_*; do
        [ -x "$t" ] || continue
        out=$(mktemp)
        env "${@:3}" "$t" >"$out" 2>&1; rc=$?
        cat "$out" >>"$LOG"
        count_c "$out"
        if [ $rc -ne 0 ] && ! grep -qE '^not ok - ' "$out"; then
            echo "not ok - $label $(basename "$t") exited $rc"; tail -5 "$out"; failed=$((failed + 1))
        fi
        rm -f "$out"
    done
}

run_specs() {  # cpath, label, extra env...
    local cpath=$1 label=$2 out
    out=$(mktemp)
    # bounded: a hung spec must fail the run, not stall it
    timeout "${SPEC_TIMEOUT:-1800}" env "${@:3}" busted --lua=lua5.4 --cpath="$cpath" -o TAP spec >"$out" 2>>"$LOG"
    cat "$out" >>"$LOG"
    if ! grep -qE '^1\.\.[0-9]+' "$out"; then
        echo "not ok - $label: busted did not finish"; tail -20 "$out"; failed=$((failed + 1))
    fi
    count_tap "$out"
    rm -f "$out"
}

layer_check() {
    note "layer check (tools/check-layers.sh)"
    local out
    if out=$(bash tools/check-layers.sh 2>&1); then passed=$((passed + 1)); else echo "not ok - layer check"; echo "$out" | tail -20; failed=$((failed + 1)); fi
}

normal_pass() {
    layer_check
    note "build"
    make -s all >>"$LOG" 2>&1 || { echo "not ok - build failed"; tail -30 "$LOG"; failed=$((failed + 1)); return; }
    if grep -qE 'warning:' "$LOG"; then
        echo "not ok - the build has compiler warnings"; grep -E 'warning:' "$LOG" | head; failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
    note "C unit tests"
    make -s $(ls test/c/test_*.c 2>/dev/null | sed 's#test/c/\(.*\)\.c#build/test/\1#') >>"$LOG" 2>&1 ||
        { echo "not ok - C tests did not build"; failed=$((failed + 1)); }
    run_ctests build "C"
    note "busted specs"
    run_specs "build/?.so" "specs"
}

rock_pass() {
    note "rock: luarocks make into a scratch tree, then run an example from elsewhere"
    local tree out
    tree=$(mktemp -d)
    if luarocks --lua-version=5.4 --tree="$tree" make lua-dcerpc-scm-1.rockspec >>"$LOG" 2>&1; then
        out=$(cd / && LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
              LUA_CPATH="$tree/lib/lua/5.4/?.so;;" lua5.4 -e \
              'local d = require "dcerpc"; local b = assert(d.binding("ncacn_ip_tcp:127.0.0.1[135]")); print(b.endpoint)' 2>&1)
        if [ "$out" = 135 ]; then passed=$((passed + 1)); else echo "not ok - installed rock: $out"; failed=$((failed + 1)); fi
        # the command the rock installs (build.install.bin), run from elsewhere
        # (--version loads dcerpc.core)
        out=$(cd / && env -u LUA_PATH -u LUA_CPATH "$tree/bin/dcerpc" --version 2>&1)
        case "$out" in
            "lua-dcerpc "[0-9]*) passed=$((passed + 1)) ;;
            *) echo "not ok - installed dcerpc command: $out"; failed=$((failed + 1)) ;;
        esac
    else
        echo "not ok - luarocks make failed"; tail -20 "$LOG"; failed=$((failed + 1))
    fi
    rm -rf "$tree"
}

asan_pass() {
    note "AddressSanitizer + UndefinedBehaviorSanitizer"
    local san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
    if ! make -s BUILD=build-asan CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" all \
            $(ls test/c/test_*.c 2>/dev/null | sed 's#test/c/\(.*\)\.c#build-asan/test/\1#') >>"$LOG" 2>&1; then
        echo "not ok - sanitizer build failed"; tail -30 "$LOG"; failed=$((failed + 1)); return
    fi
    run_ctests build-asan "C/asan" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
    # Lua itself is not built with ASan: preload the runtime; leak checking is
    # off because the interpreter exits without closing every state.
    run_specs "build-asan/?.so" "specs/asan" \
        LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
}

fuzz_pass() {
    note "fuzz smoke run (${FUZZ_SECONDS:-10}s per decoder)"
    command -v clang >/dev/null || { echo "not ok - clang missing for the fuzzers"; failed=$((failed + 1)); return; }
    local out
    out=$(mktemp)
    FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash tools/fuzz.sh >"$out" 2>&1
    cat "$out"
    count_c "$out" >/dev/null
    rm -f "$out"
}

peers_started=""
for peer in samba-member rpcecho; do
    bash "test/peers/$peer.sh" status >/dev/null 2>&1 || peers_started="$peers_started $peer"
done

case $mode in
--spec-only) make -s all >>"$LOG" 2>&1; run_specs "build/?.so" "specs" ;;
--asan) asan_pass ;;
*) normal_pass; rock_pass; asan_pass; fuzz_pass ;;
esac

# stop the peers this run started (leave any that were already running)
for peer in $peers_started; do bash "test/peers/$peer.sh" stop >/dev/null 2>&1 || true; done
echo "(full log: $LOG; $skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
