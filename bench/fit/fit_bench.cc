// ladder_fit_bench: figures for the scaling-law engine (server/fit), on
// SIMULATED runs (simulated_observations.h) from known laws with 1%
// multiplicative noise. Prints plain text; nothing is asserted.
//
//   ladder_fit_bench grid      [--repeats 3]            Approach 3, 4,500 starts, 250 runs, 1 and 2
//   threads ladder_fit_bench bootstrap [--resamples 200]        a full chinchilla fit with its
//   bootstrap ladder_fit_bench predict   [--calls 100000]         prediction latency p50/p99
//   ladder_fit_bench coverage  [--reps 100] [--resamples 200]
//                                                       recovery and interval coverage over seeds
//   ladder_fit_bench warmstart [--datasets 3] [--resamples 20]
//                                                       warm-started refits vs the full grid
//   ladder_fit_bench import    [--runs 5000] [--resamples 200]
//                                                       one refit of an imported family of that
//                                                       many runs (power_law_compute + chinchilla)
//   ladder_fit_bench export-runs                        the 250 simulated runs of `grid`, as CSV
//                                                       (N,D,loss) for scipy_approach3.py
//   common: --threads 2
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "server/fit/approach3.h"
#include "server/fit/bootstrap.h"
#include "server/fit/chinchilla_fit.h"
#include "server/fit/family_comparison.h"
#include "server/fit/fit.h"
#include "server/fit/fit_json.h"
#include "server/fit/isoflop_fit.h"
#include "server/fit/power_law_fit.h"
#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Args {
  std::map<std::string, double> values;
  double Get(const std::string& key, double fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
};

std::vector<Observation> ChinchillaRuns(uint64_t seed) {
  return SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(), 0.01, seed);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ------------------------------------------------------------------ grid
void Grid(const Args& args) {
  const int repeats = static_cast<int>(args.Get("repeats", 3));
  const std::vector<Observation> runs = ChinchillaRuns(7);
  std::printf("Approach 3 full grid: %zu starts, %zu simulated runs, no bootstrap, no holdout\n",
              Approach3StartGrid().size(), runs.size());
  std::vector<int> thread_counts = {1, 2};
  if (args.values.count("threads")) thread_counts = {static_cast<int>(args.Get("threads", 1))};
  for (int threads : thread_counts) {
    FitOptions options;
    options.threads = threads;
    options.bootstrap_resamples = 0;
    options.holdout = false;
    std::vector<double> times;
    FitResult fit;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = Clock::now();
      fit = FitChinchilla(runs, options);
      times.push_back(Since(t0));
    }
    std::printf(
        "  threads %d: min %.3f s, median %.3f s over %d repeats (status %s, %d of %d "
        "starts converged, alpha %.4f, beta %.4f)\n",
        threads, *std::min_element(times.begin(), times.end()), Median(times), repeats,
        FitStatusName(fit.status), fit.details.value("starts_converged", 0),
        fit.details.value("starts", 0), fit.law[2], fit.law[4]);
  }
}

// ------------------------------------------------------------- bootstrap
void Bootstrap(const Args& args) {
  FitOptions options;
  options.threads = static_cast<int>(args.Get("threads", 2));
  options.bootstrap_resamples = static_cast<int>(args.Get("resamples", 200));
  const std::vector<Observation> runs = ChinchillaRuns(7);
  const FitResult fit = FitChinchilla(runs, options);
  std::printf("Chinchilla fit on %zu simulated runs, %d threads, %d bootstrap resamples (%s)\n",
              runs.size(), options.threads, options.bootstrap_resamples,
              fit.details.value("refit_starts", std::string()).c_str());
  std::printf("  grid %.3f s, holdout %.3f s, bootstrap %.3f s (%d converged), total %.3f s\n",
              fit.details.value("grid_seconds", 0.0), fit.details.value("holdout_seconds", 0.0),
              fit.details.value("bootstrap_seconds", 0.0), fit.bootstrap_resamples,
              fit.fit_seconds);
  for (const FitParameter& p : fit.parameters) {
    std::printf("  %-6s %12.5g  [%12.5g, %12.5g]\n", p.name.c_str(), p.value.estimate,
                p.value.lower, p.value.upper);
  }
}

// ---------------------------------------------------------------- import
// What the coordinator's refit does for one family of an imported sweep
// (Sweeps.ImportResults, no budgets or unique tokens): power_law_compute and
// chinchilla with the coordinator's defaults (200 resamples, all threads
// given). The runs: a sqrt(runs) x sqrt(runs) grid of N and D.
void Import(const Args& args) {
  const int want = static_cast<int>(args.Get("runs", 5000));
  const int side = std::max(3, static_cast<int>(std::lround(std::sqrt(want))));
  FitOptions options;
  options.threads = static_cast<int>(args.Get("threads", 2));
  options.bootstrap_resamples = static_cast<int>(args.Get("resamples", 200));
  const std::vector<Observation> runs =
      SimulateGrid(PublishedChinchillaLaw(), LogSpaced(1e7, 1e9, side), LogSpaced(2e8, 2e10, side),
                   0.01, 7, "imported");
  std::printf("refit of one imported family: %zu simulated runs, %d threads, %d resamples\n",
              runs.size(), options.threads, options.bootstrap_resamples);
  double total = 0;
  for (FitForm form : {FitForm::kPowerLawCompute, FitForm::kChinchilla}) {
    const auto t0 = Clock::now();
    const FitResult fit = FitScalingLaw(form, runs, options);
    const double s = Since(t0);
    total += s;
    std::printf("  %-18s %-8s %7.3f s  runs_used %d", FitFormName(form), FitStatusName(fit.status),
                s, fit.runs_used);
    if (form == FitForm::kChinchilla) {
      std::printf("  (grid %.3f s on %d runs, bootstrap %.3f s)",
                  fit.details.value("grid_seconds", 0.0),
                  fit.details.value("grid_runs", fit.runs_used),
                  fit.details.value("bootstrap_seconds", 0.0));
    }
    std::printf("\n");
    for (const FitParameter& p : fit.parameters) {
      std::printf("    %-6s %12.5g  [%12.5g, %12.5g]\n", p.name.c_str(), p.value.estimate,
                  p.value.lower, p.value.upper);
    }
  }
  std::printf("  total %.3f s\n", total);
}

// --------------------------------------------------------------- predict
void Predict(const Args& args) {
  const int calls = static_cast<int>(args.Get("calls", 100000));
  FitOptions options;
  options.threads = static_cast<int>(args.Get("threads", 2));
  const FitResult chin = FitChinchilla(ChinchillaRuns(7), options);
  const FitResult power = FitPowerLawCompute(
      SimulatePowerLawRuns({1.8, 50.0, 0.1}, LogSpaced(1e15, 1e19, 20), 0.01, 3), options);
  const FitResult power_b = FitPowerLawCompute(
      SimulatePowerLawRuns({1.8, 30.0, 0.08}, LogSpaced(1e15, 1e19, 20), 0.01, 4), options);
  const std::string stored = FitResultToJson(chin).dump();
  std::printf(
      "Prediction latency, %d calls each, %zu bootstrap samples per fit (stored fit %zu bytes)\n",
      calls, chin.law_samples.size(), stored.size());
  auto time = [&](const char* name, int n, const std::function<void(int)>& call) {
    std::vector<double> us(n);
    for (int i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      call(i);
      us[i] = Since(t0) * 1e6;
    }
    std::sort(us.begin(), us.end());
    std::printf("  %-44s p50 %8.2f us  p99 %8.2f us  max %8.2f us\n", name, us[n / 2],
                us[static_cast<size_t>(0.99 * (n - 1))], us.back());
  };
  double sink = 0;
  time("PredictLoss (chinchilla, N, D)", calls,
       [&](int i) { sink += PredictLoss(chin, 1e9 * (1 + i % 7), 2e10)->loss.upper; });
  time("PredictLossAtCompute (chinchilla)", calls,
       [&](int i) { sink += PredictLossAtCompute(chin, 1e22 * (1 + i % 7))->loss.upper; });
  time("PredictOptimalAllocation (chinchilla)", calls,
       [&](int i) { sink += PredictOptimalAllocation(chin, 1e22 * (1 + i % 7))->params.upper; });
  time("PredictLossAtCompute (power_law_compute)", calls,
       [&](int i) { sink += PredictLossAtCompute(power, 1e21 * (1 + i % 7))->loss.upper; });
  time("CompareFamilies (9 points)", calls / 10, [&](int i) {
    sink += (*CompareFamilies(power, power_b, 1e15, 1e21 * (1 + i % 3), 9))[0].gain.upper;
  });
  time("FitResultFromJson (parse a stored chinchilla fit)", calls / 100,
       [&](int) { sink += FitResultFromJson(nlohmann::json::parse(stored))->law[0]; });
  std::printf("  (checksum %g)\n", sink);
}

// -------------------------------------------------------------- coverage
struct Tally {
  int n = 0, hits = 0;
  void Add(bool hit) {
    ++n;
    hits += hit;
  }
  std::string Str() const { return std::to_string(hits) + "/" + std::to_string(n); }
};

bool Covers(const Interval& i, double truth) { return i.lower <= truth && truth <= i.upper; }

void Coverage(const Args& args) {
  const int reps = static_cast<int>(args.Get("reps", 100));
  FitOptions options;
  options.threads = static_cast<int>(args.Get("threads", 2));
  options.bootstrap_resamples = static_cast<int>(args.Get("resamples", 200));

  // Chinchilla Approach 3 on 250 runs (MISSION.md figures).
  const ChinchillaLaw truth = PublishedChinchillaLaw();
  Tally ok, alpha, beta, both, loss1, loss_cover, alpha_cover, beta_cover, a_cover;
  std::vector<double> loss_err, seconds;
  const auto t0 = Clock::now();
  for (int rep = 1; rep <= reps; ++rep) {
    options.seed = 1000 + rep;
    const FitResult fit = FitChinchilla(ChinchillaRuns(rep), options);
    ok.Add(fit.ok());
    if (!fit.ok()) {
      std::printf("  rep %d: %s: %s\n", rep, FitStatusName(fit.status), fit.reason.c_str());
      continue;
    }
    seconds.push_back(fit.fit_seconds);
    const double c = 100 * fit.max_trained_flops;
    const double true_loss = ComputeOptimalFrontier(truth).Loss(c);
    const LossPrediction p = *PredictLossAtCompute(fit, c);
    const double da = std::abs(fit.FindParameter("alpha")->value.estimate - truth.alpha);
    const double db = std::abs(fit.FindParameter("beta")->value.estimate - truth.beta);
    alpha.Add(da <= 0.02);
    beta.Add(db <= 0.02);
    both.Add(da <= 0.02 && db <= 0.02);
    loss_err.push_back(std::abs(p.loss.estimate / true_loss - 1));
    loss1.Add(loss_err.back() <= 0.01);
    loss_cover.Add(Covers(p.loss, true_loss));
    alpha_cover.Add(Covers(fit.FindParameter("alpha")->value, truth.alpha));
    beta_cover.Add(Covers(fit.FindParameter("beta")->value, truth.beta));
    a_cover.Add(Covers(fit.FindParameter("a")->value, OptimalParamsExponent(truth)));
  }
  std::sort(loss_err.begin(), loss_err.end());
  std::printf(
      "Chinchilla Approach 3, %d seeded repetitions x 250 simulated runs, 1%% noise, "
      "%d bootstrap resamples, %d threads (%.0f s; median fit %.2f s)\n",
      reps, options.bootstrap_resamples, options.threads, Since(t0), Median(seconds));
  std::printf("  status ok                               %s\n", ok.Str().c_str());
  std::printf("  alpha within 0.02                       %s\n", alpha.Str().c_str());
  std::printf("  beta within 0.02                        %s\n", beta.Str().c_str());
  std::printf("  alpha and beta within 0.02              %s\n", both.Str().c_str());
  std::printf(
      "  loss at 100x largest C within 1%%        %s  (|error| median %.3f%%, max %.3f%%)\n",
      loss1.Str().c_str(), 100 * loss_err[loss_err.size() / 2], 100 * loss_err.back());
  std::printf("  95%% interval covers true loss at 100x   %s\n", loss_cover.Str().c_str());
  std::printf("  95%% interval covers true alpha          %s\n", alpha_cover.Str().c_str());
  std::printf("  95%% interval covers true beta           %s\n", beta_cover.Str().c_str());
  std::printf("  95%% interval covers true a (N_opt exp.) %s\n", a_cover.Str().c_str());

  // Power law in C on 20 runs' final losses (frontier fit).
  const PowerLawInCompute power_truth{1.8, 50.0, 0.1};
  Tally p_ok, p_alpha, p_loss1, p_cover, p_alpha_cover;
  for (int rep = 1; rep <= reps; ++rep) {
    options.seed = 2000 + rep;
    const FitResult fit = FitPowerLawCompute(
        SimulatePowerLawRuns(power_truth, LogSpaced(1e15, 1e19, 20), 0.01, rep), options);
    p_ok.Add(fit.ok());
    if (!fit.ok()) continue;
    const double c = 100 * fit.max_trained_flops;
    const LossPrediction p = *PredictLossAtCompute(fit, c);
    p_alpha.Add(std::abs(fit.law[2] - power_truth.alpha) <= 0.02);
    p_loss1.Add(std::abs(p.loss.estimate / power_truth.Loss(c) - 1) <= 0.01);
    p_cover.Add(Covers(p.loss, power_truth.Loss(c)));
    p_alpha_cover.Add(Covers(fit.FindParameter("alpha")->value, power_truth.alpha));
  }
  std::printf(
      "Power law in C (E 1.8, A 50, alpha 0.1), %d repetitions x 20 runs over 1e15-1e19 "
      "FLOPs, 1%% noise, frontier of final losses\n",
      reps);
  std::printf(
      "  status ok %s, alpha within 0.02 %s, loss at 100x within 1%% %s, interval covers "
      "loss %s, covers alpha %s\n",
      p_ok.Str().c_str(), p_alpha.Str().c_str(), p_loss1.Str().c_str(), p_cover.Str().c_str(),
      p_alpha_cover.Str().c_str());

  // Approach 2 on IsoFLOP profiles: 10 budgets x 9 sizes.
  Tally i_ok, i_a, i_cover;
  IsoflopDesign design = ChinchillaLikeDesign(10, 9);
  design.size_span = 4.0;
  options.flops_count = FlopsCount::kSixND;
  for (int rep = 1; rep <= reps; ++rep) {
    options.seed = 3000 + rep;
    const FitResult fit = FitIsoflop(SimulateIsoflopSweep(truth, design, 0.01, rep), options);
    i_ok.Add(fit.ok());
    if (!fit.ok()) continue;
    const Interval a = fit.FindParameter("a")->value;
    i_a.Add(std::abs(a.estimate - OptimalParamsExponent(truth)) <= 0.02);
    i_cover.Add(Covers(a, OptimalParamsExponent(truth)));
  }
  std::printf("IsoFLOP (Approach 2), %d repetitions x 10 budgets x 9 sizes, 1%% noise\n", reps);
  std::printf("  status ok %s, a within 0.02 of %.4f %s, interval covers a %s\n",
              i_ok.Str().c_str(), OptimalParamsExponent(truth), i_a.Str().c_str(),
              i_cover.Str().c_str());
}

// ------------------------------------------------------------- warmstart
// Do warm-started refits find the same optimum as the full grid would?
void WarmStart(const Args& args) {
  const int datasets = static_cast<int>(args.Get("datasets", 3));
  const int resamples = static_cast<int>(args.Get("resamples", 20));
  const int threads = static_cast<int>(args.Get("threads", 2));
  FitOptions options;
  options.threads = threads;
  int same = 0, total = 0;
  double worst = 0;
  const auto t0 = Clock::now();
  for (int d = 1; d <= datasets; ++d) {
    const std::vector<Observation> runs = ChinchillaRuns(100 + d);
    const int n = static_cast<int>(runs.size());
    std::vector<double> ln(n), ld(n), ll(n);
    for (int i = 0; i < n; ++i) {
      ln[i] = std::log(runs[i].params);
      ld[i] = std::log(runs[i].tokens);
      ll[i] = std::log(runs[i].loss);
    }
    const LogSpaceRuns all = MakeLogSpaceRuns(ln, ld, ll);
    const auto best =
        SolveApproach3(all, Approach3StartGrid(), options, threads, options.warm_starts);
    for (int k = 0; k < resamples; ++k) {
      const LogSpaceRuns data = MakeLogSpaceRuns(ln, ld, ll, ResampleCounts(n, options.seed, k));
      const auto warm =
          SolveApproach3(data,
                         RefitStarts(best->distinct_optima, Approach3StartGrid(),
                                     options.extra_grid_starts, ResampleSeed(options.seed, k, 1)),
                         options, 1);
      const auto full = SolveApproach3(data, Approach3StartGrid(), options, threads);
      const double rel = (warm->cost - full->cost) / full->cost;
      worst = std::max(worst, rel);
      ++total;
      same += rel <= 1e-6;
    }
  }
  std::printf(
      "Warm-started bootstrap refits (%d best distinct optima + %d grid points) vs the "
      "full 4,500-point grid on the same resample: %d datasets x %d resamples (%.0f s)\n",
      options.warm_starts, options.extra_grid_starts, datasets, resamples, Since(t0));
  std::printf(
      "  warm start reached the full grid's objective (rel. 1e-6): %d/%d; worst relative "
      "excess %.3g\n",
      same, total, worst);
}

// ----------------------------------------------------------- export-runs
void ExportRuns() {
  std::printf("params,tokens,loss\n");
  for (const Observation& r : ChinchillaRuns(7)) {
    std::printf("%.17g,%.17g,%.17g\n", r.params, r.tokens, r.loss);
  }
}

}  // namespace
}  // namespace ladder::fit

int main(int argc, char** argv) {
  using namespace ladder::fit;
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: %s grid|bootstrap|predict|coverage|warmstart|import|export-runs [--key value]...\n",
        argv[0]);
    return 2;
  }
  const std::string what = argv[1];
  Args args;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    args.values[key] = std::atof(argv[i + 1]);
  }
  if (what == "grid") {
    Grid(args);
  } else if (what == "bootstrap") {
    Bootstrap(args);
  } else if (what == "predict") {
    Predict(args);
  } else if (what == "coverage") {
    Coverage(args);
  } else if (what == "warmstart") {
    WarmStart(args);
  } else if (what == "import") {
    Import(args);
  } else if (what == "export-runs") {
    ExportRuns();
  } else {
    std::fprintf(stderr, "unknown benchmark %s\n", what.c_str());
    return 2;
  }
  return 0;
}
