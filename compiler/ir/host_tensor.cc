#include "compiler/ir/host_tensor.h"

#include <cmath>

namespace reforge {

void round_to_dtype(HostTensor& tensor) {
  switch (tensor.dtype()) {
    case DType::f32:
      for (double& v : tensor.data) v = static_cast<float>(v);
      break;
    case DType::f64:
      break;
    case DType::i32:
    case DType::i64:
      for (double& v : tensor.data) v = std::trunc(v);
      break;
    case DType::boolean:
      for (double& v : tensor.data) v = v != 0.0 ? 1.0 : 0.0;
      break;
  }
}

void write_elements(const HostTensor& tensor, std::byte* at) {
  with_element_type(tensor.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = reinterpret_cast<T*>(at);
    for (int64_t i = 0; i < tensor.size(); ++i) out[i] = static_cast<T>(tensor[i]);
  });
}

HostTensor read_elements(const TensorType& type, const std::byte* at) {
  HostTensor tensor(type);
  with_element_type(type.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = reinterpret_cast<const T*>(at);
    for (int64_t i = 0; i < tensor.size(); ++i) tensor[i] = static_cast<double>(in[i]);
  });
  return tensor;
}

}  // namespace reforge
