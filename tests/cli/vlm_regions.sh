#!/bin/sh
# tests/cli/vlm_regions.sh — `--vlm tables` and `--vlm formulas` send regions, not pages,
# against the replaying server (build/tests/vlm_replay), on real corpus pages: the three
# ruled booktabs tables of tables-booktabs p. 2, the display formulas of long-r-intro
# p. 54/61 beside the R code listings of p. 16 (monospace lines with "=" and "+": no math).
# Shows: only the regions are sent (the table / formula prompt, crops far smaller than the
# page image at the same dpi), concurrently up to max_concurrency (the server counts the
# requests in flight), an accepted table has the backend's cells and the rest of the page
# is the text layer's, a looped region and a table that lost columns fall back to the text
# layer's table with the reason in the report, the formula replaces the text layer's, the
# cache makes a rerun send nothing, and quire serve counts regions in X-Quire-VLM-Regions.
. "$(dirname "$0")/../lib.sh"
R=$(dirname "$Q")/tests/vlm_replay
[ -x "$R" ] || { bad "vlm_replay not built ($R): make tests"; exit 1; }
. "$(dirname "$0")/../tools/vlm_replay.sh" # serve NAME ARGS, stop_all, reqs NAME; EXIT trap
export QUIRE_VLM_BACKOFF_S=0.01
unset QUIRE_CONFIG
PY=/usr/bin/python3
BOOK=$C/born/tables-booktabs.pdf
RINTRO=$C/born/long-r-intro.pdf
config() { # FILE PORT [MAX_CONCURRENCY]
    printf '[resources]\npage_render_dpi = 100\nhttp_retry_attempts = 1\n[backends]\ndefault = "ds"\n' > "$1"
    printf '[backends.ds]\nprotocol = "deepseek"\nbase_url = "http://127.0.0.1:%s/v1"\n' "$2" >> "$1"
    printf 'model = "deepseek-ai/DeepSeek-OCR"\nmax_concurrency = %s\n' "${3:-4}" >> "$1"
}

# the text layer's own result of the table page (what a rejected region falls back to)
"$Q" convert --ocr never -p 2 -f json -o "$T/never.json" "$BOOK" 2> /dev/null
check "tables-booktabs p. 2: the text layer has 3 tables of 3 columns" $PY -c "
import json, sys
t = [b for b in json.load(open('$T/never.json'))['blocks'] if b['type'] == 'table']
sys.exit(not (len(t) == 3 and all(b['cols'] == 3 for b in t)))"

# --- 1. a page image for scale: --vlm always sends the whole page ------------------------
serve pg --flavor vllm; config "$T/q.toml" "$PORT"
"$Q" convert --vlm always --config "$T/q.toml" -p 2 -f json -o "$T/page.json" "$BOOK" 2> /dev/null
PAGE_CHARS=$($PY -c "import json; print(json.loads(open('$T/pg.log').readline())['image_chars'])")
stop_all

# --- 2. tables: three regions, concurrently, the backend's cells --------------------------
serve a --flavor vllm --table-cols 3 --script slow,slow,slow --slow-ms 60; config "$T/q.toml" "$PORT"
"$Q" convert --vlm tables --config "$T/q.toml" -p 2 -f json -o "$T/t1.json" --report "$T/r1.json" \
    --vlm-cache "$T/cache" "$BOOK" 2> "$T/e1"; rc=$?
[ $rc -eq 0 ] || head -5 "$T/e1"
check "tables: exit 0 ($rc)" [ $rc -eq 0 ]
check "tables: 3 requests, one per table ($(reqs a))" [ "$(reqs a)" -eq 3 ]
$PY - "$T/a.log" "$PAGE_CHARS" > "$T/c2" 2>&1 <<'PYEOF'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1]) if '"kind"' in l]
page = int(sys.argv[2])
assert all(r["text"] == "<|grounding|>OCR this image." for r in log), [r["text"] for r in log]
sizes = [r["image_chars"] for r in log]
assert all(s * 4 < page for s in sizes), (sizes, page)
print("ok", "region images", sizes, "base64 chars; the page image", page,
      "; in flight at most", max(r["in_flight"] for r in log))
PYEOF
check "tables: only regions sent (table prompt, each crop < 1/4 of the page image)" grep -q "^ok" "$T/c2"
sed 's/^/  /' "$T/c2"
check "tables: the 3 regions were in flight together (max_concurrency 4)" $PY -c "
import json, sys
log = [json.loads(l) for l in open('$T/a.log') if '\"kind\"' in l]
sys.exit(max(r['in_flight'] for r in log) != 3)"
$PY - "$T/t1.json" "$T/never.json" "$T/a.log" "$T/r1.json" > "$T/c3" 2>&1 <<'PYEOF'
import json, sys
out = json.load(open(sys.argv[1]))["blocks"]
never = json.load(open(sys.argv[2]))["blocks"]
tags = {json.loads(l)["image_hash"][-8:] for l in open(sys.argv[3]) if '"kind"' in l}
tables = [b for b in out if b["type"] == "table"]
assert len(tables) == 3, len(tables)
for b in tables:
    tag = b["cells"][0][0].split("-")[-1]
    assert tag in tags, (tag, tags)
    want = [["r%dc%d-%s" % (r, c, tag) for c in range(1, 4)] for r in range(1, 4)]
    assert b["cells"] == want and b["source"] == "vlm", b
# everything else is the text layer's, in the same place
rest = [(b["type"], b["text"]) for b in out if b["type"] != "table"]
want = [(b["type"], b["text"]) for b in never if b["type"] != "table"]
assert rest == want, (rest, want)
pos = [i for i, b in enumerate(out) if b["type"] == "table"]
assert pos == [i for i, b in enumerate(never) if b["type"] == "table"], pos
p = json.load(open(sys.argv[4]))["documents"][0]["pages"][0]
v = p["vlm"]
assert p["method"] == "text" and p["status"] == "ok" and v["task"] == "regions", p
assert v["outcome"] == "ok" and v["n_ok"] == 3 and v["n_fallback"] == 0, v
for g in v["regions"]:
    assert g["kind"] == "table" and g["status"] == "ok" and g["reason"] is None, g
    assert g["finish_reason"] == "stop" and g["latency_ms"] > 0 and g["completion_tokens"] > 0, g
    assert len(g["bbox"]) == 4 and len(g["attempts"]) == 1 and g["prompt_id"] == "deepseek-ocr", g
    assert g["columns"] == {"text": 3, "vlm": 3} and g["image"]["format"] == "png", g
    assert g["cached"] is False, g
print("ok")
PYEOF
check "tables: each table block has the backend's cells, the rest is the text layer's; report per region" grep -q "^ok" "$T/c3"
grep -v '^ok' "$T/c3" | head -5

# --- 3. the cache: a rerun (same backend) sends nothing, same output ----------------------
"$Q" convert --force --vlm tables --config "$T/q.toml" -p 2 -f json -o "$T/t2.json" --report "$T/r2.json" \
    --vlm-cache "$T/cache" "$BOOK" 2> "$T/e2"
check "cache: the rerun sends nothing ($(reqs a) requests in all), same tables, regions cached" $PY -c "
import json, sys
a = [b for b in json.load(open('$T/t1.json'))['blocks']]
b = [b for b in json.load(open('$T/t2.json'))['blocks']]
v = json.load(open('$T/r2.json'))['documents'][0]['pages'][0]['vlm']
sys.exit(not ($(reqs a) == 3 and a == b and all(g['cached'] and g['status'] == 'ok' for g in v['regions'])))"
stop_all

# --- 3b. max_concurrency 1: one region at a time -----------------------------------------
serve a --flavor vllm --table-cols 3 --script slow,slow,slow --slow-ms 60; config "$T/q.toml" "$PORT" 1
"$Q" convert --force --vlm tables --config "$T/q.toml" -p 2 -f json -o "$T/t1b.json" "$BOOK" 2> /dev/null
check "max_concurrency 1: the 3 regions were sent one at a time" $PY -c "
import json, sys
log = [json.loads(l) for l in open('$T/a.log') if '\"kind\"' in l]
sys.exit(not (len(log) == 3 and max(r['in_flight'] for r in log) == 1))"
stop_all

# --- 4. a looped region falls back to the text layer's table ------------------------------
serve a --flavor vllm --table-cols 3 --script loop,loop; config "$T/q.toml" "$PORT" 1
"$Q" convert --force --vlm tables --config "$T/q.toml" -p 2 -f json -o "$T/t3.json" --report "$T/r3.json" \
    "$BOOK" 2> "$T/e3"; rc=$?
$PY - "$T/t3.json" "$T/never.json" "$T/r3.json" "$T/a.log" "$rc" > "$T/c4" 2>&1 <<'PYEOF'
import json, sys
out = [b for b in json.load(open(sys.argv[1]))["blocks"] if b["type"] == "table"]
never = [b for b in json.load(open(sys.argv[2]))["blocks"] if b["type"] == "table"]
p = json.load(open(sys.argv[3]))["documents"][0]["pages"][0]
log = [json.loads(l) for l in open(sys.argv[4]) if '"kind"' in l]
assert sys.argv[5] == "0", sys.argv[5]
g = p["vlm"]["regions"]
assert [r["status"] for r in g] == ["fallback", "ok", "ok"], [r["status"] for r in g]
assert "loop" in g[0]["reason"] or "repeat" in g[0]["reason"], g[0]["reason"]
assert len(g[0]["attempts"]) == 2 and not any(a["accepted"] for a in g[0]["attempts"]), g[0]
assert out[0]["cells"] == never[0]["cells"] and out[0]["source"] == "text", out[0]
assert out[1]["source"] == "vlm" and out[2]["source"] == "vlm", out
assert p["status"] == "fallback" and p["vlm"]["n_fallback"] == 1 and p["vlm"]["n_ok"] == 2, p
print("ok", g[0]["reason"])
PYEOF
check "loop: the looped table keeps the text layer's cells, reason in the report, the others replaced" grep -q "^ok" "$T/c4"
sed 's/^/  /' "$T/c4" | head -5
stop_all

# --- 5. a table that lost columns is rejected (column count against the text layer) ------
serve a --flavor vllm --table-cols 2; config "$T/q.toml" "$PORT"
"$Q" convert --force --vlm tables --config "$T/q.toml" -p 2 -f json -o "$T/t4.json" --report "$T/r4.json" \
    --max-fallback-share 0.5 "$BOOK" 2> "$T/e4"; rc=$?
check "columns: 2-column answers for 3-column tables all fall back to the text layer (exit 3 with --max-fallback-share 0.5: $rc)" $PY -c "
import json, sys
out = [b for b in json.load(open('$T/t4.json'))['blocks'] if b['type'] == 'table']
never = [b for b in json.load(open('$T/never.json'))['blocks'] if b['type'] == 'table']
g = json.load(open('$T/r4.json'))['documents'][0]['pages'][0]['vlm']['regions']
ok = [b['cells'] for b in out] == [b['cells'] for b in never] and len(g) == 3
ok = ok and all(r['status'] == 'fallback' and 'columns lost' in r['reason'] and r['columns'] == {'text': 3, 'vlm': 2} for r in g)
sys.exit(not (ok and $rc == 3))"
check "columns: the error names the regions that fell back" grep -q "3 of 3 VLM regions fell back" "$T/e4"
stop_all

# --- 6. formulas: display math replaced, code listings not taken as math -----------------
serve a --flavor vllm; config "$T/q.toml" "$PORT"
"$Q" convert --ocr never -p 16,54 -o "$T/fnever.md" "$RINTRO" 2> /dev/null
"$Q" convert --vlm formulas --config "$T/q.toml" -p 16,54 -o "$T/f1.md" --report "$T/r5.json" \
    "$RINTRO" 2> "$T/e5"; rc=$?
$PY - "$T/r5.json" "$T/a.log" "$T/f1.md" "$T/fnever.md" "$rc" > "$T/c6" 2>&1 <<'PYEOF'
import json, re, sys
pages = {p["page"]: p for p in json.load(open(sys.argv[1]))["documents"][0]["pages"]}
log = [json.loads(l) for l in open(sys.argv[2]) if '"kind"' in l]
md, never = open(sys.argv[3]).read(), open(sys.argv[4]).read()
assert sys.argv[5] == "0"
# p. 16: R code with "=", "+", "<-" in a typewriter font: no formula region
assert pages[16]["vlm"]["outcome"] == "local", pages[16]["vlm"]
assert "seq(length=51" in never and "seq(length=51" in md
# p. 54: one display formula, sent alone with the formula prompt
g = pages[54]["vlm"]["regions"]
assert len(g) == 1 and g[0]["kind"] == "formula" and g[0]["status"] == "ok", g
assert len(log) == 1 and log[0]["text"] == "Free OCR.", log
tag = log[0]["image_hash"][-8:]
assert "\\[ x_{%s} = \\frac{a}{b} \\]" % tag in md, md
assert "E = Iv" in never and "E = Iv" not in md
print("ok")
PYEOF
check "formulas: p. 54's display formula replaced by the backend's LaTeX, p. 16's code listing not sent" grep -q "^ok" "$T/c6"
grep -v '^ok' "$T/c6" | head -5

# --- 6b. LaTeX source in typewriter beside its result (nonen-pl-lshort p. 72): the
# rendered equations are formulas, the source lines ("a & = & b + c", all "=" and "+")
# are not, and stay in the output
LSHORT=$C/born/nonen-pl-lshort.pdf
"$Q" convert --ocr never -p 72 -f json -o "$T/lnever.json" "$LSHORT" 2> /dev/null
"$Q" convert --vlm formulas --config "$T/q.toml" -p 72 -o "$T/l1.md" --report "$T/r6.json" \
    "$LSHORT" 2> /dev/null
$PY - "$T/lnever.json" "$T/r6.json" "$T/l1.md" > "$T/c6b" 2>&1 <<'PYEOF'
import json, sys
never = json.load(open(sys.argv[1]))["blocks"]
g = json.load(open(sys.argv[2]))["documents"][0]["pages"][0]["vlm"]["regions"]
md = open(sys.argv[3]).read()
def inside(b, bb):
    return (b["bbox"][0] >= bb[0] - 1 and b["bbox"][1] >= bb[1] - 1 and
            b["bbox"][2] <= bb[2] + 1 and b["bbox"][3] <= bb[3] + 1)
held = [b["text"] for r in g for b in never if inside(b, r["bbox"])]
src = [b["text"] for b in never if b["type"] == "code" and "&" in b["text"]]
assert len(g) >= 3 and all(r["status"] == "ok" for r in g), g
assert not any("&" in t or "\\" in t for t in held), held
assert src and all(t.splitlines()[0] in md for t in src), src
assert md.count("\\frac{a}{b}") == len(g), md
print("ok", len(g), "formulas;", len(src), "source blocks kept")
PYEOF
check "formulas: LaTeX source in typewriter is not math (no region holds it; it stays), the rendered equations are" grep -q "^ok" "$T/c6b"
grep -v '^ok' "$T/c6b" | head -5
stop_all

# --- 7. quire serve: X-Quire-VLM-Regions counts regions -----------------------------------
qserve() {
    n=$1; shift
    "$Q" serve --port 0 "$@" > /dev/null 2> "$T/$n.err" &
    PIDS="$PIDS $!"
    i=0
    while ! grep -q 'listening on' "$T/$n.err" 2>/dev/null && kill -0 $! 2>/dev/null && [ $i -lt 500 ]; do
        sleep 0.02; i=$((i + 1)); done
    SPORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$n.err")
}
serve a --flavor vllm --table-cols 3 --script loop,loop; config "$T/q.toml" "$PORT" 1
qserve s1 --config "$T/q.toml"
curl -s -D "$T/h7" "http://127.0.0.1:$SPORT/v1/convert?vlm=tables&pages=2" --data-binary @"$BOOK" > "$T/o7.md"
check "serve: X-Quire-VLM-Regions: 2, X-Quire-VLM-Fallback-Regions: 1" sh -c \
    "grep -qi '^X-Quire-VLM-Regions: 2' '$T/h7' && grep -qi '^X-Quire-VLM-Fallback-Regions: 1' '$T/h7'"
stop_all
