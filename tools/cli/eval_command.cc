// `reforge eval RUN_DIR [--attention=KINDS] [--n_hashes=N] [--chunk_len=C]
// [--eval_batches=B]`: scores a trained run's newest checkpoint on its
// task's held-out batches — the loss in bits and the task's accuracy —
// with the attention it was trained with or another one whose weights are
// the same (the paper's Table 2 evaluates LSH-trained models with more or
// fewer hashes). LSH with one hash and one chunk (--n_hashes=1
// --chunk_len=SEQ_LEN) is full attention with shared queries and keys:
// every position attends to every earlier one.
#include <fmt/format.h>

#include <map>

#include "models/model_registry.h"
#include "models/reformer_config.h"
#include "tools/cli/command.h"
#include "tools/cli/trained_forward.h"
#include "tools/cli/training_flags.h"
#include "training/loop.h"

namespace reforge::cli {
namespace {

// "lsh, 4 hashes, chunk 64", "full", "local,lsh, 2 hashes, chunk 16".
std::string describe_attention(const ReformerConfig& c) {
  std::string kinds, hashes, chunk;
  for (const ConfigField& f : config_fields()) {
    if (f.name == "attention") kinds = f.get(c);
  }
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const AttentionKind kind = c.attention_of_layer(layer);
    if (kind == AttentionKind::lsh) hashes = fmt::format(", {} hash{}", c.n_hashes, c.n_hashes == 1 ? "" : "es");
    if (kind != AttentionKind::full) chunk = fmt::format(", chunk {}", c.chunk_len);
  }
  return kinds + hashes + chunk;
}

const std::map<std::string, std::string> kEvalFlags = {
    {"attention", ""}, {"n_hashes", ""},    {"chunk_len", ""},         {"eval_batches", "8"},
    {"data", ""},      {"threads", "0"}, {"log_format", "text"}};

int run_eval(const std::vector<std::string>& args) {
  Flags flags(args, kEvalFlags);
  if (flags.positional().size() != 1) {
    throw UsageError(
        "usage: reforge eval RUN_DIR [--attention=lsh|local|full,... --n_hashes=N --chunk_len=C --eval_batches=B]");
  }
  const int64_t batches = flags.get_int("eval_batches");
  if (batches < 1 || batches > 100000) {
    throw UsageError(fmt::format("--eval_batches must be between 1 and 100000, got {}", batches));
  }
  const std::string format = flags.get("log_format");
  if (format != "text" && format != "json") throw UsageError("--log_format must be text or json, got '" + format + "'");

  // The settings to evaluate with, as `reforge train` would read them.
  std::vector<std::pair<std::string, std::string>> changes;
  std::vector<std::string> shown;
  for (const char* name : {"attention", "n_hashes", "chunk_len"}) {
    if (flags.get(name).empty()) continue;
    changes.emplace_back(name, flags.get(name));
    shown.push_back(fmt::format("--{}={}", name, flags.get(name)));
  }
  TrainedForward trained = open_trained_forward(
      flags.positional()[0], thread_count(flags),
      [&](ReformerConfig& config) {
        for (const auto& [name, value] : changes) set_config_field(config, name, value);
      },
      fmt::format("{}", fmt::join(shown, " ")));

  const std::string& model = trained.checkpoint.model;
  std::unique_ptr<Task> task =
      make_task_for(model, trained.config, flags.get("data"), trained.checkpoint.seed);
  const training::HeldOutScore score = training::held_out_score(
      [&](const ValueMap& batch) { return trained.run(batch, /*with_logits=*/false); }, *task, batches);
  const std::string attention = describe_attention(trained.config);
  if (format == "json") {
    fmt::print("{{\"step\": {}, \"attention\": \"{}\", \"validation_bits\": {:.9g}, \"accuracy\": {:.9g}}}\n",
               trained.checkpoint.step, attention, score.bits, score.accuracy);
    return 0;
  }
  fmt::print("{} at step {}, evaluated with {} (trained with {}) over {} held-out batches:\n", model,
             trained.checkpoint.step, attention, describe_attention(trained.trained), batches);
  fmt::print("validation: {}, accuracy {:.2f}%\n", training::validation_text(score.bits, *task), 100 * score.accuracy);
  return 0;
}

const bool registered = [] {
  register_command({"eval",
                    "score a trained run on held-out data, with its attention or another "
                    "(reforge eval RUN_DIR --n_hashes=8)",
                    run_eval});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
