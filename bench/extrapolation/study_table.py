#!/usr/bin/python3
"""The 10x held-out study's table (run_study.sh writes the inputs).

study_table.py LADDER_RUNS.json HELDOUT_RUNS.json PREDICTIONS.jsonl

LADDER_RUNS/HELDOUT_RUNS: `ladder --json runs SWEEP`; PREDICTIONS: one JSON
object per line, {"family", "form", "prediction": `ladder --json predict`}
or {"family", "form", "error": "..."}. Prints Markdown; `covered` checks the
one-run 95% interval (run_loss: the law's interval plus the fit's residual
scatter), as a held-out run is one run with its own seed noise.
"""
import json
import sys


def runs_of(path):
    return json.load(open(path))["runs"]


def sci(x, digits=3):
    return f"{float(x):.{digits}g}"


def main():
    ladder = runs_of(sys.argv[1])
    heldout = {r["family"]: r for r in runs_of(sys.argv[2])}
    rows = [json.loads(line) for line in open(sys.argv[3]) if line.strip()]

    print("Ladder:")
    print()
    for family in sorted({r["family"] for r in ladder}):
        mine = [r for r in ladder if r["family"] == family]
        flops = sorted(float(r["flops"]) for r in mine)
        hours = sum(float(r.get("wall_seconds", 0)) for r in mine) / 3600
        print(f"- {family}: {len(mine)} runs, N {sci(min(float(r['non_embedding_params']) for r in mine))}"
              f" .. {sci(max(float(r['non_embedding_params']) for r in mine))},"
              f" C {sci(flops[0])} .. {sci(flops[-1])} FLOPs, {hours:.2f} core-hours")
    print()
    print("| family | held-out N | D | C (FLOPs) | x largest ladder C | form | predicted [law 95%]"
          " | one run 95% | measured | error | covered |")
    print("|---|---:|---:|---:|---:|---|---|---|---:|---:|---|")
    for row in rows:
        family, form = row["family"], row["form"]
        run = heldout[family]
        top = max(float(r["flops"]) for r in ladder if r["family"] == family)
        measured = float(run["final_eval_loss"])
        head = (f"| {family} | {sci(run['non_embedding_params'])} | {sci(run['tokens'])} |"
                f" {sci(run['flops'])} | {float(run['flops']) / top:.1f} | {form} |")
        if "error" in row:
            print(f"{head} {row['error'][:80]} | - | {measured:.4f} | - | - |")
            continue
        loss = row["prediction"]["loss"]
        run = row["prediction"].get("run_loss", loss)  # one run: the law's interval + run scatter
        est, lo, hi = float(loss["estimate"]), float(loss["lower"]), float(loss["upper"])
        run_lo, run_hi = float(run["lower"]), float(run["upper"])
        err = (est - measured) / measured
        covered = "yes" if run_lo <= measured <= run_hi else "no"
        print(f"{head} {est:.4f} [{lo:.4f}, {hi:.4f}] | [{run_lo:.4f}, {run_hi:.4f}] |"
              f" {measured:.4f} | {100 * err:+.2f}% | {covered} |")
        warnings = row["prediction"].get("warnings", [])
        if warnings:
            print(f"|  |  |  |  |  | | warnings: {'; '.join(warnings)} | | | | |")


if __name__ == "__main__":
    main()
