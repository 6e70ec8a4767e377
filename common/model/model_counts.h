// Parameter, FLOP and memory counts for a ModelShape. The one implementation
// used by the coordinator's planner, ladder-train (which checks them against
// its real modules) and the fits.
#pragma once

#include <cstdint>

#include "common/model/model_shape.h"

namespace ladder::model {

struct ParamCount {
  int64_t total = 0;
  // Kaplan et al. 2020 sec. 2.1: N excludes the vocabulary and position
  // embeddings (and an untied readout, which is a second vocabulary matrix).
  int64_t non_embedding = 0;
  int64_t embedding = 0;  // total - non_embedding
};

// Exact counts of the modules ladder-train builds (biases and LayerNorm gains
// included). Transformer, per layer: LN 2d, QKV 3d^2+3d, output d^2+d, LN 2d,
// MLP gelu 2df+f+d or swiglu 3df; plus learned positions T*d, final LN 2d.
// LSTM, per layer: 4d(d_in+d) + 8d (PyTorch's b_ih and b_hh), d_in = d; plus
// final LN 2d. Both: token embedding V*d; untied readout adds V*d.
ParamCount CountParams(const ModelShape& shape);

// Forward FLOPs per token by term, following Hoffmann et al. 2022 (Chinchilla)
// appendix F, where a multiply-add is 2 FLOPs:
//   embedding      2dV      (Chinchilla counts the lookup; so do we)
//   per layer      QKV 6d^2, logits 2Td, softmax 3hT, weighted sum 2Td,
//                  output 2d^2, MLP 4df (gelu) or 6df (swiglu)
//   readout        2dV
// T is the full context: like Chinchilla we do NOT halve the attention terms
// for causal masking. Norms, biases, GELU and residual adds are not counted.
// LSTM per layer (SCIENCE.md): 4 gates, 2*4*d*(d_in+d) matmul FLOPs plus
// 12d element-wise (8d bias adds, 4d for c = f*c + i*g and h = o*tanh(c));
// gate activations are not counted. Backward is 2x forward (Kaplan sec. 2.1),
// so training FLOPs per token = 3 x forward.
struct FlopsPerToken {
  double embedding = 0;
  double mixer = 0;  // attention (QKV, logits, softmax, weighted sum, output) or LSTM cells
  double mlp = 0;    // transformer MLP; 0 for lstm
  double readout = 0;
  double forward = 0;   // sum of the above
  double training = 0;  // 3 * forward
};
FlopsPerToken ExactFlopsPerToken(const ModelShape& shape);

// Kaplan's rule of thumb: 6 * non-embedding params FLOPs per trained token.
double SixNFlopsPerToken(const ModelShape& shape);

// Rows of the readout's loss that the trainer processes at once
// (worker/train/readout_loss.h): at most 2^28 logits (512 MiB in bf16) per
// chunk, at least one row.
int64_t ReadoutChunkRows(int64_t vocab);

// Memory needed to train `shape` with AdamW at `batch_tokens` tokens per step,
// in bytes, with `bytes_per_activation` 4 (fp32) or 2 (bf16 autocast). An
// estimate used to place runs on devices, not a measurement:
//   weights + grads + two Adam moments: 16 bytes/param (fp32 master copy);
//   transformer activations per layer per token: (34d + 5hT) * bytes
//     (Korthikanti et al. 2022, "Reducing Activation Recomputation", eq. 1,
//     without dropout masks); the 5hT (attention scores and softmax) only
//     when `attention_scores_stored`: fused attention kernels (flash /
//     memory-efficient, through scaled_dot_product_attention on CUDA) keep
//     none, only their inputs and outputs;
//   lstm activations per layer per token: 10d * bytes (gates, cell, hidden);
//   the readout (worker/train/readout_loss.h): the final hidden state and its
//   gradient, 2d * 4 bytes per token, and one chunk's logits and softmax,
//   2 * min(batch_tokens, ReadoutChunkRows(V)) * V * bytes.
int64_t EstimateTrainingMemoryBytes(const ModelShape& shape, int64_t batch_tokens,
                                    int bytes_per_activation, bool attention_scores_stored = true);

}  // namespace ladder::model
