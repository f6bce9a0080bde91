// Fused attention over sequence chunks for one (example, head) slice: the
// decomposition attend_in_chunks() of models/attention.cc as one kernel.
// Local attention: each chunk's queries attend to its own keys and the
// previous chunk's (wrapping: chunk 0's previous chunk is the last).
// Full attention: one chunk, the whole sequence.
//
// Flash-attention style: queries in tiles of up to kQueryTile, keys in
// tiles of up to kKeyTile; one tile's logits exist at a time, combined
// across the key tiles by a running softmax (the row maximum and sum
// rescaled when the maximum grows), so full attention never holds L x L
// values. A key tile a causal mask hides from every query of the tile is
// skipped: its logits would be pushed down by 1e9 and contribute exactly
// zero. The backward takes P = exp(S - max) / sum again from each query's
// kept row maximum and sum, tile by tile, and accumulates dQ, dK and dV in
// place. (Not exp(S - lse) from one kept logsumexp: when a query sees only
// keys masked by the same amount, e.g. its own key twice in a single
// look-back chunk, lse lies near -1e5, where a float keeps 3 fractional
// bits, and the probabilities came out 0.4% off.)
//
// Written once over the element type: the interpreter runs it in double
// (and tests hold it against the decomposition), the runtime in the
// graph's type.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

#include "runtime/gemm.h"
#include "runtime/kernels/attention_constants.h"
#include "runtime/kernels/lsh_common.h"

namespace reforge::kernels {

struct ChunkedAttentionShape {
  int64_t length = 0, chunk = 0, dk = 0, dv = 0;
  int64_t valid = 0;       // keys at positions >= valid are padding (masked); == length when none are
  bool look_back = false;  // local attention: the previous chunk's keys too
  bool causal = false;
  bool mask_self = false;  // shared-QK attention: a query's own key only as a last resort
};

template <typename T>
class ChunkedAttentionSlice {
 public:
  // Its chunk products run on the program's generated GEMM micro-kernel
  // (float only; without one, on the runtime's copy: the same bits).
  void use_micro_kernel(runtime::GemmMicroKernel generated) { multiply_.generated = generated; }

  static constexpr int64_t kQueryTile = 64, kKeyTile = 128;

  // Scratch bytes one slice needs, for the forward pass alone or with the
  // backward.
  static int64_t scratch_bytes(const ChunkedAttentionShape& shape, bool backward) {
    Scratch counter;
    ChunkedAttentionSlice slice(shape, nullptr, nullptr, nullptr, counter, backward);
    return (counter.used() + 63) / 64 * 64;  // slices follow each other, aligned
  }

  // (query, key) pairs the kernel multiplies, for the flop count: causally
  // hidden key tiles are skipped.
  static int64_t pairs(const ChunkedAttentionShape& shape) {
    int64_t count = 0;
    ChunkedAttentionSlice slice(shape);
    slice.for_each_tile([&](int64_t q0, int64_t q1, int64_t k0, int64_t k1) { count += (q1 - q0) * (k1 - k0); });
    return count;
  }

  // All working memory comes from `scratch` (at least scratch_bytes()).
  ChunkedAttentionSlice(const ChunkedAttentionShape& shape, const T* q, const T* k, const T* v, Scratch& scratch,
                        bool backward)
      : s_(shape), q_(q), k_(k), v_(v) {
    const int64_t L = s_.length, dk = s_.dk, dv = s_.dv, TQ = kQueryTile, TK = kKeyTile;
    kept_max_ = scratch.take<T>(L);
    kept_inverse_sum_ = scratch.take<T>(L);
    p_ = scratch.take<T>(TQ * TK);
    product_ = scratch.take<T>(std::max(TQ, TK) * std::max(dk, dv));
    row_max_ = scratch.take<T>(TQ);
    row_sum_ = scratch.take<T>(TQ);
    accumulated_ = scratch.take<T>(TQ * dv);
    if (!backward) return;
    d_s_ = scratch.take<T>(TQ * TK);
    g_dot_ = scratch.take<T>(L);
  }

  // The attention: position t's dv values at result + t * row (row = dv:
  // a dense [L, dv]). Keeps each query's row maximum and 1 / its sum for
  // forward_backward().
  REFORGE_LSH_HOT void forward(T* result, int64_t row) {
    const int64_t dv = s_.dv;
    int64_t tile_start = -1;
    auto finish_tile = [&](int64_t q0, int64_t q1) {
      for (int64_t i = 0; i < q1 - q0; ++i) {
        const T inverse = T(1) / row_sum_[i];
        kept_max_[q0 + i] = row_max_[i];
        kept_inverse_sum_[q0 + i] = inverse;
        T* __restrict to = result + (q0 + i) * row;
        const T* __restrict from = accumulated_.data() + i * dv;
        for (int64_t j = 0; j < dv; ++j) to[j] = from[j] * inverse;
      }
    };
    int64_t tile_end = -1;
    for_each_tile([&](int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
      if (q0 != tile_start) {  // a new query tile: finish the last, start afresh
        if (tile_start >= 0) finish_tile(tile_start, tile_end);
        tile_start = q0;
        tile_end = q1;
        std::fill(row_max_.begin(), row_max_.end(), -std::numeric_limits<T>::infinity());
        std::fill(row_sum_.begin(), row_sum_.end(), T(0));
        std::fill(accumulated_.begin(), accumulated_.end(), T(0));
      }
      accumulate_tile(q0, q1, k0, k1);
    });
    if (tile_start >= 0) finish_tile(tile_start, tile_end);
  }
  void forward(T* result) { forward(result, s_.dv); }

  // Forward and backward for the result's cotangent g [L, dv]: writes
  // position t's [dq | dk | dv] at result + t * row (row = 2 dk + dv when
  // dense). The forward's result waits in the dv columns until g . out is
  // taken.
  REFORGE_LSH_HOT void forward_backward(const T* g, T* result, int64_t row) {
    const int64_t L = s_.length, dk = s_.dk, dv = s_.dv;
    T* out = result + 2 * dk;
    forward(out, row);
    // dS = P o (dP - rowsum(dO o O)): the row sums, g . out per query.
    for (int64_t t = 0; t < L; ++t) {
      T sum = 0;
      for (int64_t j = 0; j < dv; ++j) sum += g[t * dv + j] * out[t * row + j];
      g_dot_[t] = sum;
      std::fill(result + t * row, result + t * row + 2 * dk + dv, T(0));
    }
    for_each_tile(
        [&](int64_t q0, int64_t q1, int64_t k0, int64_t k1) { backward_tile(g, result, row, q0, q1, k0, k1); });
  }
  void forward_backward(const T* g, T* result) { forward_backward(g, result, 2 * s_.dk + s_.dv); }

 private:
  explicit ChunkedAttentionSlice(const ChunkedAttentionShape& shape)
      : s_(shape), q_(nullptr), k_(nullptr), v_(nullptr) {}

  // fn(q0, q1, k0, k1) for every (query tile, key tile) pair, query tiles
  // in order and, within one, its window's key tiles: its own chunk's,
  // then (look_back) the previous chunk's.
  template <typename Fn>
  void for_each_tile(const Fn& fn) const {
    const int64_t L = s_.length, C = s_.chunk, chunks = L / C;
    for (int64_t n = 0; n < chunks; ++n) {
      const int64_t previous = (n + chunks - 1) % chunks;
      for (int64_t q0 = n * C; q0 < (n + 1) * C; q0 += kQueryTile) {
        const int64_t q1 = std::min(q0 + kQueryTile, (n + 1) * C);
        for (int64_t part = 0; part < (s_.look_back ? 2 : 1); ++part) {
          const int64_t first = (part == 0 ? n : previous) * C;
          for (int64_t k0 = first; k0 < first + C; k0 += kKeyTile) {
            if (s_.causal && k0 > q1 - 1) continue;  // every key after every query: contributes nothing
            fn(q0, q1, k0, std::min(k0 + kKeyTile, first + C));
          }
        }
      }
    }
  }

  // The logits of queries [q0, q1) against keys [k0, k1), masked, into p_
  // (rows of kKeyTile).
  REFORGE_LSH_HOT void masked_logits(int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
    const int64_t dk = s_.dk, TK = kKeyTile, width = k1 - k0;
    multiply_(q_ + q0 * dk, k_ + k0 * dk, p_.data(), q1 - q0, width, dk, {dk, 1, 1, dk, TK});  // Q K^T
    const T masked = T(kAttentionMaskedOut), self = T(kAttentionSelfMask);
    const bool causal = s_.causal, mask_self = s_.mask_self, padded = s_.valid < s_.length;
    const int64_t valid = s_.valid;
    for (int64_t i = 0; i < q1 - q0; ++i) {
      T* __restrict logits = p_.data() + i * TK;
      const int64_t qt = q0 + i;
      for (int64_t w = 0; w < width; ++w) {
        const int64_t kt = k0 + w;
        T l = logits[w];
        l -= (causal && kt > qt) ? masked : T(0);
        l -= (mask_self && kt == qt) ? self : T(0);
        if (padded) l -= kt >= valid ? masked : T(0);
        logits[w] = l;
      }
    }
  }

  // One key tile into the running softmax of the query tile [q0, q1).
  REFORGE_LSH_HOT void accumulate_tile(int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
    const int64_t dv = s_.dv, TK = kKeyTile, width = k1 - k0, rows = q1 - q0;
    masked_logits(q0, q1, k0, k1);
    for (int64_t i = 0; i < rows; ++i) {
      T* __restrict p = p_.data() + i * TK;
      T m = row_max_[i];
      for (int64_t w = 0; w < width; ++w) m = std::max(m, p[w]);
      const T rescale = logit_exp(row_max_[i] - m);  // 0 for the first tile (the maximum was -inf)
      T sum = 0;
      for (int64_t w = 0; w < width; ++w) sum += p[w] = logit_exp(p[w] - m);
      row_sum_[i] = row_sum_[i] * rescale + sum;
      row_max_[i] = m;
      T* __restrict acc = accumulated_.data() + i * dv;
      for (int64_t j = 0; j < dv; ++j) acc[j] *= rescale;
    }
    multiply_(p_.data(), v_ + k0 * dv, product_.data(), rows, dv, width, {TK, 1, dv, 1, dv});  // P V
    for (int64_t i = 0; i < rows; ++i) {
      T* __restrict acc = accumulated_.data() + i * dv;
      const T* __restrict add = product_.data() + i * dv;
      for (int64_t j = 0; j < dv; ++j) acc[j] += add[j];
    }
  }

  // One (query tile, key tile) pair of the backward:
  //   P = exp(S - max) / sum, dP = dO V^T, dS = P o (dP - rowsum(dO o O)),
  //   dQ += dS K, dK += dS^T Q, dV += P^T dO.
  REFORGE_LSH_HOT void backward_tile(const T* g, T* result, int64_t row, int64_t q0, int64_t q1, int64_t k0,
                                     int64_t k1) {
    const int64_t dk = s_.dk, dv = s_.dv, TK = kKeyTile, width = k1 - k0, rows = q1 - q0;
    masked_logits(q0, q1, k0, k1);
    for (int64_t i = 0; i < rows; ++i) {
      T* __restrict p = p_.data() + i * TK;
      const T m = kept_max_[q0 + i], inverse_sum = kept_inverse_sum_[q0 + i];
      for (int64_t w = 0; w < width; ++w) p[w] = logit_exp(p[w] - m) * inverse_sum;
    }
    multiply_(g + q0 * dv, v_ + k0 * dv, d_s_.data(), rows, width, dv, {dv, 1, 1, dv, TK});  // dP = dO V^T
    for (int64_t i = 0; i < rows; ++i) {
      const T shift = g_dot_[q0 + i];
      const T* __restrict p = p_.data() + i * TK;
      T* __restrict ds = d_s_.data() + i * TK;
      for (int64_t w = 0; w < width; ++w) ds[w] = p[w] * (ds[w] - shift);
    }
    T* product = product_.data();
    multiply_(d_s_.data(), k_ + k0 * dk, product, rows, dk, width, {TK, 1, dk, 1, dk});  // dS K
    add_rows(product, dk, rows, result + q0 * row, row);
    multiply_(d_s_.data(), q_ + q0 * dk, product, width, dk, rows, {1, TK, dk, 1, dk});  // dS^T Q
    add_rows(product, dk, width, result + k0 * row + dk, row);
    multiply_(p_.data(), g + q0 * dv, product, width, dv, rows, {1, TK, dv, 1, dv});  // P^T dO
    add_rows(product, dv, width, result + k0 * row + 2 * dk, row);
  }

  // to[r * row + j] += from[r * n + j].
  REFORGE_LSH_HOT void add_rows(const T* __restrict from, int64_t n, int64_t rows, T* __restrict to,
                                int64_t row) const {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < n; ++j) to[r * row + j] += from[r * n + j];
    }
  }

  ChunkedAttentionShape s_;
  runtime::ChunkGemm multiply_;  // the chunk products
  const T *q_, *k_, *v_;
  std::span<T> kept_max_;          // [L]: each query's row maximum
  std::span<T> kept_inverse_sum_;  // [L]: 1 / each query's sum of exp(logit - maximum)
  std::span<T> p_;            // [kQueryTile, kKeyTile]: one tile's logits, then probabilities
  std::span<T> product_;      // one tile's GEMM result before it is added in
  std::span<T> row_max_;      // [kQueryTile]: the running maximum of each row
  std::span<T> row_sum_;      // [kQueryTile]: the running sum of exp(logit - maximum)
  std::span<T> accumulated_;  // [kQueryTile, dv]: the running sum of exp(logit - maximum) * value
  // Backward only: dP, then dS, of one tile; g . out per query.
  std::span<T> d_s_, g_dot_;
};

}  // namespace reforge::kernels
