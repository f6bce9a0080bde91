// Lowering: a planned graph becomes a runtime::Program — ordered launches
// of kernels (kernel IR, for a code generator to render) and library calls
// over the plan's arena offsets and the persistent slots.
//
// Each node the plan gives a buffer becomes one launch. Elementwise and
// view ops become one loop nest over their output; the members of their
// fusion group (values the plan keeps out of memory) are computed inline,
// read through their index maps. Reductions write their own loop nests;
// library ops become calls. Kernels that compute alike are generated once.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/kernel/kernel_ir.h"
#include "compiler/kernel/reduction_schedule.h"
#include "compiler/memory/memory_plan.h"
#include "runtime/program.h"

namespace reforge {

struct LoweredProgram {
  runtime::Program program;
  std::vector<kir::Kernel> kernels;  // distinct kernels; Launch::function names them
};

// `graph` must hold no structured ops (expand them first); `plan` is its
// memory plan made with `grouping`. Reductions take the shapes of loop
// nest `reductions` asks for (the target's; the default is the plain nest).
LoweredProgram lower_program(const Graph& graph, const MemoryPlan& plan, const KernelGrouping& grouping,
                             const kir::ReductionSchedule& reductions = {});

}  // namespace reforge
