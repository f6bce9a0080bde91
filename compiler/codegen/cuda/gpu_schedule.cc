#include "compiler/codegen/cuda/gpu_schedule.h"

namespace reforge::codegen {

// A thread per element is enough parallelism for every kernel the Reformer
// lowers to; collapsing stops below this many threads per iteration of the
// parallel loop so that one launch stays within the grid's limits
// (2^31 - 1 blocks) for any extent a plan can hold.
constexpr int64_t kMaxThreadsPerIteration = int64_t{1} << 24;

GpuSchedule schedule_for_gpu(const kir::Kernel& kernel) {
  GpuSchedule s;
  const kir::Stmt* loop = &kernel.loop;
  s.grid_vars.push_back(loop->var);
  s.grid_extents.push_back(loop->extent);
  while (loop->body.size() == 1 && loop->body[0].kind == kir::StmtKind::loop &&
         s.threads_per_iteration * loop->body[0].extent <= kMaxThreadsPerIteration && loop->body[0].extent > 0) {
    loop = &loop->body[0];
    s.grid_vars.push_back(loop->var);
    s.grid_extents.push_back(loop->extent);
    s.threads_per_iteration *= loop->extent;
  }
  s.thread_body = &loop->body;
  return s;
}

}  // namespace reforge::codegen
