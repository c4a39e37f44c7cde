#!/bin/sh
# tests/cli/serve_log.sh — `quire serve --access-log FILE`: one parseable JSON line per
# finished request (also for 401/404/413 and for requests cut off), with method, path,
# status, bytes and the client's User-Agent, never the API key; lines stay whole under 16
# concurrent clients; an unwritable log path stops the server at start naming the file.
. "$(dirname "$0")/../lib.sh"
M=$SHARED/models/tiny
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
start_server() {
    log=$1; shift
    "$Q" serve --port 0 "$@" 2> "$log" &
    PID=$!
    PORT=; i=0
    while [ $i -lt 600 ]; do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
        [ -n "$PORT" ] && break
        kill -0 $PID 2>/dev/null || break
        sleep 0.1; i=$((i+1))
    done
    [ -n "$PORT" ]
}
stop_server() { kill -TERM $PID 2>/dev/null; wait $PID; rc=$?; PID=; return $rc; }

echo secret-key-123 > "$T/key"
start_server "$T/srv.err" --model "$M" --api-key-file "$T/key" --max-body 2000 \
    --access-log "$T/access.jsonl"
check "server starts with --access-log" [ -n "$PORT" ]
U=http://127.0.0.1:$PORT
A="Authorization: Bearer secret-key-123"
curl -s -o /dev/null -A "quire-test/1" "$U/health"
curl -s -o /dev/null -H "$A" -H 'Content-Type: application/json' \
    -d '{"model":"tiny","input":"hello world"}' "$U/v1/embeddings"
curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"input":"x"}' "$U/v1/embeddings"
curl -s -o /dev/null -H "$A" "$U/no/such/route"
head -c 5000 /dev/zero | tr '\0' a > "$T/big"
curl -s -o /dev/null -H "$A" -H 'Content-Type: application/json' --data-binary @"$T/big" "$U/v1/embeddings"
i=0; CP=
while [ $i -lt 16 ]; do
    curl -s -o /dev/null -m 60 -H "$A" -H 'Content-Type: application/json' \
        -d "{\"model\":\"tiny\",\"input\":[\"text $i\",\"more $i\"]}" "$U/v1/embeddings" &
    CP="$CP $!"; i=$((i+1))
done
wait $CP
sleep 0.3
stop_server
check "server exits 0 after SIGTERM ($rc)" [ "$rc" -eq 0 ]
check "access log: every request is one JSON line with the documented keys" python3 -c "
import json, sys
L = [json.loads(l) for l in open('$T/access.jsonl')]
assert len(L) == 21, len(L)
for d in L:
    for k in ('time', 'remote', 'method', 'path', 'status', 'ms', 'bytes_in', 'bytes_out'):
        assert k in d, (k, d)
    assert d['remote'] == '127.0.0.1' and d['time'].endswith('Z') and d['ms'] >= 0, d
"
check "access log: statuses and paths as answered" python3 -c "
import json
L = [json.loads(l) for l in open('$T/access.jsonl')]
got = sorted((d['method'], d['path'], d['status']) for d in L)
want = sorted([('GET', '/health', 200), ('POST', '/v1/embeddings', 200), ('POST', '/v1/embeddings', 401),
               ('GET', '/no/such/route', 404), ('POST', '/v1/embeddings', 413)] + [('POST', '/v1/embeddings', 200)] * 16)
assert got == want, got
h = [d for d in L if d['path'] == '/health'][0]
assert h.get('user_agent') == 'quire-test/1', h
ok = [d for d in L if d['status'] == 200 and d['method'] == 'POST']
assert all(d['bytes_in'] > 20 and d['bytes_out'] > 100 for d in ok), ok
"
check "access log never holds the API key" sh -c "! grep -q secret-key-123 '$T/access.jsonl'"

# appended to, not truncated, on the next start
start_server "$T/srv2.err" --model "$M" --access-log "$T/access.jsonl"
curl -s -o /dev/null "http://127.0.0.1:$PORT/health"
stop_server
check "access log is appended to across restarts" sh -c "[ \$(wc -l < '$T/access.jsonl') -eq 22 ]"

"$Q" serve --port 0 --model "$M" --access-log "$T/nodir/a.jsonl" > /dev/null 2> "$T/e"; rc=$?
check "unwritable --access-log: exit non-zero naming the file ($rc)" sh -c "[ $rc -ne 0 ] && grep -q 'nodir/a.jsonl' '$T/e'"
