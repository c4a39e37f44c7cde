#!/bin/sh
# tests/cli/store_export.sh — quire export / quire import (issue 15 point 3): a store of
# two corpus PDFs and 30 Markdown notes (tiny model, metadata) exported as JSONL and
# imported into a new store gives identical top-10 hits in text, vector and hybrid mode
# and byte-equal vectors; streaming through a pipe; one collection of several, renamed;
# refusals (a collection with documents, another model, a newer format) and bad input
# (invalid JSON, a wrong-size vector, a chunk before its document, a truncated stream)
# name the line and leave nothing written. ~15 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=$SHARED/models/tiny
A=$T/a.db
mkdir -p "$T/in"
cp "$C/born/small-opteng.pdf" "$C/born/paper2col-els5p.pdf" "$T/in/"
i=0
while [ $i -lt 30 ]; do
    printf '# Animal %d\n\nThe animal number %d is called creature%d and eats food%d.\n\n## Habitat\n\nIt lives in place%d near river%d, with optics and lenses.\n' $i $i $i $i $i $i > "$T/in/a$i.md"
    echo "{\"n\": $i, \"kind\": \"animal\"}" > "$T/in/a$i.md.meta.json"
    i=$((i+1))
done
"$Q" ingest -q --db "$A" --collection zoo --model "$M" "$T/in" 2> "$T/e"
check "source store: ingest exit 0" [ $? -eq 0 ]

"$Q" export --db "$A" -c zoo -o "$T/zoo.jsonl" 2> "$T/e"
check "export one collection: exit 0, summary" sh -c "grep -q 'export: 1 collection, 32 documents' '$T/e'"
check "export: header, documents with chunks, end line" $PY - "$T/zoo.jsonl" "$A" <<'EOF'
import json, sys, sqlite3, base64
lines = [json.loads(l) for l in open(sys.argv[1])]
h, end = lines[0], lines[-1]
assert h["type"] == "header" and h["format"] == "quire-export" and h["version"] == 1, h
assert h["store_schema"] == 2
c = h["collections"]
assert len(c) == 1 and c[0]["name"] == "zoo" and c[0]["dims"] == 32 and len(c[0]["fingerprint"]) == 64, c
for k in ("chunk_tokens", "overlap", "hnsw_m", "ef_construction", "ef_search", "model", "precision"):
    assert k in c[0], k
db = sqlite3.connect(sys.argv[2])
fp = db.execute("select fingerprint from indexes i join collections c on c.active_index = i.id where c.name='zoo'").fetchone()[0]
assert c[0]["fingerprint"] == fp
assert end == {"type": "end", "collections": 1, "documents": 32, "chunks": c[0]["chunks"], "vectors": c[0]["vectors"]}, end
docs = [l for l in lines if l["type"] == "document"]
chunks = [l for l in lines if l["type"] == "chunk"]
assert len(docs) == 32 and len(chunks) == c[0]["chunks"] == c[0]["vectors"]
meta = {d["id"].rsplit("/", 1)[1]: d["metadata"] for d in docs}
assert meta["a7.md"] == {"kind": "animal", "n": 7}, meta["a7.md"]
cur = None
for l in lines[1:-1]:
    if l["type"] == "document":
        cur = l["id"]
    else:
        assert l["document"] == cur, "chunk before its document"
        assert len(base64.b64decode(l["vector"])) == 32 * 4
EOF

B=$T/b.db
"$Q" import --db "$B" "$T/zoo.jsonl" 2> "$T/e"
check "import into a new store: exit 0, summary" sh -c "grep -q 'import: 1 collection, 32 documents' '$T/e'"
check "vectors byte-equal (per chunk, hex of the stored blobs)" sh -c "
    sqlite3 '$A' \"select c.id, hex(v.vec) from vectors v join chunks c on c.id = v.chunk_id join documents d on d.id = c.document_id join collections k on k.id = d.collection_id where k.name = 'zoo' order by c.id\" > '$T/va' &&
    sqlite3 '$B' \"select c.id, hex(v.vec) from vectors v join chunks c on c.id = v.chunk_id order by c.id\" > '$T/vb' &&
    [ -s '$T/va' ] && cmp -s '$T/va' '$T/vb'"
check "documents, metadata and collection settings equal" sh -c "
    '$Q' docs --db '$A' -c zoo --json > '$T/da' && '$Q' docs --db '$B' -c zoo --json > '$T/db' && cmp -s '$T/da' '$T/db' &&
    '$Q' collections --db '$A' --json | grep '\"zoo\"' > '$T/ca' && '$Q' collections --db '$B' --json > '$T/cb' && cmp -s '$T/ca' '$T/cb'"
check "the HNSW graph was built and saved by the import" [ "$(sqlite3 "$B" 'select count(*) from hnsw_graphs')" = 1 ]
same=0; total=0
for q in "creature7 food7" "optical engineering manuscript page length" "animal habitat river" \
         "specimen title elsevier" "lenses"; do
    for mode in text vector hybrid; do
        total=$((total+1))
        "$Q" search --db "$A" -c zoo --mode $mode -k 10 --json "$q" > "$T/sa" 2>/dev/null
        "$Q" search --db "$B" -c zoo --mode $mode -k 10 --json "$q" > "$T/sb" 2>/dev/null
        n=$(wc -l < "$T/sa")
        # vector and hybrid always fill k = 10; text mode has the chunks that match
        { [ "$n" -eq 10 ] || { [ $mode = text ] && [ "$n" -ge 1 ]; }; } &&
            cmp -s "$T/sa" "$T/sb" && same=$((same+1))
    done
done
check "identical top-10 hits (ids, scores, ranks, snippets) in text/vector/hybrid mode: $same/$total" [ $same -eq $total ]

# BM25 statistics are store-wide (one FTS index): a second collection comes after the
# comparison above
"$Q" ingest -q --db "$A" --collection notes "$T/in/a1.md" "$T/in/a2.md" 2> "$T/e"
check "source store: a second, text-only collection" [ $? -eq 0 ]
# streaming: export to stdout piped into import from stdin; every collection
"$Q" export --db "$A" -q | "$Q" import --db "$T/c.db" -q - 2> "$T/e"
check "stream through a pipe (all collections)" sh -c "[ \$('$Q' collections --db '$T/c.db' --json | wc -l) -eq 2 ]"
"$Q" export --db "$A" -o "$T/all.jsonl" -q
"$Q" import --db "$B" -c notes --as notes2 "$T/all.jsonl" 2> "$T/e"
check "--collection picks one of several, --as renames it" sh -c "'$Q' collections --db '$B' --json | grep -q '\"name\":\"notes2\",\"documents\":2'"
"$Q" import --db "$B" -c nope "$T/all.jsonl" 2> "$T/e"; rc=$?
check "--collection absent from the export: names what it has" sh -c "[ $rc -ne 0 ] && grep -q \"no collection 'nope' (it has 'notes', 'zoo')\" '$T/e'"

# refusals
sum() { sqlite3 "$1" 'select count(*) from documents; select count(*) from chunks; select count(*) from vectors' | tr '\n' ' '; }
before=$(sum "$B")
"$Q" import --db "$B" "$T/zoo.jsonl" 2> "$T/e"; rc=$?
check "a collection that has documents is refused, with the way out" sh -c "[ $rc -eq 2 ] && grep -q \"collection 'zoo' of .* already has 32 documents: import into a new collection (--as NAME)\" '$T/e'"
check "refused import: store unchanged" [ "$(sum "$B")" = "$before" ]
cp -r "$M" "$T/m2"; chmod -R u+w "$T/m2"
printf '{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}\n' > "$T/m2/1_Pooling/config.json"
"$Q" import --db "$T/m.db" --model "$T/m2" "$T/zoo.jsonl" 2> "$T/e"; rc=$?
check "--model of another fingerprint: refused naming both" sh -c "[ $rc -eq 1 ] && grep -q \"holds vectors from model 'tiny' (fingerprint .*); the model given has fingerprint\" '$T/e' && [ ! -e '$T/m.db' ]"
"$Q" import --db "$T/m.db" --model "$M" -q "$T/zoo.jsonl"
check "--model of the same fingerprint: accepted" [ $? -eq 0 ]
"$Q" ingest -q --db "$T/e.db" -c zoo --model "$T/m2" "$T/in/a3.md" && "$Q" docs --db "$T/e.db" -c zoo --remove "$T/in/a3.md" 2>/dev/null
"$Q" import --db "$T/e.db" "$T/zoo.jsonl" 2> "$T/e"; rc=$?
check "an empty collection of another model: refused (MISMATCH)" sh -c "[ $rc -eq 1 ] && grep -q \"the empty collection 'zoo' of .* holds vectors of model\" '$T/e'"
"$Q" import --db "$T/e.db" --as zoo2 -q "$T/zoo.jsonl"
check "... and accepted under another name" [ $? -eq 0 ]
sed '1s/"version":1/"version":7/' "$T/zoo.jsonl" > "$T/v7.jsonl"
"$Q" import --db "$T/n.db" "$T/v7.jsonl" 2> "$T/e"; rc=$?
check "a newer export format: clear error, no store left" sh -c "[ $rc -eq 1 ] && grep -q 'export format version 7 (written by quire .*); this quire (.*) reads version 1' '$T/e' && [ ! -e '$T/n.db' ]"

# bad input: the line is named, nothing is written (the new store file is removed; an
# existing store keeps what it had)
badin() { # name, file, expected message
    "$Q" import --db "$T/x.db" "$2" 2> "$T/e"; rc=$?
    check "$1: exit 1, '$3', no store left" sh -c "[ $rc -eq 1 ] && grep -q -- \"$3\" '$T/e' && [ ! -e '$T/x.db' ]"
    cp "$B" "$T/y.db"; before=$(sum "$T/y.db")
    "$Q" import --db "$T/y.db" --as fresh "$2" 2> /dev/null
    check "$1: an existing store unchanged" [ "$(sum "$T/y.db")" = "$before" ]
}
awk 'NR==9{print "{\"type\": \"chunk\", oops"; next} {print}' "$T/zoo.jsonl" > "$T/b1"
badin "invalid JSON on line 9" "$T/b1" "zoo.jsonl\\|b1:9: not valid JSON"
($PY - "$T/zoo.jsonl" "$T/b2" <<'EOF'
import json, sys, base64
out = open(sys.argv[2], "w")
done = False
for n, l in enumerate(open(sys.argv[1]), 1):
    o = json.loads(l)
    if n >= 20 and o["type"] == "chunk" and not done:
        done = True
        print(n)
        o["vector"] = base64.b64encode(base64.b64decode(o["vector"])[:31 * 4]).decode()
    out.write(json.dumps(o) + "\n")
EOF
) > "$T/n2"
badin "a 31-dim vector" "$T/b2" "b2:$(cat "$T/n2"): chunk .* the vector has 124 bytes (31 floats); collection 'zoo' has 32 dims"
awk 'NR==2{d=$0; next} NR==3{print; print d; next} {print}' "$T/zoo.jsonl" > "$T/b3"
badin "a chunk before its document" "$T/b3" "b3:2: chunk of document .* does not follow that document's line"
head -n 40 "$T/zoo.jsonl" > "$T/b4"
badin "a truncated stream" "$T/b4" "b4: truncated: no end line after line 40 (nothing imported)"
grep -v '"type":"document".*a5.md"' "$T/zoo.jsonl" > "$T/b5"
badin "a lost document line" "$T/b5" "does not follow that document's line"
printf 'hello\n' > "$T/b6"
badin "not an export" "$T/b6" "b6:1: not a quire export"
"$Q" import --db "$T/x.db" 2> "$T/e" < /dev/null; rc=$?
check "empty stdin: clear error" sh -c "[ $rc -eq 1 ] && grep -q 'stdin is empty' '$T/e' && [ ! -e '$T/x.db' ]"
"$Q" export --db "$A" -c nope -o "$T/none.jsonl" 2> "$T/e"; rc=$?
check "export of an absent collection: exit 1, no file" sh -c "[ $rc -eq 1 ] && grep -q \"no collection named 'nope'\" '$T/e' && [ ! -e '$T/none.jsonl' ]"
"$Q" export --db "$A" -o "$T/z" -o "$T/z2" 2> /dev/null
check "-o twice: usage error" [ $? -eq 2 ]
