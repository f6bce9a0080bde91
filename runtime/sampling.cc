#include "runtime/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace reforge::runtime {

int64_t sample_symbol(std::span<const double> logits, const SamplingOptions& options, double u) {
  const int64_t n = static_cast<int64_t>(logits.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Most likely first; ties to the smaller symbol, so the order is total.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  if (options.temperature <= 0 || n == 1) return order[0];
  int64_t k = options.top_k > 0 ? std::min(options.top_k, n) : n;
  std::vector<double> weights(k);
  for (int64_t i = 0; i < k; ++i) weights[i] = std::exp((logits[order[i]] - logits[order[0]]) / options.temperature);
  double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  if (options.top_p < 1.0) {
    // The nucleus: the most likely symbols until their mass reaches top_p.
    double mass = 0.0;
    int64_t kept = 0;
    while (kept < k && mass < options.top_p * total) mass += weights[kept++];
    k = std::max<int64_t>(kept, 1);
    total = std::accumulate(weights.begin(), weights.begin() + k, 0.0);
  }
  double target = u * total;
  for (int64_t i = 0; i < k; ++i) {
    if (target < weights[i]) return order[i];
    target -= weights[i];
  }
  return order[k - 1];
}

}  // namespace reforge::runtime
