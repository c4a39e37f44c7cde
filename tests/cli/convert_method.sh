#!/bin/sh
# tests/cli/convert_method.sh — text layer vs OCR when a page has unmapped glyphs
# (src/convert/page.c): only unmapped glyphs that stand for text (inside words with
# letters, or runs of 3 or more) make a page garbage. Fixtures by tests/tools/mkpdf.py:
# a "score" whose staves are lone private-use glyphs of a symbol font (as SMuFL music
# fonts map their note heads; 86 % of its characters) beside a clean title and tempo,
# which must keep its text layer (it was OCR'd: "86% unusable characters"), and a page
# whose words are runs of the same glyphs (a text font with no Unicode map), which must
# still be OCR'd. Real pages: the corpus' Bach score (LilyPond, 88 % unmapped glyphs on
# page 1) keeps its text layer; a scanned page (no text layer) is still OCR'd.
. "$(dirname "$0")/../lib.sh"
python3 - "$(dirname "$0")/../tools" "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import mkpdf
F = {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
     "F2": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
           "/Differences [65 /uniE0A4 /uniE050 /uniE062] >> >>"}
c = [b"BT /F1 14 Tf 72 740 Td (Jesu, meine Freude) Tj ET"]
for row in range(20):  # staves: glyph runs of 1-3 set far apart
    c.append(f"BT /F2 12 Tf 72 {700 - row * 30} Td [(A) -900 (B) -900 (AC) -900 (A) -900 "
             f"(ABC) -900 (B) -900 (A) -900 (C) -900 (A) -900 (AB) -900 (A)] TJ ET".encode())
c.append(b"BT /F1 10 Tf 72 80 Td (Largo. Public Domain, typeset by hand.) Tj ET")
mkpdf.write(sys.argv[2] + "/score.pdf", [{"content": b"\n".join(c)}], F)
g = [b"BT /F2 12 Tf 14 TL 72 700 Td"]
for row in range(20):  # words of unmapped glyphs
    g.append(b"(ABCAB CABBA ACB BACCA ABCABC BA CBAB) Tj T*")
mkpdf.write(sys.argv[2] + "/garbage.pdf", [{"content": b"\n".join(g + [b"ET"])}], F)
EOF
method() { # $1 = report, $2 = page: "method|reason"
    python3 -c "
import json, sys
p = [p for p in json.load(open('$1'))['documents'][0]['pages'] if p['page'] == $2][0]
print(p['method'] + '|' + p['reason'])"
}

"$Q" convert --report "$T/s.json" -o "$T/score.md" "$T/score.pdf" 2> /dev/null
m=$(method "$T/s.json" 1); echo "  score fixture: $m"
check "lone symbol glyphs (86 %) beside clean text: the text layer is kept" \
    [ "$m" = "text|text layer ok (86% unmapped symbol glyphs)" ]
check "symbol-glyph page: its clean text is in the Markdown" \
    grep -q "Largo. Public Domain, typeset by hand." "$T/score.md"

"$Q" convert --report "$T/g.json" -o "$T/garbage.md" "$T/garbage.pdf" 2> /dev/null
m=$(method "$T/g.json" 1); echo "  garbage fixture: $m"
check "words made of unmapped glyphs: OCR" \
    sh -c "echo '$m' | grep -q '^ocr|[0-9]*% unusable characters (unmapped glyphs in words)'"

"$Q" convert --report "$T/b.json" -o "$T/bach.md" "$C/born/odd-music-score.pdf" 2> /dev/null
m1=$(method "$T/b.json" 1); m2=$(method "$T/b.json" 2); echo "  Bach score: $m1 / $m2"
check "Bach score p1 (88 % unmapped music glyphs): text layer" \
    [ "${m1%%|*}" = text ] && [ "$m1" != "${m1#*unmapped symbol glyphs}" ]
check "Bach score p2: text layer" [ "${m2%%|*}" = text ]
check "Bach score: title, composer and tempo from the text layer" sh -c "
    grep -q '^Jesu, meine Freude' '$T/bach.md' && grep -q 'BWV 610 Johann Sebastian Bach' '$T/bach.md' &&
    grep -q '^Largo' '$T/bach.md'"

S=$C/scanned/scan-long-gnuplot-p28-mild300.pdf
"$Q" convert --report "$T/sc.json" -o "$T/scan.md" "$S" 2> /dev/null
m=$(method "$T/sc.json" 1); echo "  scanned page: $m"
check "a scanned page (no text layer) is still OCR'd" [ "$m" = "ocr|no text layer" ]
check "the scanned page's OCR text is there" [ "$(wc -w < "$T/scan.md")" -gt 50 ]
