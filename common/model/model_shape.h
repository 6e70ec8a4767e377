// Model shapes shared by every Ladder binary: the coordinator's planner, the
// worker and ladder-train all describe a model with ModelShape, so parameter
// and FLOP counts have exactly one implementation (model_counts.h).
//
// Pure C++17, no dependencies: this library is also built on GPU machines
// that carry nothing but libtorch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ladder::model {

// Stored in the database and sent on the wire by name: do not rename.
enum class Family { kTransformer, kLstm };
// Names: "transformer", "lstm".
std::string_view FamilyName(Family family);
std::optional<Family> ParseFamily(std::string_view name);

// Transformer MLP: "gelu" (two matrices d->f->d with biases) or "swiglu"
// (three bias-free matrices, Shazeer 2020).
enum class Mlp { kGelu, kSwiGlu };
std::string_view MlpName(Mlp mlp);
std::optional<Mlp> ParseMlp(std::string_view name);

// Transformer positions: "learned" (a T x d table) or "rotary" (no params).
enum class Positions { kLearned, kRotary };
std::string_view PositionsName(Positions positions);
std::optional<Positions> ParsePositions(std::string_view name);

// The architecture of one language model. Both families share the token
// embedding (vocab x d_model), a final LayerNorm and the readout; they differ
// only in the sequence mixer between them:
//   transformer: n_layer pre-LayerNorm blocks of causal multi-head attention
//                (n_head heads of d_model/n_head) and an MLP of width d_ff;
//   lstm:        n_layer stacked LSTM layers of hidden width d_model
//                (PyTorch layout: two bias vectors per layer).
struct ModelShape {
  Family family = Family::kTransformer;
  int n_layer = 0;
  int d_model = 0;
  int n_head = 0;   // transformer only; 0 for lstm
  int d_ff = 0;     // transformer only; 0 for lstm
  int context = 0;  // tokens per training sequence (T)
  int vocab = 256;  // byte-level by default
  Mlp mlp = Mlp::kGelu;
  Positions positions = Positions::kLearned;
  bool tie_embeddings = true;  // readout shares the embedding matrix

  bool operator==(const ModelShape& o) const;
};

// Returns "" when the shape is usable, else one readable sentence naming the
// field at fault ("d_model (100) is not divisible by n_head (3)").
std::string ValidateShape(const ModelShape& shape);

// Short human-readable description: "transformer L4 d128 h2 ff512 T128 V256".
std::string DescribeShape(const ModelShape& shape);

}  // namespace ladder::model
