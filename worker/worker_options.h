// ladder-worker's configuration: one struct, filled only in main.cc from
// flags (and environment), validated once by ValidateWorkerOptions, printed
// at start by DescribeWorkerOptions.
#pragma once

#include <absl/status/status.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/channel_options.h"
#include "common/logging.h"

namespace ladder::worker {

struct WorkerOptions {
  // How to reach the coordinator (--coordinator, --insecure, --tls-*, token).
  ChannelOptions coordinator;
  // Stable worker name; re-registering under the same name keeps the worker
  // id. Default: the hostname.
  std::string name;
  // This machine's hostname (not a flag), sent at registration.
  std::string hostname;
  // The trainer program (absolute path). Default: ladder-train next to the
  // ladder-worker binary.
  std::string trainer;
  // Appended to every trainer's argv (--trainer-arg, repeatable).
  std::vector<std::string> trainer_args;
  // Root of the worker's files; run directories are <work_dir>/runs/<run_id>.
  std::string work_dir;
  // Passed to trainers as LADDER_DATA_DIR (prepared corpora). Empty: not set
  // (trainers see the worker's own LADDER_DATA_DIR, if any).
  std::string data_dir;
  // Which devices to register: auto | cpu | cuda | cuda:0,1.
  std::string devices = "auto";
  // Without GPUs: how many CPU trainers run at once (one device each).
  int cpu_slots = 1;
  // CPU threads given to each trainer; 0 = the machine's threads divided
  // evenly among the devices.
  int threads_per_slot = 0;
  // A trainer that prints nothing on stdout for this long is killed and its
  // attempt failed with reason `timeout`.
  std::chrono::milliseconds trainer_silence_timeout{std::chrono::minutes(10)};
  // On SIGTERM/SIGINT, how long running trainers may go on before they are
  // stopped and released with reason `drained`. A second signal cuts it short.
  std::chrono::milliseconds drain_grace{std::chrono::seconds(60)};
  // Between SIGTERM and SIGKILL when the worker stops a trainer.
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  // How often an idle device asks for a run when none was granted.
  std::chrono::milliseconds lease_poll_interval{std::chrono::seconds(2)};
  // Deadline of every call to the coordinator.
  std::chrono::milliseconds rpc_timeout{std::chrono::seconds(10)};
  // Progress points are sent at most this often per attempt (plus at
  // `started`, checkpoints and the end).
  std::chrono::milliseconds progress_interval{std::chrono::seconds(1)};
  // Longest wait between retries of a call that failed with UNAVAILABLE (the
  // first retry waits 100 ms, then doubling).
  std::chrono::milliseconds retry_backoff_max{std::chrono::seconds(5)};
  // While draining, how long the worker keeps retrying its final reports
  // after its trainers stopped, before it exits anyway (the coordinator then
  // re-queues the runs when their leases expire).
  std::chrono::milliseconds drain_report_timeout{std::chrono::seconds(30)};
  // Progress points buffered per attempt while the coordinator is
  // unreachable; beyond it older points are thinned (every other one dropped).
  size_t max_buffered_points = 10000;
  // Keep checkpoints and other trainer files of succeeded runs (by default
  // only the logs and config.json of a succeeded run are kept).
  bool keep_run_files = false;
  // Prometheus /metrics address (host:port; port 0 picks one); empty = off.
  std::string metrics_listen = "127.0.0.1:9401";
  // True when metrics_listen is the default rather than asked for: then an
  // address already in use (say, a second worker on the machine) only costs
  // the metrics, with a warning. An address asked for must be free, or the
  // worker does not start.
  bool metrics_listen_is_default = true;
  // How often device utilisation and memory are sampled (nvidia-smi, /proc)
  // for the metrics, on a thread of their own.
  std::chrono::milliseconds device_sample_interval{std::chrono::seconds(5)};
  // Minimum level of log lines on stderr.
  LogLevel log_level = LogLevel::kInfo;
};

// OK, or INVALID_ARGUMENT naming the flag at fault ("--cpu-slots: must be at
// least 1 (got 0)"). Checks the trainer is an executable file.
absl::Status ValidateWorkerOptions(const WorkerOptions& options);

// A few lines for the start-up log; no secrets.
std::string DescribeWorkerOptions(const WorkerOptions& options);

}  // namespace ladder::worker
