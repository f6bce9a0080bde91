#include "compiler/interpreter/planned_execution.h"

#include <fmt/format.h>

#include <cstring>

namespace reforge {

ValueMap run_planned(const Graph& g, const MemoryPlan& plan, const ValueMap& feeds, const InterpreterOptions& options) {
  std::vector<std::byte> arena(static_cast<size_t>(plan.arena_bytes));
  std::vector<const PlannedBuffer*> buffer(g.size(), nullptr);
  for (const PlannedBuffer& b : plan.buffers) {
    if (b.kind != ValueKind::workspace) buffer[b.value] = &b;
  }
  std::map<int, HostTensor> persistent;
  auto value_of = [&](int id) -> HostTensor {
    if (buffer[id]) return read_elements(g.node(id).type, arena.data() + buffer[id]->offset);
    return persistent.at(id);
  };
  for (int id : plan.schedule) {
    const Node& n = g.node(id);
    if (is_fed(n)) {
      persistent[id] = fed_value(n, feeds);
      continue;
    }
    std::vector<HostTensor> inputs;
    for (int in : n.inputs) inputs.push_back(value_of(in));
    std::vector<const HostTensor*> pointers;
    for (const HostTensor& t : inputs) pointers.push_back(&t);
    HostTensor result = evaluate_node(n, pointers, options);
    if (buffer[id]) {
      write_elements(result, arena.data() + buffer[id]->offset);
    } else {  // persistent by the plan (parameter gradients, in-place updates)
      persistent[id] = std::move(result);
    }
  }
  ValueMap out;
  for (const auto& [name, id] : g.outputs()) out[name] = value_of(id);
  return out;
}

}  // namespace reforge
