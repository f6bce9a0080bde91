#include "compiler/codegen/cpu/cpu_jit.h"

#include <fmt/format.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/SubtargetFeature.h>

#include "compiler/codegen/cpu/gemm_micro_kernel.h"
#include "compiler/codegen/cpu/llvm_renderer.h"
#include "compiler/codegen/cpu/llvm_target.h"
#include "base/error.h"

namespace reforge::codegen {
namespace {

llvm::orc::JITTargetMachineBuilder jit_machine(const CpuTarget& target, int opt_level) {
  llvm::orc::JITTargetMachineBuilder builder{llvm::Triple(target.triple)};
  builder.setCPU(target.cpu);
  builder.addFeatures(llvm::SubtargetFeatures(target.features).getFeatures());
  builder.setCodeGenOptLevel(opt_level >= 3 ? llvm::CodeGenOptLevel::Aggressive : llvm::CodeGenOptLevel::Default);
  return builder;
}

}  // namespace

struct CpuJit::State {
  std::unique_ptr<llvm::orc::LLJIT> jit;
};

CpuJit::CpuJit() : state_(std::make_unique<State>()) {}
CpuJit::~CpuJit() = default;

std::unique_ptr<CpuJit> CpuJit::compile(const std::vector<kir::Kernel>& kernels, const CpuCodegenOptions& options) {
  initialise_llvm();
  std::unique_ptr<CpuJit> result(new CpuJit());
  CpuTarget target = resolve_cpu_target("native");
  result->target_ = describe_target(target);
  std::unique_ptr<llvm::TargetMachine> target_machine = make_target_machine(target, options.opt_level, false);

  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module = render_llvm_module(kernels, *context);
  const std::string gemm = add_gemm_micro_kernel(*module, gemm_block_for(target));
  optimise(*module, *target_machine, options.opt_level);
  if (options.keep_llvm_ir) result->llvm_ir_ = module_text(*module);

  result->state_->jit =
      unwrap(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(jit_machine(target, options.opt_level)).create(),
             "creating the JIT");
  llvm::orc::LLJIT& jit = *result->state_->jit;
  // Kernels call the C math library (tanhf, expf, ...) of this process.
  jit.getMainJITDylib().addGenerator(
      unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(jit.getDataLayout().getGlobalPrefix()),
             "opening the process's symbols"));
  if (llvm::Error e = jit.addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))) {
    throw Error("LLVM: adding the kernels: " + llvm_error_text(std::move(e)));
  }
  // Materialise everything now, so a missing symbol fails here, not mid-step.
  for (const kir::Kernel& k : kernels) {
    if (!result->find(k.name)) throw Error("LLVM: kernel " + k.name + " did not compile");
  }
  if (!result->find(gemm)) throw Error("LLVM: the GEMM micro-kernel " + gemm + " did not compile");
  return result;
}

runtime::KernelFunction CpuJit::find(const std::string& symbol) const {
  auto address = state_->jit->lookup(symbol);
  if (!address) {
    llvm::consumeError(address.takeError());
    return nullptr;
  }
  return address->toPtr<runtime::KernelFunction>();
}

std::string optimized_llvm_ir(const std::vector<kir::Kernel>& kernels, int opt_level, const std::string& cpu) {
  const CpuTarget target = resolve_cpu_target(cpu);
  std::unique_ptr<llvm::TargetMachine> target_machine = make_target_machine(target, opt_level, false);
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = render_llvm_module(kernels, context);
  add_gemm_micro_kernel(*module, gemm_block_for(target));
  optimise(*module, *target_machine, opt_level);
  return module_text(*module);
}

}  // namespace reforge::codegen
