#!/bin/sh
# tests/cli/serve_schemas.sh — docs/openapi.json's response schemas against what the live
# handlers return (issue 18): one real request per JSON operation of the spec (embeddings,
# models, search in each mode, convert, collections and documents read and written, TEI,
# Ollama, health, openapi) and the usual errors (400, 401, 404, 405, 415), each response
# checked by tests/tools/openapi_validate.py against the schema the spec declares for its
# path, method and status: types, nullability, enums, required keys, and — strict — no key
# the spec does not declare. A status the spec does not list for the operation fails too;
# every JSON operation of the spec must be exercised. ~10 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=$SHARED/models/tiny
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
printf '# Capybara\n\nThe capybara swims across the river at dawn.\n' > "$T/capy.md"
printf '# Lighthouse\n\nThe Fresnel lens bends light into a narrow beam.\n' > "$T/lens.md"
"$Q" ingest -q --db "$T/s.db" -c zoo --model "$M" --meta year=2020 "$T/capy.md" > /dev/null 2>&1
check "a store with one collection and one document" [ $? -eq 0 ]
printf 'k3y\n' > "$T/key"
"$Q" serve --port 0 --db "$T/s.db" --model "$M" --api-key-file "$T/key" --allow-writes \
    --allow-paths "$T" 2> "$T/log" &
PID=$!
PORT=
i=0
while [ $i -lt 300 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/log")
    kill -0 $PID 2>/dev/null || break
    sleep 0.1; i=$((i+1))
done
[ -n "$PORT" ] || cat "$T/log"
PYTHONPATH=tests/tools $PY - docs/openapi.json "http://127.0.0.1:$PORT" k3y "$T" \
    "$C/born/small-opteng.pdf" > "$T/out" 2>&1 <<'PYEOF'
import json, os, sys, urllib.request, urllib.error, uuid
from openapi_validate import Spec
spec = json.load(open(sys.argv[1]))
S, base, key, T, pdf = Spec(spec), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
capy = os.path.realpath(os.path.join(T, "capy.md"))
J = "application/json"

def call(method, url, body=None, ctype=J, auth=True):
    h = {"Authorization": "Bearer " + key} if auth else {}
    if body is not None:
        h["Content-Type"] = ctype
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
    req = urllib.request.Request(base + url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()

def multipart(fields, fname, data):
    b = uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, k, v)).encode()
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (b, fname)).encode() + data
    out += ("\r\n--%s--\r\n" % b).encode()
    return out, "multipart/form-data; boundary=" + b

lens, lens_ct = multipart({"id": "lens-1", "metadata": json.dumps({"tag": "optics"})}, "lens.md",
                          open(os.path.join(T, "lens.md"), "rb").read())
P = "/v1/collections/{name}"
D = P + "/documents"
# (spec path, method, URL, body, content type, expected status, auth)
cases = [
    ("/health", "GET", "/health", None, J, 200, True),
    ("/openapi.json", "GET", "/openapi.json", None, J, 200, True),
    ("/openapi.json", "GET", "/openapi.json", None, J, 401, False),
    ("/v1/models", "GET", "/v1/models", None, J, 200, True),
    ("/v1/models/{model}", "GET", "/v1/models/tiny", None, J, 200, True),
    ("/v1/models/{model}", "GET", "/v1/models/nope", None, J, 404, True),
    ("/v1/embeddings", "POST", "/v1/embeddings", {"input": ["a capybara", "a lens"], "model": "tiny"}, J, 200, True),
    ("/v1/embeddings", "POST", "/v1/embeddings", {"input": "x", "model": "tiny", "encoding_format": "base64"}, J, 200, True),
    ("/v1/embeddings", "POST", "/v1/embeddings", b"{\"input\":", J, 400, True),
    ("/v1/embeddings", "POST", "/v1/embeddings", {"input": "x"}, J, 401, False),
    ("/v1/search", "POST", "/v1/search", {"query": "capybara river", "collection": "zoo", "k": 3}, J, 200, True),
    ("/v1/search", "POST", "/v1/search", {"query": "capybara", "collection": "zoo", "mode": "text"}, J, 200, True),
    ("/v1/search", "POST", "/v1/search", {"query": "capybara", "collection": "zoo", "mode": "vector"}, J, 200, True),
    ("/v1/search", "POST", "/v1/search", {"query": "capybara", "collection": "zoo", "where": {"year": {"$gte": 2020}}}, J, 200, True),
    ("/v1/search", "POST", "/v1/search", {"query": "nothing matches zzzq", "collection": "zoo", "mode": "text"}, J, 200, True),
    ("/v1/search", "POST", "/v1/search", {"query": "x", "collection": "nope"}, J, 404, True),
    ("/v1/search", "POST", "/v1/search", {"query": "x", "collection": "zoo", "where": {"y": {"$bad": 1}}}, J, 400, True),
    ("/v1/convert", "POST", "/v1/convert?format=json&pages=1", open(pdf, "rb").read(), "application/pdf", 200, True),
    ("/v1/convert", "POST", "/v1/convert?format=json", b"not a pdf", "application/pdf", 422, True),
    ("/v1/collections", "GET", "/v1/collections", None, J, 200, True),
    (P, "GET", "/v1/collections/zoo", None, J, 200, True),
    (P, "GET", "/v1/collections/nope", None, J, 404, True),
    (D, "POST", "/v1/collections/notes/documents", lens, lens_ct, 201, True),
    (D, "POST", "/v1/collections/notes/documents", lens, lens_ct, 200, True),
    (D, "POST", "/v1/collections/notes/documents", {"path": capy}, J, 201, True),
    (D, "POST", "/v1/collections/notes/documents", {"path": "/etc/passwd"}, J, 403, True),
    (D, "POST", "/v1/collections/notes/documents", b"x", "text/plain", 415, True),
    (D, "GET", "/v1/collections/notes/documents", None, J, 200, True),
    (D, "GET", "/v1/collections/zoo/documents", None, J, 200, True),
    (D + "/{id}", "GET", "/v1/collections/notes/documents/lens-1", None, J, 200, True),
    (D + "/{id}", "GET", "/v1/collections/notes/documents/nope", None, J, 404, True),
    (D + "/{id}", "DELETE", "/v1/collections/notes/documents/lens-1", None, J, 200, True),
    (D, "DELETE", "/v1/collections/notes/documents", {"where": {"path": capy}}, J, 200, True),
    (D, "DELETE", "/v1/collections/notes/documents", {"where": {}}, J, 400, True),
    (P, "DELETE", "/v1/collections/notes", None, J, 200, True),
    (P, "DELETE", "/v1/collections/notes", None, J, 404, True),
    ("/embed", "POST", "/embed", {"inputs": ["a capybara", "a lens"]}, J, 200, True),
    ("/embed", "POST", "/embed", {"inputs": 5}, J, 400, True),
    ("/info", "GET", "/info", None, J, 200, True),
    ("/api/embed", "POST", "/api/embed", {"model": "tiny", "input": ["a capybara"]}, J, 200, True),
    ("/api/embed", "POST", "/api/embed", {"model": "tiny"}, J, 400, True),
]
bad = 0
seen = set()
for path, method, url, body, ctype, want, auth in cases:
    status, rtype, raw = call(method, url, body, ctype, auth)
    seen.add((path, method))
    errs = []
    if status != want:
        errs.append("status %d, want %d: %s" % (status, want, raw[:200]))
    else:
        schema, why = S.response_schema(path, method, status, rtype.split(";")[0].strip())
        if why:
            errs.append(why)
        else:
            try:
                errs += S.errors(json.loads(raw), schema)
            except ValueError as e:
                errs.append("not JSON: %s: %r" % (e, raw[:200]))
    bad += bool(errs)
    print("%s %s %s -> %d%s" % ("FAIL" if errs else "ok", method, url, status,
                                "".join("\n    " + e for e in errs[:8])))
json_ops = {(p, m.upper()) for p, it in spec["paths"].items() for m, op in it.items()
            if m != "parameters" and "application/json" in
            S.deref(op["responses"].get("200", {})).get("content", {})}
missing = json_ops - seen
for p, m in sorted(missing):
    print("FAIL not exercised: %s %s" % (m, p))
print("responses: %d checked, %d off the spec; JSON operations: %d, not exercised: %d" %
      (len(cases), bad, len(json_ops), len(missing)))
sys.exit(1 if bad or missing else 0)
PYEOF
rc=$?
check "every response matches its schema in docs/openapi.json ($(tail -1 "$T/out"))" [ $rc -eq 0 ]
[ $rc -eq 0 ] || grep -v '^ok' "$T/out"
kill -TERM $PID; wait $PID; PID=
