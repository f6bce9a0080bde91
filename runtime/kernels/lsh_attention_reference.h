// The reference fused LSH-attention kernel for one (example, head) slice,
// in double: the interpreter's lsh_attention_fused and its gradient
// (ops/lsh_attention.cc), and what the runtime's kernel
// (lsh_attention_kernel.h) is held against. It is held in turn against
// the decomposed attention (models/attention.cc) and keeps its order of
// operations: every slot's output is kept until the rounds are combined.
//
// Forward: sort the R*L (round, position) slots by (bucket, position),
// attend chunk by chunk to the own and previous chunk (wrapping), keep
// each slot's output and logsumexp, and combine the rounds with softmax
// weights of those logsumexps. The logits of one chunk (C x 2C) exist at
// a time; its products are GEMMs.
// Backward: recomputes each chunk's logits instead of storing them.
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

template <typename Bucket>
class ReferenceLshSlice {
  using T = double;

 public:
  // Scratch bytes one slice needs, for the forward pass alone or for the
  // backward pass (which runs the forward first).
  static int64_t scratch_bytes(const LshShape& shape, bool backward) {
    Scratch counter;
    ReferenceLshSlice slice(shape, nullptr, nullptr, nullptr, counter, backward);
    return (counter.used() + 63) / 64 * 64;
  }

  // All working memory comes from `scratch` (at least scratch_bytes()).
  ReferenceLshSlice(const LshShape& shape, const T* q, const T* v, const Bucket* buckets, Scratch& scratch,
                    bool backward)
      : s_(shape), q_(q), v_(v), buckets_(buckets) {
    const int64_t R = s_.rounds, L = s_.length, C = s_.chunk, dk = s_.dk, dv = s_.dv;
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
        copy_row(ch.out.data() + i * dv, out_.data() + qs * dv, dv);
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

  // Each round's logsumexp at position t, after its dv values:
  // result[t * row + dv + r] (the fused forward's with_logsumexps rows).
  void write_logsumexps(T* result, int64_t row) const {
    const int64_t L = s_.length;
    for (int64_t t = 0; t < L; ++t) {
      for (int64_t r = 0; r < s_.rounds; ++r) result[t * row + s_.dv + r] = lse_[r * L + t];
    }
  }

  // Backward for the combined result's cotangent g [L, dv]; writes
  // position t's [dq | dv] at result + t * row (row = dk + dv: dense).
  // Call after forward().
  REFORGE_LSH_HOT void backward(const T* g, T* result, int64_t row) {
    const int64_t L = s_.length, dk = s_.dk, dv = s_.dv, R = s_.rounds;
    // Through the round combination: d out_slot and d lse_slot.
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
        d_lse[r * L + t] = w[r] * (g_dot_round[r] - g_dot_combined);
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
      attend(ch);
      for (int64_t i = 0; i < C; ++i) {
        int64_t qs = order_[c * C + i];
        copy_row(d_out.data() + qs * dv, d_o.data() + i * dv, dv);
      }
      runtime::gemm(d_o.data(), ch.v.data(), d_s.data(), C, W, dv, {dv, 1, 1, dv, W});  // dP = dO V^T
      for (int64_t i = 0; i < C; ++i) {
        const int64_t qs = order_[c * C + i];
        T shift = d_lse[qs] - dot(d_o.data() + i * dv, ch.out.data() + i * dv, dv);
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

  // The slots in bucket order, and the keys: q / sqrt(|q|^2 + eps).
  void sort_slots() {
    const int64_t L = s_.length, dk = s_.dk;
    sort_slots_by_bucket(s_, buckets_, counts_, order_);
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
    std::span<T> q, k, v;                             // [C,dk], [2C,dk], [2C,dv]
    std::span<T> p, lse, out;                         // [C,2C] probabilities, [C], [C,dv]
    Chunk() = default;
    Chunk(Scratch& s, int64_t c, int64_t dk, int64_t dv)
        : query_position(s.take<int64_t>(c)),
          key_position(s.take<int64_t>(2 * c)),
          q(s.take<T>(c * dk)),
          k(s.take<T>(2 * c * dk)),
          v(s.take<T>(2 * c * dv)),
          p(s.take<T>(c * 2 * c)),
          lse(s.take<T>(c)),
          out(s.take<T>(c * dv)) {}
  };

  REFORGE_LSH_HOT void gather_chunk(int64_t c, Chunk& ch) const {
    const int64_t C = s_.chunk, L = s_.length, dk = s_.dk, dv = s_.dv;  // the window holds 2C keys
    const int64_t previous = (c + chunks() - 1) % chunks();
    for (int64_t i = 0; i < C; ++i) {
      int64_t t = order_[c * C + i] % L;
      ch.query_position[i] = t;
      copy_row(q_ + t * dk, ch.q.data() + i * dk, dk);
    }
    for (int64_t w = 0; w < 2 * C; ++w) {
      int64_t slot = w < C ? order_[c * C + w] : order_[previous * C + (w - C)];
      int64_t t = slot % L;
      ch.key_position[w] = t;
      copy_row(keys_.data() + t * dk, ch.k.data() + w * dk, dk);
      copy_row(v_ + t * dv, ch.v.data() + w * dv, dv);
    }
  }

  // Masked logits S = Q K^T; per query lse = logsumexp(S) (the maximum
  // subtracted first), P = exp(S - lse); out = P V.
  REFORGE_LSH_HOT void attend(Chunk& ch) const {
    const int64_t C = s_.chunk, W = 2 * C;
    runtime::gemm(ch.q.data(), ch.k.data(), ch.p.data(), C, W, s_.dk, {s_.dk, 1, 1, s_.dk, W});  // Q K^T
    for (int64_t i = 0; i < C; ++i) {
      T* logits = ch.p.data() + i * W;
      const int64_t qt = ch.query_position[i];
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

  static T dot(const T* a, const T* b, int64_t n) {
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += a[j] * b[j];
    return sum;
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
