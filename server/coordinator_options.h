// Everything ladder-coordinator can be told, in one struct. Filled only in
// main.cc (flags, with environment fallbacks for secrets), validated once, by
// Validate, which Coordinator::BuildAndStart calls. Durations are flags in
// common/duration.h's syntax (--lease-ttl 30s).
#pragma once

#include <absl/status/status.h>

#include <chrono>
#include <string>

#include "common/logging.h"

namespace ladder {

struct CoordinatorOptions {
  // gRPC listen address, host:port. Port 0 picks a free port (tests).
  std::string listen = "127.0.0.1:7400";
  // PostgreSQL connection string (libpq URL or key=value); default from
  // LADDER_DATABASE_URL. Never printed with its password.
  std::string database_url;
  int db_pool_size = 8;
  // gRPC server threads (sync server: one per in-flight call). Watch
  // streams do not use them (they are served by one watch thread).
  int rpc_threads = 32;
  // Lease lifetime without a heartbeat or progress report.
  std::chrono::milliseconds lease_ttl{30000};
  // Heartbeat period asked of workers (well under the lease ttl).
  std::chrono::milliseconds heartbeat_interval{5000};
  // How often expired leases are reclaimed and silent workers marked gone.
  std::chrono::milliseconds maintenance_interval{1000};
  // A worker without a heartbeat for this long is marked gone.
  std::chrono::milliseconds worker_gone_after{90000};
  // Delay before a failed run is retried; doubles per failure up to max.
  std::chrono::milliseconds retry_backoff{1000};
  std::chrono::milliseconds max_retry_backoff{60000};
  // How often a WatchSweep stream polls for changes.
  std::chrono::milliseconds watch_poll_interval{500};
  // Open WatchSweep streams allowed per client (bearer token, or peer host
  // without a token) and in all; more are refused with RESOURCE_EXHAUSTED.
  int max_watch_streams_per_client = 8;
  int max_watch_streams = 256;
  // Serve without TLS. Allowed only when `listen` is a loopback address.
  bool insecure_plaintext = false;
  // On a plaintext port, also serve the Agent service (worker daemons),
  // which there has no worker identity: any local process could act as any
  // worker. For tests and single-user local use; off by default.
  bool plaintext_workers = false;
  // TLS: PEM files of the server's certificate chain and key, and of the CA
  // that signs worker client certificates (mutual TLS for the Agent service).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // How long a verified bearer token is trusted before it is checked again
  // (a revocation takes effect within this time).
  std::chrono::milliseconds token_cache_ttl{5000};
  // Scaling-law refits: wait this long after a result before refitting a
  // sweep (results arriving meanwhile join the same refit).
  std::chrono::milliseconds refit_debounce{2000};
  int fit_threads = 0;            // threads per fit; 0 = all cores
  int bootstrap_resamples = 200;  // per fit, for intervals
  // How long parsed fits are reused for predictions before re-reading them
  // (fits stored by another coordinator show up within this time).
  std::chrono::milliseconds fit_cache_ttl{1000};
  // Prometheus /metrics address (host:port; port 0 picks one); empty = off.
  std::string metrics_listen = "127.0.0.1:9400";
  // Apply database migrations at start (off: refuse to start on an old schema).
  bool migrate = true;
  // Minimum level of log lines on stderr.
  LogLevel log_level = LogLevel::kInfo;

  // INVALID_ARGUMENT naming the option at fault.
  absl::Status Validate() const;
  // One line per option, secrets masked, for the start-up log.
  std::string Describe() const;
};

// The URL with any password replaced by "****".
std::string RedactDatabaseUrl(const std::string& url);

}  // namespace ladder
