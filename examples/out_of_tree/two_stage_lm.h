// The two-stage language model's registered names.
#pragma once

namespace two_stage {

inline constexpr const char* kModel = "two-stage-lm";

}  // namespace two_stage
