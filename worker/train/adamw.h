// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019,
// "Decoupled Weight Decay Regularization", algorithm 2), making exactly the
// update torch.optim.AdamW makes (the golden test checks it in float64):
//   p <- p * (1 - lr * wd)
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// On CUDA with PyTorch >= 2.1 the same update runs as one fused kernel per
// group (at::_fused_adamw_); elsewhere as per-tensor ops.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace ladder::train {

class AdamW {
 public:
  struct Group {
    std::vector<torch::Tensor> params;
    double weight_decay = 0;
  };
  AdamW(std::vector<Group> groups, double beta1, double beta2, double eps);

  // One update at learning rate `lr` from the parameters' .grad().
  void Step(double lr);
  // Drops every gradient (set to none).
  void ZeroGrad();
  int64_t steps() const { return steps_; }

  // Moments and the step count, keyed by position ("m.<group>.<i>"): the
  // parameters must be built in the same order when loading.
  void Save(torch::serialize::OutputArchive& archive) const;
  void Load(torch::serialize::InputArchive& archive);

 private:
  struct State {
    torch::Tensor m, v;
  };
  bool UseFused() const;

  std::vector<Group> groups_;
  std::vector<std::vector<State>> state_;  // [group][param]
  double beta1_, beta2_, eps_;
  int64_t steps_ = 0;
  std::vector<std::vector<torch::Tensor>> fused_steps_;  // [group][param], CUDA fused path only
};

}  // namespace ladder::train
