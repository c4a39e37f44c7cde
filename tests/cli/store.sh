#!/bin/sh
# tests/cli/store.sh — the store end to end in text mode (no model): ingest the born
# corpus, idempotent re-run, incremental update of a changed file, known-item retrieval
# (>= 95 % top 3, tests/tools/known_items.py), filters, JSON output, listings, damaged
# and foreign store files, hostile inputs in a batch, integrity_check. ~30 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
DB=$T/s.db

# ---- ingest the corpus (text-only) ------------------------------------------------------
timeout -s KILL 600 "$Q" ingest --db "$DB" --collection born --jobs 2 "$C/born" \
    > "$T/out" 2> "$T/err"
rc=$?
check "ingest born/: exit 0" [ $rc -eq 0 ]
check "ingest prints nothing on stdout" [ ! -s "$T/out" ]
check "ingest summary: 46 added" grep -q "46 documents into 'born' (46 added, 0 updated, 0 unchanged, 0 failed)" "$T/err"
"$Q" collections --db "$DB" > "$T/coll" 2>&1
check "collections lists born with 46 documents, text-only" \
    grep -Eq '^born +46 +[0-9]+ +0 +text-only' "$T/coll"
"$Q" docs --db "$DB" --collection born --json > "$T/docs.jsonl" 2>/dev/null
check "docs --json: 46 lines with path, sha256, pages, chunks" $PY - "$T/docs.jsonl" <<'EOF2'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
assert len(d) == 46, len(d)
for x in d:
    # the handwriting scan OCRs to (almost) nothing: a document with no chunks is fine
    assert len(x["sha256"]) == 64 and x["pages"] > 0, x
    assert x["chunks"] > 0 or "handwriting" in x["path"], x
EOF2
check "integrity_check ok after ingest" sh -c "[ \"\$(sqlite3 '$DB' 'PRAGMA integrity_check')\" = ok ]"
check "FTS index consistent with chunks" sh -c \
    "sqlite3 '$DB' \"INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)\""

# ---- idempotent re-run ----------------------------------------------------------------
"$Q" ingest --db "$DB" --collection born "$C/born" > /dev/null 2> "$T/err2"
check "re-run: every document unchanged (content hash)" \
    grep -q "(0 added, 0 updated, 46 unchanged, 0 failed)" "$T/err2"

# ---- incremental update of one changed file ---------------------------------------------
mkdir -p "$T/md"
printf '# Zebra notes\n\nThe quokkafrobnicator handles stripes.\n\n## Care\n\nFeed it twice.\n' > "$T/md/z.md"
"$Q" ingest -q --db "$DB" --collection notes "$T/md" 2>"$T/e3"
check "markdown file ingested" sh -c "'$Q' search --db '$DB' -c notes --json quokkafrobnicator | grep -q '\"heading\":\"Zebra notes\"'"
printf '# Zebra notes\n\nThe blorptastic unit replaced it.\n' > "$T/md/z.md"
"$Q" ingest --db "$DB" --collection notes "$T/md" > /dev/null 2>"$T/e4"
check "changed file: updated" grep -q "(0 added, 1 updated, 0 unchanged, 0 failed)" "$T/e4"
check "changed file: old text gone" sh -c "! '$Q' search --db '$DB' -c notes --json quokkafrobnicator 2>/dev/null | grep -q ."
check "changed file: new text found" sh -c "'$Q' search --db '$DB' -c notes --json blorptastic | grep -q z.md"
check "changed file: no orphan chunks" sh -c "[ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)')\" = 0 ]"

# ---- search output --------------------------------------------------------------------
"$Q" search --db "$DB" -c born --json -k 5 "gnuplot terminal" > "$T/s.jsonl" 2>"$T/s.err"
check "search --json: 5 hits, hit schema 1 (every key, nulls for absent), each snippet marks a term" $PY - "$T/s.jsonl" <<'EOF2'
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert len(h) == 5, len(h)
keys = {"rank", "id", "chunk_id", "document", "doc_id", "page_start", "page_end", "heading",
        "text", "snippet", "score", "score_kind", "text_rank", "vector_rank", "cosine",
        "metadata"}
for i, x in enumerate(h):
    assert set(x) == keys, (sorted(set(x) ^ keys), x)
    assert x["rank"] == i + 1 and 1 <= x["page_start"] <= x["page_end"]
    assert x["score_kind"] == "bm25+phrase" and x["vector_rank"] is None and x["cosine"] is None
    assert x["text_rank"] == i + 1 and (x["heading"] is None or isinstance(x["heading"], str))
    assert "\u00ab" in x["snippet"] and "\u00bb" in x["snippet"], ("no term marked", x["snippet"])
assert all(h[i]["score"] >= h[i + 1]["score"] for i in range(4))
EOF2
"$Q" search --db "$DB" -c born --mode hybrid -k 1 "gnuplot" > /dev/null 2> "$T/s.err"
check "text-only collection: --mode hybrid falls back to text with a note" grep -q "text-only" "$T/s.err"
"$Q" search --db "$DB" -c born --json -k 10 --filter 'path=*gnuplot*' "the" > "$T/f.jsonl" 2>/dev/null
check "filter path=GLOB: 10 hits, all matching" $PY - "$T/f.jsonl" <<'EOF2'
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert len(h) == 10 and all("gnuplot" in x["document"] for x in h), h
EOF2
"$Q" search --db "$DB" -c born "gnuplot" > "$T/human" 2>&1
check "human output cites document and page" grep -Eq '^1\. .*\.pdf pp?\. [0-9]' "$T/human"
"$Q" search --db "$DB" -c born --mode vector "x" > /dev/null 2> "$T/ve"
check "vector mode on a text-only collection: usage error naming it" sh -c "[ $? -ne 0 ] && grep -q \"'born' is text-only\" '$T/ve'"
"$Q" search --db "$DB" -c nosuch "x" > /dev/null 2> "$T/ne"
check "unknown collection: error naming it" grep -q "no collection named 'nosuch'" "$T/ne"
check "query of punctuation only: no hits, exit 0" "$Q" search --db "$DB" -c born '"*^()'

# ---- known items (independent text via pdftotext) -----------------------------------------
# phrase-aware ranking (the default): top-3 >= 98 % and top-1 >= 90 %, every snippet marked
$PY tests/tools/known_items.py "$Q" "$DB" born "$C/born" 3 0.98 0.90 > "$T/ki" 2>&1
cat "$T/ki"

# ---- hostile inputs in a batch ------------------------------------------------------------
cp "$C/born/tables-tabularx.pdf" "$T/good.pdf"
timeout -s KILL 300 "$Q" ingest --db "$DB" --collection hostile "$C/hostile" "$T/good.pdf" \
    > /dev/null 2> "$T/he"
rc=$?
check "hostile batch: exit 3 (partial)" [ $rc -eq 3 ]
check "hostile batch: errors name the files" grep -q "hostile-zero-bytes.pdf" "$T/he"
check "hostile batch: the good file is in" sh -c "'$Q' docs --db '$DB' -c hostile 2>/dev/null | grep -q good.pdf"
check "hostile batch: no crash report" sh -c "! grep -qi 'sanitizer\|segmentation\|core dumped' '$T/he'"

# ---- damaged / foreign / newer store files ------------------------------------------------
head -c 100000 /dev/urandom > "$T/rand.db"
"$Q" search --db "$T/rand.db" x > /dev/null 2> "$T/re"
rc=$?
check "random-bytes store: exit 1, says not a quire store" sh -c "[ $rc -eq 1 ] && grep -q 'not a quire store' '$T/re'"
sqlite3 "$T/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
"$Q" ingest --db "$T/other.db" "$T/md" > /dev/null 2> "$T/oe"
check "foreign SQLite file: refused, not modified" sh -c "grep -q 'not a quire store' '$T/oe' && [ \"\$(sqlite3 '$T/other.db' 'SELECT count(*) FROM sqlite_master')\" = 1 ]"
cp "$DB" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99"
"$Q" collections --db "$T/newer.db" > /dev/null 2> "$T/nv"
check "store from a newer schema: refused with both versions" grep -q "schema version 99" "$T/nv"
"$Q" search --db "$T/none.db" x > /dev/null 2> "$T/nf"
check "missing store for search: error, nothing created" sh -c "grep -q 'no such store' '$T/nf' && [ ! -e '$T/none.db' ]"

# ---- the schema fixture written by release 0.1 stays readable ----------------------------
FIX=tests/data/store-v1.db
cp "$FIX" "$T/fix.db"
"$Q" search --db "$T/fix.db" --collection fixture --mode text --json "lighthouse keeper" > "$T/fx" 2>&1
check "schema-v1 fixture: text search finds its document" grep -q '"document":"lighthouse.md"' "$T/fx"
"$Q" search --db "$T/fix.db" --collection fixture --mode vector --model examples/tiny-bert --json "lighthouse" > "$T/fv" 2>&1
check "schema-v1 fixture: vector search with its model works" grep -q '"document"' "$T/fv"
check "usage: ingest without --db is exit 2" sh -c "'$Q' ingest x 2>/dev/null; [ \$? -eq 2 ]"
check "usage: search --help exit 0" sh -c "'$Q' search --help > /dev/null"
