// Aggregate reads for dashboards: the scheduling snapshot behind the
// coordinator's gauges. One read-only transaction per call.
#pragma once

#include <absl/status/statusor.h>

#include "server/coordinator_metrics.h"
#include "server/store/pg_pool.h"

namespace ladder::store {

class StatsStore {
 public:
  explicit StatsStore(PgPool* pool) : pool_(pool) {}

  // Runs by state for active sweeps and sweeps finished in the last
  // `recent_seconds`; queue depth; workers by state; running runs' speed.
  absl::StatusOr<SchedulingSnapshot> ReadSnapshot(int recent_seconds = 3600);

 private:
  PgPool* pool_;
};

}  // namespace ladder::store
