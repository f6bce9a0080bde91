// Ahead-of-time code for a program's kernels: kernel IR -> LLVM IR ->
// optimised for a chosen CPU -> a position-independent object file ->
// a shared object (linked by the system linker, `ld`, or $REFORGE_LINKER).
// The runtime loads the shared object from an artifact without LLVM.
#pragma once

#include <string>
#include <vector>

#include "compiler/codegen/cpu/llvm_target.h"
#include "compiler/kernel/kernel_ir.h"

namespace reforge::codegen {

// The bytes of a shared object exporting one function per kernel, named
// as the kernel (the same entry points CpuJit::find returns). It needs
// libm and libmvec, which it names as its dependencies.
std::string compile_shared_object(const std::vector<kir::Kernel>& kernels, const CpuTarget& target, int opt_level = 3);

}  // namespace reforge::codegen
