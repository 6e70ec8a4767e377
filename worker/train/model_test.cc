// Checks the real libtorch modules against the shared counts in
// common/model, and properties of the training step that the golden test
// does not cover (causality, gradient accumulation, checkpoint round trip).
#include "worker/train/model.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "common/model/architecture_rule.h"
#include "common/model/model_counts.h"
#include "worker/train/adamw.h"
#include "worker/train/checkpoint.h"
#include "worker/train/readout_loss.h"
#include "worker/train/train_step.h"

namespace ladder::train {
namespace {

namespace F = torch::nn::functional;
using model::Family;
using model::ModelShape;

ModelShape Transformer(int L, int d, int h, int f, int T, int V = 256) {
  ModelShape s;
  s.family = Family::kTransformer;
  s.n_layer = L;
  s.d_model = d;
  s.n_head = h;
  s.d_ff = f;
  s.context = T;
  s.vocab = V;
  return s;
}

ModelShape Lstm(int L, int d, int T, int V = 256) {
  ModelShape s;
  s.family = Family::kLstm;
  s.n_layer = L;
  s.d_model = d;
  s.context = T;
  s.vocab = V;
  return s;
}

// Every option that changes the parameter count, on several sizes.
std::vector<ModelShape> AllShapes() {
  std::vector<ModelShape> shapes;
  for (const ModelShape& base : {Transformer(1, 16, 1, 64, 8), Transformer(2, 48, 3, 192, 32, 300),
                                 Transformer(3, 64, 4, 176, 16)}) {
    for (auto mlp : {model::Mlp::kGelu, model::Mlp::kSwiGlu}) {
      for (auto pos : {model::Positions::kLearned, model::Positions::kRotary}) {
        for (bool tie : {true, false}) {
          ModelShape s = base;
          s.mlp = mlp;
          s.positions = pos;
          s.tie_embeddings = tie;
          shapes.push_back(s);
        }
      }
    }
  }
  for (const ModelShape& base : {Lstm(1, 8, 8), Lstm(2, 40, 16, 300), Lstm(3, 24, 4)}) {
    for (bool tie : {true, false}) {
      ModelShape s = base;
      s.tie_embeddings = tie;
      shapes.push_back(s);
    }
  }
  // The shapes a sweep's ShapeForParams actually produces.
  for (double n : {2e4, 2e5, 2e6}) {
    shapes.push_back(model::ShapeForParams(Family::kTransformer, n, 64, 256));
    shapes.push_back(model::ShapeForParams(Family::kLstm, n, 64, 256));
  }
  return shapes;
}

int64_t Numel(const std::vector<torch::Tensor>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

TEST(LanguageModelTest, ParameterCountsEqualCountParamsForEveryOption) {
  for (const ModelShape& s : AllShapes()) {
    LanguageModel m(s);
    const model::ParamCount expected = model::CountParams(s);
    EXPECT_EQ(Numel(m->parameters()), expected.total) << model::DescribeShape(s);
    EXPECT_EQ(m->EmbeddingParameterCount(), expected.embedding) << model::DescribeShape(s);
  }
}

TEST(LanguageModelTest, DecayGroupsPartitionTheParameters) {
  for (const ModelShape& s : AllShapes()) {
    LanguageModel m(s);
    const auto decayed = m->DecayedParameters();
    const auto undecayed = m->UndecayedParameters();
    EXPECT_EQ(Numel(decayed) + Numel(undecayed), model::CountParams(s).total);
    for (const auto& p : decayed) EXPECT_EQ(p.dim(), 2);
    // The token embedding (and so a tied readout) is never decayed.
    bool wte_undecayed = false;
    for (const auto& p : undecayed) wte_undecayed |= p.is_same(m->named_parameters()["wte.weight"]);
    EXPECT_TRUE(wte_undecayed);
  }
}

TEST(LanguageModelTest, TiedReadoutIsTheEmbeddingMatrix) {
  torch::manual_seed(0);
  LanguageModel m(Transformer(1, 16, 2, 64, 8));
  auto idx = torch::randint(0, 256, {2, 8}, torch::kInt64);
  auto logits = m->forward(idx);
  // Nudge one embedding row: the logit for that token moves although no
  // other readout weight exists.
  auto before = logits.detach().clone();
  {
    torch::NoGradGuard g;
    m->named_parameters()["wte.weight"][7].add_(1.0);
  }
  auto after = m->forward(idx).detach();
  EXPECT_FALSE(torch::allclose(before.select(-1, 7), after.select(-1, 7)));
  EXPECT_EQ(m->named_parameters().find("lm_head.weight"), nullptr);
}

TEST(LanguageModelTest, OutputsDoNotSeeFutureTokensInEitherFamily) {
  for (ModelShape s : {Transformer(2, 32, 4, 64, 16), Lstm(2, 24, 16)}) {
    for (auto pos : {model::Positions::kLearned, model::Positions::kRotary}) {
      s.positions = pos;
      torch::manual_seed(1);
      LanguageModel m(s);
      auto idx = torch::randint(0, 256, {1, 16}, torch::kInt64);
      auto changed = idx.clone();
      changed[0][10] = (changed[0][10].item<int64_t>() + 1) % 256;
      auto a = m->forward(idx).detach(), b = m->forward(changed).detach();
      EXPECT_TRUE(torch::allclose(a.slice(1, 0, 10), b.slice(1, 0, 10), 1e-6, 1e-6))
          << model::DescribeShape(s);
      EXPECT_FALSE(torch::allclose(a.slice(1, 10, 11), b.slice(1, 10, 11), 1e-6, 1e-6))
          << model::DescribeShape(s);
    }
  }
}

TEST(LanguageModelTest, InitialLossIsNearUniformGuessing) {
  for (const ModelShape& s : {Transformer(2, 64, 2, 256, 32), Lstm(2, 64, 32)}) {
    torch::manual_seed(2);
    LanguageModel m(s);
    auto idx = torch::randint(0, 256, {8, 32}, torch::kInt64);
    const double loss = m->Loss(idx, torch::roll(idx, -1, 1)).item<double>();
    EXPECT_NEAR(loss, std::log(256.0), 0.1) << model::DescribeShape(s);
  }
}

// The chunked readout loss against cross_entropy(linear(h, W)): same loss and
// gradients whatever the chunking (one chunk, even chunks, a ragged last one).
TEST(ReadoutLossTest, MatchesCrossEntropyOfTheLogitsForEveryChunking) {
  torch::manual_seed(5);
  const int64_t n = 37, d = 24, V = 300;
  auto h0 = torch::randn({n, d}, torch::kFloat64);
  auto w0 = torch::randn({V, d}, torch::kFloat64) * 0.3;
  auto t = torch::randint(0, V, {n}, torch::kInt64);

  auto h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  auto reference = F::cross_entropy(F::linear(h, w), t);
  (reference * 3.0).backward();  // a non-unit incoming gradient
  for (int64_t chunk : {n, int64_t{1}, int64_t{8}, int64_t{36}, int64_t{1000}}) {
    auto hc = h0.clone().requires_grad_(true), wc = w0.clone().requires_grad_(true);
    auto loss = ReadoutCrossEntropy(hc, wc, t, torch::kFloat64, chunk);
    EXPECT_EQ(loss.scalar_type(), torch::kFloat64);
    EXPECT_NEAR(loss.item<double>(), reference.item<double>(), 1e-12) << "chunk " << chunk;
    (loss * 3.0).backward();
    EXPECT_TRUE(torch::allclose(hc.grad(), h.grad(), 1e-10, 1e-13)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(wc.grad(), w.grad(), 1e-10, 1e-13)) << "chunk " << chunk;
  }
}

TEST(ReadoutLossTest, Fp32ModelWithBf16ComputeStaysWithinBf16Rounding) {
  torch::manual_seed(6);
  const int64_t n = 64, d = 32, V = 500;
  auto h = torch::randn({n, d}).requires_grad_(true);
  auto w = (torch::randn({V, d}) * 0.2).requires_grad_(true);
  auto t = torch::randint(0, V, {n}, torch::kInt64);
  auto reference = F::cross_entropy(F::linear(h, w), t);
  reference.backward();
  const auto grad_h = h.grad().clone(), grad_w = w.grad().clone();
  h.mutable_grad().reset();
  w.mutable_grad().reset();
  auto loss = ReadoutCrossEntropy(h, w, t, torch::kBFloat16, 16);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(loss.item<double>(), reference.item<double>(), 0.02 * reference.item<double>());
  loss.backward();
  ASSERT_EQ(h.grad().scalar_type(), torch::kFloat32);
  ASSERT_EQ(w.grad().scalar_type(), torch::kFloat32);
  // bf16 has 8 significant bits: gradients agree to a few per cent of their scale.
  EXPECT_LT((h.grad() - grad_h).abs().max().item<double>(),
            0.05 * grad_h.abs().max().item<double>());
  EXPECT_LT((w.grad() - grad_w).abs().max().item<double>(),
            0.05 * grad_w.abs().max().item<double>());
}

TEST(ReadoutLossTest, WithoutGradModeOnlyTheLossIsComputed) {
  torch::manual_seed(7);
  auto h = torch::randn({10, 8}).requires_grad_(true);
  auto w = torch::randn({50, 8}).requires_grad_(true);
  auto t = torch::randint(0, 50, {10}, torch::kInt64);
  torch::NoGradGuard no_grad;
  auto loss = ReadoutCrossEntropy(h, w, t, torch::kFloat32, 3);
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_NEAR(loss.item<double>(), F::cross_entropy(F::linear(h, w), t).item<double>(), 1e-5);
}

TEST(TrainStepTest, MicroBatchesAccumulateTheWholeBatchGradient) {
  for (const ModelShape& s : {Transformer(2, 32, 2, 64, 16), Lstm(2, 24, 16)}) {
    torch::manual_seed(3);
    LanguageModel m(s);
    m->to(torch::kFloat64);
    auto tokens = torch::randint(0, 256, {6, 17}, torch::kInt64);
    Batch whole{tokens.slice(1, 0, 16), tokens.slice(1, 1, 17)};
    const double loss_whole = ForwardBackward(m, {whole}, false).item<double>();
    std::vector<torch::Tensor> grads_whole;
    for (const auto& p : m->parameters()) grads_whole.push_back(p.grad().clone());
    for (auto& p : m->parameters()) p.mutable_grad().reset();
    // Uneven micro-batches of 4 and 2 sequences.
    Batch a{whole.x.slice(0, 0, 4), whole.y.slice(0, 0, 4)},
        b{whole.x.slice(0, 4, 6), whole.y.slice(0, 4, 6)};
    const double loss_micro = ForwardBackward(m, {a, b}, false).item<double>();
    EXPECT_NEAR(loss_whole, loss_micro, 1e-12);
    const auto params = m->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(torch::allclose(grads_whole[i], params[i].grad(), 1e-10, 1e-12))
          << model::DescribeShape(s);
    }
  }
}

TEST(TrainStepTest, ClippingBoundsTheGlobalNormAndReportsItBefore) {
  auto a = torch::zeros({3}, torch::requires_grad()), b = torch::zeros({4}, torch::requires_grad());
  a.mutable_grad() = torch::full({3}, 3.0);
  b.mutable_grad() = torch::full({4}, 4.0);
  const double expected = std::sqrt(3 * 9.0 + 4 * 16.0);
  EXPECT_NEAR(ClipGradNorm({a, b}, 0.0), expected, 1e-5);  // 0: measure only
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(ClipGradNorm({a, b}, 1.0), expected, 1e-5);
  EXPECT_NEAR(ClipGradNorm({a, b}, 0.0), 1.0, 1e-5);
}

TEST(CheckpointTest, RoundTripRestoresWeightsMomentsAndLoopState) {
  char tmpl[] = "/tmp/ladder-ckpt-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const ModelShape s = Transformer(1, 16, 2, 32, 8);
  auto make = [&](LanguageModel* m, std::unique_ptr<AdamW>* opt, int seed) {
    torch::manual_seed(seed);
    *m = LanguageModel(s);
    *opt = std::make_unique<AdamW>(std::vector<AdamW::Group>{{(*m)->DecayedParameters(), 0.1},
                                                             {(*m)->UndecayedParameters(), 0.0}},
                                   0.9, 0.95, 1e-8);
  };
  LanguageModel a{nullptr}, b{nullptr};
  std::unique_ptr<AdamW> opt_a, opt_b;
  make(&a, &opt_a, 1);
  auto tokens = torch::randint(0, 256, {4, 9}, torch::kInt64);
  Batch batch{tokens.slice(1, 0, 8), tokens.slice(1, 1, 9)};
  ForwardBackward(a, {batch}, false);
  opt_a->Step(1e-2);
  opt_a->ZeroGrad();
  LoopState state;
  state.step = 1;
  state.tokens = 32;
  state.loss_sum = 5.5;
  state.loss_count = 1;
  std::string error;
  ASSERT_FALSE(SaveCheckpoint(dir, "fp", a, *opt_a, state, &error).empty()) << error;

  make(&b, &opt_b, 2);  // different weights until loaded
  LoopState loaded;
  EXPECT_FALSE(LoadLatestCheckpoint(dir, "other-run", b, *opt_b, &loaded, torch::kCPU).has_value());
  ASSERT_TRUE(LoadLatestCheckpoint(dir, "fp", b, *opt_b, &loaded, torch::kCPU).has_value());
  EXPECT_EQ(loaded.step, 1);
  EXPECT_EQ(loaded.tokens, 32);
  EXPECT_DOUBLE_EQ(loaded.loss_sum, 5.5);
  // One more identical step on both gives identical weights only if the
  // moments and the step count were restored too.
  for (auto* pair : {&a, &b}) {
    ForwardBackward(*pair, {batch}, false);
  }
  opt_a->Step(1e-2);
  opt_b->Step(1e-2);
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace ladder::train
