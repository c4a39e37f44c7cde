#!/bin/sh
# tests/cli/pg_queue.sh — the PostgreSQL job queue end to end, on a throwaway server the
# test starts itself (tests/tools/pg.sh): schema created under an advisory lock by
# racing workers, refused when newer; enqueue keyed by collection+path+sha256
# (re-enqueue is a no-op, 3 concurrent enqueues make one job per file); 3 workers with
# the tiny model give the same documents, chunk texts and byte-equal vectors as a
# single-process SQLite `quire ingest` of the same files; a changed file is updated, an
# unchanged one is "unchanged" with no chunk writes; status counts; usage errors.
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
ok "a throwaway PostgreSQL server starts on a Unix socket"

# ---- inputs: text, markdown and PDFs ---------------------------------------------------
mkdir -p "$T/in"
cp examples/sample.pdf "$T/in/sample.pdf"
cp "$C/born/small-fn2end.pdf" "$C/born/small-opteng.pdf" "$T/in/"
cp examples/sample/page1.txt examples/sample/page2.txt examples/sample/page3.txt "$T/in/"
printf '# Tabs\n\nA\ttab, a back\\slash, and a\r\ncarriage return; "quotes" and \047apostrophes\047.\n\n## Unicode\n\nZürich, Ελληνικά, 日本語.\n' > "$T/in/odd.md"
N=$(ls "$T/in" | wc -l)

# ---- usage -------------------------------------------------------------------------------
"$Q" worker --db "$T/s.db" > /dev/null 2> "$T/e"
check "worker --db FILE: usage error naming PostgreSQL" sh -c "[ $? -eq 2 ] && grep -q 'not a PostgreSQL URL' '$T/e'"
"$Q" enqueue --db "$PGURL" > /dev/null 2> "$T/e"
check "enqueue without inputs: usage error" [ $? -eq 2 ]
"$Q" status --db "$PGURL" > /dev/null 2> "$T/e"
check "status on an empty database: error says there is no quire schema" \
    sh -c "[ $? -eq 1 ] && grep -q 'holds no quire schema' '$T/e'"
"$Q" worker --db "postgresql://postgres@/nope?host=$PGDIR&port=$PGPORT" --drain > /dev/null 2> "$T/e"
check "worker on a missing database: exit 1 naming it" sh -c "[ $? -eq 1 ] && grep -q 'nope' '$T/e'"

# ---- schema: three workers race to create it -------------------------------------------
for i in 1 2 3; do "$Q" worker --db "$PGURL" --drain --quiet 2> "$T/race$i" & done
wait
check "3 racing workers create the schema once (versions 1, 2 and 3)" \
    [ "$(pg_q "SELECT count(*) || '/' || max(version) FROM quire_schema")" = "3/3" ]
check "racing workers all exit cleanly" sh -c "! grep -q 'quire worker:' '$T/race1' '$T/race2' '$T/race3'"

# ---- enqueue -----------------------------------------------------------------------------
"$Q" enqueue --db "$PGURL" -c docs "$T/in" > "$T/o" 2> "$T/e"
check "enqueue a folder: exit 0, $N jobs queued" sh -c "[ $? -eq 0 ] && grep -q '$N jobs queued' '$T/e'"
"$Q" enqueue --db "$PGURL" -c docs "$T/in" 2> "$T/e"
check "enqueue again: 0 queued, $N already queued (no-op)" grep -q "0 jobs queued into 'docs', $N already" "$T/e"
for i in 1 2 3; do "$Q" enqueue --db "$PGURL" -c race "$T/in" -q & done
wait
check "3 concurrent enqueues: one job per file" \
    [ "$(pg_q "SELECT count(*) || '/' || count(DISTINCT path) FROM jobs WHERE collection = 'race'")" = "$N/$N" ]
pg_q "DELETE FROM jobs WHERE collection = 'race'"
"$Q" enqueue --db "$PGURL" -c docs "$T/in/missing.pdf" "$T/in/odd.md" 2> "$T/e"
check "enqueue a missing file: exit 3 naming it" sh -c "[ $? -eq 3 ] && grep -q 'missing.pdf' '$T/e'"
check "jobs are keyed by the canonical path and sha256" \
    [ "$(pg_q "SELECT count(*) FROM jobs WHERE path = '$(realpath "$T/in/odd.md")' AND sha256 = '$(sha256sum "$T/in/odd.md" | cut -c1-64)'")" = 1 ]
"$Q" status --db "$PGURL" > "$T/st" 2>&1
check "status: $N queued" grep -q "^jobs: $N queued" "$T/st"

# ---- 3 workers with the tiny model vs one SQLite ingest --------------------------------
for i in 1 2 3; do
    "$Q" worker --db "$PGURL" --model "$MODEL" --drain --poll 0.2 2> "$T/w$i" &
done
wait
check "3 workers drain the queue: $N done" [ "$(pg_q "SELECT count(*) FROM jobs WHERE state = 'done'")" = "$N" ]
check "each document stored once" \
    [ "$(pg_q "SELECT count(*) || '/' || count(DISTINCT path) FROM documents")" = "$N/$N" ]
check "the work was shared (more than one worker committed)" \
    [ "$(pg_q "SELECT count(DISTINCT worker_id) FROM documents")" -ge 2 ]
"$Q" ingest --db "$T/s.db" -c docs --model "$MODEL" -q "$T/in"
pgdump() { $PSQL -F '|' -c "SELECT d.path, d.sha256, d.pages, d.meta, c.seq, c.page_start, c.page_end, c.heading, c.text, c.n_tokens, upper(encode(v.vec, 'hex')) FROM documents d JOIN chunks c ON c.document_id = d.id LEFT JOIN vectors v ON v.chunk_id = c.id ORDER BY d.path, c.seq"; }
sqdump() { sqlite3 -separator '|' "$T/s.db" "SELECT d.path, d.sha256, d.pages, d.meta, c.seq, c.page_start, c.page_end, c.heading, c.text, c.n_tokens, hex(v.vec) FROM documents d JOIN chunks c ON c.document_id = d.id LEFT JOIN vectors v ON v.chunk_id = c.id ORDER BY d.path, c.seq"; }
pgdump > "$T/pg.txt"; sqdump > "$T/sq.txt"
check "some documents carry pdf.* metadata" [ "$(pg_q "SELECT count(*) > 0 FROM documents WHERE meta LIKE '%\"pdf.%'")" = t ]
check "PostgreSQL holds $(pg_q 'SELECT count(*) FROM chunks') chunks, each with its vector" \
    [ "$(pg_q "SELECT (SELECT count(*) FROM chunks) > 20 AND NOT EXISTS (SELECT 1 FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id))")" = t ]
check "same documents, pdf.* metadata, chunk texts, pages and byte-equal vectors as the SQLite ingest" \
    cmp -s "$T/pg.txt" "$T/sq.txt"
check "collection and index recorded with the model's fingerprint" \
    [ "$(pg_q "SELECT i.fingerprint FROM collections c JOIN indexes i ON i.id = c.active_index WHERE c.name = 'docs'")" = \
      "$(sqlite3 "$T/s.db" "SELECT i.fingerprint FROM collections c JOIN indexes i ON i.id = c.active_index WHERE c.name = 'docs'")" ]
check "vectors are 4 * dims bytes" \
    [ "$(pg_q "SELECT count(*) FROM vectors v JOIN indexes i ON i.id = v.index_id WHERE octet_length(v.vec) <> 4 * i.dims")" = 0 ]

# ---- changed and unchanged files ----------------------------------------------------------
printf '\n## Added\n\nA new closing paragraph about otters.\n' >> "$T/in/odd.md"
"$Q" enqueue --db "$PGURL" -c docs "$T/in" 2> "$T/e"
check "enqueue after one file changed: 1 job queued" grep -q "1 jobs queued" "$T/e"
before=$(pg_q "SELECT max(id) FROM chunks")
"$Q" worker --db "$PGURL" --model "$MODEL" --drain --poll 0.2 2> "$T/w"
check "the changed file is updated" grep -q 'odd.md: updated' "$T/w"
check "its old chunks are gone, the new text is there" \
    [ "$(pg_q "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path LIKE '%odd.md' AND (c.id <= $before OR c.text LIKE '%otters%')")" = 1 ]
pg_q "INSERT INTO jobs(collection, path, sha256) SELECT 'docs', path, sha256 || 'x' FROM documents WHERE path LIKE '%page1.txt'"
before=$(pg_q "SELECT max(id) || '/' || count(*) FROM chunks")
"$Q" worker --db "$PGURL" --model "$MODEL" --drain --poll 0.2 2> "$T/w"
check "a job for stored, unchanged content: unchanged, no chunk written" \
    sh -c "grep -q 'page1.txt: unchanged' '$T/w' && [ '$before' = \"\$($PSQL -c \"SELECT max(id) || '/' || count(*) FROM chunks\")\" ]"
check "no orphan chunks or vectors" \
    [ "$(pg_q "SELECT (SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)) + (SELECT count(*) FROM vectors WHERE chunk_id NOT IN (SELECT id FROM chunks))")" = 0 ]

# ---- a worker with another model is refused per job ---------------------------------------
printf 'text only\n' > "$T/t.txt"
"$Q" enqueue --db "$PGURL" -c docs "$T/t.txt" -q
"$Q" worker --db "$PGURL" --drain --poll 0.2 2> "$T/w"
check "a text-only worker on a collection with vectors: job failed at once (permanent)" \
    [ "$(pg_q "SELECT state || '/' || attempt || '/' || (errors -> 0 ->> 'permanent') FROM jobs WHERE path = '$(realpath "$T/t.txt")'")" = "failed/1/true" ]
check "the error names the collection and says to use --model" grep -q "collection 'docs' holds vectors.*--model" "$T/w"

# ---- status ---------------------------------------------------------------------------------
"$Q" status --db "$PGURL" --json > "$T/st.json"
check "status --json: done/failed/documents counts" /usr/bin/python3 - "$T/st.json" "$N" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert s["schema"] == 3, s
assert s["jobs"]["queued"] == 0 and s["jobs"]["running"] == 0, s
assert s["jobs"]["failed"] == 1 and s["documents"] == n, s
assert s["jobs"]["done"] == n + 2, s
assert any("holds vectors" in e["error"] for e in s["errors"]), s
EOF
"$Q" status --db "$PGURL" > "$T/st"
check "status text: workers and errors" sh -c "grep -q '^workers alive: 0' '$T/st' && grep -q '^error: job' '$T/st'"

# ---- a newer schema is refused -----------------------------------------------------------
pg_q "INSERT INTO quire_schema(version) VALUES (99)"
"$Q" worker --db "$PGURL" --drain 2> "$T/e"
check "schema version 99: worker refuses (exit 1, says upgrade)" \
    sh -c "[ $? -eq 1 ] && grep -q 'schema version 99, newer than this quire knows (3)' '$T/e'"
"$Q" status --db "$PGURL" 2> "$T/e" >/dev/null
check "schema version 99: status refuses too" grep -q 'newer than this quire' "$T/e"
