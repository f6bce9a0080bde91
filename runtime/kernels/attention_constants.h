// The numbers every attention implementation shares — the DSL
// decomposition (models/attention.cc) and the fused kernels
// (lsh_attention_kernel.h) — defined once.
#pragma once

#include <cstdint>

namespace reforge::kernels {

// Masks subtracted from the logits (DESIGN.md §3): causal and padding keys
// are pushed far away, the query's own position only a little, so a query
// with no other key still attends to itself.
constexpr double kAttentionMaskedOut = 1e9;
constexpr double kAttentionSelfMask = 1e5;

// Shared-QK keys are k = q / sqrt(|q|^2 + d_head * 1e-6): trax normalises
// by sqrt(mean(q^2) + 1e-6) and then divides by sqrt(d_head), which is the
// same thing.
constexpr double kKeyNormEpsilonPerDimension = 1e-6;
inline double key_norm_epsilon(int64_t d_head) { return static_cast<double>(d_head) * kKeyNormEpsilonPerDimension; }

}  // namespace reforge::kernels
