// ladder-worker's Prometheus metrics: a prometheus-cpp registry (served on
// --metrics-listen by common/metrics_http_server.h) and the calls the daemon,
// its attempt supervisors and the device monitor make to keep it current.
//
// Names follow Prometheus conventions (base units, `_total` counters,
// `_bytes`, `_ratio`), all prefixed `ladder_worker_` so they never collide
// with the coordinator's `ladder_*` series. Label sets are bounded:
//   device    the registered device index ("0", "1", ...); kind "cpu"|"cuda"
//   outcome   succeeded | failed | released | revoked
//   reason    a fixed list of attempt failure reasons, else "other"
//   method    one of the six Agent methods; code a gRPC code name
//   sweep,run only while that run's trainer is running on this worker; the
//             series is removed when the trainer exits.
// The full list, with meanings, is in deploy/README.md ("Metrics and alerts").
//
// Thread-safe: prometheus-cpp metrics are safe to update while a scrape
// collects them; the trainer table is guarded by a mutex. The daemon calls
// from its io_context thread, the DeviceMonitor from its sampling thread.
#pragma once

#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"

namespace ladder::worker {

// One running attempt's throughput labels.
struct AttemptLabels {
  int64_t sweep_id = 0;
  int64_t run_id = 0;
  int device_index = 0;
};

// What a DeviceMonitor measured for one device; an unset field is not
// measured this time and its series is removed rather than left stale.
struct DeviceUsage {
  int index = 0;
  std::optional<double> utilization_ratio;  // 0..1 (CPU: may exceed 1, see device_monitor.h)
  std::optional<double> memory_used_bytes;
  std::optional<double> memory_total_bytes;
};

class WorkerMetrics {
 public:
  // `devices` are the registered devices (DetectDevices): they set
  // ladder_worker_devices{kind} and the label set of the per-device gauges.
  explicit WorkerMetrics(const std::vector<v1::Device>& devices);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // ---- trainers (AttemptSupervisor)
  // A trainer process started on `device_index`; `pgid` is its process
  // group (the trainer and everything it starts).
  void TrainerStarted(int device_index, pid_t pgid);
  // That trainer exited (or will not be waited for any longer).
  void TrainerExited(int device_index);
  struct RunningTrainer {
    pid_t pgid = 0;
    std::chrono::steady_clock::time_point started;
  };
  // device index -> its running trainer (for the DeviceMonitor).
  std::map<int, RunningTrainer> RunningTrainers() const;

  // The trainer's latest `progress` event. A null `mfu` (unknown device
  // peak) removes the MFU series instead of reporting a made-up value.
  void SetAttemptProgress(const AttemptLabels& labels, double tokens_per_second,
                          double flops_per_second, std::optional<double> mfu);
  // Removes the attempt's series (its trainer is gone). Idempotent.
  void RemoveAttempt(const AttemptLabels& labels);

  // An attempt is over: `outcome` succeeded | failed | released | revoked,
  // `reason` the FailAttempt reason ("" for succeeded and revoked).
  void CountAttemptEnded(const std::string& outcome, const std::string& reason);

  // ---- reports to the coordinator
  // A call to the coordinator failed (`status` not OK). `method` is the Agent
  // method's name ("LeaseRun").
  void CountRpcError(const std::string& method, const grpc::Status& status);
  // Progress points waiting to be reported, summed over attempts (signed
  // deltas: each supervisor adds what it queues and subtracts what it sends
  // or drops).
  void AddBufferedPoints(int64_t delta);
  // Points thinned away while the buffer was full.
  void CountPointsDropped(int64_t n);

  // ---- devices (DeviceMonitor)
  void SetDeviceUsage(const DeviceUsage& usage);
  // nvidia-smi failed or printed something unparsable.
  void CountDeviceSampleError();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<int, std::string> device_kind_;  // index -> kind, fixed at construction

  prometheus::Family<prometheus::Gauge>& devices_;
  prometheus::Family<prometheus::Gauge>& device_utilization_;
  prometheus::Family<prometheus::Gauge>& device_memory_used_;
  prometheus::Family<prometheus::Gauge>& device_memory_total_;
  prometheus::Family<prometheus::Counter>& device_sample_errors_;
  prometheus::Family<prometheus::Gauge>& trainers_running_;
  prometheus::Family<prometheus::Counter>& attempts_ended_;
  prometheus::Family<prometheus::Gauge>& attempt_tokens_per_second_;
  prometheus::Family<prometheus::Gauge>& attempt_flops_per_second_;
  prometheus::Family<prometheus::Gauge>& attempt_mfu_;
  prometheus::Family<prometheus::Counter>& rpc_errors_;
  prometheus::Family<prometheus::Gauge>& points_buffered_;
  prometheus::Family<prometheus::Counter>& points_dropped_;

  mutable std::mutex mu_;
  std::map<int, RunningTrainer> trainers_;  // guarded by mu_
};

// The attempt-ending reasons copied to a label; anything else is "other".
std::string BoundedWorkerReason(const std::string& reason);

}  // namespace ladder::worker
