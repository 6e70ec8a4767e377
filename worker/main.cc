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
#include "common/duration.h"
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
  std::string log_level = "info";
  // Duration flags are read as text; their defaults come from WorkerOptions.
  using ladder::FormatDuration;
  std::string silence = FormatDuration(o.trainer_silence_timeout);
  std::string drain_grace = FormatDuration(o.drain_grace);
  std::string kill_grace = FormatDuration(o.kill_grace);
  std::string lease_poll = FormatDuration(o.lease_poll_interval);
  std::string rpc_timeout = FormatDuration(o.rpc_timeout);
  std::string progress_interval = FormatDuration(o.progress_interval);
  std::string backoff_max = FormatDuration(o.retry_backoff_max);
  std::string drain_report = FormatDuration(o.drain_report_timeout);
  std::string sample_interval = FormatDuration(o.device_sample_interval);

  CLI::App app{
      "ladder-worker: leases runs from a Ladder coordinator and trains each in its own\n"
      "trainer process (one per device), streaming progress and reporting results.\n"
      "SIGTERM/SIGINT drain it: no new runs, running ones get --drain-grace, then are\n"
      "released to the coordinator; a second signal stops them at once.\n"
      "Durations: 500ms, 30s, 5m, 1h (a bare number is seconds).",
      "ladder-worker"};
  app.add_option("--coordinator", o.coordinator.address,
                 "coordinator host:port [env LADDER_COORDINATOR]");
  app.add_flag("--insecure", o.coordinator.insecure,
               "plaintext gRPC (loopback coordinator addresses only)");
  app.add_option("--tls-ca", o.coordinator.tls_ca_file, "PEM CA bundle (default: system roots)");
  app.add_option("--tls-cert", o.coordinator.tls_cert_file, "PEM client certificate (mTLS)");
  app.add_option("--tls-key", o.coordinator.tls_key_file, "PEM client key (mTLS)");
  app.add_option("--tls-server-name", o.coordinator.tls_server_name,
                 "name to check in the coordinator's certificate");
  app.add_option("--token-file", token_file, "file holding a bearer token [env LADDER_TOKEN]");
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
  app.add_option("--trainer-silence-timeout", silence,
                 "kill a trainer silent on stdout this long (reason timeout)")
      ->capture_default_str();
  app.add_option("--drain-grace", drain_grace, "on SIGTERM, how long running trainers may go on")
      ->capture_default_str();
  app.add_option("--kill-grace", kill_grace, "SIGTERM to SIGKILL")->capture_default_str();
  app.add_option("--lease-poll-interval", lease_poll, "idle device's LeaseRun interval")
      ->capture_default_str();
  app.add_option("--rpc-timeout", rpc_timeout, "deadline of every coordinator call")
      ->capture_default_str();
  app.add_option("--progress-interval", progress_interval,
                 "progress reports per attempt at most this often")
      ->capture_default_str();
  app.add_option("--retry-backoff-max", backoff_max, "longest wait between retries")
      ->capture_default_str();
  app.add_option("--drain-report-timeout", drain_report,
                 "when draining, how long to retry final reports before exiting anyway")
      ->capture_default_str();
  app.add_option("--max-buffered-points", o.max_buffered_points,
                 "progress points kept per attempt while the coordinator is away")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metrics_listen,
                 "serve Prometheus /metrics on host:port (port 0 picks one; 'off' or empty: off; "
                 "the default is\n"
                 "skipped with a warning when taken, an address given must be free)")
      ->capture_default_str();
  app.add_option("--device-sample-interval", sample_interval,
                 "how often device utilisation and memory are sampled for /metrics")
      ->capture_default_str();
  app.add_flag("--keep-run-files", o.keep_run_files,
               "keep checkpoints of succeeded runs (default: keep only logs and config.json)");
  app.add_option("--log-level", log_level, "debug | info | warning | error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return BadFlags(e.what());
  }

  // ------------------------------------------------------------ flags -> options
  for (auto [flag, text, out] :
       {std::tuple{"--trainer-silence-timeout", &silence, &o.trainer_silence_timeout},
        {"--drain-grace", &drain_grace, &o.drain_grace},
        {"--kill-grace", &kill_grace, &o.kill_grace},
        {"--lease-poll-interval", &lease_poll, &o.lease_poll_interval},
        {"--rpc-timeout", &rpc_timeout, &o.rpc_timeout},
        {"--progress-interval", &progress_interval, &o.progress_interval},
        {"--retry-backoff-max", &backoff_max, &o.retry_backoff_max},
        {"--drain-report-timeout", &drain_report, &o.drain_report_timeout},
        {"--device-sample-interval", &sample_interval, &o.device_sample_interval}}) {
    auto d = ladder::ParseDuration(*text);
    if (!d.ok()) return BadFlags(std::string(flag) + ": " + std::string(d.status().message()));
    *out = *d;
  }
  if (log_level == "debug") {
    o.log_level = ladder::LogLevel::kDebug;
  } else if (log_level == "info") {
    o.log_level = ladder::LogLevel::kInfo;
  } else if (log_level == "warning" || log_level == "warn") {
    o.log_level = ladder::LogLevel::kWarning;
  } else if (log_level == "error") {
    o.log_level = ladder::LogLevel::kError;
  } else {
    return BadFlags("--log-level: '" + log_level + "' is not debug, info, warning or error");
  }
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
    if (!in) return BadFlags("--token-file: cannot read '" + token_file + "'");
    std::getline(in, o.coordinator.bearer_token);
  }
  if (absl::Status s = ladder::worker::ValidateWorkerOptions(o); !s.ok()) {
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
  fs::create_directories(o.work_dir + "/runs", ec);
  if (ec) {
    LOG_ERROR << "cannot create " << o.work_dir << "/runs: " << ec.message();
    return 1;
  }
  auto channel = ladder::MakeChannel(o.coordinator);
  if (!channel.ok()) return BadFlags("--coordinator: " + std::string(channel.status().message()));

  // ------------------------------------------------------------ metrics
  ::signal(SIGPIPE, SIG_IGN);  // a scraper or the coordinator hanging up is not fatal
  // Declared before the io_context: attempts the loop still holds when it is
  // destroyed report to them.
  ladder::worker::WorkerMetrics metrics(*devices);
  ladder::worker::SystemDeviceUsageProbe usage_probe;
  ladder::worker::DeviceMonitor device_monitor(*devices, usage_probe, metrics);
  std::unique_ptr<ladder::MetricsHttpServer> metrics_server;
  if (!o.metrics_listen.empty()) {
    auto server = ladder::MetricsHttpServer::Start(o.metrics_listen, metrics.registry());
    if (server.ok()) {
      metrics_server = *std::move(server);
      device_monitor.Start(o.device_sample_interval);
      LOG_INFO << "serving /metrics on port " << metrics_server->port();
    } else if (o.metrics_listen_is_default) {
      LOG_WARN << "no /metrics: " << server.status().message()
               << " (another worker on this machine? give each its own --metrics-listen)";
    } else {
      LOG_ERROR << "--metrics-listen: " << server.status().message();
      return 1;
    }
  }

  // ------------------------------------------------------------ the event loop
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  ladder::worker::AgentClient agent(io, *channel, o.rpc_timeout);
  ladder::worker::ProcessTrainerLauncher launcher(io);
  ladder::worker::WorkerDaemon daemon(io, o, *devices, agent, launcher, &metrics);

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
  LOG_INFO << "ladder-worker exiting with " << exit_code;
  return exit_code;
}
