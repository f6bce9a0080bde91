#include "runtime/library.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "compiler/ir/error.h"
#include "compiler/ir/types.h"
#include "runtime/gemm.h"
#include "runtime/kernels/chunked_attention_kernel.h"
#include "runtime/kernels/counter_rng.h"
#include "runtime/kernels/lsh_attention_kernel.h"

namespace reforge::runtime {
namespace {

// Element types arrive as their DType codes among a call's ints.
template <typename Fn>
void with_type(int64_t code, Fn fn) {
  if (code < 0 || code > static_cast<int64_t>(DType::boolean)) {
    throw Error(fmt::format("runtime library: unknown element type {}", code));
  }
  with_element_type(static_cast<DType>(code), fn);
}

template <typename Fn>
void with_float_type(int64_t code, Fn fn) {
  if (static_cast<DType>(code) == DType::f32) return fn(float{});
  if (static_cast<DType>(code) == DType::f64) return fn(double{});
  throw Error("runtime library: expected a float element type");
}

template <typename Fn>
void with_index_type(int64_t code, Fn fn) {
  if (static_cast<DType>(code) == DType::i32) return fn(int32_t{});
  if (static_cast<DType>(code) == DType::i64) return fn(int64_t{});
  throw Error("runtime library: expected an integer index type");
}

// fn(value, index) with the value type ints[0] and the index type ints[1].
template <typename Fn>
void with_value_and_index_types(const LibraryArgs& a, Fn fn) {
  with_type(a.ints[0], [&](auto value) { with_index_type(a.ints[1], [&](auto index) { fn(value, index); }); });
}

template <typename I>
int64_t checked_index(I value, int64_t extent) {
  auto i = static_cast<int64_t>(value);
  if (i < 0 || i >= extent) throw Error(fmt::format("index {} out of range [0, {})", i, extent));
  return i;
}

// ints: dtype, batch, m, n, k, a_transposed, b_transposed. C[b] = A[b] B[b],
// row-major; a transposed operand is stored as its transpose ([k, m] for
// A, [n, k] for B). A product splits its rows between the threads, which
// share its packed B; a batch of at least as many products as threads
// (attention's per-chunk ones) gives each thread whole products.
void matmul(const LibraryArgs& a) {
  int64_t batch = a.ints[1], m = a.ints[2], n = a.ints[3], k = a.ints[4];
  const GemmLayout layout = GemmLayout::dense(m, n, k, a.ints[5] != 0, a.ints[6] != 0);
  with_float_type(a.ints[0], [&](auto zero) {
    using T = decltype(zero);
    const T* A = static_cast<const T*>(a.buffers[0]);
    const T* B = static_cast<const T*>(a.buffers[1]);
    T* C = static_cast<T*>(a.buffers[2]);
    // Product b, on the program's generated micro-kernel where it has one.
    auto multiply = [&](int64_t b, ThreadPool* pool) {
      gemm(A + b * m * k, B + b * k * n, C + b * m * n, m, n, k, layout, pool, a.gemm_micro_kernel);
    };
    if (batch < a.pool.threads()) {
      for (int64_t b = 0; b < batch; ++b) multiply(b, &a.pool);
      return;
    }
    // Small batches of small products run on the calling thread: waking
    // the pool costs more than they take.
    const int64_t pieces = batch * m * n * k < (1 << 21) ? 1 : 0;
    a.pool.parallel_for(
        batch,
        [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) multiply(b, nullptr);
        },
        pieces);
  });
}

// C [m, n] = A B, then the GEMM's epilogue on each finished block: a
// bias [n] (ints[7]), the launch's generated activation (if it has one),
// a residual [m, n] (ints[8]). ints as matmul's (batch 1). Buffers: A, B,
// [bias], [residual], C.
void matmul_epilogue(const LibraryArgs& a) {
  const int64_t m = a.ints[2], n = a.ints[3], k = a.ints[4];
  const GemmLayout layout = GemmLayout::dense(m, n, k, a.ints[5] != 0, a.ints[6] != 0);
  const bool bias = a.ints[7] != 0, residual = a.ints[8] != 0;
  with_float_type(a.ints[0], [&](auto zero) {
    using T = decltype(zero);
    int next = 2;
    GemmEpilogue<T> epilogue;
    if (bias) epilogue.bias = static_cast<const T*>(a.buffers[next++]);
    epilogue.activation = a.epilogue;
    if (residual) epilogue.residual = static_cast<const T*>(a.buffers[next++]);
    gemm(static_cast<const T*>(a.buffers[0]), static_cast<const T*>(a.buffers[1]), static_cast<T*>(a.buffers[next]), m,
         n, k, layout, &a.pool, a.gemm_micro_kernel, epilogue);
  });
}

// Indexing calls: ints = value dtype, index dtype, outer, extent, inner,
// index extent (see ops/indexing.cc).
struct Indexed {
  int64_t outer, extent, inner, index_extent;
  explicit Indexed(const LibraryArgs& a)
      : outer(a.ints[2]), extent(a.ints[3]), inner(a.ints[4]), index_extent(a.ints[5]) {}
};

// out[o, a, i] = x[o, idx[a], i]
void take(const LibraryArgs& a) {
  Indexed s(a);
  with_value_and_index_types(a, [&](auto value, auto index) {
    using T = decltype(value);
    using I = decltype(index);
    const T* x = static_cast<const T*>(a.buffers[0]);
    const I* idx = static_cast<const I*>(a.buffers[1]);
    T* out = static_cast<T*>(a.buffers[2]);
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t r = 0; r < s.index_extent; ++r) {
        int64_t src = checked_index(idx[r], s.extent);
        std::memcpy(out + (o * s.index_extent + r) * s.inner, x + (o * s.extent + src) * s.inner, s.inner * sizeof(T));
      }
  });
}

// The base copied into the result (unless they share memory).
template <typename T>
void copy_base(const LibraryArgs& a, const Indexed& s) {
  const T* base = static_cast<const T*>(a.buffers[0]);
  T* out = static_cast<T*>(a.buffers[3]);
  if (base != out) std::memmove(out, base, s.outer * s.extent * s.inner * sizeof(T));
}

// out = base; out[o, idx[a], i] += updates[o, a, i]
void index_add(const LibraryArgs& a) {
  Indexed s(a);
  with_value_and_index_types(a, [&](auto value, auto index) {
    using T = decltype(value);
    using I = decltype(index);
    copy_base<T>(a, s);
    const I* idx = static_cast<const I*>(a.buffers[1]);
    const T* updates = static_cast<const T*>(a.buffers[2]);
    T* out = static_cast<T*>(a.buffers[3]);
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t r = 0; r < s.index_extent; ++r) {
        int64_t dst = checked_index(idx[r], s.extent);
        T* row = out + (o * s.extent + dst) * s.inner;
        const T* from = updates + (o * s.index_extent + r) * s.inner;
        for (int64_t i = 0; i < s.inner; ++i) row[i] += from[i];
      }
  });
}

// Calls fn(at, target) for every element of an index tensor idx[o, a, i]
// (`at` its flat position, shared with the updates or the result) and the
// flat position [o, idx[at], i] it names, split over `o`: rows of
// different `o` never touch the same target.
template <typename I, typename Fn>
void for_each_indexed(const LibraryArgs& a, const Indexed& s, const I* idx, Fn fn) {
  a.pool.parallel_for(s.outer, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o)
      for (int64_t r = 0; r < s.index_extent; ++r)
        for (int64_t i = 0; i < s.inner; ++i) {
          int64_t at = (o * s.index_extent + r) * s.inner + i;
          fn(at, (o * s.extent + checked_index(idx[at], s.extent)) * s.inner + i);
        }
  });
}

// out[o, a, i] = x[o, idx[o, a, i], i]
void gather(const LibraryArgs& a) {
  Indexed s(a);
  with_value_and_index_types(a, [&](auto value, auto index) {
    using T = decltype(value);
    const T* x = static_cast<const T*>(a.buffers[0]);
    T* out = static_cast<T*>(a.buffers[2]);
    for_each_indexed(a, s, static_cast<const decltype(index)*>(a.buffers[1]),
                     [&](int64_t at, int64_t source) { out[at] = x[source]; });
  });
}

// out = base; out[o, idx[o, a, i], i] += updates[o, a, i]
void scatter_add(const LibraryArgs& a) {
  Indexed s(a);
  with_value_and_index_types(a, [&](auto value, auto index) {
    using T = decltype(value);
    copy_base<T>(a, s);
    const T* updates = static_cast<const T*>(a.buffers[2]);
    T* out = static_cast<T*>(a.buffers[3]);
    for_each_indexed(a, s, static_cast<const decltype(index)*>(a.buffers[1]),
                     [&](int64_t at, int64_t target) { out[target] += updates[at]; });
  });
}

// ints: key dtype, outer, extent, inner. Stable ascending order, as i64.
void argsort(const LibraryArgs& a) {
  int64_t outer = a.ints[1], extent = a.ints[2], inner = a.ints[3];
  with_type(a.ints[0], [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(a.buffers[0]);
    int64_t* out = static_cast<int64_t*>(a.buffers[1]);
    a.pool.parallel_for(outer * inner, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> order(extent);
      for (int64_t line = begin; line < end; ++line) {
        int64_t o = line / inner, i = line % inner;
        auto at = [&](int64_t k) { return (o * extent + k) * inner + i; };
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return x[at(p)] < x[at(q)]; });
        for (int64_t k = 0; k < extent; ++k) out[at(k)] = order[k];
      }
    });
  });
}

// ints: result dtype, key dtype, elements, stream; buffers: key, result.
template <double (*Draw)(uint64_t, uint64_t, uint64_t)>
void random_draw(const LibraryArgs& a) {
  int64_t elements = a.ints[2];
  auto stream = static_cast<uint64_t>(a.ints[3]);
  uint64_t key = 0;
  with_index_type(a.ints[1], [&](auto index_zero) {
    using I = decltype(index_zero);
    key = static_cast<uint64_t>(static_cast<int64_t>(*static_cast<const I*>(a.buffers[0])));
  });
  with_float_type(a.ints[0], [&](auto zero) {
    using T = decltype(zero);
    T* out = static_cast<T*>(a.buffers[1]);
    a.pool.parallel_for(elements, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(Draw(key, stream, static_cast<uint64_t>(i)));
    });
  });
}

// ints: dtype, bucket dtype, slices, then the LshShape fields.
kernels::LshShape lsh_shape(const LibraryArgs& a) {
  return {.length = a.ints[3],
          .rounds = a.ints[4],
          .chunk = a.ints[5],
          .dk = a.ints[6],
          .dv = a.ints[7],
          .valid = a.ints[8],
          .per_round = a.ints[9],
          .causal = a.ints[10] != 0};
}

// Buffers: q, v, buckets, key, [grad,] result, workspace (each slice's
// scratch at slice * scratch_bytes).
template <bool kBackward>
void lsh_attention(const LibraryArgs& a) {
  kernels::LshShape s = lsh_shape(a);
  int64_t slices = a.ints[2];
  // The gradient's rows: [dq | dv], or [dq | dv | result] when it also
  // writes the forward result (ints[11]).
  const bool with_output = kBackward && a.num_ints > 11 && a.ints[11] != 0;
  const int64_t row = kBackward ? s.dk + s.dv * (with_output ? 2 : 1) : s.dv;
  with_float_type(a.ints[0], [&](auto zero) {
    using T = decltype(zero);
    with_index_type(a.ints[1], [&](auto bucket_zero) {
      using B = decltype(bucket_zero);
      using Slice = kernels::LshSlice<T, B>;
      const T* q = static_cast<const T*>(a.buffers[0]);
      const T* v = static_cast<const T*>(a.buffers[1]);
      const B* buckets = static_cast<const B*>(a.buffers[2]);
      constexpr int result = kBackward ? 5 : 4;
      T* out = static_cast<T*>(a.buffers[result]);
      auto* workspace = static_cast<std::byte*>(a.buffers[result + 1]);
      const int64_t scratch_bytes = Slice::scratch_bytes(s, kBackward);
      a.pool.parallel_for(slices, [&](int64_t begin, int64_t end) {
        for (int64_t bh = begin; bh < end; ++bh) {
          kernels::Scratch scratch(workspace + bh * scratch_bytes);
          Slice slice(s, q + bh * s.length * s.dk, v + bh * s.length * s.dv, buckets + bh * s.rounds * s.length,
                      scratch, kBackward);
          slice.use_micro_kernel(a.gemm_micro_kernel);
          if constexpr (kBackward) {
            const T* grad = static_cast<const T*>(a.buffers[4]);
            slice.forward_backward(grad + bh * s.length * s.dv, out + bh * s.length * row, row, with_output);
          } else {
            slice.forward(out + bh * s.length * s.dv);
          }
        }
      });
    });
  });
}

// ints: dtype, slices (B*H), length, chunk, dk, dv, valid, look_back,
// causal, mask_self. Buffers: q, k, v, key, [grad,] result, workspace
// (each slice's scratch at slice * scratch_bytes). The gradient's rows
// are [dq | dk | dv].
template <bool kBackward>
void chunked_attention(const LibraryArgs& a) {
  const int64_t slices = a.ints[1];
  const kernels::ChunkedAttentionShape s{.length = a.ints[2],
                                         .chunk = a.ints[3],
                                         .dk = a.ints[4],
                                         .dv = a.ints[5],
                                         .valid = a.ints[6],
                                         .look_back = a.ints[7] != 0,
                                         .causal = a.ints[8] != 0,
                                         .mask_self = a.ints[9] != 0};
  const int64_t row = kBackward ? 2 * s.dk + s.dv : s.dv;
  with_float_type(a.ints[0], [&](auto zero) {
    using T = decltype(zero);
    using Slice = kernels::ChunkedAttentionSlice<T>;
    const T* q = static_cast<const T*>(a.buffers[0]);
    const T* k = static_cast<const T*>(a.buffers[1]);
    const T* v = static_cast<const T*>(a.buffers[2]);
    constexpr int result = kBackward ? 5 : 4;
    T* out = static_cast<T*>(a.buffers[result]);
    auto* workspace = static_cast<std::byte*>(a.buffers[result + 1]);
    const int64_t scratch_bytes = Slice::scratch_bytes(s, kBackward);
    a.pool.parallel_for(slices, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        kernels::Scratch scratch(workspace + bh * scratch_bytes);
        Slice slice(s, q + bh * s.length * s.dk, k + bh * s.length * s.dk, v + bh * s.length * s.dv, scratch,
                    kBackward);
        slice.use_micro_kernel(a.gemm_micro_kernel);
        if constexpr (kBackward) {
          const T* grad = static_cast<const T*>(a.buffers[4]);
          slice.forward_backward(grad + bh * s.length * s.dv, out + bh * s.length * row, row);
        } else {
          slice.forward(out + bh * s.length * s.dv);
        }
      }
    });
  });
}

const std::map<std::string, LibraryFunction, std::less<>>& functions() {
  static const auto* table = new std::map<std::string, LibraryFunction, std::less<>>{
      {"matmul", matmul},
      {"matmul_epilogue", matmul_epilogue},
      {"take", take},
      {"index_add", index_add},
      {"gather", gather},
      {"scatter_add", scatter_add},
      {"argsort", argsort},
      {"random_normal", random_draw<kernels::counter_normal>},
      {"random_uniform", random_draw<kernels::counter_uniform>},
      {"lsh_attention", lsh_attention<false>},
      {"lsh_attention_grad", lsh_attention<true>},
      {"chunked_attention", chunked_attention<false>},
      {"chunked_attention_grad", chunked_attention<true>},
  };
  return *table;
}

}  // namespace

LibraryFunction find_library_function(std::string_view name) {
  auto it = functions().find(name);
  return it == functions().end() ? nullptr : it->second;
}

}  // namespace reforge::runtime
