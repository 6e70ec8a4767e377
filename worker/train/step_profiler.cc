#include "worker/train/step_profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>

#include "worker/train/events.h"

namespace ladder::train {
namespace {

namespace kineto = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

// First line of an exception's message (c10 appends a stack trace).
std::string FirstLine(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

std::set<ActivityType> Activities(bool cuda) {
  std::set<ActivityType> activities{ActivityType::CPU};
  if (cuda) activities.insert(ActivityType::CUDA);
  return activities;
}

}  // namespace

StepProfiler::StepProfiler(bool cuda) : cuda_(cuda) {
  const char* path = std::getenv("LADDER_TRAIN_PROFILE");
  if (path == nullptr || *path == '\0') return;
  path_ = path;
  if (const char* steps = std::getenv("LADDER_TRAIN_PROFILE_STEPS")) {
    long long first = 0, count = 0;
    if (std::sscanf(steps, "%lld:%lld", &first, &count) == 2 && first >= 1 && count >= 1) {
      first_ = first - 1;
      count_ = count;
    } else {
      Log("LADDER_TRAIN_PROFILE_STEPS must be FIRST:COUNT (1-based), got \"" + std::string(steps) +
          "\"; using 4:2");
    }
  }
  try {
    kineto::prepareProfiler(ProfilerConfig(ProfilerState::KINETO), Activities(cuda_));
  } catch (const std::exception& e) {
    Log(std::string("profiler unavailable: ") + FirstLine(e));
    path_.clear();
  }
}

void StepProfiler::BeforeStep(int64_t step) {
  if (path_.empty() || step != first_) return;
  try {
    if (cuda_) torch::cuda::synchronize();
    kineto::enableProfiler(ProfilerConfig(ProfilerState::KINETO), Activities(cuda_));
    active_ = true;
    Log("profiling steps " + std::to_string(first_ + 1) + ".." + std::to_string(first_ + count_));
  } catch (const std::exception& e) {
    Log(std::string("profiler failed to start: ") + FirstLine(e));
    path_.clear();
  }
}

void StepProfiler::AfterStep(int64_t step) {
  if (!active_ || step != first_ + count_ - 1) return;
  active_ = false;
  try {
    if (cuda_) torch::cuda::synchronize();
    kineto::disableProfiler()->save(path_);
    Log("profile written to " + path_);
  } catch (const std::exception& e) {
    Log(std::string("profiler failed to save: ") + FirstLine(e));
  }
  path_.clear();
}

}  // namespace ladder::train
