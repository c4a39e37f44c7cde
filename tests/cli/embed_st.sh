#!/bin/sh
# tests/cli/embed_st.sh — sentence-transformers rules as `quire embed` / `quire info` apply
# them: modules.json decides Normalize (and --normalize/--no-normalize override it), the
# Pooling module's mode is used or refused (never replaced), prompts by name from
# config_sentence_transformers.json, truncation reported. Model folders are copies of
# shared/models/tiny with one side file edited. Prints PASS/FAIL per check.
. "$(dirname "$0")/../lib.sh"
M=$SHARED/models/tiny

mkmodel() { # mkmodel NAME -> $T/NAME, a copy of tiny
    mkdir -p "$T/$1/1_Pooling"
    for f in config.json vocab.txt tokenizer_config.json sentence_bert_config.json modules.json \
             model.safetensors special_tokens_map.json; do cp "$M/$f" "$T/$1/$f"; done
    cp "$M/1_Pooling/config.json" "$T/$1/1_Pooling/config.json"
}
norm() { # norm FILE LINE -> prints the L2 norm of the embedding on that line (1-based)
    python3 -c 'import json,sys,math
l=open(sys.argv[1]).read().splitlines()[int(sys.argv[2])-1]
print("%.6f" % math.sqrt(sum(x*x for x in json.loads(l)["embedding"])))' "$1" "$2"
}
near1() { python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1])-1)<1e-5 else 1)' "$1"; }
far1() { python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1])-1)>1e-2 else 1)' "$1"; }
same_vecs() { python3 -c 'import json,sys
a=[json.loads(l)["embedding"] for l in open(sys.argv[1])]
b=[json.loads(l)["embedding"] for l in open(sys.argv[2])]
sys.exit(0 if a==b else 1)' "$1" "$2"; }

# --- Normalize follows modules.json ---------------------------------------------------
mkmodel nonorm
cat > "$T/nonorm/modules.json" <<'J'
[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]
J
echo "Hello world" > "$T/in.txt"
"$Q" embed --model "$M" "$T/in.txt" > "$T/a" 2>/dev/null
check "model with a Normalize module: unit vectors" near1 "$(norm "$T/a" 1)"
"$Q" embed --model "$T/nonorm" "$T/in.txt" > "$T/b" 2>/dev/null
check "model without a Normalize module: not normalised" far1 "$(norm "$T/b" 1)"
"$Q" embed --model "$T/nonorm" --normalize "$T/in.txt" > "$T/c" 2>/dev/null
check "--normalize forces unit vectors" near1 "$(norm "$T/c" 1)"
check "--normalize gives the Normalize model's vector" same_vecs "$T/a" "$T/c"
"$Q" embed --model "$M" --no-normalize "$T/in.txt" > "$T/d" 2>/dev/null
check "--no-normalize on a Normalize model: the raw pooled vector" same_vecs "$T/b" "$T/d"
"$Q" embed --model "$M" --normalize --no-normalize "$T/in.txt" > /dev/null 2> "$T/e"; rc=$?
check "--normalize with --no-normalize is a usage error" [ $rc -eq 2 ]
"$Q" info --model "$T/nonorm" > "$T/i" 2>&1
check "info says normalize: no" grep -q '^normalize: no' "$T/i"

# --- pooling modes --------------------------------------------------------------------
mkmodel maxpool
cat > "$T/maxpool/1_Pooling/config.json" <<'J'
{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": false,
 "pooling_mode_max_tokens": true, "pooling_mode_mean_sqrt_len_tokens": false}
J
"$Q" embed --model "$T/maxpool" --no-normalize "$T/in.txt" > "$T/m" 2> "$T/e"; rc=$?
check "max-pooling model embeds (exit 0)" [ $rc -eq 0 ]
"$Q" embed --model "$M" --pooling max --no-normalize "$T/in.txt" > "$T/m2" 2>/dev/null
check "max pooling from the folder = --pooling max" same_vecs "$T/m" "$T/m2"
check "max pooling is not mean pooling" sh -c "! python3 -c 'import json,sys
a=json.loads(open(sys.argv[1]).readline())[\"embedding\"]; b=json.loads(open(sys.argv[2]).readline())[\"embedding\"]
sys.exit(0 if a==b else 1)' '$T/m' '$T/d'"
check "max pooling: every value >= the mean's" python3 -c 'import json,sys
a=json.loads(open(sys.argv[1]).readline())["embedding"]; b=json.loads(open(sys.argv[2]).readline())["embedding"]
sys.exit(0 if all(x >= y - 1e-6 for x, y in zip(a, b)) else 1)' "$T/m" "$T/d"
"$Q" info --model "$T/maxpool" > "$T/i" 2>&1
check "info says pooling: max" grep -q '^pooling: max$' "$T/i"
for mode in cls mean_sqrt_len lasttoken weightedmean; do
    "$Q" embed --model "$M" --pooling $mode "$T/in.txt" > "$T/p" 2>/dev/null; rc=$?
    check "--pooling $mode works" sh -c "[ $rc -eq 0 ] && [ -s '$T/p' ]"
done
"$Q" embed --model "$M" --pooling bogus "$T/in.txt" > /dev/null 2> "$T/e"; rc=$?
check "--pooling bogus is a usage error naming it" sh -c "[ $rc -eq 2 ] && grep -q bogus '$T/e'"
mkmodel twomodes
cat > "$T/twomodes/1_Pooling/config.json" <<'J'
{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}
J
"$Q" embed --model "$T/twomodes" "$T/in.txt" > "$T/o" 2> "$T/e"; rc=$?
check "two pooling modes: exit 1" [ $rc -eq 1 ]
check "two pooling modes: the message names both and the file" \
    sh -c "grep -q 'cls + mean' '$T/e' && grep -q '1_Pooling/config.json' '$T/e'"
check "two pooling modes: nothing written" [ ! -s "$T/o" ]

# --- prompts by name ------------------------------------------------------------------
mkmodel prompts
cat > "$T/prompts/config_sentence_transformers.json" <<'J'
{"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": null}
J
"$Q" embed --model "$T/prompts" --prompt-name query "$T/in.txt" > "$T/q1" 2>/dev/null
"$Q" embed --model "$T/prompts" --prefix "query: " "$T/in.txt" > "$T/q2" 2>/dev/null
check "--prompt-name query = --prefix 'query: '" same_vecs "$T/q1" "$T/q2"
check "--prompt-name query is not the bare text" sh -c "! python3 -c 'import json,sys
sys.exit(0 if open(sys.argv[1]).read()==open(sys.argv[2]).read() else 1)' '$T/q1' '$T/a'"
check "prompt tokens are counted" python3 -c 'import json,sys
sys.exit(0 if json.loads(open(sys.argv[1]).readline())["tokens"] == json.loads(open(sys.argv[2]).readline())["tokens"] + 2 else 1)' "$T/q1" "$T/a"
"$Q" embed --model "$T/prompts" --prompt-name nope "$T/in.txt" > /dev/null 2> "$T/e"; rc=$?
check "unknown prompt name: exit 1, lists the prompts" \
    sh -c "[ $rc -eq 1 ] && grep -q nope '$T/e' && grep -q 'query document' '$T/e'"
"$Q" embed --model "$T/prompts" --prompt-name query --prefix x "$T/in.txt" > /dev/null 2>&1; rc=$?
check "--prompt-name with --prefix is a usage error" [ $rc -eq 2 ]
cat > "$T/prompts/config_sentence_transformers.json" <<'J'
{"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": "query"}
J
"$Q" embed --model "$T/prompts" "$T/in.txt" > "$T/q3" 2>/dev/null
check "default_prompt_name applies without a flag" same_vecs "$T/q1" "$T/q3"
"$Q" info --model "$T/prompts" > "$T/i" 2>&1
check "info lists the prompts" grep -q '^prompts: query="query: ", document="passage: "$' "$T/i"
check "info names the default prompt" grep -q '^default prompt: query$' "$T/i"

# --- truncation is reported -----------------------------------------------------------
printf 'one two three four five six seven eight nine ten\nhi\n' > "$T/long.txt"
"$Q" embed --model "$M" --max-tokens 8 "$T/long.txt" > "$T/t" 2> "$T/e"; rc=$?
check "truncating run exits 0" [ $rc -eq 0 ]
check "stderr names the cut line and both counts" grep -q 'line 1: 12 tokens, truncated to 8' "$T/e"
check "the cut line has truncated: true, the short one none" python3 -c 'import json,sys
l=[json.loads(x) for x in open(sys.argv[1])]
sys.exit(0 if l[0].get("truncated") is True and "truncated" not in l[1] and l[0]["tokens"]==8 else 1)' "$T/t"
"$Q" embed --model "$M" "$T/long.txt" > "$T/t" 2> "$T/e"
check "no notice when nothing is cut" sh -c "! grep -q truncated '$T/e' '$T/t'"

# --- quire info --model ---------------------------------------------------------------
"$Q" info --model "$M" > "$T/i" 2>&1; rc=$?
check "info --model exits 0" [ $rc -eq 0 ]
for k in architecture tokenizer pooling normalize prompts "max tokens" fingerprint; do
    check "info --model prints $k" grep -q "^$k: " "$T/i"
done
check "info --model fingerprint is 64 hex digits" grep -Eq '^fingerprint: [0-9a-f]{64}$' "$T/i"
"$Q" info --model "$T/nosuch" > /dev/null 2> "$T/e"; rc=$?
check "info --model on a missing folder: exit 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q nosuch '$T/e'"

# --- NomicBERT: task prefixes by name, Matryoshka --dims, no Normalize module ----------
N=$SHARED/models/tiny-nomic
if [ -f "$N/model.safetensors" ]; then
    echo "What is TSNE?" > "$T/q.txt"
    "$Q" embed --model "$N" --prompt-name search_query --normalize "$T/q.txt" > "$T/n1" 2>"$T/e"
    "$Q" embed --model "$N" --prompt-name query --dims 16 "$T/q.txt" > "$T/n16" 2>>"$T/e"
    "$Q" embed --model "$N" --prompt-name query --dims 32 "$T/q.txt" > "$T/n32" 2>>"$T/e"
    "$Q" embed --model "$N" --prompt-name query "$T/q.txt" > "$T/nraw" 2>>"$T/e"
    check "nomic: search_query prompt + --normalize = golden 50; --dims 16 / 32 = its Matryoshka goldens; default not normalised" \
        python3 - "$N/golden.jsonl" "$T/n1" "$T/n16" "$T/n32" "$T/nraw" <<'PY'
import base64, json, math, struct, sys
g = [json.loads(l) for l in open(sys.argv[1])][50]
assert g["text"] == "search_query: What is TSNE?", g["text"]
dec = lambda b: struct.unpack("<%df" % (len(base64.b64decode(b)) // 4), base64.b64decode(b))
got = lambda p: json.loads(open(p).readline())
def close(a, b):
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) <= 1e-4
e1, e16, e32, raw = (got(p) for p in sys.argv[2:6])
ok = e1["tokens"] == g["n_tokens"] and close(e1["embedding"], dec(g["emb_f32_b64"]))
ok &= close(e16["embedding"], dec(g["mrl_f32_b64"]["16"]))
ok &= close(e32["embedding"], dec(g["mrl_f32_b64"]["32"]))
ok &= abs(math.sqrt(sum(x * x for x in raw["embedding"])) - 1) > 1e-2
sys.exit(0 if ok else 1)
PY
    "$Q" info --model "$N" > "$T/i" 2>&1
    check "nomic: info says nomic_bert, mean, not normalised, 8192 tokens" sh -c \
        "grep -q '^architecture: nomic_bert' '$T/i' && grep -q '^pooling: mean' '$T/i' && grep -q '^normalize: no' '$T/i' && grep -q '^max tokens: 8192' '$T/i'"
else
    bad "nomic: $N/model.safetensors missing"
fi
