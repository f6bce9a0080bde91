// The profile of a program's runs (`reforge train --profile`): time per
// launch, summed by op, by the DSL line that created it and by kernel, with the
// achieved GFLOP/s and GB/s (bytes: every buffer a launch touches, once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/program.h"

namespace reforge::runtime {

// `seconds[i]`: launch i's time summed over `runs` runs.
std::string profile_report(const Program& program, const std::vector<double>& seconds, int64_t runs,
                           int top_lines = 20);

}  // namespace reforge::runtime
