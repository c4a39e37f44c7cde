#!/bin/sh
# fuzz/run.sh — runs the libFuzzer targets built by `make fuzz-build` (see docs/fuzzing.md).
#   sh fuzz/run.sh fuzz NAME...     fuzz each target for $FUZZ_SECONDS (default 60),
#                                   $FUZZ_JOBS (default 2) targets at a time, on a scratch
#                                   copy of fuzz/corpus/NAME (fuzz/regress/NAME is read
#                                   too, never written)
#   sh fuzz/run.sh regress NAME...  run each target once over every file of
#                                   fuzz/corpus/NAME and fuzz/regress/NAME
# Prints "PASS fuzz_NAME (60 s, N runs)" / "FAIL fuzz_NAME: ..." per target and the total
# as "N passed, N failed"; exits non-zero on any failure. Crash inputs are kept in
# $FUZZ_BUILD/artifacts/NAME/ (copy them to fuzz/regress/NAME/ once fixed).
mode=$1; shift
cd "$(dirname "$0")/.." || exit 1
B=${FUZZ_BUILD:-build/fuzz}
SECS=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-2}
W=$B/run
rm -rf "$W"; mkdir -p "$W" "$B/artifacts"
# Leak checking stays on (libFuzzer's default with ASan); halt on the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

opts() { # extra libFuzzer flags of target $1
    case $1 in
    config|stconfig|tokenizer|unigram|http) echo "-dict=fuzz/json.dict" ;;
    esac
}

fuzz_one() { # $1 = name; writes $W/$1.log and $W/$1.result
    t=$1; c=$W/$t.corpus; a=$B/artifacts/$t
    mkdir -p "$c" "$a"
    cp fuzz/corpus/"$t"/* "$c"/ 2>/dev/null
    reg=""; [ -d fuzz/regress/"$t" ] && reg=fuzz/regress/$t
    # shellcheck disable=SC2046
    "$B/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$a/" $(opts "$t") "$c" $reg > "$W/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$W/$t.log" | tail -1)
    secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$W/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$W/$t.log" | tail -1)
    if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
        echo "PASS fuzz_$t (${secs:-$SECS} s, $runs runs, $cov, corpus $(ls "$c" | wc -l))" > "$W/$t.result"
    else
        what=$(grep -m1 -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehavior)|runtime error:|==ERROR|deadly signal|timeout|out-of-memory' "$W/$t.log")
        art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$W/$t.log" | tail -1)
        echo "FAIL fuzz_$t: exit $rc${what:+: $what}${art:+ (input: $art)}" > "$W/$t.result"
    fi
}

pass=0; fail=0
if [ "$mode" = fuzz ]; then
    # $JOBS targets at a time; results printed in target order
    running=0
    for t in "$@"; do
        fuzz_one "$t" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then
            wait; running=0
        fi
    done
    wait
    for t in "$@"; do
        cat "$W/$t.result"
        case $(cat "$W/$t.result") in
        PASS*) pass=$((pass + 1)) ;;
        *) fail=$((fail + 1)); echo "---- last lines of fuzz_$t's log ($W/$t.log):"; tail -40 "$W/$t.log" ;;
        esac
    done
elif [ "$mode" = regress ]; then
    for t in "$@"; do
        files=$(find fuzz/corpus/"$t" fuzz/regress/"$t" -type f 2>/dev/null | sort)
        n=$(echo "$files" | grep -c .)
        if [ "$n" -eq 0 ]; then # (no file would make libFuzzer fuzz instead)
            echo "FAIL fuzz_$t regress: no inputs in fuzz/corpus/$t"; fail=$((fail + 1)); continue
        fi
        # shellcheck disable=SC2086
        if "$B/fuzz_$t" -timeout=10 -rss_limit_mb=2048 $files > "$W/$t.log" 2>&1; then
            echo "PASS fuzz_$t regress ($n inputs)"; pass=$((pass + 1))
        else
            echo "FAIL fuzz_$t regress: $(grep -E 'Running: ' "$W/$t.log" | tail -1):" \
                "$(grep -m1 -E 'ERROR|runtime error:' "$W/$t.log")"
            tail -30 "$W/$t.log"; fail=$((fail + 1))
        fi
    done
else
    echo "usage: fuzz/run.sh fuzz|regress NAME..." >&2; exit 2
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
