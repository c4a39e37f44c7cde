#!/bin/sh
# tests/cli/serve_st.sh — sentence-transformers rules over HTTP with tiny-nomic (no
# Normalize module, Matryoshka rule, task prefixes): "input_type" / "prompt_name" /
# "prompt" on /v1/embeddings, "dimensions" by the model's rule, "truncated": true for a
# cut input, TEI /embed normalize; and `quire ingest` remembering the model's prompts.
# Vectors are checked against shared/models/tiny-nomic/golden.jsonl. Prints PASS/FAIL.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
N=$SHARED/models/tiny-nomic
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
[ -f "$N/model.safetensors" ] || { bad "tiny-nomic missing"; exit 1; }

"$Q" serve --port 0 --model "$N" --max-tokens 16 --truncate 2> "$T/log" &
PID=$!
PORT=; i=0
while [ $i -lt 600 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/log")
    kill -0 $PID 2>/dev/null || break
    [ -n "$PORT" ] || sleep 0.1; i=$((i+1))
done
[ -n "$PORT" ] || { cat "$T/log"; bad "server did not start"; exit 1; }
i=0
while [ $i -lt 300 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" != 200 ]; do
    sleep 0.1; i=$((i+1))
done
U=http://127.0.0.1:$PORT
post() { curl -s -o "$2" -w '%{http_code}' -H 'Content-Type: application/json' -d "$3" "$U$1"; }

c1=$(post /v1/embeddings "$T/a" '{"model":"tiny-nomic","input":"What is TSNE?","input_type":"search_query"}')
c2=$(post /v1/embeddings "$T/b" '{"model":"tiny-nomic","input":"What is TSNE?","prompt_name":"query","dimensions":16}')
c3=$(post /v1/embeddings "$T/c" '{"model":"tiny-nomic","input":"What is TSNE?","prompt":"search_query: ","dimensions":32}')
c4=$(post /v1/embeddings "$T/d" '{"model":"tiny-nomic","input":["search_query: What is TSNE?","one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"]}')
c5=$(post /embed "$T/e" '{"inputs":"search_query: What is TSNE?"}')
c6=$(post /v1/embeddings "$T/f" '{"model":"tiny-nomic","input":"x","input_type":"nope"}')
check "all answers 200 but the unknown prompt (400)" [ "$c1$c2$c3$c4$c5$c6" = "200200200200200400" ]
check "vectors follow the goldens: input_type = prompt_name = prompt, dimensions by the Matryoshka rule, raw default, TEI normalises, truncated flagged" \
    $PY - "$N/golden.jsonl" "$T" <<'PY'
import base64, json, math, struct, sys
g = [json.loads(l) for l in open(sys.argv[1])][50]
dec = lambda b: struct.unpack("<%df" % (len(base64.b64decode(b)) // 4), base64.b64decode(b))
rd = lambda n: json.load(open(sys.argv[2] + "/" + n))
close = lambda a, b: len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) <= 1e-4
norm = lambda v: math.sqrt(sum(x * x for x in v))
unit = lambda v: [x / norm(v) for x in v]
a = rd("a")["data"][0]["embedding"]; b = rd("b")["data"][0]["embedding"]
c = rd("c")["data"][0]["embedding"]; d = rd("d")["data"]; e = rd("e")[0]
r = [abs(norm(a) - 1) > 1e-2, close(unit(a), dec(g["emb_f32_b64"])),   # no Normalize module
     close(b, dec(g["mrl_f32_b64"]["16"])), close(c, dec(g["mrl_f32_b64"]["32"])),
     close(d[0]["embedding"], a), "truncated" not in d[0], d[1].get("truncated") is True,
     close(e, dec(g["emb_f32_b64"]))]                                   # TEI normalize default
print("  checks:", r)
sys.exit(0 if all(r) else 1)
PY
check "unknown prompt: the error lists the model's prompts" grep -q 'search_document' "$T/f"
kill -TERM $PID; wait $PID; PID=

# --- ingest remembers the model's document / query prompts ---------------------------
mkdir -p "$T/docs"
printf '# Notes\n\nRotary position embeddings rotate query and key pairs.\n' > "$T/docs/a.md"
"$Q" ingest --db "$T/s.db" --collection c --model "$N" -q "$T/docs" 2> "$T/ie"; rc=$?
check "ingest with tiny-nomic exits 0" [ $rc -eq 0 ]
check "the collection remembers search_document: / search_query:" $PY -c '
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("select doc_prefix, query_prefix from indexes").fetchone()
sys.exit(0 if r == ("search_document: ", "search_query: ") else 1)' "$T/s.db"
