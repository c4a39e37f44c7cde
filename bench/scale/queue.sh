#!/bin/sh
# bench/scale/queue.sh — throughput of quire's PostgreSQL job queue with no-op jobs:
# CLIENTS processes (default 8; the peer in the same run: 1) each loop claim -> complete
# with the worker's own statements (bench/scale/queue_bench.c), every statement its own
# committed transaction, on a throwaway PostgreSQL server (tests/tools/pg.sh) with
# durability ON (fsync, synchronous_commit, full_page_writes: unlike the tests' server),
# server and clients pinned to CPUS (default 0,1: two cores). A benchmark, not a test.
#
# Prints, per run: jobs/s over the wall time, claim latency P50/P95/P99 (ms), and the
# size of the jobs table with its indexes and TOAST after the run next to the same rows
# after VACUUM FULL (bloat ratio; target <= 3x after 100k jobs), then a Markdown table in
# build/bench/scale/queue.md.
#
#   sh bench/scale/queue.sh                 100k jobs with 8 clients, 10k with 1 client
# Environment: JOBS (100000), JOBS1 (10000, the 1-client peer), CLIENTS (8), CPUS (0,1),
# QUIRE_SHARED is not needed. Targets (issue 16): >= 1,500 jobs/s with 8 clients on 2
# cores, claim P95 < 5 ms, jobs table <= 3x its freshly vacuumed size.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
JOBS=${JOBS:-100000}
JOBS1=${JOBS1:-10000}
CLIENTS=${CLIENTS:-8}
CPUS=${CPUS:-0,1}
w=build/bench/scale
mkdir -p "$w"
make -j2 cli > /dev/null || exit 1
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -O2 $(pkg-config --cflags libpq) \
    bench/scale/queue_bench.c -o "$w/queue_bench" $(pkg-config --libs libpq) || exit 1
PIN=
if command -v taskset > /dev/null 2>&1; then PIN="taskset -c $CPUS"; fi
T=$(mktemp -d /tmp/quire-qbench-XXXXXX)
. tests/tools/pg.sh
# the server inherits the pinning of this shell
[ -n "$PIN" ] && taskset -pc "$CPUS" $$ > /dev/null
pg_start || exit 1
trap 'pg_stop; rm -rf "$T"' EXIT
pg_q "ALTER SYSTEM SET fsync = on" && pg_q "ALTER SYSTEM SET synchronous_commit = on" &&
    pg_q "ALTER SYSTEM SET full_page_writes = on" && pg_q "SELECT pg_reload_conf()" > /dev/null
mkdir -p "$T/empty"
build/quire enqueue --db "$PGURL" -q -c bench "$T/empty" 2> /dev/null # creates the schema
echo "server: PostgreSQL $(pg_q 'SHOW server_version'), fsync=$(pg_q 'SHOW fsync')," \
     "synchronous_commit=$(pg_q 'SHOW synchronous_commit'), cpus $CPUS of $(nproc)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
size() { pg_q "SELECT pg_total_relation_size('jobs')"; }
rows=
run() { # CLIENTS JOBS
    pg_q "TRUNCATE jobs RESTART IDENTITY"
    pg_q "INSERT INTO jobs(collection, path, sha256)
          SELECT 'bench', '/bench/' || g, md5(g::text) || md5(g::text) FROM generate_series(1, $2) g"
    pg_q "VACUUM ANALYZE jobs"
    line=$("$w/queue_bench" "$PGURL" "$1") || { echo "queue_bench failed" >&2; exit 1; }
    after=$(size)
    left=$(pg_q "SELECT count(*) FROM jobs WHERE state <> 'done'")
    pg_q "VACUUM FULL jobs"
    fresh=$(size)
    ratio=$(awk -v a="$after" -v f="$fresh" 'BEGIN { printf "%.2f", a / f }')
    echo "$line jobs_left=$left size_after_kb=$((after / 1024)) size_vacuum_full_kb=$((fresh / 1024)) bloat=$ratio"
    get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    rows="$rows| $1 | $(get jobs) | $(get jobs_per_s) | $(get claim_p50_ms) | $(get claim_p95_ms) | $(get claim_p99_ms) | $((after / 1024)) | $((fresh / 1024)) | ${ratio}x |
"
}
run 1 "$JOBS1"
run "$CLIENTS" "$JOBS"
{
    echo "| clients | jobs | jobs/s | claim P50 ms | claim P95 ms | claim P99 ms | jobs table after, KiB | after VACUUM FULL, KiB | ratio |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$rows"
} > "$w/queue.md"
cat "$w/queue.md"
