#include <map>
#include <memory>

#include "base/error.h"
#include "compiler/ir/op_def.h"

namespace reforge {
namespace {

std::map<std::string, std::unique_ptr<OpDef>>& registry() {
  static auto* ops = new std::map<std::string, std::unique_ptr<OpDef>>();
  return *ops;
}

}  // namespace

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::elementwise:
      return "elementwise";
    case OpKind::view:
      return "view";
    case OpKind::reduction:
      return "reduction";
    case OpKind::library:
      return "library";
    case OpKind::source:
      return "source";
    case OpKind::structured:
      return "structured";
  }
  return "?";
}

void register_op(OpDef def) {
  std::string name = def.name;
  if (registry().count(name)) throw Error("op '" + name + "' registered twice");
  // Every op says how it lowers, next to its meaning.
  bool lowers = false;
  switch (def.kind) {
    case OpKind::elementwise:
    case OpKind::view:
      lowers = static_cast<bool>(def.element);
      break;
    case OpKind::reduction:
      lowers = static_cast<bool>(def.kernel);
      break;
    case OpKind::library:
      lowers = static_cast<bool>(def.library);
      break;
    case OpKind::source:
      lowers = true;
      break;
    case OpKind::structured:
      lowers = def.num_regions > 0 && static_cast<bool>(def.expand);
      break;
  }
  if (!lowers) throw Error("op '" + name + "' (" + op_kind_name(def.kind) + ") has no lowering");
  registry()[name] = std::make_unique<OpDef>(std::move(def));
}

const OpDef* find_op(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.get();
}

std::vector<std::string> registered_op_names() {
  std::vector<std::string> names;
  for (const auto& [name, def] : registry()) names.push_back(name);
  return names;
}

}  // namespace reforge
