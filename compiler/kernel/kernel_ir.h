// Kernel IR: the loop-level form both code generators render (LLVM IR for
// the CPU, CUDA C++ later). Small on purpose, like tinygrad's UOps:
//
//   - a kernel reads and writes buffer parameters (flat, typed arrays);
//   - its body is a tree of statements: loops, stores, and assignments to
//     accumulators (mutable scalars that carry reductions across a loop);
//   - statements use SSA scalar expressions: loop indices, constants,
//     loads (the index is itself an expression: an index map), unary,
//     binary, select, cast, and accumulator reads.
//
// Every kernel has exactly one top-level loop; it is the parallel one. The
// runtime calls a kernel as  kernel(buffers, begin, end)  and the kernel
// runs iterations [begin, end) of that loop, so a thread pool splits it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/types.h"

namespace reforge::kir {

using ValueId = int;

enum class ExprKind { index, constant, load, unary, binary, select, cast, read };

enum class UnaryOp { neg, exp, log, tanh, sqrt, abs, logical_not };
// Integer div/mod round toward negative infinity (Python's // and %), and a
// zero divisor yields 0 instead of trapping.
enum class BinaryOp { add, sub, mul, div, max, min, mod, eq, ne, lt, le, gt, ge, logical_and, logical_or };

const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

struct Expr {
  ExprKind kind = ExprKind::constant;
  DType type = DType::f32;
  int var = -1;      // index: the loop variable; read: the accumulator
  double value = 0;  // constant (integers are exact up to 2^53)
  int buffer = -1;   // load
  int op = 0;        // UnaryOp or BinaryOp
  std::array<ValueId, 3> operands = {-1, -1, -1};

  bool operator==(const Expr&) const = default;
};

enum class StmtKind { loop, store, assign };

struct Stmt {
  StmtKind kind = StmtKind::loop;
  // loop
  int var = -1;
  int64_t extent = 0;
  std::vector<Stmt> body;
  // false: the code generator does not vectorise the loop across its
  // iterations (each reads a line of its own: vector lanes would gather),
  // though it may vectorise inside one iteration.
  bool vectorize = true;
  // store: buffer[index] = value;  assign: accumulator `target` = value
  int target = -1;
  ValueId index = -1;
  ValueId value = -1;
};

struct BufferParam {
  std::string name;  // the graph value it holds (for the printed form)
  DType type = DType::f32;
  int64_t elements = 0;
  bool written = false;
};

struct Kernel {
  std::string name;
  std::vector<BufferParam> buffers;
  std::vector<DType> accumulators;
  std::vector<Expr> exprs;
  Stmt loop;  // the top-level, parallel loop
  int num_vars = 0;

  int64_t parallel_extent() const { return loop.extent; }
};

// Floating-point operations one launch performs (each float unary or
// binary operation once per iteration of its loops; exp and the like count
// one), for the profile's GFLOP/s.
int64_t count_flops(const Kernel& kernel);

// The kernel's text form. `with_names` false leaves out the kernel's and
// buffers' names, so two kernels that compute alike print alike (the
// lowering shares one compiled function between them).
std::string print_kernel(const Kernel& kernel, bool with_names = true);

}  // namespace reforge::kir
