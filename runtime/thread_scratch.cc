#include "runtime/thread_scratch.h"

#include <memory>
#include <new>

namespace reforge::runtime {

std::byte* thread_scratch() {
  struct AlignedDelete {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  thread_local std::unique_ptr<std::byte[], AlignedDelete> scratch(
      static_cast<std::byte*>(::operator new[](kThreadScratchBytes, std::align_val_t{64})));
  return scratch.get();
}

}  // namespace reforge::runtime
