#!/usr/bin/env python3
"""The GPT-2-small shape (or any transformer shape) trained in PyTorch eager
Python on a GPU, as a reference for ladder-train's figures from
bench/train/gpu_mfu.sh: worker/train/python/reference_model.py (the golden
test's twin of ladder-train's model, with a plain F.cross_entropy readout),
bf16 autocast, TF32, fused AdamW, gradient clipping, the same batch and
micro-batches; random tokens (throughput does not depend on them).

  python3 bench/train/gpu_pytorch_eager.py [--vocab 50304] [--micro-tokens 65536]
      [--steps 12] [--warmup 4] [--profile trace.json]

Prints tokens/s and MFU by ladder-train's exact FLOP count (Hoffmann et al.
2022 app. F, common/model/model_counts.h, recomputed here for the shape).
--profile writes a Chrome trace of two steps after the warm-up for
bench/train/profile_summary.py.
"""

import argparse
import os
import statistics
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "worker", "train", "python"))
import reference_model  # noqa: E402

PEAK_BF16 = {"H100 80GB HBM3": 989.4e12, "H100 SXM": 989.4e12, "H200": 989.4e12}


def exact_training_flops_per_token(L, d, f, T, V, h):
    """3 x forward FLOPs per token, as common/model/model_counts.cc counts a
    GELU transformer (embedding lookup 2dV, per layer QKV 6d^2, logits 2Td,
    softmax 3hT, values 2Td, projection 2d^2, MLP 4df, readout 2dV)."""
    per_layer = 6 * d * d + 2 * T * d + 3 * h * T + 2 * T * d + 2 * d * d + 4 * d * f
    return 3 * (2 * d * V + L * per_layer + 2 * d * V)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--d-model", type=int, default=768)
    ap.add_argument("--n-head", type=int, default=12)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=50304)
    ap.add_argument("--batch-tokens", type=int, default=524288)
    ap.add_argument("--micro-tokens", type=int, default=65536)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--profile", help="write a Chrome trace of steps warmup+1..warmup+2 here")
    a = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    m = {"n_layer": a.n_layer, "d_model": a.d_model, "n_head": a.n_head, "d_ff": 4 * a.d_model,
         "context": a.context, "vocab": a.vocab, "mlp": "gelu", "positions": "learned", "tie_embeddings": True}
    torch.manual_seed(1)
    model = reference_model.LanguageModel("transformer", m).cuda()
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=6e-4, betas=(0.9, 0.95), fused=True)
    T = a.context
    sequences, micro = a.batch_tokens // T, max(1, a.micro_tokens // T)
    data = torch.randint(0, a.vocab, (sequences, T + 1), device="cuda")
    profiler = None
    times = []
    for step in range(a.warmup + a.steps):
        if a.profile and step == a.warmup:
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                          torch.profiler.ProfilerActivity.CUDA])
            profiler.__enter__()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, sequences, micro):
            x = data[i:i + micro]
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model.loss(x[:, :-1], x[:, 1:])
            (loss * (x.shape[0] / sequences)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
        if profiler is not None and step == a.warmup + 1:
            profiler.__exit__(None, None, None)
            profiler.export_chrome_trace(a.profile)
            profiler = None
    step_s = statistics.median(times)
    tps = a.batch_tokens / step_s
    fpt = exact_training_flops_per_token(a.n_layer, a.d_model, 4 * a.d_model, T, a.vocab, a.n_head)
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    mfu = f"{100 * tps * fpt / peak:.1f}%" if peak else "unknown"
    params = sum(p.numel() for p in model.parameters())
    print(f"pytorch eager L{a.n_layer} d{a.d_model} V{a.vocab} micro {micro} seq ({params:,} params) on {name}: "
          f"{tps:,.0f} tokens/s, step {step_s:.3f} s, MFU {mfu} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
