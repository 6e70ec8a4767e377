#include "worker/train/adamw.h"

#include <torch/version.h>

#include <cmath>
#include <string>

#include "worker/train/model.h"  // LADDER_TORCH_AT_LEAST

namespace ladder::train {

AdamW::AdamW(std::vector<Group> groups, double beta1, double beta2, double eps)
    : groups_(std::move(groups)), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const Group& g : groups_) {
    std::vector<State> states;
    for (const auto& p : g.params) {
      states.push_back({torch::zeros_like(p, torch::MemoryFormat::Preserve),
                        torch::zeros_like(p, torch::MemoryFormat::Preserve)});
    }
    state_.push_back(std::move(states));
  }
  fused_steps_.resize(groups_.size());
}

bool AdamW::UseFused() const {
#if LADDER_TORCH_AT_LEAST(2, 1)
  // Every parameter of a ladder model gets a gradient each step, which the
  // fused path assumes (its step counters advance together).
  for (const Group& g : groups_) {
    for (const auto& p : g.params) {
      if (!p.is_cuda() || !p.grad().defined()) return false;
    }
  }
  return !groups_.empty();
#else
  return false;
#endif
}

void AdamW::Step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double bias_correction1 = 1.0 - std::pow(beta1_, static_cast<double>(steps_));
  const double bias_correction2 = 1.0 - std::pow(beta2_, static_cast<double>(steps_));
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const Group& group = groups_[gi];
#if LADDER_TORCH_AT_LEAST(2, 1)
    if (UseFused()) {
      std::vector<torch::Tensor> grads, ms, vs;
      for (size_t i = 0; i < group.params.size(); ++i) {
        grads.push_back(group.params[i].grad());
        ms.push_back(state_[gi][i].m);
        vs.push_back(state_[gi][i].v);
      }
      // The kernel reads each parameter's (already incremented) step count
      // from a float tensor on the device.
      auto& steps = fused_steps_[gi];
      if (steps.size() != group.params.size()) {
        steps.clear();
        for (const auto& p : group.params) {
          steps.push_back(
              torch::full({}, static_cast<double>(steps_),
                          torch::TensorOptions().dtype(torch::kFloat32).device(p.device())));
        }
      } else {
        at::_foreach_add_(steps, 1.0);
      }
      at::_fused_adamw_(group.params, grads, ms, vs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1_,
                        beta2_, group.weight_decay, eps_, /*amsgrad=*/false, /*maximize=*/false,
                        /*grad_scale=*/{}, /*found_inf=*/{});
      continue;
    }
#endif
    for (size_t i = 0; i < group.params.size(); ++i) {
      auto p = group.params[i];
      if (!p.grad().defined()) continue;
      const auto& grad = p.grad();
      auto& s = state_[gi][i];
      if (group.weight_decay != 0) p.mul_(1.0 - lr * group.weight_decay);
      s.m.mul_(beta1_).add_(grad, 1.0 - beta1_);
      s.v.mul_(beta2_).addcmul_(grad, grad, 1.0 - beta2_);
      auto denom = (s.v.sqrt() / std::sqrt(bias_correction2)).add_(eps_);
      p.addcdiv_(s.m, denom, -lr / bias_correction1);
    }
  }
}

void AdamW::ZeroGrad() {
  for (Group& g : groups_) {
    for (auto& p : g.params) {
      if (p.grad().defined()) p.mutable_grad().reset();
    }
  }
}

void AdamW::Save(torch::serialize::OutputArchive& archive) const {
  archive.write("steps", c10::IValue(steps_));
  for (size_t gi = 0; gi < state_.size(); ++gi) {
    for (size_t i = 0; i < state_[gi].size(); ++i) {
      const std::string key = std::to_string(gi) + "." + std::to_string(i);
      archive.write("m." + key, state_[gi][i].m);
      archive.write("v." + key, state_[gi][i].v);
    }
  }
}

void AdamW::Load(torch::serialize::InputArchive& archive) {
  c10::IValue steps;
  archive.read("steps", steps);
  steps_ = steps.toInt();
  for (auto& steps_of_group : fused_steps_) steps_of_group.clear();
  torch::NoGradGuard no_grad;
  for (size_t gi = 0; gi < state_.size(); ++gi) {
    for (size_t i = 0; i < state_[gi].size(); ++i) {
      const std::string key = std::to_string(gi) + "." + std::to_string(i);
      torch::Tensor m, v;
      archive.read("m." + key, m);
      archive.read("v." + key, v);
      TORCH_CHECK(m.sizes() == state_[gi][i].m.sizes(), "optimizer state m.", key,
                  " has the wrong shape");
      TORCH_CHECK(v.sizes() == state_[gi][i].v.sizes(), "optimizer state v.", key,
                  " has the wrong shape");
      state_[gi][i].m.copy_(m);
      state_[gi][i].v.copy_(v);
    }
  }
}

}  // namespace ladder::train
