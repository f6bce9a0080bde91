// A stand-in for cuBLAS (libcublas.so.13) beside the stand-in driver
// (fake_cuda_driver.cc), whose device pointers are host pointers: the
// strided-batched GEMMs the executor calls, computed as cuBLAS defines
// them — column-major, op(X) = X or X^T, C = alpha op(A) op(B) + beta C —
// so that the executor's mapping of row-major products onto them is
// checked. Each call is counted in $FAKE_CUDA_LOG ("cublas gemm").
#include <cublas_api.h>

#include <cstdio>
#include <cstdlib>

namespace {

void log_call() {
  if (const char* path = std::getenv("FAKE_CUDA_LOG")) {
    if (FILE* f = std::fopen(path, "a")) {
      std::fputs("cublas gemm\n", f);
      std::fclose(f);
    }
  }
}

template <typename T>
cublasStatus_t gemm(cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, const T* alpha, const T* a,
                    int lda, long long stride_a, const T* b, int ldb, long long stride_b, const T* beta, T* c, int ldc,
                    long long stride_c, int batch) {
  if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  auto at_least = [](int rows) { return rows > 1 ? rows : 1; };  // cuBLAS: ld >= max(1, rows)
  if (ldc < at_least(m) || lda < at_least(op_a == CUBLAS_OP_N ? m : k) || ldb < at_least(op_b == CUBLAS_OP_N ? k : n)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  log_call();
  for (int p = 0; p < batch; ++p) {
    const T* A = a + p * stride_a;
    const T* B = b + p * stride_b;
    T* C = c + p * stride_c;
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        T sum = 0;
        for (int l = 0; l < k; ++l) {
          const T x = op_a == CUBLAS_OP_N ? A[i + l * lda] : A[l + i * lda];
          const T y = op_b == CUBLAS_OP_N ? B[l + j * ldb] : B[j + l * ldb];
          sum += x * y;
        }
        T& out = C[i + j * ldc];
        out = *alpha * sum + (*beta == T(0) ? T(0) : *beta * out);
      }
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  static int one;
  *handle = reinterpret_cast<cublasHandle_t>(&one);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusName(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE";
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n,
                                         int k, const float* alpha, const float* a, int lda, long long stride_a,
                                         const float* b, int ldb, long long stride_b, const float* beta, float* c,
                                         int ldc, long long stride_c, int batch) {
  return gemm(op_a, op_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n,
                                         int k, const double* alpha, const double* a, int lda, long long stride_a,
                                         const double* b, int ldb, long long stride_b, const double* beta, double* c,
                                         int ldc, long long stride_c, int batch) {
  return gemm(op_a, op_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
}

}  // extern "C"
