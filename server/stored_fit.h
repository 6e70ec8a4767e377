// The fit engine's types over the fit store's rows: a stored fit with its
// rebuilt FitResult, and the conversions between the store's plain rows
// (server/store/fit_store.h, which knows nothing of server/fit) and the
// engine's Observation and FitResult. PgFitData (fit_data.h) uses them.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"
#include "server/store/fit_store.h"

namespace ladder {

// A stored fit: its row identity and the rebuilt engine object.
struct StoredFit {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int version = 0;
  int64_t created_unix_ms = 0;
  std::shared_ptr<const fit::FitResult> result;
};

// INTERNAL naming the fit when its row cannot be read back as a FitResult.
absl::StatusOr<StoredFit> StoredFitFromRow(const store::FitRow& row);
absl::StatusOr<std::vector<StoredFit>> StoredFitsFromRows(const std::vector<store::FitRow>& rows);

fit::Observation ObservationFromRow(const store::ObservationRow& row);
std::vector<fit::Observation> ObservationsFromRows(const std::vector<store::ObservationRow>& rows);

// The wire form of a stored fit (parameters with intervals, quality, ...).
v1::Fit FitToProto(const StoredFit& fit);

}  // namespace ladder
