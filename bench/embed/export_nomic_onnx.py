#!/usr/bin/env python3
"""Export the reference NomicBERT (shared/models/ref/nomic_ref.py) to ONNX with torch.onnx.export,
for ONNX Runtime's side of bench/embed on the full-size seeded nomic-embed-text-v1.5 shape.

  /usr/bin/python3 bench/embed/export_nomic_onnx.py MODEL_DIR OUT.onnx [--shared ../shared] [--opset 17]

Inputs : input_ids, attention_mask, token_type_ids  (int64, [batch, seq], both axes dynamic;
         the same feeds as the MiniLM export, so bench/embed/ort_bench.js drives both)
Outputs: sentence_embedding [batch, hidden]  (masked mean pool + L2, inside the graph)
         last_hidden_state  [batch, seq, hidden]
The rotary cos/sin tables are computed inside the graph from the sequence length (as the
reference does), so any length up to n_positions runs.
"""
import argparse
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--shared", default=os.environ.get("QUIRE_SHARED", "../shared"))
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.abspath(a.shared), "models", "ref"))
    import torch  # noqa: E402
    from nomic_ref import load_model  # noqa: E402

    class Wrapped(torch.nn.Module):
        def __init__(self, enc):
            super().__init__()
            self.enc = enc
            # the weights as parameters, so they become named ONNX initializers
            for k, v in enc.w.items():
                self.register_parameter(k.replace(".", "__"),
                                        torch.nn.Parameter(v, requires_grad=False))
            enc.w = {k: getattr(self, k.replace(".", "__")) for k in enc.w}

        def forward(self, input_ids, attention_mask, token_type_ids):
            x = self.enc.token_states(input_ids, attention_mask, token_type_ids)
            m = attention_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1, eps=1e-12), x

    m = Wrapped(load_model(a.model_dir)).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2023, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    tt = torch.zeros_like(ids)
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
           "token_type_ids": {0: "batch", 1: "seq"}, "sentence_embedding": {0: "batch"},
           "last_hidden_state": {0: "batch", 1: "seq"}}
    with torch.no_grad():
        torch.onnx.export(m, (ids, mask, tt), a.out, opset_version=a.opset,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["sentence_embedding", "last_hidden_state"],
                          dynamic_axes=dyn, do_constant_folding=True)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes, opset {a.opset})")


if __name__ == "__main__":
    main()
