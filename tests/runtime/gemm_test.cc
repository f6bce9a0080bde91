// The runtime GEMM against a plain triple loop in long double, on shapes
// at and around its blocking: rows around the register block (6 and 8)
// and the row block (128), columns around a panel (2 vectors: 16 and 32
// floats) and the packed block (512), depths across the 256-deep panels,
// operands stored transposed, and C inside a wider matrix; on one thread
// and split between threads, with the same bits.
#include "runtime/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace reforge::runtime {
namespace {

template <typename T>
void check_shape(int64_t m, int64_t n, int64_t k, bool a_transposed, bool b_transposed, int64_t c_extra,
                 ThreadPool* pool = nullptr) {
  std::mt19937 rng(static_cast<uint32_t>(m * 7919 + n * 131 + k));
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> a(m * k), b(k * n);
  for (T& x : a) x = static_cast<T>(uniform(rng));
  for (T& x : b) x = static_cast<T>(uniform(rng));
  GemmLayout layout = GemmLayout::dense(m, n, k, a_transposed, b_transposed);
  layout.c_row = n + c_extra;
  const T sentinel = T(1234.5);
  std::vector<T> c(m * layout.c_row, sentinel);
  gemm(a.data(), b.data(), c.data(), m, n, k, layout, pool);
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

// Around the cache blocks (128 rows of A, 512 columns of packed B), on
// one thread and split between threads.
TEST(Gemm, MatchesTheTripleLoopAroundTheCacheBlocks) {
  ThreadPool pool(3);
  for (auto [m, n] : std::vector<std::array<int64_t, 2>>{{127, 513}, {129, 511}, {300, 512}, {8, 1100}}) {
    for (int transposes = 0; transposes < 4; ++transposes) {
      check_shape<float>(m, n, 257, transposes & 1, transposes & 2, transposes == 3 ? 5 : 0);
      check_shape<float>(m, n, 257, transposes & 1, transposes & 2, transposes == 3 ? 5 : 0, &pool);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// Threads split C's rows; each element is summed in the same order, so the
// bits do not depend on the thread count.
TEST(Gemm, ThreadCountDoesNotChangeTheBits) {
  const int64_t m = 517, n = 700, k = 600;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n);
  for (float& x : a) x = uniform(rng);
  for (float& x : b) x = uniform(rng);
  for (int transposes = 0; transposes < 4; ++transposes) {
    const GemmLayout layout = GemmLayout::dense(m, n, k, transposes & 1, transposes & 2);
    std::vector<float> alone(m * n), split(m * n, 7.0f);
    gemm(a.data(), b.data(), alone.data(), m, n, k, layout);
    for (int threads : {2, 3}) {
      ThreadPool pool(threads);
      gemm(a.data(), b.data(), split.data(), m, n, k, layout, &pool);
      ASSERT_EQ(alone, split) << threads << " threads, transposes " << transposes;
    }
  }
}

// A transposed A is packed (when it meets several panels of B) and a
// row-major one read in place; both sum every element in the same order,
// so the same matrix gives the same bits stored either way.
TEST(Gemm, TransposedAGivesTheBitsOfTheSameRowMajorA) {
  const int64_t m = 301, n = 600, k = 600;
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> a(m * k), a_transposed(k * m), b(k * n);
  for (float& x : a) x = uniform(rng);
  for (float& x : b) x = uniform(rng);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) a_transposed[p * m + i] = a[i * k + p];
  }
  ThreadPool pool(2);
  for (ThreadPool* threads : {static_cast<ThreadPool*>(nullptr), &pool}) {
    std::vector<float> in_place(m * n), packed(m * n, 7.0f);
    gemm(a.data(), b.data(), in_place.data(), m, n, k, GemmLayout::dense(m, n, k), threads);
    gemm(a_transposed.data(), b.data(), packed.data(), m, n, k, GemmLayout::dense(m, n, k, true), threads);
    ASSERT_EQ(in_place, packed) << (threads ? "2 threads" : "1 thread");
  }
}

// A product of one to four rows reads B in place (a GEMV) instead of
// packing it; its rows are the bits the same rows get inside a larger
// product, with an epilogue and split between threads.
TEST(Gemm, FewRowsGiveTheBitsOfTheSameRowsInALargerProduct) {
  const int64_t big = 64;
  ThreadPool pool(2);
  for (auto [n, k] : std::vector<std::array<int64_t, 2>>{{1024, 64}, {300, 600}, {17, 257}}) {
    std::mt19937 rng(static_cast<uint32_t>(n + k));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> a(big * k), b(k * n), bias(n);
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
    for (float& x : bias) x = uniform(rng);
    const GemmEpilogue<float> epilogue{.bias = bias.data()};
    std::vector<float> all(big * n);
    gemm(a.data(), b.data(), all.data(), big, n, k, GemmLayout::dense(big, n, k), nullptr, nullptr, epilogue);
    for (int64_t m : {1, 2, 4}) {
      for (ThreadPool* threads : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<float> few(m * n);
        gemm(a.data(), b.data(), few.data(), m, n, k, GemmLayout::dense(m, n, k), threads, nullptr, epilogue);
        ASSERT_TRUE(std::equal(few.begin(), few.end(), all.begin())) << m << "x" << n << "x" << k;
      }
    }
  }
}

TEST(Gemm, EmptyDepthGivesZeros) {
  std::vector<float> c(6, 7.0f);
  gemm(static_cast<const float*>(nullptr), nullptr, c.data(), 2, 3, 0, GemmLayout::dense(2, 3, 0));
  for (float x : c) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace reforge::runtime
