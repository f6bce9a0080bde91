// Builds a kir::Kernel: buffers, expressions (hash-consed and constant
// folded, so index arithmetic stays small) and statements inside a stack
// of open loops.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/kernel/kernel_ir.h"

namespace reforge::kir {

class KernelBuilder {
 public:
  explicit KernelBuilder(std::string name);

  int buffer(std::string name, DType type, int64_t elements, bool written);
  const Kernel& kernel() const { return kernel_; }

  // ---- expressions ----
  ValueId constant(DType type, double value);
  ValueId index_constant(int64_t value) { return constant(DType::i64, static_cast<double>(value)); }
  ValueId load(int buffer, ValueId index);
  ValueId unary(UnaryOp op, ValueId x);
  ValueId binary(BinaryOp op, ValueId a, ValueId b);
  ValueId select(ValueId condition, ValueId if_true, ValueId if_false);
  ValueId cast(DType type, ValueId x);
  ValueId read(int accumulator);
  DType type_of(ValueId v) const { return kernel_.exprs.at(v).type; }

  // Shorthands.
  ValueId add(ValueId a, ValueId b) { return binary(BinaryOp::add, a, b); }
  ValueId sub(ValueId a, ValueId b) { return binary(BinaryOp::sub, a, b); }
  ValueId mul(ValueId a, ValueId b) { return binary(BinaryOp::mul, a, b); }
  ValueId div(ValueId a, ValueId b) { return binary(BinaryOp::div, a, b); }
  // A constant of v's type.
  ValueId like(ValueId v, double value) { return constant(type_of(v), value); }
  // Row-major flat index of `coords` in `shape`.
  ValueId flat_index(const std::vector<ValueId>& coords, const Shape& shape);
  // index clamped into [0, extent): reads of branches a select discards
  // must still stay inside their buffer.
  ValueId clamp_index(ValueId index, int64_t extent);

  // ---- statements ----
  // Opens a loop in the current body; returns its index value. The first
  // loop of a kernel is its parallel loop, and must enclose everything.
  ValueId begin_loop(int64_t extent);
  void end_loop();
  // The loops open now stay scalar across their iterations (Stmt::vectorize).
  void keep_open_loops_scalar();
  // Opens loops over `shape` — all but the last dimension as one flattened
  // loop, then the last — and returns the coordinates. end_loop_nest()
  // closes them.
  std::vector<ValueId> begin_loop_nest(const Shape& shape);
  void end_loop_nest();
  void store(int buffer, ValueId index, ValueId value);
  int accumulator(DType type);
  void assign(int accumulator, ValueId value);

  Kernel finish();

 private:
  ValueId intern(Expr e);
  std::vector<Stmt>& current_body();

  Kernel kernel_;
  std::map<std::string, ValueId> interned_;  // key of an Expr -> its id
  std::vector<Stmt*> open_loops_;
  std::vector<int> nest_sizes_;
  bool has_loop_ = false;
};

}  // namespace reforge::kir
