// The CPU back end against the reference interpreter, op family by op
// family: the op tables of the gradient checks (random inputs, edge
// shapes), each run forward and backward (y and d sum(y*r)/d inputs) in
// f64 and in f32. Integer results, sorting and random numbers must agree
// bit for bit.
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
#include "tests/testing/built_graph.h"
#include "tests/testing/op_cases.h"

namespace reforge {
namespace {

using testing::InputSpec;
using testing::OpCase;

using Built = testing::BuiltGraph;

// y = body(inputs) and the gradients of sum(y * r) as outputs.
Built build_case(const OpCase& c, DType float_type, bool with_gradients) {
  Built b{std::make_unique<Graph>("case"), {}};
  Graph& g = *b.graph;
  g.set_default_float(float_type);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    InputSpec spec = c.inputs[i];
    if (is_float(spec.type.dtype)) spec.type.dtype = float_type;
    std::string name = "x" + std::to_string(i);
    inputs.push_back(g.input(name, spec.type));
    b.feeds[name] = testing::random_tensor(spec, 1234 + 101 * i);
  }
  Tensor y = c.body(g, inputs);
  g.output("y", y);
  if (with_gradients && is_float(y.dtype())) {
    Tensor r = g.input("r", y.type());
    b.feeds["r"] = testing::random_tensor({y.type(), -1.0, 1.0}, 99);
    std::vector<Tensor> wrt;
    for (const Tensor& x : inputs) {
      if (is_float(x.dtype())) wrt.push_back(x);
    }
    std::vector<Tensor> grads = gradients(sum_all(y * r), wrt);
    for (size_t k = 0; k < grads.size(); ++k) g.output("grad" + std::to_string(k), grads[k]);
  }
  return b;
}

ValueMap run_compiled(const Graph& graph, const ValueMap& feeds) {
  auto executable = CpuExecutable::build(graph, {});
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
  Built b = build_case(c, float_type, true);
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

// ---- results that must agree bit for bit ----

InputSpec F(Shape shape, double low = -1.0, double high = 1.0) { return {{DType::f32, std::move(shape)}, low, high}; }
InputSpec I(Shape shape, int64_t low, int64_t high) {
  return {{DType::i64, std::move(shape)}, static_cast<double>(low), static_cast<double>(high)};
}
using V = const std::vector<Tensor>&;

std::vector<OpCase> exact_cases() {
  return {
      // Few distinct keys: many ties, so stability is exercised.
      {"argsort_ties", [](Graph&, V x) { return argsort(x[0], 1); }, {I({3, 17}, 0, 4)}},
      {"argsort_floats_axis0", [](Graph&, V x) { return argsort(x[0], 0); }, {F({9, 2})}},
      {"argmax_first_wins", [](Graph&, V x) { return argmax(x[0], 1); }, {I({4, 6}, 0, 3)}},
      {"argmax_float", [](Graph&, V x) { return argmax(x[0], 0); }, {F({5, 3})}},
      {"argmax_ties_16", [](Graph&, V x) { return argmax(x[0], 1); }, {I({6, 16}, 0, 3)}},
      {"argmax_axis0_12", [](Graph&, V x) { return argmax(x[0], 0); }, {F({12, 5})}},
      // Longer than the unrolled axes (64): the loop form, ties included.
      {"argmax_long_axis_ties", [](Graph&, V x) { return argmax(x[0], 1); }, {I({3, 100}, 0, 5)}},
      {"argmax_long_axis0", [](Graph&, V x) { return argmax(x[0], 0); }, {F({65, 4})}},
      {"argmax_lsh_hash",
       [](Graph&, V x) {
         return argmax(concat({x[0], -x[0]}, 1), 1);
       },
       {F({7, 32})}},
      // NaN (sqrt of a negative): one at the front wins, later ones never.
      {"argmax_nan", [](Graph&, V x) { return argmax(sqrt(cast(x[0], DType::f32)), 1); }, {I({8, 8}, -2, 4)}},
      // The unrolled tree's widest case, NaNs and ties in every row.
      {"argmax_nan_64", [](Graph&, V x) { return argmax(sqrt(cast(x[0], DType::f32)), 1); }, {I({40, 64}, -3, 3)}},
      // Lines of 65 to 256 floats, a multiple of 16: sixteen lanes. NaNs,
      // ties (floats of few values) and -inf (log 0) in every row.
      {"argmax_lanes_nan", [](Graph&, V x) { return argmax(sqrt(cast(x[0], DType::f32)), 1); }, {I({40, 128}, -3, 3)}},
      {"argmax_lanes_ties", [](Graph&, V x) { return argmax(cast(x[0], DType::f32), 1); }, {I({40, 96}, 0, 3)}},
      {"argmax_lanes_minus_inf",
       [](Graph&, V x) { return argmax(log(cast(x[0], DType::f32)), 1); },
       {I({40, 80}, 0, 1)}},
      {"argmax_odd_width_nan",
       [](Graph&, V x) { return argmax(sqrt(cast(x[0], DType::f32)), 1); },
       {I({40, 23}, -3, 3)}},
      {"floordiv_mod_signs",
       [](Graph&, V x) {
         Tensor negative = -x[1];
         return (floordiv(x[0], x[1]) * 100 + mod(x[0], x[1])) * 10000 + floordiv(x[0], negative) * 100 +
                mod(x[0], negative);
       },
       {I({4, 5}, -20, 20), I({4, 5}, 1, 7)}},
      {"cast_float_to_int", [](Graph&, V x) { return cast(x[0] * 10.0, DType::i64); }, {F({3, 4}, -3, 3)}},
      {"compare_and_select",
       [](Graph&, V x) { return cast(logical_and(greater(x[0], x[1]), less(x[0], full_like(x[0], 0.5))), DType::i32); },
       {F({6}), F({6})}},
      // Few distinct values: equal and unequal pairs both occur.
      {"not_equal_or_not",
       [](Graph&, V x) {
         Tensor differ = not_equal(x[0], x[1]);
         return cast(logical_or(logical_not(differ), greater(x[0], x[1])), DType::i32) * 2 + cast(differ, DType::i32);
       },
       {I({4, 6}, 0, 3), I({4, 6}, 0, 3)}},
      {"iota_plus_take",
       [](Graph& g, V x) {
         return take(iota(g, {5, 3}, 0), x[0], 0);
       },
       {I({7}, 0, 5)}},
      {"random_normal",
       [](Graph&, V x) {
         return random_normal(x[0], {4, 33}, 3);
       },
       {I({}, 0, 1000)}},
      {"random_uniform",
       [](Graph&, V x) {
         return random_uniform(x[0], {2, 9}, 5);
       },
       {I({}, 0, 1000)}},
      // Collectives in one process (no communicator): the sums over one
      // replica are the values; the bucket is its parts, packed in order.
      {"replica_sum", [](Graph&, V x) { return replica_sum(x[0] * 3.0); }, {F({5, 7})}},
      {"gradient_bucket",
       [](Graph& g, V x) {
         AttrMap bucket;
         bucket.set("bucket", int64_t{2});
         Tensor started = g.add("all_reduce_start", {x[0], x[1] + 1.0, x[2]}, bucket, {});
         return g.add("all_reduce_wait", {started}, bucket, {}) * 2.0;
       },
       {F({3, 4}), F({1}), F({2, 3, 5})}},
  };
}

class CompiledExactOp : public ::testing::TestWithParam<OpCase> {};

TEST_P(CompiledExactOp, IsBitExact) {
  Built b = build_case(GetParam(), DType::f32, false);
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
  std::vector<OpCase> all;
  for (auto cases : {testing::unary_cases(), testing::binary_cases(), testing::reduction_cases(),
                     testing::linear_algebra_cases(), testing::layout_cases(), testing::indexing_cases(),
                     testing::network_cases(), testing::structured_cases(), exact_cases()}) {
    all.insert(all.end(), cases.begin(), cases.end());
  }
  for (const OpCase& c : all) {
    Built b = build_case(c, DType::f32, true);
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
