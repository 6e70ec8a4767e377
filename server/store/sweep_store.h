// Sweeps and their runs in PostgreSQL: creation (all runs in one
// transaction, so nothing is half-created), reads, cancellation, and the
// transition of a sweep to its final state.
//
// Thread-safe; every method is one transaction on a pooled connection.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/store/pg_pool.h"
#include "server/sweep_planner.h"
#include "server/sweep_spec.h"

namespace ladder::store {

// The most families one sweep may hold. A planned sweep has at most one per
// model family (transformer, lstm); an import's family names are free-form,
// and each family costs a fit per form at every refit and gauges on
// /metrics, so an import of thousands of one-run families is refused.
constexpr int kMaxFamiliesPerSweep = 16;

class SweepStore {
 public:
  explicit SweepStore(PgPool* pool) : pool_(pool) {}

  // Stores the sweep and all its planned runs atomically.
  absl::StatusOr<v1::Sweep> CreateSweep(const std::string& spec_yaml, const SweepSpec& spec,
                                        const std::vector<PlannedRun>& runs);

  // Stores results trained elsewhere as a finished sweep of kind "imported"
  // whose runs are all succeeded (and marked trainer "imported"). The
  // request must be validated already (ValidateImport, which also refuses
  // more than kMaxFamiliesPerSweep families).
  absl::StatusOr<v1::Sweep> CreateImportedSweep(const v1::ImportResultsRequest& request);

  // NOT_FOUND if there is no such sweep.
  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id);
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps(bool active_only, int limit);

  // Cancels queued runs, revokes live attempts (workers learn it at their
  // next heartbeat or progress report) and marks the sweep cancelled.
  // FAILED_PRECONDITION if the sweep already ended.
  absl::StatusOr<v1::Sweep> CancelSweep(int64_t sweep_id);

  // Moves an active sweep whose runs have all ended to succeeded or failed.
  // Idempotent; call after any transaction that ends a run, once it committed.
  absl::Status FinishSweepIfDone(int64_t sweep_id);
  // The same for every active sweep (a periodic safety net).
  absl::Status FinishDoneSweeps();

  // Runs of a sweep, by ordinal; `state` empty for all.
  absl::StatusOr<std::vector<v1::Run>> ListRuns(int64_t sweep_id, const std::string& state);
  // Runs of a sweep updated at or after `since_unix_ms` (database clock);
  // `*now_unix_ms` receives the database's clock at the read.
  absl::StatusOr<std::vector<v1::Run>> ListRunsUpdatedSince(int64_t sweep_id, int64_t since_unix_ms,
                                                            int64_t* now_unix_ms);
  // One run with its attempts, and its loss curve if asked.
  absl::StatusOr<v1::Run> GetRun(int64_t run_id, bool include_curve);

  // The largest memory of any live worker's device that can run on `device`
  // (any | cpu | cuda), or 0 when no such worker is registered.
  absl::StatusOr<int64_t> LargestDeviceMemory(const std::string& device);

 private:
  PgPool* pool_;
};

// INVALID_ARGUMENT naming the field ("results[3].final_loss: ..."): values
// out of the range their columns hold, more than kMaxFamiliesPerSweep families.
absl::Status ValidateImport(const v1::ImportResultsRequest& request);

// "queued" -> RUN_STATE_QUEUED and back; stable names stored in runs.state.
v1::RunState RunStateFromName(const std::string& name);
std::string RunStateName(v1::RunState state);
v1::SweepState SweepStateFromName(const std::string& name);

}  // namespace ladder::store
