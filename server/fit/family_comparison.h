// Family comparison by compute-equivalent gain (Gundlach et al. 2025, "On the
// Origin of Algorithmic Progress in AI", arXiv 2511.21622): with each family's
// compute-optimal frontier L_f(C), the gain of family T over the baseline S
// at compute C is
//
//   CEG(C) = L_S^-1(L_T(C)) / C,
//
// the factor by which S needs more compute to reach the loss T reaches at C.
// For frontiers E + A C^-alpha with a shared E this is
//   (A_S/A_T)^(1/alpha_S) * C^(alpha_T/alpha_S - 1)
// (solve E + A_S X^-alpha_S = E + A_T C^-alpha_T for X). When L_T(C) <= E_S
// the baseline never gets there: CEG = +infinity.
//
// Frontiers: power_law_compute fits directly; chinchilla fits through the
// loss at their compute-optimal allocation (scaling_laws.h
// ComputeOptimalFrontier, C = 6ND). Both fits must count FLOPs the same way.
// Intervals: the k-th bootstrap sample of T is paired with the k-th of S (the
// fits are independent, so any pairing is a valid draw); min(n_T, n_S) pairs.
// Thread-safe.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "server/fit/fit_result.h"

namespace ladder::fit {

struct CegPoint {
  double compute = 0;
  Interval gain;  // CEG(C); may be +infinity
  // How far beyond the trained range the answer reaches:
  // max(1, C / max trained C of T, C * CEG(C) / max trained C of S), i.e.
  // 1 when both laws are evaluated inside the compute they were fitted on.
  double extrapolation_factor = 1;
};

// CEG(C) at `points` computes log-spaced over [min_compute, max_compute].
// min_compute 0 = the smaller of the fits' smallest trained compute,
// max_compute 0 = the larger of their largest, points 0 = 9.
// Errors: FAILED_PRECONDITION when a fit is not ok, has no compute frontier
// (isoflop, data_constrained) or the fits count FLOPs differently;
// INVALID_ARGUMENT for a negative or inverted range or points < 0.
absl::StatusOr<std::vector<CegPoint>> CompareFamilies(const FitResult& base,
                                                      const FitResult& target,
                                                      double min_compute = 0,
                                                      double max_compute = 0, int points = 0);

}  // namespace ladder::fit
