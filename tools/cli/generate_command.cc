// `reforge generate RUN_DIR --prompt "..." --length N`: samples bytes from
// a trained run's newest checkpoint with the model's compiled forward pass
// (compiled once; one forward pass per byte).
#include <fmt/format.h>

#include <cstring>
#include <map>

#include "compiler/interpreter/interpreter.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "models/reformer_artifact.h"
#include "models/reformer_step.h"
#include "runtime/checkpoint.h"
#include "tools/cli/command.h"
#include "training/generation.h"
#include "tools/cli/training_flags.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string> kGenerateFlags = {{"prompt", ""}, {"length", "200"}, {"temperature", "0.8"},
                                                           {"top_k", "0"}, {"seed", "1"},     {"threads", "0"}};

int run_generate(const std::vector<std::string>& args) {
  Flags flags(args, kGenerateFlags);
  if (flags.positional().size() != 1) {
    throw UsageError("usage: reforge generate RUN_DIR [--prompt=TEXT --length=N --temperature=T --top_k=K --seed=S]");
  }
  const std::string run_dir = flags.positional()[0];
  long long length = flags.get_int("length");
  if (length < 1 || length > 1000000) throw UsageError(fmt::format("--length must be 1..1000000, got {}", length));
  runtime::SamplingOptions sampling{.temperature = flags.get_double("temperature"), .top_k = flags.get_int("top_k")};
  if (!(sampling.temperature >= 0 && sampling.temperature <= 100)) {
    throw UsageError(fmt::format("--temperature must be between 0 (greedy) and 100, got {}", flags.get("temperature")));
  }
  if (sampling.top_k < 0) throw UsageError(fmt::format("--top_k must be 0 (all) or more, got {}", sampling.top_k));
  long long seed = flags.get_int("seed");
  if (seed < 0) throw UsageError(fmt::format("--seed must be 0 or more, got {}", seed));

  std::optional<std::string> latest = runtime::latest_checkpoint(run_dir);
  if (!latest) throw Error(fmt::format("{} holds no checkpoint (train with --run_dir={} first)", run_dir, run_dir));
  runtime::Checkpoint checkpoint = runtime::read_checkpoint(*latest);
  ReformerConfig config = config_from_record(checkpoint.config);
  if (config.vocab_size < 256)
    throw Error(fmt::format("{}: a model of {} symbols does not generate bytes", *latest, config.vocab_size));

  std::unique_ptr<Graph> forward = compile_forward(*build_reformer_eval_graph(config, checkpoint.model), {});
  auto executable = CpuExecutable::build(*forward, {}, {.threads = thread_count(flags)});
  runtime::Executor& e = executable->executor();
  // Every parameter the forward pass has comes from the checkpoint
  // (optimizer state there is not needed).
  std::map<std::string, const runtime::NamedTensor*> saved;
  for (const runtime::NamedTensor& v : checkpoint.values) saved.emplace(v.name, &v);
  for (const runtime::PersistentInit& p : persistent_values(*forward)) {
    auto it = saved.find(p.name);
    if (it == saved.end()) throw Error(fmt::format("{} has no value for parameter '{}'", *latest, p.name));
    if (it->second->type != p.type) {
      throw Error(fmt::format("{}: '{}' is {} there, {} in the model", *latest, p.name,
                              type_to_string(it->second->type), type_to_string(p.type)));
    }
    if (int slot = e.find_slot(p.name); slot >= 0)
      std::memcpy(e.slot_data(slot), it->second->bytes.data(), it->second->bytes.size());
  }
  const std::string prompt = flags.get("prompt");
  fmt::print(stderr, "{} at step {}: generating {} bytes\n", checkpoint.model, checkpoint.step, length);
  std::string text = training::generate_text(
      [&](const ValueMap& batch) {
        for (const auto& [name, value] : batch) {
          if (e.find_slot(name) >= 0) executable->feed(name, value);
        }
        executable->run();
        return ValueMap{{"logits", executable->read_output("logits")}};
      },
      config, prompt, length, sampling, static_cast<uint64_t>(seed));
  fmt::print("{}{}\n", prompt, training::printable(text, true));
  return 0;
}

const bool registered = [] {
  register_command(
      {"generate", "sample text from a trained run (reforge generate RUN_DIR --prompt=...)", run_generate});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
