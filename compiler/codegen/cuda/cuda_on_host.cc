#include "compiler/codegen/cuda/cuda_on_host.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "compiler/codegen/cuda/cuda_renderer.h"

namespace reforge::codegen {
namespace {

// Runs `command`, returning its exit status and what it printed.
int run(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw Error("cannot start the host compiler: " + command);
  char chunk[4096];
  while (size_t n = fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A directory of its own under the system's temporary directory, removed
// when the object is loaded (or the compile failed).
struct ScratchDirectory {
  std::filesystem::path path;
  ScratchDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "reforge-cuda-on-host-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw Error("cannot create a temporary directory for the host compiler");
    path = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// Builds render_cuda's `source` for the host into the shared object `object`.
// Unoptimised: the host build checks semantics on small programs, where
// compiling takes longer than running (the GPU library alone builds in
// 0.8 s at -O0, 1.9 s at -O1).
void build_for_host(const std::string& source, const std::filesystem::path& directory,
                    const std::filesystem::path& object) {
  const std::filesystem::path file = directory / "kernels.cc";
  std::ofstream(file) << source;
  const char* compiler = std::getenv("REFORGE_HOST_CXX");
  std::string command =
      fmt::format("{} -std=c++17 -O0 -ffp-contract=off -fPIC -shared -DREFORGE_CUDA_ON_HOST -o '{}' '{}'",
                  compiler && *compiler ? compiler : "c++", object.string(), file.string());
  std::string output;
  if (run(command, output) != 0) {
    throw Error(fmt::format("the host compiler could not compile the CUDA kernels for the host:\n{}\n{}", command,
                            output));
  }
}

}  // namespace

std::unique_ptr<CudaOnHost> CudaOnHost::compile(const std::vector<kir::Kernel>& kernels) {
  auto code = std::unique_ptr<CudaOnHost>(new CudaOnHost());
  code->source_ = render_cuda(kernels, /*with_library=*/false);  // library calls run the CPU's
  ScratchDirectory scratch;
  const std::filesystem::path object = scratch.path / "kernels.so";
  build_for_host(code->source_, scratch.path, object);
  code->library_ = dlopen(object.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!code->library_) throw Error(fmt::format("cannot load the host build of the CUDA kernels: {}", dlerror()));
  return code;
}

std::string build_cuda_for_host(const std::string& source) {
  ScratchDirectory scratch;
  const std::filesystem::path object = scratch.path / "kernels.so";
  build_for_host(source, scratch.path, object);
  std::ifstream in(object, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CudaOnHost::~CudaOnHost() {
  if (library_) dlclose(library_);
}

runtime::KernelFunction CudaOnHost::find(const std::string& symbol) const {
  return reinterpret_cast<runtime::KernelFunction>(dlsym(library_, cuda_host_symbol(symbol).c_str()));
}

}  // namespace reforge::codegen
