#!/bin/sh
# tests/cli/search_vector.sh — query by vector (issue 15 point 4): `quire search --vector`
# with the vector `quire embed` gives for a text returns the same hits and cosines as
# `--mode vector` on that text (no model loaded); with a QUERY too it is hybrid and equals
# the hybrid search of that text; HTTP `"vector"` gives the same hits as the CLI; a wrong
# dimension, a text-only collection, bad JSON and --mode text are clear errors. ~10 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=$SHARED/models/tiny
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
DB=$T/v.db
mkdir -p "$T/in"
i=0
while [ $i -lt 20 ]; do
    printf '# Animal %d\n\nThe animal number %d is called creature%d and eats food%d.\n\n## Habitat\n\nIt lives in place%d near river%d.\n' $i $i $i $i $i $i > "$T/in/a$i.md"
    i=$((i+1))
done
"$Q" ingest -q --db "$DB" -c zoo --model "$M" "$T/in" > /dev/null 2>&1
"$Q" ingest -q --db "$DB" -c plain "$T/in/a1.md" > /dev/null 2>&1
check "stores: a vector collection and a text-only one" [ "$(sqlite3 "$DB" 'SELECT count(*) FROM vectors')" -gt 20 ]

QUERY="where does creature7 live"
echo "$QUERY" | "$Q" embed --model "$M" > "$T/emb" 2>/dev/null
$PY -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).readline())["embedding"]))' "$T/emb" > "$T/vec"
check "quire embed gives the query vector" [ -s "$T/vec" ]
# same_hits A B [hybrid]: same documents, chunks, pages and cosines, in the same order
same_hits() {
    $PY - "$@" <<'EOF2'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 5, (len(a), len(b))
for x, y in zip(a, b):
    assert (x["id"], x["document"], x["page_start"]) == (y["id"], y["document"], y["page_start"]), (x, y)
    assert abs(x["cosine"] - y["cosine"]) < 1e-5, (x["cosine"], y["cosine"])
    assert x["score_kind"] == y["score_kind"], (x["score_kind"], y["score_kind"])
EOF2
}
"$Q" search --db "$DB" -c zoo --model "$M" --mode vector -k 5 --json "$QUERY" > "$T/txt" 2>/dev/null
"$Q" search --db "$DB" -c zoo --vector "$T/vec" -k 5 --json > "$T/byvec" 2> "$T/e"; rc=$?
check "--vector FILE: exit 0, vector mode (score_kind cosine)" sh -c "[ $rc -eq 0 ] && grep -q '\"score_kind\":\"cosine\"' '$T/byvec'"
check "--vector FILE = --mode vector on the text (hits and cosines)" same_hits "$T/txt" "$T/byvec"
"$Q" search --db "$DB" -c zoo --vector - -k 5 --json < "$T/vec" > "$T/stdin" 2>/dev/null
check "--vector - reads stdin: the same hits" same_hits "$T/txt" "$T/stdin"
"$Q" search --db "$DB" -c zoo --vector "$T/vec" --model /nonexistent -k 5 --json > "$T/nomodel" 2>/dev/null
check "--vector loads no model (a missing --model is never opened)" same_hits "$T/txt" "$T/nomodel"
"$Q" search --db "$DB" -c zoo --vector "$T/vec" --mode vector --exact -k 5 --json > "$T/exact" 2>/dev/null
check "--vector --exact: the same hits" same_hits "$T/txt" "$T/exact"
"$Q" search --db "$DB" -c zoo --model "$M" -k 5 --json "$QUERY" > "$T/hyb" 2>/dev/null
"$Q" search --db "$DB" -c zoo --vector "$T/vec" -k 5 --json "$QUERY" > "$T/hybvec" 2>/dev/null
check "--vector FILE QUERY: hybrid (score_kind rrf)" grep -q '"score_kind":"rrf"' "$T/hybvec"
check "--vector FILE QUERY = the hybrid search of QUERY" same_hits "$T/hyb" "$T/hybvec"
"$Q" search --db "$DB" -c zoo --vector "$T/vec" -k 5 --json --where '{"path":{"$in":["'"$T"'/in/a3.md"]}}' > "$T/w" 2>/dev/null
check "--vector with --where: only the matching document" $PY -c 'import json,sys; h=[json.loads(l) for l in open(sys.argv[1])]; assert h and all(x["document"].endswith("/a3.md") for x in h), h' "$T/w"

# errors: exit 2 (usage) naming the problem; a text-only collection fails
echo '[0.5, 0.25]' > "$T/short"
"$Q" search --db "$DB" -c zoo --vector "$T/short" > /dev/null 2> "$T/e"; rc=$?
check "wrong dimension: exit 2 naming both sizes" sh -c "[ $rc -eq 2 ] && grep -q 'has 2 dimensions' '$T/e' && grep -q '32-dim' '$T/e'"
echo '[0.5, "x"]' > "$T/nonnum"
"$Q" search --db "$DB" -c zoo --vector "$T/nonnum" > /dev/null 2> "$T/e"; rc=$?
check "non-numeric element: exit 2" sh -c "[ $rc -eq 2 ] && grep -q -- '--vector' '$T/e'"
echo '[0.5,' > "$T/broken"
"$Q" search --db "$DB" -c zoo --vector "$T/broken" > /dev/null 2> "$T/e"; rc=$?
check "invalid JSON: exit 2 saying so" sh -c "[ $rc -eq 2 ] && grep -q 'not valid JSON' '$T/e'"
"$Q" search --db "$DB" -c zoo --vector "$T/vec" --mode text x > /dev/null 2> "$T/e"; rc=$?
check "--vector --mode text: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'needs --mode vector or hybrid' '$T/e'"
"$Q" search --db "$DB" -c plain --vector "$T/vec" > /dev/null 2> "$T/e"; rc=$?
check "--vector on a text-only collection: fails naming it" sh -c "[ $rc -ne 0 ] && grep -q \"'plain' is text-only\" '$T/e'"
"$Q" search --db "$DB" -c zoo --vector "$T/missing.json" > /dev/null 2> "$T/e"; rc=$?
check "--vector of a missing file: fails naming the file" sh -c "[ $rc -ne 0 ] && grep -q 'missing.json' '$T/e'"

# ---- HTTP "vector" -----------------------------------------------------------------------
"$Q" serve --port 0 --db "$DB" 2> "$T/srv.err" &
PID=$!
PORT=
i=0
while [ $i -lt 300 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/srv.err")
    sleep 0.1; i=$((i+1))
done
B=http://127.0.0.1:$PORT/v1/search
J="Content-Type: application/json"
$PY -c 'import json,sys; print(json.dumps({"collection":"zoo","vector":json.load(open(sys.argv[1])),"k":5}))' "$T/vec" > "$T/req"
curl -s "$B" -H "$J" -d @"$T/req" > "$T/http"
check "HTTP \"vector\" (server without a model): the CLI's hits, mode vector, no fallback" $PY - "$T/http" "$T/byvec" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1])); cli = [json.loads(l) for l in open(sys.argv[2])]
assert r["mode"] == "vector" and r["mode_fallback"] is False, r
assert len(r["data"]) == 5, r
for a, b in zip(r["data"], cli):
    assert {k: v for k, v in a.items() if k not in ("score", "cosine")} == \
           {k: v for k, v in b.items() if k not in ("score", "cosine")}, (a, b)
    assert abs(a["cosine"] - b["cosine"]) < 1e-6
EOF2
$PY -c 'import json,sys; print(json.dumps({"collection":"zoo","vector":json.load(open(sys.argv[1])),"query":sys.argv[2],"k":5}))' "$T/vec" "$QUERY" > "$T/reqh"
curl -s "$B" -H "$J" -d @"$T/reqh" > "$T/httph"
check "HTTP \"vector\" + \"query\": hybrid, the CLI's hybrid hits" $PY - "$T/httph" "$T/hyb" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1])); cli = [json.loads(l) for l in open(sys.argv[2])]
assert r["mode"] == "hybrid" and [h["id"] for h in r["data"]] == [h["id"] for h in cli], (r, cli)
EOF2
# herr NAME STATUS CODE BODY
herr() {
    got=$(curl -s -o "$T/body" -w '%{http_code}' "$B" -H "$J" -d "$4")
    if [ "$got" = "$2" ] && $PY -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]==sys.argv[2] and e["message"], e' "$T/body" "$3" 2>/dev/null; then
        ok "$1"
    else
        bad "$1" "status $got: $(head -c 200 "$T/body")"
    fi
}
herr "HTTP vector of the wrong dimension -> 400" 400 invalid_request '{"collection":"zoo","vector":[0.5,0.25]}'
herr "HTTP vector not an array of numbers -> 400" 400 invalid_vector '{"collection":"zoo","vector":[0.5,"x"]}'
herr "HTTP vector of an unknown collection -> 404" 404 collection_not_found '{"collection":"nope","vector":[0.5]}'
kill -TERM $PID; wait $PID; PID=
