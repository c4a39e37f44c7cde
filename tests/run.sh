#!/bin/sh
# tests/run.sh — runs every test binary in $QUIRE_BUILD/tests and the CLI tests in
# tests/cli/*.sh, then prints the total as "N passed, N failed".
# Env: QUIRE_BUILD (default build), QUIRE_RUNNER (e.g. qemu-aarch64),
#      QUIRE_CORE_ONLY=1 (only the core unit tests: used for the arm64 run),
#      QUIRE_TEST_JOBS=N (tests run N at a time; default: the number of CPUs, at most 4).
# Each test's output is printed whole, in the fixed order below, as soon as it and every
# test before it have finished, so the log reads the same whatever N is.
BUILD=${QUIRE_BUILD:-build}
RUNNER=${QUIRE_RUNNER:-}
SHARED=${QUIRE_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export QUIRE_SHARED="$SHARED"
export QUIRE_BIN="$BUILD/quire"
JOBS=${QUIRE_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$JOBS" -gt 4 ] 2>/dev/null && JOBS=4
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# the list: "unit PATH" or "cli PATH", one per line, in the order they are reported
n=0
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$((n + 1)); echo "unit $t" > "$W/$n.job"
done
if [ -z "$QUIRE_CORE_ONLY" ]; then
    for t in tests/cli/*.sh; do
        [ -f "$t" ] || continue
        n=$((n + 1)); echo "cli $t" > "$W/$n.job"
    done
fi

# run_one I: runs job I, leaves its output in I.log and "PASSES FAILS NAME" in I.done
run_one() {
    read -r kind t < "$W/$1.job"
    if [ "$kind" = unit ]; then
        name=$(basename "$t")
        $RUNNER "$t" > "$W/$1.log" 2>&1
    else
        name=cli/$(basename "$t" .sh)
        QUIRE_BIN="$BUILD/quire" sh "$t" > "$W/$1.log" 2>&1 < /dev/null
    fi
    rc=$?
    p=$(grep -c '^PASS ' "$W/$1.log"); f=$(grep -c '^FAIL ' "$W/$1.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "FAIL $name (exit status $rc)" >> "$W/$1.log"
    fi
    echo "$p $f $name" > "$W/$1.tmp" && mv "$W/$1.tmp" "$W/$1.done"
}

# JOBS workers, each taking the next job number from a shared counter (mkdir is atomic)
worker() {
    while :; do
        i=1
        while [ "$i" -le "$n" ] && ! mkdir "$W/$i.claim" 2>/dev/null; do i=$((i + 1)); done
        [ "$i" -le "$n" ] || return 0
        run_one "$i"
    done
}
k=0
pids=""
while [ "$k" -lt "$JOBS" ]; do worker & pids="$pids $!"; k=$((k + 1)); done
alive() { for p in $pids; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

pass=0; fail=0; failed_names=""
i=1
while [ "$i" -le "$n" ]; do
    while [ ! -f "$W/$i.done" ]; do
        # a worker that died (killed) leaves its job unfinished: do not wait forever
        if ! alive; then
            [ -f "$W/$i.done" ] && break
            read -r kind t < "$W/$i.job"
            echo "== $t"; echo "FAIL $t (the test runner lost it)"
            fail=$((fail + 1)); failed_names="$failed_names $t"
            i=$((i + 1)); continue 2
        fi
        sleep 0.2
    done
    read -r p f name < "$W/$i.done"
    echo "== $name"
    cat "$W/$i.log"
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -gt 0 ] && failed_names="$failed_names $name"
    i=$((i + 1))
done
wait
[ -n "$failed_names" ] && echo "failing:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
