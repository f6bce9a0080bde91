#include "compiler/codegen/cuda/nvrtc_compiler.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <nvrtc.h>

#include <cstdlib>
#include <cstdio>
#include <sstream>

#include "base/error.h"

namespace reforge::codegen {
namespace {

// NVRTC is opened when first needed, not linked: the compiler starts, and
// compiles for the CPU, on a machine without the CUDA toolkit.
struct Nvrtc {
  decltype(&::nvrtcVersion) version;
  decltype(&::nvrtcGetErrorString) error_string;
  decltype(&::nvrtcCreateProgram) create;
  decltype(&::nvrtcDestroyProgram) destroy;
  decltype(&::nvrtcCompileProgram) compile;
  decltype(&::nvrtcGetProgramLogSize) log_size;
  decltype(&::nvrtcGetProgramLog) log;
  decltype(&::nvrtcGetCUBINSize) cubin_size;
  decltype(&::nvrtcGetCUBIN) cubin;
  decltype(&::nvrtcGetPTXSize) ptx_size;
  decltype(&::nvrtcGetPTX) ptx;
};

// $REFORGE_NVRTC, else the toolkit's library by its soname, else where the
// toolkit installs it.
const Nvrtc& nvrtc() {
  static const Nvrtc loaded = [] {
    std::vector<std::string> candidates = {"libnvrtc.so.13", "libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so.13",
                                           "/usr/local/cuda/lib64/libnvrtc.so"};
    if (const char* chosen = std::getenv("REFORGE_NVRTC"); chosen && *chosen) candidates = {chosen};
    void* library = nullptr;
    std::string tried;
    for (const std::string& name : candidates) {
      if ((library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
      tried += fmt::format("\n  {}: {}", name, dlerror());
    }
    if (!library) {
      throw Error("compiling for CUDA needs NVRTC from the CUDA toolkit, which is not installed here (or set "
                  "REFORGE_NVRTC to libnvrtc.so):" + tried);
    }
    auto find = [&](const char* symbol) {
      void* f = dlsym(library, symbol);
      if (!f) throw Error(fmt::format("NVRTC library has no {}: is it older than CUDA 11?", symbol));
      return f;
    };
    Nvrtc n;
    n.version = reinterpret_cast<decltype(n.version)>(find("nvrtcVersion"));
    n.error_string = reinterpret_cast<decltype(n.error_string)>(find("nvrtcGetErrorString"));
    n.create = reinterpret_cast<decltype(n.create)>(find("nvrtcCreateProgram"));
    n.destroy = reinterpret_cast<decltype(n.destroy)>(find("nvrtcDestroyProgram"));
    n.compile = reinterpret_cast<decltype(n.compile)>(find("nvrtcCompileProgram"));
    n.log_size = reinterpret_cast<decltype(n.log_size)>(find("nvrtcGetProgramLogSize"));
    n.log = reinterpret_cast<decltype(n.log)>(find("nvrtcGetProgramLog"));
    n.cubin_size = reinterpret_cast<decltype(n.cubin_size)>(find("nvrtcGetCUBINSize"));
    n.cubin = reinterpret_cast<decltype(n.cubin)>(find("nvrtcGetCUBIN"));
    n.ptx_size = reinterpret_cast<decltype(n.ptx_size)>(find("nvrtcGetPTXSize"));
    n.ptx = reinterpret_cast<decltype(n.ptx)>(find("nvrtcGetPTX"));
    return n;
  }();
  return loaded;
}

void check(nvrtcResult result, const char* what) {
  if (result != NVRTC_SUCCESS) throw Error(fmt::format("NVRTC: {} failed: {}", what, nvrtc().error_string(result)));
}

// The program is destroyed on every path.
struct Program {
  nvrtcProgram handle = nullptr;
  ~Program() {
    if (handle) nvrtc().destroy(&handle);
  }
};

std::string numbered(const std::string& source) {
  std::istringstream in(source);
  std::string out, text;
  for (int n = 1; std::getline(in, text); ++n) out += fmt::format("{:5} | {}\n", n, text);
  return out;
}

}  // namespace

CudaBinary compile_cuda(const std::string& source, const NvrtcOptions& options) {
  Program program;
  check(nvrtc().create(&program.handle, source.c_str(), "reforge_kernels.cu", 0, nullptr, nullptr),
        "creating the program");
  const std::string arch = fmt::format("--gpu-architecture=sm_{}", options.sm);
  const std::string fmad = fmt::format("--fmad={}", options.fuse_multiply_add ? "true" : "false");
  const char* flags[] = {arch.c_str(), fmad.c_str(), "--std=c++17", "--ptxas-options=--verbose"};
  const Nvrtc& n = nvrtc();
  nvrtcResult compiled = n.compile(program.handle, std::size(flags), flags);
  CudaBinary out{.sm = options.sm};
  size_t size = 0;
  check(n.log_size(program.handle, &size), "reading the log");
  out.log.resize(size);
  check(n.log(program.handle, out.log.data()), "reading the log");
  while (!out.log.empty() && (out.log.back() == '\0' || out.log.back() == '\n')) out.log.pop_back();
  if (compiled != NVRTC_SUCCESS) {
    throw Error(fmt::format("NVRTC could not compile the generated CUDA kernels for sm_{} ({}):\n{}\n\nsource:\n{}",
                            options.sm, n.error_string(compiled), out.log, numbered(source)));
  }
  check(n.cubin_size(program.handle, &size), "sizing the cubin");
  out.cubin.resize(size);
  check(n.cubin(program.handle, out.cubin.data()), "reading the cubin");
  check(n.ptx_size(program.handle, &size), "sizing the PTX");
  out.ptx.resize(size);
  check(n.ptx(program.handle, out.ptx.data()), "reading the PTX");
  while (!out.ptx.empty() && out.ptx.back() == '\0') out.ptx.pop_back();
  out.resources = parse_ptxas_report(out.log);
  return out;
}

// The report reads, per kernel:
//   ptxas info    : Compiling entry function 'NAME' for 'sm_90'
//   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
//   ptxas info    : Used 14 registers, used 0 barriers
std::vector<KernelResources> parse_ptxas_report(const std::string& log) {
  std::vector<KernelResources> out;
  std::istringstream in(log);
  std::string text;
  while (std::getline(in, text)) {
    const std::string entry = "Compiling entry function '";
    size_t at = text.find(entry);
    if (at != std::string::npos) {
      size_t begin = at + entry.size();
      out.push_back({.name = text.substr(begin, text.find('\'', begin) - begin)});
      continue;
    }
    if (out.empty()) continue;
    KernelResources& k = out.back();
    long long stack = 0, stores = 0, loads = 0;
    int registers = 0;
    if ((at = text.find("bytes stack frame")) != std::string::npos) {
      size_t digits = text.find_last_not_of("0123456789", at - 2) + 1;
      if (std::sscanf(text.c_str() + digits, "%lld bytes stack frame, %lld bytes spill stores, %lld bytes spill loads",
                      &stack, &stores, &loads) == 3) {
        k.stack_bytes = stack;
        k.spill_store_bytes = stores;
        k.spill_load_bytes = loads;
      }
    } else if ((at = text.find("Used ")) != std::string::npos &&
               std::sscanf(text.c_str() + at, "Used %d registers", &registers) == 1) {
      k.registers = registers;
    }
  }
  return out;
}

std::string nvrtc_version() {
  int major = 0, minor = 0;
  check(nvrtc().version(&major, &minor), "asking the version");
  return fmt::format("{}.{}", major, minor);
}

}  // namespace reforge::codegen
