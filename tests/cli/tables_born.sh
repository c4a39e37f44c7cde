#!/bin/sh
# tests/cli/tables_born.sh — false tables in shared/corpus/born: the pages of
# bench/tables/born-judged.tsv judged "fixed" (slide thumbnails, display formulas and
# matrices, LaTeX source beside its result, figures with their caption inside a box,
# labelled diagrams, description lists, a cheat sheet's and an index's independent
# columns, an index's terms with their page references, commands listed beside their
# glyphs) must have no table block, and every page
# judged "real" keeps its tables (the count when the file gives one), so a rule that
# drops every table fails too. ~10 s.
. "$(dirname "$0")/../lib.sh"

J=$(dirname "$0")/../../bench/tables/born-judged.tsv
BORN=$C/born
if [ ! -f "$J" ] || [ ! -d "$BORN" ]; then
    bad "born-judged.tsv and corpus/born present" "$J, $BORN"
    exit 1
fi
docs=$(awk -F'\t' '!/^#/ && ($3 == "fixed" || $3 == "real") {print $1}' "$J" | sort -u)
for d in $docs; do
    "$Q" convert --force --ocr never --format json -o "$T/$d.json" "$BORN/$d.pdf" > /dev/null 2>&1
done
cat > "$T/judge.py" <<'PY'
import json, os, sys
judged, out, docs = sys.argv[1], sys.argv[2], set(sys.argv[3:])
bad = 0
for line in open(judged):
    if line.startswith("#") or not line.strip():
        continue
    doc, page, verdict, want, reason = line.rstrip("\n").split("\t")
    if doc not in docs or verdict == "false":
        continue
    path = os.path.join(out, doc + ".json")
    if not os.path.exists(path):
        print(f"FAIL {doc}: no output")
        bad += 1
        continue
    blocks = json.load(open(path))["blocks"]
    n = sum(1 for b in blocks if b["type"] == "table" and b["page"] == int(page))
    ok = n == int(want) if want != "-" else n >= 1
    print(f"{'ok  ' if ok else 'FAIL'} {doc} p. {page} {verdict}: {n} table blocks (want {want}) - {reason}")
    bad += not ok
sys.exit(1 if bad else 0)
PY
check "fixed false tables stay gone, judged real tables kept" \
    python3 "$T/judge.py" "$J" "$T" $docs
# gnuplot p. 38: the title box and header rows start a table whose body has side rules
# but no rule for 540 pt; it is one table of the 44 functions (plus the title and the
# header), and the boxed title spans all three columns
check "gnuplot p. 38: one table, title spanning 3 columns, >= 40 rows" python3 -c "
import json, sys
b = [x for x in json.load(open('$T/long-gnuplot.json'))['blocks'] if x['type'] == 'table' and x['page'] == 38]
t = b[0]['table_cells'][0] if len(b) == 1 else {}
print(len(b), b and b[0]['rows'], t)
sys.exit(not (len(b) == 1 and b[0]['rows'] >= 40 and b[0]['cols'] == 3 and
              t.get('text') == 'Math library functions' and t.get('col_span') == 3))"
# an index is no table, and its entries stay in the text (gnuplot p. 304, lshort p. 166)
check "index pages: entries kept as text, no table" python3 -c "
import json, sys
ok = True
for doc, page, entry in (('long-gnuplot', 304, 'besj1, 38'), ('nonen-pl-lshort', 166, 'pgfplot')):
    b = [x for x in json.load(open('$T/' + doc + '.json'))['blocks'] if x['page'] == page]
    text = ' '.join(x.get('text') or '' for x in b if x['type'] != 'table')
    n = sum(x['type'] == 'table' for x in b)
    print(doc, page, 'tables', n, 'entry in text', entry in text)
    ok &= n == 0 and entry in text
sys.exit(not ok)"
