#include "common/model/model_shape.h"

#include <sstream>

namespace ladder::model {

std::string_view FamilyName(Family family) {
  switch (family) {
    case Family::kTransformer:
      return "transformer";
    case Family::kLstm:
      return "lstm";
  }
  return "unknown";
}

std::optional<Family> ParseFamily(std::string_view name) {
  if (name == "transformer") return Family::kTransformer;
  if (name == "lstm") return Family::kLstm;
  return std::nullopt;
}

std::string_view MlpName(Mlp mlp) { return mlp == Mlp::kGelu ? "gelu" : "swiglu"; }

std::optional<Mlp> ParseMlp(std::string_view name) {
  if (name == "gelu") return Mlp::kGelu;
  if (name == "swiglu") return Mlp::kSwiGlu;
  return std::nullopt;
}

std::string_view PositionsName(Positions positions) {
  return positions == Positions::kLearned ? "learned" : "rotary";
}

std::optional<Positions> ParsePositions(std::string_view name) {
  if (name == "learned") return Positions::kLearned;
  if (name == "rotary") return Positions::kRotary;
  return std::nullopt;
}

bool ModelShape::operator==(const ModelShape& o) const {
  return family == o.family && n_layer == o.n_layer && d_model == o.d_model && n_head == o.n_head &&
         d_ff == o.d_ff && context == o.context && vocab == o.vocab && mlp == o.mlp &&
         positions == o.positions && tie_embeddings == o.tie_embeddings;
}

std::string ValidateShape(const ModelShape& s) {
  std::ostringstream e;
  if (s.n_layer <= 0) {
    e << "n_layer must be positive (got " << s.n_layer << ")";
  } else if (s.d_model <= 0) {
    e << "d_model must be positive (got " << s.d_model << ")";
  } else if (s.context <= 0) {
    e << "context must be positive (got " << s.context << ")";
  } else if (s.vocab <= 1) {
    e << "vocab must be at least 2 (got " << s.vocab << ")";
  } else if (s.family == Family::kTransformer) {
    if (s.n_head <= 0) {
      e << "n_head must be positive (got " << s.n_head << ")";
    } else if (s.d_model % s.n_head != 0) {
      e << "d_model (" << s.d_model << ") is not divisible by n_head (" << s.n_head << ")";
    } else if (s.positions == Positions::kRotary && (s.d_model / s.n_head) % 2 != 0) {
      e << "rotary positions need an even head width (d_model/n_head = " << s.d_model / s.n_head
        << ")";
    } else if (s.d_ff <= 0) {
      e << "d_ff must be positive (got " << s.d_ff << ")";
    }
  } else if (s.family == Family::kLstm) {
    if (s.n_head != 0 || s.d_ff != 0) e << "n_head and d_ff must be 0 for an lstm";
  }
  return e.str();
}

std::string DescribeShape(const ModelShape& s) {
  std::ostringstream o;
  o << FamilyName(s.family) << " L" << s.n_layer << " d" << s.d_model;
  if (s.family == Family::kTransformer) {
    o << " h" << s.n_head << " ff" << s.d_ff;
    if (s.mlp == Mlp::kSwiGlu) o << " swiglu";
    if (s.positions == Positions::kRotary) o << " rope";
  }
  o << " T" << s.context << " V" << s.vocab;
  if (!s.tie_embeddings) o << " untied";
  return o.str();
}

}  // namespace ladder::model
