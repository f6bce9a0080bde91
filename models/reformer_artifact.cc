#include "models/reformer_artifact.h"

#include <optional>

#include "models/decode_step.h"
#include "models/reformer_step.h"

namespace reforge {

runtime::KeyValues config_record(const ReformerConfig& config) {
  runtime::KeyValues out;
  for (const ConfigField& f : config_fields()) out.emplace_back(f.name, f.get(config));
  return out;
}

ReformerConfig config_from_record(const runtime::KeyValues& record) {
  ReformerConfig config;
  for (const auto& [name, value] : record) {
    if (name == kReplicasRecord) {
      try {
        config.replicas = std::stoll(value);
      } catch (...) {
        throw Error("the record's replicas is not a number: '" + value + "'");
      }
    } else {
      set_config_field(config, name, value);
    }
  }
  config.validate();
  return config;
}

runtime::Artifact compile_reformer_artifact(const ReformerConfig& config, const std::string& name,
                                            const ArtifactOptions& options) {
  std::unique_ptr<Graph> model = build_reformer_graph(config, name);
  std::unique_ptr<Graph> evaluation = build_reformer_eval_graph(config, name);
  // Generation's entry points, for a model that decodes one token at a time.
  std::optional<DecodeStep> step;
  DecodeSource decode;
  if (why_no_decode_step(config).empty()) {
    step = build_reformer_decode_step(config, name);
    decode = {.step = step->graph.get(),
              .setup = step->setup.get(),
              .prefill = step->prefill.get(),
              .carried = step->carried,
              .carried_rows = step->carried_rows};
  }
  runtime::KeyValues record = config_record(config);
  if (config.replicas > 1) record.emplace_back(kReplicasRecord, std::to_string(config.replicas));
  ArtifactOptions compile = options;
  compile.compile = reformer_compile_options(config, options.compile);
  return build_artifact({.model_name = name,
                         .config = std::move(record),
                         .model = model.get(),
                         .loss_output = "loss",
                         .optimizer = reformer_optimizer(config),
                         .evaluation = evaluation.get(),
                         .decode = step ? &decode : nullptr},
                        compile);
}

}  // namespace reforge
