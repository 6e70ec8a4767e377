// ladder-coordinator: the gRPC coordinator. See coordinator_options.h for
// every option; `ladder-coordinator --help` lists the flags.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/grpc_runtime.h"
#include "common/logging.h"
#include "server/coordinator.h"
#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/token_store.h"

namespace {

ladder::LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return ladder::LogLevel::kDebug;
  if (s == "warning") return ladder::LogLevel::kWarning;
  if (s == "error") return ladder::LogLevel::kError;
  return ladder::LogLevel::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  ladder::ConfigureGrpcRuntime();
  ladder::CoordinatorOptions o;
  if (const char* url = std::getenv("LADDER_DATABASE_URL")) o.database_url = url;
  int64_t lease_ttl = o.lease_ttl.count(), heartbeat = o.heartbeat_interval.count(),
          maintenance = o.maintenance_interval.count(), gone = o.worker_gone_after.count(),
          backoff = o.retry_backoff.count(), max_backoff = o.max_retry_backoff.count(),
          watch = o.watch_poll_interval.count();
  bool no_migrate = false;

  CLI::App app{
      "ladder-coordinator: expands sweeps into runs, leases them to workers, stores results in "
      "PostgreSQL and serves the ladder.v1 gRPC API."};
  app.add_option("--listen", o.listen, "gRPC address host:port")->capture_default_str();
  app.add_option("--database-url", o.database_url,
                 "PostgreSQL URL (default: $LADDER_DATABASE_URL)");
  app.add_option("--db-pool-size", o.db_pool_size, "database connections")->capture_default_str();
  app.add_option("--rpc-threads", o.rpc_threads, "most gRPC threads")->capture_default_str();
  app.add_option("--lease-ttl-ms", lease_ttl, "lease lifetime without a heartbeat")
      ->capture_default_str();
  app.add_option("--heartbeat-interval-ms", heartbeat, "heartbeat period asked of workers")
      ->capture_default_str();
  app.add_option("--maintenance-interval-ms", maintenance, "lease reclaim period")
      ->capture_default_str();
  app.add_option("--worker-gone-after-ms", gone, "silence after which a worker is gone")
      ->capture_default_str();
  app.add_option("--retry-backoff-ms", backoff, "first retry delay of a failed run")
      ->capture_default_str();
  app.add_option("--max-retry-backoff-ms", max_backoff, "longest retry delay")
      ->capture_default_str();
  app.add_option("--watch-poll-interval-ms", watch, "watch stream poll period")
      ->capture_default_str();
  app.add_option("--max-watch-streams-per-client", o.max_watch_streams_per_client,
                 "open watch streams per token (or per host without one)")
      ->capture_default_str();
  app.add_option("--max-watch-streams", o.max_watch_streams, "open watch streams in all")
      ->capture_default_str();
  app.add_flag("--insecure-plaintext", o.insecure_plaintext,
               "serve without TLS (loopback addresses only)");
  app.add_flag("--plaintext-workers", o.plaintext_workers,
               "with --insecure-plaintext: serve worker daemons too (no worker identity; "
               "tests and local use)");
  app.add_option("--tls-cert", o.tls_cert, "server certificate chain (PEM)");
  app.add_option("--tls-key", o.tls_key, "server private key (PEM)");
  app.add_option("--tls-client-ca", o.tls_client_ca, "CA for worker client certificates (PEM)");
  int64_t refit_debounce = o.refit_debounce.count(), fit_cache_ttl = o.fit_cache_ttl.count();
  app.add_option("--refit-debounce-ms", refit_debounce, "wait after a result before refitting")
      ->capture_default_str();
  app.add_option("--fit-threads", o.fit_threads, "threads per fit (0 = all cores)")
      ->capture_default_str();
  app.add_option("--bootstrap-resamples", o.bootstrap_resamples, "bootstrap resamples per fit")
      ->capture_default_str();
  app.add_option("--fit-cache-ttl-ms", fit_cache_ttl, "reuse parsed fits this long")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metrics_listen, "Prometheus /metrics host:port, or 'off'")
      ->capture_default_str();
  app.add_flag("--no-migrate", no_migrate, "do not apply database migrations at start");
  app.add_option("--log-level", o.log_level, "debug|info|warning|error")->capture_default_str();
  int64_t token_ttl = o.token_cache_ttl.count();
  app.add_option("--token-cache-ttl-ms", token_ttl, "how long a verified token is trusted")
      ->capture_default_str();

  // Bootstrap: make the first admin token straight in the database (then use
  // `ladder token create` over the API for the rest).
  auto* create_token =
      app.add_subcommand("create-token", "Create an API token in the database and print it once");
  create_token->fallthrough();  // --database-url may come after the subcommand
  std::string token_name;
  std::vector<std::string> token_scopes;
  create_token->add_option("--name", token_name, "what the token is for")->required();
  create_token->add_option("--scopes", token_scopes, "read, submit and/or admin")
      ->delimiter(',')
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.metrics_listen == "off") o.metrics_listen.clear();
  o.token_cache_ttl = std::chrono::milliseconds(token_ttl);
  o.refit_debounce = std::chrono::milliseconds(refit_debounce);
  o.fit_cache_ttl = std::chrono::milliseconds(fit_cache_ttl);
  if (create_token->parsed()) {
    ladder::SetLogTag("coordinator");
    if (o.database_url.empty()) {
      std::cerr << "ladder-coordinator: --database-url: required (or set LADDER_DATABASE_URL)\n";
      return 2;
    }
    ladder::store::PgPool::Options po;
    po.url = o.database_url;
    po.size = 1;
    auto pool = ladder::store::PgPool::Connect(po);
    absl::Status st = pool.ok() ? ladder::store::ApplyMigrations(**pool) : pool.status();
    if (!st.ok()) {
      std::cerr << "ladder-coordinator: " << st.message() << "\n";
      return 1;
    }
    ladder::store::TokenStore tokens(pool->get());
    auto created = tokens.Create(token_name, token_scopes);
    if (!created.ok()) {
      std::cerr << "ladder-coordinator: create-token: " << created.status().message() << "\n";
      return created.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
    }
    std::cout << created->secret << "\n";
    std::cerr << "token " << created->token.id() << " '" << token_name
              << "' created; it is shown only once\n";
    return 0;
  }
  o.lease_ttl = std::chrono::milliseconds(lease_ttl);
  o.heartbeat_interval = std::chrono::milliseconds(heartbeat);
  o.maintenance_interval = std::chrono::milliseconds(maintenance);
  o.worker_gone_after = std::chrono::milliseconds(gone);
  o.retry_backoff = std::chrono::milliseconds(backoff);
  o.max_retry_backoff = std::chrono::milliseconds(max_backoff);
  o.watch_poll_interval = std::chrono::milliseconds(watch);
  o.migrate = !no_migrate;

  ladder::SetLogTag("coordinator");
  if (absl::Status st = o.Validate(); !st.ok()) {
    std::cerr << "ladder-coordinator: " << st.message() << "\n";
    return 2;
  }
  ladder::SetLogLevel(ParseLevel(o.log_level));
  LOG_INFO << "starting: " << o.Describe();

  // Block SIGTERM/SIGINT in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto coordinator = ladder::Coordinator::BuildAndStart(o);
  if (!coordinator.ok()) {
    LOG_ERROR << "cannot start: " << coordinator.status().message();
    return coordinator.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    LOG_INFO << "signal " << sig << ": shutting down";
    (*coordinator)->Shutdown();
  });
  (*coordinator)->Wait();  // returns once the waiter's Shutdown has stopped the server
  waiter.join();
  LOG_INFO << "stopped";
  return 0;
}
