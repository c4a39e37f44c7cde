#!/bin/sh
# bench/search/run.sh — quire's HNSW next to hnswlib and FAISS IndexHNSWFlat on the same
# seeded data (100k x 384 normalised vectors, a 100-cluster Gaussian mixture, 1000
# queries from the same mixture; exact top-10 as ground truth), then exact search
# against the machine's single-thread read bandwidth. About 4-5 minutes on 2 cores.
#
#   sh bench/search/run.sh
#
# Environment: M (default 16), EFC (ef_construction, default 200), EFS (ef list),
# M32=1 (also sweep quire and hnswlib at M=32; +2 min), N (base size, default 100000),
# SKIP_SETUP=1, NO_FAISS=1, TABLE_ONLY=1 (reprint the table from the last raw results).
# Raw lines go to build/bench/search-results/raw.txt, the table to stdout and table.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
M=${M:-16}
EFC=${EFC:-200}
EFS=${EFS:-16,24,32,48,64,96,128,192,256}
N=${N:-100000}
out=build/bench/search-results
data=build/bench/search_data_$N.bin
raw=$out/raw.txt
say() { echo "run: $*" >&2; }

if [ -z "${TABLE_ONLY:-}" ]; then
    [ -n "${SKIP_SETUP:-}" ] || sh "$here/setup.sh" || { say "setup failed"; exit 1; }
    make -j2 bench-search >/dev/null || { say "build failed"; exit 1; }
    mkdir -p "$out"
    : > "$raw"
    if [ ! -f "$data" ]; then
        say "generating $data"
        build/bench/bench_search gen "$data" --n "$N" || exit 1
    fi
    say "quire (M=$M)"
    build/bench/bench_search run "$data" --m "$M" --efc "$EFC" --efs "$EFS" | tee -a "$raw" >&2
    say "hnswlib (M=$M)"
    build/bench/search_peers "$data" --m "$M" --efc "$EFC" --efs "$EFS" --no-faiss | tee -a "$raw" >&2
    if [ -z "${NO_FAISS:-}" ]; then
        say "faiss (M=$M)"
        build/bench/search_peers "$data" --m "$M" --efc "$EFC" --efs "$EFS" --no-hnswlib \
            --threads 1 | tee -a "$raw" >&2
    fi
    if [ -n "${M32:-}" ]; then
        say "M=32"
        build/bench/bench_search run "$data" --m 32 --efc "$EFC" --efs "$EFS" --threads 1 \
            --no-exact | tee -a "$raw" >&2
        build/bench/search_peers "$data" --m 32 --efc "$EFC" --efs "$EFS" --threads 1 \
            --no-faiss | tee -a "$raw" >&2
    fi
fi
[ -f "$raw" ] || { say "no results"; exit 1; }

awk -v n="$N" '
function kv(s,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
$1 == "BUILD" { delete v; kv(); b[$2 "|" v["M"] "|" v["threads"]] = sprintf("%8.1f s %8.0f/s", v["secs"], v["ips"]); libs[$2] = 1; ms[v["M"]] = 1 }
$1 == "RES"   { delete v; kv(); key = $2 "|" v["M"]; r[key "|" v["ef"]] = v["recall"]; q[key "|" v["ef"]] = v["qps"];
                if (!(v["ef"] in efseen)) { efs[++nef] = v["ef"]; efseen[v["ef"]] = 1 }
                if (v["recall"] >= 0.95 && !(key in at95)) { at95[key] = v["ef"]; qps95[key] = v["qps"]; rec95[key] = v["recall"] } }
$1 == "EXACT" { delete v; kv(); eq = v["qps"]; eg = v["gbs"] }
$1 == "MEMBW" { delete v; kv(); bw = v["gbs"] }
END {
  printf "## quire HNSW vs hnswlib vs FAISS — %d x 384 normalised, 100-cluster Gaussian mixture, 1000 queries, k=10\n\n", n
  printf "### Build (ef_construction from the run, inserts/s)\n\n| library | M | threads | time | inserts/s |\n|---|---|---|---|---|\n"
  split("quire hnswlib faiss", L, " ")
  for (mm in ms) for (i = 1; i <= 3; i++) for (t = 1; t <= 2; t++) { k = L[i] "|" mm "|" t; if (k in b) { split(b[k], x, " "); printf "| %s | %s | %d | %s s | %s |\n", L[i], mm, t, x[1], x[3] } }
  for (mm in ms) {
    printf "\n### Recall@10 / QPS, batch 1, 1 thread, M=%s\n\n| ef |", mm
    for (i = 1; i <= 3; i++) if ((L[i] "|" mm "|" efs[1]) in r) printf " %s recall | %s QPS |", L[i], L[i]
    printf "\n|---|"; for (i = 1; i <= 3; i++) if ((L[i] "|" mm "|" efs[1]) in r) printf "---|---|"; printf "\n"
    for (e = 1; e <= nef; e++) { printf "| %s |", efs[e]; for (i = 1; i <= 3; i++) { k = L[i] "|" mm "|" efs[e]; if ((L[i] "|" mm "|" efs[1]) in r) printf " %s | %s |", (k in r ? r[k] : "-"), (k in q ? q[k] : "-") } printf "\n" }
    printf "\nFirst ef with recall >= 0.95:"
    for (i = 1; i <= 3; i++) { k = L[i] "|" mm; if (k in at95) printf " %s ef=%s (recall %s, %s QPS);", L[i], at95[k], rec95[k], qps95[k] }
    kq = "quire|" mm; kh = "hnswlib|" mm
    if ((kq in qps95) && (kh in qps95)) printf "\n**QPS ratio quire/hnswlib at recall >= 0.95: %.2fx**\n", qps95[kq] / qps95[kh]
    printf "\n"
  }
  if (eq != "") printf "\n### Exact search (1 thread, %.1f MB per query)\n\n| QPS | GB/s | measured read bandwidth (best of 1/2/4/8-stream sums over 1 GiB) | %% of bound |\n|---|---|---|---|\n| %s | %s | %s GB/s | %.0f%% |\n", n * 384 * 4 / 1e6, eq, eg, bw, 100 * eg / bw
}' "$raw" | tee "$out/table.md"
