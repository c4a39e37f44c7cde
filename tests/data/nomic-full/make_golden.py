#!/usr/bin/env python3
"""Golden subset for the full-size seeded NomicBERT (nomic-embed-text-v1.5 shape: 768 hidden,
12 layers, 12 heads, SwiGLU 3072), computed with the independent PyTorch reference.

  /usr/bin/python3 tests/data/nomic-full/make_golden.py build/models/nomic-full \
      tests/data/nomic-full/golden.jsonl [--shared ../shared]

The model folder comes from `make models` (shared/models/ref/gen_nomic.py nomic DIR,
bit-identical; its sha256 is checked there). Reference: shared/models/ref/nomic_ref.py, run in
float64, one text at a time (rotary tables float32, as the original code). Texts: a handful of
tiny-nomic's golden texts (make_golden_nomic.py): short sentences, prefixed ones, one with
non-ASCII, the 512-token sentence and a 602-token search_document. Output lines have the same
fields as shared/models/tiny-nomic/golden.jsonl (i = index into tiny-nomic's golden texts):
ids, n_tokens, emb_f32_b64 (L2 of the mean), mrl_f32_b64 {768, 512, 256, 128, 64}: the v1.5
Matryoshka rule L2(layer_norm(pooled)[:D]) at the dims nomic's model card lists.
Needs python3-torch (bench/embed/setup.sh installs it; the test suite reads only the output).
"""
import argparse
import base64
import json
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "..", "..", "..", "shared"))
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.shared, "models", "ref"))
    import torch  # noqa: E402
    import make_golden_nomic as mg  # noqa: E402
    from nomic_ref import NomicConfig, NomicEncoder, load_safetensors, matryoshka  # noqa: E402
    from wordpiece import WordPiece  # noqa: E402

    torch.set_num_threads(2)
    cfg = NomicConfig.load(os.path.join(a.model_dir, "config.json"))
    assert cfg.hidden == 768 and cfg.layers == 12, "not the full-size shape"
    tok = WordPiece(os.path.join(a.model_dir, "vocab.txt"))
    w, _ = load_safetensors(os.path.join(a.model_dir, "model.safetensors"))
    m64 = NomicEncoder(cfg, w, torch.float64).eval()
    m32 = NomicEncoder(cfg, w, torch.float32).eval()
    # the texts of tiny-nomic/golden.jsonl, in its order (its i)
    long_texts = [mg.text_with_tokens(tok, n) for n in (600, 2046, 2047, 2098, 8300)]
    texts = list(mg.SENTENCES) + mg.PREFIXED + long_texts
    ids_all = [tok.encode(s, 8192) for s in texts]
    n_sent = len(mg.SENTENCES)
    longest = max(range(n_sent), key=lambda i: len(ids_all[i]))
    pick = [0, 1, 2, 5, 9, n_sent + 0, n_sent + 2, n_sent + 9, n_sent + 11, longest,
            n_sent + len(mg.PREFIXED)]
    dims = [768, 512, 256, 128, 64]

    def b64(v):
        return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()

    worst = 0.0
    with open(a.out, "w", encoding="utf-8") as f:
        for i in pick:
            ids = ids_all[i]
            t = torch.tensor([ids], dtype=torch.long)
            mask = torch.ones_like(t)
            with torch.inference_mode():
                p64 = m64.pooled(t, mask)[0].to(torch.float64)
                p32 = m32.pooled(t, mask)[0].to(torch.float64)
            e64 = torch.nn.functional.normalize(p64, dim=-1)
            e32 = torch.nn.functional.normalize(p32, dim=-1)
            worst = max(worst, float((e64 - e32).abs().max()))
            row = {"i": i, "text": texts[i], "prefix": mg.prefix_of(texts[i]), "ids": ids,
                   "n_tokens": len(ids), "emb_f32_b64": b64(e64.numpy()),
                   "mrl_f32_b64": {str(d): b64(matryoshka(p64, d).numpy()) for d in dims}}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            print(f"  text {i:3d}: {len(ids):4d} tokens", file=sys.stderr)
    print(f"{len(pick)} texts -> {a.out}; max |fp32 - fp64| {worst:.3e}", file=sys.stderr)


if __name__ == "__main__":
    main()
