#include "compiler/lower/lower.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "compiler/kernel/lowering_hooks.h"

namespace reforge {
namespace {

class Lowerer {
 public:
  Lowerer(const Graph& g, const MemoryPlan& plan, const KernelGrouping& grouping,
          const kir::ReductionSchedule& reductions)
      : g_(g), plan_(plan), grouping_(grouping), reductions_(reductions), where_(g.size()), bound_(g.size(), false), alias_(g.size(), false) {}

  LoweredProgram run() {
    bind_buffers();
    for (int id : plan_.schedule) lower_node(id);
    for (const auto& [name, id] : g_.outputs()) {
      if (!bound_[id]) throw Error(fmt::format("output '{}' has no buffer in the plan", name));
      out_.program.outputs.push_back({name, g_.node(id).type, where_[id]});
    }
    out_.program.arena_bytes = plan_.arena_bytes;
    return std::move(out_);
  }

 private:
  // Computed by another node's kernel (a fused member, a multi-output
  // value, an absorbed operand): no launch of its own.
  bool computed_elsewhere(int id) const { return !grouping_.kernel_root.empty() && grouping_.kernel_root[id] != id; }
  // Computed by `root`'s kernel and stored from there (multi-output kernels).
  bool stored_by(int id, int root) const { return grouping_.is_stored(id) && grouping_.kernel_root[id] == root; }

  // Arena buffers from the plan; a persistent slot for every persistent value.
  void bind_buffers() {
    for (const PlannedBuffer& b : plan_.buffers) {
      if (b.kind == ValueKind::workspace) {
        if (!g_.node(b.value).regions.empty()) {
          throw Error(fmt::format("'{}' ({}) must be expanded before lowering", g_.node(b.value).name, b.op));
        }
        workspace_[b.value] = {-1, b.offset, b.bytes};
        continue;
      }
      where_[b.value] = {-1, b.offset, b.bytes};
      bound_[b.value] = true;
      alias_[b.value] = b.alias_of >= 0;
    }
    std::set<std::string> persistent;
    for (const PersistentValue& p : plan_.persistent) persistent.insert(p.name);
    for (int id : plan_.schedule) {
      const Node& n = g_.node(id);
      if (bound_[id] || !persistent.count(n.name)) continue;
      runtime::SlotRole role = is_fed(n) ? runtime::SlotRole::fed : runtime::SlotRole::computed;
      out_.program.slots.push_back({n.name, n.type, role});
      where_[id] = {static_cast<int>(out_.program.slots.size()) - 1, 0, n.type.bytes()};
      bound_[id] = true;
    }
  }

  void lower_node(int id) {
    const Node& n = g_.node(id);
    if (is_fed(n) || computed_elsewhere(id) || alias_[id]) return;  // aliases: the bytes are already there
    if (!n.def) throw Error(fmt::format("%{}: unknown op '{}'", n.name, n.op));
    if (!bound_[id]) throw Error(fmt::format("%{} ({}) has no buffer in the plan", n.name, n.op));
    switch (n.def->kind) {
      case OpKind::elementwise:
      case OpKind::view:
      case OpKind::reduction:
        return lower_kernel(id);
      case OpKind::library:
        return lower_library(id);
      case OpKind::source:
      case OpKind::structured:
        throw Error(fmt::format("%{} ({}) cannot be lowered: {} ops are expanded or fed", n.name, n.op,
                                op_kind_name(n.def->kind)));
    }
  }

  static std::string source(const Node& n) { return n.loc.known() ? n.loc.to_string() : "-"; }

  std::vector<TensorType> input_types(const Node& n) const {
    std::vector<TensorType> types;
    for (int in : n.inputs) types.push_back(g_.node(in).type);
    return types;
  }

  // One kernel computing node `root` (and the fused values it absorbs).
  void lower_kernel(int root) {
    const Node& n = g_.node(root);
    kir::KernelBuilder b(n.name);
    std::map<int, int> params;  // node id -> buffer parameter
    std::set<int> stored;       // values this kernel also stores
    runtime::Launch launch{.kind = runtime::Launch::Kind::kernel,
                           .work = n.type.elements(),
                           .node = n.name,
                           .op = n.op,
                           .source = source(n),
                           .output = 0,
                           .output_dtype = n.type.dtype};
    int output = b.buffer(n.name, n.type.dtype, n.type.elements(), true);
    launch.buffers.push_back(where_[root]);

    // The value of node `id` at `coords`: loaded from its buffer, or
    // computed here when the plan kept it out of memory.
    auto param_for = [&](int id) {
      auto it = params.find(id);
      if (it == params.end()) {
        const Node& node = g_.node(id);
        it = params.emplace(id, b.buffer(node.name, node.type.dtype, node.type.elements(), false)).first;
        launch.buffers.push_back(where_[id]);
      }
      return it->second;
    };
    std::function<kir::ValueId(int, const std::vector<kir::ValueId>&)> value_at, compute_at;
    // The builder shares equal expressions; this spares re-walking a value
    // read by several members (each walk would repeat its whole subtree).
    std::map<std::pair<int, std::vector<kir::ValueId>>, kir::ValueId> known;
    value_at = [&](int id, const std::vector<kir::ValueId>& coords) -> kir::ValueId {
      auto seen = known.find({id, coords});
      if (seen != known.end()) return seen->second;
      kir::ValueId value = compute_at(id, coords);
      known.emplace(std::make_pair(id, coords), value);
      return value;
    };
    compute_at = [&](int id, const std::vector<kir::ValueId>& coords) -> kir::ValueId {
      const Node& node = g_.node(id);
      if (id != root && bound_[id] && !stored_by(id, root)) {
        return b.load(param_for(id), b.flat_index(coords, node.type.shape));
      }
      // A reshape of a buffered value reads it at the same flat index.
      if (node.def && node.def->reinterprets_input && bound_[node.inputs[0]]) {
        return b.load(param_for(node.inputs[0]), b.flat_index(coords, node.type.shape));
      }
      if (!node.def || !node.def->element) {
        throw Error(fmt::format("%{} ({}) has no buffer and cannot be computed inside a kernel", node.name, node.op));
      }
      std::vector<TensorType> types = input_types(node);
      kir::InputReader read = [&](int input, const std::vector<kir::ValueId>& c) {
        return value_at(node.inputs.at(input), c);
      };
      kir::ValueId value = node.def->element({b, node, types, coords, read});
      if (id != root && stored_by(id, root) && !stored.count(id)) {
        stored.insert(id);
        int out = b.buffer(node.name, node.type.dtype, node.type.elements(), true);
        launch.buffers.push_back(where_[id]);
        b.store(out, b.flat_index(coords, node.type.shape), value);
      }
      return value;
    };

    std::vector<TensorType> types = input_types(n);
    kir::InputReader read = [&](int input, const std::vector<kir::ValueId>& c) {
      return value_at(n.inputs.at(input), c);
    };
    if (n.def->kind == OpKind::reduction) {
      kir::KernelContext context{b, n, types, read, output, reductions_};
      n.def->kernel(context);
      launch.work = std::max(launch.work, types.at(0).elements());  // it reads all its input
    } else {
      std::vector<kir::ValueId> coords = b.begin_loop_nest(n.type.shape);
      b.store(output, b.flat_index(coords, n.type.shape), value_at(root, coords));
      b.end_loop_nest();
    }
    kir::Kernel kernel = b.finish();
    launch.extent = kernel.parallel_extent();
    launch.flops = kir::count_flops(kernel);
    launch.function = intern_kernel(std::move(kernel));
    out_.program.launches.push_back(std::move(launch));
  }

  // Kernels that print alike (buffer names aside) share one symbol.
  std::string intern_kernel(kir::Kernel kernel) {
    std::string text = kir::print_kernel(kernel, false);
    auto it = symbols_.find(text);
    if (it != symbols_.end()) return it->second;
    std::string symbol = fmt::format("reforge_k{}", out_.kernels.size());
    kernel.name = symbol;
    symbols_.emplace(text, symbol);
    out_.kernels.push_back(std::move(kernel));
    return symbol;
  }

  void lower_library(int id) {
    const Node& n = g_.node(id);
    std::vector<bool> absorbed(n.inputs.size(), false);
    std::vector<runtime::BufferRef> buffers;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      int in = n.inputs[i];
      // An absorbed producer (a transpose read through a GEMM flag): the
      // call reads the producer's own input.
      if (computed_elsewhere(in) && grouping_.kernel_root[in] == id && n.def->absorbs_input) {
        absorbed[i] = true;
        in = g_.node(in).inputs.at(0);
      }
      if (!bound_[in]) {
        throw Error(fmt::format("%{} ({}) reads %{}, which has no buffer", n.name, n.op, g_.node(in).name));
      }
      buffers.push_back(where_[in]);
    }
    buffers.push_back(where_[id]);
    if (auto scratch = workspace_.find(id); scratch != workspace_.end()) buffers.push_back(scratch->second);
    kir::LibraryCall call;
    std::vector<TensorType> types = input_types(n);
    n.def->library({n, types, absorbed}, call);
    out_.program.launches.push_back({.kind = runtime::Launch::Kind::library,
                                     .function = call.function,
                                     .epilogue = call.epilogue ? intern_kernel(std::move(*call.epilogue)) : "",
                                     .buffers = std::move(buffers),
                                     .ints = call.ints,
                                     .reals = call.reals,
                                     .work = n.type.elements(),
                                     .node = n.name,
                                     .op = n.op,
                                     .source = source(n),
                                     .flops = call.flops,
                                     .output = static_cast<int>(n.inputs.size()),
                                     .output_dtype = n.type.dtype});
  }

  const Graph& g_;
  const MemoryPlan& plan_;
  const KernelGrouping& grouping_;
  const kir::ReductionSchedule& reductions_;
  std::vector<runtime::BufferRef> where_;
  std::vector<bool> bound_;
  std::vector<bool> alias_;                      // views that share their input's bytes
  std::map<int, runtime::BufferRef> workspace_;  // library calls' planned scratch
  std::map<std::string, std::string> symbols_;
  LoweredProgram out_;
};

}  // namespace

LoweredProgram lower_program(const Graph& graph, const MemoryPlan& plan, const KernelGrouping& grouping,
                             const kir::ReductionSchedule& reductions) {
  return Lowerer(graph, plan, grouping, reductions).run();
}

}  // namespace reforge
