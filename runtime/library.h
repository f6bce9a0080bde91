// The runtime library: the operations a compiled program calls instead of
// generated loop nests (GEMM, sorting, gathers and scatters, random
// numbers, fused LSH attention). Each takes buffers (the node's inputs,
// then its result, then any workspace), integer constants and the thread
// pool; what those are, by name and size, is its descriptor in
// library_calls.h. Each is checked against its op's reference kernel by
// the backend tests.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/communicator.h"
#include "runtime/gemm.h"
#include "runtime/thread_pool.h"

namespace reforge::runtime {

struct LibraryArgs {
  void* const* buffers;
  const int64_t* ints;
  int64_t num_ints;
  const double* reals;
  ThreadPool& pool;
  GemmMicroKernel gemm_micro_kernel = nullptr;  // the program's generated one, if it has it
  EpilogueKernel epilogue = nullptr;            // the launch's generated epilogue kernel, if it has one
  Communicator* communicator = nullptr;         // the collectives' replicas; null: one process
};

using LibraryFunction = void (*)(const LibraryArgs&);

// nullptr when the library has no function of that name.
LibraryFunction find_library_function(std::string_view name);

}  // namespace reforge::runtime
