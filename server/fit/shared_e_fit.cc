#include "server/fit/shared_e_fit.h"

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/fit/bootstrap.h"
#include "server/fit/compute_frontier.h"
#include "server/fit/fit_support.h"
#include "server/fit/frontier_power_law.h"
#include "server/fit/law_vector.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

// Each family brings its own A and alpha, so it needs 3 frontier points to
// say anything about E (2 would fit its (A, alpha) exactly whatever E is).
// Bootstrap resamples are held to the same, so every sample constrains E
// through every family. With at least two such families the joint fit has
// 3F >= (1 + 2F) + 1 points: more than its parameters.
constexpr int kMinFamilyFrontierPoints = 3;
constexpr int kMinFamilies = 2;
constexpr const char* kForm = "power_law_shared_e";

// A family that takes part in the joint fit.
struct Member {
  std::string family;
  std::vector<Observation> runs;  // its usable runs
  std::vector<FrontierPoint> frontier;
  uint64_t seed = 0;  // of its bootstrap resamples
  FitResult* result = nullptr;
};

// FNV-1a: a family's resamples are seeded from its name, so they do not
// change when another family joins or leaves the sweep.
uint64_t NameHash(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Validates one family's runs and computes its frontier; a family that
// cannot take part gets its status and reason and is not returned.
std::optional<Member> Admit(const std::string& family, const std::vector<Observation>& input,
                            const FitOptions& options, const internal::Stopwatch& clock,
                            FitResult* result) {
  result->form = FitForm::kPowerLawSharedE;
  result->flops_count = options.flops_count;
  result->details["use_curves"] = options.frontier_uses_curves;
  const UsableRuns usable = SelectUsableRuns(input, options.flops_count);
  internal::RecordUsable(usable, result);
  result->family = family;  // also when no run passed
  if (!usable.error.empty()) {
    *result = internal::Finish(*result, FitStatus::kFailed, usable.error, clock);
    return std::nullopt;
  }
  Member m;
  m.family = family;
  m.runs = usable.runs;
  m.frontier = ComputeFrontier(m.runs, options.flops_count, options.frontier_uses_curves);
  m.seed = ResampleSeed(options.seed, 0, NameHash(family));
  m.result = result;
  result->details["frontier_points"] = m.frontier.size();
  if (static_cast<int>(m.frontier.size()) < kMinFamilyFrontierPoints) {
    std::string why = std::to_string(m.frontier.size()) + " points on the compute frontier from " +
                      std::to_string(m.runs.size()) + " usable runs";
    if (!usable.dropped_reason.empty()) why += " (dropped " + usable.dropped_reason + ")";
    *result = internal::Finish(*result, FitStatus::kInsufficientData,
                               why + "; " + kForm + " needs at least " +
                                   std::to_string(kMinFamilyFrontierPoints) + " per family",
                               clock);
    return std::nullopt;
  }
  result->details["frontier_runs"] = FrontierRuns(m.frontier);
  for (const Observation& run : m.runs) {
    internal::RecordScale(ComputeOf(run, options.flops_count), run.params * run.tokens, result);
  }
  return m;
}

// Why the members cannot be fitted together (empty when they can).
std::string TooFewReason(const std::map<std::string, std::vector<Observation>>& by_family,
                         const std::vector<Member>& members) {
  if (static_cast<int>(members.size()) >= kMinFamilies) {
    int points = 0;
    for (const Member& m : members) points += static_cast<int>(m.frontier.size());
    const int needed = 1 + 2 * static_cast<int>(members.size()) + 1;
    if (points >= needed) return "";
    return std::to_string(points) + " frontier points over " + std::to_string(members.size()) +
           " families; " + kForm + " needs at least " + std::to_string(needed);
  }
  if (by_family.size() < kMinFamilies) {
    return std::string(kForm) + " fits two or more families together (one E); this sweep has " +
           std::to_string(by_family.size()) + (by_family.size() == 1 ? " family" : " families");
  }
  return std::string(kForm) + " needs at least two families with " +
         std::to_string(kMinFamilyFrontierPoints) + " compute-frontier points each; " +
         (members.empty() ? "none has" : "only " + members[0].family + " has");
}

std::vector<std::vector<FrontierPoint>> Frontiers(const std::vector<Member>& members) {
  std::vector<std::vector<FrontierPoint>> out;
  for (const Member& m : members) out.push_back(m.frontier);
  return out;
}

// The joint refit of every member's runs weighted by counts[f]; nullopt when
// the resample leaves too few frontier points or no start converged. A
// resample (or holdout) refit only needs the joint law determined: every
// family 2 points (its A and alpha given E) and 1 + 2F points in all, so at
// least one family places E. Requiring 3 per family instead failed most
// resamples of a 4-run rung pair (each family keeps >= 3 distinct runs of 4
// in 66% of draws, both in 43%) and with them the whole fit.
constexpr int kMinResampleFamilyPoints = 2;

std::optional<FrontierLawSolution> Refit(const std::vector<Member>& members,
                                         const std::vector<std::vector<int>>& counts,
                                         const std::vector<PowerLawInCompute>& start,
                                         const FitOptions& options) {
  std::vector<std::vector<FrontierPoint>> frontiers;
  size_t points = 0;
  for (size_t f = 0; f < members.size(); ++f) {
    frontiers.push_back(ComputeFrontier(members[f].runs, options.flops_count,
                                        options.frontier_uses_curves, counts[f]));
    if (static_cast<int>(frontiers.back().size()) < kMinResampleFamilyPoints) return std::nullopt;
    points += frontiers.back().size();
  }
  if (points < 1 + 2 * members.size()) return std::nullopt;
  return SolveFrontierLaws(frontiers, start);
}

// Each member's holdout: the joint fit without that family's largest run
// (the other families keep all theirs) predicts it.
void RecordHoldouts(const std::vector<Member>& members, const std::vector<PowerLawInCompute>& best,
                    const FitOptions& options) {
  for (size_t f = 0; f < members.size(); ++f) {
    internal::RecordHoldout(
        members[f].runs, options.flops_count,
        [&](const std::vector<int>& counts, int held) -> std::optional<double> {
          std::vector<std::vector<int>> all(members.size());
          all[f] = counts;
          const std::optional<FrontierLawSolution> fit = Refit(members, all, best, options);
          if (!fit) return std::nullopt;
          return fit->laws[f].Loss(ComputeOf(members[f].runs[held], options.flops_count));
        },
        members[f].result);
  }
}

// Resamples every family's runs (each from its own seed) and refits them
// jointly; sample k of every family comes from the same refit. Returns a
// failure reason, empty when the bootstrap is fine.
std::string Bootstrap(const std::vector<Member>& members,
                      const std::vector<PowerLawInCompute>& best, const FitOptions& options) {
  const BootstrapOutcome joint = RunBootstrap(
      options.bootstrap_resamples, options.threads,
      [&](int k) -> std::optional<std::vector<double>> {
        std::vector<std::vector<int>> counts;
        for (const Member& m : members) {
          counts.push_back(ResampleCounts(static_cast<int>(m.runs.size()), m.seed, k));
        }
        const std::optional<FrontierLawSolution> fit = Refit(members, counts, best, options);
        if (!fit) return std::nullopt;
        std::vector<double> v;  // {E, A_1, alpha_1, A_2, alpha_2, ...}
        v.push_back(fit->laws[0].E);
        for (const PowerLawInCompute& law : fit->laws) v.insert(v.end(), {law.A, law.alpha});
        return v;
      });
  std::string problem;
  for (size_t f = 0; f < members.size(); ++f) {
    BootstrapOutcome own = joint;
    own.samples.clear();
    for (const std::vector<double>& v : joint.samples) {
      own.samples.push_back({v[0], v[1 + 2 * f], v[2 + 2 * f]});
    }
    FitResult* r = members[f].result;
    problem = internal::AcceptBootstrap(std::move(own), options, r);
    r->parameters = ReportedParameters(FitForm::kPowerLawSharedE, r->law, r->law_samples);
  }
  return problem;  // the same for every family: the counts are shared
}

}  // namespace

std::map<std::string, FitResult> FitSharedE(
    const std::map<std::string, std::vector<Observation>>& by_family, const FitOptions& options) {
  internal::Stopwatch clock;
  std::map<std::string, FitResult> out;
  std::vector<Member> members;
  for (const auto& [family, runs] : by_family) {
    FitResult* result = &out[family];
    if (std::optional<Member> m = Admit(family, runs, options, clock, result)) {
      members.push_back(std::move(*m));
    }
  }
  auto finish_all = [&](FitStatus status, const std::string& reason) {
    for (Member& m : members) *m.result = internal::Finish(*m.result, status, reason, clock);
    return out;
  };
  if (std::string why = TooFewReason(by_family, members); !why.empty()) {
    return finish_all(FitStatus::kInsufficientData, why);
  }
  nlohmann::json shared_with = nlohmann::json::array();
  for (const Member& m : members) shared_with.push_back(m.family);

  const std::optional<FrontierLawSolution> best = SolveFrontierLaws(Frontiers(members));
  if (!best) return finish_all(FitStatus::kFailed, "no start converged to a finite joint fit");
  std::string flat_family;
  for (size_t f = 0; f < members.size(); ++f) {
    FitResult* r = members[f].result;
    r->details["shared_with"] = shared_with;
    r->law = ToVector(best->laws[f]);
    r->rmse_log_loss = internal::Rmse(FrontierLogResiduals(best->laws[f], members[f].frontier));
    r->parameters = ReportedParameters(FitForm::kPowerLawSharedE, r->law, {});
    if (!(best->laws[f].alpha > 1e-9) && flat_family.empty()) flat_family = members[f].family;
  }
  if (!flat_family.empty()) {
    return finish_all(FitStatus::kFailed, "fitted alpha = 0 for " + flat_family +
                                              ": its loss does not fall with compute on the "
                                              "frontier, so it cannot share E with the others");
  }
  if (options.holdout) RecordHoldouts(members, best->laws, options);
  if (std::string problem = Bootstrap(members, best->laws, options); !problem.empty()) {
    return finish_all(FitStatus::kFailed, problem);
  }
  return finish_all(FitStatus::kOk, "");
}

}  // namespace ladder::fit
