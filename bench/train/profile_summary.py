#!/usr/bin/env python3
"""Condenses Chrome traces of training steps (Kineto: ladder-train with
LADDER_TRAIN_PROFILE, or torch.profiler in Python) into where the GPU's time
went, side by side:

  python3 bench/train/profile_summary.py NAME=trace.json [NAME=trace.json ...]

For each trace: the window from the first GPU kernel to the last, the time
some kernel was running (busy) and the gaps, then kernel time by kind
(matmul, attention, softmax/cross-entropy, normalisation, elementwise,
reduction, embedding, optimizer, copies, other) in ms per profiled window and
as a share of the window, and the heaviest kernels. Standard library only.
"""

import json
import re
import sys
from collections import defaultdict

KINDS = [
    ("matmul", re.compile(r"gemm|nvjet|cutlass|xmma|cublas|sm90_|sm80_", re.I)),
    ("attention", re.compile(r"flash|fmha|attention|efficient_attention", re.I)),
    ("softmax/xent", re.compile(r"softmax|nll_loss|cross_entropy|log_softmax", re.I)),
    ("norm", re.compile(r"layer_norm|layernorm|rmsnorm|LayerNorm", re.I)),
    ("embedding", re.compile(r"embedding|indexSelect|index_select|scatter|gather|sort|radix|segment", re.I)),
    ("optimizer", re.compile(r"adam|multi_tensor|foreach|lpnorm|norm_kernel", re.I)),
    ("reduction", re.compile(r"reduce_kernel|reduce|sum_kernel", re.I)),
    ("elementwise", re.compile(r"elementwise|vectorized|unrolled|gelu|copy_kernel|CatArray|fill", re.I)),
]


def kind_of(name):
    for kind, pattern in KINDS:
        if pattern.search(name):
            return kind
    return "other"


def load(path):
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    kernels = []
    for e in events:
        if e.get("ph") != "X":
            continue
        cat = str(e.get("cat", "")).lower()
        if cat in ("kernel", "gpu_memcpy", "gpu_memset", "cuda_runtime_kernel") or cat.startswith("kernel"):
            name = e.get("name", "?")
            if cat in ("gpu_memcpy", "gpu_memset"):
                name = cat + ": " + name
            kernels.append((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)), name))
    return kernels


def summarise(name, kernels):
    if not kernels:
        return {"name": name, "error": "no GPU kernels in the trace"}
    kernels.sort()
    start, end = kernels[0][0], max(k[1] for k in kernels)
    busy, cur_s, cur_e = 0.0, kernels[0][0], kernels[0][1]
    for s, e, _ in kernels[1:]:
        if s > cur_e:
            busy += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    busy += cur_e - cur_s
    by_kind, by_name, count = defaultdict(float), defaultdict(float), defaultdict(int)
    for s, e, n in kernels:
        if n.startswith("gpu_mem"):
            kind = "copies"
        else:
            kind = kind_of(n)
        by_kind[kind] += e - s
        by_name[n] += e - s
        count[n] += 1
    return {"name": name, "window_ms": (end - start) / 1e3, "busy_ms": busy / 1e3, "kernels": len(kernels),
            "by_kind": {k: v / 1e3 for k, v in by_kind.items()},
            "top": sorted(((v / 1e3, count[n], n) for n, v in by_name.items()), reverse=True)[:12]}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    results = []
    for arg in sys.argv[1:]:
        name, _, path = arg.partition("=")
        if not path:
            name, path = arg, arg
        results.append(summarise(name, load(path)))
    ok = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"{r['name']}: {r['error']}")
    if not ok:
        return 1
    width = max(14, max(len(r["name"]) for r in ok) + 2)
    print(f"{'':<16}" + "".join(f"{r['name']:>{width}}" for r in ok))
    print(f"{'window ms':<16}" + "".join(f"{r['window_ms']:>{width}.1f}" for r in ok))
    print(f"{'busy %':<16}" + "".join(f"{100 * r['busy_ms'] / r['window_ms']:>{width}.1f}" for r in ok))
    print(f"{'kernels':<16}" + "".join(f"{r['kernels']:>{width}}" for r in ok))
    kinds = sorted({k for r in ok for k in r["by_kind"]}, key=lambda k: -max(r["by_kind"].get(k, 0) for r in ok))
    for k in kinds:
        cells = "".join(f"{r['by_kind'].get(k, 0):>{width - 8}.1f} ({100 * r['by_kind'].get(k, 0) / r['window_ms']:4.1f}%)"
                        for r in ok)
        print(f"{k + ' ms':<16}" + cells)
    for r in ok:
        print(f"\nheaviest kernels, {r['name']} (ms, calls, name):")
        for ms, n, kname in r["top"]:
            print(f"  {ms:9.1f} {n:6d}  {kname[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
