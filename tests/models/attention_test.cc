// LSH, local and full attention layers under the interpreter: equivalences,
// an independent re-implementation, masks, causality, round combination.
#include "models/attention.h"

#include <gtest/gtest.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "runtime/kernels/counter_rng.h"
#include "tests/models/lsh_reference.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

using testing::max_difference;
using testing::random_tensor;

constexpr int64_t kKey = 1234;

ReformerConfig small_config() {
  ReformerConfig c;
  c.batch = 2;
  c.seq_len = 12;
  c.d_model = 6;
  c.n_heads = 2;
  c.d_head = 3;
  c.chunk_len = 4;
  c.n_hashes = 2;
  c.causal = true;
  return c;
}

// One attention layer with every weight an input, in f64.
struct LayerHarness {
  Graph g{"attention"};
  ReformerConfig config;
  Tensor x, key;
  AttentionWeights w;
  ValueMap feeds;

  explicit LayerHarness(const ReformerConfig& c, bool separate_key = false, uint64_t seed = 1) : config(c) {
    g.set_default_float(DType::f64);
    int64_t hd = c.n_heads * c.d_head;
    TensorType tx{DType::f64, {c.batch, c.seq_len, c.d_model}};
    x = g.input("x", tx);
    key = g.input("key", {DType::i64, {}});
    w.w_q = g.input("w_q", {DType::f64, {c.d_model, hd}});
    if (separate_key) w.w_k = g.input("w_k", {DType::f64, {c.d_model, hd}});
    w.w_v = g.input("w_v", {DType::f64, {c.d_model, hd}});
    w.w_o = g.input("w_o", {DType::f64, {hd, c.d_model}});
    feeds["x"] = random_tensor({tx}, seed);
    feeds["key"] = HostTensor::scalar(DType::i64, kKey);
    for (const char* name : {"w_q", "w_k", "w_v", "w_o"}) {
      int id = g.find_node(name);
      if (id >= 0) feeds[name] = random_tensor({g.node(id).type}, seed + std::hash<std::string>{}(name) % 1000);
    }
  }
  AttentionRandomness rng() { return {key, 16}; }
  HostTensor run(Tensor y, const ValueMap& extra = {}) {
    g.mutable_outputs().clear();
    g.output("y", y);
    ValueMap f = feeds;
    for (const auto& [k, v] : extra) f[k] = v;
    return run_graph(g, f).at("y");
  }
};

TEST(LshAttention, OneChunkAndOneRoundEqualsFullSharedQkAttention) {
  for (bool causal : {true, false}) {
    ReformerConfig c = small_config();
    c.chunk_len = c.seq_len;
    c.n_hashes = 1;
    c.causal = causal;
    LayerHarness h(c);
    Tensor buckets = lsh_buckets(h.x, h.w.w_q, h.rng(), c);
    HostTensor lsh = h.run(lsh_attention(h.x, h.w, buckets, h.rng(), c));
    HostTensor full = h.run(full_attention(h.x, h.w, h.rng(), c));
    // The self-mask logit sits near -1e5, where a double's spacing is
    // 1.5e-11; a query that sees only itself (twice, through the wrapped
    // look-back) gets weights 1/2 +- that, hence a 1e-9 bound, not 1e-15.
    EXPECT_LT(max_difference(lsh, full), 1e-9) << "causal=" << causal;
  }
}

struct ReferenceCase {
  std::string name;
  int64_t seq_len, chunk, rounds, buckets;
  bool causal;
  double input_scale = 1.0;  // small inputs make small-norm keys
};

class LshAgainstReference : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(LshAgainstReference, MatchesIndependentLoops) {
  const ReferenceCase& rc = GetParam();
  ReformerConfig c = small_config();
  c.seq_len = rc.seq_len;
  c.chunk_len = rc.chunk;
  c.n_hashes = rc.rounds;
  c.n_buckets = rc.buckets;
  c.causal = rc.causal;
  LayerHarness h(c);
  for (double& v : h.feeds["x"].data) v *= rc.input_scale;
  const int64_t stream = h.rng().stream;
  Tensor buckets = lsh_buckets(h.x, h.w.w_q, h.rng(), c);
  HostTensor model = h.run(lsh_attention(h.x, h.w, buckets, h.rng(), c));

  testing::LshReferenceConfig ref{c.batch,  c.seq_len,  c.padded_len(), c.d_model,          c.n_heads,
                                  c.d_head, c.n_hashes, c.chunk_len,    c.bucket_factors(), c.causal};
  int64_t cols = 0;
  for (int64_t f : ref.bucket_factors) cols += f / 2;
  std::vector<double> rotations(c.n_heads * c.d_head * c.n_hashes * cols);
  for (size_t i = 0; i < rotations.size(); ++i) rotations[i] = kernels::counter_normal(kKey, stream, i);
  std::vector<double> expected = testing::lsh_attention_reference(ref, h.feeds["x"].data, h.feeds["w_q"].data,
                                                                  h.feeds["w_v"].data, h.feeds["w_o"].data, rotations);
  ASSERT_EQ(model.size(), static_cast<int64_t>(expected.size()));
  double worst = 0;
  for (int64_t i = 0; i < model.size(); ++i) worst = std::max(worst, std::fabs(model[i] - expected[i]));
  EXPECT_LT(worst, 1e-10);
}

INSTANTIATE_TEST_SUITE_P(Configs, LshAgainstReference,
                         ::testing::Values(ReferenceCase{"causal_two_rounds", 12, 4, 2, 0, true},
                                           ReferenceCase{"bidirectional_three_rounds", 12, 4, 3, 0, false},
                                           ReferenceCase{"padded_length_10_chunk_4", 10, 4, 2, 0, true},
                                           ReferenceCase{"single_chunk_per_round", 8, 8, 2, 4, true},
                                           ReferenceCase{"factorised_256_buckets", 256, 2, 1, 0, true},
                                           // |q|^2 ~ 1e-6: trax's d_head * 1e-6 in the key norm matters.
                                           ReferenceCase{"small_norm_keys", 12, 4, 2, 0, true, 1e-3}),
                         [](const auto& info) { return info.param.name; });

TEST(LshAttention, FactorisesLargeBucketCounts) {
  ReformerConfig c;
  c.seq_len = 256;
  c.chunk_len = 2;
  EXPECT_EQ(c.buckets(), 256);
  EXPECT_EQ(c.bucket_factors(), (std::vector<int64_t>{16, 16}));
  c.seq_len = 64;
  EXPECT_EQ(c.bucket_factors(), (std::vector<int64_t>{64}));
}

// Outputs at positions <= i must not change when anything at positions > i
// changes. For LSH the bucket decisions are held fixed: a future token's
// bucket can move chunk boundaries (a property of LSH attention itself),
// but no value of a future token may reach an earlier output.
TEST(Attention, CausalOutputsIgnoreTheFuture) {
  for (AttentionKind kind : {AttentionKind::full, AttentionKind::local, AttentionKind::lsh}) {
    ReformerConfig c = small_config();
    LayerHarness h(c, kind != AttentionKind::lsh);
    Tensor buckets_input = h.g.input("buckets", {DType::i64, {c.batch, c.n_heads, c.n_hashes, c.padded_len()}});
    Tensor y = kind == AttentionKind::full    ? full_attention(h.x, h.w, h.rng(), c)
               : kind == AttentionKind::local ? local_attention(h.x, h.w, h.rng(), c)
                                              : lsh_attention(h.x, h.w, buckets_input, h.rng(), c);
    HostTensor buckets = h.run(lsh_buckets(h.x, h.w.w_q, h.rng(), c));
    HostTensor before = h.run(y, {{"buckets", buckets}});
    for (int64_t i : {0, 5, 10}) {
      HostTensor x = h.feeds["x"];
      for (int64_t b = 0; b < c.batch; ++b)
        for (int64_t t = i + 1; t < c.seq_len; ++t)
          for (int64_t k = 0; k < c.d_model; ++k) x[(b * c.seq_len + t) * c.d_model + k] += 3.0;
      HostTensor after = h.run(y, {{"x", x}, {"buckets", buckets}});
      for (int64_t b = 0; b < c.batch; ++b)
        for (int64_t t = 0; t <= i; ++t)
          for (int64_t k = 0; k < c.d_model; ++k) {
            int64_t at = (b * c.seq_len + t) * c.d_model + k;
            ASSERT_EQ(before[at], after[at])
                << attention_kind_name(kind) << " position " << t << " after change > " << i;
          }
      // And the change is visible after i (the test can fail).
      double moved = 0;
      for (int64_t t = i + 1; t < c.seq_len; ++t) moved += std::fabs(before[t * c.d_model] - after[t * c.d_model]);
      EXPECT_GT(moved, 0.0) << attention_kind_name(kind);
    }
  }
}

// Shared-QK: position 0 has only itself to attend to; every later position
// has other keys, so its own key (masked by 1e5) gets no weight. With a
// causal single chunk, position 1 therefore copies position 0's value.
TEST(Attention, SelfMaskAppliesOnlyWhenOtherKeysExist) {
  ReformerConfig c = small_config();
  c.chunk_len = c.seq_len;
  c.n_hashes = 1;
  LayerHarness h(c);
  HostTensor y = h.run(full_attention(h.x, h.w, h.rng(), c));
  Tensor v_out = linear(linear(h.x, h.w.w_v), h.w.w_o);  // each position's own value, projected
  HostTensor own = h.run(v_out);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t k = 0; k < c.d_model; ++k) {
      int64_t p0 = (b * c.seq_len) * c.d_model + k, p1 = (b * c.seq_len + 1) * c.d_model + k;
      EXPECT_NEAR(y[p0], own[p0], 1e-12);  // only itself
      EXPECT_NEAR(y[p1], own[p0], 1e-12);  // itself excluded: all weight on position 0
      EXPECT_GT(std::fabs(y[p1] - own[p1]), 1e-6);
    }
}

// Permuting the hash rounds permutes the per-round outputs and their
// logsumexps together; the softmax-over-rounds combination is symmetric.
// In paper mode keys never cross rounds, so the layer output is exactly
// invariant. (In trax mode the wrap-around look-back lets round r+1's first
// chunk see round r's last chunk, so the order of rounds matters slightly.)
TEST(LshAttention, PermutingRoundsLeavesTheOutputUnchanged) {
  ReformerConfig c = small_config();
  c.n_hashes = 3;
  c.attention_mode = AttentionMode::paper;
  LayerHarness h(c);
  Tensor buckets_input = h.g.input("buckets", {DType::i64, {c.batch, c.n_heads, c.n_hashes, c.padded_len()}});
  Tensor y = lsh_attention(h.x, h.w, buckets_input, h.rng(), c);
  HostTensor buckets = h.run(lsh_buckets(h.x, h.w.w_q, h.rng(), c));
  HostTensor permuted = buckets;
  int64_t lp = c.padded_len(), per_round = lp;
  const int64_t order[3] = {2, 0, 1};
  for (int64_t bh = 0; bh < c.batch * c.n_heads; ++bh)
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t t = 0; t < per_round; ++t) permuted[(bh * 3 + r) * lp + t] = buckets[(bh * 3 + order[r]) * lp + t];
  HostTensor a = h.run(y, {{"buckets", buckets}});
  HostTensor b = h.run(y, {{"buckets", permuted}});
  EXPECT_LT(max_difference(a, b), 1e-12);
  EXPECT_NE(buckets.data, permuted.data);
}

TEST(LshAttention, PaperModeAttendsOnlyWithinTheBucket) {
  // With every position in its own bucket (buckets = position), a causal
  // paper-mode query has no same-bucket key but itself: it returns its own value.
  ReformerConfig c = small_config();
  c.n_hashes = 1;
  c.n_buckets = c.seq_len;
  c.attention_mode = AttentionMode::paper;
  LayerHarness h(c);
  Tensor buckets_input = h.g.input("buckets", {DType::i64, {c.batch, c.n_heads, 1, c.padded_len()}});
  HostTensor buckets({DType::i64, {c.batch, c.n_heads, 1, c.padded_len()}});
  for (int64_t i = 0; i < buckets.size(); ++i) buckets[i] = static_cast<double>(i % c.padded_len());
  HostTensor y = h.run(lsh_attention(h.x, h.w, buckets_input, h.rng(), c), {{"buckets", buckets}});
  HostTensor own = h.run(linear(linear(h.x, h.w.w_v), h.w.w_o));
  EXPECT_LT(max_difference(y, own), 1e-9);
}

TEST(LocalAttention, OneChunkEqualsFullAttention) {
  ReformerConfig c = small_config();
  c.chunk_len = c.seq_len;
  LayerHarness h(c, /*separate_key=*/true);
  // A single chunk looks back at itself: every key appears twice, which
  // leaves the softmax unchanged.
  HostTensor local = h.run(local_attention(h.x, h.w, h.rng(), c));
  HostTensor full = h.run(full_attention(h.x, h.w, h.rng(), c));
  EXPECT_LT(max_difference(local, full), 1e-12);
}

}  // namespace
}  // namespace reforge
