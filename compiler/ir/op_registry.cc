#include <map>
#include <memory>

#include "compiler/ir/error.h"
#include "compiler/ir/op_def.h"

namespace reforge {
namespace {

std::map<std::string, std::unique_ptr<OpDef>>& registry() {
  static auto* ops = new std::map<std::string, std::unique_ptr<OpDef>>();
  return *ops;
}

}  // namespace

void register_op(OpDef def) {
  std::string name = def.name;
  if (registry().count(name)) throw Error("op '" + name + "' registered twice");
  registry()[name] = std::make_unique<OpDef>(std::move(def));
}

const OpDef* find_op(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.get();
}

}  // namespace reforge
