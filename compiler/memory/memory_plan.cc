#include "compiler/memory/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "compiler/memory/buffer_assignment.h"
#include "compiler/memory/liveness.h"
#include "compiler/memory/schedule.h"

namespace reforge {
namespace {

ValueKind classify(const Node& n, bool is_update) {
  if (is_update) return ValueKind::update;
  if (n.role == ValueRole::parameter_gradient) return ValueKind::parameter_gradient;
  switch (source_kind(n)) {
    case SourceKind::param:
      return ValueKind::parameter;
    case SourceKind::state:
      return ValueKind::optimizer_state;
    case SourceKind::input:
    case SourceKind::arg:
      return ValueKind::input;
    case SourceKind::none:
      break;
  }
  switch (n.role) {
    case ValueRole::gradient:
    case ValueRole::parameter_gradient:
      return ValueKind::gradient;
    case ValueRole::optimizer:
      return ValueKind::optimizer;
    case ValueRole::communication:
      return ValueKind::communication;
    case ValueRole::recompute:
      return ValueKind::recompute;
    case ValueRole::forward:
    case ValueRole::unknown:
      break;
  }
  return is_float(n.type.dtype) ? ValueKind::activation : ValueKind::decision;
}

// Scratch a node needs while it runs: for a structured op the largest of
// its regions' own plans (regions run one after another), for a library
// op what it asks for.
int64_t workspace_bytes(const Graph& g, const Node& n, const PlanOptions& options) {
  int64_t bytes = 0;
  for (const auto& region : n.regions) bytes = std::max(bytes, plan_memory(*region, {}, options).arena_bytes);
  if (n.regions.empty() && n.def && n.def->workspace_bytes) {
    std::vector<TensorType> inputs;
    for (int in : n.inputs) inputs.push_back(g.node(in).type);
    bytes = n.def->workspace_bytes(n, inputs, options.library_device);
  }
  return bytes;
}

// Whether the kernel rooted at `root` reads `value` only at the element it
// writes: through elementwise members and reshapes, whose reads are all
// that way too. A fused view (a transpose, a slice) reads another element,
// so the kernel's result must not take the value's memory: writing one
// element would overwrite one still to be read.
bool read_at_written_element(const Graph& g, const std::vector<std::vector<int>>& readers,
                             const KernelGrouping& kernels, int value, int root) {
  if (kernels.kernel_root.empty()) return true;  // no fusion: the root reads it directly
  for (int reader : readers[value]) {
    if (reader == root || kernels.kernel_root[reader] != root) continue;
    const OpDef* def = g.node(reader).def;
    if (def == nullptr || !(def->elementwise() || def->reinterprets_input)) return false;
    if (!read_at_written_element(g, readers, kernels, reader, root)) return false;
  }
  return true;
}

}  // namespace

const char* value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::parameter:
      return "parameter";
    case ValueKind::optimizer_state:
      return "optimizer_state";
    case ValueKind::input:
      return "input";
    case ValueKind::parameter_gradient:
      return "parameter_gradient";
    case ValueKind::update:
      return "update";
    case ValueKind::activation:
      return "activation";
    case ValueKind::decision:
      return "decision";
    case ValueKind::gradient:
      return "gradient";
    case ValueKind::recompute:
      return "recompute";
    case ValueKind::optimizer:
      return "optimizer";
    case ValueKind::workspace:
      return "workspace";
    case ValueKind::communication:
      return "communication";
  }
  return "?";
}

bool is_persistent(ValueKind kind) {
  return kind == ValueKind::parameter || kind == ValueKind::optimizer_state || kind == ValueKind::input ||
         kind == ValueKind::parameter_gradient || kind == ValueKind::update;
}

int64_t MemoryPlan::persistent_bytes(ValueKind kind) const {
  int64_t total = 0;
  for (const PersistentValue& v : persistent) total += v.kind == kind ? v.bytes : 0;
  return total;
}

std::vector<const PlannedBuffer*> MemoryPlan::live_at(int step) const {
  std::vector<const PlannedBuffer*> live;
  for (const PlannedBuffer& b : buffers) {
    if (b.first_step <= step && step <= b.last_step) live.push_back(&b);
  }
  std::stable_sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->bytes > b->bytes; });
  return live;
}

const PlannedBuffer* MemoryPlan::buffer_of(int value) const {
  for (const PlannedBuffer& b : buffers) {
    if (b.value == value && b.kind != ValueKind::workspace) return &b;
  }
  return nullptr;
}

MemoryPlan plan_memory(const Graph& g, const ValueProvenance& provenance, const PlanOptions& options,
                       const KernelGrouping& kernels) {
  MemoryPlan plan;
  plan.graph_name = g.name();
  plan.options = options;
  plan.schedule = schedule_nodes(g);
  const bool grouped = !kernels.kernel_root.empty();
  std::vector<LiveInterval> live = compute_liveness(g, plan.schedule, grouped ? &kernels.kernel_root : nullptr);
  std::set<int> outputs, updates;
  for (const auto& [name, id] : g.outputs()) {
    outputs.insert(id);
    if (provenance.update_outputs.count(name)) updates.insert(id);
  }

  // One buffer per transient value, in schedule order, plus a workspace
  // for each structured op and each library op that asks for scratch; in-place reuse puts a result into the
  // allocation of an elementwise input that dies at the same step, and a
  // reshape shares its input's allocation.
  const std::vector<std::vector<int>> readers = readers_of(g);
  std::vector<int> allocation_of_value(g.size(), -1);
  std::vector<AllocationRequest> allocations;
  for (int step = 0; step < static_cast<int>(plan.schedule.size()); ++step) {
    const int id = plan.schedule[step];
    const Node& n = g.node(id);
    ValueKind kind = classify(n, updates.count(id) > 0);
    if (is_persistent(kind)) {
      plan.persistent.push_back({n.name, kind, n.type, n.type.bytes()});
      continue;
    }
    if (kernels.fused_away(id)) {
      ++plan.fused_values;
      plan.fused_bytes += n.type.bytes();
      continue;
    }
    PlannedBuffer b{id, n.name, n.op, n.loc, n.type, kind, n.type.bytes(), 0, live[id].first, live[id].last, -1};
    // A reshape of a buffered value is that buffer: the allocation lives
    // on until the view's last reader.
    int base = n.def && n.def->reinterprets_input ? n.inputs[0] : -1;
    if (base >= 0 && allocation_of_value[base] >= 0 && g.node(base).type.bytes() == b.bytes) {
      b.allocation = allocation_of_value[base];
      b.alias_of = base;
      allocations[b.allocation].last = std::max(allocations[b.allocation].last, b.last_step);
    }
    const bool in_place = n.def && (n.def->elementwise() || n.def->result_in_place_of_input);
    if (b.allocation < 0 && options.in_place && options.buffer_reuse && in_place) {
      const size_t candidates = n.def->elementwise() ? n.inputs.size() : std::min<size_t>(1, n.inputs.size());
      for (size_t i = 0; i < candidates; ++i) {
        int in = n.inputs[i];
        int a = allocation_of_value[in];
        if (a < 0 || outputs.count(in) || allocations[a].last != b.first_step || g.node(in).type.bytes() != b.bytes ||
            !read_at_written_element(g, readers, kernels, in, id)) {
          continue;
        }
        b.allocation = a;
        allocations[a].last = std::max(allocations[a].last, b.last_step);
        break;
      }
    }
    if (b.allocation < 0) {
      b.allocation = static_cast<int>(allocations.size());
      allocations.push_back({b.bytes, b.first_step, b.last_step});
    }
    allocation_of_value[id] = b.allocation;
    plan.buffers.push_back(b);
    int64_t scratch = workspace_bytes(g, n, options);
    if (!n.regions.empty() || scratch > 0) {
      PlannedBuffer w{id,
                      n.name + ".workspace",
                      n.op,
                      n.loc,
                      {DType::f32, {}},
                      ValueKind::workspace,
                      scratch,
                      0,
                      step,
                      step,
                      static_cast<int>(allocations.size())};
      w.type.shape = {w.bytes / 4};
      allocations.push_back({w.bytes, step, step});
      plan.buffers.push_back(w);
    }
  }

  ArenaAssignment arena = assign_offsets(allocations, options.buffer_reuse, options.alignment);
  plan.arena_bytes = arena.arena_bytes;
  for (PlannedBuffer& b : plan.buffers) b.offset = arena.offsets[b.allocation];

  // The no-fragmentation lower bound: the most bytes live at once.
  std::vector<int64_t> delta(plan.schedule.size() + 2, 0);
  for (const AllocationRequest& a : allocations) {
    delta[a.first] += a.bytes;
    delta[a.last + 1] -= a.bytes;
  }
  int64_t running = 0;
  for (size_t step = 0; step + 1 < delta.size(); ++step) {
    running += delta[step];
    if (running > plan.lower_bound_bytes) {
      plan.lower_bound_bytes = running;
      plan.peak_step = static_cast<int>(step);
    }
  }

  // Forward values that the backward pass reads, with their first reader
  // there (a training step: its nodes have roles).
  auto in_forward = [&](int id) {
    ValueRole role = g.node(id).role;
    return role == ValueRole::forward || role == ValueRole::unknown;
  };
  bool training_step = false;
  for (int id = 0; id < g.size(); ++id) training_step = training_step || g.node(id).role != ValueRole::unknown;
  if (training_step) {
    std::vector<int> backward_reader(g.size(), -1);  // earliest in schedule order
    for (int id : plan.schedule) {
      if (in_forward(id)) continue;
      for (int in : g.node(id).inputs) {
        if (backward_reader[in] < 0) backward_reader[in] = id;
      }
    }
    for (size_t i = 0; i < plan.buffers.size(); ++i) {
      const PlannedBuffer& b = plan.buffers[i];
      if (b.kind != ValueKind::activation && b.kind != ValueKind::decision) continue;
      int reader = backward_reader[b.value];
      if (reader >= 0) plan.saved_for_backward.push_back({static_cast<int>(i), g.node(reader).name, g.node(reader).op});
    }
  }
  return plan;
}

namespace {

std::string describe_overlap(const PlannedBuffer& a, const PlannedBuffer& b) {
  return fmt::format("{} [{}, {}) steps {}..{} overlaps {} [{}, {}) steps {}..{}", a.name, a.offset, a.offset + a.bytes,
                     a.first_step, a.last_step, b.name, b.offset, b.offset + b.bytes, b.first_step, b.last_step);
}

bool overlap(const PlannedBuffer& a, const PlannedBuffer& b) {
  bool in_time = a.first_step <= b.last_step && b.first_step <= a.last_step;
  bool in_space = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
  return a.allocation != b.allocation && in_time && in_space && a.bytes > 0 && b.bytes > 0;
}

// Every pair: the definition, for when the sweep below cannot decide.
std::optional<std::string> find_conflict_pairwise(const std::vector<PlannedBuffer>& bs,
                                                  const std::vector<size_t>& subset) {
  for (size_t i = 0; i < subset.size(); ++i) {
    for (size_t j = i + 1; j < subset.size(); ++j) {
      if (overlap(bs[subset[i]], bs[subset[j]])) return describe_overlap(bs[subset[i]], bs[subset[j]]);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> find_plan_conflict(const MemoryPlan& plan) {
  const auto& bs = plan.buffers;
  for (const PlannedBuffer& b : bs) {
    if (b.offset < 0 || b.bytes < 0 || b.offset > plan.arena_bytes || b.bytes > plan.arena_bytes - b.offset) {
      return fmt::format("buffer {} [{}, {}) lies outside the arena of {} bytes", b.name, b.offset, b.offset + b.bytes,
                         plan.arena_bytes);
    }
  }
  // Each allocation is one block of the arena over one stretch of steps
  // (views and in-place results share their base's block). Sweeping the
  // steps with the live blocks ordered by offset, a new block can only
  // collide with its neighbours: O(n log n) instead of every pair, which
  // matters for graphs of hundreds of layers.
  struct Block {
    int64_t begin = INT64_MAX, end = 0;
    int first = INT32_MAX, last = -1;
    std::vector<size_t> buffers;
  };
  std::map<int, Block> blocks;
  for (size_t i = 0; i < bs.size(); ++i) {
    if (bs[i].bytes == 0) continue;
    Block& k = blocks[bs[i].allocation];
    k.begin = std::min(k.begin, bs[i].offset);
    k.end = std::max(k.end, bs[i].offset + bs[i].bytes);
    k.first = std::min(k.first, bs[i].first_step);
    k.last = std::max(k.last, bs[i].last_step);
    k.buffers.push_back(i);
  }
  std::vector<const Block*> order;
  for (const auto& [allocation, block] : blocks) order.push_back(&block);
  std::sort(order.begin(), order.end(), [](const Block* a, const Block* b) { return a->first < b->first; });
  std::map<int64_t, const Block*> live;  // by offset; never overlapping
  std::multimap<int, int64_t> ends;      // last step -> offset of a live block
  for (const Block* k : order) {
    while (!ends.empty() && ends.begin()->first < k->first) {
      live.erase(ends.begin()->second);
      ends.erase(ends.begin());
    }
    const Block* other = nullptr;
    auto next = live.lower_bound(k->begin);
    if (next != live.end() && next->first < k->end) other = next->second;
    if (!other && next != live.begin() && std::prev(next)->second->end > k->begin) other = std::prev(next)->second;
    if (other) {
      // The blocks overlap; name the buffers that do, or, if only the
      // blocks' outlines do, decide pair by pair.
      std::vector<size_t> both = k->buffers;
      both.insert(both.end(), other->buffers.begin(), other->buffers.end());
      if (auto conflict = find_conflict_pairwise(bs, both)) return conflict;
      std::vector<size_t> all(bs.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = i;
      return find_conflict_pairwise(bs, all);
    }
    live.emplace(k->begin, k);
    ends.emplace(k->last, k->begin);
  }
  return std::nullopt;
}

}  // namespace reforge
