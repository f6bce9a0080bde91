// An independent, loop-by-loop implementation of shared-QK LSH attention
// for one layer, written from DESIGN.md §3 without any of the model's code.
// Tests hold the DSL model against it.
#pragma once

#include <cstdint>
#include <vector>

namespace reforge::testing {

struct LshReferenceConfig {
  int64_t batch, length, padded_length, d_model, heads, d_head, rounds, chunk;
  std::vector<int64_t> bucket_factors;
  bool causal;
};

// x [B, L, d]; w_q, w_v [d, H*dh]; w_o [H*dh, d]; rotations [H, dh, R*cols]
// with cols = sum(f/2). Returns [B, L, d].
std::vector<double> lsh_attention_reference(const LshReferenceConfig& c, const std::vector<double>& x,
                                            const std::vector<double>& w_q, const std::vector<double>& w_v,
                                            const std::vector<double>& w_o, const std::vector<double>& rotations);

}  // namespace reforge::testing
