// How much of a sweep's data a prediction's target needs. The laws of
// power_law_compute and chinchilla assume every token is fresh; a target
// that needs several passes over the sweep's corpus gets a loss the corpus
// cannot deliver (Muennighoff et al. 2023: repeated tokens are worth less).
// The corpus is known from the runs (Observation::corpus_tokens); the tokens
// a compute target would train on come from the sweep's own recipe, a line
// log D = intercept + slope log C through its runs (a ladder at r tokens per
// parameter has D = sqrt(C r / 6), slope 1/2; other recipes fit their own).
// Pure functions; thread-safe.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "server/fit/observation.h"

namespace ladder::fit {

struct TokenRecipe {
  double intercept = std::numeric_limits<double>::quiet_NaN();
  double slope = std::numeric_limits<double>::quiet_NaN();
  int runs = 0;  // runs behind the line

  bool ok() const;
  // exp(intercept + slope log C); NaN when !ok().
  double TokensAt(double compute) const;
};

// Least squares of log D on log C (C under `count`) over the runs with
// positive D and C; not ok() with fewer than 2 distinct computes.
TokenRecipe FitTokenRecipe(const std::vector<Observation>& runs, FlopsCount count);

// The corpus the runs drew on: the largest corpus_tokens among them (every
// run of a sweep uses the same split; a unique_tokens cap only lowers it);
// 0 when none says.
double CorpusTokens(const std::vector<Observation>& runs);

// "3.9M", "95M", "1.2B": a count with 3 significant digits and a suffix.
std::string HumanCount(double count);

// For a target past one epoch: "the target needs 18.3 epochs of the sweep's
// 3.9M-token corpus; the law assumes fresh data: expect a higher loss";
// "" within one epoch or when either count is unknown (<= 0).
std::string BeyondOneEpochWarning(double target_tokens, double corpus_tokens);

}  // namespace ladder::fit
