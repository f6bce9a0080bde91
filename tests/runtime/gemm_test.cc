// The runtime GEMM against a plain triple loop in long double, on shapes
// at and around its blocking: rows around the register block (6 and 8),
// columns around a panel (2 vectors: 16 and 32 floats), depths across
// the 256-deep panels, operands stored transposed, and C inside a wider
// matrix (a thread's block of columns).
#include "runtime/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace reforge::runtime {
namespace {

template <typename T>
void check_shape(int64_t m, int64_t n, int64_t k, bool a_transposed, bool b_transposed, int64_t c_extra) {
  std::mt19937 rng(static_cast<uint32_t>(m * 7919 + n * 131 + k));
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> a(m * k), b(k * n);
  for (T& x : a) x = static_cast<T>(uniform(rng));
  for (T& x : b) x = static_cast<T>(uniform(rng));
  GemmLayout layout = GemmLayout::dense(m, n, k, a_transposed, b_transposed);
  layout.c_row = n + c_extra;
  const T sentinel = T(1234.5);
  std::vector<T> c(m * layout.c_row, sentinel);
  gemm(a.data(), b.data(), c.data(), m, n, k, layout);
  const double epsilon = std::is_same_v<T, float> ? 1e-6 : 1e-15;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      long double expected = 0, magnitude = 0;
      for (int64_t p = 0; p < k; ++p) {
        long double term =
            static_cast<long double>(a[i * layout.a_row + p * layout.a_col]) * b[p * layout.b_row + j * layout.b_col];
        expected += term;
        magnitude += std::fabs(term);
      }
      ASSERT_NEAR(c[i * layout.c_row + j], static_cast<double>(expected), 4 * epsilon * (double(magnitude) + 1))
          << m << "x" << n << "x" << k << " at (" << i << ", " << j << ")";
    }
    for (int64_t j = n; j < layout.c_row; ++j) {
      ASSERT_EQ(c[i * layout.c_row + j], sentinel) << "wrote past the block at (" << i << ", " << j << ")";
    }
  }
}

template <typename T>
void check_all_shapes() {
  for (int64_t m : {1, 5, 6, 7, 8, 9, 13, 64}) {
    for (int64_t n : {1, 15, 16, 17, 31, 32, 33, 64, 70}) {
      for (int64_t k : {1, 3, 64, 255, 256, 257, 600}) {
        for (int transposes = 0; transposes < 4; ++transposes) {
          check_shape<T>(m, n, k, transposes & 1, transposes & 2, transposes == 3 ? 5 : 0);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(Gemm, FloatMatchesTheTripleLoopAroundEveryBlockEdge) { check_all_shapes<float>(); }
TEST(Gemm, DoubleMatchesTheTripleLoopAroundEveryBlockEdge) { check_all_shapes<double>(); }

TEST(Gemm, EmptyDepthGivesZeros) {
  std::vector<float> c(6, 7.0f);
  gemm(static_cast<const float*>(nullptr), nullptr, c.data(), 2, 3, 0, GemmLayout::dense(2, 3, 0));
  for (float x : c) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace reforge::runtime
