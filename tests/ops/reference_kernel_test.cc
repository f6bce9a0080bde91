// The reference kernels against values worked out independently in the
// test (plain loops or by hand), on random inputs and edge shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "tests/testing/gradient_check.h"

namespace reforge {
namespace {

using testing::random_tensor;

HostTensor eval1(Graph& g, Tensor y, const ValueMap& feeds) {
  g.output("y", y);
  return run_graph(g, feeds).at("y");
}

HostTensor tensor(DType dtype, Shape shape, std::vector<double> values) {
  return HostTensor({dtype, std::move(shape)}, std::move(values));
}

TEST(ReferenceKernel, MatmulEqualsTripleLoop) {
  for (auto [m, k, n] : {std::tuple{3, 4, 5}, std::tuple{1, 1, 1}, std::tuple{7, 3, 1}}) {
    Graph g;
    g.set_default_float(DType::f64);
    TensorType ta{DType::f64, {2, m, k}}, tb{DType::f64, {2, k, n}};
    Tensor a = g.input("a", ta), b = g.input("b", tb);
    ValueMap feeds{{"a", random_tensor({ta}, 1)}, {"b", random_tensor({tb}, 2)}};
    HostTensor y = eval1(g, matmul(a, b), feeds);
    for (int bi = 0; bi < 2; ++bi)
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int p = 0; p < k; ++p) s += feeds["a"][(bi * m + i) * k + p] * feeds["b"][(bi * k + p) * n + j];
          EXPECT_NEAR(y[(bi * m + i) * n + j], s, 1e-12);
        }
  }
}

TEST(ReferenceKernel, F32ResultsAreRoundedToFloat) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {1}});
  HostTensor y = eval1(g, x / 3.0, {{"x", tensor(DType::f32, {1}, {1.0})}});
  EXPECT_EQ(y[0], static_cast<double>(1.0f / 3.0f));
}

TEST(ReferenceKernel, SoftmaxAndLogsumexpAreStable) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor x = g.input("x", {DType::f64, {2, 3}});
  g.output("softmax", softmax(x, 1));
  g.output("lse", logsumexp(x, 1));
  auto out = run_graph(g, {{"x", tensor(DType::f64, {2, 3}, {1000, 1001, 1002, -5, 0, 5})}});
  double denominator = 1 + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(out["softmax"][0], 1 / denominator, 1e-15);
  EXPECT_NEAR(out["softmax"][2], std::exp(2.0) / denominator, 1e-15);
  EXPECT_NEAR(out["lse"][0], 1002 + std::log(denominator * std::exp(-2.0)), 1e-12);
  EXPECT_NEAR(out["lse"][1], std::log(std::exp(-5.0) + 1 + std::exp(5.0)), 1e-12);
}

TEST(ReferenceKernel, ArgsortIsStableAndArgmaxTakesTheFirstMaximum) {
  Graph g;
  Tensor x = g.input("x", {DType::i64, {2, 5}});
  g.output("order", argsort(x, 1));
  g.output("best", argmax(cast(x, DType::f32), 1));
  auto out = run_graph(g, {{"x", tensor(DType::i64, {2, 5}, {3, 1, 3, 0, 1, 7, 7, 7, 2, 7})}});
  EXPECT_EQ(out["order"].data, (std::vector<double>{3, 1, 4, 0, 2, 3, 0, 1, 2, 4}));
  EXPECT_EQ(out["best"].data, (std::vector<double>{0, 0}));
}

TEST(ReferenceKernel, GatherAndScatterAddFollowTakeAlongAxis) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 3}});
  Tensor idx = g.input("idx", {DType::i64, {2, 4}});
  g.output("gathered", gather(x, idx, 1));
  g.output("scattered", scatter_add(full_like(x, 0.0), slice(idx, 1, 0, 3), x, 1));
  auto out = run_graph(g, {{"x", tensor(DType::f32, {2, 3}, {10, 11, 12, 20, 21, 22})},
                           {"idx", tensor(DType::i64, {2, 4}, {2, 0, 0, 1, 1, 1, 2, 0})}});
  EXPECT_EQ(out["gathered"].data, (std::vector<double>{12, 10, 10, 11, 21, 21, 22, 20}));
  // Row 0: indices 2,0,0 receive 10,11,12; row 1: indices 1,1,2 receive 20,21,22.
  EXPECT_EQ(out["scattered"].data, (std::vector<double>{23, 0, 10, 0, 41, 22}));
}

TEST(ReferenceKernel, TakeAndIndexAddUseAOneDimensionalIndex) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 3}});
  Tensor idx = g.input("idx", {DType::i64, {4}});
  g.output("taken", take(x, idx, 1));
  g.output("added", index_add(x, idx, take(x, idx, 1), 1));
  auto out = run_graph(
      g, {{"x", tensor(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6})}, {"idx", tensor(DType::i64, {4}, {2, 0, 2, 1})}});
  EXPECT_EQ(out["taken"].data, (std::vector<double>{3, 1, 3, 2, 6, 4, 6, 5}));
  // Column 2 is taken twice, so it is added twice.
  EXPECT_EQ(out["added"].data, (std::vector<double>{2, 4, 9, 8, 10, 18}));
}

TEST(ReferenceKernel, OutOfRangeIndexIsAnErrorNotACrash) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {3}});
  Tensor idx = g.input("idx", {DType::i64, {1}});
  g.output("y", take(x, idx, 0));
  EXPECT_THROW(run_graph(g, {{"x", tensor(DType::f32, {3}, {1, 2, 3})}, {"idx", tensor(DType::i64, {1}, {3})}}), Error);
}

TEST(ReferenceKernel, LayoutOps) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 3}});
  g.output("t", transpose(x, {1, 0}));
  g.output("b", broadcast_to(slice(x, 0, 1, 2), {2, 2, 3}));
  g.output("c", concat({x, slice(x, 1, 0, 1)}, 1));
  g.output("p", pad(x, 0, 1, 0, -1.0));
  g.output("i", iota(g, {2, 3}, 0, DType::i32));
  auto out = run_graph(g, {{"x", tensor(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6})}});
  EXPECT_EQ(out["t"].data, (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(out["b"].data, (std::vector<double>{4, 5, 6, 4, 5, 6, 4, 5, 6, 4, 5, 6}));
  EXPECT_EQ(out["c"].data, (std::vector<double>{1, 2, 3, 1, 4, 5, 6, 4}));
  EXPECT_EQ(out["p"].data, (std::vector<double>{-1, -1, -1, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(out["i"].data, (std::vector<double>{0, 0, 0, 1, 1, 1}));
}

TEST(ReferenceKernel, IntegerModAndFloorDivFollowTheDivisorSign) {
  Graph g;
  Tensor a = g.input("a", {DType::i64, {4}});
  Tensor b = g.input("b", {DType::i64, {4}});
  g.output("mod", mod(a, b));
  g.output("div", floordiv(a, b));
  auto out =
      run_graph(g, {{"a", tensor(DType::i64, {4}, {7, -7, 7, 0})}, {"b", tensor(DType::i64, {4}, {3, 3, -3, 5})}});
  EXPECT_EQ(out["mod"].data, (std::vector<double>{1, 2, -2, 0}));
  EXPECT_EQ(out["div"].data, (std::vector<double>{2, -3, -3, 0}));
}

TEST(ReferenceKernel, CrossEntropyAndOneHot) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor logits = g.input("logits", {DType::f64, {2, 3}});
  Tensor labels = g.input("labels", {DType::i64, {2}});
  g.output("ce", cross_entropy(logits, labels));
  g.output("hot", one_hot(labels, 3, DType::f64));
  auto out = run_graph(
      g, {{"logits", tensor(DType::f64, {2, 3}, {0, 1, 2, 3, 3, 3})}, {"labels", tensor(DType::i64, {2}, {1, 2})}});
  EXPECT_NEAR(out["ce"][0], std::log(1 + std::exp(1.0) + std::exp(2.0)) - 1, 1e-12);
  EXPECT_NEAR(out["ce"][1], std::log(3.0), 1e-12);
  EXPECT_EQ(out["hot"].data, (std::vector<double>{0, 1, 0, 0, 0, 1}));
}

TEST(ReferenceKernel, RandomDrawsAreReproducibleAndDistributedAsClaimed) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor key = g.input("key", {DType::i64, {}});
  const int64_t n = 20000;
  g.output("normal", random_normal(key, {n}, 0));
  g.output("normal_again", random_normal(key, {n}, 0));
  g.output("other_stream", random_normal(key, {n}, 1));
  g.output("uniform", random_uniform(key, {n}, 0));
  auto out = run_graph(g, {{"key", HostTensor::scalar(DType::i64, 5)}});
  auto other_key = run_graph(g, {{"key", HostTensor::scalar(DType::i64, 6)}});
  EXPECT_EQ(out["normal"].data, out["normal_again"].data);
  EXPECT_NE(out["normal"].data, out["other_stream"].data);
  EXPECT_NE(out["normal"].data, other_key["normal"].data);
  double mean = 0, square = 0, umin = 1, umax = 0, umean = 0;
  for (int64_t i = 0; i < n; ++i) {
    mean += out["normal"][i] / n;
    square += out["normal"][i] * out["normal"][i] / n;
    umin = std::min(umin, out["uniform"][i]);
    umax = std::max(umax, out["uniform"][i]);
    umean += out["uniform"][i] / n;
  }
  // 5 standard errors: a correct generator fails this about once in 10^6 runs.
  EXPECT_NEAR(mean, 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(square, 1.0, 5 * std::sqrt(2.0 / n));
  EXPECT_NEAR(umean, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_GE(umin, 0.0);
  EXPECT_LT(umax, 1.0);
}

TEST(ReferenceKernel, DropoutKeepsExpectationAndZeroesAtTheRate) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor key = g.input("key", {DType::i64, {}});
  const int64_t n = 20000;
  Tensor ones = constant(g, 1.0, {DType::f64, {n}});
  g.output("y", dropout(ones, 0.25, key, 3));
  HostTensor y = run_graph(g, {{"key", HostTensor::scalar(DType::i64, 11)}}).at("y");
  int64_t zeros = 0;
  double total = 0;
  for (double v : y.data) {
    zeros += v == 0.0;
    total += v;
    EXPECT_TRUE(v == 0.0 || std::fabs(v - 1 / 0.75) < 1e-12);
  }
  EXPECT_NEAR(static_cast<double>(zeros) / n, 0.25, 5 * std::sqrt(0.25 * 0.75 / n));
  EXPECT_NEAR(total / n, 1.0, 0.03);
}

TEST(ReferenceKernel, ChunkedMapEqualsTheUnchunkedBody) {
  for (int64_t chunks : {1, 2, 3, 6}) {
    Graph g;
    g.set_default_float(DType::f64);
    TensorType tx{DType::f64, {2, 6, 4}}, tw{DType::f64, {4, 5}};
    Tensor x = g.input("x", tx), w = g.input("w", tw);
    auto body = [](Graph&, const std::vector<Tensor>& a) { return gelu(matmul(a[0], a[1])); };
    g.output("chunked", chunked_map({x}, {w}, 1, chunks, body));
    g.output("plain", body(g, {x, w}));
    auto out = run_graph(g, {{"x", random_tensor({tx}, 3)}, {"w", random_tensor({tw}, 4)}});
    EXPECT_EQ(out["chunked"].data, out["plain"].data) << chunks << " chunks";
  }
}

TEST(ReferenceKernel, ReversibleBlockComputesBothResiduals) {
  Graph g;
  g.set_default_float(DType::f64);
  TensorType t{DType::f64, {3, 4}}, tw{DType::f64, {4, 4}};
  Tensor x1 = g.input("x1", t), x2 = g.input("x2", t), wf = g.input("wf", tw), wg = g.input("wg", tw);
  auto f = [](Graph&, const std::vector<Tensor>& a) { return tanh(matmul(a[0], a[1])); };
  auto gf = [](Graph&, const std::vector<Tensor>& a) { return relu(matmul(a[0], a[1])); };
  Tensor y = reversible(stack_streams(x1, x2), {wf}, {wg}, f, gf);
  Tensor y1 = x1 + f(g, {x2, wf});
  g.output("y1", stream(y, 0));
  g.output("y2", stream(y, 1));
  g.output("y1_expected", y1);
  g.output("y2_expected", x2 + gf(g, {y1, wg}));
  ValueMap feeds{{"x1", random_tensor({t}, 1)},
                 {"x2", random_tensor({t}, 2)},
                 {"wf", random_tensor({tw}, 3)},
                 {"wg", random_tensor({tw}, 4)}};
  auto out = run_graph(g, feeds);
  EXPECT_EQ(out["y1"].data, out["y1_expected"].data);
  EXPECT_EQ(out["y2"].data, out["y2_expected"].data);
}

}  // namespace
}  // namespace reforge
