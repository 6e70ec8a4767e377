// Worker daemons as operators see them: listing and draining.
// (Registration and heartbeats live in LeaseStore, with the leases.)
#pragma once

#include <absl/status/statusor.h>

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

 private:
  PgPool* pool_;
};

}  // namespace ladder::store
