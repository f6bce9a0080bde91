#include "models/model_registry.h"

#include <fmt/format.h>

#include <map>

#include "base/error.h"

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

TaskKind task_of(const std::string& model) {
  for (const ModelEntry* m : registered_models()) {
    if (m->name == model) return m->task;
  }
  return TaskKind::byte_lm;
}

std::unique_ptr<Task> make_task(TaskKind kind, const std::string& model, const ReformerConfig& config,
                                const std::string& data, uint64_t seed) {
  if (kind == TaskKind::byte_lm) return make_byte_lm_task(config, data, seed);
  if (!data.empty()) {
    throw UsageError(fmt::format("--data: model '{}' trains on generated copies, not on a text", model));
  }
  return make_duplication_task(config, seed);
}

}  // namespace reforge
