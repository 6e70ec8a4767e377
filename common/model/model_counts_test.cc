#include "common/model/model_counts.h"

#include <gtest/gtest.h>

namespace ladder::model {
namespace {

ModelShape Transformer(int L, int d, int h, int f, int T, int V) {
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

ModelShape SmallTransformer() { return Transformer(2, 64, 2, 256, 128, 256); }

ModelShape SmallLstm() {
  ModelShape s;
  s.family = Family::kLstm;
  s.n_layer = 2;
  s.d_model = 64;
  s.context = 128;
  s.vocab = 256;
  return s;
}

// Hand counts (see model_counts.h for the terms):
//   embedding 256*64 + positions 128*64 = 24576
//   layer: LN 128 + QKV 12480 + out 4160 + LN 128 + MLP 2*64*256+256+64 = 49984
//   body: 2 * 49984 + final LN 128 = 100096
TEST(CountParamsTest, TransformerMatchesHandCount) {
  ParamCount p = CountParams(SmallTransformer());
  EXPECT_EQ(p.embedding, 24576);
  EXPECT_EQ(p.non_embedding, 100096);
  EXPECT_EQ(p.total, 124672);
}

TEST(CountParamsTest, UntiedReadoutCountsAsEmbedding) {
  ModelShape s = SmallTransformer();
  s.tie_embeddings = false;
  ParamCount p = CountParams(s);
  EXPECT_EQ(p.embedding, 24576 + 256 * 64);
  EXPECT_EQ(p.non_embedding, 100096);
}

TEST(CountParamsTest, RotaryHasNoPositionTable) {
  ModelShape s = SmallTransformer();
  s.positions = Positions::kRotary;
  EXPECT_EQ(CountParams(s).embedding, 256 * 64);
}

TEST(CountParamsTest, SwiGluHasThreeBiasFreeMatrices) {
  ModelShape s = SmallTransformer();
  s.mlp = Mlp::kSwiGlu;
  s.d_ff = 176;
  // layer: 128 + 12480 + 4160 + 128 + 3*64*176
  EXPECT_EQ(CountParams(s).non_embedding, 2 * (128 + 12480 + 4160 + 128 + 3 * 64 * 176) + 128);
}

//   layer: 4*64*(64+64) + 8*64 = 33280; body 2*33280 + 128
TEST(CountParamsTest, LstmMatchesHandCount) {
  ParamCount p = CountParams(SmallLstm());
  EXPECT_EQ(p.embedding, 16384);
  EXPECT_EQ(p.non_embedding, 66688);
  EXPECT_EQ(p.total, 83072);
}

// embedding 2*64*256 = 32768, readout 32768;
// layer: QKV 6*64^2 = 24576, logits 2*128*64 = 16384, softmax 3*2*128 = 768,
//        weighted sum 16384, output 2*64^2 = 8192 -> 66304; MLP 4*64*256 = 65536.
TEST(ExactFlopsTest, TransformerMatchesChinchillaAppendixF) {
  FlopsPerToken f = ExactFlopsPerToken(SmallTransformer());
  EXPECT_DOUBLE_EQ(f.embedding, 32768);
  EXPECT_DOUBLE_EQ(f.readout, 32768);
  EXPECT_DOUBLE_EQ(f.mixer, 2 * 66304);
  EXPECT_DOUBLE_EQ(f.mlp, 2 * 65536);
  EXPECT_DOUBLE_EQ(f.forward, 329216);
  EXPECT_DOUBLE_EQ(f.training, 3 * 329216);
}

// layer: 2*4*64*(64+64) = 65536 + 12*64 = 66304.
TEST(ExactFlopsTest, LstmCountsFourGateMatmulsAndElementwise) {
  FlopsPerToken f = ExactFlopsPerToken(SmallLstm());
  EXPECT_DOUBLE_EQ(f.mixer, 2 * 66304);
  EXPECT_DOUBLE_EQ(f.mlp, 0);
  EXPECT_DOUBLE_EQ(f.forward, 32768 + 2 * 66304 + 32768);
}

TEST(ExactFlopsTest, AttentionTermsGrowWithContext) {
  ModelShape a = SmallTransformer();
  ModelShape b = a;
  b.context = 2 * a.context;
  // logits + weighted sum + softmax double; nothing else changes.
  EXPECT_DOUBLE_EQ(ExactFlopsPerToken(b).forward - ExactFlopsPerToken(a).forward,
                   2 * (16384 + 768 + 16384));
}

TEST(SixNTest, UsesNonEmbeddingParams) {
  EXPECT_DOUBLE_EQ(SixNFlopsPerToken(SmallTransformer()), 6.0 * 100096);
}

TEST(MemoryEstimateTest, GrowsWithBatchAndCountsOptimizerState) {
  ModelShape s = SmallTransformer();
  const int64_t state = 16 * CountParams(s).total;
  EXPECT_EQ(EstimateTrainingMemoryBytes(s, 0, 4), state);
  EXPECT_GT(EstimateTrainingMemoryBytes(s, 4096, 4), EstimateTrainingMemoryBytes(s, 2048, 4));
  EXPECT_GT(EstimateTrainingMemoryBytes(s, 4096, 4), EstimateTrainingMemoryBytes(s, 4096, 2));
}

TEST(MemoryEstimateTest, ReadoutLogitsAreBoundedByOneChunk) {
  EXPECT_EQ(ReadoutChunkRows(256), int64_t{1} << 20);
  EXPECT_EQ(ReadoutChunkRows(50304), (int64_t{1} << 28) / 50304);
  EXPECT_EQ(ReadoutChunkRows(int64_t{1} << 40), 1);
  // GPT-2 small at 50304 tokens of vocabulary: past one chunk, another
  // 64 K-token micro-batch adds activations only, not 64 K x V logits.
  const ModelShape s = Transformer(12, 768, 12, 3072, 1024, 50304);
  const int64_t one = EstimateTrainingMemoryBytes(s, 65536, 2);
  const int64_t two = EstimateTrainingMemoryBytes(s, 131072, 2);
  const int64_t per_token = 2 * 768 * 4 + 12 * (34 * 768 + 5 * 12 * 1024) * 2;
  EXPECT_EQ(two - one, 65536 * per_token);
  // Fused attention keeps no T x T scores: 5hT fewer activations per layer.
  EXPECT_EQ(EstimateTrainingMemoryBytes(s, 65536, 2) -
                EstimateTrainingMemoryBytes(s, 65536, 2, /*attention_scores_stored=*/false),
            int64_t{65536} * 12 * 5 * 12 * 1024 * 2);
  // Under one chunk, the logits grow with the tokens.
  EXPECT_EQ(EstimateTrainingMemoryBytes(s, 2000, 2) - EstimateTrainingMemoryBytes(s, 1000, 2),
            1000 * (per_token + 2 * 50304 * 2));
}

TEST(ValidateShapeTest, NamesTheFieldAtFault) {
  ModelShape s = SmallTransformer();
  EXPECT_EQ(ValidateShape(s), "");
  s.n_head = 3;
  EXPECT_EQ(ValidateShape(s), "d_model (64) is not divisible by n_head (3)");
  s = SmallTransformer();
  s.d_model = 0;
  EXPECT_EQ(ValidateShape(s), "d_model must be positive (got 0)");
  s = SmallLstm();
  s.n_layer = -1;
  EXPECT_EQ(ValidateShape(s), "n_layer must be positive (got -1)");
}

}  // namespace
}  // namespace ladder::model
