#!/bin/sh
# bench/vlm/batch.sh — the issue-12 batch figures, against the replaying server
# (build/tests/vlm_replay; no network, no model: what quire owns, not model quality):
#   1. the 325-document run: the born-digital corpus repeated (copies under other names,
#      so nothing is "up to date") plus every scanned corpus page, one `quire convert
#      --vlm auto` batch; prints the per-PDF report (time, peak RSS, pages, methods,
#      errors) from --report, and the share of documents processed (target >= 99 %);
#   2. overhead: 500 pages `--vlm always` with [resources] max_workers = 8 against a
#      backend that answers at once: pages/s and CPU seconds per page (rendering + PNG
#      encoding + HTTP + parsing; target >= 20 pages/s on 2 cores) and peak RSS (target
#      < 300 MB), beside the same 500 pages read from the text layer only (the peer, same
#      run).
# Figures only (nothing asserted). CPU seconds (user+sys) are the figure to compare on a
# loaded machine; "pages/s per 2 CPU-s" = 2 / (CPU s per page).
# Usage: sh bench/vlm/batch.sh [BUILD] (default build). ~10 min on 2 loaded cores.
B=${1:-build}
Q=$B/quire
R=$B/tests/vlm_replay
SHARED=${QUIRE_SHARED:-../shared}
C=$SHARED/corpus
T=$(mktemp -d)
. "$(dirname "$0")/../../tests/tools/vlm_replay.sh" # serve NAME ARGS, stop_all; EXIT trap
export QUIRE_VLM_BACKOFF_S=0.01
unset QUIRE_CONFIG
PY=/usr/bin/python3
[ -x "$Q" ] && [ -x "$R" ] || { echo "batch.sh: build $Q and $R first (make && make tests)"; exit 1; }
config() { # FILE PORT MAX_WORKERS
    { echo "[resources]"; echo "max_workers = $3"; echo "page_render_dpi = 200"
      echo "http_retry_attempts = 2"; echo "[backends]"; echo 'default = "ds"'
      echo "[backends.ds]"; echo 'protocol = "deepseek"'
      echo "base_url = \"http://127.0.0.1:$2/v1\""; echo 'model = "deepseek-ai/DeepSeek-OCR"'
      echo "max_concurrency = $3"
    } > "$1"
}
cpu() { # the "user+sys" of a /usr/bin/time -f '%U %S %M' file
    awk 'END {printf "%.1f", $1 + $2}' "$1"
}
rss() { awk 'END {printf "%d", $3 / 1024}' "$1"; }

# ---- 1. 325 documents ----------------------------------------------------------------
mkdir -p "$T/in325"
n_scan=0
for f in "$C"/scanned/*.pdf; do cp "$f" "$T/in325/"; n_scan=$((n_scan + 1)); done
i=0; k=0
while [ $((n_scan + k)) -lt 325 ]; do
    i=$((i + 1))
    for f in "$C"/born/*.pdf; do
        [ $((n_scan + k)) -ge 325 ] && break
        b=$(basename "$f" .pdf)
        cp "$f" "$T/in325/$b-copy$i.pdf"; k=$((k + 1))
    done
done
echo "== 1. $((n_scan + k)) documents ($n_scan scanned + $k born-digital copies, the corpus x$i), --vlm auto, replaying DeepSeek-OCR (vLLM)"
serve a --flavor vllm
config "$T/q.toml" "$PORT" 8
echo "   quire convert --vlm auto --config q.toml -q -o out --report r.json in325/   (max_workers 8)"
/usr/bin/time -f '%U %S %M' -o "$T/t1" "$Q" convert --vlm auto --config "$T/q.toml" -q \
    -o "$T/out1" --report "$T/r1.json" "$T/in325" 2> "$T/e1"
echo "   exit $? (3 = partial: blank pages in the corpus count, as without --vlm); CPU $(cpu "$T/t1") s; peak RSS $(rss "$T/t1") MB; VLM requests $(grep -c '"kind"' "$T/a.log")"
tail -2 "$T/e1" | sed 's/^/   stderr: /'
$PY - "$T/r1.json" <<'PYEOF'
import collections, json, sys
r = json.load(open(sys.argv[1]))
docs = r["documents"]
# peak_rss_kb is the process' high-water mark when the document ended (documents run
# side by side in one process: there is no per-document figure)
print("   %-46s %6s %8s %7s %5s %5s %5s %4s %5s  %s" % ("document", "status", "ms", "RSS* MB",
      "pages", "text", "ocr", "vlm", "empty", "errors"))
for d in sorted(docs, key=lambda d: d["path"]):
    m = collections.Counter(p["method"] for p in d.get("pages", []))
    err = d.get("error") or ""
    fails = [p for p in d.get("pages", []) if p["status"] == "failed"]
    if fails and not err:
        err = "%d pages failed" % len(fails)
    print("   %-46s %6s %8.0f %7d %5d %5d %5d %4d %5d  %s" % (d["path"].rsplit("/", 1)[-1][:46],
          d["status"], d.get("ms") or 0, (d.get("peak_rss_kb") or 0) // 1024, d.get("n_pages") or 0,
          m["text"], m["ocr"], m["vlm"], len(d.get("empty_pages") or []), err[:70]))
t = r["totals"]
done = sum(d["status"] in ("ok", "partial") for d in docs)
pages = [p for d in docs for p in d.get("pages", [])]
st = collections.Counter(p["status"] for p in pages)
mt = collections.Counter(p["method"] for p in pages)
print("   RSS*: the process' peak when the document ended (documents run side by side)")
print("   processed %d of %d documents (%.1f %%; %d partial, %d failed); %d pages (%s; status %s)" % (
      done, len(docs), 100.0 * done / max(1, len(docs)), t["partial"], t["failed"], len(pages),
      ", ".join("%s %d" % kv for kv in sorted(mt.items())), dict(st)))
print("   %.1f s wall, %.1f pages/s (%.0f pages/min), CPU %.1f s, peak RSS %d MB" % (
      t["seconds"], t["pages_per_s"], t["pages_per_min"], t["cpu_seconds"], t["peak_rss_kb"] // 1024))
PYEOF
stop_all

# ---- 2. overhead: 500 pages, --vlm always, max_workers 8, instant backend --------------
mkdir -p "$T/in500"
for i in 1 2 3 4 5; do cp "$C/born/long-r-intro.pdf" "$T/in500/r-intro-$i.pdf"; done
echo "== 2. overhead: 500 pages (long-r-intro x5, --max-pages 100), --vlm always, max_workers 8, instant backend"
serve a --flavor vllm
config "$T/q.toml" "$PORT" 8
echo "   quire convert --vlm always --config q.toml --max-pages 100 -q -o out --report r.json in500/"
/usr/bin/time -f '%U %S %M' -o "$T/t2" "$Q" convert --vlm always --config "$T/q.toml" --max-pages 100 \
    -q -o "$T/out2" --report "$T/r2.json" "$T/in500" 2> "$T/e2"
echo "   exit $?; VLM requests $(grep -c '"kind"' "$T/a.log")"
/usr/bin/time -f '%U %S %M' -o "$T/t2t" "$Q" convert --ocr never -j 8 --max-pages 100 -q \
    -o "$T/out2t" --report "$T/r2t.json" "$T/in500" 2> "$T/e2t"
$PY - "$T/r2.json" "$T/t2" "$T/r2t.json" "$T/t2t" <<'PYEOF'
import json, sys
for name, rf, tf in (("vlm always", sys.argv[1], sys.argv[2]),
                     ("text layer only (peer, same pages)", sys.argv[3], sys.argv[4])):
    t = json.load(open(rf))["totals"]
    u, s, m = open(tf).read().split()[-3:]
    cpu = float(u) + float(s)
    print("   %-36s %4d pages  %6.1f s  %6.1f pages/s  CPU %5.1f s (%.1f ms/page; %.0f pages/s per 2 CPU-s)  peak RSS %d MB" % (
          name, t["pages"], t["seconds"], t["pages_per_s"], cpu, 1000 * cpu / max(1, t["pages"]),
          2 * t["pages"] / max(cpu, 1e-9), int(m) // 1024))
PYEOF
stop_all
echo "   CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
