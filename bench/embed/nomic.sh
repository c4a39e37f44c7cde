#!/bin/sh
# bench/embed/nomic.sh — quire next to ONNX Runtime on the full-size nomic-embed-text-v1.5
# shape (768 hidden, 12 layers, 12 heads, SwiGLU 3072, rotary; seeded weights), same run.
#
#   sh bench/embed/nomic.sh            batch 1 x 128 tokens and 32 x 128 on 2 threads
#   QUICK=1 sh bench/embed/nomic.sh    10x fewer iterations (smoke run)
#
# Environment: QUIRE_SHARED (default ../shared), THREADS (default "2"), COLD_RUNS (default 3),
# QUICK, SKIP_SETUP=1 (do not run setup.sh), BENCH_BIN=PATH (use this bench_embed instead of
# `make bench`), IDLE_WAIT (seconds to wait for an idle CPU before each driver, default 120),
# TABLE_ONLY=1 (reprint the table of the saved results).
#
# Needs what bench/embed/setup.sh installs (python3-numpy, python3-torch, python3-onnx from
# Debian, onnxruntime-node@1.30.0 from npm under build/ort). Then:
#   build/models/nomic-full/       `make build/models/nomic-full/model.safetensors`
#                                  (shared/models/ref/gen_nomic.py nomic, sha256 checked)
#   build/models/nomic-full.onnx   bench/embed/export_nomic_onnx.py: the independent reference
#                                  shared/models/ref/nomic_ref.py exported with torch.onnx
#                                  (opset 17; masked mean + L2 inside the graph)
# Both engines get the same token ids (the LCG of bench_embed.c / ort_bench.js), no padding.
# Raw JSON lines and table.md go to build/bench/nomic-results/.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
export QUIRE_SHARED="${QUIRE_SHARED:-../shared}"
THREADS=${THREADS:-"2"}
COLD_RUNS=${COLD_RUNS:-3}
QUICK=${QUICK:-}
out=build/bench/nomic-results
MODEL=build/models/nomic-full
ONNX=build/models/nomic-full.onnx
GOLDEN=tests/data/nomic-full/golden.jsonl
QBIN=${BENCH_BIN:-build/bench/bench_embed}
ORTJS=bench/embed/ort_bench.js
CASES=b1_t128,b32_t128
q=""
[ -n "$QUICK" ] && q="--quick"

say() { echo "nomic: $*" >&2; }

LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if [ -n "${TABLE_ONLY:-}" ]; then
    [ -d "$out" ] || { say "no results in $out"; exit 1; }
    LOAD_START='?'
else
if [ -z "${SKIP_SETUP:-}" ]; then
    sh bench/embed/setup.sh || { say "setup failed"; exit 1; }
fi
make SHARED="$QUIRE_SHARED" "$MODEL/model.safetensors" >&2 || { say "cannot build $MODEL"; exit 1; }
if [ ! -s "$ONNX" ] || [ "$MODEL/model.safetensors" -nt "$ONNX" ]; then
    say "exporting $ONNX (torch; a few minutes)"
    /usr/bin/python3 bench/embed/export_nomic_onnx.py "$MODEL" "$ONNX.tmp" --shared "$QUIRE_SHARED" \
        >&2 2>"$ONNX.log" && mv "$ONNX.tmp" "$ONNX" || { say "export failed (see $ONNX.log)"; exit 1; }
fi
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.err "$out"/table.md

quire_ok=1
if [ -n "${BENCH_BIN:-}" ]; then
    say "using BENCH_BIN=$BENCH_BIN (no make)"
elif ! make -j2 bench >"$out/quire-build.log" 2>&1; then
    quire_ok=0
    tail -n 5 "$out/quire-build.log" >"$out/quire-build.err"
    say "make bench failed; quire columns will be empty (see $out/quire-build.log)"
fi

# One driver at a time; before each, wait (at most IDLE_WAIT s) until the rest of the machine
# uses < 0.15 cores. Every result line carries other_cores (CPU used by others while it ran).
IDLE_WAIT=${IDLE_WAIT:-120}
busy_cores() {
    a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat)
    echo "$a $b" | awk '{ ba = $2+$3+$4+$7+$8+$9; bb = $13+$14+$15+$18+$19+$20;
                          printf "%.2f", (bb - ba) / 100 }'
}
wait_idle() {
    [ -r /proc/stat ] || return 0
    waited=0
    while :; do
        c=$(busy_cores)
        if awk -v c="$c" 'BEGIN { exit !(c < 0.15) }'; then return 0; fi
        if [ "$waited" -ge "$IDLE_WAIT" ]; then
            say "machine still busy ($c cores used by others); measuring anyway"; return 0
        fi
        [ "$waited" = 0 ] && say "waiting for idle CPU ($c cores busy)"
        sleep 2; waited=$((waited + 3))
    done
}
run_quire() { # name args...
    name=$1; shift
    [ "$quire_ok" = 1 ] || return 0
    wait_idle
    say "quire $*"
    "$QBIN" --model "$MODEL" "$@" >"$out/quire-$name.jsonl" 2>"$out/quire-$name.err" ||
        say "quire $name failed: $(tail -n 1 "$out/quire-$name.err")"
}
run_ort() { # name args...
    name=$1; shift
    wait_idle
    say "ort $*"
    node "$ORTJS" --model "$ONNX" "$@" >"$out/ort-$name.jsonl" 2>"$out/ort-$name.err" ||
        say "ort $name failed: $(tail -n 1 "$out/ort-$name.err")"
}

run_ort golden --mode golden --golden "$GOLDEN" --n-golden 100 --threads 2
for t in $THREADS; do
    run_quire "${t}t" --mode bench --threads "$t" --cases "$CASES" $q
    run_ort "${t}t" --mode bench --threads "$t" --cases "$CASES" $q
done
run_quire cold --mode cold --threads 1 --runs "$COLD_RUNS"
run_ort cold --mode cold --threads 1 --runs "$COLD_RUNS"
fi # TABLE_ONLY

LOAD_END=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
THREADS="$THREADS" OUT="$out" MODEL="$MODEL" ONNX="$ONNX" LOAD="$LOAD_START → $LOAD_END" \
    QUICK="$QUICK" node - <<'EOF' | tee "$out/table.md"
const fs = require('fs');
const os = require('os');
const out = process.env.OUT;
const threads = process.env.THREADS.trim().split(/\s+/).map(Number);
function load(name) {
  const f = `${out}/${name}.jsonl`;
  const m = {};
  if (!fs.existsSync(f)) return m;
  for (const l of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    try { const o = JSON.parse(l); m[o.case] = o; } catch (e) { /* skip */ }
  }
  return m;
}
const errOf = (name) => {
  const f = `${out}/${name}.err`;
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n').pop() : '';
};
let starred = false;
const star = (o) => (o && o.other_cores > 0.25 ? (starred = true, '*') : '');
const f2 = (x) => (x === undefined || x === null ? 'n/a' : x.toFixed(2));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '');
const rows = [];
rows.push('| metric | ' + threads.map((t) => `quire ${t}t | ORT ${t}t | ratio`).join(' | ') + ' |');
rows.push('|---|' + threads.map(() => '---:|---:|---:').join('|') + '|');
const Q = {}, O = {};
for (const t of threads) { Q[t] = load(`quire-${t}t`); O[t] = load(`ort-${t}t`); }
const lat = (key, label) => {
  const cells = threads.map((t) => {
    const q = Q[t].b1_t128, o = O[t].b1_t128;
    const qv = q && q[key], ov = o && o[key];
    return `${f2(qv)}${star(q)} | ${f2(ov)}${star(o)} | ${ratio(ov, qv)}`;
  });
  rows.push(`| batch 1, 128 tokens, ${label} (ms) | ${cells.join(' | ')} |`);
};
lat('p50_ms', 'P50');
lat('p95_ms', 'P95');
lat('p99_ms', 'P99');
rows.push('| batch 32×128, sentences/s | ' + threads.map((t) => {
  const q = Q[t].b32_t128, o = O[t].b32_t128;
  return `${q ? q.sent_per_s.toFixed(1) : 'n/a'}${star(q)} | ${o ? o.sent_per_s.toFixed(1) : 'n/a'}${star(o)} | ` +
    ratio(q && q.sent_per_s, o && o.sent_per_s);
}).join(' | ') + ' |');
rows.push('| batch 32×128, CPU time per batch (ms) | ' + threads.map((t) => {
  const q = Q[t].b32_t128, o = O[t].b32_t128;
  return `${f2(q && q.cpu_ms)} | ${f2(o && o.cpu_ms)} | ${ratio(o && o.cpu_ms, q && q.cpu_ms)}`;
}).join(' | ') + ' |');
rows.push('| peak RSS of the bench process (MB) | ' + threads.map((t) => {
  const q = Q[t].peak_rss, o = O[t].peak_rss;
  const qm = q && q.peak_rss_kb / 1024, om = o && o.peak_rss_kb / 1024;
  return `${qm ? qm.toFixed(0) : 'n/a'} | ${om ? om.toFixed(0) : 'n/a'} | ${ratio(om, qm)}`;
}).join(' | ') + ' |');
const qc = load('quire-cold'), oc = load('ort-cold');
const c1 = qc.cold_start, c2 = oc.cold_start;
rows.push('');
rows.push('| | quire | ORT | ratio |');
rows.push('|---|---:|---:|---:|');
const size = (p) => { try { return fs.statSync(p).size / 1e6; } catch (e) { return null; } };
const ws = size(`${process.env.MODEL}/model.safetensors`), os2 = size(process.env.ONNX);
rows.push(`| weight file (model.safetensors / nomic-full.onnx) | ${ws ? ws.toFixed(1) + ' MB' : 'n/a'} | ` +
  `${os2 ? os2.toFixed(1) + ' MB' : 'n/a'} | ${ratio(os2, ws)} |`);
rows.push(`| cold start: process start → first vector (32 tokens, 1t), median (ms) | ` +
  `${f2(c1 && c1.median_ms)}${star(c1)} | ${f2(c2 && c2.median_ms)}${star(c2)} | ` +
  `${ratio(c2 && c2.median_ms, c1 && c1.median_ms)} |`);
const lines = [
  `# quire vs ONNX Runtime, nomic-embed-text-v1.5 shape (seeded), ${os.cpus()[0].model.trim()}, ` +
  `${os.cpus().length} CPUs, load average ${process.env.LOAD}${process.env.QUICK ? ' (QUICK run)' : ''}`,
  '', ...rows, ''];
if (starred) lines.push('* other processes used more than 0.25 cores while this number was measured; re-run on a quiet machine.');
// sanity: the two cold-start vectors (same 32-token input); quire's is the raw mean (the
// model has no Normalize module), ORT's graph L2-normalises, so compare after L2
const qv = qc.vector && qc.vector.vec, ov = oc.vector && oc.vector.vec;
if (qv && ov && qv.length === ov.length) {
  const n = (v) => { const s = Math.sqrt(v.reduce((a, x) => a + x * x, 0)); return v.map((x) => x / s); };
  const a = n(qv), b = n(ov);
  let dot = 0, md = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; md = Math.max(md, Math.abs(a[i] - b[i])); }
  lines.push(`sanity: cosine(quire, ORT) on the 32-token input = ${dot.toFixed(7)}, max |diff| = ` +
    `${md.toExponential(2)} (${dot >= 0.99999 ? 'ok' : 'MISMATCH'})`);
} else {
  lines.push(`sanity: cosine(quire, ORT) not available (${errOf('quire-cold') || errOf('ort-cold') || 'no vector'})`);
}
const og = load('ort-golden').golden;
if (og) lines.push(`sanity: ORT vs ${og.file} (${og.n} texts): min cosine ${og.min_cosine.toFixed(7)}, max |diff| ${og.max_abs_diff.toExponential(2)}`);
else lines.push(`sanity: ORT golden check failed (${errOf('ort-golden')})`);
console.log(lines.join('\n'));
EOF
