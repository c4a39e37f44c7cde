#!/bin/sh
# tests/cli/pg_migrate.sh — `quire migrate` SQLite -> PostgreSQL -> SQLite on a throwaway
# server (tests/tools/pg.sh): the committed fixture tests/data/store-v1.db (schema 1) and a
# demo store ingested here (tiny model, PDFs and Markdown) come back with equal document
# rows and chunk texts, byte-equal vectors, the same saved HNSW graphs, and identical
# top-10 results in text, vector and hybrid modes; the per-table checksums are printed and
# equal; a migration into a non-empty target (either kind) is refused with exit 2 and
# writes nothing; usage errors; `quire export --db postgresql://` writes the lines the
# SQLite store exports (the migrated copy keeps ids), and they import and search the same.
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
psql -X -q -h "$PGDIR" -p "$PGPORT" -U postgres -d postgres -c 'CREATE DATABASE demo' >/dev/null
URL2="postgresql://postgres@/demo?host=$PGDIR&port=$PGPORT"

# ---- usage -----------------------------------------------------------------------------
"$Q" migrate --from "$T/a.db" > /dev/null 2> "$T/e"
check "migrate without --to: usage error" sh -c "[ $? -eq 2 ] && grep -q 'both required' '$T/e'"
"$Q" migrate --from "$T/a.db" --to "$T/b.db" > /dev/null 2> "$T/e"
check "migrate SQLite -> SQLite: usage error" sh -c "[ $? -eq 2 ] && grep -q 'PostgreSQL URL' '$T/e'"
"$Q" migrate --from "$T/missing.db" --to "$PGURL" > /dev/null 2> "$T/e"
check "migrate from a missing store: exit 1 naming it" sh -c "[ $? -eq 1 ] && grep -q 'missing.db' '$T/e'"

# dump DB: every row of every table (ids included) in id order, vectors and graphs as hex
dump() {
    sqlite3 "$1" "SELECT id, name, created_at, chunk_tokens, overlap, active_index FROM collections ORDER BY id;
      SELECT id, collection_id, state, model, model_dir, fingerprint, describe, dims, doc_prefix, query_prefix, hnsw_m, ef_construction, ef_search, created_at FROM indexes ORDER BY id;
      SELECT id, collection_id, path, sha256, size, pages, failed_pages, converted_at, report, $2 FROM documents ORDER BY id;
      SELECT id, document_id, seq, page_start, page_end, heading, text, n_tokens FROM chunks ORDER BY id;
      SELECT index_id, chunk_id, hex(vec) FROM vectors ORDER BY index_id, chunk_id;
      SELECT index_id, saved_at, nodes, hex(graph) FROM hnsw_graphs ORDER BY index_id;"
}

# round_trip NAME STORE URL COLLECTION METACOL QUERIES_FILE
round_trip() {
    rt=$1 src=$2 url=$3 coll=$4 metacol=$5 qf=$6
    "$Q" migrate --from "$src" --to "$url" > "$T/$rt.to.out" 2> "$T/$rt.to.err"
    check "$rt: SQLite -> PostgreSQL exits 0" [ $? -eq 0 ]
    check "$rt: 6 tables' checksums printed, all equal" \
        sh -c "[ \$(grep -c 'sha256 source [0-9a-f]\{64\}  target [0-9a-f]\{64\}  equal' '$T/$rt.to.out') -eq 6 ]"
    cat "$T/$rt.to.out" "$T/$rt.to.err"
    "$Q" migrate --from "$url" --to "$T/$rt.back.db" > "$T/$rt.back.out" 2> "$T/$rt.back.err"
    check "$rt: PostgreSQL -> SQLite exits 0" [ $? -eq 0 ]
    check "$rt: the checksums are the same both ways" \
        sh -c "[ \"\$(awk '{print \$1, \$2, \$5}' '$T/$rt.to.out')\" = \"\$(awk '{print \$1, \$2, \$5}' '$T/$rt.back.out')\" ]"
    dump "$src" "$metacol" > "$T/$rt.orig.dump"
    dump "$T/$rt.back.db" meta > "$T/$rt.back.dump"
    check "$rt: every row comes back equal (texts, settings, byte-equal vectors, graphs)" \
        cmp -s "$T/$rt.orig.dump" "$T/$rt.back.dump"
    check "$rt: the dump is not empty (vectors included)" \
        sh -c "[ \$(sqlite3 '$T/$rt.back.db' 'SELECT count(*) FROM vectors') -gt 0 ]"
    for mode in text vector hybrid; do
        same=1
        while IFS= read -r q; do
            "$Q" search --db "$src" -c "$coll" -k 10 --mode $mode --json "$q" > "$T/s1" 2>&1
            "$Q" search --db "$T/$rt.back.db" -c "$coll" -k 10 --mode $mode --json "$q" > "$T/s2" 2>&1
            if ! cmp -s "$T/s1" "$T/s2" || [ ! -s "$T/s1" ]; then same=0; echo "differs: $mode '$q'"; fi
        done < "$qf"
        check "$rt: identical top-10, mode $mode ($(wc -l < "$qf") queries)" [ $same -eq 1 ]
    done
}

# ---- the committed fixture (schema 1, tiny model) ----------------------------------------
cp tests/data/store-v1.db "$T/fixture.db"
printf 'lighthouse keeper\ntomatoes sun\nships passed at dusk\n' > "$T/q_fixture"
round_trip fixture "$T/fixture.db" "$PGURL" fixture NULL "$T/q_fixture"
check "fixture: the source file is untouched" cmp -s tests/data/store-v1.db "$T/fixture.db"

# ---- a demo store ingested here ----------------------------------------------------------
mkdir -p "$T/in"
cp examples/sample.pdf "$T/in/"
cp "$C/born/small-fn2end.pdf" "$C/born/small-opteng.pdf" "$T/in/" 2>/dev/null
cp examples/sample/page1.txt examples/sample/page2.txt examples/sample/page3.txt "$T/in/"
printf '# Tabs\n\nA\ttab, a back\\slash, and a\r\ncarriage return.\n\n## Unicode\n\nZürich, Ελληνικά, 日本語.\n' > "$T/in/odd.md"
"$Q" ingest -q --db "$T/demo.db" -c demo --model "$MODEL" "$T/in" 2> "$T/e"
check "demo store ingested (tiny model)" [ $? -eq 0 ]
sqlite3 "$T/demo.db" "UPDATE documents SET meta = '{\"year\":2024}' WHERE path LIKE '%sample.pdf'"
printf 'who designed the lens\nlighthouse\ntab back slash carriage return\nZürich\noptical engineering\nthe\n' > "$T/q_demo"
round_trip demo "$T/demo.db" "$URL2" demo meta "$T/q_demo"
"$Q" search --db "$T/demo.back.db" -c demo --where '{"year":2024}' --json lens > "$T/s2"
check "demo: metadata came along (a --where filter finds the document)" grep -q 'sample.pdf' "$T/s2"

# ---- quire export --db postgresql://: the lines the SQLite store exports ------------------------
# the migrated copy keeps every id, so the two exports are equal line for line (but the time)
noat() { sed 's/"exported_at":"[^"]*"//' "$1"; }
"$Q" export --db "$URL2" -o "$T/pg.jsonl" 2> "$T/e.pg"; a=$?
"$Q" export --db "$T/demo.db" -o "$T/sq.jsonl" 2> "$T/e.sq"
check "export --db postgresql://: exit $a, the SQLite store's export line for line ($(wc -l < "$T/sq.jsonl") lines)" \
    sh -c "[ $a -eq 0 ] && [ \$(wc -l < '$T/sq.jsonl') -gt 20 ] && [ \"\$(noat '$T/pg.jsonl' | md5sum)\" = \"\$(noat '$T/sq.jsonl' | md5sum)\" ]"
check "  the same summary line on stderr" \
    [ "$(sed 's| -> .*||' "$T/e.pg")" = "$(sed 's| -> .*||' "$T/e.sq")" ]
"$Q" export --db "$URL2" -c demo | noat /dev/stdin > "$T/pg1"; noat "$T/sq.jsonl" > "$T/sq1"
check "  -c demo to stdout: the same lines" cmp -s "$T/pg1" "$T/sq1"
"$Q" export --db "$URL2" -c nosuch -o "$T/no.jsonl" > /dev/null 2> "$T/e.pg"; a=$?
"$Q" export --db "$T/demo.db" -c nosuch -o "$T/no.jsonl" > /dev/null 2> "$T/e.sq"; b=$?
check "  an unknown collection: exit $a as SQLite, the same message, no file left" \
    sh -c "[ $a -eq $b ] && [ $a -ne 0 ] && [ \"\$(sed 's|$URL2|DB|' '$T/e.pg')\" = \"\$(sed 's|$T/demo.db|DB|' '$T/e.sq')\" ] && [ ! -e '$T/no.jsonl' ]"
"$Q" import --db "$T/fromexp.db" -q "$T/pg.jsonl"
same=1
while IFS= read -r q; do
    for mode in text vector hybrid; do
        "$Q" search --db "$T/demo.db" -c demo -k 10 --mode $mode --json "$q" > "$T/s1" 2>&1
        "$Q" search --db "$T/fromexp.db" -c demo -k 10 --mode $mode --json "$q" > "$T/s2" 2>&1
        cmp -s "$T/s1" "$T/s2" && [ -s "$T/s1" ] || same=0
    done
done < "$T/q_demo"
check "  imported into SQLite, it searches as the original (top-10, 3 modes, $(wc -l < "$T/q_demo") queries)" [ $same -eq 1 ]

# ---- refusals -------------------------------------------------------------------------------
before=$(pg_q "SELECT count(*) FROM chunks")
"$Q" migrate --from "$T/fixture.db" --to "$PGURL" > /dev/null 2> "$T/e"
check "a second migration into the same database: exit 2" [ $? -eq 2 ]
check "  the message says the target is not empty" grep -q 'is not empty (1 collections, 2 documents)' "$T/e"
check "  nothing was written" [ "$(pg_q "SELECT count(*) FROM chunks")" = "$before" ]
cp "$T/fixture.back.db" "$T/keep.db"
"$Q" migrate --from "$PGURL" --to "$T/fixture.back.db" > /dev/null 2> "$T/e"
check "a migration into a non-empty SQLite store: exit 2, not empty" \
    sh -c "[ $? -eq 2 ] && grep -q 'not empty' '$T/e'"
check "  the SQLite store is unchanged" sh -c "[ \"\$(sqlite3 '$T/keep.db' 'SELECT count(*) FROM chunks')\" = \"\$(sqlite3 '$T/fixture.back.db' 'SELECT count(*) FROM chunks')\" ]"
check "the PostgreSQL schema is version 3 (hnsw_graphs, the change feed)" \
    [ "$(pg_q "SELECT max(version) FROM quire_schema")" = "3" ]
# after a migration, workers keep numbering from the copied ids
next=$(pg_q "SELECT nextval(pg_get_serial_sequence('chunks','id'))")
check "the id sequences continue after the copied rows" \
    [ "$next" -gt "$(pg_q "SELECT max(id) FROM chunks")" ]

# ---- search --db postgresql://... --cache FILE: a replica cache (bootstrapped, then fed) ---
"$Q" search --db "$URL2" -c demo lens > /dev/null 2> "$T/e"
check "search --db postgresql:// without --cache: usage error naming --cache" \
    sh -c "[ $? -eq 2 ] && grep -q -- '--cache FILE' '$T/e'"
"$Q" search --db "$URL2" --cache "$T/cache.db" -c demo -k 10 --json "who designed the lens" > "$T/c1" 2> "$T/e"
check "search --cache: first run bootstraps the cache from PostgreSQL (says so)" \
    sh -c "[ $? -eq 0 ] && grep -q 'cache .*cache.db level with PostgreSQL' '$T/e' && ! grep -q ' 0 bootstrap rows' '$T/e' && [ -f '$T/cache.db' ]"
"$Q" search --db "$T/demo.db" -c demo -k 10 --json "who designed the lens" > "$T/c0"
check "search --cache: the same top-10 as the original SQLite store" cmp -s "$T/c0" "$T/c1"
"$Q" search --db "$URL2" --cache "$T/cache.db" -c demo -k 10 --json "who designed the lens" > "$T/c2" 2> "$T/e"
check "search --cache: a second run reads no bootstrap rows, same top-10" \
    sh -c "cmp -s '$T/c0' '$T/c2' && grep -q ' 0 bootstrap rows' '$T/e'"
