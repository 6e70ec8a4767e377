// The coordinator's sweep logic over the stores: submission (parse, plan,
// check against the registered devices, store atomically), imports
// (validated whole before anything is stored), reads and cancellation of
// sweeps and their runs, and change detection for watchers. The Sweeps and
// Runs RPC handlers (service/) are thin wrappers over it and never reach
// the stores themselves, except WatchSweep, whose SweepWatch (below, served
// by WatchHub) reads the sweep store directly. The conversion from the planner's types to the
// store's rows (SweepRow, RunRows) is here too: stores know nothing above them.
//
// Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/import_observer.h"
#include "server/store/sweep_store.h"
#include "server/store/worker_store.h"
#include "server/sweep_planner.h"
#include "server/sweep_records.h"
#include "server/sweep_spec.h"

namespace ladder {

class SweepManager {
 public:
  // The stores must outlive the manager; `workers` tells how large the
  // registered devices are.
  SweepManager(store::SweepStore* sweeps, store::WorkerStore* workers)
      : owned_(std::make_unique<PgSweepRecords>(sweeps, workers)), sweeps_(owned_.get()) {}
  // Over any SweepRecords (tests: an in-memory fake), which must outlive it.
  explicit SweepManager(SweepRecords* records) : sweeps_(records) {}

  // Parses and plans `spec_yaml`; refuses it whole (INVALID_ARGUMENT naming
  // the field) if it is malformed or a run is larger than every registered
  // device that may run it. With dry_run nothing is stored, the sweep
  // returned has id 0, and the planned runs come back too.
  absl::StatusOr<v1::CreateSweepResponse> Create(const std::string& spec_yaml, bool dry_run);

  // Stores results trained elsewhere as a finished sweep of kind
  // "imported", after ValidateImport (INVALID_ARGUMENT naming the field),
  // then tells the import observers.
  absl::StatusOr<v1::Sweep> Import(const v1::ImportResultsRequest& request);

  // `observer` (which must outlive the manager) is told of every import.
  // Call before the manager is shared between threads (at wiring).
  void AddObserver(ImportObserver* observer) { observers_.push_back(observer); }

  // NOT_FOUND if there is no such sweep.
  absl::StatusOr<v1::Sweep> Get(int64_t sweep_id);
  // Newest first, without their spec text; `limit` 0 for the default (100),
  // INVALID_ARGUMENT when negative.
  absl::StatusOr<std::vector<v1::Sweep>> List(bool active_only, int limit);
  // Cancels queued runs, revokes live attempts and marks the sweep
  // cancelled; FAILED_PRECONDITION if it already ended.
  absl::StatusOr<v1::Sweep> Cancel(int64_t sweep_id);

  // One page of a sweep's runs by ordinal, those in `state`
  // (RUN_STATE_UNSPECIFIED for all): at most page_size runs (0, or more
  // than kMaxRunsPageSize, = kMaxRunsPageSize), fewer when their size
  // would pass kMaxRunsPageBytes, with next_page_token when more follow and
  // the total over all pages. INVALID_ARGUMENT for a state not in the enum,
  // a negative page_size, a page_token this coordinator did not issue.
  absl::StatusOr<v1::ListRunsResponse> ListRuns(const v1::ListRunsRequest& request);
  // One run with its attempts, and its loss curve if asked.
  absl::StatusOr<v1::Run> GetRun(int64_t run_id, bool include_curve);

 private:
  std::unique_ptr<SweepRecords> owned_;  // with the first constructor
  SweepRecords* sweeps_;
  std::vector<ImportObserver*> observers_;  // fixed once serving
};

// The most runs one ListRuns page holds: a page_size of 0 (every run, for
// a small sweep) or above it is served as this, with next_page_token.
constexpr int kMaxRunsPageSize = 1000;
// The most bytes of runs one ListRuns page holds, under gRPC's 4 MB message
// cap (a run's config may be large); a page stops early, with at least one
// run, when the next would pass it.
constexpr size_t kMaxRunsPageBytes = size_t{3} << 20;

// ListRuns' page tokens: "o<ordinal>" = the runs after that ordinal (keyset
// pagination; ordinals are unique within a sweep). Clients pass
// next_page_token back as it came; `ladder runs --page` builds one, as it
// ships with the coordinator. nullopt for a token not of that form.
std::string RunsPageToken(int64_t after_ordinal);
std::optional<int64_t> ParseRunsPageToken(const std::string& token);

// INVALID_ARGUMENT naming the field ("results[3].final_loss: ..."): values
// out of the range their columns hold (a budget negative, not finite or
// past 1e30 FLOPs; a negative seed), more than kMaxRunsPerSweep results,
// more than store::kMaxFamiliesPerSweep families.
absl::Status ValidateImport(const v1::ImportResultsRequest& request);

// The rows the sweep store keeps for a parsed spec and its planned runs.
store::NewSweep SweepRow(const std::string& spec_yaml, const SweepSpec& spec);
store::NewRun RunRow(const PlannedRun& run);
std::vector<store::NewRun> RunRows(const std::vector<PlannedRun>& runs);

// The most runs the first WatchSweep event carries (live ones first, then
// by ordinal); the sweep's counts and progress in it are always whole.
constexpr int kWatchFirstEventRuns = 500;
// The most changed runs one later event carries; the rest follow in the
// next events, polled at once.
constexpr int kWatchMaxRunsPerEvent = 500;
// The most run changes one poll looks at (cheap rows: id, state, tokens,
// attempts); a poll that reaches it goes on from there at once.
constexpr int kWatchScanPerPoll = 2000;

// Follows one sweep for a WatchSweep stream: each Poll returns the event to
// send (the sweep and its first runs on the first call, then what changed),
// or nothing. What it keeps is bounded by the changes of the last few
// seconds, not by the sweep's size: a run never sent is taken to be queued
// and untouched until it changes.
// Not thread-safe: one per stream.
class SweepWatch {
 public:
  SweepWatch(store::SweepStore* sweeps, int64_t sweep_id) : sweeps_(sweeps), sweep_id_(sweep_id) {}

  // `*event` is filled and *has_event set when there is something to send.
  absl::Status Poll(v1::SweepEvent* event, bool* has_event);

  // True once an event reporting the sweep's end has been produced (and
  // every run change before it).
  bool ended() const { return ended_; }
  // True when changed runs were left for the next event (poll again soon).
  bool backlog() const { return backlog_; }
  // Runs whose last-sent state is remembered (for tests and bounds).
  size_t remembered() const { return seen_.size(); }

  // Fits stored since the last event are added by the caller (the fit
  // service owns them); this records the last fit id already sent.
  int64_t last_fit_id = 0;

 private:
  struct Seen {
    int state = 0;
    int64_t tokens_done = 0;
    int attempts = 0;
    int64_t read_ms = 0;  // database clock when it was last read
  };
  void Remember(const v1::Run& r, int64_t now_ms);

  store::SweepStore* sweeps_;
  const int64_t sweep_id_;
  bool first_ = true;
  bool ended_ = false;
  bool backlog_ = false;
  int64_t since_ms_ = 0;         // the window starts an overlap before this
  int64_t scan_started_ms_ = 0;  // database clock when this window's scan began
  // While a window is scanned over several polls: the last change looked at.
  std::optional<store::SweepStore::RunChange> cursor_;
  std::map<int64_t, Seen> seen_;
  std::string last_sweep_;  // serialized counts/state last sent
  int last_state_ = 0;      // v1::SweepState last read
};

}  // namespace ladder
