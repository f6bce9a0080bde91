// What an op's lowering is given (see OpDef in compiler/ir/op_def.h). Ops
// describe their computation; compiler/lower decides which values live in
// buffers, builds the kernels and orders the launches.
//
//   element  — elementwise and view ops: one output element from input
//              elements read at coordinates the op chooses (its index map);
//   kernel   — reductions: the op writes its own loop nest;
//   library  — everything that is not a loop nest: a call with a fixed
//              signature into the runtime's library (GEMM, sort, ...).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/kernel/kernel_builder.h"
#include "compiler/kernel/reduction_schedule.h"
#include "runtime/library_calls.h"

namespace reforge::kir {

// Reads input `input` of the node at the given coordinates of that input.
using InputReader = std::function<ValueId(int input, const std::vector<ValueId>& coords)>;

struct ElementContext {
  KernelBuilder& b;
  const Node& node;
  const std::vector<TensorType>& inputs;  // the input types
  const std::vector<ValueId>& coords;     // of the output element
  const InputReader& read;
};

struct KernelContext {
  KernelBuilder& b;
  const Node& node;
  const std::vector<TensorType>& inputs;
  const InputReader& read;
  int output;  // the result's buffer in `b`
  // The shapes of nest the target wants (reduction_schedule.h).
  const ReductionSchedule& schedule;

  void store(const std::vector<ValueId>& coords, ValueId value) {
    b.store(output, b.flat_index(coords, node.type.shape), value);
  }
};

struct LibraryContext {
  const Node& node;
  const std::vector<TensorType>& inputs;  // the input types
  // absorbed[i]: input i's producer is absorbed (OpDef::absorbs_input); the
  // call's buffer i is that producer's own input.
  const std::vector<bool>& absorbed;
};

// A call into the runtime library. Its buffers are the node's inputs in
// order, then its result (then its workspace, if the op plans one); `ints`
// and `reals` are the call's constants, written from the function's
// descriptor (runtime/library_calls.h) by `of`.
struct LibraryCall {
  template <typename Call>
  static LibraryCall of(const Call& call, int64_t flops = 0) {
    return {std::string(Call::kFunction), runtime::encode_call(call), {}, flops, std::nullopt};
  }

  std::string function;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  int64_t flops = 0;  // floating-point operations, for the profile
  // Generated code the call runs on its result (a GEMM epilogue's
  // activation); the lowering compiles it with the program's kernels.
  std::optional<Kernel> epilogue;
};

}  // namespace reforge::kir
