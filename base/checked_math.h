// Integer arithmetic on sizes that came from outside (an artifact's
// constants, a file's header): a result that does not fit in 64 bits is
// reported as "none", never wrapped around into a small, plausible size.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace reforge {

inline std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// The product of sizes; none when one is negative or the product overflows.
inline std::optional<int64_t> checked_size(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors) {
    if (f < 0 || __builtin_mul_overflow(product, f, &product)) return std::nullopt;
  }
  return product;
}

}  // namespace reforge
