// Checkpoints of a training run: every parameter and optimizer state under
// the model's own names, plus the step, the seed (batches are a pure
// function of seed and step, so these two are the data and RNG position),
// the model and its config, in a safetensors file. They are written
// durably (see durable_file.h) as RUN_DIR/checkpoint-<step>.safetensors;
// only the newest `keep` are kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/safetensors.h"

namespace reforge::runtime {

inline constexpr const char* kCheckpointFormat = "reforge.checkpoint/1";

struct Checkpoint {
  std::string model;
  std::vector<std::pair<std::string, std::string>> config;  // every config field, as text
  int64_t step = 0;
  uint64_t seed = 0;
  std::string compiler_version;
  std::vector<NamedTensor> values;
};

std::string encode_checkpoint(const Checkpoint& checkpoint);
Checkpoint decode_checkpoint(std::string_view bytes, const std::string& origin);

// Writes RUN_DIR/checkpoint-<step>.safetensors durably, then removes all
// but the newest `keep` checkpoints; returns the path written.
std::string write_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint, int keep);

// The newest checkpoint in `run_dir` (by step), if any.
std::optional<std::string> latest_checkpoint(const std::string& run_dir);
Checkpoint read_checkpoint(const std::string& path);

// The first field where `a` and `b` differ, as "--field: A here, B there",
// or nothing when they agree.
std::optional<std::string> first_config_difference(const std::vector<std::pair<std::string, std::string>>& wanted,
                                                   const std::vector<std::pair<std::string, std::string>>& found);

}  // namespace reforge::runtime
