// The GPU a CUDA artifact runs on, checked before anything is allocated:
// an NVIDIA driver and a GPU (runtime/cuda_driver.h), an architecture the
// GPU can run — the cubin's own, or a newer one that compiles the PTX —
// and the plan's memory within the GPU's free memory.
#pragma once

#include <string>

#include "runtime/artifact.h"
#include "runtime/cuda_driver.h"

namespace reforge::runtime {

// GPU 0, if it can run `artifact`; else an Error naming `origin` and why.
CudaDeviceInfo check_cuda_artifact(const Artifact& artifact, const std::string& origin);

}  // namespace reforge::runtime
