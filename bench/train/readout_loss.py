#!/usr/bin/env python3
"""The trainer's readout loss, chunked (worker/train/readout_loss.h) against
cross_entropy(linear(h, W)) (what it computed before), side by side: forward
+ backward of one micro-batch's readout, alternating the two for --rounds
rounds (each round runs both as fresh processes), with the ratios.

  python3 bench/train/readout_loss.py [--bench build/bin/ladder_readout_bench]
      [--device cpu|cuda] [--shapes 4096x256x256,4096x768x50304] [--rounds 3] [--threads 2]

A shape is ROWSxD_MODELxVOCAB. Reports the best-of-rounds median seconds of
each variant and their ratio (logits / chunked: > 1 means chunked is
faster), the peak resident memory above the inputs on CPU (null on CUDA),
and checks that the two agree on the loss and the gradients.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(bench, variant, rows, d, vocab, device, threads, repeats):
    out = subprocess.run([bench, "--variant", variant, "--device", device, "--rows", str(rows), "--d-model", str(d),
                          "--vocab", str(vocab), "--threads", str(threads), "--repeats", str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bin", "ladder_readout_bench"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shapes", default="4096x256x256,16384x256x256,2048x768x50304")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    print(f"{'rows x d x V':<20}{'logits s':>11}{'chunked s':>11}{'speed-up':>10}{'logits MB':>11}{'chunked MB':>12}"
          f"{'mem ratio':>10}  agree")
    for shape in a.shapes.split(","):
        rows, d, vocab = (int(x) for x in shape.split("x"))
        best = {}
        for _ in range(a.rounds):
            for variant in ("logits", "chunked"):
                r = run(a.bench, variant, rows, d, vocab, a.device, a.threads, a.repeats)
                if variant not in best or r["seconds"] < best[variant]["seconds"]:
                    best[variant] = r
        lo, ch = best["logits"], best["chunked"]
        agree = (abs(lo["loss"] - ch["loss"]) <= 1e-3 * abs(lo["loss"]) and
                 abs(lo["grad_abs_sum"] - ch["grad_abs_sum"]) <= 1e-2 * abs(lo["grad_abs_sum"]))
        mem = lambda r: f"{r['peak_bytes'] / 2**20:.0f}" if r["peak_bytes"] is not None else "n/a"
        ratio = (f"{lo['peak_bytes'] / ch['peak_bytes']:.2f}" if lo["peak_bytes"] and ch["peak_bytes"] else "n/a")
        print(f"{shape:<20}{lo['seconds']:>11.3f}{ch['seconds']:>11.3f}{lo['seconds'] / ch['seconds']:>10.2f}"
              f"{mem(lo):>11}{mem(ch):>12}{ratio:>10}  {'yes' if agree else 'NO'}")
        if not agree:
            print(f"  disagreement: {lo} vs {ch}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
