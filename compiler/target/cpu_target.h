// The CPU target: code through LLVM for the host (or a named) CPU, and the
// runtime's CPU library (the blocked GEMM with its epilogues, the fused
// attention kernels).
#pragma once

#include "compiler/target/target.h"

namespace reforge {

class CpuTarget : public Target {
 public:
  std::string name() const override { return "cpu"; }
  // The GEMM's epilogues (bias, activation, residual: one pass over C
  // while it is in cache), then column reductions split into row blocks
  // so the threads share them.
  std::vector<Pass> backend_passes() const override;
  // Nests that stream and vectorise (cpu_target.cc says what each gains).
  kir::ReductionSchedule reduction_schedule() const override;
  LibraryDevice library_device() const override { return LibraryDevice::cpu; }
};

// The one CPU target (stateless).
const Target& cpu_target();

}  // namespace reforge
