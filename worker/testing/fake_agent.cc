#include "worker/testing/fake_agent.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <thread>

namespace ladder::worker::testing {

namespace v1 = ::ladder::v1;

class FakeAgent::Service final : public v1::Agent::Service {
 public:
  explicit Service(FakeAgent& fake) : f_(fake) {}

  grpc::Status RegisterWorker(grpc::ServerContext* context, const v1::RegisterWorkerRequest* req,
                              v1::RegisterWorkerResponse* resp) override {
    Locked lock(f_);
    const auto auth = context->client_metadata().find("authorization");
    f_.last_authorization_ = auth == context->client_metadata().end()
                                 ? ""
                                 : std::string(auth->second.data(), auth->second.size());
    if (req->name().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "name: empty"};
    auto [it, inserted] =
        f_.workers_.emplace(req->name(), static_cast<int64_t>(f_.workers_.size() + 1));
    ++f_.registrations_;
    resp->set_worker_id(it->second);
    resp->set_heartbeat_interval_ms(f_.options_.heartbeat_interval_ms);
    resp->set_lease_ttl_ms(f_.options_.lease_ttl_ms);
    return grpc::Status::OK;
  }

  grpc::Status LeaseRun(grpc::ServerContext*, const v1::LeaseRunRequest* req,
                        v1::LeaseRunResponse* resp) override {
    Locked lock(f_);
    if (!KnownWorker(req->worker_id())) return {grpc::StatusCode::NOT_FOUND, "worker_id: unknown"};
    resp->set_drain(f_.drain_);
    if (f_.drain_) return grpc::Status::OK;
    // One run per device asked for (device_indexes), or for device_index.
    std::vector<int32_t> devices(req->device_indexes().begin(), req->device_indexes().end());
    if (devices.empty()) devices.push_back(req->device_index());
    f_.max_devices_per_lease_ =
        std::max(f_.max_devices_per_lease_, static_cast<int>(devices.size()));
    for (int32_t device : devices) {
      if (f_.queue_.empty()) break;
      FakeAgent::QueuedRun run = f_.queue_.front();
      f_.queue_.pop_front();
      auto& state = f_.runs_[run.run_id];
      AttemptRecord a;
      a.attempt_id = f_.next_attempt_id_++;
      a.run_id = run.run_id;
      a.attempt_number = state.next_number++;
      a.lease_token = "token-" + std::to_string(a.attempt_id);
      f_.attempts_[a.attempt_id] = a;
      v1::Lease* lease = resp->add_leases();
      lease->set_run_id(run.run_id);
      lease->set_attempt_id(a.attempt_id);
      lease->set_attempt_number(a.attempt_number);
      lease->set_lease_token(a.lease_token);
      lease->set_config_json(run.config_json);
      lease->set_sweep_id(1);
      lease->set_device_index(device);
      if (!resp->granted()) *resp->mutable_lease() = *lease;
      resp->set_granted(true);
    }
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override {
    Locked lock(f_);
    if (!KnownWorker(req->worker_id())) return {grpc::StatusCode::NOT_FOUND, "worker_id: unknown"};
    ++f_.heartbeats_;
    f_.last_heartbeat_attempts_.clear();
    for (const auto& live : req->attempts())
      f_.last_heartbeat_attempts_.push_back(live.attempt_id());
    for (int64_t id : f_.pending_revocations_) resp->add_revoked_attempt_ids(id);
    f_.pending_revocations_.clear();
    resp->set_drain(f_.drain_);
    return grpc::Status::OK;
  }

  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* req,
                              v1::ReportProgressResponse* resp) override {
    Locked lock(f_);
    AttemptRecord* a = nullptr;
    if (grpc::Status s = Check(req->attempt_id(), req->lease_token(), &a, /*allow_revoked=*/true);
        !s.ok()) {
      return s;
    }
    ++a->progress_calls;
    if (a->revoked) {
      resp->set_revoked(true);
      return grpc::Status::OK;
    }
    if (!req->started_json().empty() && a->started_json.empty())
      a->started_json = req->started_json();
    for (const auto& p : req->points()) a->points.push_back(p);
    return grpc::Status::OK;
  }

  grpc::Status CompleteAttempt(grpc::ServerContext*, const v1::CompleteAttemptRequest* req,
                               v1::CompleteAttemptResponse* resp) override {
    Locked lock(f_);
    AttemptRecord* a = nullptr;
    if (grpc::Status s = Check(req->attempt_id(), req->lease_token(), &a, false); !s.ok()) return s;
    ++a->complete_calls;
    if (f_.fail_completes_ > 0) {
      --f_.fail_completes_;
      return {f_.fail_completes_code_, "injected failure"};
    }
    if (a->finished()) {
      resp->set_already_recorded(true);
      return grpc::Status::OK;
    }
    a->result_json = req->result_json();
    return grpc::Status::OK;
  }

  grpc::Status FailAttempt(grpc::ServerContext*, const v1::FailAttemptRequest* req,
                           v1::FailAttemptResponse* resp) override {
    Locked lock(f_);
    AttemptRecord* a = nullptr;
    if (grpc::Status s = Check(req->attempt_id(), req->lease_token(), &a, false); !s.ok()) return s;
    ++a->fail_calls;
    if (a->finished()) {
      resp->set_already_recorded(true);
      return grpc::Status::OK;
    }
    if (req->reason().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "reason: empty"};
    a->fail_reason = req->reason();
    a->fail_message = req->message();
    auto& run = f_.runs_[a->run_id];
    const bool counts = req->reason() != "drained";
    if (counts) ++run.attempts;
    const bool retry =
        req->reason() != "bad_config" && req->reason() != "data" && run.attempts < run.max_attempts;
    if (retry) f_.queue_.push_back(run);
    resp->set_will_retry(retry);
    return grpc::Status::OK;
  }

 private:
  // Holds the fake's lock for one call and wakes WaitFor afterwards.
  struct Locked {
    explicit Locked(FakeAgent& f) : f(f), lock(f.mu_) {}
    ~Locked() {
      lock.unlock();
      f.changed_.notify_all();
    }
    FakeAgent& f;
    std::unique_lock<std::mutex> lock;
  };

  bool KnownWorker(int64_t id) const {
    for (const auto& [name, known] : f_.workers_) {
      if (known == id) return true;
    }
    return false;
  }

  grpc::Status Check(int64_t attempt_id, const std::string& token, AttemptRecord** out,
                     bool allow_revoked) {
    auto it = f_.attempts_.find(attempt_id);
    if (it == f_.attempts_.end()) return {grpc::StatusCode::NOT_FOUND, "attempt_id: unknown"};
    if (it->second.lease_token != token) {
      return {grpc::StatusCode::FAILED_PRECONDITION, "lease_token: not the current lease"};
    }
    if (it->second.revoked && !allow_revoked) {
      return {grpc::StatusCode::FAILED_PRECONDITION, "lease revoked"};
    }
    *out = &it->second;
    return grpc::Status::OK;
  }

  FakeAgent& f_;
};

FakeAgent::FakeAgent() : FakeAgent(Options{}) {}

FakeAgent::FakeAgent(Options options) : options_(options) {}

FakeAgent::~FakeAgent() { Stop(); }

void FakeAgent::Start() {
  if (server_) return;
  // Rebinding the port right after a Stop can race the old listener's close.
  for (int tries = 0; tries < 50 && !server_; ++tries) {
    if (tries > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    service_ = std::make_unique<Service>(*this);  // one server per service object
    grpc::ServerBuilder builder;
    int selected = 0;
    builder.AddListeningPort(
        "127.0.0.1:" + std::to_string(port_),
        options_.credentials ? options_.credentials : grpc::InsecureServerCredentials(), &selected);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (server_ && selected == 0) server_.reset();
    if (server_) port_ = selected;
  }
  if (!server_)
    throw std::runtime_error("FakeAgent: cannot listen on port " + std::to_string(port_));
}

void FakeAgent::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  server_->Wait();
  server_.reset();
}

std::string FakeAgent::address() const { return "127.0.0.1:" + std::to_string(port_); }

void FakeAgent::AddRun(int64_t run_id, std::string config_json, int max_attempts) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueuedRun run;
    run.run_id = run_id;
    run.config_json = std::move(config_json);
    run.max_attempts = max_attempts;
    runs_[run_id] = run;
    queue_.push_back(run);
  }
  changed_.notify_all();
}

void FakeAgent::RevokeAttempt(int64_t attempt_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = attempts_.find(attempt_id);
    if (it != attempts_.end()) it->second.revoked = true;
    pending_revocations_.push_back(attempt_id);
  }
  changed_.notify_all();
}

void FakeAgent::ForgetWorkers() {
  std::lock_guard<std::mutex> lock(mu_);
  workers_.clear();
}

void FakeAgent::SetDrain(bool drain) {
  std::lock_guard<std::mutex> lock(mu_);
  drain_ = drain;
}

void FakeAgent::FailNextCompletes(int count, grpc::StatusCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_completes_ = count;
  fail_completes_code_ = code;
}

std::vector<FakeAgent::AttemptRecord> FakeAgent::Attempts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AttemptRecord> out;
  for (const auto& [id, a] : attempts_) out.push_back(a);
  return out;
}

std::optional<FakeAgent::AttemptRecord> FakeAgent::AttemptOfRun(int64_t run_id,
                                                                int attempt_number) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, a] : attempts_) {
    if (a.run_id == run_id && a.attempt_number == attempt_number) return a;
  }
  return std::nullopt;
}

int FakeAgent::registrations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registrations_;
}

int FakeAgent::heartbeats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return heartbeats_;
}

int FakeAgent::max_devices_per_lease() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_devices_per_lease_;
}

std::vector<int64_t> FakeAgent::LastHeartbeatAttempts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_heartbeat_attempts_;
}

int FakeAgent::queued_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

std::string FakeAgent::last_authorization() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_authorization_;
}

bool FakeAgent::WaitFor(const std::function<bool()>& condition,
                        std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace ladder::worker::testing
