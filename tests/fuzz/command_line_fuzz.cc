// Fuzz target: the command line as `reforge plan|train <model> ...` reads
// it — flag parsing, every config field and the config's validation. The
// input's lines are the arguments. Bad input must be a reforge::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "tools/cli/model_flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.emplace_back();
    } else {
      args.back() += static_cast<char>(data[i]);
    }
  }
  for (const std::string& a : args) {
    if (a == "--help") return 0;  // prints the flag table; nothing to check
  }
  static const std::map<std::string, std::string> kCommandFlags = {
      {"steps", "100"}, {"seed", "1"}, {"output", ""}, {"backend", "llvm"}, {"memory_budget", ""}};
  try {
    reforge::cli::ModelSelection s = reforge::cli::select_model("fuzz", args, kCommandFlags);
    (void)s.flags.get_int("steps");
    (void)s.config.padded_len();
  } catch (const reforge::Error&) {
  }
  return 0;
}
