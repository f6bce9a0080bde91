// General passes: golden-text rewrites, value preservation on the Reformer
// training step, and the pass manager's verification and printing.
#include <gtest/gtest.h>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/parser.h"
#include "compiler/ir/printer.h"
#include "compiler/passes/algebraic_simplification.h"
#include "compiler/passes/common_subexpression_elimination.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/expand_structured.h"
#include "compiler/passes/pass_manager.h"
#include "compiler/pipeline/compile.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

std::string run_pass(std::unique_ptr<Graph> (*pass)(const Graph&), const std::string& text) {
  return print_graph(*pass(*parse_graph(text)));
}

TEST(Simplify, GoldenRewrite) {
  const std::string in = R"(graph g {
  %x = input() : f32[2,3]
  %one = constant() {dtype="f32", shape=[2,3], value=1.0} : f32[2,3]
  %zero = constant() {dtype="f32", shape=[2,3], value=0.0} : f32[2,3]
  %a = mul(%x, %one) : f32[2,3]
  %b = add(%zero, %a) : f32[2,3]
  %r1 = reshape(%b) {shape=[3,2]} : f32[3,2]
  %r2 = reshape(%r1) {shape=[6]} : f32[6]
  %t = transpose(%x) {perm=[0,1]} : f32[2,3]
  %n = neg(%t) : f32[2,3]
  %nn = neg(%n) : f32[2,3]
  %keep = sub(%nn, %b) : f32[2,3]
  %back = add(%keep, %b) : f32[2,3]
  return y=%r2, z=%back
}
)";
  // (keep + b) is not folded back to nn: cancellations are never applied.
  // Dead values (r1, n) stay: removing them is DCE's job.
  const std::string expected = R"(graph g {
  %x = input() : f32[2,3]
  %one = constant() {dtype="f32", shape=[2,3], value=1.0} : f32[2,3]
  %zero = constant() {dtype="f32", shape=[2,3], value=0.0} : f32[2,3]
  %r1 = reshape(%x) {shape=[3,2]} : f32[3,2]
  %r2 = reshape(%x) {shape=[6]} : f32[6]
  %n = neg(%x) : f32[2,3]
  %keep = sub(%x, %x) : f32[2,3]
  %back = add(%keep, %x) : f32[2,3]
  return y=%r2, z=%back
}
)";
  EXPECT_EQ(run_pass(simplify_algebra, in), expected);
}

// A slice of a concat inside one part becomes that part, or the same
// slice of it; one across parts or along another axis stays.
TEST(Simplify, SliceOfConcatGolden) {
  const std::string in = R"(graph g {
  %a = input() : f32[2,3]
  %b = input() : f32[4,3]
  %c = concat(%a, %b) {axis=0} : f32[6,3]
  %whole_b = slice(%c) {axis=0, end=6, start=2} : f32[4,3]
  %in_b = slice(%c) {axis=0, end=5, start=3} : f32[2,3]
  %across = slice(%c) {axis=0, end=3, start=1} : f32[2,3]
  %columns = slice(%c) {axis=1, end=2, start=0} : f32[6,2]
  return p=%whole_b, q=%in_b, r=%across, s=%columns
}
)";
  const std::string expected = R"(graph g {
  %a = input() : f32[2,3]
  %b = input() : f32[4,3]
  %c = concat(%a, %b) {axis=0} : f32[6,3]
  %in_b = slice(%b) {axis=0, end=3, start=1} : f32[2,3]
  %across = slice(%c) {axis=0, end=3, start=1} : f32[2,3]
  %columns = slice(%c) {axis=1, end=2, start=0} : f32[6,2]
  return p=%b, q=%in_b, r=%across, s=%columns
}
)";
  EXPECT_EQ(run_pass(simplify_algebra, in), expected);
}

// Simplify, CSE and DCE reach into regions: a chunked body's reshape of a
// reshape, its duplicate tanh and its dead value are all cleaned up.
TEST(Passes, ReachIntoRegionsGolden) {
  Graph g("regions");
  Tensor x = g.input("x", {DType::f32, {4, 6}});
  Tensor w = g.input("w", {DType::f32, {6, 6}});
  g.output("y", chunked_map({x}, {w}, 0, 2, [](Graph&, const std::vector<Tensor>& a) {
             Tensor flat = reshape(reshape(a[0], {12}), {2, 6}).named("flat");
             Tensor dead = exp(flat).named("dead");
             (void)dead;
             return (tanh(matmul(flat, a[1])) + tanh(matmul(flat, a[1]))).named("sum");
           }));
  std::unique_ptr<Graph> out = eliminate_dead_code(*eliminate_common_subexpressions(*simplify_algebra(g)));
  EXPECT_EQ(print_graph(*out, {.locations = false}), R"(graph regions {
  %x = input() : f32[4,6]
  %w = input() : f32[6,6]
  %chunked_map = chunked_map(%x, %w) {axis=0, chunks=2, sliced=1} : f32[4,6] regions {
    graph body {
      %arg0 = arg() {index=0} : f32[2,6]
      %arg1 = arg() {index=1} : f32[6,6]
      %matmul = matmul(%arg0, %arg1) : f32[2,6]
      %tanh = tanh(%matmul) : f32[2,6]
      %sum = add(%tanh, %tanh) : f32[2,6]
      return out=%sum
    }
  }
  return y=%chunked_map
}
)");
}

TEST(Cse, GoldenRewrite) {
  const std::string in = R"(graph g {
  %x = input() : f32[4]
  %w = param() {init="zeros", scale=0.0} : f32[4]
  %b1 = broadcast(%w) {shape=[4]} : f32[4]
  %b2 = broadcast(%w) {shape=[4]} : f32[4]
  %e1 = exp(%x) : f32[4]
  %e2 = exp(%x) : f32[4]
  %s = add(%e1, %e2) : f32[4]
  %t = add(%e2, %e1) : f32[4]
  %u = add(%s, %b1) : f32[4]
  %v = add(%t, %b2) : f32[4]
  return y=%u, z=%v
}
)";
  // Equal exps merge, so do the two adds of them (operand order matters);
  // broadcasts of a parameter are left alone (cheaper to recompute).
  const std::string expected = R"(graph g {
  %x = input() : f32[4]
  %w = param() {init="zeros", scale=0.0} : f32[4]
  %b1 = broadcast(%w) {shape=[4]} : f32[4]
  %b2 = broadcast(%w) {shape=[4]} : f32[4]
  %e1 = exp(%x) : f32[4]
  %s = add(%e1, %e1) : f32[4]
  %u = add(%s, %b1) : f32[4]
  %v = add(%s, %b2) : f32[4]
  return y=%u, z=%v
}
)";
  EXPECT_EQ(run_pass(eliminate_common_subexpressions, in), expected);
}

TEST(Dce, GoldenRewrite) {
  const std::string in = R"(graph g {
  %x = input() : f32[4]
  %unused_input = input() : f32[2]
  %dead = exp(%x) : f32[4]
  %dead2 = neg(%dead) : f32[4]
  %live = tanh(%x) : f32[4]
  return y=%live
}
)";
  const std::string expected = R"(graph g {
  %x = input() : f32[4]
  %unused_input = input() : f32[2]
  %live = tanh(%x) : f32[4]
  return y=%live
}
)";
  EXPECT_EQ(run_pass(eliminate_dead_code, in), expected);
}

TEST(ExpandStructured, GoldenRewrite) {
  const std::string in = R"(graph g {
  %x = input() : f32[4,2]
  %w = input() : f32[2,2]
  %chunked_map = chunked_map(%x, %w) {axis=0, chunks=2, sliced=1} : f32[4,2] regions {
    graph body {
      %arg0 = arg() {index=0} : f32[2,2]
      %arg1 = arg() {index=1} : f32[2,2]
      %matmul = matmul(%arg0, %arg1) : f32[2,2]
      %tanh = tanh(%matmul) : f32[2,2]
      return out=%tanh
    }
  }
  return y=%chunked_map
}
)";
  const std::string expected = R"(graph g {
  %x = input() : f32[4,2]
  %w = input() : f32[2,2]
  %slice = slice(%x) {axis=0, end=2, start=0} : f32[2,2]
  %matmul = matmul(%slice, %w) : f32[2,2]
  %tanh = tanh(%matmul) : f32[2,2]
  %slice#1 = slice(%x) {axis=0, end=4, start=2} : f32[2,2]
  %matmul#1 = matmul(%slice#1, %w) : f32[2,2]
  %tanh#1 = tanh(%matmul#1) : f32[2,2]
  %chunked_map = concat(%tanh, %tanh#1) {axis=0} : f32[4,2]
  return y=%chunked_map
}
)";
  // The value that replaces the chunked_map keeps its name (rewrite_graph
  // gives it), so plans and profiles name it as the model did.
  EXPECT_EQ(print_graph(*expand_structured(*parse_graph(in))), expected);
}

TEST(PassManager, VerifiesAfterEachPassAndPrintsOnRequest) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2}});
  g.output("y", exp(x));
  std::vector<std::string> printed;
  PassManager pm({{"dce"}, false, [&](const std::string& t) { printed.push_back(t); }});
  pm.add({"dce", eliminate_dead_code});
  pm.add({"breaks-types", [](const Graph& in) {
            auto out = in.clone();
            out->mutable_node(1).type.shape = {3};
            return out;
          }});
  try {
    pm.run(g);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pass 'breaks-types' produced a malformed graph: %exp: type mismatch"),
              std::string::npos)
        << e.what();
  }
  ASSERT_EQ(printed.size(), 1u);
  EXPECT_EQ(printed[0].rfind("// IR after dce\ngraph main {", 0), 0u) << printed[0];

  PassManager unknown({{"no-such-pass"}, false, nullptr});
  unknown.add({"dce", eliminate_dead_code});
  EXPECT_THROW(unknown.run(g), Error);
}

// The whole pipeline leaves the training step's values unchanged: every
// output (loss, updated parameters and moments) is equal with and without it.
TEST(Pipeline, PassesPreserveTheTrainingStepsValues) {
  ReformerConfig c = testing::tiny_reformer_config();
  std::unique_ptr<Graph> model = build_reformer_graph(c);
  CompiledStep optimised = compile_training_step(*model, "loss", {}, {});
  CompiledStep plain = compile_training_step(*model, "loss", {}, {.simplify = false, .cse = false, .dce = false});
  EXPECT_LT(optimised.graph->size(), plain.graph->size());
  ValueMap feeds = testing::model_feeds(*plain.graph, c);
  ValueMap a = run_graph(*optimised.graph, feeds), b = run_graph(*plain.graph, feeds);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : b) EXPECT_EQ(a.at(name).data, value.data) << name;
}

}  // namespace
}  // namespace reforge
