// A deliberately broken variant, registered as any variant is: a shape
// mistake in its own code, and one that a building block trips over, must
// both name this file and the line of the variant that made it, and both
// shapes.
#include <gtest/gtest.h>

#include <string>

#include "compiler/dsl/dsl.h"
#include "models/architecture.h"
#include "models/blocks/heads.h"
#include "models/model_registry.h"
#include "models/reformer_step.h"

namespace reforge {
namespace {

int own_mistake_line = 0, block_mistake_line = 0;

// Its own code multiplies by a weight of the wrong width.
ModelOutputs build_wrong_weight(Graph& g, const ReformerConfig& c, const ReformerBuild&) {
  Tensor tokens = g.input("tokens", {DType::i64, {c.batch, c.seq_len}});
  Tensor x = embed_tokens(g, tokens, c).x;
  Tensor w = g.param("w", {c.d_model + 1, 4}, Init::zeros());
  own_mistake_line = __LINE__ + 1;
  Tensor y = linear(x, w);
  return {y, sum_all(y), sum_all(y)};
}

// It scores per-position logits against one label per sequence.
ModelOutputs build_wrong_rank(Graph& g, const ReformerConfig& c, const ReformerBuild&) {
  Tensor tokens = g.input("tokens", {DType::i64, {c.batch, c.seq_len}});
  Tensor labels = g.input("targets", {DType::i64, {c.batch}});
  Tensor logits = linear(embed_tokens(g, tokens, c).x, g.param("w", {c.d_model, 2}, Init::zeros()));
  Tensor weights = g.input("weights", {DType::f32, {c.batch}});
  block_mistake_line = __LINE__ + 1;
  LossAndAccuracy scored = weighted_cross_entropy(logits, labels, weights, 1);
  return {logits, scored.loss, scored.accuracy};
}

}  // namespace
}  // namespace reforge

REFORGE_REGISTER_ARCHITECTURE(wrong_weight) {
  return {"wrong-weight", "a broken test variant", reforge::build_wrong_weight};
}
REFORGE_REGISTER_ARCHITECTURE(wrong_rank) { return {"wrong-rank", "a broken test variant", reforge::build_wrong_rank}; }

REFORGE_REGISTER_MODEL(broken_weight) {
  reforge::ModelEntry m{"broken-weight", "a variant with a wrong weight", {}, reforge::byte_lm_task};
  m.config.architecture = "wrong-weight";
  m.config.d_model = 16;
  m.config.seq_len = 8;
  m.config.chunk_len = 4;
  m.config.batch = 2;
  return m;
}

REFORGE_REGISTER_MODEL(broken_rank) {
  reforge::ModelEntry m = make_model_broken_weight();
  m.name = "broken-rank";
  m.config.architecture = "wrong-rank";
  return m;
}

namespace reforge {
namespace {

std::string build_error(const std::string& model) {
  try {
    build_reformer_graph(find_model(model).config, model);
  } catch (const Error& e) {
    return e.what();
  }
  return "(built)";
}

TEST(BrokenVariant, ItsOwnMistakeNamesItsLineAndBothShapes) {
  const std::string error = build_error("broken-weight");
  EXPECT_EQ(error, "tests/models/broken_variant_test.cc:" + std::to_string(own_mistake_line) +
                       ": linear: needs x [..., k] and w [k, n], got f32[2,8,16] and f32[17,4]");
}

TEST(BrokenVariant, AMistakeABlockTripsOverNamesTheVariantsLineFirst) {
  const std::string error = build_error("broken-rank");
  const std::string variant_line = "tests/models/broken_variant_test.cc:" + std::to_string(block_mistake_line) + ": ";
  EXPECT_EQ(error.substr(0, variant_line.size()), variant_line) << error;
  EXPECT_NE(error.find("in the block at models/blocks/heads.cc:"), std::string::npos) << error;
  EXPECT_NE(error.find("for logits f32[2,8,2], got i64[2]"), std::string::npos) << error;
}

}  // namespace
}  // namespace reforge
