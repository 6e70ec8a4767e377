#include "worker/process_trainer_launcher.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/start_dir.hpp>
#include <chrono>
#include <optional>

#include "common/logging.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace ladder::worker {

std::string TrainerExit::Describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  std::string out = "killed by signal " + std::to_string(code);
  if (const char* abbrev = sigabbrev_np(code)) out += std::string(" (SIG") + abbrev + ")";
  return out;
}

namespace {

namespace bp = boost::process;
namespace asio = boost::asio;

// Runs in the forked child before exec: async-signal-safe calls only (the
// worker has other threads, so the child must not allocate or lock).
void PrepareChild(pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // the worker died before prctl
  // Mark every inherited descriptor above stderr close-on-exec. Not close():
  // Boost.Process reports exec failures through one of them.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

// Shared between the TrainerProcess and the handlers it has outstanding, so
// a handler that runs after the process object is gone finds `detached`.
struct ChildState {
  ChildState(asio::io_context& io, size_t max_line) : pipe(io), buffer(max_line) {}
  bp::async_pipe pipe;
  asio::streambuf buffer;
  std::optional<bp::child> child;
  TrainerCallbacks callbacks;
  pid_t pid = 0;
  bool stdout_closed = false;
  bool exited = false;
  bool detached = false;  // the TrainerProcess was destroyed: run no callback
};

void CloseStdout(const std::shared_ptr<ChildState>& s, absl::Status status) {
  if (s->stdout_closed) return;
  s->stdout_closed = true;
  boost::system::error_code ignored;
  s->pipe.close(ignored);
  if (!s->detached && s->callbacks.on_stdout_closed)
    s->callbacks.on_stdout_closed(std::move(status));
}

void ReadNextLine(const std::shared_ptr<ChildState>& s) {
  asio::async_read_until(
      s->pipe, s->buffer, '\n', [s](const boost::system::error_code& ec, size_t n) {
        if (s->detached || s->stdout_closed) return;
        if (!ec) {
          std::string line(
              asio::buffers_begin(s->buffer.data()),
              asio::buffers_begin(s->buffer.data()) + static_cast<std::ptrdiff_t>(n) - 1);
          s->buffer.consume(n);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          s->callbacks.on_line(std::move(line));
          if (!s->detached && !s->stdout_closed) ReadNextLine(s);
          return;
        }
        if (ec == asio::error::eof) {
          if (s->buffer.size() > 0) {  // a last line without a newline
            std::string line(asio::buffers_begin(s->buffer.data()),
                             asio::buffers_end(s->buffer.data()));
            s->buffer.consume(s->buffer.size());
            if (!line.empty() && line.back() == '\r') line.pop_back();
            s->callbacks.on_line(std::move(line));
            if (s->detached) return;
          }
          CloseStdout(s, absl::OkStatus());
        } else if (ec == asio::error::not_found) {
          CloseStdout(
              s, absl::ResourceExhaustedError("a stdout line is longer than " +
                                              std::to_string(s->buffer.max_size()) + " bytes"));
        } else if (ec == asio::error::operation_aborted) {
          CloseStdout(s, absl::CancelledError("stopped reading stdout"));
        } else {
          CloseStdout(s, absl::InternalError("reading stdout: " + ec.message()));
        }
      });
}

void OnChildExit(const std::weak_ptr<ChildState>& weak, const std::error_code& ec) {
  auto st = weak.lock();
  if (!st || st->exited || !st->child || st->pid <= 0) return;
  st->exited = true;
  TrainerExit exit;
  if (ec) {
    LOG_WARN << "trainer " << st->pid << ": cannot read its exit status: " << ec.message();
    exit.signaled = true;
    exit.code = SIGKILL;
  } else {
    const int raw = st->child->native_exit_code();
    exit.signaled = WIFSIGNALED(raw);
    exit.code = exit.signaled ? WTERMSIG(raw) : WEXITSTATUS(raw);
  }
  // Whatever the trainer left running in its group goes with it.
  if (::kill(-st->pid, SIGKILL) != 0 && errno != ESRCH) {
    LOG_DEBUG << "kill group " << st->pid << ": " << strerror(errno);
  }
  if (!st->detached && st->callbacks.on_exit) st->callbacks.on_exit(exit);
}

class BoostTrainerProcess : public TrainerProcess {
 public:
  explicit BoostTrainerProcess(std::shared_ptr<ChildState> state) : s_(std::move(state)) {}

  ~BoostTrainerProcess() override {
    s_->detached = true;
    if (!s_->exited) SignalGroup(SIGKILL);
    boost::system::error_code ignored;
    s_->pipe.close(ignored);
    // bp::child's destructor would kill and wait(); the SIGCHLD service reaps
    // it instead, so let it go.
    if (s_->child) s_->child->detach();
  }

  int pid() const override { return s_->pid; }
  void Terminate() override { SignalGroup(SIGTERM); }
  void Kill() override { SignalGroup(SIGKILL); }
  void CloseStdout() override {
    ::ladder::worker::CloseStdout(s_, absl::CancelledError("stdout closed by the worker"));
  }

 private:
  void SignalGroup(int sig) {
    // The group outlives its leader while its children live; after the
    // leader is reaped and the group is empty the id cannot be reused for a
    // new group until then, so this never hits a stranger.
    if (s_->pid > 0 && ::kill(-s_->pid, sig) != 0 && errno != ESRCH) {
      LOG_WARN << "kill(-" << s_->pid << ", " << sig << "): " << strerror(errno);
    }
  }

  std::shared_ptr<ChildState> s_;
};

}  // namespace

ProcessTrainerLauncher::ProcessTrainerLauncher(asio::io_context& io, size_t max_line_bytes)
    : io_(io), max_line_bytes_(max_line_bytes) {}

absl::StatusOr<std::unique_ptr<TrainerProcess>> ProcessTrainerLauncher::Launch(
    const LaunchSpec& spec, TrainerCallbacks callbacks) {
  if (::access(spec.program.c_str(), X_OK) != 0) {
    return absl::NotFoundError("cannot execute '" + spec.program + "': " + strerror(errno));
  }
  auto s = std::make_shared<ChildState>(io_, max_line_bytes_);
  s->callbacks = std::move(callbacks);
  bp::environment env = boost::this_process::environment();
  for (const auto& [key, value] : spec.env) env[key] = value;
  const pid_t parent = ::getpid();
  std::weak_ptr<ChildState> weak = s;
  const auto spawn_start = std::chrono::steady_clock::now();
  try {
    s->child.emplace(
        bp::exe = spec.program, bp::args = spec.args, env, bp::start_dir = spec.working_dir,
        bp::std_in<bp::null, bp::std_out> s->pipe, bp::std_err > spec.stderr_path,
        bp::extend::on_exec_setup = [parent](auto&) { PrepareChild(parent); },
        // Boost.Process may run this inline, inside the constructor, when the
        // child is already gone (a trainer that fails at once): before `child`
        // and `pid` are set. So it only posts; OnChildExit runs later.
        bp::on_exit =
            [weak, &io = io_](int, const std::error_code& ec) {
              asio::post(io, [weak, ec] { OnChildExit(weak, ec); });
            },
        io_);
  } catch (const std::exception& e) {  // bp::process_error, or a failed pipe/file
    return absl::InternalError("cannot start '" + spec.program + "': " + e.what());
  }
  s->pid = s->child->id();
  LOG_DEBUG << "spawned " << spec.program << " as pid " << s->pid << " in "
            << std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - spawn_start)
                   .count()
            << "us";
  // No setpgid(pid, pid) here: the child did it before exec, and Boost.Process
  // returns only after the exec; the pid may even be reaped by now.
  ReadNextLine(s);
  return std::unique_ptr<TrainerProcess>(new BoostTrainerProcess(std::move(s)));
}

}  // namespace ladder::worker
