// What `reforge plan` shows is what runs: the compiled step lives in one
// arena of exactly the plan's size plus the persistent values, every
// launch's buffers lie inside them, and running a step allocates nothing.
// Also the numerics the issue pins: stable softmax, and an LSH query whose
// window holds only itself still gets weights summing to 1 in f32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "compiler/pipeline/jit_model.h"
#include "models/attention.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

TEST(PlanHonoured, OneArenaOfThePlansSizeHoldsEveryTransientBuffer) {
  CompiledStep step = compile_reformer_step(testing::tiny_reformer_config());
  CpuTrainer trainer(step, 1);
  const runtime::Program& p = trainer.executor().program();
  EXPECT_EQ(p.arena_bytes, trainer.plan().arena_bytes);
  int64_t persistent = 0;
  for (const PersistentValue& v : trainer.plan().persistent) persistent += v.bytes;
  int64_t slots = 0;
  for (const runtime::Slot& s : p.slots) slots += s.type.bytes();
  EXPECT_EQ(slots, persistent);
  for (const runtime::Launch& l : p.launches) {
    for (const runtime::BufferRef& b : l.buffers) {
      if (b.slot < 0) {
        EXPECT_LE(b.offset + b.bytes, p.arena_bytes) << l.node;
      }
    }
  }
}

// Kernels, GEMM, gathers, scatters and the fused LSH kernel (whose scratch
// is a planned workspace) allocate nothing while a step runs.
TEST(PlanHonoured, RunningAStepAllocatesNothing) {
  if (!testing::counting_allocations()) GTEST_SKIP() << "allocations are not counted under AddressSanitizer";
  ReformerConfig config = testing::tiny_reformer_config();
  config.attention = {AttentionKind::lsh, AttentionKind::local, AttentionKind::full};
  config.n_layers = 3;
  CompiledStep step = compile_reformer_step(config);
  CpuTrainer trainer(step, 1);
  ValueMap batch = make_duplication_task(config, 3)->batch(1);
  trainer.feed(batch);
  trainer.executor().run();  // warm: the thread pool's threads exist
  testing::CountingAllocations counter;
  trainer.executor().run();
  EXPECT_EQ(counter.count(), 0);
}

// Softmax subtracts the maximum: logits far below zero still normalise.
// --check_numerics: the first launch whose result holds NaN or infinity is
// named with its op and the DSL line that created it (for a fused kernel,
// the line of the value it stores); with checking off the run goes on.
TEST(CompiledNumerics, CheckingNamesTheFirstNonFiniteValue) {
  Graph g("numerics");
  Tensor x = g.input("x", {DType::f32, {4}});
  Tensor y = matmul(reshape(x, {1, 4}), reshape(x, {4, 1}));  // finite
  Tensor bad = log(x - 1.0);                                  // log(-1) = nan
  g.output("y", y);
  // log is fused into the kernel of this line's product, which is the
  // first value in memory to hold the NaN: the report names that kernel.
  const int line = __LINE__ + 1;
  g.output("z", exp(bad) * 2.0);
  auto e = CpuExecutable::build(g, {}, {.threads = 1});
  e->feed("x", HostTensor({DType::f32, {4}}, {1, 2, 3, 0}));
  e->run();  // unchecked: runs
  e->executor().set_checking_numerics(true);
  try {
    e->run();
    FAIL() << "no non-finite value was reported";
  } catch (const Error& err) {
    std::string what = err.what();
    EXPECT_NE(what.find("the first non-finite value of the step"), std::string::npos) << what;
    EXPECT_NE(what.find("plan_honoured_test.cc:" + std::to_string(line)), std::string::npos) << what;
  }
  e->feed("x", HostTensor({DType::f32, {4}}, {2, 3, 4, 5}));
  EXPECT_NO_THROW(e->run());
}

TEST(CompiledNumerics, SoftmaxOfHugeNegativeLogitsSumsToOne) {
  Graph g("softmax");
  Tensor x = g.input("x", {DType::f32, {2, 3}});
  g.output("p", softmax(x, 1));
  g.output("lse", logsumexp(x, 1));
  auto e = CpuExecutable::build(g, {});
  e->feed("x", HostTensor({DType::f32, {2, 3}}, {-1e5, -1e9, -1e9 - 1, 80, 90, 100}));
  e->run();
  HostTensor p = e->read_output("p"), lse = e->read_output("lse");
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_EQ(p[1], 0.0);
  EXPECT_NEAR(p[3] + p[4] + p[5], 1.0, 1e-6);
  EXPECT_FLOAT_EQ(lse[0], -1e5f);
  EXPECT_NEAR(lse[1], 100.0 + std::log(1 + std::exp(-10.0) + std::exp(-20.0)), 1e-4);
}

// Causal LSH, every position in one bucket: position 0's window holds only
// itself (the later keys are masked by 1e9), so its logit is the self-mask
// value near -1e5 and its output must be exactly its own value row.
TEST(CompiledNumerics, LshQueryThatSeesOnlyItselfAttendsToItself) {
  Graph g("lsh");
  const int64_t L = 8, d = 4;
  Tensor q = g.input("q", {DType::f32, {1, 1, L, d}});
  Tensor v = g.input("v", {DType::f32, {1, 1, L, d}});
  Tensor buckets = g.input("buckets", {DType::i64, {1, 1, 2, L}});
  Tensor key = g.input("key", {DType::i64, {}});
  AttrMap attrs;
  attrs.set("chunk_len", int64_t{4});
  attrs.set("causal", int64_t{1});
  attrs.set("valid_length", L);
  attrs.set("buckets_per_round", int64_t{2});
  attrs.set("paper_mode", int64_t{0});
  attrs.set("dropout", 0.0);
  attrs.set("stream", int64_t{0});
  g.output("out", g.add("lsh_attention_fused", {q, v, buckets, key}, attrs, {}));
  auto e = CpuExecutable::build(g, {});
  HostTensor qv({DType::f32, {1, 1, L, d}}), vv({DType::f32, {1, 1, L, d}});
  for (int64_t i = 0; i < L * d; ++i) {
    qv[i] = std::sin(0.7 * i);
    vv[i] = std::cos(0.3 * i) + i;
  }
  e->feed("q", qv);
  e->feed("v", vv);
  e->feed("buckets", HostTensor({DType::i64, {1, 1, 2, L}}));
  e->feed("key", HostTensor::scalar(DType::i64, 0));
  e->run();
  HostTensor out = e->read_output("out");
  for (int64_t j = 0; j < d; ++j) EXPECT_FLOAT_EQ(out[j], vv[j]) << j;
}

// The unfused LSH layer in float, causal, one chunk that looks back at
// itself: position 0 sees only its own key, twice, both masked by 1e5, so
// its logsumexp lies near -1e5, where a float keeps 3 fractional bits
// (the case that put the fused kernels' backward 0.4% off when they took
// exp(l - lse)). The layer matches the interpreter (which computes in
// double) to float precision everywhere.
TEST(CompiledNumerics, UnfusedLshQueryThatSeesOnlyItselfTwice) {
  ReformerConfig c;
  c.batch = 1;
  c.seq_len = 8;
  c.d_model = 8;
  c.n_heads = 2;
  c.d_head = 4;
  c.chunk_len = 8;  // one chunk: its window is itself twice
  c.n_hashes = 1;
  c.causal = true;
  Graph g("lsh");
  g.set_default_float(DType::f32);
  const int64_t hd = c.n_heads * c.d_head;
  Tensor x = g.input("x", {DType::f32, {1, c.seq_len, c.d_model}});
  Tensor key = g.input("key", {DType::i64, {}});
  AttentionWeights w{.w_q = g.input("w_q", {DType::f32, {c.d_model, hd}}),
                     .w_k = {},
                     .w_v = g.input("w_v", {DType::f32, {c.d_model, hd}}),
                     .w_o = g.input("w_o", {DType::f32, {hd, c.d_model}})};
  Tensor buckets = g.input("buckets", {DType::i64, {1, c.n_heads, 1, c.seq_len}});
  g.output("y", lsh_attention(x, w, buckets, {key, 16}, c));
  ValueMap feeds;
  uint64_t seed = 0;
  for (const char* name : {"x", "w_q", "w_v", "w_o"}) {
    feeds[name] = testing::random_tensor({g.node(g.find_node(name)).type}, ++seed);
  }
  feeds["key"] = HostTensor::scalar(DType::i64, 7);
  feeds["buckets"] = HostTensor({DType::i64, {1, c.n_heads, 1, c.seq_len}});  // every position in bucket 0
  auto e = CpuExecutable::build(g, {});
  for (const auto& [name, value] : feeds) e->feed(name, value);
  e->run();
  const HostTensor got = e->read_output("y"), want = run_graph(g, feeds).at("y");
  double scale = 0;
  for (int64_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::fabs(want[i]));
  for (int64_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * scale) << i;
}

}  // namespace
}  // namespace reforge
