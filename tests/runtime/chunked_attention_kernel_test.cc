// The fused chunked-attention kernel in float (the runtime's) against the
// same kernel in double (which tests/passes/chunked_attention_fusion_test
// holds against the decomposed attention), on random slices: local and
// full, causal and bidirectional, padded, shared-QK, lengths that are and
// are not multiples of its query and key tiles, and a single look-back
// chunk (its window is itself twice: position 0 sees only its own key,
// masked, twice).
#include "runtime/kernels/chunked_attention_kernel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <random>
#include <vector>

namespace reforge::kernels {
namespace {

struct Case {
  int64_t length, chunk, dk, dv, valid;
  bool look_back, causal, mask_self;
};

void PrintTo(const Case& k, std::ostream* os) {
  *os << "L=" << k.length << " C=" << k.chunk << " dk=" << k.dk << " dv=" << k.dv << " valid=" << k.valid
      << (k.look_back ? " local" : " full") << (k.causal ? " causal" : "") << (k.mask_self ? " shared-QK" : "");
}

template <typename T>
std::vector<double> run(const Case& k, const std::vector<double>& q, const std::vector<double>& key,
                        const std::vector<double>& v, const std::vector<double>& g, bool backward) {
  ChunkedAttentionShape s{.length = k.length,
                          .chunk = k.chunk,
                          .dk = k.dk,
                          .dv = k.dv,
                          .valid = k.valid,
                          .look_back = k.look_back,
                          .causal = k.causal,
                          .mask_self = k.mask_self};
  std::vector<T> qt(q.begin(), q.end()), kt(key.begin(), key.end()), vt(v.begin(), v.end()), gt(g.begin(), g.end());
  std::vector<std::byte> memory(ChunkedAttentionSlice<T>::scratch_bytes(s, backward) + 64);
  Scratch scratch(memory.data());
  ChunkedAttentionSlice<T> slice(s, qt.data(), kt.data(), vt.data(), scratch, backward);
  std::vector<T> out(k.length * (backward ? 2 * k.dk + k.dv : k.dv));
  if (backward) {
    slice.forward_backward(gt.data(), out.data());
  } else {
    slice.forward(out.data());
  }
  return {out.begin(), out.end()};
}

class ChunkedAttentionKernel : public ::testing::TestWithParam<Case> {};

TEST_P(ChunkedAttentionKernel, FloatMatchesDouble) {
  const Case k = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(k.length * 31 + k.chunk));
  std::normal_distribution<double> normal;
  std::vector<double> q(k.length * k.dk), key(k.length * k.dk), v(k.length * k.dv), g(k.length * k.dv);
  for (auto* x : {&q, &key, &v, &g}) {
    for (double& e : *x) e = normal(rng);
  }
  if (k.mask_self) {  // shared QK: the keys are the queries, unit length
    for (int64_t t = 0; t < k.length; ++t) {
      double norm = 0;
      for (int64_t j = 0; j < k.dk; ++j) norm += q[t * k.dk + j] * q[t * k.dk + j];
      for (int64_t j = 0; j < k.dk; ++j) key[t * k.dk + j] = q[t * k.dk + j] / std::sqrt(norm);
    }
  }
  for (bool backward : {false, true}) {
    std::vector<double> want = run<double>(k, q, key, v, g, backward);
    std::vector<double> got = run<float>(k, q, key, v, g, backward);
    double scale = 0;
    for (double x : want) scale = std::max(scale, std::fabs(x));
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 2e-5 * scale) << (backward ? "backward" : "forward") << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ChunkedAttentionKernel,
    ::testing::Values(Case{64, 8, 16, 16, 64, true, true, true}, Case{64, 16, 16, 8, 60, true, false, false},
                      Case{200, 200, 32, 24, 200, false, true, true}, Case{200, 200, 16, 16, 190, false, false, false},
                      Case{256, 128, 64, 64, 256, true, true, false}, Case{12, 12, 5, 3, 12, false, true, true},
                      Case{8, 8, 4, 4, 8, true, true, true}));

}  // namespace
}  // namespace reforge::kernels
