#include "models/model_registry.h"

#include <fmt/format.h>

#include <map>

#include "base/error.h"
#include "models/architecture.h"

namespace reforge {
namespace {

std::map<std::string, ModelEntry>& table() {
  static auto* models = new std::map<std::string, ModelEntry>();
  return *models;
}

}  // namespace

void register_model(ModelEntry entry) {
  if (table().count(entry.name)) throw Error("model '" + entry.name + "' registered twice");
  table()[entry.name] = std::move(entry);
}

const ModelEntry& find_model(const std::string& name) {
  auto it = table().find(name);
  if (it != table().end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, e] : table()) names.push_back(n);
  throw Error(fmt::format("unknown model '{}' (registered: {})", name, fmt::join(names, ", ")));
}

std::vector<const ModelEntry*> registered_models() {
  std::vector<const ModelEntry*> out;
  for (const auto& [n, e] : table()) out.push_back(&e);
  return out;
}

std::unique_ptr<Task> make_task(const ModelEntry& entry, const ReformerConfig& config, const std::string& data,
                                uint64_t seed) {
  return entry.task(TaskSource{entry.name, config, data, seed});
}

std::unique_ptr<Task> make_task_for(const std::string& model, const ReformerConfig& config, const std::string& data,
                                    uint64_t seed) {
  auto it = table().find(model);
  if (it != table().end()) return make_task(it->second, config, data, seed);
  if (config.architecture != kReformerLm) {
    throw Error(fmt::format("model '{}' ({}) is not registered in this program, so its task is unknown: run it from "
                            "a program that links its variant",
                            model, config.architecture));
  }
  return byte_lm_task(TaskSource{model, config, data, seed});
}

}  // namespace reforge
