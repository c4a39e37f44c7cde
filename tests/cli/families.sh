#!/bin/sh
# tests/cli/families.sh — the XLM-R, multilingual-BERT and MPNet model folders through the
# command line: `quire tokenize` gives the golden ids, `quire embed` the golden vectors
# (first lines of shared/models/<m>/golden.jsonl), `quire info --model` names the
# architecture; an unknown model_type and a too-small relative bias table are refused
# with exit 1 naming the file and field. Prints PASS/FAIL per check.
. "$(dirname "$0")/../lib.sh"

# golden_cmp MODEL N OUT: the first N golden texts embedded in OUT match the goldens
golden_cmp() {
    python3 - "$SHARED/models/$1/golden.jsonl" "$2" "$3" <<'PY'
import base64, json, math, struct, sys
g = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][:int(sys.argv[2])]
out = [json.loads(l) for l in open(sys.argv[3])]
ok = len(out) == len(g)
for a, b in zip(out, g):
    want = struct.unpack("<%df" % (len(base64.b64decode(b["emb_f32_b64"])) // 4),
                         base64.b64decode(b["emb_f32_b64"]))
    got = a["embedding"]
    dot = sum(x * y for x, y in zip(got, want))
    cos = dot / math.sqrt(sum(x * x for x in got) * sum(y * y for y in want))
    ok = ok and a["tokens"] == len(b["ids"]) and cos >= 0.99999 and \
        max(abs(x - y) for x, y in zip(got, want)) <= 1e-4
sys.exit(0 if ok else 1)
PY
}
# ids_cmp MODEL N OUT: quire tokenize ids == golden ids
ids_cmp() {
    python3 - "$SHARED/models/$1/golden.jsonl" "$2" "$3" <<'PY'
import json, sys
g = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][:int(sys.argv[2])]
out = [json.loads(l) for l in open(sys.argv[3])]
sys.exit(0 if [o["ids"] for o in out] == [x["ids"] for x in g] else 1)
PY
}
texts() { # texts MODEL N -> the first N golden texts, one a line
    python3 -c 'import json,sys
for l in open(sys.argv[1], encoding="utf-8").read().splitlines()[:int(sys.argv[2])]:
    print(json.loads(l)["text"])' "$SHARED/models/$1/golden.jsonl" "$2"
}

for m in tiny-xlmr tiny-xlmr-bert tiny-mpnet; do
    texts $m 12 > "$T/$m.txt"
    "$Q" tokenize --model "$SHARED/models/$m" "$T/$m.txt" > "$T/$m.ids" 2>"$T/err"
    check "$m: quire tokenize gives the golden ids" ids_cmp $m 12 "$T/$m.ids"
    "$Q" embed --model "$SHARED/models/$m" --batch 4 "$T/$m.txt" > "$T/$m.out" 2>"$T/err"
    check "$m: quire embed gives the golden vectors" golden_cmp $m 12 "$T/$m.out"
done

"$Q" info --model "$SHARED/models/tiny-xlmr" > "$T/info" 2>&1
check "info: tiny-xlmr is xlm-roberta" grep -q '^architecture: xlm-roberta$' "$T/info"
"$Q" info --model "$SHARED/models/tiny-mpnet" > "$T/info" 2>&1
check "info: tiny-mpnet is mpnet" grep -q '^architecture: mpnet$' "$T/info"
"$Q" info --model "$SHARED/models/tiny-xlmr-bert" > "$T/info" 2>&1
check "info: tiny-xlmr-bert is bert" grep -q '^architecture: bert$' "$T/info"

# refused folders: copies of tiny-mpnet with config.json edited
mkcopy() {
    mkdir -p "$T/$1/1_Pooling"
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json vocab.txt \
             modules.json sentence_bert_config.json special_tokens_map.json; do
        cp "$SHARED/models/tiny-mpnet/$f" "$T/$1/$f"
    done
    cp "$SHARED/models/tiny-mpnet/1_Pooling/config.json" "$T/$1/1_Pooling/"
}
mkcopy roberta
sed 's/"model_type": "mpnet"/"model_type": "roberta"/' "$SHARED/models/tiny-mpnet/config.json" \
    > "$T/roberta/config.json"
echo "Hello" | "$Q" embed --model "$T/roberta" > /dev/null 2> "$T/err"; rc=$?
check "model_type roberta: exit 1" [ "$rc" -eq 1 ]
check "model_type roberta: the message names config.json and model_type" \
    grep -q 'config.json: model_type "roberta" is not supported' "$T/err"
mkcopy buckets
sed 's/"relative_attention_num_buckets": 32/"relative_attention_num_buckets": 16/' \
    "$SHARED/models/tiny-mpnet/config.json" > "$T/buckets/config.json"
echo "Hello" | "$Q" embed --model "$T/buckets" > /dev/null 2> "$T/err"; rc=$?
check "16 relative buckets: exit 1 naming the field" \
    sh -c "[ $rc -eq 1 ] && grep -q relative_attention_num_buckets '$T/err'"
