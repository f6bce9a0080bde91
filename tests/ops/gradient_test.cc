// Every differentiable op against float64 central finite differences, on
// random inputs, including edge shapes (size-1 dimensions, odd sizes).
#include <gtest/gtest.h>

#include "compiler/dsl/dsl.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/op_cases.h"

namespace reforge {
namespace {

using namespace testing;  // check_gradients and the case tables

class OpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGradient, MatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  auto result = check_gradients(c.body, c.inputs, /*seed=*/1234);
  EXPECT_GT(result.checked, 0);
  EXPECT_LT(result.max_rel_error, 1e-6) << c.name << ": worst " << result.worst;
}

#define REFORGE_GRADIENT_SUITE(suite, cases)                                \
  INSTANTIATE_TEST_SUITE_P(suite, OpGradient, ::testing::ValuesIn(cases()), \
                           [](const auto& info) { return test_name(info.param); })

REFORGE_GRADIENT_SUITE(Unary, unary_cases);
REFORGE_GRADIENT_SUITE(Binary, binary_cases);
REFORGE_GRADIENT_SUITE(Reduction, reduction_cases);
REFORGE_GRADIENT_SUITE(LinearAlgebra, linear_algebra_cases);
REFORGE_GRADIENT_SUITE(Layout, layout_cases);
REFORGE_GRADIENT_SUITE(Indexing, indexing_cases);
REFORGE_GRADIENT_SUITE(Network, network_cases);
REFORGE_GRADIENT_SUITE(Structured, structured_cases);

}  // namespace
}  // namespace reforge
