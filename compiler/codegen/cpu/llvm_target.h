// What the JIT and the ahead-of-time compiler share: LLVM's one-time
// set-up, the target machine for a CPU (the host, or one named), and the
// optimisation pipeline run for it.
#pragma once

#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace reforge::codegen {

void initialise_llvm();

std::string llvm_error_text(llvm::Error error);

template <typename T>
T unwrap(llvm::Expected<T> value, const char* what) {
  if (!value) throw Error(std::string("LLVM: ") + what + ": " + llvm_error_text(value.takeError()));
  return std::move(*value);
}

// A CPU to generate code for: `name` "native" (the host as LLVM detects
// it), an x86-64 level ("x86-64", "x86-64-v2", "-v3", "-v4") or any CPU
// LLVM knows ("znver3", "skylake-avx512", ...).
struct CpuTarget {
  std::string triple;
  std::string cpu;                    // LLVM's CPU name ("znver4")
  std::string features;               // LLVM's feature string ("+avx2,+fma,...")
  std::vector<std::string> required;  // the instruction-set features a machine must have to run the code
};

// Throws reforge::Error naming `name` when LLVM does not know it.
CpuTarget resolve_cpu_target(const std::string& name);

// The target machine for `target`; position-independent code when `pic`
// (shared objects), LLVM's default otherwise (the JIT).
std::unique_ptr<llvm::TargetMachine> make_target_machine(const CpuTarget& target, int opt_level, bool pic);

// "znver3 (+avx,+avx2,+fma)": the CPU and its main vector features.
std::string describe_target(const CpuTarget& target);

// The O<level> pipeline for `machine` (vectorisers included; calls of exp,
// log and tanh vectorise into glibc's libmvec where the process has it).
void optimise(llvm::Module& module, llvm::TargetMachine& machine, int opt_level);

// glibc's vector math library, loaded into this process once; false where
// it is missing (the vectoriser then leaves math calls scalar).
bool vector_math_available();

std::string module_text(const llvm::Module& module);

}  // namespace reforge::codegen
