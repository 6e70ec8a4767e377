#!/usr/bin/python3
"""A hostile trainer for end-to-end tests: SIMULATED, it trains nothing.

It speaks the trainer line protocol (worker/TRAINER_PROTOCOL.md) well enough
to reach its `result` event, then sends one hostile value through the real
worker to the real coordinator:

  --mode nul-device   a NUL character in the result's device string
  --mode huge-loss    final_eval_loss 1e300
  --mode bad-flops    a progress line with "flops": 1e400 (out of double range)

The rest of the result is plausible for the run's plan (its tokens, and the
planned FLOPs from the config's "plan").
"""
import argparse
import json
import sys


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--work-dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", required=True)
    a = ap.parse_args()
    with open(a.config) as f:
        config = json.load(f)
    tokens = int(config["train"]["tokens"])
    fpt = float(config["plan"]["flops"]) / tokens
    emit({"event": "started", "trainer": "hostile-test-trainer (SIMULATED)", "version": "1",
          "simulated": True, "device": "cpu",
          "threads": a.threads, "params_total": 1000, "params_non_embedding": 900,
          "flops_per_token": fpt, "flops_per_token_6n": fpt, "total_steps": 1,
          "resumed_from_step": 0, "resumed_from_tokens": 0})
    if a.mode == "bad-flops":
        # json.dumps cannot write 1e400; the line is written by hand.
        sys.stdout.write('{"event": "progress", "step": 1, "tokens": %d, "flops": 1e400, '
                         '"train_loss": 3.0, "lr": 0.001, "grad_norm": 1.0, '
                         '"tokens_per_second": 1000.0, "flops_per_second": 1e6, "mfu": null, "eval_loss": null}\n' % tokens)
        sys.stdout.flush()
    else:
        emit({"event": "progress", "step": 1, "tokens": tokens, "flops": fpt * tokens,
              "train_loss": 3.0, "lr": 0.001, "grad_norm": 1.0, "tokens_per_second": 1000.0,
              "flops_per_second": 1e6, "mfu": None, "eval_loss": None})
    result = {"event": "result", "final_eval_loss": 3.0, "final_train_loss": 3.0,
              "params_total": 1000, "params_non_embedding": 900, "tokens": tokens,
              "unique_tokens": tokens, "epochs": 1.0, "flops": fpt * tokens,
              "flops_6n": fpt * tokens, "wall_seconds": 0.1, "device": "cpu",
              "simulated": True, "details": {}}
    if a.mode == "nul-device":
        result["device"] = "cpu\u0000evil"
    elif a.mode == "huge-loss":
        result["final_eval_loss"] = 1e300
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
