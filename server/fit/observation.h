// Observation: what the scaling-law engine knows about one finished run.
// The coordinator builds these from the `runs` and `curve_points` tables;
// the fits read nothing else. Plain data, no invariants enforced here:
// ValidateObservations() (usable_runs.h) decides which runs a fit may use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ladder::fit {

// One point of a run's loss curve (an eval at some step).
struct CurvePoint {
  double tokens = 0;  // tokens seen so far
  double flops = 0;   // training FLOPs so far, exact count
  double loss = 0;    // eval cross-entropy, nats/token
};

struct Observation {
  int64_t run_id = 0;    // the caller's id; reported back (e.g. the held-out run)
  std::string family;    // "transformer", "lstm", ...
  double params = 0;     // N: non-embedding parameters (Kaplan et al. 2020, sec. 2.1)
  double tokens = 0;     // D: training tokens seen
  double flops = 0;      // C: training FLOPs by the exact count (Hoffmann et al. 2022, app. F)
  double flops_6nd = 0;  // C by Kaplan's rule of thumb; 0 = compute it as 6 * params * tokens
  double loss = 0;       // final eval loss, nats/token
  // U: distinct tokens in the training data; 0 = every token was fresh
  // (epochs = tokens / unique_tokens when U > 0).
  double unique_tokens = 0;
  // The tokens of the corpus the run drew on (its training split after any
  // cap); 0 = unknown. The fits ignore it: predictions count the epochs their
  // target needs on it (data_budget.h).
  double corpus_tokens = 0;
  // IsoFLOP sweeps: the compute budget (FLOPs) this run belongs to; 0 = none.
  // Runs of one budget must carry the identical value.
  double budget = 0;
  // Optional loss curve, in training order; used by the compute frontier only.
  std::vector<CurvePoint> curve;
};

// Which FLOP count a fit uses on its compute axis. Stored in `fits.flops_count`
// as "exact" / "6nd": do not rename.
enum class FlopsCount { kExact = 0, kSixND = 1 };

const char* FlopsCountName(FlopsCount count);  // "exact" | "6nd"
bool ParseFlopsCount(const std::string& name, FlopsCount* count);

// The compute of a run under `count` (6ND computed when flops_6nd is 0).
double ComputeOf(const Observation& run, FlopsCount count);

}  // namespace ladder::fit
