#include "worker/train/model.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <sstream>

#include "common/model/model_counts.h"
#include "worker/train/readout_loss.h"

namespace ladder::train {
namespace {

namespace F = torch::nn::functional;
using model::ModelShape;

constexpr double kInitStd = 0.02;  // GPT-2's initializer_range

// CUDA autocast switches; PyTorch 2.4 made the API per device type.
bool CudaAutocastEnabled() {
#if LADDER_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

void SetCudaAutocast(bool enabled) {
#if LADDER_TORCH_AT_LEAST(2, 4)
  if (enabled) at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  if (enabled) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(enabled);
#endif
}

// Turns CUDA autocast off for its lifetime, like
// `with torch.autocast("cuda", enabled=False)`.
class CudaAutocastOff {
 public:
  CudaAutocastOff() : previous_(CudaAutocastEnabled()) { SetCudaAutocast(false); }
  ~CudaAutocastOff() { SetCudaAutocast(previous_); }
  CudaAutocastOff(const CudaAutocastOff&) = delete;
  CudaAutocastOff& operator=(const CudaAutocastOff&) = delete;

 private:
  bool previous_;
};

void InitLinear(torch::nn::Linear& linear, double std) {
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, std);
  if (linear->bias.defined()) linear->bias.zero_();
}

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias, double std) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(bias));
  InitLinear(linear, std);
  return linear;
}

// ---------------------------------------------------------------------------
// Transformer
// ---------------------------------------------------------------------------

// Causal multi-head self-attention with one fused QKV projection:
//   [q k v] = x W_qkv + b_qkv  (d -> 3d), per head h: softmax(q k^T / sqrt(k) + causal) v,
//   heads concatenated and projected by W_o (d -> d).
// Rotary positions (Su et al. 2021, "RoFormer", eq. 34) rotate q and k per
// head in the "rotate half" layout of GPT-NeoX: the pair (x_i, x_{i+k/2})
// turns by angle t * theta_i, theta_i = 10000^(-2i/k).
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(const ModelShape& s, double residual_std)
      : n_head_(s.n_head),
        head_dim_(s.d_model / s.n_head),
        rotary_(s.positions == model::Positions::kRotary) {
    c_attn = register_module("c_attn", MakeLinear(s.d_model, 3 * s.d_model, true, kInitStd));
    c_proj = register_module("c_proj", MakeLinear(s.d_model, s.d_model, true, residual_std));
    if (rotary_) {
      const int64_t half = head_dim_ / 2;
      auto inv_freq =
          torch::pow(10000.0, -torch::arange(0, half, torch::kFloat64) * 2.0 / head_dim_);
      // Tables in float64 (cast to the activations' dtype when used).
      auto angles =
          torch::outer(torch::arange(0, s.context, torch::kFloat64), inv_freq);  // [T, k/2]
      rope_cos_ = register_buffer("rope_cos", torch::cat({angles.cos(), angles.cos()}, -1));
      rope_sin_ = register_buffer("rope_sin", torch::cat({angles.sin(), angles.sin()}, -1));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), T = x.size(1), d = x.size(2);
    // [B, T, 3d] -> 3 x [B, h, T, k]
    // unbind, not three selects: its backward is one stack instead of three
    // full-size zero tensors (20% of a small model's step on CPU).
    auto qkv =
        c_attn->forward(x).view({B, T, 3, n_head_, head_dim_}).permute({2, 0, 3, 1, 4}).unbind(0);
    auto q = qkv[0], k = qkv[1], v = qkv[2];
    if (rotary_) {
      q = Rotate(q, T);
      k = Rotate(k, T);
    }
#if LADDER_TORCH_AT_LEAST(2, 0)
    // Fused kernels (flash / memory-efficient attention on CUDA).
    auto y = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                              /*is_causal=*/true);
#else
    auto att =
        torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim_))), k.transpose(-2, -1));
    att = att.masked_fill(CausalMask(T, x.device()), -INFINITY);
    auto y = torch::matmul(torch::softmax(att, -1), v);
#endif
    y = y.transpose(1, 2).contiguous().view({B, T, d});
    return c_proj->forward(y);
  }

  torch::nn::Linear c_attn{nullptr}, c_proj{nullptr};

 private:
  torch::Tensor Rotate(const torch::Tensor& x, int64_t T) {
    const int64_t half = head_dim_ / 2;
    auto cos = rope_cos_.slice(0, 0, T).to(x.scalar_type());
    auto sin = rope_sin_.slice(0, 0, T).to(x.scalar_type());
    auto rotated = torch::cat({-x.slice(-1, half, head_dim_), x.slice(-1, 0, half)}, -1);
    return x * cos + rotated * sin;
  }

  // Positions a query may not attend to (the future): true above the
  // diagonal. Not a registered buffer, so Module::to(dtype) leaves it bool.
  const torch::Tensor& CausalMask(int64_t T, const torch::Device& device) {
    if (!causal_mask_.defined() || causal_mask_.size(0) != T || causal_mask_.device() != device) {
      causal_mask_ =
          torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(1);
    }
    return causal_mask_;
  }

  int64_t n_head_, head_dim_;
  bool rotary_;
  torch::Tensor rope_cos_, rope_sin_, causal_mask_;
};
TORCH_MODULE(CausalSelfAttention);

// GELU MLP: c_proj(gelu(c_fc(x))) with biases (d -> f -> d);
// SwiGLU MLP (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6, bias-free):
//   down(silu(x W_gate) * (x W_up)), with W_gate and W_up fused in one d -> 2f matrix.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelShape& s, double residual_std)
      : swiglu_(s.mlp == model::Mlp::kSwiGlu), d_ff_(s.d_ff) {
    if (swiglu_) {
      gate_up = register_module("gate_up", MakeLinear(s.d_model, 2 * s.d_ff, false, kInitStd));
      down = register_module("down", MakeLinear(s.d_ff, s.d_model, false, residual_std));
    } else {
      c_fc = register_module("c_fc", MakeLinear(s.d_model, s.d_ff, true, kInitStd));
      c_proj = register_module("c_proj", MakeLinear(s.d_ff, s.d_model, true, residual_std));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    if (swiglu_) {
      auto gu = gate_up->forward(x);
      return down->forward(torch::silu(gu.slice(-1, 0, d_ff_)) * gu.slice(-1, d_ff_, 2 * d_ff_));
    }
    return c_proj->forward(torch::gelu(c_fc->forward(x), "tanh"));
  }

  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr}, gate_up{nullptr}, down{nullptr};

 private:
  bool swiglu_;
  int64_t d_ff_;
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelShape& s, double residual_std) {
    ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({s.d_model})));
    attn = register_module("attn", CausalSelfAttention(s, residual_std));
    ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({s.d_model})));
    mlp = register_module("mlp", Mlp(s, residual_std));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + attn->forward(ln_1->forward(x));
    return x + mlp->forward(ln_2->forward(x));
  }

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  CausalSelfAttention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

class TransformerMixer : public SequenceMixer {
 public:
  explicit TransformerMixer(const ModelShape& s) : shape_(s) {
    // GPT-2 sec. 2.3: scale the residual-writing projections by 1/sqrt(N),
    // N = 2 n_layer residual additions.
    const double residual_std = kInitStd / std::sqrt(2.0 * s.n_layer);
    if (s.positions == model::Positions::kLearned) {
      wpe = register_module("wpe", torch::nn::Embedding(s.context, s.d_model));
      torch::NoGradGuard no_grad;
      wpe->weight.normal_(0.0, kInitStd);
    }
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < s.n_layer; ++i) blocks->push_back(Block(s, residual_std));
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor h = x;
    if (!wpe.is_empty()) h = h + wpe->weight.slice(0, 0, x.size(1));
    for (const auto& block : *blocks) h = block->as<BlockImpl>()->forward(h);
    return h;
  }

  std::string Describe() const override {
    std::ostringstream o;
    o << "pre-LayerNorm decoder, causal multi-head attention (fused QKV, "
#if LADDER_TORCH_AT_LEAST(2, 0)
      << "scaled_dot_product_attention"
#else
      << "explicit softmax(q k^T / sqrt(d_head) + mask) v"
#endif
      << "), " << (shape_.mlp == model::Mlp::kGelu ? "GELU (tanh approximation) MLP" : "SwiGLU MLP")
      << ", "
      << (shape_.positions == model::Positions::kLearned
              ? "learned positions"
              : "rotary positions (theta 10000, rotate-half)");
    return o.str();
  }

  torch::nn::Embedding wpe{nullptr};
  torch::nn::ModuleList blocks{nullptr};

 private:
  ModelShape shape_;
};

// ---------------------------------------------------------------------------
// LSTM
// ---------------------------------------------------------------------------

// n_layer stacked LSTM layers (Hochreiter & Schmidhuber 1997; PyTorch's
// formulation with forget gates and two bias vectors per layer). Each
// sequence starts from zero state.
//
// On CUDA under bf16 autocast, PyTorch's autocast runs cuDNN RNNs in fp16
// (aten/src/ATen/cudnn/AutocastRNN.cpp hard-codes half), which without loss
// scaling risks underflow. So this mixer leaves autocast and runs the LSTM in
// `cuda_dtype_` itself: bf16 by default (cuDNN >= 9.13 supports bf16 RNNs);
// the trainer falls back to fp32 (TF32) if that fails.
class LstmMixer : public SequenceMixer {
 public:
  explicit LstmMixer(const ModelShape& s) {
    lstm = register_module(
        "lstm",
        torch::nn::LSTM(
            torch::nn::LSTMOptions(s.d_model, s.d_model).num_layers(s.n_layer).batch_first(true)));
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    if (!x.is_cuda() || !CudaAutocastEnabled()) return std::get<0>(lstm->forward(x));
    // Leave autocast (its _cudnn_rnn wrapper would cast to fp16) and cast
    // explicitly; the casts are differentiable, so fp32 weights get fp32 grads.
    CudaAutocastOff autocast_off;
    std::vector<torch::Tensor> weights;
    for (const auto& w : lstm->all_weights()) weights.push_back(w.to(cuda_dtype_));
    const auto& o = lstm->options;
    auto out =
        torch::lstm(x.to(cuda_dtype_), /*hx=*/{Zeros(x), Zeros(x)}, weights, /*has_biases=*/true,
                    o.num_layers(), /*dropout=*/0.0, is_training(), /*bidirectional=*/false,
                    /*batch_first=*/true);
    return std::get<0>(out);
  }

  std::string Describe() const override {
    return "torch::nn::LSTM (stacked, batch first, zero initial state per sequence)";
  }

  void set_cuda_dtype(torch::ScalarType dtype) { cuda_dtype_ = dtype; }

  torch::nn::LSTM lstm{nullptr};

 private:
  torch::Tensor Zeros(const torch::Tensor& x) const {
    return torch::zeros({lstm->options.num_layers(), x.size(0), lstm->options.hidden_size()},
                        x.options().dtype(cuda_dtype_));
  }

  torch::ScalarType cuda_dtype_ = torch::kBFloat16;
};

}  // namespace

// ---------------------------------------------------------------------------
// Shared embedding, final norm and readout
// ---------------------------------------------------------------------------

LanguageModelImpl::LanguageModelImpl(const ModelShape& shape) : shape_(shape) {
  wte_ = register_module("wte", torch::nn::Embedding(shape.vocab, shape.d_model));
  {
    torch::NoGradGuard no_grad;
    wte_->weight.normal_(0.0, kInitStd);
  }
  if (shape.family == model::Family::kTransformer) {
    mixer_ = register_module("mixer", std::make_shared<TransformerMixer>(shape));
  } else {
    mixer_ = register_module("mixer", std::make_shared<LstmMixer>(shape));
  }
  ln_f_ =
      register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({shape.d_model})));
  if (!shape.tie_embeddings) {
    lm_head_ = register_module("lm_head", MakeLinear(shape.d_model, shape.vocab, false, kInitStd));
  }
}

torch::Tensor LanguageModelImpl::Hidden(const torch::Tensor& idx) {
  return ln_f_->forward(mixer_->forward(wte_->forward(idx)));
}

const torch::Tensor& LanguageModelImpl::ReadoutWeight() const {
  return shape_.tie_embeddings ? wte_->weight : lm_head_->weight;
}

torch::Tensor LanguageModelImpl::forward(const torch::Tensor& idx) {
  return F::linear(Hidden(idx), ReadoutWeight());
}

torch::Tensor LanguageModelImpl::Loss(const torch::Tensor& idx, const torch::Tensor& targets) {
  auto h = Hidden(idx);
  // Autocast's matmul dtype on CUDA; otherwise the activations' own (fp32).
  const auto compute_dtype =
      h.is_cuda() && CudaAutocastEnabled() ? torch::kBFloat16 : h.scalar_type();
  return ReadoutCrossEntropy(h.reshape({-1, h.size(-1)}), ReadoutWeight(), targets.reshape({-1}),
                             compute_dtype, model::ReadoutChunkRows(shape_.vocab));
}

torch::Tensor LanguageModelImpl::SequenceLosses(const torch::Tensor& idx,
                                                const torch::Tensor& targets) {
  auto logits = forward(idx);
  auto per_token = F::cross_entropy(logits.view({-1, logits.size(-1)}), targets.reshape({-1}),
                                    F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return per_token.view({idx.size(0), idx.size(1)}).to(torch::kFloat64).mean(1);
}

bool LanguageModelImpl::IsEmbedding(const std::string& name) const {
  return name == "wte.weight" || name == "mixer.wpe.weight" || name == "lm_head.weight";
}

std::vector<torch::Tensor> LanguageModelImpl::DecayedParameters() {
  std::vector<torch::Tensor> out;
  for (const auto& p : named_parameters()) {
    const bool embedding_table = p.key() == "wte.weight" || p.key() == "mixer.wpe.weight";
    if (p.value().dim() >= 2 && !embedding_table) out.push_back(p.value());
  }
  return out;
}

std::vector<torch::Tensor> LanguageModelImpl::UndecayedParameters() {
  std::vector<torch::Tensor> out;
  for (const auto& p : named_parameters()) {
    const bool embedding_table = p.key() == "wte.weight" || p.key() == "mixer.wpe.weight";
    if (p.value().dim() < 2 || embedding_table) out.push_back(p.value());
  }
  return out;
}

int64_t LanguageModelImpl::EmbeddingParameterCount() {
  int64_t n = 0;
  for (const auto& p : named_parameters()) {
    if (IsEmbedding(p.key())) n += p.value().numel();
  }
  return n;
}

bool LanguageModelImpl::SetLstmCudaDtype(torch::ScalarType dtype) {
  auto* lstm = dynamic_cast<LstmMixer*>(mixer_.get());
  if (lstm == nullptr) return false;
  lstm->set_cuda_dtype(dtype);
  return true;
}

// ---------------------------------------------------------------------------
// Mixed precision
// ---------------------------------------------------------------------------

CudaBf16Autocast::CudaBf16Autocast(bool enable) : enable_(enable) {
  if (!enable_) return;
  previous_ = CudaAutocastEnabled();
  SetCudaAutocast(true);
  at::autocast::increment_nesting();
}

CudaBf16Autocast::~CudaBf16Autocast() {
  if (!enable_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetCudaAutocast(previous_);
}

void AllowTf32() {
  at::globalContext().setAllowTF32CuBLAS(true);
  at::globalContext().setAllowTF32CuDNN(true);
}

}  // namespace ladder::train
