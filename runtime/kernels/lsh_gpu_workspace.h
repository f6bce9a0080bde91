// Where the GPU's fused LSH-attention kernels (runtime/cuda_attention_source.h)
// keep a slice's values in its workspace: byte offsets, handed to the
// kernels as constants, and the bytes a slice needs. The CPU kernel
// streams chunk by chunk through one thread's scratch; the GPU's run a
// thread per position, each finding its slots through `where`, so they
// keep that inverse of the sort instead of one chunk's matrices.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "base/error.h"
#include "runtime/kernels/lsh_common.h"

namespace reforge::kernels {

struct LshGpuWorkspace {
  // [R*L] i32: the slots' positions in (round, bucket, position) order.
  int64_t sorted = 0;
  // [R*L] i32: slot (r, t)'s index in that order.
  int64_t where = 0;
  // [R*per_round + 1] i32 each: slots per global bucket, then where each
  // bucket starts; the next free place in each bucket while placing.
  int64_t counts = 0, cursor = 0;
  // [L] values: 1 / sqrt(|q|^2 + eps), the keys' normalisers.
  int64_t inverse_norm = 0;
  // The backward's: [R*L] each slot's round weight, row maximum and 1 /
  // its sum (in sorted order); [L] g . out.
  int64_t weight = 0, row_max = 0, inverse_sum = 0, g_dot = 0;
  int64_t bytes = 0;  // per slice, 64-byte aligned

  static LshGpuWorkspace of(const LshShape& s, int64_t value_bytes, bool backward) {
    const int64_t slots = s.rounds * s.length;
    if (slots > std::numeric_limits<int32_t>::max()) {
      throw Error("LSH attention on the GPU indexes slots in 32 bits: at most 2^31 - 1 rounds x positions, not " +
                  std::to_string(slots));
    }
    LshGpuWorkspace w;
    int64_t at = 0;
    auto take = [&at](int64_t bytes) {
      at = (at + 63) / 64 * 64;
      const int64_t offset = at;
      at += bytes;
      return offset;
    };
    const int64_t buckets = s.rounds * s.per_round + 1;
    w.sorted = take(4 * slots);
    w.where = take(4 * slots);
    w.counts = take(4 * buckets);
    w.cursor = take(4 * buckets);
    w.inverse_norm = take(value_bytes * s.length);
    if (backward) {
      w.weight = take(value_bytes * slots);
      w.row_max = take(value_bytes * slots);
      w.inverse_sum = take(value_bytes * slots);
      w.g_dot = take(value_bytes * s.length);
    }
    w.bytes = (at + 63) / 64 * 64;
    return w;
  }
};

}  // namespace reforge::kernels
