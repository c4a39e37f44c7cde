#!/bin/sh
# tests/arm64_full.sh — `make check-arm64-full`: the aarch64 build of the whole pipeline
# (build/arm64-full, linked against build/arm64-sysroot) under qemu-aarch64 -L SYSROOT,
# its outputs compared with the x86_64 build's (build/quire) on a sample:
#   text layer: Markdown byte-equal on sampled born-digital pages;
#   OCR: two scanned pages, text identical (or CER <= 0.001);
#   tables: an ICDAR page; store/search: ingest + search hits equal; embeddings: cosine >= 0.99999.
# Prints PASS/FAIL lines and "N passed, N failed".
# Env: ARM64_BUILD (build/arm64-full), ARM64_SYSROOT (build/arm64-sysroot), QUIRE_SHARED.
B=${ARM64_BUILD:-build/arm64-full}
S=${ARM64_SYSROOT:-build/arm64-sysroot}
QEMU=${ARM64_QEMU:-qemu-aarch64}
N=${NATIVE_BIN:-build/quire}
SHARED=${QUIRE_SHARED:-../shared}
C=$SHARED/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
A() { nice -n 10 "$QEMU" -L "$S" "$B/quire" "$@"; }

# same: NAME FILE_X86 FILE_ARM — byte-equal outputs
same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$2" "$3" | head -5 | tr '\n' ' ')"; fi; }

# text layer: sampled pages of born-digital books (one page each of three layouts)
for spec in born/paper2col-apssamp.pdf:2 born/long-r-intro.pdf:24 born/math-amsldoc.pdf:18; do
    f=${spec%:*}; p=${spec#*:}; name=$(basename "$f" .pdf)-p$p
    $N convert --ocr never --pages "$p" "$C/$f" -o "$T/$name.x86.md" 2>"$T/err" ||
        { bad "text $name (x86_64)" "$(head -2 "$T/err")"; continue; }
    A convert --ocr never --pages "$p" "$C/$f" -o "$T/$name.arm.md" 2>"$T/err" ||
        { bad "text $name (aarch64)" "$(head -2 "$T/err")"; continue; }
    same "text layer $name: Markdown byte-equal" "$T/$name.x86.md" "$T/$name.arm.md"
done

# OCR: two scanned pages (Tesseract, Debian's eng model from the sysroot)
for f in scanned/scan-long-r-intro-p24-mild150.pdf scanned/scan-long-gnuplot-p28-mild300.pdf; do
    name=$(basename "$f" .pdf)
    $N convert --ocr always --format txt "$C/$f" -o "$T/$name.x86.txt" 2>"$T/err" ||
        { bad "ocr $name (x86_64)" "$(head -2 "$T/err")"; continue; }
    A convert --ocr always --format txt "$C/$f" -o "$T/$name.arm.txt" 2>"$T/err" ||
        { bad "ocr $name (aarch64)" "$(head -2 "$T/err")"; continue; }
    if cmp -s "$T/$name.x86.txt" "$T/$name.arm.txt"; then ok "ocr $name: text identical"
    else
        cer=$(python3 - "$T/$name.x86.txt" "$T/$name.arm.txt" <<'EOF'
import sys
a = open(sys.argv[1], encoding="utf-8").read(); b = open(sys.argv[2], encoding="utf-8").read()
prev = list(range(len(b) + 1))
for i, ca in enumerate(a, 1):
    cur = [i] + [0] * len(b)
    for j, cb in enumerate(b, 1):
        cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
    prev = cur
print("%.6f" % (prev[-1] / max(1, len(a))))
EOF
)
        if awk -v c="$cer" 'BEGIN { exit !(c <= 0.001) }'; then ok "ocr $name: CER $cer <= 0.001"
        else bad "ocr $name" "CER $cer vs x86_64"; fi
    fi
done

# tables: an ICDAR 2013 page (table structure in the Markdown)
$N convert --ocr never "$C/tables-icdar2013-eu/eu-001.pdf" -o "$T/tab.x86.md" 2>/dev/null &&
    A convert --ocr never "$C/tables-icdar2013-eu/eu-001.pdf" -o "$T/tab.arm.md" 2>"$T/err" &&
    grep -q '^|' "$T/tab.arm.md" && same "tables eu-001: Markdown byte-equal" "$T/tab.x86.md" "$T/tab.arm.md" ||
    bad "tables eu-001" "$(head -2 "$T/err")"

# embeddings: cosine >= 0.99999 per sentence (tiny model shipped in examples/)
$N embed --model examples/tiny-bert examples/sentences.txt > "$T/v.x86" 2>/dev/null &&
    A embed --model examples/tiny-bert examples/sentences.txt > "$T/v.arm" 2>"$T/err" &&
    python3 - "$T/v.x86" "$T/v.arm" <<'EOF' && ok "embed: cosine >= 0.99999 on every sentence" || bad "embed" "$(head -2 "$T/err")"
import json, math, sys
def load(p):
    out = []
    for line in open(p):
        line = line.strip()
        if not line: continue
        v = json.loads(line) if line.startswith(("[", "{")) else [float(x) for x in line.split()]
        if isinstance(v, dict): v = v.get("embedding") or v.get("vector")
        out.append(v)
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a and len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    c = sum(p * q for p, q in zip(x, y)) / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))
    assert c >= 0.99999, c
EOF

# store/search: ingest a PDF and a Markdown file with each build, search hits equal
for who in x86 arm; do
    if [ $who = x86 ]; then Q="$N"; else Q=A; fi
    $Q ingest -q --db "$T/$who.db" --model examples/tiny-bert examples/sample.pdf tests/data/chunk/manual.md 2>"$T/err" &&
        $Q search --db "$T/$who.db" -k 5 "lens designer" > "$T/hits.$who" 2>>"$T/err" ||
        bad "store/search ($who)" "$(head -2 "$T/err")"
done
[ -s "$T/hits.arm" ] && same "store/search: hits equal" "$T/hits.x86" "$T/hits.arm"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
