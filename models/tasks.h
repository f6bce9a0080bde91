// Data for the models: each task yields batches of the inputs its model's
// graph reads, by name (a language model's tokens, targets, loss_weights
// and rng; a variant's task, those its architecture declares).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "compiler/ir/host_tensor.h"
#include "models/reformer_config.h"

namespace reforge {

using Batch = std::map<std::string, HostTensor>;

class Task {
 public:
  virtual ~Task() = default;
  // The batch for training step `step`; deterministic in (seed, step).
  virtual Batch batch(int64_t step) const = 0;
  // Held-out batch `index`: the same for every seed, never trained on.
  virtual Batch validation_batch(int64_t index) const = 0;
  // What a step's loss means, e.g. "nats per predicted symbol".
  virtual std::string loss_unit() const = 0;
  // What bits are counted per ("byte", "copied symbol").
  virtual std::string bits_unit() const = 0;
  // The held-out score of a model that knows only symbol frequencies, in
  // bits per symbol, where the task has one.
  virtual std::optional<double> baseline_bits() const { return std::nullopt; }
  // What that baseline is, in words ("unigram baseline", "chance").
  virtual std::string baseline_name() const { return "unigram baseline"; }
  // "the King James Bible (4.2 MB training, 220 KB held out)".
  virtual std::string describe() const = 0;
};

// What a task is made from: the model's name and config, the --data flag
// ("" when not given) and the seed.
struct TaskSource {
  std::string model;
  ReformerConfig config;
  std::string data;
  uint64_t seed = 1;
};

// How a registered model makes its task (models/model_registry.h).
using TaskFactory = std::function<std::unique_ptr<Task>(const TaskSource&)>;

// For a task that generates its data: a UsageError naming --data when a
// text was given ("--data: model 'm' trains on <what>, not on a text").
void refuse_data(const TaskSource& source, const std::string& what);

// A batch's `rng` input for drawing `key` at `step`: one random key per
// step, the same on every run.
HostTensor batch_random_key(uint64_t key, int64_t step);

// A task whose data a counter-based generator draws: training batch
// `step` from the seed, held-out batch `index` from the task's own
// validation key (the same whatever the seed, so never trained on).
class GeneratedTask : public Task {
 public:
  GeneratedTask(const ReformerConfig& config, uint64_t seed, uint64_t validation_key)
      : config_(config), seed_(seed), validation_key_(validation_key) {}
  Batch batch(int64_t step) const final { return draw(seed_, step); }
  Batch validation_batch(int64_t index) const final { return draw(validation_key_, index); }

 protected:
  // The batch drawn from `key` for `step`.
  virtual Batch draw(uint64_t key, int64_t step) const = 0;
  const ReformerConfig& config() const { return config_; }
  uint64_t seed() const { return seed_; }

 private:
  ReformerConfig config_;
  uint64_t seed_;
  uint64_t validation_key_;
};

// The factory of generated task T (constructed from a config and a seed);
// it refuses --data, saying that the model trains on `what`.
template <typename T>
TaskFactory generated_task(std::string what) {
  return [what](const TaskSource& source) -> std::unique_ptr<Task> {
    refuse_data(source, what);
    return std::make_unique<T>(source.config, source.seed);
  };
}

// The duplication task of the paper (§5): sequences 0 w 0 w, w random
// symbols 1..vocab-1; only predictions of the second w count.
std::unique_ptr<Task> make_duplication_task(const ReformerConfig& config, uint64_t seed);
std::unique_ptr<Task> duplication_task(const TaskSource& source);  // refuses --data

// Byte-level language modelling over a text (see TextCorpus::open for
// `data`: a file, a directory, "builtin", or "" for the default corpus):
// random windows of the training split, every next-byte prediction counts.
std::unique_ptr<Task> make_byte_lm_task(const ReformerConfig& config, const std::string& data, uint64_t seed);
std::unique_ptr<Task> byte_lm_task(const TaskSource& source);

}  // namespace reforge
