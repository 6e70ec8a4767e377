// Backtests: how far a ladder can be trusted. For each compute cut C_k (the
// distinct run computes, from the smallest cut the form can fit to all but
// the largest run), the form is refitted on the runs with C <= C_k and
// predicts every later run; each prediction reports its relative error,
// whether the 95% interval covers the measured loss, and the extrapolation
// factor C_run / C_k. SCIENCE.md, "Backtest".
//
// Pure numerics like the fits themselves: the coordinator calls it off the
// RPC path (server/backtests) and caches the answer per fit version.
// Thread-safe; uses up to FitOptions::threads threads per fit.
#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <string>
#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"

namespace ladder::fit {

struct BacktestPrediction {
  int64_t run_id = 0;
  double compute = 0;  // the run's C in the fit's count
  double params = 0;
  double tokens = 0;
  double actual_loss = 0;
  Interval predicted;  // the law's estimate and 95% interval (LossPrediction::loss)
  // Where one run's loss is expected (LossPrediction::run_loss): the law's
  // uncertainty plus the fit's residual scatter. `covered` checks this one: a
  // backtest compares the law with single runs, each with its own seed noise.
  Interval run_interval;
  double relative_error = 0;        // (predicted - actual) / actual
  bool covered = false;             // run_interval.lower <= actual <= run_interval.upper
  double extrapolation_factor = 0;  // compute / cut_compute
};

struct BacktestCut {
  std::string family;
  double cut_compute = 0;  // the largest compute among the fitted runs
  int runs_fitted = 0;
  FitStatus status = FitStatus::kFailed;
  std::string reason;
  std::vector<FitParameter> parameters;
  std::vector<BacktestPrediction> predictions;  // every run above the cut
};

// Predictions grouped by extrapolation factor: bins of half a decade
// [1, 10^0.5), [10^0.5, 10), ... (only non-empty bins are reported).
struct BacktestFactorBin {
  double min_factor = 0;
  double max_factor = 0;
  int predictions = 0;
  double mean_abs_relative_error = 0;
  double max_abs_relative_error = 0;
  double mean_relative_error = 0;
  double coverage = 0;  // fraction of predictions covered
};

struct BacktestResult {
  FitForm form = FitForm::kPowerLawCompute;
  std::vector<BacktestCut> cuts;  // by family, then by cut_compute ascending
  std::vector<BacktestFactorBin> by_factor;
};

// `runs` are a sweep's runs (any families); `families` the families to
// backtest (empty = all present). Forms: power_law_compute, chinchilla and
// data_constrained predict each later run's loss (chinchilla and
// data_constrained at the run's own N and D); power_law_shared_e refits all
// the sweep's families jointly at each cut (the cut is per family, the other
// families keep their runs up to the same compute); isoflop has no loss law:
// INVALID_ARGUMENT naming the form.
absl::StatusOr<BacktestResult> Backtest(FitForm form, const std::vector<Observation>& runs,
                                        const std::vector<std::string>& families,
                                        const FitOptions& options);

// The half-decade bins of `cuts`' predictions (what Backtest fills in).
std::vector<BacktestFactorBin> BinByFactor(const std::vector<BacktestCut>& cuts);

}  // namespace ladder::fit
