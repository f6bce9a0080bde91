// Calls a function with a value of the C++ type that stores an element
// type (bool is one byte), so code over typed memory is written once as a
// generic lambda.
#pragma once

#include <cstdint>

#include "compiler/ir/error.h"
#include "compiler/ir/types.h"

namespace reforge::runtime {

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
  throw Error("unknown element type");
}

}  // namespace reforge::runtime
