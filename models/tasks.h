// Data for the models: each task yields batches of the inputs a
// ReformerModel reads (tokens, targets, loss_weights, rng).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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
  // What a step's loss means, e.g. "nats per predicted symbol".
  virtual std::string loss_unit() const = 0;
};

// The duplication task of the paper (§5): sequences 0 w 0 w, w random
// symbols 1..vocab-1; only predictions of the second w count.
std::unique_ptr<Task> make_duplication_task(const ReformerConfig& config, uint64_t seed);

// Byte-level language modelling over a text: random windows, every
// next-byte prediction counts. An empty path uses a small built-in corpus.
std::unique_ptr<Task> make_byte_lm_task(const ReformerConfig& config, const std::string& path, uint64_t seed);

}  // namespace reforge
