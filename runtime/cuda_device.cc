#include "runtime/cuda_device.h"

#include <fmt/format.h>

#include "base/error.h"

namespace reforge::runtime {
namespace {

std::string size_text(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return fmt::format("{:.2f} GiB", bytes / 1073741824.0);
  return fmt::format("{:.2f} MiB", bytes / 1048576.0);
}

}  // namespace

CudaDeviceInfo check_cuda_artifact(const Artifact& a, const std::string& origin) {
  const CudaDriver* driver = nullptr;
  try {
    driver = &CudaDriver::get();
  } catch (const Error& e) {
    throw Error(fmt::format("{}: compiled for an NVIDIA GPU ({}), and {}", origin, a.target(), e.what()));
  }
  CudaDeviceInfo gpu = driver->device(0);
  // A cubin runs on its own major architecture from its minor on; the PTX
  // is compiled by the driver for any architecture at least as new.
  if (gpu.sm < a.cuda.sm) {
    throw Error(fmt::format("{}: compiled for sm_{}, but GPU {} ({}) is sm_{}: compile it again with "
                            "`reforge compile --target=cuda --sm={}`",
                            origin, a.cuda.sm, gpu.ordinal, gpu.name, gpu.sm, gpu.sm));
  }
  const int64_t needed = bytes_to_run(a);
  if (needed > gpu.free_bytes) {
    throw Error(fmt::format("{}: running it needs {} of GPU memory, more than the {} free on GPU {} ({})", origin,
                            size_text(needed), size_text(gpu.free_bytes), gpu.ordinal, gpu.name));
  }
  return gpu;
}

}  // namespace reforge::runtime
