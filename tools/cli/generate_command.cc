// `reforge generate RUN_DIR --prompt "..." --length N`: samples bytes from
// a trained run's newest checkpoint, one byte at a time, streaming each to
// the terminal as it comes. By default a one-token step with per-layer
// caches (models/decode_step.h) makes each byte cost the same at any
// position; --no_cache runs the whole window's forward pass per byte.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "runtime/profile_report.h"
#include "tools/cli/command.h"
#include "tools/cli/trained_forward.h"
#include "tools/cli/training_flags.h"
#include "training/generation.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string> kGenerateFlags = {
    {"prompt", "\n"}, {"length", "200"}, {"temperature", "0.8"}, {"top_k", "0"},       {"top_p", "1"},
    {"seed", "1"},    {"threads", "0"},  {"no_cache", "false"},  {"profile", "false"},
    {"help", "false"}};

constexpr const char* kUsage =
    "usage: reforge generate RUN_DIR [--prompt=TEXT] [--length=N] [--temperature=T] [--top_k=K] [--top_p=P]\n"
    "                        [--seed=S] [--no_cache] [--profile] [--threads=N]\n"
    "\n"
    "Samples N bytes (default 200) after the prompt (default a newline) from the run's newest checkpoint,\n"
    "printing each byte as it comes and the rate at the end.\n"
    "  --temperature  above 0, at most 100 (default 0.8); --top_k=1 takes the most likely byte every time\n"
    "  --top_k        sample among the K most likely bytes (0: all)\n"
    "  --top_p        sample among the fewest most likely bytes whose probability reaches P (1: all)\n"
    "  --seed         the same seed gives the same text\n"
    "  --no_cache     run the whole window's forward pass for every byte (the slow path, for comparison)\n"
    "  --profile      time per kernel of the one-token step (or of the forward pass), summed over the bytes\n"
    "\n"
    "The window: the model reads at most seq_len bytes. When the context fills it, generation keeps the\n"
    "context's last half and reads it again from empty caches (a re-prefill), with or without the cache,\n"
    "so both paths see the same context. The cached step decodes exactly what the forward pass computes\n"
    "for local and full attention and for a last LSH layer; after an LSH layer the cache keeps each\n"
    "position's states from when it was the newest (docs/ARCHITECTURE.md, \"Generation with a cache\").\n";

// The sampling flags, checked; top-k against the model's vocabulary.
runtime::SamplingOptions sampling_flags(const Flags& flags) {
  runtime::SamplingOptions sampling{
      .temperature = flags.get_double("temperature"), .top_k = flags.get_int("top_k"), .top_p = flags.get_double("top_p")};
  if (!(sampling.temperature > 0 && sampling.temperature <= 100)) {
    throw UsageError(fmt::format(
        "--temperature must be above 0 and at most 100 (--top_k=1 takes the most likely byte), got {}",
        flags.get("temperature")));
  }
  if (sampling.top_k < 0) throw UsageError(fmt::format("--top_k must be 0 (all) or more, got {}", sampling.top_k));
  if (!(sampling.top_p > 0 && sampling.top_p <= 1)) {
    throw UsageError(fmt::format("--top_p must be above 0 and at most 1, got {}", flags.get("top_p")));
  }
  return sampling;
}

int run_generate(const std::vector<std::string>& args) {
  Flags flags(args, kGenerateFlags);
  if (flags.get_bool("help")) {
    fmt::print("{}", kUsage);
    return 0;
  }
  if (flags.positional().size() != 1) throw UsageError(kUsage);
  const std::string run_dir = flags.positional()[0];
  long long length = flags.get_int("length");
  if (length < 1 || length > 1000000) throw UsageError(fmt::format("--length must be 1..1000000, got {}", length));
  runtime::SamplingOptions sampling = sampling_flags(flags);
  long long seed = flags.get_int("seed");
  if (seed < 0) throw UsageError(fmt::format("--seed must be 0 or more, got {}", seed));
  const std::string prompt = flags.get("prompt");
  if (prompt.empty()) throw UsageError("--prompt is empty: give at least one byte");

  const bool cached = !flags.get_bool("no_cache");
  std::unique_ptr<runtime::Decoder> decoder;
  TrainedDecoder trained_step;
  TrainedForward trained_forward;
  const ReformerConfig* config = nullptr;
  const runtime::Checkpoint* checkpoint = nullptr;
  std::string checkpoint_path;
  if (cached) {
    trained_step = open_trained_decoder(run_dir, thread_count(flags));
    config = &trained_step.config;
    checkpoint = &trained_step.checkpoint;
    checkpoint_path = trained_step.checkpoint_path;
  } else {
    trained_forward = open_trained_forward(run_dir, thread_count(flags), {}, "", {.valid_length_input = true});
    config = &trained_forward.config;
    checkpoint = &trained_forward.checkpoint;
    checkpoint_path = trained_forward.checkpoint_path;
  }
  if (config->vocab_size < 256) {
    throw Error(fmt::format("{}: a model of {} symbols does not generate bytes", checkpoint_path, config->vocab_size));
  }
  if (sampling.top_k > config->vocab_size) {
    throw UsageError(fmt::format("--top_k must be at most {} (the vocabulary), got {}", config->vocab_size,
                                 sampling.top_k));
  }
  if (static_cast<int64_t>(prompt.size()) > config->seq_len) {
    throw UsageError(fmt::format("--prompt is {} bytes, longer than the model's window of {} (--seq_len)",
                                 prompt.size(), config->seq_len));
  }
  if (cached) {
    decoder = std::make_unique<runtime::StepDecoder>(trained_step.functions(), config->seq_len);
  } else {
    decoder = std::make_unique<training::ForwardDecoder>(
        [&](const ValueMap& batch) { return trained_forward.run(batch); }, *config, /*feeds_valid_length=*/true);
  }

  fmt::print(stderr, "{} at step {}: generating {} bytes ({})\n", checkpoint->model, checkpoint->step, length,
             cached ? "one-token steps with caches" : "--no_cache: the whole window's forward pass per byte");
  fmt::print("{}", runtime::printable(prompt, true));
  std::fflush(stdout);
  const bool profile = flags.get_bool("profile");
  if (profile) (cached ? trained_step.executable : trained_forward.executable)->executor().set_profiling(true);
  auto started = std::chrono::steady_clock::now();
  std::string text = runtime::generate_text(*decoder, prompt, length, sampling, static_cast<uint64_t>(seed),
                                             [](char c) {
                                               fmt::print("{}", runtime::printable(std::string(1, c), true));
                                               std::fflush(stdout);
                                             });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("\n");
  if (profile) {
    runtime::Executor& e = cached ? trained_step.executable->executor() : trained_forward.executable->executor();
    int64_t runs = cached ? dynamic_cast<runtime::StepDecoder&>(*decoder).steps()
                          : dynamic_cast<training::ForwardDecoder&>(*decoder).passes();
    fmt::print(stderr, "{}", runtime::profile_report(e.program(), e.seconds(), runs));
  }
  fmt::print(stderr, "{} bytes in {:.2f} s: {:.1f} bytes/s (prompt of {} bytes included in the time)\n",
             text.size(), seconds, static_cast<double>(text.size()) / seconds, prompt.size());
  return 0;
}

const bool registered = [] {
  register_command({"generate",
                    "sample text from a trained run, byte by byte (reforge generate RUN_DIR --prompt=...; --help)",
                    run_generate});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
