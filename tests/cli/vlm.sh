#!/bin/sh
# tests/cli/vlm.sh — `quire convert --vlm` against the replaying VLM server
# (build/tests/vlm_replay, started on free ports and always stopped): scanned pages through
# a two-backend fallback chain with 30 % injected failures of every kind (no page lost,
# every page's report names its method and status, no loop text in the Markdown), the
# DeepSeek grounding tags into blocks with bboxes, formulas and tables in the JSON output,
# a looping backend rejected and replaced by Tesseract, Retry-After in the report, the
# cache (a rerun and a killed batch's rerun re-request nothing cached), --log-format json,
# --max-fallback-share, config errors (remote URL, no backend, nothing listening), budgets
# (max_pages, budget_cost, budget_tokens: spent -> next backend -> Tesseract, per page why),
# [resources] max_workers as the default of --jobs.
. "$(dirname "$0")/../lib.sh"
R=$(dirname "$Q")/tests/vlm_replay
[ -x "$R" ] || { bad "vlm_replay not built ($R): make tests"; exit 1; }
. "$(dirname "$0")/../tools/vlm_replay.sh" # serve NAME ARGS, stop_all, reqs NAME; EXIT trap
export QUIRE_VLM_BACKOFF_S=0.01 # quick retries (Retry-After is still honoured)
unset QUIRE_CONFIG

# config FILE PORT1 [PORT2]: deepseek backend (+ a generic fallback)
config() {
    {
        echo "[resources]"
        echo "page_render_dpi = 100"
        echo "http_retry_attempts = 2"
        echo "[backends]"
        echo "default = \"ds\""
        [ -n "$3" ] && echo 'fallback_chain = ["ds", "local"]'
        echo "[backends.ds]"
        echo "protocol = \"deepseek\""
        echo "base_url = \"http://127.0.0.1:$2/v1\""
        echo "model = \"deepseek-ai/DeepSeek-OCR\""
        echo "idle_timeout_s = 1"
        if [ -n "$3" ]; then
            echo "[backends.local]"
            echo "protocol = \"generic\""
            echo "base_url = \"http://127.0.0.1:$3\""
            echo "model = \"deepseek-ai/DeepSeek-OCR\""
        fi
    } > "$1"
}

PY=/usr/bin/python3
SCANS=$(ls "$C"/scanned/*.pdf | head -6)
NS=$(echo "$SCANS" | wc -l)

# --- 1. scanned pages, 30 % injected failures on both backends, Tesseract last -------------
# every failure kind once on the first backend, then 30 % at random on both
KINDS=429,503,500,err200,length,loop,nearloop,empty,midstream,reset,garbage,objerr,429date,detail
serve a --flavor vllm --script $KINDS --fail-rate 0.3 --seed 7 --retry-after 0 --slow-ms 1500; P1=$PORT
serve b --flavor ollama --fail-rate 0.3 --seed 11 --retry-after 0 --slow-ms 1500; P2=$PORT
config "$T/q.toml" "$P1" "$P2"
mkdir -p "$T/in"; for f in $SCANS; do cp "$f" "$T/in/"; done
"$Q" convert --vlm always --config "$T/q.toml" -j 2 -q -o "$T/out" --report "$T/r1.json" \
    "$T/in" 2> "$T/e1"; rc=$?; [ $rc -eq 0 ] || head -5 "$T/e1"
check "30% failures: convert exits 0 ($rc)" [ $rc -eq 0 ]
$PY - "$T/r1.json" "$NS" > "$T/c1" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
pages = [p for d in r["documents"] for p in d["pages"]]
assert len(pages) == n, ("pages", len(pages))
kinds = set()
for p in pages:
    assert p["method"] in ("vlm", "ocr", "text"), p
    assert p["status"] in ("ok", "fallback"), p
    v = p["vlm"]
    assert v["attempts"], p
    assert v["image"]["sha256"] == v["image_sha256"] and v["image"]["width"] > 0, v
    if p["method"] == "vlm":
        assert v["outcome"] == "ok" and v["attempts"][-1]["accepted"], v
        assert v["model"] == "deepseek-ai/DeepSeek-OCR"
    else:
        assert v["outcome"] == "fallback" and v["reason"], v
    for a in v["attempts"]:
        if not a["accepted"]:
            assert a.get("reason"), a
            kinds.add(a["reason"].split(":")[0][:30])
print("pages", len(pages), "vlm", sum(p["method"] == "vlm" for p in pages), "rejections", sorted(kinds))
EOF
check "30% failures: no page lost, every page has method, status and attempts ($(tail -1 "$T/c1"))" [ $? -eq 0 ]
grep -q "Traceback" "$T/c1" && cat "$T/c1"
n_md=$(ls "$T/out"/*.md 2>/dev/null | wc -l)
check "30% failures: $NS Markdown files written ($n_md)" [ "$n_md" -eq "$NS" ]
check "30% failures: no loop text in the Markdown" sh -c "! grep -l '<td>0.00</td><td>0.00</td>\|Revenue for the quarter\|the the of of' '$T/out'/*.md"
injected=$(cat "$T/a.log" "$T/b.log" | grep '"kind"' | grep -vc '"kind":"ok"')
check "30% failures: failures were injected ($injected)" [ "$injected" -ge 12 ]
stop_all

# --- 2. DeepSeek grounding -> blocks with bboxes (/999), formula and table blocks ---------
serve a --flavor vllm; P1=$PORT
config "$T/q.toml" "$P1"
SCAN=$C/scanned/scan-long-r-intro-p24-mild150.pdf # 150 dpi: Tesseract fallbacks stay quick
"$Q" convert --vlm always --config "$T/q.toml" -f json "$SCAN" > "$T/o.json" 2> "$T/e2"
$PY - "$T/o.json" > "$T/c2" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
b = d["blocks"]; w = d["pages"][0]["width"]; h = d["pages"][0]["height"]
assert all(x["source"] == "vlm" for x in b), b
head = [x for x in b if x["type"] == "heading"][0]
assert head["text"].startswith("Replayed page"), head
assert abs(head["bbox"][0] - 80 / 999 * w) < 0.5 and abs(head["bbox"][3] - 110 / 999 * h) < 0.5, head["bbox"]
t = [x for x in b if x["type"] == "table"][0]
assert t["rows"] == 3 and t["cols"] == 2 and t["cells"][0] == ["Item", "Count"] and t["cells"][2] == ["total", ""], t
f = [x for x in b if x["type"] == "formula"][0]
assert f["text"] == "\\[ E = m c^{2} \\]", f
assert not any("end" in x["text"] and "sentence" in x["text"] for x in b)
print("ok")
EOF
check "grounding tags: heading bbox = coordinates/999, table 3x2 with colspan, formula kept" grep -qx ok "$T/c2"
grep -q "Traceback\|Error" "$T/c2" && cat "$T/c2"
check "request carried skip_special_tokens:false and the n-gram guard" \
    sh -c "grep -q '\"skip_special_tokens\":false' '$T/a.log' && grep -q '\"ngram_size\":30' '$T/a.log'"
stop_all

# --- 2b. image_format = "jpeg": the page goes as a JPEG data URI ------------------------------
serve a --flavor ollama; P1=$PORT
config "$T/qj.toml" "$P1"
printf 'image_format = "jpeg"\njpeg_quality = 80\n' >> "$T/qj.toml"
"$Q" convert --vlm always --config "$T/qj.toml" --report "$T/rj.json" "$SCAN" > "$T/oj.md" 2> "$T/ej"
check "jpeg: the request carried a data:image/jpeg URI" grep -q '"image_prefix":"data:image/jpeg;base64"' "$T/a.log"
check "jpeg: the report says format jpeg, the page read by the VLM" \
    $PY -c "import json,sys; p=json.load(open('$T/rj.json'))['documents'][0]['pages'][0]; sys.exit(not (p['vlm']['image']['format']=='jpeg' and p['method']=='vlm'))"
stop_all

# --- 3. a looping backend: rejected (retried once hotter), then Tesseract -----------------
serve a --flavor vllm --script loop,length,loop,length; P1=$PORT
config "$T/q.toml" "$P1"
"$Q" convert --vlm always --config "$T/q.toml" --report "$T/r3.json" "$SCAN" > "$T/o3.md" 2> "$T/e3"; rc=$?
check "loops: exit 0 with the Tesseract page ($rc)" [ $rc -eq 0 ]
check "loops: no loop text in the Markdown" sh -c "! grep -q '<td>0.00</td><td>0.00</td>' '$T/o3.md' && [ -s '$T/o3.md' ]"
$PY -c "
import json,sys; p=json.load(open('$T/r3.json'))['documents'][0]['pages'][0]; v=p['vlm']
assert p['method']=='ocr' and p['status']=='fallback', p
a=v['attempts']; assert len(a)==2 and not a[0]['accepted'] and a[1]['temperature']>a[0]['temperature'], a
assert 'loop' in a[0]['reason'] or 'length' in a[0]['reason'], a
print('ok')" > "$T/c3" 2>&1
check "loops: report says fallback to ocr after 2 rejected attempts" grep -qx ok "$T/c3"
stop_all

# --- 4. Retry-After honoured and reported --------------------------------------------------
serve a --flavor openrouter --script 429 --retry-after 1; P1=$PORT
config "$T/q.toml" "$P1"
"$Q" convert --vlm always --config "$T/q.toml" --report "$T/r4.json" "$SCAN" > /dev/null 2> "$T/e4"
$PY -c "
import json; a=json.load(open('$T/r4.json'))['documents'][0]['pages'][0]['vlm']['attempts']
assert a[0]['status']==429 and a[1]['status']==200 and a[1]['accepted'], a
assert a[1]['waited_ms'] >= 990, a[1]['waited_ms']
assert a[1]['cost'] > 0 and a[1]['generation_id']=='gen-replay-1', a[1]
print('ok')" > "$T/c4" 2>&1
check "Retry-After: 429 then 200 after >= 1 s, cost and generation id recorded" grep -qx ok "$T/c4"
stop_all

# --- 5. cache: a rerun requests nothing; a killed batch resumes without re-requesting -----
serve a --flavor vllm --slow-ms 700; P1=$PORT
config "$T/q.toml" "$P1"
"$Q" convert --vlm always --config "$T/q.toml" --vlm-cache "$T/cache" -q -o "$T/o5" "$SCAN" 2> "$T/e5"
n1=$(reqs a)
"$Q" convert --vlm always --config "$T/q.toml" --vlm-cache "$T/cache" --force -q -o "$T/o5" --report "$T/r5.json" "$SCAN" 2>> "$T/e5"
n2=$(reqs a)
check "cache: the rerun requested nothing ($n1 then $n2 requests)" [ "$n1" -eq 1 ] && [ "$n2" -eq 1 ]
check "cache: the report says cached" grep -q '"cached": true' "$T/r5.json"
# every request slow; kill the batch once some pages are cached, then rerun
stop_all
serve a --flavor vllm --script slow,slow,slow,slow,slow,slow,slow,slow --slow-ms 400; P1=$PORT
config "$T/q.toml" "$P1"
rm -rf "$T/cache"
QUIRE_VLM_STREAM=0 "$Q" convert --vlm always --config "$T/q.toml" --vlm-cache "$T/cache" -q -o "$T/o6" "$T/in" 2> "$T/e6" &
QP=$!
i=0
while [ "$(find "$T/cache" -name '*.json' 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
kill -TERM $QP; wait $QP
cached=$(find "$T/cache" -name '*.json' | wc -l)
before=$(reqs a)
QUIRE_VLM_STREAM=0 "$Q" convert --vlm always --config "$T/q.toml" --vlm-cache "$T/cache" -q -o "$T/o6" --report "$T/r6.json" "$T/in" 2>> "$T/e6"; rc=$?
after=$(reqs a)
check "killed batch: $cached pages cached before the kill, rerun exits 0 ($rc)" sh -c "[ $cached -ge 2 ] && [ $rc -eq 0 ]"
check "killed batch: the rerun requested only the uncached pages ($((after - before)) = $NS - $cached)" \
    [ $((after - before)) -eq $((NS - cached)) ]
[ $((after - before)) -eq $((NS - cached)) ] || $PY -c "
import json
for d in json.load(open('$T/r6.json'))['documents']:
    for p in d['pages']:
        print(d['path'], [(a['status'], a.get('reason'), a['latency_ms']) for a in p['vlm']['attempts']])"
stop_all

# --- 6. --log-format json, --max-fallback-share ------------------------------------------
serve a --flavor vllm --script 500,500,500,500,500,500; P1=$PORT
config "$T/q.toml" "$P1"
# (--ocr never: the fallback is the text layer, no Tesseract run needed here)
"$Q" convert --vlm always --ocr never --allow-empty --config "$T/q.toml" --log-format json "$SCAN" > /dev/null 2> "$T/e7"; rc=$?
grep '^{' "$T/e7" > "$T/ev"
$PY -c "
import json
ev=[json.loads(l) for l in open('$T/ev')]
names=[e['event'] for e in ev]
assert 'page_started' in names and 'attempt' in names and 'retry' in names, names
assert ev[-1]['event']=='page_finished' and ev[-1]['outcome']=='fallback', ev[-1]
print('ok')" > "$T/c7" 2>&1
check "log-format json: page_started, attempt, retry, page_finished events, one JSON a line" grep -qx ok "$T/c7"
"$Q" convert --vlm always --ocr never --allow-empty --config "$T/q.toml" --max-fallback-share 0 "$SCAN" > /dev/null 2> "$T/e8"; rc=$?
check "max-fallback-share 0: a fallback page makes exit 3 ($rc)" sh -c "[ $rc -eq 3 ] && grep -q 'fell back' '$T/e8'"
stop_all

# --- 7. configuration errors -----------------------------------------------------------------
printf '[backends.r]\nbase_url = "https://openrouter.ai/api/v1"\nmodel = "m"\n' > "$T/remote.toml"
"$Q" convert --vlm always --config "$T/remote.toml" "$SCAN" > /dev/null 2> "$T/e9"; rc=$?
check "remote base_url without allow_remote: exit 2 naming allow_remote" sh -c "[ $rc -eq 2 ] && grep -q 'allow_remote' '$T/e9'"
printf '[resources]\nmax_workers = 2\n' > "$T/none.toml"
"$Q" convert --vlm always --config "$T/none.toml" "$SCAN" > /dev/null 2> "$T/e10"; rc=$?
check "no backend configured: exit 2 naming the config ($rc)" sh -c "[ $rc -eq 2 ] && grep -q 'no VLM backend is configured in .*none.toml' '$T/e10'"
config "$T/dead.toml" 9
"$Q" convert --vlm always --config "$T/dead.toml" "$SCAN" > /dev/null 2> "$T/e11"; rc=$?
check "nothing listening: fails at start naming the URL ($rc)" sh -c "[ $rc -ne 0 ] && grep -q '127.0.0.1:9/v1/models' '$T/e11'"
"$Q" convert --vlm sometimes "$SCAN" > /dev/null 2>&1
check "bad --vlm exits 2" [ $? -eq 2 ]

# --- 8. quire info lists the configured backends and whether each answers ------------------
serve a --flavor vllm; P1=$PORT
config "$T/q.toml" "$P1" 9
"$Q" info --config "$T/q.toml" > "$T/info" 2>&1; rc=$?
check "info: exit 0, ds answers ($rc)" sh -c "[ $rc -eq 0 ] && grep -q '^vlm backend 1: ds protocol=deepseek .*: answers$' '$T/info'"
check "info: the dead backend is named not usable with its URL" grep -q '^vlm backend 2: local .*not usable: GET http://127.0.0.1:9/v1/models' "$T/info"
stop_all

# --- 9. quire serve --config: /v1/convert uses the same backends --------------------------
# qserve NAME ARGS...: start `quire serve`, its port in $SPORT (from the listening line)
qserve() {
    n=$1; shift
    "$Q" serve --port 0 "$@" > /dev/null 2> "$T/$n.err" &
    PIDS="$PIDS $!"
    i=0
    while ! grep -q 'listening on' "$T/$n.err" 2>/dev/null && kill -0 $! 2>/dev/null && [ $i -lt 500 ]; do
        sleep 0.02; i=$((i + 1)); done
    SPORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$n.err")
}
serve a --flavor vllm --script ok,429,ok --retry-after 0; P1=$PORT
config "$T/q.toml" "$P1"
mkdir -p "$T/allow"; cp "$SCAN" "$T/allow/s.pdf"
qserve s1 --config "$T/q.toml" --allow-paths "$T/allow" --vlm-cache "$T/scache"
curl -s -D "$T/h9" "http://127.0.0.1:$SPORT/v1/convert?vlm=always" --data-binary @"$SCAN" > "$T/o9.md"
check "serve: vlm=always answers the backend's page (Markdown from the replay)" grep -q '^# Replayed page ' "$T/o9.md"
check "serve: X-Quire-VLM-Pages: 1, no fallback" sh -c "grep -qi '^X-Quire-VLM-Pages: 1' '$T/h9' && grep -qi '^X-Quire-VLM-Fallback-Pages: 0' '$T/h9'"
# the path form with "vlm" in the body and a report
curl -s "http://127.0.0.1:$SPORT/v1/convert?report=1" -H 'Content-Type: application/json' \
    -d "{\"path\":\"$T/allow/s.pdf\",\"vlm\":\"always\"}" > "$T/o10.json"
# the same page as before: the shared --vlm-cache answers it, nothing is requested
$PY - "$T/o10.json" > "$T/c10" 2>&1 <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["pages"][0]
assert r["output"].startswith("# Replayed page"), r["output"][:80]
assert p["method"] == "vlm" and p["status"] == "ok" and p["vlm"]["backend"] == "ds", p
assert p["vlm"]["cached"] is True and p["vlm"]["attempts"] == [], p["vlm"]
print("ok")
PYEOF
check "serve: {\"path\",\"vlm\"} body + report=1: per-page provenance, answer from the --vlm-cache" grep -qx ok "$T/c10"
grep -q Traceback "$T/c10" && cat "$T/c10"
n_before=$(reqs a)
curl -s "http://127.0.0.1:$SPORT/v1/convert" --data-binary @"$SCAN" > "$T/o11.md"
check "serve: no vlm field = the server's default (never): Tesseract, nothing requested" \
    sh -c "! grep -q 'Replayed page' '$T/o11.md' && [ -s '$T/o11.md' ] && [ $(reqs a) -eq $n_before ]"
code=$(curl -s -o "$T/o12" -w '%{http_code}' "http://127.0.0.1:$SPORT/v1/convert?vlm=sometimes" --data-binary @"$SCAN")
check "serve: vlm=sometimes -> 400 invalid_vlm ($code)" sh -c "[ $code = 400 ] && grep -q invalid_vlm '$T/o12'"
stop_all
# --vlm always as the server's default; the 429 is retried after Retry-After 0
serve a --flavor vllm --script 429 --retry-after 0; P1=$PORT
config "$T/q.toml" "$P1"
qserve s2 --config "$T/q.toml" --vlm always
curl -s "http://127.0.0.1:$SPORT/v1/convert?format=json&report=1" --data-binary @"$SCAN" > "$T/o13.json"
$PY -c "
import json; r=json.load(open('$T/o13.json')); a=r['pages'][0]['vlm']['attempts']
assert [x['status'] for x in a]==[429,200] and a[1]['accepted'], a
assert json.loads(r['output'])['blocks'][0]['source']=='vlm'
print('ok')" > "$T/c13" 2>&1
check "serve --vlm always: the default mode, 429 retried, JSON output from the VLM" grep -qx ok "$T/c13"
stop_all
# a server without backends refuses vlm modes with a 400 naming the config
qserve s3 --config "$T/none.toml" 2>/dev/null
check "serve --config without backends: exit 2 naming the file" grep -q 'no VLM backend is configured in .*none.toml' "$T/s3.err"
config "$T/dead.toml" 9
qserve s4 --config "$T/dead.toml"
check "serve --config, nothing listening: does not start, names the URL" \
    sh -c "! grep -q 'listening on' '$T/s4.err' && grep -q '127.0.0.1:9/v1/models' '$T/s4.err'"
stop_all

# --- budgets: max_pages, budget_cost, budget_tokens; spent -> next backend, then Tesseract ---
# six one-page scans, one at a time (-j 1, so the order is fixed): ds takes 2 pages
# (max_pages), or takes 2 (usage.cost 0.000125 each reaches 0.0002), local takes 1 (921
# prompt tokens reach 900), the last page goes to Tesseract; each later page names the budget
serve a --flavor vllm; P1=$PORT
serve o --flavor openrouter; P2=$PORT
serve l --flavor ollama; P3=$PORT
{
    printf '[resources]\npage_render_dpi = 100\n[backends]\ndefault = "ds"\n'
    printf 'fallback_chain = ["ds", "or", "local"]\n'
    printf '[backends.ds]\nprotocol = "deepseek"\nbase_url = "http://127.0.0.1:%s/v1"\n' "$P1"
    printf 'model = "deepseek-ai/DeepSeek-OCR"\nmax_pages = 2\n'
    printf '[backends.or]\nbase_url = "http://127.0.0.1:%s/v1"\n' "$P2"
    printf 'model = "deepseek-ai/DeepSeek-OCR"\nbudget_cost = 0.0002\n'
    printf '[backends.local]\nbase_url = "http://127.0.0.1:%s/v1"\n' "$P3"
    printf 'model = "deepseek-ai/DeepSeek-OCR"\nbudget_tokens = 900\n'
} > "$T/qb.toml"
"$Q" convert --vlm always --config "$T/qb.toml" -j 1 -q -o "$T/outb" --report "$T/rb.json" \
    --log-format json "$T/in" 2> "$T/eb"; rc=$?
check "budgets: convert exits 0 ($rc)" [ $rc -eq 0 ]
$PY - "$T/rb.json" > "$T/cb" 2>&1 <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
pages = [p for d in r["documents"] for p in d["pages"]]  # job order = run order (-j 1)
assert len(pages) == 6, len(pages)
got = [p["vlm"]["backend"] if p["method"] == "vlm" else p["method"] for p in pages]
assert sorted(got[:5]) == ["ds", "ds", "local", "or", "or"] and got[5] in ("ocr", "text"), got
def skips(p):
    return [a["backend"] + " " + a["reason"] for a in p["vlm"]["attempts"] if "budget spent" in a.get("reason", "")]
n_ds = n_or = n_local = 0
for p in pages:
    s = " | ".join(skips(p))
    n_ds += "ds skipped: budget spent: max_pages = 2 pages sent" in s
    n_or += "or skipped: budget spent: budget_cost = 0.0002 (0.00025 spent)" in s
    n_local += "local skipped: budget spent: budget_tokens = 900 (" in s
assert (n_ds, n_or, n_local) == (4, 2, 1), (n_ds, n_or, n_local, [skips(p) for p in pages])
last = pages[5]
assert last["status"] == "fallback" and last["vlm"]["outcome"] == "fallback", last
assert "budget spent: budget_tokens = 900" in last["vlm"]["reason"], last["vlm"]["reason"]
print("ok", got)
PYEOF
check "budgets: 2 pages ds (max_pages), 2 or (budget_cost), 1 local (budget_tokens), 1 fallback; every later page's attempts name the budget" grep -q "^ok" "$T/cb"
grep -q "Traceback" "$T/cb" && cat "$T/cb"
check "budgets: requests per backend 2/2/1 (a spent backend is not asked)" \
    [ "$(reqs a)/$(reqs o)/$(reqs l)" = "2/2/1" ]
check "budgets: a budget_spent event per skipped backend in --log-format json" \
    [ "$(grep -c '"event":"budget_spent"' "$T/eb")" -eq 7 ]
stop_all
printf '[backends]\ndefault = "x"\n[backends.x]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\nmax_pages = -1\n' > "$T/qbad.toml"
"$Q" convert --vlm always --config "$T/qbad.toml" "$SCAN" > /dev/null 2> "$T/ebad"
check "budgets: max_pages = -1 is refused naming line and column" grep -q 'qbad.toml:6:[0-9]*: backends.x.max_pages: must be between 0' "$T/ebad"

# --- [resources] max_workers: the default of --jobs with --vlm; --jobs still wins ------------
serve a --flavor vllm; P1=$PORT
config "$T/qw.toml" "$P1"
sed -i 's/^\[resources\]$/[resources]\nmax_workers = 3/' "$T/qw.toml"
"$Q" convert --vlm always --config "$T/qw.toml" -q -o "$T/outw" --report "$T/rw.json" "$T/in" 2> /dev/null
"$Q" convert --vlm always --config "$T/qw.toml" -q -j 2 -o "$T/outw2" --report "$T/rw2.json" "$T/in" 2> /dev/null
"$Q" convert -q -o "$T/outw3" --report "$T/rw3.json" "$SCAN" 2> /dev/null
w=$($PY -c "import json; print(*(json.load(open(f))['totals']['workers'] for f in ('$T/rw.json', '$T/rw2.json', '$T/rw3.json')))")
check "max_workers = 3: 3 workers with --vlm and no --jobs, 2 with -j 2, 1 without --vlm ($w)" [ "$w" = "3 2 1" ]
stop_all
