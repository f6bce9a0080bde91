#include "runtime/cublas.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "base/error.h"

namespace reforge::runtime {
namespace {

struct Loaded {
  std::unique_ptr<Cublas> library;
  std::string why;
};

template <typename F>
bool bind(void* library, F& f, const char* symbol) {
  f = reinterpret_cast<F>(dlsym(library, symbol));
  return f != nullptr;
}

Loaded load() {
  std::vector<std::string> candidates = {"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13",
                                         "/usr/local/cuda/lib/libcublas.so.13"};
  if (const char* chosen = std::getenv("REFORGE_CUBLAS"); chosen && *chosen) candidates = {chosen};
  void* library = nullptr;
  std::string tried;
  for (const std::string& name : candidates) {
    if ((library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
    const char* error = dlerror();
    tried += fmt::format("; {}: {}", name, error ? error : "not found");
  }
  if (!library) return {nullptr, "cuBLAS is not installed" + tried};
  auto c = std::make_unique<Cublas>();
  const bool complete = bind(library, c->cublasCreate_v2, "cublasCreate_v2") &&
                        bind(library, c->cublasDestroy_v2, "cublasDestroy_v2") &&
                        bind(library, c->cublasSetStream_v2, "cublasSetStream_v2") &&
                        bind(library, c->cublasGetStatusName, "cublasGetStatusName") &&
                        bind(library, c->cublasSgemmStridedBatched, "cublasSgemmStridedBatched") &&
                        bind(library, c->cublasDgemmStridedBatched, "cublasDgemmStridedBatched");
  if (!complete) return {nullptr, "the cuBLAS library lacks a function the runtime calls (older than CUDA 11?)"};
  return {std::move(c), ""};
}

const Loaded& loaded() {
  static const Loaded l = load();
  return l;
}
}  // namespace

const Cublas* Cublas::get() { return loaded().library.get(); }

const std::string& Cublas::unavailable_reason() { return loaded().why; }

void Cublas::check(cublasStatus_t status, const char* what) const {
  if (status != CUBLAS_STATUS_SUCCESS) throw Error(fmt::format("{} failed: {}", what, cublasGetStatusName(status)));
}

}  // namespace reforge::runtime
