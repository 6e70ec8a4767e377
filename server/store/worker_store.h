// Worker daemons as operators see them: listing and draining.
// (Registration and heartbeats live in LeaseStore, with the leases.)
#pragma once

#include <absl/status/statusor.h>

#include <optional>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/store/pg_pool.h"

namespace ladder::store {

class WorkerStore {
 public:
  explicit WorkerStore(PgPool* pool) : pool_(pool) {}

  absl::StatusOr<std::vector<v1::Worker>> ListWorkers(bool include_gone);

  // Asks the worker to drain: it is granted no further leases and learns at
  // its next heartbeat or lease request that it should stop. NOT_FOUND for
  // an unknown worker; FAILED_PRECONDITION if it is gone.
  absl::StatusOr<v1::Worker> DrainWorker(int64_t worker_id);

  // Identity look-ups for the Agent API (a worker's name never changes for
  // its id, nor an attempt's worker, so callers may cache them). nullopt for
  // an unknown id.
  absl::StatusOr<std::optional<std::string>> WorkerName(int64_t worker_id);
  struct AttemptOwner {
    int64_t worker_id = 0;
    std::string worker_name;
  };
  absl::StatusOr<std::optional<AttemptOwner>> AttemptWorker(int64_t attempt_id);

  // The largest memory of any live worker's device that can run on `device`
  // (any | cpu | cuda), or 0 when no such worker is registered.
  absl::StatusOr<int64_t> LargestDeviceMemory(const std::string& device);

 private:
  PgPool* pool_;
};

}  // namespace ladder::store
