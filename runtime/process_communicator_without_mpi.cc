// open_process_communicator for a build without MPI (--define=reforge_mpi=off).
#include <fmt/format.h>

#include "base/error.h"
#include "runtime/process_communicator.h"

namespace reforge::runtime {

bool built_with_mpi() { return false; }

std::unique_ptr<Communicator> open_process_communicator(const CommunicatorOptions&) {
  if (std::optional<int> ranks = mpi_launcher_ranks()) {
    throw Error(fmt::format(
        "this process was launched by mpirun ({} ranks), but this reforge was built without MPI "
        "(--define=reforge_mpi=off): each rank would train a model of its own. Rebuild without that define (MPI "
        "comes from Debian's libopenmpi-dev; scripts/install_deps.sh installs it)",
        *ranks));
  }
  return std::make_unique<LocalCommunicator>();
}

}  // namespace reforge::runtime
