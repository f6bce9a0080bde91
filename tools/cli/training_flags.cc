#include "tools/cli/training_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "compiler/pipeline/artifact_builder.h"
#include "models/architecture.h"
#include "models/reformer_artifact.h"

namespace reforge::cli {

const std::map<std::string, std::string>& training_flag_defaults() {
  static const std::map<std::string, std::string> defaults = {{"steps", "100"},
                                                              {"seed", "1"},
                                                              {"data", ""},
                                                              {"log_every", "10"},
                                                              {"log_format", "text"},
                                                              {"eval_every", "0"},
                                                              {"eval_batches", "8"},
                                                              {"run_dir", ""},
                                                              {"resume", ""},
                                                              {"checkpoint_every", "0"},
                                                              {"keep_checkpoints", "3"},
                                                              {"samples", "0"},
                                                              {"sample_length", "200"},
                                                              {"threads", "0"},
                                                              {"profile", "false"},
                                                              {"profile_top", "20"},
                                                              {"fma_peak", "0"},
                                                              {"check_numerics", "false"},
                                                              {"deterministic_reduce", "false"}};
  return defaults;
}

training::TrainingOptions training_options(const Flags& flags, const std::string& model, const ReformerConfig& config) {
  training::TrainingOptions o;
  o.steps = flags.get_int("steps");
  if (o.steps < 1) throw UsageError(fmt::format("--steps must be at least 1, got {}", o.steps));
  long long seed = flags.get_int("seed");
  if (seed < 0) throw UsageError(fmt::format("--seed must be 0 or more, got {}", seed));
  o.seed = static_cast<uint64_t>(seed);
  o.log_every = flags.get_int("log_every");
  const std::string format = flags.get("log_format");
  if (format != "text" && format != "jsonl")
    throw UsageError("--log_format must be text or jsonl, got '" + format + "'");
  o.log_format = format == "jsonl" ? ProgressFormat::jsonl : ProgressFormat::text;
  o.messages = format == "jsonl" ? stderr : stdout;
  o.eval_every = flags.get_int("eval_every");
  o.eval_batches = flags.get_int("eval_batches");
  o.run_dir = flags.get("run_dir");
  const std::string resume = flags.get("resume");
  if (!resume.empty()) {
    if (!o.run_dir.empty() && o.run_dir != resume) {
      throw UsageError(fmt::format("--resume={} and --run_dir={} name different runs", resume, o.run_dir));
    }
    o.run_dir = resume;
    o.resume = true;
  }
  o.checkpoint_every = flags.get_int("checkpoint_every");
  if (o.checkpoint_every < 0) {
    throw UsageError(fmt::format("--checkpoint_every must be 0 or more, got {}", o.checkpoint_every));
  }
  long long keep = flags.get_int("keep_checkpoints");
  if (keep < 1 || keep > 1000000) throw UsageError(fmt::format("--keep_checkpoints must be at least 1, got {}", keep));
  o.keep_checkpoints = static_cast<int>(keep);
  // Checkpoints go into the run's directory: without one these would be
  // accepted and do nothing.
  for (const char* needs_dir : {"checkpoint_every", "keep_checkpoints"}) {
    if (flags.given(needs_dir) && o.run_dir.empty()) {
      throw UsageError(fmt::format("--{} needs a run directory to keep checkpoints in: add --run_dir=DIR", needs_dir));
    }
  }
  o.samples = flags.get_int("samples");
  o.sample_length = flags.get_int("sample_length");
  if (o.samples < 0 || o.samples > 1000) throw UsageError(fmt::format("--samples must be 0..1000, got {}", o.samples));
  if (o.sample_length < 1 || o.sample_length > 1000000) {
    throw UsageError(fmt::format("--sample_length must be 1..1000000, got {}", o.sample_length));
  }
  // Samples continue text prompts ("The "), byte by byte.
  if (o.samples > 0 && config.architecture != kReformerLm) {
    throw UsageError(fmt::format("--samples generates text: {} is a {} model, not a {} language model", model,
                                 config.architecture, kReformerLm));
  }
  if (o.samples > 0 && config.vocab_size < 256) {
    throw UsageError(fmt::format("--samples generates text, byte by byte: {}'s vocabulary has {} symbols, not 256 "
                                 "(sample a text model such as byte-lm)",
                                 model, config.vocab_size));
  }
  o.model = model;
  o.config = config_record(config);
  o.compiler_version = kCompilerVersion;
  o.tokens_per_step = config.batch * config.seq_len;
  return o;
}

int thread_count(const Flags& flags) {
  long long threads = flags.get_int("threads");
  if (threads < 0 || threads > 1024) throw UsageError("--threads must be between 0 (all cores) and 1024");
  return static_cast<int>(threads);
}

runtime::FmaPeak profile_peak(const Flags& flags) {
  const double given = flags.get_double("fma_peak");
  if (!(given >= 0) || given > 1e9) {
    throw UsageError(fmt::format("--fma_peak must be GFLOP/s (0: measure this machine's, once), got {}",
                                 flags.get("fma_peak")));
  }
  int threads = thread_count(flags);
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (given > 0) return {.gflops = given, .threads = threads, .vector = "from --fma_peak", .cpu = ""};
  return runtime::cached_fma_peak(threads);
}

int profile_rows(const Flags& flags) {
  long long rows = flags.get_int("profile_top");
  if (rows < 1 || rows > 100000)
    throw UsageError(fmt::format("--profile_top must be between 1 and 100000, got {}", rows));
  return static_cast<int>(rows);
}

}  // namespace reforge::cli
