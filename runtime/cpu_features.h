// The instruction-set features an artifact's code may need and this
// runtime can check on the machine it runs on (CPUID, through the
// compiler's __builtin_cpu_supports). The compiler records which of them
// its code uses; the loader refuses code that needs one the CPU lacks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace reforge::runtime {

// LLVM's names for the features ("avx2", "avx512f", "sse4.2", ...).
const std::vector<std::string_view>& checkable_cpu_features();

// False for features the machine lacks and for names not in the table.
bool cpu_has_feature(std::string_view feature);

// The features of `required` this machine lacks (empty: the code runs here).
std::vector<std::string> missing_cpu_features(const std::vector<std::string>& required);

}  // namespace reforge::runtime
