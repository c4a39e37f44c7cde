#!/bin/sh
# tests/cli/search_ties.sh — equal scores are ranked by content, not by chunk id (issue 16:
# "identical top-10" across stores whose chunk ids differ). 12 copies of one document under
# different paths (every chunk scores exactly the same as its copies) and one other
# document, ingested into three SQLite stores in different orders (forward, reverse, and
# reverse then removed and re-ingested so the ids are shuffled). Text (BM25 and phrase),
# vector and hybrid top-10 are the same lists (documents, headings, scores) in all three,
# and an equal run is in (path, seq) order: the cut at k = 10 inside the run of 12 keeps
# a.md .. j.md. ~10 s.
. "$(dirname "$0")/../lib.sh"
MODEL=examples/tiny-bert
mkdir -p "$T/in"
for n in a b c d e f g h i j k l; do
    printf '# Lamp notes\n\nThe keeper lit the brass lamp at dusk and trimmed the wick.\n\n## Second part\n\nOil, glass and a lens for the brass lamp.\n' > "$T/in/$n.md"
done
printf '# Other\n\nA different note about the lamp and the sea.\n' > "$T/in/z.md"
fwd=$(ls "$T/in"/*.md | sort)
rev=$(ls "$T/in"/*.md | sort -r)
"$Q" ingest -q --db "$T/a.db" -c t --model "$MODEL" $fwd
"$Q" ingest -q --db "$T/b.db" -c t --model "$MODEL" $rev
"$Q" ingest -q --db "$T/c.db" -c t --model "$MODEL" $rev
for n in c f k; do "$Q" docs --db "$T/c.db" -c t --remove "$(realpath "$T/in/$n.md")" 2>/dev/null; done
"$Q" ingest -q --db "$T/c.db" -c t --model "$MODEL" "$T/in/k.md" "$T/in/c.md" "$T/in/f.md"
check "three stores of the same 13 documents ingested in different orders" \
    sh -c "for d in a b c; do [ \"\$(sqlite3 $T/\$d.db 'SELECT count(*) FROM documents')\" = 13 ] || exit 1; done"
check "  their chunk ids differ (the order of ingest)" \
    sh -c "[ \"\$(sqlite3 $T/a.db \"SELECT group_concat(c.id) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path LIKE '%/a.md'\")\" != \"\$(sqlite3 $T/b.db \"SELECT group_concat(c.id) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path LIKE '%/a.md'\")\" ]"

# top DB MODE [RANK]: the top-10 as "document|heading|score|text_rank|vector_rank" lines
top() {
    "$Q" search --db "$T/$1.db" -c t -k 10 --mode "$2" ${3:+--rank $3} --model "$MODEL" \
        --json "brass lamp lens" |
        python3 -c 'import json,sys
for l in sys.stdin:
    o = json.loads(l)
    print("%s|%s|%r|%s|%s" % (o["document"].rsplit("/", 1)[-1], o["heading"], o["score"], o["text_rank"], o["vector_rank"]))'
}
for m in text:bm25 text: vector: hybrid:; do
    mode=${m%%:*}; rank=${m#*:}
    top a "$mode" "$rank" > "$T/a.$mode$rank"; top b "$mode" "$rank" > "$T/b.$mode$rank"
    top c "$mode" "$rank" > "$T/c.$mode$rank"
    check "$mode${rank:+ ($rank)}: the same top-10 in the three stores (documents, scores, ranks)" \
        sh -c "[ \$(wc -l < '$T/a.$mode$rank') -eq 10 ] && cmp -s '$T/a.$mode$rank' '$T/b.$mode$rank' && cmp -s '$T/a.$mode$rank' '$T/c.$mode$rank'"
done
check "vector: the equal run of 12 cut at 10 keeps a.md .. j.md in path order" \
    [ "$(cut -d'|' -f1 "$T/a.vector" | tr '\n' ' ')" = "a.md b.md c.md d.md e.md f.md g.md h.md i.md j.md " ]
check "  every one of them with the same cosine (equal vectors score exactly equal)" \
    [ "$(cut -d'|' -f2,3 "$T/a.vector" | sort -u | wc -l)" -eq 1 ]
check "text (bm25): equal scores in (path, seq) order" \
    python3 -c 'import sys
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1])]
for x, y in zip(rows, rows[1:]):
    if float(x[2]) == float(y[2]) and (x[0], x[1]) > (y[0], y[1]) and x[0] != y[0]: sys.exit(1)
sys.exit(0 if len(rows) == 10 else 1)' "$T/a.textbm25"
