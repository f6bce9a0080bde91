#include "runtime/library.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/types.h"
#include "runtime/gemm.h"
#include "runtime/kernels/chunked_attention_kernel.h"
#include "runtime/kernels/counter_rng.h"
#include "runtime/kernels/lsh_attention_kernel.h"
#include "runtime/library_calls.h"

namespace reforge::runtime {
namespace {

template <typename Fn>
void with_float_type(DType dtype, Fn fn) {
  if (dtype == DType::f64) return fn(double{});
  fn(float{});
}

template <typename Fn>
void with_index_type(DType dtype, Fn fn) {
  if (dtype == DType::i32) return fn(int32_t{});
  fn(int64_t{});
}

// fn(value, index) with the call's value and index types.
template <typename Fn>
void with_value_and_index_types(const IndexedShape& s, Fn fn) {
  with_element_type(s.value_type, [&](auto value) { with_index_type(s.index_type, [&](auto index) { fn(value, index); }); });
}

// The call's typed arguments. Every call of a program was validated
// against its descriptor when the program was loaded (Executor), so the
// checks here only repeat that.
template <typename Call>
Call arguments(const LibraryArgs& a) {
  return decode_call<Call>({a.ints, static_cast<size_t>(a.num_ints)});
}

template <typename I>
int64_t checked_index(I value, int64_t extent) {
  auto i = static_cast<int64_t>(value);
  if (i < 0 || i >= extent) throw Error(fmt::format("index {} out of range [0, {})", i, extent));
  return i;
}

// A product splits its rows between the threads, which share its packed
// B; a batch of at least as many products as threads (attention's
// per-chunk ones) gives each thread whole products.
void matmul(const LibraryArgs& a) {
  const auto c = arguments<MatmulCall>(a);
  const int64_t batch = c.batch, m = c.m, n = c.n, k = c.k;
  const GemmLayout layout = GemmLayout::dense(m, n, k, c.a_transposed, c.b_transposed);
  with_float_type(c.dtype, [&](auto zero) {
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

// The GEMM's epilogue runs on each finished block: the bias, the launch's
// generated activation (if it has one), the residual.
void matmul_epilogue(const LibraryArgs& a) {
  const auto c = arguments<MatmulEpilogueCall>(a);
  const MatmulCall& p = c.product;
  const GemmLayout layout = GemmLayout::dense(p.m, p.n, p.k, p.a_transposed, p.b_transposed);
  with_float_type(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    GemmEpilogue<T> epilogue;
    if (c.bias) epilogue.bias = static_cast<const T*>(a.buffers[c.bias_buffer()]);
    epilogue.activation = a.epilogue;
    if (c.residual) epilogue.residual = static_cast<const T*>(a.buffers[c.residual_buffer()]);
    gemm(static_cast<const T*>(a.buffers[0]), static_cast<const T*>(a.buffers[1]),
         static_cast<T*>(a.buffers[c.operands()]), p.m, p.n, p.k, layout, &a.pool, a.gemm_micro_kernel, epilogue);
  });
}

void take(const LibraryArgs& a) {
  const auto s = arguments<TakeCall>(a);
  with_value_and_index_types(s, [&](auto value, auto index) {
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
void copy_base(const LibraryArgs& a, const IndexedShape& s) {
  const T* base = static_cast<const T*>(a.buffers[0]);
  T* out = static_cast<T*>(a.buffers[3]);
  if (base != out) std::memmove(out, base, s.outer * s.extent * s.inner * sizeof(T));
}

void index_add(const LibraryArgs& a) {
  const auto s = arguments<IndexAddCall>(a);
  with_value_and_index_types(s, [&](auto value, auto index) {
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
void for_each_indexed(const LibraryArgs& a, const IndexedShape& s, const I* idx, Fn fn) {
  a.pool.parallel_for(s.outer, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o)
      for (int64_t r = 0; r < s.index_extent; ++r)
        for (int64_t i = 0; i < s.inner; ++i) {
          int64_t at = (o * s.index_extent + r) * s.inner + i;
          fn(at, (o * s.extent + checked_index(idx[at], s.extent)) * s.inner + i);
        }
  });
}

void gather(const LibraryArgs& a) {
  const auto s = arguments<GatherCall>(a);
  with_value_and_index_types(s, [&](auto value, auto index) {
    using T = decltype(value);
    const T* x = static_cast<const T*>(a.buffers[0]);
    T* out = static_cast<T*>(a.buffers[2]);
    for_each_indexed(a, s, static_cast<const decltype(index)*>(a.buffers[1]),
                     [&](int64_t at, int64_t source) { out[at] = x[source]; });
  });
}

void scatter_add(const LibraryArgs& a) {
  const auto s = arguments<ScatterAddCall>(a);
  with_value_and_index_types(s, [&](auto value, auto index) {
    using T = decltype(value);
    copy_base<T>(a, s);
    const T* updates = static_cast<const T*>(a.buffers[2]);
    T* out = static_cast<T*>(a.buffers[3]);
    for_each_indexed(a, s, static_cast<const decltype(index)*>(a.buffers[1]),
                     [&](int64_t at, int64_t target) { out[target] += updates[at]; });
  });
}

void argsort(const LibraryArgs& a) {
  const auto c = arguments<ArgsortCall>(a);
  const int64_t extent = c.extent, inner = c.inner;
  with_element_type(c.key_type, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(a.buffers[0]);
    int64_t* out = static_cast<int64_t*>(a.buffers[1]);
    a.pool.parallel_for(c.outer * inner, [&](int64_t begin, int64_t end) {
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

template <typename Call, double (*Draw)(uint64_t, uint64_t, uint64_t)>
void random_draw(const LibraryArgs& a) {
  const auto c = arguments<Call>(a);
  const auto stream = static_cast<uint64_t>(c.stream);
  uint64_t key = 0;
  with_index_type(c.key_type, [&](auto index_zero) {
    using I = decltype(index_zero);
    key = static_cast<uint64_t>(static_cast<int64_t>(*static_cast<const I*>(a.buffers[0])));
  });
  // This replica's rows of the whole batch's draw (RandomCall).
  const uint64_t first =
      c.by_replica && a.communicator ? static_cast<uint64_t>(a.communicator->rank()) * static_cast<uint64_t>(c.elements) : 0;
  with_float_type(c.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* out = static_cast<T*>(a.buffers[1]);
    a.pool.parallel_for(c.elements, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        out[i] = static_cast<T>(Draw(key, stream, first + static_cast<uint64_t>(i)));
      }
    });
  });
}

// The forward call's fields, of a fused attention call or its gradient's.
const LshAttentionCall& forward_of(const LshAttentionCall& c) { return c; }
const LshAttentionCall& forward_of(const LshAttentionGradCall& c) { return c.forward; }
const ChunkedAttentionCall& forward_of(const ChunkedAttentionCall& c) { return c; }
const ChunkedAttentionCall& forward_of(const ChunkedAttentionGradCall& c) { return c.forward; }

// A fused attention call runs one kernel per (example, head) slice on the
// pool. `make(bh, scratch)` builds slice bh's kernel over its operands,
// with its own scratch at bh * scratch_bytes in the call's workspace (the
// buffer after the result), so slices run in parallel whatever the thread
// count. The forward writes the slice's [length, row] result rows; the
// backward reads its cotangent (buffer 4) and writes [length, row] rows,
// passing `extra` on to forward_backward. The result is buffer `result`
// (the one after the operands), the workspace the one after it.
template <bool kBackward, typename T, typename Make, typename... Extra>
void run_attention_slices(const LibraryArgs& a, int result, int64_t slices, int64_t length, int64_t dv, int64_t row,
                          int64_t scratch_bytes, Make make, Extra... extra) {
  T* out = static_cast<T*>(a.buffers[result]);
  auto* workspace = static_cast<std::byte*>(a.buffers[result + 1]);
  a.pool.parallel_for(slices, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      kernels::Scratch scratch(workspace + bh * scratch_bytes);
      auto slice = make(bh, scratch);
      slice.use_micro_kernel(a.gemm_micro_kernel);
      if constexpr (kBackward) {
        const T* grad = static_cast<const T*>(a.buffers[4]);
        slice.forward_backward(grad + bh * length * dv, out + bh * length * row, row, extra...);
      } else {
        slice.forward(out + bh * length * row);
      }
    }
  });
}

template <bool kBackward>
void lsh_attention(const LibraryArgs& a) {
  using Call = std::conditional_t<kBackward, LshAttentionGradCall, LshAttentionCall>;
  const auto call = arguments<Call>(a);
  const LshAttentionCall& f = forward_of(call);
  const kernels::LshShape& s = f.shape;
  with_float_type(f.dtype, [&](auto zero) {
    using T = decltype(zero);
    with_index_type(f.bucket_type, [&](auto bucket_zero) {
      using B = decltype(bucket_zero);
      using Slice = kernels::LshSlice<T, B>;
      const T* q = static_cast<const T*>(a.buffers[0]);
      const T* v = static_cast<const T*>(a.buffers[1]);
      const B* buckets = static_cast<const B*>(a.buffers[2]);
      // The gradient's forward result, when given, follows its cotangent.
      const T* given = nullptr;
      if constexpr (kBackward) {
        if (call.given_result) given = static_cast<const T*>(a.buffers[5]);
      }
      auto make = [&](int64_t bh, kernels::Scratch& scratch) {
        Slice slice(s, q + bh * s.length * s.dk, v + bh * s.length * s.dv, buckets + bh * s.rounds * s.length, scratch,
                    kBackward);
        if constexpr (kBackward) {
          if (given != nullptr) slice.read_forward_result(given + bh * s.length * call.given_row());
        } else {
          if (call.with_logsumexps) slice.write_logsumexps();
        }
        return slice;
      };
      const int64_t scratch_bytes = Slice::scratch_bytes(s, kBackward);
      if constexpr (kBackward) {
        run_attention_slices<true, T>(a, given != nullptr ? 6 : 5, f.slices, s.length, s.dv, call.row(), scratch_bytes,
                                      make, call.with_output);
      } else {
        run_attention_slices<false, T>(a, 4, f.slices, s.length, s.dv, call.row(), scratch_bytes, make);
      }
    });
  });
}

template <bool kBackward>
void chunked_attention(const LibraryArgs& a) {
  using Call = std::conditional_t<kBackward, ChunkedAttentionGradCall, ChunkedAttentionCall>;
  const auto call = arguments<Call>(a);
  const ChunkedAttentionCall& f = forward_of(call);
  const kernels::ChunkedAttentionShape& s = f.shape;
  with_float_type(f.dtype, [&](auto zero) {
    using T = decltype(zero);
    using Slice = kernels::ChunkedAttentionSlice<T>;
    const T* q = static_cast<const T*>(a.buffers[0]);
    const T* k = static_cast<const T*>(a.buffers[1]);
    const T* v = static_cast<const T*>(a.buffers[2]);
    auto make = [&](int64_t bh, kernels::Scratch& scratch) {
      return Slice(s, q + bh * s.length * s.dk, k + bh * s.length * s.dk, v + bh * s.length * s.dv, scratch,
                   kBackward);
    };
    const int64_t scratch_bytes = Slice::scratch_bytes(s, kBackward);
    if constexpr (kBackward) {
      run_attention_slices<true, T>(a, 5, f.slices, s.length, s.dv, call.row(), scratch_bytes, make);
    } else {
      run_attention_slices<false, T>(a, 4, f.slices, s.length, s.dv, s.dv, scratch_bytes, make);
    }
  });
}

// ---- collectives ------------------------------------------------------------
// Without a communicator the program runs as one process: each sum over
// the replicas is the value itself.

void copy_if_elsewhere(void* to, const void* from, int64_t bytes) {
  if (to != from) std::memcpy(to, from, static_cast<size_t>(bytes));
}

void all_reduce(const LibraryArgs& a) {
  const auto c = arguments<AllReduceCall>(a);
  copy_if_elsewhere(a.buffers[1], a.buffers[0], c.elements * dtype_bytes(c.dtype));
  if (a.communicator) a.communicator->all_reduce(a.buffers[1], c.elements, c.dtype);
}

void all_reduce_start(const LibraryArgs& a) {
  const auto c = arguments<AllReduceStartCall>(a);
  const int64_t width = dtype_bytes(c.dtype);
  auto* bucket = static_cast<std::byte*>(a.buffers[c.parts.size()]);
  int64_t at = 0;
  for (size_t i = 0; i < c.parts.size(); ++i) {
    std::memcpy(bucket + at * width, a.buffers[i], static_cast<size_t>(c.parts[i] * width));
    at += c.parts[i];
  }
  if (a.communicator) a.communicator->start_all_reduce(static_cast<int>(c.bucket), bucket, at, c.dtype);
}

void all_reduce_wait(const LibraryArgs& a) {
  const auto c = arguments<AllReduceWaitCall>(a);
  if (a.communicator) a.communicator->wait(static_cast<int>(c.bucket));
  copy_if_elsewhere(a.buffers[1], a.buffers[0], c.elements * dtype_bytes(c.dtype));
}

const std::map<std::string, LibraryFunction, std::less<>>& functions() {
  static const auto* table = new std::map<std::string, LibraryFunction, std::less<>>{
      {std::string(MatmulCall::kFunction), matmul},
      {std::string(MatmulEpilogueCall::kFunction), matmul_epilogue},
      {std::string(TakeCall::kFunction), take},
      {std::string(IndexAddCall::kFunction), index_add},
      {std::string(GatherCall::kFunction), gather},
      {std::string(ScatterAddCall::kFunction), scatter_add},
      {std::string(ArgsortCall::kFunction), argsort},
      {std::string(RandomNormalCall::kFunction), random_draw<RandomNormalCall, kernels::counter_normal>},
      {std::string(RandomUniformCall::kFunction), random_draw<RandomUniformCall, kernels::counter_uniform>},
      {std::string(LshAttentionCall::kFunction), lsh_attention<false>},
      {std::string(LshAttentionGradCall::kFunction), lsh_attention<true>},
      {std::string(ChunkedAttentionCall::kFunction), chunked_attention<false>},
      {std::string(ChunkedAttentionGradCall::kFunction), chunked_attention<true>},
      {std::string(AllReduceCall::kFunction), all_reduce},
      {std::string(AllReduceStartCall::kFunction), all_reduce_start},
      {std::string(AllReduceWaitCall::kFunction), all_reduce_wait},
  };
  return *table;
}

}  // namespace

LibraryFunction find_library_function(std::string_view name) {
  auto it = functions().find(name);
  return it == functions().end() ? nullptr : it->second;
}

}  // namespace reforge::runtime
