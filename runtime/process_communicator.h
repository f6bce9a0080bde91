// The communicator of this process. Launched by mpirun (or another MPI
// launcher), it is MPI's, over every rank of the job; otherwise it is
// LocalCommunicator. A build without MPI (--define=reforge_mpi=off)
// refuses a launch by mpirun with a message instead of training N
// separate copies of one model.
#pragma once

#include <memory>
#include <optional>

#include "runtime/communicator.h"

namespace reforge::runtime {

struct CommunicatorOptions {
  // Sum the ranks in rank order, always (bit-identical runs for a fixed
  // rank count); otherwise MPI picks its fastest all-reduce.
  bool deterministic_reduce = false;
};

// The number of ranks an MPI launcher started this process among, read
// from the launcher's environment; nullopt when no launcher started it.
std::optional<int> mpi_launcher_ranks();

// Whether this build can talk MPI.
bool built_with_mpi();

std::unique_ptr<Communicator> open_process_communicator(const CommunicatorOptions& options = {});

}  // namespace reforge::runtime
