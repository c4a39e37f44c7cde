#!/bin/sh
# tests/cli/store_meta.sh — document metadata and Chroma-style filters (issue 15 point 2):
# --meta K=V (typed), FILE.meta.json sidecars and --meta-file JSONL, merged per key and
# stored with the document (schema 2, migrated from the committed v1 fixture); metadata
# upserted when the content is unchanged; every operator of --where ($eq $ne $gt $gte $lt
# $lte $in $nin $and $or, field path); hits and docs carry the metadata; filters applied
# before ranking, so a selective filter (50/10/1/0.2/0.1 % of 3,024 chunks) still returns k
# hits in vector and hybrid mode, with recall@10 >= 0.95 against exact filtered search. ~30 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=examples/tiny-bert
DB=$T/s.db
mkdir -p "$T/d"
for i in 0 1 2 3 4 5 6 7 8 9; do
    printf '# Note %s\n\nThe capybara swims across river %s at dawn.\n' $i $i > "$T/d/n$i.md"
done
echo '{"year": 2018, "tag": "old", "lang": "en"}' > "$T/d/n0.md.meta.json"
echo '{"year": 2021, "tag": "new"}' > "$T/d/n1.md.meta.json"
{
    echo "{\"path\": \"$T/d/n1.md\", \"metadata\": {\"lang\": \"de\", \"tag\": \"override-me\"}}"
    echo "{\"path\": \"$T/d/n2.md\", \"metadata\": {\"year\": 2023, \"lang\": \"fr\"}}"
} > "$T/meta.jsonl"
"$Q" ingest -q --db "$DB" --meta-file "$T/meta.jsonl" --meta src=cli --meta score=4.5 \
    --meta reviewed=true "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "ingest with sidecars, --meta-file and --meta: exit 0" [ $rc -eq 0 ]
"$Q" docs --db "$DB" --json > "$T/docs" 2>/dev/null
check "metadata merged per key (sidecar < --meta-file < --meta), values typed" $PY - "$T/docs" <<'EOF'
import json, sys, os
d = {os.path.basename(x["id"]): x["metadata"] for x in map(json.loads, open(sys.argv[1]))}
base = {"src": "cli", "score": 4.5, "reviewed": True}
assert d["n0.md"] == dict(base, year=2018, tag="old", lang="en"), d["n0.md"]
assert d["n1.md"] == dict(base, year=2021, tag="override-me", lang="de"), d["n1.md"]
assert d["n2.md"] == dict(base, year=2023, lang="fr"), d["n2.md"]
assert d["n5.md"] == base, d["n5.md"]
EOF
check "store schema is version 2" [ "$(sqlite3 "$DB" 'PRAGMA user_version')" = 2 ]

n() { "$Q" search --db "$DB" -k 100 --json --where "$1" capybara 2>/dev/null | wc -l; }
docs_of() { "$Q" search --db "$DB" -k 100 --json --where "$1" capybara 2>/dev/null |
    $PY -c 'import json,sys,os; print(" ".join(sorted(os.path.basename(json.loads(l)["document"]) for l in sys.stdin)))'; }
check "\$eq (bare value)" [ "$(docs_of '{"lang":"en"}')" = "n0.md" ]
check "\$eq" [ "$(docs_of '{"year":{"$eq":2021}}')" = "n1.md" ]
check "\$ne also keeps documents without the field" [ "$(n '{"lang":{"$ne":"en"}}')" -eq 9 ]
check "\$gt / \$gte / \$lt / \$lte on numbers" sh -c "[ \"$(docs_of '{"year":{"$gt":2018}}')\" = 'n1.md n2.md' ] && [ \"$(docs_of '{"year":{"$gte":2021,"$lte":2023}}')\" = 'n1.md n2.md' ] && [ \"$(docs_of '{"year":{"$lt":2021}}')\" = 'n0.md' ]"
check "\$in / \$nin" sh -c "[ \"$(docs_of '{"lang":{"$in":["de","fr"]}}')\" = 'n1.md n2.md' ] && [ $(n '{"lang":{"$nin":["de","fr"]}}') -eq 8 ]"
check "\$and / \$or" sh -c "[ \"$(docs_of '{"$or":[{"lang":"en"},{"year":2023}]}')\" = 'n0.md n2.md' ] && [ \"$(docs_of '{"$and":[{"reviewed":true},{"tag":{"$in":["old","new"]}}]}')\" = 'n0.md' ]"
check "booleans and reals" sh -c "[ $(n '{"reviewed":true,"score":{"$gt":4.4}}') -eq 10 ] && [ $(n '{"reviewed":false}') -eq 0 ]"
check "field path is the document key" [ "$(docs_of "{\"path\":{\"\$in\":[\"$T/d/n3.md\"]}}")" = "n3.md" ]
"$Q" search --db "$DB" -k 3 --json --where '{"lang":"fr"}' capybara > "$T/h" 2>/dev/null
check "hits carry their document's metadata" $PY -c 'import json,sys; h=[json.loads(l) for l in open(sys.argv[1])]; assert len(h)==1 and h[0]["metadata"]["lang"]=="fr" and h[0]["metadata"]["year"]==2023, h' "$T/h"
"$Q" search --db "$DB" -k 3 --where '{"year":{"$around":2020}}' capybara > /dev/null 2> "$T/e"; rc=$?
check "unknown operator: exit 2 naming it" sh -c "[ $rc -eq 2 ] && grep -q 'unknown operator: \$around' '$T/e'"
"$Q" search --db "$DB" -k 3 --where '{"year":' capybara > /dev/null 2> "$T/e"; rc=$?
check "invalid JSON in --where: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'where: not valid JSON' '$T/e'"
"$Q" search --db "$DB" -k 3 --where '{"lang":{"$in":[]}}' capybara > /dev/null 2> "$T/e"; rc=$?
check "\$in with an empty array: exit 2" [ $rc -eq 2 ]

# upsert: same content, new metadata -> unchanged, metadata replaced
"$Q" ingest --db "$DB" --meta src=second "$T/d/n5.md" > /dev/null 2> "$T/e"
check "same content, new --meta: unchanged, metadata replaced" sh -c "grep -q '1 unchanged' '$T/e' && '$Q' docs --db '$DB' --json | grep n5.md | grep -q '\"metadata\":{\"src\":\"second\"}'"
"$Q" ingest --db "$DB" "$T/d/n5.md" > /dev/null 2>&1
printf '# Note 5\n\nThe capybara now naps by river 5.\n' > "$T/d/n5.md"
"$Q" ingest --db "$DB" "$T/d/n5.md" > /dev/null 2> "$T/e"
check "changed content without --meta: updated, metadata kept" sh -c "grep -q '1 updated' '$T/e' && '$Q' docs --db '$DB' --json | grep n5.md | grep -q '\"src\":\"second\"'"
echo '[1, 2]' > "$T/d/n6.md.meta.json"
"$Q" ingest --db "$DB" "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "a sidecar that is not an object: that file fails naming it, exit 3" sh -c "[ $rc -eq 3 ] && grep -q 'n6.md.meta.json: metadata must be a JSON object' '$T/e'"
rm "$T/d/n6.md.meta.json"

# delete by filter
"$Q" docs --db "$DB" --remove-where '{"year":{"$gte":2021}}' > /dev/null 2> "$T/e"; rc=$?
check "docs --remove-where: the matching documents go, the others stay" sh -c "[ $rc -eq 0 ] && grep -q 'removed 2 documents matching' '$T/e' && [ \$('$Q' docs --db '$DB' --json | wc -l) -eq 8 ] && [ \$('$Q' search --db '$DB' -k 50 --json --where '{\"year\":2021}' capybara | wc -l) -eq 0 ] && [ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)')\" = 0 ]"
"$Q" docs --db "$DB" --remove-where '{"year":{"$near":1}}' > /dev/null 2> "$T/e"; rc=$?
check "docs --remove-where with a bad filter: exit 2, nothing removed" sh -c "[ $rc -eq 2 ] && [ \$('$Q' docs --db '$DB' --json | wc -l) -eq 8 ]"

# ---- the v1 fixture: read-only search refuses --where; opening it to write migrates -----
cp tests/data/store-v1.db "$T/v1.db"
"$Q" search --db "$T/v1.db" -c fixture --mode text --where '{"a":1}' lighthouse > /dev/null 2> "$T/e"; rc=$?
check "schema-1 store, read-only: --where refused, saying how to migrate" sh -c "[ $rc -ne 0 ] && grep -q 'schema version 1 has no metadata' '$T/e' && [ \"\$(sqlite3 '$T/v1.db' 'PRAGMA user_version')\" = 1 ]"
"$Q" search --db "$T/v1.db" -c fixture --mode text --json lighthouse > "$T/h1" 2>/dev/null
check "schema-1 store, read-only: hits have metadata null" $PY -c 'import json,sys; h=[json.loads(l) for l in open(sys.argv[1])]; assert h and all(x["metadata"] is None for x in h), h' "$T/h1"
printf '# Extra\n\nA lighthouse note.\n' > "$T/extra.md"
"$Q" ingest -q --db "$T/v1.db" -c fixture --model "$M" --meta k=v "$T/extra.md" 2>/dev/null
check "opened for writing: migrated to 2, old documents kept, filter works" sh -c "[ \"\$(sqlite3 '$T/v1.db' 'PRAGMA user_version')\" = 2 ] && [ \$('$Q' docs --db '$T/v1.db' -c fixture --json | wc -l) -eq 3 ] && '$Q' search --db '$T/v1.db' -c fixture --mode text --json --where '{\"k\":\"v\"}' lighthouse | grep -q extra.md && [ \"\$(sqlite3 '$T/v1.db' 'PRAGMA integrity_check')\" = ok ]"

# ---- selective filters on vectors: k hits whenever k exist, recall vs exact ------------
V=$T/v.db
mkdir -p "$T/many"
# 500 documents x 6 paragraphs = 3,000 chunks (above the 2,048 where search goes exact),
# so the filtered HNSW path is what is checked
$PY - "$T/many" <<'EOF'
import sys, random
rng = random.Random(7)
words = "river forest stone cloud ember marsh glacier meadow canyon harbor lantern orchard".split()
for i in range(500):
    paras = ["# Doc %d" % i] + [" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(6)]
    open("%s/d%03d.md" % (sys.argv[1], i), "w").write("\n\n".join(paras) + "\n")
    open("%s/d%03d.md.meta.json" % (sys.argv[1], i), "w").write('{"i": %d}\n' % i)
# one short document (3 chunks, about 0.1 % of them) for the most selective filter
paras = ["# Short"] + [" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(3)]
open("%s/short.md" % sys.argv[1], "w").write("\n\n".join(paras) + "\n")
open("%s/short.md.meta.json" % sys.argv[1], "w").write('{"i": -1}\n')
EOF
"$Q" ingest -q --db "$V" -c v --model "$M" --chunk-tokens 16 --overlap 0 --jobs 2 "$T/many" 2>/dev/null
check "3,000 chunks with vectors" [ "$(sqlite3 "$V" 'SELECT count(*) FROM vectors')" -ge 2500 ]
$PY - "$Q" "$V" <<'EOF'
import json, subprocess, sys
q, db = sys.argv[1:3]
QUERIES = ["glacier meadow lantern", "river stone", "ember canyon harbor orchard",
           "cloud marsh", "forest forest lantern"]
def run(where, exact, query, mode):
    a = [q, "search", "--db", db, "-c", "v", "--mode", mode, "-k", "10", "--json",
         "--where", where] + (["--exact"] if exact else []) + [query]
    return [json.loads(l) for l in subprocess.run(a, capture_output=True).stdout.decode().splitlines()]
ok = True
total = int(subprocess.run(["sqlite3", db, "SELECT count(*) FROM chunks"], capture_output=True).stdout)
for mode, (keep, n) in [(m, c) for m in ("vector", "hybrid") for c in
                        (("50%", 250), ("10%", 50), ("1%", 5), ("0.2%", 1), ("0.1%", 0))]:
    where = json.dumps({"i": {"$lt": n}})
    rs = [(run(where, False, qq, mode), run(where, True, qq, mode)) for qq in QUERIES]
    got, ref = rs[0]
    chunks = int(subprocess.run(["sqlite3", db, "SELECT count(*) FROM chunks c JOIN documents d"
                                 " ON d.id = c.document_id WHERE json_extract(d.meta, '$.i') < %d" % n],
                                capture_output=True).stdout)
    want = min(10, chunks)
    inside = all(h["metadata"]["i"] < n for g, _ in rs for h in g)
    recall = sum(len({h["id"] for h in g} & {h["id"] for h in r}) / max(1, len(r))
                 for g, r in rs) / len(rs)
    good = all(len(g) == want and len(r) == want for g, r in rs) and inside and recall >= 0.95
    ok &= good
    print("%s %s search, filter keeping ~%s of the chunks (%d of %d = %.2f %%): %d hits (want %d), all inside: %s, "
          "mean recall@10 over 5 queries vs exact %.2f" % ("PASS" if good else "FAIL", mode, keep, chunks, total,
                                       100.0 * chunks / total, len(got), want, inside, recall))
EOF
