#include "compiler/codegen/cpu/cpu_jit.h"

#include <fmt/format.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <mutex>

#include "compiler/codegen/cpu/llvm_renderer.h"
#include "compiler/ir/error.h"

namespace reforge::codegen {
namespace {

void initialise_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

template <typename T>
T unwrap(llvm::Expected<T> value, const char* what) {
  if (!value) throw Error(fmt::format("LLVM: {}: {}", what, llvm::toString(value.takeError())));
  return std::move(*value);
}

llvm::orc::JITTargetMachineBuilder host_machine(int opt_level) {
  auto builder = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host CPU");
  builder.setCodeGenOptLevel(opt_level >= 3 ? llvm::CodeGenOptLevel::Aggressive : llvm::CodeGenOptLevel::Default);
  return builder;
}

std::string describe(const llvm::orc::JITTargetMachineBuilder& machine) {
  std::string features;
  for (const std::string& f : machine.getFeatures().getFeatures()) {
    if (f == "+avx2" || f == "+fma" || f == "+avx512f" || f == "+avx") features += (features.empty() ? "" : ",") + f;
  }
  return fmt::format("{} ({})", machine.getCPU(), features);
}

// glibc's vector math library (libmvec): with it the loop vectoriser turns
// calls of exp, log and tanh into calls of their 4-, 8- or 16-wide
// versions. Loaded into the process once; false where it is missing.
constexpr const char* kVectorMathLibrary = "libmvec.so.1";
bool vector_math_available() {
  static const bool loaded = !llvm::sys::DynamicLibrary::LoadLibraryPermanently(kVectorMathLibrary);
  return loaded;
}

bool has_feature(const llvm::TargetMachine& machine, const char* feature) {
  return machine.getTargetFeatureString().contains(feature);
}

// What the vectoriser may call: glibc's table for exp and log, and tanh,
// which LLVM 19's table lacks, in the widest version this CPU runs.
llvm::TargetLibraryInfoImpl library_info(const llvm::TargetMachine& machine) {
  llvm::TargetLibraryInfoImpl info(machine.getTargetTriple());
  if (!vector_math_available()) return info;
  info.addVectorizableFunctionsFromVecLib(llvm::TargetLibraryInfoImpl::LIBMVEC_X86, machine.getTargetTriple());
  using llvm::ElementCount;
  std::vector<llvm::VecDesc> tanh = {{"tanhf", "_ZGVbN4v_tanhf", ElementCount::getFixed(4), false, "_ZGV_LLVM_N4v"},
                                     {"tanh", "_ZGVbN2v_tanh", ElementCount::getFixed(2), false, "_ZGV_LLVM_N2v"}};
  if (has_feature(machine, "+avx2")) {
    tanh.push_back({"tanhf", "_ZGVdN8v_tanhf", ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"});
    tanh.push_back({"tanh", "_ZGVdN4v_tanh", ElementCount::getFixed(4), false, "_ZGV_LLVM_N4v"});
  }
  info.addVectorizableFunctions(tanh);
  return info;
}

// The O<level> pipeline for the given machine (vectorisers included).
void optimise(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  module.setDataLayout(machine.createDataLayout());
  module.setTargetTriple(machine.getTargetTriple().str());
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::TargetLibraryInfoImpl library = library_info(machine);
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(library); });
  llvm::PassBuilder pb(&machine);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = opt_level >= 3   ? llvm::OptimizationLevel::O3
                                  : opt_level == 2 ? llvm::OptimizationLevel::O2
                                  : opt_level == 1 ? llvm::OptimizationLevel::O1
                                                   : llvm::OptimizationLevel::O0;
  llvm::ModulePassManager passes =
      level == llvm::OptimizationLevel::O0 ? pb.buildO0DefaultPipeline(level) : pb.buildPerModuleDefaultPipeline(level);
  passes.run(module, mam);
}

std::string module_text(const llvm::Module& module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os, nullptr);
  return text;
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
  llvm::orc::JITTargetMachineBuilder machine = host_machine(options.opt_level);
  result->target_ = describe(machine);
  auto target_machine = unwrap(machine.createTargetMachine(), "creating the target machine");

  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module = render_llvm_module(kernels, *context);
  optimise(*module, *target_machine, options.opt_level);
  if (options.keep_llvm_ir) result->llvm_ir_ = module_text(*module);

  result->state_->jit =
      unwrap(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(machine)).create(), "creating the JIT");
  llvm::orc::LLJIT& jit = *result->state_->jit;
  // Kernels call the C math library (tanhf, expf, ...) of this process.
  jit.getMainJITDylib().addGenerator(
      unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(jit.getDataLayout().getGlobalPrefix()),
             "opening the process's symbols"));
  if (llvm::Error e = jit.addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))) {
    throw Error("LLVM: adding the kernels: " + llvm::toString(std::move(e)));
  }
  // Materialise everything now, so a missing symbol fails here, not mid-step.
  for (const kir::Kernel& k : kernels) {
    if (!result->find(k.name)) throw Error("LLVM: kernel " + k.name + " did not compile");
  }
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

std::string optimized_llvm_ir(const std::vector<kir::Kernel>& kernels, int opt_level) {
  initialise_llvm();
  llvm::orc::JITTargetMachineBuilder machine = host_machine(opt_level);
  auto target_machine = unwrap(machine.createTargetMachine(), "creating the target machine");
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = render_llvm_module(kernels, context);
  optimise(*module, *target_machine, opt_level);
  return module_text(*module);
}

}  // namespace reforge::codegen
