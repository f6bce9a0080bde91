// How a kernel's loops map onto a GPU's grid: the schedule the CUDA
// renderer follows (Halide's split of algorithm and schedule — the kernel
// IR says what each iteration computes, this says which thread runs it).
//
// The kernel ABI stays the CPU's: a launch covers iterations [begin, end)
// of the kernel's parallel loop. On the GPU the parallel loop and the loops
// perfectly nested inside it (a loop whose body is exactly one loop) are
// collapsed into one flat range of threads, one thread per iteration of the
// innermost collapsed loop; what is left (reductions, loops beside other
// statements) runs sequentially inside the thread. A launch of
// [begin, end) therefore starts (end - begin) * threads_per_iteration
// threads in blocks of block_threads.
//
// Not yet: block and warp reductions for kernels whose parallel extent is
// small and whose reduction is long (one thread walks the reduction today),
// and shared-memory tiles.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/kernel/kernel_ir.h"

namespace reforge::codegen {

struct GpuSchedule {
  // The loops on the grid, outermost first: the kernel's parallel loop,
  // then each loop perfectly nested in the one before. Their loop
  // variables and extents; the first extent is the launch's (end - begin).
  std::vector<int> grid_vars;
  std::vector<int64_t> grid_extents;
  // Threads per iteration of the parallel loop: the product of the extents
  // of the collapsed inner loops (1 when none is collapsed).
  int64_t threads_per_iteration = 1;
  int block_threads = 256;
  // The statements each thread runs: the innermost collapsed loop's body
  // (inside the kernel: valid while it lives).
  const std::vector<kir::Stmt>* thread_body = nullptr;
};

// `kernel`'s schedule; it points into `kernel`, which must outlive it.
GpuSchedule schedule_for_gpu(const kir::Kernel& kernel);
GpuSchedule schedule_for_gpu(const kir::Kernel&& kernel) = delete;  // would dangle

}  // namespace reforge::codegen
