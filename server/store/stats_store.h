// Aggregate reads for dashboards: the scheduling snapshot behind the
// coordinator's gauges. One read-only transaction per call.
#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <string>
#include <vector>

#include "server/store/pg_pool.h"

namespace ladder::store {

// A snapshot of scheduling state read from the database for gauges
// (CoordinatorMetrics::Update shows it).
struct SchedulingSnapshot {
  struct SweepRuns {
    std::string sweep;  // id as text
    std::string state;  // run state
    double count = 0;
  };
  struct RunningRun {
    std::string sweep, run, family;
    double tokens_per_second = 0;
    double flops_per_second = 0;
  };
  std::vector<SweepRuns> runs_by_sweep;
  std::map<std::string, double> workers_by_state;
  double queue_depth = 0;
  std::vector<RunningRun> running;
};

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
