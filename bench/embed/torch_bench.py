#!/usr/bin/env python3
"""bench/embed/torch_bench.py — the PyTorch peers of bench/embed (a benchmark, not a test).

The MiniLM-shaped model as a plain PyTorch BERT with nn.Linear layers (the weights of
shared/models/ref/bert_ref.py's reader), in fp32 or with PyTorch's dynamic int8
quantization (torch.ao.quantization.quantize_dynamic on every nn.Linear: per-tensor int8
weights, activations quantized per call; fbgemm kernels on x86). Debian's python3-torch.

  python3 bench/embed/torch_bench.py --model build/models/minilm --variant int8 \
      --threads 1 [--quick] [--golden shared/models/minilm-random/golden.jsonl]

Prints JSON lines like bench_embed / ort_bench.js: info, b1_t32 (batch 1, 32 tokens,
P50/P95/P99), b32_t128 (sentences/s), golden (min cosine vs the fp32 goldens).
The token ids are the shared LCG input (bench_embed.c).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def make_ids(batch, tokens):
    s = (7919 * tokens + batch) & 0xFFFFFFFF
    rows = []
    for _ in range(batch):
        row = [101]
        for _ in range(tokens - 2):
            s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
            row.append(1000 + (s >> 8) % 28000)
        row.append(102)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.long)


class Layer(torch.nn.Module):
    def __init__(self, H, I, heads):
        super().__init__()
        self.q, self.k, self.v = (torch.nn.Linear(H, H) for _ in range(3))
        self.o = torch.nn.Linear(H, H)
        self.ln1 = torch.nn.LayerNorm(H)
        self.f1 = torch.nn.Linear(H, I)
        self.f2 = torch.nn.Linear(I, H)
        self.ln2 = torch.nn.LayerNorm(H)
        self.heads = heads

    def forward(self, x):
        B, T, H = x.shape
        dh = H // self.heads
        q = self.q(x).view(B, T, self.heads, dh).transpose(1, 2)
        k = self.k(x).view(B, T, self.heads, dh).transpose(1, 2)
        v = self.v(x).view(B, T, self.heads, dh).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh), dim=-1)
        ctx = torch.matmul(a, v).transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.f2(torch.nn.functional.gelu(self.f1(x))))


class Bert(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        H, I = cfg["hidden_size"], cfg["intermediate_size"]
        eps = cfg.get("layer_norm_eps", 1e-12)
        t = lambda n: torch.from_numpy(w[n].astype("float32"))  # noqa: E731
        self.word = t("embeddings.word_embeddings.weight")
        self.pos = t("embeddings.position_embeddings.weight")
        self.typ = t("embeddings.token_type_embeddings.weight")
        self.ln = torch.nn.LayerNorm(H, eps=eps)
        self.ln.weight.data, self.ln.bias.data = t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias")
        self.layers = torch.nn.ModuleList()
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "o": "attention.output.dense", "f1": "intermediate.dense", "f2": "output.dense",
                 "ln1": "attention.output.LayerNorm", "ln2": "output.LayerNorm"}
        for i in range(cfg["num_hidden_layers"]):
            L = Layer(H, I, cfg["num_attention_heads"])
            for attr, hf in names.items():
                mod = getattr(L, attr)
                if isinstance(mod, torch.nn.LayerNorm):
                    mod.eps = eps
                mod.weight.data = t(f"encoder.layer.{i}.{hf}.weight")
                mod.bias.data = t(f"encoder.layer.{i}.{hf}.bias")
            self.layers.append(L)

    def forward(self, ids):
        B, T = ids.shape
        x = self.word[ids] + self.pos[:T].unsqueeze(0) + self.typ[0]
        x = self.ln(x)
        for L in self.layers:
            x = L(x)
        return torch.nn.functional.normalize(x.mean(1), dim=1)


def pct(sorted_v, p):
    k = max(0, min(len(sorted_v) - 1, int(math.ceil(p / 100.0 * len(sorted_v))) - 1))
    return sorted_v[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="build/models/minilm")
    ap.add_argument("--variant", choices=["fp32", "int8"], default="int8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--golden", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sys.path.insert(0, os.path.join(os.environ.get("QUIRE_SHARED", "../shared"), "models", "ref"))
    from safetensors_io import load_safetensors  # noqa: E402

    cfg = json.load(open(f"{a.model}/config.json"))
    w, _ = load_safetensors(f"{a.model}/model.safetensors")
    m = Bert(cfg, w).eval()
    if a.variant == "int8":
        m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
    eng = f"torch-{a.variant}"
    print(json.dumps({"engine": eng, "case": "info", "threads": a.threads,
                      "torch_version": torch.__version__,
                      "qengine": torch.backends.quantized.engine}), flush=True)
    q = 0.1 if a.quick else 1.0
    with torch.inference_mode():
        if a.golden:
            sys.path.insert(0, os.path.join(os.environ.get("QUIRE_SHARED", "../shared"), "models", "ref"))
            import base64
            import struct
            worst, n = 1.0, 0
            for line in open(a.golden):
                o = json.loads(line)
                ids = torch.tensor([o["ids"]], dtype=torch.long)
                v = m(ids)[0]
                g = torch.tensor(struct.unpack(f"<{len(v)}f", base64.b64decode(o["emb_f32_b64"])))
                c = float(torch.dot(v, g) / (v.norm() * g.norm()))
                worst, n = min(worst, c), n + 1
            print(json.dumps({"engine": eng, "case": "golden", "n": n, "min_cosine": worst}), flush=True)
        ids = make_ids(1, 32)
        for _ in range(10):
            m(ids)
        lat = []
        for _ in range(max(5, int(200 * q))):
            t0 = time.perf_counter()
            m(ids)
            lat.append((time.perf_counter() - t0) * 1e3)
        lat.sort()
        print(json.dumps({"engine": eng, "case": "b1_t32", "threads": a.threads, "iters": len(lat),
                          "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
                          "mean_ms": sum(lat) / len(lat)}), flush=True)
        ids = make_ids(32, 128)
        for _ in range(2):
            m(ids)
        iters = 2 if a.quick else 10
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            m(ids)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        # cpu_ms: this process's CPU time per batch (all threads), as bench_embed's
        print(json.dumps({"engine": eng, "case": "b32_t128", "threads": a.threads, "iters": iters,
                          "sent_per_s": 32 * iters / dt, "mean_ms": dt * 1e3 / iters,
                          "cpu_ms": dc * 1e3 / iters}), flush=True)


if __name__ == "__main__":
    main()
