// The coordinator's sweep logic over the store: submission (parse, plan,
// check against the registered devices, store atomically) and change
// detection for watchers. RPC handlers (service/) are thin wrappers over it.
//
// Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/store/sweep_store.h"

namespace ladder {

class SweepManager {
 public:
  explicit SweepManager(store::SweepStore* sweeps) : sweeps_(sweeps) {}

  // Parses and plans `spec_yaml`; refuses it whole (INVALID_ARGUMENT naming
  // the field) if it is malformed or a run is larger than every registered
  // device that may run it. With dry_run nothing is stored, the sweep
  // returned has id 0, and the planned runs come back too.
  absl::StatusOr<v1::CreateSweepResponse> Create(const std::string& spec_yaml, bool dry_run);

  store::SweepStore* store() { return sweeps_; }

 private:
  store::SweepStore* sweeps_;
};

// Follows one sweep for a WatchSweep stream: each Poll returns the event to
// send (the whole sweep on the first call, then what changed), or nothing.
// Not thread-safe: one per stream.
class SweepWatch {
 public:
  SweepWatch(store::SweepStore* sweeps, int64_t sweep_id) : sweeps_(sweeps), sweep_id_(sweep_id) {}

  // `*event` is filled and *has_event set when there is something to send.
  absl::Status Poll(v1::SweepEvent* event, bool* has_event);

  // True once an event reporting the sweep's end has been produced.
  bool ended() const { return ended_; }

  // Fits stored since the last event are added by the caller (the fit
  // service owns them); this records the last fit id already sent.
  int64_t last_fit_id = 0;

 private:
  struct Seen {
    int state = 0;
    int64_t tokens_done = 0;
    int attempts = 0;
  };
  store::SweepStore* sweeps_;
  const int64_t sweep_id_;
  bool first_ = true;
  bool ended_ = false;
  int64_t since_ms_ = 0;
  std::map<int64_t, Seen> seen_;
  std::string last_sweep_;  // serialized counts/state last sent
};

}  // namespace ladder
