#include "models/architecture.h"

#include <fmt/format.h>

#include <map>

#include "base/error.h"

namespace reforge {
namespace {

// The registered architectures; the Reformer language model is always
// there (it is this library's own, not a variant file's).
std::map<std::string, Architecture>& table() {
  static auto* architectures = new std::map<std::string, Architecture>{
      {kReformerLm, Architecture{kReformerLm, "the Reformer language model (and its Transformer baseline)",
                                 [](Graph& g, const ReformerConfig& c, const ReformerBuild& b) {
                                   ReformerModel m = build_reformer(g, c, b);
                                   return ModelOutputs{m.logits, m.loss, m.accuracy};
                                 }}}};
  return *architectures;
}

}  // namespace

void register_architecture(Architecture architecture) {
  if (table().count(architecture.name)) throw Error("architecture '" + architecture.name + "' registered twice");
  std::string name = architecture.name;
  table().emplace(std::move(name), std::move(architecture));
}

const Architecture& find_architecture(const std::string& name) {
  auto it = table().find(name);
  if (it != table().end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, a] : table()) names.push_back(n);
  throw Error(fmt::format("unknown --architecture '{}' (registered: {})", name, fmt::join(names, ", ")));
}

std::vector<const Architecture*> registered_architectures() {
  std::vector<const Architecture*> out;
  for (const auto& [n, a] : table()) out.push_back(&a);
  return out;
}

ModelOutputs build_model(Graph& graph, const ReformerConfig& config, const ReformerBuild& build) {
  return find_architecture(config.architecture).build(graph, config, build);
}

}  // namespace reforge
