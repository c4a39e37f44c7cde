#!/bin/sh
# tests/cli/serve.sh — `quire serve` over real loopback sockets: the official openai npm
# client gets the same vectors as `quire embed` (float and base64), every bad request gets
# its status and a JSON error while /health keeps answering, a stalled client is cut off,
# 32 concurrent clients get correct answers in order, SIGTERM under load loses no request
# and exits 0; /v1/search (text-only and tiny-model collections), /v1/convert, /metrics.
# Needs curl, node + npm (installs the openai client into build/npm once), python3. ~30 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=$SHARED/models/tiny
HERE=$(cd "$(dirname "$0")" && pwd)
NPM_DIR=${QUIRE_NPM_DIR:-build/npm}
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT

# start_server LOG ARGS...: start quire serve on a free port; sets PID and PORT.
start_server() {
    log=$1; shift
    "$Q" serve --port 0 "$@" 2> "$log" &
    PID=$!
    PORT=
    i=0
    while [ $i -lt 600 ]; do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
        [ -n "$PORT" ] && break
        kill -0 $PID 2>/dev/null || break
        sleep 0.1; i=$((i+1))
    done
    [ -n "$PORT" ] || { cat "$log"; return 1; }
    # ready: /health answers 200
    i=0
    while [ $i -lt 300 ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && return 0
        sleep 0.1; i=$((i+1))
    done
    return 1
}
stop_server() { kill -TERM $PID 2>/dev/null; wait $PID; rc=$?; PID=; return $rc; }

# req NAME STATUS CODE CURL-ARGS...: the status, a JSON error body with message/type/code
# naming CODE, and /health still 200 afterwards.
req() {
    name=$1; want=$2; code=$3; shift 3
    got=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
    if [ "$got" != "$want" ]; then
        bad "$name" "status $got, want $want: $(head -c 300 "$T/body")"
    elif ! $PY -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["message"] and e["type"] and e["code"]==sys.argv[2], e' "$T/body" "$code" 2>/dev/null; then
        bad "$name" "not the JSON error with code $code: $(head -c 300 "$T/body")"
    elif [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health")" != 200 ]; then
        bad "$name" "/health no longer answers 200"
    else
        ok "$name"
    fi
}

# ---- data: texts, expected vectors, stores ------------------------------------------------
cat > "$T/texts" <<'EOF2'
hello world
The quick brown fox jumps over the lazy dog.
Embeddings map sentences to vectors.
A lighthouse keeper trimmed the wick at night.
good morning
Fresnel lenses bend light into a narrow beam.
quire serves its own engine and store.
Ünïcödé text – with dashes and “quotes”.
EOF2
"$Q" embed --model "$M" "$T/texts" > "$T/expected" 2> "$T/embed.err"
check "quire embed gives the reference vectors" [ "$(wc -l < "$T/expected")" -eq 8 ]
DB=$T/s.db
"$Q" ingest -q --db "$DB" --collection demo examples/sample.pdf 2> "$T/ing1" > /dev/null
mkdir -p "$T/zoo"
i=0
while [ $i -lt 12 ]; do
    printf '# Animal %d\n\nThe animal number %d is called creature%d and eats food%d.\n' $i $i $i $i > "$T/zoo/a$i.md"
    i=$((i+1))
done
"$Q" ingest -q --db "$DB" --collection zoo --model "$M" "$T/zoo" 2> "$T/ing2" > /dev/null
check "stores for search: text-only and tiny-model collections" [ $? -eq 0 ]
printf 'sekret-key-123\n' > "$T/key"
KEY=sekret-key-123

# ---- server 1: auth + small limits ---------------------------------------------------------
start_server "$T/srv1.err" --model "$M" --db "$DB" --api-key-file "$T/key" --max-body 20000 \
    --max-inputs 16 --max-tokens 24 --timeout 2
check "server starts on a free port and reports it" [ -n "$PORT" ]
BASE=http://127.0.0.1:$PORT
check "startup line names model and store" grep -q "listening on http://127.0.0.1:$PORT (model tiny, store $DB)" "$T/srv1.err"
A="Authorization: Bearer $KEY"
J="Content-Type: application/json"

# the official openai client (installed at test time when missing)
if [ ! -f "$NPM_DIR/node_modules/openai/package.json" ]; then
    npm install --prefix "$NPM_DIR" openai@4 --no-audit --no-fund --silent > "$T/npm.log" 2>&1 ||
        cat "$T/npm.log"
fi
NODE_PATH=$NPM_DIR/node_modules node "$HERE/serve_client.cjs" openai "$BASE" "$KEY" "$T/texts" "$T/expected" > "$T/oa" 2>&1
check "openai client: vectors identical to quire embed (float, base64, default); unknown model 404" grep -q '^ok' "$T/oa" || cat "$T/oa"

curl -s "$BASE/v1/embeddings" -H "$A" -H "$J" -d '{"model":"tiny","input":"hello world","dimensions":16}' > "$T/d16"
check "dimensions 16: first 16 values renormalised" $PY - "$T/d16" <<'EOF2'
import json, sys, math
v = json.load(open(sys.argv[1]))["data"][0]["embedding"]
assert len(v) == 16 and abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5, v
EOF2
"$Q" tokenize --model "$M" "$T/texts" | head -2 > "$T/ids"
$PY -c 'import json,sys; ids=[json.loads(l)["ids"] for l in open(sys.argv[1])]; print(json.dumps({"model":"tiny","input":ids}))' "$T/ids" > "$T/idsreq"
curl -s "$BASE/v1/embeddings" -H "$A" -H "$J" -d @"$T/idsreq" > "$T/idsresp"
check "token-id arrays give the same vectors as the texts" $PY - "$T/idsresp" "$T/expected" <<'EOF2'
import json, sys
got = [d["embedding"] for d in json.load(open(sys.argv[1]))["data"]]
exp = [json.loads(l)["embedding"] for l in open(sys.argv[2])][:2]
assert len(got) == 2 and all(abs(a - b) <= 1e-6 for g, e in zip(got, exp) for a, b in zip(g, e))
EOF2

# bad requests: status, JSON error, still healthy
E="$BASE/v1/embeddings"
req "malformed JSON -> 400" 400 invalid_json "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":'
req "body not an object -> 400" 400 invalid_type "$E" -H "$A" -H "$J" -d '[1,2]'
req "input of the wrong type -> 400" 400 invalid_type "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":5}'
req "mixed input array -> 400" 400 invalid_type "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":["a",1]}'
req "model of the wrong type -> 400" 400 invalid_type "$E" -H "$A" -H "$J" -d '{"model":7,"input":"a"}'
req "missing model -> 400" 400 missing_model "$E" -H "$A" -H "$J" -d '{"input":"a"}'
req "missing input -> 400" 400 missing_input "$E" -H "$A" -H "$J" -d '{"model":"tiny"}'
req "empty input array -> 400" 400 invalid_input "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":[]}'
req "empty input string -> 400" 400 invalid_input "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":""}'
req "bad encoding_format -> 400" 400 invalid_encoding_format "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":"a","encoding_format":"hex"}'
req "dimensions above the model's -> 400" 400 invalid_dimensions "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":"a","dimensions":64}'
req "token id outside the vocabulary -> 400" 400 invalid_request "$E" -H "$A" -H "$J" -d '{"model":"tiny","input":[[101,99999999,102]]}'
req "unknown model -> 404" 404 model_not_found "$E" -H "$A" -H "$J" -d '{"model":"gpt-x","input":"a"}'
$PY -c 'import json; print(json.dumps({"model":"tiny","input":["word " * 10000]}))' > "$T/big"
req "oversized body -> 413" 413 request_too_large "$E" -H "$A" -H "$J" -d @"$T/big"
$PY -c 'import json; print(json.dumps({"model":"tiny","input":["a"] * 17}))' > "$T/many"
req "too many inputs -> 400" 400 too_many_inputs "$E" -H "$A" -H "$J" -d @"$T/many"
$PY -c 'import json; print(json.dumps({"model":"tiny","input":["short", "many words " * 20]}))' > "$T/long"
req "too-long input without --truncate -> 413" 413 context_length_exceeded "$E" -H "$A" -H "$J" -d @"$T/long"
check "the 413 names the input index" grep -q 'input\[1\]' "$T/body"
req "missing API key -> 401" 401 invalid_api_key "$E" -H "$J" -d '{"model":"tiny","input":"a"}'
req "wrong API key -> 401" 401 invalid_api_key "$E" -H "Authorization: Bearer nope" -H "$J" -d '{"model":"tiny","input":"a"}'
req "unknown route -> 404" 404 not_found "$BASE/v2/nothing" -H "$A"
req "wrong method -> 405" 405 method_not_allowed "$E" -H "$A"
req "search without query -> 400" 400 missing_query "$BASE/v1/search" -H "$A" -H "$J" -d '{"collection":"demo"}'
req "search of an unknown collection -> 404" 404 collection_not_found "$BASE/v1/search" -H "$A" -H "$J" -d '{"collection":"nope","query":"x"}'
req "convert with an unknown format -> 400" 400 invalid_format "$BASE/v1/convert?format=docx" -H "$A" --data-binary @examples/sample.pdf
req "convert of a path without --allow-paths -> 403" 403 path_not_allowed "$BASE/v1/convert" -H "$A" -H "$J" -d '{"path":"/etc/passwd"}'

# slow client: headers, then nothing -> the server closes after --timeout and stays healthy
$PY - "$PORT" "$KEY" > "$T/slow" 2>&1 <<'EOF2'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sys.argv[2].encode() +
          b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"mod")
s.settimeout(15)
t = time.time()
try:
    data = s.recv(4096)
    assert not data or b"HTTP/1.1 408" in data, data  # no other answer to a stalled request
except ConnectionResetError:
    pass
dt = time.time() - t
assert 1.0 <= dt < 10, dt
print("closed after %.1f s" % dt)
EOF2
check "slow client: connection closed after --timeout ($(cat "$T/slow"))" grep -q '^closed' "$T/slow"
check "healthy after the slow client" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health")" = 200 ]

# search: text-only collection and the tiny-model collection (hybrid)
curl -s "$BASE/v1/search" -H "$A" -H "$J" -d '{"collection":"demo","query":"who designed the lens","k":2}' > "$T/s1"
check "search (text-only collection): cited hit" $PY - "$T/s1" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
h = r["data"][0]
assert r["object"] == "list" and r["mode"] == "text" and h["document"].endswith("sample.pdf"), r
assert h["page_start"] == 1 and "Fresnel" in h["heading"] and h["snippet"] and "score" in h, h
EOF2
curl -s "$BASE/v1/search" -H "$A" -H "$J" -d '{"collection":"zoo","query":"creature7 food7","k":3,"filter":"path=*.md"}' > "$T/s2"
check "search (tiny-model collection): hybrid, the right document first" $PY - "$T/s2" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["mode"] == "hybrid" and r["data"][0]["document"].endswith("a7.md"), r
EOF2
curl -s "$BASE/v1/search" -H "$A" -H "$J" -d '{"collection":"zoo","query":"animal","mode":"vector","k":4}' > "$T/s3"
check "search mode vector: k hits" $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["mode"]=="vector" and len(r["data"])==4, r' "$T/s3"
"$Q" search --db "$DB" -c zoo --model "$M" --mode vector -k 4 --json animal > "$T/s3cli" 2>/dev/null
check "/v1/search hits = quire search --json hits (hit schema 1: same keys and values)" $PY - "$T/s3" "$T/s3cli" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1])); cli = [json.loads(l) for l in open(sys.argv[2])]
assert r["hit_schema_version"] == 1 and r["mode_requested"] == "vector" and not r["mode_fallback"], r
assert len(cli) == 4 and [sorted(h) for h in r["data"]] == [sorted(h) for h in cli], (r["data"][0], cli[0])
for a, b in zip(r["data"], cli):
    assert {k: v for k, v in a.items() if k != "score" and k != "cosine"} == \
           {k: v for k, v in b.items() if k != "score" and k != "cosine"}, (a, b)
    assert abs(a["cosine"] - b["cosine"]) < 1e-6 and a["score_kind"] == "cosine", (a, b)
assert all(h["text_rank"] is None for h in cli), cli
EOF2

# convert: PDF bytes in, Markdown / JSON out
curl -s -D "$T/ch" "$BASE/v1/convert?format=md" -H "$A" --data-binary @examples/sample.pdf > "$T/c.md"
check "convert: Markdown of the PDF" sh -c "grep -q '^# Field Guide to Lighthouses' '$T/c.md' && grep -qi '^content-type: text/markdown' '$T/ch'"
curl -s "$BASE/v1/convert?format=json" -H "$A" --data-binary @examples/sample.pdf > "$T/c.json"
check "convert: JSON of the PDF" $PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/c.json"
req "convert of bytes that are no document -> 422" 422 unprocessable_document "$BASE/v1/convert" -H "$A" --data-binary 'not a pdf'
check "no temporary file left behind" sh -c "! ls ${TMPDIR:-/tmp}/quire-serve-* 2>/dev/null | grep -q ."

# 32 concurrent clients
QUIRE_KEY=$KEY node "$HERE/serve_client.cjs" concurrent "$BASE" "$T/texts" "$T/expected" 32 8 > "$T/cc" 2>&1 || true
check "32 concurrent clients: every response correct and in order ($(cat "$T/cc" | head -c 200))" grep -q '^ok' "$T/cc"
sleep 0.3
curl -s "$BASE/metrics" -H "$A" > "$T/metrics"
check "metrics: requests by route and code" grep -q 'quire_http_requests_total{route="/v1/embeddings",code="200"}' "$T/metrics"
check "metrics: latency histogram, batch sizes, queue depth, RSS" sh -c "grep -q 'quire_http_request_duration_seconds_bucket{route=\"/v1/embeddings\",le=\"0.01\"}' '$T/metrics' && grep -q '^quire_embed_batch_size_count [1-9]' '$T/metrics' && grep -q '^quire_embed_queue_depth 0' '$T/metrics' && grep -q '^quire_process_resident_memory_bytes [1-9]' '$T/metrics'"
check "metrics: batches held more than one input" $PY - "$T/metrics" <<'EOF2'
import sys
m = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]) if l.startswith("quire_embed_batch_size_"))
assert float(m["quire_embed_batch_size_sum"]) > float(m["quire_embed_batch_size_count"]), m
EOF2
stop_server
check "SIGTERM when idle: exit 0" [ $rc -eq 0 ]

# ---- a server without the collection's model: a text fallback is never silent ------------
start_server "$T/srvfb.err" --db "$DB"
curl -s "http://127.0.0.1:$PORT/v1/search" -H "$J" -d '{"collection":"zoo","query":"creature7 food7","k":3}' > "$T/sfb"
check "collection with vectors, server without its model: text, mode_fallback true, note says why" $PY - "$T/sfb" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["mode"] == "text" and r["mode_fallback"] is True and r["mode_requested"] is None, r
assert "no model" in r["note"] and r["data"] and r["data"][0]["document"].endswith("a7.md"), r
EOF2
curl -s "http://127.0.0.1:$PORT/v1/search" -H "$J" -d '{"collection":"demo","query":"lens","k":1}' > "$T/sfb2"
check "text-only collection on that server: no fallback flagged" $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["mode"]=="text" and r["mode_fallback"] is False, r' "$T/sfb2"
stop_server

# ---- server 2: --truncate -------------------------------------------------------------------
start_server "$T/srv2.err" --model "$M" --max-tokens 24 --truncate
BASE=http://127.0.0.1:$PORT
{ printf 'many words %.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; echo; } > "$T/longtext"
"$Q" embed --model "$M" --max-tokens 24 "$T/longtext" > "$T/longexp" 2>/dev/null
$PY -c 'import json,sys; print(json.dumps({"model":"tiny","input":[open(sys.argv[1]).read().strip()]}))' "$T/longtext" > "$T/longreq"
curl -s "$BASE/v1/embeddings" -H "$J" -d @"$T/longreq" > "$T/longresp"
check "--truncate: a long input is cut like quire embed --max-tokens" $PY - "$T/longresp" "$T/longexp" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
g = r["data"][0]["embedding"]
e = json.loads(open(sys.argv[2]).readline())["embedding"]
assert r["usage"]["prompt_tokens"] == 24 and max(abs(a - b) for a, b in zip(g, e)) <= 1e-6, r["usage"]
EOF2

# SIGTERM during load: every request in flight gets its response; exit 0
node "$HERE/serve_client.cjs" sigterm "$BASE" "$T/texts" "$T/expected" 16 $PID > "$T/st" 2>&1
wait $PID
rc=$?
PID=
check "SIGTERM under load: no request lost ($(head -c 200 "$T/st"))" grep -q '^ok' "$T/st"
check "SIGTERM under load: exit 0" [ $rc -eq 0 ]

# ---- server 3: model-name aliases, token-array framing --------------------------------------
start_server "$T/srv3.err" --model "$M" --model-name text-embedding-ada-002 \
    --model-name text-embedding-3-small
BASE=http://127.0.0.1:$PORT
for name in text-embedding-ada-002 text-embedding-3-small tiny; do
    curl -s "$BASE/v1/embeddings" -H "$J" -d "{\"model\":\"$name\",\"input\":\"hello world\"}" > "$T/alias"
    check "alias '$name' accepted; the answer names text-embedding-ada-002" \
        $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["model"]=="text-embedding-ada-002" and len(r["data"])==1, r' "$T/alias"
done
req "a name that is none of them -> 404" 404 model_not_found -d '{"model":"gpt-4","input":"x"}' -H "$J" "$BASE/v1/embeddings"
# LangChain-Python's default sends tiktoken ids: refused with the way out
req "tiktoken-style ids (not [CLS]..[SEP]) -> 400" 400 invalid_input -H "$J" \
    -d '{"model":"tiny","input":[[15339,1917]]}' "$BASE/v1/embeddings"
check "the 400 names tiktoken and check_embedding_ctx_length=False" \
    grep -q 'tiktoken.*check_embedding_ctx_length=False' "$T/body"
curl -s "$BASE/v1/embeddings" -H "$J" -d @"$T/idsreq" > "$T/idsresp3"
check "ids framed by the model's [CLS]..[SEP] are still accepted" \
    $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r["data"])==2, r' "$T/idsresp3"
stop_server
start_server "$T/srv4.err" --model "$M" --accept-any-model-name --token-ids native
BASE=http://127.0.0.1:$PORT
curl -s "$BASE/v1/embeddings" -H "$J" -d '{"model":"anything-at-all","input":[[15339,1917]]}' > "$T/any"
check "--accept-any-model-name + --token-ids native: raw ids embedded, answer names tiny" \
    $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["model"]=="tiny" and len(r["data"])==1, r' "$T/any"
stop_server
"$Q" serve --model "$M" --token-ids bogus > /dev/null 2> "$T/e"; rc=$?
check "--token-ids bogus exits 2" [ $rc -eq 2 ]

# ---- server 5: TEI and Ollama drop-in routes, with their real npm clients -------------------
start_server "$T/srv5.err" --model "$M"
BASE=http://127.0.0.1:$PORT
if [ ! -d "$NPM_DIR/node_modules/ollama" ] || [ ! -d "$NPM_DIR/node_modules/@huggingface/inference" ]; then
    npm install --prefix "$NPM_DIR" ollama@0 @huggingface/inference@4 --no-audit --no-fund --silent \
        > "$T/npm2.log" 2>&1 || cat "$T/npm2.log"
fi
node "$HERE/compat_client.mjs" "$NPM_DIR" "$BASE" "$T/texts" "$T/expected" tiny
check "the ollama and @huggingface/inference clients pass" [ $? -eq 0 ]
curl -s "$BASE/embed" -H "$J" -d '{"inputs":"hello world","dimensions":8}' > "$T/tei8"
check "TEI /embed with dimensions 8: one unit vector of 8" $PY -c 'import json,sys,math; r=json.load(open(sys.argv[1])); assert len(r)==1 and len(r[0])==8 and abs(math.hypot(*r[0])-1)<1e-5, r' "$T/tei8"
# compat_err NAME STATUS URL BODY PYTHON-ASSERT: status and the imitated server's error shape
compat_err() {
    got=$(curl -s -o "$T/body" -w '%{http_code}' -H "$J" -d "$4" "$3")
    if [ "$got" = "$2" ] && $PY -c "import json,sys; e=json.load(open(sys.argv[1])); assert $5, e" "$T/body" 2>/dev/null; then
        ok "$1"
    else
        bad "$1" "status $got: $(head -c 200 "$T/body")"
    fi
}
compat_err "TEI /embed without inputs -> 400 {error, error_type}" 400 "$BASE/embed" '{"input":"x"}' \
    'e["error_type"]=="missing_input" and "inputs" in e["error"]'
compat_err "TEI /embed normalize:false -> 400 (not silently normalised)" 400 "$BASE/embed" \
    '{"inputs":"x","normalize":false}' 'e["error_type"]=="unsupported"'
compat_err "Ollama /api/embed without model -> 400 {error: string}" 400 "$BASE/api/embed" \
    '{"input":"x"}' 'isinstance(e["error"], str) and "model" in e["error"]'
req "GET /embed -> 405" 405 method_not_allowed "$BASE/embed"
stop_server
