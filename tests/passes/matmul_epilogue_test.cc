// GEMM epilogues: a bias, then an activation (gelu, relu), then a residual
// go into the matmul_epilogue the product becomes, directly or through a
// linear layer's reshape; a stage whose input is read elsewhere too (a
// graph output, the gradient's reader of a pre-activation) stays a kernel
// of its own. Values do not change: bit for bit in the interpreter (f64),
// and compiled (f32) against the same graph with every product exposed as
// an output, which fuses nothing: bit for bit where no activation is
// fused, within an ulp or two where one is (see below).
#include "compiler/passes/matmul_epilogue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "tests/testing/built_graph.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"

namespace reforge {
namespace {

using testing::count_ops;

using Built = testing::BuiltGraph;

const std::vector<std::string> kResults = {"y1", "y2", "y3", "p", "h", "z", "g", "y4", "y5"};

// Products with every kind of epilogue (`expose_products`: each product is
// also an output, so none fuses):
//   y1 = linear(x, w) + b             bias, through a reshape
//   y2 = x2 w2^T + b2                 bias, B read transposed, k = 300 (two depth slices)
//   y3 = p + b3, p an output          none
//   h  = gelu(linear(x, w4) + b4)     bias + gelu
//   z  = x2 w5 + b5, g = gelu(z)      bias (z is an output: gelu stays)
//   y4 = r + linear(x, w6)            residual, through a reshape
//   y5 = relu(x2 w7 + b7) + r5        bias + relu + residual, n = 600 (two column blocks)
Built products(DType dtype, bool expose_products) {
  Built built{std::make_unique<Graph>("epilogues"), {}};
  Graph& g = *built.graph;
  g.set_default_float(dtype);
  uint64_t seed = 0;
  auto input = [&](const std::string& name, Shape shape) {
    TensorType type{dtype, std::move(shape)};
    built.feeds[name] = testing::random_tensor({type, -1.0, 1.0}, ++seed);
    return g.input(name, type);
  };
  auto product = [&](const std::string& name, Tensor value) {
    if (expose_products) g.output(name, value);
    return value;
  };
  Tensor x = input("x", {2, 40, 24}), w = input("w", {24, 36}), b = input("b", {36});
  Tensor x2 = input("x2", {33, 300}), w2 = input("w2", {20, 300}), b2 = input("b2", {20});
  Tensor w3 = input("w3", {300, 12}), b3 = input("b3", {12});
  Tensor w4 = input("w4", {24, 36}), b4 = input("b4", {36});
  Tensor w5 = input("w5", {300, 40}), b5 = input("b5", {40});
  Tensor w6 = input("w6", {24, 36}), r = input("r", {2, 40, 36});
  Tensor w7 = input("w7", {300, 600}), b7 = input("b7", {600}), r5 = input("r5", {33, 600});
  g.output("y1", product("p1", linear(x, w)) + b);
  g.output("y2", product("p2", matmul(x2, transpose(w2, {1, 0}))) + b2);
  Tensor p = matmul(x2, w3);
  g.output("p", p);
  g.output("y3", p + b3);
  g.output("h", gelu(product("p4", linear(x, w4)) + b4));
  Tensor z = product("p5", matmul(x2, w5)) + b5;
  g.output("z", z);
  g.output("g", gelu(z));
  g.output("y4", r + product("p6", linear(x, w6)));
  g.output("y5", relu(product("p7", matmul(x2, w7)) + b7) + r5);
  return built;
}

// Each matmul_epilogue as "bias+gelu+residual" and the like, sorted.
std::vector<std::string> epilogues(const Graph& graph) {
  std::vector<std::string> found;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (n.op != "matmul_epilogue") continue;
    std::vector<std::string> stages;
    if (n.attrs.get_int("bias")) stages.push_back("bias");
    if (!n.attrs.get_string("activation").empty()) stages.push_back(n.attrs.get_string("activation"));
    if (n.attrs.get_int("residual")) stages.push_back("residual");
    std::string joined;
    for (const std::string& s : stages) joined += (joined.empty() ? "" : "+") + s;
    found.push_back(joined);
  }
  std::sort(found.begin(), found.end());
  return found;
}

TEST(MatmulEpilogue, EachStageFusesWhereItsInputIsReadOnlyThere) {
  Built b = products(DType::f64, false);
  std::unique_ptr<Graph> fused = fuse_matmul_epilogues(*b.graph);
  verify(*fused);
  EXPECT_EQ(epilogues(*fused),
            (std::vector<std::string>{"bias", "bias", "bias", "bias+gelu", "bias+relu+residual", "residual"}));
  EXPECT_EQ(count_ops(*fused, "matmul"), 1);  // p, an output
  EXPECT_EQ(count_ops(*fused, "gelu"), 1);    // g reads z, an output
  EXPECT_EQ(count_ops(*fused, "relu"), 0);
  EXPECT_EQ(count_ops(*fused, "add"), 1);  // y3

  Built exposed = products(DType::f64, true);
  EXPECT_EQ(count_ops(*fuse_matmul_epilogues(*exposed.graph), "matmul_epilogue"), 0);
}

TEST(MatmulEpilogue, InterpretedValuesAreUnchangedBitForBit) {
  Built b = products(DType::f64, false);
  std::unique_ptr<Graph> fused = fuse_matmul_epilogues(*b.graph);
  ValueMap before = run_graph(*b.graph, b.feeds), after = run_graph(*fused, b.feeds);
  for (const std::string& name : kResults) {
    const HostTensor &value = before.at(name), &other = after.at(name);
    ASSERT_EQ(value.type, other.type) << name;
    for (int64_t i = 0; i < value.size(); ++i) ASSERT_EQ(value[i], other[i]) << name << " " << i;
  }
}

// Compiled in f32 with the epilogues and without (every product exposed):
// the same bits, so the bias is added once after the last depth slice,
// each column block gets its own, and the residual once. The fused GELU
// (h) runs the unfused kernel's formula on the same values, but a row's
// last few elements may take the vector library's tanhf in one loop and
// the scalar one in the other, which differ in the last bit or two. Both
// are near the f64 interpreter.
TEST(MatmulEpilogue, CompiledValuesAreUnchangedBitForBit) {
  Built b = products(DType::f32, false), exposed = products(DType::f32, true);
  EXPECT_EQ(count_ops(*backend_graph(*b.graph), "matmul_epilogue"), 6);
  EXPECT_EQ(count_ops(*backend_graph(*exposed.graph), "matmul_epilogue"), 0);
  auto run = [](const Built& built) {
    auto executable = CpuExecutable::build(*built.graph, {}, {.threads = 2});
    for (const auto& [name, value] : built.feeds) executable->feed(name, value);
    executable->run();
    ValueMap out;
    for (const std::string& name : kResults) out.emplace(name, executable->read_output(name));
    return out;
  };
  ValueMap fused = run(b), unfused = run(exposed);
  ValueMap reference = run_graph(*b.graph, b.feeds);
  for (const std::string& name : kResults) {
    const HostTensor &got = fused.at(name), &expected = unfused.at(name);
    ASSERT_EQ(got.type, expected.type) << name;
    for (int64_t i = 0; i < got.size(); ++i) {
      if (name == "h") {
        ASSERT_NEAR(got[i], expected[i], 4e-7 * std::max(1.0, std::fabs(expected[i]))) << name << " " << i;
      } else {
        ASSERT_EQ(got[i], expected[i]) << name << " " << i;
      }
      ASSERT_NEAR(got[i], reference.at(name)[i], 1e-4) << name << " " << i;
    }
  }
}

}  // namespace
}  // namespace reforge
