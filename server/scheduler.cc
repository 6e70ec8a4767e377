#include "server/scheduler.h"

#include <absl/status/status.h>

#include <algorithm>
#include <set>

#include "common/logging.h"

namespace ladder {

Scheduler::Scheduler(SchedulerStore* store, CoordinatorMetrics* metrics, Options options,
                     Clock* clock)
    : store_(store), metrics_(metrics), options_(options), clock_(clock) {}

Scheduler::~Scheduler() { Stop(); }

absl::StatusOr<v1::RegisterWorkerResponse> Scheduler::Register(
    const v1::RegisterWorkerRequest& req) {
  if (req.name().empty()) return absl::InvalidArgumentError("name: must not be empty");
  if (req.devices_size() == 0)
    return absl::InvalidArgumentError("devices: a worker needs at least one device");
  for (int i = 0; i < req.devices_size(); ++i) {
    const auto& d = req.devices(i);
    const std::string path = "devices[" + std::to_string(i) + "]";
    if (d.kind() != "cpu" && d.kind() != "cuda") {
      return absl::InvalidArgumentError(path + ".kind: must be cpu or cuda, got '" + d.kind() +
                                        "'");
    }
    if (d.memory_bytes() <= 0)
      return absl::InvalidArgumentError(path + ".memory_bytes: must be positive");
    for (int j = 0; j < i; ++j) {
      if (req.devices(j).index() == d.index()) {
        return absl::InvalidArgumentError(path + ".index: " + std::to_string(d.index()) +
                                          " is listed twice");
      }
    }
  }
  auto id = store_->RegisterWorker(req);
  if (!id.ok()) return id.status();
  LOG_INFO << "worker " << req.name() << " registered as " << *id << " with " << req.devices_size()
           << " device(s), trainer " << req.trainer();
  v1::RegisterWorkerResponse out;
  out.set_worker_id(*id);
  out.set_lease_ttl_ms(static_cast<int32_t>(store_->lease_ttl().count()));
  out.set_heartbeat_interval_ms(static_cast<int32_t>(options_.heartbeat_interval.count()));
  return out;
}

absl::StatusOr<v1::LeaseRunResponse> Scheduler::Lease(const v1::LeaseRunRequest& req) {
  return std::move(LeaseBatch({&req})[0]);
}

absl::StatusOr<v1::HeartbeatResponse> Scheduler::Heartbeat(const v1::HeartbeatRequest& req) {
  return std::move(HeartbeatBatch({&req})[0]);
}

absl::StatusOr<v1::ReportProgressResponse> Scheduler::Progress(
    const v1::ReportProgressRequest& req) {
  return std::move(ProgressBatch({&req})[0]);
}

absl::StatusOr<v1::CompleteAttemptResponse> Scheduler::Complete(
    const v1::CompleteAttemptRequest& req) {
  return std::move(CompleteBatch({&req})[0]);
}

namespace {
// The most devices one LeaseRun may name.
constexpr int kMaxDevicesPerLease = 64;

absl::StatusOr<store::LeaseStore::LeaseAsk> CheckLeaseRequest(const v1::LeaseRunRequest& req) {
  store::LeaseStore::LeaseAsk ask;
  ask.worker_id = req.worker_id();
  if (req.device_indexes_size() == 0) {
    ask.devices.push_back(req.device_index());
    return ask;
  }
  if (req.device_indexes_size() > kMaxDevicesPerLease) {
    return absl::InvalidArgumentError(
        "device_indexes: " + std::to_string(req.device_indexes_size()) +
        " devices, more than the limit of " + std::to_string(kMaxDevicesPerLease));
  }
  ask.several = true;
  for (int i = 0; i < req.device_indexes_size(); ++i) {
    const int32_t d = req.device_indexes(i);
    if (std::find(ask.devices.begin(), ask.devices.end(), d) != ask.devices.end()) {
      return absl::InvalidArgumentError("device_indexes[" + std::to_string(i) + "]: device " +
                                        std::to_string(d) + " is listed twice");
    }
    ask.devices.push_back(d);
  }
  return ask;
}
}  // namespace

std::vector<absl::StatusOr<v1::LeaseRunResponse>> Scheduler::LeaseBatch(
    const std::vector<const v1::LeaseRunRequest*>& requests) {
  const auto start = clock_->Now();
  std::vector<absl::StatusOr<v1::LeaseRunResponse>> out(requests.size(),
                                                        absl::InternalError("not answered"));
  std::vector<store::LeaseStore::LeaseAsk> asks;
  std::vector<size_t> asked;  // request index of each ask
  for (size_t i = 0; i < requests.size(); ++i) {
    auto ask = CheckLeaseRequest(*requests[i]);
    if (!ask.ok()) {
      out[i] = ask.status();
      continue;
    }
    asks.push_back(*std::move(ask));
    asked.push_back(i);
  }
  if (!asks.empty()) {
    auto answers = store_->LeaseRuns(asks);
    for (size_t k = 0; k < asked.size(); ++k) out[asked[k]] = std::move(answers[k]);
  }
  const double seconds = std::chrono::duration<double>(clock_->Now() - start).count();
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!out[i].ok()) continue;
    if (metrics_) metrics_->ObserveLease(out[i]->leases_size(), seconds);
    for (const auto& l : out[i]->leases()) {
      LOG_DEBUG << "leased run " << l.run_id() << " (attempt " << l.attempt_number()
                << ") to worker " << requests[i]->worker_id() << " device " << l.device_index();
    }
  }
  return out;
}

std::vector<absl::StatusOr<v1::HeartbeatResponse>> Scheduler::HeartbeatBatch(
    const std::vector<const v1::HeartbeatRequest*>& requests) {
  return store_->Heartbeats(requests);
}

std::vector<absl::StatusOr<v1::ReportProgressResponse>> Scheduler::ProgressBatch(
    const std::vector<const v1::ReportProgressRequest*>& requests) {
  return store_->ReportProgresses(requests);
}

std::vector<absl::StatusOr<v1::CompleteAttemptResponse>> Scheduler::CompleteBatch(
    const std::vector<const v1::CompleteAttemptRequest*>& requests) {
  std::vector<absl::StatusOr<store::AttemptEnd>> ends = store_->CompleteAttempts(requests);
  std::vector<absl::StatusOr<v1::CompleteAttemptResponse>> out;
  out.reserve(ends.size());
  std::set<int64_t> finish_checked;  // one sweep check per batch is enough
  for (size_t i = 0; i < ends.size(); ++i) {
    if (!ends[i].ok()) {
      out.push_back(ends[i].status());
      continue;
    }
    v1::CompleteAttemptResponse r;
    r.set_already_recorded(ends[i]->already_recorded);
    if (!ends[i]->already_recorded) {
      LOG_DEBUG << "run " << ends[i]->run_id << " succeeded (attempt " << requests[i]->attempt_id()
                << ")";
      store::AttemptEnd end = *ends[i];
      if (end.sweep_may_be_done && !finish_checked.insert(end.sweep_id).second)
        end.sweep_may_be_done = false;
      Ended(end, enums::AttemptOutcome::kSucceeded, "");
    }
    out.push_back(std::move(r));
  }
  return out;
}

void Scheduler::Ended(const store::AttemptEnd& end, enums::AttemptOutcome outcome,
                      const std::string& reason) {
  if (end.sweep_may_be_done) {
    absl::Status st = store_->FinishSweepIfDone(end.sweep_id);
    if (!st.ok()) LOG_WARN << "finish sweep " << end.sweep_id << ": " << st;
  }
  if (metrics_) metrics_->CountAttemptEnded(std::string(enums::Name(outcome)), reason);
  for (AttemptObserver* o : observers_) o->OnAttemptEnded(end, outcome);
}

absl::StatusOr<v1::FailAttemptResponse> Scheduler::Fail(const v1::FailAttemptRequest& req) {
  auto end = store_->FailAttempt(req);
  if (!end.ok()) return end.status();
  v1::FailAttemptResponse out;
  out.set_already_recorded(end->already_recorded);
  out.set_will_retry(end->will_retry);
  if (!end->already_recorded) {
    LOG_INFO << "run " << end->run_id << " attempt " << req.attempt_id()
             << " ended: " << req.reason() << ": " << req.message()
             << (end->will_retry  ? " (will retry)"
                 : end->run_ended ? " (run failed)"
                                  : "");
    using enums::AttemptOutcome;
    Ended(*end,
          req.reason() == "drained"     ? AttemptOutcome::kReleased
          : req.reason() == "cancelled" ? AttemptOutcome::kCancelled
                                        : AttemptOutcome::kFailed,
          req.reason());
  }
  return out;
}

absl::Status Scheduler::MaintainOnce() {
  auto expired = store_->ExpireLeases();
  if (!expired.ok()) return expired.status();
  if (expired->attempts > 0) {
    LOG_INFO << "reclaimed " << expired->attempts << " expired lease(s)";
    if (metrics_) {
      metrics_->CountLeasesExpired(expired->attempts);
      for (int i = 0; i < expired->attempts; ++i)
        metrics_->CountAttemptEnded(std::string(enums::Name(enums::AttemptOutcome::kExpired)),
                                    "lease_expired");
    }
  }
  for (int64_t s : expired->sweeps) {
    absl::Status st = store_->FinishSweepIfDone(s);
    if (!st.ok()) return st;
  }
  if (metrics_) {
    auto snapshot = store_->ReadSnapshot();
    if (!snapshot.ok()) return snapshot.status();
    metrics_->Update(*snapshot);
  }
  auto gone = store_->MarkSilentWorkersGone(options_.worker_gone_after);
  if (!gone.ok()) return gone.status();
  if (*gone > 0) LOG_INFO << *gone << " silent worker(s) marked gone";
  return store_->FinishDoneSweeps();
}

void Scheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    thread.swap(thread_);  // exactly one caller joins, even if several stop at once
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::Status st = MaintainOnce();
    if (!st.ok()) LOG_WARN << "maintenance: " << st;
    lock.lock();
    clock_->WaitFor(lock, cv_, options_.maintenance_interval, [this] { return stopping_; });
  }
}

}  // namespace ladder
