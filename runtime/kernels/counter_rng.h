// A counter-based random number generator: element i of stream s under key
// k is a pure function of (k, s, i). Recomputation (reversible backward,
// chunked execution, any evaluation order) therefore sees the same numbers,
// and no generator state has to be carried between steps.
#pragma once

#include <cmath>
#include <cstdint>

namespace reforge::kernels {

// SplitMix64's finaliser: a bijective mix with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t counter_bits(uint64_t key, uint64_t stream, uint64_t index) {
  return mix64(mix64(key ^ mix64(stream + 0x632be59bd9b4e019ULL)) + index);
}

// Uniform in [0, 1) with 53 random bits.
inline double counter_uniform(uint64_t key, uint64_t stream, uint64_t index) {
  return static_cast<double>(counter_bits(key, stream, index) >> 11) * 0x1.0p-53;
}

// Standard normal by Box-Muller over the element's two private draws.
inline double counter_normal(uint64_t key, uint64_t stream, uint64_t index) {
  double u1 = counter_uniform(key, stream, 2 * index);
  double u2 = counter_uniform(key, stream, 2 * index + 1);
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace reforge::kernels
