// What the two fused LSH-attention kernels share: the slice's shape, the
// scratch allocator that also sizes the planned workspace, the exp of the
// logits, and the counting sort of (round, position) slots by bucket.
// The kernels: lsh_attention_reference.h (the interpreter's, in double,
// in the decomposed attention's order) and lsh_attention_kernel.h (the
// runtime's, streaming, in the graph's float type).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "base/error.h"

// The kernels' loops are compiled once per instruction set (AVX-512,
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

// A counting sort of the R * L slots (round r, position t) by (round,
// bucket, position) over the R * per_round global buckets: O(R·L),
// stable, so positions stay ascending within a bucket — the order of
// trax's unique sort key. sorted[i] = entry(r, t) of the i-th slot.
// `counts` holds R * per_round + 1 entries.
template <typename Bucket, typename Entry, typename Value>
void sort_by_bucket(const LshShape& s, const Bucket* buckets, std::span<int64_t> counts, std::span<Value> sorted,
                    const Entry& entry) {
  const int64_t L = s.length, global_buckets = s.rounds * s.per_round;
  std::fill(counts.begin(), counts.end(), int64_t{0});
  auto global_bucket = [&](int64_t r, int64_t t) {
    auto b = static_cast<int64_t>(buckets[r * L + t]);
    if (b < 0 || b >= s.per_round) {
      throw Error("LSH bucket " + std::to_string(b) + " out of range [0, " + std::to_string(s.per_round) + ")");
    }
    return b + r * s.per_round;
  };
  for (int64_t r = 0; r < s.rounds; ++r) {
    for (int64_t t = 0; t < L; ++t) ++counts[global_bucket(r, t) + 1];
  }
  for (int64_t b = 0; b < global_buckets; ++b) counts[b + 1] += counts[b];
  for (int64_t r = 0; r < s.rounds; ++r) {
    for (int64_t t = 0; t < L; ++t) sorted[counts[global_bucket(r, t)]++] = entry(r, t);
  }
}

// Slots (r * L + position) in that order.
template <typename Bucket>
void sort_slots_by_bucket(const LshShape& s, const Bucket* buckets, std::span<int64_t> counts,
                          std::span<int64_t> order) {
  sort_by_bucket(s, buckets, counts, order, [L = s.length](int64_t r, int64_t t) { return r * L + t; });
}

// The same order as positions alone (no slot is ever divided by L: the
// kernel divided twice per slot while gathering, on the path to every row
// load).
template <typename Bucket>
void sort_positions_by_bucket(const LshShape& s, const Bucket* buckets, std::span<int64_t> counts,
                              std::span<int32_t> sorted) {
  sort_by_bucket(s, buckets, counts, sorted, [](int64_t, int64_t t) { return static_cast<int32_t>(t); });
}

}  // namespace reforge::kernels
