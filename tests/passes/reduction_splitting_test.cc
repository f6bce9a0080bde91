// Reduction splitting: a column reduction over many rows becomes a
// reduction of row blocks (parallel) and one over the blocks; the value is
// the same (a max bit for bit, a sum to rounding); it applies only where
// the input is stored anyway, and the compiled step matches the
// interpreter.
#include "compiler/passes/reduction_splitting.h"

#include <gtest/gtest.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/pipeline/cpu_executable.h"
#include "tests/testing/built_graph.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"

namespace reforge {
namespace {

using testing::count_ops;

constexpr int64_t kRows = 4096, kColumns = 96;  // 393,216 elements: enough to split

using Built = testing::BuiltGraph;

// sum over the rows of x [kRows / 2, 2, kColumns] (both leading axes), its
// max with keepdims, and a sum whose input is an elementwise product read
// only by it (computed in the reduction's loop: left alone).
Built column_reductions(DType dtype) {
  Built b{std::make_unique<Graph>("columns"), {}};
  Graph& g = *b.graph;
  g.set_default_float(dtype);
  TensorType type{dtype, {kRows / 2, 2, kColumns}};
  Tensor x = g.input("x", type), y = g.input("y", type);
  g.output("sum", sum(x, {0, 1}));
  g.output("max", max(x, {0, 1}, true));
  g.output("fused", sum(x * y, {0, 1}));
  b.feeds["x"] = testing::random_tensor({type, -1.0, 1.0}, 5);
  b.feeds["y"] = testing::random_tensor({type, -1.0, 1.0}, 6);
  return b;
}

TEST(ReductionSplitting, SplitsStoredColumnReductionsOnly) {
  Built b = column_reductions(DType::f64);
  std::unique_ptr<Graph> split = split_column_reductions(*b.graph, kColumns);
  verify(*split);
  // sum and max: two reductions each; the fused product's sum: one.
  EXPECT_EQ(count_ops(*split, "reduce_sum"), 3);
  EXPECT_EQ(count_ops(*split, "reduce_max"), 2);
  ValueMap before = run_graph(*b.graph, b.feeds), after = run_graph(*split, b.feeds);
  for (const auto& [name, value] : before) {
    const HostTensor& other = after.at(name);
    ASSERT_EQ(value.type, other.type) << name;
    for (int64_t i = 0; i < value.size(); ++i) {
      if (name == "max") {
        EXPECT_EQ(value[i], other[i]) << name << " " << i;
      } else {
        EXPECT_NEAR(value[i], other[i], 1e-12 * kRows) << name << " " << i;
      }
    }
  }
}

// A split parameter gradient (a bias's: the column sum of a stored
// gradient) stays the one value the optimizer reads: the view of its input
// and the partial sums are plain gradients, planned in the arena, not kept
// outside it for the step.
TEST(ReductionSplitting, OnlyTheTotalIsTheParameterGradient) {
  Built b = column_reductions(DType::f32);
  Graph& g = *b.graph;
  for (int id = 0; id < g.size(); ++id) g.mutable_node(id).role = ValueRole::gradient;
  const int sum_node = g.outputs().at(0).second;
  ASSERT_EQ(g.node(sum_node).op, "reduce_sum");
  g.mutable_node(sum_node).role = ValueRole::parameter_gradient;
  std::unique_ptr<Graph> split = split_column_reductions(g, kColumns);
  int parameter_gradients = 0;
  for (int id = 0; id < split->size(); ++id) {
    if (split->node(id).role != ValueRole::parameter_gradient) continue;
    ++parameter_gradients;
    EXPECT_EQ(split->node(id).name, g.node(sum_node).name);
    EXPECT_EQ(split->node(id).type, g.node(sum_node).type);
  }
  EXPECT_EQ(parameter_gradients, 1);
  EXPECT_EQ(count_ops(*split, "reduce_sum"), 3);  // it was split
}

TEST(ReductionSplitting, SmallOrIndivisibleReductionsStay) {
  Graph g("small");
  Tensor small = g.input("small", {DType::f32, {64, 8}});
  Tensor odd = g.input("odd", {DType::f32, {kRows + 1, kColumns}});
  Tensor rows = g.input("rows", {DType::f32, {kRows, kColumns}});
  g.output("a", sum(small, {0}));
  g.output("b", sum(odd, {0}));
  g.output("c", sum(rows, {1}));  // a row reduction: already parallel over rows
  std::unique_ptr<Graph> split = split_column_reductions(g, kColumns);
  EXPECT_EQ(count_ops(*split, "reduce_sum"), 3);
}

// Rows wider than the target asks for stay whole.
TEST(ReductionSplitting, RowsWiderThanTheTargetsStay) {
  Built b = column_reductions(DType::f64);
  std::unique_ptr<Graph> split = split_column_reductions(*b.graph, kColumns - 1);
  EXPECT_EQ(count_ops(*split, "reduce_sum"), 2);
  EXPECT_EQ(count_ops(*split, "reduce_max"), 1);
}

// Compiled in f32 on two threads, against the interpreter in double.
TEST(ReductionSplitting, CompiledMatchesInterpreter) {
  Built b = column_reductions(DType::f32);
  ValueMap expected = run_graph(*b.graph, b.feeds);
  auto executable = CpuExecutable::build(*b.graph, {}, {.threads = 2});
  for (const auto& [name, value] : b.feeds) executable->feed(name, value);
  executable->run();
  for (const auto& [name, value] : expected) {
    HostTensor got = executable->read_output(name);
    ASSERT_EQ(got.size(), value.size()) << name;
    for (int64_t i = 0; i < value.size(); ++i) {
      EXPECT_NEAR(got[i], value[i], 1e-6 * kRows) << name << " " << i;
    }
  }
}

}  // namespace
}  // namespace reforge
