// The GPU library's kernels, as CUDA C++ source: the library catalogue's
// functions (library_calls.h) on the GPU. The compiler appends this text
// to every CUDA translation unit it renders (compiler/codegen/cuda), so an
// artifact's cubin carries them beside the generated kernels; the runtime
// turns each library launch into launches of them (cuda_library.h). This
// file holds the calling convention and the indexing, sorting, random and
// product kernels; the fused attention kernels follow it
// (cuda_attention_source.h), and cuda_library_source() is both.
//
// Every library kernel is
//   extern "C" __global__ void NAME(const long long* args, long long begin, long long end)
// over threads [begin, end) of its own work, one thread per output
// element. `args` is a block of device memory the executor fills once at
// load: the launch's index, the address of the status word, the number of
// buffers, each buffer's address, then the kernel's constants
// (cuda_library.cc). An
// index out of range sets the status word to the launch's index + 1,
// which the executor turns into an error naming the launch.
//
// Like the generated kernels, the text compiles as host C++ under
// REFORGE_CUDA_ON_HOST (the prelude's shim), so the same kernels run on a
// stand-in driver in tests. Sums run in the CPU library's order where it
// has one (index_add, scatter_add: increasing source index), so those
// agree bit for bit; a product sums k in order.
#pragma once

#include <string>

#include "runtime/cuda_attention_source.h"

namespace reforge::runtime {

inline constexpr const char* kCudaLibraryCoreSource = R"(
// ---- the GPU library (runtime/cuda_library_source.h) ----
#ifdef REFORGE_CUDA_ON_HOST
static inline unsigned long long atomicCAS(unsigned long long* at, unsigned long long expected,
                                           unsigned long long desired) {
  unsigned long long old = *at;
  if (old == expected) *at = desired;
  return old;
}
static inline int atomicAdd(int* at, int value) {
  const int old = *at;
  *at = old + value;
  return old;
}
#define REFORGE_LIBRARY_HOST_ENTRY(NAME)                                                        \
  extern "C" const int reforge_host_buffers_##NAME = 1;                                         \
  extern "C" const long long reforge_host_threads_per_iteration_##NAME = 1;                     \
  extern "C" void reforge_host_##NAME(void* const* buffers, long long begin, long long end) {  \
    blockDim.x = 256;                                                                           \
    gridDim.x = (unsigned int)((end - begin + 255) / 256);                                      \
    for (unsigned int b = 0; b < gridDim.x; ++b)                                                \
      for (unsigned int t = 0; t < blockDim.x; ++t) {                                           \
        blockIdx.x = b;                                                                         \
        threadIdx.x = t;                                                                        \
        NAME((const long long*)buffers[0], begin, end);                                         \
      }                                                                                         \
  }
#else
#define REFORGE_LIBRARY_HOST_ENTRY(NAME)
#endif

// A library kernel NAME running BODY<TYPES...>(args, thread) for each thread.
#define REFORGE_LIBRARY_KERNEL(NAME, BODY)                                                      \
  extern "C" __global__ void NAME(const long long* args, long long begin, long long end) {     \
    const long long thread = begin + (long long)blockIdx.x * blockDim.x + threadIdx.x;          \
    if (thread < end) BODY(args, thread);                                                       \
  }                                                                                             \
  REFORGE_LIBRARY_HOST_ENTRY(NAME)

template <typename T>
__device__ __forceinline__ T* reforge_buffer(const long long* args, int i) {
  return (T*)args[3 + i];
}
__device__ __forceinline__ const long long* reforge_constants(const long long* args) { return args + 3 + args[2]; }

// Records a bad index (the first one wins) and gives a safe one.
__device__ __forceinline__ long long reforge_checked(const long long* args, long long index, long long extent) {
  if (index >= 0 && index < extent) return index;
  atomicCAS((unsigned long long*)args[1], 0ull, (unsigned long long)args[0] + 1);
  return 0;
}

// take and gather: out[o, a, i] = x[o, idx[...], i] with idx[a] (take: a
// 1-D index) or idx[o, a, i] (gather: the index laid out as the result).
// Buffers x, idx, out; constants outer, extent, inner, index_extent.
template <typename T, typename I, bool kPerElement>
__device__ void reforge_pick(const long long* args, long long t) {
  const long long* c = reforge_constants(args);
  const long long extent = c[1], inner = c[2], index_extent = c[3];
  const long long i = t % inner, a = t / inner % index_extent, o = t / inner / index_extent;
  const long long from = reforge_checked(args, (long long)reforge_buffer<const I>(args, 1)[kPerElement ? t : a], extent);
  reforge_buffer<T>(args, 2)[t] = reforge_buffer<const T>(args, 0)[(o * extent + from) * inner + i];
}
template <typename T, typename I>
__device__ void reforge_take(const long long* args, long long t) { reforge_pick<T, I, false>(args, t); }
template <typename T, typename I>
__device__ void reforge_gather(const long long* args, long long t) { reforge_pick<T, I, true>(args, t); }

// index_add and scatter_add: out[o, e, i] = base[o, e, i] + the
// updates[o, a, i] whose index is e, in increasing a — idx[a] (index_add)
// or idx[o, a, i] (scatter_add). Buffers base, idx, updates, out.
template <typename T, typename I, bool kPerElement>
__device__ void reforge_add_at(const long long* args, long long t) {
  const long long* c = reforge_constants(args);
  const long long extent = c[1], inner = c[2], index_extent = c[3];
  const long long i = t % inner, e = t / inner % extent, o = t / inner / extent;
  const I* idx = reforge_buffer<const I>(args, 1);
  const T* updates = reforge_buffer<const T>(args, 2);
  T sum = reforge_buffer<const T>(args, 0)[t];
  for (long long a = 0; a < index_extent; ++a) {
    const long long at = (o * index_extent + a) * inner + i;
    const long long target = (long long)idx[kPerElement ? at : a];
    reforge_checked(args, target, extent);
    if (target == e) sum += updates[at];
  }
  reforge_buffer<T>(args, 3)[t] = sum;
}
template <typename T, typename I>
__device__ void reforge_index_add(const long long* args, long long t) { reforge_add_at<T, I, false>(args, t); }
template <typename T, typename I>
__device__ void reforge_scatter_add(const long long* args, long long t) { reforge_add_at<T, I, true>(args, t); }

// argsort: the stable ascending order along the middle axis, by each
// element's rank (the keys below it, and the equal ones before it).
// Buffers keys, order (i64); constants outer, extent, inner.
template <typename T>
__device__ void reforge_argsort(const long long* args, long long t) {
  const long long* c = reforge_constants(args);
  const long long extent = c[1], inner = c[2];
  const long long i = t % inner, p = t / inner % extent, o = t / inner / extent;
  const T* keys = reforge_buffer<const T>(args, 0);
  const T key = keys[t];
  long long rank = 0;
  for (long long q = 0; q < extent; ++q) {
    const T other = keys[(o * extent + q) * inner + i];
    rank += (other < key || (q < p && !(key < other) && !(other < key))) ? 1 : 0;
  }
  reforge_buffer<long long>(args, 1)[(o * extent + rank) * inner + i] = p;
}

// Counter-based random numbers (runtime/kernels/counter_rng.h, the same
// arithmetic). Buffers key (a scalar), out; constants stream, first.
__device__ __forceinline__ unsigned long long reforge_mix64(unsigned long long z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
__device__ __forceinline__ double reforge_uniform(unsigned long long key, unsigned long long stream,
                                                  unsigned long long index) {
  const unsigned long long bits = reforge_mix64(reforge_mix64(key ^ reforge_mix64(stream + 0x632be59bd9b4e019ULL)) + index);
  return (double)(bits >> 11) * 0x1.0p-53;
}
template <typename T, typename K>
__device__ void reforge_random_uniform(const long long* args, long long t) {
  const unsigned long long key = (unsigned long long)(long long)reforge_buffer<const K>(args, 0)[0];
  const long long* c = reforge_constants(args);
  reforge_buffer<T>(args, 1)[t] = (T)reforge_uniform(key, (unsigned long long)c[0], (unsigned long long)(c[1] + t));
}
template <typename T, typename K>
__device__ void reforge_random_normal(const long long* args, long long t) {
  const unsigned long long key = (unsigned long long)(long long)reforge_buffer<const K>(args, 0)[0];
  const long long* c = reforge_constants(args);
  const unsigned long long stream = (unsigned long long)c[0], index = (unsigned long long)(c[1] + t);
  const double u1 = reforge_uniform(key, stream, 2 * index), u2 = reforge_uniform(key, stream, 2 * index + 1);
  reforge_buffer<T>(args, 1)[t] = (T)(sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2));
}

// matmul: C[b] = A[b] B[b] (+ C[b] with accumulate), k summed in order.
// Buffers A, B, C; constants batch, m, n, k, a_transposed, b_transposed,
// accumulate. (The executor runs products on cuBLAS where it loads.)
template <typename T>
__device__ void reforge_matmul(const long long* args, long long t) {
  const long long* c = reforge_constants(args);
  const long long m = c[1], n = c[2], k = c[3];
  const bool a_t = c[4] != 0, b_t = c[5] != 0, accumulate = c[6] != 0;
  const long long j = t % n, i = t / n % m, b = t / n / m;
  const T* A = reforge_buffer<const T>(args, 0) + b * m * k;
  const T* B = reforge_buffer<const T>(args, 1) + b * k * n;
  T sum = 0;
  for (long long p = 0; p < k; ++p) sum += A[a_t ? p * m + i : i * k + p] * B[b_t ? j * k + p : p * n + j];
  T* C = reforge_buffer<T>(args, 2);
  C[t] = accumulate ? C[t] + sum : sum;
}

// bias_rows: C[b, i, j] = bias[j], before a product adds onto it.
// Buffers bias, C; constant n.
template <typename T>
__device__ void reforge_bias_rows(const long long* args, long long t) {
  reforge_buffer<T>(args, 1)[t] = reforge_buffer<const T>(args, 0)[t % reforge_constants(args)[0]];
}

// add_in_place: C += R (a GEMM's residual, after its activation). Buffers R, C.
template <typename T>
__device__ void reforge_add_in_place(const long long* args, long long t) {
  reforge_buffer<T>(args, 1)[t] += reforge_buffer<const T>(args, 0)[t];
}

// A kernel template's instances, named FN_<type>[_<index type>]: over
// each float type; each float type by each index type; each value type by
// each index type.
#define REFORGE_FLOAT_KERNELS(FN)                \
  REFORGE_LIBRARY_KERNEL(FN##_f32, FN<float>) \
  REFORGE_LIBRARY_KERNEL(FN##_f64, FN<double>)
#define REFORGE_FLOAT_INDEX_KERNELS(FN)                         \
  REFORGE_LIBRARY_KERNEL(FN##_f32_i32, (FN<float, int>))        \
  REFORGE_LIBRARY_KERNEL(FN##_f32_i64, (FN<float, long long>))  \
  REFORGE_LIBRARY_KERNEL(FN##_f64_i32, (FN<double, int>))       \
  REFORGE_LIBRARY_KERNEL(FN##_f64_i64, (FN<double, long long>))
#define REFORGE_VALUE_INDEX_KERNELS(FN)                     \
  REFORGE_FLOAT_INDEX_KERNELS(FN)                           \
  REFORGE_LIBRARY_KERNEL(FN##_i32_i32, (FN<int, int>))       \
  REFORGE_LIBRARY_KERNEL(FN##_i32_i64, (FN<int, long long>)) \
  REFORGE_LIBRARY_KERNEL(FN##_i64_i32, (FN<long long, int>)) \
  REFORGE_LIBRARY_KERNEL(FN##_i64_i64, (FN<long long, long long>))

REFORGE_VALUE_INDEX_KERNELS(reforge_take)
REFORGE_VALUE_INDEX_KERNELS(reforge_gather)
REFORGE_VALUE_INDEX_KERNELS(reforge_index_add)
REFORGE_VALUE_INDEX_KERNELS(reforge_scatter_add)
REFORGE_LIBRARY_KERNEL(reforge_argsort_f32, reforge_argsort<float>)
REFORGE_LIBRARY_KERNEL(reforge_argsort_f64, reforge_argsort<double>)
REFORGE_LIBRARY_KERNEL(reforge_argsort_i32, reforge_argsort<int>)
REFORGE_LIBRARY_KERNEL(reforge_argsort_i64, reforge_argsort<long long>)
REFORGE_FLOAT_INDEX_KERNELS(reforge_random_uniform)
REFORGE_FLOAT_INDEX_KERNELS(reforge_random_normal)
REFORGE_FLOAT_KERNELS(reforge_matmul)
REFORGE_FLOAT_KERNELS(reforge_bias_rows)
REFORGE_FLOAT_KERNELS(reforge_add_in_place)
)";

// The whole GPU library's text: the core, then the attention kernels.
inline std::string cuda_library_source() { return std::string(kCudaLibraryCoreSource) + kCudaAttentionSource; }

}  // namespace reforge::runtime
