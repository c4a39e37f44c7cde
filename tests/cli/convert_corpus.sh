#!/bin/sh
# tests/cli/convert_corpus.sh — the whole public corpus (born/ + hostile/) in ONE
# `quire convert` batch: 100 % of the documents are either converted or failed with a
# clean one-line message naming the file; no crash, no hang; exit 3 for the partial
# batch. Plus one scanned page through OCR in the same batch (~2 s).
# Expected outcome, from shared/corpus/README.md: hostile-zero-bytes, -random-bytes and
# -truncated fail; hostile-huge-page-count and -pages-loop may either fail or recover
# their one real page; every born/ document converts (odd-imageonly-handwriting gives
# empty text with --ocr never, which is right for a page with no text layer).
# Runtime ~6 s on 2 cores. Prints PASS/FAIL per check.
. "$(dirname "$0")/../lib.sh"

n_born=$(ls "$C"/born/*.pdf 2>/dev/null | wc -l)
n_hostile=$(ls "$C"/hostile/*.pdf 2>/dev/null | wc -l)
if [ "$n_born" -lt 40 ] || [ "$n_hostile" -lt 5 ]; then
    bad "corpus present" "$n_born born, $n_hostile hostile files under $C"
    exit 1
fi
SCAN=scan-small-fn2end-p1-bitonal300   # 1 page, OCR ~1.7 s
mkdir -p "$T/scan"
cp "$C/scanned/$SCAN.pdf" "$T/scan/"

# --ocr never keeps the 2,600 born pages fast (~5 s with 2 jobs); OCR is checked in a
# small second batch at the end.
start=$(date +%s)
timeout -s KILL 300 "$Q" convert --jobs 2 --ocr never -o "$T/out" --report "$T/r.json" \
    "$C/born" "$C/hostile" > "$T/stdout" 2> "$T/stderr"
rc=$?
secs=$(( $(date +%s) - start ))
echo "batch: exit $rc in ${secs} s"
check "batch finished (no hang: under the 300 s guard)" [ $rc -ne 137 ]
check "batch exit status is 3 (partial: hostile files fail, the rest converts)" [ $rc -eq 3 ]
check "no signal exit / core dump" [ $rc -lt 128 ]
check "nothing on stdout with -o" [ ! -s "$T/stdout" ]
check "no crash report on stderr" sh -c "! grep -qi 'sanitizer\|segmentation\|core dumped\|abort\|assert' '$T/stderr'"

# Report: parses, one entry per input, totals match, every input accounted for.
cat > "$T/check.py" <<'EOF'
import json, os, sys
C, out, rep, errf = sys.argv[1:5]
r = json.load(open(rep))
docs = {d['path']: d for d in r['documents']}
tot = r['totals']
manifest = {}
with open(os.path.join(C, 'manifest.tsv')) as f:
    head = f.readline().rstrip('\n').split('\t')
    for line in f:
        row = dict(zip(head, line.rstrip('\n').split('\t')))
        manifest[row['file']] = row
stderr = open(errf, encoding='utf-8', errors='replace').read().splitlines()
inputs = sorted(os.path.join(C, k, f) for k in ('born', 'hostile')
                for f in os.listdir(os.path.join(C, k)) if f.endswith('.pdf'))
problems = []
def bad(msg): problems.append(msg)
if sorted(docs) != inputs:
    bad('report documents != inputs: missing %s, extra %s' %
        ([p for p in inputs if p not in docs], [p for p in docs if p not in inputs]))
n = {'ok': 0, 'partial': 0, 'failed': 0, 'skipped': 0}
pages = 0
for p in inputs:
    d = docs.get(p)
    if d is None:
        continue
    name = os.path.basename(p)
    stem = name[:-4]
    rel = os.path.relpath(p, C)
    row = manifest.get(rel, {})
    n[d['status']] = n.get(d['status'], 0) + 1
    o = os.path.join(out, os.path.basename(os.path.dirname(p)), stem + '.md')  # each root mirrored
    if d['status'] == 'failed':
        e = d.get('error') or ''
        if not e or '\n' in e or name not in e:
            bad('%s: failed without a one-line error naming the file: %r' % (name, e))
        if os.path.exists(o):
            bad('%s: failed but left an output file' % name)
        if not any(name in l and e.split(': ', 1)[-1] in l for l in stderr):
            bad('%s: failure not reported on stderr naming the file' % name)
        if row.get('kind') == 'born':
            bad('%s: born-digital document failed: %s' % (name, e))
        elif stem not in ('hostile-zero-bytes', 'hostile-random-bytes', 'hostile-truncated',
                          'hostile-huge-page-count', 'hostile-pages-loop'):
            bad('%s: unexpected failure' % name)
        continue
    pages += d.get('n_pages') or 0
    if d['status'] != 'ok':
        bad('%s: status %s (error %r)' % (name, d['status'], d.get('error')))
    if not os.path.isfile(o):
        bad('%s: status %s but no output %s' % (name, d['status'], o))
        continue
    size = os.path.getsize(o)
    if row.get('kind') == 'born':
        if str(d.get('n_pages')) != row.get('pages'):
            bad('%s: %s pages, manifest says %s' % (name, d.get('n_pages'), row.get('pages')))
        has_text = row.get('lang') != 'none' or stem == 'odd-music-score'
        if has_text and size < 200:
            bad('%s: born document with text gave only %d bytes' % (name, size))
    elif stem in ('hostile-huge-page-count', 'hostile-pages-loop'):
        if d.get('n_pages') != 1:
            bad('%s: recovered %s pages, expected the one real page' % (name, d.get('n_pages')))
    else:
        bad('%s: hostile file converted (status %s)' % (name, d['status']))
for k in ('ok', 'partial', 'failed', 'skipped'):
    if tot.get(k) != n[k]:
        bad('totals.%s = %s, documents say %d' % (k, tot.get(k), n[k]))
if tot.get('documents') != len(inputs):
    bad('totals.documents = %s, inputs %d' % (tot.get('documents'), len(inputs)))
if tot.get('pages') != pages:
    bad('totals.pages = %s, documents say %d' % (tot.get('pages'), pages))
if tot.get('pages_failed') != 0:
    bad('totals.pages_failed = %s' % tot.get('pages_failed'))
print('report: %d ok, %d partial, %d failed, %d pages' % (n['ok'], n['partial'], n['failed'], pages))
for p in problems:
    print('  ' + p)
sys.exit(1 if problems else 0)
EOF
check "report parses, accounts for every input, totals match" \
    python3 "$T/check.py" "$C" "$T/out" "$T/r.json" "$T/stderr"
check "at least 3 hostile failures in the report" python3 -c "
import json; r=json.load(open('$T/r.json'))
assert sum(d['status']=='failed' for d in r['documents'] if '/hostile/' in d['path']) >= 3"
# stderr: every error line names a file; every failure line is exactly one line
check "stderr: each failed file named on exactly one line" sh -c "
for f in hostile-zero-bytes hostile-random-bytes hostile-truncated; do
    [ \$(grep -c \"\$f.pdf\" '$T/stderr') -eq 1 ] || exit 1
done"
check "stderr: every line names an input file (but the closing summary)" sh -c "! grep -v '\.pdf' '$T/stderr' | grep -v '^quire convert: [0-9]* files: ' | grep -q ."
check "stderr: closing summary line" grep -q '^quire convert: [0-9]* files: [0-9]* converted, 0 up to date, [0-9]* failed' "$T/stderr"
check "no temp files left" sh -c "[ -z \"\$(find '$T/out' -name '*.tmp.*')\" ]"

# One scanned page OCR'd in a batch with a hostile file and a born one: OCR happens,
# the batch is still partial (exit 3) and the scan's text is there.
mkdir -p "$T/mix"
cp "$C/hostile/hostile-zero-bytes.pdf" "$C/born/small-fn2end.pdf" "$T/mix/"
timeout -s KILL 120 "$Q" convert --jobs 2 --format txt -o "$T/mixout" --report "$T/m.json" \
    "$T/mix" "$T/scan" > /dev/null 2> "$T/e2"; rc=$?
check "OCR batch: exit 3" [ $rc -eq 3 ]
check "OCR batch: scanned page OCR'd with text" python3 -c "
import json; d=[d for d in json.load(open('$T/m.json'))['documents'] if '$SCAN' in d['path']][0]
assert d['status']=='ok' and d['pages'][0]['method']=='ocr' and d['pages'][0]['chars']>100, d"
check "OCR batch: scan output has words" sh -c "[ \$(cat '$T/mixout'/*/$SCAN.txt '$T/mixout/$SCAN.txt' 2>/dev/null | wc -w) -gt 50 ]"
