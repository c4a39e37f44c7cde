#!/bin/sh
# tests/cli/convert_join.sh — how words and lines are joined in a text layer, on fixture
# PDFs written by tests/tools/mkpdf.py (Helvetica, WinAnsi): accents drawn as glyphs of
# their own (a dieresis placed over the u after it, an acute placed over the e before it)
# come out NFC-composed ("für", "café", never "fu¨r"/"f ur"); a URL and an e-mail address
# broken at a line end after a '.' are joined without a space (a URL's own hyphen at a
# line end is kept); a word hyphenated at a
# line end is joined, also with a non-ASCII letter before the hyphen ("inté-" +
# "ressant") and inside a list item ("Straßen-" + "bahn"); a paragraph that runs onto the
# next page is one JSON block with page 1, page_end 2 and a part per page, and with
# --page-markers the marker splits it so each page's words are under their own page.
. "$(dirname "$0")/../lib.sh"
python3 - "$(dirname "$0")/../tools" "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import mkpdf
F = {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
def lines(rows, y=720):
    out = [f"BT /F1 11 Tf 14 TL 72 {y} Td".encode()]
    for r in rows:
        out.append((r if isinstance(r, bytes) else f"({r}) Tj".encode("latin-1")) + b" T*")
    return b"\n".join(out + [b"ET"])
# Helvetica widths: f 278, u 556, c 500, a 556, e 556, dieresis/acute 333 (1/1000 em).
# TJ moves the pen back so each accent's middle sits over its base letter.
acc = lines([b"[(Das ist f) 0 (u) 444.5 (\\250) -111.5 (r alle, ein caf) -111.5 (\\264) 444.5 "
             b"(e und mehr.)] TJ"])
body = lines(["The manual lives at https://www.example.",
              "org/docs/index.html and questions go to jane.doe@example.",
              "org for the whole team of the international",
              "project. The results were quite inter-",
              "esting and the analysis was inté-",
              "ressant for everyone who read the report. Tools: https://example.org/doc-",
              "tools.html has them all."])
lst = lines(["\225 the first item names the Stra\337en-", "   bahn of the town",
             "\225 the second item"], y=560)
mkpdf.write(sys.argv[2] + "/acc.pdf", [{"content": acc}], F)
mkpdf.write(sys.argv[2] + "/join.pdf", [{"content": body + b"\n" + lst}], F)
p1 = lines(["This paragraph starts on the first page of the document and it goes on",
            "for a few lines so that the layout sees a real paragraph here, and then",
            "it runs right to the foot of the page where it is cut in the middle of"], y=120)
p2 = lines(["the sentence, which continues at the top of the second page and ends here."])
mkpdf.write(sys.argv[2] + "/pages.pdf", [{"content": p1}, {"content": p2}], F)
EOF

"$Q" convert "$T/acc.pdf" > "$T/acc.md" 2> /dev/null
check "accents drawn as own glyphs: 'für' and 'café' NFC-composed" python3 - "$T/acc.md" <<'EOF'
import sys, unicodedata
t = open(sys.argv[1], encoding="utf-8").read()
print(" ", repr(t.strip()))
ok = "Das ist f\u00fcr alle, ein caf\u00e9 und mehr." in t and unicodedata.normalize("NFC", t) == t
sys.exit(0 if ok and "\u00a8" not in t and "\u00b4" not in t else 1)
EOF
"$Q" convert --format json "$T/acc.pdf" > "$T/acc.json" 2> /dev/null
check "accents: JSON words are 'für' and 'café' too" python3 -c "
import json, sys
t = ' '.join(b['text'] for b in json.load(open('$T/acc.json'))['blocks'])
sys.exit(0 if 'f\u00fcr' in t.split() and 'caf\u00e9' in t.split() else 1)"

"$Q" convert "$T/join.pdf" > "$T/join.md" 2> /dev/null
check "URL broken after '.' at a line end is joined without a space" \
    grep -q "lives at https://www.example.org/docs/index.html and" "$T/join.md"
check "e-mail broken after '.' at a line end is joined without a space" \
    grep -q "go to jane.doe@example.org for the whole" "$T/join.md"
check "an ordinary line end still gets a space" grep -q "the international project\." "$T/join.md"
check "a URL's own hyphen at a line end is kept, no space" \
    grep -q "Tools: https://example.org/doc-tools.html has them" "$T/join.md"
check "hyphenated word joined: inter- + esting" grep -q "quite interesting and" "$T/join.md"
check "hyphenated word with a non-ASCII letter before the hyphen: inté- + ressant" \
    grep -q "was intéressant for" "$T/join.md"
check "hyphenated word in a list item: Straßen- + bahn" \
    grep -q "^- the first item names the Straßenbahn of the town" "$T/join.md"

"$Q" convert --format json "$T/pages.pdf" > "$T/pages.json" 2> /dev/null
check "paragraph over a page break: one block, page 1, page_end 2, parts on pages 1 and 2" \
    python3 - "$T/pages.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
b = [b for b in d["blocks"] if "starts on the first page" in b["text"]]
ok = len(b) == 1 and b[0]["page"] == 1 and b[0]["page_end"] == 2
if ok:
    p = b[0]["parts"]
    ok = [x["page"] for x in p] == [1, 2] and b[0]["text"][p[1]["offset"]:].startswith(
        "the sentence, which continues") and "middle of the sentence" in b[0]["text"]
sys.exit(0 if ok else 1)
EOF
"$Q" convert --page-markers "$T/pages.pdf" > "$T/pages.md" 2> /dev/null
check "paragraph over a page break: the page-2 marker splits it at the break" python3 - "$T/pages.md" <<'EOF'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
i1, i2 = t.find("<!-- page 1 -->"), t.find("<!-- page 2 -->")
ok = 0 <= i1 < t.find("starts on the first page") < t.find("middle of") < i2 < t.find(
    "the sentence, which continues")
sys.exit(0 if ok else 1)
EOF
