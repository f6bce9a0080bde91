// The Graph IR: a typed dataflow graph of single-result nodes.
//
// A node's id is its index in Graph::nodes(); the graph is kept in
// topological order (inputs are defined before use), so a forward walk is
// an execution order. A node may own regions: nested graphs that structured
// ops (chunked_map, reversible) run, each closed over its own `arg` nodes.
// A Graph is also the DSL builder (see compiler/dsl/dsl.h for the ops).
#pragma once

#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "compiler/ir/attributes.h"
#include "base/error.h"
#include "compiler/ir/op_def.h"
#include "base/types.h"

namespace reforge {

class Graph;

// What a value is for in a training step. compile_training_step sets it
// after differentiation; every pass keeps it (Node::copy), so the memory
// planner reads it from the node instead of matching names.
enum class ValueRole {
  unknown,             // a plain graph, not a training step
  forward,             // the model's forward pass
  gradient,            // backward values that carry gradient
  parameter_gradient,  // the gradient the optimizer reads for a parameter
  recompute,           // backward values that recompute or rebuild the forward
  optimizer,           // the optimizer's own values
  communication,       // gradient buckets summed over the replicas (data parallel)
};

struct Node {
  std::string op;
  const OpDef* def = nullptr;  // resolved from `op`; null if unknown
  std::vector<int> inputs;     // ids of nodes in the same graph
  AttrMap attrs;
  TensorType type;
  std::string name;  // unique in its graph; carries the DSL scope path
  SourceLoc loc;     // the user's DSL call that created it
  std::vector<std::unique_ptr<Graph>> regions;
  ValueRole role = ValueRole::unknown;

  // The one way to make a node from another: every field copied (regions
  // cloned unless `with_regions` is false), with `new_inputs` as inputs.
  // A field added to Node is copied here and nowhere else.
  std::unique_ptr<Node> copy(std::vector<int> new_inputs, bool with_regions = true) const;
};

// A handle to one value (node result) of a graph.
struct Tensor {
  Graph* graph = nullptr;
  int id = -1;

  bool valid() const { return graph != nullptr && id >= 0; }
  const Node& node() const;
  const TensorType& type() const;
  const Shape& shape() const { return type().shape; }
  DType dtype() const { return type().dtype; }
  int64_t rank() const { return type().rank(); }
  // Size of dimension `axis`; negative axes count from the end.
  int64_t dim(int64_t axis) const;
  // Gives the value a readable name inside the current scope.
  Tensor named(const std::string& name) const;
};

// How a parameter is initialised (recorded as node attributes, so the
// printed IR says it).
struct Init {
  std::string kind = "normal";  // normal | uniform | zeros | ones | constant
  double scale = 0.02;          // stddev for normal, half-width for uniform, value for constant

  static Init normal(double stddev) { return {"normal", stddev}; }
  static Init uniform(double half_width) { return {"uniform", half_width}; }
  static Init zeros() { return {"zeros", 0.0}; }
  static Init ones() { return {"ones", 1.0}; }
  static Init constant(double value) { return {"constant", value}; }
};

SourceLoc to_source_loc(const std::source_location& loc);

// A building block (models/blocks/) holds one of these while it builds:
// until it ends, an error at `loc` names `caller` first — the model
// author's line that called the block — and the line inside the block
// after it. The outermost call wins (a block calling a block still names
// the author); it covers the regions built meanwhile, in this thread.
class BlockCall {
 public:
  explicit BlockCall(const std::source_location& caller);
  ~BlockCall();
  BlockCall(const BlockCall&) = delete;
  BlockCall& operator=(const BlockCall&) = delete;

 private:
  bool outermost_;
};
[[nodiscard]] inline BlockCall called_from(const std::source_location& caller) { return BlockCall(caller); }

// How an error at `loc` begins: "file:line: ", with an enclosing block's
// caller first ("caller: in the block at file:line: "); "" when unknown.
std::string error_location(const SourceLoc& loc);

// Which source a node's value is (its op's OpDef::source): input, param,
// state (fed by the caller) or arg (a region's argument); none for a
// computed value.
SourceKind source_kind(const Node& node);
bool is_source(const Node& node);
// The sources a caller feeds: input, param, state.
bool is_fed(const Node& node);
// Every `param` node of `graph`, in order.
std::vector<Tensor> parameters(Graph& graph);

class Graph {
 public:
  explicit Graph(std::string name = "main") : name_(std::move(name)) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }

  // Float type for parameters and constants built without an explicit dtype.
  DType default_float() const { return default_float_; }
  void set_default_float(DType dtype) { default_float_ = dtype; }

  // ---- sources ----
  Tensor input(const std::string& name, TensorType type, std::source_location loc = std::source_location::current());
  Tensor param(const std::string& name, Shape shape, Init init = Init::normal(0.02),
               std::source_location loc = std::source_location::current());
  // An argument of a region graph; `index` is its position among the
  // structured op's operands as the region sees them.
  Tensor arg(int index, TensorType type, std::source_location loc = std::source_location::current());
  // Persistent non-trainable values carried from step to step (optimizer
  // moments, step counters).
  Tensor state(const std::string& name, TensorType type, Init init = Init::zeros(),
               std::source_location loc = std::source_location::current());
  void output(const std::string& name, Tensor value);

  // ---- node creation ----
  // Infers the result type through the op's shape rule; a failure throws
  // reforge::Error naming `loc`, the op and every input shape.
  Tensor add(const std::string& op, const std::vector<Tensor>& inputs, AttrMap attrs, const SourceLoc& loc,
             std::vector<std::unique_ptr<Graph>> regions = {});
  // Appends a fully formed node without inference (the parser uses this;
  // the verifier checks it afterwards). Returns its id.
  int append(std::unique_ptr<Node> node);

  // While the returned guard lives, nodes created by add() record `loc`
  // instead of their own call site (autodiff attributes gradient nodes to
  // the user's forward line this way).
  class LocationOverride {
   public:
    LocationOverride(Graph* graph, SourceLoc loc);
    ~LocationOverride();
    LocationOverride(const LocationOverride&) = delete;
    LocationOverride& operator=(const LocationOverride&) = delete;

   private:
    Graph* graph_;
    std::optional<SourceLoc> saved_;
  };
  [[nodiscard]] LocationOverride attribute_to(const SourceLoc& loc) { return LocationOverride(this, loc); }


  // ---- naming ----
  class Scope {
   public:
    Scope(Graph* graph, const std::string& name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Graph* graph_;
  };
  // RAII: names created while the returned object lives are prefixed
  // "name." (scopes nest: "layer3.attn.qk").
  [[nodiscard]] Scope scope(const std::string& name) { return Scope(this, name); }
  // RAII: replaces the whole scope stack by `path` while alive (autodiff
  // names gradient nodes "<forward name>.grad.*" however deeply it nests).
  class ScopeReplacement {
   public:
    ScopeReplacement(Graph* graph, const std::string& path);
    ~ScopeReplacement();
    ScopeReplacement(const ScopeReplacement&) = delete;
    ScopeReplacement& operator=(const ScopeReplacement&) = delete;

   private:
    Graph* graph_;
    std::vector<std::string> saved_;
  };
  [[nodiscard]] ScopeReplacement replace_scope(const std::string& path) { return ScopeReplacement(this, path); }
  std::string scope_path() const;
  // Returns `base` prefixed by the scope path (unless `scoped` is false),
  // made unique in this graph.
  std::string unique_name(const std::string& base, bool scoped = true);
  void rename(int id, const std::string& base);
  // Marks `name` as taken, so unique_name() never returns it (passes that
  // copy a graph keep the original names this way).
  void reserve_name(const std::string& name) { used_names_.insert(name); }

  // ---- access ----
  int size() const { return static_cast<int>(nodes_.size()); }
  const Node& node(int id) const { return *nodes_.at(id); }
  Node& mutable_node(int id) { return *nodes_.at(id); }
  Tensor value(int id) { return Tensor{this, id}; }
  const std::vector<std::pair<std::string, int>>& outputs() const { return outputs_; }
  std::vector<std::pair<std::string, int>>& mutable_outputs() { return outputs_; }
  // Id of the output called `name`, or -1.
  int find_output(const std::string& name) const;
  // Id of the node called `name`, or -1.
  int find_node(const std::string& name) const;

  std::unique_ptr<Graph> clone() const;

 private:
  // A source node (input, param, arg, state) named `name` in the scope.
  Tensor source(const std::string& op, const std::string& name, TensorType type, AttrMap attrs,
                const std::source_location& loc);

  std::string name_;
  DType default_float_ = DType::f32;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::pair<std::string, int>> outputs_;
  std::vector<std::string> scopes_;
  std::unordered_set<std::string> used_names_;
  std::unordered_map<std::string, int> next_suffix_;  // unique_name's search hint per base name
  std::optional<SourceLoc> location_override_;
};

// How many nodes read each value (by id). A graph output counts as two
// more, so "read once" never holds for a value that leaves the graph.
std::vector<int> reader_counts(const Graph& graph);

// The nodes that read each value (by id), in node order; a node that reads
// a value twice is listed twice. Graph outputs are not listed.
std::vector<std::vector<int>> readers_of(const Graph& graph);

}  // namespace reforge
