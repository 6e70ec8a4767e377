#include "worker/train/readout_loss.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>
#include <limits>

namespace ladder::train {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ReadoutCrossEntropyFunction : public torch::autograd::Function<ReadoutCrossEntropyFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& h,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t compute_dtype, int64_t chunk_rows, bool want_grads) {
    // The casts below are explicit; autocast would only add its own.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const auto dtype = static_cast<torch::ScalarType>(compute_dtype);
    const int64_t n = h.size(0);
    // The loss's dtype: fp32, or fp64 for an fp64 model (gradient checks).
    const auto loss_dtype = at::promote_types(h.scalar_type(), torch::kFloat32);
    const auto hc = h.to(dtype);
    const auto wc = weight.to(dtype);
    auto loss_sum = torch::zeros({}, h.options().dtype(torch::kFloat64));
    torch::Tensor grad_h, grad_w;
    if (want_grads) {
      grad_h = torch::empty_like(hc);
      // dL/dW accumulates over chunks in fp32 at least.
      grad_w = torch::zeros(weight.sizes(), weight.options().dtype(at::promote_types(
                                                weight.scalar_type(), torch::kFloat32)));
    }
    // p[t] - 1 at each row's target, as one [rows, 1] column per chunk.
    torch::Tensor minus_one;
    for (int64_t r0 = 0; r0 < n; r0 += chunk_rows) {
      const int64_t r1 = std::min(n, r0 + chunk_rows);
      const auto h_rows = hc.slice(0, r0, r1);
      const auto t_rows = targets.slice(0, r0, r1).unsqueeze(1);
      auto p = at::_softmax(torch::mm(h_rows, wc.t()), /*dim=*/1, /*half_to_float=*/false);
      // -log p[t]; the smallest normal float keeps an underflowed
      // probability finite (the loss is then >= 87 nats, caught as
      // divergence by the trainer, not as NaN).
      loss_sum += -p.gather(1, t_rows)
                       .to(loss_dtype)
                       .clamp_min(std::numeric_limits<float>::min())
                       .log()
                       .sum(torch::kFloat64);
      if (!want_grads) continue;
      if (!minus_one.defined() || minus_one.size(0) != r1 - r0) {
        minus_one = torch::full({r1 - r0, 1}, -1.0, p.options());
      }
      p.scatter_add_(1, t_rows, minus_one);  // p <- d CE_i / d z_i
      auto grad_h_rows = grad_h.slice(0, r0, r1);
      at::mm_out(grad_h_rows, p, wc);
      if (r0 == 0 && r1 == n) {
        grad_w = torch::mm(p.t(), h_rows).to(grad_w.scalar_type());
      } else {
        grad_w.add_(torch::mm(p.t(), h_rows));
      }
    }
    const double inv_n = 1.0 / static_cast<double>(std::max<int64_t>(n, 1));
    if (want_grads) {
      grad_h = grad_h.mul_(inv_n).to(h.scalar_type());
      grad_w = grad_w.mul_(inv_n).to(weight.scalar_type());
      ctx->saved_data["grad_h"] = grad_h;
      ctx->saved_data["grad_w"] = grad_w;
    }
    return (loss_sum * inv_n).to(loss_dtype);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto& g = grad_outputs[0];
    auto scaled = [&](const char* key) {
      auto it = ctx->saved_data.find(key);
      if (it == ctx->saved_data.end()) return torch::Tensor();
      const auto saved = it->second.toTensor();
      return saved * g.to(saved.scalar_type());
    };
    return {scaled("grad_h"), scaled("grad_w"), torch::Tensor(),
            torch::Tensor(),  torch::Tensor(),  torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ReadoutCrossEntropy(const torch::Tensor& h, const torch::Tensor& weight,
                                  const torch::Tensor& targets, torch::ScalarType compute_dtype,
                                  int64_t chunk_rows) {
  TORCH_CHECK(h.dim() == 2 && weight.dim() == 2 && h.size(1) == weight.size(1),
              "ReadoutCrossEntropy: h [N, d] and weight [V, d] expected");
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == h.size(0),
              "ReadoutCrossEntropy: targets [N] expected");
  TORCH_CHECK(chunk_rows > 0, "ReadoutCrossEntropy: chunk_rows must be positive");
  // Gradients are worked out in the forward pass only when a backward can
  // follow (an eval under NoGradGuard just sums the loss).
  const bool want_grads =
      torch::GradMode::is_enabled() && (h.requires_grad() || weight.requires_grad());
  return ReadoutCrossEntropyFunction::apply(h, weight, targets, static_cast<int64_t>(compute_dtype),
                                            chunk_rows, want_grads);
}

}  // namespace ladder::train
