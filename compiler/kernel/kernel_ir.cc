#include "compiler/kernel/kernel_ir.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace reforge::kir {

const char* unary_name(UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "tanh", "sqrt", "abs", "not"};
  return names[static_cast<int>(op)];
}

const char* binary_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "max", "min", "mod", "eq",
                                "ne",  "lt",  "le",  "gt",  "ge",  "and", "or"};
  return names[static_cast<int>(op)];
}

namespace {

// Prints each expression as an SSA line the first time a statement needs
// it inside the current loop (the way the renderers emit code).
class Printer {
 public:
  Printer(const Kernel& k, bool with_names) : k_(k), with_names_(with_names) {}

  std::string run() {
    out_ += fmt::format("kernel {}(", with_names_ ? k_.name : "_");
    for (size_t i = 0; i < k_.buffers.size(); ++i) {
      const BufferParam& b = k_.buffers[i];
      out_ += fmt::format("{}{}{}: {}[{}]", i ? ", " : "", b.written ? "out" : "in", i, dtype_name(b.type), b.elements);
      if (with_names_) out_ += " " + b.name;
    }
    out_ += ")";
    for (size_t a = 0; a < k_.accumulators.size(); ++a) {
      out_ += fmt::format("{} acc{}: {}", a ? "," : " with", a, dtype_name(k_.accumulators[a]));
    }
    out_ += "\n";
    statement(k_.loop, 1, true);
    return out_;
  }

 private:
  std::string value(ValueId v, int depth) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = it->find(v);
      if (found != it->end()) return found->second;
    }
    const Expr& e = k_.exprs[v];
    if (e.kind == ExprKind::index) return fmt::format("i{}", e.var);
    if (e.kind == ExprKind::constant) {
      return is_float(e.type) ? fmt::format("{}:{}", e.value, dtype_name(e.type))
                              : fmt::format("{}", static_cast<int64_t>(e.value));
    }
    if (e.kind == ExprKind::read) return fmt::format("acc{}", e.var);
    // Operands first, in order, so the text is deterministic.
    std::vector<std::string> args;
    for (ValueId operand : e.operands) {
      if (operand >= 0) args.push_back(value(operand, depth));
    }
    std::string rhs;
    switch (e.kind) {
      case ExprKind::load:
        rhs = fmt::format("load in{}[{}]", e.buffer, args[0]);
        break;
      case ExprKind::unary:
        rhs = fmt::format("{} {}", unary_name(static_cast<UnaryOp>(e.op)), args[0]);
        break;
      case ExprKind::binary:
        rhs = fmt::format("{} {}, {}", binary_name(static_cast<BinaryOp>(e.op)), args[0], args[1]);
        break;
      case ExprKind::select:
        rhs = fmt::format("select {}, {}, {}", args[0], args[1], args[2]);
        break;
      case ExprKind::cast:
        rhs = fmt::format("cast {} {}", dtype_name(e.type), args[0]);
        break;
      default:
        break;
    }
    std::string name = fmt::format("%{}", v);
    out_ += fmt::format("{:{}}{} = {}\n", "", 2 * depth, name, rhs);
    scopes_.back()[v] = name;
    return name;
  }

  void statement(const Stmt& s, int depth, bool parallel) {
    std::string pad(2 * depth, ' ');
    switch (s.kind) {
      case StmtKind::loop:
        out_ += fmt::format("{}{}for i{} in [0, {}){}:\n", pad, parallel ? "parallel " : "", s.var, s.extent,
                            s.vectorize ? "" : " scalar");
        scopes_.emplace_back();
        for (const Stmt& inner : s.body) statement(inner, depth + 1, false);
        scopes_.pop_back();
        break;
      case StmtKind::store: {
        std::string index = value(s.index, depth), v = value(s.value, depth);
        out_ += fmt::format("{}store out{}[{}] = {}\n", pad, s.target, index, v);
        break;
      }
      case StmtKind::assign: {
        std::string v = value(s.value, depth);
        out_ += fmt::format("{}acc{} = {}\n", pad, s.target, v);
        break;
      }
    }
  }

  const Kernel& k_;
  bool with_names_;
  std::string out_;
  std::vector<std::map<ValueId, std::string>> scopes_{1};
};

// Counts like the printer emits: an expression costs once per iteration of
// the innermost loop in which a statement first needs it.
class FlopCounter {
 public:
  explicit FlopCounter(const Kernel& k) : k_(k) {}

  int64_t run() {
    statement(k_.loop, 1);
    return flops_;
  }

 private:
  void value(ValueId v, int64_t trips) {
    for (const auto& scope : scopes_) {
      if (scope.count(v)) return;
    }
    const Expr& e = k_.exprs[v];
    for (ValueId operand : e.operands) {
      if (operand >= 0) value(operand, trips);
    }
    if (e.kind == ExprKind::read) return;
    if ((e.kind == ExprKind::unary || e.kind == ExprKind::binary) && is_float(k_.exprs[e.operands[0]].type)) {
      flops_ += trips;
    }
    scopes_.back().insert(v);
  }

  void statement(const Stmt& s, int64_t trips) {
    if (s.kind == StmtKind::loop) {
      scopes_.emplace_back();
      for (const Stmt& inner : s.body) statement(inner, trips * s.extent);
      scopes_.pop_back();
      return;
    }
    if (s.index >= 0) value(s.index, trips);
    value(s.value, trips);
  }

  const Kernel& k_;
  int64_t flops_ = 0;
  std::vector<std::set<ValueId>> scopes_{1};
};

}  // namespace

std::string print_kernel(const Kernel& kernel, bool with_names) { return Printer(kernel, with_names).run(); }

int64_t count_flops(const Kernel& kernel) { return FlopCounter(kernel).run(); }

}  // namespace reforge::kir
