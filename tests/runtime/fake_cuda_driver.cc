// A stand-in for the NVIDIA driver (libcuda.so.1) for tests on machines
// without a GPU: the entry points runtime/cuda_driver.cc asks for through
// cuGetProcAddress. Device memory is host memory. A module is the host
// build of the generated CUDA kernels (codegen::build_cuda_for_host) in
// place of a cubin — a real cubin or PTX is refused as a real driver on
// another machine would — and a launch runs the kernel's host entry point
// after checking the grid against the kernel's threads per iteration and
// unpacking the arguments as the GPU would. From the environment:
//   FAKE_CUDA_DEVICES      how many GPUs (default 1; 0: cuInit says no device)
//   FAKE_CUDA_SM           their architecture, e.g. 90 (default) or 80
//   FAKE_CUDA_FREE_MIB     free memory in MiB (default 140000)
//   FAKE_CUDA_FAIL_KERNEL  a kernel whose launches fail
//   FAKE_CUDA_LOG          a file to append each allocation, copy and launch to
#include <cuda.h>
#include <dlfcn.h>
#include <elf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

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
  switch (result) {
    case CUDA_ERROR_INVALID_VALUE:
      *name = "CUDA_ERROR_INVALID_VALUE";
      break;
    case CUDA_ERROR_LAUNCH_FAILED:
      *name = "CUDA_ERROR_LAUNCH_FAILED";
      break;
    case CUDA_ERROR_INVALID_IMAGE:
      *name = "CUDA_ERROR_INVALID_IMAGE";
      break;
    case CUDA_ERROR_INVALID_PTX:
      *name = "CUDA_ERROR_INVALID_PTX";
      break;
    default:
      *name = "CUDA_ERROR_FAKE";
  }
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

void log(const std::string& line) {
  if (const char* path = std::getenv("FAKE_CUDA_LOG"); path && *path) {
    if (FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "%s\n", line.c_str());
      std::fclose(f);
    }
  }
}

// ---- memory ----

CUresult mem_alloc(CUdeviceptr* p, size_t bytes) {
  void* memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory) return CUDA_ERROR_OUT_OF_MEMORY;
  *p = reinterpret_cast<CUdeviceptr>(memory);
  log("alloc " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult mem_free(CUdeviceptr p) {
  std::free(reinterpret_cast<void*>(p));
  log("free");
  return CUDA_SUCCESS;
}
CUresult memset_d8(CUdeviceptr p, unsigned char value, size_t bytes) {
  std::memset(reinterpret_cast<void*>(p), value, bytes);
  return CUDA_SUCCESS;
}
CUresult copy_to_device(CUdeviceptr to, const void* from, size_t bytes) {
  std::memcpy(reinterpret_cast<void*>(to), from, bytes);
  log("to device " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult copy_to_host(void* to, CUdeviceptr from, size_t bytes) {
  std::memcpy(to, reinterpret_cast<const void*>(from), bytes);
  log("to host " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult copy_on_device(CUdeviceptr to, CUdeviceptr from, size_t bytes, CUstream) {
  std::memmove(reinterpret_cast<void*>(to), reinterpret_cast<const void*>(from), bytes);
  log("on device " + std::to_string(bytes));
  return CUDA_SUCCESS;
}

// ---- modules: host shared objects ----

struct Module {
  void* library = nullptr;
};
struct Function {
  std::string name;
  void (*entry)(void* const*, long long, long long) = nullptr;
  int buffers = 0;
  long long threads_per_iteration = 1;
};

CUresult module_load(CUmodule* module, const void* image) {
  const auto* header = static_cast<const Elf64_Ehdr*>(image);
  if (std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0) return CUDA_ERROR_INVALID_PTX;  // PTX text
  if (header->e_machine != EM_X86_64) return CUDA_ERROR_INVALID_IMAGE;                   // a real cubin
  size_t size = header->e_shoff + size_t{header->e_shnum} * header->e_shentsize;
  char path[] = "/tmp/fake-cuda-module-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return CUDA_ERROR_OPERATING_SYSTEM;
  bool written = write(fd, image, size) == static_cast<ssize_t>(size);
  close(fd);
  void* library = written ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
  unlink(path);
  if (!library) return CUDA_ERROR_INVALID_IMAGE;
  *module = reinterpret_cast<CUmodule>(new Module{library});
  log("module loaded");
  return CUDA_SUCCESS;
}
CUresult module_unload(CUmodule module) {
  auto* m = reinterpret_cast<Module*>(module);
  dlclose(m->library);
  delete m;
  return CUDA_SUCCESS;
}
CUresult module_function(CUfunction* function, CUmodule module, const char* name) {
  void* library = reinterpret_cast<Module*>(module)->library;
  const std::string n = name;
  auto* entry = dlsym(library, ("reforge_host_" + n).c_str());
  auto* buffers = static_cast<const int*>(dlsym(library, ("reforge_host_buffers_" + n).c_str()));
  auto* threads = static_cast<const long long*>(dlsym(library, ("reforge_host_threads_per_iteration_" + n).c_str()));
  if (!entry || !buffers || !threads) return CUDA_ERROR_NOT_FOUND;
  // Functions live as long as the process (a driver's live with the module).
  static std::vector<std::unique_ptr<Function>> functions;
  functions.push_back(std::make_unique<Function>(
      Function{n, reinterpret_cast<void (*)(void* const*, long long, long long)>(entry), *buffers, *threads}));
  *function = reinterpret_cast<CUfunction>(functions.back().get());
  return CUDA_SUCCESS;
}

// The grid must be exactly what the kernel's threads need: enough blocks,
// not one block too many, blocks of 256 threads in x alone.
CUresult launch(CUfunction function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                unsigned shared_bytes, CUstream, void** arguments, void** extra) {
  const auto& f = *reinterpret_cast<const Function*>(function);
  if (const char* failing = std::getenv("FAKE_CUDA_FAIL_KERNEL"); failing && f.name == failing) {
    return CUDA_ERROR_LAUNCH_FAILED;
  }
  if (gy != 1 || gz != 1 || by != 1 || bz != 1 || shared_bytes != 0 || extra != nullptr || bx != 256) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  void* buffers[64];
  if (f.buffers > 64) return CUDA_ERROR_INVALID_VALUE;
  for (int i = 0; i < f.buffers; ++i) buffers[i] = *static_cast<void**>(arguments[i]);
  const long long begin = *static_cast<long long*>(arguments[f.buffers]);
  const long long end = *static_cast<long long*>(arguments[f.buffers + 1]);
  const long long threads = (end - begin) * f.threads_per_iteration;
  if (threads <= 0 || static_cast<long long>(gx) * bx < threads || static_cast<long long>(gx - 1) * bx >= threads) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  log("launch " + f.name + " " + std::to_string(gx) + "x" + std::to_string(bx));
  f.entry(buffers, begin, end);
  return CUDA_SUCCESS;
}

// ---- streams and events: everything runs when launched ----

CUresult stream_create(CUstream* stream, unsigned) {
  static int the_stream;
  *stream = reinterpret_cast<CUstream>(&the_stream);
  return CUDA_SUCCESS;
}
CUresult stream_nothing(CUstream) { return CUDA_SUCCESS; }
CUresult event_create(CUevent* event, unsigned) {
  static int the_event;
  *event = reinterpret_cast<CUevent>(&the_event);
  return CUDA_SUCCESS;
}
CUresult event_record(CUevent, CUstream) { return CUDA_SUCCESS; }
CUresult event_nothing(CUevent) { return CUDA_SUCCESS; }
CUresult event_elapsed(float* milliseconds, CUevent, CUevent) {
  *milliseconds = 0.001f;
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
    {"cuModuleLoadData", reinterpret_cast<void*>(&module_load)},
    {"cuModuleUnload", reinterpret_cast<void*>(&module_unload)},
    {"cuModuleGetFunction", reinterpret_cast<void*>(&module_function)},
    {"cuMemAlloc", reinterpret_cast<void*>(&mem_alloc)},
    {"cuMemFree", reinterpret_cast<void*>(&mem_free)},
    {"cuMemsetD8", reinterpret_cast<void*>(&memset_d8)},
    {"cuMemcpyHtoD", reinterpret_cast<void*>(&copy_to_device)},
    {"cuMemcpyDtoH", reinterpret_cast<void*>(&copy_to_host)},
    {"cuMemcpyDtoDAsync", reinterpret_cast<void*>(&copy_on_device)},
    {"cuLaunchKernel", reinterpret_cast<void*>(&launch)},
    {"cuStreamCreate", reinterpret_cast<void*>(&stream_create)},
    {"cuStreamSynchronize", reinterpret_cast<void*>(&stream_nothing)},
    {"cuStreamDestroy", reinterpret_cast<void*>(&stream_nothing)},
    {"cuEventCreate", reinterpret_cast<void*>(&event_create)},
    {"cuEventRecord", reinterpret_cast<void*>(&event_record)},
    {"cuEventSynchronize", reinterpret_cast<void*>(&event_nothing)},
    {"cuEventElapsedTime", reinterpret_cast<void*>(&event_elapsed)},
    {"cuEventDestroy", reinterpret_cast<void*>(&event_nothing)},
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
