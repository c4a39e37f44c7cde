#!/usr/bin/env python3
"""small.cases.jsonl: ids for the small.tokenizer-{A,B,C}.json fixtures from the plain-Python
reference shared/models/ref/unigram_ref.py (HfTokenizer, checked there 96/96 against real
Hugging Face tokenizers on six tokenizer.json files), and a check that the reference walker
finds every charsmap key of make_small.py. Run from this folder with a python3 that has
`regex` (numpy is not needed: HfTokenizer only uses its float64, stubbed as float here).
Argument: the shared folder (default ../../../../../shared)."""
import sys, types, json
np = types.ModuleType("numpy"); np.float64 = float; np.float32 = float
sys.modules["numpy"] = np
SHARED = sys.argv[1] if len(sys.argv) > 1 else "../../../../../shared"
sys.path.insert(0, SHARED + "/models/ref")
import unigram_ref as U
texts = ["Hello world", "hello  world", "  the   a  ", "caf\u00e9 cafe\u0301", "\uff21\uff53 \uff1cs\uff1e",
         "\ufb01ne \u2460 \u2460\u2460", "tab\there\nnew\rline", "x\u00a0\u0308y", "\x01\x01ab\x01",
         "<s>hello</s> <unk>  <mask> <pad>", "\u4f60\u597d \u4e16\u754c", "\u2581the \u2581\u2581a",
         "", " ", "\u3000", "Zebra QUIZ 2024.", "\U0001F469\u200d\U0001F4BB ok \U0001F1E9\U0001F1EA",
         "ending with spaces   ", "e\u0301\u0301 \u00e9\u0301", "\x01", "\x01 \x01\t", "a" * 50 + " " + "he" * 30]
with open("small.cases.jsonl", "w", encoding="utf-8") as f:
    toks = {s: U.HfTokenizer(f"small.tokenizer-{s}.json") for s in "ABC"}
    for t in texts:
        row = {"text": t}
        for s in "ABC":
            row["hf_" + s] = toks[s].encode(t)
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
# charsmap walk sanity: every key maps to its value through the reference walker
import base64
tj = json.load(open("small.tokenizer-A.json"))
cm = U.CharsMap(base64.b64decode(tj["normalizer"]["precompiled_charsmap"]))
sys.path.insert(0, ".")
import make_small
for k, v in make_small.KEYS.items():
    m = cm.matches(k.encode())
    assert m and m[-1] == (len(k.encode()), v.encode()), (k, m)
assert not cm.matches(b"zz") and not cm.matches("e".encode())
print("charsmap ok; cases:", len(texts))
