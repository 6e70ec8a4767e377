// FitResult <-> JSON, for the `fits` table and for export.
//
// FitResultToJson gives one object whose keys are the `fits` columns:
//   form, family, status, reason, runs_used, rmse_log_loss,
//   holdout_relative_error, bootstrap_resamples, fit_seconds, flops_count,
//   max_trained_flops,
//   parameters: {name: {estimate, lower, upper}}        -> fits.parameters (jsonb)
//   details:    diagnostics + what predictions need      -> fits.details (jsonb)
//               {"law": [...], "law_names": [...], "law_samples": [[...], ...],
//                "min_trained_flops", "max_trained_params_tokens", ...}
// The coordinator writes each key to its column and, to answer predictions,
// rebuilds the object from a row (same keys) and calls FitResultFromJson.
// NaN and infinities are written as null and read back as NaN. Doubles are
// written with 17 significant digits, so a round trip is exact (also through
// PostgreSQL jsonb, which keeps numbers as exact decimals).
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "server/fit/fit_result.h"

namespace ladder::fit {

nlohmann::json FitResultToJson(const FitResult& fit);

// INVALID_ARGUMENT naming the key when a required key is missing or has the
// wrong type, or form/status/flops_count is unknown.
absl::StatusOr<FitResult> FitResultFromJson(const nlohmann::json& json);

// The two jsonb columns alone (the same values FitResultToJson puts under
// "parameters" and "details").
nlohmann::json FitParametersJson(const FitResult& fit);
nlohmann::json FitDetailsJson(const FitResult& fit);

}  // namespace ladder::fit
