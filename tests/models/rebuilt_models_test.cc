// The registered Reformer LM and duplication model, as every command
// builds them (build_reformer_graph, through the architecture registry),
// trained 3 steps in the interpreter: each step's loss and every
// parameter and optimizer moment afterwards must equal, bit for bit, what
// the monolithic builder produced before the building blocks existed
// (commit 052e777). A change to the blocks that alters a single rounding
// anywhere in these models fails here.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>

#include "compiler/autodiff/training_step.h"
#include "compiler/interpreter/trainer.h"
#include "models/model_registry.h"
#include "models/reformer_step.h"

namespace reforge {
namespace {

struct Fingerprint {
  std::string losses;  // each step's loss, as hexadecimal floating point
  uint64_t persistent_hash = 0;
};

// FNV-1a over every persistent value's name and elements, in name order.
uint64_t hash_values(const ValueMap& values) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t word) {
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (word >> (8 * byte)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (const auto& [name, value] : values) {
    for (char ch : name) mix(static_cast<unsigned char>(ch));
    for (double x : value.data) mix(std::bit_cast<uint64_t>(x));
  }
  return h;
}

Fingerprint train_three_steps(const std::string& model, const std::string& data) {
  const ModelEntry& entry = find_model(model);
  std::unique_ptr<Graph> graph = build_reformer_graph(entry.config, model);
  Tensor loss = graph->value(graph->find_output("loss"));
  graph->mutable_outputs().clear();  // the training step outputs the loss itself
  TrainingStep step = build_training_step(*graph, loss, reformer_optimizer(entry.config));
  std::unique_ptr<Task> task = make_task(entry, entry.config, data, 5);
  InterpreterTrainer trainer(*graph, step, 5);
  Fingerprint f;
  char text[64];
  for (int64_t s = 1; s <= 3; ++s) {
    std::snprintf(text, sizeof text, "%a ", trainer.step(task->batch(s)));
    f.losses += text;
  }
  f.persistent_hash = hash_values(trainer.persistent());
  return f;
}

// Re-pinned once, on purpose: layer norm became one op with its own
// reference kernel and gradient op, where it was spelled in primitives.
// The losses of the three steps are the same bits; the parameters and
// moments after them differ in last bits (0x28e77ba016a6cdce before).
TEST(RebuiltModels, ByteLanguageModelTrainsBitForBitAsBefore) {
  Fingerprint f = train_three_steps("byte-lm", "builtin");
  std::printf("byte-lm: %s %#llx\n", f.losses.c_str(), static_cast<unsigned long long>(f.persistent_hash));
  EXPECT_EQ(f.losses, "0x1.8bd08ap+2 0x1.6af642p+2 0x1.3446f8p+2 ");
  EXPECT_EQ(f.persistent_hash, 0x9a2c51902e4aecf5ull);
}

// Re-pinned twice, on purpose: its feed-forward runs in one chunk, which
// is now the body itself rather than a one-chunk map (its gradient keeps
// the activations instead of recomputing them), and ordinary autodiff
// adds a few gradients in another order (0x187111c8016b518e before); then
// layer norm became one op (0x34d8266ffe169679 before). Each time the
// losses of the three steps were the same bits; the parameters and
// moments after them differ in last bits.
TEST(RebuiltModels, DuplicationModelTrainsBitForBitAsBefore) {
  Fingerprint f = train_three_steps("duplication", "");
  std::printf("duplication: %s %#llx\n", f.losses.c_str(), static_cast<unsigned long long>(f.persistent_hash));
  EXPECT_EQ(f.losses, "0x1.2b7274p+1 0x1.325f92p+1 0x1.1da8ecp+1 ");
  EXPECT_EQ(f.persistent_hash, 0xa3b6734673a9975eull);
}

}  // namespace
}  // namespace reforge
