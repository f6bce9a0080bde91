// Choosing the next symbol: temperature, top-k and top-p, against what
// each promises on a small, known distribution.
#include "runtime/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace reforge::runtime {
namespace {

// The symbols drawn over a fine grid of uniform draws.
std::set<int64_t> drawn(const std::vector<double>& logits, const SamplingOptions& options) {
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(sample_symbol(logits, options, (i + 0.5) / 1000.0));
  return seen;
}

TEST(Sampling, TemperatureZeroAndTopOneTakeTheMostLikely) {
  std::vector<double> logits = {0.5, 2.0, 1.0, 2.0};  // a tie goes to the smaller symbol
  EXPECT_EQ(drawn(logits, {.temperature = 0.0}), (std::set<int64_t>{1}));
  EXPECT_EQ(drawn(logits, {.temperature = 1.0, .top_k = 1}), (std::set<int64_t>{1}));
}

TEST(Sampling, TopKKeepsTheKMostLikely) {
  std::vector<double> logits = {0.0, 3.0, 1.0, 2.0};
  EXPECT_EQ(drawn(logits, {.temperature = 1.0}), (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(drawn(logits, {.temperature = 1.0, .top_k = 2}), (std::set<int64_t>{1, 3}));
}

TEST(Sampling, TopPKeepsTheFewestWhoseMassReachesP) {
  // Probabilities 0.7, 0.2, 0.1 (logits are their logs).
  std::vector<double> logits = {std::log(0.2), std::log(0.7), std::log(0.1)};
  EXPECT_EQ(drawn(logits, {.temperature = 1.0, .top_p = 0.5}), (std::set<int64_t>{1}));
  EXPECT_EQ(drawn(logits, {.temperature = 1.0, .top_p = 0.85}), (std::set<int64_t>{0, 1}));
  EXPECT_EQ(drawn(logits, {.temperature = 1.0, .top_p = 1.0}), (std::set<int64_t>{0, 1, 2}));
  // Within the nucleus the draws keep their relative weights: 0.7 : 0.2.
  int ones = 0;
  for (int i = 0; i < 900; ++i)
    ones += sample_symbol(logits, {.temperature = 1.0, .top_p = 0.85}, (i + 0.5) / 900) == 1;
  EXPECT_EQ(ones, 700);
}

}  // namespace
}  // namespace reforge::runtime
