// The memory plan of a graph: when each transient value is born and dies,
// where it sits in one arena, and what the persistent values cost. It is
// data: computed once, dumped (plan_dump.h), and obeyed by execution.
//
// Pieces, each separate: schedule (schedule.h) -> liveness (liveness
// intervals below) -> buffer assignment (offsets; buffer_assignment.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

enum class ValueKind {
  // persistent
  parameter,
  optimizer_state,
  input,
  parameter_gradient,  // the gradient the optimizer reads, one per parameter
  update,              // a parameter's or state's next value, written over it in place
  // transient
  activation,  // forward float values
  decision,    // forward integer values (LSH buckets, sort orders, indices)
  gradient,    // backward values that carry gradient
  recompute,   // backward values recomputed or reconstructed from the forward
  optimizer,   // the update's own values
  workspace,   // scratch of a structured op (its region's own plan) or of a library call
  communication,  // a bucket of parameter gradients summed over the replicas (data parallel)
};
const char* value_kind_name(ValueKind kind);
bool is_persistent(ValueKind kind);

// What the planner needs beyond the nodes' roles (Node::role): which graph
// outputs are next values that the runtime writes back over their sources.
// Empty for a plain graph.
struct ValueProvenance {
  std::set<std::string> update_outputs;  // output names
};

struct PlannedBuffer {
  int value = -1;  // node id (for a workspace: the node whose scratch it is)
  std::string name;
  std::string op;
  SourceLoc loc;
  TensorType type;
  ValueKind kind = ValueKind::activation;
  int64_t bytes = 0;
  int64_t offset = 0;
  int first_step = 0;  // written at this step
  int last_step = 0;   // last read at this step
  int allocation = 0;  // buffers sharing an allocation (in-place reuse, aliases) share this
  int alias_of = -1;   // a view of this node's buffer (same bytes, no copy), or -1
};

struct PersistentValue {
  std::string name;
  ValueKind kind;
  TensorType type;
  int64_t bytes;
};

struct SavedForBackward {
  int buffer;            // index into MemoryPlan::buffers
  std::string consumer;  // the first backward node that reads it
  std::string consumer_op;
};

struct PlanOptions {
  bool buffer_reuse = true;  // false: every buffer gets its own space (hunting aliasing bugs)
  bool in_place = true;      // elementwise results may take over a dying input's buffer
  int64_t alignment = 64;
  // Where the library calls run: their workspaces are sized for its
  // kernels (plan_backend takes it from the Target).
  LibraryDevice library_device = LibraryDevice::cpu;
};

struct MemoryPlan {
  std::string graph_name;
  std::vector<int> schedule;  // node ids in execution order; step i runs schedule[i]
  std::vector<PlannedBuffer> buffers;
  int64_t arena_bytes = 0;
  int64_t lower_bound_bytes = 0;  // the largest sum of simultaneously live bytes
  int peak_step = 0;              // where that sum is reached
  std::vector<PersistentValue> persistent;
  std::vector<SavedForBackward> saved_for_backward;
  int64_t fused_values = 0;  // values kept inside fused kernels (no buffer)
  int64_t fused_bytes = 0;
  PlanOptions options;

  int64_t persistent_bytes(ValueKind kind) const;
  // Buffers live at `step`, largest first.
  std::vector<const PlannedBuffer*> live_at(int step) const;
  const PlannedBuffer* buffer_of(int value) const;  // the value's own buffer (not a workspace)
};

// Values computed inside a fused kernel (see compiler/passes/
// elementwise_fusion.h) need no memory: `kernel_root[id]` is the node whose
// kernel computes node `id` (itself when unfused), and a node that is not
// its own root gets no buffer. Empty: nothing fused.
//
// A multi-output kernel also stores some of the values it computes:
// `stored[id]` marks a node computed by another root's kernel that keeps
// its buffer (Adam's m and v next values, computed with the parameter's).
struct KernelGrouping {
  std::vector<int> kernel_root;
  std::vector<bool> stored;

  bool fused_away(int id) const { return !kernel_root.empty() && kernel_root[id] != id && !is_stored(id); }
  bool is_stored(int id) const { return !stored.empty() && stored[id]; }
};

MemoryPlan plan_memory(const Graph& graph, const ValueProvenance& provenance, const PlanOptions& options = {},
                       const KernelGrouping& kernels = {});

// The checker: two buffers of different allocations that are live at the
// same step must not overlap in the arena, and every buffer must fit.
std::optional<std::string> find_plan_conflict(const MemoryPlan& plan);

}  // namespace reforge
