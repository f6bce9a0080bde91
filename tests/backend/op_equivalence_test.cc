// The back end under test (the CPU's LLVM code, or the CUDA kernels built
// for the host: tests/testing/backend_under_test.h) against the reference
// interpreter, op family by op family: the op tables of the gradient
// checks (random inputs, edge shapes), each run forward and backward (y and
// d sum(y*r)/d inputs) in f64 and in f32. Integer results, sorting and
// random numbers must agree bit for bit.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <set>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "tests/testing/backend_under_test.h"
#include "tests/testing/built_graph.h"
#include "tests/testing/op_cases.h"

namespace reforge {
namespace {

using testing::OpCase;

using Built = testing::BuiltGraph;
using testing::exact_cases;

// On the back end under test (testing::backend_under_test()).
ValueMap run_compiled(const Graph& graph, const ValueMap& feeds) {
  static const testing::BackendUnderTest backend = testing::backend_under_test();
  auto executable = CpuExecutable::build(
      plan_backend(graph, {}, backend.options.plan, backend.options.elementwise_fusion, *backend.target),
      backend.options);
  for (const auto& [name, value] : feeds) executable->feed(name, value);
  executable->run();
  ValueMap out;
  for (const auto& [name, id] : graph.outputs()) out[name] = executable->read_output(name);
  return out;
}

// |compiled - reference| <= tolerance * (1 + |reference|). The reference
// accumulates in double, so in f32 the bound grows with the longest
// reduction, which no input of these cases exceeds in elements.
double tolerance(DType dtype, int64_t reduction_length) {
  if (dtype == DType::f64) return 1e-12 * (1 + reduction_length);
  if (dtype == DType::f32) return std::numeric_limits<float>::epsilon() * (8 + 2 * reduction_length);
  return 0.0;  // integers and booleans: exact
}

void expect_equivalent(const OpCase& c, DType float_type) {
  Built b = testing::op_case_graph(c, float_type, true);
  ValueMap expected = run_graph(*b.graph, b.feeds);
  ValueMap actual = run_compiled(*b.graph, b.feeds);
  int64_t longest = 1;
  for (const auto& [name, value] : b.feeds) longest = std::max(longest, value.size());
  for (const auto& [name, want] : expected) {
    const HostTensor& got = actual.at(name);
    ASSERT_EQ(got.type, want.type) << name;
    double tol = tolerance(want.dtype(), longest);
    for (int64_t i = 0; i < want.size(); ++i) {
      ASSERT_LE(std::fabs(got[i] - want[i]), tol * (1 + std::fabs(want[i])))
          << c.name << " " << dtype_name(float_type) << " output " << name << " element " << i << ": compiled "
          << got[i] << " vs reference " << want[i];
    }
  }
}

class CompiledOp : public ::testing::TestWithParam<OpCase> {};

TEST_P(CompiledOp, MatchesInterpreterInF64) { expect_equivalent(GetParam(), DType::f64); }
TEST_P(CompiledOp, MatchesInterpreterInF32) { expect_equivalent(GetParam(), DType::f32); }

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) { return testing::test_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Unary, CompiledOp, ::testing::ValuesIn(testing::unary_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Binary, CompiledOp, ::testing::ValuesIn(testing::binary_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Reduction, CompiledOp, ::testing::ValuesIn(testing::reduction_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(LinearAlgebra, CompiledOp, ::testing::ValuesIn(testing::linear_algebra_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Layout, CompiledOp, ::testing::ValuesIn(testing::layout_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Indexing, CompiledOp, ::testing::ValuesIn(testing::indexing_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Network, CompiledOp, ::testing::ValuesIn(testing::network_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Structured, CompiledOp, ::testing::ValuesIn(testing::structured_cases()), case_name);

class CompiledExactOp : public ::testing::TestWithParam<OpCase> {};

TEST_P(CompiledExactOp, IsBitExact) {
  Built b = testing::op_case_graph(GetParam(), DType::f32, false);
  ValueMap expected = run_graph(*b.graph, b.feeds);
  ValueMap actual = run_compiled(*b.graph, b.feeds);
  EXPECT_EQ(actual.at("y").type, expected.at("y").type);
  EXPECT_EQ(actual.at("y").data, expected.at("y").data);
}

INSTANTIATE_TEST_SUITE_P(Exact, CompiledExactOp, ::testing::ValuesIn(exact_cases()), case_name);

// Every registered op takes part in the table: it appears in a case's
// graph, its gradient, or the graph the back end runs for it (fused and
// epilogue ops appear there). A new op without a case fails here.
TEST(CompiledOpTable, EveryRegisteredOpHasACase) {
  std::set<std::string> covered;
  auto cover = [&](const Graph& g) {
    for (int id = 0; id < g.size(); ++id) covered.insert(g.node(id).op);
  };
  for (const OpCase& c : testing::all_op_cases()) {
    Built b = testing::op_case_graph(c, DType::f32, true);
    cover(*b.graph);
    cover(*backend_graph(*b.graph));
  }
  // Checked elsewhere, and why. Sources: every case's inputs are `input`
  // nodes; parameters, optimizer state and region arguments run in every
  // training-step test (tests/backend/training_step_test). The attention
  // ops: their fused kernels against the reference kernel
  // (tests/runtime/lsh_kernel_test, chunked_attention_kernel_test) and the
  // compiled fused step against the decomposition (tests/passes/
  // lsh_fusion_test, chunked_attention_fusion_test).
  const std::set<std::string> elsewhere = {"arg",
                                           "param",
                                           "state",
                                           "lsh_attention",
                                           "lsh_attention_fused",
                                           "lsh_attention_fused_grad",
                                           "chunked_attention",
                                           "chunked_attention_fused",
                                           "chunked_attention_fused_grad"};
  std::vector<std::string> missing;
  const std::vector<std::string> registered = registered_op_names();
  for (const std::string& op : registered) {
    if (!covered.count(op) && !elsewhere.count(op)) missing.push_back(op);
  }
  EXPECT_TRUE(missing.empty()) << "ops with no case in the equivalence table: "
                               << fmt::format("{}", fmt::join(missing, ", "));
  for (const std::string& op : elsewhere) {
    EXPECT_TRUE(std::find(registered.begin(), registered.end(), op) != registered.end())
        << op << " is listed as checked elsewhere but is not an op";
  }
}

}  // namespace
}  // namespace reforge
