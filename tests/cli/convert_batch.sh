#!/bin/sh
# tests/cli/convert_batch.sh — `quire convert` batches never lose work silently: output
# name collisions are refused up front (exit 2), every input root is mirrored under -o,
# "up to date" means a recorded fingerprint (input sha256 + output-changing options +
# quire version + the output's own sha256) matches, partial outputs are redone, stdin
# and stdout, -o FILE.ext choosing the format, the closing summary line, and pages that
# end with no text (exit 3 unless --allow-empty). Text-layer pages only (fast), but one
# --ocr never scan for the empty page.
. "$(dirname "$0")/../lib.sh"
SMALL=$C/born/small-fn2end.pdf      # 2 pages, born-digital
SMALL2=$C/born/small-sageep.pdf     # 3 pages
LONG=$C/born/long-memman.pdf        # hundreds of pages
SCAN=$C/scanned/scan-small-fn2end-p1-bitonal300.pdf
mt() { stat -c %y "$1"; }

# --- collisions: refused before any work, both inputs named, nothing written -----------
mkdir -p "$T/a" "$T/b" "$T/ab"
cp "$SMALL" "$T/a/x.pdf"; cp "$SMALL2" "$T/b/x.pdf"
"$Q" convert -o "$T/col1" "$T/a/x.pdf" "$T/b/x.pdf" > /dev/null 2> "$T/e"; rc=$?
check "collision a/x.pdf b/x.pdf: exit 2" [ $rc -eq 2 ]
check "collision a/x.pdf b/x.pdf: both named" sh -c "grep -q 'a/x.pdf and .*b/x.pdf would both write' '$T/e'"
check "collision a/x.pdf b/x.pdf: nothing written" [ ! -e "$T/col1" ]
cp "$SMALL" "$T/ab/a.pdf"
pdftoppm -r 50 -png -singlefile -f 1 -l 1 "$SCAN" "$T/ab/a"
"$Q" convert -o "$T/col2" "$T/ab" > /dev/null 2> "$T/e"; rc=$?
check "collision a.pdf a.png: exit 2, nothing written" sh -c "[ $rc -eq 2 ] && [ ! -e '$T/col2' ] && grep -q 'a.pdf and .*a.png would both write' '$T/e'"
"$Q" convert -o "$T/col3" --report "$T/col3/x.md" "$T/a/x.pdf" "$T/ab/a.pdf" > /dev/null 2>&1; rc=$?
check "--report path equal to an output: exit 2" [ $rc -eq 2 ]

# --- every input root mirrored under -o -----------------------------------------------
mkdir -p "$T/papers/sub" "$T/scans"
cp "$SMALL" "$T/papers/sub/p.pdf"; cp "$SMALL2" "$T/scans/s.pdf"
"$Q" convert -o "$T/md/" "$T/papers/" "$T/scans" > /dev/null 2> "$T/e"; rc=$?
check "two roots: exit 0" [ $rc -eq 0 ]
check "two roots mirrored as md/papers/… and md/scans/…" sh -c "[ -s '$T/md/papers/sub/p.md' ] && [ -s '$T/md/scans/s.md' ]"
"$Q" convert -o "$T/same" "$T/a" "$T/b" > /dev/null 2> "$T/e"; rc=$?
check "roots a/ b/ with the same file name: both kept" sh -c "[ $rc -eq 0 ] && [ -s '$T/same/a/x.md' ] && [ -s '$T/same/b/x.md' ] && ! cmp -s '$T/same/a/x.md' '$T/same/b/x.md'"

# --- fingerprints: the same run is up to date, any output-changing option redoes it ----
mkdir -p "$T/fp"; cp "$SMALL" "$T/fp/doc.pdf"
"$Q" convert -o "$T/fpo" "$T/fp" > /dev/null 2>&1
m0=$(mt "$T/fpo/doc.md"); full=$(cat "$T/fpo/doc.md")
check "sidecar records input sha256 and options" python3 -c "
import json, hashlib; s=json.load(open('$T/fpo/.doc.md.quire'))
assert s['input_sha256']==hashlib.sha256(open('$T/fp/doc.pdf','rb').read()).hexdigest(), s
assert s['output_sha256']==hashlib.sha256(open('$T/fpo/doc.md','rb').read()).hexdigest(), s
assert 'pages=all' in s['options'] and s['complete'] is True, s"
sleep 1
"$Q" convert -o "$T/fpo" "$T/fp" > /dev/null 2> "$T/e"
check "same input and options: up to date" sh -c "[ '$(mt "$T/fpo/doc.md")' = '$m0' ] && grep -q 'doc.pdf: up to date' '$T/e'"
"$Q" convert -o "$T/fpo" --pages 1 "$T/fp" > /dev/null 2> "$T/e"
check "--pages changed: redone" sh -c "[ '$(mt "$T/fpo/doc.md")' != '$m0' ] && [ \$(wc -c < '$T/fpo/doc.md') -lt ${#full} ]"
m1=$(mt "$T/fpo/doc.md")
"$Q" convert -o "$T/fpo" --pages 1 "$T/fp" > /dev/null 2>&1
check "--pages 1 again: up to date" [ "$(mt "$T/fpo/doc.md")" = "$m1" ]
for opt in "--ocr never" "--dpi 150" "--lang eng+osd" "--max-pages 1" "--page-markers"; do
    m1=$(mt "$T/fpo/doc.md")
    "$Q" convert -o "$T/fpo" $opt "$T/fp" > /dev/null 2>&1
    check "option $opt changed: redone" [ "$(mt "$T/fpo/doc.md")" != "$m1" ]
done
"$Q" convert -o "$T/fpo" "$T/fp" > /dev/null 2>&1
check "back to the defaults: redone, same text as the first run" [ "$(cat "$T/fpo/doc.md")" = "$full" ]
# an input replaced by other bytes with an older mtime is redone (mtimes are not trusted)
m1=$(mt "$T/fpo/doc.md")
cp "$SMALL2" "$T/fp/doc.pdf"; touch -d '2001-01-01' "$T/fp/doc.pdf"
"$Q" convert -o "$T/fpo" "$T/fp" > /dev/null 2>&1
check "input replaced (older mtime): redone" sh -c "[ '$(mt "$T/fpo/doc.md")' != '$m1' ] && [ \"\$(cat '$T/fpo/doc.md')\" != \"\$full\" ]"
# an output edited or truncated by hand is redone
printf 'x' > "$T/fpo/doc.md"
"$Q" convert -o "$T/fpo" "$T/fp" > /dev/null 2>&1
check "output truncated by hand: redone" [ "$(wc -c < "$T/fpo/doc.md")" -gt 100 ]
# an old output without a sidecar (or with a damaged one) is redone, not trusted
echo '{not json' > "$T/fpo/.doc.md.quire"; m1=$(mt "$T/fpo/doc.md")
"$Q" convert -o "$T/fpo" "$T/fp" > /dev/null 2>&1
check "damaged sidecar: redone" [ "$(mt "$T/fpo/doc.md")" != "$m1" ]

# --- partial outputs are never up to date ---------------------------------------------
mkdir -p "$T/part"; cp "$LONG" "$T/part/long.pdf"
# (615 pages take 0.6 s on a fast machine and much longer under a sanitizer or load: the
# shortest timeout that leaves a partial output is used, each try from an empty folder)
for to in 0.05 0.15 0.4 1 3 9; do
    rm -rf "$T/parto"
    timeout 120 "$Q" convert --ocr never --allow-empty --timeout-per-doc $to -o "$T/parto" "$T/part" > /dev/null 2> "$T/e"; rc=$?
    [ "$rc" -eq 3 ] && [ -s "$T/parto/long.md" ] && break
done
check "timed-out document: exit 3, output written" sh -c "[ $rc -eq 3 ] && [ -s '$T/parto/long.md' ]"
check "timed-out document: no complete fingerprint" [ ! -e "$T/parto/.long.md.quire" ]
check "timed-out document: summary says partial" grep -q '1 file: 0 converted, 0 up to date, 0 failed, 1 partial' "$T/e"
check "timed-out document: the Markdown says which pages are missing" sh -c "head -n 1 '$T/parto/long.md' | grep -q '^> \*\*quire:\*\* Incomplete conversion: [0-9]* of 615 pages are missing from this output: pages [0-9]*-615 (timed out)\.'"
# a slow (sanitizer, loaded) build may finish no page in 1 s: then give it longer
for to in 0.05 0.15 0.4 1 3 9; do
    rm -f "$T/part.json" "$T/.part.json.quire"
    timeout 120 "$Q" convert --ocr never --allow-empty --timeout-per-doc $to -o "$T/part.json" "$LONG" > /dev/null 2>&1; rc=$?
    [ "$rc" -eq 3 ] && [ -s "$T/part.json" ] && break
done
check "timed-out document: JSON lists missing pages with their reason" python3 -c "
import json; d=json.load(open('$T/part.json')); m=d['missing_pages']
assert m and m[-1]==615 and m==list(range(m[0], 616)), m
p={x['page']: x for x in d['pages']}; assert p[615]['status']=='missing' and p[615]['missing_reason']=='timed out', p[615]
assert p[1]['status']=='ok' and p[1]['missing_reason'] is None and p[1]['width']>0"
# (the whole document: how many pages the timed-out run finished depends on the machine)
timeout 600 "$Q" convert --ocr never --allow-empty -o "$T/parto" "$T/part" > /dev/null 2> "$T/e"; rc=$?
check "re-run after a partial output: redone, not up to date" sh -c "[ $rc -eq 0 ] && ! grep -q 'up to date (' '$T/e' && ! head -n 1 '$T/parto/long.md' | grep -q 'Incomplete conversion' && [ -e '$T/parto/.long.md.quire' ]"

# --- stdin and stdout -----------------------------------------------------------------
"$Q" convert "$SMALL" > "$T/ref.md" 2> /dev/null
"$Q" convert - < "$SMALL" > "$T/in.md" 2> "$T/e"; rc=$?
check "convert - reads stdin (same Markdown as the file)" sh -c "[ $rc -eq 0 ] && cmp -s '$T/ref.md' '$T/in.md'"
cat "$SMALL" | "$Q" convert --format json - > "$T/in.json" 2> /dev/null; rc=$?
check "convert - from a pipe, JSON names the document '-'" sh -c "[ $rc -eq 0 ] && python3 -c \"import json; d=json.load(open('$T/in.json')); assert d['document']=='-', d['document']\""
check "stdin temp copy removed" sh -c "! ls \${TMPDIR:-/tmp}/quire-stdin-* 2>/dev/null | grep -q ."
echo 'hello' | "$Q" convert - > /dev/null 2> "$T/e"; rc=$?
check "convert - with non-PDF stdin: exit 1 naming stdin" sh -c "[ $rc -eq 1 ] && grep -q 'stdin: not a PDF' '$T/e'"
"$Q" convert - - < "$SMALL" > /dev/null 2>&1; check "'-' twice: exit 2" [ $? -eq 2 ]
Qabs=$(cd "$(dirname "$Q")" && pwd)/$(basename "$Q"); Sabs=$(cd "$(dirname "$SMALL")" && pwd)/$(basename "$SMALL")
(cd "$T" && "$Qabs" convert -o - "$Sabs" > "$T/dash.md" 2> /dev/null); rc=$?
check "-o - writes stdout (no file named -)" sh -c "[ $rc -eq 0 ] && cmp -s '$T/ref.md' '$T/dash.md' && [ ! -e '$T/-' ]"
"$Q" convert -o - "$SMALL" "$SMALL2" > /dev/null 2>&1; check "-o - with two inputs: exit 2" [ $? -eq 2 ]
"$Q" convert -o "$T/fromstdin.md" - < "$SMALL" 2> /dev/null
check "convert - -o FILE" cmp -s "$T/ref.md" "$T/fromstdin.md"

# --- -o FILE.ext chooses the format ----------------------------------------------------
"$Q" convert -o "$T/x.json" "$SMALL" 2> /dev/null
check "-o FILE.json writes JSON" python3 -c "import json; json.load(open('$T/x.json'))['blocks']"
"$Q" convert -o "$T/x.txt" "$SMALL" 2> /dev/null
"$Q" convert --format txt "$SMALL" > "$T/ref.txt" 2> /dev/null
check "-o FILE.txt writes text" cmp -s "$T/x.txt" "$T/ref.txt"
"$Q" convert --format md -o "$T/y.json" "$SMALL" > /dev/null 2> "$T/e"; rc=$?
check "-o FILE.json with --format md: exit 2, nothing written" sh -c "[ $rc -eq 2 ] && [ ! -e '$T/y.json' ]"

# --- JSON contract: schema_version, units/origin, page sizes (docs/convert-json.md) ------
check "JSON: schema_version 1, pt/top-left, page sizes, nothing missing" python3 -c "
import json; d=json.load(open('$T/x.json'))
assert d['schema_version']==1 and d['units']=='pt' and d['origin']=='top-left', d
assert d['n_pages']==2 and [p['page'] for p in d['pages']]==[1,2] and d['missing_pages']==[], d['pages']
import subprocess, re; w,h=map(float, re.search(r'Page size: *([0-9.]+) x ([0-9.]+)', subprocess.run(['pdfinfo','$SMALL'],capture_output=True,text=True).stdout).groups())
assert all(abs(p['width']-w)<1 and abs(p['height']-h)<1 and p['rotation']==0 and p['status']=='ok' for p in d['pages']), (w, h, d['pages'])
for b in d['blocks']:
    x0,y0,x1,y1=b['bbox']; pg=d['pages'][b['page']-1]
    assert 0<=x0<=x1<=pg['width'] and 0<=y0<=y1<=pg['height'], b"
"$Q" convert --format md "$SMALL" 2> /dev/null | head -n 1 > "$T/first"
check "complete Markdown has no incomplete note" sh -c "! grep -q Incomplete '$T/first'"

# --- closing summary line ----------------------------------------------------------------
mkdir -p "$T/sum"; cp "$SMALL" "$T/sum/one.pdf"; cp "$SMALL2" "$T/sum/two.pdf"
"$Q" convert -o "$T/sumo" "$T/sum" > /dev/null 2>&1
cp "$C/hostile/hostile-zero-bytes.pdf" "$T/sum/"; cp "$SMALL" "$T/sum/three.pdf"
"$Q" convert -o "$T/sumo" "$T/sum" > /dev/null 2> "$T/e"; rc=$?
check "summary: 4 files: 1 converted, 2 up to date, 1 failed" sh -c "[ $rc -eq 3 ] && tail -n 1 '$T/e' | grep -qx 'quire convert: 4 files: 1 converted, 2 up to date, 1 failed'"
"$Q" convert -q -o "$T/sumo" "$T/sum" > /dev/null 2> "$T/e"
check "-q: no summary" sh -c "! grep -q 'files:' '$T/e'"

# --- pages that end with no text ---------------------------------------------------------
mkdir -p "$T/emp"; cp "$SCAN" "$T/emp/scan.pdf"; cp "$SMALL" "$T/emp/good.pdf"
"$Q" convert --ocr never --report "$T/emp.json" -o "$T/empo" "$T/emp" > /dev/null 2> "$T/e"; rc=$?
check "empty page: batch exits 3" [ $rc -eq 3 ]
check "empty page: warning names file and page" grep -q 'scan.pdf: warning: 1 page with no text (page 1)' "$T/e"
check "empty page: summary counts it" grep -q '2 files: 2 converted, 0 up to date, 0 failed; 1 empty page$' "$T/e"
check "empty page: report marks page, document and totals" python3 -c "
import json; r=json.load(open('$T/emp.json')); d={x['path'].split('/')[-1]: x for x in r['documents']}
s=d['scan.pdf']; assert s['empty_pages']==[1] and s['pages'][0]['empty'] is True, s
assert 'page 1: no text' in s['warnings'], s['warnings']
assert d['good.pdf']['empty_pages']==[] and r['totals']['pages_empty']==1, r['totals']"
"$Q" convert --ocr never -o "$T/empo" "$T/emp" > /dev/null 2> "$T/e"; rc=$?
check "empty page without --allow-empty: redone next run, exit 3 again" sh -c "[ $rc -eq 3 ] && grep -q '1 converted, 1 up to date' '$T/e'"
"$Q" convert --ocr never --allow-empty -o "$T/empo" "$T/emp" > /dev/null 2> "$T/e"; rc=$?
check "--allow-empty: exit 0, summary says allowed" sh -c "[ $rc -eq 0 ] && grep -q '1 empty page (allowed)' '$T/e'"
"$Q" convert --ocr never --allow-empty -o "$T/empo" "$T/emp" > /dev/null 2> "$T/e"; rc=$?
check "--allow-empty: accepted output is up to date" sh -c "[ $rc -eq 0 ] && grep -q '0 converted, 2 up to date' '$T/e'"
