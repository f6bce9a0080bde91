// Float64 central-finite-difference checks of autodiff gradients, and
// helpers to make random feeds for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/graph.h"

namespace reforge::testing {

// How to fill one input: floats uniform in [low, high) (optionally kept at
// least `min_magnitude` away from zero, to stay off kinks), integers
// uniform in [low, high).
struct InputSpec {
  TensorType type;
  double low = -1.0;
  double high = 1.0;
  double min_magnitude = 0.0;
};

HostTensor random_tensor(const InputSpec& spec, uint64_t seed);

using GraphBody = std::function<Tensor(Graph& graph, const std::vector<Tensor>& inputs)>;

struct GradientCheckResult {
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  std::string worst;  // "input 0 element 3: autodiff 1.2 vs numeric 1.3"
  int checked = 0;    // number of elements compared
};

// Central difference (L(x + h) - L(x - h)) / 2h of the output "loss" of
// `loss_graph` with respect to element `element` of the fed value `name`
// (restored afterwards).
double central_difference(const Graph& loss_graph, ValueMap& feeds, const std::string& name, int64_t element,
                          double h);

// Builds f64 inputs per `specs`, y = body(inputs), loss = sum(y * r) for a
// random r, differentiates the loss w.r.t. every float input and compares
// with central differences of step `h`. The relative error of an element
// is |autodiff - numeric| / max(1, |numeric|).
GradientCheckResult check_gradients(const GraphBody& body, const std::vector<InputSpec>& specs, uint64_t seed,
                                    double h = 1e-5);

// For a whole model in f64: autodiff's gradient of `loss` (a value of
// `model`) with respect to each parameter, against central differences
// of step `h`, over a spread of each parameter's elements (every element
// of a small one, about six of a larger one). `feeds` hold the
// parameters' values and the model's inputs. Errors as check_gradients;
// `worst` names the parameter and element.
GradientCheckResult check_parameter_gradients(const Graph& model, Tensor loss, const ValueMap& feeds, double h);

}  // namespace reforge::testing
