#!/bin/sh
# tests/cli/serve_openapi.sh — GET /openapi.json (issue 18): the server serves
# docs/openapi.json byte for byte, behind the API key like every route but /health; the
# document is valid OpenAPI 3.0 (@apidevtools/swagger-parser from npm, installed into
# build/npm once); and a live server answers every operation of the spec (method + path
# with its parameters filled) with something other than "unknown route" 404 or 405, while
# a path the spec lacks is 404. The other direction — every route the server registers is
# in the spec — is tests/unit/test_serve_openapi.c (against the route table). ~5 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
NPM_DIR=${QUIRE_NPM_DIR:-build/npm}
M=$SHARED/models/tiny
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
printf '# Capybara\n\nThe capybara swims across the river at dawn.\n' > "$T/capy.md"
"$Q" ingest -q --db "$T/s.db" -c zoo --model "$M" "$T/capy.md" > /dev/null 2>&1
check "a store with one collection and one document" [ $? -eq 0 ]
printf 'k3y\n' > "$T/key"
A="Authorization: Bearer k3y"

"$Q" serve --port 0 --db "$T/s.db" --model "$M" --api-key-file "$T/key" 2> "$T/log" &
PID=$!
PORT=
i=0
while [ $i -lt 300 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/log")
    kill -0 $PID 2>/dev/null || break
    sleep 0.1; i=$((i+1))
done
[ -n "$PORT" ] || cat "$T/log"
BASE=http://127.0.0.1:$PORT

curl -s -D "$T/h" "$BASE/openapi.json" -H "$A" > "$T/spec.json"
check "GET /openapi.json = docs/openapi.json, byte for byte" cmp -s "$T/spec.json" docs/openapi.json
check "... as application/json" grep -qi '^content-type: application/json' "$T/h"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/openapi.json")
check "GET /openapi.json without the key -> 401 ($code)" [ "$code" = 401 ]

# every operation of the spec reaches a handler of the live server
$PY - "$T/spec.json" "$BASE" "k3y" "$T/capy.md" > "$T/ops" 2>&1 <<'PYEOF'
import json, os, sys, urllib.request, urllib.error
spec, base, key = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
# a document id is its canonical path: documents//tmp/.../capy.md
fill = {"name": "zoo", "id": os.path.realpath(sys.argv[4]), "model": "tiny"}
bad = n = 0
for path, item in spec["paths"].items():
    for method in [m for m in item if m in ("get", "post", "delete", "put", "patch")]:
        url = path
        for k, v in fill.items():
            url = url.replace("{%s}" % k, v)
        req = urllib.request.Request(base + url, method=method.upper(),
                                     data=b"{}" if method in ("post", "put", "patch") else None,
                                     headers={"Authorization": "Bearer " + key,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        unknown = status == 405 or (status == 404 and b"unknown route" in body)
        n += 1
        bad += unknown
        print("%s %s %s -> %d%s" % ("FAIL" if unknown else "ok", method.upper(), url, status,
                                    ": " + body[:120].decode("utf-8", "replace") if unknown else ""))
print("operations: %d, unknown to the server: %d" % (n, bad))
sys.exit(1 if bad or n < 18 else 0)
PYEOF
rc=$?
check "the live server answers all $(sed -n 's/^operations: \([0-9]*\).*/\1/p' "$T/ops") operations of the spec (none 404 unknown route / 405)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$T/ops"
code=$(curl -s -o "$T/b" -w '%{http_code}' "$BASE/v1/nothing" -H "$A")
check "a path the spec lacks -> 404 ($code)" sh -c "[ $code = 404 ] && grep -q 'unknown route' '$T/b'"
code=$(curl -s -o /dev/null -D "$T/h405" -w '%{http_code}' -X PUT "$BASE/v1/collections/zoo" -H "$A")
check "PUT on a collection -> 405 with Allow: GET, DELETE (the spec's methods)" \
    sh -c "[ $code = 405 ] && grep -qi '^allow: GET, DELETE' '$T/h405'"
kill -TERM $PID; wait $PID; PID=

# valid OpenAPI 3.0, by an independent validator
SP=$NPM_DIR/node_modules/@apidevtools/swagger-parser
if [ ! -f "$SP/package.json" ]; then
    npm install --prefix "$NPM_DIR" @apidevtools/swagger-parser@10 --no-audit --no-fund --silent \
        > "$T/npm.log" 2>&1 || cat "$T/npm.log"
fi
check "@apidevtools/swagger-parser installed" [ -f "$SP/package.json" ]
node -e '
const SwaggerParser = require(process.argv[1]);
SwaggerParser.validate(process.argv[2]).then(
  (api) => { console.log("valid: " + api.info.title + " " + api.info.version); },
  (e) => { console.log("invalid: " + e.message); process.exit(1); });' "$(cd "$SP" && pwd)" docs/openapi.json > "$T/v" 2>&1
check "docs/openapi.json is valid OpenAPI 3.0 (swagger-parser: $(head -c 200 "$T/v"))" grep -q '^valid' "$T/v"
