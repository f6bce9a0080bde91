// A stand-in for the NVIDIA driver (libcuda.so.1) for tests on machines
// without a GPU: the entry points runtime/cuda_driver.cc asks for through
// cuGetProcAddress, answering from the environment:
//   FAKE_CUDA_DEVICES   how many GPUs (default 1; 0: cuInit says no device)
//   FAKE_CUDA_SM        their architecture, e.g. 90 (default) or 80
//   FAKE_CUDA_FREE_MIB  free memory in MiB (default 140000)
#include <cuda.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

CUresult init(unsigned int) { return env_int("FAKE_CUDA_DEVICES", 1) > 0 ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE; }
CUresult driver_version(int* v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
CUresult error_name(CUresult result, const char** name) {
  *name = result == CUDA_ERROR_INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE" : "CUDA_ERROR_FAKE";
  return CUDA_SUCCESS;
}
CUresult device_count(int* n) {
  *n = env_int("FAKE_CUDA_DEVICES", 1);
  return CUDA_SUCCESS;
}
CUresult device_get(CUdevice* d, int ordinal) {
  if (ordinal < 0 || ordinal >= env_int("FAKE_CUDA_DEVICES", 1)) return CUDA_ERROR_INVALID_VALUE;
  *d = ordinal;
  return CUDA_SUCCESS;
}
CUresult device_name(char* name, int length, CUdevice) {
  std::strncpy(name, "Fake GPU", length);
  return CUDA_SUCCESS;
}
CUresult device_attribute(int* value, CUdevice_attribute attribute, CUdevice) {
  int sm = env_int("FAKE_CUDA_SM", 90);
  if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) *value = sm / 10;
  else if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) *value = sm % 10;
  else return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
CUresult total_memory(size_t* bytes, CUdevice) {
  *bytes = size_t{144} << 30;
  return CUDA_SUCCESS;
}
CUresult retain_primary(CUcontext* context, CUdevice) {
  static int the_context;
  *context = reinterpret_cast<CUcontext>(&the_context);
  return CUDA_SUCCESS;
}
CUresult set_current(CUcontext) { return CUDA_SUCCESS; }
CUresult memory_info(size_t* free, size_t* total) {
  *free = static_cast<size_t>(env_int("FAKE_CUDA_FREE_MIB", 140000)) << 20;
  *total = size_t{144} << 30;
  return CUDA_SUCCESS;
}

struct Entry {
  const char* name;
  void* function;
};

const Entry kEntries[] = {
    {"cuInit", reinterpret_cast<void*>(&init)},
    {"cuDriverGetVersion", reinterpret_cast<void*>(&driver_version)},
    {"cuGetErrorName", reinterpret_cast<void*>(&error_name)},
    {"cuDeviceGetCount", reinterpret_cast<void*>(&device_count)},
    {"cuDeviceGet", reinterpret_cast<void*>(&device_get)},
    {"cuDeviceGetName", reinterpret_cast<void*>(&device_name)},
    {"cuDeviceGetAttribute", reinterpret_cast<void*>(&device_attribute)},
    {"cuDeviceTotalMem", reinterpret_cast<void*>(&total_memory)},
    {"cuDevicePrimaryCtxRetain", reinterpret_cast<void*>(&retain_primary)},
    {"cuCtxSetCurrent", reinterpret_cast<void*>(&set_current)},
    {"cuMemGetInfo", reinterpret_cast<void*>(&memory_info)},
};

}  // namespace

extern "C" CUresult cuGetProcAddress_v2(const char* symbol, void** function, int, cuuint64_t,
                                        CUdriverProcAddressQueryResult* status) {
  for (const Entry& e : kEntries) {
    if (std::strcmp(e.name, symbol) == 0) {
      *function = e.function;
      if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
      return CUDA_SUCCESS;
    }
  }
  *function = nullptr;
  if (status) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  return CUDA_ERROR_NOT_FOUND;
}
