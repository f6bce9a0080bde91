#include "runtime/cpu_features.h"

#include <algorithm>
#include <utility>

namespace reforge::runtime {
namespace {

// __builtin_cpu_supports takes only string literals, hence one entry each.
#define REFORGE_FEATURE(name)                              \
  {                                                        \
    name, [] { return __builtin_cpu_supports(name) != 0; } \
  }

using Check = bool (*)();
const std::vector<std::pair<std::string_view, Check>>& feature_table() {
  static const std::vector<std::pair<std::string_view, Check>> table = {
      REFORGE_FEATURE("cmov"),         REFORGE_FEATURE("mmx"),
      REFORGE_FEATURE("popcnt"),       REFORGE_FEATURE("sse"),
      REFORGE_FEATURE("sse2"),         REFORGE_FEATURE("sse3"),
      REFORGE_FEATURE("ssse3"),        REFORGE_FEATURE("sse4.1"),
      REFORGE_FEATURE("sse4.2"),       REFORGE_FEATURE("sse4a"),
      REFORGE_FEATURE("avx"),          REFORGE_FEATURE("avx2"),
      REFORGE_FEATURE("fma"),          REFORGE_FEATURE("fma4"),
      REFORGE_FEATURE("xop"),          REFORGE_FEATURE("bmi"),
      REFORGE_FEATURE("bmi2"),         REFORGE_FEATURE("aes"),
      REFORGE_FEATURE("pclmul"),       REFORGE_FEATURE("gfni"),
      REFORGE_FEATURE("vpclmulqdq"),   REFORGE_FEATURE("avx512f"),
      REFORGE_FEATURE("avx512vl"),     REFORGE_FEATURE("avx512bw"),
      REFORGE_FEATURE("avx512dq"),     REFORGE_FEATURE("avx512cd"),
      REFORGE_FEATURE("avx512vbmi"),   REFORGE_FEATURE("avx512vbmi2"),
      REFORGE_FEATURE("avx512ifma"),   REFORGE_FEATURE("avx512vnni"),
      REFORGE_FEATURE("avx512bitalg"), REFORGE_FEATURE("avx512vpopcntdq"),
      REFORGE_FEATURE("avx512bf16"),   REFORGE_FEATURE("avx512vp2intersect"),
  };
  return table;
}

#undef REFORGE_FEATURE

}  // namespace

const std::vector<std::string_view>& checkable_cpu_features() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& [name, check] : feature_table()) out.push_back(name);
    return out;
  }();
  return names;
}

bool cpu_has_feature(std::string_view feature) {
  for (const auto& [name, check] : feature_table()) {
    if (name == feature) return check();
  }
  return false;
}

std::vector<std::string> missing_cpu_features(const std::vector<std::string>& required) {
  std::vector<std::string> missing;
  for (const std::string& f : required) {
    if (!cpu_has_feature(f)) missing.push_back(f);
  }
  return missing;
}

}  // namespace reforge::runtime
