#include "compiler/pipeline/lowering.h"

#include "base/error.h"

namespace reforge {

LoweredPlan lower_planned(BackendPlan planned) {
  if (auto conflict = find_plan_conflict(planned.plan)) {
    throw Error("internal error: memory plan conflict: " + *conflict);
  }
  LoweredPlan out{.graph = std::move(planned.graph), .plan = std::move(planned.plan)};
  out.lowered = lower_program(*out.graph, out.plan, planned.grouping, planned.reductions);
  return out;
}

}  // namespace reforge
