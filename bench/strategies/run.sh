#!/bin/sh
# bench/strategies/run.sh — `quire convert --strategy fast|ocr_only|hi_res|auto`, one table
# (printed, never asserted). Per strategy, on three sets converted with --jobs 1:
#   scanned  ../shared/corpus/scanned (page images with ground truth): pooled CER and
#            median CER by shared/tools/score.py (--format txt);
#   tables   ../shared/corpus/tables-icdar2013-eu (born-digital, ICDAR 2013 EU half):
#            adjacency F1 by shared/tools/score_icdar.py (--format json);
#   born     a sample of ../shared/corpus/born (the BORN_N shortest files by page count):
#            median word recall by shared/tools/text_fidelity.py (--format json).
# Timing and memory from each run's --report (docs/convert-json.md): per-page median and
# max ms, per-book (document) mean ms, pages/min over all sets (wall), CPU seconds (user +
# sys, all sets), peak RSS.
# SCAN_N / ICDAR_N / BORN_N limit each set to its first N files (0 = all; defaults 0 / 0 / 8).
# The OCR-heavy rows cost ~3-10 s a page: the full run is ~1 h on 2 loaded cores.
# SAMPLE=readme: the sample of README "Conversion strategies" instead (~2 min on x86_64,
#   ~25 min under qemu): 6 scanned pages (one per corpus category: two-column 150 dpi,
#   table bitonal, maths moderate, manual 150 dpi, small clean, German), 6 ICDAR documents
#   (11 pages), 6 born documents (form, music score, Portuguese cheat sheet, grant, two-column
#   paper, and pages 12, 14 and 15 of odd-slides-pt, whose slide screenshots are inserts:
#   18, 4 of them OCR'd under auto; cut out with mutool merge).
# ARCH: x86_64 (default: QUIRE_BIN), aarch64 (ARM64_BUILD/quire, default build/arm64-full,
#   from `make arm64-full`, run as ARM64_QEMU -L ARM64_SYSROOT: times are qemu's emulation on
#   this x86_64 CPU, not an ARM CPU's, and RSS is qemu's), or both ("x86_64 aarch64"): one
#   row set each, then the outputs compared (byte-equal files; CER of the differing ones'
#   text against x86_64's). KEEP=DIR keeps the outputs in DIR/ARCH/STRATEGY/SET; a run with
#   one ARCH and the same KEEP as an earlier run of the other compares with it.
# No VLM backend is configured here, so hi_res is Tesseract-only (README "Strategies").
# Usage: sh bench/strategies/run.sh [QUIRE_BIN]   (env SHARED=../shared, SCAN_N, ICDAR_N, BORN_N,
#        SAMPLE, ARCH, KEEP, COMPARE_ONLY, ARM64_BUILD, ARM64_SYSROOT, ARM64_QEMU,
#        STRATEGIES="fast ocr_only hi_res auto")
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
C=$SHARED/corpus
T=$SHARED/tools
SCAN_N=${SCAN_N:-0} ICDAR_N=${ICDAR_N:-0} BORN_N=${BORN_N:-8}
STRATEGIES=${STRATEGIES:-fast ocr_only hi_res auto}
ARCH=${ARCH:-x86_64}
AB=${ARM64_BUILD:-build/arm64-full}
AS=${ARM64_SYSROOT:-build/arm64-sysroot}
AQ=${ARM64_QEMU:-qemu-aarch64}
SAMPLE=${SAMPLE:-}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
K=${KEEP:-$W/out}
mkdir -p "$K"
for a in $ARCH; do
    case $a in
    x86_64) [ -x "$Q" ] || { echo "run.sh: no $Q (make)" >&2; exit 1; } ;;
    aarch64) [ -x "$AB/quire" ] && [ -e "$AS/lib/ld-linux-aarch64.so.1" ] &&
                 command -v "$AQ" > /dev/null ||
                 { echo "run.sh: aarch64 needs $AB/quire, $AS and $AQ (make arm64-full)" >&2; exit 1; } ;;
    *) echo "run.sh: ARCH is x86_64, aarch64 or both ('x86_64 aarch64'), not '$a'" >&2; exit 1 ;;
    esac
done

sample() { # SRCDIR N DST [NAMES...]: link the first N PDFs, or the named ones (and companions)
    src=$1 n=$2 dst=$3
    shift 3
    mkdir -p "$dst"
    if [ $# -gt 0 ]; then for b in "$@"; do echo "$src/$b.pdf"; done; else ls "$src"/*.pdf; fi |
        { [ "$n" -gt 0 ] && head -n "$n" || cat; } | while read -r f; do
        b=$(basename "$f" .pdf)
        [ -e "$f" ] || { echo "run.sh: no $f" >&2; continue; }
        for g in "$src/$b".*  "$src/$b"-*.xml; do [ -e "$g" ] && ln -sf "$g" "$dst/"; done
    done
}
if [ "$SAMPLE" = readme ]; then
    sample "$C/scanned" 0 "$W/in/scanned" scan-paper2col-jacow-p7-mild150 \
        scan-tables-siunitx-p40-bitonal300 scan-math-mathtools-p12-moderate300 \
        scan-long-r-intro-p24-mild150 scan-small-sageep-p2-clean300 scan-nonen-de-l2kurz-p17-mild300
    sample "$C/tables-icdar2013-eu" 0 "$W/in/tables" eu-001 eu-002 eu-003 eu-005 eu-006 eu-008
    mkdir -p "$W/in/born"
    for b in odd-form-forms16be odd-music-score small-cheatsheet-pt small-grant paper2col-els5p; do
        ln -sf "$C/born/$b.pdf" "$W/in/born/"
    done
    mutool merge -o "$W/in/born/odd-slides-pt-p12-14-15.pdf" "$C/born/odd-slides-pt.pdf" 12,14,15 ||
        { echo "run.sh: mutool merge failed" >&2; exit 1; }
elif [ -n "$SAMPLE" ]; then
    echo "run.sh: SAMPLE is readme or empty, not '$SAMPLE'" >&2; exit 1
else
    sample "$C/scanned" "$SCAN_N" "$W/in/scanned"
    sample "$C/tables-icdar2013-eu" "$ICDAR_N" "$W/in/tables"
    # born: the BORN_N shortest documents of the manifest (OCR of a 300-page manual would
    # dominate the run), ties by name
    mkdir -p "$W/in/born"
    awk -F'\t' '$2 == "born" && $6 ~ /^[0-9]+$/ {print $6 "\t" $5}' "$C/manifest.tsv" |
        sort -k1,1n -k2 | { [ "$BORN_N" -gt 0 ] && head -n "$BORN_N" || cat; } |
        while read -r n f; do ln -sf "$C/$f" "$W/in/born/"; done
fi
# a manifest of the sampled scans only (score.py counts a missing hypothesis as CER 1)
awk -F'\t' -v d="$W/in/scanned" 'NR == 1 {print; next}
    $2 == "scanned" {f = d "/" $1 ".pdf"; if ((getline l < f) >= 0) print; close(f)}' \
    "$C/manifest.tsv" > "$W/in/manifest.tsv"
(cd "$W/in" && ln -s "$C/scanned" gt-scanned) # gt paths are relative: scanned/...
sed -i 's#\tscanned/#\tgt-scanned/#g' "$W/in/manifest.tsv"

qrun() { # ARCH ARGS...: the quire of that ARCH
    if [ "$1" = aarch64 ]; then shift; "$AQ" -L "$AS" "$AB/quire" "$@"; else shift; "$Q" "$@"; fi
}
conv() { # ARCH STRATEGY SET FORMAT
    rm -rf "$K/$1/$2/$3"
    mkdir -p "$K/$1/$2/$3"
    qrun "$1" convert -q --force --allow-empty --jobs 1 --strategy "$2" --format "$4" \
        --report "$K/$1/$2.$3.report.json" -o "$K/$1/$2/$3" "$W/in/$3" > /dev/null 2>&1
}

# COMPARE_ONLY=1 with KEEP: only the comparison of the outputs an earlier run kept
[ -n "${COMPARE_ONLY:-}" ] && STRATEGIES_RUN="" || STRATEGIES_RUN=$STRATEGIES
[ -z "${COMPARE_ONLY:-}" ] || [ -n "${KEEP:-}" ] || { echo "run.sh: COMPARE_ONLY needs KEEP" >&2; exit 1; }
echo "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg) at the start (shared machine: timings are noisy)"
echo "$("$Q" --version 2>/dev/null | head -1), commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo "?")"
echo "sets: scanned $(ls "$W"/in/scanned/*.pdf | wc -l) files, tables $(ls "$W"/in/tables/*.pdf | wc -l)," \
     "born sample $(ls "$W"/in/born/*.pdf | wc -l)${SAMPLE:+ (SAMPLE=$SAMPLE)}"
echo
echo "| arch | strategy | pages | page ms median | page ms max | book ms mean | pages/min | CPU s | peak RSS MiB | scanned CER pooled (median) | ICDAR table F1 | born word recall (median) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for a in $ARCH; do
    label=$a
    [ "$a" = aarch64 ] && label="aarch64 (qemu, emulated)"
    for s in $STRATEGIES_RUN; do
        conv "$a" "$s" scanned txt
        conv "$a" "$s" tables json
        conv "$a" "$s" born json
        o=$K/$a/$s
        cer=$(python3 "$T/score.py" --manifest "$W/in/manifest.tsv" --hyp-dir "$o/scanned" \
                  --json 2> /dev/null | python3 -c "
import json, sys
s = json.load(sys.stdin)['summary']
print('%.4f (%.4f)' % (s['cer_pooled'], s['cer_median']))" 2> /dev/null || echo "-")
        f1=$(python3 "$T/score_icdar.py" "$W/in/tables" "$o/tables" --json "$W/$a.$s.icdar.json" \
                 > /dev/null 2>&1 && python3 -c "
import json, sys; print('%.3f' % json.load(open(sys.argv[1]))['f1'])" "$W/$a.$s.icdar.json" || echo "-")
        rec=$(python3 "$T/text_fidelity.py" "$W/in/born" "$o/born" 2> /dev/null | tail -1 |
                  sed -n 's/.*median recall \([0-9.]*\).*/\1/p')
        python3 - "$label" "$s" "$cer" "$f1" "${rec:--}" "$K/$a/$s".*.report.json <<'EOF'
import json, statistics, sys
a, s, cer, f1, rec = sys.argv[1:6]
pages, books, secs, cpu, rss = [], [], 0.0, 0.0, 0
for f in sys.argv[6:]:
    r = json.load(open(f))
    secs += r["totals"]["seconds"]
    cpu += r["totals"]["cpu_seconds"]
    rss = max(rss, r["totals"]["peak_rss_kb"])
    for d in r["documents"]:
        if d["ms"] is not None:
            books.append(d["ms"])
        pages += [p["ms"] for p in d["pages"] if p["method"] != "failed"]
print("| %s | %s | %d | %.0f | %.0f | %.0f | %.1f | %.1f | %.0f | %s | %s | %s |" % (
    a, s, len(pages), statistics.median(pages), max(pages), sum(books) / len(books),
    60 * len(pages) / secs, cpu, rss / 1024, cer, f1, rec))
EOF
    done
done
echo
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"

# aarch64 against x86_64, where both outputs are in KEEP: per strategy and set, the files
# byte-equal, and for the others the CER of their text (JSON: the blocks' text and cells)
# against x86_64's
if [ -d "$K/x86_64" ] && [ -d "$K/aarch64" ]; then
    echo
    echo "aarch64 (qemu) outputs against x86_64's:"
    for s in $STRATEGIES; do
        for set_ in scanned tables born; do
            python3 - "$s" "$set_" "$K/x86_64/$s/$set_" "$K/aarch64/$s/$set_" <<'EOF'
import difflib, json, os, sys
s, set_, x, a = sys.argv[1:5]

def text(path):
    raw = open(path, "rb").read()
    if not path.endswith(".json"):
        return raw.decode("utf-8", "replace")
    parts = []
    for b in json.loads(raw).get("blocks", []):
        parts.append(b.get("text") or "")
        for row in b.get("cells") or []:
            parts += [c if isinstance(c, str) else json.dumps(c) for c in row]
    return "\n".join(parts)

def lev(p, q):
    prev = list(range(len(q) + 1))
    for i, cp in enumerate(p, 1):
        cur = [i] + [0] * len(q)
        for j, cq in enumerate(q, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (cp != cq))
        prev = cur
    return prev[-1]

names = sorted(n for n in os.listdir(x) if n.endswith((".txt", ".json")))
same, cers, missing = 0, [], 0
for n in names:
    fx, fa = os.path.join(x, n), os.path.join(a, n)
    if not os.path.exists(fa):
        missing += 1
        continue
    if open(fx, "rb").read() == open(fa, "rb").read():
        same += 1
        continue
    tx, ta = text(fx).split("\n"), text(fa).split("\n")
    # line-aligned (difflib), then characters within the differing runs: an upper bound
    # of the edit distance, quick on long texts that differ in a few lines
    d = sum(lev("\n".join(tx[i1:i2]), "\n".join(ta[j1:j2])) for op, i1, i2, j1, j2 in
            difflib.SequenceMatcher(None, tx, ta, autojunk=False).get_opcodes() if op != "equal")
    cers.append((d / max(1, len("\n".join(tx))), n))
line = "  %-8s %-7s %d/%d files byte-equal" % (s, set_, same, len(names))
if missing:
    line += ", %d missing under aarch64" % missing
if cers:
    c, n = max(cers)
    line += "; the other %d: text CER max %.4f (%s; line-aligned, an upper bound)" % (len(cers), c, n)
print(line)
EOF
        done
    done
fi
