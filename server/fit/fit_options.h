// Options shared by every fit form. Defaults are the recipe of SCIENCE.md;
// the coordinator normally changes only threads and seed.
#pragma once

#include <cstdint>
#include <vector>

#include "server/fit/multistart_lbfgs.h"
#include "server/fit/observation.h"

namespace ladder::fit {

struct FitOptions {
  // Threads for starts and bootstrap resamples; <= 0 = all hardware threads.
  int threads = 0;

  // Bootstrap resamples behind every interval; 0 = no intervals (lower and
  // upper NaN). 200 gives 2.5%/97.5% quantiles from ~5 samples in each tail.
  int bootstrap_resamples = 200;
  // Seeds every resample (and the random grid starts a resample adds).
  uint64_t seed = 1;
  // A fit whose bootstrap converged in fewer than this fraction of resamples
  // is reported as failed rather than with untrustworthy intervals.
  double min_bootstrap_success = 0.5;

  // The compute axis of power_law_compute and isoflop fits (the isoflop
  // budgets must be in this count). Chinchilla and data_constrained fits
  // always use C = 6ND, the identity behind their allocation (eq. 4).
  FlopsCount flops_count = FlopsCount::kExact;

  // Approach 3 (chinchilla, data_constrained).
  double huber_delta = 1e-3;  // Hoffmann et al. 2022 eq. 3
  LbfgsOptions lbfgs;
  // Bootstrap resamples and the holdout refit start from the full-data fit's
  // best `warm_starts` distinct optima plus `extra_grid_starts` points drawn
  // (seeded) from the full grid, instead of all 4,500 grid points; the
  // coverage study in bench/fit measures that this keeps the intervals
  // honest. full_grid_refits = true runs the whole grid for every refit.
  int warm_starts = 4;
  int extra_grid_starts = 4;
  bool full_grid_refits = false;

  // Bounds on the work of one Approach 3 fit, so that a refit of thousands
  // of runs (an import) takes seconds rather than minutes and a core-minute
  // per family; fits of up to max_grid_runs runs are unchanged. 0 = no bound.
  // - Above max_fit_runs usable runs the whole fit (grid, holdout,
  //   bootstrap) uses a seeded random subset of max_fit_runs of them:
  //   runs_used says how many, details.runs_subsampled_from of how many; the
  //   intervals are the subset's (wider than all runs' would be, never
  //   narrower).
  // - Above max_grid_runs runs the 4,500-start grid runs on a seeded random
  //   subset of max_grid_runs of them (a screen), and L-BFGS then refines
  //   the screen's best screen_optima distinct optima on every run
  //   (details.grid_runs).
  int max_fit_runs = 1000;
  int max_grid_runs = 256;
  int screen_optima = 16;

  // Fit without the largest-compute run and predict it (holdout_relative_error).
  bool holdout = true;

  // power_law_compute: include loss-curve points in the compute frontier.
  // The caller decides whether runs' curves are usable (e.g. not with a
  // schedule whose loss only drops in a final anneal).
  bool frontier_uses_curves = false;

  // data_constrained: R*_D held during the stage-1 grid (Muennighoff et al.
  // 2023 fitted 15.39) and the R*_D values stage 2 starts from.
  double initial_r_star_d = 15.39;
  std::vector<double> r_star_d_starts = {1, 3, 10, 15.39, 30, 100, 300};
};

}  // namespace ladder::fit
