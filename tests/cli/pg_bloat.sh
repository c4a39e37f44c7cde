#!/bin/sh
# tests/cli/pg_bloat.sh — the queue table does not bloat: JOBS (default 20000) no-op jobs
# driven through the worker's own claim and fenced completion by 4 client processes
# (bench/scale/queue_bench.c, built here) on a throwaway server (tests/tools/pg.sh); then
# the jobs table with its indexes and TOAST must be within 3x of its size after VACUUM FULL
# (the issue asks this after 100k jobs; bench/scale/queue.sh runs that size). Sizes, not
# timings, are asserted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/pg.sh"
JOBS=${JOBS:-20000}
if "$Q" info 2>/dev/null | grep -q 'WITH_PG=0'; then
    bad "this quire was built with WITH_PG=0: the PostgreSQL tests cannot run (not skipped: failed)"
    exit 1
fi
if ! cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 $(pkg-config --cflags libpq) \
        bench/scale/queue_bench.c -o "$T/queue_bench" $(pkg-config --libs libpq); then
    bad "bench/scale/queue_bench.c builds (libpq-dev)"
    exit 1
fi
if ! pg_start; then
    bad "a throwaway PostgreSQL server starts (postgresql-15 from .ci/setup)"
    exit 1
fi
mkdir -p "$T/empty"
"$Q" enqueue --db "$PGURL" -q -c bloat "$T/empty" 2> /dev/null # creates the schema
pg_q "INSERT INTO jobs(collection, path, sha256)
      SELECT 'bloat', '/bloat/' || g, md5(g::text) || md5(g::text) FROM generate_series(1, $JOBS) g"
pg_q "VACUUM ANALYZE jobs"
line=$("$T/queue_bench" "$PGURL" 4)
check "$JOBS no-op jobs claimed and completed by 4 clients" \
    [ "$(pg_q "SELECT count(*) FROM jobs WHERE state = 'done'")" = "$JOBS" ]
after=$(pg_q "SELECT pg_total_relation_size('jobs')")
pg_q "VACUUM FULL jobs"
fresh=$(pg_q "SELECT pg_total_relation_size('jobs')")
ratio=$(awk -v a="$after" -v f="$fresh" 'BEGIN { printf "%.2f", a / f }')
echo "queue: $line; jobs table after $((after / 1024)) KiB, after VACUUM FULL $((fresh / 1024)) KiB, ratio $ratio"
check "the jobs table stays within 3x of its freshly vacuumed size (${ratio}x)" \
    awk -v a="$after" -v f="$fresh" 'BEGIN { exit !(a <= 3 * f) }'
