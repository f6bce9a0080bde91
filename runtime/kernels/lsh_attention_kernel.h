// The fused LSH-attention kernels for one (example, head) slice, written
// once over the element type: the reference op (ops/lsh_attention.cc)
// runs them in double, the CPU runtime in the graph's float type. Both are
// held against the decomposed attention (models/attention.cc).
//
// Forward: sort the R*L (round, position) slots by (bucket, position),
// attend chunk by chunk to the own and previous chunk (wrapping), keep
// each slot's output and logsumexp, and combine the rounds with softmax
// weights of those logsumexps. The logits of one query exist at a time.
// Backward: recomputes each chunk's logits instead of storing them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace reforge::kernels {

// Masks subtracted from the logits (DESIGN.md §3): causal and padding keys
// are pushed far away, the query's own position only a little, so a query
// with no other key still attends to itself.
constexpr double kLshMaskedOut = 1e9;
constexpr double kLshSelfMask = 1e5;
constexpr double kLshNormEpsilon = 1e-6;

struct LshShape {
  int64_t length = 0, rounds = 0, chunk = 0, dk = 0, dv = 0, valid = 0, per_round = 0;
  bool causal = false;
};

template <typename T, typename Bucket>
class LshSlice {
 public:
  LshSlice(const LshShape& shape, const T* q, const T* v, const Bucket* buckets)
      : s_(shape), q_(q), v_(v), buckets_(buckets) {}

  // Per-slot outputs and logsumexps (not yet combined over rounds).
  void forward() {
    sort_slots();
    const int64_t dv = s_.dv;
    out_.assign(s_.rounds * s_.length * dv, T(0));
    lse_.assign(s_.rounds * s_.length, T(0));
    std::vector<T> logits;
    for (int64_t c = 0; c < chunks(); ++c) {
      std::vector<int64_t> w = window(c);
      for (int64_t i = 0; i < s_.chunk; ++i) {
        int64_t qs = order_[c * s_.chunk + i];
        logits_of(qs, w, logits);
        T m = *std::max_element(logits.begin(), logits.end()), sum = 0;
        for (T l : logits) sum += std::exp(l - m);
        lse_[qs] = m + std::log(sum);
        for (size_t k = 0; k < w.size(); ++k) {
          T p = std::exp(logits[k] - lse_[qs]);
          const T* vj = v_ + (w[k] % s_.length) * dv;
          for (int64_t j = 0; j < dv; ++j) out_[qs * dv + j] += p * vj[j];
        }
      }
    }
  }

  // result [L, dv]: the rounds combined.
  void combine(T* result) const {
    const int64_t L = s_.length, dv = s_.dv;
    std::fill(result, result + L * dv, T(0));
    for (int64_t t = 0; t < L; ++t) {
      std::vector<T> w = round_weights(t);
      for (int64_t r = 0; r < s_.rounds; ++r)
        for (int64_t j = 0; j < dv; ++j) result[t * dv + j] += w[r] * out_[(r * L + t) * dv + j];
    }
  }

  // Backward for the combined result's cotangent g [L, dv]; writes
  // [L, dk + dv] rows of [dq | dv]. Call after forward().
  void backward(const T* g, T* result) const {
    const int64_t L = s_.length, dk = s_.dk, dv = s_.dv, R = s_.rounds;
    // Through the round combination: d out_slot and d lse_slot.
    std::vector<T> d_out(R * L * dv, T(0)), d_lse(R * L, T(0));
    for (int64_t t = 0; t < L; ++t) {
      std::vector<T> w = round_weights(t);
      T g_dot_combined = 0;
      std::vector<T> g_dot_round(R, T(0));
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t j = 0; j < dv; ++j) g_dot_round[r] += g[t * dv + j] * out_[(r * L + t) * dv + j];
        g_dot_combined += w[r] * g_dot_round[r];
      }
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t j = 0; j < dv; ++j) d_out[(r * L + t) * dv + j] = w[r] * g[t * dv + j];
        d_lse[r * L + t] = w[r] * (g_dot_round[r] - g_dot_combined);
      }
    }
    // Through each chunk's attention, recomputing its logits.
    std::vector<T> dq(L * dk, T(0)), d_keys(L * dk, T(0)), d_v(L * dv, T(0)), logits;
    for (int64_t ch = 0; ch < chunks(); ++ch) {
      std::vector<int64_t> w = window(ch);
      for (int64_t i = 0; i < s_.chunk; ++i) {
        int64_t qs = order_[ch * s_.chunk + i], qt = qs % L;
        logits_of(qs, w, logits);
        const T* d_o = d_out.data() + qs * dv;
        T d_o_dot_o = 0;
        for (int64_t j = 0; j < dv; ++j) d_o_dot_o += d_o[j] * out_[qs * dv + j];
        for (size_t k = 0; k < w.size(); ++k) {
          int64_t kt = w[k] % L;
          T p = std::exp(logits[k] - lse_[qs]);
          T d_o_dot_v = 0;
          for (int64_t j = 0; j < dv; ++j) {
            d_o_dot_v += d_o[j] * v_[kt * dv + j];
            d_v[kt * dv + j] += p * d_o[j];
          }
          T d_logit = p * (d_o_dot_v - d_o_dot_o + d_lse[qs]);
          for (int64_t j = 0; j < dk; ++j) {
            dq[qt * dk + j] += d_logit * keys_[kt * dk + j];
            d_keys[kt * dk + j] += d_logit * q_[qt * dk + j];
          }
        }
      }
    }
    // Keys are q / n with n = sqrt(|q|^2 + eps): dq += dk/n - q (q . dk) / n^3.
    for (int64_t t = 0; t < L; ++t) {
      T n = norms_[t], q_dot = 0;
      for (int64_t j = 0; j < dk; ++j) q_dot += q_[t * dk + j] * d_keys[t * dk + j];
      for (int64_t j = 0; j < dk; ++j) dq[t * dk + j] += d_keys[t * dk + j] / n - q_[t * dk + j] * q_dot / (n * n * n);
    }
    for (int64_t t = 0; t < L; ++t) {
      T* row = result + t * (dk + dv);
      for (int64_t j = 0; j < dk; ++j) row[j] = dq[t * dk + j];
      for (int64_t j = 0; j < dv; ++j) row[dk + j] = d_v[t * dv + j];
    }
  }

 private:
  int64_t chunks() const { return s_.rounds * s_.length / s_.chunk; }

  // Sort key (round's bucket, position) is unique, so any sort is deterministic.
  void sort_slots() {
    const int64_t L = s_.length, dk = s_.dk;
    order_.resize(s_.rounds * L);
    std::iota(order_.begin(), order_.end(), 0);
    auto key = [&](int64_t slot) {
      int64_t r = slot / L, t = slot % L;
      return (static_cast<int64_t>(buckets_[slot]) + r * s_.per_round) * L + t;
    };
    std::sort(order_.begin(), order_.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
    keys_.assign(L * dk, T(0));
    norms_.assign(L, T(0));
    for (int64_t t = 0; t < L; ++t) {
      T sum = 0;
      for (int64_t j = 0; j < dk; ++j) sum += q_[t * dk + j] * q_[t * dk + j];
      norms_[t] = std::sqrt(sum + T(kLshNormEpsilon));
      for (int64_t j = 0; j < dk; ++j) keys_[t * dk + j] = q_[t * dk + j] / norms_[t];
    }
  }

  // The window of chunk c: its own slots, then the previous chunk's (wrapping).
  std::vector<int64_t> window(int64_t c) const {
    int64_t n = chunks(), previous = (c + n - 1) % n;
    std::vector<int64_t> w;
    for (int64_t i = 0; i < s_.chunk; ++i) w.push_back(order_[c * s_.chunk + i]);
    for (int64_t i = 0; i < s_.chunk; ++i) w.push_back(order_[previous * s_.chunk + i]);
    return w;
  }

  // Masked logits of query slot `qs` against `window`.
  void logits_of(int64_t qs, const std::vector<int64_t>& window, std::vector<T>& logits) const {
    const int64_t L = s_.length, dk = s_.dk;
    int64_t qt = qs % L;
    logits.resize(window.size());
    for (size_t w = 0; w < window.size(); ++w) {
      int64_t kt = window[w] % L;
      T dot = 0;
      for (int64_t j = 0; j < dk; ++j) dot += q_[qt * dk + j] * keys_[kt * dk + j];
      if (s_.causal && kt > qt) dot -= T(kLshMaskedOut);
      if (kt == qt) dot -= T(kLshSelfMask);
      if (kt >= s_.valid) dot -= T(kLshMaskedOut);
      logits[w] = dot;
    }
  }

  // Weights of the rounds at position t: softmax over r of lse[r*L + t].
  std::vector<T> round_weights(int64_t t) const {
    std::vector<T> w(s_.rounds);
    T m = -std::numeric_limits<T>::infinity(), z = 0;
    for (int64_t r = 0; r < s_.rounds; ++r) m = std::max(m, lse_[r * s_.length + t]);
    for (int64_t r = 0; r < s_.rounds; ++r) z += w[r] = std::exp(lse_[r * s_.length + t] - m);
    for (T& x : w) x /= z;
    return w;
  }

  LshShape s_;
  const T *q_, *v_;
  const Bucket* buckets_;
  std::vector<int64_t> order_;  // sorted slot -> slot (r * L + position)
  std::vector<T> keys_;         // [L, dk]: q / sqrt(|q|^2 + eps)
  std::vector<T> norms_;        // [L]
  std::vector<T> out_;          // [R*L, dv] per-slot outputs (by slot, not sorted)
  std::vector<T> lse_;          // [R*L]
};

}  // namespace reforge::kernels
