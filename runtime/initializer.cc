#include "runtime/initializer.h"

#include <cmath>

#include "base/fnv1a.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge::runtime {

namespace {
constexpr std::pair<InitKind, std::string_view> kNames[] = {{InitKind::normal, "normal"},
                                                            {InitKind::uniform, "uniform"},
                                                            {InitKind::zeros, "zeros"},
                                                            {InitKind::ones, "ones"},
                                                            {InitKind::constant, "constant"}};
}  // namespace

std::optional<InitKind> parse_init_kind(std::string_view name) {
  for (const auto& [kind, text] : kNames) {
    if (text == name) return kind;
  }
  return std::nullopt;
}

std::string_view init_kind_name(InitKind kind) {
  for (const auto& [k, text] : kNames) {
    if (k == kind) return text;
  }
  return "?";
}

uint64_t stable_name_hash(std::string_view name) { return fnv1a(name); }

double initial_element(InitKind kind, double scale, uint64_t seed, uint64_t stream, int64_t i) {
  switch (kind) {
    case InitKind::normal:
      return scale * kernels::counter_normal(seed, stream, i);
    case InitKind::uniform:
      return scale * (2.0 * kernels::counter_uniform(seed, stream, i) - 1.0);
    case InitKind::zeros:
      return 0.0;
    case InitKind::ones:
      return 1.0;
    case InitKind::constant:
      return scale;
  }
  return 0.0;
}

void fill_initial(InitKind kind, double scale, uint64_t seed, std::string_view name, const TensorType& type,
                  std::byte* out) {
  uint64_t stream = stable_name_hash(name);
  int64_t n = type.elements();
  with_element_type(type.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* values = reinterpret_cast<T*>(out);
    for (int64_t i = 0; i < n; ++i) {
      double v = initial_element(kind, scale, seed, stream, i);
      if constexpr (std::is_same_v<T, uint8_t>) {
        values[i] = v != 0.0;
      } else if constexpr (std::is_integral_v<T>) {
        values[i] = static_cast<T>(std::trunc(v));
      } else {
        values[i] = static_cast<T>(v);
      }
    }
  });
}

}  // namespace reforge::runtime
