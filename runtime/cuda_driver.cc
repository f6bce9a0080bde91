#include "runtime/cuda_driver.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <type_traits>
#include <utility>

#include "base/error.h"

namespace reforge::runtime {
namespace {

// The driver API version whose entry points are asked for (CUDA 12.0: the
// _v2 and later forms every driver since 525 has).
constexpr int kApiVersion = 12000;

using GetProcAddress = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);

}  // namespace

const CudaDriver& CudaDriver::get() {
  // Loaded once; a failure is remembered and thrown again on every call.
  static const auto loaded = []() -> std::pair<const CudaDriver*, std::string> {
    const char* chosen = std::getenv("REFORGE_CUDA_DRIVER");
    const std::string path = chosen && *chosen ? chosen : "libcuda.so.1";
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      return {nullptr, fmt::format("no NVIDIA driver on this machine ({} cannot be loaded: {})", path, dlerror())};
    }
    auto get_proc = reinterpret_cast<GetProcAddress>(dlsym(library, "cuGetProcAddress_v2"));
    if (!get_proc) {
      return {nullptr, fmt::format("the NVIDIA driver {} is older than CUDA 12 (it has no cuGetProcAddress_v2)", path)};
    }
    auto d = std::unique_ptr<CudaDriver>(new CudaDriver());
    d->library_ = library;
    std::string missing;
    auto bind = [&](auto& pointer, const char* symbol) {
      void* f = nullptr;
      CUdriverProcAddressQueryResult status{};
      if (get_proc(symbol, &f, kApiVersion, CU_GET_PROC_ADDRESS_DEFAULT, &status) != CUDA_SUCCESS || !f) {
        missing += std::string(missing.empty() ? "" : ", ") + symbol;
      }
      pointer = reinterpret_cast<std::remove_reference_t<decltype(pointer)>>(f);
    };
    bind(d->cuInit, "cuInit");
    bind(d->cuDriverGetVersion, "cuDriverGetVersion");
    bind(d->cuGetErrorName, "cuGetErrorName");
    bind(d->cuDeviceGetCount, "cuDeviceGetCount");
    bind(d->cuDeviceGet, "cuDeviceGet");
    bind(d->cuDeviceGetName, "cuDeviceGetName");
    bind(d->cuDeviceGetAttribute, "cuDeviceGetAttribute");
    bind(d->cuDeviceTotalMem, "cuDeviceTotalMem");
    bind(d->cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    bind(d->cuCtxSetCurrent, "cuCtxSetCurrent");
    bind(d->cuMemGetInfo, "cuMemGetInfo");
    bind(d->cuModuleLoadData, "cuModuleLoadData");
    bind(d->cuModuleUnload, "cuModuleUnload");
    bind(d->cuModuleGetFunction, "cuModuleGetFunction");
    bind(d->cuMemAlloc, "cuMemAlloc");
    bind(d->cuMemFree, "cuMemFree");
    bind(d->cuMemsetD8, "cuMemsetD8");
    bind(d->cuMemcpyHtoD, "cuMemcpyHtoD");
    bind(d->cuMemcpyDtoH, "cuMemcpyDtoH");
    bind(d->cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync");
    bind(d->cuLaunchKernel, "cuLaunchKernel");
    bind(d->cuStreamCreate, "cuStreamCreate");
    bind(d->cuStreamSynchronize, "cuStreamSynchronize");
    bind(d->cuStreamDestroy, "cuStreamDestroy");
    bind(d->cuEventCreate, "cuEventCreate");
    bind(d->cuEventRecord, "cuEventRecord");
    bind(d->cuEventSynchronize, "cuEventSynchronize");
    bind(d->cuEventElapsedTime, "cuEventElapsedTime");
    bind(d->cuEventDestroy, "cuEventDestroy");
    if (!missing.empty()) return {nullptr, fmt::format("the NVIDIA driver {} lacks {}", path, missing)};
    CUresult init = d->cuInit(0);
    if (init == CUDA_ERROR_NO_DEVICE) return {nullptr, "the NVIDIA driver is installed but finds no GPU"};
    if (init != CUDA_SUCCESS) {
      const char* name = "an unknown error";
      d->cuGetErrorName(init, &name);
      return {nullptr, fmt::format("the NVIDIA driver cannot start: cuInit failed with {}", name)};
    }
    d->cuDriverGetVersion(&d->version_);
    int count = 0;
    if (d->cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
      return {nullptr, "the NVIDIA driver is installed but finds no GPU"};
    }
    return {d.release(), ""};
  }();
  if (!loaded.first) throw Error(loaded.second);
  return *loaded.first;
}

void CudaDriver::check(CUresult result, const char* what) const {
  if (result == CUDA_SUCCESS) return;
  const char* name = "an unknown error";
  cuGetErrorName(result, &name);
  throw Error(fmt::format("{} failed: {}", what, name));
}

int CudaDriver::device_count() const {
  int count = 0;
  check(cuDeviceGetCount(&count), "cuDeviceGetCount");
  return count;
}

CudaDeviceInfo CudaDriver::device(int ordinal) const {
  CudaDeviceInfo info{.ordinal = ordinal};
  CUdevice device = 0;
  check(cuDeviceGet(&device, ordinal), "cuDeviceGet");
  char name[256] = {};
  check(cuDeviceGetName(name, sizeof name, device), "cuDeviceGetName");
  info.name = name;
  int major = 0, minor = 0;
  check(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "cuDeviceGetAttribute");
  check(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "cuDeviceGetAttribute");
  info.sm = 10 * major + minor;
  size_t total = 0, free = 0;
  check(cuDeviceTotalMem(&total, device), "cuDeviceTotalMem");
  CUcontext context = nullptr;
  check(cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(cuMemGetInfo(&free, &total), "cuMemGetInfo");
  info.total_bytes = static_cast<int64_t>(total);
  info.free_bytes = static_cast<int64_t>(free);
  return info;
}

std::string cuda_unavailable_reason() {
  try {
    CudaDriver::get();
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace reforge::runtime
