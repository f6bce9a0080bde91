// `reforge compile <model> [config flags] -o model.rfa`: compiles the
// model's training step and forward pass ahead of time for a CPU
// (--cpu=native by default) or, with --target=cuda, for an NVIDIA GPU
// (--sm=90 by default), and writes one artifact that `reforge run` and the
// runtime API (runtime/reforge_runtime.h) run without a compiler.
#include <fmt/format.h>

#include <chrono>

#include "compiler/memory/plan_dump.h"
#include "models/reformer_artifact.h"
#include "runtime/artifact.h"
#include "base/durable_file.h"
#include "tools/cli/model_flags.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string>& compile_flags() {
  static const std::map<std::string, std::string> flags = [] {
    std::map<std::string, std::string> f = compile_flag_defaults();
    f.insert({{"output", ""}, {"target", "cpu"}, {"cpu", "native"}, {"sm", "90"}, {"opt_level", "3"}, {"ranks", "1"}});
    return f;
  }();
  return flags;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run_compile(const std::vector<std::string>& args) {
  ModelSelection selection = select_model("compile", args, compile_flags());
  if (selection.help_shown) return 0;
  const Flags& flags = selection.flags;
  const std::string output = flags.get("output");
  if (output.empty()) throw UsageError("reforge compile needs the artifact's path: -o FILE.rfa");
  int64_t opt_level = flags.get_int("opt_level");
  if (opt_level < 0 || opt_level > 3) throw UsageError(fmt::format("--opt_level must be 0..3, got {}", opt_level));

  const std::string target = flags.get("target");
  if (target != "cpu" && target != "cuda") throw UsageError("--target must be cpu or cuda, got '" + target + "'");
  const int64_t sm = flags.get_int("sm");
  if (sm < 50 || sm > 999) throw UsageError(fmt::format("--sm must be a GPU architecture such as 90, got {}", sm));
  ArtifactOptions options{.target = target,
                          .cpu = flags.get("cpu"),
                          .sm = static_cast<int>(sm),
                          .opt_level = static_cast<int>(opt_level),
                          .compile = compile_options(flags)};
  // For `mpirun -np N reforge run`: each rank's step takes batch / N rows.
  ReformerConfig config = selection.config;
  const int64_t ranks = flags.get_int("ranks");
  if (ranks < 1 || ranks > 65536) throw UsageError(fmt::format("--ranks must be 1..65536, got {}", ranks));
  config.replicas = ranks;
  config.validate();
  apply_memory_flags(flags, config, options.compile, stdout,
                     {.host = target == "cpu", .processes = static_cast<int>(ranks)});
  auto started = std::chrono::steady_clock::now();
  runtime::Artifact artifact = compile_reformer_artifact(config, selection.entry->name, options);
  double compile_seconds = seconds_since(started);

  started = std::chrono::steady_clock::now();
  std::string bytes = runtime::encode_artifact(artifact);
  write_file_durably(output, bytes, "artifact");
  double write_seconds = seconds_since(started);

  const runtime::Manifest& m = artifact.manifest;
  if (artifact.for_cuda()) {
    int most_registers = 0;
    for (const runtime::CudaKernel& k : artifact.cuda.kernels) most_registers = std::max(most_registers, k.registers);
    fmt::print("compiled {} for CUDA sm_{} ({} kernels, at most {} registers a thread) in {:.2f}s\n", m.model,
               artifact.cuda.sm, artifact.cuda.kernels.size(), most_registers, compile_seconds);
  } else {
    std::vector<std::string> vector_features;
    for (const std::string& f : m.required_features) {
      if (f == "avx" || f == "avx2" || f == "fma" || f == "avx512f") vector_features.push_back(f);
    }
    fmt::print("compiled {} for {} ({}; {} required CPU features) in {:.2f}s\n", m.model, m.cpu,
               vector_features.empty() ? "no AVX" : fmt::format("{}", fmt::join(vector_features, ",")),
               m.required_features.size(), compile_seconds);
  }
  for (const runtime::EntryPoint& e : artifact.entries) {
    fmt::print("  entry {:<10} {:>6} launches, arena {}\n", e.name, e.program.launches.size(),
               format_bytes(e.program.arena_bytes));
  }
  int64_t parameters = 0;
  for (const runtime::PersistentInit& p : artifact.persistent) parameters += p.parameter ? p.type.elements() : 0;
  const std::string code = artifact.for_cuda() ? fmt::format("cubin {} + PTX {}", format_bytes(artifact.cuda.cubin.size()),
                                                              format_bytes(artifact.cuda.ptx.size()))
                                               : format_bytes(artifact.code.size());
  fmt::print("  {} parameters, code {}, memory plan {}\n", parameters, code,
             format_bytes(artifact.memory_plan_json.size()));
  fmt::print("wrote {} ({}) in {:.3f}s\n", output, format_bytes(bytes.size()), write_seconds);
  return 0;
}

const bool registered = [] {
  register_command({"compile", "compile a model ahead of time into an artifact (-o model.rfa)", run_compile});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
