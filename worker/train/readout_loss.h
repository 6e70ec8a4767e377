// The language model's readout and its training loss in one autograd node:
//
//   loss = mean_i CE(h_i W^T, t_i) = mean_i (logsumexp_j z_ij - z_i,t_i),
//   z = h W^T  ([N, V] logits, W the V x d readout / tied embedding).
//
// A plain `cross_entropy(linear(h, W), t)` keeps the [N, V] logits, and under
// bf16 autocast also their fp32 copy and fp32 log-probabilities, alive until
// the backward, which then writes and reads several more [N, V] fp32 tensors.
// At GPT-2's vocabulary (V = 50304) that is ~40 bytes per logit, about 130 GB
// of memory traffic per 64 x 1024-token micro-batch on a GPU: a sixth of the
// step. Here the rows are processed in chunks of at most `chunk_rows`, and the
// gradients are finished in the forward pass, chunk by chunk:
//
//   p = softmax(z_chunk)            (the compute dtype; fp32 accumulation)
//   loss += sum -log p[t]
//   g = p - onehot(t)               (d loss_i / d z_i, before the 1/N)
//   dL/dh_chunk = g W / N,  dL/dW += g^T h_chunk / N  (fp32 accumulator)
//
// so no [N, V] tensor outlives its chunk and each logit is written once and
// read a few times in the compute dtype. The backward only scales the saved
// dL/dh and dL/dW by the incoming gradient. The same technique is known as a
// fused linear cross-entropy (Liger-Kernel, Hsu et al. 2024); this one is
// made of ATen operators only, so it runs wherever libtorch does.
//
// Compute dtype: bf16 on CUDA under autocast (the matmuls of autocast; the
// softmax accumulates in fp32 and its output is rounded to bf16, so -log p[t]
// carries a relative rounding of at most 2^-9 in p, under 0.002 nats per
// token, and the mean over a batch much less), otherwise h's dtype (fp32 on
// CPU: the same values as cross_entropy to float rounding; the golden test
// holds it to PyTorch's).
#pragma once

#include <torch/torch.h>

namespace ladder::train {

// h: [N, d] (any float dtype, requires grad or not), weight: [V, d],
// targets: [N] int64 in [0, V). Returns the mean cross-entropy, a 0-dim fp32
// (fp64 if h is fp64) tensor whose backward gives h and weight their gradients. compute_dtype:
// the dtype of the matmuls and the softmax (see above).
torch::Tensor ReadoutCrossEntropy(const torch::Tensor& h, const torch::Tensor& weight,
                                  const torch::Tensor& targets, torch::ScalarType compute_dtype,
                                  int64_t chunk_rows);

}  // namespace ladder::train
