// The verifier rejects malformed graphs, each with a precise message.
#include "compiler/ir/verifier.h"

#include <gtest/gtest.h>

#include "compiler/dsl/dsl.h"
#include "compiler/ir/parser.h"

namespace reforge {
namespace {

struct MalformedCase {
  std::string name;
  std::string text;
  std::string expected_message;
};

class Verifier : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(Verifier, RejectsWithExpectedMessage) {
  auto graph = parse_graph(GetParam().text);
  auto problem = find_problem(*graph);
  ASSERT_TRUE(problem.has_value()) << "accepted: " << GetParam().text;
  EXPECT_EQ(*problem, GetParam().expected_message);
  EXPECT_THROW(verify(*graph), Error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, Verifier,
    ::testing::Values(
        MalformedCase{"cycle", "graph g {\n %a = neg(%b) : f32[2]\n %b = neg(%a) : f32[2]\n return y=%b\n}",
                      "cycle: %a -> %b -> %a"},
        MalformedCase{"use_before_definition",
                      "graph g {\n %a = neg(%x) : f32[2]\n %x = input() : f32[2]\n return y=%a\n}",
                      "%a: uses %x before its definition"},
        MalformedCase{
            "type_mismatch",
            "graph g {\n %x = input() : f32[2,3]\n %t = transpose(%x) {perm=[1,0]} : f32[2,3]\n return y=%t\n}",
            "%t: type mismatch: recorded f32[2,3], the shape rule of 'transpose' gives f32[3,2]"},
        MalformedCase{
            "dtype_mismatch",
            "graph g {\n %x = input() : f32[2]\n %i = input() : i64[2]\n %s = add(%x, %i) : f32[2]\n return y=%s\n}",
            "%s: op 'add': operand types differ: f32[2], i64[2]"},
        MalformedCase{"unknown_op", "graph g {\n %x = input() : f32[2]\n %y = frobnicate(%x) : f32[2]\n return y=%y\n}",
                      "%y: unknown op 'frobnicate'"},
        MalformedCase{"missing_attribute",
                      "graph g {\n %x = input() : f32[4]\n %y = slice(%x) {axis=0, start=1} : f32[3]\n return y=%y\n}",
                      "%y: op 'slice' is missing attribute 'end'"},
        MalformedCase{
            "wrong_attribute_kind",
            "graph g {\n %x = input() : f32[4]\n %y = slice(%x) {axis=\"0\", end=4, start=1} : f32[3]\n return y=%y\n}",
            "%y: attribute 'axis' of op 'slice' must be int, got string"},
        MalformedCase{"unknown_attribute",
                      "graph g {\n %x = input() : f32[4]\n %y = neg(%x) {fast=1} : f32[4]\n return y=%y\n}",
                      "%y: op 'neg' has unknown attribute 'fast'"},
        MalformedCase{"wrong_arity", "graph g {\n %x = input() : f32[4]\n %y = add(%x) : f32[4]\n return y=%y\n}",
                      "%y: op 'add' expects 2 inputs, got 1"},
        MalformedCase{
            "bad_attribute_value",
            "graph g {\n %x = input() : f32[4]\n %y = slice(%x) {axis=0, end=9, start=1} : f32[8]\n return y=%y\n}",
            "%y: op 'slice': slice [1, 9) out of range for axis 0 of f32[4]"},
        MalformedCase{"duplicate_name", "graph g {\n %x = input() : f32[4]\n %x = neg(%x) : f32[4]\n return y=%x\n}",
                      "duplicate value name %x"},
        MalformedCase{
            "bad_region",
            "graph g {\n %x = input() : f32[2,4]\n %w = input() : f32[4,4]\n"
            " %m = chunked_map(%x, %w) {axis=0, chunks=2, sliced=1} : f32[2,4] regions {\n"
            "  graph body {\n   %a = arg() {index=0} : f32[2,4]\n   %b = arg() {index=1} : f32[4,4]\n"
            "   %c = matmul(%a, %b) : f32[2,4]\n   return out=%c\n  }\n }\n return y=%m\n}",
            "%m: op 'chunked_map': region 'body' takes (f32[2,4], f32[4,4]) but is given (f32[1,4], f32[4,4])"},
        MalformedCase{
            "region_inner_problem",
            "graph g {\n %x = input() : f32[2,4]\n"
            " %m = chunked_map(%x) {axis=0, chunks=2, sliced=1} : f32[2,4] regions {\n"
            "  graph body {\n   %a = arg() {index=0} : f32[1,4]\n   %c = exp(%a) : f32[4,1]\n"
            "   return out=%c\n  }\n }\n return y=%m\n}",
            "%m: in region 'body': %c: type mismatch: recorded f32[4,1], the shape rule of 'exp' gives f32[1,4]"}),
    [](const auto& info) { return info.param.name; });

TEST(Verifier, AcceptsWellFormedGraphs) {
  Graph g("ok");
  Tensor x = g.input("x", {DType::f32, {3, 4}});
  g.output("y", softmax(matmul(x, g.param("w", {4, 2})), -1));
  EXPECT_FALSE(find_problem(g).has_value());
  EXPECT_NO_THROW(verify(g));
}

TEST(Verifier, RejectsDanglingInputsAndOutputs) {
  Graph g("dangling");
  Tensor x = g.input("x", {DType::f32, {3}});
  Tensor y = exp(x);
  g.mutable_node(y.id).inputs[0] = 42;
  EXPECT_EQ(find_problem(g).value(), "%exp: input #0 is dangling (no value with id 42)");
  g.mutable_node(y.id).inputs[0] = x.id;
  g.mutable_outputs().emplace_back("z", 17);
  EXPECT_EQ(find_problem(g).value(), "output 'z' is dangling (no value with id 17)");
}

}  // namespace
}  // namespace reforge
