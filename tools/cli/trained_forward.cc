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

TrainedForward open_trained_forward(const std::string& run_dir, int threads,
                                    const std::function<void(ReformerConfig&)>& change, const std::string& changed) {
  TrainedForward t;
  std::optional<std::string> latest = runtime::latest_checkpoint(run_dir);
  if (!latest) throw Error(fmt::format("{} holds no checkpoint (train with --run_dir={} first)", run_dir, run_dir));
  t.checkpoint_path = *latest;
  t.checkpoint = runtime::read_checkpoint(*latest);
  t.trained = config_from_record(t.checkpoint.config);
  t.config = t.trained;
  if (change) change(t.config);
  t.config.validate();
  t.graph = compile_forward(*build_reformer_eval_graph(t.config, t.checkpoint.model), {});

  // Every parameter of this forward pass comes from the checkpoint, and
  // every parameter the run trained is used (optimizer state is not
  // needed): otherwise the change made another model.
  auto refuse = [&](const std::string& what) {
    throw Error(changed.empty() ? fmt::format("{}: {}", *latest, what)
                                : fmt::format("{} changes the model's parameters: {} (the run's checkpoint: {})",
                                              changed, what, *latest));
  };
  std::map<std::string, const runtime::NamedTensor*> saved;
  for (const runtime::NamedTensor& v : t.checkpoint.values) {
    if (v.name.rfind("optimizer.", 0) != 0) saved.emplace(v.name, &v);
  }
  t.executable = CpuExecutable::build(*t.graph, {}, {.threads = threads});
  runtime::Executor& e = t.executable->executor();
  for (const runtime::PersistentInit& p : persistent_values(*t.graph)) {
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
  return t;
}

}  // namespace reforge::cli
