#include "server/fit/target_loss.h"

#include <cmath>

#include "server/fit/data_budget.h"

namespace ladder::fit {
namespace {

bool Positive(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

absl::StatusOr<TargetAnswer> AnswerTargetLoss(const FitResult& chosen,
                                              const FitResult* data_constrained,
                                              const std::vector<Observation>& family_runs,
                                              const std::vector<Observation>& sweep_runs,
                                              const TargetQuestion& q) {
  const bool by_size = q.params != 0 || q.tokens != 0;
  TargetAnswer out;
  out.corpus_tokens = CorpusTokens(sweep_runs);
  const double tokens =
      by_size ? q.tokens : FitTokenRecipe(family_runs, chosen.flops_count).TokensAt(q.compute);
  if (Positive(tokens)) out.target_tokens = tokens;
  if (out.target_tokens > 0 && out.corpus_tokens > 0)
    out.epochs = out.target_tokens / out.corpus_tokens;

  out.fit = &chosen;
  if (out.epochs > 1 && !q.form_named && chosen.form != FitForm::kDataConstrained &&
      data_constrained && data_constrained->ok()) {
    out.fit = data_constrained;
  }
  absl::StatusOr<LossPrediction> p;
  if (out.fit->form == FitForm::kDataConstrained) {
    // A compute target trains on the recipe's D, so N = C / 6D (the form's count).
    const double params = by_size ? q.params : q.compute / (6 * out.target_tokens);
    p = Positive(params) && out.target_tokens > 0
            ? PredictLoss(*out.fit, params, out.target_tokens, out.corpus_tokens)
            : absl::FailedPreconditionError(
                  "data_constrained: no tokens-per-compute recipe in this sweep's runs to place "
                  "the target's N and D");
  } else {
    p = by_size ? PredictLoss(*out.fit, q.params, q.tokens)
                : PredictLossAtCompute(*out.fit, q.compute);
  }
  if (!p.ok()) return p.status();
  out.prediction = *p;
  out.epochs_warning = BeyondOneEpochWarning(out.target_tokens, out.corpus_tokens);
  if (!out.epochs_warning.empty() && out.fit->form == FitForm::kDataConstrained) {
    out.epochs_warning = out.epochs_warning.substr(0, out.epochs_warning.find(';')) +
                         "; answered by the data_constrained fit, which discounts repeated tokens";
  }
  return out;
}

}  // namespace ladder::fit
