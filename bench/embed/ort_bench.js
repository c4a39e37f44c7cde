#!/usr/bin/env node
// bench/embed/ort_bench.js — the ONNX Runtime side of bench/embed.
//
// Runs the exported MiniLM-shaped model (build/models/minilm.onnx) with onnxruntime-node
// 1.30.0 (installed by bench/embed/setup.sh under build/ort) and prints JSON lines in the
// same format as bench_embed.c prints for quire. No C header for the ORT C API ships in the
// npm package (nor in Debian 12), so this driver uses the package's own JS API.
//
//   node bench/embed/ort_bench.js [--mode bench|cold|cold-child|golden] [--threads N]
//        [--model build/models/minilm.onnx] [--runs 5] [--quick] [--api js|native]
//        [--cases b1_t8,b1_t32,b1_t128,b1_t512,b32_t128]
//
// Modes
//   bench       (default) batch-1 latency at 8/32/128/512 tokens, sentences/s at 32x128,
//               peak RSS of this process; all on --threads intra-op threads.
//   cold        spawns itself in cold-child mode --runs times; cold start = wall clock from
//               spawn to the first byte of the child's first vector on the parent's pipe.
//   cold-child  load ORT + model, embed the sanity input (batch 1, 32 tokens), print it.
//   golden      compare ORT's sentence_embedding with models/minilm-random/golden.jsonl.
//
// Session: intraOpNumThreads = N, interOpNumThreads = 1, graphOptimizationLevel 'all',
// executionMode 'sequential'; only 'sentence_embedding' is fetched. Latency is measured with
// process.hrtime.bigint() around `await session.run(...)` only (--api js), or around the
// node binding's synchronous run (--api native: skips the JS wrapper and its setImmediate hop;
// for judging how much of the number is node, not ORT).
//
// Token ids (identical in bench_embed.c): row b of a B x T input is
//   101, then T-2 ids 1000 + (s >> 8) % 28000 with s = s * 1664525 + 1013904223 (mod 2^32),
//   then 102; s starts at 7919 * T + B and continues across rows. Mask 1, token types 0.
'use strict';

const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..');
const t_process = performance.now(); // ms since process start (timeOrigin)

// ---- arguments ---------------------------------------------------------------------------
const args = {
  mode: 'bench', threads: 1, runs: 5, quick: false, api: 'js',
  model: path.join(REPO, 'build/models/minilm.onnx'),
  ort: path.join(REPO, 'build/ort/node_modules/onnxruntime-node'),
  golden: null, n_golden: 20,
};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const val = () => {
    if (i + 1 >= process.argv.length) die(`${a} needs a value`);
    return process.argv[++i];
  };
  if (a === '--mode') args.mode = val();
  else if (a === '--threads') args.threads = parseInt(val(), 10);
  else if (a === '--model') args.model = path.resolve(val());
  else if (a === '--ort') args.ort = path.resolve(val());
  else if (a === '--runs') args.runs = parseInt(val(), 10);
  else if (a === '--golden') args.golden = path.resolve(val());
  else if (a === '--n-golden') args.n_golden = parseInt(val(), 10);
  else if (a === '--api') args.api = val();
  else if (a === '--quick') args.quick = true;
  else if (a === '--cases') args.cases = val().split(',');
  else if (a === '-h' || a === '--help') {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 30)
      .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  } else die(`unknown argument ${a}`);
}
if (!(args.threads >= 1)) die('--threads must be >= 1');
if (!['js', 'native'].includes(args.api)) die('--api must be js or native');

function die(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(2);
}

function emit(obj) {
  process.stdout.write(JSON.stringify(Object.assign({ engine: 'ort' }, obj)) + '\n');
}

function vmHWMkB() {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseInt(m[1], 10);
  } catch (e) { /* fall through */ }
  return Math.round(process.resourceUsage().maxRSS); // kB on Linux
}

// CPU used by other processes (and stolen by the hypervisor) while a case ran, in cores:
// (system-wide busy time from /proc/stat - this process's CPU time) / wall time.
function cpuMark() {
  let busy = NaN;
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    busy = (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / 100; // USER_HZ = 100 on Linux
  } catch (e) { /* not Linux */ }
  const u = process.cpuUsage();
  return { busy, own: (u.user + u.system) / 1e6, wall: performance.now() / 1000 };
}
function otherCores(a, b) {
  const wall = b.wall - a.wall;
  if (!(wall > 0) || Number.isNaN(a.busy)) return null;
  return Math.max(0, Math.round(((b.busy - a.busy) - (b.own - a.own)) / wall * 100) / 100);
}

// ---- inputs ------------------------------------------------------------------------------
function makeIds(batch, tokens) {
  let s = (7919 * tokens + batch) >>> 0;
  const ids = new Array(batch * tokens);
  for (let b = 0; b < batch; b++) {
    const row = b * tokens;
    ids[row] = 101;
    for (let j = 1; j < tokens - 1; j++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      ids[row + j] = 1000 + ((s >>> 8) % 28000);
    }
    ids[row + tokens - 1] = 102;
  }
  return ids;
}

let ort = null;
function loadOrt() {
  if (!ort) {
    if (!fs.existsSync(path.join(args.ort, 'package.json'))) {
      die(`onnxruntime-node not found at ${args.ort} (run sh bench/embed/setup.sh)`);
    }
    ort = require(args.ort);
  }
  return ort;
}

function sessionOptions(threads) {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
}

// A runner hides the two ways of calling ORT: run(feeds) -> Float32Array of B*384.
async function openRunner(threads) {
  const o = loadOrt();
  if (!fs.existsSync(args.model)) die(`model ${args.model} not found (run sh bench/embed/setup.sh)`);
  if (args.api === 'js') {
    const session = await o.InferenceSession.create(args.model, sessionOptions(threads));
    const fetch = ['sentence_embedding'];
    return {
      feeds(batch, tokens, ids) {
        const n = batch * tokens;
        const mk = (a) => new o.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), [batch, tokens]);
        return {
          input_ids: mk(ids),
          attention_mask: mk(new Array(n).fill(1)),
          token_type_ids: mk(new Array(n).fill(0)),
        };
      },
      async run(feeds) {
        const r = await session.run(feeds, fetch);
        return r.sentence_embedding.data;
      },
    };
  }
  // native: the node binding's synchronous InferenceSession (what session.run wraps).
  const { binding, initOrt } = require(path.join(args.ort, 'dist/binding'));
  initOrt();
  const s = new binding.InferenceSession();
  s.loadModel(args.model, sessionOptions(threads));
  const fetches = { sentence_embedding: null };
  return {
    feeds(batch, tokens, ids) {
      const n = batch * tokens;
      const mk = (a) => new o.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), [batch, tokens]);
      return {
        input_ids: mk(ids),
        attention_mask: mk(new Array(n).fill(1)),
        token_type_ids: mk(new Array(n).fill(0)),
      };
    },
    async run(feeds) {
      return s.run(feeds, fetches, {}).sentence_embedding.data;
    },
  };
}

// nearest-rank percentile of a sorted array (same rule as bench_embed.c)
function pct(sorted, p) {
  let k = Math.ceil((p / 100) * sorted.length) - 1;
  if (k < 0) k = 0;
  if (k >= sorted.length) k = sorted.length - 1;
  return sorted[k];
}
const r3 = (x) => Math.round(x * 1000) / 1000;

// ---- modes -------------------------------------------------------------------------------
async function modeBench() {
  const t0 = performance.now();
  const runner = await openRunner(args.threads);
  emit({ case: 'info', threads: args.threads, api: args.api, model: path.relative(REPO, args.model),
    model_bytes: fs.statSync(args.model).size, ort_version: loadOrt().env.versions.common,
    load_ms: r3(performance.now() - t0), node: process.version });

  const q = args.quick ? 0.1 : 1;
  const cases = [[8, 200, 10], [32, 200, 10], [128, 200, 10], [512, 50, 3]];
  const want = (name) => !args.cases || args.cases.includes(name);
  for (const [tokens, iters0, warm] of cases) {
    if (!want(`b1_t${tokens}`)) continue;
    const iters = Math.max(5, Math.round(iters0 * q));
    const feeds = runner.feeds(1, tokens, makeIds(1, tokens));
    for (let i = 0; i < warm; i++) await runner.run(feeds);
    const lat = new Float64Array(iters);
    const m0 = cpuMark();
    for (let i = 0; i < iters; i++) {
      const a = process.hrtime.bigint();
      await runner.run(feeds);
      const b = process.hrtime.bigint();
      lat[i] = Number(b - a) / 1e6;
    }
    const other = otherCores(m0, cpuMark());
    const mean = lat.reduce((x, y) => x + y, 0) / iters;
    lat.sort();
    emit({ case: `b1_t${tokens}`, threads: args.threads, batch: 1, tokens, iters,
      p50_ms: r3(pct(lat, 50)), p95_ms: r3(pct(lat, 95)), p99_ms: r3(pct(lat, 99)),
      mean_ms: r3(mean), min_ms: r3(lat[0]), other_cores: other });
  }

  if (want('b32_t128')) {
    const batch = 32, tokens = 128, warm = 2;
    const iters = args.quick ? 2 : 10;
    const feeds = runner.feeds(batch, tokens, makeIds(batch, tokens));
    for (let i = 0; i < warm; i++) await runner.run(feeds);
    const lat = new Float64Array(iters);
    let total = 0;
    const m0 = cpuMark();
    for (let i = 0; i < iters; i++) {
      const a = process.hrtime.bigint();
      await runner.run(feeds);
      const b = process.hrtime.bigint();
      lat[i] = Number(b - a) / 1e6;
      total += lat[i];
    }
    const m1 = cpuMark();
    const other = otherCores(m0, m1);
    lat.sort();
    // cpu_ms: this process's CPU time per batch (all threads), as bench_embed's
    emit({ case: 'b32_t128', threads: args.threads, batch, tokens, iters,
      sent_per_s: r3((batch * iters) / (total / 1000)), p50_ms: r3(pct(lat, 50)),
      mean_ms: r3(total / iters), cpu_ms: r3((m1.own - m0.own) * 1000 / iters), other_cores: other });
  }
  emit({ case: 'peak_rss', threads: args.threads, peak_rss_kb: vmHWMkB() });
}

// Child of `cold`: everything from process start to the first vector, then one line.
async function modeColdChild() {
  const t_start = performance.now();
  loadOrt();
  const t_req = performance.now();
  const runner = await openRunner(args.threads);
  const t_load = performance.now();
  const ids = makeIds(1, 32);
  const vec = await runner.run(runner.feeds(1, 32, ids));
  const t_vec = performance.now();
  const u = process.cpuUsage();
  // Whole line in one write: the parent stamps the arrival of its first byte.
  emit({ case: 'cold_child', tokens: 32, threads: args.threads, peak_rss_kb: vmHWMkB(),
    t_main_ms: r3(t_start), require_ms: r3(t_req - t_start), load_ms: r3(t_load - t_req),
    first_run_ms: r3(t_vec - t_load), in_process_ms: r3(t_vec), cpu_s: (u.user + u.system) / 1e6,
    vec: Array.from(vec) });
  void t_process;
}

function spawnColdChild() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let t1 = null;
    let out = '';
    let err = '';
    const child = spawn(process.execPath, [__filename, '--mode', 'cold-child', '--threads',
      String(args.threads), '--model', args.model, '--ort', args.ort, '--api', args.api],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => {
      if (t1 === null) t1 = process.hrtime.bigint();
      out += d;
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const t2 = process.hrtime.bigint();
      if (code !== 0 || t1 === null) {
        reject(new Error(`cold child failed (exit ${code}): ${err.trim()}`));
        return;
      }
      resolve({ first_ms: Number(t1 - t0) / 1e6, exit_ms: Number(t2 - t0) / 1e6,
        line: JSON.parse(out.split('\n')[0]) });
    });
  });
}

async function modeCold() {
  const runs = [];
  const m0 = cpuMark();
  for (let i = 0; i < args.runs; i++) runs.push(await spawnColdChild());
  const m1 = cpuMark();
  // the children's CPU time counts as ours
  m1.own += runs.reduce((acc, r) => acc + (r.line.cpu_s || 0), 0);
  const other = otherCores(m0, m1);
  const first = runs.map((r) => r.first_ms).sort((a, b) => a - b);
  const exit = runs.map((r) => r.exit_ms).sort((a, b) => a - b);
  const rss = runs.map((r) => r.line.peak_rss_kb).sort((a, b) => a - b);
  const inproc = runs.map((r) => r.line.in_process_ms).sort((a, b) => a - b);
  const med = (a) => a[Math.floor((a.length - 1) / 2)];
  // the breakdown is taken from the run with the median cold start
  const l0 = runs.find((r) => r.first_ms === med(first)).line;
  emit({ case: 'cold_start', threads: args.threads, runs: runs.length, tokens: 32,
    median_ms: r3(med(first)), min_ms: r3(first[0]), max_ms: r3(first[first.length - 1]),
    exit_median_ms: r3(med(exit)), in_process_median_ms: r3(med(inproc)),
    require_ms: l0.require_ms, load_ms: l0.load_ms, first_run_ms: l0.first_run_ms,
    peak_rss_kb: med(rss), other_cores: other });
  emit({ case: 'vector', tokens: 32, dims: l0.vec.length, vec: l0.vec });
}

async function modeGolden() {
  const file = args.golden ||
    path.resolve(REPO, process.env.QUIRE_SHARED || '../shared', 'models/minilm-random/golden.jsonl');
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  const runner = await openRunner(args.threads);
  let minCos = 1, maxDiff = 0, n = 0;
  for (const l of lines.slice(0, args.n_golden)) {
    const g = JSON.parse(l);
    const buf = Buffer.from(g.emb_f32_b64, 'base64');
    const want = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const got = await runner.run(runner.feeds(1, g.ids.length, g.ids));
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < want.length; i++) {
      dot += want[i] * got[i]; na += want[i] * want[i]; nb += got[i] * got[i];
      maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
    n++;
  }
  emit({ case: 'golden', file: path.relative(REPO, file), n, min_cosine: minCos,
    max_abs_diff: maxDiff });
}

const modes = { bench: modeBench, cold: modeCold, 'cold-child': modeColdChild, golden: modeGolden };
if (!modes[args.mode]) die(`unknown --mode ${args.mode}`);
modes[args.mode]().catch((e) => die(e && e.stack ? e.stack : String(e)));
