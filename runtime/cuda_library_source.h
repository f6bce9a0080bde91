// The GPU library's kernels, as CUDA C++ source: the library catalogue's
// functions (library_calls.h) on the GPU. The compiler appends this text
// to every CUDA translation unit it renders (compiler/codegen/cuda), so an
// artifact's cubin carries them beside the generated kernels; the runtime
// turns each library launch into launches of them (cuda_library.h).
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

namespace reforge::runtime {

inline constexpr const char* kCudaLibrarySource = R"(
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

// ---- chunked attention (local and full), runtime/kernels/chunked_attention_kernel.h ----
// One thread per query row (forward; the gradient's rows: its maximum,
// sum, g . out and dq) or per key row (the gradient's dk and dv). Logits
// are recomputed
// where needed instead of kept: nothing of size L x L exists. Constants:
// slices, length, chunk, dk, dv, valid, look_back, causal, mask_self, the
// workspace's bytes per slice (each query's row maximum, 1 / its sum,
// then g . out).
// Buffers: q, k, v, key (unread), [cotangent,] result, workspace.

__device__ __forceinline__ float reforge_exp(float x) { return expf(x); }
__device__ __forceinline__ double reforge_exp(double x) { return exp(x); }
__device__ __forceinline__ float reforge_log(float x) { return logf(x); }
__device__ __forceinline__ double reforge_log(double x) { return log(x); }
__device__ __forceinline__ float reforge_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double reforge_sqrt(double x) { return sqrt(x); }

struct ReforgeChunked {
  long long slices, length, chunk, dk, dv, valid, stride;
  bool look_back, causal, mask_self;
};

__device__ __forceinline__ ReforgeChunked reforge_chunked(const long long* args) {
  const long long* c = reforge_constants(args);
  return {c[0], c[1], c[2], c[3], c[4], c[5], c[9], c[6] != 0, c[7] != 0, c[8] != 0};
}

// The masked logit of query t and key j in one slice (q and k at the slice).
template <typename T>
__device__ T reforge_chunked_logit(const ReforgeChunked& s, const T* q, const T* k, long long t, long long j) {
  T l = 0;
  for (long long d = 0; d < s.dk; ++d) l += q[t * s.dk + d] * k[j * s.dk + d];
  if (s.causal && j > t) l -= (T)1e9;
  if (s.mask_self && j == t) l -= (T)1e5;
  if (s.valid < s.length && j >= s.valid) l -= (T)1e9;
  return l;
}

// fn(j) for each key of query t's window, as the CPU kernel visits them:
// its own chunk, then (look_back) the previous one, wrapping.
template <typename Fn>
__device__ void reforge_chunked_window(const ReforgeChunked& s, long long t, Fn fn) {
  const long long chunks = s.length / s.chunk, n = t / s.chunk;
  for (int part = 0; part < (s.look_back ? 2 : 1); ++part) {
    const long long first = (part == 0 ? n : (n + chunks - 1) % chunks) * s.chunk;
    for (long long j = first; j < first + s.chunk; ++j) fn(j);
  }
}

// The softmax normaliser of query t, in one pass over its window: the
// running maximum, and the sum of exp(logit - maximum) rescaled whenever
// the maximum grows.
template <typename T>
struct ReforgeSoftmaxRow {
  T max, sum;
};
template <typename T>
__device__ ReforgeSoftmaxRow<T> reforge_chunked_row(const ReforgeChunked& s, const T* q, const T* k, long long t) {
  T m = -reforge_f32(0x7f800000u), sum = 0;
  reforge_chunked_window(s, t, [&](long long j) {
    const T l = reforge_chunked_logit(s, q, k, t, j);
    if (l > m) {
      sum = sum * reforge_exp(m - l) + 1;
      m = l;
    } else {
      sum += reforge_exp(l - m);
    }
  });
  return {m, sum};
}

template <typename T>
__device__ __forceinline__ T reforge_dot(const T* a, const T* b, long long n) {
  T sum = 0;
  for (long long d = 0; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// What a thread of a chunked-attention kernel works on: its slice's q, k,
// v (and for the gradient g, the result rows and the kept row values) and
// its row (a query's or a key's) within the slice.
template <typename T>
struct ReforgeChunkedThread {
  ReforgeChunked s;
  long long row;
  const T *q, *k, *v, *g;
  T* result;  // the slice's result rows: dv wide, or 2 dk + dv for the gradient
  T* kept;    // the gradient's: each query's row maximum, 1 / its sum, then g . out
};

template <typename T>
__device__ ReforgeChunkedThread<T> reforge_chunked_thread(const long long* args, long long thread, bool gradient) {
  ReforgeChunkedThread<T> x;
  x.s = reforge_chunked(args);
  const ReforgeChunked& s = x.s;
  const long long b = thread / s.length;
  x.row = thread % s.length;
  x.q = reforge_buffer<const T>(args, 0) + b * s.length * s.dk;
  x.k = reforge_buffer<const T>(args, 1) + b * s.length * s.dk;
  x.v = reforge_buffer<const T>(args, 2) + b * s.length * s.dv;
  x.g = gradient ? reforge_buffer<const T>(args, 4) + b * s.length * s.dv : nullptr;
  x.result = reforge_buffer<T>(args, gradient ? 5 : 4) + b * s.length * (gradient ? 2 * s.dk + s.dv : s.dv);
  x.kept = gradient ? (T*)(reforge_buffer<char>(args, 6) + b * s.stride) : nullptr;
  return x;
}

template <typename T>
__device__ void reforge_chunked_attention(const long long* args, long long thread) {
  const ReforgeChunkedThread<T> x = reforge_chunked_thread<T>(args, thread, false);
  const ReforgeChunked& s = x.s;
  const long long t = x.row;
  T* out = x.result + t * s.dv;
  const ReforgeSoftmaxRow<T> row = reforge_chunked_row(s, x.q, x.k, t);
  for (long long d = 0; d < s.dv; ++d) out[d] = 0;
  reforge_chunked_window(s, t, [&](long long j) {
    const T p = reforge_exp(reforge_chunked_logit(s, x.q, x.k, t, j) - row.max);
    for (long long d = 0; d < s.dv; ++d) out[d] += p * x.v[j * s.dv + d];
  });
  const T inverse_sum = (T)1 / row.sum;
  for (long long d = 0; d < s.dv; ++d) out[d] *= inverse_sum;
}

// The gradient's rows: query t's row maximum, 1 / its sum and g . out
// kept in the workspace, then dq = sum_j dS[t, j] k_j,
// dS = P (g_t . v_j - g . out). Buffers q, k, v, key, g, result
// [L, 2 dk + dv], workspace.
template <typename T>
__device__ void reforge_chunked_attention_grad_rows(const long long* args, long long thread) {
  const ReforgeChunkedThread<T> x = reforge_chunked_thread<T>(args, thread, true);
  const ReforgeChunked& s = x.s;
  const long long t = x.row;
  const T* g = x.g + t * s.dv;
  T* dq = x.result + t * (2 * s.dk + s.dv);
  const ReforgeSoftmaxRow<T> row = reforge_chunked_row(s, x.q, x.k, t);
  const T m = row.max, inverse_sum = (T)1 / row.sum;
  T g_dot = 0;
  reforge_chunked_window(s, t, [&](long long j) {
    const T p = reforge_exp(reforge_chunked_logit(s, x.q, x.k, t, j) - m) * inverse_sum;
    g_dot += p * reforge_dot(g, x.v + j * s.dv, s.dv);
  });
  x.kept[t] = m;
  x.kept[s.length + t] = inverse_sum;
  x.kept[2 * s.length + t] = g_dot;
  for (long long d = 0; d < s.dk; ++d) dq[d] = 0;
  reforge_chunked_window(s, t, [&](long long j) {
    const T p = reforge_exp(reforge_chunked_logit(s, x.q, x.k, t, j) - m) * inverse_sum;
    const T ds = p * (reforge_dot(g, x.v + j * s.dv, s.dv) - g_dot);
    for (long long d = 0; d < s.dk; ++d) dq[d] += ds * x.k[j * s.dk + d];
  });
}

// The gradient's key rows: dk_j = sum_t dS[t, j] q_t and dv_j = sum_t
// P[t, j] g_t over the queries whose window holds key j, once per window
// part that holds it (the own chunk's queries, then the next chunk's).
template <typename T>
__device__ void reforge_chunked_attention_grad_keys(const long long* args, long long thread) {
  const ReforgeChunkedThread<T> x = reforge_chunked_thread<T>(args, thread, true);
  const ReforgeChunked& s = x.s;
  const long long j = x.row;
  T* dk = x.result + j * (2 * s.dk + s.dv) + s.dk;
  T* dv = dk + s.dk;
  for (long long d = 0; d < s.dk + s.dv; ++d) dk[d] = 0;
  const long long chunks = s.length / s.chunk, own = j / s.chunk;
  for (int part = 0; part < (s.look_back ? 2 : 1); ++part) {
    const long long n = part == 0 ? own : (own + 1) % chunks;
    for (long long t = n * s.chunk; t < (n + 1) * s.chunk; ++t) {
      const T* g = x.g + t * s.dv;
      const T p = reforge_exp(reforge_chunked_logit(s, x.q, x.k, t, j) - x.kept[t]) * x.kept[s.length + t];
      const T ds = p * (reforge_dot(g, x.v + j * s.dv, s.dv) - x.kept[2 * s.length + t]);
      for (long long d = 0; d < s.dk; ++d) dk[d] += ds * x.q[t * s.dk + d];
      for (long long d = 0; d < s.dv; ++d) dv[d] += p * g[d];
    }
  }
}


// ---- fused LSH attention, runtime/kernels/lsh_attention_kernel.h ----
// The CPU kernel's computation, spread over threads. Sorting the R*L
// (round, position) slots by (round, bucket, position) is a counting sort
// in five kernels: clear the bucket counts, count (with atomics), turn
// counts into offsets (a thread per slice), place each slot (atomics: an
// arbitrary order within its bucket), then put each bucket in position
// order (a thread per bucket), which makes the order the CPU's. Then a
// thread per position attends in each of its R slots — to the slot's own
// chunk and the previous one (wrapping), logits recomputed — and combines
// the rounds by their logsumexps. The gradient's rows kernel keeps each
// slot's round weight, row maximum and sum and each position's g . out;
// its gradient kernel takes a position's dq as a query and as a key
// (through k = q / n) and its dv. Nothing of size L x L or R x L x d
// exists.
// Constants: slices, length, rounds, chunk, dk, dv, valid, per_round,
// causal, with_output, the workspace's bytes per slice, then the offsets
// of the slice's values in it (runtime/kernels/lsh_gpu_workspace.h):
// sorted, where, counts, cursor, inverse_norm, weight, row_max,
// inverse_sum, g_dot; last, whether the launch is the gradient's.
// Buffers: q, v, buckets, key (unread), [cotangent,] result, workspace.

struct ReforgeLsh {  // the constants, in order
  long long slices, length, rounds, chunk, dk, dv, valid, per_round;
  bool causal, with_output;
  long long stride, sorted, where, counts, cursor, inverse_norm, weight, row_max, inverse_sum, g_dot;
  bool gradient;
  __device__ long long chunks() const { return rounds * length / chunk; }
  __device__ long long buckets() const { return rounds * per_round; }
};

template <typename T, typename B>
struct ReforgeLshSlice {
  ReforgeLsh s;
  const T *q, *v, *g;
  const B* buckets;
  T* result;  // the slice's rows: dv wide, or dk + dv (+ dv) for the gradient
  int *sorted, *where, *counts, *cursor;
  T *inverse_norm, *weight, *row_max, *inverse_sum, *g_dot;
};

template <typename T, typename B>
__device__ ReforgeLshSlice<T, B> reforge_lsh_slice(const long long* args, long long slice) {
  const long long* c = reforge_constants(args);
  ReforgeLshSlice<T, B> x;
  ReforgeLsh& s = x.s;
  s = {c[0],  c[1],  c[2],  c[3],  c[4],  c[5],  c[6],  c[7],  c[8] != 0, c[9] != 0, c[10],
       c[11], c[12], c[13], c[14], c[15], c[16], c[17], c[18], c[19], c[20] != 0};
  const bool gradient = s.gradient;
  const long long row = gradient ? s.dk + s.dv * (s.with_output ? 2 : 1) : s.dv;
  x.q = reforge_buffer<const T>(args, 0) + slice * s.length * s.dk;
  x.v = reforge_buffer<const T>(args, 1) + slice * s.length * s.dv;
  x.buckets = reforge_buffer<const B>(args, 2) + slice * s.rounds * s.length;
  x.g = gradient ? reforge_buffer<const T>(args, 4) + slice * s.length * s.dv : nullptr;
  x.result = reforge_buffer<T>(args, gradient ? 5 : 4) + slice * s.length * row;
  char* w = reforge_buffer<char>(args, gradient ? 6 : 5) + slice * s.stride;
  x.sorted = (int*)(w + s.sorted);
  x.where = (int*)(w + s.where);
  x.counts = (int*)(w + s.counts);
  x.cursor = (int*)(w + s.cursor);
  x.inverse_norm = (T*)(w + s.inverse_norm);
  x.weight = (T*)(w + s.weight);
  x.row_max = (T*)(w + s.row_max);
  x.inverse_sum = (T*)(w + s.inverse_sum);
  x.g_dot = (T*)(w + s.g_dot);
  return x;
}

// Slot (r, t)'s global bucket; a bucket out of range is recorded and
// taken as 0, the same in every kernel, so the sort stays inside its arrays.
template <typename T, typename B>
__device__ long long reforge_lsh_bucket(const long long* args, const ReforgeLshSlice<T, B>& x, long long r,
                                        long long t) {
  const long long b = reforge_checked(args, (long long)x.buckets[r * x.s.length + t], x.s.per_round);
  return r * x.s.per_round + b;
}

// Thread per (slice, global bucket + 1): counts zeroed.
template <typename T, typename B>
__device__ void reforge_lsh_clear(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const long long entries = c[2] * c[7] + 1;
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / entries);
  x.counts[thread % entries] = 0;
}

// Thread per (slice, slot): counts[bucket + 1] += 1; the round-0 thread
// of each position also takes its key's normaliser.
template <typename T, typename B>
__device__ void reforge_lsh_count(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const long long slots = c[2] * c[1];
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / slots);
  const long long r = thread % slots / x.s.length, t = thread % x.s.length;
  atomicAdd(&x.counts[reforge_lsh_bucket(args, x, r, t) + 1], 1);
  if (r == 0) {
    const T* q = x.q + t * x.s.dk;
    x.inverse_norm[t] = (T)1 / reforge_sqrt(reforge_dot(q, q, x.s.dk) + (T)((double)x.s.dk * 1e-6));
  }
}

// Thread per slice: counts become each bucket's first place, and the cursors start there.
template <typename T, typename B>
__device__ void reforge_lsh_offsets(const long long* args, long long thread) {
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread);
  for (long long b = 0; b < x.s.buckets(); ++b) {
    x.counts[b + 1] += x.counts[b];
    x.cursor[b] = x.counts[b];
  }
}

// Thread per (slice, slot): the slot's position at the next free place of its bucket.
template <typename T, typename B>
__device__ void reforge_lsh_place(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const long long slots = c[2] * c[1];
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / slots);
  const long long r = thread % slots / x.s.length, t = thread % x.s.length;
  x.sorted[atomicAdd(&x.cursor[reforge_lsh_bucket(args, x, r, t)], 1)] = (int)t;
}

// Thread per (slice, global bucket): its positions in ascending order (an
// insertion sort: a bucket holds about a chunk's slots), and each slot's
// place recorded in `where`.
template <typename T, typename B>
__device__ void reforge_lsh_order(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const long long buckets = c[2] * c[7];
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / buckets);
  const long long b = thread % buckets, r = b / x.s.per_round, first = x.counts[b], end = x.counts[b + 1];
  int* sorted = x.sorted;
  for (long long i = first + 1; i < end; ++i) {
    const int t = sorted[i];
    long long j = i;
    for (; j > first && sorted[j - 1] > t; --j) sorted[j] = sorted[j - 1];
    sorted[j] = t;
  }
  for (long long i = first; i < end; ++i) x.where[r * x.s.length + sorted[i]] = (int)i;
}

// The masked logit of the query at position t against the key at u:
// q_t . (q_u / n_u), with the CPU kernel's masks.
template <typename T, typename B>
__device__ T reforge_lsh_logit(const ReforgeLshSlice<T, B>& x, long long t, long long u) {
  const ReforgeLsh& s = x.s;
  const T* q = x.q + t * s.dk;
  const T* k = x.q + u * s.dk;
  const T inverse = x.inverse_norm[u];
  T l = 0;
  for (long long d = 0; d < s.dk; ++d) l += q[d] * (k[d] * inverse);
  if (s.causal && u > t) l -= (T)1e9;
  if (u == t) l -= (T)1e5;
  if (s.valid < s.length && u >= s.valid) l -= (T)1e9;
  return l;
}

// fn(u) for the key position of each slot in the window of sorted slot i:
// its own chunk, then the previous one (wrapping), as the CPU gathers them.
template <typename T, typename B, typename Fn>
__device__ void reforge_lsh_window(const ReforgeLshSlice<T, B>& x, long long i, Fn fn) {
  const long long C = x.s.chunk, chunks = x.s.chunks(), n = i / C;
  for (int part = 0; part < 2; ++part) {
    const long long first = (part == 0 ? n : (n + chunks - 1) % chunks) * C;
    for (long long j = first; j < first + C; ++j) fn((long long)x.sorted[j]);
  }
}

// The softmax normaliser of sorted slot i (position t) over its window,
// in one pass.
template <typename T, typename B>
__device__ ReforgeSoftmaxRow<T> reforge_lsh_row(const ReforgeLshSlice<T, B>& x, long long i, long long t) {
  T m = -reforge_f32(0x7f800000u), sum = 0;
  reforge_lsh_window(x, i, [&](long long u) {
    const T l = reforge_lsh_logit(x, t, u);
    if (l > m) {
      sum = sum * reforge_exp(m - l) + 1;
      m = l;
    } else {
      sum += reforge_exp(l - m);
    }
  });
  return {m, sum};
}

// Thread per (slice, position t): the attention of t's R slots, combined
// by their logsumexps as a running softmax (the CPU's order of rounds).
// The gradient's writes the result after dq and dv (with_output) or, for
// now, into the dv columns, and keeps g . out and, for each slot, its
// round weight, row maximum and 1 / its sum. (The probabilities are taken
// again as exp(S - max) / sum, not exp(S - lse): when a query sees only
// keys masked alike, lse lies near -1e5, where a float keeps 3 fractional
// bits.)
template <typename T, typename B>
__device__ void reforge_lsh_rows(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / c[1]);
  const ReforgeLsh& s = x.s;
  const long long t = thread % s.length;
  const long long row = s.gradient ? s.dk + s.dv * (s.with_output ? 2 : 1) : s.dv;
  T* out = x.result + t * row + (s.gradient ? s.dk + (s.with_output ? s.dv : 0) : 0);
  T best = -reforge_f32(0x7f800000u), total = 0;
  for (long long d = 0; d < s.dv; ++d) out[d] = 0;
  for (long long r = 0; r < s.rounds; ++r) {
    const long long i = x.where[r * s.length + t];
    const ReforgeSoftmaxRow<T> softmax = reforge_lsh_row(x, i, t);
    const T lse = softmax.max + reforge_log(softmax.sum), inverse_sum = (T)1 / softmax.sum;
    if (s.gradient) {
      x.weight[i] = lse;  // until the rounds' total is known
      x.row_max[i] = softmax.max;
      x.inverse_sum[i] = inverse_sum;
    }
    if (lse > best) {  // a new maximum: rescale what is there
      const T rescale = reforge_exp(best - lse);
      for (long long d = 0; d < s.dv; ++d) out[d] *= rescale;
      total *= rescale;
      best = lse;
    }
    const T weight = reforge_exp(lse - best);
    total += weight;
    const T scale = weight * inverse_sum;
    reforge_lsh_window(x, i, [&](long long u) {
      const T p = reforge_exp(reforge_lsh_logit(x, t, u) - softmax.max) * scale;
      for (long long d = 0; d < s.dv; ++d) out[d] += p * x.v[u * s.dv + d];
    });
  }
  const T inverse_total = (T)1 / total;
  for (long long d = 0; d < s.dv; ++d) out[d] *= inverse_total;
  if (s.gradient) {
    for (long long r = 0; r < s.rounds; ++r) {
      const long long i = x.where[r * s.length + t];
      x.weight[i] = reforge_exp(x.weight[i] - best) * inverse_total;
    }
    x.g_dot[t] = reforge_dot(x.g + t * s.dv, out, s.dv);
  }
}

// Thread per (slice, position t): dq_t and dv_t. With w the slot's round
// weight and P its probabilities, dS = w P (g . v - g . out) for each
// (query slot, key) pair: t's slots as queries give dq += dS k_u; as keys
// (in the windows of their own chunk's and the next chunk's queries) they
// give dk += dS q_s, taken into dq through k = q / n as
// (dk - k (k . dk)) / n, and dv += w P g_s.
template <typename T, typename B>
__device__ void reforge_lsh_gradient(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / c[1]);
  const ReforgeLsh& s = x.s;
  const long long t = thread % s.length, C = s.chunk, chunks = s.chunks();
  T* dq = x.result + t * (s.dk + s.dv * (s.with_output ? 2 : 1));
  T* dv = dq + s.dk;
  for (long long d = 0; d < s.dk + s.dv; ++d) dq[d] = 0;
  const T* q_t = x.q + t * s.dk;
  const T* g_t = x.g + t * s.dv;
  const T* v_t = x.v + t * s.dv;
  const T inverse_t = x.inverse_norm[t];
  T along = 0;  // k_t . (the key cotangent)
  for (long long r = 0; r < s.rounds; ++r) {
    const long long i = x.where[r * s.length + t];
    const T weight = x.weight[i], m = x.row_max[i], inverse_sum = x.inverse_sum[i];
    reforge_lsh_window(x, i, [&](long long u) {
      const T p = reforge_exp(reforge_lsh_logit(x, t, u) - m) * inverse_sum;
      const T ds = weight * p * (reforge_dot(g_t, x.v + u * s.dv, s.dv) - x.g_dot[t]);
      const T inverse = x.inverse_norm[u];
      for (long long d = 0; d < s.dk; ++d) dq[d] += ds * (x.q[u * s.dk + d] * inverse);
    });
    for (int part = 0; part < 2; ++part) {
      const long long n = part == 0 ? i / C : (i / C + 1) % chunks;
      for (long long j = n * C; j < (n + 1) * C; ++j) {
        const long long query = x.sorted[j];
        const T* q_s = x.q + query * s.dk;
        const T* g_s = x.g + query * s.dv;
        const T w = x.weight[j];
        const T p = reforge_exp(reforge_lsh_logit(x, query, t) - x.row_max[j]) * x.inverse_sum[j];
        const T ds = w * p * (reforge_dot(g_s, v_t, s.dv) - x.g_dot[query]);
        T key_dot = 0;
        for (long long d = 0; d < s.dk; ++d) {
          dq[d] += ds * q_s[d] * inverse_t;
          key_dot += q_s[d] * (q_t[d] * inverse_t);
        }
        along += ds * key_dot;
        for (long long d = 0; d < s.dv; ++d) dv[d] += w * p * g_s[d];
      }
    }
  }
  for (long long d = 0; d < s.dk; ++d) dq[d] -= (q_t[d] * inverse_t) * along * inverse_t;
}

#define REFORGE_VALUE_INDEX_KERNELS(FN)                     \
  REFORGE_LIBRARY_KERNEL(FN##_f32_i32, (FN<float, int>))     \
  REFORGE_LIBRARY_KERNEL(FN##_f32_i64, (FN<float, long long>)) \
  REFORGE_LIBRARY_KERNEL(FN##_f64_i32, (FN<double, int>))    \
  REFORGE_LIBRARY_KERNEL(FN##_f64_i64, (FN<double, long long>)) \
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
REFORGE_LIBRARY_KERNEL(reforge_random_uniform_f32_i32, (reforge_random_uniform<float, int>))
REFORGE_LIBRARY_KERNEL(reforge_random_uniform_f32_i64, (reforge_random_uniform<float, long long>))
REFORGE_LIBRARY_KERNEL(reforge_random_uniform_f64_i32, (reforge_random_uniform<double, int>))
REFORGE_LIBRARY_KERNEL(reforge_random_uniform_f64_i64, (reforge_random_uniform<double, long long>))
REFORGE_LIBRARY_KERNEL(reforge_random_normal_f32_i32, (reforge_random_normal<float, int>))
REFORGE_LIBRARY_KERNEL(reforge_random_normal_f32_i64, (reforge_random_normal<float, long long>))
REFORGE_LIBRARY_KERNEL(reforge_random_normal_f64_i32, (reforge_random_normal<double, int>))
REFORGE_LIBRARY_KERNEL(reforge_random_normal_f64_i64, (reforge_random_normal<double, long long>))
REFORGE_LIBRARY_KERNEL(reforge_matmul_f32, reforge_matmul<float>)
REFORGE_LIBRARY_KERNEL(reforge_matmul_f64, reforge_matmul<double>)
REFORGE_LIBRARY_KERNEL(reforge_bias_rows_f32, reforge_bias_rows<float>)
REFORGE_LIBRARY_KERNEL(reforge_bias_rows_f64, reforge_bias_rows<double>)
REFORGE_LIBRARY_KERNEL(reforge_add_in_place_f32, reforge_add_in_place<float>)
REFORGE_LIBRARY_KERNEL(reforge_add_in_place_f64, reforge_add_in_place<double>)
REFORGE_LIBRARY_KERNEL(reforge_chunked_attention_f32, reforge_chunked_attention<float>)
REFORGE_LIBRARY_KERNEL(reforge_chunked_attention_f64, reforge_chunked_attention<double>)
REFORGE_LIBRARY_KERNEL(reforge_chunked_attention_grad_rows_f32, reforge_chunked_attention_grad_rows<float>)
REFORGE_LIBRARY_KERNEL(reforge_chunked_attention_grad_rows_f64, reforge_chunked_attention_grad_rows<double>)
REFORGE_LIBRARY_KERNEL(reforge_chunked_attention_grad_keys_f32, reforge_chunked_attention_grad_keys<float>)
REFORGE_LIBRARY_KERNEL(reforge_chunked_attention_grad_keys_f64, reforge_chunked_attention_grad_keys<double>)
#define REFORGE_LSH_KERNELS(NAME, FN)                                    \
  REFORGE_LIBRARY_KERNEL(NAME##_f32_i32, (FN<float, int>))               \
  REFORGE_LIBRARY_KERNEL(NAME##_f32_i64, (FN<float, long long>))         \
  REFORGE_LIBRARY_KERNEL(NAME##_f64_i32, (FN<double, int>))              \
  REFORGE_LIBRARY_KERNEL(NAME##_f64_i64, (FN<double, long long>))
REFORGE_LSH_KERNELS(reforge_lsh_clear, reforge_lsh_clear)
REFORGE_LSH_KERNELS(reforge_lsh_count, reforge_lsh_count)
REFORGE_LSH_KERNELS(reforge_lsh_offsets, reforge_lsh_offsets)
REFORGE_LSH_KERNELS(reforge_lsh_place, reforge_lsh_place)
REFORGE_LSH_KERNELS(reforge_lsh_order, reforge_lsh_order)
REFORGE_LSH_KERNELS(reforge_lsh_rows, reforge_lsh_rows)
REFORGE_LSH_KERNELS(reforge_lsh_gradient, reforge_lsh_gradient)
)";

}  // namespace reforge::runtime
