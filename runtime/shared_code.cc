#include "runtime/shared_code.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace reforge::runtime {
namespace {

// The kernels call exp, log and tanh in their vector forms (glibc's
// libmvec); the shared object names it, and loading it globally first
// keeps that working where the loader's search path does not find it.
void load_vector_math() {
  static void* handle = dlopen("libmvec.so.1", RTLD_NOW | RTLD_GLOBAL);
  (void)handle;
}

}  // namespace

SharedCode::SharedCode(std::string_view shared_object) {
  load_vector_math();
  int fd = memfd_create("reforge-kernels", MFD_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot create an in-memory file for the code: {}", std::strerror(errno)));
  size_t written = 0;
  while (written < shared_object.size()) {
    ssize_t n = write(fd, shared_object.data() + written, shared_object.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = errno;
      close(fd);
      throw Error(fmt::format("cannot write the code to memory: {}", std::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  std::string path = fmt::format("/proc/self/fd/{}", fd);
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  close(fd);  // the loader keeps its own mapping
  if (!handle_) {
    const char* message = dlerror();
    throw Error(fmt::format("the code section is not a loadable shared object: {}", message ? message : "unknown"));
  }
}

SharedCode::~SharedCode() {
  if (handle_) dlclose(handle_);
}

KernelFunction SharedCode::find(const std::string& symbol) const {
  return reinterpret_cast<KernelFunction>(dlsym(handle_, symbol.c_str()));
}

}  // namespace reforge::runtime
