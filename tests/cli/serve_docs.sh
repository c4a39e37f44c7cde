#!/bin/sh
# tests/cli/serve_docs.sh — document management over HTTP (issue 15 point 3, issue 18 point
# 4): POST /v1/collections/{name}/documents as a multipart upload (curl -F) and as JSON
# naming a file under --allow-paths, upsert by id (same id + new content = updated, the
# same bytes = unchanged), GET of documents and collections, DELETE of a document and a
# collection, DELETE of the documents a metadata filter keeps, /v1/search with "where"
# (= quire search --where), each checked against `quire docs`/`quire search`; the
# clear errors: 401 without the key, 403 read_only without --allow-writes, 403 for a path
# outside --allow-paths, 404 unknown collection/document, 400 bad body, 405, 415. ~10 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=$SHARED/models/tiny
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
start_server() {
    log=$1; shift
    "$Q" serve --port 0 "$@" 2> "$log" &
    PID=$!
    PORT=
    i=0
    while [ $i -lt 300 ] && [ -z "$PORT" ]; do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
        kill -0 $PID 2>/dev/null || break
        sleep 0.1; i=$((i+1))
    done
    [ -n "$PORT" ] || { cat "$log"; return 1; }
    BASE=http://127.0.0.1:$PORT
}
stop_server() { kill -TERM $PID 2>/dev/null; wait $PID; PID=; }
# req NAME STATUS CODE CURL-ARGS...: the status and a JSON error naming CODE
req() {
    name=$1; want=$2; code=$3; shift 3
    got=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
    if [ "$got" = "$want" ] && $PY -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["message"] and e["code"]==sys.argv[2], e' "$T/body" "$code" 2>/dev/null; then
        ok "$name"
    else
        bad "$name" "status $got, want $want/$code: $(head -c 300 "$T/body")"
    fi
}
# jq_ FILE PYTHON-EXPR: assert the expression over r = the JSON of FILE
jq_() { $PY -c "import json,sys; r=json.load(open(sys.argv[1])); assert $2, r" "$1"; }

DB=$T/s.db
mkdir -p "$T/allowed" "$T/outside"
printf '# Lighthouse\n\nThe Fresnel lens bends light into a narrow beam.\n' > "$T/allowed/lens.md"
printf '# Secret\n\nnot for the server\n' > "$T/outside/secret.md"
printf '# Capybara\n\nThe capybara swims across the river at dawn.\n' > "$T/capy.md"
"$Q" ingest -q --db "$DB" -c zoo --model "$M" "$T/capy.md" > /dev/null 2>&1
printf 'k3y-for-writes\n' > "$T/key"
A="Authorization: Bearer k3y-for-writes"
J="Content-Type: application/json"

"$Q" serve --db "$DB" --allow-writes > /dev/null 2> "$T/e"; rc=$?
check "--allow-writes without --api-key-file: exit 2 saying why" sh -c "[ $rc -eq 2 ] && grep -q 'needs --db PATH and --api-key-file' '$T/e'"

# ---- read-only server: reads work, writes are 403 read_only ------------------------------
start_server "$T/ro.err" --db "$DB" --model "$M"
curl -s "$BASE/v1/collections" > "$T/cols"
check "GET /v1/collections lists the store's collections" jq_ "$T/cols" 'r["object"]=="list" and [c["name"] for c in r["data"]]==["zoo"] and r["data"][0]["documents"]==1 and r["data"][0]["model"]=="tiny"'
req "read-only server: POST a document -> 403 read_only" 403 read_only "$BASE/v1/collections/zoo/documents" -F "file=@$T/capy.md"
req "read-only server: DELETE documents by filter -> 403 read_only" 403 read_only -X DELETE "$BASE/v1/collections/zoo/documents" -H "$J" -d '{"where":{"year":2021}}'
req "read-only server: DELETE a collection -> 403 read_only" 403 read_only -X DELETE "$BASE/v1/collections/zoo"
stop_server
check "the read-only server changed nothing" [ "$("$Q" docs --db "$DB" -c zoo --json | wc -l)" -eq 1 ]

# ---- writable server ----------------------------------------------------------------------
start_server "$T/rw.err" --db "$DB" --model "$M" --api-key-file "$T/key" --allow-writes --allow-paths "$T/allowed"
C=$BASE/v1/collections
req "no API key -> 401" 401 invalid_api_key "$C/zoo/documents" -F "file=@$T/capy.md"
# multipart upload into a new collection (created with the server's model)
curl -s -o "$T/up" -w '%{http_code}' "$C/notes/documents" -H "$A" -F "file=@$T/allowed/lens.md" \
    -F "id=guide-1" -F 'metadata={"year": 2021, "tag": "optics"}' > "$T/code"
check "multipart upload: 201, added, keyed by the id, metadata stored" sh -c "[ \"\$(cat '$T/code')\" = 201 ] && $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); d=r[\"document\"]; assert r[\"outcome\"]==\"added\" and r[\"chunks\"]>=1 and d[\"id\"]==\"guide-1\" and d[\"metadata\"]=={\"year\":2021,\"tag\":\"optics\"}, r' '$T/up'"
check "no temporary upload file left" sh -c "! ls ${TMPDIR:-/tmp}/quire-serve-* 2>/dev/null | grep -q ."
"$Q" docs --db "$DB" -c notes --json > "$T/cli" 2>/dev/null
curl -s "$C/notes/documents" -H "$A" > "$T/list"
check "GET documents = quire docs --json" $PY - "$T/list" "$T/cli" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1])); cli = [json.loads(l) for l in open(sys.argv[2])]
assert r["object"] == "list" and r["collection"] == "notes" and r["data"] == cli, (r, cli)
EOF2
"$Q" search --db "$DB" -c notes --model "$M" --json -k 1 "Fresnel lens" > "$T/hit" 2>/dev/null
check "the uploaded document is searchable (hybrid, by the server's model)" jq_ "$T/hit" 'r["document"]=="guide-1" and r["vector_rank"]==1'
curl -s -o "$T/same" -w '%{http_code}' "$C/notes/documents" -H "$A" -F "file=@$T/allowed/lens.md;filename=other-name.md" -F "id=guide-1" > "$T/code"
check "same id, same bytes: 200 unchanged" sh -c "[ \"\$(cat '$T/code')\" = 200 ] && grep -q '\"outcome\":\"unchanged\"' '$T/same'"
printf '# Lighthouse\n\nThe keeper trims the wick of the lamp every night.\n' > "$T/lens2.md"
curl -s -o "$T/upd" -w '%{http_code}' "$C/notes/documents" -H "$A" -F "file=@$T/lens2.md" -F "id=guide-1" > "$T/code"
check "same id, new content: 200 updated (upsert), one document still" sh -c "[ \"\$(cat '$T/code')\" = 200 ] && grep -q '\"outcome\":\"updated\"' '$T/upd' && [ \$('$Q' docs --db '$DB' -c notes --json | wc -l) -eq 1 ]"
"$Q" search --db "$DB" -c notes --mode text --json -k 5 "wick" > "$T/h2" 2>/dev/null
"$Q" search --db "$DB" -c notes --mode text --json -k 5 "Fresnel" > "$T/h3" 2>/dev/null
check "after the upsert: the new text is found, the old one is gone" sh -c "grep -q guide-1 '$T/h2' && [ ! -s '$T/h3' ]"
curl -s -o "$T/up2" -w '%{http_code}' "$C/notes/documents" -H "$A" -F "file=@$T/capy.md" > "$T/code"
check "upload without id: keyed by the file name" sh -c "[ \"\$(cat '$T/code')\" = 201 ] && grep -q '\"id\":\"capy.md\"' '$T/up2'"
# JSON body with a server-side path
curl -s -o "$T/js" -w '%{http_code}' "$C/notes/documents" -H "$A" -H "$J" -d "{\"path\":\"$T/allowed/lens.md\",\"metadata\":{\"src\":\"disk\"}}" > "$T/code"
real=$(realpath "$T/allowed/lens.md")
check "JSON {path} under --allow-paths: 201, keyed by its canonical path" sh -c "[ \"\$(cat '$T/code')\" = 201 ] && $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r[\"document\"][\"id\"]==sys.argv[2] and r[\"document\"][\"metadata\"]=={\"src\":\"disk\"}, r' '$T/js' '$real'"
req "JSON path outside --allow-paths -> 403" 403 path_not_allowed "$C/notes/documents" -H "$A" -H "$J" -d "{\"path\":\"$T/outside/secret.md\"}"
req "JSON path escaping by .. -> 403" 403 path_not_allowed "$C/notes/documents" -H "$A" -H "$J" -d "{\"path\":\"$T/allowed/../outside/secret.md\"}"
check "nothing of the refused paths was stored" sh -c "! '$Q' docs --db '$DB' -c notes --json | grep -q secret"
# /v1/search "where" = quire search --where on the same store (filter applied before ranking)
for mode in text hybrid; do
    for w in '{"src":"disk"}' '{"src":{"$ne":"disk"}}' '{"$or":[{"src":"disk"},{"src":{"$in":["x"]}}]}'; do
        curl -s "$BASE/v1/search" -H "$A" -H "$J" -d "{\"collection\":\"notes\",\"query\":\"the\",\"mode\":\"$mode\",\"k\":5,\"where\":$w}" > "$T/sw"
        "$Q" search --db "$DB" -c notes --model "$M" --mode $mode -k 5 --json --where "$w" the > "$T/swc" 2>/dev/null
        check "/v1/search $mode where $w: the hits of quire search --where" $PY - "$T/sw" "$T/swc" "$w" "$real" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1])); cli = [json.loads(l) for l in open(sys.argv[2])]
disk = "$ne" not in sys.argv[3]
assert r["data"] and [(h["doc_id"], h["chunk_id"]) for h in r["data"]] == [(h["doc_id"], h["chunk_id"]) for h in cli], (r, cli)
assert all((h["doc_id"] == sys.argv[4]) == disk for h in r["data"]), r["data"]
assert all((h["metadata"] or {}).get("src") == ("disk" if disk else None) for h in r["data"]), r["data"]
EOF2
    done
done
req "JSON body without path -> 400" 400 invalid_request "$C/notes/documents" -H "$A" -H "$J" -d '{"id":"x"}'
req "malformed JSON -> 400" 400 invalid_json "$C/notes/documents" -H "$A" -H "$J" -d '{"path":'
req "metadata not an object -> 400" 400 invalid_metadata "$C/notes/documents" -H "$A" -F "file=@$T/capy.md" -F 'metadata=[1,2]'
req "multipart without a file part -> 400" 400 missing_file "$C/notes/documents" -H "$A" -F "id=x"
req "a body that is neither JSON nor multipart -> 415" 415 unsupported_media_type "$C/notes/documents" -H "$A" --data-binary @"$T/capy.md" -H "Content-Type: text/markdown"
printf 'not a pdf at all' > "$T/fake.pdf"
req "an upload that is no document -> 422, naming the upload, not the temp file" 422 unprocessable_document "$C/notes/documents" -H "$A" -F "file=@$T/fake.pdf"
check "the 422 names fake.pdf" sh -c "grep -q 'fake.pdf' '$T/body' && ! grep -q 'quire-serve-' '$T/body'"
# GET / DELETE one document
curl -s "$C/notes/documents/guide-1" -H "$A" > "$T/one"
check "GET one document" jq_ "$T/one" 'r["id"]=="guide-1" and r["chunks"]>=1'
curl -s "$C/notes/documents/$real" -H "$A" > "$T/onep"
check "GET a document whose id is a path: documents/ + the id, its slashes as they are" jq_ "$T/onep" 'r["id"]=="'"$real"'"'
enc=$($PY -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$real")
curl -s "$C/notes/documents/$enc" -H "$A" > "$T/onee"
check "... or percent-encoded (%2F)" jq_ "$T/onee" 'r["id"]=="'"$real"'"'
req "GET an unknown document -> 404" 404 document_not_found "$C/notes/documents/nope" -H "$A"
req "GET documents of an unknown collection -> 404" 404 collection_not_found "$C/nope/documents" -H "$A"
req "GET an unknown collection -> 404" 404 collection_not_found "$C/nope" -H "$A"
req "PUT on documents -> 405" 405 method_not_allowed -X PUT "$C/notes/documents" -H "$A"
curl -s -X DELETE "$C/notes/documents/guide-1" -H "$A" > "$T/del"
check "DELETE a document: gone from quire docs and search" sh -c "grep -q '\"deleted\":true' '$T/del' && ! '$Q' docs --db '$DB' -c notes --json | grep -q guide-1 && [ ! -s \"\$('$Q' search --db '$DB' -c notes --mode text --json wick 2>/dev/null)\" ]"
req "DELETE it again -> 404" 404 document_not_found -X DELETE "$C/notes/documents/guide-1" -H "$A"
curl -s "$C/notes" -H "$A" > "$T/coll"
check "GET a collection: counts and model" jq_ "$T/coll" 'r["object"]=="collection" and r["name"]=="notes" and r["documents"]==2 and r["model"]=="tiny" and r["dims"]==32'
# into the text-collection zoo (model tiny): upsert works there too
curl -s -o /dev/null -w '%{http_code}' "$C/zoo/documents" -H "$A" -F "file=@$T/lens2.md" -F "id=keeper" > "$T/code"
check "upload into an existing collection: 201" [ "$(cat "$T/code")" = 201 ]
# DELETE documents by a metadata filter (quire docs --remove-where over HTTP)
req "DELETE documents with an empty filter -> 400 (everything is DELETE the collection)" 400 invalid_request -X DELETE "$C/notes/documents" -H "$A" -H "$J" -d '{"where":{}}'
req "DELETE documents without a body -> 400" 400 invalid_json -X DELETE "$C/notes/documents" -H "$A"
req "DELETE documents with an unknown operator -> 400" 400 invalid_request -X DELETE "$C/notes/documents" -H "$A" -H "$J" -d '{"where":{"src":{"$like":"d"}}}'
req "DELETE documents of an unknown collection -> 404" 404 collection_not_found -X DELETE "$C/nope/documents" -H "$A" -H "$J" -d '{"where":{"src":"disk"}}'
check "the refused filters removed nothing" [ "$("$Q" docs --db "$DB" -c notes --json | wc -l)" -eq 2 ]
curl -s -o "$T/dw" -w '%{http_code}' -X DELETE "$C/notes/documents" -H "$A" -H "$J" -d '{"where":{"src":"disk"}}' > "$T/code"
check "DELETE documents where src=disk: 200, removed 1, the other document kept" sh -c "[ \"\$(cat '$T/code')\" = 200 ] && $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r==dict(object=\"documents.removed\", collection=\"notes\", removed=1), r' '$T/dw' && '$Q' docs --db '$DB' -c notes --json | grep -q capy.md && ! '$Q' docs --db '$DB' -c notes --json | grep -q '$real'"
curl -s -X DELETE "$C/notes/documents" -H "$A" -H "$J" -d '{"where":{"src":"disk"}}' > "$T/dw2"
check "the same filter again: removed 0" jq_ "$T/dw2" 'r["removed"]==0'
curl -s -X DELETE "$C/notes" -H "$A" > "$T/dropc"
check "DELETE a collection: gone, the others kept" sh -c "grep -q '\"deleted\":true' '$T/dropc' && ! '$Q' collections --db '$DB' | grep -q '^notes' && '$Q' collections --db '$DB' | grep -q '^zoo'"
req "DELETE it again -> 404" 404 collection_not_found -X DELETE "$C/notes" -H "$A"
check "healthy after all of it" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health")" = 200 ]
stop_server
check "integrity_check ok" [ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ]
