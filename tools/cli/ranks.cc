#include "tools/cli/ranks.h"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "base/error.h"
#include "runtime/process_communicator.h"

namespace reforge::cli {

std::unique_ptr<runtime::Communicator> open_ranks(const Flags& flags) {
  std::unique_ptr<runtime::Communicator> ranks =
      runtime::open_process_communicator({.deterministic_reduce = flags.get_bool("deterministic_reduce")});
  if (ranks->rank() != 0 && !std::freopen("/dev/null", "w", stdout)) {
    throw Error("cannot silence standard output on a rank other than 0");
  }
  return ranks;
}

int run_on_ranks(runtime::Communicator& ranks, const std::function<int()>& command) {
  if (ranks.size() == 1) return command();
  try {
    return command();
  } catch (const std::exception& e) {
    fmt::print(stderr, "reforge: error on rank {} of {}: {}\n", ranks.rank(), ranks.size(), e.what());
    std::fflush(stderr);
  }
  ranks.abort(1);
  return 1;  // not reached: abort() ends the process
}

}  // namespace reforge::cli
