#include "server/fit/backtest.h"

namespace ladder::fit {

// Written by the backtest engine's author (issue 11).
absl::StatusOr<BacktestResult> Backtest(FitForm form, const std::vector<Observation>&,
                                        const std::vector<std::string>&, const FitOptions&) {
  return absl::UnimplementedError(std::string("backtest of ") + FitFormName(form) +
                                  ": not written yet");
}

std::vector<BacktestFactorBin> BinByFactor(const std::vector<BacktestCut>&) { return {}; }

}  // namespace ladder::fit
