// Architectures: the structure of a model, as a builder registered under a
// name. A config names its architecture (ReformerConfig::architecture), so
// the config alone decides the graph, on every path that builds one: the
// commands, the memory budget's candidates, artifacts and checkpoints
// (which record the config). The Reformer language model is
// "reformer-lm"; a variant file registers others (docs/AUTHORING.md):
//
//   REFORGE_REGISTER_ARCHITECTURE(my_net) {
//     return {"my-net", "what it is", [](Graph& g, const ReformerConfig& c, const ReformerBuild& b) {
//       ... blocks (models/blocks/) ...
//       return ModelOutputs{logits, loss, accuracy};
//     }};
//   }
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "models/reformer.h"
#include "models/reformer_config.h"

namespace reforge {

// What a builder gives the graph: the logits (a language model's
// [B, L, vocab], a classifier's [B, classes]) and, with build.loss, the
// loss to minimise and an accuracy in [0, 1].
struct ModelOutputs {
  Tensor logits, loss, accuracy;
};

using ModelBuilder = std::function<ModelOutputs(Graph&, const ReformerConfig&, const ReformerBuild&)>;

struct Architecture {
  std::string name;
  std::string summary;
  ModelBuilder build;
};

// The Reformer language model, the one architecture that generates text:
// its decode step (models/decode_step.h) mirrors its layers.
inline constexpr const char* kReformerLm = "reformer-lm";

void register_architecture(Architecture architecture);
// Throws reforge::Error listing the registered names when `name` is unknown.
const Architecture& find_architecture(const std::string& name);
std::vector<const Architecture*> registered_architectures();

// The graph `config.architecture` builds, in `graph`.
ModelOutputs build_model(Graph& graph, const ReformerConfig& config, const ReformerBuild& build = {});

#define REFORGE_REGISTER_ARCHITECTURE(id)                       \
  static ::reforge::Architecture make_architecture_##id();      \
  static const bool architecture_##id##_registered = [] {       \
    ::reforge::register_architecture(make_architecture_##id()); \
    return true;                                                \
  }();                                                          \
  static ::reforge::Architecture make_architecture_##id()

}  // namespace reforge
