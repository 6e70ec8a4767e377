// One attempt of one run on one device, from the granted lease to the final
// report: writes the run's config into its run directory, starts the
// trainer, reads its events (trainer_event.h) and enforces the protocol
// (worker/TRAINER_PROTOCOL.md), forwards progress, stops the trainer when
// told to (revoked lease, drain) or when it misbehaves (silence, garbage),
// and reports the outcome exactly once with CompleteAttempt or FailAttempt,
// retrying while the coordinator is unreachable.
//
// Outcome rules, the first that applies wins:
//   lease revoked (heartbeat, ReportProgress, or a stale-lease error)
//                                        -> trainer stopped, nothing reported
//   stopped by the worker for silence or a bad stdout line (a line after
//   the last event, `progress` before `started`, not JSON, unknown event,
//   missing field)                       -> FailAttempt(timeout | protocol_error)
//   `result` and exit 0                  -> CompleteAttempt (result verbatim),
//                                           also when it beat a drain
//   stopped for a drain                  -> FailAttempt(drained)
//   `error` event and a non-zero exit    -> FailAttempt(kind, message)
//   exit 0 without `result`, or after `error`
//                                        -> FailAttempt(protocol_error)
//   non-zero exit or a signal otherwise  -> FailAttempt(crashed, "exit code 3;
//                                           stderr: <last line of the log>")
//
// Ownership and threading: created and used on the io_context thread only;
// held by shared_ptr (its timers and calls keep it alive until they finish).
// `on_done` runs once, posted to the io_context, when nothing more will be
// reported; the owner may drop its pointer then.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ladder/v1/ladder.pb.h"
#include "worker/agent_client.h"
#include "worker/backoff.h"
#include "worker/trainer_event.h"
#include "worker/trainer_launcher.h"
#include "worker/worker_metrics.h"
#include "worker/worker_options.h"

namespace ladder::worker {

class AttemptSupervisor : public std::enable_shared_from_this<AttemptSupervisor> {
 public:
  // `agent`, `launcher`, `options` and `metrics` (optional) must outlive the
  // supervisor.
  AttemptSupervisor(boost::asio::io_context& io, AgentClient& agent, TrainerLauncher& launcher,
                    const WorkerOptions& options, v1::Device device, v1::Lease lease,
                    std::function<void()> on_done, WorkerMetrics* metrics = nullptr);
  ~AttemptSupervisor();

  // Prepares the run directory and starts the trainer. Call once.
  void Start();
  // Reports the attempt failed with `reason` without running it (e.g. a
  // lease granted after the worker began to drain). Call instead of Start.
  void Release(const std::string& reason, const std::string& message);
  // The lease is gone: stop the trainer, report nothing.
  void Revoke(const std::string& why);
  // The worker is draining and the grace is over: stop the trainer and
  // report `drained` (unless it finishes with a result first).
  void Drain();
  // Stop retrying reports (the worker is exiting).
  void AbandonReports();

  // True until the final report is accepted (or given up) and while the
  // lease was not revoked: the daemon heartbeats these attempts.
  bool holds_lease() const { return phase_ != Phase::kDone && !revoked_; }
  bool trainer_running() const { return process_ != nullptr && !exit_.has_value(); }
  int64_t attempt_id() const { return lease_.attempt_id(); }
  int64_t run_id() const { return lease_.run_id(); }
  const std::string& lease_token() const { return lease_.lease_token(); }
  const std::string& name() const { return name_; }  // "run 42 attempt 2"

 private:
  enum class Phase { kIdle, kRunning, kStopping, kReporting, kDone };
  struct Failure {
    std::string reason;
    std::string message;
  };

  // Trainer events.
  void OnLine(std::string line);
  void OnStdoutClosed(const absl::Status& status);
  void OnExit(TrainerExit exit);
  void HandleEvent(const std::string& line, const TrainerEvent& event);
  void ProtocolError(const std::string& what, const std::string& line);
  void Stop(const std::string& reason, const std::string& message);
  void ArmSilenceTimer();
  void MaybeFinishTrainer();

  // Reports.
  void QueueProgress(const ProgressEvent& p);
  void ScheduleFlush(bool now);
  void FlushProgress();
  void SendOutcome();
  void OnReportFailed(const grpc::Status& status, const char* what);
  void OnCompleteRefused(const grpc::Status& status);
  void Finish();

  // Metrics: the trainer's series go when it exits; buffered points are
  // kept in step with points_; the outcome is counted once, in Finish.
  void MetricsTrainerGone();
  void MetricsSyncBuffered();
  void MetricsCountOutcome();

  bool PrepareRunDir(std::string* config_path, Failure* failure);
  std::string StderrTail() const;
  void CleanRunDir() const;

  boost::asio::io_context& io_;
  AgentClient& agent_;
  TrainerLauncher& launcher_;
  const WorkerOptions& options_;
  const v1::Device device_;
  const v1::Lease lease_;
  std::function<void()> on_done_;
  WorkerMetrics* const metrics_;
  bool metrics_trainer_live_ = false;  // TrainerStarted reported, TrainerExited not yet
  int64_t metrics_buffered_ = 0;       // points_.size() as last added to the gauge
  const std::string name_;
  const std::string run_dir_;
  const std::string log_path_;

  Phase phase_ = Phase::kIdle;
  std::unique_ptr<TrainerProcess> process_;
  std::optional<TrainerExit> exit_;
  bool stdout_closed_ = false;
  int64_t line_no_ = 0;
  std::optional<Failure> stop_;  // why the worker stopped the trainer
  bool revoked_ = false;
  bool abandoned_ = false;

  // What the trainer said.
  bool started_seen_ = false;
  std::optional<std::string> result_json_;
  std::optional<ErrorEvent> error_;

  // Progress not yet accepted by the coordinator.
  std::string started_json_;  // non-empty until reported
  std::deque<v1::CurvePoint> points_;
  size_t points_in_flight_ = 0;  // the first points_in_flight_ of points_ are being sent
  bool sent_started_in_flight_ = false;
  bool progress_in_flight_ = false;
  bool flush_scheduled_ = false;
  bool progress_given_up_ = false;
  int64_t points_dropped_ = 0;
  bool thinning_logged_ = false;
  std::chrono::steady_clock::time_point last_flush_{};

  // The final report.
  std::optional<Failure> outcome_failure_;  // set: FailAttempt; unset: CompleteAttempt
  bool outcome_in_flight_ = false;
  bool outcome_decided_ = false;
  Backoff report_backoff_;
  // CompleteAttempt refusals that are not the lease's end: after
  // kCompleteTries the attempt is failed with the reason instead.
  static constexpr int kCompleteTries = 5;
  int complete_refusals_ = 0;
  Backoff progress_backoff_;

  boost::asio::steady_timer silence_timer_;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer stdout_timer_;
  boost::asio::steady_timer flush_timer_;
  boost::asio::steady_timer report_timer_;
  const std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
};

}  // namespace ladder::worker
