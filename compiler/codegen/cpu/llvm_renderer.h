// Renders kernel IR as LLVM IR: one function per kernel,
//   void name(ptr buffers, i64 begin, i64 end)
// whose top-level loop runs [begin, end). Values are emitted where a
// statement first needs them inside the innermost open loop (LLVM's
// loop-invariant code motion hoists what it can).
#pragma once

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <memory>
#include <vector>

#include "compiler/kernel/kernel_ir.h"

namespace reforge::codegen {

// A module with every kernel of `kernels`; verified (an internal error
// names the kernel if LLVM rejects it).
std::unique_ptr<llvm::Module> render_llvm_module(const std::vector<kir::Kernel>& kernels, llvm::LLVMContext& context);

}  // namespace reforge::codegen
