// `reforge generate RUN_DIR --prompt "..." --length N`: samples bytes from
// a trained run's newest checkpoint with the model's compiled forward pass
// (compiled once; one forward pass per byte).
#include <fmt/format.h>

#include <map>

#include "tools/cli/command.h"
#include "tools/cli/trained_forward.h"
#include "tools/cli/training_flags.h"
#include "training/generation.h"

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

  TrainedForward trained = open_trained_forward(run_dir, thread_count(flags));
  const ReformerConfig& config = trained.config;
  if (config.vocab_size < 256) {
    throw Error(fmt::format("{}: a model of {} symbols does not generate bytes", trained.checkpoint_path,
                            config.vocab_size));
  }
  const std::string prompt = flags.get("prompt");
  fmt::print(stderr, "{} at step {}: generating {} bytes\n", trained.checkpoint.model, trained.checkpoint.step, length);
  std::string text = training::generate_text([&](const ValueMap& batch) { return trained.run(batch); }, config, prompt,
                                             length, sampling, static_cast<uint64_t>(seed));
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
