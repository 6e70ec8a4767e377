// How Ladder turns "a model of about N non-embedding parameters" into a
// concrete ModelShape, and how it picks a learning rate for it, so that every
// rung of a ladder uses one recipe (no hand tuning per run).
#pragma once

#include <cstdint>

#include "common/model/model_shape.h"

namespace ladder::model {

// The rule's knobs; the defaults are what sweeps get unless they say otherwise.
struct ArchitectureRule {
  // Transformer: d_model / n_layer, held fixed across sizes (Kaplan et al.
  // 2020 fig. 5: loss is flat for aspect ratios ~20-200; GPT-2 small is 64).
  int transformer_aspect = 64;
  // Target head width; n_head = max(1, round(d_model / head_dim)).
  int head_dim = 64;
  // d_ff = mlp_ratio * d_model (gelu). For swiglu, d_ff = round8(2/3 * 4d) so
  // the MLP keeps the same parameter count.
  int mlp_ratio = 4;
  // LSTM: fixed depth; the width is solved for the parameter target.
  int lstm_layers = 2;
  Mlp mlp = Mlp::kGelu;
  Positions positions = Positions::kLearned;
  bool tie_embeddings = true;
};

// Shape whose non-embedding parameter count is close to `target_params`.
// Transformer (non-embedding N ~ 12 L d^2):
//   L = max(1, round((N / (12 a^2))^(1/3))), a = transformer_aspect;
//   d0 = sqrt(N / (12 L)); n_head = max(1, round(d0 / head_dim));
//   d_model = max(8 n_head, round(d0 / (8 n_head)) * 8 n_head).
// LSTM (non-embedding N ~ 8 L d^2):
//   L = lstm_layers; d_model = max(8, round(sqrt(N / (8 L)) / 8) * 8).
// Deterministic: the same inputs give the same shape on every machine.
ModelShape ShapeForParams(Family family, double target_params, int context, int vocab,
                          const ArchitectureRule& rule = {});

// Learning-rate rules. Stored in sweep specs by name: do not rename.
//   "kaplan":   lr(N) = scale * (0.003239 - 0.0001395 ln N), N non-embedding
//               (Kaplan et al. 2020, appendix D.6, eq. D.1), floored at 1e-5;
//   "constant": lr = scale.
enum class LrRule { kKaplan, kConstant };
double PeakLearningRate(LrRule rule, double scale, int64_t non_embedding_params);

}  // namespace ladder::model
