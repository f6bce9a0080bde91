// The fused LSH-attention kernel in float (the runtime's path: positions
// compared as floats, probabilities rebuilt from the kept logsumexps in the
// backward, row sums folded into the logsumexp cotangents) against the
// same kernel in double (the reference interpreter's path), on random
// slices: causal and bidirectional, padded, one to four rounds, chunks
// that are and are not multiples of the vector width.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "runtime/kernels/lsh_attention_kernel.h"

namespace reforge::kernels {
namespace {

struct Case {
  int64_t length, rounds, chunk, dk, dv, valid, per_round;
  bool causal;
};

template <typename T>
std::vector<T> run(const Case& k, const std::vector<double>& q, const std::vector<double>& v,
                   const std::vector<int64_t>& buckets, const std::vector<double>& g, bool backward) {
  LshShape s{.length = k.length,
             .rounds = k.rounds,
             .chunk = k.chunk,
             .dk = k.dk,
             .dv = k.dv,
             .valid = k.valid,
             .per_round = k.per_round,
             .causal = k.causal};
  std::vector<T> qt(q.begin(), q.end()), vt(v.begin(), v.end()), gt(g.begin(), g.end());
  std::vector<std::byte> memory(LshSlice<T, int64_t>::scratch_bytes(s, backward) + 64);
  Scratch scratch(memory.data());
  LshSlice<T, int64_t> slice(s, qt.data(), vt.data(), buckets.data(), scratch, backward);
  slice.forward();
  std::vector<T> out(k.length * (backward ? k.dk + k.dv : k.dv));
  if (backward) {
    slice.backward(gt.data(), out.data());
  } else {
    slice.combine(out.data());
  }
  return out;
}

class LshKernel : public ::testing::TestWithParam<Case> {};

TEST_P(LshKernel, FloatMatchesDouble) {
  const Case k = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(k.length * 31 + k.chunk));
  std::normal_distribution<double> normal;
  std::vector<double> q(k.length * k.dk), v(k.length * k.dv), g(k.length * k.dv);
  for (auto* x : {&q, &v, &g}) {
    for (double& e : *x) e = normal(rng);
  }
  std::vector<int64_t> buckets(k.rounds * k.length);
  for (int64_t& b : buckets) b = static_cast<int64_t>(rng() % static_cast<uint32_t>(k.per_round));
  for (bool backward : {false, true}) {
    std::vector<double> want = run<double>(k, q, v, buckets, g, backward);
    std::vector<float> got = run<float>(k, q, v, buckets, g, backward);
    double scale = 0;
    for (double x : want) scale = std::max(scale, std::fabs(x));
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 2e-5 * scale) << (backward ? "backward" : "forward") << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LshKernel,
                         ::testing::Values(Case{64, 4, 8, 16, 16, 64, 8, true}, Case{64, 2, 8, 16, 16, 64, 8, false},
                                           Case{48, 1, 12, 8, 5, 41, 4, true}, Case{96, 3, 16, 32, 24, 90, 6, true},
                                           Case{256, 4, 64, 64, 64, 256, 4, true}));

}  // namespace
}  // namespace reforge::kernels
