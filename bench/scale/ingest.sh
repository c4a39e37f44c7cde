#!/bin/sh
# bench/scale/ingest.sh — documents/s of 1, 2 and 4 `quire worker` processes into
# PostgreSQL next to a single-process SQLite `quire ingest` and a single-process direct
# `quire ingest --db postgresql://...` (no queue) of the same corpus, in one
# run: text-only (no model) and with the MiniLM shape (build/models/minilm, `make
# models`). Each worker runs --jobs 1 (one document at a time, one thread), the SQLite
# peer --jobs 1 too, so the per-process rates compare. The PostgreSQL server is a
# throwaway one (tests/tools/pg.sh) with durability ON (fsync, synchronous_commit). A
# benchmark, not a test; on a shared machine the figures are noisy (the load average is
# printed).
#
#   sh bench/scale/ingest.sh            the born-digital corpus, text-only and MiniLM
# Environment: CORPUS (QUIRE_SHARED/corpus/born), LIMIT (all files; MiniLM runs take
# LIMIT_MODEL, default 12, the smallest files first), WORKERS ("1 2 4"), MODEL
# (build/models/minilm; "none" skips the model runs). Writes build/bench/scale/ingest.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
SHARED=${QUIRE_SHARED:-../shared}
CORPUS=${CORPUS:-$SHARED/corpus/born}
WORKERS=${WORKERS:-1 2 4}
MODEL=${MODEL:-build/models/minilm}
LIMIT=${LIMIT:-100000}
LIMIT_MODEL=${LIMIT_MODEL:-12}
Q=${QUIRE_BIN:-build/quire}
w=build/bench/scale
mkdir -p "$w"
T=$(mktemp -d /tmp/quire-ibench-XXXXXX)
. tests/tools/pg.sh
pg_start || exit 1
trap 'pg_stop; rm -rf "$T"' EXIT
pg_q "ALTER SYSTEM SET fsync = on" && pg_q "ALTER SYSTEM SET synchronous_commit = on" &&
    pg_q "ALTER SYSTEM SET full_page_writes = on" && pg_q "SELECT pg_reload_conf()" > /dev/null
now() { date +%s.%N; }
# corpus N DIR: the N smallest files of CORPUS, linked into DIR
corpus() {
    mkdir -p "$2"
    ls -S -r "$CORPUS" | grep -i '\.pdf$' | head -n "$1" | while read -r f; do
        ln -s "$(realpath "$CORPUS/$f")" "$2/$f"
    done
}
rows=
bench() { # LABEL N MODELARG...
    label=$1; n=$2; shift 2
    in="$T/in-$label"; corpus "$n" "$in"
    docs=$(ls "$in" | wc -l)
    mb=$(du -L -s -m "$in" | cut -f1)
    t0=$(now)
    "$Q" ingest --db "$T/$label.db" -c b -j 1 -q "$@" "$in" || { echo "ingest failed" >&2; exit 1; }
    t1=$(now)
    sq=$(awk -v a="$t0" -v b="$t1" -v n="$docs" 'BEGIN { printf "%.2f", n / (b - a) }')
    echo "$label sqlite: $docs docs ($mb MB) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $sq docs/s"
    line="| $label | $docs | $sq"
    # the same files by one direct `quire ingest --db postgresql://...` (no queue)
    pg_q "CREATE DATABASE b_${label}_direct" > /dev/null
    U=$(echo "$PGURL" | sed "s|/quire?|/b_${label}_direct?|")
    t0=$(now)
    "$Q" ingest --db "$U" -c b -j 1 -q "$@" "$in" || { echo "direct PG ingest failed" >&2; exit 1; }
    t1=$(now)
    r=$(awk -v a="$t0" -v b="$t1" -v n="$docs" 'BEGIN { printf "%.2f", n / (b - a) }')
    echo "$label pg direct ingest: $r docs/s"
    line="$line | $r"
    for k in $WORKERS; do
        db="b_${label}_$k"
        pg_q "CREATE DATABASE $db" > /dev/null
        U=$(echo "$PGURL" | sed "s|/quire?|/$db?|")
        "$Q" enqueue --db "$U" -q -c b "$in" || exit 1
        t0=$(now); P=
        i=1; while [ $i -le "$k" ]; do
            "$Q" worker --db "$U" --drain --jobs 1 --poll 0.2 -q "$@" 2> "$T/w$i.log" & P="$P $!"
            i=$((i + 1))
        done
        for p in $P; do wait "$p" || { echo "a worker failed:" >&2; cat "$T"/w*.log >&2; exit 1; }; done
        t1=$(now)
        done_n=$(psql -X -q -A -t -h "$PGDIR" -p "$PGPORT" -U postgres -d "$db" -c "SELECT count(*) FROM jobs WHERE state = 'done'")
        [ "$done_n" = "$docs" ] || { echo "$label x$k: $done_n of $docs jobs done" >&2; exit 1; }
        r=$(awk -v a="$t0" -v b="$t1" -v n="$docs" 'BEGIN { printf "%.2f", n / (b - a) }')
        echo "$label pg x$k: $r docs/s"
        line="$line | $r"
    done
    rows="$rows$line |
"
}
echo "PostgreSQL $(pg_q 'SHOW server_version'), fsync=$(pg_q 'SHOW fsync'), $(nproc) cpus," \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench text "$LIMIT"
[ "$MODEL" != none ] && bench minilm "$LIMIT_MODEL" --model "$MODEL"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
{
    printf '| corpus | docs | SQLite ingest, 1 process, docs/s | PG direct ingest, 1 process, docs/s'
    for k in $WORKERS; do printf ' | PG, %s worker(s), docs/s' "$k"; done
    printf ' |\n|---|---:|---:|---:'
    for k in $WORKERS; do printf '|---:'; done
    printf '|\n%s' "$rows"
} > "$w/ingest.md"
cat "$w/ingest.md"
