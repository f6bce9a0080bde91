#include "compiler/kernel/kernel_builder.h"

#include <fmt/format.h>

#include <cmath>

#include "base/error.h"

namespace reforge::kir {
namespace {

bool is_constant(const Expr& e, double value) { return e.kind == ExprKind::constant && e.value == value; }

// Folds integer index arithmetic on constants (floats are left to LLVM,
// whose rounding is the target's).
bool fold_integer(BinaryOp op, double a, double b, double& out) {
  switch (op) {
    case BinaryOp::add:
      out = a + b;
      return true;
    case BinaryOp::sub:
      out = a - b;
      return true;
    case BinaryOp::mul:
      out = a * b;
      return true;
    case BinaryOp::div:
      out = b == 0 ? 0 : std::floor(a / b);
      return true;
    case BinaryOp::mod:
      out = b == 0 ? 0 : a - std::floor(a / b) * b;
      return true;
    case BinaryOp::min:
      out = std::min(a, b);
      return true;
    case BinaryOp::max:
      out = std::max(a, b);
      return true;
    default:
      return false;
  }
}

bool is_comparison(BinaryOp op) {
  return op == BinaryOp::eq || op == BinaryOp::ne || op == BinaryOp::lt || op == BinaryOp::le || op == BinaryOp::gt ||
         op == BinaryOp::ge;
}

}  // namespace

KernelBuilder::KernelBuilder(std::string name) { kernel_.name = std::move(name); }

int KernelBuilder::buffer(std::string name, DType type, int64_t elements, bool written) {
  kernel_.buffers.push_back({std::move(name), type, elements, written});
  return static_cast<int>(kernel_.buffers.size()) - 1;
}

ValueId KernelBuilder::intern(Expr e) {
  std::string key = fmt::format("{}:{}:{}:{}:{}:{}:{}:{}:{}", static_cast<int>(e.kind), static_cast<int>(e.type), e.var,
                                e.value, e.buffer, e.op, e.operands[0], e.operands[1], e.operands[2]);
  // Reads of accumulators change between assignments: never shared.
  if (e.kind != ExprKind::read) {
    auto it = interned_.find(key);
    if (it != interned_.end()) return it->second;
  }
  kernel_.exprs.push_back(e);
  ValueId id = static_cast<ValueId>(kernel_.exprs.size()) - 1;
  if (e.kind != ExprKind::read) interned_[key] = id;
  return id;
}

ValueId KernelBuilder::constant(DType type, double value) {
  if (is_integer(type) || type == DType::boolean) value = type == DType::boolean ? (value != 0) : std::trunc(value);
  return intern({.kind = ExprKind::constant, .type = type, .value = value});
}

ValueId KernelBuilder::load(int buffer, ValueId index) {
  return intern(
      {.kind = ExprKind::load, .type = kernel_.buffers.at(buffer).type, .buffer = buffer, .operands = {index}});
}

ValueId KernelBuilder::unary(UnaryOp op, ValueId x) {
  return intern({.kind = ExprKind::unary, .type = type_of(x), .op = static_cast<int>(op), .operands = {x}});
}

ValueId KernelBuilder::binary(BinaryOp op, ValueId a, ValueId b) {
  if (type_of(a) != type_of(b)) {
    throw Error(
        fmt::format("kernel IR: {} of {} and {}", binary_name(op), dtype_name(type_of(a)), dtype_name(type_of(b))));
  }
  const Expr &ea = kernel_.exprs[a], &eb = kernel_.exprs[b];
  DType type = is_comparison(op) ? DType::boolean : ea.type;
  if (is_integer(ea.type)) {
    double folded;
    if (ea.kind == ExprKind::constant && eb.kind == ExprKind::constant &&
        fold_integer(op, ea.value, eb.value, folded)) {
      return constant(type, folded);
    }
    if (op == BinaryOp::add && is_constant(eb, 0)) return a;
    if (op == BinaryOp::add && is_constant(ea, 0)) return b;
    if (op == BinaryOp::sub && is_constant(eb, 0)) return a;
    if (op == BinaryOp::mul && (is_constant(eb, 1))) return a;
    if (op == BinaryOp::mul && (is_constant(ea, 1))) return b;
    if (op == BinaryOp::mul && (is_constant(ea, 0) || is_constant(eb, 0))) return constant(type, 0);
    if (op == BinaryOp::div && is_constant(eb, 1)) return a;
    if (op == BinaryOp::mod && is_constant(eb, 1)) return constant(type, 0);
  }
  return intern({.kind = ExprKind::binary, .type = type, .op = static_cast<int>(op), .operands = {a, b}});
}

ValueId KernelBuilder::select(ValueId condition, ValueId if_true, ValueId if_false) {
  if (type_of(condition) != DType::boolean || type_of(if_true) != type_of(if_false)) {
    throw Error("kernel IR: select needs a bool condition and operands of one type");
  }
  if (if_true == if_false) return if_true;
  const Expr& c = kernel_.exprs[condition];
  if (c.kind == ExprKind::constant) return c.value != 0 ? if_true : if_false;
  return intern({.kind = ExprKind::select, .type = type_of(if_true), .operands = {condition, if_true, if_false}});
}

ValueId KernelBuilder::cast(DType type, ValueId x) {
  if (type_of(x) == type) return x;
  const Expr& e = kernel_.exprs[x];
  if (e.kind == ExprKind::constant && (is_integer(e.type) || e.type == DType::boolean)) return constant(type, e.value);
  return intern({.kind = ExprKind::cast, .type = type, .operands = {x}});
}

ValueId KernelBuilder::read(int accumulator) {
  return intern({.kind = ExprKind::read, .type = kernel_.accumulators.at(accumulator), .var = accumulator});
}

ValueId KernelBuilder::flat_index(const std::vector<ValueId>& coords, const Shape& shape) {
  ValueId flat = index_constant(0);
  for (size_t d = 0; d < shape.size(); ++d) flat = add(mul(flat, index_constant(shape[d])), coords[d]);
  return flat;
}

ValueId KernelBuilder::clamp_index(ValueId index, int64_t extent) {
  ValueId low = binary(BinaryOp::max, index, index_constant(0));
  return binary(BinaryOp::min, low, index_constant(std::max<int64_t>(extent - 1, 0)));
}

std::vector<Stmt>& KernelBuilder::current_body() {
  if (open_loops_.empty()) throw Error("kernel IR: statements must be inside the kernel's loop");
  return open_loops_.back()->body;
}

ValueId KernelBuilder::begin_loop(int64_t extent) {
  Stmt loop{.kind = StmtKind::loop, .var = kernel_.num_vars++, .extent = extent};
  Stmt* placed;
  if (open_loops_.empty()) {
    if (has_loop_) throw Error("kernel IR: a kernel has one top-level loop");
    has_loop_ = true;
    kernel_.loop = std::move(loop);
    placed = &kernel_.loop;
  } else {
    current_body().push_back(std::move(loop));
    placed = &current_body().back();
  }
  open_loops_.push_back(placed);
  return intern({.kind = ExprKind::index, .type = DType::i64, .var = placed->var});
}

void KernelBuilder::keep_open_loops_scalar() {
  for (Stmt* loop : open_loops_) loop->vectorize = false;
}

void KernelBuilder::end_loop() {
  if (open_loops_.empty()) throw Error("kernel IR: end_loop without a loop");
  open_loops_.pop_back();
}

std::vector<ValueId> KernelBuilder::begin_loop_nest(const Shape& shape) {
  if (shape.empty()) {
    begin_loop(1);
    nest_sizes_.push_back(1);
    return {};
  }
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  std::vector<ValueId> coords(shape.size());
  int opened = 0;
  if (shape.size() > 1) {
    ValueId row = begin_loop(rows);
    ++opened;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d > 0; --d) {
      coords[d] = binary(BinaryOp::mod, row, index_constant(shape[d]));
      row = binary(BinaryOp::div, row, index_constant(shape[d]));
    }
    coords[0] = row;  // already below shape[0]
  }
  coords.back() = begin_loop(shape.back());
  ++opened;
  nest_sizes_.push_back(opened);
  return coords;
}

void KernelBuilder::end_loop_nest() {
  for (int i = 0; i < nest_sizes_.back(); ++i) end_loop();
  nest_sizes_.pop_back();
}

void KernelBuilder::store(int buffer, ValueId index, ValueId value) {
  if (type_of(value) != kernel_.buffers.at(buffer).type) {
    throw Error(fmt::format("kernel IR: storing {} into {} buffer", dtype_name(type_of(value)),
                            dtype_name(kernel_.buffers[buffer].type)));
  }
  current_body().push_back({.kind = StmtKind::store, .target = buffer, .index = index, .value = value});
}

int KernelBuilder::accumulator(DType type) {
  kernel_.accumulators.push_back(type);
  return static_cast<int>(kernel_.accumulators.size()) - 1;
}

void KernelBuilder::assign(int accumulator, ValueId value) {
  if (type_of(value) != kernel_.accumulators.at(accumulator)) throw Error("kernel IR: accumulator type mismatch");
  current_body().push_back({.kind = StmtKind::assign, .target = accumulator, .value = value});
}

Kernel KernelBuilder::finish() {
  if (!open_loops_.empty()) throw Error("kernel IR: unclosed loop in " + kernel_.name);
  if (!has_loop_) throw Error("kernel IR: kernel " + kernel_.name + " has no loop");
  return std::move(kernel_);
}

}  // namespace reforge::kir
