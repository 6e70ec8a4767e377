#include "server/coordinator.h"

#include <absl/status/status.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/logging.h"
#include "common/metrics_http_server.h"
#include "server/auth/request_authorizer.h"
#include "server/backtests.h"
#include "server/coordinator_metrics.h"
#include "server/fit_cache.h"
#include "server/fit_data.h"
#include "server/fit_queries.h"
#include "server/refit_loop.h"
#include "server/scheduler.h"
#include "server/scheduler_store.h"
#include "server/service/admin_service.h"
#include "server/service/fits_service.h"
#include "server/service/runs_service.h"
#include "server/service/sweeps_service.h"
#include "server/service/workers_service.h"
#include "server/store/fit_store.h"
#include "server/store/lease_store.h"
#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/stats_store.h"
#include "server/store/sweep_store.h"
#include "server/store/token_store.h"
#include "server/store/worker_store.h"
#include "server/sweep_manager.h"
#include "server/watch_hub.h"

namespace ladder {
namespace {

constexpr int kMaxStreamsPerConnection = 256;

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(std::string(flag) + ": cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const CoordinatorOptions& o) {
  if (o.insecure_plaintext) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(o.tls_cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(o.tls_key, "--tls-key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!o.tls_client_ca.empty()) {
    auto ca = ReadFile(o.tls_client_ca, "--tls-client-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    // Clients without a certificate (the CLI, with a bearer token) are
    // allowed; a certificate that is presented must verify against the CA.
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {}

Coordinator::~Coordinator() {
  Shutdown(std::chrono::milliseconds(0));
  Wait();
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::BuildAndStart(
    const CoordinatorOptions& options) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  LOG_INFO << "starting: " << options.Describe();
  std::unique_ptr<Coordinator> c(new Coordinator(options));
  if (absl::Status st = c->Start(); !st.ok()) return st;
  return c;
}

absl::Status Coordinator::Start() {
  store::PgPool::Options pool_options;
  pool_options.url = options_.database_url;
  pool_options.size = options_.db_pool_size;
  auto pool = store::PgPool::Connect(pool_options);
  if (!pool.ok()) return pool.status();
  pool_ = *std::move(pool);
  if (options_.migrate) {
    if (absl::Status st = store::ApplyMigrations(*pool_); !st.ok()) return st;
  }

  sweep_store_ = std::make_unique<store::SweepStore>(pool_.get());
  store::LeaseSettings lease;
  lease.ttl = options_.lease_ttl;
  lease.retry_backoff = options_.retry_backoff;
  lease.max_backoff = options_.max_retry_backoff;
  lease_store_ = std::make_unique<store::LeaseStore>(pool_.get(), lease);
  // Leases that ran out while no coordinator was up get one more ttl, so
  // their workers can reach us before the runs are taken from them.
  if (auto extended = lease_store_->ExtendLiveLeasesForRestart(); !extended.ok()) {
    return extended.status();
  } else if (*extended > 0) {
    LOG_INFO << "gave " << *extended << " live lease(s) one more ttl after start";
  }
  worker_store_ = std::make_unique<store::WorkerStore>(pool_.get());
  stats_store_ = std::make_unique<store::StatsStore>(pool_.get());
  token_store_ = std::make_unique<store::TokenStore>(pool_.get());
  admin_service_ = std::make_unique<AdminService>(token_store_.get());
  metrics_ = std::make_unique<CoordinatorMetrics>();
  sweep_manager_ = std::make_unique<SweepManager>(sweep_store_.get(), worker_store_.get());
  Scheduler::Options sched;
  sched.heartbeat_interval = options_.heartbeat_interval;
  sched.maintenance_interval = options_.maintenance_interval;
  sched.worker_gone_after = options_.worker_gone_after;
  scheduler_store_ = std::make_unique<PgSchedulerStore>(lease_store_.get(), sweep_store_.get(),
                                                        stats_store_.get());
  scheduler_ = std::make_unique<Scheduler>(scheduler_store_.get(), metrics_.get(), sched);

  fit_store_ = std::make_unique<store::FitStore>(pool_.get());
  fit_data_ = std::make_unique<PgFitData>(sweep_store_.get(), fit_store_.get());
  fit_cache_ = std::make_unique<FitCache>(fit_data_.get(), options_.fit_cache_ttl);
  RefitLoop::Options refit;
  refit.debounce = options_.refit_debounce;
  refit.fit_threads = options_.fit_threads;
  refit.bootstrap_resamples = options_.bootstrap_resamples;
  refit_loop_ =
      std::make_unique<RefitLoop>(fit_data_.get(), fit_cache_.get(), metrics_.get(), refit);
  fit_queries_ = std::make_unique<FitQueries>(fit_data_.get(), fit_cache_.get());
  // Backtests refit like the refit loop, on threads of their own.
  Backtests::Options backtest;
  backtest.fit_threads = refit.fit_threads;
  backtest.bootstrap_resamples = refit.bootstrap_resamples;
  backtest.seed = refit.seed;
  backtests_ =
      std::make_unique<Backtests>(fit_data_.get(), fit_data_.get(), metrics_.get(), backtest);
  fits_service_ = std::make_unique<FitsService>(fit_queries_.get(), backtests_.get());
  // Every success refits its sweep (debounced, on the refit thread).
  scheduler_->AddObserver(refit_loop_.get());

  WatchHub::Options watch;
  watch.poll_interval = options_.watch_poll_interval;
  watch.max_per_client = options_.max_watch_streams_per_client;
  watch.max_total = options_.max_watch_streams;
  watch_hub_ = std::make_unique<WatchHub>(sweep_store_.get(), fit_queries_.get(), watch);
  sweeps_service_ = std::make_unique<SweepsService>(sweep_manager_.get(), watch_hub_.get());
  sweep_manager_->AddObserver(refit_loop_.get());  // imported sweeps are fitted
  runs_service_ = std::make_unique<RunsService>(sweep_manager_.get());
  workers_service_ = std::make_unique<WorkersService>(worker_store_.get());
  // Agent calls wait in group-commit queues, one transaction per batch. One
  // batch of each hot kind in the database at once per 8 pooled connections
  // (at most 2) leaves the pool room for the other services.
  AgentService::Options agent;
  agent.threads_per_kind = std::max(1, std::min(2, options_.db_pool_size / 8));
  agent_service_ = std::make_unique<AgentService>(
      scheduler_.get(), worker_store_.get(), options_.plaintext_workers, metrics_.get(), agent);

  auto creds = ServerCredentials(options_);
  if (!creds.ok()) return creds.status();
  if (!options_.insecure_plaintext) {
    // Every call on the TLS port is authorised before its handler runs.
    authorizer_ = std::make_shared<RequestAuthorizer>(token_store_.get(), options_.token_cache_ttl);
    (*creds)->SetAuthMetadataProcessor(authorizer_);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, *creds, &port_);
  grpc::ResourceQuota quota("ladder-coordinator");
  quota.SetMaxThreads(options_.rpc_threads);
  builder.SetResourceQuota(quota);
  // Backpressure for the Agent's callback handlers, which take every call at
  // once: a connection carries at most this many calls at a time, and a
  // client with more waits at its own end (HTTP/2 flow control) instead of
  // being refused.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  builder.RegisterService(sweeps_service_.get());
  builder.RegisterService(runs_service_.get());
  builder.RegisterService(workers_service_.get());
  builder.RegisterService(agent_service_.get());
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(fits_service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics_->MakeRpcInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError("--listen: cannot bind " + options_.listen);
  }
  if (!options_.metrics_listen.empty()) {
    auto metrics_server = MetricsHttpServer::Start(options_.metrics_listen, metrics_->registry());
    if (!metrics_server.ok()) return metrics_server.status();
    metrics_server_ = *std::move(metrics_server);
    LOG_INFO << "serving /metrics on port " << metrics_server_->port();
  }
  scheduler_->Start();
  refit_loop_->Start();
  backtests_->Start();
  watch_hub_->Start();
  LOG_INFO << "serving ladder.v1 on port " << port_;
  return absl::OkStatus();
}

void Coordinator::Shutdown(std::chrono::milliseconds grace) {
  // Before the server: calls waiting for a backtest answer UNAVAILABLE now
  // instead of holding the server's shutdown until their deadline.
  if (backtests_) backtests_->Stop();
  // Queued Agent calls answer UNAVAILABLE (workers retry, perhaps on another
  // coordinator) instead of holding the shutdown.
  if (agent_service_) agent_service_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
  // After the server: its Shutdown cancelled the watch streams still open.
  if (watch_hub_) watch_hub_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (refit_loop_) refit_loop_->Stop();
  if (metrics_server_) metrics_server_->Stop();
}

int Coordinator::metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

void Coordinator::Wait() {
  if (server_) server_->Wait();
}

}  // namespace ladder
