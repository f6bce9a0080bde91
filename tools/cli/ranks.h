// What `reforge train` and `reforge run` do when mpirun starts them as N
// ranks (issue 21): open the job's communicator, keep the terminal for
// rank 0 alone, and end every rank when one fails.
#pragma once

#include <functional>
#include <memory>

#include "runtime/communicator.h"
#include "tools/cli/command.h"

namespace reforge::cli {

// The process communicator (MPI's under mpirun, else one process) with
// --deterministic_reduce; on ranks other than 0, standard output goes to
// /dev/null, so that progress and summaries are printed once.
std::unique_ptr<runtime::Communicator> open_ranks(const Flags& flags);

// Runs `command`. On a job of several ranks an error ends every rank (the
// others would wait in their next collective forever): the failing rank
// prints it, naming itself, and the job is aborted.
int run_on_ranks(runtime::Communicator& ranks, const std::function<int()>& command);

}  // namespace reforge::cli
