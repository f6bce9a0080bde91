#include "tests/testing/op_cases.h"

#include <cctype>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"

namespace reforge::testing {
namespace {

InputSpec F(Shape shape, double low = -1.0, double high = 1.0, double min_magnitude = 0.0) {
  return {{DType::f64, std::move(shape)}, low, high, min_magnitude};
}
InputSpec I(Shape shape, int64_t low, int64_t high) {
  return {{DType::i64, std::move(shape)}, static_cast<double>(low), static_cast<double>(high)};
}

using V = const std::vector<Tensor>&;

}  // namespace

std::vector<OpCase> unary_cases() {
  std::vector<OpCase> cases;
  for (Shape shape : {Shape{2, 3}, Shape{1}, Shape{5, 1, 3}, Shape{}}) {
    std::string s = shape_to_string(shape);
    cases.push_back({"neg" + s, [](Graph&, V x) { return -x[0]; }, {F(shape)}});
    cases.push_back({"exp" + s, [](Graph&, V x) { return exp(x[0]); }, {F(shape)}});
    cases.push_back({"log" + s, [](Graph&, V x) { return log(x[0]); }, {F(shape, 0.2, 2.0)}});
    cases.push_back({"tanh" + s, [](Graph&, V x) { return tanh(x[0]); }, {F(shape, -2, 2)}});
    cases.push_back({"sqrt" + s, [](Graph&, V x) { return sqrt(x[0]); }, {F(shape, 0.2, 2.0)}});
    cases.push_back({"rsqrt" + s, [](Graph&, V x) { return rsqrt(x[0]); }, {F(shape, 0.2, 2.0)}});
    cases.push_back({"relu" + s, [](Graph&, V x) { return relu(x[0]); }, {F(shape, -1, 1, 0.05)}});
    cases.push_back({"gelu" + s, [](Graph&, V x) { return gelu(x[0]); }, {F(shape, -3, 3)}});
    cases.push_back({"abs" + s, [](Graph&, V x) { return abs(x[0]); }, {F(shape, -1, 1, 0.05)}});
    cases.push_back({"cast" + s, [](Graph&, V x) { return cast(x[0], DType::f64) * 2.0; }, {F(shape)}});
  }
  return cases;
}

std::vector<OpCase> binary_cases() {
  std::vector<OpCase> cases;
  for (Shape shape : {Shape{2, 3}, Shape{1, 1}, Shape{7}}) {
    std::string s = shape_to_string(shape);
    cases.push_back({"add" + s, [](Graph&, V x) { return x[0] + x[1]; }, {F(shape), F(shape)}});
    cases.push_back({"sub" + s, [](Graph&, V x) { return x[0] - x[1]; }, {F(shape), F(shape)}});
    cases.push_back({"mul" + s, [](Graph&, V x) { return x[0] * x[1]; }, {F(shape), F(shape)}});
    cases.push_back({"div" + s, [](Graph&, V x) { return x[0] / x[1]; }, {F(shape), F(shape, -2, 2, 0.3)}});
    // Inputs from disjoint ranges: no ties at the kink.
    cases.push_back(
        {"maximum" + s, [](Graph&, V x) { return maximum(x[0], x[1] * 0.5 + 0.01); }, {F(shape), F(shape)}});
    cases.push_back(
        {"minimum" + s, [](Graph&, V x) { return minimum(x[0], x[1] * 0.5 + 0.01); }, {F(shape), F(shape)}});
    cases.push_back({"select" + s,
                     [](Graph&, V x) { return select(greater(x[2], full_like(x[2], 0.0)), x[0], x[1]); },
                     {F(shape), F(shape), F(shape)}});
  }
  cases.push_back({"broadcast_add[3]+[2,3]", [](Graph&, V x) { return x[0] + x[1]; }, {F({3}), F({2, 3})}});
  cases.push_back({"broadcast_mul[2,1]*[1,5]", [](Graph&, V x) { return x[0] * x[1]; }, {F({2, 1}), F({1, 5})}});
  cases.push_back({"scalar_ops", [](Graph&, V x) { return 3.0 - (2.0 * x[0] + 1.0) / 4.0; }, {F({2, 2})}});
  return cases;
}

std::vector<OpCase> reduction_cases() {
  return {
      {"sum_axis0", [](Graph&, V x) { return sum(x[0], {0}); }, {F({3, 4})}},
      {"sum_axes02_keep",
       [](Graph&, V x) {
         return sum(x[0], {0, 2}, true);
       },
       {F({2, 3, 5})}},
      {"sum_all_size1", [](Graph&, V x) { return sum_all(x[0]); }, {F({1, 1})}},
      // Reductions over leading axes with the last kept run row by row,
      // several rows per pass (8, 4, 2 or 1, whatever divides the rows).
      {"sum_rows_16x40", [](Graph&, V x) { return sum(x[0], {0}); }, {F({16, 40})}},
      {"sum_rows_6x33", [](Graph&, V x) { return sum(x[0], {0}); }, {F({6, 33})}},
      {"sum_middle_keep_3x5x7", [](Graph&, V x) { return sum(x[0], {1}, true); }, {F({3, 5, 7})}},
      {"sum_leading_two_2x6x17",
       [](Graph&, V x) {
         return sum(x[0], {0, 1});
       },
       {F({2, 6, 17})}},
      {"sum_rows_of_exp_12x10", [](Graph&, V x) { return sum(exp(x[0]), {0}); }, {F({12, 10}, -2, 2)}},
      {"max_rows_9x20", [](Graph&, V x) { return max(x[0], {0}); }, {F({9, 20})}},
      {"max_axis1", [](Graph&, V x) { return max(x[0], {1}); }, {F({3, 5})}},
      {"max_axes01_keep",
       [](Graph&, V x) {
         return max(x[0], {0, 1}, true);
       },
       {F({2, 3, 2})}},
      {"mean_axis_last", [](Graph&, V x) { return mean(x[0], {-1}); }, {F({4, 3})}},
      {"logsumexp_axis1", [](Graph&, V x) { return logsumexp(x[0], 1); }, {F({3, 5}, -3, 3)}},
      {"logsumexp_keep_size1", [](Graph&, V x) { return logsumexp(x[0], 0, true); }, {F({1, 4})}},
      {"softmax_last", [](Graph&, V x) { return softmax(x[0], -1); }, {F({3, 7}, -3, 3)}},
      {"softmax_axis0", [](Graph&, V x) { return softmax(x[0], 0); }, {F({4, 1, 2})}},
  };
}

std::vector<OpCase> linear_algebra_cases() {
  return {
      {"matmul_2d", [](Graph&, V x) { return matmul(x[0], x[1]); }, {F({3, 4}), F({4, 5})}},
      {"matmul_size1", [](Graph&, V x) { return matmul(x[0], x[1]); }, {F({1, 1}), F({1, 3})}},
      {"matmul_batched", [](Graph&, V x) { return matmul(x[0], x[1]); }, {F({2, 3, 4}), F({2, 4, 3})}},
      {"matmul_broadcast_batch", [](Graph&, V x) { return matmul(x[0], x[1]); }, {F({2, 3, 5}), F({5, 1})}},
  };
}

std::vector<OpCase> layout_cases() {
  return {
      {"reshape",
       [](Graph&, V x) {
         return reshape(x[0], {3, -1});
       },
       {F({2, 3, 2})}},
      {"transpose_3d",
       [](Graph&, V x) {
         return transpose(x[0], {2, 0, 1});
       },
       {F({2, 3, 5})}},
      {"swap_last", [](Graph&, V x) { return swap_last_axes(x[0]); }, {F({1, 4, 3})}},
      {"broadcast_to",
       [](Graph&, V x) {
         return broadcast_to(x[0], {3, 2, 4});
       },
       {F({2, 1})}},
      {"slice", [](Graph&, V x) { return slice(x[0], 1, 1, 4); }, {F({2, 5})}},
      {"slice_empty_edge", [](Graph&, V x) { return slice(x[0], 0, 0, 1); }, {F({1, 3})}},
      {"concat",
       [](Graph&, V x) {
         return concat({x[0], x[1], x[0]}, 1);
       },
       {F({2, 3}), F({2, 1})}},
      {"pad", [](Graph&, V x) { return pad(x[0], 0, 2, 1, 0.5); }, {F({3, 2})}},
  };
}

std::vector<OpCase> indexing_cases() {
  return {
      {"gather_axis0", [](Graph&, V x) { return gather(x[0], x[1], 0); }, {F({4, 3}), I({6, 3}, 0, 4)}},
      {"gather_axis1", [](Graph&, V x) { return gather(x[0], x[1], 1); }, {F({2, 5}), I({2, 7}, 0, 5)}},
      {"scatter_add",
       [](Graph&, V x) { return scatter_add(x[0], x[1], x[2], 0); },
       {F({3, 2}), I({5, 2}, 0, 3), F({5, 2})}},
      {"take", [](Graph&, V x) { return take(x[0], x[1], 1); }, {F({2, 4, 3}), I({5}, 0, 4)}},
      {"embedding", [](Graph&, V x) { return embedding(x[0], x[1]); }, {F({5, 3}), I({2, 3}, 0, 5)}},
      {"index_add",
       [](Graph&, V x) { return index_add(x[0], x[1], x[2], 1); },
       {F({2, 3, 2}), I({4}, 0, 3), F({2, 4, 2})}},
      {"take_size1", [](Graph&, V x) { return take(x[0], x[1], 0); }, {F({1, 3}), I({3}, 0, 1)}},
      {"gather_by_argsort", [](Graph&, V x) { return gather(x[0], argsort(x[0], 1), 1); }, {F({3, 6})}},
  };
}

std::vector<OpCase> network_cases() {
  return {
      {"layer_norm", [](Graph&, V x) { return layer_norm(x[0], x[1], x[2]); }, {F({3, 6}), F({6}), F({6})}},
      {"layer_norm_width1_batch",
       [](Graph&, V x) { return layer_norm(x[0], x[1], x[2]); },
       {F({1, 2, 5}), F({5}), F({5})}},
      // P1's width (whole vectors), and an odd one (a vector and a tail).
      {"layer_norm_wide", [](Graph&, V x) { return layer_norm(x[0], x[1], x[2]); }, {F({3, 256}), F({256}), F({256})}},
      {"layer_norm_odd_width",
       [](Graph&, V x) { return layer_norm(x[0], x[1], x[2], 1e-3); },
       {F({2, 3, 37}), F({37}), F({37})}},
      {"cross_entropy", [](Graph&, V x) { return cross_entropy(x[0], x[1]); }, {F({4, 7}, -2, 2), I({4}, 0, 7)}},
      {"cross_entropy_3d",
       [](Graph&, V x) { return cross_entropy(x[0], x[1]); },
       {F({2, 3, 5}, -2, 2), I({2, 3}, 0, 5)}},
      {"dropout",
       [](Graph& g, V x) {
         return dropout(x[0], 0.3, constant(g, 42, {DType::i64, {}}), 1);
       },
       {F({4, 6})}},
  };
}

std::vector<OpCase> structured_cases() {
  return {
      {"chunked_map",
       [](Graph&, V x) {
         return chunked_map({x[0]}, {x[1]}, 1, 3, [](Graph&, V a) { return tanh(matmul(a[0], a[1])); });
       },
       {F({2, 6, 4}), F({4, 3})}},
      {"reversible",
       [](Graph&, V x) {
         Tensor y = reversible(
             stack_streams(x[0], x[1]), {x[2]}, {x[3]}, [](Graph&, V a) { return tanh(matmul(a[0], a[1])); },
             [](Graph&, V a) { return gelu(matmul(a[0], a[1])); });
         return y;
       },
       {F({3, 4}), F({3, 4}), F({4, 4}), F({4, 4})}},
      {"reversible_shared_input",
       [](Graph&, V x) {
         return reversible(
             stack_streams(x[0], x[0]), {x[1]}, {x[1]}, [](Graph&, V a) { return tanh(matmul(a[0], a[1])); },
             [](Graph&, V a) { return exp(matmul(a[0], a[1]) * 0.1); });
       },
       {F({2, 3}), F({3, 3})}},
  };
}

// ---- results that must agree bit for bit ----

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
      // Along an outer axis, a multiple of 8 long up to 256: eight chains,
      // the lines side by side (the LSH hashing's rotations, positions
      // innermost). NaNs, ties and -inf in every line.
      {"argmax_outer_chains_nan",
       [](Graph&, V x) { return argmax(sqrt(cast(x[0], DType::f32)), 1); },
       {I({3, 128, 40}, -3, 3)}},
      {"argmax_outer_chains_ties", [](Graph&, V x) { return argmax(cast(x[0], DType::f32), 0); }, {I({96, 33}, 0, 3)}},
      {"argmax_outer_chains_minus_inf",
       [](Graph&, V x) { return argmax(log(cast(x[0], DType::f32)), 1); },
       {I({3, 64, 20}, 0, 1)}},
      {"argmax_outer_lsh_hash",
       [](Graph&, V x) {
         return argmax(concat({x[0], -x[0]}, 1), 1);
       },
       {F({2, 32, 37})}},
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

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> all;
  for (auto cases : {unary_cases(), binary_cases(), reduction_cases(), linear_algebra_cases(), layout_cases(),
                     indexing_cases(), network_cases(), structured_cases(), exact_cases()}) {
    all.insert(all.end(), cases.begin(), cases.end());
  }
  return all;
}

// y = body(inputs) and the gradients of sum(y * r) as outputs.
BuiltGraph op_case_graph(const OpCase& c, DType float_type, bool with_gradients) {
  BuiltGraph b{std::make_unique<Graph>("case"), {}};
  Graph& g = *b.graph;
  g.set_default_float(float_type);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    InputSpec spec = c.inputs[i];
    if (is_float(spec.type.dtype)) spec.type.dtype = float_type;
    std::string name = "x" + std::to_string(i);
    inputs.push_back(g.input(name, spec.type));
    b.feeds[name] = random_tensor(spec, 1234 + 101 * i);
  }
  Tensor y = c.body(g, inputs);
  g.output("y", y);
  if (with_gradients && is_float(y.dtype())) {
    Tensor r = g.input("r", y.type());
    b.feeds["r"] = random_tensor({y.type(), -1.0, 1.0}, 99);
    std::vector<Tensor> wrt;
    for (const Tensor& x : inputs) {
      if (is_float(x.dtype())) wrt.push_back(x);
    }
    std::vector<Tensor> grads = gradients(sum_all(y * r), wrt);
    for (size_t k = 0; k < grads.size(); ++k) g.output("grad" + std::to_string(k), grads[k]);
  }
  return b;
}

std::string test_name(const OpCase& c) {
  std::string name = c.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

}  // namespace reforge::testing
