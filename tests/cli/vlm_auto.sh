#!/bin/sh
# tests/cli/vlm_auto.sh — which pages and regions go to the VLM, against the replaying
# server (build/tests/vlm_replay): --vlm auto judges each page by what the local path
# measured (a clean born page and a clean scan stay local, a scan Tesseract reads with a
# low mean confidence goes to the VLM; vlm_auto_min_conf moves the line; a rejected VLM
# answer leaves the Tesseract result without a second OCR), every page's report says why.
# Fixtures: tests/tools/mkvlmfix.py.
. "$(dirname "$0")/../lib.sh"
R=$(dirname "$Q")/tests/vlm_replay
[ -x "$R" ] || { bad "vlm_replay not built ($R): make tests"; exit 1; }
. "$(dirname "$0")/../tools/vlm_replay.sh" # serve NAME ARGS, stop_all, reqs NAME; EXIT trap
export QUIRE_VLM_BACKOFF_S=0.01
unset QUIRE_CONFIG
PY=/usr/bin/python3
config() { # FILE PORT
    printf '[resources]\npage_render_dpi = 100\nhttp_retry_attempts = 1\n[backends]\ndefault = "ds"\n' > "$1"
    printf '[backends.ds]\nprotocol = "deepseek"\nbase_url = "http://127.0.0.1:%s/v1"\n' "$2" >> "$1"
    printf 'model = "deepseek-ai/DeepSeek-OCR"\n' >> "$1"
}
$PY "$(dirname "$0")/../tools/mkvlmfix.py" "$T" || { bad "fixtures"; exit 1; }
mkdir -p "$T/in"
cp "$T/born.pdf" "$T/low.pdf" "$T/in/"
cp "$C/scanned/scan-long-r-intro-p24-mild150.pdf" "$T/in/scan.pdf"

# --- 1. auto: born page and clean scan local, low-confidence scan to the VLM -------------
serve a --flavor vllm; P1=$PORT
config "$T/q.toml" "$P1"
"$Q" convert --vlm auto --config "$T/q.toml" -j 2 -q -o "$T/o1" --report "$T/r1.json" "$T/in" 2> "$T/e1"; rc=$?
[ $rc -eq 0 ] || head -5 "$T/e1"
check "auto: exit 0 ($rc)" [ $rc -eq 0 ]
$PY - "$T/r1.json" > "$T/c1" 2>&1 <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
p = {d["path"].rsplit("/", 1)[-1]: d["pages"][0] for d in r["documents"]}
b, s, l = p["born.pdf"], p["scan.pdf"], p["low.pdf"]
assert b["method"] == "text" and b["status"] == "ok", b
assert b["vlm"]["outcome"] == "local" and b["vlm"]["why"].startswith("local: text layer ok"), b["vlm"]
assert s["method"] == "ocr" and s["status"] == "ok" and s["conf"] >= 70, s
assert s["vlm"]["outcome"] == "local", s["vlm"]
assert s["vlm"]["why"].startswith("local: Tesseract mean confidence %.0f >= 70" % s["conf"]), s["vlm"]
assert l["method"] == "vlm" and l["status"] == "ok", l
assert l["vlm"]["outcome"] == "ok" and l["vlm"]["why"].startswith("Tesseract mean confidence "), l["vlm"]
assert int(l["vlm"]["why"].split()[3]) < 70, l["vlm"]["why"]
print("ok", b["vlm"]["why"], "|", s["vlm"]["why"], "|", l["vlm"]["why"])
PYEOF
check "auto: born page local (text layer ok), clean scan local (conf >= 70), low-confidence scan read by the VLM; each says why" grep -q "^ok" "$T/c1"
sed 's/^/  /' "$T/c1"
check "auto: one request (the low-confidence page only: $(reqs a))" [ "$(reqs a)" -eq 1 ]
check "auto: the VLM's Markdown for low.pdf, Tesseract's for scan.pdf" \
    sh -c "grep -q '^# Replayed page' '$T/o1/low.md' && ! grep -q 'Replayed' '$T/o1/scan.md' && [ -s '$T/o1/scan.md' ]"
stop_all

# --- 2. the threshold is measured, not the kind of page: vlm_auto_min_conf = 99 ----------
serve a --flavor vllm; P1=$PORT
config "$T/q.toml" "$P1"
QUIRE_RESOURCES_VLM_AUTO_MIN_CONF=99 "$Q" convert --vlm auto --config "$T/q.toml" -j 2 -q \
    -o "$T/o2" --report "$T/r2.json" "$T/in" 2> "$T/e2"
check "auto, vlm_auto_min_conf 99: the clean scan goes too, the born page stays (2 requests: $(reqs a))" \
    $PY -c "
import json, sys
p = {d['path'].rsplit('/', 1)[-1]: d['pages'][0] for d in json.load(open('$T/r2.json'))['documents']}
ok = p['scan.pdf']['method'] == 'vlm' and '< 99 (vlm_auto_min_conf)' in p['scan.pdf']['vlm']['why'] \
     and p['born.pdf']['method'] == 'text' and $(reqs a) == 2
sys.exit(not ok)"
stop_all

# --- 3. a rejected answer: the page keeps its Tesseract result, status fallback ----------
serve a --flavor vllm --script loop,loop; P1=$PORT
config "$T/q.toml" "$P1"
"$Q" convert --vlm auto --config "$T/q.toml" --allow-empty --report "$T/r3.json" --log-format json \
    "$T/low.pdf" > "$T/o3.md" 2> "$T/e3"; rc=$?
check "auto, looping backend: exit 0, the Tesseract text, status fallback, why kept ($rc)" $PY -c "
import json, sys
p = json.load(open('$T/r3.json'))['documents'][0]['pages'][0]
ok = p['method'] == 'ocr' and p['status'] == 'fallback' and p['vlm']['outcome'] == 'fallback' \
     and p['vlm']['why'].startswith('Tesseract mean confidence') and len(p['vlm']['attempts']) == 2
sys.exit(not (ok and $rc == 0))"
check "auto, looping backend: page_finished event says ocr / fallback" \
    grep -q '"event":"page_finished".*"method":"ocr","outcome":"fallback"' "$T/e3"
stop_all
