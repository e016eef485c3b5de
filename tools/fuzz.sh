#!/bin/bash
# Build every decoder fuzz harness (test/fuzz/fuzz_*.c) with libFuzzer + ASan +
# UBSan and run each for FUZZ_SECONDS (default 60), starting from its seed
# corpus test/fuzz/corpus/<name>/ (or corpus/<name without fuzz_>/, e.g.
# corpus/smb2/) when there is one. FUZZ_ONLY=fuzz_smb2 runs just the harnesses
# whose names match that pattern. Prints one line per
# harness: "ok - fuzz NAME (N runs)" or "not ok - fuzz NAME".
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out"
deps=$(pkg-config --cflags --libs libcrypto krb5-gssapi 2>/dev/null)
status=0
for src in test/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    [[ -n "${FUZZ_ONLY:-}" && "$name" != ${FUZZ_ONLY} ]] && continue
    if ! clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=undefined -Iengine -o "$out/$name" "$src" engine/*/*.c $deps \
            >"$out/$name.build.log" 2>&1; then
        echo "not ok - fuzz $name: build failed"; tail -5 "$out/$name.build.log"; status=1; continue
    fi
    corpus="$out/corpus-$name"
    mkdir -p "$corpus"
    for seeds in "test/fuzz/corpus/$name" "test/fuzz/corpus/${name#fuzz_}"; do
        [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
    done
    if "$out/$name" -max_total_time="$secs" -artifact_prefix="$out/$name-" -max_len=65536 -rss_limit_mb=1024 \
            -print_final_stats=1 "$corpus" >"$out/$name.log" 2>&1; then
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/$name.log" | grep -oE '[0-9]+$')
        echo "ok - fuzz $name (${runs:-?} runs in ${secs}s)"
    else
        echo "not ok - fuzz $name: crash, see $out/$name.log"; grep -E 'ERROR|SUMMARY' "$out/$name.log" | head -5; status=1
    fi
done
exit $status
