// Command-line selection of a registered model: `<model> --field=value ...`
// where every ReformerConfig field is a flag, plus the command's own flags.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/pipeline/compile.h"
#include "models/model_registry.h"
#include "tools/cli/command.h"

namespace reforge::cli {

struct ModelSelection {
  const ModelEntry* entry = nullptr;
  ReformerConfig config;
  Flags flags;
  bool help_shown = false;  // `--help` was given: the flags were printed, nothing else to do
};

// Throws reforge::Error with usage (listing the models) when no model is
// named, and with what to change for any bad flag or config. With
// `--help`, prints every flag with its value for this model and help text.
ModelSelection select_model(const std::string& command, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& command_flags);

// The Reformer techniques every compiling command can switch off
// (--reversible_recompute, --lsh_fusion), with their defaults, to merge
// into a command's table; and the CompileOptions they set, read in one
// place (train, plan and compile; the artifact records them).
const std::map<std::string, std::string>& compile_flag_defaults();
CompileOptions compile_options(const Flags& flags);

}  // namespace reforge::cli
