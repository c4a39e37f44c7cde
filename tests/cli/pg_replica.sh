#!/bin/sh
# tests/cli/pg_replica.sh — search replicas of a PostgreSQL store, on a throwaway server
# the test starts itself (tests/tools/pg.sh): `quire serve --db URL --cache FILE` follows
# the change feed (schema 3): documents committed by `quire worker` become searchable in
# the replica; a re-ingest and a delete propagate; two transactions that commit out of
# xid order are both applied (the later xid committed first, the earlier one seen after);
# kill -9 of the serve process while a worker commits, then a restart: the cache equals
# PostgreSQL (documents, chunk texts, byte-equal vectors: nothing lost, nothing twice) and
# the restart read 0 bootstrap rows (/metrics); quire_feed_lag_seconds is present and sane;
# a backlog read in bounded batches survives kill -9 in the middle (resumed, not redone);
# `quire search --db URL --cache FILE` takes the same path (warm: 0 bootstrap rows); a
# cache of another store is refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../tools/pg.sh"
MODEL=examples/tiny-bert
if "$Q" info 2>/dev/null | grep -q 'WITH_PG=0'; then
    bad "this quire was built with WITH_PG=0: the PostgreSQL tests cannot run (not skipped: failed)"
    exit 1
fi
if ! pg_start; then
    bad "a throwaway PostgreSQL server starts (postgresql-15 from .ci/setup)"
    exit 1
fi
PIDS=
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; pg_stop; rm -rf "$T"' EXIT
ok "a throwaway PostgreSQL server starts on a Unix socket"

# start_serve LOG: quire serve on a free port following $PGURL into $CACHE; sets
# SPID and PORT
CACHE=$T/cache.db
start_serve() {
    "$Q" serve --port 0 --db "$PGURL" --cache "$CACHE" --model "$MODEL" --feed-poll 0.2 \
        2> "$1" &
    SPID=$!
    PIDS="$PIDS $SPID"
    PORT=
    i=0
    while [ $i -lt 300 ]; do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1")
        [ -n "$PORT" ] && return 0
        kill -0 $SPID 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    cat "$1"
    return 1
}
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"; }
# hits COLL QUERY [MODE]: the documents of the top-10, one per line
hits() {
    curl -s "http://127.0.0.1:$PORT/v1/search" \
        -d "{\"collection\":\"$1\",\"query\":\"$2\",\"k\":10,\"mode\":\"${3:-text}\"}" |
        python3 -c 'import json,sys; [print(h["document"]) for h in json.load(sys.stdin).get("data", [])]'
}
# until CMD...: retry for up to 60 s (a deadline for correctness, not a timing assert)
until_ok() {
    i=0
    while [ $i -lt 300 ]; do
        "$@" && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}
found() { hits "$1" "$2" "$4" | grep -qx "$3"; }
gone() { ! hits "$1" "$2" | grep -qx "$3"; }
ingest() { "$Q" enqueue --db "$PGURL" -q -c "$1" "$2" && "$Q" worker --db "$PGURL" --model "$MODEL" --drain --quiet --poll 0.2; }

mkdir -p "$T/in"
for i in 1 2 3 4 5; do
    printf '# Note %s\n\nThe keeper wrote note %s about the uniq%stok lamp.\n' $i $i $i > "$T/in/n$i.md"
done

# ---- usage ---------------------------------------------------------------------------------
"$Q" serve --port 0 --db "$PGURL" > /dev/null 2> "$T/e"
check "serve --db postgresql:// without --cache: usage error naming --cache" \
    sh -c "[ $? -eq 2 ] && grep -q -- 'add --cache FILE' '$T/e'"
"$Q" serve --port 0 --db "postgresql://bob:s3cret@/quire?host=$T/nowhere" > /dev/null 2> "$T/e"
check "  refused before connecting (exit 2 even with no server), the password never printed" \
    sh -c "[ $? -eq 2 ] && grep -q -- '--cache FILE' '$T/e' && ! grep -q s3cret '$T/e'"
"$Q" search --db "postgresql://bob:s3cret@/quire?host=$T/nowhere" -c docs lens > /dev/null 2> "$T/e"
check "search --db postgresql:// without --cache: exit 2, the password never printed" \
    sh -c "[ $? -eq 2 ] && grep -q -- '--cache FILE' '$T/e' && ! grep -q s3cret '$T/e'"
"$Q" serve --port 0 --db "$T/x.db" --cache "$T/c.db" > /dev/null 2> "$T/e"
check "serve --cache with a SQLite --db: usage error" sh -c "[ $? -eq 2 ] && grep -q 'postgresql' '$T/e'"

# ---- bootstrap, then documents committed by a worker appear --------------------------------
ingest docs "$T/in/n1.md" 2> "$T/e"
start_serve "$T/s1" || bad "quire serve --cache starts"
check "cold start: the bootstrap read rows (quire_replica_bootstrap_rows_total > 0)" \
    until_ok sh -c "[ \"\$(curl -s http://127.0.0.1:$PORT/metrics | sed -n 's/^quire_replica_bootstrapped //p')\" = 1 ]"
check "  and the bootstrapped document is searchable" until_ok found docs uniq1tok "$T/in/n1.md"
[ "$(metric quire_replica_bootstrap_rows_total)" -gt 0 ] && ok "  bootstrap rows counted: $(metric quire_replica_bootstrap_rows_total)" || bad "  bootstrap rows counted"
ingest docs "$T/in/n2.md" 2> "$T/e"
check "a document committed by quire worker becomes searchable in the replica" \
    until_ok found docs uniq2tok "$T/in/n2.md"
check "  by vector search too (the replica's HNSW)" until_ok found docs "note 2 about the uniq2tok lamp" "$T/in/n2.md" vector
lag=$(metric quire_feed_lag_seconds)
check "quire_feed_lag_seconds is in /metrics and sane (0 <= $lag < 30)" \
    python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 0 <= v < 30 else 1)" "$lag"

"$Q" status --db "$PGURL" > "$T/st" 2>&1
check "quire status lists the replica with its feed lag" grep -q "^replica .*cache.db: feed lag [0-9.]* s" "$T/st"

# ---- re-ingest and delete propagate ------------------------------------------------------
printf '# Note 2\n\nRewritten: now about the fresh2tok lens.\n' > "$T/in/n2.md"
ingest docs "$T/in/n2.md" 2> "$T/e"
check "a re-ingested document: the new text is searchable" until_ok found docs fresh2tok "$T/in/n2.md"
check "  and the old text is gone" until_ok gone docs uniq2tok "$T/in/n2.md"
pg_q "DELETE FROM documents WHERE path = '$(realpath "$T/in/n1.md")'"
check "a document deleted in PostgreSQL leaves the replica" until_ok gone docs uniq1tok "$T/in/n1.md"

# ---- two transactions that commit out of xid order ---------------------------------------
CID=$(pg_q "SELECT id FROM collections WHERE name = 'docs'")
# txn A takes its xid first, txn B second; B commits first, A afterwards
mkfifo "$T/fa" "$T/fb"
PGAPPNAME=txa $PSQL < "$T/fa" > "$T/xa" 2>&1 & PA=$!
PGAPPNAME=txb $PSQL < "$T/fb" > "$T/xb" 2>&1 & PB=$!
exec 3> "$T/fa" 4> "$T/fb"
rowsql() { # doc path word
    echo "INSERT INTO documents(collection_id, path, sha256) VALUES ($CID, '$1', 'x');"
    echo "INSERT INTO chunks(document_id, seq, page_start, page_end, heading, text, n_tokens) SELECT id, 0, 1, 1, '', 'hand written $2 row', 4 FROM documents WHERE path = '$1';"
}
xid_of() { pg_q "SELECT backend_xid FROM pg_stat_activity WHERE application_name = '$1' AND backend_xid IS NOT NULL"; }
echo "BEGIN; SELECT pg_current_xact_id();" >&3
until_ok sh -c "[ -n \"\$($PSQL -c \"SELECT backend_xid FROM pg_stat_activity WHERE application_name = 'txa' AND backend_xid IS NOT NULL\")\" ]"
echo "BEGIN; SELECT pg_current_xact_id();" >&4
until_ok sh -c "[ -n \"\$($PSQL -c \"SELECT backend_xid FROM pg_stat_activity WHERE application_name = 'txb' AND backend_xid IS NOT NULL\")\" ]"
XA=$(xid_of txa); XB=$(xid_of txb)
check "two open transactions: A took the lower xid ($XA < $XB)" [ "$XA" -lt "$XB" ]
rowsql /xid/a earlyxidtok >&3
rowsql /xid/b latexidtok >&4
echo "COMMIT;" >&4
check "out of order: the later xid (B), committed first, is searchable" until_ok found docs latexidtok /xid/b
sleep 1 # several feed windows pass while A is still open
check "  the earlier xid (A) is still open and not visible" gone docs earlyxidtok /xid/a
echo "COMMIT;" >&3
exec 3>&- 4>&-
wait $PA $PB
check "  after A commits, the replica has it too (not skipped by the horizon)" \
    until_ok found docs earlyxidtok /xid/a

# ---- kill -9 of the serve process while a worker commits; restart ------------------------
mkdir -p "$T/many"
i=1
while [ $i -le 30 ]; do
    printf '# Item %s\n\nItem %s of the batch, word bulk%stok.\n' $i $i $i > "$T/many/m$i.md"
    i=$((i + 1))
done
"$Q" enqueue --db "$PGURL" -q -c docs "$T/many"
"$Q" worker --db "$PGURL" --model "$MODEL" --drain --quiet --poll 0.2 2> "$T/w" & WP=$!
PIDS="$PIDS $WP"
until_ok sh -c "[ \$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'done' AND path LIKE '%/many/%'\") -ge 8 ]"
kill -9 $SPID
wait $SPID 2>/dev/null
check "kill -9 mid-feed: the cache passes integrity_check" \
    [ "$(sqlite3 "$T/cache.db" 'PRAGMA integrity_check')" = ok ]
wait $WP
# and one more committed while no replica runs
printf '# Down\n\nWritten while the replica was down: downtimetok.\n' > "$T/in/down.md"
ingest docs "$T/in/down.md" 2> /dev/null
start_serve "$T/s2" || bad "quire serve --cache restarts"
check "after the restart, the replica catches up with all 30 new documents" \
    until_ok sh -c "[ \$(sqlite3 '$T/cache.db' \"SELECT count(*) FROM documents WHERE path LIKE '%/many/%'\") -eq 30 ]"
sleep 1
pgd() { $PSQL -F '|' -c "SELECT d.id, d.path, d.sha256, c.id, c.seq, c.text, upper(encode(v.vec, 'hex')) FROM documents d JOIN chunks c ON c.document_id = d.id LEFT JOIN vectors v ON v.chunk_id = c.id ORDER BY d.id, c.seq"; }
sqd() { sqlite3 -separator '|' "$CACHE" "SELECT d.id, d.path, d.sha256, c.id, c.seq, c.text, hex(v.vec) FROM documents d JOIN chunks c ON c.document_id = d.id LEFT JOIN vectors v ON v.chunk_id = c.id ORDER BY d.id, c.seq"; }
until_ok sh -c "[ \"\$($PSQL -c 'SELECT count(*) FROM chunks')\" = \"\$(sqlite3 '$T/cache.db' 'SELECT count(*) FROM chunks')\" ]"
pgd > "$T/pg.txt"; sqd > "$T/sq.txt"
check "  the cache equals PostgreSQL: same documents and ids, chunk texts, byte-equal vectors ($(wc -l < "$T/pg.txt") rows)" \
    cmp -s "$T/pg.txt" "$T/sq.txt"
check "  nothing twice: one cache document per path" \
    [ "$(sqlite3 "$T/cache.db" 'SELECT count(*) = count(DISTINCT path) FROM documents')" = 1 ]
check "  the restart read 0 bootstrap rows (quire_replica_bootstrap_rows_total)" \
    [ "$(metric quire_replica_bootstrap_rows_total)" = 0 ]
check "  and applied the missed documents from the feed (quire_replica_documents_applied_total > 0)" \
    [ "$(metric quire_replica_documents_applied_total)" -gt 0 ]
check "  a document committed while the replica was down is searchable" until_ok found docs downtimetok "$T/in/down.md"
kill -TERM $SPID
wait $SPID
check "serve exits 0 on SIGTERM" [ $? -eq 0 ]
check "the replica reported its horizon to PostgreSQL (replicas table)" \
    [ "$(pg_q "SELECT count(*) FROM replicas WHERE horizon IS NOT NULL")" -ge 1 ]

# ---- PostgreSQL down: a warm replica starts and answers from its cache, then catches up ----
pg_crash
start_serve "$T/s5" || bad "quire serve --cache starts while PostgreSQL is down"
check "PostgreSQL down: a warm replica starts and answers from its cache" \
    until_ok found docs downtimetok "$T/in/down.md"
check "  and counts the failed feed steps (quire_replica_errors_total > 0)" \
    until_ok sh -c "[ \"\$(curl -s http://127.0.0.1:$PORT/metrics | sed -n 's/^quire_replica_errors_total //p')\" -gt 0 ]"
pg_restart
printf '# Back\n\nAfter the restart: backagaintok.\n' > "$T/in/back.md"
ingest docs "$T/in/back.md" 2> /dev/null
check "  PostgreSQL back: the replica reconnects and applies new commits" \
    until_ok found docs backagaintok "$T/in/back.md"
kill -TERM $SPID
wait $SPID

# ---- a long backlog is read in bounded batches; kill -9 in the middle keeps the progress --
# 1000 documents and their chunks in two transactions (2000 feed rows, most of them under
# one xid each) while no replica runs; the restart reads them QUIRE_REPLICA_BATCH=1 row
# at a time, each batch its own transaction with its position (replica.horizon, .seq)
pg_q "INSERT INTO documents(collection_id, path, sha256) SELECT $CID, '/backlog/' || g, 'x' FROM generate_series(1, 1000) g" > /dev/null
pg_q "INSERT INTO chunks(document_id, seq, page_start, page_end, heading, text, n_tokens) SELECT id, 0, 1, 1, '', 'backlog row ' || id, 3 FROM documents WHERE path LIKE '/backlog/%'" > /dev/null
export QUIRE_REPLICA_BATCH=1
start_serve "$T/s6" || bad "quire serve --cache restarts with a backlog"
until_ok sh -c "[ \"\$(sqlite3 '$CACHE' \"SELECT count(*) > 20 FROM documents WHERE path LIKE '/backlog/%'\" 2>/dev/null)\" = 1 ]"
kill -9 $SPID
wait $SPID 2>/dev/null
NB=$(sqlite3 "$CACHE" "SELECT count(*) FROM documents WHERE path LIKE '/backlog/%'")
SQ=$(sqlite3 "$CACHE" "SELECT value FROM meta WHERE key = 'replica.seq'")
check "kill -9 mid-backlog: the batches applied so far are kept ($NB of 1000 documents, position seq $SQ)" \
    sh -c "[ -n '$SQ' ] && [ $NB -gt 0 ] && [ $NB -lt 1000 ] && [ \"\$(sqlite3 '$CACHE' 'PRAGMA integrity_check')\" = ok ]"
start_serve "$T/s7" || bad "quire serve --cache restarts mid-backlog"
until_ok sh -c "[ \"\$($PSQL -c 'SELECT count(*) FROM chunks')\" = \"\$(sqlite3 '$CACHE' 'SELECT count(*) FROM chunks')\" ] && [ -z \"\$(sqlite3 '$CACHE' \"SELECT value FROM meta WHERE key = 'replica.seq'\")\" ]"
applied=$(metric quire_replica_documents_applied_total)
check "  the restart resumed the backlog, not redone: $applied document applies (< 2000: 1000 documents, 2 transactions each), 0 bootstrap rows" \
    sh -c "[ $applied -lt 2000 ] && [ \"$(metric quire_replica_bootstrap_rows_total)\" = 0 ]"
pgd > "$T/pg.txt"; sqd > "$T/sq.txt"
check "  the cache equals PostgreSQL ($(wc -l < "$T/pg.txt") rows)" cmp -s "$T/pg.txt" "$T/sq.txt"
unset QUIRE_REPLICA_BATCH
kill -TERM $SPID
wait $SPID
pg_q "DELETE FROM documents WHERE path LIKE '/backlog/%'" > /dev/null

# ---- kill -9 during the bootstrap: the restart resumes it -------------------------------
pg_q "INSERT INTO documents(collection_id, path, sha256) SELECT $CID, '/bulk/' || g, 'x' FROM generate_series(1, 300) g" > /dev/null
pg_q "INSERT INTO chunks(document_id, seq, page_start, page_end, heading, text, n_tokens) SELECT id, 0, 1, 1, '', 'bulk row ' || id, 3 FROM documents WHERE path LIKE '/bulk/%'" > /dev/null
NDOCS=$(pg_q "SELECT count(*) FROM documents")
CACHE=$T/boot.db
export QUIRE_REPLICA_BATCH=1 # one document per bootstrap batch: many batches to land in
start_serve "$T/s3" || bad "quire serve --cache (a new cache) starts"
until_ok sh -c "[ \"\$(sqlite3 '$CACHE' \"SELECT CAST(value AS INTEGER) > 20 FROM meta WHERE key = 'replica.boot_last'\" 2>/dev/null)\" = 1 ]"
kill -9 $SPID
wait $SPID 2>/dev/null
BL=$(sqlite3 "$CACHE" "SELECT value FROM meta WHERE key = 'replica.boot_last'")
check "kill -9 mid-bootstrap: its progress is in the cache (boot_last $BL), no horizon yet" \
    [ -n "$BL" ] && [ -z "$(sqlite3 "$CACHE" "SELECT value FROM meta WHERE key = 'replica.horizon'")" ]
start_serve "$T/s4" || bad "quire serve --cache restarts mid-bootstrap"
check "  the restart finishes the bootstrap" \
    until_ok sh -c "[ \"\$(curl -s http://127.0.0.1:$PORT/metrics | sed -n 's/^quire_replica_bootstrapped //p')\" = 1 ]"
unset QUIRE_REPLICA_BATCH
applied=$(metric quire_replica_documents_applied_total)
check "  resumed, not redone: this run copied $applied of $NDOCS documents" [ "$applied" -lt "$NDOCS" ]
pgd > "$T/pg.txt"; sqd > "$T/sq.txt"
check "  the cache equals PostgreSQL ($(wc -l < "$T/pg.txt") rows)" cmp -s "$T/pg.txt" "$T/sq.txt"
kill -TERM $SPID
wait $SPID

# ---- quire search --db postgresql:// --cache: the same path -------------------------------
"$Q" search --db "$PGURL" --cache "$T/cli.db" -c docs bulk7tok > "$T/o" 2> "$T/e"
check "search --cache, cold: bootstraps (rows read) and finds the document" \
    sh -c "grep -q 'm7.md' '$T/o' && ! grep -q ' 0 bootstrap rows' '$T/e'"
printf '# Late\n\nA late latecomertok note.\n' > "$T/in/late.md"
ingest docs "$T/in/late.md" 2> /dev/null
"$Q" search --db "$PGURL" --cache "$T/cli.db" -c docs latecomertok > "$T/o" 2> "$T/e"
check "search --cache, warm: 0 bootstrap rows, the new document found through the feed" \
    sh -c "grep -q ' 0 bootstrap rows' '$T/e' && grep -q 'late.md' '$T/o'"
"$Q" ingest --db "$T/plain.db" -q -c docs "$T/in/n4.md"
"$Q" search --db "$PGURL" --cache "$T/plain.db" -c docs keeper > "$T/o" 2> "$T/e"
check "search --cache on a store that is not a replica cache: refused, exit 1, the store kept" \
    sh -c "[ $? -eq 1 ] && grep -q 'not a replica cache' '$T/e' && [ \$(sqlite3 '$T/plain.db' 'SELECT count(*) FROM documents') -eq 1 ]"
psql -X -q -h "$PGDIR" -p "$PGPORT" -U postgres -d postgres -c 'CREATE DATABASE old' > /dev/null
psql -X -q -h "$PGDIR" -p "$PGPORT" -U postgres -d old -c 'CREATE TABLE quire_schema(version int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO quire_schema(version) VALUES (1), (2)' > /dev/null
"$Q" search --db "postgresql://postgres@/old?host=$PGDIR&port=$PGPORT" --cache "$T/old.db" -c docs keeper > /dev/null 2> "$T/e"
check "a database at schema 2 (no change feed): refused, exit 1, says how to migrate" \
    sh -c "[ $? -eq 1 ] && grep -q 'no change feed' '$T/e'"
