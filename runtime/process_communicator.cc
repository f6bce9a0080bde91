#include "runtime/process_communicator.h"

#include <cstdlib>
#include <string>

namespace reforge::runtime {

std::optional<int> mpi_launcher_ranks() {
  // Open MPI's mpirun, then the PMI variables MPICH's hydra and Slurm set.
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = std::getenv(variable)) {
      try {
        int ranks = std::stoi(value);
        if (ranks >= 1) return ranks;
      } catch (...) {
        // not a number: not a launcher we know
      }
    }
  }
  return std::nullopt;
}

}  // namespace reforge::runtime
