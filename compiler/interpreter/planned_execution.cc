#include "compiler/interpreter/planned_execution.h"

#include <fmt/format.h>

#include <cstring>

namespace reforge {
namespace {

// Stores `t` at `at` in its dtype's layout.
void store(const HostTensor& t, std::byte* at) {
  for (int64_t i = 0; i < t.size(); ++i) {
    switch (t.dtype()) {
      case DType::f32:
        reinterpret_cast<float*>(at)[i] = static_cast<float>(t[i]);
        break;
      case DType::f64:
        reinterpret_cast<double*>(at)[i] = t[i];
        break;
      case DType::i32:
        reinterpret_cast<int32_t*>(at)[i] = static_cast<int32_t>(t[i]);
        break;
      case DType::i64:
        reinterpret_cast<int64_t*>(at)[i] = static_cast<int64_t>(t[i]);
        break;
      case DType::boolean:
        reinterpret_cast<uint8_t*>(at)[i] = t[i] != 0.0;
        break;
    }
  }
}

HostTensor load(const TensorType& type, const std::byte* at) {
  HostTensor t(type);
  for (int64_t i = 0; i < t.size(); ++i) {
    switch (type.dtype) {
      case DType::f32:
        t[i] = reinterpret_cast<const float*>(at)[i];
        break;
      case DType::f64:
        t[i] = reinterpret_cast<const double*>(at)[i];
        break;
      case DType::i32:
        t[i] = reinterpret_cast<const int32_t*>(at)[i];
        break;
      case DType::i64:
        t[i] = static_cast<double>(reinterpret_cast<const int64_t*>(at)[i]);
        break;
      case DType::boolean:
        t[i] = reinterpret_cast<const uint8_t*>(at)[i];
        break;
    }
  }
  return t;
}

}  // namespace

ValueMap run_planned(const Graph& g, const MemoryPlan& plan, const ValueMap& feeds, const InterpreterOptions& options) {
  std::vector<std::byte> arena(static_cast<size_t>(plan.arena_bytes));
  std::vector<const PlannedBuffer*> buffer(g.size(), nullptr);
  for (const PlannedBuffer& b : plan.buffers) {
    if (b.kind != ValueKind::workspace) buffer[b.value] = &b;
  }
  std::map<int, HostTensor> persistent;
  auto value_of = [&](int id) -> HostTensor {
    if (buffer[id]) return load(g.node(id).type, arena.data() + buffer[id]->offset);
    return persistent.at(id);
  };
  for (int id : plan.schedule) {
    const Node& n = g.node(id);
    if (is_fed_op(n.op)) {
      persistent[id] = fed_value(n, feeds);
      continue;
    }
    std::vector<HostTensor> inputs;
    for (int in : n.inputs) inputs.push_back(value_of(in));
    std::vector<const HostTensor*> pointers;
    for (const HostTensor& t : inputs) pointers.push_back(&t);
    HostTensor result = evaluate_node(n, pointers, options);
    if (buffer[id]) {
      store(result, arena.data() + buffer[id]->offset);
    } else {  // persistent by the plan (parameter gradients, in-place updates)
      persistent[id] = std::move(result);
    }
  }
  ValueMap out;
  for (const auto& [name, id] : g.outputs()) out[name] = value_of(id);
  return out;
}

}  // namespace reforge
