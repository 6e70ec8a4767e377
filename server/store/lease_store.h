// The worker side of scheduling, in PostgreSQL: registration, leases,
// heartbeats, progress, completion and failure of attempts, and lease expiry.
//
// Invariants (all enforced in SQL, so they hold with several coordinators on
// one database):
//  - a queued run is claimed by exactly one lease (FOR UPDATE SKIP LOCKED);
//  - only the live attempt holding the current lease token may report for a
//    run; a run's result is written once, by its succeeding attempt, and a
//    repeated completion of that attempt is acknowledged, never re-applied;
//  - an attempt whose lease expires is ended ('expired') and its run queued
//    again (or failed once max_attempts failures are spent).
//
// Thread-safe; every method is one transaction.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <vector>

#include "common/clock.h"
#include "ladder/v1/ladder.pb.h"
#include "server/store/pg_pool.h"

namespace ladder::store {

struct LeaseSettings {
  std::chrono::milliseconds ttl{30000};           // lease lifetime without a heartbeat
  std::chrono::milliseconds retry_backoff{1000};  // delay before a failed run is retried,
  std::chrono::milliseconds max_backoff{60000};   // doubling per failure up to this
  int64_t max_curve_points = 100000;              // stored per run; later points are dropped
  int max_points_per_report = 10000;              // in one ReportProgress
};

// What ending an attempt did.
struct AttemptEnd {
  int64_t run_id = 0;
  int64_t sweep_id = 0;
  bool already_recorded = false;  // a repeat of a report already stored
  bool run_ended = false;         // the run reached succeeded or failed
  bool will_retry = false;        // the run was queued again
  double tokens_per_second = 0;   // from the result, for metrics
  double flops = 0;
  double wall_seconds = 0;
  std::string family;
  // False when another run of the sweep was still queued: then the sweep
  // cannot have ended, and the check for its end can be skipped (one
  // transaction less per result on a busy sweep).
  bool sweep_may_be_done = true;
};

class LeaseStore {
 public:
  // `clock` (its wall time) sets and judges lease deadlines, retry
  // not-before times and worker heartbeats. Null (the default): the
  // database's clock, one clock for every coordinator on the database; tests
  // pass a FakeClock so expiry and back-off need no sleeps.
  LeaseStore(PgPool* pool, LeaseSettings settings, const Clock* clock = nullptr)
      : pool_(pool), settings_(settings), clock_(clock) {}

  // Creates or refreshes the worker named in the request; a worker that
  // registers again (restarted) loses its earlier live attempts, which end as
  // 'expired' (reason worker_restarted) and are queued again.
  absl::StatusOr<int64_t> RegisterWorker(const v1::RegisterWorkerRequest& request);

  // Claims the best queued run that fits the device: highest sweep priority,
  // then oldest; its memory estimate within the device's memory and its
  // device kind allowed. granted=false when none fits; drain=true when the
  // worker is draining (then nothing new is granted). NOT_FOUND for an
  // unknown worker or device. A device holds one live lease at a time (also
  // a unique index, for racing calls): asked for a device whose live lease
  // no trainer has reported on yet, LeaseRun gives that lease again, its ttl
  // renewed — the worker asks only for devices it believes free, so it lost
  // the answer (a coordinator died mid-call), and the device would otherwise
  // idle until the lease expired. A device whose lease has been reported on
  // (the worker runs it, or gave it up) is FAILED_PRECONDITION, as is the
  // loser of two calls racing for one device.
  absl::StatusOr<v1::LeaseRunResponse> LeaseRun(int64_t worker_id, int32_t device_index);

  // Group commit (server/group_commit.h): many workers' lease requests in one
  // transaction, each asking for up to one run per listed device, each device
  // judged as LeaseRun judges it (answers in request order). The best queued
  // runs are claimed in one statement (FOR UPDATE SKIP LOCKED, so several
  // batches and coordinators never claim one run twice) and matched to the
  // devices in request order; a device the claimed runs do not fit gets
  // LeaseRun's own search. A request naming an unknown worker or device, or
  // one device twice in the batch, gets LeaseRun's error (the field is
  // device_indexes[i] when it named several) and nothing; a device's live
  // lease never reported on is given again, as from LeaseRun.
  struct LeaseAsk {
    int64_t worker_id = 0;
    std::vector<int32_t> devices;
    bool several = false;  // named with device_indexes (errors name device_indexes[i])
  };
  std::vector<absl::StatusOr<v1::LeaseRunResponse>> LeaseRuns(const std::vector<LeaseAsk>& asks);

  // Extends the leases of the listed live attempts and records the
  // heartbeat; lists those no longer current as revoked.
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  // Group commit of heartbeats: one transaction for the batch; answers in
  // request order, each as Heartbeat would.
  std::vector<absl::StatusOr<v1::HeartbeatResponse>> Heartbeats(
      const std::vector<const v1::HeartbeatRequest*>& requests);

  // Records the trainer's start and curve points, extends the lease.
  // revoked=true (and nothing stored) when the lease is no longer current.
  // A run keeps at most max_curve_points points (later ones are dropped,
  // with a warning); a point with a negative step or tokens or non-finite
  // FLOPs, or more than max_points_per_report points, is INVALID_ARGUMENT.
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request);
  // Group commit of progress reports: one transaction for the batch, the
  // points of every current lease stored in one statement; answers in
  // request order, each as ReportProgress would (a stale lease stores
  // nothing and is told revoked).
  std::vector<absl::StatusOr<v1::ReportProgressResponse>> ReportProgresses(
      const std::vector<const v1::ReportProgressRequest*>& requests);

  // Stores the result and ends the run as succeeded. PERMISSION_DENIED for a
  // wrong lease token, FAILED_PRECONDITION for an attempt that is no longer
  // current. An attempt whose lease expired is still accepted while its run
  // waits in the queue with no newer attempt (nothing better exists, and the
  // work is not thrown away). A result that is not plausible for the run's
  // plan (server/store/result_check.h: loss, tokens and FLOPs against the plan)
  // fails the attempt (reason bad_result, retried like a crash) and returns
  // INVALID_ARGUMENT naming the field; nothing of it is stored.
  absl::StatusOr<AttemptEnd> CompleteAttempt(const v1::CompleteAttemptRequest& request);
  // Group commit of completions: one transaction locks every named attempt
  // and run (in id order, as expiry does), judges each as CompleteAttempt
  // does, and stores the accepted results in one statement. Answers in
  // request order. A batch the database refuses as a whole is retried one
  // completion at a time, so one bad report cannot fail the others.
  std::vector<absl::StatusOr<AttemptEnd>> CompleteAttempts(
      const std::vector<const v1::CompleteAttemptRequest*>& requests);

  // Ends the attempt as failed (or released, for reason "drained"): the run
  // is queued again after a back-off, or failed when its failures reach
  // max_attempts or the reason is not retryable (bad_config, data).
  absl::StatusOr<AttemptEnd> FailAttempt(const v1::FailAttemptRequest& request);

  // Ends attempts whose lease expired (its deadline reached; up to `limit`),
  // queueing or failing their runs.
  struct Expired {
    int attempts = 0;
    std::vector<int64_t> sweeps;  // touched
  };
  absl::StatusOr<Expired> ExpireLeases(int limit = 1000);

  // Gives every live lease at least one more ttl. Run at coordinator start,
  // so that leases which ran out only because the coordinator was down are
  // not reclaimed before their workers can heartbeat again.
  absl::StatusOr<int> ExtendLiveLeasesForRestart();

  // Marks workers silent for longer than `silence` as gone.
  absl::StatusOr<int> MarkSilentWorkersGone(std::chrono::milliseconds silence);

  const LeaseSettings& settings() const { return settings_; }

 private:
  // The time parameter of a statement: the clock's wall time in
  // microseconds since the epoch, or NULL (the database's now()).
  class Now {
   public:
    explicit Now(const Clock* clock);
    const char* get() const { return text_.empty() ? nullptr : text_.c_str(); }

   private:
    std::string text_;
  };

  PgPool* pool_;
  const LeaseSettings settings_;
  const Clock* clock_;
};

// A fresh random lease token (128 bits, hex).
std::string NewLeaseToken();

// Failure reasons that the same config would hit again: never retried.
bool IsPermanentFailure(const std::string& reason);

// How long a run waits before its retry after its `failures`-th failure
// (1 = the first): `base`, doubled for each failure before it, at most `max`.
std::chrono::milliseconds RetryBackoff(int failures, std::chrono::milliseconds base,
                                       std::chrono::milliseconds max);

}  // namespace ladder::store
