// The GPU library's fused LSH attention (runtime/cuda_attention_source.h:
// the counting sort in five kernels, then a thread per position) on the
// stand-in driver, against the interpreter's reference kernel
// (lsh_attention_reference.h), on random slices: causal and
// bidirectional, padded, one to four rounds, chunks that straddle two
// rounds, a single chunk (its window is itself twice), two slices, 32-
// and 64-bit buckets; the gradient with and without the forward's result
// beside it. In double the two differ only in the order of their sums.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>

#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/graph.h"
#include "tests/testing/gpu_run.h"
#include "tests/testing/gradient_check.h"

namespace reforge {
namespace {

struct Case {
  int64_t heads, length, rounds, chunk, dk, dv, valid, per_round;
  bool causal;
  DType bucket_type = DType::i64;
};

void PrintTo(const Case& k, std::ostream* os) {
  *os << "H=" << k.heads << " L=" << k.length << " R=" << k.rounds << " C=" << k.chunk << " dk=" << k.dk
      << " dv=" << k.dv << " valid=" << k.valid << " buckets=" << k.per_round << (k.causal ? " causal" : "") << " "
      << dtype_name(k.bucket_type);
}

// One fused call (op "lsh_attention_fused" or its gradient, with_output
// 0 or 1) over [1, H, L, d] operands, and random feeds for it.
struct Built {
  std::unique_ptr<Graph> graph;
  ValueMap feeds;
};

Built fused_call(const Case& k, DType dtype, bool gradient, bool with_output, bool with_logsumexps = false) {
  Built b{std::make_unique<Graph>("lsh"), {}};
  Graph& g = *b.graph;
  g.set_default_float(dtype);
  const TensorType q_type{dtype, {1, k.heads, k.length, k.dk}}, v_type{dtype, {1, k.heads, k.length, k.dv}};
  const TensorType bucket_type{k.bucket_type, {1, k.heads, k.rounds, k.length}};
  std::vector<Tensor> inputs = {g.input("q", q_type), g.input("v", v_type), g.input("buckets", bucket_type),
                                g.input("key", {DType::i64, {}})};
  AttrMap attrs;
  attrs.set("chunk_len", k.chunk);
  attrs.set("causal", int64_t{k.causal});
  attrs.set("valid_length", k.valid);
  attrs.set("buckets_per_round", k.per_round);
  attrs.set("paper_mode", int64_t{0});
  attrs.set("dropout", 0.0);
  attrs.set("stream", int64_t{0});
  if (gradient) {
    inputs.push_back(g.input("g", v_type));
    attrs.set("with_output", int64_t{with_output});
  }
  if (with_logsumexps) attrs.set("with_logsumexps", int64_t{1});
  g.output("out", g.add(gradient ? "lsh_attention_fused_grad" : "lsh_attention_fused", inputs, attrs, {}));

  const uint64_t seed = static_cast<uint64_t>(k.length * 31 + k.chunk + k.rounds);
  b.feeds["q"] = testing::random_tensor({q_type}, seed);
  b.feeds["v"] = testing::random_tensor({v_type}, seed + 1);
  if (gradient) b.feeds["g"] = testing::random_tensor({v_type}, seed + 2);
  HostTensor buckets = testing::random_tensor({bucket_type, 0.0, static_cast<double>(k.per_round)}, seed + 3);
  b.feeds["buckets"] = buckets;
  b.feeds["key"] = HostTensor::scalar(DType::i64, 0);
  return b;
}

// Largest difference relative to the largest reference value.
void expect_near(const HostTensor& got, const HostTensor& want, double relative, const std::string& what) {
  ASSERT_EQ(got.type, want.type) << what;
  double scale = 0;
  for (int64_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::fabs(want[i]));
  for (int64_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], relative * scale) << what << " element " << i;
}

void expect_gpu_matches_reference(const Case& k, DType dtype, double relative) {
  for (const auto& [gradient, with_output] : {std::pair{false, false}, {true, false}, {true, true}}) {
    const std::string what =
        fmt::format("{} {}{}", dtype_name(dtype), gradient ? "gradient" : "forward", with_output ? " with output" : "");
    Built b = fused_call(k, dtype, gradient, with_output);
    testing::GpuProgram p = testing::lower_for_gpu(*b.graph);
    ASSERT_TRUE(testing::runs_on_gpu(p.program)) << what;
    ValueMap got = testing::run_on_gpu(*b.graph, b.feeds, p, testing::host_cuda_code(p.kernels));
    expect_near(got.at("out"), run_graph(*b.graph, b.feeds).at("out"), relative, what);
  }
}

class CudaLshAttention : public ::testing::TestWithParam<Case> {};

TEST_P(CudaLshAttention, DoubleMatchesTheReference) { expect_gpu_matches_reference(GetParam(), DType::f64, 1e-12); }

TEST_P(CudaLshAttention, FloatMatchesTheReference) { expect_gpu_matches_reference(GetParam(), DType::f32, 2e-5); }

INSTANTIATE_TEST_SUITE_P(Shapes, CudaLshAttention,
                         ::testing::Values(Case{2, 64, 4, 8, 16, 16, 64, 8, true},
                                           Case{1, 64, 2, 8, 16, 16, 64, 8, false},
                                           Case{1, 48, 1, 12, 8, 5, 41, 4, true},
                                           Case{2, 10, 3, 6, 4, 3, 9, 3, false, DType::i32},  // chunks straddle rounds
                                           Case{1, 8, 1, 8, 4, 4, 8, 2, true},                // one chunk
                                           Case{1, 96, 3, 16, 32, 24, 90, 6, true, DType::i32}));

// The message the call is refused with on the GPU ("" when it runs).
std::string gpu_refusal(const Built& b) {
  testing::GpuProgram p = testing::lower_for_gpu(*b.graph);
  try {
    testing::run_on_gpu(*b.graph, b.feeds, p, testing::host_cuda_code(p.kernels));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A bucket outside [0, buckets_per_round) is refused, naming the call,
// as the CPU kernel refuses it; the sort stays inside its arrays.
TEST(CudaLshAttentionErrors, ABucketOutOfRangeNamesItsLaunch) {
  const Case k{1, 16, 2, 4, 4, 4, 16, 4, true};
  Built b = fused_call(k, DType::f64, false, false);
  b.feeds["buckets"][5] = 4;
  const std::string message = gpu_refusal(b);
  EXPECT_NE(message.find("lsh_attention"), std::string::npos) << message;
  EXPECT_NE(message.find("out of range"), std::string::npos) << message;
}

// The forward's rows with each round's logsumexp after the result are
// the CPU kernel's (for a gradient that reads them): refused here, by
// name, rather than written in another layout.
TEST(CudaLshAttentionErrors, AForwardWithLogsumexpsIsTheCpuKernels) {
  const Case k{1, 16, 2, 4, 4, 4, 16, 4, true};
  const std::string message = gpu_refusal(fused_call(k, DType::f64, false, false, /*with_logsumexps=*/true));
  EXPECT_NE(message.find("with_logsumexps"), std::string::npos) << message;
}

}  // namespace
}  // namespace reforge
