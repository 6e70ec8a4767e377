#include "server/watch_hub.h"

#include <algorithm>

#include "common/grpc_status.h"
#include "common/logging.h"

namespace ladder {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A store hiccup is retried this many polls in a row before the watcher is
// told to reconnect.
constexpr int kMaxUnavailablePolls = 20;

// A stream refused at the door: finishes at once, gRPC owns and frees it.
class RefusedStream : public grpc::ServerWriteReactor<v1::SweepEvent> {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// One open WatchSweep call. The hub's thread alone polls it, starts its
// writes and finishes it; gRPC's threads only report back (OnWriteDone,
// OnCancel) through the atomics, and free it (OnDone) after Finish.
class WatchHub::Stream : public grpc::ServerWriteReactor<v1::SweepEvent> {
 public:
  Stream(WatchHub* hub, std::string client, int64_t sweep_id)
      : hub_(hub),
        client_(std::move(client)),
        sweep_id_(sweep_id),
        watch_(hub->sweeps_, sweep_id) {}

  void OnWriteDone(bool ok) override {
    if (!ok) write_failed_ = true;  // the client went away
    write_in_flight_ = false;
    hub_->Wake();
  }
  void OnCancel() override {
    cancelled_ = true;
    hub_->Wake();
  }
  void OnDone() override {
    hub_->Release(client_);
    delete this;
  }

 private:
  friend class WatchHub;

  WatchHub* const hub_;
  const std::string client_;
  const int64_t sweep_id_;
  std::atomic<bool> write_in_flight_{false};
  std::atomic<bool> write_failed_{false};
  std::atomic<bool> cancelled_{false};
  // The hub's thread only:
  SweepWatch watch_;
  v1::SweepEvent event_;  // being written while write_in_flight_
  SteadyClock::time_point next_poll_ = SteadyClock::now();
  int failures_ = 0;
  bool finish_after_write_ = false;  // the sweep ended with the event in flight
};

WatchHub::WatchHub(store::SweepStore* sweeps, FitFeed* fits, Options options)
    : sweeps_(sweeps), options_(options), fits_(fits) {}

WatchHub::~WatchHub() { Stop(); }

void WatchHub::Start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void WatchHub::Stop() {
  bool run_here = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    wake_ = true;
    cv_.notify_all();
    run_here = !started_;
    started_ = true;  // a later Start does nothing
  }
  // Without a thread (never started), finish whatever was opened here.
  if (run_here) Run();
  if (thread_.joinable()) thread_.join();
}

int WatchHub::open_streams() const {
  std::lock_guard<std::mutex> lk(mu_);
  return total_;
}

std::string WatchHub::ClientKey(const grpc::CallbackServerContext& ctx) {
  if (auto auth = ctx.auth_context()) {
    // Set by RequestAuthorizer for a call carrying a verified bearer token.
    // gRPC 1.51 hands the processor the connection's auth context, so the
    // property gathers one value per authorised call on the connection: the
    // last is this call's (or, with several tokens multiplexed on one
    // connection, another token that the same client presented).
    const auto ids = auth->FindPropertyValues("ladder_token_id");
    if (!ids.empty()) return "token " + std::string(ids.back().data(), ids.back().size());
  }
  // "ipv4:127.0.0.1:51234", "ipv6:[::1]:51234": the host, without the
  // port, so that one machine's connections share its cap.
  std::string peer = ctx.peer();
  for (const char* scheme : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(scheme, 0) == 0) {
      peer = peer.substr(5);
      const auto colon = peer.rfind(':');
      if (colon != std::string::npos &&
          peer.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
        peer = peer.substr(0, colon);
      }
      break;
    }
  }
  return "peer " + peer;
}

grpc::ServerWriteReactor<v1::SweepEvent>* WatchHub::Open(grpc::CallbackServerContext* ctx,
                                                         int64_t sweep_id) {
  const std::string client = ClientKey(*ctx);
  grpc::Status refused;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) {
      refused = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "the coordinator is shutting down; watch again");
    } else if (total_ >= options_.max_total) {
      refused = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "too many watch streams open on this coordinator (the cap is " +
                                 std::to_string(options_.max_total) +
                                 ", --max-watch-streams); try again later");
    } else if (auto it = per_client_.find(client);
               it != per_client_.end() && it->second >= options_.max_per_client) {
      refused = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "too many watch streams for " + client + " (the cap is " +
                                 std::to_string(options_.max_per_client) +
                                 ", --max-watch-streams-per-client); close one first");
    } else {
      ++per_client_[client];
      ++total_;
      auto* s = new Stream(this, client, sweep_id);
      streams_.push_back(s);
      wake_ = true;
      cv_.notify_all();
      return s;
    }
  }
  if (refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    LOG_WARN << "watch of sweep " << sweep_id << " refused: " << refused.error_message();
  }
  return new RefusedStream(std::move(refused));
}

void WatchHub::Wake() {
  std::lock_guard<std::mutex> lk(mu_);
  wake_ = true;
  cv_.notify_all();
}

void WatchHub::Release(const std::string& client) {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto it = per_client_.find(client); it != per_client_.end() && --it->second <= 0) {
    per_client_.erase(it);
  }
  --total_;
  wake_ = true;
  // Notified under the lock: once total_ reaches 0, Stop may return and this
  // hub be destroyed as soon as the lock is released.
  cv_.notify_all();
}

void WatchHub::Finish(Stream* s, grpc::Status status) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    streams_.erase(std::find(streams_.begin(), streams_.end(), s));
  }
  // After this, gRPC may free `s` at any time.
  s->Finish(std::move(status));
}

bool WatchHub::Step(Stream* s, SteadyClock::time_point now) {
  if (s->write_in_flight_) return false;  // OnWriteDone wakes us
  if (stopping_) {
    Finish(s, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "the coordinator is shutting down; watch again"));
    return true;
  }
  if (s->cancelled_) {
    Finish(s, grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled by the client"));
    return true;
  }
  if (s->write_failed_ || s->finish_after_write_) {
    Finish(s, grpc::Status::OK);
    return true;
  }
  if (now < s->next_poll_) return false;
  s->next_poll_ = now + options_.poll_interval;

  bool has_event = false;
  absl::Status st = s->watch_.Poll(&s->event_, &has_event);
  if (!st.ok()) {
    // NOT_FOUND and the like end the stream; a database hiccup is retried
    // a few times before the watcher is told to reconnect.
    if (st.code() != absl::StatusCode::kUnavailable || ++s->failures_ > kMaxUnavailablePolls) {
      Finish(s, ToGrpcStatus(st));
      return true;
    }
    return false;
  }
  s->failures_ = 0;
  // Changed runs left for the next event: poll again as soon as this one is
  // written, not a poll interval later.
  if (s->watch_.backlog()) s->next_poll_ = now;
  if (fits_ != nullptr) {
    if (auto fits = fits_->FitsAfter(s->sweep_id_, s->watch_.last_fit_id); fits.ok()) {
      for (auto& f : *fits) {
        s->watch_.last_fit_id = std::max(s->watch_.last_fit_id, f.id());
        *s->event_.add_fits() = std::move(f);
        has_event = true;
      }
    }
  }
  if (has_event) {
    s->finish_after_write_ = s->watch_.ended();
    s->write_in_flight_ = true;
    // OnWriteDone may run inside this call, on this thread.
    s->StartWrite(&s->event_);
    return false;
  }
  if (s->watch_.ended()) {
    Finish(s, grpc::Status::OK);
    return true;
  }
  return false;
}

void WatchHub::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    // Streams in `snapshot` stay alive: only this thread finishes them.
    const std::vector<Stream*> snapshot = streams_;
    lk.unlock();
    const SteadyClock::time_point now = SteadyClock::now();
    for (Stream* s : snapshot) Step(s, now);
    lk.lock();
    if (stopping_ && streams_.empty() && total_ == 0) return;
    SteadyClock::time_point next = SteadyClock::time_point::max();
    if (!stopping_) {
      for (const Stream* s : streams_) {
        if (!s->write_in_flight_) next = std::min(next, s->next_poll_);
      }
    }
    if (next == SteadyClock::time_point::max()) {
      cv_.wait(lk, [&] { return wake_; });
    } else {
      cv_.wait_until(lk, next, [&] { return wake_; });
    }
    wake_ = false;
  }
}

}  // namespace ladder
