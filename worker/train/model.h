// The two model families ladder-train trains, built from a ModelShape
// (common/model/model_shape.h) so that their parameter counts are exactly
// CountParams(shape) (model_test.cc checks every option).
//
//   tokens -> wte (V x d) -> SequenceMixer -> ln_f -> readout -> logits
//
// Both families share the token embedding `wte`, the final LayerNorm `ln_f`
// and the readout (tied: logits = h wte^T; untied: a bias-free V x d
// `lm_head`); only the SequenceMixer differs:
//   transformer: learned positions (T x d table `wpe`) or rotary, then
//                n_layer pre-LayerNorm blocks x + attn(ln_1(x)), x + mlp(ln_2(x))
//                with fused-QKV causal multi-head attention and a GELU (tanh
//                approximation, as GPT-2) or SwiGLU MLP;
//   lstm:        torch::nn::LSTM, n_layer layers of width d, batch first.
//
// Initialisation (GPT-2, Radford et al. 2019, sec. 2.3, as nanoGPT does it):
// embeddings and linear weights N(0, 0.02), biases 0, LayerNorm gain 1 and
// bias 0, and the projections that write into the residual stream (attention
// output, MLP down) N(0, 0.02 / sqrt(2 n_layer)). LSTM weights and biases keep
// PyTorch's default U(-1/sqrt(d), 1/sqrt(d)). Parameter names match
// worker/train/python/reference_model.py, the golden test's PyTorch twin.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <memory>
#include <string>
#include <vector>

#include "common/model/model_shape.h"

#define LADDER_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||         \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace ladder::train {

// The part of a language model between the embedding and the final norm:
// [B, T, d] -> [B, T, d], causal (output t sees inputs 0..t only).
class SequenceMixer : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // One line for the result's details ("pre-LN causal MHA, fused QKV, ...").
  virtual std::string Describe() const = 0;
};

class LanguageModelImpl : public torch::nn::Module {
 public:
  // Builds and initialises the modules; draws from torch's global generator,
  // so seed it (torch::manual_seed) first for a reproducible init.
  explicit LanguageModelImpl(const model::ModelShape& shape);

  // idx: [B, T] int64 token ids, T <= context. Returns logits [B, T, V].
  torch::Tensor forward(const torch::Tensor& idx);

  // Mean cross-entropy (nats per token) of predicting `targets` [B, T]: the
  // readout and the loss in one chunked node (worker/train/readout_loss.h)
  // that never holds all [B, T, V] logits; same value and gradients as
  // cross_entropy(forward(idx), targets).
  torch::Tensor Loss(const torch::Tensor& idx, const torch::Tensor& targets);

  // Per-sequence mean cross-entropy [B] (for the eval and its error bar).
  torch::Tensor SequenceLosses(const torch::Tensor& idx, const torch::Tensor& targets);

  // AdamW parameter groups: weight decay applies to the 2-D matmul weights of
  // the mixer and an untied readout; not to biases, norm gains, or the token
  // and position embeddings (so not to a tied readout either).
  std::vector<torch::Tensor> DecayedParameters();
  std::vector<torch::Tensor> UndecayedParameters();

  // Number of parameters in the embedding tables (wte, wpe, untied lm_head):
  // CountParams(shape).embedding.
  int64_t EmbeddingParameterCount();

  const model::ModelShape& shape() const { return shape_; }
  std::string DescribeMixer() const { return mixer_->Describe(); }
  // Switches the LSTM's compute dtype on CUDA (see LstmMixer); no-op for
  // transformers. Returns false if the model has no LSTM.
  bool SetLstmCudaDtype(torch::ScalarType dtype);

 private:
  bool IsEmbedding(const std::string& name) const;
  // Final-norm hidden states [B, T, d] (the readout's input).
  torch::Tensor Hidden(const torch::Tensor& idx);
  // wte.weight when tied, else lm_head.weight: [V, d].
  const torch::Tensor& ReadoutWeight() const;

  model::ModelShape shape_;
  torch::nn::Embedding wte_{nullptr};
  std::shared_ptr<SequenceMixer> mixer_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear lm_head_{nullptr};  // only when untied
};
TORCH_MODULE(LanguageModel);

// bf16 autocast on CUDA for the lifetime of the object, as Python's
// `with torch.autocast("cuda", dtype=torch.bfloat16)`: matmuls run in bf16,
// reductions such as softmax, LayerNorm and cross-entropy in fp32. On exit it
// restores the previous state and clears autocast's weight-cast cache (the
// cached bf16 copies go stale once the optimizer steps). No-op when !enable.
class CudaBf16Autocast {
 public:
  explicit CudaBf16Autocast(bool enable);
  ~CudaBf16Autocast();
  CudaBf16Autocast(const CudaBf16Autocast&) = delete;
  CudaBf16Autocast& operator=(const CudaBf16Autocast&) = delete;

 private:
  bool enable_;
  bool previous_ = false;
};

// Allows TF32 for fp32 matmuls and cuDNN (Ampere and later), as
// torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True.
void AllowTf32();

}  // namespace ladder::train
