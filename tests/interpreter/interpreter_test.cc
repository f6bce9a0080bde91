// The interpreter's contract with its caller: feeds are checked by name and
// type, only needed nodes run, and parameters initialise deterministically.
#include "compiler/interpreter/interpreter.h"

#include <gtest/gtest.h>

#include <cstring>

#include "compiler/dsl/dsl.h"
#include "models/reformer_step.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

TEST(Interpreter, MissingFeedIsNamed) {
  Graph g;
  Tensor x = g.input("tokens", {DType::f32, {2}});
  g.output("y", exp(x));
  try {
    run_graph(g, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "no value fed for input 'tokens'");
  }
}

TEST(Interpreter, MistypedFeedNamesBothTypes) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 3}});
  g.output("y", exp(x));
  try {
    run_graph(g, {{"x", HostTensor({DType::f32, {3, 2}})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "value fed for 'x' is f32[3,2], the graph declares f32[2,3]");
  }
}

TEST(Interpreter, UnneededNodesDoNotRun) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2}});
  g.input("unused", {DType::f32, {2}});                        // not fed, not needed
  Tensor bad = take(x, constant(g, 7, {DType::i64, {1}}), 0);  // would fail if evaluated
  (void)bad;
  g.output("y", x * 2.0);
  auto out = run_graph(g, {{"x", HostTensor({DType::f32, {2}}, {1, 2})}});
  EXPECT_EQ(out["y"].data, (std::vector<double>{2, 4}));
}

TEST(Interpreter, PromotionSkipsFloatRounding) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {1}});
  g.output("y", x / 3.0);
  ValueMap feeds{{"x", HostTensor({DType::f32, {1}}, {1})}};
  EXPECT_EQ(run_graph(g, feeds)["y"][0], static_cast<double>(1.0f / 3.0f));
  EXPECT_EQ(run_graph(g, feeds, {.promote_f32_to_f64 = true})["y"][0], 1.0 / 3.0);
}

TEST(Interpreter, InitialValuesAreDeterministicAndFollowTheInitialiser) {
  Graph g;
  g.param("w", {64}, Init::normal(0.1));
  g.param("u", {64}, Init::uniform(0.5));
  g.param("z", {3}, Init::zeros());
  g.param("c", {2}, Init::constant(0.25));
  ValueMap a = initial_values(g, 1), b = initial_values(g, 1), c = initial_values(g, 2);
  EXPECT_EQ(a["w"].data, b["w"].data);
  EXPECT_NE(a["w"].data, c["w"].data);
  EXPECT_NE(a["w"].data, a["u"].data);
  for (double v : a["u"].data) EXPECT_LE(std::abs(v), 0.5);
  EXPECT_EQ(a["z"].data, (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(a["c"].data, (std::vector<double>{0.25, 0.25}));
}

// The oracle's results pinned bit for bit: a hash of every output (loss,
// accuracy, every next parameter and moment) of one f32 training step of
// the tiny Reformer, recorded before the reference kernels were made
// faster. Changing how the interpreter computes must not change a bit.
// (Re-recorded twice since, when the graph itself changed: the tiny
// Reformer's local attention became the fused chunked-attention op, whose
// reference kernel sums in another order than the decomposition; then
// layer norm became one op, 3158006229192600801 before.)
uint64_t hash_outputs(const ValueMap& outputs) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& [name, value] : outputs) {
    for (char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    for (double v : value.data) {
      uint64_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      h = (h ^ bits) * 0x100000001b3ULL;
    }
  }
  return h;
}

TEST(Interpreter, TrainingStepResultsAreUnchangedBitForBit) {
  ReformerConfig config = testing::tiny_reformer_config();
  CompiledStep step = compile_reformer_step(config);
  ValueMap feeds = testing::model_feeds(*step.graph, config, 7);
  ValueMap outputs = run_graph(*step.graph, feeds);
  EXPECT_EQ(hash_outputs(outputs), 13320451998756039905ULL) << std::hex << hash_outputs(outputs);
}

}  // namespace
}  // namespace reforge
