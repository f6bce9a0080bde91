// A program loaded onto the machine that runs it — the CPU's executor
// (executor.h) or the GPU's (cuda_executor.h) — as runtime::Model drives
// it: slots written and read, the program run, outputs read or carried
// into slots, per-launch times. Model holds one per entry point and knows
// no more of the machine than this.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runtime/program.h"

namespace reforge::runtime {

class ProgramRunner {
 public:
  virtual ~ProgramRunner() = default;

  virtual const Program& program() const = 0;
  // Where it runs, in words (the CPU's GEMM; the GPU and its products).
  virtual std::string machine() const = 0;

  // Persistent slots by name; -1 when there is none.
  virtual int find_slot(const std::string& name) const = 0;
  // Copies a slot's bytes (its type's size) from or to the host.
  virtual void write_slot(int slot, const void* host) = 0;
  virtual void read_slot(int slot, void* host) const = 0;
  // Whether slots are host memory the caller provided (the CPU's, given
  // the model's parameter buffers): then nothing need be copied to keep
  // them in step with the host.
  virtual bool slots_are_host_memory() const = 0;

  virtual void run() = 0;

  virtual const ProgramOutput& output_info(const std::string& name) const = 0;
  // An output of the last run: where the host can read it in place, or
  // null (then read_output copies it).
  virtual const std::byte* output_in_place(const std::string& name) const = 0;
  virtual void read_output(const std::string& name, void* host) const = 0;
  // An output of the last run into a slot of the same type, on the machine
  // (a training step's updated parameter into the parameter's slot).
  virtual void copy_output_to_slot(const std::string& output, int slot) = 0;
  // An output [..., 1, w] into row `row` of a slot [..., L, w] of the same
  // element type, on the machine (a decode step's new cache row).
  virtual void copy_output_to_slot_row(const std::string& output, int slot, int64_t row) = 0;

  // With profiling on, run() adds each launch's time to seconds().
  virtual void set_profiling(bool on) = 0;
  virtual const std::vector<double>& seconds() const = 0;
};

// Where a row [..., 1, w] goes in a slot [..., L, w]: `blocks` pieces of
// `block_bytes`, the i-th from i * block_bytes of the row to
// first_offset + i * stride of the slot. An Error, naming both, when the
// shapes or types do not fit or the row is past L.
struct RowCopy {
  int64_t blocks = 0, block_bytes = 0, first_offset = 0, stride = 0;
};
RowCopy row_copy(const std::string& output, const TensorType& row_type, const Slot& slot, int64_t row);

}  // namespace reforge::runtime
