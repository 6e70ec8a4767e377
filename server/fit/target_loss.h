// The loss at a target, and what it stands on: the one place that decides,
// for a question "what loss at (N, D)?" or "at compute C?", which fit
// answers once the data behind the target are known. Used by the Fits API
// (FitQueries::PredictLoss) and by the refit loop's dashboard gauges, so the
// two always agree.
//
// The target's tokens are given (N, D) or the sweep family's own recipe at C
// (data_budget.h FitTokenRecipe); epochs = tokens / the sweep's corpus.
// Beyond one epoch the fresh-data laws are optimistic, so when the caller
// left the form open and the family has an ok data_constrained fit, that fit
// answers (at N = C / 6D for a compute target); otherwise the chosen fit
// answers and a warning says the target repeats data.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "server/fit/fit_result.h"
#include "server/fit/observation.h"
#include "server/fit/prediction.h"

namespace ladder::fit {

struct TargetQuestion {
  double params = 0;  // with tokens: a (N, D) question
  double tokens = 0;
  double compute = 0;       // else: a compute question
  bool form_named = false;  // the caller asked for one form: never switch
};

struct TargetAnswer {
  const FitResult* fit = nullptr;  // the fit that answered
  LossPrediction prediction;
  double target_tokens = 0;    // 0 = unknown
  double corpus_tokens = 0;    // 0 = unknown
  double epochs = 0;           // 0 = unknown
  std::string epochs_warning;  // "" within one epoch (or unknown)
};

// `chosen`: the ok fit the question's form order picked; `data_constrained`:
// the family's ok data_constrained fit, or nullptr; `family_runs` and
// `sweep_runs` the observations of the family and of the whole sweep.
absl::StatusOr<TargetAnswer> AnswerTargetLoss(const FitResult& chosen,
                                              const FitResult* data_constrained,
                                              const std::vector<Observation>& family_runs,
                                              const std::vector<Observation>& sweep_runs,
                                              const TargetQuestion& question);

}  // namespace ladder::fit
