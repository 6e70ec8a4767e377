// How the worker starts trainer processes, behind an interface so tests can
// substitute children that crash, hang or print garbage (operating-system
// effects sit behind an interface, as leveldb's Env). The production
// implementation is ProcessTrainerLauncher (Boost.Process).
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ladder::worker {

// What to run. All paths absolute.
struct LaunchSpec {
  std::string program;
  std::vector<std::string> args;  // argv[1..]
  // Added to (or replacing in) the worker's own environment.
  std::map<std::string, std::string> env;
  std::string working_dir;  // the child's cwd
  std::string stderr_path;  // the child's stderr goes to this file (truncated)
};

// How a trainer ended.
struct TrainerExit {
  bool signaled = false;  // killed by a signal (then `code` is the signal number)
  int code = 0;           // exit status, or the signal number
  bool ok() const { return !signaled && code == 0; }
  // "exit code 3", "killed by signal 9 (SIGKILL)".
  std::string Describe() const;
};

// Called on the launcher's executor (the worker's io_context thread), never
// after the TrainerProcess is destroyed. `on_stdout_closed` and `on_exit`
// each run exactly once, in either order; no `on_line` follows
// `on_stdout_closed`.
struct TrainerCallbacks {
  // One stdout line without its end of line ("\n" or "\r\n"). A last line
  // without a newline is delivered before `on_stdout_closed`.
  std::function<void(std::string line)> on_line;
  // End of stdout: OK at end of file; RESOURCE_EXHAUSTED when a line exceeds
  // the launcher's limit; another code when reading failed.
  std::function<void(absl::Status status)> on_stdout_closed;
  std::function<void(TrainerExit exit)> on_exit;
};

// A running trainer. Not thread-safe: use it on the thread that runs the
// launcher's executor. Destroying it while the trainer runs SIGKILLs the
// trainer's process group (and no callback runs afterwards).
class TrainerProcess {
 public:
  virtual ~TrainerProcess() = default;
  virtual int pid() const = 0;
  // SIGTERM to the trainer's process group (the trainer and its children).
  virtual void Terminate() = 0;
  // SIGKILL to the trainer's process group.
  virtual void Kill() = 0;
  // Stops reading stdout and reports it closed (CANCELLED) if it was not
  // yet: for a trainer that exited while something it started still holds
  // its stdout open.
  virtual void CloseStdout() = 0;
};

class TrainerLauncher {
 public:
  virtual ~TrainerLauncher() = default;
  // Starts `spec`. Errors: NOT_FOUND (no such program), INTERNAL (fork/exec
  // or pipe failure), each with the OS's reason. On error no callback runs.
  virtual absl::StatusOr<std::unique_ptr<TrainerProcess>> Launch(const LaunchSpec& spec,
                                                                 TrainerCallbacks callbacks) = 0;
};

}  // namespace ladder::worker
