// FNV-1a, 64 bits: the one hash Reforge writes into files (artifact and
// checkpoint checksums) and derives random streams from (a value's name).
// Stable across platforms and runs; any single changed byte changes it.
#pragma once

#include <cstdint>
#include <string_view>

namespace reforge {

inline constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ULL;

// Continues hash `h` over `bytes` (start from kFnv1aOffset).
inline uint64_t fnv1a(std::string_view bytes, uint64_t h = kFnv1aOffset) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace reforge
