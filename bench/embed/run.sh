#!/bin/sh
# bench/embed/run.sh — quire next to ONNX Runtime on the MiniLM-shaped model, same run.
#
#   sh bench/embed/run.sh              full run (about 2-3 minutes on 2 cores)
#   QUICK=1 sh bench/embed/run.sh      10x fewer iterations (smoke run)
#
# Environment: QUIRE_SHARED (default ../shared), THREADS (default "1 2"), COLD_RUNS (default
# 5), QUICK, SKIP_SETUP=1 (do not run setup.sh), NO_QUIRE=1 (ORT only), BENCH_BIN=PATH (use
# this bench_embed binary instead of running `make bench`), IDLE_WAIT (see below),
# TABLE_ONLY=1 (measure nothing; print the table of the results already in the folder),
# PRECISIONS (default "bf16 int8"), NO_PRECISIONS=1 (only the fp32 table), NO_TORCH=1 (no
# PyTorch int8 peer).
# Raw JSON lines are kept in build/bench/embed-results/; the table goes to stdout (Markdown)
# and to build/bench/embed-results/table.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
export QUIRE_SHARED="${QUIRE_SHARED:-../shared}"
THREADS=${THREADS:-"1 2"}
COLD_RUNS=${COLD_RUNS:-5}
QUICK=${QUICK:-}
out=build/bench/embed-results
MODEL=build/models/minilm
ONNX=build/models/minilm.onnx
ONNX8=build/models/minilm-int8.onnx
PRECISIONS=${PRECISIONS:-"bf16 int8"}
QBIN=${BENCH_BIN:-build/bench/bench_embed}
ORTJS=bench/embed/ort_bench.js
q=""
[ -n "$QUICK" ] && q="--quick"

say() { echo "run: $*" >&2; }

LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if [ -n "${TABLE_ONLY:-}" ]; then
    [ -d "$out" ] || { say "no results in $out"; exit 1; }
    LOAD_START='?'
else
if [ -z "${SKIP_SETUP:-}" ]; then
    sh bench/embed/setup.sh || { say "setup failed"; exit 1; }
fi
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.err "$out"/table.md

# ---- quire: build ---------------------------------------------------------------------------
quire_ok=1
if [ -n "${NO_QUIRE:-}" ]; then
    quire_ok=0
    echo "skipped (NO_QUIRE=1)" >"$out/quire-build.err"
elif [ -n "${BENCH_BIN:-}" ]; then
    say "using BENCH_BIN=$BENCH_BIN (no make)"
elif ! make -j2 bench >"$out/quire-build.log" 2>&1; then
    quire_ok=0
    tail -n 5 "$out/quire-build.log" >"$out/quire-build.err"
    say "make bench failed; quire columns will be empty (see $out/quire-build.log)"
fi

# ---- measurements (one at a time, so they never compete for the 2 cores) -------------------
# Before each driver, wait (at most IDLE_WAIT seconds, default 120) until the rest of the
# machine uses < 0.15 cores, so a compile or test run elsewhere does not end up in the numbers.
# Each result line also carries other_cores (CPU used by other processes while it ran).
IDLE_WAIT=${IDLE_WAIT:-120}
busy_cores() { # CPU busy over 1 s, in cores
    a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat)
    echo "$a $b" | awk '{ hz = 100; ba = $2+$3+$4+$7+$8+$9; bb = $13+$14+$15+$18+$19+$20;
                          printf "%.2f", (bb - ba) / hz }'
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

run_torch() { # name args...
    name=$1; shift
    wait_idle
    say "torch $*"
    /usr/bin/python3 bench/embed/torch_bench.py --model "$MODEL" "$@" \
        >"$out/torch-$name.jsonl" 2>"$out/torch-$name.err" ||
        say "torch $name failed: $(tail -n 1 "$out/torch-$name.err")"
}

run_ort golden --mode golden
for t in $THREADS; do
    run_quire "${t}t" --mode bench --threads "$t" $q
    run_ort "${t}t" --mode bench --threads "$t" $q
done
run_quire cold --mode cold --threads 1 --runs "$COLD_RUNS"
run_quire cold-cli --mode cold-cli --cli build/quire --runs "$COLD_RUNS"
run_ort cold --mode cold --threads 1 --runs "$COLD_RUNS"

# ---- precisions and int8 peers (second table) --------------------------------------------
# quire bf16/int8, ORT with the int8 graph of quantize_onnx.py, PyTorch dynamic int8: the
# cases the targets of issue 14 name (batch 1 x 32 and 128 tokens, 32x128), per thread count,
# interleaved per thread count so that all engines of one row see the same machine.
if [ -z "${NO_PRECISIONS:-}" ]; then
    for t in $THREADS; do
        for p in $PRECISIONS; do
            run_quire "${t}t-$p" --mode bench --threads "$t" --precision "$p" \
                --cases b1_t32,b1_t128,b32_t128 $q
        done
        run_ort "${t}t-int8" --mode bench --threads "$t" --model "$ONNX8" \
            --cases b1_t32,b1_t128,b32_t128 $q
        [ -n "${NO_TORCH:-}" ] || run_torch "${t}t-int8" --variant int8 --threads "$t" $q
    done
    for p in $PRECISIONS; do
        run_quire "cold-$p" --mode cold --threads 1 --runs "$COLD_RUNS" --precision "$p"
    done
fi

fi # TABLE_ONLY

# ---- the table --------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
THREADS="$THREADS" OUT="$out" MODEL="$MODEL" ONNX="$ONNX" LOAD="$LOAD_START → $LOAD_END" \
    QUICK="$QUICK" PRECISIONS="$PRECISIONS" node - <<'EOF' | tee "$out/table.md"
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
    try { const o = JSON.parse(l); m[o.case] = o; } catch (e) { /* partial line */ }
  }
  return m;
}
function errOf(name) {
  const f = `${out}/${name}.err`;
  if (!fs.existsSync(f)) return '';
  const t = fs.readFileSync(f, 'utf8').trim().split('\n').filter((x) => x.trim());
  return t.length ? t[t.length - 1] : '';
}
const R = {};
for (const t of threads) { R[`quire${t}`] = load(`quire-${t}t`); R[`ort${t}`] = load(`ort-${t}t`); }
const qc = load('quire-cold'), oc = load('ort-cold'), og = load('ort-golden');
const qcli = load('quire-cold-cli');

const BUSY = 0.25; // other_cores above this marks a number with *
const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toFixed(d));
// ratio: how many times faster (or smaller) quire is; > 1 means quire wins
const speed = (q, o, higherIsBetter) => {
  if (q === undefined || o === undefined || !q || !o) return '—';
  return (higherIsBetter ? q / o : o / q).toFixed(2) + '×';
};

const rows = [];
for (const tok of [8, 32, 128, 512]) {
  for (const p of ['p50', 'p95', 'p99']) {
    rows.push({ label: `batch 1, ${tok} tokens, ${p.toUpperCase()} (ms)`, c: `b1_t${tok}`, k: `${p}_ms` });
  }
}
rows.push({ label: 'batch 32×128, sentences/s', c: 'b32_t128', k: 'sent_per_s', hib: true, d: 1 });
rows.push({ label: 'text→vector, batch 1, ~128 tokens, P50 (ms)', c: 'text_b1', k: 'p50_ms', qonly: true });
rows.push({ label: 'peak RSS of the bench process (MB)', c: 'peak_rss', k: 'peak_rss_kb', mb: true, d: 0 });

const lines = [];
const cpu = (os.cpus()[0] || {}).model || '?';
const oinfo = (R[`ort${threads[0]}`] || {}).info || {};
const qinfo = (R[`quire${threads[0]}`] || {}).info || {};
lines.push(`MiniLM-shaped model (6 layers, hidden 384, 12 heads, FFN 1536, fp32), ${cpu}, ` +
  `${os.cpus().length} cores; quire ${qinfo.quire_version || '(not run)'}` +
  `${qinfo.kernels ? ' [' + qinfo.kernels + ']' : ''} vs ONNX Runtime ${oinfo.ort_version || '?'} ` +
  `(onnxruntime-node, ${oinfo.node || 'node'}); 1-min load average ${process.env.LOAD}` +
  `${process.env.QUICK ? '; QUICK run (10× fewer iterations)' : ''}. ` +
  'Ratio = how many times faster (or smaller) quire is: > 1 means quire wins.');
lines.push('');
let head = '| metric |', sep = '|---|';
for (const t of threads) { head += ` quire ${t}t | ORT ${t}t | ratio |`; sep += '---:|---:|---:|'; }
lines.push(head, sep);
for (const r of rows) {
  let s = `| ${r.label} |`;
  for (const t of threads) {
    const qo = (R[`quire${t}`][r.c] || {})[r.k];
    const oo = r.qonly ? undefined : (R[`ort${t}`][r.c] || {})[r.k];
    const sc = (x) => (x === undefined ? undefined : (r.mb ? x / 1024 : x));
    let label = '';
    if (r.c === 'text_b1' && R[`quire${t}`][r.c]) label = ` (${R[`quire${t}`][r.c].tokens} tok)`;
    const mark = (eng) => (((R[`${eng}${t}`][r.c] || {}).other_cores || 0) > BUSY ? '*' : '');
    s += ` ${fmt(sc(qo), r.d ?? 2)}${mark('quire')}${label} | ` +
      `${r.qonly ? 'n/a' : fmt(sc(oo), r.d ?? 2) + mark('ort')} | ` +
      `${r.qonly ? '' : (r.mb ? speed(qo, oo, false) : speed(qo, oo, !!r.hib))} |`;
  }
  lines.push(s);
}
lines.push('');

// one-off numbers
const size = (p) => { try { return fs.statSync(p).size; } catch (e) { return undefined; } };
const MB = (b) => (b === undefined ? '—' : (b / 1048576).toFixed(1) + ' MB');
const qs = size(`${process.env.MODEL}/model.safetensors`), os_ = size(process.env.ONNX);
lines.push('| | quire | ORT | ratio |', '|---|---:|---:|---:|');
lines.push(`| weight file (model.safetensors / minilm.onnx) | ${MB(qs)} | ${MB(os_)} | ${speed(qs, os_, false)} |`);
const qcs = qc.cold_start, ocs = oc.cold_start;
const cmark = (o) => (o && (o.other_cores || 0) > BUSY ? '*' : '');
R.quire_cold = qc; R.ort_cold = oc; R.quire_cli = qcli;
lines.push(`| cold start: process start → first vector, median of ${(ocs || qcs || {}).runs || '?'} (ms) | ` +
  `${fmt(qcs && qcs.median_ms, 1)}${cmark(qcs)} | ${fmt(ocs && ocs.median_ms, 1)}${cmark(ocs)} | ${speed(qcs && qcs.median_ms, ocs && ocs.median_ms, false)} |`);
lines.push(`| … of which model load (ms) | ${fmt(qcs && qcs.load_ms + (qcs.embedder_ms || 0), 1)} | ` +
  `${fmt(ocs && ocs.load_ms, 1)} | |`);
lines.push(`| … of which first run, 32 tokens (ms) | ${fmt(qcs && qcs.first_run_ms, 1)} | ` +
  `${fmt(ocs && ocs.first_run_ms, 1)} | |`);
lines.push(`| peak RSS of the cold-start process (MB) | ${fmt(qcs && qcs.peak_rss_kb / 1024, 0)} | ` +
  `${fmt(ocs && ocs.peak_rss_kb / 1024, 0)} | ${speed(qcs && qcs.peak_rss_kb, ocs && ocs.peak_rss_kb, false)} |`);
const cli = qcli.cold_start_cli;
lines.push(`| cold start of the CLI: \`quire embed\` on one short line, median (ms) | ` +
  `${fmt(cli && cli.median_ms, 1)}${cmark(cli)} | n/a | |`);
lines.push('');

// contention
let worst = null;
for (const [k, m] of Object.entries(R)) {
  for (const o of Object.values(m)) {
    if (typeof o.other_cores === 'number' && (!worst || o.other_cores > worst.c)) worst = { c: o.other_cores, where: `${k}t ${o.case}` };
  }
}
const where = (w) => w.replace(/^(quire|ort)(\d+)t /, '$1 $2t ').replace(/^(quire|ort)_(cold|cli)t /, '$1 ');
if (worst && worst.c > BUSY) {
  lines.push(`* other processes used more than ${BUSY} cores while this number was measured ` +
    `(worst: ${worst.c} cores during ${where(worst.where)}); re-run on a quiet machine.`);
} else if (worst) {
  lines.push(`contention: other processes used at most ${worst.c} cores during any measurement.`);
}

// sanity
const qv = (qc.vector || {}).vec, ov = (oc.vector || {}).vec;
if (qv && ov && qv.length === ov.length) {
  let dot = 0, a = 0, b = 0, md = 0;
  for (let i = 0; i < qv.length; i++) {
    dot += qv[i] * ov[i]; a += qv[i] * qv[i]; b += ov[i] * ov[i];
    md = Math.max(md, Math.abs(qv[i] - ov[i]));
  }
  const cos = dot / Math.sqrt(a * b);
  lines.push(`sanity: cosine(quire, ORT) on the 32-token input = ${cos.toFixed(7)}, max |diff| = ` +
    `${md.toExponential(2)} ${cos >= 0.99999 ? '(ok)' : '(MISMATCH)'}`);
} else {
  lines.push(`sanity: cosine(quire, ORT) not available (quire: ${errOf('quire-cold') || errOf('quire-build') || 'no vector'})`);
}
if (og.golden) {
  lines.push(`sanity: ORT vs golden.jsonl (${og.golden.n} texts): min cosine ${og.golden.min_cosine.toFixed(7)}, ` +
    `max |diff| ${og.golden.max_abs_diff.toExponential(2)}`);
}
for (const t of threads) {
  if (!R[`quire${t}`].b1_t8) {
    const e = errOf(`quire-${t}t`) || errOf('quire-build');
    if (e) lines.push(`quire ${t}t: not measured — ${e}`);
  }
  if (!R[`ort${t}`].b1_t8) lines.push(`ORT ${t}t: not measured — ${errOf(`ort-${t}t`)}`);
}

// ---- table 2: precisions and int8 peers -------------------------------------------------
const precs = (process.env.PRECISIONS || '').trim().split(/\s+/).filter((x) => x);
const P = {};
for (const t of threads) {
  P[`fp32_${t}`] = R[`quire${t}`];
  for (const p of precs) P[`${p}_${t}`] = load(`quire-${t}t-${p}`);
  P[`ort_${t}`] = R[`ort${t}`];
  P[`ort8_${t}`] = load(`ort-${t}t-int8`);
  P[`torch8_${t}`] = load(`torch-${t}t-int8`);
}
const anyP = threads.some((t) => precs.some((p) => Object.keys(P[`${p}_${t}`]).length) ||
  Object.keys(P[`ort8_${t}`]).length);
if (anyP) {
  const cols = [['fp32', 'quire fp32'], ...precs.map((p) => [p, `quire ${p}`]),
    ['ort', 'ORT fp32'], ['ort8', 'ORT int8'], ['torch8', 'PyTorch int8']];
  const kern = (p) => ((P[`${p}_${threads[0]}`] || {}).info || {}).kernels;
  lines.push('');
  lines.push('Precisions and int8 peers, same run, same model and token ids. ' +
    cols.filter(([c]) => c !== 'ort' && c !== 'ort8' && c !== 'torch8').map(([c, n]) => `${n}: ${kern(c) || '?'}`).join('; ') +
    '. ORT int8 = build/models/minilm-int8.onnx (bench/embed/quantize_onnx.py: per-column int8 ' +
    'weights, per-tensor dynamic activations, MatMulIntegerToFloat); PyTorch int8 = ' +
    'quantize_dynamic on every nn.Linear (bench/embed/torch_bench.py, fbgemm). ' +
    'Ratios: how many times faster quire is (> 1: quire wins); "int8 peer" = the faster of ORT int8 and PyTorch int8.');
  lines.push('');
  let h = '| metric |', sp = '|---|';
  for (const [, n] of cols) { h += ` ${n} |`; sp += '---:|'; }
  const rcols = [];
  if (precs.includes('bf16')) rcols.push(['bf16', 'ort', 'bf16 ÷ ORT fp32']);
  if (precs.includes('int8')) rcols.push(['int8', 'ort', 'int8 ÷ ORT fp32'], ['int8', 'peer8', 'int8 ÷ int8 peer']);
  for (const [, , n] of rcols) { h += ` ${n} |`; sp += '---:|'; }
  lines.push(h, sp);
  const val = (c, t, cs, k) => {
    if (c === 'peer8') {
      const a = val('ort8', t, cs, k), b = val('torch8', t, cs, k);
      if (a === undefined) return b;
      if (b === undefined) return a;
      return k === 'sent_per_s' ? Math.max(a, b) : Math.min(a, b);
    }
    return ((P[`${c}_${t}`] || {})[cs] || {})[k];
  };
  const prow = [];
  for (const t of threads) {
    prow.push({ l: `batch 32×128, sentences/s, ${t}t`, t, c: 'b32_t128', k: 'sent_per_s', hib: true, d: 1 });
    prow.push({ l: `… CPU time per batch (ms), ${t}t`, t, c: 'b32_t128', k: 'cpu_ms', d: 0 });
    for (const tok of [32, 128]) {
      for (const pp of ['p50', 'p95']) prow.push({ l: `batch 1, ${tok} tokens, ${pp.toUpperCase()} (ms), ${t}t`, t, c: `b1_t${tok}`, k: `${pp}_ms` });
    }
  }
  for (const r of prow) {
    let s = `| ${r.l} |`;
    for (const [c] of cols) {
      const o = (P[`${c}_${r.t}`] || {})[r.c] || {};
      s += ` ${fmt(o[r.k], r.d ?? 2)}${(o.other_cores || 0) > BUSY ? '*' : ''} |`;
    }
    for (const [a, b] of rcols) s += ` ${speed(val(a, r.t, r.c, r.k), val(b, r.t, r.c, r.k), !!r.hib)} |`;
    lines.push(s);
  }
  let cs = '| cold start to the first vector, median (ms), 1t |';
  for (const [c] of cols) {
    const o = c === 'fp32' ? qc : (c === 'ort' ? oc : (precs.includes(c) ? load(`quire-cold-${c}`) : {}));
    cs += ` ${fmt(o.cold_start && o.cold_start.median_ms, 1)} |`;
  }
  for (let i = 0; i < rcols.length; i++) cs += ' |';
  lines.push(cs);
  lines.push('');
  lines.push('`*`: other processes used more than ' + BUSY + ' cores during that measurement. CPU time per batch ' +
    'is each process\'s own CPU time (all its threads): on a busy machine, at 1 thread, it is the steadier figure.');
}
console.log(lines.join('\n'));
EOF
