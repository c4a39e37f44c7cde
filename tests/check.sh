#!/usr/bin/env bash
# tests/check.sh — `make test`: the whole suite in six stages (normal build,
# ASan+UBSan, aarch64 core under qemu, the whole aarch64 pipeline (conversion, OCR,
# server) against a Debian arm64 sysroot under qemu on a corpus sample (check-arm64-full),
# TSan on the threaded parts, libFuzzer targets for
# FUZZ_SECONDS each, default 60), each printing "N passed, N failed"; the last line is
# the grand total. Exits non-zero if any stage failed or did not run.
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
JOBS=${JOBS:--j2}
total_pass=0; total_fail=0; status=0
stage() {
    local name=$1; shift
    local log; log=$(mktemp)
    echo "==== stage: $name"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "==== stage $name: no test summary (exit $rc)"
        total_fail=$((total_fail + 1)); status=1; return
    fi
    local p f; p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    [ "$rc" -ne 0 ] && status=1
    echo "==== stage $name: $line (exit $rc)"
}
# TSan (cannot be combined with ASan): the code that runs threads — thread pool, HNSW
# batch build, store, multi-thread forward pass, ingest --jobs, the server's batchers —
# on a -fsanitize=thread build. A report ends the process with exit status 66 (FAIL).
tsan_suite() {
    local B=build/san-thread pass=0 fail=0 log rc name t
    $MAKE $JOBS SANITIZE=thread tests models || { echo "FAIL tsan build"; echo "0 passed, 1 failed"; return 1; }
    export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
    export QUIRE_SHARED=${QUIRE_SHARED:-$(cd .. && pwd)/shared}
    log=$(mktemp)
    count() { # $1 = name, $2 = exit status; adds the PASS/FAIL lines of $log
        local p f; cat "$log"
        p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
        if grep -q 'WARNING: ThreadSanitizer' "$log" || { [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; }; then
            f=$((f + 1)); echo "FAIL tsan $1 (exit status $2)"
        fi
        pass=$((pass + p)); fail=$((fail + f))
    }
    for t in test_core test_hnsw test_store; do
        echo "== tsan $t"; "$B/tests/$t" > "$log" 2>&1; count "$t" $?
    done
    for t in serve store_vectors pg_replica; do
        echo "== tsan cli/$t"; QUIRE_BIN=$B/quire sh "tests/cli/$t.sh" > "$log" 2>&1; count "cli/$t" $?
    done
    echo "== tsan embed --threads 2, ingest --jobs 2"
    local w; w=$(mktemp -d)
    {
        "$B/quire" embed --model build/models/minilm --threads 2 examples/sentences.txt > "$w/vec" &&
            [ "$(wc -l < "$w/vec")" -eq "$(grep -c . examples/sentences.txt)" ] &&
            echo "PASS embed --threads 2" || echo "FAIL embed --threads 2"
        for i in 1 2 3 4; do sed "s/Quire/Quire$i/g" tests/data/chunk/manual.md > "$w/doc$i.md"; done
        cp examples/sample.pdf "$w/"
        "$B/quire" ingest -q --db "$w/s.db" --model examples/tiny-bert --jobs 2 "$w"/doc*.md "$w/sample.pdf" &&
            "$B/quire" search --db "$w/s.db" -k 3 "lens designer" > /dev/null &&
            echo "PASS ingest --jobs 2" || echo "FAIL ingest --jobs 2"
    } > "$log" 2>&1
    count "embed/ingest" 0
    rm -rf "$w" "$log"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# Fuzzing: every libFuzzer target for FUZZ_SECONDS (two at a time), then the regression
# inputs (fuzz/corpus + fuzz/regress) once each.
fuzz_suite() {
    local log p=0 f=0 rc=0 line target
    log=$(mktemp)
    for target in fuzz fuzz-regress; do
        $MAKE $JOBS FUZZ_SECONDS="${FUZZ_SECONDS:-60}" FUZZ_JOBS=2 "$target" > "$log" 2>&1 || rc=1
        grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$log"
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
        if [ -z "$line" ]; then
            f=$((f + 1)); echo "FAIL make $target (no summary)"
        else
            p=$((p + ${line%% passed*})); line=${line#*passed, }; f=$((f + ${line%% failed*}))
        fi
    done
    rm -f "$log"
    echo "$p passed, $f failed"
    return $rc
}
stage native $MAKE $JOBS test-build
stage asan-ubsan $MAKE $JOBS SANITIZE=address,undefined test-build
stage arm64-qemu $MAKE $JOBS check-arm64
stage arm64-full $MAKE $JOBS check-arm64-full
stage tsan tsan_suite
stage fuzz fuzz_suite
echo "$total_pass passed, $total_fail failed"
exit $status
