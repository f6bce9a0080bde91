// GEMM bias epilogue: add(matmul(x, w), broadcast(b)), directly or through
// a linear layer's reshape, becomes matmul_bias; a product read elsewhere
// too stays. The value is the same bits as the product then the addition:
// in the interpreter (f64) and compiled (f32, against the runtime's GEMM
// followed by a float addition).
#include "compiler/passes/matmul_epilogue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/pipeline/cpu_executable.h"
#include "runtime/gemm.h"
#include "tests/testing/built_graph.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"

namespace reforge {
namespace {

using testing::count_ops;

using Built = testing::BuiltGraph;

// y1 = linear(x, w) + b (x [2, 40, 24]: a reshape around the matmul),
// y2 = x2 w2^T + b2 (2-D, the weight read transposed), and
// y3 = p + b with p = x2 w3 also an output (not fused).
Built biased_products(DType dtype) {
  Built built{std::make_unique<Graph>("biased"), {}};
  Graph& g = *built.graph;
  g.set_default_float(dtype);
  auto input = [&](const std::string& name, Shape shape, uint64_t seed) {
    TensorType type{dtype, std::move(shape)};
    built.feeds[name] = testing::random_tensor({type, -1.0, 1.0}, seed);
    return g.input(name, type);
  };
  Tensor x = input("x", {2, 40, 24}, 1), w = input("w", {24, 36}, 2), b = input("b", {36}, 3);
  Tensor x2 = input("x2", {33, 300}, 4), w2 = input("w2", {20, 300}, 5), b2 = input("b2", {20}, 6);
  Tensor w3 = input("w3", {300, 12}, 7), b3 = input("b3", {12}, 8);
  g.output("y1", linear(x, w) + b);
  g.output("y2", matmul(x2, transpose(w2, {1, 0})) + b2);
  Tensor p = matmul(x2, w3);
  g.output("p", p);
  g.output("y3", p + b3);
  return built;
}

TEST(MatmulEpilogue, FusesABiasReadOnlyByTheAddition) {
  Built b = biased_products(DType::f64);
  std::unique_ptr<Graph> fused = fuse_matmul_bias(*b.graph);
  verify(*fused);
  EXPECT_EQ(count_ops(*fused, "matmul_bias"), 2);  // y1 and y2; y3's product is an output too
  ValueMap before = run_graph(*b.graph, b.feeds), after = run_graph(*fused, b.feeds);
  for (const auto& [name, value] : before) {
    const HostTensor& other = after.at(name);
    ASSERT_EQ(value.type, other.type) << name;
    for (int64_t i = 0; i < value.size(); ++i) EXPECT_EQ(value[i], other[i]) << name << " " << i;
  }
}

// Compiled in f32 (the back end fuses): the same bits as the runtime's
// GEMM followed by adding the bias in float.
TEST(MatmulEpilogue, CompiledIsTheProductThenTheAddition) {
  Built b = biased_products(DType::f32);
  auto executable = CpuExecutable::build(*b.graph, {}, {.threads = 2});
  for (const auto& [name, value] : b.feeds) executable->feed(name, value);
  executable->run();
  auto floats = [&](const std::string& name) {
    const HostTensor& t = b.feeds.at(name);
    return std::vector<float>(t.data.begin(), t.data.end());
  };
  const std::vector<float> x2 = floats("x2"), w2 = floats("w2"), b2 = floats("b2");
  std::vector<float> expected(33 * 20);
  runtime::gemm(x2.data(), w2.data(), expected.data(), 33, 20, 300,
                runtime::GemmLayout::dense(33, 20, 300, false, true));
  for (int64_t i = 0; i < 33; ++i) {
    for (int64_t j = 0; j < 20; ++j) expected[i * 20 + j] += b2[j];
  }
  HostTensor got = executable->read_output("y2");
  std::vector<float> got_floats(got.data.begin(), got.data.end());
  EXPECT_EQ(std::memcmp(got_floats.data(), expected.data(), expected.size() * sizeof(float)), 0);
  ValueMap reference = run_graph(*b.graph, b.feeds);
  for (const std::string name : {"y1", "y3", "p"}) {
    HostTensor value = executable->read_output(name);
    for (int64_t i = 0; i < value.size(); ++i) EXPECT_NEAR(value[i], reference.at(name)[i], 1e-4) << name;
  }
}

}  // namespace
}  // namespace reforge
