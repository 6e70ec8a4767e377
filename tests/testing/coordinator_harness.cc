#include "tests/testing/coordinator_harness.h"

#include <cstdlib>
#include <iostream>

#include "tests/testing/test_env.h"

namespace ladder::testing {

CoordinatorOptions CoordinatorHarness::TestOptions(const std::string& url) {
  CoordinatorOptions o;
  o.listen = "127.0.0.1:0";
  o.database_url = url;
  o.insecure_plaintext = true;
  o.plaintext_workers = true;  // test workers call the Agent service in plaintext
  o.db_pool_size = 8;
  o.lease_ttl = std::chrono::milliseconds(1000);
  o.heartbeat_interval = std::chrono::milliseconds(200);
  o.maintenance_interval = std::chrono::milliseconds(100);
  o.worker_gone_after = std::chrono::milliseconds(5000);
  o.retry_backoff = std::chrono::milliseconds(0);
  o.watch_poll_interval = std::chrono::milliseconds(50);
  o.metrics_listen = "127.0.0.1:0";
  return o;
}

CoordinatorHarness::CoordinatorHarness(const std::string& url,
                                       const std::function<void(CoordinatorOptions&)>& tweak) {
  CoordinatorOptions o = TestOptions(url);
  if (tweak) tweak(o);
  auto c = Coordinator::BuildAndStart(o);
  if (!c.ok()) {
    std::cerr << "FATAL: coordinator did not start: " << c.status() << "\n";
    std::abort();
  }
  coordinator_ = *std::move(c);
  channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  sweeps_ = v1::Sweeps::NewStub(channel_);
  runs_ = v1::Runs::NewStub(channel_);
  workers_ = v1::Workers::NewStub(channel_);
  agent_ = v1::Agent::NewStub(channel_);
}

CoordinatorHarness::~CoordinatorHarness() { Stop(); }

void CoordinatorHarness::Stop() {
  if (coordinator_) {
    coordinator_->Shutdown(std::chrono::milliseconds(200));
    coordinator_->Wait();
    coordinator_.reset();
  }
}

void CoordinatorHarness::UseTestTls(CoordinatorOptions& o) {
  const std::string certs = TestCertsDir();
  o.insecure_plaintext = false;
  o.plaintext_workers = false;
  o.tls_cert = certs + "/server.pem";
  o.tls_key = certs + "/server-key.pem";
  o.tls_client_ca = certs + "/ca.pem";
}

v1::RegisterWorkerRequest CoordinatorHarness::CpuWorkerRequest(const std::string& name) {
  v1::RegisterWorkerRequest req;
  req.set_name(name);
  req.set_hostname("localhost");
  req.set_trainer("test");
  auto* d = req.add_devices();
  d->set_index(0);
  d->set_kind("cpu");
  d->set_model("cpu");
  d->set_memory_bytes(int64_t{1} << 34);
  return req;
}

grpc::Status CoordinatorHarness::RegisterCpuWorker(const std::string& name, int64_t* id) {
  v1::RegisterWorkerResponse resp;
  grpc::Status st = agent_->RegisterWorker(Ctx().get(), CpuWorkerRequest(name), &resp);
  *id = resp.worker_id();
  return st;
}

std::unique_ptr<grpc::ClientContext> CoordinatorHarness::Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return c;
}

grpc::Status CoordinatorHarness::ImportObservations(const std::string& name,
                                                    const std::vector<fit::Observation>& runs,
                                                    v1::Sweep* sweep) {
  v1::ImportResultsRequest req;
  req.set_name(name);
  for (const auto& o : runs) {
    auto* r = req.add_results();
    r->set_family(o.family);
    r->set_params(o.params);
    r->set_tokens(o.tokens);
    r->set_flops(o.flops);
    r->set_final_loss(o.loss);
    r->set_unique_tokens(o.unique_tokens);
  }
  return sweeps().ImportResults(Ctx().get(), req, sweep);
}

}  // namespace ladder::testing
