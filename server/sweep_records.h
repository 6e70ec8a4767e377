// What SweepManager needs from the stores, as one narrow interface (TF
// Serving's mock server core is the model): the sweep store's sweeps and
// runs, and the largest registered device. PgSweepRecords implements it over
// the PostgreSQL stores; unit tests use an in-memory fake
// (server/sweep_manager_test.cc).
//
// Implementations are thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <optional>
#include <string>
#include <vector>

#include "common/enums/enums.h"
#include "ladder/v1/ladder.pb.h"
#include "server/store/sweep_store.h"

namespace ladder {

namespace store {
class WorkerStore;
}  // namespace store

class SweepRecords {
 public:
  virtual ~SweepRecords() = default;
  // server/store/sweep_store.h says what each does.
  virtual absl::StatusOr<v1::Sweep> CreateSweep(const store::NewSweep& sweep,
                                                const std::vector<store::NewRun>& runs) = 0;
  virtual absl::StatusOr<v1::Sweep> CreateImportedSweep(
      const v1::ImportResultsRequest& request) = 0;
  virtual absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id) = 0;
  virtual absl::StatusOr<std::vector<v1::Sweep>> ListSweeps(bool active_only, int limit) = 0;
  virtual absl::StatusOr<v1::Sweep> CancelSweep(int64_t sweep_id) = 0;
  virtual absl::StatusOr<store::SweepStore::RunPage> ListRunsPage(
      int64_t sweep_id, std::optional<enums::RunState> state, int64_t after_ordinal, int limit) = 0;
  virtual absl::StatusOr<v1::Run> GetRun(int64_t run_id, bool include_curve) = 0;
  // The largest memory of a live worker's device that can run on `device`
  // (any | cpu | cuda); 0 when none is registered.
  virtual absl::StatusOr<int64_t> LargestDeviceMemory(const std::string& device) = 0;
};

// Over the PostgreSQL stores (which must outlive it).
class PgSweepRecords final : public SweepRecords {
 public:
  PgSweepRecords(store::SweepStore* sweeps, store::WorkerStore* workers)
      : sweeps_(sweeps), workers_(workers) {}

  absl::StatusOr<v1::Sweep> CreateSweep(const store::NewSweep& sweep,
                                        const std::vector<store::NewRun>& runs) override;
  absl::StatusOr<v1::Sweep> CreateImportedSweep(const v1::ImportResultsRequest& request) override;
  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id) override;
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps(bool active_only, int limit) override;
  absl::StatusOr<v1::Sweep> CancelSweep(int64_t sweep_id) override;
  absl::StatusOr<store::SweepStore::RunPage> ListRunsPage(int64_t sweep_id,
                                                          std::optional<enums::RunState> state,
                                                          int64_t after_ordinal,
                                                          int limit) override;
  absl::StatusOr<v1::Run> GetRun(int64_t run_id, bool include_curve) override;
  absl::StatusOr<int64_t> LargestDeviceMemory(const std::string& device) override;

 private:
  store::SweepStore* sweeps_;
  store::WorkerStore* workers_;
};

}  // namespace ladder
