#include "compiler/ir/inline_region.h"

#include <fmt/format.h>

namespace reforge {

std::vector<Tensor> inline_region(Graph& parent, const Graph& region, const std::vector<Tensor>& args) {
  std::vector<int> mapped(region.size(), -1);
  for (int id = 0; id < region.size(); ++id) {
    const Node& n = region.node(id);
    if (source_kind(n) == SourceKind::arg) {
      int64_t index = n.attrs.get_int("index");
      if (index < 0 || index >= static_cast<int64_t>(args.size())) {
        throw Error(fmt::format("region '{}' reads argument {} of {}", region.name(), index, args.size()));
      }
      mapped[id] = args[index].id;
      continue;
    }
    std::vector<int> inputs;
    for (int in : n.inputs) inputs.push_back(mapped.at(in));
    std::unique_ptr<Node> copy = n.copy(std::move(inputs));
    copy->name = parent.unique_name(n.name, /*scoped=*/false);  // the region's names carry their own scope
    mapped[id] = parent.append(std::move(copy));
  }
  std::vector<Tensor> outputs;
  for (const auto& [name, id] : region.outputs()) outputs.push_back(parent.value(mapped.at(id)));
  return outputs;
}

std::vector<TensorType> region_arg_types(const Graph& region) {
  std::vector<TensorType> types;
  std::vector<bool> seen;
  for (int id = 0; id < region.size(); ++id) {
    const Node& n = region.node(id);
    if (source_kind(n) != SourceKind::arg) continue;
    int64_t index = n.attrs.get_int("index");
    if (index < 0 || index > 1000000) throw Error(fmt::format("bad argument index {}", index));
    if (index >= static_cast<int64_t>(types.size())) {
      types.resize(index + 1);
      seen.resize(index + 1, false);
    }
    if (seen[index]) throw Error(fmt::format("argument {} defined twice", index));
    seen[index] = true;
    types[index] = n.type;
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) throw Error(fmt::format("argument {} is missing", i));
  }
  return types;
}

}  // namespace reforge
