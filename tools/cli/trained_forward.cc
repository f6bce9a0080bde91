#include "tools/cli/trained_forward.h"

#include <fmt/format.h>

#include <cstring>
#include <map>

#include "compiler/pipeline/compile.h"
#include "models/reformer_artifact.h"
#include "models/reformer_step.h"

namespace reforge::cli {

ValueMap TrainedForward::run(const ValueMap& batch, bool with_logits) {
  runtime::Executor& e = executable->executor();
  for (const auto& [name, value] : batch) {
    if (e.find_slot(name) >= 0) executable->feed(name, value);
  }
  executable->run();
  ValueMap out{{"loss", executable->read_output("loss")}, {"accuracy", executable->read_output("accuracy")}};
  if (with_logits) out["logits"] = executable->read_output("logits");
  return out;
}

namespace {

// The run's newest checkpoint, read; an Error when it has none.
std::string newest_checkpoint(const std::string& run_dir) {
  std::optional<std::string> latest = runtime::latest_checkpoint(run_dir);
  if (!latest) throw Error(fmt::format("{} holds no checkpoint (train with --run_dir={} first)", run_dir, run_dir));
  return *latest;
}

// Writes the checkpoint's parameters into the executable's slots. Every
// parameter of `graph` comes from the checkpoint, and every parameter the
// run trained is used (optimizer state is not needed): otherwise the
// graph is another model, and `refuse` says so. State nodes (a decode
// step's caches) start at zero and are not read from the checkpoint.
void load_parameters(const Graph& graph, CpuExecutable& executable, const runtime::Checkpoint& checkpoint,
                     const std::function<void(const std::string&)>& refuse) {
  std::map<std::string, const runtime::NamedTensor*> saved;
  for (const runtime::NamedTensor& v : checkpoint.values) {
    if (v.name.rfind("optimizer.", 0) != 0) saved.emplace(v.name, &v);
  }
  runtime::Executor& e = executable.executor();
  for (const runtime::PersistentInit& p : persistent_values(graph)) {
    int node = graph.find_node(p.name);
    if (node >= 0 && source_kind(graph.node(node)) == SourceKind::state) continue;
    auto it = saved.find(p.name);
    if (it == saved.end()) refuse(fmt::format("it needs a parameter '{}' that the run does not have", p.name));
    if (it->second->type != p.type) {
      refuse(fmt::format("'{}' is {} in the run, {} here", p.name, type_to_string(it->second->type),
                         type_to_string(p.type)));
    }
    if (int slot = e.find_slot(p.name); slot >= 0) {
      std::memcpy(e.slot_data(slot), it->second->bytes.data(), it->second->bytes.size());
    }
    saved.erase(it);
  }
  if (!saved.empty()) refuse(fmt::format("the run's parameter '{}' would not be used", saved.begin()->first));
}

}  // namespace

TrainedForward open_trained_forward(const std::string& run_dir, int threads,
                                    const std::function<void(ReformerConfig&)>& change, const std::string& changed,
                                    const ReformerBuild& build) {
  TrainedForward t;
  t.checkpoint_path = newest_checkpoint(run_dir);
  t.checkpoint = runtime::read_checkpoint(t.checkpoint_path);
  t.trained = config_from_record(t.checkpoint.config);
  t.config = t.trained;
  if (change) change(t.config);
  t.config.validate();
  t.graph = compile_forward(*build_reformer_eval_graph(t.config, t.checkpoint.model, DType::f32, build), {});
  t.executable = CpuExecutable::build(*t.graph, {}, {.threads = threads});
  load_parameters(*t.graph, *t.executable, t.checkpoint, [&](const std::string& what) {
    throw Error(changed.empty() ? fmt::format("{}: {}", t.checkpoint_path, what)
                                : fmt::format("{} changes the model's parameters: {} (the run's checkpoint: {})",
                                              changed, what, t.checkpoint_path));
  });
  return t;
}

TrainedDecoder open_trained_decoder(const std::string& run_dir, int threads) {
  TrainedDecoder t;
  t.checkpoint_path = newest_checkpoint(run_dir);
  t.checkpoint = runtime::read_checkpoint(t.checkpoint_path);
  t.config = config_from_record(t.checkpoint.config);
  t.step = std::make_unique<CompiledDecodeStep>(t.config, t.checkpoint.model, threads);
  auto refuse = [&](const std::string& what) { throw Error(fmt::format("{}: {}", t.checkpoint_path, what)); };
  load_parameters(t.step->graph(), t.step->executable(), t.checkpoint, refuse);
  load_parameters(t.step->prefill_graph(), t.step->prefill_executable(), t.checkpoint, refuse);
  return t;
}

}  // namespace reforge::cli
