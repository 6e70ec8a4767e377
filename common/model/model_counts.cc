#include "common/model/model_counts.h"

#include <algorithm>

namespace ladder::model {

ParamCount CountParams(const ModelShape& s) {
  const int64_t d = s.d_model, V = s.vocab, T = s.context, f = s.d_ff, L = s.n_layer;
  ParamCount p;
  int64_t embedding = V * d;  // token embedding
  if (!s.tie_embeddings) embedding += V * d;
  int64_t body = 2 * d;  // final LayerNorm
  if (s.family == Family::kTransformer) {
    if (s.positions == Positions::kLearned) embedding += T * d;
    const int64_t attn = (3 * d * d + 3 * d) + (d * d + d);
    const int64_t mlp = s.mlp == Mlp::kGelu ? (2 * d * f + f + d) : 3 * d * f;
    body += L * (2 * d + attn + 2 * d + mlp);
  } else {
    body += L * (4 * d * (d + d) + 8 * d);
  }
  p.embedding = embedding;
  p.non_embedding = body;
  p.total = embedding + body;
  return p;
}

FlopsPerToken ExactFlopsPerToken(const ModelShape& s) {
  const double d = s.d_model, V = s.vocab, T = s.context, f = s.d_ff, h = s.n_head, L = s.n_layer;
  FlopsPerToken r;
  r.embedding = 2 * d * V;
  r.readout = 2 * d * V;
  if (s.family == Family::kTransformer) {
    const double qkv = 2 * 3 * d * d;
    const double logits = 2 * T * d;
    const double softmax = 3 * h * T;
    const double weighted_sum = 2 * T * d;
    const double output = 2 * d * d;
    r.mixer = L * (qkv + logits + softmax + weighted_sum + output);
    r.mlp = L * (s.mlp == Mlp::kGelu ? 2 * 2 * d * f : 2 * 3 * d * f);
  } else {
    const double d_in = d;
    r.mixer = L * (2 * 4 * d * (d_in + d) + 12 * d);
    r.mlp = 0;
  }
  r.forward = r.embedding + r.mixer + r.mlp + r.readout;
  r.training = 3 * r.forward;
  return r;
}

double SixNFlopsPerToken(const ModelShape& s) {
  return 6.0 * static_cast<double>(CountParams(s).non_embedding);
}

int64_t EstimateTrainingMemoryBytes(const ModelShape& s, int64_t batch_tokens,
                                    int bytes_per_activation, bool attention_scores_stored) {
  const int64_t d = s.d_model, V = s.vocab, T = s.context, L = s.n_layer;
  const int64_t state = 16 * CountParams(s).total;
  const int64_t chunk_tokens = std::min(batch_tokens, ReadoutChunkRows(V));
  const int64_t readout = 2 * chunk_tokens * V * bytes_per_activation;
  int64_t per_token = 2 * d * 4;
  if (s.family == Family::kTransformer) {
    const int64_t scores = attention_scores_stored ? 5 * static_cast<int64_t>(s.n_head) * T : 0;
    per_token += L * (34 * d + scores) * bytes_per_activation;
  } else {
    per_token += L * 10 * d * bytes_per_activation;
  }
  return state + readout + batch_tokens * per_token;
}

int64_t ReadoutChunkRows(int64_t vocab) {
  constexpr int64_t kChunkLogits = int64_t{1} << 28;
  return std::max<int64_t>(1, kChunkLogits / std::max<int64_t>(vocab, 1));
}

}  // namespace ladder::model
