// Whole training steps on the back end under test (the CPU's LLVM code, or
// the CUDA kernels built for the host: tests/testing/backend_under_test.h)
// against the reference interpreter: loss, metrics, every parameter and every optimizer moment
// after each of three Adam steps (the first moment after step 1 is exactly
// 0.1 x the gradient, so every gradient is compared too), across the Reformer's configurations (LSH and
// full attention, reversible on and off, chunked feed-forward on and off,
// causal and bidirectional, padded sequences, fused and decomposed LSH).
// In f64 the two must agree to rounding; in f32 buffer reuse on and off
// must agree bit for bit (a buffer shared by mistake shows up there).
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/interpreter/trainer.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "compiler/pipeline/jit_model.h"
#include "models/model_registry.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "tests/testing/backend_under_test.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

struct Variant {
  std::string name;
  ReformerConfig config;
  CompileOptions options;
  std::string task_of = "";  // the registered model whose task feeds it; "": duplication
};

// A learning rate that moves the parameters visibly in three steps.
CompiledStep compile_step(ReformerConfig config, DType float_type, const CompileOptions& options) {
  config.learning_rate = 1e-2;
  return compile_reformer_step(config, options, "reformer", float_type);
}

// A trainer on the back end under test.
std::unique_ptr<CpuTrainer> trainer(const CompiledStep& step, const CpuBuildOptions& changes = {}) {
  testing::BackendUnderTest backend = testing::backend_under_test();
  CpuBuildOptions options = changes;
  options.kernel_code = backend.options.kernel_code;
  BackendPlan planned =
      plan_backend(*step.graph, step.provenance(), options.plan, options.elementwise_fusion, *backend.target);
  return std::make_unique<CpuTrainer>(step, std::move(planned), /*seed=*/5, options);
}

ValueMap batch_of(const ReformerConfig& config, int64_t step, DType float_type, const std::string& task_of = "") {
  ValueMap batch = (task_of.empty() ? make_duplication_task(config, 11) : make_task(find_model(task_of), config, "", 11))
                       ->batch(step);
  for (auto& [name, value] : batch) {
    if (is_float(value.dtype())) value.type.dtype = float_type;
  }
  return batch;
}

double relative_difference(const HostTensor& a, const HostTensor& b) {
  EXPECT_EQ(a.type, b.type);
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / (1 + std::fabs(b[i])));
  return worst;
}

class CompiledTrainingStep : public ::testing::TestWithParam<Variant> {};

TEST_P(CompiledTrainingStep, MatchesInterpreterForThreeAdamSteps) {
  const Variant& v = GetParam();
  CompiledStep step = compile_step(v.config, DType::f64, v.options);
  InterpreterTrainer reference(*step.graph, step.step, /*seed=*/5);
  std::unique_ptr<CpuTrainer> compiled = trainer(step);
  int checked = 0;
  for (int64_t s = 1; s <= 3; ++s) {
    ValueMap batch = batch_of(v.config, s, DType::f64, v.task_of);
    ValueMap want = reference.run_step(batch);
    ValueMap got = compiled->run_step(batch);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [name, value] : want) {
      EXPECT_LT(relative_difference(got.at(name), value), 1e-9) << v.name << " step " << s << ": " << name;
      ++checked;
    }
    for (const CarriedValue& c : step.step.carried) {
      EXPECT_LT(relative_difference(compiled->persistent(c.source), reference.persistent().at(c.source)), 1e-9)
          << v.name << ": " << c.source << " after step " << s;
      ++checked;
    }
  }
  // Parameters, two moments each, and the step counter.
  EXPECT_GE(checked, 3 * (3 * static_cast<int>(step.step.gradients.size()) + 2));
}

std::vector<Variant> variants() {
  ReformerConfig base = testing::tiny_reformer_config();  // LSH + local, reversible, 2 FF chunks, causal
  std::vector<Variant> out = {{"lsh_local_reversible_chunked", base, {}}};
  ReformerConfig full = base;
  full.attention = {AttentionKind::full};
  full.reversible = false;
  full.ff_chunks = 1;
  out.push_back({"full_attention_baseline", full, {}});
  ReformerConfig bidirectional = base;
  bidirectional.causal = false;
  bidirectional.attention = {AttentionKind::lsh};
  out.push_back({"lsh_bidirectional", bidirectional, {}});
  ReformerConfig padded = base;
  padded.seq_len = 10;  // padded to 12 inside attention (chunks of 4)
  padded.ff_chunks = 1;
  out.push_back({"lsh_padded_unchunked", padded, {}});
  out.push_back({"lsh_decomposed", base, {.lsh_fusion = false}});
  out.push_back({"reversible_stored_activations", base, {.reversible_recompute = false}});
  // The memory budget's mix: the last block stores, the first rebuilds.
  out.push_back({"reversible_last_block_stored", base, {.stored_blocks = 1}});
  ReformerConfig plain = base;
  plain.reversible = false;
  out.push_back({"residual_not_reversible", plain, {}});
  // Variants built from blocks (models/variants/): the gated feed-forward,
  // the bidirectional LSH classifier and the encoder-decoder, each on its
  // own task.
  ReformerConfig gated = base;
  gated.ff_gated = true;
  out.push_back({"gated_feed_forward", gated, {}});
  ReformerConfig classifier = base;
  classifier.architecture = "lsh-classifier";
  classifier.attention = {AttentionKind::lsh};
  classifier.causal = false;
  classifier.n_classes = 2;
  classifier.seq_len = 64;
  out.push_back({"lsh_classifier", classifier, {}, "classifier-lsh"});
  ReformerConfig seq2seq = base;
  seq2seq.architecture = "reformer-seq2seq";
  seq2seq.attention = {AttentionKind::lsh};
  out.push_back({"reformer_seq2seq", seq2seq, {}, "seq2seq-reverse"});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Reformer, CompiledTrainingStep, ::testing::ValuesIn(variants()),
                         [](const auto& info) { return info.param.name; });

// Buffer reuse changes where values live, never what they are.
TEST(CompiledTrainingStepF32, BufferReuseOnAndOffAreBitIdentical) {
  ReformerConfig config = testing::tiny_reformer_config();
  CompiledStep step = compile_step(config, DType::f32, {});
  CpuBuildOptions no_reuse;
  no_reuse.plan.buffer_reuse = false;
  std::unique_ptr<CpuTrainer> reused = trainer(step), separate = trainer(step, no_reuse);
  EXPECT_LT(reused->plan().arena_bytes, separate->plan().arena_bytes);
  for (int64_t s = 1; s <= 3; ++s) {
    ValueMap batch = batch_of(config, s, DType::f32);
    ValueMap a = reused->run_step(batch), b = separate->run_step(batch);
    for (const auto& [name, value] : a) EXPECT_EQ(value.data, b.at(name).data) << name << " at step " << s;
  }
}

// f32 against the interpreter's f32 (which accumulates in double): the
// first step's loss and gradients agree to single precision.
// With the LSH layers decomposed (not fused), too.
TEST(CompiledTrainingStepF32, FirstStepMatchesInterpreter) {
  for (bool lsh_fusion : {true, false}) {
    ReformerConfig config = testing::tiny_reformer_config();
    CompiledStep step = compile_step(config, DType::f32, {.lsh_fusion = lsh_fusion});
    InterpreterTrainer reference(*step.graph, step.step, 5);
    std::unique_ptr<CpuTrainer> compiled = trainer(step);
    ValueMap batch = batch_of(config, 1, DType::f32);
    ValueMap want = reference.run_step(batch), got = compiled->run_step(batch);
    for (const auto& [name, value] : want) {
      EXPECT_LT(relative_difference(got.at(name), value), 1e-4) << name << (lsh_fusion ? "" : ", LSH decomposed");
    }
  }
}

}  // namespace
}  // namespace reforge
