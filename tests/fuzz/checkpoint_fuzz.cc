// Fuzz target: the checkpoint reader (safetensors structure, JSON header,
// Reforge's metadata and checksum) on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "runtime/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)reforge::runtime::decode_checkpoint(std::string_view(reinterpret_cast<const char*>(data), size),
                                              "fuzz.safetensors");
  } catch (const reforge::Error&) {
  }
  return 0;
}
