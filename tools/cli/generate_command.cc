// `reforge generate RUN_DIR|MODEL.rfa --prompt "..." --length N`: samples
// bytes from a trained run's newest checkpoint (compiled here) or from an
// artifact's decode step (run by the runtime), one byte at a time,
// streaming each to the terminal as it comes. By default a one-token step
// with per-layer caches (models/decode_step.h) makes each byte cost the
// same at any position, and a prefill reads the prompt in one pass;
// --no_cache runs the whole window's forward pass per byte.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "compiler/memory/plan_dump.h"
#include "models/reformer_artifact.h"
#include "runtime/checkpoint.h"
#include "runtime/process_memory.h"
#include "runtime/profile_report.h"
#include "runtime/reforge_runtime.h"
#include "tools/cli/command.h"
#include "tools/cli/trained_forward.h"
#include "tools/cli/training_flags.h"
#include "training/generation.h"
#include "training/session.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string> kGenerateFlags = {
    {"prompt", "\n"},     {"length", "200"},  {"temperature", "0.8"}, {"top_k", "0"},
    {"top_p", "1"},       {"seed", "1"},      {"threads", "0"},       {"no_cache", "false"},
    {"profile", "false"}, {"checkpoint", ""}, {"help", "false"}};

constexpr const char* kUsage =
    "usage: reforge generate RUN_DIR [--prompt=TEXT] [--length=N] [--temperature=T] [--top_k=K] [--top_p=P]\n"
    "                        [--seed=S] [--no_cache] [--profile] [--threads=N]\n"
    "       reforge generate MODEL.rfa [--checkpoint=RUN_DIR] [the same sampling flags]\n"
    "\n"
    "Samples N bytes (default 200) after the prompt (default a newline) from the run's newest checkpoint\n"
    "(compiled here), or from an artifact's decode step run by the runtime with a run's parameters,\n"
    "printing each byte as it comes and the rate at the end.\n"
    "  --temperature  above 0, at most 100 (default 0.8); --top_k=1 takes the most likely byte every time\n"
    "  --top_k        sample among the K most likely bytes (0: all)\n"
    "  --top_p        sample among the fewest most likely bytes whose probability reaches P (1: all)\n"
    "  --seed         the same seed gives the same text\n"
    "  --no_cache     run the whole window's forward pass for every byte (the slow path, for comparison)\n"
    "  --profile      time per kernel of the one-token step (or of the forward pass), summed over the bytes\n"
    "\n"
    "The prompt is read in one pass (a prefill that fills the caches), then each byte is one step.\n"
    "The window: the model reads at most seq_len bytes. When the context fills it, generation keeps the\n"
    "context's last half and starts again from it and the new byte (a re-prefill), with or without the\n"
    "cache, so both paths see the same context. The cached step decodes exactly what the forward pass\n"
    "computes for local and full attention and for a last LSH layer; after an LSH layer the cache keeps\n"
    "each position's states from when it was the newest (docs/ARCHITECTURE.md, \"Generation with a\n"
    "cache\").\n";

// The sampling flags, checked; top-k against the model's vocabulary.
runtime::SamplingOptions sampling_flags(const Flags& flags) {
  runtime::SamplingOptions sampling{.temperature = flags.get_double("temperature"),
                                    .top_k = flags.get_int("top_k"),
                                    .top_p = flags.get_double("top_p")};
  if (!(sampling.temperature > 0 && sampling.temperature <= 100)) {
    throw UsageError(
        fmt::format("--temperature must be above 0 and at most 100 (--top_k=1 takes the most likely byte), got {}",
                    flags.get("temperature")));
  }
  if (sampling.top_k < 0) throw UsageError(fmt::format("--top_k must be 0 (all) or more, got {}", sampling.top_k));
  if (!(sampling.top_p > 0 && sampling.top_p <= 1)) {
    throw UsageError(fmt::format("--top_p must be above 0 and at most 1, got {}", flags.get("top_p")));
  }
  return sampling;
}

// A model to generate from, however it was opened, and how to profile it.
struct Generator {
  std::string description;  // "byte-lm at step 200" for the first line
  ReformerConfig config;
  std::unique_ptr<runtime::Decoder> decoder;
  std::function<runtime::ProgramRunner&()> runner;  // the program each byte runs
  // Owners of what `decoder` and `runner` use.
  TrainedDecoder step;
  TrainedForward forward;
  std::unique_ptr<runtime::Model> model;
};

// A run directory's newest checkpoint, compiled here: the cached step, or
// with --no_cache the forward pass over the prefix (valid_length).
std::unique_ptr<Generator> open_run(const std::string& run_dir, bool cached, int threads) {
  auto g = std::make_unique<Generator>();
  if (cached) {
    g->step = open_trained_decoder(run_dir, threads);
    g->config = g->step.config;
    g->description = fmt::format("{} at step {}", g->step.checkpoint.model, g->step.checkpoint.step);
    g->decoder = std::make_unique<runtime::StepDecoder>(g->step.step->functions(), g->config.seq_len);
    g->runner = [p = g.get()]() -> runtime::ProgramRunner& { return p->step.step->executable().executor(); };
  } else {
    g->forward = open_trained_forward(run_dir, threads, {}, "", {.valid_length_input = true});
    g->config = g->forward.config;
    g->description = fmt::format("{} at step {}", g->forward.checkpoint.model, g->forward.checkpoint.step);
    g->decoder = std::make_unique<training::ForwardDecoder>(
        [p = g.get()](const ValueMap& batch) { return p->forward.run(batch); }, g->config,
        /*feeds_valid_length=*/true);
    g->runner = [p = g.get()]() -> runtime::ProgramRunner& { return p->forward.executable->executor(); };
  }
  return g;
}

// An artifact's decode step, run by the runtime, with the parameters of
// `checkpoint_dir`'s newest checkpoint (or the artifact's initial ones).
std::unique_ptr<Generator> open_artifact(const std::string& path, const std::string& checkpoint_dir, int threads) {
  auto g = std::make_unique<Generator>();
  g->model = runtime::Model::open(path, {.threads = threads});
  g->config = config_from_record(g->model->manifest().config);
  if (!g->model->can_decode()) {
    throw Error(
        fmt::format("{}: the artifact has no decode step (compile it again with this Reforge; a model that "
                    "is not causal does not generate)",
                    path));
  }
  if (checkpoint_dir.empty()) {
    g->model->initialise(1);
    g->description = fmt::format("{} ({}), untrained: its initial parameters (--checkpoint=RUN_DIR for a run's)",
                                 g->model->manifest().model, path);
  } else {
    std::optional<std::string> latest = runtime::latest_checkpoint(checkpoint_dir);
    if (!latest) {
      throw Error(
          fmt::format("{} holds no checkpoint (train with --run_dir={} first)", checkpoint_dir, checkpoint_dir));
    }
    runtime::Checkpoint checkpoint = runtime::read_checkpoint(*latest);
    training::make_artifact_session(*g->model, 1)->restore(checkpoint.values);
    g->description =
        fmt::format("{} ({}) at step {} of {}", g->model->manifest().model, path, checkpoint.step, checkpoint_dir);
  }
  runtime::Model* model = g->model.get();
  g->decoder = std::make_unique<runtime::StepDecoder>(
      runtime::DecodeFunctions{.step =
                                   [model](int64_t symbol, int64_t position) {
                                     std::span<const float> logits = model->decode(symbol, position);
                                     return std::vector<double>(logits.begin(), logits.end());
                                   },
                               .clear = [model] { model->decode_reset(); },
                               .prefill =
                                   [model](const std::vector<int64_t>& context) {
                                     std::span<const float> logits = model->decode_prefill(context);
                                     return std::vector<double>(logits.begin(), logits.end());
                                   }},
      model->decode_window());
  g->runner = [model]() -> runtime::ProgramRunner& { return model->entry("decode")->runner(); };
  return g;
}

int run_generate(const std::vector<std::string>& args) {
  Flags flags(args, kGenerateFlags);
  if (flags.get_bool("help")) {
    fmt::print("{}", kUsage);
    return 0;
  }
  if (flags.positional().size() != 1) throw UsageError(kUsage);
  const std::string source = flags.positional()[0];
  long long length = flags.get_int("length");
  if (length < 1 || length > 1000000) throw UsageError(fmt::format("--length must be 1..1000000, got {}", length));
  runtime::SamplingOptions sampling = sampling_flags(flags);
  long long seed = flags.get_int("seed");
  if (seed < 0) throw UsageError(fmt::format("--seed must be 0 or more, got {}", seed));
  const std::string prompt = flags.get("prompt");
  if (prompt.empty()) throw UsageError("--prompt is empty: give at least one byte");
  const bool cached = !flags.get_bool("no_cache");
  const bool artifact = source.size() > 4 && source.substr(source.size() - 4) == ".rfa";
  if (artifact && !cached) {
    throw UsageError("--no_cache runs the forward pass of a run directory, not of an artifact");
  }
  if (!artifact && flags.given("checkpoint")) {
    throw UsageError("--checkpoint goes with an artifact (reforge generate MODEL.rfa --checkpoint=RUN_DIR)");
  }

  std::unique_ptr<Generator> g = artifact ? open_artifact(source, flags.get("checkpoint"), thread_count(flags))
                                          : open_run(source, cached, thread_count(flags));
  const ReformerConfig& config = g->config;
  if (config.vocab_size < 256) {
    throw Error(fmt::format("{}: a model of {} symbols does not generate bytes", source, config.vocab_size));
  }
  if (sampling.top_k > config.vocab_size) {
    throw UsageError(
        fmt::format("--top_k must be at most {} (the vocabulary), got {}", config.vocab_size, sampling.top_k));
  }
  if (static_cast<int64_t>(prompt.size()) > config.seq_len) {
    throw UsageError(fmt::format("--prompt is {} bytes, longer than the model's window of {} (--seq_len)",
                                 prompt.size(), config.seq_len));
  }

  fmt::print(stderr, "{}: generating {} bytes ({})\n", g->description, length,
             cached ? "one-token steps with caches" : "--no_cache: the whole window's forward pass per byte");
  fmt::print("{}", runtime::printable(prompt, true));
  std::fflush(stdout);
  const bool profile = flags.get_bool("profile");
  if (profile) g->runner().set_profiling(true);
  int64_t runs = 0;  // of the profiled program
  auto started = std::chrono::steady_clock::now();
  std::string text =
      runtime::generate_text(*g->decoder, prompt, length, sampling, static_cast<uint64_t>(seed), [](char c) {
        fmt::print("{}", runtime::printable(std::string(1, c), true));
        std::fflush(stdout);
      });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("\n");
  std::string work;  // what ran, for the last line
  if (auto* steps = dynamic_cast<runtime::StepDecoder*>(g->decoder.get())) {
    runs = steps->steps();
    work = fmt::format("{} one-token steps after {} prefills", runs, steps->prefills());
  }
  if (auto* passes = dynamic_cast<training::ForwardDecoder*>(g->decoder.get())) {
    runs = passes->passes();
    work = fmt::format("{} forward passes", runs);
  }
  if (profile) fmt::print(stderr, "{}", runtime::profile_report(g->runner().program(), g->runner().seconds(), runs));
  // What a byte's program holds: its caches (the decode step's state) and
  // its arena, as planned, beside what the process holds.
  int64_t caches = 0;
  for (const runtime::Slot& slot : g->runner().program().slots) {
    if (slot.name.find(".cache.") != std::string::npos) caches += slot.type.bytes();
  }
  fmt::print(stderr, "memory: caches {}, the {}'s arena {} (planned); resident {}\n", format_bytes(caches),
             cached ? "step" : "forward pass", format_bytes(g->runner().program().arena_bytes),
             format_bytes(runtime::resident_bytes()));
  fmt::print(stderr, "{} bytes in {:.2f} s: {:.1f} bytes/s, {} (reading the prompt included)\n", text.size(), seconds,
             static_cast<double>(text.size()) / seconds, work);
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
