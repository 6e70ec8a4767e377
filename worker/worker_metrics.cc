#include "worker/worker_metrics.h"

#include <set>

#include "common/grpc_status.h"

namespace ladder::worker {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::Labels;

Labels AttemptLabelSet(const AttemptLabels& a) {
  return {{"sweep", std::to_string(a.sweep_id)},
          {"run", std::to_string(a.run_id)},
          {"device", std::to_string(a.device_index)}};
}

template <typename T>
void RemoveIfPresent(prometheus::Family<T>& family, const Labels& labels) {
  if (family.Has(labels)) family.Remove(&family.Add(labels));
}

}  // namespace

std::string BoundedWorkerReason(const std::string& r) {
  static const std::set<std::string> kKnown = {
      "",           "crashed",    "timeout", "protocol_error", "diverged",
      "non_finite", "bad_config", "data",    "internal",       "drained"};
  return kKnown.count(r) ? r : "other";
}

WorkerMetrics::WorkerMetrics(const std::vector<v1::Device>& devices)
    : registry_(std::make_shared<prometheus::Registry>()),
      devices_(BuildGauge()
                   .Name("ladder_worker_devices")
                   .Help("Devices this worker registered, by kind (cpu slots or cuda GPUs)")
                   .Register(*registry_)),
      device_utilization_(
          BuildGauge()
              .Name("ladder_worker_device_utilization_ratio")
              .Help("Device busy fraction: cuda from nvidia-smi utilization.gpu; cpu: CPU time of "
                    "the slot's trainer process group per second over the slot's threads")
              .Register(*registry_)),
      device_memory_used_(BuildGauge()
                              .Name("ladder_worker_device_memory_used_bytes")
                              .Help("Device memory in use: cuda from nvidia-smi memory.used; cpu: "
                                    "resident memory of the slot's trainer process group")
                              .Register(*registry_)),
      device_memory_total_(BuildGauge()
                               .Name("ladder_worker_device_memory_total_bytes")
                               .Help("Device memory: cuda from nvidia-smi memory.total; cpu: the "
                                     "slot's share of MemTotal as registered")
                               .Register(*registry_)),
      device_sample_errors_(BuildCounter()
                                .Name("ladder_worker_device_sample_errors_total")
                                .Help("Device samples that failed (nvidia-smi error, timeout or "
                                      "unparsable output)")
                                .Register(*registry_)),
      trainers_running_(BuildGauge()
                            .Name("ladder_worker_trainers_running")
                            .Help("Trainer processes running now")
                            .Register(*registry_)),
      attempts_ended_(BuildCounter()
                          .Name("ladder_worker_attempts_ended_total")
                          .Help("Attempts this worker finished, by outcome (succeeded, failed, "
                                "released, revoked) and failure reason")
                          .Register(*registry_)),
      attempt_tokens_per_second_(
          BuildGauge()
              .Name("ladder_worker_attempt_tokens_per_second")
              .Help("Training tokens per second of each running attempt, from its trainer's "
                    "latest progress event")
              .Register(*registry_)),
      attempt_flops_per_second_(BuildGauge()
                                    .Name("ladder_worker_attempt_flops_per_second")
                                    .Help("Model FLOP/s of each running attempt, from its "
                                          "trainer's latest progress event")
                                    .Register(*registry_)),
      attempt_mfu_(BuildGauge()
                       .Name("ladder_worker_attempt_mfu_ratio")
                       .Help("Model FLOP utilisation of each running attempt (absent when the "
                             "trainer does not know its device's peak)")
                       .Register(*registry_)),
      rpc_errors_(BuildCounter()
                      .Name("ladder_worker_rpc_errors_total")
                      .Help("Calls to the coordinator that failed, by Agent method and gRPC code")
                      .Register(*registry_)),
      points_buffered_(BuildGauge()
                           .Name("ladder_worker_progress_points_buffered")
                           .Help("Progress points queued for the coordinator, over all attempts")
                           .Register(*registry_)),
      points_dropped_(BuildCounter()
                          .Name("ladder_worker_progress_points_dropped_total")
                          .Help("Progress points thinned away while the buffer was full")
                          .Register(*registry_)) {
  std::map<std::string, double> by_kind = {{"cpu", 0}, {"cuda", 0}};
  for (const auto& d : devices) {
    device_kind_[d.index()] = d.kind();
    by_kind[d.kind()] += 1;
  }
  for (const auto& [kind, n] : by_kind) devices_.Add({{"kind", kind}}).Set(n);
  trainers_running_.Add({}).Set(0);
  points_buffered_.Add({}).Set(0);
  points_dropped_.Add({});
  // The usual outcomes exist from the first scrape, so rate() sees their start.
  attempts_ended_.Add({{"outcome", "succeeded"}, {"reason", ""}});
  attempts_ended_.Add({{"outcome", "failed"}, {"reason", "crashed"}});
  device_sample_errors_.Add({});
}

void WorkerMetrics::TrainerStarted(int device_index, pid_t pgid) {
  std::lock_guard<std::mutex> lock(mu_);
  trainers_[device_index] = {pgid, std::chrono::steady_clock::now()};
  trainers_running_.Add({}).Set(static_cast<double>(trainers_.size()));
}

void WorkerMetrics::TrainerExited(int device_index) {
  std::lock_guard<std::mutex> lock(mu_);
  trainers_.erase(device_index);
  trainers_running_.Add({}).Set(static_cast<double>(trainers_.size()));
}

std::map<int, WorkerMetrics::RunningTrainer> WorkerMetrics::RunningTrainers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trainers_;
}

void WorkerMetrics::SetAttemptProgress(const AttemptLabels& labels, double tokens_per_second,
                                       double flops_per_second, std::optional<double> mfu) {
  std::lock_guard<std::mutex> lock(mu_);
  const Labels l = AttemptLabelSet(labels);
  attempt_tokens_per_second_.Add(l).Set(tokens_per_second);
  attempt_flops_per_second_.Add(l).Set(flops_per_second);
  if (mfu) {
    attempt_mfu_.Add(l).Set(*mfu);
  } else {
    RemoveIfPresent(attempt_mfu_, l);
  }
}

void WorkerMetrics::RemoveAttempt(const AttemptLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  const Labels l = AttemptLabelSet(labels);
  RemoveIfPresent(attempt_tokens_per_second_, l);
  RemoveIfPresent(attempt_flops_per_second_, l);
  RemoveIfPresent(attempt_mfu_, l);
}

void WorkerMetrics::CountAttemptEnded(const std::string& outcome, const std::string& reason) {
  attempts_ended_.Add({{"outcome", outcome}, {"reason", BoundedWorkerReason(reason)}}).Increment();
}

void WorkerMetrics::CountRpcError(const std::string& method, const grpc::Status& status) {
  if (status.ok()) return;
  rpc_errors_.Add({{"method", method}, {"code", GrpcCodeName(status.error_code())}}).Increment();
}

void WorkerMetrics::AddBufferedPoints(int64_t delta) {
  points_buffered_.Add({}).Increment(static_cast<double>(delta));
}

void WorkerMetrics::CountPointsDropped(int64_t n) {
  points_dropped_.Add({}).Increment(static_cast<double>(n));
}

void WorkerMetrics::SetDeviceUsage(const DeviceUsage& usage) {
  auto kind = device_kind_.find(usage.index);
  if (kind == device_kind_.end()) return;  // not a registered device
  std::lock_guard<std::mutex> lock(mu_);
  const Labels l = {{"device", std::to_string(usage.index)}, {"kind", kind->second}};
  auto set = [&l](prometheus::Family<prometheus::Gauge>& family, std::optional<double> value) {
    if (value) {
      family.Add(l).Set(*value);
    } else {
      RemoveIfPresent(family, l);
    }
  };
  set(device_utilization_, usage.utilization_ratio);
  set(device_memory_used_, usage.memory_used_bytes);
  set(device_memory_total_, usage.memory_total_bytes);
}

void WorkerMetrics::CountDeviceSampleError() { device_sample_errors_.Add({}).Increment(); }

}  // namespace ladder::worker
