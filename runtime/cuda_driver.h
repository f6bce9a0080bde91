// The NVIDIA driver, opened at run time: dlopen("libcuda.so.1") (or
// $REFORGE_CUDA_DRIVER) and every entry point through cuGetProcAddress, so
// the runtime builds, starts and runs CPU artifacts on machines without a
// driver or a GPU, and says which of the two is missing when a CUDA
// artifact or --device=cuda needs one.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>

namespace reforge::runtime {

struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;       // "NVIDIA H200"
  int sm = 0;             // compute capability as 10 * major + minor: 90
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;  // free now, in the primary context
};

class CudaDriver {
 public:
  // The driver, initialised. Throws Error with one line saying what is
  // missing: no driver library, or a driver that finds no GPU.
  static const CudaDriver& get();

  int version() const { return version_; }  // 13000 for CUDA 13.0
  int device_count() const;
  // The device's properties; makes its primary context current (free
  // memory is asked there).
  CudaDeviceInfo device(int ordinal) const;

  // Throws Error("<what> failed: CUDA_ERROR_...") unless `result` is CUDA_SUCCESS.
  void check(CUresult result, const char* what) const;

  // Entry points, as cuda.h declares them (the names cuda.h maps to a
  // versioned symbol are bound to that version: cuMemAlloc is cuMemAlloc_v2).
  CUresult (*cuInit)(unsigned int) = nullptr;
  CUresult (*cuDriverGetVersion)(int*) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char**) = nullptr;
  CUresult (*cuDeviceGetCount)(int*) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuDeviceGetName)(char*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int*, CUdevice_attribute, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuMemGetInfo)(size_t*, size_t*) = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule*, const void*) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int,
                             unsigned int, unsigned int, CUstream, void**, void**) = nullptr;
  CUresult (*cuStreamCreate)(CUstream*, unsigned int) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream) = nullptr;
  CUresult (*cuEventCreate)(CUevent*, unsigned int) = nullptr;
  CUresult (*cuEventRecord)(CUevent, CUstream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent) = nullptr;
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent) = nullptr;
  CUresult (*cuEventDestroy)(CUevent) = nullptr;

 private:
  CudaDriver() = default;
  void* library_ = nullptr;
  int version_ = 0;
};

// The one-line reason a CUDA artifact or --device=cuda cannot run here
// (no driver, no GPU), or "" when a GPU is available.
std::string cuda_unavailable_reason();

}  // namespace reforge::runtime
