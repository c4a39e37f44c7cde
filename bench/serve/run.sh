#!/bin/sh
# bench/serve/run.sh — `quire serve` with the MiniLM-shaped model (build/models/minilm):
# closed-loop keep-alive load of single short texts (<= 32 tokens) at 1, 8 and 64
# connections, dynamic batching vs a one-at-a-time loop (--no-batching --batchers 1), with
# requests/s, P50/P95/P99 and the mean batch size from /metrics; then RSS before any
# request, after the first 1k and after 100k requests. Prints a Markdown table.
# Env: QUIRE_BUILD (build), SECONDS_PER_RUN (10), REQUESTS_RSS (100000), MODEL.
# Results are printed, never asserted (the machine may be shared).
BUILD=${QUIRE_BUILD:-build}
Q=$BUILD/quire
LOAD=$BUILD/bench/serve_load
MODEL=${MODEL:-build/models/minilm}
DUR=${SECONDS_PER_RUN:-10}
NRSS=${REQUESTS_RSS:-100000}
T=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
[ -x "$LOAD" ] && [ -f "$MODEL/model.safetensors" ] || { echo "run: make bench-serve (needs make models)" >&2; exit 1; }

start() {
    "$Q" serve --model "$MODEL" --port 0 --quiet "$@" 2> "$T/err" &
    PID=$!
    PORT=
    while [ -z "$PORT" ]; do
        sleep 0.1
        PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/err")
        kill -0 $PID 2>/dev/null || { cat "$T/err"; exit 1; }
    done
}
stop() { kill -TERM $PID; wait $PID; PID=; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "/^$2\$/{n;p;}"; }

echo "quire serve, model $(basename "$MODEL"), $(nproc) cores, ${DUR} s per run, $(uptime | sed 's/.*load average/load average/')"
echo
echo "| server | conns | req/s | P50 ms | P95 ms | P99 ms | mean batch | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for mode in batching one-at-a-time; do
    for c in 1 8 64; do
        if [ $mode = batching ]; then start; else start --no-batching --batchers 1; fi
        "$LOAD" --port "$PORT" --conns 2 --seconds 1 > /dev/null   # warm up
        s0=$(metric quire_embed_batch_size_sum); n0=$(metric quire_embed_batch_size_count)
        r=$("$LOAD" --port "$PORT" --conns $c --seconds "$DUR")
        s1=$(metric quire_embed_batch_size_sum); n1=$(metric quire_embed_batch_size_count)
        mean=$(awk -v a="$s0" -v b="$s1" -v c="$n0" -v d="$n1" 'BEGIN { printf "%.1f", (b - a) / (d - c) }')
        echo "| $mode | $c | $(field "$r" rps) | $(field "$r" p50_ms) | $(field "$r" p95_ms) | $(field "$r" p99_ms) | $mean | $(field "$r" errors) |"
        stop
    done
done

echo
start
rss0=$(metric quire_process_resident_memory_bytes)
"$LOAD" --port "$PORT" --conns 8 --requests 1000 > /dev/null
rss1=$(metric quire_process_resident_memory_bytes)
r=$("$LOAD" --port "$PORT" --conns 8 --requests $((NRSS - 1000)))
rss2=$(metric quire_process_resident_memory_bytes)
stop
echo "| RSS (batching, 8 conns) | MiB |"
echo "|---|---:|"
echo "| before any request | $(awk -v x="$rss0" 'BEGIN { printf "%.1f", x / 1048576 }') |"
echo "| after 1k requests | $(awk -v x="$rss1" 'BEGIN { printf "%.1f", x / 1048576 }') |"
echo "| after ${NRSS} requests | $(awk -v x="$rss2" 'BEGIN { printf "%.1f", x / 1048576 }') |"
echo
echo "RSS growth from 1k to ${NRSS} requests: $(awk -v a="$rss1" -v b="$rss2" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }') ($(field "$r" errors) errors)"
