// The worker daemon's core: registers the worker's devices with the
// coordinator, heartbeats, keeps every free device asking for a run
// (LeaseRun), hands each granted lease to an AttemptSupervisor, kills the
// trainers of revoked leases, and drains on request.
//
// Coordinator outages: every call is retried with backoff on UNAVAILABLE
// (and the other retryable codes); trainers keep running meanwhile and their
// progress is buffered by their supervisors, so a coordinator restart costs
// nothing but delay. NOT_FOUND from Heartbeat or LeaseRun means the
// coordinator does not know this worker: it registers again under the same
// name (which keeps its id) and carries on.
//
// Drain: RequestDrain (SIGTERM/SIGINT in main.cc) stops leasing; running
// trainers get `drain_grace` to finish, then are stopped (SIGTERM,
// `kill_grace`, SIGKILL) and released with FailAttempt reason `drained`; a
// second request cuts the grace short. When every attempt is reported (or
// `drain_report_timeout` after the trainers stopped), the daemon exits 0.
// The coordinator's own drain (drain=true in a Heartbeat or LeaseRun reply)
// only stops leasing: running attempts finish, the daemon stays up and
// heartbeating, and resumes leasing if a later reply says drain=false.
//
// Threading: everything on the io_context's one thread. Not copyable.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "worker/agent_client.h"
#include "worker/attempt_supervisor.h"
#include "worker/backoff.h"
#include "worker/trainer_launcher.h"
#include "worker/worker_metrics.h"
#include "worker/worker_options.h"

namespace ladder::worker {

class WorkerDaemon {
 public:
  // `options`, `agent`, `launcher` and `metrics` (optional) must outlive the
  // daemon and its attempts (declare `metrics` before the io_context, whose
  // destruction may release the last attempt). `devices` are what
  // DetectDevices found; one trainer runs per device.
  WorkerDaemon(boost::asio::io_context& io, const WorkerOptions& options,
               std::vector<v1::Device> devices, AgentClient& agent, TrainerLauncher& launcher,
               WorkerMetrics* metrics = nullptr);
  ~WorkerDaemon();
  WorkerDaemon(const WorkerDaemon&) = delete;
  WorkerDaemon& operator=(const WorkerDaemon&) = delete;

  // Starts registering. `on_exit` runs once, on the io_context, when the
  // daemon is done: 0 after a drain, 1 when the coordinator refuses the
  // registration (a configuration error: wrong credentials, bad devices).
  void Start(std::function<void(int exit_code)> on_exit);

  // The first call starts a drain; later calls stop the trainers now.
  void RequestDrain(const std::string& why);

  int64_t worker_id() const { return worker_id_; }

 private:
  struct Slot;

  void Register();
  void ArmHeartbeat();
  void SendHeartbeat();
  // Whether `slot` may ask for a run now (ignoring a wait before asking).
  bool MayLease(const Slot& slot) const;
  // Asks for a run for `slot` and, in the same call, for every other device
  // free now (LeaseRunRequest.device_indexes).
  void MaybeLease(Slot& slot);
  void WaitThenLease(Slot& slot, std::chrono::milliseconds delay);
  void StartAttempt(Slot& slot, const v1::Lease& lease);
  void OnAttemptDone(Slot& slot);
  void Reregister(const std::string& why);
  void SetOperatorDrain(bool drain);
  void DrainAttempts();
  void AbandonReports();
  void MaybeExit();
  void Exit(int code);
  AttemptSupervisor* FindAttempt(int64_t attempt_id);

  boost::asio::io_context& io_;
  const WorkerOptions& options_;
  AgentClient& agent_;
  TrainerLauncher& launcher_;
  WorkerMetrics* const metrics_;
  std::vector<v1::Device> devices_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::function<void(int)> on_exit_;

  int64_t worker_id_ = 0;
  bool registered_ = false;
  bool registering_ = false;
  bool heartbeat_in_flight_ = false;
  bool coordinator_down_ = false;  // the last heartbeat failed
  bool operator_drain_ = false;
  bool draining_ = false;
  bool stopped_ = false;
  std::chrono::milliseconds heartbeat_interval_{5000};
  Backoff register_backoff_;

  boost::asio::steady_timer register_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer drain_timer_;        // end of the drain grace
  boost::asio::steady_timer deadline_timer_;     // stop waiting for reports
  boost::asio::steady_timer last_resort_timer_;  // exit even if a trainer will not die
};

}  // namespace ladder::worker
