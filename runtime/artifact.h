// The compiled artifact (.rfa): everything needed to run a compiled model
// without the compiler — the manifest (model, config, target CPU, compile
// options, compiler version), how every parameter and optimizer state
// starts, the entry points (each a Program: training step, forward pass),
// the training step's memory plan (JSON, as `reforge plan` prints it) and
// the native code as a shared object. docs/ARTIFACT_FORMAT.md describes
// the bytes.
//
// decode_artifact trusts nothing: every size, offset, count and checksum
// is checked, and every launch's buffers must lie inside the arena or
// their slot, before anything is allocated or run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/initializer.h"
#include "runtime/program.h"
#include "runtime/program_runner.h"

namespace reforge::runtime {

// 2: launches name their epilogue kernel; 3: CUDA artifacts (a GPU code
// section instead of the shared object); 4: entry points carry rows (a
// decode step's cache rows). Versions 2 and 3 are read too.
inline constexpr uint32_t kArtifactFormatVersion = 4;

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct Manifest {
  std::string compiler_version;                // "reforge <version>"
  std::string model;                           // the registered model's name
  KeyValues config;                            // every config field, as --field=value would set it
  KeyValues compile_options;                   // the passes and their settings
  std::string triple;                          // LLVM target triple of the code
  std::string cpu;                             // LLVM CPU name ("znver4", "x86-64-v3")
  std::string cpu_features;                    // LLVM's full feature string the code was generated with
  std::vector<std::string> required_features;  // what a machine must have to run it
  int32_t opt_level = 3;
};

// After a training step, output `next` becomes the value of slot `slot`.
struct CarriedSlot {
  std::string next;
  std::string slot;
};

// After a run of a decode step at `position`, on the runner that ran it:
// each carried output into its slot, each carried row into its slot's row
// `position`. Slots the program does not have (a cache nothing reads) are
// passed over.
void carry_decode_updates(ProgramRunner& runner, const std::vector<CarriedSlot>& carried,
                          const std::vector<CarriedSlot>& carried_rows, int64_t position);

struct EntryPoint {
  std::string name;  // "train_step", "forward", "decode" or "decode_setup"
  Program program;
  std::vector<CarriedSlot> carried;
  // After a run, output `next` ([..., 1, w]) becomes the row at the input
  // "position" of slot `slot` ([..., L, w]): a decode step's cache rows.
  std::vector<CarriedSlot> carried_rows;
};

// How the GPU runs one kernel (compiler/codegen/cuda/gpu_schedule.h): a
// launch of iterations [begin, end) starts (end - begin) *
// threads_per_iteration threads in blocks of block_threads.
struct CudaKernel {
  std::string name;
  int64_t threads_per_iteration = 1;
  int32_t block_threads = 256;
  int32_t registers = 0;  // ptxas's count, for the plan and the profile
};

// A CUDA artifact's code: a cubin for one GPU architecture and the PTX of
// its virtual architecture (a newer GPU compiles the PTX).
struct CudaCode {
  int32_t sm = 0;  // 90: sm_90 and compute_90
  std::string cubin;
  std::string ptx;
  std::vector<CudaKernel> kernels;
};

struct Artifact {
  Manifest manifest;
  std::vector<PersistentInit> persistent;
  std::vector<EntryPoint> entries;
  std::string memory_plan_json;
  // Exactly one of the two: a CPU artifact's ELF shared object exporting
  // every kernel symbol, or a CUDA artifact's GPU code (cuda.sm > 0).
  std::string code;
  CudaCode cuda;

  bool for_cuda() const { return cuda.sm > 0; }
  // "cpu" or "cuda sm_90", for messages.
  std::string target() const;

  const EntryPoint* entry(std::string_view name) const;
};

// Generation's entry points ("decode", "decode_setup", "decode_prefill"):
// the runtime makes their executors when first used, and they share the
// training step's arena only where they fit in it.
bool is_generation_entry(const EntryPoint& e);

// The bytes running it allocates on its machine (saturating at
// INT64_MAX): on the CPU the persistent values, every entry point's slots,
// the one arena they share and the own arena of a generation entry point
// too large for it; on a GPU every entry point's slots and its own arena
// (the persistent values' host mirror is host memory).
int64_t bytes_to_run(const Artifact& artifact);

std::string encode_artifact(const Artifact& artifact);

// Throws reforge::Error naming `origin` (a path) and what is wrong.
Artifact decode_artifact(std::string_view bytes, const std::string& origin);

// The consistency checks decode_artifact makes of what it read (every
// launch's buffers inside the arena or its slot, library calls against
// their descriptors, carried values, names unique), for an artifact made
// in this process (the JIT). Throws reforge::Error naming `origin`.
void check_artifact(const Artifact& artifact, const std::string& origin);

// Reads a whole artifact file (refusing one too large to be an artifact).
std::string read_artifact_file(const std::string& path);

}  // namespace reforge::runtime
