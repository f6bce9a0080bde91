// Choosing the next symbol from a model's logits: temperature (0 picks the
// most likely symbol), top-k (0: all symbols), top-p (the fewest most
// likely symbols whose probability reaches p; 1: all), and a uniform draw
// `u` in [0, 1) supplied by the caller, so sampling is reproducible from a
// seed.
#pragma once

#include <cstdint>
#include <span>

namespace reforge::runtime {

struct SamplingOptions {
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
};

int64_t sample_symbol(std::span<const double> logits, const SamplingOptions& options, double u);

}  // namespace reforge::runtime
