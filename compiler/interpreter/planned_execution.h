// Executes a graph inside one arena exactly as its memory plan says: every
// transient value is stored, in its real element type, at its planned
// offset, and read back from there. If the plan let two live values
// overlap, results would be corrupted; tests compare against run_graph.
// (Structured ops run their regions in host memory; the plan reserves
// their workspace.)
#pragma once

#include "compiler/interpreter/interpreter.h"
#include "compiler/memory/memory_plan.h"

namespace reforge {

ValueMap run_planned(const Graph& graph, const MemoryPlan& plan, const ValueMap& feeds,
                     const InterpreterOptions& options = {});

}  // namespace reforge
