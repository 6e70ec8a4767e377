#!/usr/bin/python3
"""Training throughput of ladder-train vs the same model in PyTorch eager
Python, on the same machine, threads, batch and data, side by side.

  /usr/bin/python3 bench/train/bench_cpu.py [--trainer build-train/worker/train/ladder-train]
      [--threads 2] [--rounds 3] [--steps 12] [--warmup 3] [--sizes 1e5,1e6,4e6]

For each family (transformer, lstm) and size (non-embedding parameters; the
shape comes from ShapeForParams via `ladder-train shape`), it alternates, for
--rounds rounds, one ladder-train run and one Python run of --warmup +
--steps optimizer steps each, and measures every step's tokens/s (forward,
backward, clipping, AdamW; no eval). A side's figure is the best over rounds
of the median step throughput (the best round is the one least disturbed by
other work on the machine); "paired" is the median over rounds of the ratio
of the two runs of one round (run back to back, so under similar load). The Python side is worker/train/python/
reference_model.py (the golden test's twin, same parameters and ops), trained
with torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW(foreach=True) (the
faster of its two implementations here), batches gathered from the same
kjv windows. Needs python3-torch; the kjv corpus is prepared into a temporary
directory if LADDER_DATA_DIR has none.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "worker", "train", "python"))
import reference_model  # noqa: E402


_tmp_data = None


def prepared_data_dir():
    """$LADDER_DATA_DIR (or ~/.cache/ladder/data) if kjv is prepared there,
    else a temporary directory prepared with deploy/data/prepare-kjv.sh."""
    global _tmp_data
    data_dir = os.environ.get("LADDER_DATA_DIR", os.path.expanduser("~/.cache/ladder/data"))
    if os.path.exists(os.path.join(data_dir, "kjv", "train.u8")):
        return data_dir
    if _tmp_data is None:
        _tmp_data = tempfile.TemporaryDirectory()
        subprocess.run([os.path.join(ROOT, "deploy", "data", "prepare-kjv.sh"), _tmp_data.name], check=True,
                       stderr=subprocess.DEVNULL)
    return _tmp_data.name


def shape_for(trainer, family, params, context):
    out = subprocess.run([trainer, "shape", "--family", family, "--params", str(params), "--context", str(context)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def run_config(shape, steps, batch_tokens, lr):
    return {"run_id": 0, "family": shape["family"], "model": shape["model"],
            "train": {"tokens": steps * batch_tokens, "batch_tokens": batch_tokens, "lr": lr, "warmup_fraction": 0.05,
                      "weight_decay": 0.1, "grad_clip": 1.0, "seed": 1, "eval_tokens": shape["model"]["context"],
                      "eval_interval_tokens": 0, "log_interval_steps": 1, "checkpoint_interval_seconds": 0},
            "data": {"dataset": "kjv"}}


def bench_cpp(trainer, shape, args, data_dir):
    """Median tokens/s over the measured steps of one ladder-train run."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "run.json")
        with open(cfg, "w") as f:
            json.dump(run_config(shape, args.warmup + args.steps, args.batch_tokens, args.lr), f)
        p = subprocess.run([trainer, "--config", cfg, "--work-dir", os.path.join(tmp, "w"), "--device", "cpu",
                            "--threads", str(args.threads)], capture_output=True, text=True,
                           env=dict(os.environ, LADDER_DATA_DIR=data_dir))
        if p.returncode != 0:
            raise RuntimeError(f"ladder-train failed: {p.stderr[-2000:]}")
        events = [json.loads(line) for line in p.stdout.splitlines()]
    rates = [e["tokens_per_second"] for e in events if e["event"] == "progress" and e["step"] > args.warmup]
    return statistics.median(rates)


def bench_python(shape, args, train_tokens, foreach):
    """Median tokens/s over the measured steps of the same loop in Python."""
    torch.manual_seed(1)
    m = shape["model"]
    model = reference_model.LanguageModel(shape["family"], m)
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=args.lr, betas=(0.9, 0.95), eps=1e-8, foreach=foreach)
    T = m["context"]
    B = args.batch_tokens // T
    total = args.warmup + args.steps
    warmup_steps = round(0.05 * total)
    windows = len(train_tokens) // T - 1
    rng = np.random.default_rng(1)
    rates = []
    for step in range(total):
        t0 = time.perf_counter()
        lr = args.lr * (step + 1) / warmup_steps if step < warmup_steps else \
            args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, total - warmup_steps - 1))))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, windows, B) * T
        tokens = torch.from_numpy(np.stack([train_tokens[s:s + T + 1] for s in starts]).astype(np.int64))
        x, y = tokens[:, :T], tokens[:, 1:]
        loss = model.loss(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        if step >= args.warmup:
            rates.append(B * T / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trainer", default=os.path.join(ROOT, "build-train", "worker", "train", "ladder-train"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--sizes", default="1e5,1e6,4e6", help="non-embedding parameter targets")
    ap.add_argument("--families", default="transformer,lstm")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    data_dir = prepared_data_dir()
    train_tokens = np.fromfile(os.path.join(data_dir, "kjv", "train.u8"), dtype=np.uint8)

    # Python AdamW with foreach=True: faster here than its default
    # single-tensor loop (about 15% of a small model's step).
    foreach = True

    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch_tokens} tokens, context {args.context}, "
          f"{args.rounds} rounds x {args.steps} steps (+{args.warmup} warmup), python AdamW foreach={foreach}, "
          f"load average before {os.getloadavg()[0]:.2f}", flush=True)
    header = f"{'family':<12}{'shape':<34}{'params':>10}{'ladder-train tok/s':>20}{'PyTorch eager tok/s':>21}{'ratio':>8}{'paired':>8}"
    print(header)
    print("-" * len(header))
    rows = []
    for family in args.families.split(","):
        for size in args.sizes.split(","):
            shape = shape_for(args.trainer, family, float(size), args.context)
            cpp, py = [], []
            for _ in range(args.rounds):
                cpp.append(bench_cpp(args.trainer, shape, args, data_dir))
                py.append(bench_python(shape, args, train_tokens, foreach))
            c, p = max(cpp), max(py)
            paired = statistics.median(a / b for a, b in zip(cpp, py))
            rows.append({"family": family, "shape": shape["describe"], "params_non_embedding": shape["params_non_embedding"],
                         "ladder_train_tokens_per_second": c, "pytorch_tokens_per_second": p, "ratio": c / p,
                         "paired_ratio_median": paired, "ladder_train_rounds": cpp, "pytorch_rounds": py})
            print(f"{family:<12}{shape['describe']:<34}{shape['params_non_embedding']:>10}{c:>20.0f}{p:>21.0f}{c / p:>8.2f}"
                  f"{paired:>8.2f}", flush=True)
    print(f"load average after {os.getloadavg()[0]:.2f}; ratio = ladder-train / PyTorch of the best rounds "
          f"(>= 1.0: ladder-train is faster); paired = median over rounds of the ratio within a round")
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_cpu.json"), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
