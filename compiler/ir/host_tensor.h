// A tensor value in host memory, as the reference interpreter sees it.
//
// Every element is stored as a double: float values of an f32 tensor are
// rounded to float precision after each op, integers and booleans are exact
// (the interpreter rejects integers beyond 2^53). One storage type keeps each
// reference kernel a single, obviously correct loop; the compiled backends
// use the real element types.
#pragma once

#include <cstddef>
#include <vector>

#include "base/types.h"

namespace reforge {

struct HostTensor {
  TensorType type;
  std::vector<double> data;

  HostTensor() = default;
  explicit HostTensor(TensorType t) : type(std::move(t)), data(type.elements(), 0.0) {}
  HostTensor(TensorType t, std::vector<double> values) : type(std::move(t)), data(std::move(values)) {}

  const Shape& shape() const { return type.shape; }
  DType dtype() const { return type.dtype; }
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  double& operator[](int64_t i) { return data[i]; }
  double operator[](int64_t i) const { return data[i]; }

  static HostTensor scalar(DType dtype, double value) { return HostTensor({dtype, {}}, {value}); }
};

// Rounds values to what the dtype can hold (float rounding for f32,
// truncation toward zero for integers, 0/1 for bool).
void round_to_dtype(HostTensor& tensor);

// Between the reference representation and memory laid out in the element
// type (what planned execution and the back ends hold): `at` has room for
// tensor.type.bytes().
void write_elements(const HostTensor& tensor, std::byte* at);
HostTensor read_elements(const TensorType& type, const std::byte* at);

}  // namespace reforge
