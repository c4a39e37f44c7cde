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
#   sh bench/scale/queue.sh   100k jobs with 8 clients, the worker's way (new: async claim,
#                             durable completion) then the old way (two durable commits),
#                             then 2k jobs with 1 client (new); ~3 minutes. Each row also
#                             gives the CPU per job (server processes + clients, µs) and the
#                             last line the ratio new / old.
# Environment: JOBS (100000), JOBS1 (2000, the 1-client run), CLIENTS (8), CPUS (0,1),
# QUIRE_SHARED is not needed. Targets (issue 16): >= 1,500 jobs/s with 8 clients on 2
# cores, claim P95 < 5 ms, jobs table <= 3x its freshly vacuumed size.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
JOBS=${JOBS:-100000}
JOBS1=${JOBS1:-2000}
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
# CPU seconds the server has used so far: the postmaster and every process it has reaped
# (cutime/cstime: the backends of finished clients, autovacuum workers) plus its live children
TCK=$(getconf CLK_TCK)
srvcpu() {
    pm=$(head -1 "$PGDIR/data/postmaster.pid")
    { awk '{ print $14 + $15 + $16 + $17 }' /proc/$pm/stat
      for c in $(cat /proc/$pm/task/*/children 2>/dev/null); do
          awk '{ print $14 + $15 }' /proc/$c/stat 2>/dev/null
      done; } | awk -v t="$TCK" '{ s += $1 } END { printf "%.2f", s / t }'
}
rows=
run() { # MODE CLIENTS JOBS
    pg_q "TRUNCATE jobs RESTART IDENTITY"
    pg_q "INSERT INTO jobs(collection, path, sha256)
          SELECT 'bench', '/bench/' || g, md5(g::text) || md5(g::text) FROM generate_series(1, $3) g"
    pg_q "VACUUM ANALYZE jobs"
    s0=$(srvcpu)
    line=$(/usr/bin/time -f '%U %S' -o "$T/time" "$w/queue_bench" "$PGURL" "$2" "$1") ||
        { echo "queue_bench failed" >&2; exit 1; }
    s1=$(srvcpu)
    after=$(size)
    left=$(pg_q "SELECT count(*) FROM jobs WHERE state <> 'done'")
    pg_q "VACUUM FULL jobs"
    fresh=$(size)
    ratio=$(awk -v a="$after" -v f="$fresh" 'BEGIN { printf "%.2f", a / f }')
    get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    cpu=$(awk -v a="$s0" -v b="$s1" -v c="$(cat "$T/time")" -v n="$(get jobs)" \
        'BEGIN { split(c, x, " "); printf "%.1f", (b - a + x[1] + x[2]) / n * 1e6 }')
    echo "$line jobs_left=$left size_after_kb=$((after / 1024)) size_vacuum_full_kb=$((fresh / 1024)) bloat=$ratio server_cpu_s=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }') client_cpu_s=$(awk '{ printf "%.2f", $1 + $2 }' "$T/time") cpu_us_per_job=$cpu"
    eval "cpu_$1_$2=$cpu"
    rows="$rows| $1 | $2 | $(get jobs) | $(get jobs_per_s) | $(get claim_p50_ms) | $(get claim_p95_ms) | $(get claim_p99_ms) | $cpu | $((after / 1024)) | $((fresh / 1024)) | ${ratio}x |
"
}
run new "$CLIENTS" "$JOBS"
run old "$CLIENTS" "$JOBS"
run new 1 "$JOBS1"
{
    echo "| mode | clients | jobs | jobs/s | claim P50 ms | claim P95 ms | claim P99 ms | CPU µs/job (server + clients) | jobs table after, KiB | after VACUUM FULL, KiB | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$rows"
} > "$w/queue.md"
cat "$w/queue.md"
eval "n=\$cpu_new_$CLIENTS o=\$cpu_old_$CLIENTS"
awk -v n="$n" -v o="$o" 'BEGIN { printf "CPU per job, new / old (%s clients): %.2f\n", "'"$CLIENTS"'", n / o }'
