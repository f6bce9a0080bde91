// Kernel grouping as the back ends run it: which values a kernel computes
// without storing them, and that the kernels still compute the
// interpreter's numbers when a fused value is read by several members, or
// at another element than the one the kernel writes.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "tests/testing/backend_under_test.h"

namespace reforge {
namespace {

HostTensor random_tensor(const TensorType& type, uint64_t seed) {
  HostTensor t(type);
  uint64_t state = seed;
  for (int64_t i = 0; i < t.size(); ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    t[i] = static_cast<double>(state >> 11) / static_cast<double>(1ull << 53) - 0.5;
  }
  return t;
}

struct Compiled {
  BackendPlan backend;
  ValueMap outputs;
};

// The graph on the back end under test, with its plan.
Compiled run_compiled(const Graph& graph, const ValueMap& feeds) {
  static const testing::BackendUnderTest under_test = testing::backend_under_test();
  Compiled c{plan_backend(graph, {}, under_test.options.plan, true, *under_test.target), {}};
  auto executable = CpuExecutable::build(
      plan_backend(graph, {}, under_test.options.plan, true, *under_test.target), under_test.options);
  for (const auto& [name, value] : feeds) executable->feed(name, value);
  executable->run();
  for (const auto& [name, id] : graph.outputs()) c.outputs[name] = executable->read_output(name);
  return c;
}

void expect_same_values(const ValueMap& expected, const ValueMap& actual) {
  for (const auto& [name, want] : expected) {
    const HostTensor& got = actual.at(name);
    ASSERT_EQ(got.size(), want.size()) << name;
    for (int64_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-12 * (1 + std::fabs(want[i]))) << name << " element " << i;
    }
  }
}

bool has_buffer(const BackendPlan& backend, const std::string& name) {
  for (const PlannedBuffer& b : backend.plan.buffers) {
    if (b.name == name) return true;
  }
  return false;
}

// s = x * x is read by two members of y's kernel, with a GEMM between its
// place and y's: computed inside y's kernel, never stored, because x is
// read by y anyway (its lifetime does not stretch).
TEST(KernelGrouping, ValueReadTwiceByOneKernelIsComputedThereNotStored) {
  Graph g("twice");
  Tensor x = g.input("x", {DType::f64, {16, 8}});
  Tensor w = g.input("w", {DType::f64, {8, 8}});
  Tensor s = (x * x).named("s");
  Tensor m = matmul(x, w).named("m");
  g.output("y", (m * s + s * 3.0 + x).named("y"));
  ValueMap feeds = {{"x", random_tensor({DType::f64, {16, 8}}, 1)}, {"w", random_tensor({DType::f64, {8, 8}}, 2)}};
  Compiled c = run_compiled(g, feeds);
  EXPECT_FALSE(has_buffer(c.backend, "s"));
  const Graph& bg = *c.backend.graph;
  EXPECT_EQ(c.backend.grouping.kernel_root[bg.find_node("s")], bg.find_node("y"));
  expect_same_values(run_graph(g, feeds), c.outputs);
}

// The same, but y does not read x: computing s inside y would keep x
// alive across the GEMM, so s keeps its own kernel and buffer.
TEST(KernelGrouping, ValueIsNotMovedWhereItWouldStretchALifetime) {
  Graph g("stretch");
  Tensor x = g.input("x", {DType::f64, {16, 8}});
  Tensor w = g.input("w", {DType::f64, {8, 8}});
  Tensor e = exp(x).named("e");
  Tensor s = (e * e).named("s");
  Tensor m = matmul(e, w).named("m");
  g.output("y", (m * s + s * 3.0).named("y"));
  ValueMap feeds = {{"x", random_tensor({DType::f64, {16, 8}}, 3)}, {"w", random_tensor({DType::f64, {8, 8}}, 4)}};
  Compiled c = run_compiled(g, feeds);
  EXPECT_TRUE(has_buffer(c.backend, "s"));
  expect_same_values(run_graph(g, feeds), c.outputs);
}

// A kernel that reads a value both at its own element and, through a
// fused transpose, at another: its result must not take that value's
// memory (each element it writes would overwrite one still to be read).
TEST(KernelGrouping, ResultDoesNotOverwriteAValueReadThroughAFusedView) {
  Graph g("transposed");
  Tensor x = g.input("x", {DType::f64, {8, 8}});
  Tensor u = exp(x).named("u");
  g.output("y", (u + swap_last_axes(u)).named("y"));
  ValueMap feeds = {{"x", random_tensor({DType::f64, {8, 8}}, 5)}};
  expect_same_values(run_graph(g, feeds), run_compiled(g, feeds).outputs);
}

// LSH hashing's argmax(concat(x, -x)): the negation is computed inside
// the argmax's kernel, at the elements the concat reads, not stored.
TEST(KernelGrouping, ProducerOfAConcatPartIsComputedInTheReadingKernel) {
  Graph g("hash");
  Tensor x = g.input("x", {DType::f64, {3, 5, 8}});
  Tensor rotated = exp(x) - 1.0;  // computed, so the slice reads a buffer
  Tensor part = slice(rotated, 2, 2, 6);
  Tensor negated = (-part).named("negated");
  g.output("bucket", argmax(concat({part, negated}, 2), 2).named("bucket"));
  ValueMap feeds = {{"x", random_tensor({DType::f64, {3, 5, 8}}, 6)}};
  Compiled c = run_compiled(g, feeds);
  EXPECT_FALSE(has_buffer(c.backend, "negated"));
  const Graph& bg = *c.backend.graph;
  EXPECT_EQ(c.backend.grouping.kernel_root[bg.find_node("negated")], bg.find_node("bucket"));
  const ValueMap expected = run_graph(g, feeds);
  EXPECT_EQ(c.outputs.at("bucket").data, expected.at("bucket").data);
}

}  // namespace
}  // namespace reforge
