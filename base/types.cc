#include "base/types.h"

#include <fmt/format.h>

#include "base/error.h"

namespace reforge {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i32:
      return "i32";
    case DType::i64:
      return "i64";
    case DType::boolean:
      return "bool";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
    if (dtype_name(d) == name) return d;
  }
  return std::nullopt;
}

int64_t dtype_bytes(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
    case DType::boolean:
      return 1;
  }
  return 0;
}

int64_t num_elements(const Shape& shape) {
  // Checked: a shape whose element count (or byte size) would wrap is an
  // error here, not a wrong plan later.
  constexpr int64_t kMaxElements = int64_t{1} << 56;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(fmt::format("shape {} has a negative dimension", shape_to_string(shape)));
    if (d > 0 && n > kMaxElements / d) {
      throw Error(fmt::format("shape {} has more than 2^56 elements", shape_to_string(shape)));
    }
    n *= d;
  }
  return n;
}

std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

std::string shape_to_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

std::string type_to_string(const TensorType& type) {
  return fmt::format("{}{}", dtype_name(type.dtype), shape_to_string(type.shape));
}

}  // namespace reforge
