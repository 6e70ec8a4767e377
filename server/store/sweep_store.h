// Sweeps and their runs in PostgreSQL: creation (all runs in one
// transaction, so nothing is half-created), reads, cancellation, and the
// transition of a sweep to its final state.
//
// Thread-safe; every method is one transaction on a pooled connection.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/enums/enums.h"
#include "ladder/v1/ladder.pb.h"
#include "server/store/pg_pool.h"

namespace ladder::store {

// The most families one sweep may hold. A planned sweep has at most one per
// model family (transformer, lstm); an import's family names are free-form,
// and each family costs a fit per form at every refit and gauges on
// /metrics, so an import of thousands of one-run families is refused.
constexpr int kMaxFamiliesPerSweep = 16;

// A sweep to store: the row of `sweeps` (SweepManager builds it from a
// parsed SweepSpec).
struct NewSweep {
  std::string name;
  enums::SweepKind kind = enums::SweepKind::kLadder;
  std::vector<std::string> families;
  std::string spec_yaml;  // verbatim, as submitted
  std::string spec_json;  // parsed and normalised
  int priority = 0;
  int max_attempts = 3;
  std::string device = "any";  // any | cpu | cuda: the device kind its runs need
};

// A planned run to store: its row of `runs` (SweepManager builds it from a
// PlannedRun).
struct NewRun {
  int ordinal = 0;
  std::string family;
  // The run configuration (worker/TRAINER_PROTOCOL.md) without run_id,
  // sweep_id and attempt, which are added when a run is leased; as JSON
  // text (a sweep of 100,000 runs holds every one at once).
  std::string config_json;
  std::string shape;  // described, e.g. "d=256 L=4 h=4"
  int64_t planned_params = 0;
  int64_t planned_non_embedding = 0;
  int64_t planned_tokens = 0;
  double planned_flops = 0;
  double planned_flops_6nd = 0;
  int64_t memory_bytes = 0;
};

class SweepStore {
 public:
  explicit SweepStore(PgPool* pool) : pool_(pool) {}

  // Stores the sweep and all its planned runs atomically (one transaction;
  // the runs go in by COPY, about 100,000 in a few seconds).
  absl::StatusOr<v1::Sweep> CreateSweep(const NewSweep& sweep, const std::vector<NewRun>& runs);

  // Stores results trained elsewhere as a finished sweep of kind "imported"
  // whose runs are all succeeded (and marked trainer "imported"); an IsoFLOP
  // budget is kept in the run's config.plan.budget and a seed in
  // config.train.seed, where planned runs keep theirs. The
  // request must be validated already (SweepManager's ValidateImport, which
  // also refuses more than kMaxFamiliesPerSweep families).
  absl::StatusOr<v1::Sweep> CreateImportedSweep(const v1::ImportResultsRequest& request);

  // NOT_FOUND if there is no such sweep.
  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id);
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps(bool active_only, int limit);
  // Only the sweep's state (one row; GetSweep also counts its runs).
  // NOT_FOUND if there is no such sweep.
  absl::StatusOr<v1::SweepState> GetSweepState(int64_t sweep_id);

  // Cancels queued runs, revokes live attempts (workers learn it at their
  // next heartbeat or progress report) and marks the sweep cancelled.
  // FAILED_PRECONDITION if the sweep already ended.
  absl::StatusOr<v1::Sweep> CancelSweep(int64_t sweep_id);

  // Moves an active sweep whose runs have all ended to succeeded or failed.
  // Idempotent; call after any transaction that ends a run, once it committed.
  absl::Status FinishSweepIfDone(int64_t sweep_id);
  // The same for every active sweep (a periodic safety net).
  absl::Status FinishDoneSweeps();

  // Runs of a sweep, by ordinal; those in `state`, or all. Every one: for
  // small sweeps and tests (a served listing goes through ListRunsPage).
  absl::StatusOr<std::vector<v1::Run>> ListRuns(int64_t sweep_id,
                                                std::optional<enums::RunState> state);

  // One page of a sweep's runs (those in `state`, or all), by ordinal:
  // keyset pagination on the (sweep_id, ordinal) unique index, so a deep
  // page costs what the first does.
  struct RunPage {
    std::vector<v1::Run> runs;  // ordinal > after_ordinal, at most `limit`
    bool more = false;          // matching runs follow the last one
    int64_t total = 0;          // matching runs, over all pages
  };
  // `after_ordinal` -1 for the first page; `limit` >= 1. NOT_FOUND if
  // there is no such sweep.
  absl::StatusOr<RunPage> ListRunsPage(int64_t sweep_id, std::optional<enums::RunState> state,
                                       int64_t after_ordinal, int limit);

  // For watchers: the runs of a sweep to show first, at most `limit`: live
  // ones (leased, running) first, then the rest by ordinal. `*now_unix_ms`
  // receives the database's clock at the read.
  absl::StatusOr<std::vector<v1::Run>> ListRunsForWatch(int64_t sweep_id, int limit,
                                                        int64_t* now_unix_ms);
  // What a watcher compares to see that a run changed, for the runs of a
  // sweep updated at or after `since_unix_ms` (database clock), oldest
  // change first (by updated_at, then id), at most `limit`, and only those
  // after `after` when given (the last change of the previous batch);
  // `*now_unix_ms` receives the database's clock at the read. Only the
  // recent changes are read (the runs_by_sweep_updated index, migration
  // 0006), not the whole sweep.
  struct RunChange {
    int64_t id = 0;
    int state = 0;  // v1::RunState
    int64_t tokens_done = 0;
    int attempts = 0;
    int64_t updated_unix_ms = 0;
    int64_t updated_unix_us = 0;  // exact: the keyset of the next batch
  };
  absl::StatusOr<std::vector<RunChange>> ListRunChangesSince(int64_t sweep_id,
                                                             int64_t since_unix_ms,
                                                             const RunChange* after, int limit,
                                                             int64_t* now_unix_ms);
  // The runs with these ids (of any sweep), by ordinal.
  absl::StatusOr<std::vector<v1::Run>> ListRunsById(const std::vector<int64_t>& ids);
  // One run with its attempts, and its loss curve if asked.
  absl::StatusOr<v1::Run> GetRun(int64_t run_id, bool include_curve);

 private:
  PgPool* pool_;
};

}  // namespace ladder::store
