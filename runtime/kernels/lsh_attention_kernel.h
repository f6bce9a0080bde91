// The fused LSH-attention kernels for one (example, head) slice, written
// once over the element type: the reference op (ops/lsh_attention.cc)
// runs them in double, the CPU runtime in the graph's float type. Both are
// held against the decomposed attention (models/attention.cc).
//
// Forward: sort the R*L (round, position) slots by (bucket, position)
// (a counting sort: buckets are small integers),
// attend chunk by chunk to the own and previous chunk (wrapping), keep
// each slot's output and logsumexp, and combine the rounds with softmax
// weights of those logsumexps. The logits of one chunk (C x 2C) exist at
// a time; its products are GEMMs.
// Backward: recomputes each chunk's logits instead of storing them.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "compiler/ir/error.h"
#include "runtime/gemm.h"
#include "runtime/kernels/attention_constants.h"

// The kernel's loops are compiled once per instruction set (AVX-512,
// AVX2 + FMA, baseline), and the copy the CPU runs is picked when the
// program loads, as the GEMM's is. Library code is otherwise built for
// baseline x86-64, where these loops ran scalar. No copy contracts a*b+c
// into one FMA, so every copy computes the same bits, in float and in the
// reference interpreter's double. At O3 whatever the build's level.
// Row copies stay inline loops (not turned into memmove calls, which cost
// more than a 64-float row). (GCC only: clang, which builds the fuzzers,
// does not emit what such clones of template members call; there the
// loops stay as built.)
#if defined(__GNUC__) && !defined(__clang__)
#define REFORGE_LSH_HOT                                                        \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                 optimize("O3", "fp-contract=off", "no-tree-loop-distribute-patterns")))
#else
#define REFORGE_LSH_HOT
#endif

namespace reforge::kernels {

// exp for the logits: in float a branch-free polynomial the compiler
// vectorises (exp(x) = 2^n e^r, |r| <= ln2/2, degree-6 Taylor polynomial,
// relative error below 2.5e-7 for x <= 0, where it is used: logits minus
// their maximum; 0 below the float range); in double (the
// reference) the C library's.
template <typename T>
inline T logit_exp(T x) {
  if constexpr (std::is_same_v<T, float>) {
    const float clamped = std::min(std::max(x, -87.0f), 88.0f);
    // Round x / ln 2 to nearest by adding 1.5 * 2^23 (no library call).
    const float n = (clamped * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = (clamped - n * 0.693145751953125f) - n * 1.428606765330187e-06f;  // ln 2 = hi + lo
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float scale = std::bit_cast<float>(static_cast<int32_t>(n + 127.0f) << 23);
    return x < -87.0f ? 0.0f : p * scale;
  } else {
    return std::exp(x);
  }
}

// to[0, n) = from[0, n), inlined into the caller's loop.
template <typename T>
inline void copy_row(const T* __restrict from, T* __restrict to, int64_t n) {
  for (int64_t j = 0; j < n; ++j) to[j] = from[j];
}

struct LshShape {
  int64_t length = 0, rounds = 0, chunk = 0, dk = 0, dv = 0, valid = 0, per_round = 0;
  bool causal = false;
};

// Hands out pieces of caller-owned memory (the planned workspace), 64-byte
// aligned; with no memory it only counts, so the size is computed by the
// same code that carves it.
class Scratch {
 public:
  explicit Scratch(std::byte* base = nullptr) : base_(base) {}
  template <typename U>
  std::span<U> take(int64_t count) {
    offset_ = (offset_ + 63) / 64 * 64;
    U* at = base_ ? reinterpret_cast<U*>(base_ + offset_) : nullptr;
    offset_ += count * static_cast<int64_t>(sizeof(U));
    return {at, base_ ? static_cast<size_t>(count) : 0};
  }
  int64_t used() const { return offset_; }

 private:
  std::byte* base_;
  int64_t offset_ = 0;
};

template <typename T, typename Bucket>
class LshSlice {
 public:
  // Scratch bytes one slice needs, for the forward pass alone or for the
  // backward pass (which runs the forward first).
  static int64_t scratch_bytes(const LshShape& shape, bool backward) {
    Scratch counter;
    LshSlice slice(shape, nullptr, nullptr, nullptr, counter, backward);
    return (counter.used() + 63) / 64 * 64;  // slices follow each other, aligned
  }

  // All working memory comes from `scratch` (at least scratch_bytes()).
  LshSlice(const LshShape& shape, const T* q, const T* v, const Bucket* buckets, Scratch& scratch, bool backward)
      : s_(shape), q_(q), v_(v), buckets_(buckets) {
    const int64_t R = s_.rounds, L = s_.length, C = s_.chunk, dk = s_.dk, dv = s_.dv;
    if (std::is_same_v<T, float> && L > (int64_t{1} << 24)) {
      throw Error("LSH attention in float compares positions as floats: at most 2^24 positions, not " +
                  std::to_string(L));
    }
    order_ = scratch.take<int64_t>(R * L);
    counts_ = scratch.take<int64_t>(R * s_.per_round + 1);
    keys_ = scratch.take<T>(L * dk);
    norms_ = scratch.take<T>(L);
    out_ = scratch.take<T>(R * L * dv);
    lse_ = scratch.take<T>(R * L);
    weights_ = scratch.take<T>(R);
    chunk_ = Chunk(scratch, C, dk, dv);
    if (!backward) return;
    d_out_ = scratch.take<T>(R * L * dv);
    d_lse_ = scratch.take<T>(R * L);
    g_dot_round_ = scratch.take<T>(R);
    dq_ = scratch.take<T>(L * dk);
    d_keys_ = scratch.take<T>(L * dk);
    d_v_ = scratch.take<T>(L * dv);
    d_o_ = scratch.take<T>(C * dv);
    d_s_ = scratch.take<T>(C * 2 * C);
    d_q_ = scratch.take<T>(C * dk);
    d_k_ = scratch.take<T>(2 * C * dk);
    d_vw_ = scratch.take<T>(2 * C * dv);
  }

  // Per-slot outputs and logsumexps (not yet combined over rounds). Each
  // chunk's logits are one C x 2C product of its queries with its window's
  // keys, held only while the chunk is attended.
  REFORGE_LSH_HOT void forward() {
    sort_slots();
    const int64_t C = s_.chunk, dv = s_.dv;
    std::fill(out_.begin(), out_.end(), T(0));
    std::fill(lse_.begin(), lse_.end(), T(0));
    Chunk& ch = chunk_;
    for (int64_t c = 0; c < chunks(); ++c) {
      gather_chunk(c, ch);
      attend(ch);
      for (int64_t i = 0; i < C; ++i) {
        int64_t qs = order_[c * C + i];
        lse_[qs] = ch.lse[i];
        if constexpr (std::is_same_v<T, float>) {  // attend left the rows unnormalised
          const T inverse = ch.inverse_sum[i];
          const T* __restrict from = ch.out.data() + i * dv;
          T* __restrict to = out_.data() + qs * dv;
          for (int64_t j = 0; j < dv; ++j) to[j] = from[j] * inverse;
        } else {
          copy_row(ch.out.data() + i * dv, out_.data() + qs * dv, dv);
        }
      }
    }
  }

  // The rounds combined: position t's dv values at result + t * row
  // (row = dv: a dense [L, dv]).
  REFORGE_LSH_HOT void combine(T* result, int64_t row) {
    const int64_t L = s_.length, dv = s_.dv;
    for (int64_t t = 0; t < L; ++t) {
      std::span<const T> w = round_weights(t);
      T* out = result + t * row;
      std::fill(out, out + dv, T(0));
      for (int64_t r = 0; r < s_.rounds; ++r)
        for (int64_t j = 0; j < dv; ++j) out[j] += w[r] * out_[(r * L + t) * dv + j];
    }
  }
  void combine(T* result) { combine(result, s_.dv); }

  // Backward for the combined result's cotangent g [L, dv]; writes
  // position t's [dq | dv] at result + t * row (row = dk + dv: dense).
  // Call after forward().
  REFORGE_LSH_HOT void backward(const T* g, T* result, int64_t row) {
    const int64_t L = s_.length, dk = s_.dk, dv = s_.dv, R = s_.rounds;
    // Through the round combination: d out_slot and d lse_slot. The
    // attention backward below needs dlse - rowsum(dO o O) per slot; with
    // dO = w g that is w (g.O - g_dot_combined) - w g.O = -w g_dot_combined,
    // which the float path keeps in d_lse directly (no second pass over
    // the slots' outputs, in random order, for the row sums).
    constexpr bool kFolded = std::is_same_v<T, float>;
    std::span<T> d_out = d_out_, d_lse = d_lse_, g_dot_round = g_dot_round_;
    for (int64_t t = 0; t < L; ++t) {
      std::span<const T> w = round_weights(t);
      T g_dot_combined = 0;
      for (int64_t r = 0; r < R; ++r) {
        g_dot_round[r] = dot(g + t * dv, out_.data() + (r * L + t) * dv, dv);
        g_dot_combined += w[r] * g_dot_round[r];
      }
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t j = 0; j < dv; ++j) d_out[(r * L + t) * dv + j] = w[r] * g[t * dv + j];
        d_lse[r * L + t] = kFolded ? -w[r] * g_dot_combined : w[r] * (g_dot_round[r] - g_dot_combined);
      }
    }
    // Through each chunk's attention, recomputing its logits:
    //   dP = dO V^T, dS = P o (dP - rowsum(dO o O) + dlse),
    //   dQ = dS K, dK = dS^T Q, dV = P^T dO.
    const int64_t C = s_.chunk, W = 2 * C;
    std::span<T> dq = dq_, d_keys = d_keys_, d_v = d_v_;
    std::fill(dq.begin(), dq.end(), T(0));
    std::fill(d_keys.begin(), d_keys.end(), T(0));
    std::fill(d_v.begin(), d_v.end(), T(0));
    Chunk& ch = chunk_;
    std::span<T> d_o = d_o_, d_s = d_s_, d_q = d_q_, d_k = d_k_, d_vw = d_vw_;
    for (int64_t c = 0; c < chunks(); ++c) {
      gather_chunk(c, ch);
      // The float path (the runtime's) takes P = exp(S - lse) from the
      // logsumexps forward() kept, as flash attention's backward does: no
      // row maximum or sum, and no P V product (its rows' sums with dO are
      // folded into d_lse above). The double path (the reference's) keeps
      // its order.
      if constexpr (std::is_same_v<T, float>) {
        probabilities_from_lse(c, ch);
      } else {
        attend(ch);
      }
      for (int64_t i = 0; i < C; ++i) {
        int64_t qs = order_[c * C + i];
        copy_row(d_out.data() + qs * dv, d_o.data() + i * dv, dv);
      }
      runtime::gemm(d_o.data(), ch.v.data(), d_s.data(), C, W, dv, {dv, 1, 1, dv, W});  // dP = dO V^T
      for (int64_t i = 0; i < C; ++i) {
        const int64_t qs = order_[c * C + i];
        T shift = kFolded ? d_lse[qs] : d_lse[qs] - dot(d_o.data() + i * dv, ch.out.data() + i * dv, dv);
        for (int64_t w = 0; w < W; ++w) {
          T p = ch.p[i * W + w];
          d_s[i * W + w] = p * (d_s[i * W + w] + shift);
        }
      }
      runtime::gemm(d_s.data(), ch.k.data(), d_q.data(), C, dk, W, {W, 1, dk, 1, dk});
      runtime::gemm(d_s.data(), ch.q.data(), d_k.data(), W, dk, C, {1, W, dk, 1, dk});   // dS^T Q
      runtime::gemm(ch.p.data(), d_o.data(), d_vw.data(), W, dv, C, {1, W, dv, 1, dv});  // P^T dO
      for (int64_t i = 0; i < C; ++i) {
        T* row = dq.data() + ch.query_position[i] * dk;
        for (int64_t j = 0; j < dk; ++j) row[j] += d_q[i * dk + j];
      }
      for (int64_t w = 0; w < W; ++w) {
        T* key_row = d_keys.data() + ch.key_position[w] * dk;
        T* value_row = d_v.data() + ch.key_position[w] * dv;
        for (int64_t j = 0; j < dk; ++j) key_row[j] += d_k[w * dk + j];
        for (int64_t j = 0; j < dv; ++j) value_row[j] += d_vw[w * dv + j];
      }
    }
    // Keys are q / n with n = sqrt(|q|^2 + eps): dq += dk/n - q (q . dk) / n^3.
    for (int64_t t = 0; t < L; ++t) {
      T n = norms_[t], q_dot = 0;
      for (int64_t j = 0; j < dk; ++j) q_dot += q_[t * dk + j] * d_keys[t * dk + j];
      for (int64_t j = 0; j < dk; ++j) dq[t * dk + j] += d_keys[t * dk + j] / n - q_[t * dk + j] * q_dot / (n * n * n);
    }
    for (int64_t t = 0; t < L; ++t) {
      T* out = result + t * row;
      for (int64_t j = 0; j < dk; ++j) out[j] = dq[t * dk + j];
      for (int64_t j = 0; j < dv; ++j) out[dk + j] = d_v[t * dv + j];
    }
  }
  void backward(const T* g, T* result) { backward(g, result, s_.dk + s_.dv); }

 private:
  int64_t chunks() const { return s_.rounds * s_.length / s_.chunk; }

  // Slots in order of (round's bucket, position): a counting sort over the
  // R * buckets_per_round global buckets, O(R·L), stable, so positions stay
  // ascending within a bucket — the order of trax's unique sort key.
  void sort_slots() {
    const int64_t L = s_.length, dk = s_.dk, global_buckets = s_.rounds * s_.per_round;
    std::fill(counts_.begin(), counts_.end(), int64_t{0});
    auto global_bucket = [&](int64_t slot) {
      auto b = static_cast<int64_t>(buckets_[slot]);
      if (b < 0 || b >= s_.per_round) {
        throw Error("LSH bucket " + std::to_string(b) + " out of range [0, " + std::to_string(s_.per_round) + ")");
      }
      return b + slot / L * s_.per_round;
    };
    for (int64_t slot = 0; slot < s_.rounds * L; ++slot) ++counts_[global_bucket(slot) + 1];
    for (int64_t b = 0; b < global_buckets; ++b) counts_[b + 1] += counts_[b];
    for (int64_t slot = 0; slot < s_.rounds * L; ++slot) order_[counts_[global_bucket(slot)]++] = slot;
    for (int64_t t = 0; t < L; ++t) {
      T sum = 0;
      for (int64_t j = 0; j < dk; ++j) sum += q_[t * dk + j] * q_[t * dk + j];
      norms_[t] = std::sqrt(sum + T(key_norm_epsilon(dk)));
      for (int64_t j = 0; j < dk; ++j) keys_[t * dk + j] = q_[t * dk + j] / norms_[t];
    }
  }

  // One chunk's queries and its window (its own slots, then the previous
  // chunk's, wrapping), gathered into contiguous matrices.
  struct Chunk {
    std::span<int64_t> query_position, key_position;  // [C], [2C]
    std::span<T> key_at;                              // [2C]: key_position as T
    std::span<T> q, k, v;                             // [C,dk], [2C,dk], [2C,dv]
    std::span<T> p, lse, out;                         // [C,2C] probabilities, [C], [C,dv]
    std::span<T> inverse_sum;                         // [C]: float forward, 1 / each row's sum
    Chunk() = default;
    Chunk(Scratch& s, int64_t c, int64_t dk, int64_t dv)
        : query_position(s.take<int64_t>(c)),
          key_position(s.take<int64_t>(2 * c)),
          key_at(s.take<T>(2 * c)),
          q(s.take<T>(c * dk)),
          k(s.take<T>(2 * c * dk)),
          v(s.take<T>(2 * c * dv)),
          p(s.take<T>(c * 2 * c)),
          lse(s.take<T>(c)),
          out(s.take<T>(c * dv)),
          inverse_sum(s.take<T>(c)) {}
  };

  // Chunks are gathered in order, and chunk c's previous chunk is c - 1:
  // from c = 1 on, the window's second half is the first half of the
  // window before it, moved (a contiguous copy) instead of gathered again
  // (rows in random order).
  REFORGE_LSH_HOT void gather_chunk(int64_t c, Chunk& ch) const {
    const int64_t C = s_.chunk, L = s_.length, dk = s_.dk, dv = s_.dv;  // the window holds 2C keys
    const int64_t previous = (c + chunks() - 1) % chunks();
    for (int64_t i = 0; i < C; ++i) {
      int64_t t = order_[c * C + i] % L;
      ch.query_position[i] = t;
      copy_row(q_ + t * dk, ch.q.data() + i * dk, dk);
    }
    const bool moved = c > 0;
    if (moved) {
      copy_row(ch.key_position.data(), ch.key_position.data() + C, C);
      copy_row(ch.key_at.data(), ch.key_at.data() + C, C);
      copy_row(ch.k.data(), ch.k.data() + C * dk, C * dk);
      copy_row(ch.v.data(), ch.v.data() + C * dv, C * dv);
    }
    for (int64_t w = 0; w < (moved ? C : 2 * C); ++w) {
      int64_t slot = w < C ? order_[c * C + w] : order_[previous * C + (w - C)];
      int64_t t = slot % L;
      ch.key_position[w] = t;
      ch.key_at[w] = static_cast<T>(t);
      copy_row(keys_.data() + t * dk, ch.k.data() + w * dk, dk);
      copy_row(v_ + t * dv, ch.v.data() + w * dv, dv);
    }
  }

  // Masked logits S = Q K^T; per query lse = logsumexp(S) (the maximum
  // subtracted first), P = exp(S - lse); out = P V. (In float P stays
  // unnormalised, exp(S - max): see softmax_row_lanes.)
  REFORGE_LSH_HOT void attend(Chunk& ch) const {
    const int64_t C = s_.chunk, W = 2 * C;
    runtime::gemm(ch.q.data(), ch.k.data(), ch.p.data(), C, W, s_.dk, {s_.dk, 1, 1, s_.dk, W});  // Q K^T
    for (int64_t i = 0; i < C; ++i) {
      T* logits = ch.p.data() + i * W;
      const int64_t qt = ch.query_position[i];
      if constexpr (std::is_same_v<T, float>) {
        ch.lse[i] = softmax_row_lanes(logits, ch.key_at.data(), W, static_cast<T>(qt), ch.inverse_sum[i]);
        continue;
      }
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t w = 0; w < W; ++w) {
        const int64_t kt = ch.key_position[w];
        if (s_.causal && kt > qt) logits[w] -= T(kAttentionMaskedOut);
        if (kt == qt) logits[w] -= T(kAttentionSelfMask);
        if (kt >= s_.valid) logits[w] -= T(kAttentionMaskedOut);
        m = std::max(m, logits[w]);
      }
      // exp(l - m) first (a loop the compiler vectorises), then the sum and
      // the normalisation: P = exp(l - m) / sum = exp(l - lse).
      for (int64_t w = 0; w < W; ++w) logits[w] = logit_exp(logits[w] - m);
      T sum = 0;
      for (int64_t w = 0; w < W; ++w) sum += logits[w];
      ch.lse[i] = m + std::log(sum);
      const T inverse = T(1) / sum;
      for (int64_t w = 0; w < W; ++w) logits[w] *= inverse;
    }
    runtime::gemm(ch.p.data(), ch.v.data(), ch.out.data(), C, s_.dv, W, {W, 1, s_.dv, 1, s_.dv});
  }

  // sum_j a[j] b[j]: in float over sixteen lanes (a chain through one
  // variable would not vectorise), in double in order (the reference's).
  static T dot(const T* __restrict a, const T* __restrict b, int64_t n) {
    if constexpr (std::is_same_v<T, float>) {
      T lanes[kLanes] = {};
      const int64_t whole = n / kLanes * kLanes;
      for (int64_t j0 = 0; j0 < whole; j0 += kLanes) {
        for (int64_t j = 0; j < kLanes; ++j) lanes[j] += a[j0 + j] * b[j0 + j];
      }
      T sum = 0;
      for (int64_t j = whole; j < n; ++j) sum += a[j] * b[j];
      for (int64_t j = 0; j < kLanes; ++j) sum += lanes[j];
      return sum;
    } else {
      T sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += a[j] * b[j];
      return sum;
    }
  }

  // Chunk c's probabilities again for the backward (float): S = Q K^T,
  // masked as in softmax_row_lanes, then P = exp(S - lse) with each query
  // slot's logsumexp from forward(). (The masks are written out here and
  // there, not shared through a helper: one cost the backward 15% in
  // kernel_bench, the loop no longer vectorising as well.)
  REFORGE_LSH_HOT void probabilities_from_lse(int64_t c, Chunk& ch) const {
    const int64_t C = s_.chunk, W = 2 * C;
    runtime::gemm(ch.q.data(), ch.k.data(), ch.p.data(), C, W, s_.dk, {s_.dk, 1, 1, s_.dk, W});  // Q K^T
    const T masked = T(kAttentionMaskedOut), self = T(kAttentionSelfMask), valid = T(s_.valid);
    const bool causal = s_.causal, padded = s_.valid < s_.length;
    const T* __restrict key_at = ch.key_at.data();
    for (int64_t i = 0; i < C; ++i) {
      T* __restrict logits = ch.p.data() + i * W;
      const T qt = static_cast<T>(ch.query_position[i]), lse = lse_[order_[c * C + i]];
      for (int64_t w = 0; w < W; ++w) {
        const T kt = key_at[w];
        T l = logits[w];
        l -= (causal && kt > qt) ? masked : T(0);
        l -= kt == qt ? self : T(0);
        if (padded) l -= kt >= valid ? masked : T(0);
        logits[w] = logit_exp(l - lse);
      }
    }
  }

  // The float path of one row's masked softmax (the runtime's; the double
  // path above is the reference interpreter's and keeps its exact order),
  // left unnormalised: the row becomes exp(l - m), inverse_sum gets
  // 1 / sum, and forward() scales the C x dv output instead of the C x 2C
  // probabilities.
  // A maximum or a sum carried in one variable is a serial chain the
  // compiler cannot vectorise without reassociating; sixteen independent
  // lanes can be. Positions are compared as floats (key_at; exact below
  // 2^24, which LshShape checks), sixteen to a vector. Returns the row's
  // logsumexp.
  static constexpr int64_t kLanes = 16;
  REFORGE_LSH_HOT T softmax_row_lanes(T* __restrict logits, const T* __restrict key_at, int64_t W, T qt,
                                      T& inverse_sum) const {
    const T masked = T(kAttentionMaskedOut), self = T(kAttentionSelfMask), valid = T(s_.valid);
    const bool causal = s_.causal, padded = s_.valid < s_.length;
    T lane_max[kLanes];
    std::fill(lane_max, lane_max + kLanes, -std::numeric_limits<T>::infinity());
    const int64_t whole = W / kLanes * kLanes;
    auto mask = [&](int64_t w) {
      const T kt = key_at[w];
      T l = logits[w];
      l -= (causal && kt > qt) ? masked : T(0);
      l -= kt == qt ? self : T(0);
      if (padded) l -= kt >= valid ? masked : T(0);
      return logits[w] = l;
    };
    for (int64_t w0 = 0; w0 < whole; w0 += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) lane_max[j] = std::max(lane_max[j], mask(w0 + j));
    }
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t w = whole; w < W; ++w) m = std::max(m, mask(w));
    for (int64_t j = 0; j < kLanes; ++j) m = std::max(m, lane_max[j]);
    T lane_sum[kLanes] = {};
    for (int64_t w0 = 0; w0 < whole; w0 += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) lane_sum[j] += logits[w0 + j] = logit_exp(logits[w0 + j] - m);
    }
    T sum = 0;
    for (int64_t w = whole; w < W; ++w) sum += logits[w] = logit_exp(logits[w] - m);
    for (int64_t j = 0; j < kLanes; ++j) sum += lane_sum[j];
    inverse_sum = T(1) / sum;  // the row is left as exp(l - m): the caller scales the output row
    return m + std::log(sum);
  }

  // Weights of the rounds at position t: softmax over r of lse[r*L + t].
  // (Into weights_, valid until the next call.)
  std::span<const T> round_weights(int64_t t) {
    std::span<T> w = weights_;
    T m = -std::numeric_limits<T>::infinity(), z = 0;
    for (int64_t r = 0; r < s_.rounds; ++r) m = std::max(m, lse_[r * s_.length + t]);
    for (int64_t r = 0; r < s_.rounds; ++r) z += w[r] = std::exp(lse_[r * s_.length + t] - m);
    for (T& x : w) x /= z;
    return w;
  }

  LshShape s_;
  const T *q_, *v_;
  const Bucket* buckets_;
  std::span<int64_t> order_;   // sorted slot -> slot (r * L + position)
  std::span<int64_t> counts_;  // counting sort: slots per global bucket, then offsets
  std::span<T> keys_;          // [L, dk]: q / sqrt(|q|^2 + eps)
  std::span<T> norms_;         // [L]
  std::span<T> out_;           // [R*L, dv] per-slot outputs (by slot, not sorted)
  std::span<T> lse_;           // [R*L]
  std::span<T> weights_;       // [R]: one position's round weights
  Chunk chunk_;                // the chunk being attended
  // Backward only: cotangents of the per-slot outputs and logsumexps, the
  // results being accumulated, and one chunk's products.
  std::span<T> d_out_, d_lse_, g_dot_round_, dq_, d_keys_, d_v_, d_o_, d_s_, d_q_, d_k_, d_vw_;
};

}  // namespace reforge::kernels
