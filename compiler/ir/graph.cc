#include "compiler/ir/graph.h"

#include <fmt/format.h>

namespace reforge {

SourceLoc to_source_loc(const std::source_location& loc) {
  return SourceLoc{loc.file_name(), static_cast<int>(loc.line())};
}

namespace {
thread_local std::optional<SourceLoc> block_caller;
}  // namespace

BlockCall::BlockCall(const std::source_location& caller) : outermost_(!block_caller) {
  if (outermost_) block_caller = to_source_loc(caller);
}
BlockCall::~BlockCall() {
  if (outermost_) block_caller.reset();
}

std::string error_location(const SourceLoc& loc) {
  std::string where = loc.known() ? loc.to_string() + ": " : "";
  if (block_caller && block_caller->known() && block_caller->to_string() != loc.to_string()) {
    where = block_caller->to_string() + ": in the block at " + where;
  }
  return where;
}

SourceKind source_kind(const Node& node) { return node.def ? node.def->source : SourceKind::none; }
bool is_source(const Node& node) { return source_kind(node) != SourceKind::none; }
bool is_fed(const Node& node) { return is_source(node) && source_kind(node) != SourceKind::arg; }

std::vector<Tensor> parameters(Graph& graph) {
  std::vector<Tensor> params;
  for (int id = 0; id < graph.size(); ++id) {
    if (source_kind(graph.node(id)) == SourceKind::param) params.push_back(graph.value(id));
  }
  return params;
}

const Node& Tensor::node() const { return graph->node(id); }
const TensorType& Tensor::type() const { return graph->node(id).type; }

int64_t Tensor::dim(int64_t axis) const {
  int64_t r = rank();
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) {
    throw Error(fmt::format("axis {} out of range for {}", axis, type_to_string(type())));
  }
  return shape()[axis];
}

Tensor Tensor::named(const std::string& name) const {
  graph->rename(id, name);
  return *this;
}

const Node& VjpContext::node() const { return graph.node(node_id); }

std::unique_ptr<Node> Node::copy(std::vector<int> new_inputs, bool with_regions) const {
  auto node = std::make_unique<Node>();
  node->op = op;
  node->def = def;
  node->inputs = std::move(new_inputs);
  node->attrs = attrs;
  node->type = type;
  node->name = name;
  node->loc = loc;
  node->role = role;
  if (with_regions) {
    for (const auto& r : regions) node->regions.push_back(r->clone());
  }
  return node;
}

Tensor Graph::source(const std::string& op, const std::string& name, TensorType type, AttrMap attrs,
                     const std::source_location& loc) {
  auto node = std::make_unique<Node>();
  node->op = op;
  node->def = find_op(op);
  node->type = std::move(type);
  node->attrs = std::move(attrs);
  node->name = unique_name(name);
  node->loc = to_source_loc(loc);
  return value(append(std::move(node)));
}

namespace {

AttrMap init_attrs(const Init& init) {
  AttrMap attrs;
  attrs.set("init", init.kind);
  attrs.set("scale", init.scale);
  return attrs;
}

}  // namespace

Tensor Graph::input(const std::string& name, TensorType type, std::source_location loc) {
  return source("input", name, std::move(type), {}, loc);
}

Tensor Graph::param(const std::string& name, Shape shape, Init init, std::source_location loc) {
  return source("param", name, TensorType{default_float_, std::move(shape)}, init_attrs(init), loc);
}

Tensor Graph::arg(int index, TensorType type, std::source_location loc) {
  AttrMap attrs;
  attrs.set("index", static_cast<int64_t>(index));
  return source("arg", "arg" + std::to_string(index), std::move(type), std::move(attrs), loc);
}

Tensor Graph::state(const std::string& name, TensorType type, Init init, std::source_location loc) {
  return source("state", name, std::move(type), init_attrs(init), loc);
}

Graph::LocationOverride::LocationOverride(Graph* graph, SourceLoc loc)
    : graph_(graph), saved_(graph->location_override_) {
  graph_->location_override_ = std::move(loc);
}
Graph::LocationOverride::~LocationOverride() { graph_->location_override_ = saved_; }

void Graph::output(const std::string& name, Tensor value) {
  if (value.graph != this) throw Error("output '" + name + "' is a value of another graph");
  if (value.id < 0 || value.id >= size()) throw Error("output '" + name + "' is not a value of the graph");
  if (find_output(name) >= 0) throw Error("output '" + name + "' defined twice");
  outputs_.emplace_back(name, value.id);
}

Tensor Graph::add(const std::string& op, const std::vector<Tensor>& inputs, AttrMap attrs, const SourceLoc& loc,
                  std::vector<std::unique_ptr<Graph>> regions) {
  const OpDef* def = find_op(op);
  const std::string where = error_location(loc);
  if (def == nullptr) throw Error(where + "unknown op '" + op + "'");
  std::vector<TensorType> input_types;
  std::vector<int> ids;
  for (const Tensor& t : inputs) {
    if (t.graph != this) throw Error(where + op + ": an input belongs to another graph (or is empty)");
    input_types.push_back(t.type());
    ids.push_back(t.id);
  }
  if (def->arity >= 0 && static_cast<int>(inputs.size()) != def->arity) {
    throw Error(fmt::format("{}{}: expects {} inputs, got {}", where, op, def->arity, inputs.size()));
  }
  TensorType type;
  try {
    type = def->infer(InferContext{input_types, attrs, regions});
  } catch (const Error& e) {
    std::vector<std::string> shapes;
    for (const auto& t : input_types) shapes.push_back(type_to_string(t));
    throw Error(fmt::format("{}{}: {} (inputs: {})", where, op, e.what(), fmt::join(shapes, ", ")));
  }
  auto node = std::make_unique<Node>();
  node->op = op;
  node->def = def;
  node->inputs = std::move(ids);
  node->attrs = std::move(attrs);
  node->type = std::move(type);
  node->name = unique_name(op);
  node->loc = location_override_ ? *location_override_ : loc;
  node->regions = std::move(regions);
  return value(append(std::move(node)));
}

int Graph::append(std::unique_ptr<Node> node) {
  used_names_.insert(node->name);
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size()) - 1;
}

Graph::Scope::Scope(Graph* graph, const std::string& name) : graph_(graph) { graph_->scopes_.push_back(name); }
Graph::Scope::~Scope() { graph_->scopes_.pop_back(); }

std::string Graph::scope_path() const {
  std::string path;
  for (const std::string& s : scopes_) {
    if (s.empty()) continue;
    path += path.empty() ? s : "." + s;
  }
  return path;
}

Graph::ScopeReplacement::ScopeReplacement(Graph* graph, const std::string& path)
    : graph_(graph), saved_(graph->scopes_) {
  graph_->scopes_ = {path};
}
Graph::ScopeReplacement::~ScopeReplacement() { graph_->scopes_ = saved_; }

std::string Graph::unique_name(const std::string& base, bool scoped) {
  std::string prefix = scoped ? scope_path() : "";
  std::string name = prefix.empty() ? base : prefix + "." + base;
  if (!used_names_.count(name)) return name;
  // Suffixes are tried from where the last search for this name stopped:
  // without the hint, the n-th value named "add" costs n lookups, and a
  // graph of many layers costs quadratic time.
  int& next = next_suffix_[name];
  for (int i = std::max(next, 1);; ++i) {
    std::string candidate = fmt::format("{}#{}", name, i);
    if (!used_names_.count(candidate)) {
      next = i + 1;
      return candidate;
    }
  }
}

void Graph::rename(int id, const std::string& base) {
  Node& n = mutable_node(id);
  used_names_.erase(n.name);
  n.name = unique_name(base);
  used_names_.insert(n.name);
}

int Graph::find_output(const std::string& name) const {
  for (const auto& [n, id] : outputs_) {
    if (n == name) return id;
  }
  return -1;
}

int Graph::find_node(const std::string& name) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->name == name) return i;
  }
  return -1;
}

std::unique_ptr<Graph> Graph::clone() const {
  auto copy = std::make_unique<Graph>(name_);
  copy->default_float_ = default_float_;
  for (const auto& n : nodes_) {
    copy->append(n->copy(n->inputs));
  }
  copy->outputs_ = outputs_;
  return copy;
}

std::vector<int> reader_counts(const Graph& graph) {
  std::vector<int> readers(graph.size(), 0);
  for (int id = 0; id < graph.size(); ++id) {
    for (int in : graph.node(id).inputs) ++readers[in];
  }
  for (const auto& [name, id] : graph.outputs()) readers[id] += 2;
  return readers;
}

std::vector<std::vector<int>> readers_of(const Graph& graph) {
  std::vector<std::vector<int>> readers(graph.size());
  for (int id = 0; id < graph.size(); ++id) {
    for (int in : graph.node(id).inputs) readers[in].push_back(id);
  }
  return readers;
}

}  // namespace reforge
