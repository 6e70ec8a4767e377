#!/usr/bin/python3
"""Side-by-side baseline: Chinchilla Approach 3 in scipy, the usual way.

Reads runs as CSV (params,tokens,loss) on stdin (ladder_fit_bench export-runs),
minimises Hoffmann et al. 2022 eq. 3 (Huber delta 1e-3 on
LSE(a - alpha log N, b - beta log D, e) - log L) with scipy's L-BFGS-B from
the same 4,500-point grid, with an analytic gradient (numpy, vectorised over
runs), keeps the best, and prints the wall time and the fit. One process, one
thread: the way replication code usually runs it. Needs python3-scipy.
"""
import csv
import itertools
import sys
import time

import numpy as np
from scipy.optimize import minimize

DELTA = 1e-3


def main():
    rows = list(csv.DictReader(sys.stdin))
    log_n = np.log([float(r["params"]) for r in rows])
    log_d = np.log([float(r["tokens"]) for r in rows])
    log_l = np.log([float(r["loss"]) for r in rows])

    def objective(theta):
        a, alpha, b, beta, e = theta
        z = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
        m = z.max(axis=0)
        w = np.exp(z - m)
        s = w.sum(axis=0)
        r = m + np.log(s) - log_l
        abs_r = np.abs(r)
        cost = np.where(abs_r <= DELTA, 0.5 * r * r, DELTA * (abs_r - 0.5 * DELTA)).sum()
        q = np.clip(r, -DELTA, DELTA) / s
        grad = np.array([(q * w[0]).sum(), -(q * w[0] * log_n).sum(), (q * w[1]).sum(),
                         -(q * w[1] * log_d).sum(), (q * w[2]).sum()])
        return cost, grad

    grid = [(a, alpha, b, beta, e)
            for alpha, beta, e, a, b in itertools.product(
                np.arange(0, 2.01, 0.5), np.arange(0, 2.01, 0.5), np.arange(-1, 1.01, 0.5),
                np.arange(0, 25.01, 5), np.arange(0, 25.01, 5))]
    t0 = time.perf_counter()
    best = None
    for start in grid:
        res = minimize(objective, np.array(start), jac=True, method="L-BFGS-B")
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    seconds = time.perf_counter() - t0
    a, alpha, b, beta, e = best.x
    print(f"scipy L-BFGS-B, {len(grid)} starts, {len(rows)} runs: {seconds:.2f} s "
          f"(objective {best.fun:.9g}; E {np.exp(e):.4f}, A {np.exp(a):.2f}, alpha {alpha:.4f}, "
          f"B {np.exp(b):.2f}, beta {beta:.4f})")


if __name__ == "__main__":
    main()
