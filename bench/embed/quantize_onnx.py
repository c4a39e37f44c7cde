#!/usr/bin/env python3
"""bench/embed/quantize_onnx.py — the int8 ONNX Runtime peer of bench/embed.

  /usr/bin/python3 bench/embed/quantize_onnx.py build/models/minilm.onnx build/models/minilm-int8.onnx

Rewrites every MatMul whose second input is a 2-D weight initializer the way ONNX Runtime's
own dynamic quantization (onnxruntime.quantization.quantize_dynamic, per_channel=True,
weight_type=QInt8) does, with only Debian's python3-onnx:

  X -> DynamicQuantizeLinear -> (Xq uint8, Xs, Xzp)   (per tensor: one scale per call)
  MatMulInteger(Xq, Wq int8 [K][N], Xzp, 0) -> int32 -> Cast float -> * (Xs * Ws[N])

Wq is symmetric per output column (Ws = max|W[:, n]| / 127). ONNX Runtime fuses the pattern
into its MatMulIntegerToFloat kernel (MLAS u8s8 GEMM: AVX2 / AVX512-VNNI / AMX where present).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(src, dst):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes, new_inits, done = [], [], 0
    for n in g.node:
        w = inits.get(n.input[1]) if n.op_type == "MatMul" and len(n.input) == 2 else None
        if w is None or len(w.dims) != 2:
            new_nodes.append(n)
            continue
        W = numpy_helper.to_array(w).astype(np.float32)  # [K][N]
        amax = np.abs(W).max(axis=0)
        ws = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        wq = np.clip(np.round(W / ws), -127, 127).astype(np.int8)
        p = f"{n.name or n.output[0]}_q"
        new_inits += [numpy_helper.from_array(wq, p + "_W"),
                      numpy_helper.from_array(ws, p + "_Ws"),
                      numpy_helper.from_array(np.zeros(W.shape[1], np.int8), p + "_Wzp")]
        x = n.input[0]
        new_nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [p + "_Xq", p + "_Xs", p + "_Xzp"], name=p + "_dq"),
            helper.make_node("MatMulInteger", [p + "_Xq", p + "_W", p + "_Xzp", p + "_Wzp"], [p + "_Y32"], name=p + "_mmi"),
            helper.make_node("Cast", [p + "_Y32"], [p + "_Yf"], to=TensorProto.FLOAT, name=p + "_cast"),
            helper.make_node("Mul", [p + "_Xs", p + "_Ws"], [p + "_S"], name=p + "_sc"),
            helper.make_node("Mul", [p + "_Yf", p + "_S"], [n.output[0]], name=p + "_mul"),
        ]
        done += 1
    used = {i for nd in new_nodes for i in nd.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    print(f"quantize_onnx: {done} MatMul weights -> int8 (per column), {dst}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
