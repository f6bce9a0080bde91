// Fuzz target: the artifact decoder (everything `Model::open` checks
// before it loads code) on arbitrary bytes. It must refuse with
// reforge::Error, never crash or allocate what the bytes merely claim.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "runtime/artifact.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    reforge::runtime::Artifact a =
        reforge::runtime::decode_artifact(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.rfa");
    // What decodes must encode to the same bytes.
    if (reforge::runtime::encode_artifact(a) != std::string_view(reinterpret_cast<const char*>(data), size)) {
      __builtin_trap();
    }
  } catch (const reforge::Error&) {
  }
  return 0;
}
