// `reforge run model.rfa [flags]`: trains (or, with --eval, evaluates) a
// compiled artifact through the runtime alone, as `reforge train` does
// from source: the same task, batches, initial values and progress, and
// for the same seed the same losses bit for bit.
#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "compiler/memory/plan_dump.h"
#include "models/model_registry.h"
#include "models/reformer_artifact.h"
#include "runtime/profile_report.h"
#include "runtime/reforge_runtime.h"
#include "tools/cli/command.h"
#include "tools/cli/training_loop.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string> kRunFlags = {{"steps", "100"},    {"seed", "1"},    {"data", ""},
                                                      {"log_every", "10"}, {"threads", "0"}, {"profile", "false"},
                                                      {"eval", "false"}};

// The task the artifact's model trains on: as registered under its name,
// byte-level text for a model this build does not know.
std::unique_ptr<Task> task_for(const std::string& model, const ReformerConfig& config, const std::string& data,
                               uint64_t seed) {
  for (const ModelEntry* m : registered_models()) {
    if (m->name == model && m->task == TaskKind::duplication) return make_duplication_task(config, seed);
  }
  return make_byte_lm_task(config, data, seed);
}

// Runs `entry` on `batch`; its outputs as reference values.
ValueMap run_entry(runtime::Entry& entry, const ValueMap& batch, const std::function<void()>& run) {
  std::vector<std::byte> bytes;
  for (const runtime::Slot& input : entry.inputs()) {
    auto it = batch.find(input.name);
    if (it == batch.end()) throw Error(fmt::format("the task gives no input '{}' for '{}'", input.name, entry.name()));
    if (it->second.type != input.type) {
      throw Error(fmt::format("input '{}' is {} in the artifact but the task makes {}", input.name,
                              type_to_string(input.type), type_to_string(it->second.type)));
    }
    bytes.resize(input.type.bytes());
    write_elements(it->second, bytes.data());
    entry.set_input(input.name, bytes.data(), bytes.size());
  }
  run();
  ValueMap out;
  for (const runtime::ProgramOutput& o : entry.outputs()) {
    if (o.type.elements() == 1) out[o.name] = read_elements(o.type, entry.output(o.name).data());
  }
  return out;
}

int run_artifact(const std::vector<std::string>& args) {
  Flags flags(args, kRunFlags);
  if (flags.positional().size() != 1) throw Error("usage: reforge run MODEL.rfa [--steps=N --seed=S --eval ...]");
  const std::string path = flags.positional()[0];
  int64_t steps = flags.get_int("steps");
  if (steps < 1) throw Error("--steps must be at least 1");
  int64_t threads = flags.get_int("threads");
  if (threads < 0 || threads > 1024) throw Error("--threads must be between 0 (all cores) and 1024");
  auto seed = static_cast<uint64_t>(flags.get_int("seed"));
  bool eval = flags.get_bool("eval");

  auto started = std::chrono::steady_clock::now();
  std::unique_ptr<runtime::Model> model = runtime::Model::open(path, {.threads = static_cast<int>(threads)});
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const runtime::Manifest& m = model->manifest();
  ReformerConfig config = config_from_record(m.config);
  std::unique_ptr<Task> task = task_for(m.model, config, flags.get("data"), seed);

  runtime::Entry* entry = eval ? model->entry("forward") : &model->train_step();
  if (!entry) throw Error(path + ": the artifact has no forward entry point to evaluate with");
  model->initialise(seed);
  entry->executor().set_profiling(flags.get_bool("profile"));
  fmt::print("artifact {}: model {} compiled by {} for {}; loaded in {:.3f}s, {} threads\n", path, m.model,
             m.compiler_version, m.cpu, load_seconds, model->threads());
  fmt::print("{}: {} launches, arena {}\n", entry->name(), entry->executor().program().launches.size(),
             format_bytes(entry->executor().program().arena_bytes));

  std::function<void()> run =
      eval ? std::function<void()>([entry] { entry->run(); }) : std::function<void()>([&model] { model->step(); });
  TrainingRun result = run_training(*task, steps, config.batch * config.seq_len, flags.get_int("log_every"),
                                    [&](const ValueMap& batch) { return run_entry(*entry, batch, run); });
  if (flags.get_bool("profile")) {
    fmt::print("{}", runtime::profile_report(entry->executor().program(), entry->executor().seconds(), steps));
  }
  print_training_summary(result, *task, eval ? "artifact forward" : "artifact");
  return 0;
}

const bool registered = [] {
  register_command({"run", "train (or --eval) a compiled artifact with the runtime alone", run_artifact});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
