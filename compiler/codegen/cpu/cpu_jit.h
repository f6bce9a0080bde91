// Native code for a program's kernels: kernel IR -> LLVM IR -> optimised
// (O3, for the host CPU and its features) -> machine code through ORC
// LLJIT. Holds the code for as long as it lives; a runtime::Model runs it
// as it runs an artifact's shared object (runtime/code.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/kernel/kernel_ir.h"
#include "runtime/code.h"

namespace reforge::codegen {

struct CpuCodegenOptions {
  int opt_level = 3;
  bool keep_llvm_ir = false;  // keep the optimised IR's text (--print_kernels=llvm)
};

class CpuJit : public runtime::Code {
 public:
  static std::unique_ptr<CpuJit> compile(const std::vector<kir::Kernel>& kernels,
                                         const CpuCodegenOptions& options = {});
  ~CpuJit() override;

  // The kernel's entry point; null when there is no such kernel.
  runtime::KernelFunction find(const std::string& symbol) const override;
  // The optimised LLVM IR (when kept).
  const std::string& llvm_ir() const { return llvm_ir_; }
  // The host CPU the code was generated for, e.g. "znver3 (+avx2,+fma,...)".
  const std::string& target() const { return target_; }

 private:
  struct State;
  CpuJit();
  std::unique_ptr<State> state_;
  std::string llvm_ir_;
  std::string target_;
};

// Optimised LLVM IR for `kernels` on `cpu` (as resolve_cpu_target takes
// it; the host by default), as text (tests and --print_kernels look at
// it; nothing is executed).
std::string optimized_llvm_ir(const std::vector<kir::Kernel>& kernels, int opt_level = 3,
                              const std::string& cpu = "native");

}  // namespace reforge::codegen
