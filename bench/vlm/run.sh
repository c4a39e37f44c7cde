#!/bin/sh
# bench/vlm/run.sh — the VLM path against the replaying server (build/tests/vlm_replay):
#   1. overhead: --vlm always with a backend that answers at once (pages/s = rendering +
#      PNG encoding + HTTP + parsing, the part quire owns), peak RSS;
#   2. every scanned corpus page with 30 % injected failures of every kind on two
#      backends: pages lost (must be 0) and the final methods;
#   3. loop rejection: looping answers (repeated cells, near-duplicate lines, `length`,
#      garbage), each sent twice per page: share rejected, and whether any reached the
#      Markdown;
#   4. Retry-After accuracy: measured wait vs the header (1 and 2 s).
# Figures only (nothing asserted). Usage: sh bench/vlm/run.sh [BUILD] (default build).
B=${1:-build}
Q=$B/quire
R=$B/tests/vlm_replay
SHARED=${QUIRE_SHARED:-../shared}
C=$SHARED/corpus
T=$(mktemp -d)
. "$(dirname "$0")/../../tests/tools/vlm_replay.sh" # serve NAME ARGS, stop_all; EXIT trap
export QUIRE_VLM_BACKOFF_S=0.01
config() { # FILE PORT [PORT2] [DPI]
    { echo "[resources]"; echo "page_render_dpi = ${4:-200}"; echo "http_retry_attempts = 2"
      echo "[backends]"; echo 'default = "ds"'
      [ -n "$3" ] && echo 'fallback_chain = ["ds", "local"]'
      echo "[backends.ds]"; echo 'protocol = "deepseek"'
      echo "base_url = \"http://127.0.0.1:$2/v1\""; echo 'model = "deepseek-ai/DeepSeek-OCR"'
      if [ -n "$3" ]; then echo "[backends.local]"; echo 'protocol = "generic"'
          echo "base_url = \"http://127.0.0.1:$3\""; echo 'model = "deepseek-ai/DeepSeek-OCR"'; fi
    } > "$1"
}
PY=/usr/bin/python3

echo "== 1. overhead with an instant backend (--vlm always, -j 2, 200 dpi fitted to 1288 px)"
serve a --flavor vllm
config "$T/q.toml" "$PORT"
DOC=$C/born/long-r-intro.pdf
"$Q" convert --vlm always --config "$T/q.toml" -j 2 -q --report "$T/r1.json" "$DOC" > /dev/null
"$Q" convert -j 2 -q --ocr never --report "$T/r1t.json" "$DOC" > /dev/null
$PY -c "
import json
for name, f in (('vlm always', '$T/r1.json'), ('text layer only (peer: same doc)', '$T/r1t.json')):
    t = json.load(open(f))['totals']
    print('  %-32s %4d pages  %6.1f s  %6.1f pages/s  peak RSS %d MB' % (name, t['pages'], t['seconds'], t['pages_per_s'], t['peak_rss_kb'] // 1024))"
stop_all

echo "== 2. all scanned pages, 30 % injected failures on both backends, Tesseract last"
serve a --flavor vllm --fail-rate 0.3 --seed 3 --retry-after 0 --slow-ms 1500
P1=$PORT
serve b --flavor ollama --fail-rate 0.3 --seed 5 --retry-after 0 --slow-ms 1500
config "$T/q.toml" "$P1" "$PORT"
"$Q" convert --vlm always --config "$T/q.toml" -j 2 -q -o "$T/out2" --report "$T/r2.json" "$C/scanned" 2> /dev/null
$PY -c "
import json, collections
r = json.load(open('$T/r2.json'))
pages = [p for d in r['documents'] for p in d['pages']]
m = collections.Counter(p['method'] for p in pages)
s = collections.Counter(p['status'] for p in pages)
att = [a for p in pages for a in p['vlm']['attempts']]
print('  pages %d, lost (failed) %d, methods %s, status %s, attempts %d (%d rejected or failed)' % (
    len(pages), s.get('failed', 0), dict(m), dict(s), len(att), sum(not a['accepted'] for a in att)))"
echo "  injected: $(grep -v '"kind":"ok"' "$T/a.log" "$T/b.log" | grep -c '"kind"') of $(grep -c '"kind"' "$T/a.log" "$T/b.log" | awk -F: '{s+=$2} END {print s}') requests"
echo "  loop text in the Markdown: $(grep -l '<td>0.00</td><td>0.00</td>\|Revenue for the quarter\|the the of of' "$T/out2"/*.md 2>/dev/null | wc -l) files"
stop_all

echo "== 3. loop rejection (each kind twice per page: first answer and the hotter retry)"
SCAN=$C/scanned/scan-long-r-intro-p24-mild150.pdf
total=0; rejected=0; leaked=0
for kind in loop nearloop length garbage; do
    for i in 1 2 3 4 5; do
        serve a --flavor vllm --script "$kind,$kind"
        config "$T/q.toml" "$PORT" "" 100
        for s in 0 1; do
            QUIRE_VLM_STREAM=$s "$Q" convert --vlm always --ocr never --allow-empty --config "$T/q.toml" \
                --report "$T/r3.json" "$SCAN" > "$T/o3.md" 2> /dev/null
            n=$($PY -c "
import json; a=json.load(open('$T/r3.json'))['documents'][0]['pages'][0]['vlm']['attempts']
print(len(a), sum(not x['accepted'] for x in a))")
            total=$((total + ${n% *})); rejected=$((rejected + ${n#* }))
            grep -q '<td>0.00</td><td>0.00</td>\|Revenue for the quarter\|the the of of' "$T/o3.md" && leaked=$((leaked + 1))
            [ $s -eq 0 ] && { stop_all; serve a --flavor vllm --script "$kind,$kind"; config "$T/q.toml" "$PORT" "" 100; }
        done
        stop_all
    done
done
echo "  looping answers: $total, rejected: $rejected, in the Markdown: $leaked"

echo "== 4. Retry-After accuracy"
for ra in 1 2; do
    serve a --flavor openrouter --script 429 --retry-after $ra
    config "$T/q.toml" "$PORT" "" 100
    "$Q" convert --vlm always --config "$T/q.toml" --report "$T/r4.json" "$SCAN" > /dev/null 2>&1
    $PY -c "
import json; a=json.load(open('$T/r4.json'))['documents'][0]['pages'][0]['vlm']['attempts']
w=a[1]['waited_ms']/1000; print('  Retry-After: $ra s -> waited %.3f s (%+.1f %%)' % (w, (w-$ra)/$ra*100))"
    stop_all
done
