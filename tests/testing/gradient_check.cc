#include "tests/testing/gradient_check.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge::testing {

HostTensor random_tensor(const InputSpec& spec, uint64_t seed) {
  HostTensor t(spec.type);
  for (int64_t i = 0; i < t.size(); ++i) {
    double u = kernels::counter_uniform(seed, 7, i);
    if (is_float(spec.type.dtype)) {
      double v = spec.low + (spec.high - spec.low) * u;
      if (std::fabs(v) < spec.min_magnitude) v = v < 0 ? -spec.min_magnitude - std::fabs(v) : spec.min_magnitude + v;
      t[i] = v;
    } else {
      t[i] = std::floor(spec.low + (spec.high - spec.low) * u);
    }
  }
  round_to_dtype(t);
  return t;
}

double central_difference(const Graph& loss_graph, ValueMap& feeds, const std::string& name, int64_t element,
                          double h) {
  HostTensor& x = feeds.at(name);
  double saved = x[element];
  x[element] = saved + h;
  double plus = run_graph(loss_graph, feeds).at("loss")[0];
  x[element] = saved - h;
  double minus = run_graph(loss_graph, feeds).at("loss")[0];
  x[element] = saved;
  return (plus - minus) / (2 * h);
}

namespace {

// Adds one compared element to `result`; `where` names it if it is the
// worst so far.
void record(GradientCheckResult& result, double autodiff, double numeric, const std::function<std::string()>& where) {
  double abs_error = std::fabs(autodiff - numeric);
  double rel_error = abs_error / std::max(1.0, std::fabs(numeric));
  ++result.checked;
  result.max_abs_error = std::max(result.max_abs_error, abs_error);
  if (rel_error >= result.max_rel_error) {
    result.max_rel_error = rel_error;
    result.worst = fmt::format("{}: autodiff {} vs numeric {}", where(), autodiff, numeric);
  }
}

}  // namespace

GradientCheckResult check_gradients(const GraphBody& body, const std::vector<InputSpec>& specs, uint64_t seed,
                                    double h) {
  Graph graph("gradient_check");
  graph.set_default_float(DType::f64);
  std::vector<Tensor> inputs;
  ValueMap feeds;
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string name = fmt::format("x{}", i);
    inputs.push_back(graph.input(name, specs[i].type));
    feeds[name] = random_tensor(specs[i], seed + 101 * i);
  }
  Tensor y = body(graph, inputs);
  Tensor r = graph.input("r", y.type());
  feeds["r"] = random_tensor({y.type(), -1.0, 1.0}, seed + 7777);
  Tensor loss = sum_all(y * r);
  graph.output("loss", loss);

  std::vector<Tensor> wrt;
  std::vector<size_t> wrt_index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (is_float(inputs[i].dtype())) {
      wrt.push_back(inputs[i]);
      wrt_index.push_back(i);
    }
  }
  std::vector<Tensor> grads = gradients(loss, wrt);
  std::unique_ptr<Graph> loss_only = graph.clone();
  for (size_t k = 0; k < grads.size(); ++k) graph.output(fmt::format("grad{}", k), grads[k]);

  ValueMap analytic = run_graph(graph, feeds);
  GradientCheckResult result;
  for (size_t k = 0; k < wrt.size(); ++k) {
    std::string name = fmt::format("x{}", wrt_index[k]);
    const HostTensor& g = analytic.at(fmt::format("grad{}", k));
    for (int64_t e = 0; e < feeds.at(name).size(); ++e) {
      double numeric = central_difference(*loss_only, feeds, name, e, h);
      record(result, g[e], numeric, [&] { return fmt::format("input {} element {}", wrt_index[k], e); });
    }
  }
  return result;
}

GradientCheckResult check_parameter_gradients(const Graph& model, Tensor loss, const ValueMap& feeds, double h) {
  std::unique_ptr<Graph> loss_only = model.clone();
  loss_only->output("loss", loss_only->value(loss.id));
  std::unique_ptr<Graph> graph = model.clone();
  std::vector<Tensor> params = parameters(*graph);
  std::vector<Tensor> grads = gradients(graph->value(loss.id), params);
  for (size_t i = 0; i < params.size(); ++i) graph->output("d." + params[i].node().name, grads[i]);
  ValueMap analytic = run_graph(*graph, feeds);
  ValueMap perturbed = feeds;
  GradientCheckResult result;
  for (const Tensor& p : params) {
    const std::string& name = p.node().name;
    const HostTensor& g = analytic.at("d." + name);
    const int64_t size = perturbed.at(name).size();
    for (int64_t e = 0; e < size; e += std::max<int64_t>(1, size / 6)) {
      double numeric = central_difference(*loss_only, perturbed, name, e, h);
      record(result, g[e], numeric, [&] { return fmt::format("{}[{}]", name, e); });
    }
  }
  return result;
}

}  // namespace reforge::testing
