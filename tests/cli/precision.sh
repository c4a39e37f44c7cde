#!/bin/sh
# tests/cli/precision.sh — --precision fp32|bf16|int8 (docs/precision.md): embed gives
# vectors close to fp32 but not equal; bad values are usage errors; quire info names the
# kernel per precision and QUIRE_CPU bounds it; a collection keeps its precision: ingest
# and search find it from the fingerprint, another precision given explicitly is refused,
# reindex converts. Tiny test model, a few seconds.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=$SHARED/models/tiny
printf 'hello world\nthe quick brown fox jumps over the lazy dog\nvectors of two precisions never mix\n' > "$T/in.txt"
for p in fp32 bf16 int8; do
    "$Q" embed -q --model "$M" --precision $p "$T/in.txt" > "$T/$p.jsonl" 2> "$T/e.$p"
    check "embed --precision $p: exit 0" [ $? -eq 0 ]
done
check "bf16 / int8 vectors: close to fp32 (cosine >= 0.9995 / 0.995), not equal" $PY - "$T" <<'EOF2'
import json, math, sys
d = sys.argv[1]
def load(p): return [json.loads(l)["embedding"] for l in open(f"{d}/{p}.jsonl")]
f = load("fp32")
for p, need in (("bf16", 0.9995), ("int8", 0.995)):
    v = load(p)
    assert len(v) == len(f) == 3, (p, len(v))
    for a, b in zip(v, f):
        c = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        assert c >= need, (p, c)
        assert max(abs(x - y) for x, y in zip(a, b)) > 1e-6, (p, "equal to fp32")
EOF2
"$Q" embed -q --model "$M" --precision fp16 "$T/in.txt" > /dev/null 2> "$T/e"
rc=$?
check "--precision fp16: usage error (2) naming the choices" sh -c "[ $rc -eq 2 ] && grep -q 'not fp32, bf16 or int8' '$T/e'"
"$Q" info > "$T/i"
check "quire info: a kernel per precision" grep -Eq '^precision kernels: fp32 [a-z0-9-]+, bf16 [a-z0-9-]+, int8 [a-z0-9-]+$' "$T/i"
QUIRE_CPU=scalar "$Q" info > "$T/i2"
check "QUIRE_CPU=scalar: the scalar references" grep -q '^precision kernels: fp32 scalar, bf16 scalar-bf16, int8 scalar-int8$' "$T/i2"
QUIRE_CPU=scalar "$Q" embed -q --model "$M" --precision int8 "$T/in.txt" > "$T/int8s.jsonl"
# The scalar references include the bf16 attention; a CPU with no bf16 SIMD kernel runs
# int8 with the fp32 attention, so there the two agree only to bf16 rounding (1e-4).
if grep -q ', bf16 scalar-bf16,' "$T/i"; then TOL=1e-4; else TOL=1e-5; fi
QUIRE_CPU=scalar "$Q" embed -q --model "$M" --precision bf16 "$T/in.txt" > "$T/bf16s.jsonl"
for p in int8 bf16; do
check "QUIRE_CPU=scalar $p: the same vectors as the chosen kernel (to $TOL)" $PY - "$T" $p $TOL <<'EOF2'
import json, sys
d, p, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
a = [json.loads(l)["embedding"] for l in open(f"{d}/{p}.jsonl")]
b = [json.loads(l)["embedding"] for l in open(f"{d}/{p}s.jsonl")]
e = max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))
assert e < tol, e
EOF2
done
# collections
DB=$T/p.db
mkdir -p "$T/docs"
i=0
while [ $i -lt 12 ]; do
    printf '# Item %d\n\nThe item number %d is called gadget%d and costs price%d.\n' $i $i $i $i > "$T/docs/d$i.md"
    i=$((i+1))
done
"$Q" ingest -q --db "$DB" --collection c8 --model "$M" --precision int8 "$T/docs" 2> "$T/e"
check "ingest --precision int8: exit 0" [ $? -eq 0 ]
"$Q" collections --db "$DB" > "$T/c"
check "collections names the precision" grep -q '^c8 .* tiny (32 dims, int8, ' "$T/c"
"$Q" collections --db "$DB" --json > "$T/cj"
check "collections --json: \"precision\":\"int8\"" grep -q '"precision":"int8"' "$T/cj"
"$Q" search --db "$DB" -c c8 --model "$M" --json -k 3 "gadget7 price7" > "$T/h" 2> "$T/e"
check "search without --precision finds the collection's (int8): hybrid hit" sh -c "head -1 '$T/h' | grep -q 'd7.md' && ! grep -q 'text search only' '$T/e'"
"$Q" search --db "$DB" -c c8 --model "$M" --precision bf16 --mode vector -k 3 "gadget7" > "$T/h2" 2> "$T/e2"
rc=$?
check "search --precision bf16 on an int8 collection: refused, naming both precisions" sh -c "[ $rc -ne 0 ] && grep -q 'int8, fingerprint' '$T/e2' && grep -q 'bf16, fingerprint' '$T/e2'"
printf '# Item 12\n\nThe item number 12 is called gadget12.\n' > "$T/docs/d12.md"
"$Q" ingest -q --db "$DB" --collection c8 --model "$M" "$T/docs" 2> "$T/e"
check "ingest more without --precision: keeps int8 (exit 0)" [ $? -eq 0 ]
"$Q" ingest -q --db "$DB" --collection c8 --model "$M" --precision fp32 --force "$T/docs/d12.md" 2> "$T/e"
rc=$?
check "ingest --precision fp32 into the int8 collection: refused, naming both" sh -c "[ $rc -ne 0 ] && grep -q 'int8, fingerprint' '$T/e' && grep -q 'fp32, fingerprint' '$T/e'"
"$Q" reindex -q --db "$DB" --collection c8 --model "$M" --precision bf16 2> "$T/e"
check "reindex --precision bf16: exit 0" [ $? -eq 0 ]
"$Q" search --db "$DB" -c c8 --model "$M" --json -k 3 "gadget12" > "$T/h" 2> "$T/e"
check "search after reindex finds bf16 by itself" sh -c "head -1 '$T/h' | grep -q 'd12.md' && ! grep -q 'text search only' '$T/e'"
"$Q" collections --db "$DB" > "$T/c"
check "after reindex the collection is bf16" grep -q '^c8 .* tiny (32 dims, bf16, ' "$T/c"
"$Q" serve --precision half --model "$M" > /dev/null 2> "$T/e"
rc=$?
check "serve --precision half: usage error before serving" sh -c "[ $rc -eq 2 ] && grep -q 'not fp32, bf16 or int8' '$T/e'"
