// Compile -> artifact bytes -> load with the runtime (no LLVM) -> run:
// the training step and the forward pass give the same bits as the JIT
// path for the same seed and batches, parameters start as the trainers'
// do, and what the manifest says is what was compiled.
#include <gtest/gtest.h>

#include <cstring>

#include "compiler/pipeline/cpu_executable.h"
#include "compiler/pipeline/jit_model.h"
#include "models/compiled_decode_step.h"
#include "models/reformer_artifact.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "runtime/reforge_runtime.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

ReformerConfig small_config() {
  ReformerConfig c = testing::tiny_reformer_config();
  c.learning_rate = 1e-2;  // parameters move visibly in three steps
  return c;
}

// Writes a reference batch into an entry's inputs, in its element types.
void set_inputs(runtime::Entry& entry, const ValueMap& batch) {
  for (const runtime::Slot& input : entry.inputs()) {
    const HostTensor& value = batch.at(input.name);
    ASSERT_EQ(value.type, input.type) << input.name;
    std::vector<std::byte> bytes(input.type.bytes());
    write_elements(value, bytes.data());
    entry.set_input(input.name, bytes.data(), bytes.size());
  }
}

std::vector<std::byte> bytes_of(const HostTensor& t) {
  std::vector<std::byte> out(t.type.bytes());
  write_elements(t, out.data());
  return out;
}

bool same_bytes(std::span<const std::byte> a, const std::vector<std::byte>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

class ArtifactRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    artifact_ = new std::string(runtime::encode_artifact(compile_reformer_artifact(small_config(), "tiny")));
  }
  static void TearDownTestSuite() { delete artifact_; }
  static std::string* artifact_;
};
std::string* ArtifactRoundTrip::artifact_ = nullptr;

TEST_F(ArtifactRoundTrip, TrainingStepsEqualTheJitBitForBit) {
  ReformerConfig config = small_config();
  auto model = runtime::Model::load(*artifact_, "tiny.rfa", {.threads = 2});
  model->initialise(/*seed=*/7);
  CpuTrainer jit(compile_reformer_step(config, {}, "tiny"), /*seed=*/7, {.threads = 2});

  for (const runtime::PersistentInit& p : model->persistent()) {
    ASSERT_TRUE(same_bytes(model->persistent_data(p.name), bytes_of(jit.persistent(p.name)))) << p.name << " at start";
  }
  auto task = make_duplication_task(config, 3);
  for (int64_t s = 1; s <= 3; ++s) {
    ValueMap batch = task->batch(s);
    ValueMap want = jit.run_step(batch);
    set_inputs(model->train_step(), batch);
    model->step();
    for (const char* metric : {"loss", "accuracy"}) {
      EXPECT_TRUE(same_bytes(model->train_step().output(metric), bytes_of(want.at(metric)))) << metric << " step " << s;
    }
    int compared = 0;
    for (const runtime::PersistentInit& p : model->persistent()) {
      EXPECT_TRUE(same_bytes(model->persistent_data(p.name), bytes_of(jit.persistent(p.name))))
          << p.name << " after step " << s;
      ++compared;
    }
    EXPECT_GT(compared, 10);
  }
}

TEST_F(ArtifactRoundTrip, ForwardPassEqualsTheJitBitForBit) {
  ReformerConfig config = small_config();
  auto model = runtime::Model::load(*artifact_, "tiny.rfa", {.threads = 1});
  model->initialise(/*seed=*/9);
  runtime::Entry* forward = model->entry("forward");
  ASSERT_NE(forward, nullptr);

  std::unique_ptr<Graph> graph = compile_forward(*build_reformer_eval_graph(config, "tiny"), {});
  auto jit = CpuExecutable::build(*graph, {}, {.threads = 1});
  for (const runtime::PersistentInit& p : model->persistent()) {
    if (!p.parameter || jit->executor().find_slot(p.name) < 0) continue;
    std::span<const std::byte> data = model->persistent_data(p.name);
    std::memcpy(jit->executor().slot_data(jit->executor().find_slot(p.name)), data.data(), data.size());
  }
  ValueMap batch = make_duplication_task(config, 4)->batch(1);
  set_inputs(*forward, batch);
  for (const auto& [name, value] : batch) {
    if (jit->executor().find_slot(name) >= 0) jit->feed(name, value);
  }
  forward->run();
  jit->run();
  for (const char* output : {"loss", "accuracy", "logits"}) {
    std::span<const std::byte> got = forward->output(output);
    HostTensor want = jit->read_output(output);
    EXPECT_TRUE(same_bytes(got, bytes_of(want))) << output;
  }
  EXPECT_EQ(forward->output_as<float>("logits").size(),
            static_cast<size_t>(config.batch * config.seq_len * config.vocab_size));
}

TEST_F(ArtifactRoundTrip, ManifestRecordsWhatWasCompiled) {
  runtime::Artifact a = runtime::decode_artifact(*artifact_, "tiny.rfa");
  EXPECT_EQ(a.manifest.model, "tiny");
  EXPECT_EQ(a.manifest.compiler_version, kCompilerVersion);
  EXPECT_EQ(config_from_record(a.manifest.config).seq_len, small_config().seq_len);
  EXPECT_FALSE(a.manifest.cpu.empty());
  EXPECT_NE(a.memory_plan_json.find("\"schema\": \"reforge.memory_plan/1\""), std::string::npos);
  ASSERT_NE(a.entry("train_step"), nullptr);
  EXPECT_FALSE(a.entry("train_step")->carried.empty());
  // Encoding what was decoded gives the same bytes.
  EXPECT_EQ(runtime::encode_artifact(a), *artifact_);
}

TEST_F(ArtifactRoundTrip, WrongInputsAreRefusedWithTheirNames) {
  auto model = runtime::Model::load(*artifact_, "tiny.rfa", {.threads = 1});
  std::vector<std::byte> bytes(3);
  try {
    model->train_step().set_input("tokenz", bytes.data(), bytes.size());
    FAIL() << "accepted an unknown input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokens"), std::string::npos) << e.what();
  }
  try {
    model->train_step().set_input("tokens", bytes.data(), bytes.size());
    FAIL() << "accepted 3 bytes for tokens";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("given 3 bytes"), std::string::npos) << e.what();
  }
}

// Generation's entry points: the artifact's decode step, run by the
// runtime, against the same step compiled in this process, position by
// position over the whole window, twice (the reset really empties), and
// after a prefill.
TEST_F(ArtifactRoundTrip, DecodeStepEqualsTheJitBitForBit) {
  ReformerConfig config = small_config();
  auto model = runtime::Model::load(*artifact_, "tiny.rfa", {.threads = 2});
  ASSERT_TRUE(model->can_decode());
  std::vector<std::string> inputs;
  for (const runtime::Slot& s : model->entry("decode")->inputs()) inputs.push_back(s.name);
  EXPECT_EQ(inputs, (std::vector<std::string>{"token", "position"}));  // the caches are the model's to keep
  model->initialise(/*seed=*/5);
  CompiledDecodeStep jit(config, "tiny", 2);
  for (runtime::Executor* e : {&jit.executable().executor(), &jit.prefill_executable().executor()}) {
    for (const runtime::PersistentInit& p : model->persistent()) {
      if (int slot = e->find_slot(p.name); slot >= 0) {
        std::span<const std::byte> bytes = model->persistent_data(p.name);
        std::memcpy(e->slot_data(slot), bytes.data(), bytes.size());
      }
    }
  }
  EXPECT_EQ(model->decode_window(), config.seq_len);
  for (int pass = 0; pass < 2; ++pass) {
    model->decode_reset();
    jit.clear();
    for (int64_t t = 0; t < config.seq_len; ++t) {
      const int64_t token = (t * 5 + 3) % config.vocab_size;
      std::span<const float> logits = model->decode(token, t);
      std::vector<float> artifact(logits.begin(), logits.end());
      std::vector<double> compiled = jit.run(token, t);
      ASSERT_EQ(artifact.size(), compiled.size());
      for (size_t i = 0; i < artifact.size(); ++i) {
        ASSERT_EQ(artifact[i], static_cast<float>(compiled[i]))
            << "pass " << pass << ", position " << t << ", logit " << i;
      }
    }
  }
  EXPECT_THROW(model->decode(1, config.seq_len), Error);

  // A prefill of the first three tokens, then steps.
  const std::vector<int64_t> context = {3, 1, 4};
  std::span<const float> prefilled = model->decode_prefill(context);
  std::vector<float> artifact(prefilled.begin(), prefilled.end());
  std::vector<double> compiled = jit.prefill(context);
  for (int64_t t = 3;; ++t) {
    ASSERT_EQ(artifact.size(), compiled.size());
    for (size_t i = 0; i < artifact.size(); ++i) {
      ASSERT_EQ(artifact[i], static_cast<float>(compiled[i]))
          << "after a prefill, position " << t - 1 << ", logit " << i;
    }
    if (t == config.seq_len) break;
    std::span<const float> logits = model->decode(t % config.vocab_size, t);
    artifact.assign(logits.begin(), logits.end());
    compiled = jit.run(t % config.vocab_size, t);
  }
}

}  // namespace
}  // namespace reforge
