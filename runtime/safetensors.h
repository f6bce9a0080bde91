// The safetensors file format (what Hugging Face's `safetensors` package
// reads and writes): an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, an optional
// "__metadata__" object of strings, then the tensors' bytes. Reforge's
// checkpoints are safetensors files, so Python loads them as they are.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/types.h"

namespace reforge::runtime {

struct NamedTensor {
  std::string name;
  TensorType type;
  std::string bytes;  // type.bytes() of them, little-endian
};

struct SafeTensors {
  std::map<std::string, std::string> metadata;
  std::vector<NamedTensor> tensors;  // in the order of their bytes

  const NamedTensor* find(std::string_view name) const;
};

std::string encode_safetensors(const SafeTensors& file);

// Validates everything (header length, JSON, dtypes, shapes against byte
// ranges, ranges inside the file and covering it without gaps or
// overlaps); an Error names `origin` and what is wrong.
SafeTensors decode_safetensors(std::string_view bytes, const std::string& origin);

}  // namespace reforge::runtime
