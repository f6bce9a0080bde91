// Scratch memory of one thread for library calls: the GEMM packs B's
// panels into the calling thread's. It is taken when a thread first asks
// and kept until the thread ends; the pool's workers take theirs as they
// start and Executor::run takes the calling thread's, so a step never
// allocates it half-way (which worker runs which attention slice, and so
// calls the GEMM first, changes from run to run).
#pragma once

#include <cstddef>

namespace reforge::runtime {

// The GEMM's panels, kDepth (256) x kBlockColumns (512) doubles, which
// the calling thread packs and every thread reads; then the rows of a
// transposed A that this thread packs for itself, kBlockRows (128) x
// kDepth doubles.
constexpr size_t kThreadPanelBytes = size_t{256} * 512 * sizeof(double);
constexpr size_t kThreadScratchBytes = kThreadPanelBytes + size_t{128} * 256 * sizeof(double);

// This thread's scratch: kThreadScratchBytes, 64-byte aligned.
std::byte* thread_scratch();

}  // namespace reforge::runtime
