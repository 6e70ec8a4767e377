#!/usr/bin/env python3
"""Converts Epoch AI's extraction of Chinchilla's Figure 4 (Besiroglu et al.
2024, data/svg_extracted_data.csv) into a `ladder import` CSV with IsoFLOP
budgets. Standard library only; deterministic.

  python3 convert.py svg_extracted_data.csv > chinchilla_isoflop.csv

Each point's training FLOP, read off the figure, scatters around the budget
its run was trained at. A point is given the nearest of the nine budgets
Hoffmann et al. (2022) document for their IsoFLOP profiles (Figure 3) when it
lies within a factor 10**0.1 (about 1.26) of it, half the smallest gap between
neighbouring budgets (6e18 and 1e19 are 0.22 decades apart), so no point could
belong to two; other points (runs off the IsoFLOP slices) keep an empty
budget and are used by the other forms only.
"""
import csv
import math
import sys

BUDGETS = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]
MAX_DECADES = 0.1


def budget_of(flops):
    best = min(BUDGETS, key=lambda b: abs(math.log10(flops / b)))
    return best if abs(math.log10(flops / best)) <= MAX_DECADES else None


def main(path):
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["family", "params", "tokens", "flops", "loss", "budget"])
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            n = float(row["Model Size"])
            c = float(row["Training FLOP"])
            budget = budget_of(c)
            out.writerow(["chinchilla", "%.6g" % n, "%.0f" % (c / (6 * n)), "%.6g" % c,
                          "%.6g" % float(row["loss"]), "%g" % budget if budget else ""])


if __name__ == "__main__":
    main(sys.argv[1])
