#include "server/fit/data_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ladder::fit {

bool TokenRecipe::ok() const {
  return runs >= 2 && std::isfinite(intercept) && std::isfinite(slope);
}

double TokenRecipe::TokensAt(double compute) const {
  if (!ok() || !(compute > 0)) return std::numeric_limits<double>::quiet_NaN();
  return std::exp(intercept + slope * std::log(compute));
}

TokenRecipe FitTokenRecipe(const std::vector<Observation>& runs, FlopsCount count) {
  std::vector<double> x, y;
  for (const Observation& run : runs) {
    const double c = ComputeOf(run, count);
    if (!(c > 0) || !(run.tokens > 0) || !std::isfinite(c) || !std::isfinite(run.tokens)) continue;
    x.push_back(std::log(c));
    y.push_back(std::log(run.tokens));
  }
  TokenRecipe recipe;
  const double n = static_cast<double>(x.size());
  if (x.size() < 2) return recipe;
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  // One compute (or computes equal to rounding) determines no line.
  if (!(sxx > 1e-12 * n)) return recipe;
  recipe.slope = sxy / sxx;
  recipe.intercept = my - recipe.slope * mx;
  recipe.runs = static_cast<int>(x.size());
  return recipe;
}

double CorpusTokens(const std::vector<Observation>& runs) {
  double corpus = 0;
  for (const Observation& run : runs) {
    if (std::isfinite(run.corpus_tokens)) corpus = std::max(corpus, run.corpus_tokens);
  }
  return corpus;
}

std::string HumanCount(double count) {
  static const char* const kSuffixes[] = {"", "k", "M", "B", "T"};
  int k = 0;
  double v = count;
  while (std::abs(v) >= 999.5 && k < 4) {
    v /= 1000;
    ++k;
  }
  char buffer[48];
  if (std::abs(v) >= 999.5) {
    std::snprintf(buffer, sizeof buffer, "%.3g", count);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.3g%s", v, kSuffixes[k]);
  }
  return buffer;
}

std::string BeyondOneEpochWarning(double target_tokens, double corpus_tokens) {
  if (!(target_tokens > 0) || !(corpus_tokens > 0)) return "";
  const double epochs = target_tokens / corpus_tokens;
  if (!(epochs > 1)) return "";
  char buffer[32];
  // Two decimals below 10 ("1.02 epochs", never a bare "1 epochs").
  std::snprintf(buffer, sizeof buffer, epochs < 10 ? "%.2f" : "%.3g", epochs);
  return std::string("the target needs ") + buffer + " epochs of the sweep's " +
         HumanCount(corpus_tokens) +
         "-token corpus; the law assumes fresh data: expect a higher loss";
}

}  // namespace ladder::fit
