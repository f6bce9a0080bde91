// The op test tables: every op family on random inputs, including edge
// shapes (size-1 dimensions, odd sizes, scalars). The gradient checks and
// the back-end equivalence tests run the same tables.
#pragma once

#include <string>
#include <vector>

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

// A case's name as a test name (letters, digits and '_').
std::string test_name(const OpCase& c);

}  // namespace reforge::testing
