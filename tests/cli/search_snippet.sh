#!/bin/sh
# tests/cli/search_snippet.sh — snippets and highlight markers (issue 15 point 5): a term
# deep inside a long chunk is in the snippet (centred on it, not the chunk's first words),
# the default markers are «…» (never [..], which reads as a citation [2]), --highlight
# OPEN,CLOSE chooses them (text and --json), a malformed --highlight is exit 2, common
# words are marked only in a query of nothing else, and on a terminal (script(1) gives a
# pty) the markers are ANSI bold while --json keeps «…».
# Text-only: a few seconds.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
DB=$T/s.db
# one paragraph of 120 filler words with a rare word in the middle, one without it
$PY - "$T/long.md" "$T/other.md" <<'EOF2'
import sys
w = ["filler%d" % i for i in range(120)]
open(sys.argv[1], "w").write("# Long\n\n" + " ".join(w[:70] + ["the", "zymurgy", "vat"] + w[70:]) + ".\n")
open(sys.argv[2], "w").write("# Other\n\n" + " ".join(w[:40]) + ".\n")
EOF2
"$Q" ingest -q --db "$DB" -c t "$T/long.md" "$T/other.md" > /dev/null 2>&1
"$Q" search --db "$DB" -c t --json -k 3 zymurgy > "$T/h" 2>&1
check "a term in the middle of a long chunk: the snippet shows it marked «…», cut around it" $PY - "$T/h" <<'EOF2'
import json, sys
hits = [json.loads(l) for l in open(sys.argv[1])]
assert len(hits) == 1, hits
h = hits[0]
s, t = h["snippet"], h["text"]
assert "\u00abzymurgy\u00bb" in s, s
assert len(s) < len(t) and s.startswith("\u2026") and not t.startswith(s.lstrip("\u2026 ")[:20]), (s, t[:80])
assert "[" not in s and "]" not in s, s
EOF2
"$Q" search --db "$DB" -c t -k 3 zymurgy > "$T/plain" 2>&1
check "plain output to a pipe: «zymurgy», no ANSI escapes" sh -c "grep -q '«zymurgy»' '$T/plain' && ! grep -q \"\$(printf '\033')\" '$T/plain'"
"$Q" search --db "$DB" -c t -k 3 --highlight '**,**' zymurgy > "$T/md" 2>&1
check "--highlight '**,**': **zymurgy**, no «" sh -c "grep -q '\*\*zymurgy\*\*' '$T/md' && ! grep -q '«' '$T/md'"
"$Q" search --db "$DB" -c t -k 3 --json --highlight '<b>,</b>' zymurgy > "$T/hj" 2>&1
check "--highlight '<b>,</b>' --json: the snippet key uses them" $PY -c 'import json,sys; h=json.loads(open(sys.argv[1]).readline()); assert "<b>zymurgy</b>" in h["snippet"] and "\u00ab" not in h["snippet"], h' "$T/hj"
for bad in '**' 'a,b,c'; do
    "$Q" search --db "$DB" -c t --highlight "$bad" zymurgy > /dev/null 2> "$T/e"; rc=$?
    check "--highlight '$bad': exit 2 saying OPEN,CLOSE" sh -c "[ $rc -eq 2 ] && grep -q 'is not OPEN,CLOSE' '$T/e'"
done
# common English words: searched, marked only when the query has nothing else
printf '# Play\n\nWhether tis nobler in the mind to suffer. To be, or not to be, that is the question.\n' > "$T/play.md"
printf '# Notes\n\nThe cat is on the mat and it is not to be moved by the dog.\n' > "$T/notes.md"
"$Q" ingest -q --db "$DB" -c w "$T/play.md" "$T/notes.md" > /dev/null 2>&1
"$Q" search --db "$DB" -c w --json "to be or not to be" > "$T/sw" 2>&1
check "a query of common words only ('to be or not to be'): the page with the phrase first, the words marked" $PY - "$T/sw" <<'EOF2'
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert h and h[0]["document"].endswith("play.md"), h
assert "\u00abTo\u00bb \u00abbe\u00bb, \u00abor\u00bb \u00abnot\u00bb \u00abto\u00bb \u00abbe\u00bb" in h[0]["snippet"], h[0]["snippet"]
EOF2
"$Q" search --db "$DB" -c w --json "the question" > "$T/sq" 2>&1
check "'the question': its page first, «question» marked and «the» not" $PY - "$T/sq" <<'EOF2'
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert h and h[0]["document"].endswith("play.md"), h
s = h[0]["snippet"]
assert "\u00abquestion\u00bb" in s and "\u00abthe\u00bb" not in s.lower(), s
EOF2
# a terminal: script(1) runs the command on a pty
if command -v script > /dev/null 2>&1; then
    script -qc "'$Q' search --db '$DB' -c t -k 3 zymurgy" /dev/null > "$T/tty" 2>&1
    check "on a terminal: ANSI bold around the term" sh -c "grep -q \"\$(printf '\033')\\[1mzymurgy\$(printf '\033')\\[0m\" '$T/tty' && ! grep -q '«' '$T/tty'"
    script -qc "'$Q' search --db '$DB' -c t -k 3 --json zymurgy" /dev/null > "$T/ttyj" 2>&1
    check "on a terminal with --json: «…», never escapes in JSON" sh -c "grep -q '«zymurgy»' '$T/ttyj' && ! grep -q \"\$(printf '\033')\" '$T/ttyj'"
    script -qc "'$Q' search --db '$DB' -c t -k 3 --highlight '[[,]]' zymurgy" /dev/null > "$T/ttyh" 2>&1
    check "on a terminal, --highlight wins over bold" grep -q '\[\[zymurgy\]\]' "$T/ttyh"
else
    bad "script(1) (bsdutils) is needed for the terminal checks"
fi
