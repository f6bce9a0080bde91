// The one-token decode step against the whole-window forward pass, both
// under the interpreter in f64: the cached step's logits at each position
// are the forward pass's at that position over the same prefix, for every
// attention kind where the semantics allow exactness (decode_step.h).
#include "models/decode_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compiler/interpreter/interpreter.h"
#include "models/reformer_step.h"
#include "tests/testing/interpreted_decoder.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

using testing::tiny_decode_config;

std::vector<int64_t> random_tokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int64_t> t(n);
  for (int64_t& x : t) x = static_cast<int64_t>(gen() % static_cast<uint32_t>(vocab));
  return t;
}

// The forward pass's logits at position t over tokens[0..t] (the rest of
// the window padding, past valid_length).
std::vector<double> forward_logits(const Graph& forward, const ValueMap& params, const ReformerConfig& c,
                                   const std::vector<int64_t>& tokens, int64_t t) {
  ValueMap feeds = params;
  HostTensor tok({DType::i64, {1, c.seq_len}}), targets({DType::i64, {1, c.seq_len}});
  HostTensor weights({DType::f64, {1, c.seq_len}});
  for (int64_t i = 0; i <= t; ++i) tok[i] = static_cast<double>(tokens[i]);
  weights[0] = 1.0;
  feeds["tokens"] = tok;
  feeds["targets"] = targets;
  feeds["loss_weights"] = weights;
  feeds["rng"] = HostTensor::scalar(DType::i64, 0.0);
  feeds["valid_length"] = HostTensor::scalar(DType::i64, static_cast<double>(t + 1));
  const HostTensor logits = run_graph(forward, feeds).at("logits");
  return {logits.data.begin() + t * c.vocab_size, logits.data.begin() + (t + 1) * c.vocab_size};
}

// Largest difference over the positions 0..n-1 between the cached step
// and the forward pass.
double cached_against_forward(const ReformerConfig& c, int64_t n, uint32_t seed) {
  std::unique_ptr<Graph> forward = build_reformer_eval_graph(c, "t", DType::f64, {.valid_length_input = true});
  ValueMap params = initial_values(*forward, seed);
  testing::InterpretedDecoder decoder(c, params);
  std::vector<int64_t> tokens = random_tokens(n, c.vocab_size, seed);
  double worst = 0.0;
  for (int64_t t = 0; t < n; ++t) {
    std::vector<double> cached = decoder.step(tokens[t], t);
    std::vector<double> whole = forward_logits(*forward, params, c, tokens, t);
    for (size_t i = 0; i < cached.size(); ++i) worst = std::max(worst, std::abs(cached[i] - whole[i]));
  }
  return worst;
}

// The sums run in another order (over the whole cache, not the chunk
// window), so f64 agreement is to rounding, far below any real change.
constexpr double kF64 = 1e-11;

TEST(DecodeStep, LshLayerEqualsTheForwardPassOverEachPrefix) {
  for (int64_t hashes : {1, 2, 4}) {
    for (int64_t chunk : {4, 8}) {
      ReformerConfig c = tiny_decode_config({AttentionKind::lsh}, 1, hashes, chunk);
      EXPECT_LT(cached_against_forward(c, c.seq_len, 7 + static_cast<uint32_t>(hashes)), kF64)
          << hashes << " hashes, chunks of " << chunk;
    }
  }
}

TEST(DecodeStep, LshLayerWithUnevenWindowAndOneChunkEqualsTheForwardPass) {
  ReformerConfig c = tiny_decode_config({AttentionKind::lsh}, 1, 2, 4);
  c.seq_len = 14;  // padded to 16: the padding bucket sorts last
  EXPECT_LT(cached_against_forward(c, c.seq_len, 3), kF64);
  c = tiny_decode_config({AttentionKind::lsh}, 1, 3, 16);  // one chunk a round: the window wraps to the previous round
  EXPECT_LT(cached_against_forward(c, c.seq_len, 4), kF64);
}

TEST(DecodeStep, LocalAndFullLayersEqualTheForwardPassAtAnyDepth) {
  for (bool reversible : {true, false}) {
    ReformerConfig local = tiny_decode_config({AttentionKind::local}, 3, 1, 4);
    local.reversible = reversible;
    EXPECT_LT(cached_against_forward(local, local.seq_len, 5), kF64) << "local, reversible " << reversible;
    ReformerConfig full = tiny_decode_config({AttentionKind::full, AttentionKind::local}, 2, 1, 4);
    full.reversible = reversible;
    full.tied_embedding = true;
    EXPECT_LT(cached_against_forward(full, full.seq_len, 6), kF64) << "full, reversible " << reversible;
  }
}

TEST(DecodeStep, AnLshLayerAfterOthersIsExactWhenItIsTheLast) {
  ReformerConfig c = tiny_decode_config({AttentionKind::local, AttentionKind::lsh}, 2, 2, 4);
  EXPECT_LT(cached_against_forward(c, c.seq_len, 8), kF64);
}

TEST(DecodeStep, ALayerAfterAnLshLayerSeesTheStatesACacheKeeps) {
  // The whole-window pass re-chunks earlier positions as tokens arrive; a
  // cache keeps them as they were, so the two part (decode_step.h). This
  // pins down that the difference exists and stays a small change of the
  // logits, not a broken cache.
  ReformerConfig c = tiny_decode_config({AttentionKind::lsh}, 2, 2, 4);
  double difference = cached_against_forward(c, c.seq_len, 9);
  EXPECT_GT(difference, kF64);
  EXPECT_LT(difference, 1.0);
}

// A prefill of the first n tokens, then steps, against steps from the
// start: the largest difference of the logits from position n-1 on.
double prefilled_against_stepped(const ReformerConfig& c, int64_t n, uint32_t seed) {
  std::unique_ptr<Graph> forward = build_reformer_eval_graph(c, "t", DType::f64, {.valid_length_input = true});
  ValueMap params = initial_values(*forward, seed);
  testing::InterpretedDecoder stepped(c, params), prefilled(c, params);
  std::vector<int64_t> tokens = random_tokens(c.seq_len, c.vocab_size, seed);
  std::vector<double> reference;
  for (int64_t t = 0; t < n; ++t) reference = stepped.step(tokens[t], t);
  // Caches holding another context first: the prefill must replace them all.
  for (int64_t t = 0; t < c.seq_len; ++t) prefilled.step((tokens[t] + 1) % c.vocab_size, t);
  std::vector<double> logits = prefilled.prefill(tokens, n);
  double worst = 0.0;
  for (int64_t t = n;; ++t) {
    for (size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::abs(logits[i] - reference[i]));
    if (t == c.seq_len) return worst;
    reference = stepped.step(tokens[t], t);
    logits = prefilled.step(tokens[t], t);
  }
}

TEST(DecodeStep, APrefillFillsTheCachesAsTheStepsWould) {
  for (int64_t n : {1, 5, 15}) {
    for (int64_t hashes : {1, 3}) {
      ReformerConfig lsh = tiny_decode_config({AttentionKind::lsh}, 1, hashes, 4);
      EXPECT_LT(prefilled_against_stepped(lsh, n, 21), kF64) << "LSH, " << hashes << " hashes, prefix " << n;
    }
    ReformerConfig mixed = tiny_decode_config({AttentionKind::local, AttentionKind::full, AttentionKind::lsh}, 3, 2, 4);
    mixed.reversible = n != 5;
    EXPECT_LT(prefilled_against_stepped(mixed, n, 22), kF64) << "local, full, LSH, prefix " << n;
  }
  ReformerConfig padded = tiny_decode_config({AttentionKind::lsh}, 1, 2, 4);
  padded.seq_len = 14;
  EXPECT_LT(prefilled_against_stepped(padded, 9, 23), kF64);
}

TEST(DecodeStep, APrefillsLogitsAreTheForwardPasss) {
  // Any model, LSH after LSH included: the prefill is the forward pass.
  ReformerConfig c = tiny_decode_config({AttentionKind::lsh}, 2, 2, 4);
  std::unique_ptr<Graph> forward = build_reformer_eval_graph(c, "t", DType::f64, {.valid_length_input = true});
  ValueMap params = initial_values(*forward, 24);
  testing::InterpretedDecoder decoder(c, params);
  std::vector<int64_t> tokens = random_tokens(c.seq_len, c.vocab_size, 24);
  for (int64_t n : {1, 7, 16}) {
    std::vector<double> prefill = decoder.prefill(tokens, n),
                        whole = forward_logits(*forward, params, c, tokens, n - 1);
    for (size_t i = 0; i < prefill.size(); ++i) ASSERT_EQ(prefill[i], whole[i]) << "prefix " << n;
  }
}

TEST(DecodeStep, TheCachesAreWhatTheHeaderSays) {
  ReformerConfig c = tiny_decode_config({AttentionKind::lsh, AttentionKind::local}, 2, 2, 8);
  c.seq_len = 128;  // a window much wider than the model (and the buckets' count matrix, (2L/C)^2)
  DecodeStep step = build_reformer_decode_step(c);
  std::vector<std::string> rows, whole;
  for (const runtime::CarriedSlot& c : step.carried_rows) rows.push_back(c.slot);
  for (const runtime::CarriedSlot& c : step.carried) whole.push_back(c.slot);
  EXPECT_EQ(rows, (std::vector<std::string>{"layer0.attn.cache.k", "layer0.attn.cache.v", "layer0.attn.cache.bucket",
                                            "layer0.attn.cache.rank", "layer1.attn.cache.k", "layer1.attn.cache.v"}));
  EXPECT_EQ(whole, (std::vector<std::string>{"layer0.attn.cache.counts"}));
  // Nothing in a step is as large as the window times a feed-forward or
  // model width: the whole-window work is the caches' dot products.
  const int64_t window_by_width = c.seq_len * std::max(c.d_ff, c.d_model);
  for (int id = 0; id < step.graph->size(); ++id) {
    const Node& node = step.graph->node(id);
    if (is_source(node)) continue;  // parameters and the caches themselves
    EXPECT_LT(node.type.elements(), window_by_width) << node.name << " " << node.op;
  }
}

TEST(DecodeStep, ModelsThatCannotDecodeOneTokenAtATimeAreRefused) {
  ReformerConfig c = tiny_decode_config({AttentionKind::lsh}, 1, 2, 4);
  c.causal = false;
  EXPECT_THROW(build_reformer_decode_step(c), Error);
  c.causal = true;
  c.attention_mode = AttentionMode::paper;
  EXPECT_THROW(build_reformer_decode_step(c), Error);
}

}  // namespace
}  // namespace reforge
