#include "common/model/architecture_rule.h"

#include <algorithm>
#include <cmath>

#include "common/model/model_counts.h"

namespace ladder::model {
namespace {
int RoundTo(double x, int multiple) {
  return static_cast<int>(std::lround(x / multiple)) * multiple;
}
}  // namespace

ModelShape ShapeForParams(Family family, double n, int context, int vocab,
                          const ArchitectureRule& rule) {
  ModelShape s;
  s.family = family;
  s.context = context;
  s.vocab = vocab;
  s.tie_embeddings = rule.tie_embeddings;
  n = std::max(n, 1.0);
  if (family == Family::kTransformer) {
    const double a = rule.transformer_aspect;
    s.n_layer = std::max(1, static_cast<int>(std::lround(std::cbrt(n / (12.0 * a * a)))));
    const double d0 = std::sqrt(n / (12.0 * s.n_layer));
    s.n_head = std::max(1, static_cast<int>(std::lround(d0 / rule.head_dim)));
    const int step = 8 * s.n_head;
    s.d_model = std::max(step, RoundTo(d0, step));
    s.mlp = rule.mlp;
    s.positions = rule.positions;
    if (rule.mlp == Mlp::kGelu) {
      s.d_ff = rule.mlp_ratio * s.d_model;
    } else {
      s.d_ff = std::max(8, RoundTo(2.0 / 3.0 * rule.mlp_ratio * s.d_model, 8));
    }
  } else {
    s.n_layer = std::max(1, rule.lstm_layers);
    s.d_model = std::max(8, RoundTo(std::sqrt(n / (8.0 * s.n_layer)), 8));
    s.n_head = 0;
    s.d_ff = 0;
  }
  return s;
}

double PeakLearningRate(LrRule rule, double scale, int64_t n) {
  if (rule == LrRule::kConstant) return scale;
  const double lr = 0.003239 - 0.0001395 * std::log(std::max<int64_t>(n, 1));
  return scale * std::max(lr, 1e-5);
}

}  // namespace ladder::model
