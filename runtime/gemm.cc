#include "runtime/gemm.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "runtime/thread_pool.h"
#include "runtime/thread_scratch.h"

namespace reforge::runtime {

// The kernel compiled three times: for AVX-512 (x86-64-v4), AVX2 + FMA
// (x86-64-v3) and baseline x86-64; the CPU picks at run time. Always at
// O3 with contraction on, whatever the build's level: a multiply-add
// becomes one FMA only from -O2 on, and the bits must not depend on the
// build (the compiler's generated micro-kernel gives the same bits as
// this copy, tested in the sanitizer build at -O1 too).
#pragma GCC push_options
#pragma GCC optimize("O3", "fp-contract=fast")
#pragma GCC target("arch=x86-64-v4")
namespace v4 {
constexpr int64_t kVectorBytes = 64, kRows = 8;  // 32 zmm registers: 16 accumulators
#include "runtime/gemm_kernel.inc"
}  // namespace v4
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC optimize("O3", "fp-contract=fast")
#pragma GCC target("arch=x86-64-v3")
namespace v3 {
constexpr int64_t kVectorBytes = 32, kRows = 6;  // 16 ymm registers: 12 accumulators
#include "runtime/gemm_kernel.inc"
}  // namespace v3
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC optimize("O3", "fp-contract=fast")
namespace baseline {
constexpr int64_t kVectorBytes = 32, kRows = 6;
#include "runtime/gemm_kernel.inc"
}  // namespace baseline
#pragma GCC pop_options

namespace {

enum class Isa { v4, v3, baseline };

Isa host_isa() {
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return Isa::v4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::v3;
    return Isa::baseline;
  }();
  return isa;
}

template <typename T>
void dispatch(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, const GemmLayout& layout, ThreadPool* pool,
              GemmMicroKernel generated, const GemmEpilogue<T>& epilogue) {
  switch (host_isa()) {
    case Isa::v4:
      return v4::gemm(a, b, c, m, n, k, layout, pool, generated, epilogue);
    case Isa::v3:
      return v3::gemm(a, b, c, m, n, k, layout, pool, generated, epilogue);
    case Isa::baseline:
      return baseline::gemm(a, b, c, m, n, k, layout, pool, generated, epilogue);
  }
}

}  // namespace

GemmBlock host_gemm_block() {
  switch (host_isa()) {
    case Isa::v4:
      return {v4::kRows, 2 * v4::Vector<float>::lanes};
    case Isa::v3:
      return {v3::kRows, 2 * v3::Vector<float>::lanes};
    case Isa::baseline:
      break;
  }
  return {baseline::kRows, 2 * baseline::Vector<float>::lanes};
}

void gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, const GemmLayout& layout,
          ThreadPool* pool, GemmMicroKernel generated, const GemmEpilogue<float>& epilogue) {
  dispatch(a, b, c, m, n, k, layout, pool, generated, epilogue);
}
void gemm(const double* a, const double* b, double* c, int64_t m, int64_t n, int64_t k, const GemmLayout& layout,
          ThreadPool* pool, GemmMicroKernel /*generated: float only*/, const GemmEpilogue<double>& epilogue) {
  dispatch(a, b, c, m, n, k, layout, pool, nullptr, epilogue);
}

}  // namespace reforge::runtime
