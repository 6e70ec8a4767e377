#!/usr/bin/python3
"""How long CPU ladder runs take, for sizing a CPU sweep.

  /usr/bin/python3 bench/train/cpu_sizing.py [--trainer build-train/worker/train/ladder-train]
      [--threads 2] [--contexts 64,128] [--batch-tokens 4096] [--tokens-per-param 20]
      [--sizes 2e4,6e4,2e5,6e5,2e6] [--rounds 2]

For each family and non-embedding parameter target N, takes the shape
ShapeForParams picks (`ladder-train shape`), measures ladder-train's training
tokens/s (median step of a short run, best of --rounds runs), and prints the
seconds a run of D = tokens_per_param x N tokens needs at that speed, plus the
final eval (eval_tokens forward-only tokens at ~3x the training speed).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import bench_cpu  # noqa: E402


def main():
    root = bench_cpu.ROOT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trainer", default=os.path.join(root, "build-train", "worker", "train", "ladder-train"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--contexts", default="64,128")
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--tokens-per-param", type=float, default=20)
    ap.add_argument("--eval-tokens", type=int, default=131072)
    ap.add_argument("--sizes", default="2e4,6e4,2e5,6e5,2e6")
    ap.add_argument("--families", default="transformer,lstm")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    args.lr = 1e-3
    data_dir = bench_cpu.prepared_data_dir()

    header = (f"{'family':<12}{'shape':<36}{'N non-emb':>10}{'total':>10}{'GFLOP/tok':>10}{'tok/s':>9}"
              f"{'D=' + format(args.tokens_per_param, 'g') + 'N':>11}{'train s':>9}{'+eval s':>9}")
    print(f"{args.threads} threads, batch {args.batch_tokens} tokens, eval {args.eval_tokens} tokens; "
          f"tokens/s = best of {args.rounds} runs (median of {args.steps} steps after {args.warmup})", flush=True)
    print(header)
    print("-" * len(header))
    total = {}
    for context in (int(c) for c in args.contexts.split(",")):
        args.context = context
        for family in args.families.split(","):
            for size in args.sizes.split(","):
                shape = bench_cpu.shape_for(args.trainer, family, float(size), context)
                tps = max(bench_cpu.bench_cpp(args.trainer, shape, args, data_dir) for _ in range(args.rounds))
                n = shape["params_non_embedding"]
                d = args.tokens_per_param * n
                train_s = d / tps
                eval_s = args.eval_tokens / (3 * tps)
                total[(context, family)] = total.get((context, family), 0) + train_s + eval_s
                print(f"{family:<12}{shape['describe']:<36}{n:>10}{shape['params_total']:>10}"
                      f"{shape['flops_per_token'] / 1e9:>10.4f}{tps:>9.0f}{d:>11.3g}{train_s:>9.0f}{eval_s:>9.0f}",
                      flush=True)
    for (context, family), s in total.items():
        print(f"context {context}, {family}: one run per size above takes {s / 60:.1f} min in all")


if __name__ == "__main__":
    main()
