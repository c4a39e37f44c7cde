#!/bin/sh
# tests/cli/embed.sh — the `quire embed` / `quire tokenize` / `quire info` command lines:
# help and usage errors, JSONL contract, CRLF, huge and odd inputs, f32 output, --dims,
# and clean failure on a bad model folder. Prints PASS/FAIL per check.
. "$(dirname "$0")/../lib.sh"
M=$SHARED/models/tiny

# --- help and usage -----------------------------------------------------------------
"$Q" --help > "$T/h" 2>&1; check "help exits 0" [ $? -eq 0 ]
check "help lists embed" grep -q "embed" "$T/h"
for c in embed tokenize info; do
    "$Q" $c --help > "$T/h" 2>&1; rc=$?
    check "$c --help exits 0 with usage" sh -c "[ $rc -eq 0 ] && grep -q 'usage: quire $c' '$T/h'"
done
"$Q" embed --bogus < /dev/null > "$T/o" 2> "$T/e"; rc=$?
check "unknown option exits 2" [ $rc -eq 2 ]
check "unknown option is named" grep -q -- "--bogus" "$T/e"
"$Q" embed < /dev/null > "$T/o" 2> "$T/e"; rc=$?
check "missing --model exits 2" [ $rc -eq 2 ]
"$Q" embed --model "$M" --threads 0 < /dev/null > "$T/o" 2> "$T/e"; rc=$?
check "--threads 0 exits 2" [ $rc -eq 2 ]
"$Q" nosuchcommand > "$T/o" 2> "$T/e"; rc=$?
check "unknown command exits 2" [ $rc -eq 2 ]

# --- info ---------------------------------------------------------------------------
"$Q" info > "$T/i"; check "info prints kernels" grep -q "^kernels: " "$T/i"
QUIRE_CPU=scalar "$Q" info > "$T/i"; check "QUIRE_CPU=scalar is honoured" grep -q "^kernels: scalar" "$T/i"
QUIRE_CPU=bogus "$Q" info > "$T/i" 2> "$T/e"; rc=$?
check "QUIRE_CPU=bogus is an error naming it" sh -c "[ $rc -ne 0 ] && grep -q bogus '$T/e'"

# --- embed: JSONL contract ------------------------------------------------------------
printf 'Hello world\n\nThe quick brown fox jumps over the lazy dog.\n' > "$T/in.txt"
"$Q" embed --model "$M" "$T/in.txt" > "$T/out.jsonl" 2> "$T/e"; rc=$?
check "embed exits 0" [ $rc -eq 0 ]
check "embed writes one line per input line (incl. empty)" [ "$(wc -l < "$T/out.jsonl")" -eq 3 ]
check "embed lines carry index/tokens/embedding in order" python3 - "$T/out.jsonl" <<'PY'
import json, sys, math
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2]
assert rows[1]["tokens"] == 2 and rows[0]["tokens"] == 4
for r in rows:
    assert len(r["embedding"]) == 32
    assert abs(math.sqrt(sum(x * x for x in r["embedding"])) - 1) < 1e-5
PY
check "embed from stdin equals embed from file" sh -c "'$Q' embed --model '$M' < '$T/in.txt' | cmp -s - '$T/out.jsonl'"
check "embed is silent on stderr when not a TTY" [ ! -s "$T/e" ]

# golden vector of "Hello world" (first golden line) matches within 1e-4
check "embed matches the golden vector" python3 - "$T/out.jsonl" "$M/golden.jsonl" <<'PY'
import json, sys, base64, struct
got = json.loads(open(sys.argv[1]).readline())["embedding"]
g = json.loads(open(sys.argv[2]).readline())
want = struct.unpack("<%df" % (len(base64.b64decode(g["emb_f32_b64"])) // 4), base64.b64decode(g["emb_f32_b64"]))
assert g["text"] == "Hello world"
assert max(abs(a - b) for a, b in zip(got, want)) <= 1e-4
PY

# CRLF input gives the same vectors as LF input
printf 'Hello world\r\n\r\nThe quick brown fox jumps over the lazy dog.\r\n' > "$T/crlf.txt"
"$Q" embed --model "$M" "$T/crlf.txt" > "$T/crlf.jsonl"
check "CRLF input embeds like LF input" python3 - "$T/out.jsonl" "$T/crlf.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b)
for x, y in zip(a, b):
    assert x["tokens"] == y["tokens"]
    assert max(abs(p - q) for p, q in zip(x["embedding"], y["embedding"])) < 1e-6
PY

# invalid UTF-8, a 10,000-character line, NUL-free binary junk: no crash, sane output
python3 -c "
import sys
sys.stdout.buffer.write(b'bad \xff\xfe utf8 \xc3\x28 \xe2\x82\n' + b'word ' * 2000 + b'\n' + bytes(range(1, 256)).replace(b'\n', b'') + b'\n')
" > "$T/odd.txt"
"$Q" embed --model "$M" --max-tokens 128 "$T/odd.txt" > "$T/odd.jsonl" 2> "$T/e"; rc=$?
check "odd input: exit 0, 3 lines" sh -c "[ $rc -eq 0 ] && [ \$(wc -l < '$T/odd.jsonl') -eq 3 ]"
check "10,000-character line is truncated to --max-tokens" python3 -c "
import json; r=[json.loads(l) for l in open('$T/odd.jsonl')]; assert r[1]['tokens']==128, r[1]['tokens']"

# 10,000 inputs in one call: all there, in order
python3 -c "
for i in range(10000): print('line number', i, 'of the big input' if i % 2 else 'short')" > "$T/many.txt"
"$Q" embed --model "$M" --batch 64 --threads 2 "$T/many.txt" > "$T/many.jsonl"; rc=$?
check "10,000 inputs: exit 0" [ $rc -eq 0 ]
check "10,000 inputs: 10,000 ordered lines" python3 -c "
import json
idx=[json.loads(l)['index'] for l in open('$T/many.jsonl')]
assert idx == list(range(10000))"
head -n 5 "$T/many.txt" > "$T/few.txt"
"$Q" embed --model "$M" --batch 1 "$T/few.txt" > "$T/few1.jsonl"
check "--batch 1 gives the batched vectors" python3 -c "
import json
a=[json.loads(l) for l in open('$T/few1.jsonl')]
b=[json.loads(l) for l in open('$T/many.jsonl')][:5]
assert all(max(abs(p-q) for p,q in zip(x['embedding'],y['embedding']))<1e-6 for x,y in zip(a,b))"

# --format f32, --dims, --no-normalize, --pooling cls
"$Q" embed --model "$M" --format f32 "$T/in.txt" > "$T/out.f32"
check "--format f32 writes n*dims*4 bytes" [ "$(wc -c < "$T/out.f32")" -eq $((3 * 32 * 4)) ]
check "--format f32 equals the JSON values" python3 - "$T/out.f32" "$T/out.jsonl" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
vals = struct.unpack("<%df" % (len(raw) // 4), raw)
js = [x for l in open(sys.argv[2]) for x in json.loads(l)["embedding"]]
assert all(abs(a - b) < 1e-7 for a, b in zip(vals, js))
PY
"$Q" embed --model "$M" --dims 8 "$T/in.txt" > "$T/d8.jsonl"
check "--dims 8 gives 8 renormalised values" python3 -c "
import json, math
for l in open('$T/d8.jsonl'):
    e=json.loads(l)['embedding']; assert len(e)==8 and abs(math.sqrt(sum(x*x for x in e))-1)<1e-5"
"$Q" embed --model "$M" --dims 999 "$T/in.txt" > /dev/null 2>&1; rc=$?
check "--dims beyond the model exits 2" [ $rc -eq 2 ]
"$Q" embed --model "$M" --no-normalize "$T/in.txt" > "$T/nn.jsonl"
check "--no-normalize leaves the norm" python3 -c "
import json, math
e=json.loads(open('$T/nn.jsonl').readline())['embedding']; assert abs(math.sqrt(sum(x*x for x in e))-1)>1e-3"
"$Q" embed --model "$M" --pooling cls "$T/in.txt" > "$T/cls.jsonl"
check "--pooling cls differs from mean" sh -c "! cmp -s '$T/cls.jsonl' '$T/out.jsonl'"
"$Q" embed --model "$M" --prefix "query: " "$T/in.txt" > "$T/pre.jsonl"
check "--prefix adds tokens" python3 -c "
import json
assert json.loads(open('$T/pre.jsonl').readline())['tokens'] == 4 + 2"

# --- tokenize --------------------------------------------------------------------------
check "tokenize matches golden ids" python3 - "$Q" "$M" <<'PY'
import json, subprocess, sys
q, m = sys.argv[1], sys.argv[2]
gold = [json.loads(l) for l in open(m + "/golden.jsonl")]
texts = [g["text"] for g in gold if "\n" not in g["text"] and "\r" not in g["text"]]
out = subprocess.run([q, "tokenize", "--model", m], input="\n".join(texts).encode() + b"\n",
                     capture_output=True, check=True).stdout.decode().splitlines()
want = [g["ids"] for g in gold if "\n" not in g["text"] and "\r" not in g["text"]]
got = [json.loads(l)["ids"] for l in out]
assert got == want, [i for i, (a, b) in enumerate(zip(got, want)) if a != b][:5]
PY

# --- a bad model folder: exit 1, one line on stderr, nothing on stdout ---------------------
"$Q" embed --model "$T/nonexistent" < "$T/in.txt" > "$T/o" 2> "$T/e"; rc=$?
check "missing model folder exits 1" [ $rc -eq 1 ]
check "missing model folder: nothing on stdout" [ ! -s "$T/o" ]
check "missing model folder: one line naming the path" sh -c "[ \$(wc -l < '$T/e') -eq 1 ] && grep -q nonexistent '$T/e'"
"$Q" embed --model "$M" "$T/no-such-input.txt" > "$T/o" 2> "$T/e"; rc=$?
check "missing input file exits 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q no-such-input '$T/e'"
