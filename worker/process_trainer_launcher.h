// TrainerLauncher over Boost.Process: fork/exec with stdout on an async pipe
// read line by line on an io_context, stderr to a file, and the exit status
// from Boost.Process's SIGCHLD service on the same io_context.
//
// Each child runs in its own process group (Terminate/Kill signal the group,
// so a wrapper script's children stop too, and a Ctrl-C at the worker's
// terminal reaches the worker only, which then drains); the child gets
// SIGTERM if the thread that launched it dies (PR_SET_PDEATHSIG), so a
// crashed worker leaves no trainer behind; no descriptor of the worker
// (sockets, other trainers' pipes) survives exec.
//
// Threading: Launch and every TrainerProcess method on the io_context's one
// thread; callbacks run there.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>

#include "worker/trainer_launcher.h"

namespace ladder::worker {

class ProcessTrainerLauncher : public TrainerLauncher {
 public:
  // `io` must outlive the launcher and every process it starts.
  explicit ProcessTrainerLauncher(boost::asio::io_context& io, size_t max_line_bytes = 1 << 20);

  absl::StatusOr<std::unique_ptr<TrainerProcess>> Launch(const LaunchSpec& spec,
                                                         TrainerCallbacks callbacks) override;

 private:
  boost::asio::io_context& io_;
  const size_t max_line_bytes_;
};

}  // namespace ladder::worker
