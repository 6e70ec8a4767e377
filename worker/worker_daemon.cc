#include "worker/worker_daemon.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <random>

#include "common/duration.h"
#include "common/logging.h"
#include "worker/device_detection.h"

namespace ladder::worker {

using std::chrono::milliseconds;

struct WorkerDaemon::Slot {
  Slot(boost::asio::io_context& io, v1::Device d, milliseconds backoff_max)
      : device(std::move(d)), timer(io), backoff(milliseconds(100), backoff_max) {}
  v1::Device device;
  std::shared_ptr<AttemptSupervisor> attempt;  // the live attempt on this device
  bool lease_in_flight = false;
  bool waiting = false;          // `timer` armed before the next LeaseRun
  uint64_t wait_generation = 0;  // a timer callback of an older wait does nothing
  boost::asio::steady_timer timer;
  Backoff backoff;
};

WorkerDaemon::WorkerDaemon(boost::asio::io_context& io, const WorkerOptions& options,
                           std::vector<v1::Device> devices, AgentClient& agent,
                           TrainerLauncher& launcher, WorkerMetrics* metrics)
    : io_(io),
      options_(options),
      agent_(agent),
      launcher_(launcher),
      metrics_(metrics),
      devices_(std::move(devices)),
      register_backoff_(milliseconds(100), options.retry_backoff_max),
      register_timer_(io),
      heartbeat_timer_(io),
      drain_timer_(io),
      deadline_timer_(io),
      last_resort_timer_(io) {
  for (const auto& d : devices_) {
    slots_.push_back(std::make_unique<Slot>(io, d, options.retry_backoff_max));
  }
}

WorkerDaemon::~WorkerDaemon() = default;

void WorkerDaemon::Start(std::function<void(int)> on_exit) {
  on_exit_ = std::move(on_exit);
  Register();
}

// ---------------------------------------------------------------- registration

void WorkerDaemon::Register() {
  if (stopped_ || registering_) return;
  registering_ = true;
  v1::RegisterWorkerRequest request;
  request.set_name(options_.name);
  request.set_hostname(options_.hostname);
  for (const auto& d : devices_) *request.add_devices() = d;
  request.set_trainer(std::filesystem::path(options_.trainer).filename().string());
  agent_.RegisterWorker(
      request, [this](const grpc::Status& status, const v1::RegisterWorkerResponse& response) {
        registering_ = false;
        if (stopped_) return;  // calls cancelled at exit are not errors
        if (metrics_ != nullptr) metrics_->CountRpcError("RegisterWorker", status);
        if (!status.ok()) {
          if (!IsRetryable(status)) {
            LOG_ERROR << "the coordinator refused the registration: " << DescribeStatus(status);
            Exit(1);
            return;
          }
          const milliseconds delay = register_backoff_.Next();
          LOG_WARN << "cannot register (" << DescribeStatus(status) << "); retrying in "
                   << FormatDuration(delay);
          register_timer_.expires_after(delay);
          register_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) Register();
          });
          MaybeExit();
          return;
        }
        // register_backoff_ is reset by a successful heartbeat, not here: a
        // coordinator that accepts registrations but then says NOT_FOUND must
        // not get a tight register/lease loop.
        worker_id_ = response.worker_id();
        if (response.heartbeat_interval_ms() > 0) {
          heartbeat_interval_ = milliseconds(std::max(20, response.heartbeat_interval_ms()));
        }
        registered_ = true;
        coordinator_down_ = false;
        LOG_INFO << "registered as worker " << worker_id_ << " with " << devices_.size()
                 << " device(s); heartbeat every " << FormatDuration(heartbeat_interval_)
                 << ", lease ttl " << response.lease_ttl_ms() << "ms";
        ArmHeartbeat();
        for (auto& slot : slots_) MaybeLease(*slot);
        MaybeExit();
      });
}

void WorkerDaemon::Reregister(const std::string& why) {
  if (!registered_) return;
  registered_ = false;
  heartbeat_timer_.cancel();
  const milliseconds delay = register_backoff_.Next();
  LOG_WARN << why << "; registering again as " << options_.name << " in " << FormatDuration(delay);
  register_timer_.expires_after(delay);
  register_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Register();
  });
}

// ---------------------------------------------------------------- heartbeats

void WorkerDaemon::ArmHeartbeat() {
  heartbeat_timer_.expires_after(heartbeat_interval_);
  heartbeat_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_ || !registered_) return;
    ArmHeartbeat();  // a steady cadence; a tick while one is in flight is skipped
    SendHeartbeat();
  });
}

void WorkerDaemon::SendHeartbeat() {
  if (heartbeat_in_flight_ || stopped_ || !registered_) return;
  v1::HeartbeatRequest request;
  request.set_worker_id(worker_id_);
  for (const auto& slot : slots_) {
    if (slot->attempt && slot->attempt->holds_lease()) {
      auto* live = request.add_attempts();
      live->set_attempt_id(slot->attempt->attempt_id());
      live->set_lease_token(slot->attempt->lease_token());
    }
  }
  heartbeat_in_flight_ = true;
  agent_.Heartbeat(
      request, [this](const grpc::Status& status, const v1::HeartbeatResponse& response) {
        heartbeat_in_flight_ = false;
        if (stopped_) return;
        if (metrics_ != nullptr) metrics_->CountRpcError("Heartbeat", status);
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          Reregister("the coordinator does not know worker " + std::to_string(worker_id_));
          return;
        }
        if (!status.ok()) {
          if (!coordinator_down_) {
            LOG_WARN << "heartbeat failed (" << DescribeStatus(status)
                     << "); trainers keep running, retrying";
          }
          coordinator_down_ = true;
          return;
        }
        if (coordinator_down_) {
          LOG_INFO << "the coordinator answers again";
        }
        coordinator_down_ = false;
        register_backoff_.Reset();
        for (int64_t id : response.revoked_attempt_ids()) {
          if (AttemptSupervisor* attempt = FindAttempt(id)) attempt->Revoke("heartbeat");
        }
        SetOperatorDrain(response.drain());
      });
}

AttemptSupervisor* WorkerDaemon::FindAttempt(int64_t attempt_id) {
  for (auto& slot : slots_) {
    if (slot->attempt && slot->attempt->attempt_id() == attempt_id) return slot->attempt.get();
  }
  return nullptr;
}

// ---------------------------------------------------------------- leasing

bool WorkerDaemon::MayLease(const Slot& slot) const {
  return !stopped_ && registered_ && !draining_ && !operator_drain_ && !slot.attempt &&
         !slot.lease_in_flight;
}

void WorkerDaemon::MaybeLease(Slot& slot) {
  if (!MayLease(slot) || slot.waiting) return;
  // One call for every device free now: this one, and the others that are
  // idle or waiting to ask again (their waits end here).
  std::vector<Slot*> group = {&slot};
  for (auto& other : slots_) {
    if (other.get() == &slot || !MayLease(*other)) continue;
    if (other->waiting) {
      other->waiting = false;
      ++other->wait_generation;
      other->timer.cancel();
    }
    group.push_back(other.get());
  }
  v1::LeaseRunRequest request;
  request.set_worker_id(worker_id_);
  request.set_device_index(slot.device.index());
  if (group.size() > 1) {
    for (Slot* s : group) request.add_device_indexes(s->device.index());
  }
  for (Slot* s : group) s->lease_in_flight = true;
  agent_.LeaseRun(request, [this, group](const grpc::Status& status,
                                         const v1::LeaseRunResponse& response) {
    for (Slot* s : group) s->lease_in_flight = false;
    if (stopped_) return;
    if (metrics_ != nullptr) metrics_->CountRpcError("LeaseRun", status);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      Reregister("LeaseRun: the coordinator does not know worker " + std::to_string(worker_id_));
    } else if (!status.ok()) {
      if (group[0]->backoff.fresh()) {
        LOG_WARN << "LeaseRun for " << group.size() << " device(s) failed ("
                 << DescribeStatus(status) << "); retrying with backoff";
      }
      for (Slot* s : group) WaitThenLease(*s, s->backoff.Next());
    } else {
      if (response.drain()) SetOperatorDrain(true);
      // Each lease names its device; a coordinator that leases one device
      // per call answers only `lease`, for the first.
      std::vector<Slot*> idle = group;
      const auto start = [&](Slot* s, const v1::Lease& lease) {
        s->backoff.Reset();
        idle.erase(std::find(idle.begin(), idle.end(), s));
        StartAttempt(*s, lease);
      };
      if (response.leases_size() > 0) {
        for (const auto& lease : response.leases()) {
          auto it = std::find_if(idle.begin(), idle.end(), [&](Slot* s) {
            return s->device.index() == lease.device_index();
          });
          if (it == idle.end()) {
            LOG_WARN << "LeaseRun granted run " << lease.run_id() << " for device "
                     << lease.device_index() << ", which was not asked for; ignoring it";
            continue;
          }
          start(*it, lease);
        }
      } else if (response.granted()) {
        start(group[0], response.lease());
      }
      // Poll with +-10% jitter so idle workers spread out.
      static thread_local std::mt19937 rng(std::random_device{}());
      std::uniform_real_distribution<double> jitter(0.9, 1.1);
      const auto poll = milliseconds(static_cast<int64_t>(
          static_cast<double>(options_.lease_poll_interval.count()) * jitter(rng)));
      for (Slot* s : idle) {
        s->backoff.Reset();
        WaitThenLease(*s, poll);
      }
    }
    MaybeExit();
  });
}

void WorkerDaemon::WaitThenLease(Slot& slot, milliseconds delay) {
  slot.waiting = true;
  const uint64_t generation = ++slot.wait_generation;
  slot.timer.expires_after(delay);
  slot.timer.async_wait([this, &slot, generation](const boost::system::error_code& ec) {
    if (generation != slot.wait_generation) return;  // this wait was ended early
    slot.waiting = false;
    if (!ec) MaybeLease(slot);
  });
}

void WorkerDaemon::StartAttempt(Slot& slot, const v1::Lease& lease) {
  auto attempt = std::make_shared<AttemptSupervisor>(
      io_, agent_, launcher_, options_, slot.device, lease, [this, &slot] { OnAttemptDone(slot); },
      metrics_);
  slot.attempt = attempt;
  if (draining_) {
    LOG_INFO << attempt->name() << ": granted while draining; releasing it unstarted";
    attempt->Release("drained", "the worker was draining when the lease arrived");
  } else {
    attempt->Start();
  }
}

void WorkerDaemon::OnAttemptDone(Slot& slot) {
  slot.attempt.reset();
  if (stopped_) return;
  MaybeLease(slot);
  MaybeExit();
}

// ---------------------------------------------------------------- drain

void WorkerDaemon::SetOperatorDrain(bool drain) {
  if (drain == operator_drain_) return;
  operator_drain_ = drain;
  if (drain) {
    LOG_WARN << "the coordinator asks this worker to drain: no new runs; running attempts finish";
    for (auto& slot : slots_) slot->timer.cancel();
  } else {
    LOG_INFO << "the coordinator lifted the drain; leasing again";
    for (auto& slot : slots_) MaybeLease(*slot);
  }
}

void WorkerDaemon::RequestDrain(const std::string& why) {
  if (stopped_) return;
  int running = 0;
  for (const auto& slot : slots_) running += slot->attempt && slot->attempt->trainer_running();
  if (!draining_) {
    draining_ = true;
    LOG_WARN << "draining (" << why << "): no new runs; " << running
             << " running trainer(s) may finish within " << FormatDuration(options_.drain_grace);
    for (auto& slot : slots_) slot->timer.cancel();
    drain_timer_.expires_after(options_.drain_grace);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) DrainAttempts();
    });
    deadline_timer_.expires_after(options_.drain_grace + options_.kill_grace +
                                  options_.drain_report_timeout);
  } else {
    LOG_WARN << "draining (" << why << " again): stopping " << running << " trainer(s) now";
    drain_timer_.cancel();
    DrainAttempts();
    deadline_timer_.expires_after(options_.kill_grace + options_.drain_report_timeout);
  }
  deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) AbandonReports();
  });
  MaybeExit();
}

void WorkerDaemon::DrainAttempts() {
  for (auto& slot : slots_) {
    if (slot->attempt) slot->attempt->Drain();
  }
}

void WorkerDaemon::AbandonReports() {
  LOG_WARN << "drain deadline reached; exiting without waiting for the remaining reports";
  for (auto& slot : slots_) {
    if (slot->attempt) slot->attempt->AbandonReports();
  }
  // A trainer that ignores even SIGKILL (stuck in the kernel) must not keep
  // the worker up forever.
  last_resort_timer_.expires_after(options_.kill_grace + milliseconds(1000));
  last_resort_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    LOG_ERROR << "some attempts did not finish; exiting anyway";
    Exit(0);
  });
  MaybeExit();
}

void WorkerDaemon::MaybeExit() {
  if (!draining_ || stopped_) return;
  for (const auto& slot : slots_) {
    if (slot->attempt || slot->lease_in_flight) return;
  }
  LOG_INFO << "drained: every attempt is reported; exiting";
  Exit(0);
}

void WorkerDaemon::Exit(int code) {
  if (stopped_) return;
  stopped_ = true;
  register_timer_.cancel();
  heartbeat_timer_.cancel();
  drain_timer_.cancel();
  deadline_timer_.cancel();
  last_resort_timer_.cancel();
  for (auto& slot : slots_) slot->timer.cancel();
  agent_.CancelAll();
  if (on_exit_) boost::asio::post(io_, [cb = std::move(on_exit_), code] { cb(code); });
}

}  // namespace ladder::worker
