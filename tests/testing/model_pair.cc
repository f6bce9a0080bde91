#include "tests/testing/model_pair.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "base/error.h"

namespace reforge::testing {

void feed_synthetic(runtime::Entry& entry, int64_t step, int64_t vocab) {
  for (const runtime::Slot& s : entry.inputs()) {
    const int64_t n = s.type.elements();
    std::vector<std::byte> bytes(s.type.bytes());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t value = (i * 7919 + step * 104729 + 17) % vocab;
      switch (s.type.dtype) {
        case DType::i64:
          std::memcpy(bytes.data() + 8 * i, &value, 8);
          break;
        case DType::i32: {
          const auto v = static_cast<int32_t>(value);
          std::memcpy(bytes.data() + 4 * i, &v, 4);
          break;
        }
        case DType::f32: {
          const float one = 1;
          std::memcpy(bytes.data() + 4 * i, &one, 4);
          break;
        }
        case DType::f64: {
          const double one = 1;
          std::memcpy(bytes.data() + 8 * i, &one, 8);
          break;
        }
        default:
          throw Error("feed_synthetic: input '" + s.name + "' has an element type it does not fill");
      }
    }
    entry.set_input(s.name, bytes.data(), bytes.size());
  }
}

PairDifference train_side_by_side(runtime::Model& got, runtime::Model& want, int steps, int64_t vocab, uint64_t seed) {
  PairDifference d;
  got.initialise(seed);
  want.initialise(seed);
  for (int step = 0; step < steps; ++step) {
    for (runtime::Model* m : {&got, &want}) {
      feed_synthetic(m->train_step(), step, vocab);
      m->step();
    }
    const float a = got.train_step().output_as<float>("loss")[0], b = want.train_step().output_as<float>("loss")[0];
    d.loss = std::max(d.loss, static_cast<double>(std::fabs(a - b) / std::fabs(b)));
  }
  for (const runtime::PersistentInit& p : want.persistent()) {
    if (p.type.dtype != DType::f32) throw Error("train_side_by_side compares f32 parameters; '" + p.name + "' is not");
    const std::span<const std::byte> a = std::as_const(got).persistent_data(p.name);
    const std::span<const std::byte> b = std::as_const(want).persistent_data(p.name);
    const auto* x = reinterpret_cast<const float*>(a.data());
    const auto* y = reinterpret_cast<const float*>(b.data());
    for (size_t i = 0; i < b.size() / sizeof(float); ++i) {
      d.persistent = std::max(d.persistent, static_cast<double>(std::fabs(x[i] - y[i]) / (1 + std::fabs(y[i]))));
    }
  }
  return d;
}

}  // namespace reforge::testing
