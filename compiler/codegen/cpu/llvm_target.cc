#include "compiler/codegen/cpu/llvm_target.h"

#include <fmt/format.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/Instructions.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/SubtargetFeature.h>

#include <algorithm>
#include <mutex>

#include "runtime/cpu_features.h"

namespace reforge::codegen {

void initialise_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

std::string llvm_error_text(llvm::Error error) { return llvm::toString(std::move(error)); }

namespace {

const llvm::Target& find_target(const std::string& triple) {
  std::string message;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, message);
  if (!target) throw Error(fmt::format("LLVM has no target for '{}': {}", triple, message));
  return *target;
}

}  // namespace

CpuTarget resolve_cpu_target(const std::string& name) {
  initialise_llvm();
  CpuTarget t;
  t.triple = llvm::sys::getProcessTriple();
  if (name == "native") {
    t.cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures features;
    for (const auto& f : llvm::sys::getHostCPUFeatures()) features.AddFeature(f.getKey(), f.getValue());
    t.features = features.getString();
  } else {
    t.cpu = name;
  }
  const llvm::Target& target = find_target(t.triple);
  // Asked of a generic subtarget first: LLVM warns on stderr about a CPU
  // name it does not know.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(target.createMCSubtargetInfo(t.triple, "", ""));
  if (!generic || !generic->isCPUStringValid(t.cpu)) {
    throw Error(
        fmt::format("--cpu: LLVM does not know the CPU '{}' (try native, x86-64, x86-64-v2, x86-64-v3, "
                    "x86-64-v4, znver3, skylake-avx512, ...)",
                    name));
  }
  std::unique_ptr<llvm::MCSubtargetInfo> info(target.createMCSubtargetInfo(t.triple, t.cpu, t.features));
  // Only features the runtime can check are recorded as required: code
  // that needs one the loading machine lacks is refused, not run.
  const auto& checkable = runtime::checkable_cpu_features();
  for (const llvm::SubtargetFeatureKV& kv : info->getAllProcessorFeatures()) {
    std::string_view feature(kv.Key);
    if (info->getFeatureBits().test(kv.Value) &&
        std::find(checkable.begin(), checkable.end(), feature) != checkable.end()) {
      t.required.emplace_back(feature);
    }
  }
  return t;
}

std::unique_ptr<llvm::TargetMachine> make_target_machine(const CpuTarget& target, int opt_level, bool pic) {
  initialise_llvm();
  llvm::TargetOptions options;
  std::optional<llvm::Reloc::Model> relocation;
  if (pic) relocation = llvm::Reloc::PIC_;
  std::unique_ptr<llvm::TargetMachine> machine(
      find_target(target.triple)
          .createTargetMachine(target.triple, target.cpu, target.features, options, relocation, std::nullopt,
                               opt_level >= 3 ? llvm::CodeGenOptLevel::Aggressive : llvm::CodeGenOptLevel::Default));
  if (!machine) throw Error("LLVM: cannot create a target machine for " + target.cpu);
  return machine;
}

std::string describe_target(const CpuTarget& target) {
  std::string features;
  for (const char* f : {"avx", "avx2", "fma", "avx512f"}) {
    if (std::find(target.required.begin(), target.required.end(), f) != target.required.end()) {
      features += fmt::format("{}+{}", features.empty() ? "" : ",", f);
    }
  }
  return fmt::format("{} ({})", target.cpu, features);
}

// glibc's vector math library (libmvec): with it the loop vectoriser turns
// calls of exp, log and tanh into calls of their 4-, 8- or 16-wide
// versions.
constexpr const char* kVectorMathLibrary = "libmvec.so.1";
bool vector_math_available() {
  static const bool loaded = !llvm::sys::DynamicLibrary::LoadLibraryPermanently(kVectorMathLibrary);
  return loaded;
}

namespace {

// Asked of the subtarget, which knows a named CPU's features ("znver4"):
// the feature string is only filled for "native".
bool has_feature(const llvm::TargetMachine& machine, const char* feature) {
  return machine.getMCSubtargetInfo()->checkFeatures(feature);
}

// Whether `f` may reorder a floating-point sum: the renderer marks an
// accumulation's add or multiply reassociable so that it vectorises, and
// then the vector width decides the order of the sum, and so its bits.
bool reassociates(const llvm::Function& f) {
  for (const llvm::BasicBlock& block : f) {
    for (const llvm::Instruction& instruction : block) {
      if (llvm::isa<llvm::FPMathOperator>(instruction) && instruction.hasAllowReassoc()) return true;
    }
  }
  return false;
}

// What the vectoriser may call: glibc's table for exp and log (SSE and
// AVX2 widths), plus what LLVM 19's table lacks: tanh, and on AVX-512 the
// 16-float (8-double) versions glibc has of all three (GELU's tanh ran
// 8 floats to a call on Zen 5 without them).
llvm::TargetLibraryInfoImpl library_info(const llvm::TargetMachine& machine) {
  llvm::TargetLibraryInfoImpl info(machine.getTargetTriple());
  if (!vector_math_available()) return info;
  info.addVectorizableFunctionsFromVecLib(llvm::TargetLibraryInfoImpl::LIBMVEC_X86, machine.getTargetTriple());
  using llvm::ElementCount;
  std::vector<llvm::VecDesc> extra = {{"tanhf", "_ZGVbN4v_tanhf", ElementCount::getFixed(4), false, "_ZGV_LLVM_N4v"},
                                      {"tanh", "_ZGVbN2v_tanh", ElementCount::getFixed(2), false, "_ZGV_LLVM_N2v"}};
  if (has_feature(machine, "+avx2")) {
    extra.push_back({"tanhf", "_ZGVdN8v_tanhf", ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"});
    extra.push_back({"tanh", "_ZGVdN4v_tanh", ElementCount::getFixed(4), false, "_ZGV_LLVM_N4v"});
  }
  if (has_feature(machine, "+avx512f")) {
    // (VecDesc holds string references: literals only.)
    const ElementCount floats = ElementCount::getFixed(16), doubles = ElementCount::getFixed(8);
    for (const llvm::VecDesc& d :
         std::initializer_list<llvm::VecDesc>{{"tanhf", "_ZGVeN16v_tanhf", floats, false, "_ZGV_LLVM_N16v"},
                                              {"expf", "_ZGVeN16v_expf", floats, false, "_ZGV_LLVM_N16v"},
                                              {"llvm.exp.f32", "_ZGVeN16v_expf", floats, false, "_ZGV_LLVM_N16v"},
                                              {"logf", "_ZGVeN16v_logf", floats, false, "_ZGV_LLVM_N16v"},
                                              {"llvm.log.f32", "_ZGVeN16v_logf", floats, false, "_ZGV_LLVM_N16v"},
                                              {"tanh", "_ZGVeN8v_tanh", doubles, false, "_ZGV_LLVM_N8v"},
                                              {"exp", "_ZGVeN8v_exp", doubles, false, "_ZGV_LLVM_N8v"},
                                              {"llvm.exp.f64", "_ZGVeN8v_exp", doubles, false, "_ZGV_LLVM_N8v"},
                                              {"log", "_ZGVeN8v_log", doubles, false, "_ZGV_LLVM_N8v"},
                                              {"llvm.log.f64", "_ZGVeN8v_log", doubles, false, "_ZGV_LLVM_N8v"}}) {
      extra.push_back(d);
    }
  }
  info.addVectorizableFunctions(extra);
  return info;
}

}  // namespace

void optimise(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  module.setDataLayout(machine.createDataLayout());
  module.setTargetTriple(machine.getTargetTriple().str());
  // LLVM tunes Intel's AVX-512 CPUs (Skylake-SP to Sapphire Rapids) to
  // vectorise loops 256 bits wide, against the clock drop early parts took
  // on 512-bit code; GELU's tanh then went 8 floats to a libmvec call.
  // The kernels are bound by memory or by libmvec, not by that clock, so
  // they ask for 512 bits: P1 at 4K on a Xeon with two 512-bit FMA units,
  // GELU's kernel 18.5 -> 12.1 ms a step, its gradient's 19.2 -> 12.2, the
  // step 2.5% faster. Not a kernel that reassociates a sum: the width
  // would change the sum's order and its bits (asked of every kernel, one
  // parameter of the data-parallel test, 2 ranks against one process
  // after 5 Adam steps, moved past its rounding tolerance). Elementwise
  // values and an argmax are the same bits at any width. The GEMM's
  // micro-kernel is written with its vector width and is unaffected.
  if (has_feature(machine, "+avx512f")) {
    for (llvm::Function& f : module) {
      if (!f.isDeclaration() && !reassociates(f)) f.addFnAttr("prefer-vector-width", "512");
    }
  }
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

}  // namespace reforge::codegen
