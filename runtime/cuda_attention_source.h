// The GPU library's fused attention kernels, as CUDA C++ source: the
// chunked (local and full) attention and the LSH attention, forward and
// gradient. They follow the library's core text (cuda_library_source.h:
// the calling convention, REFORGE_LIBRARY_KERNEL and the argument block's
// accessors) in every CUDA translation unit, and build for the host
// under REFORGE_CUDA_ON_HOST as the rest does. Logits are recomputed
// where needed instead of kept: nothing of size L x L exists.
#pragma once

namespace reforge::runtime {

inline constexpr const char* kCudaAttentionSource = R"(
// ---- the GPU library's attention (runtime/cuda_attention_source.h) ----

// ---- chunked attention (local and full), runtime/kernels/chunked_attention_kernel.h ----
// One thread per query row (forward; the gradient's rows: its maximum,
// sum, g . out and dq) or per key row (the gradient's dk and dv).
// Constants: slices, length, chunk, dk, dv, valid, look_back, causal, mask_self, the
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

// A row's softmax normaliser in one pass over its logits: the running
// maximum, and the sum of exp(logit - maximum), rescaled whenever the
// maximum grows.
template <typename T>
struct ReforgeSoftmaxRow {
  T max, sum;
  __device__ ReforgeSoftmaxRow() : max(-reforge_f32(0x7f800000u)), sum(0) {}
  __device__ void add(T logit) {
    if (logit > max) {
      sum = sum * reforge_exp(max - logit) + 1;
      max = logit;
    } else {
      sum += reforge_exp(logit - max);
    }
  }
};

// Query t's, over its window.
template <typename T>
__device__ ReforgeSoftmaxRow<T> reforge_chunked_row(const ReforgeChunked& s, const T* q, const T* k, long long t) {
  ReforgeSoftmaxRow<T> row;
  reforge_chunked_window(s, t, [&](long long j) { row.add(reforge_chunked_logit(s, q, k, t, j)); });
  return row;
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

// A thread per (slice, slot): its slice, round r and position t.
template <typename T, typename B>
struct ReforgeLshSlot {
  ReforgeLshSlice<T, B> x;
  long long r, t;
};
template <typename T, typename B>
__device__ ReforgeLshSlot<T, B> reforge_lsh_slot(const long long* args, long long thread) {
  const long long* c = reforge_constants(args);
  const long long slots = c[2] * c[1];
  const ReforgeLshSlice<T, B> x = reforge_lsh_slice<T, B>(args, thread / slots);
  return {x, thread % slots / x.s.length, thread % x.s.length};
}

// Thread per (slice, slot): counts[bucket + 1] += 1; the round-0 thread
// of each position also takes its key's normaliser.
template <typename T, typename B>
__device__ void reforge_lsh_count(const long long* args, long long thread) {
  const ReforgeLshSlot<T, B> slot = reforge_lsh_slot<T, B>(args, thread);
  const ReforgeLshSlice<T, B>& x = slot.x;
  const long long r = slot.r, t = slot.t;
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
  const ReforgeLshSlot<T, B> slot = reforge_lsh_slot<T, B>(args, thread);
  const ReforgeLshSlice<T, B>& x = slot.x;
  x.sorted[atomicAdd(&x.cursor[reforge_lsh_bucket(args, x, slot.r, slot.t)], 1)] = (int)slot.t;
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

// The softmax normaliser of sorted slot i (position t) over its window.
template <typename T, typename B>
__device__ ReforgeSoftmaxRow<T> reforge_lsh_row(const ReforgeLshSlice<T, B>& x, long long i, long long t) {
  ReforgeSoftmaxRow<T> row;
  reforge_lsh_window(x, i, [&](long long u) { row.add(reforge_lsh_logit(x, t, u)); });
  return row;
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

REFORGE_FLOAT_KERNELS(reforge_chunked_attention)
REFORGE_FLOAT_KERNELS(reforge_chunked_attention_grad_rows)
REFORGE_FLOAT_KERNELS(reforge_chunked_attention_grad_keys)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_clear)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_count)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_offsets)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_place)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_order)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_rows)
REFORGE_FLOAT_INDEX_KERNELS(reforge_lsh_gradient)
)";

}  // namespace reforge::runtime
