// Named models the command line accepts. A variant is one file in
// models/variants/ (or in the user's own program) that registers a config
// (whose `architecture` names the structure, models/architecture.h) and
// the task it trains on:
//
//   REFORGE_REGISTER_MODEL(my_variant) {
//     ModelEntry m{"my-variant", "what it is", ReformerConfig{}, byte_lm_task};
//     m.config.n_layers = 6;
//     return m;
//   }
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/reformer_config.h"
#include "models/tasks.h"

namespace reforge {

struct ModelEntry {
  std::string name;
  std::string summary;
  ReformerConfig config;
  TaskFactory task = byte_lm_task;
};

void register_model(ModelEntry entry);
// Throws reforge::Error listing the registered names when `name` is unknown.
const ModelEntry& find_model(const std::string& name);
std::vector<const ModelEntry*> registered_models();

// The entry's task for `config`: `data` names the text of a byte-level
// task; a generated task takes none (a UsageError naming --data).
std::unique_ptr<Task> make_task(const ModelEntry& entry, const ReformerConfig& config, const std::string& data,
                                uint64_t seed);

// The task of the model registered as `model`; byte-level text for a
// language model this build does not know (an artifact compiled
// elsewhere), an Error for any other unknown model.
std::unique_ptr<Task> make_task_for(const std::string& model, const ReformerConfig& config, const std::string& data,
                                    uint64_t seed);

#define REFORGE_REGISTER_MODEL(id)                 \
  static ::reforge::ModelEntry make_model_##id();  \
  static const bool model_##id##_registered = [] { \
    ::reforge::register_model(make_model_##id());  \
    return true;                                   \
  }();                                             \
  static ::reforge::ModelEntry make_model_##id()

}  // namespace reforge
