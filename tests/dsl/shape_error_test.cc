// A shape error in the DSL names the user's file and line, the op and the
// shapes involved, and is a reforge::Error (never an abort).
#include <gtest/gtest.h>

#include "compiler/dsl/dsl.h"

namespace reforge {
namespace {

// Runs `build`, expects an Error, and returns its message.
template <typename Fn>
std::string error_of(Fn build) {
  try {
    build();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error was raised";
  return "";
}

std::string here(int line) { return std::string(__FILE__) + ":" + std::to_string(line); }

TEST(ShapeError, MatmulNamesTheCallingLineAndBothShapes) {
  Graph g;
  Tensor a = g.input("a", {DType::f32, {2, 3}});
  Tensor b = g.input("b", {DType::f32, {4, 5}});
  int line = __LINE__ + 1;
  std::string message = error_of([&] { matmul(a, b); });
  EXPECT_NE(message.find(here(line)), std::string::npos) << message;
  EXPECT_NE(message.find("matmul"), std::string::npos) << message;
  EXPECT_NE(message.find("f32[2,3]"), std::string::npos) << message;
  EXPECT_NE(message.find("f32[4,5]"), std::string::npos) << message;
}

TEST(ShapeError, OperatorsNameTheCallingLine) {
  Graph g;
  Tensor a = g.input("a", {DType::f32, {2, 3}});
  Tensor b = g.input("b", {DType::f32, {4}});
  int line = __LINE__ + 1;
  std::string message = error_of([&] { return a + b; });
  EXPECT_NE(message.find(here(line)), std::string::npos) << message;
  EXPECT_NE(message.find("add: shapes f32[2,3] and f32[4] cannot be broadcast"), std::string::npos) << message;
}

TEST(ShapeError, ShapeRuleFailuresNameTheCallingLine) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 6}});
  int line = __LINE__ + 1;
  std::string message = error_of([&] { reshape(x, {5, 2}); });
  EXPECT_NE(message.find(here(line)), std::string::npos) << message;
  EXPECT_NE(message.find("reshape: cannot reshape f32[2,6] to [5,2]"), std::string::npos) << message;
  line = __LINE__ + 1;
  message = error_of([&] { slice(x, 1, 4, 9); });
  EXPECT_NE(message.find(here(line) + ": slice: slice [4, 9) out of range for axis 1 of f32[2,6]"), std::string::npos)
      << message;
}

TEST(ShapeError, LayerNormNamesTheCallingLineAndBothShapes) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 6}});
  Tensor gamma = g.input("gamma", {DType::f32, {5}});
  Tensor beta = g.input("beta", {DType::f32, {6}});
  int line = __LINE__ + 1;
  std::string message = error_of([&] { layer_norm(x, gamma, beta); });
  EXPECT_NE(message.find(here(line) + ": layer_norm: gamma must be f32[6] for x f32[2,6], got f32[5]"),
            std::string::npos)
      << message;
}

TEST(ShapeError, DtypeMismatchSaysWhatToDo) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2}});
  Tensor i = g.input("i", {DType::i64, {2}});
  std::string message = error_of([&] { return x * i; });
  EXPECT_NE(message.find("dtypes differ: f32[2] and i64[2] (insert a cast)"), std::string::npos) << message;
}

TEST(ShapeError, CompositeOpsReportTheUserLine) {
  Graph g;
  Tensor logits = g.input("logits", {DType::f32, {4, 10}});
  Tensor labels = g.input("labels", {DType::i64, {5}});
  int line = __LINE__ + 1;
  std::string message = error_of([&] { cross_entropy(logits, labels); });
  EXPECT_NE(message.find(here(line)), std::string::npos) << message;
  EXPECT_NE(message.find("labels must be integers of shape [4] for logits f32[4,10], got i64[5]"), std::string::npos)
      << message;
}

TEST(ShapeError, ChunkCountThatDoesNotDivideSaysToPad) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2, 10, 4}});
  std::string message =
      error_of([&] { chunked_map({x}, {}, 1, 3, [](Graph&, const std::vector<Tensor>& a) { return a[0]; }); });
  EXPECT_NE(message.find("3 chunks do not divide axis 1 of f32[2,10,4] (pad the sequence"), std::string::npos)
      << message;
}

TEST(ShapeError, NodesRecordTheirSourceLine) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2}});
  int line = __LINE__ + 1;
  Tensor y = exp(x) * 2.0;
  EXPECT_EQ(y.node().loc.line, line);
  EXPECT_EQ(y.node().loc.file, __FILE__);
  EXPECT_EQ(x.node().loc.line, line - 2);
}

}  // namespace
}  // namespace reforge
