// The passes know ops by their traits (OpDef), never by their names: an op
// this test registers under a new name gets the same rewrites as the
// built-in op whose traits it declares — simplification drops it with its
// identity element, the GEMM epilogue takes it as an activation, and it is
// fed or computed as its source kind says.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/kernel/lowering_hooks.h"
#include "compiler/passes/algebraic_simplification.h"
#include "compiler/passes/matmul_epilogue.h"
#include "compiler/pipeline/cpu_executable.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"

namespace reforge {
namespace {

// "test_plus": a + b under another name, with add's identity elements.
// "test_square": x * x, declared as an activation a GEMM epilogue applies.
void register_test_ops() {
  static const bool registered = [] {
    register_op({.name = "test_plus",
                 .arity = 2,
                 .infer = [](const InferContext& c) { return c.inputs[0]; },
                 .eval =
                     [](const EvalContext& c) {
                       HostTensor out(c.node.type);
                       for (int64_t i = 0; i < out.size(); ++i) out[i] = (*c.inputs[0])[i] + (*c.inputs[1])[i];
                       return out;
                     },
                 .kind = OpKind::elementwise,
                 .element = [](const kir::ElementContext& c) {
                   return c.b.add(c.read(0, c.coords), c.read(1, c.coords));
                 },
                 .left_identity = 0.0,
                 .right_identity = 0.0});
    register_op({.name = "test_square",
                 .arity = 1,
                 .infer = [](const InferContext& c) { return c.inputs[0]; },
                 .eval =
                     [](const EvalContext& c) {
                       HostTensor out(c.node.type);
                       for (int64_t i = 0; i < out.size(); ++i) out[i] = (*c.inputs[0])[i] * (*c.inputs[0])[i];
                       return out;
                     },
                 .kind = OpKind::elementwise,
                 .element =
                     [](const kir::ElementContext& c) {
                       const kir::ValueId x = c.read(0, c.coords);
                       return c.b.mul(x, x);
                     },
                 .epilogue_stage = EpilogueStage::activation});
    return true;
  }();
  (void)registered;
}

TEST(OpTraits, SimplificationDropsAnOpWithItsIdentityElement) {
  register_test_ops();
  Graph g("plus_zero");
  Tensor x = g.input("x", {DType::f32, {4}});
  Tensor zero = constant(g, 0.0, x.type());
  g.output("left", g.add("test_plus", {zero, x}, {}, SourceLoc{}));
  g.output("right", g.add("test_plus", {x, zero}, {}, SourceLoc{}));
  Tensor one = full_like(x, 1.0);
  g.output("kept", g.add("test_plus", {x, one}, {}, SourceLoc{}));
  std::unique_ptr<Graph> out = simplify_algebra(g);
  EXPECT_EQ(out->find_output("left"), out->find_output("right"));
  EXPECT_EQ(out->node(out->find_output("left")).op, "input");
  EXPECT_EQ(out->node(out->find_output("kept")).op, "test_plus");
}

TEST(OpTraits, AGemmEpilogueAppliesAnActivationDeclaredForIt) {
  register_test_ops();
  Graph g("square_of_product");
  Tensor x = g.input("x", {DType::f32, {24, 40}});
  Tensor w = g.input("w", {DType::f32, {40, 16}});
  g.output("y", g.add("test_square", {matmul(x, w)}, {}, SourceLoc{}));
  std::unique_ptr<Graph> fused = fuse_matmul_epilogues(g);
  EXPECT_EQ(testing::count_ops(*fused, "test_square"), 0);
  ASSERT_EQ(testing::count_ops(*fused, "matmul_epilogue"), 1);
  for (int id = 0; id < fused->size(); ++id) {
    if (fused->node(id).op == "matmul_epilogue") {
      EXPECT_EQ(fused->node(id).attrs.get_string("activation"), "test_square");
    }
  }

  ValueMap feeds;
  feeds.emplace("x", testing::random_tensor({x.type(), -1.0, 1.0}, 3));
  feeds.emplace("w", testing::random_tensor({w.type(), -1.0, 1.0}, 4));
  const HostTensor expected = run_graph(g, feeds).at("y");
  auto compiled = CpuExecutable::build(g, {});
  for (const auto& [name, value] : feeds) compiled->feed(name, value);
  compiled->run();
  const HostTensor y = compiled->read_output("y");
  for (int64_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-5 * (1.0 + expected[i])) << i;
}

TEST(OpTraits, SourcesAreKnownByTheirKind) {
  Graph g("sources");
  Tensor x = g.input("x", {DType::f32, {2}});
  Tensor p = g.param("p", {2});
  EXPECT_EQ(source_kind(x.node()), SourceKind::input);
  EXPECT_EQ(source_kind(p.node()), SourceKind::param);
  EXPECT_TRUE(is_fed(x.node()));
  Tensor y = x * p;
  EXPECT_EQ(source_kind(y.node()), SourceKind::none);
  EXPECT_FALSE(is_source(y.node()));
  EXPECT_EQ(parameters(g).size(), 1u);
}

}  // namespace
}  // namespace reforge
