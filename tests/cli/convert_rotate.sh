#!/bin/sh
# tests/cli/convert_rotate.sh — text-layer pages shown sideways or upside down read as
# the upright page: real corpus pages re-saved by qpdf with /Rotate 90, 180 and 270
# (before: empty Markdown for 90/270 with exit 0, words in reverse order for 180), and
# pages whose text matrices are rotated without any /Rotate (the seminar slides' text is
# set sideways and shown upright by /Rotate 270; adding 90 makes /Rotate 0, text
# sideways). The report and the JSON record the rotation found per page.
. "$(dirname "$0")/../lib.sh"

# word-sequence similarity of two outputs (difflib ratio over lowercased words)
similar() {
    python3 - "$1" "$2" "$3" <<'EOF'
import difflib, re, sys
words = lambda p: re.findall(r"[^\W_]+", open(p, encoding="utf-8").read().lower())
a, b = words(sys.argv[1]), words(sys.argv[2])
r = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0
print(f"  {sys.argv[2].rsplit('/', 1)[-1]}: {len(b)} words vs {len(a)}, similarity {r:.4f}")
sys.exit(0 if r >= float(sys.argv[3]) else 1)
EOF
}

# report value: the text_rotation of every page of the first document, space-separated
rotations() {
    python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
print(' '.join(str(p['text_rotation']) for p in d['documents'][0]['pages']))" "$1"
}

for doc in small-sageep:1-3 paper2col-ieeeconf:1-2; do
    dn=${doc%%:*} pages=${doc#*:}
    src=$C/born/$dn.pdf
    qpdf --empty --pages "$src" "$pages" -- "$T/$dn.pdf"
    "$Q" convert "$T/$dn.pdf" > "$T/$dn.up.md" 2> /dev/null
    check "$dn: upright conversion has text" [ -s "$T/$dn.up.md" ]
    for r in 90 180 270; do
        qpdf --rotate=+$r "$T/$dn.pdf" "$T/$dn.r$r.pdf"
        "$Q" convert --report "$T/$dn.r$r.rep" "$T/$dn.r$r.pdf" > "$T/$dn.r$r.md" 2> /dev/null
        rc=$?
        check "$dn /Rotate $r: exit 0" [ $rc -eq 0 ]
        check "$dn /Rotate $r: same words as upright (>= 0.95)" similar "$T/$dn.up.md" "$T/$dn.r$r.md" 0.95
        n=$(echo "$pages" | awk -F- '{print $2 - $1 + 1}')
        want=$(yes $r | head -n "$n" | tr '\n' ' ' | sed 's/ $//')
        got=$(rotations "$T/$dn.r$r.rep" 2> /dev/null)
        check "$dn /Rotate $r: report records text_rotation $r per page" [ "$got" = "$want" ]
    done
    # same through JSON: page sizes of the turned page, text_rotation per page
    "$Q" convert --format json "$T/$dn.r90.pdf" > "$T/$dn.r90.json" 2> /dev/null
    "$Q" convert --format json "$T/$dn.pdf" > "$T/$dn.up.json" 2> /dev/null
    check "$dn /Rotate 90: JSON pages carry rotation 90, text_rotation 90, upright size" python3 -c "
import json, sys
r = json.load(open('$T/$dn.r90.json')); u = json.load(open('$T/$dn.up.json'))
ok = all(p['rotation'] == 90 and p['text_rotation'] == 90 for p in r['pages'])
ok &= [(p['width'], p['height']) for p in r['pages']] == [(p['width'], p['height']) for p in u['pages']]
ok &= [b['bbox'] for b in r['blocks']] == [b['bbox'] for b in u['blocks']]
sys.exit(0 if ok else 1)"
done

# rotated text matrices without /Rotate
S=$C/born/odd-rotated-seminar.pdf
qpdf --empty --pages "$S" 1-4 -- "$T/sem.pdf"
qpdf --rotate=+90 "$T/sem.pdf" "$T/sem.tm.pdf"
check "seminar +90: /Rotate is 0 on every page now (text matrices sideways)" \
    [ "$(pdfinfo -f 1 -l 4 "$T/sem.tm.pdf" | grep -c 'rot: *0$')" -eq 4 ]
"$Q" convert "$T/sem.pdf" > "$T/sem.md" 2> /dev/null
"$Q" convert --report "$T/sem.tm.rep" "$T/sem.tm.pdf" > "$T/sem.tm.md" 2> /dev/null
check "seminar: upright slides have text" [ -s "$T/sem.md" ]
check "seminar +90 (rotated text matrices): same words as upright (>= 0.95)" similar "$T/sem.md" "$T/sem.tm.md" 0.95
got=$(rotations "$T/sem.tm.rep" 2> /dev/null)
check "seminar +90: report records text_rotation 90 per page" [ "$got" = "90 90 90 90" ]
"$Q" convert --report "$T/sem.rep" "$T/sem.pdf" > /dev/null 2>&1
got=$(rotations "$T/sem.rep" 2> /dev/null)
check "seminar upright: report records text_rotation 0 per page" [ "$got" = "0 0 0 0" ]
