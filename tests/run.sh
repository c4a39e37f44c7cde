#!/bin/sh
# tests/run.sh — runs every test binary in $QUIRE_BUILD/tests and the CLI tests in
# tests/cli/*.sh, then prints the total as "N passed, N failed".
# Env: QUIRE_BUILD (default build), QUIRE_RUNNER (e.g. qemu-aarch64),
#      QUIRE_CORE_ONLY=1 (only the core unit tests: used for the arm64 run).
BUILD=${QUIRE_BUILD:-build}
RUNNER=${QUIRE_RUNNER:-}
SHARED=${QUIRE_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export QUIRE_SHARED="$SHARED"
export QUIRE_BIN="$BUILD/quire"
pass=0; fail=0; failed_names=""
log=$(mktemp)
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    $RUNNER "$t" > "$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "FAIL $name (exit status $rc)"
    fi
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -gt 0 ] && failed_names="$failed_names $name"
done
if [ -z "$QUIRE_CORE_ONLY" ]; then
    for t in tests/cli/*.sh; do
        [ -f "$t" ] || continue
        name=$(basename "$t" .sh)
        echo "== cli/$name"
        QUIRE_BIN="$BUILD/quire" sh "$t" > "$log" 2>&1
        rc=$?
        cat "$log"
        p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1; echo "FAIL cli/$name (exit status $rc)"
        fi
        pass=$((pass + p)); fail=$((fail + f))
        [ "$f" -gt 0 ] && failed_names="$failed_names cli/$name"
    done
fi
rm -f "$log"
[ -n "$failed_names" ] && echo "failing:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
