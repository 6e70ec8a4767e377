#include "worker/attempt_supervisor.h"

#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/duration.h"
#include "common/logging.h"
#include "common/protocol/run_config.h"
#include "common/utf8.h"
#include "worker/device_detection.h"

namespace ladder::worker {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t kMaxPointsPerReport = 1000;
constexpr size_t kSnippetBytes = 120;
// After the trainer exits, how long its stdout may stay open (held by
// something it started) before the worker stops reading.
constexpr milliseconds kStdoutAfterExit{2000};

// Printable, single-line, bounded, valid UTF-8 (a trainer may print any
// bytes; the message travels in a protobuf string, which the coordinator
// refuses to parse unless it is UTF-8): safe to put in a message and a log.
std::string Snippet(const std::string& text, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t len = utf8::SequenceAt(text, i);
    if (len == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (out.size() + len > max_bytes) break;
    out.append(text, i, len);
    i += len;
  }
  if (i < text.size()) out += "...";
  return out;
}

v1::CurvePoint ToCurvePoint(const ProgressEvent& p) {
  v1::CurvePoint point;
  point.set_step(p.step);
  point.set_tokens(p.tokens);
  point.set_flops(p.flops);
  point.set_train_loss(p.train_loss);
  point.set_has_eval_loss(p.eval_loss.has_value());
  point.set_eval_loss(p.eval_loss.value_or(0));
  point.set_lr(p.lr);
  point.set_tokens_per_second(p.tokens_per_second);
  return point;
}

// The coordinator says this lease is not (or no longer) ours.
bool LeaseGone(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
         status.error_code() == grpc::StatusCode::NOT_FOUND;
}

}  // namespace

AttemptSupervisor::AttemptSupervisor(boost::asio::io_context& io, AgentClient& agent,
                                     TrainerLauncher& launcher, const WorkerOptions& options,
                                     v1::Device device, v1::Lease lease,
                                     std::function<void()> on_done, WorkerMetrics* metrics)
    : io_(io),
      agent_(agent),
      launcher_(launcher),
      options_(options),
      device_(std::move(device)),
      lease_(std::move(lease)),
      on_done_(std::move(on_done)),
      metrics_(metrics),
      name_("run " + std::to_string(lease_.run_id()) + " attempt " +
            std::to_string(lease_.attempt_number())),
      run_dir_(options.work_dir + "/runs/" + std::to_string(lease_.run_id())),
      log_path_(run_dir_ + "/attempt-" + std::to_string(lease_.attempt_number()) + ".log"),
      report_backoff_(milliseconds(100), options.retry_backoff_max),
      progress_backoff_(milliseconds(100), options.retry_backoff_max),
      silence_timer_(io),
      kill_timer_(io),
      stdout_timer_(io),
      flush_timer_(io),
      report_timer_(io) {}

AttemptSupervisor::~AttemptSupervisor() {
  // A trainer still running is killed with its TrainerProcess.
  MetricsTrainerGone();
  if (metrics_ != nullptr && metrics_buffered_ != 0) {
    metrics_->AddBufferedPoints(-metrics_buffered_);
  }
}

// ---------------------------------------------------------------- start

bool AttemptSupervisor::PrepareRunDir(std::string* config_path, Failure* failure) {
  // The coordinator's stored config is per run; run_id, sweep_id and attempt
  // are per attempt, and the lease's own fields are the ones that count.
  std::string config, error;
  if (!protocol::StampAttempt(lease_.config_json(),
                              {lease_.run_id(), lease_.sweep_id(), lease_.attempt_number()},
                              &config, &error, /*indent=*/2)) {
    *failure = {"bad_config", "the lease's config_json is " + error};
    return false;
  }
  std::error_code ec;
  fs::create_directories(run_dir_, ec);
  if (ec) {
    *failure = {"internal", "cannot create " + run_dir_ + ": " + ec.message()};
    return false;
  }
  *config_path = run_dir_ + "/config.json";
  const std::string tmp = *config_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << config << "\n";
    if (!out.good()) {
      *failure = {"internal", "cannot write " + tmp};
      return false;
    }
  }
  fs::rename(tmp, *config_path, ec);
  if (ec) {
    *failure = {"internal", "cannot write " + *config_path + ": " + ec.message()};
    return false;
  }
  return true;
}

void AttemptSupervisor::Start() {
  if (phase_ != Phase::kIdle) return;
  std::string config_path;
  Failure failure;
  if (!PrepareRunDir(&config_path, &failure)) {
    LOG_ERROR << name_ << ": " << failure.message;
    Release(failure.reason, failure.message);
    return;
  }
  LaunchSpec spec;
  spec.program = options_.trainer;
  spec.args = {"--config",   config_path,
               "--work-dir", run_dir_,
               "--device",   TrainerDeviceName(device_),
               "--threads",  std::to_string(device_.threads())};
  spec.args.insert(spec.args.end(), options_.trainer_args.begin(), options_.trainer_args.end());
  if (!options_.data_dir.empty()) spec.env["LADDER_DATA_DIR"] = options_.data_dir;
  spec.env["LADDER_RUN_ID"] = std::to_string(lease_.run_id());
  spec.env["LADDER_ATTEMPT"] = std::to_string(lease_.attempt_number());
  spec.working_dir = run_dir_;
  spec.stderr_path = log_path_;

  std::weak_ptr<AttemptSupervisor> weak = weak_from_this();
  TrainerCallbacks callbacks;
  callbacks.on_line = [weak](std::string line) {
    if (auto self = weak.lock()) self->OnLine(std::move(line));
  };
  callbacks.on_stdout_closed = [weak](absl::Status status) {
    if (auto self = weak.lock()) self->OnStdoutClosed(std::move(status));
  };
  callbacks.on_exit = [weak](TrainerExit exit) {
    if (auto self = weak.lock()) self->OnExit(exit);
  };
  auto process = launcher_.Launch(spec, std::move(callbacks));
  if (!process.ok()) {
    const std::string message =
        "cannot start the trainer: " + std::string(process.status().message());
    LOG_ERROR << name_ << ": " << message;
    Release("internal", message);
    return;
  }
  process_ = *std::move(process);
  phase_ = Phase::kRunning;
  if (metrics_ != nullptr) {
    // The launcher makes the trainer its own process group leader.
    metrics_->TrainerStarted(device_.index(), process_->pid());
    metrics_trainer_live_ = true;
  }
  LOG_INFO << name_ << ": trainer pid " << process_->pid() << " on " << TrainerDeviceName(device_)
           << " (attempt id " << lease_.attempt_id() << ", log " << log_path_ << ")";
  ArmSilenceTimer();
}

void AttemptSupervisor::Release(const std::string& reason, const std::string& message) {
  if (phase_ != Phase::kIdle) return;
  phase_ = Phase::kReporting;
  outcome_failure_ = Failure{reason, message};
  outcome_decided_ = true;
  SendOutcome();
}

// ---------------------------------------------------------------- trainer events

void AttemptSupervisor::ArmSilenceTimer() {
  if (phase_ != Phase::kRunning) return;
  silence_timer_.expires_after(options_.trainer_silence_timeout);
  silence_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->phase_ != Phase::kRunning) return;
    self->Stop("timeout",
               "no output on stdout for " + FormatDuration(self->options_.trainer_silence_timeout));
  });
}

void AttemptSupervisor::OnLine(std::string line) {
  ++line_no_;
  if (phase_ == Phase::kRunning) ArmSilenceTimer();
  // Once stopped for cause, the rest of stdout is drained and ignored; a
  // draining trainer may still checkpoint or even finish.
  if (stop_ && stop_->reason != "drained") return;
  if (phase_ != Phase::kRunning && phase_ != Phase::kStopping) return;
  if (result_json_ || error_) {
    ProtocolError(
        "a line after the final '" + std::string(result_json_ ? "result" : "error") + "' event",
        line);
    return;
  }
  // Nothing a trainer prints may take the worker down: ParseTrainerEvent
  // does not throw, and should anything on the way to the attempt throw
  // anyway (a type error, an allocation), it is this attempt's protocol error.
  try {
    auto event = ParseTrainerEvent(line);
    if (!event.ok()) {
      ProtocolError(std::string(event.status().message()), line);
      return;
    }
    HandleEvent(line, *event);
  } catch (const std::exception& e) {
    ProtocolError(std::string("unhandled line: ") + e.what(), line);
  }
}

void AttemptSupervisor::HandleEvent(const std::string& line, const TrainerEvent& event) {
  if (event.name == "started") {
    if (started_seen_) return ProtocolError("a second 'started' event", line);
    started_seen_ = true;
    started_json_ = line;
    const auto& s = std::get<StartedEvent>(event.body);
    LOG_INFO << name_ << ": " << s.trainer << (s.simulated ? " (SIMULATED)" : "") << " started, "
             << s.params_total << " params, " << s.total_steps << " steps"
             << (s.resumed_from_step > 0
                     ? ", resumed from step " + std::to_string(s.resumed_from_step)
                     : std::string());
    ScheduleFlush(/*now=*/true);
    return;
  }
  if (!started_seen_ && event.name != "error") {
    return ProtocolError("'" + event.name + "' before 'started'", line);
  }
  if (event.name == "progress") {
    const auto& p = std::get<ProgressEvent>(event.body);
    if (metrics_ != nullptr && !exit_) {
      metrics_->SetAttemptProgress({lease_.sweep_id(), lease_.run_id(), device_.index()},
                                   p.tokens_per_second, p.flops_per_second, p.mfu);
    }
    QueueProgress(p);
    ScheduleFlush(/*now=*/false);
  } else if (event.name == "checkpoint") {
    const auto& c = std::get<CheckpointEvent>(event.body);
    LOG_DEBUG << name_ << ": checkpoint at step " << c.step;
    ScheduleFlush(/*now=*/true);
  } else if (event.name == "result") {
    result_json_ = line;
    const auto& r = std::get<ResultEvent>(event.body);
    LOG_INFO << name_ << ": result, final eval loss " << r.final_eval_loss << " after " << r.tokens
             << " tokens";
  } else if (event.name == "error") {
    error_ = std::get<ErrorEvent>(event.body);
    LOG_WARN << name_ << ": trainer error " << error_->reason << ": " << error_->message;
  }
}

void AttemptSupervisor::ProtocolError(const std::string& what, const std::string& line) {
  std::string message = "stdout line " + std::to_string(line_no_) + ": " + what;
  if (!line.empty()) message += ": '" + Snippet(line, kSnippetBytes) + "'";
  LOG_WARN << name_ << ": protocol error, stopping the trainer: " << message;
  Stop("protocol_error", message);
}

void AttemptSupervisor::Stop(const std::string& reason, const std::string& message) {
  if (phase_ != Phase::kRunning) return;
  phase_ = Phase::kStopping;
  stop_ = Failure{reason, message};
  silence_timer_.cancel();
  if (exit_) return;  // already gone; waiting for the end of stdout
  LOG_INFO << name_ << ": stopping the trainer (" << reason << "): SIGTERM, SIGKILL after "
           << FormatDuration(options_.kill_grace);
  process_->Terminate();
  kill_timer_.expires_after(options_.kill_grace);
  kill_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->exit_ || !self->process_) return;
    LOG_WARN << self->name_ << ": trainer still running after "
             << FormatDuration(self->options_.kill_grace) << "; SIGKILL";
    self->process_->Kill();
  });
}

void AttemptSupervisor::OnStdoutClosed(const absl::Status& status) {
  stdout_closed_ = true;
  stdout_timer_.cancel();
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    ++line_no_;  // the overlong line, never delivered
    ProtocolError(std::string(status.message()), "");
  } else if (!status.ok() && status.code() != absl::StatusCode::kCancelled) {
    Stop("internal", "reading the trainer's stdout: " + std::string(status.message()));
  }
  MaybeFinishTrainer();
}

void AttemptSupervisor::OnExit(TrainerExit exit) {
  exit_ = exit;
  MetricsTrainerGone();
  silence_timer_.cancel();
  kill_timer_.cancel();
  LOG_DEBUG << name_ << ": trainer " << exit.Describe();
  if (!stdout_closed_) {
    stdout_timer_.expires_after(kStdoutAfterExit);
    stdout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stdout_closed_ || !self->process_) return;
      LOG_WARN << self->name_ << ": stdout still open after the trainer exited; closing it";
      self->process_->CloseStdout();
    });
  }
  MaybeFinishTrainer();
}

void AttemptSupervisor::MaybeFinishTrainer() {
  if (!exit_ || !stdout_closed_) return;
  if (phase_ != Phase::kRunning && phase_ != Phase::kStopping) return;
  phase_ = Phase::kReporting;
  if (revoked_) {
    LOG_INFO << name_ << ": trainer stopped after its lease was revoked; nothing to report";
    Finish();
    return;
  }
  const TrainerExit& exit = *exit_;
  if (stop_ && stop_->reason != "drained") {
    outcome_failure_ = *stop_;  // a protocol error or silence, even after a result
  } else if (result_json_ && exit.ok()) {
    outcome_failure_.reset();  // including a draining trainer that finished in time
  } else if (stop_) {
    outcome_failure_ = *stop_;
  } else if (error_) {
    outcome_failure_ = exit.ok() ? Failure{"protocol_error", "exited 0 after an 'error' event"}
                                 : Failure{error_->reason, error_->message};
  } else if (exit.ok()) {
    outcome_failure_ = Failure{"protocol_error", "exited 0 without a 'result' event"};
  } else {
    std::string message = exit.Describe();
    if (result_json_) message += " after its 'result' event";
    if (const std::string tail = StderrTail(); !tail.empty()) message += "; stderr: " + tail;
    outcome_failure_ = Failure{"crashed", message};
  }
  outcome_decided_ = true;
  if (outcome_failure_) {
    LOG_WARN << name_ << ": failed (" << outcome_failure_->reason
             << "): " << outcome_failure_->message;
  } else {
    LOG_INFO << name_ << ": succeeded";
  }
  // The last points go now, not at the next progress tick (unless a retry
  // after a failure is what is pending).
  if (flush_scheduled_ && progress_backoff_.fresh()) {
    flush_timer_.cancel();
    flush_scheduled_ = false;
  }
  SendOutcome();
}

// ---------------------------------------------------------------- progress

void AttemptSupervisor::QueueProgress(const ProgressEvent& p) {
  if (points_.size() >= options_.max_buffered_points) {
    // Thin the older half of what is not in flight: every other point goes,
    // so a long outage keeps the curve's shape at a coarser resolution.
    const int64_t dropped_before = points_dropped_;
    const size_t begin = points_in_flight_;
    const size_t end = begin + (points_.size() - begin) / 2;
    std::deque<v1::CurvePoint> kept(points_.begin(), points_.begin() + static_cast<long>(begin));
    for (size_t i = begin; i < points_.size(); ++i) {
      if (i < end && (i - begin) % 2 == 1) {
        ++points_dropped_;
        continue;
      }
      kept.push_back(points_[i]);
    }
    if (!thinning_logged_) {
      thinning_logged_ = true;
      LOG_WARN << name_ << ": progress buffer full (" << points_.size()
               << " points unsent); thinning older points";
    }
    points_.swap(kept);
    if (metrics_ != nullptr) metrics_->CountPointsDropped(points_dropped_ - dropped_before);
  }
  points_.push_back(ToCurvePoint(p));
  MetricsSyncBuffered();
}

void AttemptSupervisor::ScheduleFlush(bool now) {
  if (progress_in_flight_ || phase_ == Phase::kDone) return;  // its completion reschedules
  const auto due = now ? steady_clock::now() : last_flush_ + options_.progress_interval;
  if (flush_scheduled_) {
    if (!now) return;
    flush_timer_.cancel();
  }
  flush_scheduled_ = true;
  flush_timer_.expires_at(due);
  flush_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    self->flush_scheduled_ = false;
    self->FlushProgress();
  });
}

void AttemptSupervisor::FlushProgress() {
  if (progress_in_flight_ || phase_ == Phase::kDone) return;
  if (revoked_) {
    if (phase_ == Phase::kReporting) Finish();
    return;
  }
  v1::ReportProgressRequest request;
  request.set_attempt_id(lease_.attempt_id());
  request.set_lease_token(lease_.lease_token());
  sent_started_in_flight_ = !started_json_.empty();
  if (sent_started_in_flight_) request.set_started_json(started_json_);
  points_in_flight_ = std::min(points_.size(), kMaxPointsPerReport);
  for (size_t i = 0; i < points_in_flight_; ++i) *request.add_points() = points_[i];
  if (!sent_started_in_flight_ && points_in_flight_ == 0) {
    if (phase_ == Phase::kReporting) SendOutcome();
    return;
  }
  progress_in_flight_ = true;
  last_flush_ = steady_clock::now();
  agent_.ReportProgress(request, [self = shared_from_this()](
                                     const grpc::Status& status,
                                     const v1::ReportProgressResponse& response) {
    self->progress_in_flight_ = false;
    if (self->metrics_ != nullptr) self->metrics_->CountRpcError("ReportProgress", status);
    const size_t sent = self->points_in_flight_;
    self->points_in_flight_ = 0;
    const bool sent_started = self->sent_started_in_flight_;
    self->sent_started_in_flight_ = false;
    if (self->phase_ == Phase::kDone) return;
    if (status.ok() || (!IsRetryable(status) && !LeaseGone(status))) {
      if (!status.ok()) {
        LOG_ERROR << self->name_ << ": coordinator refused progress (" << DescribeStatus(status)
                  << "); dropping " << sent << " points";
      }
      self->points_.erase(self->points_.begin(), self->points_.begin() + static_cast<long>(sent));
      self->MetricsSyncBuffered();
      if (sent_started) self->started_json_.clear();
      self->progress_backoff_.Reset();
      if (response.revoked()) {
        self->Revoke("ReportProgress says the lease was revoked");
        return;
      }
      if (self->phase_ == Phase::kReporting) {
        self->SendOutcome();
      } else if (!self->points_.empty()) {
        self->ScheduleFlush(/*now=*/false);
      }
      return;
    }
    if (LeaseGone(status)) {
      self->Revoke("ReportProgress: " + DescribeStatus(status));
      return;
    }
    // Retryable: the points stay queued.
    if (self->progress_backoff_.fresh()) {
      LOG_WARN << self->name_ << ": cannot report progress (" << DescribeStatus(status)
               << "); buffering and retrying";
    }
    if (self->phase_ == Phase::kReporting && (self->abandoned_ || self->revoked_)) {
      self->Finish();
      return;
    }
    self->flush_scheduled_ = true;
    self->flush_timer_.expires_after(self->progress_backoff_.Next());
    self->flush_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec) return;
      self->flush_scheduled_ = false;
      self->FlushProgress();
    });
  });
}

// ---------------------------------------------------------------- the final report

void AttemptSupervisor::SendOutcome() {
  if (phase_ != Phase::kReporting || !outcome_decided_ || outcome_in_flight_) return;
  if (revoked_) {
    Finish();
    return;
  }
  // The curve first, so the coordinator has it when the run ends.
  if (!started_json_.empty() || !points_.empty()) {
    if (!progress_in_flight_ && !flush_scheduled_) FlushProgress();
    return;  // FlushProgress's completion calls back here
  }
  outcome_in_flight_ = true;
  if (outcome_failure_) {
    v1::FailAttemptRequest request;
    request.set_attempt_id(lease_.attempt_id());
    request.set_lease_token(lease_.lease_token());
    request.set_reason(outcome_failure_->reason);
    request.set_message(outcome_failure_->message);
    agent_.FailAttempt(
        request, [self = shared_from_this()](const grpc::Status& status,
                                             const v1::FailAttemptResponse& response) {
          self->outcome_in_flight_ = false;
          if (self->metrics_ != nullptr) self->metrics_->CountRpcError("FailAttempt", status);
          if (self->phase_ == Phase::kDone) return;
          if (!status.ok()) return self->OnReportFailed(status, "FailAttempt");
          LOG_INFO << self->name_ << ": reported " << self->outcome_failure_->reason
                   << (response.will_retry() ? " (the coordinator will retry the run)" : "")
                   << (response.already_recorded() ? " (already recorded)" : "");
          self->Finish();
        });
  } else {
    v1::CompleteAttemptRequest request;
    request.set_attempt_id(lease_.attempt_id());
    request.set_lease_token(lease_.lease_token());
    request.set_result_json(*result_json_);
    agent_.CompleteAttempt(
        request, [self = shared_from_this()](const grpc::Status& status,
                                             const v1::CompleteAttemptResponse& response) {
          self->outcome_in_flight_ = false;
          if (self->metrics_ != nullptr) self->metrics_->CountRpcError("CompleteAttempt", status);
          if (self->phase_ == Phase::kDone) return;
          if (!status.ok()) return self->OnCompleteRefused(status);
          LOG_INFO << self->name_ << ": result recorded"
                   << (response.already_recorded() ? " (already recorded)" : "");
          if (!self->options_.keep_run_files) self->CleanRunDir();
          self->Finish();
        });
  }
}

// A result the coordinator would not store must not be lost silently (the
// run would sit 'running' until its lease expired): a result it judged bad
// (INVALID_ARGUMENT) or one it kept failing to store (INTERNAL, UNKNOWN,
// ... after kCompleteTries tries) fails the attempt with the reason, so the
// coordinator retries the run at once and says why.
void AttemptSupervisor::OnCompleteRefused(const grpc::Status& status) {
  if (IsRetryable(status) || LeaseGone(status) ||
      status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
      status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return OnReportFailed(status, "CompleteAttempt");
  }
  const bool bad_result = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
  if (!bad_result && ++complete_refusals_ < kCompleteTries && !abandoned_ && !revoked_) {
    const milliseconds delay = report_backoff_.Next();
    LOG_WARN << name_ << ": CompleteAttempt failed (" << DescribeStatus(status) << "); retrying in "
             << FormatDuration(delay);
    report_timer_.expires_after(delay);
    report_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->SendOutcome();
    });
    return;
  }
  LOG_ERROR << name_ << ": coordinator did not store the result (" << DescribeStatus(status)
            << "); failing the attempt instead";
  outcome_failure_ = Failure{bad_result ? "bad_result" : "internal",
                             "the coordinator did not store the result: " + DescribeStatus(status)};
  SendOutcome();
}

void AttemptSupervisor::OnReportFailed(const grpc::Status& status, const char* what) {
  if (!IsRetryable(status)) {
    LOG_ERROR << name_ << ": " << what << " refused (" << DescribeStatus(status)
              << "); giving up on this report";
    Finish();
    return;
  }
  if (abandoned_ || revoked_) {
    LOG_WARN << name_ << ": " << what << " failed (" << DescribeStatus(status)
             << "); not retrying (" << (revoked_ ? "lease revoked" : "worker exiting") << ")";
    Finish();
    return;
  }
  const milliseconds delay = report_backoff_.Next();
  LOG_WARN << name_ << ": " << what << " failed (" << DescribeStatus(status) << "); retrying in "
           << FormatDuration(delay);
  report_timer_.expires_after(delay);
  report_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->SendOutcome();
  });
}

// ---------------------------------------------------------------- from the daemon

void AttemptSupervisor::Revoke(const std::string& why) {
  if (phase_ == Phase::kDone || revoked_) return;
  revoked_ = true;
  LOG_WARN << name_ << ": lease revoked (" << why << ")";
  switch (phase_) {
    case Phase::kIdle:
      Finish();
      break;
    case Phase::kRunning:
      Stop("revoked", why);
      break;
    case Phase::kStopping:
      break;  // MaybeFinishTrainer sees revoked_
    case Phase::kReporting:
      if (!outcome_in_flight_ && !progress_in_flight_) Finish();
      break;  // else the reply finishes
    case Phase::kDone:
      break;
  }
}

void AttemptSupervisor::Drain() {
  if (phase_ == Phase::kRunning) Stop("drained", "the worker is draining");
}

void AttemptSupervisor::AbandonReports() {
  abandoned_ = true;
  if (phase_ == Phase::kReporting && !outcome_in_flight_ && !progress_in_flight_) {
    LOG_WARN << name_ << ": worker exiting before its report was accepted";
    Finish();
  }
}

void AttemptSupervisor::Finish() {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  MetricsCountOutcome();
  silence_timer_.cancel();
  kill_timer_.cancel();
  stdout_timer_.cancel();
  flush_timer_.cancel();
  report_timer_.cancel();
  if (process_ && exit_) process_.reset();
  if (on_done_) boost::asio::post(io_, std::move(on_done_));
}

// ---------------------------------------------------------------- metrics

void AttemptSupervisor::MetricsTrainerGone() {
  if (metrics_ == nullptr || !metrics_trainer_live_) return;
  metrics_trainer_live_ = false;
  metrics_->TrainerExited(device_.index());
  metrics_->RemoveAttempt({lease_.sweep_id(), lease_.run_id(), device_.index()});
}

void AttemptSupervisor::MetricsSyncBuffered() {
  if (metrics_ == nullptr) return;
  const auto now = static_cast<int64_t>(points_.size());
  if (now != metrics_buffered_) metrics_->AddBufferedPoints(now - metrics_buffered_);
  metrics_buffered_ = now;
}

void AttemptSupervisor::MetricsCountOutcome() {
  if (metrics_ == nullptr) return;
  // Points never sent (revoked lease, worker exiting) leave the buffer too.
  if (metrics_buffered_ != 0) metrics_->AddBufferedPoints(-metrics_buffered_);
  metrics_buffered_ = 0;
  if (revoked_) {
    metrics_->CountAttemptEnded("revoked", "");
  } else if (!outcome_decided_) {
    metrics_->CountAttemptEnded("failed", "internal");
  } else if (!outcome_failure_) {
    metrics_->CountAttemptEnded("succeeded", "");
  } else if (outcome_failure_->reason == "drained") {
    metrics_->CountAttemptEnded("released", "drained");
  } else {
    metrics_->CountAttemptEnded("failed", outcome_failure_->reason);
  }
}

// ---------------------------------------------------------------- files

std::string AttemptSupervisor::StderrTail() const {
  std::ifstream in(log_path_, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - 4096);
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  std::istringstream lines(text);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return Snippet(last, 300);
}

void AttemptSupervisor::CleanRunDir() const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir_, ec)) {
    const std::string file = entry.path().filename().string();
    if (file == "config.json" || entry.path().extension() == ".log") continue;
    fs::remove_all(entry.path(), ec);
  }
}

}  // namespace ladder::worker
