#!/usr/bin/env bash
# tests/check.sh — `make test`: the whole suite in three stages (normal build,
# ASan+UBSan, aarch64 under qemu), each printing "N passed, N failed"; the last line is
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
stage native $MAKE $JOBS test-build
stage asan-ubsan $MAKE $JOBS SANITIZE=address,undefined test-build
stage arm64-qemu $MAKE $JOBS check-arm64
echo "$total_pass passed, $total_fail failed"
exit $status
