// The pieces of one optimizer step, shared by the training loop and the
// golden test's dump tool (so the golden test checks the code that trains).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "worker/train/model.h"
#include "worker/train/token_data.h"

namespace ladder::train {

struct Batch {
  torch::Tensor x;  // [n, T] int64 inputs
  torch::Tensor y;  // [n, T] int64 targets (inputs shifted by one)
};

// Gathers n windows of T+1 tokens from `span` starting at `starts[0..n)`.
Batch GatherBatch(const TokenSpan& span, const int64_t* starts, int64_t n, int context,
                  const torch::Device& device);

// Forward and backward over micro-batches that together make one batch. Each
// micro-batch's mean loss is weighted by its share of the batch's sequences,
// so the accumulated gradient is that of the whole batch's mean loss.
// Returns the batch's mean loss as a 0-dim tensor (no device sync).
torch::Tensor ForwardBackward(LanguageModel& model, const std::vector<Batch>& micro_batches,
                              bool bf16_autocast);

// Global L2 norm of all gradients, sqrt(sum_p ||g_p||^2), returned before
// clipping; if max_norm > 0 and the norm exceeds it, every gradient is
// scaled by max_norm / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_).
double ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace ladder::train
