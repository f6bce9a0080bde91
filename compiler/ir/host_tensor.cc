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

}  // namespace reforge
