// Native code loaded from memory: the shared object an artifact carries is
// written to an anonymous in-memory file and opened with the dynamic
// loader, so nothing is left on disk and no compiler is needed.
#pragma once

#include <string>
#include <string_view>

#include "runtime/code.h"

namespace reforge::runtime {

class SharedCode : public Code {
 public:
  // Throws reforge::Error with the loader's message when the bytes are not
  // a loadable shared object for this machine.
  explicit SharedCode(std::string_view shared_object);
  ~SharedCode() override;
  SharedCode(const SharedCode&) = delete;
  SharedCode& operator=(const SharedCode&) = delete;

  KernelFunction find(const std::string& symbol) const override;

 private:
  void* handle_ = nullptr;
};

}  // namespace reforge::runtime
