#!/bin/sh
# tests/cli/serve_convert.sh — POST /v1/convert (issue 18, the bugs of its "Why"): the
# document is named as the client named it (?filename=, Content-Disposition, a multipart
# file part, the JSON path), never by the server's temporary copy; a password-protected PDF
# is 422 password_protected (also on the document upload route), not 501; pages, ocr and
# format (and strategy) are honoured from the query, a JSON body and multipart parts alike (each answer
# equal to `quire convert` with the same options); unknown fields and bad values are 400s,
# never ignored. Needs curl, qpdf (.ci/setup), python3, tesseract with eng. ~20 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
req() { # req NAME STATUS CODE CURL-ARGS...: the status and a JSON error naming CODE
    name=$1; want=$2; code=$3; shift 3
    got=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
    if [ "$got" = "$want" ] && $PY -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["message"] and e["code"]==sys.argv[2], e' "$T/body" "$code" 2>/dev/null; then
        ok "$name"
    else
        bad "$name" "status $got, want $want/$code: $(head -c 300 "$T/body")"
    fi
}
jq_() { $PY -c "import json,sys; r=json.load(open(sys.argv[1])); assert $2, r" "$1"; }

mkdir -p "$T/allow" "$T/tmp"
cp examples/sample.pdf "$T/allow/paper.pdf"
SCAN=$C/scanned/scan-small-sageep-p2-clean300.pdf
cp "$SCAN" "$T/allow/scan.pdf"
qpdf --encrypt secret ownerpw 256 -- examples/sample.pdf "$T/allow/locked.pdf"
qpdf --encrypt '' ownerpw 256 -- examples/sample.pdf "$T/allow/openable.pdf"
printf 'k3y\n' > "$T/key"
A="Authorization: Bearer k3y"
J="Content-Type: application/json"
# references from the CLI, run where the file names are the bare names the client sends
case $Q in /*) QQ=$Q ;; *) QQ=$PWD/$Q ;; esac
(cd "$T/allow" && "$QQ" convert -q --format json paper.pdf > "$T/ref.json" &&
    "$QQ" convert -q --format json --pages 2 paper.pdf > "$T/ref-p2.json" &&
    "$QQ" convert -q --format txt --pages 1,3 paper.pdf > "$T/ref-p13.txt" &&
    "$QQ" convert -q --format txt --ocr always --pages 1 paper.pdf > "$T/ref-ocr.txt" &&
    "$QQ" convert -q --format txt --ocr never --allow-empty scan.pdf > "$T/ref-never.txt" &&
    "$QQ" convert -q --format txt --strategy fast --allow-empty scan.pdf > "$T/ref-fast.txt" &&
    "$QQ" convert -q --format txt --strategy ocr_only --pages 1 paper.pdf > "$T/ref-ocronly.txt")
check "CLI references made" [ $? -eq 0 ]

TMPDIR=$T/tmp "$Q" serve --port 0 --db "$T/s.db" --allow-writes --api-key-file "$T/key" \
    --allow-paths "$T/allow" 2> "$T/log" &
PID=$!
PORT=
i=0
while [ $i -lt 300 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/log")
    kill -0 $PID 2>/dev/null || break
    sleep 0.1; i=$((i+1))
done
[ -n "$PORT" ] || cat "$T/log"
B=http://127.0.0.1:$PORT/v1/convert

# --- 1. the document's name ------------------------------------------------------------
curl -s "$B?format=json&filename=paper.pdf" -H "$A" --data-binary @"$T/allow/paper.pdf" > "$T/n1.json"
check "raw body + ?filename=paper.pdf: the JSON equals quire convert --format json paper.pdf" cmp -s "$T/n1.json" "$T/ref.json"
curl -s "$B?format=json" -H "$A" -H 'Content-Disposition: attachment; filename="C:\docs\notes.pdf"' \
    --data-binary @"$T/allow/paper.pdf" > "$T/n2.json"
check "Content-Disposition filename (a Windows path): document is notes.pdf" jq_ "$T/n2.json" 'r["document"]=="notes.pdf"'
curl -s "$B?format=json" -H "$A" --data-binary @"$T/allow/paper.pdf" > "$T/n3.json"
check "raw body without a name: document is 'upload', no temporary path in the answer" \
    sh -c "$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"document\"]==\"upload\"' '$T/n3.json' && ! grep -q quire-serve- '$T/n3.json'"
curl -s "$B" -H "$A" -F "file=@$T/allow/paper.pdf;filename=field-guide.pdf" -F format=json > "$T/n4.json"
check "multipart file part (+ part format=json): document is field-guide.pdf" jq_ "$T/n4.json" 'r["document"]=="field-guide.pdf" and r["pages"][0]["page"]==1'
curl -s "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"format\":\"json\"}" > "$T/n5.json"
check "JSON {path, format: json}: JSON output (format honoured), document is the path as sent" jq_ "$T/n5.json" "r['document']=='$T/allow/paper.pdf'"
curl -s "$B?report=1&filename=paper.pdf" -H "$A" --data-binary @"$T/allow/paper.pdf" > "$T/n6.json"
check "report=1 names the document" jq_ "$T/n6.json" 'r["document"]=="paper.pdf" and r["n_pages"]==3'
code=$(curl -s -o "$T/n7" -w '%{http_code}' "$B?filename=junk.pdf" -H "$A" --data-binary 'not a pdf')
check "an error names the upload, not the temporary file ($(head -c 120 "$T/n7"))" \
    sh -c "[ $code = 422 ] && grep -q 'junk.pdf' '$T/n7' && ! grep -q quire-serve- '$T/n7'"

# --- 2. password-protected PDF: 422, not 501 -------------------------------------------
req "password-protected PDF (raw) -> 422 password_protected" 422 password_protected "$B?filename=locked.pdf" -H "$A" --data-binary @"$T/allow/locked.pdf"
check "... the message names locked.pdf and says password" grep -q 'locked.pdf: password-protected' "$T/body"
req "password-protected PDF (multipart) -> 422" 422 password_protected "$B" -H "$A" -F "file=@$T/allow/locked.pdf"
req "password-protected PDF (JSON path) -> 422" 422 password_protected "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/locked.pdf\"}"
req "password-protected PDF uploaded for ingestion -> 422" 422 password_protected "http://127.0.0.1:$PORT/v1/collections/c/documents" -H "$A" -F "file=@$T/allow/locked.pdf"
code=$(curl -s -o "$T/o.md" -w '%{http_code}' "$B" -H "$A" --data-binary @"$T/allow/openable.pdf")
check "encrypted with an empty user password: 200 and the text" sh -c "[ $code = 200 ] && grep -q 'Field Guide to Lighthouses' '$T/o.md'"

# --- 3. pages, ocr, format honoured ----------------------------------------------------
curl -s "$B?format=json&pages=2&filename=paper.pdf" -H "$A" --data-binary @"$T/allow/paper.pdf" > "$T/p1.json"
check "?pages=2 = quire convert --pages 2" cmp -s "$T/p1.json" "$T/ref-p2.json"
curl -s "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"pages\":\"1,3\",\"format\":\"txt\"}" > "$T/p2.txt"
check "JSON {pages: '1,3', format: txt} = quire convert --pages 1,3 --format txt" cmp -s "$T/p2.txt" "$T/ref-p13.txt"
curl -s "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"pages\":3,\"report\":true}" > "$T/p3.json"
check "JSON {pages: 3 (a number), report: true}: one page, page 3" jq_ "$T/p3.json" '[p["page"] for p in r["pages"]]==[3]'
curl -s "$B" -H "$A" -F "file=@$T/allow/paper.pdf" -F pages=2-3 -F report=1 > "$T/p4.json"
check "multipart parts pages=2-3, report=1: pages 2 and 3" jq_ "$T/p4.json" '[p["page"] for p in r["pages"]]==[2,3]'
curl -s "$B?pages=2" -H "$A" -F "file=@$T/allow/paper.pdf" -F pages=1 -F report=1 > "$T/p5.json"
check "the query wins over a body part (pages=2 over part pages=1)" jq_ "$T/p5.json" '[p["page"] for p in r["pages"]]==[2]'
req "pages=abc -> 400" 400 invalid_request "$B?pages=abc" -H "$A" --data-binary @"$T/allow/paper.pdf"
req "pages=9 of a 3-page document -> 400" 400 invalid_request "$B?pages=9" -H "$A" --data-binary @"$T/allow/paper.pdf"
req "pages= (empty) -> 400" 400 invalid_pages "$B?pages=" -H "$A" --data-binary @"$T/allow/paper.pdf"
curl -s "$B?ocr=always&pages=1&report=1" -H "$A" --data-binary @"$T/allow/paper.pdf" > "$T/o1.json"
check "?ocr=always: the born-digital page is OCR'd" jq_ "$T/o1.json" 'r["pages"][0]["method"]=="ocr" and "forced" in r["pages"][0]["reason"]'
curl -s "$B?format=txt" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"ocr\":\"always\",\"pages\":\"1\"}" > "$T/o2.txt"
check "JSON {ocr: always} = quire convert --ocr always" cmp -s "$T/o2.txt" "$T/ref-ocr.txt"
curl -s "$B?ocr=never&format=txt" -H "$A" --data-binary @"$T/allow/scan.pdf" > "$T/o3.txt"
check "?ocr=never on a scan = quire convert --ocr never (no Tesseract text)" cmp -s "$T/o3.txt" "$T/ref-never.txt"
curl -s "$B?format=txt" -H "$A" --data-binary @"$T/allow/scan.pdf" > "$T/o4.txt"
check "... while the default (auto) OCRs it" sh -c "[ \$(wc -c < '$T/o4.txt') -gt \$((\$(wc -c < '$T/ref-never.txt') + 200)) ]"
# --- strategy (quire convert --strategy): query, JSON field and multipart part --------------
curl -s "$B?strategy=fast&format=txt" -H "$A" --data-binary @"$T/allow/scan.pdf" > "$T/st1.txt"
check "?strategy=fast on a scan = quire convert --strategy fast (text layer only)" \
    cmp -s "$T/st1.txt" "$T/ref-fast.txt"
curl -s "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"strategy\":\"ocr_only\",\"pages\":\"1\",\"format\":\"txt\"}" > "$T/st2.txt"
check "JSON {strategy: ocr_only} = quire convert --strategy ocr_only" cmp -s "$T/st2.txt" "$T/ref-ocronly.txt"
curl -s "$B" -H "$A" -F "file=@$T/allow/paper.pdf" -F strategy=ocr_only -F pages=1 -F report=1 > "$T/st3.json"
check "multipart part strategy=ocr_only: the born-digital page is OCR'd" \
    jq_ "$T/st3.json" 'r["pages"][0]["method"]=="ocr"'
curl -s "$B?strategy=fast&report=1" -H "$A" --data-binary @"$T/allow/scan.pdf" > "$T/st4.json"
check "?strategy=fast&report=1 on a scan: no page OCR'd" \
    jq_ "$T/st4.json" 'all(p["method"]!="ocr" for p in r["pages"])'
req "strategy=turbo -> 400 invalid_strategy" 400 invalid_strategy "$B?strategy=turbo" -H "$A" --data-binary @"$T/allow/paper.pdf"
check "... the message names strategy and its values" grep -q "strategy must be fast, ocr_only, hi_res or auto (got 'turbo')" "$T/body"
req "JSON strategy: 'quick' -> 400 invalid_strategy" 400 invalid_strategy "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"strategy\":\"quick\"}"
req "multipart part strategy=HI_RES -> 400 invalid_strategy" 400 invalid_strategy "$B" -H "$A" -F "file=@$T/allow/paper.pdf" -F strategy=HI_RES
req "strategy=fast with ocr=always -> 400 naming the strategy" 400 invalid_request "$B?strategy=fast&ocr=always&filename=paper.pdf" -H "$A" --data-binary @"$T/allow/paper.pdf"
check "... the message names paper.pdf and 'strategy fast'" grep -q 'paper.pdf: strategy fast' "$T/body"

req "ocr=sometimes -> 400 invalid_ocr" 400 invalid_ocr "$B?ocr=sometimes" -H "$A" --data-binary @"$T/allow/paper.pdf"
req "JSON format: docx -> 400 invalid_format" 400 invalid_format "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"format\":\"docx\"}"
req "multipart part format=docx -> 400 invalid_format" 400 invalid_format "$B" -H "$A" -F "file=@$T/allow/paper.pdf" -F format=docx

# --- 4. nothing is ignored ---------------------------------------------------------------
req "JSON with an unknown field -> 400 naming it" 400 invalid_request "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"page\":\"1\"}"
check "... the message names \"page\"" grep -q '\\"page\\"' "$T/body"
req "JSON pages: [1] -> 400" 400 invalid_request "$B" -H "$A" -H "$J" -d "{\"path\":\"$T/allow/paper.pdf\",\"pages\":[1]}"
req "JSON that does not parse -> 400 invalid_json" 400 invalid_json "$B" -H "$A" -H "$J" -d '{"path":'
req "multipart with an unknown part -> 400" 400 invalid_multipart "$B" -H "$A" -F "file=@$T/allow/paper.pdf" -F dpi=72
req "multipart without a file part -> 400 missing_file" 400 missing_file "$B" -H "$A" -F pages=1
req "a path outside --allow-paths -> 403" 403 path_not_allowed "$B" -H "$A" -H "$J" -d '{"path":"/etc/passwd"}'
check "no temporary file left behind" sh -c "[ -z \"\$(ls '$T/tmp')\" ]"
kill -TERM $PID; wait $PID; PID=
