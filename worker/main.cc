// ladder-worker: the worker daemon. Flags -> WorkerOptions (validated once,
// printed at start), device detection, then the WorkerDaemon on one Asio
// event loop until a drain completes. Exit codes: 0 drained, 1 runtime
// failure (e.g. the coordinator refused the registration), 2 bad flags.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/channel_options.h"
#include "common/cli_flags.h"
#include "common/grpc_runtime.h"
#include "common/logging.h"
#include "common/metrics_http_server.h"
#include "worker/agent_client.h"
#include "worker/device_detection.h"
#include "worker/device_monitor.h"
#include "worker/process_trainer_launcher.h"
#include "worker/worker_daemon.h"
#include "worker/worker_metrics.h"
#include "worker/worker_options.h"

namespace {

namespace fs = std::filesystem;
using ladder::worker::WorkerOptions;

constexpr int kExitBadFlags = 2;

int BadFlags(const std::string& message) {
  std::cerr << "ladder-worker: " << message << "\n";
  return kExitBadFlags;
}

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The directory of the running binary ("" when unknown).
std::string SelfDir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : self.parent_path().string();
}

// Flags that fill `o` directly or through `token_file`.
void AddFlags(CLI::App& app, WorkerOptions& o, std::string* token_file) {
  app.add_option("--coordinator", o.coordinator.address,
                 "coordinator host:port, several (a:7400,b:7400: the first that answers, "
                 "the next when it goes) or dns:///name:port (every record) "
                 "[env LADDER_COORDINATOR]");
  app.add_flag("--insecure", o.coordinator.insecure,
               "plaintext gRPC (loopback coordinator addresses only)");
  app.add_option("--tls-ca", o.coordinator.tls_ca_file, "PEM CA bundle (default: system roots)");
  app.add_option("--tls-cert", o.coordinator.tls_cert_file, "PEM client certificate (mTLS)");
  app.add_option("--tls-key", o.coordinator.tls_key_file, "PEM client key (mTLS)");
  app.add_option("--tls-server-name", o.coordinator.tls_server_name,
                 "name to check in the coordinator's certificate");
  app.add_option("--token-file", *token_file, "file holding a bearer token [env LADDER_TOKEN]");
  app.add_option("--name", o.name,
                 "stable worker name; re-registering keeps the id (default: hostname) "
                 "[env LADDER_WORKER_NAME]");
  app.add_option("--trainer", o.trainer,
                 "trainer program (default: ladder-train next to this binary)");
  app.add_option("--trainer-arg", o.trainer_args,
                 "append to the trainer's argv; repeatable; write --trainer-arg=--flag for "
                 "values that start with --");
  app.add_option(
      "--work-dir", o.work_dir,
      "run directories go in <work-dir>/runs (default: ./ladder-work) [env LADDER_WORK_DIR]");
  app.add_option("--data-dir", o.data_dir,
                 "passed to trainers as LADDER_DATA_DIR [env LADDER_DATA_DIR]");
  app.add_option("--devices", o.devices, "auto | cpu | cuda | cuda:0,1")->capture_default_str();
  app.add_option("--cpu-slots", o.cpu_slots, "concurrent CPU trainers when there is no GPU")
      ->capture_default_str();
  app.add_option("--threads-per-slot", o.threads_per_slot,
                 "CPU threads per trainer (0: the machine's threads split evenly)")
      ->capture_default_str();
  using ladder::AddDurationOption;
  AddDurationOption(app, "--trainer-silence-timeout", &o.trainer_silence_timeout,
                    "kill a trainer silent on stdout this long (reason timeout)");
  AddDurationOption(app, "--drain-grace", &o.drain_grace,
                    "on SIGTERM, how long running trainers may go on");
  AddDurationOption(app, "--kill-grace", &o.kill_grace, "SIGTERM to SIGKILL");
  AddDurationOption(app, "--lease-poll-interval", &o.lease_poll_interval,
                    "idle device's LeaseRun interval");
  AddDurationOption(app, "--rpc-timeout", &o.rpc_timeout, "deadline of every coordinator call");
  AddDurationOption(app, "--progress-interval", &o.progress_interval,
                    "progress reports per attempt at most this often");
  AddDurationOption(app, "--retry-backoff-max", &o.retry_backoff_max,
                    "longest wait between retries");
  AddDurationOption(app, "--drain-report-timeout", &o.drain_report_timeout,
                    "when draining, how long to retry final reports before exiting anyway");
  app.add_option("--max-buffered-points", o.max_buffered_points,
                 "progress points kept per attempt while the coordinator is away")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metrics_listen,
                 "serve Prometheus /metrics on host:port (port 0 picks one; 'off' or empty: off; "
                 "the default is\n"
                 "skipped with a warning when taken, an address given must be free)")
      ->capture_default_str();
  AddDurationOption(app, "--device-sample-interval", &o.device_sample_interval,
                    "how often device utilisation and memory are sampled for /metrics");
  app.add_flag("--keep-run-files", o.keep_run_files,
               "keep checkpoints of succeeded runs (default: keep only logs and config.json)");
  ladder::AddLogLevelOption(app, &o.log_level);
}

// What the flags leave implicit: defaults that depend on the machine,
// absolute paths, the bearer token. An error names the flag.
absl::Status CompleteOptions(const CLI::App& app, const std::string& token_file, WorkerOptions& o) {
  o.metrics_listen_is_default = app.count("--metrics-listen") == 0;
  if (o.metrics_listen == "off") o.metrics_listen.clear();
  if (o.name.empty()) o.name = o.hostname;
  if (o.trainer.empty()) o.trainer = SelfDir() + "/ladder-train";
  if (o.work_dir.empty()) o.work_dir = "ladder-work";
  std::error_code ec;
  o.work_dir = fs::absolute(o.work_dir, ec).lexically_normal().string();
  if (!o.trainer.empty()) o.trainer = fs::absolute(o.trainer, ec).lexically_normal().string();
  if (!o.data_dir.empty()) o.data_dir = fs::absolute(o.data_dir, ec).lexically_normal().string();
  if (o.coordinator.bearer_token = Env("LADDER_TOKEN"); !token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return absl::InvalidArgumentError("--token-file: cannot read '" + token_file + "'");
    std::getline(in, o.coordinator.bearer_token);
  }
  return ladder::worker::ValidateWorkerOptions(o);
}

// Serves /metrics when asked; false (logged) when an address asked for
// cannot be served. Without it, *server stays null.
bool StartMetrics(const WorkerOptions& o, ladder::worker::WorkerMetrics& metrics,
                  ladder::worker::DeviceMonitor& device_monitor,
                  std::unique_ptr<ladder::MetricsHttpServer>* server) {
  if (o.metrics_listen.empty()) return true;
  auto started = ladder::MetricsHttpServer::Start(o.metrics_listen, metrics.registry());
  if (started.ok()) {
    *server = *std::move(started);
    device_monitor.Start(o.device_sample_interval);
    LOG_INFO << "serving /metrics on port " << (*server)->port();
  } else if (o.metrics_listen_is_default) {
    LOG_WARN << "no /metrics: " << started.status().message()
             << " (another worker on this machine? give each its own --metrics-listen)";
  } else {
    LOG_ERROR << "--metrics-listen: " << started.status().message();
    return false;
  }
  return true;
}

// The daemon on one Asio event loop until it exits; its exit code.
int RunDaemon(const WorkerOptions& o, const std::vector<ladder::v1::Device>& devices,
              std::shared_ptr<grpc::Channel> channel, ladder::worker::WorkerMetrics& metrics) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  ladder::worker::AgentClient agent(io, std::move(channel), o.rpc_timeout);
  ladder::worker::ProcessTrainerLauncher launcher(io);
  ladder::worker::WorkerDaemon daemon(io, o, devices, agent, launcher, &metrics);

  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& error, int signo) {
        if (error) return;
        daemon.RequestDrain(signo == SIGTERM ? "SIGTERM" : "SIGINT");
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  int exit_code = 0;
  daemon.Start([&](int code) {
    exit_code = code;
    signals.cancel();
    io.stop();
  });
  io.run();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  ladder::ConfigureGrpcRuntime();
  WorkerOptions o;
  o.name = Env("LADDER_WORKER_NAME");
  o.hostname = Hostname();
  o.coordinator.address = Env("LADDER_COORDINATOR");
  o.data_dir = Env("LADDER_DATA_DIR");
  o.work_dir = Env("LADDER_WORK_DIR");
  std::string token_file;

  // ------------------------------------------------------------ flags -> options
  CLI::App app{
      "ladder-worker: leases runs from a Ladder coordinator and trains each in its own\n"
      "trainer process (one per device), streaming progress and reporting results.\n"
      "SIGTERM/SIGINT drain it: no new runs, running ones get --drain-grace, then are\n"
      "released to the coordinator; a second signal stops them at once.\n"
      "Durations: 500ms, 30s, 5m, 1h (a bare number is seconds).",
      "ladder-worker"};
  AddFlags(app, o, &token_file);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return BadFlags(e.what());
  }
  if (absl::Status s = CompleteOptions(app, token_file, o); !s.ok()) {
    return BadFlags(std::string(s.message()));
  }
  auto selection = ladder::worker::ParseDeviceSelection(o.devices);
  if (!selection.ok()) return BadFlags("--" + std::string(selection.status().message()));

  ladder::SetLogLevel(o.log_level);
  ladder::SetLogTag("worker " + o.name);
  LOG_INFO << "ladder-worker starting: " << ladder::worker::DescribeWorkerOptions(o);

  // ------------------------------------------------------------ devices, directories, channel
  ladder::worker::SystemHostProbe probe;
  auto devices = ladder::worker::DetectDevices(probe, *selection, o.cpu_slots, o.threads_per_slot);
  if (!devices.ok()) return BadFlags("--" + std::string(devices.status().message()));
  for (const auto& d : *devices) {
    LOG_INFO << "device " << d.index() << ": " << d.kind() << " " << d.model() << ", "
             << d.memory_bytes() / (1 << 20) << " MiB, " << d.threads() << " thread(s)";
  }
  std::error_code ec;
  fs::create_directories(o.work_dir + "/runs", ec);
  if (ec) {
    LOG_ERROR << "cannot create " << o.work_dir << "/runs: " << ec.message();
    return 1;
  }
  auto channel = ladder::MakeChannel(o.coordinator);
  if (!channel.ok()) return BadFlags("--coordinator: " + std::string(channel.status().message()));

  // ------------------------------------------------------------ metrics
  ::signal(SIGPIPE, SIG_IGN);  // a scraper or the coordinator hanging up is not fatal
  // Declared before the daemon's io_context: attempts the loop still holds
  // when it is destroyed report to them.
  ladder::worker::WorkerMetrics metrics(*devices);
  ladder::worker::SystemDeviceUsageProbe usage_probe;
  ladder::worker::DeviceMonitor device_monitor(*devices, usage_probe, metrics);
  std::unique_ptr<ladder::MetricsHttpServer> metrics_server;
  if (!StartMetrics(o, metrics, device_monitor, &metrics_server)) return 1;

  // ------------------------------------------------------------ the event loop
  const int exit_code = RunDaemon(o, *devices, *channel, metrics);
  LOG_INFO << "ladder-worker exiting with " << exit_code;
  return exit_code;
}
