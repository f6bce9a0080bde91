// cuBLAS, opened at run time like the driver (never linked): the GPU's
// matrix products. The executor runs each product of a program on it
// (strided-batched GEMM, row-major operands through the column-major
// interface) when it loads, and on the GPU library's own product kernel
// where it does not (a machine with the driver but not the toolkit).
#pragma once

#include <cublas_api.h>

#include <string>

namespace reforge::runtime {

class Cublas {
 public:
  // The library for this process: $REFORGE_CUBLAS, else libcublas.so.13 by
  // its soname, else where the toolkit installs it; null where none loads
  // (unavailable_reason() says why).
  static const Cublas* get();
  static const std::string& unavailable_reason();

  // Throws Error("<what> failed: CUBLAS_STATUS_...") unless `status` is success.
  void check(cublasStatus_t status, const char* what) const;

  cublasStatus_t (*cublasCreate_v2)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*cublasDestroy_v2)(cublasHandle_t) = nullptr;
  cublasStatus_t (*cublasSetStream_v2)(cublasHandle_t, cudaStream_t) = nullptr;
  const char* (*cublasGetStatusName)(cublasStatus_t) = nullptr;
  decltype(&::cublasSgemmStridedBatched) cublasSgemmStridedBatched = nullptr;
  decltype(&::cublasDgemmStridedBatched) cublasDgemmStridedBatched = nullptr;
};

}  // namespace reforge::runtime
