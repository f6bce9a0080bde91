// The textual IR: printing then parsing reproduces the exact text for every
// kind of graph the project builds, and syntax errors name the line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <limits>

#include "compiler/autodiff/training_step.h"
#include "compiler/dsl/dsl.h"
#include "compiler/ir/parser.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"

namespace reforge {
namespace {

void build_mlp(Graph& g) {
  Tensor x = g.input("x", {DType::f32, {4, 3}});
  Tensor labels = g.input("labels", {DType::i64, {4}});
  Tensor h;
  {
    auto s = g.scope("layer1");
    h = relu(matmul(x, g.param("w", {3, 8}, Init::normal(0.5))) + g.param("b", {8}, Init::zeros()));
  }
  Tensor logits;
  {
    auto s = g.scope("layer2");
    logits = matmul(h, g.param("w", {8, 2}, Init::uniform(0.3))).named("logits");
  }
  g.output("loss", mean_all(cross_entropy(logits, labels)));
}

void build_structured(Graph& g) {
  Tensor x = g.input("x", {DType::f32, {2, 6, 4}});
  Tensor w = g.param("w", {4, 4});
  Tensor y = reversible(
      stack_streams(x, x), {w}, {w}, [](Graph&, const std::vector<Tensor>& a) { return tanh(matmul(a[0], a[1])); },
      [](Graph&, const std::vector<Tensor>& a) {
        return chunked_map({a[0]}, {a[1]}, 1, 3,
                           [](Graph&, const std::vector<Tensor>& b) { return gelu(matmul(b[0], b[1])); });
      });
  g.output("y", y);
}

void build_everything_else(Graph& g) {
  Tensor key = g.input("key", {DType::i64, {}});
  Tensor x = g.input("x", {DType::f32, {3, 5}});
  Tensor order = argsort(x, 1);
  Tensor sorted = gather(x, order, 1);
  Tensor scattered = scatter_add(full_like(x, 0.0), order, sorted, 1);
  Tensor noise = random_normal(key, {3, 5}, 4) + random_uniform(key, {3, 5}, 5);
  Tensor mixed = select(less(x, noise), scattered, pad(slice(x, 1, 0, 4), 1, 0, 1, -1e9));
  Tensor ints = floordiv(iota(g, {3, 5}, 1), constant(g, 2, {DType::i64, {3, 5}})) +
                mod(iota(g, {3, 5}, 0), constant(g, 2, {DType::i64, {3, 5}}));
  Tensor hot = one_hot(argmax(x, 1), 5, DType::f32);
  g.output("a", concat({mixed, hot, cast(ints, DType::f32), softmax(x, 0)}, 0));
  g.output("b", logsumexp(transpose(dropout(x, 0.25, key, 9), {1, 0}), 0, true));
  g.output("c", cast(logical_or(logical_not(equal(ints, ints)), not_equal(ints, ints)), DType::f32));
}

std::string round_trip(const std::string& text) { return print_graph(*parse_graph(text)); }

TEST(TextForm, RoundTripIsExactForAnMlp) {
  Graph g("mlp");
  build_mlp(g);
  std::string text = print_graph(g);
  EXPECT_EQ(round_trip(text), text);
  EXPECT_NE(text.find("%layer1.w = param() {init=\"normal\", scale=0.5} : f32[3,8] @\""), std::string::npos) << text;
  EXPECT_NE(text.find("%layer2.logits = matmul(%layer1.relu, %layer2.w) : f32[4,2]"), std::string::npos) << text;
}

TEST(TextForm, RoundTripIsExactForATrainingStep) {
  Graph g("mlp_train");
  build_mlp(g);
  Tensor loss = g.value(g.find_output("loss"));
  g.mutable_outputs().clear();
  build_training_step(g, loss, OptimizerConfig{});
  std::string text = print_graph(g);
  auto parsed = parse_graph(text);
  EXPECT_FALSE(find_problem(*parsed).has_value()) << *find_problem(*parsed);
  EXPECT_EQ(print_graph(*parsed), text);
}

TEST(TextForm, RoundTripIsExactWithRegions) {
  Graph g("structured");
  build_structured(g);
  std::string text = print_graph(g);
  EXPECT_NE(text.find("regions {"), std::string::npos);
  auto parsed = parse_graph(text);
  EXPECT_FALSE(find_problem(*parsed).has_value()) << *find_problem(*parsed);
  EXPECT_EQ(print_graph(*parsed), text);
}

TEST(TextForm, RoundTripIsExactForEveryOtherOp) {
  Graph g("misc");
  build_everything_else(g);
  std::string text = print_graph(g);
  auto parsed = parse_graph(text);
  EXPECT_FALSE(find_problem(*parsed).has_value()) << *find_problem(*parsed);
  EXPECT_EQ(print_graph(*parsed), text);
}

TEST(TextForm, FloatAttributesKeepEveryBit) {
  Graph g("floats");
  Tensor x = g.input("x", {DType::f64, {2}});
  for (double v : {0.1, -1e9, 1e-300, 3.0, 1.0 / 3.0, 123456789.0}) x = x + v;
  std::string text = print_graph(g);
  auto parsed = parse_graph(text);
  for (int id = 0; id < g.size(); ++id) EXPECT_EQ(parsed->node(id).attrs, g.node(id).attrs);
  EXPECT_EQ(print_graph(*parsed), text);
}

TEST(TextForm, ScopesNameValues) {
  Graph g("scopes");
  Tensor x = g.input("x", {DType::f32, {2}});
  auto layer = g.scope("layer3");
  auto attn = g.scope("attn");
  Tensor qk = (x * 2.0).named("qk");
  EXPECT_EQ(qk.node().name, "layer3.attn.qk");
  Tensor again = (x * 3.0).named("qk");
  EXPECT_EQ(again.node().name, "layer3.attn.qk#1");
}

TEST(TextForm, SyntaxErrorsNameTheLine) {
  try {
    parse_graph("graph g {\n  %x = input() : f32[2]\n  %y = neg(%x) : f32[2\n  return y=%y\n}\n");
    FAIL() << "expected a parse error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 4"), std::string::npos) << e.what();
  }
  try {
    parse_graph("graph g {\n  %y = neg(%nowhere) : f32[2]\n  return y=%y\n}\n");
    FAIL() << "expected an unknown-value error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2: unknown value %nowhere"), std::string::npos) << e.what();
  }
}

std::string parse_error(const std::string& text) {
  try {
    parse_graph(text);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "a non-Reforge exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "parsed without error";
  return "";
}

TEST(TextForm, NonFiniteFloatsAndQuotedGraphNamesRoundTrip) {
  Graph g("byte-lm");
  Tensor x = g.input("x", {DType::f64, {2}});
  for (double v : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN()}) {
    x = x + v;
  }
  g.output("y", x);
  std::string text = print_graph(g);
  auto parsed = parse_graph(text);
  EXPECT_EQ(parsed->name(), "byte-lm");
  EXPECT_EQ(print_graph(*parsed), text);
}

TEST(TextForm, BadNumbersAndShapesAreErrorsNotCrashes) {
  const std::string head = "graph g {\n  %x = input() : f32[2]\n";
  EXPECT_NE(parse_error(head + "  %y = sum(%x) {axis=1xyz} : f32[]\n  return y=%y\n}\n")
                .find("expected an integer, got 1xyz"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "  %y = sum(%x) {axis=99999999999999999999} : f32[]\n  return y=%y\n}\n")
                .find("does not fit in a 64-bit integer"),
            std::string::npos);
  EXPECT_NE(parse_error("graph g {\n  %x = input() : f32[-5,3]\n  return y=%x\n}\n").find("negative dimension -5"),
            std::string::npos);
  EXPECT_NE(parse_error("graph g {\n  %x = input() : f32[4294967296,4294967296,4294967296]\n  return y=%x\n}\n")
                .find("more than 2^48 elements"),
            std::string::npos);
}

TEST(TextForm, DeepNestingAndLongForwardChainsDoNotOverflowTheStack) {
  // 20,000 nested regions: refused with a message, not a stack overflow.
  std::string nested;
  for (int i = 0; i < 20000; ++i) nested += "graph r { %a = input() : f32[1] regions { ";
  EXPECT_NE(parse_error(nested).find("nested more than 64 deep"), std::string::npos);
  // A chain of 60,000 forward references: the verifier walks it without
  // recursion and reports the values used before their definition.
  std::string chain = "graph g {\n";
  for (int i = 0; i < 60000; ++i) chain += fmt::format("  %v{} = neg(%v{}) : f32[1]\n", i, i + 1);
  chain += "  %v60000 = input() : f32[1]\n  return y=%v0\n}\n";
  auto parsed = parse_graph(chain);
  std::optional<std::string> problem = find_problem(*parsed);
  ASSERT_TRUE(problem.has_value());
  // And a cycle that long is found too.
  std::string cycle = "graph g {\n";
  for (int i = 0; i < 60000; ++i) cycle += fmt::format("  %v{} = neg(%v{}) : f32[1]\n", i, (i + 1) % 60000);
  cycle += "  return y=%v0\n}\n";
  problem = find_problem(*parse_graph(cycle));
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("cycle"), std::string::npos) << problem->substr(0, 200);
}

}  // namespace
}  // namespace reforge
