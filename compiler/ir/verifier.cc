#include "compiler/ir/verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <unordered_set>

namespace reforge {
namespace {

// Finds a cycle among in-range input edges; returns it as "%a -> %b -> %a".
// Depth-first with an explicit stack: a chain of 60,000 forward references
// must not overflow the machine's stack.
std::optional<std::string> find_cycle(const Graph& g) {
  enum class Mark { unvisited, active, done };
  std::vector<Mark> mark(g.size(), Mark::unvisited);
  struct Frame {
    int id;
    size_t next_input;
  };
  std::vector<Frame> stack;
  for (int root = 0; root < g.size(); ++root) {
    if (mark[root] != Mark::unvisited) continue;
    stack.push_back({root, 0});
    mark[root] = Mark::active;
    while (!stack.empty()) {
      Frame& f = stack.back();
      const std::vector<int>& inputs = g.node(f.id).inputs;
      if (f.next_input == inputs.size()) {
        mark[f.id] = Mark::done;
        stack.pop_back();
        continue;
      }
      int in = inputs[f.next_input++];
      if (in < 0 || in >= g.size()) continue;
      if (mark[in] == Mark::active) {
        std::string path;
        auto start = std::find_if(stack.begin(), stack.end(), [in](const Frame& s) { return s.id == in; });
        for (auto it = start; it != stack.end(); ++it) path += "%" + g.node(it->id).name + " -> ";
        return path + "%" + g.node(in).name;
      }
      if (mark[in] == Mark::unvisited) {
        mark[in] = Mark::active;
        stack.push_back({in, 0});
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_attributes(const Node& n) {
  for (const AttrSpec& spec : n.def->attrs) {
    if (!n.attrs.has(spec.name)) {
      if (spec.required) return fmt::format("op '{}' is missing attribute '{}'", n.op, spec.name);
      continue;
    }
    AttrKind kind = attr_kind(n.attrs.entries().at(spec.name));
    if (kind != spec.kind) {
      return fmt::format("attribute '{}' of op '{}' must be {}, got {}", spec.name, n.op, attr_kind_name(spec.kind),
                         attr_kind_name(kind));
    }
  }
  for (const auto& [name, value] : n.attrs.entries()) {
    bool known = false;
    for (const AttrSpec& spec : n.def->attrs) known = known || spec.name == name;
    if (!known) return fmt::format("op '{}' has unknown attribute '{}'", n.op, name);
  }
  return std::nullopt;
}

std::optional<std::string> check_node(const Graph& g, int id) {
  const Node& n = g.node(id);
  if (n.def == nullptr) return fmt::format("unknown op '{}'", n.op);
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    int in = n.inputs[k];
    if (in < 0 || in >= g.size()) return fmt::format("input #{} is dangling (no value with id {})", k, in);
    if (in >= id) return fmt::format("uses %{} before its definition", g.node(in).name);
  }
  if (n.def->arity >= 0 && static_cast<int>(n.inputs.size()) != n.def->arity) {
    return fmt::format("op '{}' expects {} inputs, got {}", n.op, n.def->arity, n.inputs.size());
  }
  if (auto problem = check_attributes(n)) return problem;
  if (static_cast<int>(n.regions.size()) != n.def->num_regions) {
    return fmt::format("op '{}' expects {} regions, got {}", n.op, n.def->num_regions, n.regions.size());
  }
  for (const auto& region : n.regions) {
    if (auto problem = find_problem(*region)) return fmt::format("in region '{}': {}", region->name(), *problem);
  }
  if (!n.def->infer) return std::nullopt;  // sources declare their type
  std::vector<TensorType> input_types;
  for (int in : n.inputs) input_types.push_back(g.node(in).type);
  TensorType inferred;
  try {
    inferred = n.def->infer(InferContext{input_types, n.attrs, n.regions});
  } catch (const Error& e) {
    return fmt::format("op '{}': {}", n.op, e.what());
  }
  if (inferred != n.type) {
    return fmt::format("type mismatch: recorded {}, the shape rule of '{}' gives {}", type_to_string(n.type), n.op,
                       type_to_string(inferred));
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> find_problem(const Graph& g) {
  if (auto cycle = find_cycle(g)) return "cycle: " + *cycle;
  std::unordered_set<std::string> names;
  for (int id = 0; id < g.size(); ++id) {
    const Node& n = g.node(id);
    if (!names.insert(n.name).second) return fmt::format("duplicate value name %{}", n.name);
    if (auto problem = check_node(g, id)) return fmt::format("%{}: {}", n.name, *problem);
  }
  std::unordered_set<std::string> output_names;
  for (const auto& [name, id] : g.outputs()) {
    if (id < 0 || id >= g.size()) return fmt::format("output '{}' is dangling (no value with id {})", name, id);
    if (!output_names.insert(name).second) return fmt::format("output '{}' defined twice", name);
  }
  return std::nullopt;
}

void verify(const Graph& graph) {
  if (auto problem = find_problem(graph)) throw Error(fmt::format("malformed graph '{}': {}", graph.name(), *problem));
}

}  // namespace reforge
