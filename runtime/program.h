// The program a compiled training step is: one arena laid out by the
// memory plan, persistent slots (parameters, optimizer state, inputs,
// gradients, next values), and an ordered list of launches of generated
// kernels or runtime library calls over buffers in those places. It is
// the contract between the compiler (compiler/lower writes it) and the
// runtime (executor.h runs it), and device-neutral: a CPU resolves kernels
// by symbol in its code, a GPU by name in a module.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/types.h"

namespace reforge::runtime {

// Where a buffer lives: in the arena at `offset` (slot < 0), or at `offset`
// inside persistent slot `slot`.
struct BufferRef {
  int slot = -1;
  int64_t offset = 0;
  int64_t bytes = 0;
};

enum class SlotRole {
  fed,       // written by the caller before a run (inputs, parameters, optimizer state)
  computed,  // written by the program, read by the caller (gradients, next values)
};

struct Slot {
  std::string name;
  TensorType type;
  SlotRole role = SlotRole::fed;
};

struct Launch {
  enum class Kind { kernel, library };
  Kind kind = Kind::kernel;
  std::string function;  // a kernel's symbol or a library function's name
  std::string epilogue;  // library calls: a kernel's symbol the call runs on its result (a GEMM's activation), or ""
  std::vector<BufferRef> buffers;
  std::vector<int64_t> ints;  // library calls' constants
  std::vector<double> reals;
  int64_t extent = 1;  // kernels: iterations of the parallel loop
  int64_t work = 0;    // elements written (a reduction: read): decides whether threads pay off
  std::string node;    // the graph value it computes (messages, profiles)
  std::string op;      // and its op
  std::string source;  // the DSL line that created it ("file:line"), or "-"
  int64_t flops = 0;   // floating-point operations, for the profile's GFLOP/s
  int output = -1;     // which of `buffers` holds the value `node` (-1: none)
  DType output_dtype = DType::f32;
};

struct ProgramOutput {
  std::string name;
  TensorType type;
  BufferRef where;
};

struct Program {
  int64_t arena_bytes = 0;
  std::vector<Slot> slots;
  std::vector<Launch> launches;
  std::vector<ProgramOutput> outputs;
};

}  // namespace reforge::runtime
