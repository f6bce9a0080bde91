// Command-line selection of a registered model: `<model> --field=value ...`
// where every ReformerConfig field is a flag, plus the command's own flags.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/pipeline/compile.h"
#include "models/memory_budget.h"
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
// (--reversible_recompute, --lsh_fusion) or tune (--stored_blocks,
// --memory_budget), with their defaults, to merge into a command's table;
// and the CompileOptions they set, read in one place (train, plan and
// compile; the artifact records them).
const std::map<std::string, std::string>& compile_flag_defaults();
CompileOptions compile_options(const Flags& flags);

// Where the step runs, for the default memory budget.
struct MemoryBudgetDefault {
  bool host = true;   // the step's memory is this machine's (not a GPU's)
  int processes = 1;  // ranks sharing the machine
};

// The memory flags against the model: --stored_blocks at most its
// reversible blocks; --memory_budget=SIZE chooses which blocks store their
// activations and how many chunks the feed-forward runs in
// (models/memory_budget.h), sets them in `config` and `compile`, and says
// so on `out` (unless null); --stored_blocks or --ff_chunks given stay as given. The
// default, auto, is half of the host's memory (per rank), and nothing when
// the step runs on a GPU or no choice fits; none chooses nothing. Returns
// the budget's choice, if one was made.
std::optional<BudgetChoice> apply_memory_flags(const Flags& flags, ReformerConfig& config, CompileOptions& compile,
                                               std::FILE* out, const MemoryBudgetDefault& machine = {});

}  // namespace reforge::cli
