#include "runtime/gemm.h"

#include <algorithm>

namespace reforge::runtime {
namespace {

constexpr int64_t kRows = 4;        // rows of C computed together
constexpr int64_t kColumns = 512;   // columns of C per block (4 rows x 512 floats = 8 KiB)

template <typename T>
inline void gemm_blocked(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k) {
  for (int64_t j0 = 0; j0 < n; j0 += kColumns) {
    const int64_t width = std::min(kColumns, n - j0);
    int64_t i = 0;
    for (; i + kRows <= m; i += kRows) {
      T* c0 = c + i * n + j0;
      T* c1 = c0 + n;
      T* c2 = c1 + n;
      T* c3 = c2 + n;
      std::fill(c0, c0 + width, T(0));
      std::fill(c1, c1 + width, T(0));
      std::fill(c2, c2 + width, T(0));
      std::fill(c3, c3 + width, T(0));
      for (int64_t p = 0; p < k; ++p) {
        const T a0 = a[i * k + p], a1 = a[(i + 1) * k + p], a2 = a[(i + 2) * k + p], a3 = a[(i + 3) * k + p];
        const T* __restrict brow = b + p * n + j0;
        T* __restrict d0 = c0;
        T* __restrict d1 = c1;
        T* __restrict d2 = c2;
        T* __restrict d3 = c3;
        for (int64_t j = 0; j < width; ++j) {
          const T x = brow[j];
          d0[j] += a0 * x;
          d1[j] += a1 * x;
          d2[j] += a2 * x;
          d3[j] += a3 * x;
        }
      }
    }
    for (; i < m; ++i) {
      T* __restrict crow = c + i * n + j0;
      std::fill(crow, crow + width, T(0));
      for (int64_t p = 0; p < k; ++p) {
        const T x = a[i * k + p];
        const T* __restrict brow = b + p * n + j0;
        for (int64_t j = 0; j < width; ++j) crow[j] += x * brow[j];
      }
    }
  }
}

}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void gemm(const float* a, const float* b,
                                                                                         float* c, int64_t m, int64_t n,
                                                                                         int64_t k) {
  gemm_blocked(a, b, c, m, n, k);
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void gemm(const double* a,
                                                                                         const double* b, double* c,
                                                                                         int64_t m, int64_t n,
                                                                                         int64_t k) {
  gemm_blocked(a, b, c, m, n, k);
}

}  // namespace reforge::runtime
