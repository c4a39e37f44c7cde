#!/bin/sh
# tests/cli/mcp.sh — `quire mcp` (Model Context Protocol over stdio): raw JSON-RPC lines
# (parse errors, bad requests, notifications) and the official @modelcontextprotocol/sdk
# client from npm (installed into build/npm once): tools, hits equal to
# `quire search --json --full`, metadata filters in `where`, argument errors, ingest/convert,
# 1,000 calls with flat RSS.
. "$(dirname "$0")/../lib.sh"
NPM_DIR=${QUIRE_NPM_DIR:-build/npm}
M=examples/tiny-bert
DB=$T/s.db
cp examples/sample.pdf "$T/sample.pdf"
"$Q" ingest -q --db "$DB" -c docs --model "$M" "$T/sample.pdf" > /dev/null 2>&1
check "ingest the sample into a store" [ $? -eq 0 ]
# two notes with metadata for the search tool's "where" (metadata filters, as --where)
printf '# Old\n\nThe wombat digs a burrow.\n' > "$T/old.md"
printf '# New\n\nThe wombat sleeps in its burrow.\n' > "$T/new.md"
"$Q" ingest -q --db "$DB" -c meta --meta year=2019 --meta tag=a "$T/old.md" > /dev/null 2>&1 &&
    "$Q" ingest -q --db "$DB" -c meta --meta year=2021 --meta tag=b "$T/new.md" > /dev/null 2>&1
check "ingest two notes with metadata" [ $? -eq 0 ]

# --- raw protocol -------------------------------------------------------------------
printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  'not json at all' \
  '[1,2]' \
  '{"jsonrpc":"2.0","id":2,"method":"no/such"}' \
  '' \
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search","arguments":{"query":"lens","collection":"docs","k":1}}}' \
  '{"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"1999-01-01"}}' \
  | "$Q" mcp --db "$DB" > "$T/raw" 2> "$T/raw.err"
check "raw session exits 0 at end of input" [ $? -eq 0 ]
check "raw: 6 answers, none for the notification or the blank line" [ "$(wc -l < "$T/raw")" -eq 6 ]
check "raw: initialize echoes a supported protocol version" grep -q '"id":1,"result":{"protocolVersion":"2025-06-18"' "$T/raw"
check "raw: unparsable line -> -32700" grep -q '"id":null,"error":{"code":-32700' "$T/raw"
check "raw: a batch array -> -32600" grep -q '"error":{"code":-32600' "$T/raw"
check "raw: unknown method -> -32601" grep -q '"id":2,"error":{"code":-32601' "$T/raw"
check "raw: search answers with a hit" grep -q '"id":3,"result":{"content":\[{"type":"text","text":"1 hits' "$T/raw"
check "raw: an unknown protocol version gets the newest we speak" grep -q '"id":4,"result":{"protocolVersion":"2025-11-25"' "$T/raw"
check "raw: stdout carries only JSON-RPC lines" sh -c "! grep -v '^{\"jsonrpc\":\"2.0\"' '$T/raw'"
"$Q" mcp < /dev/null > /dev/null 2> "$T/e"; rc=$?
check "mcp without --db exits 2 naming it" sh -c "[ $rc -eq 2 ] && grep -q -- '--db' '$T/e'"
head -c 3000000 /dev/zero | tr '\0' 'x' | "$Q" mcp --db "$DB" > "$T/long" 2>&1
check "a 3 MB garbage line is a parse error, not a crash" grep -q -- '-32700' "$T/long"

# --- the official SDK client -----------------------------------------------------------
SDK=$NPM_DIR/node_modules/@modelcontextprotocol/sdk/dist/esm
if [ ! -f "$SDK/client/index.js" ]; then
    npm install --prefix "$NPM_DIR" @modelcontextprotocol/sdk@1 --no-audit --no-fund --silent \
        > "$T/npm.log" 2>&1 || cat "$T/npm.log"
fi
check "@modelcontextprotocol/sdk installed" [ -f "$SDK/client/index.js" ]
Qabs=$(cd "$(dirname "$Q")" && pwd)/$(basename "$Q")
QUERY="who designed the lens"
"$Q" search --db "$DB" -c docs -k 5 --mode hybrid --model "$M" --json --full "$QUERY" > "$T/expected.jsonl"
"$Q" convert examples/sample.pdf > "$T/convert.md"
printf '# Road notes\n\nA zebra crossing is marked with broad white stripes.\n' > "$T/note.md"
# ASan keeps freed memory in quarantine (RSS grows without a leak); LeakSanitizer checks
# leaks at exit there, and with no quarantine the RSS check stays meaningful.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
    node tests/cli/mcp_client.mjs "$SDK" "$Qabs" "$DB" "$M" "$T/expected.jsonl" "$QUERY" "$T/note.md" "$T/convert.md"
check "the SDK client session passes" [ $? -eq 0 ]
