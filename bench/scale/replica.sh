#!/bin/sh
# bench/scale/replica.sh — search-replica freshness: the time from a worker's commit in
# PostgreSQL to the document being searchable in a `quire serve --db URL --cache FILE`
# replica, P50/P95, while documents are enqueued at RATE per second (default 10) and one
# `quire worker` (text-only) commits them. The PostgreSQL server is a throwaway one
# (tests/tools/pg.sh) with durability ON (fsync, synchronous_commit).
#
# Commit time: the latest `changes.at` of the document (clock_timestamp() in the
# committing transaction, just before COMMIT). Searchable: the first time a client
# polling /v1/search every 50 ms (one OR query over the tokens still pending) gets the
# document back. Both are this machine's clock. A benchmark, not a test; on a shared
# machine the figures are noisy (the load average is printed).
#
#   sh bench/scale/replica.sh
# Environment: N (documents, default 200), RATE (enqueued per second, default 10), POLLS
# (the --feed-poll values to compare, default "0.5 0.2"). Writes build/bench/scale/replica.md.
# Needs python3 (stdlib only; benchmark-only, like curl in the tests).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
N=${N:-200}
RATE=${RATE:-10}
POLLS=${POLLS:-0.5 0.2}
Q=${QUIRE_BIN:-build/quire}
w=build/bench/scale
mkdir -p "$w"
T=$(mktemp -d /tmp/quire-rbench-XXXXXX)
. tests/tools/pg.sh
pg_start || exit 1
SPID=
WPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; [ -n "$WPID" ] && kill $WPID 2>/dev/null; pg_stop; rm -rf "$T"' EXIT
pg_q "ALTER SYSTEM SET fsync = on" && pg_q "ALTER SYSTEM SET synchronous_commit = on" &&
    pg_q "ALTER SYSTEM SET full_page_writes = on" && pg_q "SELECT pg_reload_conf()" > /dev/null
"$Q" enqueue --db "$PGURL" -q -c warm "$T" 2> /dev/null # the schema
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }      # user+sys clock ticks
TCK=$(getconf CLK_TCK)
rows=
for poll in $POLLS; do
    tag=$(echo "$poll" | tr -d .)
    mkdir -p "$T/in$tag"
    i=1
    while [ $i -le "$N" ]; do
        printf '# Doc %s\n\nFreshness probe %s: the token fr%sx%stok marks it.\n' $i $i $tag $i \
            > "$T/in$tag/d$i.md"
        i=$((i + 1))
    done
    "$Q" serve --port 0 --db "$PGURL" --cache "$T/cache$tag.db" --feed-poll "$poll" \
        2> "$T/serve$tag.log" &
    SPID=$!
    PORT=
    while [ -z "$PORT" ]; do
        sleep 0.1
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve$tag.log")
    done
    "$Q" worker --db "$PGURL" --poll 0.2 --quiet 2> "$T/worker$tag.log" &
    WPID=$!
    c0=$(cpu_of $SPID)
    # the client: polls until every token is found (or 60 s after the last enqueue)
    python3 - "$PORT" "$N" "$tag" "$T/seen$tag" <<'EOF' &
import json, sys, time, urllib.request
port, n, tag, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pending = {f"fr{tag}x{i}tok": f"d{i}.md" for i in range(1, n + 1)}
seen = {}
import os
marker = out.replace("seen", "enqueued")
deadline = None
while pending and (deadline is None or time.time() < deadline):
    if deadline is None and os.path.exists(marker):
        deadline = time.time() + 60
    toks = list(pending)[:40]
    body = json.dumps({"collection": "fresh", "query": " ".join(toks), "k": 60,
                       "mode": "text"}).encode()
    try:
        r = urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/search", body, timeout=5)
        hits = json.load(r).get("data", [])
    except Exception:
        hits = []
    now = time.time()
    for h in hits:
        name = h["document"].rsplit("/", 1)[-1]
        for t in toks:
            if pending.get(t) == name:
                seen[name] = now
                del pending[t]
    time.sleep(0.05)
with open(out, "w") as f:
    for name, t in seen.items():
        f.write(f"{name} {t:.6f}\n")
EOF
    CPID=$!
    # paced by the clock: every 0.1 s, one `quire enqueue` of the files due by then (one
    # process per file cannot keep up on a loaded 2-core machine)
    t0=$(date +%s.%N)
    i=1
    while [ $i -le "$N" ]; do
        due=$(python3 -c "import time; print(min($N, int((time.time() - $t0) * $RATE) + 1))")
        if [ "$due" -ge $i ]; then
            files=
            while [ $i -le "$due" ]; do files="$files $T/in$tag/d$i.md"; i=$((i + 1)); done
            "$Q" enqueue --db "$PGURL" -q -c fresh $files
        fi
        sleep 0.1
    done
    t1=$(date +%s.%N)
    touch "$T/enqueued$tag"
    wait $CPID
    c1=$(cpu_of $SPID)
    kill $WPID; wait $WPID 2>/dev/null; WPID=
    lagline=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^quire_feed_lag_seconds //p')
    kill $SPID; wait $SPID 2>/dev/null; SPID=
    $PSQL -F ' ' -c "SELECT regexp_replace(d.path, '.*/', ''), extract(epoch FROM max(c.at))
        FROM changes c JOIN documents d ON d.id = c.document_id
        WHERE d.path LIKE '%/in$tag/%' GROUP BY d.path" > "$T/commit$tag"
    res=$(python3 - "$T/commit$tag" "$T/seen$tag" "$N" <<'EOF'
import sys
commit = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[1]) if l.strip())
seen = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[2]) if l.strip())
lat = sorted(seen[k] - commit[k] for k in seen if k in commit)
n = int(sys.argv[3])
def q(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
ct = sorted(commit.values())
crate = (len(ct) - 1) / (ct[-1] - ct[0]) if len(ct) > 1 and ct[-1] > ct[0] else float("nan")
print(f"{len(lat)}/{n} {q(0.5):.3f} {q(0.95):.3f} {lat[-1] if lat else float('nan'):.3f} {crate:.1f}")
EOF
)
    rate=$(python3 -c "print(f'{$N / ($t1 - $t0):.1f}')")
    cpu=$(python3 -c "print(f'{($c1 - $c0) / $TCK:.2f}')")
    set -- $res
    echo "feed-poll $poll: $1 documents seen, commit -> searchable P50 $2 s, P95 $3 s, max $4 s (enqueued at $rate docs/s, committed at $5 docs/s; serve CPU $cpu s; final lag $lagline s)"
    rows="$rows| $poll | $rate | $5 | $1 | $2 | $3 | $4 | $cpu |
"
done
{
    echo "# Replica freshness ($(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"
    echo
    echo "| --feed-poll s | enqueued docs/s | committed docs/s | seen | P50 s | P95 s | max s | serve CPU s |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$rows"
} > "$w/replica.md"
cat "$w/replica.md"
