#include "worker/worker_options.h"

#include <unistd.h>

#include <sstream>

#include "common/duration.h"
#include "common/metrics_http_server.h"

namespace ladder::worker {
namespace {

absl::Status Positive(const char* flag, std::chrono::milliseconds value) {
  if (value.count() > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(flag) + ": must be positive (got " +
                                    FormatDuration(value) + ")");
}

}  // namespace

absl::Status ValidateWorkerOptions(const WorkerOptions& o) {
  if (absl::Status s = ValidateChannelOptions(o.coordinator); !s.ok()) {
    std::string msg(s.message());  // "address: ..." names the flag itself
    if (msg.rfind("address: ", 0) == 0) msg = msg.substr(9);
    return absl::InvalidArgumentError("--coordinator: " + msg);
  }
  if (o.name.empty()) return absl::InvalidArgumentError("--name: empty");
  if (o.name.size() > 200) return absl::InvalidArgumentError("--name: longer than 200 bytes");
  if (o.trainer.empty()) return absl::InvalidArgumentError("--trainer: empty");
  if (o.trainer.front() != '/') {
    return absl::InvalidArgumentError("--trainer: '" + o.trainer + "' is not an absolute path");
  }
  if (::access(o.trainer.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError("--trainer: '" + o.trainer + "' is not an executable file");
  }
  if (o.work_dir.empty() || o.work_dir.front() != '/') {
    return absl::InvalidArgumentError("--work-dir: '" + o.work_dir + "' is not an absolute path");
  }
  if (o.cpu_slots < 1 || o.cpu_slots > 1024) {
    return absl::InvalidArgumentError("--cpu-slots: must be in 1..1024 (got " +
                                      std::to_string(o.cpu_slots) + ")");
  }
  if (o.threads_per_slot < 0 || o.threads_per_slot > 4096) {
    return absl::InvalidArgumentError("--threads-per-slot: must be in 0..4096 (got " +
                                      std::to_string(o.threads_per_slot) + ")");
  }
  for (auto [flag, value] : {std::pair{"--trainer-silence-timeout", o.trainer_silence_timeout},
                             {"--kill-grace", o.kill_grace},
                             {"--lease-poll-interval", o.lease_poll_interval},
                             {"--rpc-timeout", o.rpc_timeout},
                             {"--progress-interval", o.progress_interval},
                             {"--retry-backoff-max", o.retry_backoff_max},
                             {"--drain-report-timeout", o.drain_report_timeout},
                             {"--device-sample-interval", o.device_sample_interval}}) {
    if (absl::Status s = Positive(flag, value); !s.ok()) return s;
  }
  if (o.drain_grace.count() < 0) return absl::InvalidArgumentError("--drain-grace: negative");
  if (!o.metrics_listen.empty()) {
    std::string host;
    int port = 0;
    if (!SplitHostPort(o.metrics_listen, &host, &port)) {
      return absl::InvalidArgumentError("--metrics-listen: '" + o.metrics_listen +
                                        "' is not host:port (empty turns metrics off)");
    }
  }
  if (o.max_buffered_points < 10) {
    return absl::InvalidArgumentError("--max-buffered-points: must be at least 10");
  }
  return absl::OkStatus();
}

std::string DescribeWorkerOptions(const WorkerOptions& o) {
  std::ostringstream out;
  out << "coordinator " << DescribeChannelOptions(o.coordinator) << "; name " << o.name
      << "; trainer " << o.trainer;
  for (const auto& arg : o.trainer_args) out << " " << arg;
  out << "; work-dir " << o.work_dir << "; data-dir "
      << (o.data_dir.empty() ? "(unset)" : o.data_dir) << "; devices " << o.devices
      << "; cpu-slots " << o.cpu_slots << "; threads-per-slot "
      << (o.threads_per_slot == 0 ? std::string("auto") : std::to_string(o.threads_per_slot))
      << "; silence-timeout " << FormatDuration(o.trainer_silence_timeout) << "; drain-grace "
      << FormatDuration(o.drain_grace) << "; kill-grace " << FormatDuration(o.kill_grace)
      << "; lease-poll " << FormatDuration(o.lease_poll_interval) << "; rpc-timeout "
      << FormatDuration(o.rpc_timeout) << "; progress-interval "
      << FormatDuration(o.progress_interval) << "; retry-backoff-max "
      << FormatDuration(o.retry_backoff_max) << "; drain-report-timeout "
      << FormatDuration(o.drain_report_timeout) << "; max-buffered-points " << o.max_buffered_points
      << "; metrics " << (o.metrics_listen.empty() ? "off" : o.metrics_listen)
      << "; device-sample-interval " << FormatDuration(o.device_sample_interval)
      << (o.keep_run_files ? "; keep-run-files" : "");
  return out.str();
}

}  // namespace ladder::worker
