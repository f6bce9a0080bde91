#include "compiler/interpreter/interpreter.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>

#include "runtime/initializer.h"

namespace reforge {
namespace {

// Values outside +-2^53 cannot be represented exactly by the reference
// storage; integer results there would be silently wrong.
void check_integer_range(const Node& n, const HostTensor& t) {
  if (!is_integer(n.type.dtype)) return;
  for (double v : t.data) {
    if (std::fabs(v) > 9007199254740992.0) {
      throw Error(fmt::format("%{}: integer value {} exceeds the interpreter's exact range (2^53)", n.name, v));
    }
  }
}

// `args` binds `arg` nodes (regions); `feeds` binds sources (top level).
std::vector<HostTensor> execute(const Graph& g, const ValueMap* feeds, std::vector<HostTensor>* args,
                                const InterpreterOptions& options) {
  // Only nodes some output needs are evaluated; values are dropped after
  // their last use.
  std::vector<bool> needed(g.size(), false);
  std::vector<int> last_use(g.size(), -1);
  for (const auto& [name, id] : g.outputs()) {
    needed[id] = true;
    last_use[id] = g.size();
  }
  for (int id = g.size() - 1; id >= 0; --id) {
    if (!needed[id]) continue;
    for (int in : g.node(id).inputs) {
      needed[in] = true;
      last_use[in] = std::max(last_use[in], id);
    }
  }

  // Computed values live in `values`; fed values and arguments are read
  // where the caller keeps them (no copies). `value[id]` points at either.
  std::vector<HostTensor> values(g.size());
  std::vector<const HostTensor*> value(g.size(), nullptr);
  std::vector<const HostTensor*> inputs;
  for (int id = 0; id < g.size(); ++id) {
    if (!needed[id]) continue;
    const Node& n = g.node(id);
    if (is_fed(n)) {
      if (!feeds) throw Error(fmt::format("no value fed for {} '{}'", n.op, n.name));
      value[id] = &fed_value(n, *feeds);
      continue;
    }
    if (source_kind(n) == SourceKind::arg) {
      int64_t index = n.attrs.get_int("index");
      if (!args || index < 0 || index >= static_cast<int64_t>(args->size())) {
        throw Error(fmt::format("region argument {} of '{}' was not supplied", index, g.name()));
      }
      value[id] = &(*args)[index];
      continue;
    }
    inputs.clear();
    for (int in : n.inputs) inputs.push_back(value[in]);
    values[id] = evaluate_node(n, inputs, options);
    value[id] = &values[id];
    for (int in : n.inputs) {
      if (last_use[in] == id) values[in] = HostTensor();
    }
  }
  std::vector<HostTensor> outputs;
  for (const auto& [name, id] : g.outputs()) outputs.push_back(*value[id]);
  return outputs;
}

}  // namespace

const HostTensor& fed_value(const Node& n, const ValueMap& feeds) {
  auto it = feeds.find(n.name);
  if (it == feeds.end()) throw Error(fmt::format("no value fed for {} '{}'", n.op, n.name));
  if (it->second.type != n.type) {
    throw Error(fmt::format("value fed for '{}' is {}, the graph declares {}", n.name, type_to_string(it->second.type),
                            type_to_string(n.type)));
  }
  return it->second;
}

HostTensor evaluate_node(const Node& n, const std::vector<const HostTensor*>& inputs,
                         const InterpreterOptions& options) {
  if (!n.def || !n.def->eval) throw Error(fmt::format("%{}: op '{}' cannot be evaluated", n.name, n.op));
  EvalContext ctx{n, inputs, [&](int region, std::vector<HostTensor> region_args) {
                    return run_region(*n.regions.at(region), std::move(region_args), options);
                  }};
  HostTensor out = n.def->eval(ctx);
  out.type = n.type;
  if (!(options.promote_f32_to_f64 && n.type.dtype == DType::f32)) round_to_dtype(out);
  check_integer_range(n, out);
  return out;
}

ValueMap run_graph(const Graph& graph, const ValueMap& feeds, const InterpreterOptions& options) {
  std::vector<HostTensor> values = execute(graph, &feeds, nullptr, options);
  ValueMap out;
  for (size_t i = 0; i < values.size(); ++i) out[graph.outputs()[i].first] = std::move(values[i]);
  return out;
}

std::vector<HostTensor> run_region(const Graph& region, std::vector<HostTensor> args,
                                   const InterpreterOptions& options) {
  return execute(region, nullptr, &args, options);
}

std::vector<runtime::PersistentInit> persistent_values(const Graph& graph) {
  std::vector<runtime::PersistentInit> out;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    const SourceKind source = source_kind(n);
    if (source != SourceKind::param && source != SourceKind::state) continue;
    const std::string& kind = n.attrs.get_string("init");
    std::optional<runtime::InitKind> init = runtime::parse_init_kind(kind);
    if (!init) throw Error(fmt::format("'{}': unknown initialiser '{}'", n.name, kind));
    out.push_back({.name = n.name,
                   .type = n.type,
                   .parameter = source == SourceKind::param,
                   .init = *init,
                   .scale = n.attrs.get_float("scale")});
  }
  return out;
}

ValueMap initial_values(const Graph& graph, uint64_t seed) {
  ValueMap values;
  for (const runtime::PersistentInit& p : persistent_values(graph)) {
    HostTensor t(p.type);
    uint64_t stream = runtime::stable_name_hash(p.name);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = runtime::initial_element(p.init, p.scale, seed, stream, i);
    round_to_dtype(t);
    values[p.name] = std::move(t);
  }
  return values;
}

}  // namespace reforge
