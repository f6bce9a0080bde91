// The runtime's fused LSH-attention kernel (lsh_attention_kernel.h: it
// streams, combining the rounds as it goes, and rebuilds the probabilities
// in the backward), in float and in double,
// against the reference kernel the interpreter runs
// (lsh_attention_reference.h, double), on random slices: causal and
// bidirectional, padded, one to four rounds, chunks that are and are not
// multiples of the vector width, a single chunk whose window is itself
// twice (position 0 then sees only its own key, masked: its logsumexp
// lies near -1e5); the gradient with and without the forward's result
// written beside it, in rows wider than the result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <random>
#include <vector>

#include "runtime/kernels/lsh_attention_kernel.h"
#include "runtime/kernels/lsh_attention_reference.h"

namespace reforge::kernels {
namespace {

struct Case {
  int64_t length, rounds, chunk, dk, dv, valid, per_round;
  bool causal;
};

void PrintTo(const Case& k, std::ostream* os) {
  *os << "L=" << k.length << " R=" << k.rounds << " C=" << k.chunk << " dk=" << k.dk << " dv=" << k.dv
      << " valid=" << k.valid << " buckets=" << k.per_round << (k.causal ? " causal" : "");
}

LshShape shape_of(const Case& k) {
  return {.length = k.length,
          .rounds = k.rounds,
          .chunk = k.chunk,
          .dk = k.dk,
          .dv = k.dv,
          .valid = k.valid,
          .per_round = k.per_round,
          .causal = k.causal};
}

struct Slice {
  std::vector<double> q, v, g;
  std::vector<int64_t> buckets;
};

Slice random_slice(const Case& k) {
  std::mt19937 rng(static_cast<uint32_t>(k.length * 31 + k.chunk + k.rounds));
  std::normal_distribution<double> normal;
  Slice x{std::vector<double>(k.length * k.dk), std::vector<double>(k.length * k.dv),
          std::vector<double>(k.length * k.dv), std::vector<int64_t>(k.rounds * k.length)};
  for (auto* a : {&x.q, &x.v, &x.g}) {
    for (double& e : *a) e = normal(rng);
  }
  for (int64_t& b : x.buckets) b = static_cast<int64_t>(rng() % static_cast<uint32_t>(k.per_round));
  return x;
}

// The reference: the combined result [L, dv] (forward) or [dq | dv] rows.
std::vector<double> reference(const Case& k, const Slice& x, bool backward) {
  LshShape s = shape_of(k);
  std::vector<std::byte> memory(ReferenceLshSlice<int64_t>::scratch_bytes(s, backward) + 64);
  Scratch scratch(memory.data());
  ReferenceLshSlice<int64_t> slice(s, x.q.data(), x.v.data(), x.buckets.data(), scratch, backward);
  slice.forward();
  std::vector<double> out(k.length * (backward ? k.dk + k.dv : k.dv));
  if (backward) {
    slice.backward(x.g.data(), out.data());
  } else {
    slice.combine(out.data());
  }
  return out;
}

// The runtime kernel in T. Forward: [L, dv]. Backward: rows of
// dk + dv (+ dv with_output) written at a stride one wider than that,
// returned as [dq | dv] rows, with the forward's result in `result`.
template <typename T>
std::vector<double> runtime_kernel(const Case& k, const Slice& x, bool backward, bool with_output,
                                   std::vector<double>* result = nullptr) {
  LshShape s = shape_of(k);
  std::vector<T> q(x.q.begin(), x.q.end()), v(x.v.begin(), x.v.end()), g(x.g.begin(), x.g.end());
  std::vector<std::byte> memory(LshSlice<T, int64_t>::scratch_bytes(s, backward) + 64);
  Scratch scratch(memory.data());
  LshSlice<T, int64_t> slice(s, q.data(), v.data(), x.buckets.data(), scratch, backward);
  if (!backward) {
    std::vector<T> out(k.length * k.dv);
    slice.forward(out.data());
    return {out.begin(), out.end()};
  }
  const int64_t width = k.dk + k.dv * (with_output ? 2 : 1), row = width + 1;
  std::vector<T> rows(k.length * row, T(-7));  // the column past each row must stay untouched
  slice.forward_backward(g.data(), rows.data(), row, with_output);
  std::vector<double> gradients;
  for (int64_t t = 0; t < k.length; ++t) {
    EXPECT_EQ(rows[t * row + width], T(-7)) << "position " << t << ": written past its row";
    gradients.insert(gradients.end(), rows.begin() + t * row, rows.begin() + t * row + k.dk + k.dv);
    if (result) result->insert(result->end(), rows.begin() + t * row + k.dk + k.dv, rows.begin() + t * row + width);
  }
  return gradients;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double relative, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (double x : want) scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], relative * scale) << what << " element " << i;
}

class LshKernel : public ::testing::TestWithParam<Case> {};

TEST_P(LshKernel, FloatMatchesReference) {
  const Case k = GetParam();
  const Slice x = random_slice(k);
  expect_near(runtime_kernel<float>(k, x, false, false), reference(k, x, false), 2e-5, "forward");
  expect_near(runtime_kernel<float>(k, x, true, false), reference(k, x, true), 2e-5, "backward");
}

// In double the streaming kernel differs from the reference only in the
// order of its sums: agreement to near double precision shows the
// algebra (the online round combination, the folded row sums, the key
// normalisation's gradient contribution by contribution) is exact.
TEST_P(LshKernel, DoubleMatchesReferenceClosely) {
  const Case k = GetParam();
  const Slice x = random_slice(k);
  expect_near(runtime_kernel<double>(k, x, false, false), reference(k, x, false), 1e-12, "forward");
  expect_near(runtime_kernel<double>(k, x, true, false), reference(k, x, true), 1e-12, "backward");
}

TEST_P(LshKernel, GradientWithOutputAlsoWritesTheForwardResult) {
  const Case k = GetParam();
  const Slice x = random_slice(k);
  std::vector<double> result;
  std::vector<double> gradients = runtime_kernel<double>(k, x, true, true, &result);
  expect_near(gradients, reference(k, x, true), 1e-12, "backward");
  expect_near(result, reference(k, x, false), 1e-12, "result");
}

// The forward's rows with each round's logsumexp after the result
// (write_logsumexps): the result columns have the plain forward's bits.
template <typename T>
std::vector<T> forward_rows(const Case& k, const std::vector<T>& q, const std::vector<T>& v, const Slice& x,
                            bool with_logsumexps) {
  LshShape s = shape_of(k);
  std::vector<std::byte> memory(LshSlice<T, int64_t>::scratch_bytes(s, false) + 64);
  Scratch scratch(memory.data());
  LshSlice<T, int64_t> slice(s, q.data(), v.data(), x.buckets.data(), scratch, false);
  if (with_logsumexps) slice.write_logsumexps();
  std::vector<T> rows(k.length * (k.dv + (with_logsumexps ? k.rounds : 0)), T(-7));
  slice.forward(rows.data());
  return rows;
}

TEST_P(LshKernel, ForwardWritesEachRoundsLogsumexpAfterTheResult) {
  const Case k = GetParam();
  const Slice x = random_slice(k);
  const std::vector<double> plain = forward_rows(k, x.q, x.v, x, false), rows = forward_rows(k, x.q, x.v, x, true);
  LshShape s = shape_of(k);
  std::vector<std::byte> memory(ReferenceLshSlice<int64_t>::scratch_bytes(s, false) + 64);
  Scratch scratch(memory.data());
  ReferenceLshSlice<int64_t> reference_slice(s, x.q.data(), x.v.data(), x.buckets.data(), scratch, false);
  reference_slice.forward();
  const int64_t row = k.dv + k.rounds;
  std::vector<double> want(k.length * row);
  reference_slice.write_logsumexps(want.data(), row);
  for (int64_t t = 0; t < k.length; ++t) {
    for (int64_t j = 0; j < k.dv; ++j) ASSERT_EQ(rows[t * row + j], plain[t * k.dv + j]) << t << " " << j;
    for (int64_t r = 0; r < k.rounds; ++r) {
      const double got = rows[t * row + k.dv + r], expected = want[t * row + k.dv + r];
      ASSERT_NEAR(got, expected, 1e-12 * (1 + std::fabs(expected))) << "position " << t << " round " << r;
    }
  }
}

// Given the forward's rows with their logsumexps, the gradient runs no
// forward: every number it then uses is the one the forward computed, so
// its gradients are the bits of the one that runs the whole forward.
template <typename T>
void expect_given_forward_gives_the_same_bits(const Case& k, const Slice& x) {
  LshShape s = shape_of(k);
  std::vector<T> q(x.q.begin(), x.q.end()), v(x.v.begin(), x.v.end()), g(x.g.begin(), x.g.end());
  std::vector<std::byte> memory(LshSlice<T, int64_t>::scratch_bytes(s, true) + 64);
  const int64_t row = k.dk + k.dv;
  auto gradients = [&](const T* given) {
    Scratch scratch(memory.data());
    LshSlice<T, int64_t> slice(s, q.data(), v.data(), x.buckets.data(), scratch, true);
    if (given) slice.read_forward_result(given);
    std::vector<T> rows(k.length * row, T(-7));
    slice.forward_backward(g.data(), rows.data(), row, false);
    return rows;
  };
  std::vector<T> forward = forward_rows(k, q, v, x, true);
  const std::vector<T> computed = gradients(nullptr), read = gradients(forward.data());
  ASSERT_EQ(computed.size(), read.size());
  for (size_t i = 0; i < computed.size(); ++i) {
    ASSERT_EQ(computed[i], read[i]) << "position " << i / row << " column " << i % row;
  }
  // And it reads both: another result, or another round 0 logsumexp,
  // give another gradient. (They weigh the rounds against each other: one
  // round weighs 1 whatever its logsumexp.)
  const int64_t forward_row = k.dv + k.rounds;
  for (int64_t column : {int64_t{0}, k.dv}) {
    if (column == k.dv && k.rounds == 1) continue;
    std::vector<T> changed = forward;
    for (int64_t t = 0; t < k.length; ++t) changed[t * forward_row + column] += T(0.5);
    EXPECT_NE(gradients(changed.data()), computed) << "column " << column;
  }
}

TEST_P(LshKernel, GradientGivenTheForwardGivesTheSameBits) {
  const Case k = GetParam();
  const Slice x = random_slice(k);
  expect_given_forward_gives_the_same_bits<float>(k, x);
  expect_given_forward_gives_the_same_bits<double>(k, x);
}

TEST(LshKernelGiven, RefusesToBothReadAndWriteTheResult) {
  const Case k{8, 1, 8, 4, 4, 8, 2, true};
  const Slice x = random_slice(k);
  LshShape s = shape_of(k);
  std::vector<std::byte> memory(LshSlice<double, int64_t>::scratch_bytes(s, true) + 64);
  Scratch scratch(memory.data());
  LshSlice<double, int64_t> slice(s, x.q.data(), x.v.data(), x.buckets.data(), scratch, true);
  std::vector<double> given(k.length * (k.dv + k.rounds)), rows(k.length * (k.dk + 2 * k.dv));
  slice.read_forward_result(given.data());
  EXPECT_THROW(slice.forward_backward(x.g.data(), rows.data(), k.dk + 2 * k.dv, true), Error);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LshKernel,
                         ::testing::Values(Case{64, 4, 8, 16, 16, 64, 8, true}, Case{64, 2, 8, 16, 16, 64, 8, false},
                                           Case{48, 1, 12, 8, 5, 41, 4, true}, Case{96, 3, 16, 32, 24, 90, 6, true},
                                           Case{256, 4, 64, 64, 64, 256, 4, true}, Case{8, 1, 8, 4, 4, 8, 2, true}));

}  // namespace
}  // namespace reforge::kernels
