// A back end's plan lowered, for any target: the planned graph, its memory
// plan (checked for conflicts) and the program of launches with its
// distinct kernels, ready for a code generator (the CPU's LLVM, or CUDA).
#pragma once

#include <memory>

#include "compiler/lower/lower.h"
#include "compiler/memory/memory_plan.h"
#include "compiler/pipeline/compile.h"

namespace reforge {

struct LoweredPlan {
  std::unique_ptr<Graph> graph;
  MemoryPlan plan;
  LoweredProgram lowered;
};

// From plan_backend() for the target the code is for.
LoweredPlan lower_planned(BackendPlan planned);

}  // namespace reforge
