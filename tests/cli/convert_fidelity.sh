#!/bin/sh
# tests/cli/convert_fidelity.sh — words of neighbouring lines never run together: the
# libtasn1 manual's page 4 (Debian's libtasn1-doc; list items whose tall bullet glyphs
# made each item's first line overlap the next one, so the two lines were merged into
# one row and their words interleaved), and a glued-words ceiling and a recall floor
# against pdftotext over a sample of the born-digital corpus (shared/tools/text_fidelity.py).
. "$(dirname "$0")/../lib.sh"
TASN=/usr/share/doc/libtasn1-doc/libtasn1.pdf
FID=$SHARED/tools/text_fidelity.py

# --- libtasn1 page 4 ------------------------------------------------------------------------
"$Q" convert --pages 4 "$TASN" > "$T/t.md" 2> "$T/e"; rc=$?
check "libtasn1 p4: exit 0" [ $rc -eq 0 ]
# one line per paragraph/list item, whitespace normalised, for exact phrase checks
tr -s ' \n' ' ' < "$T/t.md" > "$T/t.flat"
for phrase in \
    "It’s Free Software. Anybody can use, modify, and redistribute the library under the terms of the GNU Lesser General Public License version 2.1 or later." \
    "Thread-safety. No global variables are used and multiple library handles and session handles may be used in parallel." \
    "Portability. The code should work on all Unix like operating systems, and Windows. The library itself should be portable to any C89 system, not even POSIX is required."
do
    check "libtasn1 p4: '$(printf %s "$phrase" | cut -c1-40)...' intact" grep -qF "$phrase" "$T/t.flat"
done
# every word pdftotext reads on the page is there, in pdftotext's order (no interleaving)
pdftotext -f 4 -l 4 -enc UTF-8 "$TASN" "$T/ref.txt"
check "libtasn1 p4: word sequence equals pdftotext's (similarity >= 0.99)" python3 - "$T/ref.txt" "$T/t.md" <<'EOF'
import difflib, re, sys
words = lambda p: re.findall(r"[^\W_]+", open(p, encoding="utf-8").read().lower())
a, b = words(sys.argv[1]), words(sys.argv[2])
r = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
print("similarity", round(r, 4))
sys.exit(0 if r >= 0.99 else 1)
EOF
check "libtasn1 p4: each list item is one Markdown item" sh -c \
    "[ \$(grep -c '^- ' '$T/t.md') -eq 7 ] && grep -q '^- Thread-safety. No global' '$T/t.md'"

# --- glued words over a corpus sample --------------------------------------------------------
# four documents that glued 429 words (87 per 10k, median recall 0.923) before lines were
# grouped on baselines: a table manual, a two-column-ish macOS manual, a math font list,
# booktabs
mkdir -p "$T/sample" "$T/json"
for f in tables-mdwtab odd-quartz-textopo math-stmaryrd tables-booktabs; do
    ln -s "$(cd "$C/born" && pwd)/$f.pdf" "$T/sample/$f.pdf"
done
"$Q" convert --format json -o "$T/json" "$T/sample" > /dev/null 2> "$T/e"; rc=$?
check "sample: converted (exit 0)" [ $rc -eq 0 ]
python3 "$FID" "$T/sample" "$T/json" > "$T/fid" 2>&1
cat "$T/fid"
check "sample: glued <= 3 per 10k words" python3 -c "
import re, sys
m = re.search(r'= ([0-9.]+) per 10k', open('$T/fid').read())
sys.exit(0 if m and float(m.group(1)) <= 3.0 else 1)"
check "sample: median recall >= 0.96" python3 -c "
import re, sys
m = re.search(r'median recall ([0-9.]+)', open('$T/fid').read())
sys.exit(0 if m and float(m.group(1)) >= 0.96 else 1)"
