// The library catalogue's functions on the GPU: each library launch of a
// program becomes one or more kernel launches — of the GPU library's
// kernels (cuda_library_source.h, compiled into every CUDA artifact) or,
// for a GEMM's activation, of the launch's generated epilogue kernel.
//
// Done: matmul and matmul_epilogue (one thread per element of C), take,
// gather, index_add, scatter_add, argsort, random_normal, random_uniform,
// the fused chunked (local and full) and LSH attention and their
// gradients. Not yet: the collectives; cuda_library_steps refuses them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/program.h"

namespace reforge::runtime {

// A product C[b] = A[b] B[b] (+ C[b] with `accumulate`) of row-major
// matrices, an operand possibly stored transposed: what cuBLAS can run.
struct CudaProduct {
  DType dtype = DType::f32;
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool a_transposed = false, b_transposed = false, accumulate = false;
};

struct CudaLibraryStep {
  // A GPU library kernel, or (generated_epilogue) the launch's epilogue
  // kernel, run over `threads` flat elements of the launch's result.
  std::string kernel;
  bool generated_epilogue = false;
  int64_t threads = 0;
  std::vector<int> buffers;        // which of the launch's buffers, in order
  std::vector<int64_t> constants;  // the library kernel's constants
  // Set for a product (buffers A, B, C): the executor runs it on cuBLAS
  // where it loads, else on `kernel`.
  std::optional<CudaProduct> product;
};

// Throws Error naming the function when it has no GPU implementation.
std::vector<CudaLibraryStep> cuda_library_steps(const Launch& launch);

bool has_cuda_implementation(const std::string& function);

}  // namespace reforge::runtime
