// A Chrome trace of a few training steps, for finding where a step's time
// goes (GPU kernels, gaps between them, CPU ops), through libtorch's Kineto
// profiler, the same one torch.profiler drives in Python:
//
//   LADDER_TRAIN_PROFILE=/tmp/trace.json [LADDER_TRAIN_PROFILE_STEPS=4:2] ladder-train ...
//
// records steps 4 and 5 (1-based first step : count; default 4:2, past the
// allocator's and cuBLAS's warm-up) and writes the trace when the last one
// ends; bench/train/profile_summary.py condenses it (GPU busy fraction,
// kernel time by kind). A developer's tool: off unless the variable is set,
// and a trace that cannot be made is logged, never fatal.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace ladder::train {

class StepProfiler {
 public:
  // Reads LADDER_TRAIN_PROFILE and LADDER_TRAIN_PROFILE_STEPS.
  StepProfiler(bool cuda);
  // step: 0-based index of the step about to run / just finished.
  void BeforeStep(int64_t step);
  void AfterStep(int64_t step);

 private:
  std::string path_;
  bool cuda_ = false;
  bool active_ = false;
  int64_t first_ = 3;  // 0-based
  int64_t count_ = 2;
};

}  // namespace ladder::train
