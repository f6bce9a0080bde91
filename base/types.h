// Element types, shapes and tensor types: the static type of every IR value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reforge {

enum class DType { f32, f64, i32, i64, boolean };

std::string_view dtype_name(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);
inline bool is_float(DType d) { return d == DType::f32 || d == DType::f64; }
inline bool is_integer(DType d) { return d == DType::i32 || d == DType::i64; }
int64_t dtype_bytes(DType dtype);

using Shape = std::vector<int64_t>;

int64_t num_elements(const Shape& shape);
// Row-major strides, in elements.
std::vector<int64_t> row_major_strides(const Shape& shape);
std::string shape_to_string(const Shape& shape);

struct TensorType {
  DType dtype = DType::f32;
  Shape shape;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t elements() const { return num_elements(shape); }
  int64_t bytes() const { return elements() * dtype_bytes(dtype); }
  bool operator==(const TensorType&) const = default;
};

// "f32[2,3]"; a scalar prints as "f32[]".
std::string type_to_string(const TensorType& type);

// Calls fn with a value of the C++ type that stores `dtype` in memory
// (bool is one byte), so code over typed memory is written once, as a
// generic lambda.
template <typename Fn>
void with_element_type(DType dtype, Fn fn) {
  switch (dtype) {
    case DType::f32:
      return fn(float{});
    case DType::f64:
      return fn(double{});
    case DType::i32:
      return fn(int32_t{});
    case DType::i64:
      return fn(int64_t{});
    case DType::boolean:
      return fn(uint8_t{});
  }
}

}  // namespace reforge
