#!/bin/sh
# tests/cli/python_vlm.sh — the Python binding's VLM options: quire.convert(config=PATH,
# vlm=MODE, vlm_cache=DIR) pass a quire.toml and the mode through to the C API, against the
# replaying server: vlm="auto" sends the low-confidence scan (report "vlm" dict with why),
# vlm="never" does not, a bad mode is a ValueError, a bad config a QuireError naming it.
. "$(dirname "$0")/../lib.sh"
B=$(dirname "$Q")
[ -e "$B/libquire.so" ] || { echo "note: $B has no shared library; tested on build/"; exit 0; }
R=$B/tests/vlm_replay
PY=/usr/bin/python3
unset QUIRE_CONFIG
. "$(dirname "$0")/../tools/vlm_replay.sh" # serve NAME ARGS, stop_all; EXIT trap
serve a --flavor vllm
printf '[resources]\npage_render_dpi = 100\n[backends]\ndefault = "ds"\n[backends.ds]\nprotocol = "deepseek"\nbase_url = "http://127.0.0.1:%s/v1"\nmodel = "deepseek-ai/DeepSeek-OCR"\n' "$PORT" > "$T/q.toml"
$PY "$(dirname "$0")/../tools/mkvlmfix.py" "$T"
QUIRE_LIBRARY="$(cd "$B" && pwd)/libquire.so" PYTHONPATH=python $PY - "$T" > "$T/out" 2>&1 <<'PYEOF'
import sys, quire
t = sys.argv[1]
text, pages = quire.convert(t + "/low.pdf", report=True, config=t + "/q.toml", vlm="auto",
                            vlm_cache=t + "/cache")
p = pages[0]
assert p["method"] == "vlm" and text.startswith("# Replayed page"), (p, text[:60])
assert p["vlm"]["outcome"] == "ok" and p["vlm"]["why"].startswith("Tesseract mean confidence"), p["vlm"]
text, pages = quire.convert(t + "/born.pdf", report=True, config=t + "/q.toml", vlm="auto")
assert pages[0]["method"] == "text" and pages[0]["vlm"]["outcome"] == "local", pages[0]
text, pages = quire.convert(t + "/low.pdf", report=True, config=t + "/q.toml", vlm="never")
assert pages[0]["method"] == "ocr" and pages[0]["vlm"] is None, pages[0]
try:
    quire.convert(t + "/low.pdf", vlm="sometimes")
    raise SystemExit("no ValueError")
except ValueError:
    pass
try:
    quire.convert(t + "/low.pdf", config=t + "/missing.toml", vlm="auto")
    raise SystemExit("no QuireError")
except quire.QuireError as e:
    assert "missing.toml" in str(e), str(e)
print("ok")
PYEOF
check "python: config/vlm/vlm_cache reach the C API (auto -> VLM with why, never -> Tesseract, bad mode/config raise)" grep -qx ok "$T/out"
grep -qx ok "$T/out" || cat "$T/out"
check "python: one request (the auto page; the born page stays local)" [ "$(grep -c '"kind"' "$T/a.log")" -eq 1 ]
