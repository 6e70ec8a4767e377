// ladder-coordinator: the gRPC coordinator. See coordinator_options.h for
// every option; `ladder-coordinator --help` lists the flags. Durations take
// common/duration.h's syntax (--lease-ttl 30s, --refit-debounce 500ms).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <thread>

#include "common/cli_flags.h"
#include "common/grpc_runtime.h"
#include "common/logging.h"
#include "server/coordinator.h"
#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/token_store.h"

namespace {

using ladder::CoordinatorOptions;

constexpr int kExitBadFlags = 2;

struct DurationFlag {
  const char* name;
  std::chrono::milliseconds CoordinatorOptions::*field;
  const char* help;
};

// Every duration option. Before they took common/duration.h's syntax they
// were spelled <name>-ms and read a bare number of milliseconds.
constexpr DurationFlag kDurationFlags[] = {
    {"--lease-ttl", &CoordinatorOptions::lease_ttl, "lease lifetime without a heartbeat"},
    {"--heartbeat-interval", &CoordinatorOptions::heartbeat_interval,
     "heartbeat period asked of workers"},
    {"--maintenance-interval", &CoordinatorOptions::maintenance_interval, "lease reclaim period"},
    {"--worker-gone-after", &CoordinatorOptions::worker_gone_after,
     "silence after which a worker is gone"},
    {"--retry-backoff", &CoordinatorOptions::retry_backoff, "first retry delay of a failed run"},
    {"--max-retry-backoff", &CoordinatorOptions::max_retry_backoff, "longest retry delay"},
    {"--watch-poll-interval", &CoordinatorOptions::watch_poll_interval, "watch stream poll period"},
    {"--refit-debounce", &CoordinatorOptions::refit_debounce,
     "wait after a result before refitting"},
    {"--fit-cache-ttl", &CoordinatorOptions::fit_cache_ttl, "reuse parsed fits this long"},
    {"--token-cache-ttl", &CoordinatorOptions::token_cache_ttl,
     "how long a verified token is trusted"},
};

// An old <name>-ms spelling on the command line, named with its successor;
// empty when there is none.
std::string RenamedFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    arg = arg.substr(0, arg.find('='));
    for (const DurationFlag& f : kDurationFlags) {
      if (arg == std::string(f.name) + "-ms") {
        return std::string(arg) + ": renamed " + f.name +
               ", which takes a duration with its unit (60s, 500ms, 2m)";
      }
    }
  }
  return "";
}

void AddServeFlags(CLI::App& app, CoordinatorOptions& o, bool* no_migrate) {
  app.add_option("--listen", o.listen, "gRPC address host:port")->capture_default_str();
  app.add_option("--database-url", o.database_url,
                 "PostgreSQL URL (default: $LADDER_DATABASE_URL)");
  app.add_option("--db-pool-size", o.db_pool_size, "database connections")->capture_default_str();
  app.add_option("--rpc-threads", o.rpc_threads, "most gRPC threads")->capture_default_str();
  for (const DurationFlag& f : kDurationFlags) {
    ladder::AddDurationOption(app, f.name, &(o.*f.field), f.help);
  }
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
  app.add_option("--fit-threads", o.fit_threads, "threads per fit (0 = all cores)")
      ->capture_default_str();
  app.add_option("--bootstrap-resamples", o.bootstrap_resamples, "bootstrap resamples per fit")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metrics_listen, "Prometheus /metrics host:port, or 'off'")
      ->capture_default_str();
  app.add_flag("--no-migrate", *no_migrate, "do not apply database migrations at start");
  ladder::AddLogLevelOption(app, &o.log_level);
}

// Bootstrap: make the first admin token straight in the database (then use
// `ladder token create` over the API for the rest).
struct CreateTokenCommand {
  CLI::App* command = nullptr;
  std::string name;
  std::vector<std::string> scopes;
};

void AddCreateTokenCommand(CLI::App& app, CreateTokenCommand* c) {
  c->command =
      app.add_subcommand("create-token", "Create an API token in the database and print it once");
  c->command->fallthrough();  // --database-url may come after the subcommand
  c->command->add_option("--name", c->name, "what the token is for")->required();
  c->command->add_option("--scopes", c->scopes, "read, submit and/or admin")
      ->delimiter(',')
      ->required();
}

int CreateToken(const CoordinatorOptions& o, const CreateTokenCommand& c) {
  if (o.database_url.empty()) {
    std::cerr << "ladder-coordinator: --database-url: required (or set LADDER_DATABASE_URL)\n";
    return kExitBadFlags;
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
  auto created = tokens.Create(c.name, c.scopes);
  if (!created.ok()) {
    std::cerr << "ladder-coordinator: create-token: " << created.status().message() << "\n";
    return created.status().code() == absl::StatusCode::kInvalidArgument ? kExitBadFlags : 1;
  }
  std::cout << created->secret << "\n";
  std::cerr << "token " << created->token.id() << " '" << c.name
            << "' created; it is shown only once\n";
  return 0;
}

// Runs the coordinator until SIGTERM or SIGINT. The options are validated by
// Coordinator::BuildAndStart (INVALID_ARGUMENT: exit 2).
int Serve(const CoordinatorOptions& o) {
  // Block SIGTERM/SIGINT in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto coordinator = ladder::Coordinator::BuildAndStart(o);
  if (!coordinator.ok()) {
    LOG_ERROR << "cannot start: " << coordinator.status().message();
    return coordinator.status().code() == absl::StatusCode::kInvalidArgument ? kExitBadFlags : 1;
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

}  // namespace

int main(int argc, char** argv) {
  ladder::ConfigureGrpcRuntime();
  CoordinatorOptions o;
  if (const char* url = std::getenv("LADDER_DATABASE_URL")) o.database_url = url;
  bool no_migrate = false;
  CLI::App app{
      "ladder-coordinator: expands sweeps into runs, leases them to workers, stores results in "
      "PostgreSQL and serves the ladder.v1 gRPC API.\n"
      "Durations: 500ms, 30s, 5m, 1h (a bare number is seconds)."};
  AddServeFlags(app, o, &no_migrate);
  CreateTokenCommand create_token;
  AddCreateTokenCommand(app, &create_token);
  if (std::string renamed = RenamedFlag(argc, argv); !renamed.empty()) {
    std::cerr << "ladder-coordinator: " << renamed << "\n";
    return kExitBadFlags;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // One line naming the flag, and the exit code of every other bad flag.
    std::cerr << "ladder-coordinator: " << e.what() << " (see --help)\n";
    return kExitBadFlags;
  }
  if (o.metrics_listen == "off") o.metrics_listen.clear();
  o.migrate = !no_migrate;
  ladder::SetLogTag("coordinator");
  ladder::SetLogLevel(o.log_level);
  if (create_token.command->parsed()) return CreateToken(o, create_token);
  return Serve(o);
}
