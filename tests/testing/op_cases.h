// The op test tables: every op family on random inputs, including edge
// shapes (size-1 dimensions, odd sizes, scalars). The gradient checks and
// the back-end equivalence tests run the same tables.
#pragma once

#include <string>
#include <vector>

#include "tests/testing/built_graph.h"
#include "tests/testing/gradient_check.h"

namespace reforge::testing {

struct OpCase {
  std::string name;
  GraphBody body;
  std::vector<InputSpec> inputs;  // float inputs are f64; tests may retype them
};

std::vector<OpCase> unary_cases();
std::vector<OpCase> binary_cases();
std::vector<OpCase> reduction_cases();
std::vector<OpCase> linear_algebra_cases();
std::vector<OpCase> layout_cases();
std::vector<OpCase> indexing_cases();
std::vector<OpCase> network_cases();
std::vector<OpCase> structured_cases();
// Integer results, sorting, random numbers and collectives: a back end
// must agree with the reference bit for bit (f32, no gradients).
std::vector<OpCase> exact_cases();
// Every table above, in order.
std::vector<OpCase> all_op_cases();

// A case as a graph: y = body(inputs) as output "y" and, with
// `with_gradients` and a float y, the gradients of sum(y * r) with respect
// to each float input as "grad0", "grad1", ... (r a random input); float
// inputs have `float_type`. The feeds are random (fixed seeds).
BuiltGraph op_case_graph(const OpCase& c, DType float_type, bool with_gradients);

// A case's name as a test name (letters, digits and '_').
std::string test_name(const OpCase& c);

}  // namespace reforge::testing
