#!/bin/sh
# tests/cli/pg_store.sh — the PostgreSQL store backend: `quire ingest`, `docs`,
# `collections` and `reindex` with --db postgresql://... (and the PG* variables), on a
# throwaway server the test starts itself (tests/tools/pg.sh). Born-digital PDFs of the
# corpus (small-fn2end, small-opteng, small-grant, paper2col-jpsj) plus examples/sample.pdf,
# a text and a Markdown file, ingested directly into PostgreSQL, by 2 workers, and into a
# SQLite store: the same documents, chunk texts and byte-equal vectors all three ways (also
# after `quire migrate` PostgreSQL -> SQLite); docs/collections list the same JSON as the
# SQLite store; re-ingesting unchanged files writes nothing, a changed file is updated; a
# direct ingest over the workers' documents finds them unchanged (the same rows);
# metadata; reindex (text-only -> vectors, fp32 -> bf16) gives the SQLite store's vectors;
# docs --remove-where (the same documents removed, the same messages as SQLite); equal
# scores (12 copies of a document drained by 3 workers, read through search --cache: the
# SQLite ingest's top-10); --remove; bad URLs and an unreachable server give exit 2 / 1 naming the URL with its
# password redacted.
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

mkdir -p "$T/in"
cp examples/sample.pdf "$T/in/sample.pdf"
for f in small-fn2end small-opteng small-grant paper2col-jpsj; do cp "$C/born/$f.pdf" "$T/in/"; done
cp examples/sample/page1.txt "$T/in/"
printf '# Tabs\n\nA\ttab, a back\\slash, and a\r\ncarriage return.\n\n## Unicode\n\nZürich, Ελληνικά, 日本語.\n' > "$T/in/odd.md"
N=$(ls "$T/in" | wc -l)

# ---- errors: bad URL, unreachable server, empty database -----------------------------------
"$Q" docs --db "postgresql://bob:s3cret@/quire?host=$T/nowhere&port=5999" > /dev/null 2> "$T/e"
rc=$?
check "unreachable server: exit 1" [ $rc -eq 1 ]
check "  the message names the URL with the password redacted" \
    sh -c "grep -q 'postgresql://bob:\*\*\*@/quire?host=$T/nowhere&port=5999: cannot connect to PostgreSQL' '$T/e' && ! grep -q s3cret '$T/e'"
"$Q" ingest --db "postgresql://bob:s3cret@[oops/db" "$T/in/odd.md" > /dev/null 2> "$T/e"
rc=$?
check "malformed URL: exit 2 (usage), password redacted everywhere" \
    sh -c "[ $rc -eq 2 ] && grep -q 'postgresql://bob:\*\*\*@\[oops/db' '$T/e' && ! grep -q s3cret '$T/e'"
"$Q" collections --db "postgresql://bob@/quire?host=$T/nowhere&port=5999&password=s3cret" > /dev/null 2> "$T/e"
check "password= parameter redacted" sh -c "grep -q 'password=\*\*\*' '$T/e' && ! grep -q s3cret '$T/e'"
"$Q" docs --db "$PGURL" > /dev/null 2> "$T/e"
check "docs on a database without the quire schema: exit 1, says so" \
    sh -c "[ $? -eq 1 ] && grep -q 'holds no quire schema' '$T/e'"

# ---- direct ingest into PostgreSQL vs SQLite ---------------------------------------------------
"$Q" ingest --db "$PGURL" -c docs --model "$MODEL" "$T/in" > /dev/null 2> "$T/e1"
check "ingest --db postgresql://: exit 0, $N added" \
    sh -c "[ $? -eq 0 ] && grep -q \"$N documents into 'docs' ($N added, 0 updated, 0 unchanged, 0 failed)\" '$T/e1'"
check "the schema was created under the advisory lock (every version once)" \
    [ "$(pg_q "SELECT count(*) = max(version) AND count(DISTINCT version) = count(*) AND max(version) >= 3 FROM quire_schema")" = t ]
"$Q" ingest --db "$T/s.db" -c docs --model "$MODEL" -q "$T/in"
check "SQLite ingest of the same files: exit 0" [ $? -eq 0 ]

# every document, chunk and vector of a collection, in path/seq order (no ids, no times)
pgdump() { $PSQL -F '|' -c "SELECT d.path, d.sha256, d.size, d.pages, d.failed_pages, d.meta, c.seq, c.page_start, c.page_end, c.heading, c.text, c.n_tokens, upper(encode(v.vec, 'hex')) FROM documents d JOIN collections k ON k.id = d.collection_id JOIN chunks c ON c.document_id = d.id LEFT JOIN vectors v ON v.chunk_id = c.id AND v.index_id = k.active_index WHERE k.name = '$1' ORDER BY d.path COLLATE \"C\", c.seq"; }
sqdump() { sqlite3 -separator '|' "$1" "SELECT d.path, d.sha256, d.size, d.pages, d.failed_pages, d.meta, c.seq, c.page_start, c.page_end, c.heading, c.text, c.n_tokens, hex(v.vec) FROM documents d JOIN collections k ON k.id = d.collection_id JOIN chunks c ON c.document_id = d.id LEFT JOIN vectors v ON v.chunk_id = c.id AND v.index_id = k.active_index WHERE k.name = '$2' ORDER BY d.path, c.seq"; }
pgdump docs > "$T/pg.txt"; sqdump "$T/s.db" docs > "$T/sq.txt"
nch=$(wc -l < "$T/sq.txt")
check "direct PostgreSQL ingest: same documents, reports, metadata, chunk texts and byte-equal vectors as SQLite ($nch chunks)" \
    sh -c "[ $nch -gt 20 ] && cmp -s '$T/pg.txt' '$T/sq.txt'"
check "every chunk has its vector" \
    [ "$(pg_q "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id)")" = 0 ]

# docs / collections --json: the same lines (times differ: dropped)
nojs() { python3 -c 'import json,sys
for l in sys.stdin:
    o = json.loads(l); o.pop("converted_at", None); o.pop("created_at", None); print(json.dumps(o, sort_keys=True))'; }
"$Q" docs --db "$PGURL" -c docs --json | nojs > "$T/d.pg"
"$Q" docs --db "$T/s.db" -c docs --json | nojs > "$T/d.sq"
check "docs --json: the same $N documents as the SQLite store" \
    sh -c "[ \$(wc -l < '$T/d.pg') -eq $N ] && cmp -s '$T/d.pg' '$T/d.sq'"
"$Q" docs --db "$PGURL" -c docs --json | python3 -c 'import json,sys,re
for l in sys.stdin: assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", json.loads(l)["converted_at"])' 
check "docs --json: converted_at is UTC ISO 8601 as in SQLite" [ $? -eq 0 ]
"$Q" collections --db "$PGURL" --json | nojs > "$T/c.pg"
"$Q" collections --db "$T/s.db" --json | nojs > "$T/c.sq"
check "collections --json: the same as the SQLite store (counts, model, fingerprint)" cmp -s "$T/c.pg" "$T/c.sq"
"$Q" docs --db "$PGURL" -c docs > "$T/d.txt" 2>/dev/null && "$Q" collections --db "$PGURL" > "$T/c.txt"
check "docs and collections text listings work" \
    sh -c "grep -q 'small-opteng.pdf' '$T/d.txt' && grep -q '^docs .*tiny-bert' '$T/c.txt'"
PGHOST=$PGDIR PGPORT=$PGPORT PGUSER=postgres PGDATABASE=quire "$Q" docs --db postgresql:// -c docs --json | nojs > "$T/d.env"
check "--db postgresql:// with the PG* variables: the same listing" cmp -s "$T/d.env" "$T/d.pg"

"$Q" ingest --db "$PGURL" -c par --model "$MODEL" --jobs 3 -q "$T/in"
check "ingest --jobs 3 (threads sharing the store's connection): exit 0" [ $? -eq 0 ]
pgdump par | cut -d'|' -f1,7- > "$T/a"; pgdump docs | cut -d'|' -f1,7- > "$T/b"
check "  the same chunk texts and vectors as one at a time" cmp -s "$T/a" "$T/b"

# ---- re-ingest: unchanged, changed ---------------------------------------------------------------
before=$(pg_q "SELECT max(id) || '/' || count(*) FROM chunks")
"$Q" ingest --db "$PGURL" -c docs --model "$MODEL" "$T/in" > /dev/null 2> "$T/e"
check "re-ingesting unchanged files: $N unchanged" grep -q "(0 added, 0 updated, $N unchanged" "$T/e"
check "  no chunk written (max id and count the same)" \
    [ "$(pg_q "SELECT max(id) || '/' || count(*) FROM chunks")" = "$before" ]
printf '\n## Added\n\nA closing paragraph about otters.\n' >> "$T/in/odd.md"
"$Q" ingest --db "$PGURL" -c docs --model "$MODEL" "$T/in" > /dev/null 2> "$T/e"
check "a changed file is updated, the others unchanged" grep -q "(0 added, 1 updated, $((N - 1)) unchanged" "$T/e"
"$Q" ingest --db "$T/s.db" -c docs --model "$MODEL" -q "$T/in"
pgdump docs > "$T/pg.txt"; sqdump "$T/s.db" docs > "$T/sq.txt"
check "  after the update: still equal to SQLite's, the new text there" \
    sh -c "cmp -s '$T/pg.txt' '$T/sq.txt' && grep -q otters '$T/pg.txt'"
check "no orphan chunks or vectors" \
    [ "$(pg_q "SELECT (SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)) + (SELECT count(*) FROM vectors WHERE chunk_id NOT IN (SELECT id FROM chunks))")" = 0 ]

# ---- metadata ------------------------------------------------------------------------------------
"$Q" ingest -q --db "$PGURL" -c docs --model "$MODEL" --meta year=2024 --meta team=a "$T/in/small-grant.pdf"
"$Q" ingest -q --db "$T/s.db" -c docs --model "$MODEL" --meta year=2024 --meta team=a "$T/in/small-grant.pdf"
"$Q" docs --db "$PGURL" -c docs --json | nojs > "$T/d.pg"; "$Q" docs --db "$T/s.db" -c docs --json | nojs > "$T/d.sq"
check "--meta on an unchanged file: metadata set as in SQLite (pdf.* keys kept)" \
    sh -c "cmp -s '$T/d.pg' '$T/d.sq' && grep 'small-grant' '$T/d.pg' | grep -q '\"year\": 2024'"

# ---- workers and direct ingest write the same rows ------------------------------------------
"$Q" enqueue --db "$PGURL" -c wk "$T/in" -q
for i in 1 2; do "$Q" worker --db "$PGURL" --model "$MODEL" --drain --poll 0.2 --quiet 2> "$T/w$i" & done
wait
check "2 workers drain the queue: $N done" [ "$(pg_q "SELECT count(*) FROM jobs WHERE collection = 'wk' AND state = 'done'")" = "$N" ]
"$Q" ingest --db "$T/w.db" -c wk --model "$MODEL" -q "$T/in"
pgdump wk > "$T/pgw.txt"; sqdump "$T/w.db" wk > "$T/sqw.txt"
check "workers: same documents, chunk texts and byte-equal vectors as the SQLite ingest" cmp -s "$T/pgw.txt" "$T/sqw.txt"
cut -d'|' -f1,8- "$T/pgw.txt" > "$T/a"; pgdump docs | cut -d'|' -f1,8- > "$T/b"
check "workers and direct ingest: the same chunk texts and vectors" cmp -s "$T/a" "$T/b"
before=$(pg_q "SELECT max(id) || '/' || count(*) FROM chunks")
"$Q" ingest --db "$PGURL" -c wk --model "$MODEL" "$T/in" > /dev/null 2> "$T/e"
check "a direct ingest over the workers' documents: all $N unchanged, nothing written" \
    sh -c "grep -q '0 added, 0 updated, $N unchanged' '$T/e' && [ '$before' = \"\$($PSQL -c \"SELECT max(id) || '/' || count(*) FROM chunks\")\" ]"
check "  direct rows carry no job, the workers' carry theirs" \
    [ "$(pg_q "SELECT count(*) FILTER (WHERE k.name = 'docs' AND d.job_id IS NULL) || '/' || count(*) FILTER (WHERE k.name = 'wk' AND d.job_id IS NOT NULL) FROM documents d JOIN collections k ON k.id = d.collection_id")" = "$N/$N" ]

# a direct ingest and 2 workers at once into a new collection (its first commit creates
# the index: one of them under the exclusive lock, the others wait or retry)
"$Q" enqueue --db "$PGURL" -c race "$T/in" -q
for i in 1 2; do "$Q" worker --db "$PGURL" --model "$MODEL" --drain --poll 0.2 --quiet 2> "$T/rw$i" & done
"$Q" ingest --db "$PGURL" -c race --model "$MODEL" -q "$T/in" 2> "$T/ri"
ri=$?
wait
check "direct ingest racing 2 workers into a new collection: exit 0, every job done" \
    sh -c "[ $ri -eq 0 ] && [ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE collection = 'race' AND state = 'done'\")\" = $N ]"
check "  each document stored once, one index, every chunk with its vector" \
    [ "$(pg_q "SELECT count(*) || '/' || count(DISTINCT d.path) || '/' || (SELECT count(*) FROM indexes i JOIN collections k ON k.id = i.collection_id WHERE k.name = 'race') || '/' || (SELECT count(*) FROM chunks c JOIN documents e ON e.id = c.document_id JOIN collections k ON k.id = e.collection_id WHERE k.name = 'race' AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id)) FROM documents d JOIN collections k ON k.id = d.collection_id WHERE k.name = 'race'")" = "$N/$N/1/0" ]
pgdump race | cut -d'|' -f1,7- > "$T/a"; pgdump docs | cut -d'|' -f1,7- > "$T/b"
check "  the same chunk texts and vectors" cmp -s "$T/a" "$T/b"

# ---- quire migrate PostgreSQL -> SQLite: the same as the SQLite ingest -----------------------------
"$Q" migrate --from "$PGURL" --to "$T/back.db" > /dev/null 2> "$T/e"
check "migrate PostgreSQL -> SQLite: exit 0" [ $? -eq 0 ]
sqdump "$T/back.db" docs > "$T/bk.txt"; sqdump "$T/s.db" docs > "$T/sq.txt"
check "  the migrated copy equals the SQLite ingest (texts, byte-equal vectors)" cmp -s "$T/bk.txt" "$T/sq.txt"
"$Q" search --db "$T/back.db" -c docs -k 10 --json "optical engineering lens" > "$T/s1"
"$Q" search --db "$T/s.db" -c docs -k 10 --json "optical engineering lens" > "$T/s2"
check "  and searches the same (top-10, hybrid)" sh -c "[ -s '$T/s1' ] && cmp -s '$T/s1' '$T/s2'"

# ---- the replica feed sees direct ingests (search --cache) ---------------------------------
"$Q" search --db "$PGURL" --cache "$T/cache.db" -c docs -k 10 --json "optical engineering lens" 2> "$T/e" | sed 's/"id":[0-9]*,"chunk_id":[0-9]*,//' > "$T/s1"
"$Q" search --db "$T/s.db" -c docs -k 10 --json "optical engineering lens" | sed 's/"id":[0-9]*,"chunk_id":[0-9]*,//' > "$T/s2"
check "search --cache on the directly ingested store: the SQLite store's top-10" \
    sh -c "[ -s '$T/s1' ] && cmp -s '$T/s1' '$T/s2'"
printf '\n## Beavers\n\nA paragraph about beavers building dams.\n' >> "$T/in/odd.md"
"$Q" ingest -q --db "$PGURL" -c docs --model "$MODEL" "$T/in/odd.md"
"$Q" search --db "$PGURL" --cache "$T/cache.db" -c docs -k 3 --mode text --json "beavers building dams" 2> "$T/e" > "$T/s1"
check "  a document re-ingested directly is in the cache's next search" grep -q 'beavers building dams' "$T/s1"
"$Q" ingest -q --db "$T/s.db" -c docs --model "$MODEL" "$T/in/odd.md"

# ---- equal scores: the same top-10 from 3 workers through a replica as from SQLite -----------
# 12 copies of one document under different paths (their chunks score exactly the same)
# queued in reverse order and drained by 3 workers (chunk ids in no particular order), read
# through search --cache, against a SQLite ingest in path order: ties are ranked by (path,
# seq), so the lists are identical, the cut at 10 inside the run of 12 included
mkdir -p "$T/tie"
for n in a b c d e f g h i j k l; do
    printf '# Lamp notes\n\nThe keeper lit the brass lamp at dusk and trimmed the wick.\n\n## Second part\n\nOil, glass and a lens for the brass lamp.\n' > "$T/tie/$n.md"
done
printf '# Other\n\nA different note about the lamp and the sea.\n' > "$T/tie/z.md"
for f in $(ls "$T/tie"/*.md | sort -r); do "$Q" enqueue --db "$PGURL" -c tie -q "$f"; done
for i in 1 2 3; do "$Q" worker --db "$PGURL" --model "$MODEL" --drain --poll 0.2 --quiet 2> "$T/tw$i" & done
wait
"$Q" ingest -q --db "$T/tie.db" -c tie --model "$MODEL" $(ls "$T/tie"/*.md | sort)
tietop() { python3 -c 'import json,sys
for l in sys.stdin:
    o = json.loads(l)
    print("%s|%s|%r|%s|%s" % (o["document"], o["heading"], o["score"], o["text_rank"], o["vector_rank"]))'; }
for m in text vector hybrid; do
    "$Q" search --db "$PGURL" --cache "$T/tcache.db" -c tie -k 10 --mode $m --model "$MODEL" --json "brass lamp lens" 2>/dev/null | tietop > "$T/t1.$m"
    "$Q" search --db "$T/tie.db" -c tie -k 10 --mode $m --model "$MODEL" --json "brass lamp lens" | tietop > "$T/t2.$m"
    check "equal scores, $m: 3 workers read through a replica give the SQLite ingest's top-10" \
        sh -c "[ \$(wc -l < '$T/t1.$m') -eq 10 ] && cmp -s '$T/t1.$m' '$T/t2.$m'"
done
check "  the chunk ids differ between the two stores (ties not broken by id)" \
    [ "$(sqlite3 "$T/tcache.db" "SELECT group_concat(c.id) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path LIKE '%/tie/a.md'")" != "$(sqlite3 "$T/tie.db" "SELECT group_concat(c.id) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path LIKE '%/tie/a.md'")" ]
check "  vector: the run of 12 cut at 10 keeps a.md .. j.md" \
    [ "$(cut -d'|' -f1 "$T/t1.vector" | sed 's|.*/||' | tr '\n' ' ')" = "a.md b.md c.md d.md e.md f.md g.md h.md i.md j.md " ]

# ---- reindex --------------------------------------------------------------------------------------
"$Q" ingest -q --db "$PGURL" -c plain "$T/in/odd.md" "$T/in/page1.txt" "$T/in/small-fn2end.pdf"
"$Q" ingest -q --db "$T/s.db" -c plain "$T/in/odd.md" "$T/in/page1.txt" "$T/in/small-fn2end.pdf"
check "a text-only collection on PostgreSQL has no vectors" \
    sh -c "\"$Q\" collections --db '$PGURL' --json | grep '\"plain\"' | grep -q '\"vectors\":0'"
"$Q" reindex -q --db "$PGURL" -c plain --model "$MODEL" 2> "$T/e"
check "reindex --db postgresql:// of a text-only collection: exit 0" [ $? -eq 0 ]
"$Q" reindex -q --db "$T/s.db" -c plain --model "$MODEL"
pgdump plain > "$T/a"; sqdump "$T/s.db" plain > "$T/b"
check "  the vectors added are SQLite's reindex's, byte for byte" \
    sh -c "cmp -s '$T/a' '$T/b' && [ \"\$($PSQL -c \"SELECT count(*) FROM vectors v JOIN collections k ON k.active_index = v.index_id WHERE k.name = 'plain'\")\" -gt 2 ]"
old_ix=$(pg_q "SELECT active_index FROM collections WHERE name = 'docs'")
"$Q" reindex -q --db "$PGURL" -c docs --model "$MODEL" --precision bf16 2> "$T/e"
check "reindex fp32 -> bf16: exit 0, the old index is gone" \
    sh -c "[ $? -eq 0 ] && [ \"\$($PSQL -c \"SELECT count(*) FROM indexes WHERE id = $old_ix\")\" = 0 ]"
"$Q" reindex -q --db "$T/s.db" -c docs --model "$MODEL" --precision bf16
pgdump docs > "$T/a"; sqdump "$T/s.db" docs > "$T/b"
check "  bf16 vectors byte-equal to SQLite's reindex" cmp -s "$T/a" "$T/b"
"$Q" collections --db "$PGURL" > "$T/c.txt"
check "  collections shows bf16" grep -q '^docs .*bf16' "$T/c.txt"
"$Q" ingest --db "$PGURL" -c docs --model "$MODEL" --precision fp32 "$T/in/odd.md" > /dev/null 2> "$T/e"
check "ingest with --precision fp32 after the reindex: refused naming both (exit 1)" \
    sh -c "[ $? -ne 0 ] && grep -q 'holds vectors from model' '$T/e'"

# ---- docs --remove-where: the same documents removed, the same output as SQLite -------------
mkdir -p "$T/mw"
i=0
for y in 2021 2022 2023 2024 2025 none; do
    printf '# Note %s\n\nA short note from %s.\n' $i $y > "$T/mw/m$i.md"
    for db in "$PGURL" "$T/s.db"; do
        if [ $y = none ]; then "$Q" ingest -q --db "$db" -c mw "$T/mw/m$i.md"
        else "$Q" ingest -q --db "$db" -c mw --meta year=$y --meta team=t$((i % 2)) "$T/mw/m$i.md"; fi
    done
    i=$((i + 1))
done
# rw NAME ARGS...: docs ARGS on both stores; the exit codes and stderr (the store's name
# replaced by DB) and then the listings must be equal
rw() {
    name=$1; shift
    "$Q" docs --db "$PGURL" -c mw "$@" > /dev/null 2> "$T/rw.pg"; a=$?
    "$Q" docs --db "$T/s.db" -c mw "$@" > /dev/null 2> "$T/rw.sq"; b=$?
    sed "s|$PGURL|DB|g" "$T/rw.pg" > "$T/rw.pg2"; sed "s|$T/s.db|DB|g" "$T/rw.sq" > "$T/rw.sq2"
    "$Q" docs --db "$PGURL" -c mw --json | nojs > "$T/rw.dpg"; "$Q" docs --db "$T/s.db" -c mw --json | nojs > "$T/rw.dsq"
    check "docs --remove-where $name: exit $a, the same message and documents left as SQLite ($(head -n 1 "$T/rw.sq2" | cut -c1-60))" \
        sh -c "[ $a -eq $b ] && [ -s '$T/rw.sq2' ] && cmp -s '$T/rw.pg2' '$T/rw.sq2' && cmp -s '$T/rw.dpg' '$T/rw.dsq'"
}
rw "(no match)" --remove-where '{"year": {"$gt": 3000}}'
check "  nothing removed: 6 documents" [ "$(wc -l < "$T/rw.dpg")" -eq 6 ]
rw "\$gte 2024 (2 of 6)" --remove-where '{"year": {"$gte": 2024}}'
check "  4 documents left" [ "$(wc -l < "$T/rw.dpg")" -eq 4 ]
rw "\$or with \$in" --remove-where '{"$or": [{"team": "t1"}, {"year": {"$in": [2022]}}]}'
rw "\$ne (also matches a document without the key)" --remove-where '{"year": {"$ne": 2021}}'
check "  one document left (m0, 2021)" sh -c "[ \$(wc -l < '$T/rw.dpg') -eq 1 ] && grep -q m0.md '$T/rw.dpg'"
rw "not JSON: refused" --remove-where 'year=2021'
rw "an unknown operator: refused" --remove-where '{"year": {"$near": 1}}'
"$Q" docs --db "$PGURL" -c nosuch --remove-where '{"year": 1}' > /dev/null 2> "$T/rw.pg"; a=$?
"$Q" docs --db "$T/s.db" -c nosuch --remove-where '{"year": 1}' > /dev/null 2> "$T/rw.sq"; b=$?
check "docs --remove-where on an unknown collection: exit $a and the message of SQLite" \
    sh -c "[ $a -eq $b ] && [ $a -ne 0 ] && [ \"\$(sed 's|$PGURL|DB|g' '$T/rw.pg')\" = \"\$(sed 's|$T/s.db|DB|g' '$T/rw.sq')\" ]"

# ---- remove ----------------------------------------------------------------------------------------
"$Q" docs --db "$PGURL" -c plain --remove "$(realpath "$T/in/odd.md")" 2> "$T/e"
check "docs --remove: exit 0, the document and its chunks are gone" \
    sh -c "[ $? -eq 0 ] && [ \"\$($PSQL -c \"SELECT count(*) FROM documents d JOIN collections k ON k.id = d.collection_id WHERE k.name = 'plain'\")\" = 2 ]"
"$Q" docs --db "$PGURL" -c plain --remove /no/such.md > /dev/null 2> "$T/e"
check "docs --remove of an unknown document: exit 1 naming it" sh -c "[ $? -eq 1 ] && grep -q 'no document' '$T/e'"
"$Q" collections --db "$PGURL" --remove plain 2> "$T/e"
check "collections --remove: the collection is gone with its rows" \
    sh -c "[ \"\$($PSQL -c \"SELECT count(*) FROM collections WHERE name = 'plain'\")\" = 0 ]"
check "no orphan chunks or vectors at the end" \
    [ "$(pg_q "SELECT (SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)) + (SELECT count(*) FROM vectors WHERE chunk_id NOT IN (SELECT id FROM chunks))")" = 0 ]
"$Q" search --db "$PGURL" -c docs lens > /dev/null 2> "$T/e"
check "search --db postgresql:// without --cache: usage error naming --cache" \
    sh -c "[ $? -eq 2 ] && grep -q -- '--cache FILE' '$T/e'"

# ---- the server goes away during an ingest of several files (last: it crashes the server) ----
# The store is open (the connection made), the first input is a FIFO that ingest blocks
# reading until the server is down: every store call from then on fails. Ingest stops after
# the first such failure (QUIRE_IO_STORE, whatever the message says) instead of failing
# each remaining file, and the password in the URL is never printed.
PWURL="postgresql://postgres:s3cret@/quire?host=$PGDIR&port=$PGPORT"
mkdir -p "$T/gone"
mkfifo "$T/gone/a.md"
for f in b c d e; do printf '# %s\n\nSome text.\n' "$f" > "$T/gone/$f.md"; done
"$Q" ingest --db "$PWURL" -c gone "$T/gone/a.md" "$T/gone/b.md" "$T/gone/c.md" "$T/gone/d.md" \
    "$T/gone/e.md" > /dev/null 2> "$T/e" &
ipid=$!
i=0
while [ $i -lt 100 ] && [ "$(pg_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'quire'")" != 1 ]; do
    sleep 0.1; i=$((i + 1))
done
pg_crash
printf '# A\n\nSome text.\n' > "$T/gone/a.md"
wait $ipid
rc=$?
check "server gone mid-ingest: exit 1, stopped after the first document" \
    sh -c "[ $rc -eq 1 ] && grep -q 'stopped with 1 of 5 documents done' '$T/e'"
check "  one error line (the server closed the connection), the password never printed" \
    sh -c "[ \$(grep -v '^quire ingest: stopped' '$T/e' | grep -c '^quire ingest: ') -eq 1 ] && grep -q 'server closed the connection' '$T/e' && ! grep -q s3cret '$T/e'"
