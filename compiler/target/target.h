// A back end as the compiler's shared stages see it. The ops say what is
// computed (their semantics and target-neutral kernel-IR rules); a Target
// says how its machine wants the graph it runs to look — Halide's split of
// algorithm and schedule. Expansion, planning and lowering are shared and
// take the Target; what is specific to one machine's kernels and library
// lives behind it.
//
// A Target owns its back-end passes: the graph rewrites its kernels and
// library calls want after structured ops are expanded (the CPU's GEMM
// epilogues and split column reductions); the shapes of loop nest its
// reductions take; and names the device whose library kernels size the
// calls' workspaces. What a new target needs, and
// what is still shared that a second target will move here, is in
// docs/ARCHITECTURE.md ("Targets and devices").
#pragma once

#include <string>
#include <vector>

#include "base/library_device.h"
#include "compiler/kernel/reduction_schedule.h"
#include "compiler/passes/pass_manager.h"

namespace reforge {

class Target {
 public:
  virtual ~Target() = default;
  // "cpu"; names the target in messages, plans and artifacts.
  virtual std::string name() const = 0;
  // Rewrites of the expanded graph, in order, run after the shared
  // back-end stages (compiler/pipeline/compile.h, backend_graph).
  virtual std::vector<Pass> backend_passes() const = 0;
  // Which of the shapes of nest the reduction ops offer it wants.
  virtual kir::ReductionSchedule reduction_schedule() const = 0;
  // Which kernels run its library calls: the memory plan sizes their
  // workspaces for them.
  virtual LibraryDevice library_device() const = 0;
};

}  // namespace reforge
