// Initial values of parameters and optimizer state: one definition for the
// interpreter (the oracle), the compiled trainers and the artifact runtime.
// Element i of a value is a pure function of the seed, the value's name
// and i, so every backend starts from the same numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/types.h"

namespace reforge::runtime {

enum class InitKind { normal, uniform, zeros, ones, constant };

// A parameter or optimizer state and how it starts.
struct PersistentInit {
  std::string name;
  TensorType type;
  bool parameter = true;  // false: optimizer state
  InitKind init = InitKind::zeros;
  double scale = 0.0;
};

std::optional<InitKind> parse_init_kind(std::string_view name);
std::string_view init_kind_name(InitKind kind);

// FNV-1a of the name: the value's random stream, the same on every platform.
uint64_t stable_name_hash(std::string_view name);

// Element i before rounding to the value's type: normal and uniform draws
// (in [-1, 1)) are multiplied by `scale`; constant is `scale` itself.
double initial_element(InitKind kind, double scale, uint64_t seed, uint64_t stream, int64_t i);

// Writes every element of a `type` value, rounded to its dtype, at `out`.
void fill_initial(InitKind kind, double scale, uint64_t seed, std::string_view name, const TensorType& type,
                  std::byte* out);

}  // namespace reforge::runtime
