#include "tools/cli/model_flags.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "compiler/memory/plan_dump.h"
#include "runtime/process_memory.h"
#include "models/memory_budget.h"
#include "models/reformer_step.h"

namespace reforge::cli {

ModelSelection select_model(const std::string& command, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& command_flags) {
  if (args.empty() || args[0].rfind("-", 0) == 0) {
    std::string names;
    for (const ModelEntry* m : registered_models()) names += fmt::format("  {:<18} {}\n", m->name, m->summary);
    throw UsageError(fmt::format("usage: reforge {} <model> [--flag=value ...]\nmodels:\n{}", command, names));
  }
  const ModelEntry* found = nullptr;
  try {
    found = &find_model(args[0]);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const ModelEntry& entry = *found;
  if (std::find(args.begin(), args.end(), "--help") != args.end()) {
    fmt::print("usage: reforge {} {} [--flag=value ...]\n\nmodel flags (value for {}):\n", command, entry.name,
               entry.name);
    for (const ConfigField& f : config_fields())
      fmt::print("  --{:<22} {:<10} {}\n", f.name, f.get(entry.config), f.help);
    fmt::print("\n{} flags (default):\n", command);
    for (const auto& [name, value] : command_flags) fmt::print("  --{:<22} {}\n", name, value.empty() ? "\"\"" : value);
    return {&entry, entry.config, Flags({}, command_flags), true};
  }
  std::map<std::string, std::string> defaults = command_flags;
  for (const ConfigField& f : config_fields()) defaults[f.name] = f.get(entry.config);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (auto& a : rest) {
    if (a == "-o") {
      if (!command_flags.count("output")) {
        throw UsageError(fmt::format("reforge {} writes no file: -o is not one of its flags", command));
      }
      a = "--output";
    }
  }
  ModelSelection s{&entry, entry.config, Flags(rest, defaults)};
  if (!s.flags.positional().empty()) {
    throw UsageError(fmt::format("unexpected argument '{}' (flags are --name=value; the model is named once)",
                                 s.flags.positional()[0]));
  }
  try {
    for (const ConfigField& f : config_fields()) set_config_field(s.config, f.name, s.flags.get(f.name));
    s.config.validate();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return s;
}

const std::map<std::string, std::string>& compile_flag_defaults() {
  static const std::map<std::string, std::string> flags = {
      {"reversible_recompute", "true"}, {"stored_blocks", "0"}, {"memory_budget", "auto"},
      {"lsh_fusion", "true"},           {"bucket_size", "4MiB"}};
  return flags;
}

CompileOptions compile_options(const Flags& flags) {
  CompileOptions o{.reversible_recompute = flags.get_bool("reversible_recompute"),
                   .lsh_fusion = flags.get_bool("lsh_fusion")};
  try {
    o.buckets.bucket_bytes = parse_byte_size(flags.get("bucket_size"));
  } catch (const Error& e) {
    throw UsageError(std::string("--bucket_size: ") + e.what());
  }
  if (o.buckets.bucket_bytes < 1) throw UsageError("--bucket_size must be at least 1 byte");
  o.stored_blocks = flags.get_int("stored_blocks");
  if (o.stored_blocks < 0 || o.stored_blocks > 1000000) {
    throw UsageError(fmt::format("--stored_blocks must be 0 or more, got {}", o.stored_blocks));
  }
  if (o.stored_blocks > 0 && !o.reversible_recompute) {
    throw UsageError("--stored_blocks chooses among rebuilt blocks: it needs --reversible_recompute=true");
  }
  return o;
}

std::optional<BudgetChoice> apply_memory_flags(const Flags& flags, ReformerConfig& config, CompileOptions& compile,
                                               std::FILE* out, const MemoryBudgetDefault& machine) {
  // Counting the blocks builds the graph: only when there is a count to check.
  const int64_t blocks = compile.stored_blocks > 0 && config.reversible ? reversible_blocks(config) : 0;
  if (compile.stored_blocks > blocks) {
    throw UsageError(fmt::format("--stored_blocks={}: the model has {} reversible block{}", compile.stored_blocks,
                                 blocks, blocks == 1 ? "" : "s"));
  }
  const std::string text = flags.get("memory_budget");
  const bool automatic = text == "auto";
  if (text == "none" || (automatic && !machine.host)) return std::nullopt;
  // What the user gave stands; the budget chooses the rest.
  BudgetFixed fixed;
  if (flags.given("ff_chunks")) fixed.ff_chunks = config.ff_chunks;
  if (flags.given("stored_blocks")) fixed.stored_blocks = compile.stored_blocks;
  if (fixed.ff_chunks && fixed.stored_blocks) return std::nullopt;
  int64_t budget = 0;
  std::string said = text;
  if (automatic) {
    // Half of the host's memory, shared by the ranks on it, for the step's
    // transient values.
    const int64_t memory = runtime::physical_memory_bytes();
    budget = memory / 2 / std::max(machine.processes, 1);
    said = fmt::format("{} (the default: half of this machine's {}{}; --memory_budget=SIZE or none to set)",
                       format_bytes(budget), format_bytes(memory),
                       machine.processes > 1 ? fmt::format(", shared by {} ranks", machine.processes) : "");
  } else {
    try {
      budget = parse_byte_size(text);
    } catch (const Error& e) {
      throw UsageError(std::string("--memory_budget: ") + e.what());
    }
  }
  BudgetChoice choice;
  try {
    choice = choose_for_budget(config, budget, compile, fixed);
  } catch (const Error& e) {
    // Nothing fits. Asked for, that is the user's to change; by default the
    // step runs as configured, and the memory check before it weighs it.
    if (automatic) return std::nullopt;
    throw UsageError(e.what());
  }
  config.ff_chunks = choice.ff_chunks;
  compile.stored_blocks = choice.stored_blocks;
  if (out) {
    fmt::print(out, "memory budget {}: {} (planned transient peak {}, {} plans)\n", said, choice.describe(),
               format_bytes(choice.peak_bytes), choice.plans);
  }
  return choice;
}

}  // namespace reforge::cli
