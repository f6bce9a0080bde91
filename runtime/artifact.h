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

namespace reforge::runtime {

inline constexpr uint32_t kArtifactFormatVersion = 2;  // 2: launches name their epilogue kernel

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

struct EntryPoint {
  std::string name;  // "train_step" or "forward"
  Program program;
  std::vector<CarriedSlot> carried;
};

struct Artifact {
  Manifest manifest;
  std::vector<PersistentInit> persistent;
  std::vector<EntryPoint> entries;
  std::string memory_plan_json;
  std::string code;  // an ELF shared object exporting every kernel symbol

  const EntryPoint* entry(std::string_view name) const;
};

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
