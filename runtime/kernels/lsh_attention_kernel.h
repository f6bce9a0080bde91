// The runtime's fused LSH-attention kernel for one (example, head) slice,
// in the graph's float type (float or double). It computes what
// lsh_attention_reference.h computes, held against it on random slices
// (tests/runtime/lsh_kernel_test.cc), but streams: besides one chunk's
// matrices its scratch is a few numbers per slot and position, O(R·L)
// words, where keeping every slot's output and its cotangent took
// 2·R·L·dv (786 MiB for P1's four heads at 64K tokens).
//
// Forward: sort the R*L (round, position) slots by (bucket, position);
// attend chunk by chunk to the own and the previous chunk (wrapping), the
// C x 2C logits one GEMM; fold each slot's output into its position's
// result at once, as a running softmax over the rounds of their
// logsumexps (the combination flash attention uses across key blocks).
// Backward: takes P again chunk by chunk, with dO and the logsumexp
// cotangent of each slot made from the round weight (from the kept
// logsumexps) and g on the fly. It runs the forward first, for those
// logsumexps and the result, or — given the forward's result rows with
// each slot's logsumexp after them (read_forward_result) — neither.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "base/error.h"
#include "runtime/gemm.h"
#include "runtime/kernels/attention_constants.h"
#include "runtime/kernels/lsh_common.h"

namespace reforge::kernels {

template <typename T, typename Bucket>
class LshSlice {
 public:
  // Its chunk products run on the program's generated GEMM micro-kernel
  // (float only; without one, on the runtime's copy: the same bits).
  void use_micro_kernel(runtime::GemmMicroKernel generated) { multiply_.generated = generated; }

  // forward() also writes each slot's logsumexp: position t's row becomes
  // [result | lse of round 0 .. R-1], dv + R columns.
  void write_logsumexps() { write_logsumexps_ = true; }

  // forward_backward() takes the forward from here (rows of dv + R, what
  // forward() wrote after write_logsumexps() for these operands) instead
  // of computing it: the result, and each slot's logsumexp, from which it
  // combines the rounds again in the forward's order. Every number it uses
  // has the bits the forward gives it.
  void read_forward_result(const T* result_and_logsumexps) { given_result_ = result_and_logsumexps; }

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
    if (L > std::numeric_limits<int32_t>::max()) {
      throw Error("LSH attention keeps positions in 32 bits: at most 2^31 - 1, not " + std::to_string(L));
    }
    sorted_ = scratch.take<int32_t>(R * L);
    counts_ = scratch.take<int64_t>(R * s_.per_round + 1);
    inverse_norm_ = scratch.take<T>(L);
    lse_ = scratch.take<T>(R * L);
    best_lse_ = scratch.take<T>(L);
    inverse_total_ = scratch.take<T>(L);
    chunk_ = Chunk(scratch, C, dk, dv);
    if (!backward) return;
    g_dot_ = scratch.take<T>(L);
    d_lse_ = scratch.take<T>(C);
    d_o_ = scratch.take<T>(C * dv);
    d_s_ = scratch.take<T>(C * 2 * C);
    d_q_ = scratch.take<T>(C * dk);
    d_k_ = scratch.take<T>(2 * C * dk);
    d_vw_ = scratch.take<T>(2 * C * dv);
  }

  // The attention with its rounds combined: position t's dv values in row
  // t of result, dense ([L, dv]), and after write_logsumexps() each
  // round's logsumexp after them ([L, dv + R]).
  void forward(T* result) { forward_rows(result, s_.dv + (write_logsumexps_ ? s_.rounds : 0), write_logsumexps_); }

  // Forward and backward for the combined result's cotangent g [L, dv]:
  // writes position t's [dq | dv] at result + t * row, and with
  // `with_output` also the forward's result after them ([dq | dv | out]);
  // row = dk + dv (or dk + 2 dv) when dense. Without it the forward's
  // result is kept in the dv columns until g . out is taken.
  void forward_backward(const T* g, T* result, int64_t row, bool with_output) {
    // Checked outside the hot clones: a throw from inside one terminated.
    if (with_output && given_result_ != nullptr) {
      throw Error("LSH attention gradient: it writes the result or reads it, not both");
    }
    backward(g, result, row, with_output);
  }
  void forward_backward(const T* g, T* result) { forward_backward(g, result, s_.dk + s_.dv, false); }

 private:
  // forward() into rows of `row` columns: position t's dv values at
  // result + t * row, and with `logsumexps` each round's logsumexp after
  // them. Keeps each slot's logsumexp and each position's round
  // normaliser for the backward.
  REFORGE_LSH_HOT void forward_rows(T* result, int64_t row, bool logsumexps) {
    sort_slots();
    const int64_t L = s_.length, C = s_.chunk, dv = s_.dv;
    // The running combination: best_lse_ is the largest logsumexp of a
    // position seen so far, inverse_total_ (until the end: the total) the
    // sum of exp(lse - best) over its slots so far, and the result row the
    // sum of exp(lse - best) * output.
    start_rounds();
    for (int64_t t = 0; t < L; ++t) std::fill(result + t * row, result + t * row + dv, T(0));
    Chunk& ch = chunk_;
    for (int64_t c = 0; c < chunks(); ++c) {
      gather_chunk(c, ch);
      attend(ch, {c + 1, result, row, dv, nullptr});
      for (int64_t i = 0; i < C; ++i) {
        const int64_t t = ch.query_position[i];
        const RoundWeight round = add_round(t, lse_[c * C + i] = ch.lse[i]);
        T* __restrict to = result + t * row;
        // The slots are sorted by round first: round r's are [r L, (r + 1) L).
        if (logsumexps) to[dv + (c * C + i) / L] = ch.lse[i];
        if (round.rescale != T(1)) {  // a new maximum (at most R times a position)
          for (int64_t j = 0; j < dv; ++j) to[j] *= round.rescale;
        }
        const T scale = round.weight * ch.inverse_sum[i];  // attend() left the row unnormalised
        const T* __restrict from = ch.out.data() + i * dv;
        for (int64_t j = 0; j < dv; ++j) to[j] += scale * from[j];
      }
    }
    finish_rounds();
    for (int64_t t = 0; t < L; ++t) {
      T* __restrict to = result + t * row;
      for (int64_t j = 0; j < dv; ++j) to[j] *= inverse_total_[t];
    }
  }

  REFORGE_LSH_HOT void backward(const T* g, T* result, int64_t row, bool with_output) {
    const int64_t L = s_.length, dk = s_.dk, dv = s_.dv;
    const T* out = given_result_;
    int64_t out_row = dv + s_.rounds;
    if (out == nullptr) {
      T* written = result + dk + (with_output ? dv : 0);
      forward_rows(written, row, false);
      out = written;
      out_row = row;
    } else {
      read_logsumexps(out, out_row);
    }
    // Through the round combination: with O = sum_r w_r O_r and
    // w = softmax(lse), dO_r = w_r g and dlse_r = w_r (g.O_r - g.O). The
    // attention backward below needs dlse - rowsum(dO_r o O_r), in which
    // the g.O_r terms cancel: -w_r g.O, from g.O per position alone.
    for (int64_t t = 0; t < L; ++t) {
      g_dot_[t] = dot(g + t * dv, out + t * out_row, dv);
      std::fill(result + t * row, result + t * row + dk + dv, T(0));
    }
    // Through each chunk's attention, recomputing its probabilities:
    //   dP = dO V^T, dS = P o (dP - rowsum(dO o O) + dlse),
    //   dQ = dS K, dK = dS^T Q, dV = P^T dO.
    const int64_t C = s_.chunk, W = 2 * C;
    Chunk& ch = chunk_;
    std::span<T> d_o = d_o_, d_s = d_s_, d_q = d_q_, d_k = d_k_, d_vw = d_vw_, d_lse = d_lse_;
    for (int64_t c = 0; c < chunks(); ++c) {
      gather_chunk(c, ch);
      softmax_logits(ch, {c + 1, result, row, dk + dv, g});
      // ch.p holds exp(S - max), P times its row's sum. That sum's inverse
      // scales row i of dO and dlse instead of P: dP = dO V^T and dS come
      // out scaled by it, and dS, P^T dO are then exactly what P gives.
      for (int64_t i = 0; i < C; ++i) {
        const int64_t t = ch.query_position[i];
        const T weight = logit_exp(lse_[c * C + i] - best_lse_[t]) * inverse_total_[t];
        const T scale = weight * ch.inverse_sum[i];
        d_lse[i] = -scale * g_dot_[t];
        const T* __restrict from = g + t * dv;
        T* __restrict to = d_o.data() + i * dv;
        for (int64_t j = 0; j < dv; ++j) to[j] = scale * from[j];
      }
      multiply_(d_o.data(), ch.v.data(), d_s.data(), C, W, dv, {dv, 1, 1, dv, W});  // dP = dO V^T
      for (int64_t i = 0; i < C; ++i) {
        const T shift = d_lse[i];
        const T* __restrict p = ch.p.data() + i * W;
        T* __restrict ds = d_s.data() + i * W;
        for (int64_t w = 0; w < W; ++w) ds[w] = p[w] * (ds[w] + shift);
      }
      multiply_(d_s.data(), ch.k.data(), d_q.data(), C, dk, W, {W, 1, dk, 1, dk});   // dS K
      multiply_(d_s.data(), ch.q.data(), d_k.data(), W, dk, C, {1, W, dk, 1, dk});   // dS^T Q
      multiply_(ch.p.data(), d_o.data(), d_vw.data(), W, dv, C, {1, W, dv, 1, dv});  // P^T dO
      scatter_gradients(ch, result, row);
    }
  }

  int64_t chunks() const { return s_.rounds * s_.length / s_.chunk; }

  // What forward() keeps for the backward, from the rows it wrote with
  // their logsumexps: each slot's, and each position's round normaliser,
  // the rounds taken in the forward's order (so with its bits).
  void read_logsumexps(const T* rows, int64_t row) {
    sort_slots();
    start_rounds();
    const int64_t L = s_.length, dv = s_.dv;
    for (int64_t slot = 0; slot < s_.rounds * L; ++slot) {
      const int64_t t = sorted_[slot];
      add_round(t, lse_[slot] = rows[t * row + dv + slot / L]);
    }
    finish_rounds();
  }

  // The combination of a position's rounds, as a running softmax over
  // their logsumexps: best_lse_ is the largest seen so far, and
  // inverse_total_ (until finish_rounds(): the total) the sum of
  // exp(lse - best) over the slots so far. add_round() takes one more
  // slot: what was summed for t so far must be scaled by `rescale` (1 when
  // the maximum stays), and the slot weighs `weight`.
  struct RoundWeight {
    T rescale, weight;
  };
  void start_rounds() {
    std::fill(best_lse_.begin(), best_lse_.end(), -std::numeric_limits<T>::infinity());
    std::fill(inverse_total_.begin(), inverse_total_.end(), T(0));
  }
  RoundWeight add_round(int64_t t, T lse) {
    T rescale = T(1);
    if (lse > best_lse_[t]) {
      rescale = logit_exp(best_lse_[t] - lse);
      inverse_total_[t] *= rescale;
      best_lse_[t] = lse;
    }
    const T weight = logit_exp(lse - best_lse_[t]);
    inverse_total_[t] += weight;
    return {rescale, weight};
  }
  void finish_rounds() {
    for (T& total : inverse_total_) total = T(1) / total;
  }

  // The slots in bucket order, and 1 / |key| for the keys q / sqrt(|q|^2 + eps).
  REFORGE_LSH_HOT void sort_slots() {
    const int64_t L = s_.length, dk = s_.dk;
    sort_positions_by_bucket(s_, buckets_, counts_, sorted_);
    for (int64_t t = 0; t < L; ++t) {
      inverse_norm_[t] = T(1) / std::sqrt(dot(q_ + t * dk, q_ + t * dk, dk) + T(key_norm_epsilon(dk)));
    }
  }

  // One chunk's queries and its window (its own slots and the previous
  // chunk's, wrapping, in the halves gather_chunk() says), gathered into
  // contiguous matrices; keys normalised as they are gathered.
  struct Chunk {
    std::span<int64_t> query_position, key_position;  // [C], [2C]
    std::span<T> key_at;                              // [2C]: key_position as T
    std::span<T> q, k, v;                             // [C,dk], [2C,dk], [2C,dv]
    std::span<T> p, lse, out;                         // [C,2C] probabilities, [C], [C,dv]
    std::span<T> inverse_sum;                         // [C]: forward, 1 / each row's sum
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

  // The next chunk's rows, asked for early. Its slots' q, v and result rows
  // (and g's in the backward) lie at random positions of [L, d] arrays
  // that outgrow the caches (16 MiB each a head at 64K tokens), and
  // fetched on demand they stalled the gathers and the result updates.
  // The requests go out one slot at a time inside a loop over the current
  // chunk's rows, so they overlap its arithmetic; all at once at the
  // start of a chunk, they queued behind each other and gained nothing.
  // kernel_bench, forward of one slice: 94 -> 72 ms at 64K, 19 -> 17 ms
  // at 16K.
  struct Lookahead {
    int64_t chunk;
    const T* result;
    int64_t row, width;  // the result values the chunk touches per position
    const T* g;          // the backward's cotangent, or null
  };
  void prefetch_slot(const Lookahead& next, int64_t i) const {
    if (next.chunk >= chunks()) return;
    const int64_t t = sorted_[next.chunk * s_.chunk + i], dk = s_.dk, dv = s_.dv;
    constexpr int64_t line = 64 / sizeof(T);
    for (int64_t j = 0; j < dk; j += line) prefetch(q_ + t * dk + j);
    for (int64_t j = 0; j < dv; j += line) prefetch(v_ + t * dv + j);
    for (int64_t j = 0; j < next.width; j += line) prefetch(next.result + t * next.row + j);
    if (next.g != nullptr) {
      for (int64_t j = 0; j < dv; j += line) prefetch(next.g + t * dv + j);
    }
  }
  // Into L2. Inline assembly on x86-64: GCC dropped __builtin_prefetch
  // from these target_clones functions (no prefetch in the binary).
  static void prefetch(const T* address) {
#if defined(__x86_64__)
    asm volatile("prefetcht1 %0" : : "m"(*reinterpret_cast<const char*>(address)));
#else
    __builtin_prefetch(address, 0, 2);
#endif
  }

  // Chunks are gathered in order, and chunk c's previous chunk is c - 1,
  // whose rows the window already holds: the window is a ring of two
  // halves, chunk c's own keys in half c % 2 and its previous chunk's in
  // the other, left there from chunk c - 1. Only chunk 0 gathers its
  // previous chunk (the last, wrapping). Which half comes first changes
  // only the order of the window's columns, the same for the forward and
  // the backward pass; every product and softmax reads key_position and
  // key_at for them.
  REFORGE_LSH_HOT void gather_chunk(int64_t c, Chunk& ch) const {
    const int64_t C = s_.chunk, dk = s_.dk, dv = s_.dv;  // the window holds 2C keys
    const int64_t own = (c % 2) * C, other = C - own;
    auto gather_key = [&](int64_t w, int64_t t) {
      ch.key_position[w] = t;
      ch.key_at[w] = static_cast<T>(t);
      const T inverse = inverse_norm_[t];
      const T* __restrict from = q_ + t * dk;
      T* __restrict to = ch.k.data() + w * dk;
      for (int64_t j = 0; j < dk; ++j) to[j] = from[j] * inverse;
      copy_row(v_ + t * dv, ch.v.data() + w * dv, dv);
    };
    for (int64_t i = 0; i < C; ++i) {
      const int64_t t = sorted_[c * C + i];
      ch.query_position[i] = t;
      copy_row(q_ + t * dk, ch.q.data() + i * dk, dk);
      gather_key(own + i, t);
    }
    if (c == 0) {
      const int64_t previous = chunks() - 1;
      for (int64_t i = 0; i < C; ++i) gather_key(other + i, sorted_[previous * C + i]);
    }
  }

  // Masked logits S = Q K^T, each row's logsumexp, and P = exp(S - max)
  // left unnormalised (1 / its sum in inverse_sum): the forward scales the
  // C x dv output instead of the C x 2C probabilities, the backward dO's
  // rows. The backward takes its probabilities here again, not as
  // exp(S - lse) from the kept logsumexp: the same products and the same
  // code give the same bits, while when a query sees only keys masked by
  // the same amount (its own position, -1e5, at position 0 of a causal
  // sequence) lse lies near -1e5, where a float keeps 3 fractional bits,
  // and those probabilities came out 0.4% off.
  REFORGE_LSH_HOT void softmax_logits(Chunk& ch, const Lookahead& next) const {
    const int64_t C = s_.chunk, W = 2 * C;
    multiply_(ch.q.data(), ch.k.data(), ch.p.data(), C, W, s_.dk, {s_.dk, 1, 1, s_.dk, W});  // Q K^T
    for (int64_t i = 0; i < C; ++i) {
      prefetch_slot(next, i);
      ch.lse[i] = softmax_row_lanes(ch.p.data() + i * W, ch.key_at.data(), W, static_cast<T>(ch.query_position[i]),
                                    ch.inverse_sum[i]);
    }
  }

  // The chunk's softmax and its unnormalised output out = P V.
  REFORGE_LSH_HOT void attend(Chunk& ch, const Lookahead& next) const {
    const int64_t C = s_.chunk, W = 2 * C;
    softmax_logits(ch, next);
    multiply_(ch.p.data(), ch.v.data(), ch.out.data(), C, s_.dv, W, {W, 1, s_.dv, 1, s_.dv});
  }

  // One row's masked softmax, left unnormalised: the row becomes
  // exp(l - m), inverse_sum gets 1 / sum. A maximum or a sum carried in
  // one variable is a serial chain the compiler cannot vectorise without
  // reassociating; sixteen independent lanes can be. Positions are
  // compared as T (key_at; exact below 2^24 in float, which the
  // constructor checks). Returns the row's logsumexp.
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
    T m = fold_lanes(lane_max, [](T a, T b) { return std::max(a, b); });
    for (int64_t w = whole; w < W; ++w) m = std::max(m, mask(w));
    T lane_sum[kLanes] = {};
    for (int64_t w0 = 0; w0 < whole; w0 += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) lane_sum[j] += logits[w0 + j] = logit_exp(logits[w0 + j] - m);
    }
    T sum = fold_lanes(lane_sum, [](T a, T b) { return a + b; });
    for (int64_t w = whole; w < W; ++w) sum += logits[w] = logit_exp(logits[w] - m);
    inverse_sum = T(1) / sum;
    return m + std::log(sum);
  }

  // Adds one chunk's dQ, dK and dV into the result rows: dq and dv in
  // place; a key's cotangent through k = q / n (n = sqrt(|q|^2 + eps)) as
  // dq += (dk - k (k . dk)) / n, contribution by contribution (the map is
  // linear, so no [L, dk] array of key cotangents is kept).
  REFORGE_LSH_HOT void scatter_gradients(const Chunk& ch, T* result, int64_t row) {
    const int64_t C = s_.chunk, W = 2 * C, dk = s_.dk, dv = s_.dv;
    for (int64_t i = 0; i < C; ++i) {
      T* __restrict to = result + ch.query_position[i] * row;
      const T* __restrict from = d_q_.data() + i * dk;
      for (int64_t j = 0; j < dk; ++j) to[j] += from[j];
    }
    for (int64_t w = 0; w < W; ++w) {
      const int64_t t = ch.key_position[w];
      T* __restrict to = result + t * row;
      const T* __restrict key = ch.k.data() + w * dk;
      const T* __restrict d_key = d_k_.data() + w * dk;
      const T along = dot(key, d_key, dk), inverse = inverse_norm_[t];
      for (int64_t j = 0; j < dk; ++j) to[j] += (d_key[j] - key[j] * along) * inverse;
      const T* __restrict d_value = d_vw_.data() + w * dv;
      for (int64_t j = 0; j < dv; ++j) to[dk + j] += d_value[j];
    }
  }

  // sum_j a[j] b[j] over sixteen lanes (a chain through one variable
  // would not vectorise).
  static T dot(const T* __restrict a, const T* __restrict b, int64_t n) {
    T lanes[kLanes] = {};
    const int64_t whole = n / kLanes * kLanes;
    for (int64_t j0 = 0; j0 < whole; j0 += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) lanes[j] += a[j0 + j] * b[j0 + j];
    }
    T sum = fold_lanes(lanes, [](T x, T y) { return x + y; });
    for (int64_t j = whole; j < n; ++j) sum += a[j] * b[j];
    return sum;
  }

  // The lanes combined pairwise, halving the width each time: four vector
  // operations where a sweep through the lanes was a chain of sixteen
  // scalar ones, as long as the rest of a 128-wide softmax row.
  template <typename Combine>
  static T fold_lanes(T* lanes, const Combine& combine) {
    for (int64_t width = kLanes / 2; width > 0; width /= 2) {
      for (int64_t j = 0; j < width; ++j) lanes[j] = combine(lanes[j], lanes[j + width]);
    }
    return lanes[0];
  }

  LshShape s_;
  runtime::ChunkGemm multiply_;  // the chunk products
  const T *q_, *v_;
  const Bucket* buckets_;
  std::span<int32_t> sorted_;   // the slots' positions in (round, bucket, position) order
  std::span<int64_t> counts_;   // counting sort: slots per global bucket, then offsets
  std::span<T> inverse_norm_;   // [L]: 1 / sqrt(|q|^2 + eps)
  std::span<T> lse_;            // [R*L]: each slot's logsumexp, in sorted order
  std::span<T> best_lse_;       // [L]: the largest over a position's rounds
  std::span<T> inverse_total_;  // [L]: 1 / sum over rounds of exp(lse - best)
  Chunk chunk_;                 // the chunk being attended
  const T* given_result_ = nullptr;  // read_forward_result()
  bool write_logsumexps_ = false;    // write_logsumexps()
  // Backward only: g . out per position, and one chunk's cotangents.
  std::span<T> g_dot_, d_lse_, d_o_, d_s_, d_q_, d_k_, d_vw_;
};

}  // namespace reforge::kernels
