// An in-process coordinator on 127.0.0.1:<free port> over a test database,
// with stubs for every service. Real sockets, real PostgreSQL.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/coordinator.h"
#include "server/fit/observation.h"

namespace ladder::testing {

class CoordinatorHarness {
 public:
  // Starts a coordinator on `database_url` with short test timings
  // (lease ttl 1 s, heartbeat 200 ms, maintenance 100 ms, no retry backoff)
  // adjusted by `tweak`.
  explicit CoordinatorHarness(const std::string& database_url,
                              const std::function<void(CoordinatorOptions&)>& tweak = nullptr);
  ~CoordinatorHarness();

  Coordinator& coordinator() { return *coordinator_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(coordinator_->port()); }
  int port() const { return coordinator_->port(); }
  void Stop();

  v1::Sweeps::Stub& sweeps() { return *sweeps_; }
  v1::Runs::Stub& runs() { return *runs_; }
  v1::Workers::Stub& workers() { return *workers_; }
  v1::Agent::Stub& agent() { return *agent_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  // A client context with a 10 s deadline.
  static std::unique_ptr<grpc::ClientContext> Ctx();

  // Imports `runs` (N, D, C, loss, U of each) as a sweep called `name`
  // through sweeps(); the sweep, or the call's status.
  grpc::Status ImportObservations(const std::string& name,
                                  const std::vector<fit::Observation>& runs, v1::Sweep* sweep);

  static CoordinatorOptions TestOptions(const std::string& database_url);
  // Switches `o` to TLS with the suite's test certificates (made by the
  // test_certs fixture): server certificate and key, the CA of worker client
  // certificates; plaintext (and plaintext workers) off.
  static void UseTestTls(CoordinatorOptions& o);

  // A registration of worker `name` with one 16 GiB CPU device (index 0).
  static v1::RegisterWorkerRequest CpuWorkerRequest(const std::string& name);

  // Registers a worker `name` with one 16 GiB CPU device through agent()
  // (plaintext, so the harness must serve plaintext workers); sets `*id`.
  grpc::Status RegisterCpuWorker(const std::string& name, int64_t* id);

 private:
  std::unique_ptr<Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sweeps::Stub> sweeps_;
  std::unique_ptr<v1::Runs::Stub> runs_;
  std::unique_ptr<v1::Workers::Stub> workers_;
  std::unique_ptr<v1::Agent::Stub> agent_;
};

}  // namespace ladder::testing
