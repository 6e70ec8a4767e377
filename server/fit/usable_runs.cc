#include "server/fit/usable_runs.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

namespace ladder::fit {

namespace {
bool Positive(double x) { return std::isfinite(x) && x > 0; }
}  // namespace

UsableRuns SelectUsableRuns(const std::vector<Observation>& runs, FlopsCount count) {
  UsableRuns out;
  int bad_loss = 0, bad_size = 0, bad_compute = 0, bad_unique = 0;
  std::set<std::string> families;
  for (const Observation& run : runs) {
    families.insert(run.family);
    if (!Positive(run.loss)) {
      ++bad_loss;
    } else if (!Positive(run.params) || !Positive(run.tokens)) {
      ++bad_size;
    } else if (!Positive(ComputeOf(run, count))) {
      ++bad_compute;
    } else if (!std::isfinite(run.unique_tokens) || run.unique_tokens < 0 ||
               !std::isfinite(run.budget) || run.budget < 0) {
      ++bad_unique;
    } else {
      out.runs.push_back(run);
    }
  }
  if (families.size() > 1) {
    std::ostringstream msg;
    msg << "runs of several families (";
    bool first = true;
    for (const std::string& f : families) {
      msg << (first ? "" : ", ") << (f.empty() ? "<none>" : f);
      first = false;
    }
    msg << "); fit one family at a time";
    out.error = msg.str();
  }
  if (!out.runs.empty()) out.family = out.runs.front().family;
  std::ostringstream why;
  auto add = [&](int n, const std::string& what) {
    if (n == 0) return;
    if (why.tellp() > 0) why << "; ";
    why << n << (n == 1 ? " run with " : " runs with ") << what;
  };
  add(bad_loss, "a non-finite or non-positive loss");
  add(bad_size, "non-positive params or tokens");
  add(bad_compute, std::string("non-positive ") + FlopsCountName(count) + " FLOPs");
  add(bad_unique, "invalid unique tokens or budget");
  out.dropped = bad_loss + bad_size + bad_compute + bad_unique;
  out.dropped_reason = why.str();
  return out;
}

int CountDistinct(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  int distinct = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i == 0 || std::abs(values[i] - values[i - 1]) > 1e-9 * std::abs(values[i])) ++distinct;
  }
  return distinct;
}

std::vector<int> SubsampleIndices(int n, int k, uint64_t seed) {
  std::vector<int> index(std::max(0, n));
  std::iota(index.begin(), index.end(), 0);
  if (k <= 0 || k >= n) return index;
  // A partial Fisher-Yates shuffle picks k distinct indices.
  std::mt19937_64 rng(seed);
  for (int i = 0; i < k; ++i) {
    std::uniform_int_distribution<int> pick(i, n - 1);
    std::swap(index[i], index[pick(rng)]);
  }
  index.resize(k);
  std::sort(index.begin(), index.end());
  return index;
}

int SubsampleRuns(int max_runs, uint64_t seed, UsableRuns* usable) {
  const int n = static_cast<int>(usable->runs.size());
  if (max_runs <= 0 || n <= max_runs) return n;
  std::vector<Observation> kept;
  kept.reserve(max_runs);
  for (int i : SubsampleIndices(n, max_runs, seed)) kept.push_back(std::move(usable->runs[i]));
  usable->runs = std::move(kept);
  return n;
}

}  // namespace ladder::fit
