// The profile of a program's runs (`reforge train --profile`): time per
// launch, summed by op, by the DSL line that created it and by kernel, with the
// achieved GFLOP/s and GB/s (bytes: every buffer a launch touches, once).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/fma_peak.h"
#include "runtime/program.h"

namespace reforge::runtime {

// `seconds[i]`: launch i's time summed over `runs` runs. With `peak`, the
// step's FLOPs (as its launches do them: recompute counted) and their rate
// are stated as a share of it.
std::string profile_report(const Program& program, const std::vector<double>& seconds, int64_t runs,
                           int top_lines = 20, const std::optional<FmaPeak>& peak = std::nullopt);

}  // namespace reforge::runtime
