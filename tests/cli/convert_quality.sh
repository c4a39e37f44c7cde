#!/bin/sh
# tests/cli/convert_quality.sh — a page whose text fails the garbage check is a warning,
# not a silent success: a text layer whose words are glyphs without a Unicode mapping
# (a font with a /Differences encoding naming private-use glyphs, drawn with no ink, so
# the rendering is blank and OCR cannot replace it) is kept, named on stderr, carries
# "quality" in --report (and garbage_pages / pages_garbage), is counted in the closing
# summary and makes the exit status 3; --allow-empty accepts it (exit 0). A clean page
# next to it passes the check (quality null). Before: exit 0, no word of warning.
. "$(dirname "$0")/../lib.sh"
python3 - "$(dirname "$0")/../tools" "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import mkpdf
diffs = " ".join(f"/uniE{0x100 + i:03X}" for i in range(26))
F = {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
     "F2": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
           f"/Differences [97 {diffs}] >> >>"}
def lines(font, rows, mode=0, y=720):
    out = [f"BT /{font} 11 Tf {mode} Tr 14 TL 72 {y} Td".encode()]
    out += [f"({r}) Tj T*".encode("latin-1") for r in rows]
    return b"\n".join(out + [b"ET"])
clean = lines("F1", ["This page has a clean text layer with ordinary words on it,",
                     "so it passes the garbage check and needs no warning at all."])
junk = lines("F2", ["qwert yuiop asdfg hjkl zxcvb nmqwe rtyui opasd fghjk",
                    "lzxcv bnmqw ertyu iopas dfghj klzxc vbnmq wertz uiopa"], mode=3)
mkpdf.write(sys.argv[2] + "/q.pdf", [{"content": clean}, {"content": junk}], F)
EOF

"$Q" convert --report "$T/q.rep" -o "$T/q.md" "$T/q.pdf" 2> "$T/q.err"
rc=$?
sed 's/^/  stderr: /' "$T/q.err"
check "garbage text layer: exit 3" [ $rc -eq 3 ]
check "garbage text layer: stderr names page 2 and the garbage check" \
    grep -q "q.pdf: warning: page 2: text fails the garbage check (text layer: 100% unusable" "$T/q.err"
check "summary counts the page" grep -q "1 file: 1 converted, 0 up to date, 0 failed; 1 page failing the garbage check" "$T/q.err"
check "report: quality on page 2 only, garbage_pages [2], pages_garbage 1" python3 -c "
import json, sys
d = json.load(open('$T/q.rep')); doc = d['documents'][0]; p = doc['pages']
print(' ', [x['quality'] for x in p], doc['garbage_pages'], d['totals']['pages_garbage'])
ok = p[0]['quality'] is None and p[1]['quality'].startswith('text layer: 100% unusable')
ok &= p[1]['method'] == 'text' and p[1]['chars'] > 0 and not p[1]['empty']
ok &= doc['garbage_pages'] == [2] and d['totals']['pages_garbage'] == 1
ok &= any(w.startswith('page 2: text layer') for w in doc['warnings'])
sys.exit(0 if ok else 1)"
check "the clean page's text is in the output" grep -q "clean text layer with ordinary words" "$T/q.md"

"$Q" convert --allow-empty -o "$T/q2.md" "$T/q.pdf" 2> "$T/q2.err"
rc=$?
check "--allow-empty: exit 0" [ $rc -eq 0 ]
check "--allow-empty: no warning line, summary says allowed" \
    sh -c "! grep -q 'warning: page 2' '$T/q2.err' && grep -q 'failing the garbage check (allowed)' '$T/q2.err'"

# --ocr never keeps the same text layer: the same warning
"$Q" convert --ocr never --pages 2 "$T/q.pdf" > /dev/null 2> "$T/q3.err"
rc=$?
check "--ocr never on the garbage page: exit 3 with the warning" \
    sh -c "[ $rc -eq 3 ] && grep -q 'page 2: text fails the garbage check' '$T/q3.err'"
# a clean corpus document passes: exit 0, no warning
"$Q" convert --pages 1-2 "$C/born/small-sageep.pdf" > /dev/null 2> "$T/s.err"
rc=$?
check "clean born-digital pages: exit 0, no garbage warning" \
    sh -c "[ $rc -eq 0 ] && ! grep -q 'garbage' '$T/s.err'"
