// Elementwise ops: unary math, binary arithmetic, comparisons, logic,
// select and cast. Operands of binary ops have equal types in the IR (the
// DSL inserts broadcasts); comparisons return bool.
#include <cmath>

#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;

double gelu_value(double x) { return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x))); }

using UnaryFn = double (*)(double);
using BinaryFn = double (*)(double, double);
using Vjp = std::function<std::vector<Tensor>(const VjpContext&)>;

enum class Domain { any, floats, integers, booleans };

void check_domain(const TensorType& t, Domain domain) {
  bool ok = domain == Domain::any || (domain == Domain::floats && is_float(t.dtype)) ||
            (domain == Domain::integers && is_integer(t.dtype)) ||
            (domain == Domain::booleans && t.dtype == DType::boolean);
  if (!ok) shape_error("unsupported dtype " + type_to_string(t));
}

using kir::BinaryOp;
using kir::UnaryOp;

// Kernel IR of a one-operand op on x.
using UnaryFormula = std::function<ValueId(KernelBuilder&, ValueId)>;
UnaryFormula kir_unary(UnaryOp op) {
  return [op](KernelBuilder& b, ValueId x) { return b.unary(op, x); };
}
ScalarFormula kir_binary(BinaryOp op) {
  return [op](KernelBuilder& b, const Node&, const std::vector<ValueId>& in) { return b.binary(op, in[0], in[1]); };
}

ValueId gelu_formula(KernelBuilder& b, ValueId x) {
  ValueId cubic = b.mul(b.like(x, kGeluCubic), b.mul(x, b.mul(x, x)));
  ValueId t = b.unary(UnaryOp::tanh, b.mul(b.like(x, kSqrt2OverPi), b.add(x, cubic)));
  return b.mul(b.mul(b.like(x, 0.5), x), b.add(b.like(x, 1.0), t));
}

OpDef unary_op(const std::string& name, Domain domain, UnaryFn fn, UnaryFormula formula, Vjp vjp) {
  return OpDef{.name = name,
               .arity = 1,
               .infer =
                   [domain](const InferContext& c) {
                     check_domain(c.inputs[0], domain);
                     return c.inputs[0];
                   },
               .eval =
                   [fn](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     const HostTensor& x = *c.inputs[0];
                     for (int64_t i = 0; i < x.size(); ++i) out[i] = fn(x[i]);
                     return out;
                   },
               .vjp = std::move(vjp),
               .kind = OpKind::elementwise,
               .element = pointwise([formula](KernelBuilder& b, const Node&, const std::vector<ValueId>& in) {
                 return formula(b, in[0]);
               })};
}
void register_unary(const std::string& name, Domain domain, UnaryFn fn, UnaryFormula formula, Vjp vjp) {
  register_op(unary_op(name, domain, std::move(fn), std::move(formula), std::move(vjp)));
}

// result_bool: comparisons produce bool; otherwise the operand type.
OpDef binary_op(const std::string& name, Domain domain, bool result_bool, BinaryFn fn, BinaryOp op, Vjp vjp) {
  return OpDef{.name = name,
               .arity = 2,
               .infer =
                   [domain, result_bool](const InferContext& c) {
                     if (c.inputs[0] != c.inputs[1]) shape_error("operand types differ: " + types_string(c.inputs));
                     check_domain(c.inputs[0], domain);
                     TensorType t = c.inputs[0];
                     if (result_bool) t.dtype = DType::boolean;
                     return t;
                   },
               .eval =
                   [fn](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     const HostTensor& a = *c.inputs[0];
                     const HostTensor& b = *c.inputs[1];
                     for (int64_t i = 0; i < a.size(); ++i) out[i] = fn(a[i], b[i]);
                     return out;
                   },
               .vjp = std::move(vjp),
               .kind = OpKind::elementwise,
               .element = pointwise(kir_binary(op))};
}
void register_binary(const std::string& name, Domain domain, bool result_bool, BinaryFn fn, BinaryOp op, Vjp vjp) {
  register_op(binary_op(name, domain, result_bool, std::move(fn), op, std::move(vjp)));
}

// `def` with its identity elements (OpDef::left_identity, right_identity).
OpDef with_identities(OpDef def, std::optional<double> left, std::optional<double> right) {
  def.left_identity = left;
  def.right_identity = right;
  return def;
}

double checked_divisor(double b) {
  if (b == 0.0) throw Error("integer division or remainder by zero");
  return b;
}

}  // namespace

REFORGE_REGISTER_OPS(elementwise) {
  // ---- unary ----
  OpDef negation = unary_op(
      "neg", Domain::any, [](double x) { return -x; }, kir_unary(UnaryOp::neg),
      [](const VjpContext& c) { return std::vector<Tensor>{neg(c.grad)}; });
  negation.fold = [](Graph& g, const Node& n, const std::vector<int>& in) {  // neg(neg(x)) = x
    const Node& producer = g.node(in[0]);
    return producer.def == n.def ? producer.inputs[0] : -1;
  };
  register_op(std::move(negation));
  register_unary(
      "exp", Domain::floats, [](double x) { return std::exp(x); }, kir_unary(UnaryOp::exp),
      [](const VjpContext& c) { return std::vector<Tensor>{c.grad * c.output}; });
  register_unary(
      "log", Domain::floats, [](double x) { return std::log(x); }, kir_unary(UnaryOp::log),
      [](const VjpContext& c) { return std::vector<Tensor>{c.grad / c.inputs[0]}; });
  register_unary(
      "tanh", Domain::floats, [](double x) { return std::tanh(x); }, kir_unary(UnaryOp::tanh),
      [](const VjpContext& c) { return std::vector<Tensor>{c.grad * (1.0 - c.output * c.output)}; });
  register_unary(
      "sqrt", Domain::floats, [](double x) { return std::sqrt(x); }, kir_unary(UnaryOp::sqrt),
      [](const VjpContext& c) { return std::vector<Tensor>{c.grad * 0.5 / c.output}; });
  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 * out / x
  register_unary(
      "rsqrt", Domain::floats, [](double x) { return 1.0 / std::sqrt(x); },
      [](KernelBuilder& b, ValueId x) { return b.div(b.like(x, 1.0), b.unary(UnaryOp::sqrt, x)); },
      [](const VjpContext& c) { return std::vector<Tensor>{c.grad * (-0.5) * c.output / c.inputs[0]}; });
  // The GEMM's epilogue applies relu and gelu to each finished row of C,
  // with the kernel generated from their element rule
  // (compiler/kernel/epilogue_activation.h).
  OpDef relu = unary_op(
      "relu", Domain::floats, [](double x) { return x > 0.0 ? x : 0.0; },
      [](KernelBuilder& b, ValueId x) { return b.select(b.binary(BinaryOp::gt, x, b.like(x, 0)), x, b.like(x, 0)); },
      [](const VjpContext& c) {
        Tensor x = c.inputs[0];
        return std::vector<Tensor>{select(greater(x, zeros_like(x)), c.grad, zeros_like(x))};
      });
  relu.epilogue_stage = EpilogueStage::activation;
  register_op(std::move(relu));
  OpDef gelu = unary_op("gelu", Domain::floats, gelu_value, gelu_formula, [](const VjpContext& c) {
    // gelu(x) = x * s(x), s = (1 + tanh(u))/2, u = k (x + a x^3):
    // gelu'(x) = s + x/2 * (1 - tanh(u)^2) * k (1 + 3 a x^2)
    Tensor x = c.inputs[0];
    Tensor x2 = x * x;
    Tensor t = tanh(kSqrt2OverPi * (x + kGeluCubic * (x2 * x)));
    Tensor s = 0.5 * (1.0 + t);
    Tensor du = kSqrt2OverPi * (1.0 + (3.0 * kGeluCubic) * x2);
    Tensor d = s + 0.5 * x * (1.0 - t * t) * du;
    return std::vector<Tensor>{c.grad * d};
  });
  gelu.epilogue_stage = EpilogueStage::activation;
  register_op(std::move(gelu));
  register_unary(
      "abs", Domain::any, [](double x) { return std::fabs(x); }, kir_unary(UnaryOp::abs),
      [](const VjpContext& c) {
        Tensor x = c.inputs[0];
        return std::vector<Tensor>{select(less(x, zeros_like(x)), neg(c.grad), c.grad)};
      });
  register_unary(
      "logical_not", Domain::booleans, [](double x) { return x != 0.0 ? 0.0 : 1.0; }, kir_unary(UnaryOp::logical_not),
      nullptr);

  register_op({.name = "cast",
               .arity = 1,
               .attrs = {{"dtype", AttrKind::string}},
               .infer =
                   [](const InferContext& c) {
                     return TensorType{dtype_attr(c.attrs), c.inputs[0].shape};
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type, c.inputs[0]->data);
                     round_to_dtype(out);
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     Tensor x = c.inputs[0];
                     if (!is_float(x.dtype()) || !is_float(c.output.dtype())) return std::vector<Tensor>{Tensor{}};
                     return std::vector<Tensor>{cast(c.grad, x.dtype())};
                   },
               .kind = OpKind::elementwise,
               .element = pointwise([](KernelBuilder& b, const Node& n, const std::vector<ValueId>& in) {
                 return b.cast(n.type.dtype, in[0]);
               }),
               .is_identity = [](const Node& n, const TensorType& input) { return n.type == input; }});

  // ---- binary arithmetic ----
  OpDef add = with_identities(binary_op(
                                  "add", Domain::any, false, [](double a, double b) { return a + b; }, BinaryOp::add,
                                  [](const VjpContext& c) {
                                    return std::vector<Tensor>{c.grad, c.grad};
                                  }),
                              0.0, 0.0);
  add.epilogue_stage = EpilogueStage::add;  // a bias or a residual
  register_op(std::move(add));
  register_op(with_identities(binary_op(
                                  "sub", Domain::any, false, [](double a, double b) { return a - b; }, BinaryOp::sub,
                                  [](const VjpContext& c) {
                                    return std::vector<Tensor>{c.grad, neg(c.grad)};
                                  }),
                              std::nullopt, 0.0));
  register_op(with_identities(binary_op(
                                  "mul", Domain::any, false, [](double a, double b) { return a * b; }, BinaryOp::mul,
                                  [](const VjpContext& c) {
                                    return std::vector<Tensor>{c.grad * c.inputs[1], c.grad * c.inputs[0]};
                                  }),
                              1.0, 1.0));
  register_op(with_identities(binary_op(
                                  "div", Domain::floats, false, [](double a, double b) { return a / b; }, BinaryOp::div,
                                  [](const VjpContext& c) {
                                    Tensor b = c.inputs[1];
                                    return std::vector<Tensor>{c.grad / b, neg(c.grad * c.output / b)};
                                  }),
                              std::nullopt, 1.0));
  // Ties send the gradient to the first operand.
  register_binary(
      "maximum", Domain::any, false, [](double a, double b) { return a >= b ? a : b; }, BinaryOp::max,
      [](const VjpContext& c) {
        Tensor first = greater_equal(c.inputs[0], c.inputs[1]);
        Tensor zero = zeros_like(c.grad);
        return std::vector<Tensor>{select(first, c.grad, zero), select(first, zero, c.grad)};
      });
  register_binary(
      "minimum", Domain::any, false, [](double a, double b) { return a <= b ? a : b; }, BinaryOp::min,
      [](const VjpContext& c) {
        Tensor first = less_equal(c.inputs[0], c.inputs[1]);
        Tensor zero = zeros_like(c.grad);
        return std::vector<Tensor>{select(first, c.grad, zero), select(first, zero, c.grad)};
      });
  register_binary(
      "mod", Domain::integers, false, [](double a, double b) { return a - std::floor(a / checked_divisor(b)) * b; },
      BinaryOp::mod, nullptr);
  register_binary(
      "floordiv", Domain::integers, false, [](double a, double b) { return std::floor(a / checked_divisor(b)); },
      BinaryOp::div, nullptr);

  // ---- comparisons and logic ----
  register_binary(
      "eq", Domain::any, true, [](double a, double b) { return double(a == b); }, BinaryOp::eq, nullptr);
  register_binary(
      "ne", Domain::any, true, [](double a, double b) { return double(a != b); }, BinaryOp::ne, nullptr);
  register_binary(
      "lt", Domain::any, true, [](double a, double b) { return double(a < b); }, BinaryOp::lt, nullptr);
  register_binary(
      "le", Domain::any, true, [](double a, double b) { return double(a <= b); }, BinaryOp::le, nullptr);
  register_binary(
      "gt", Domain::any, true, [](double a, double b) { return double(a > b); }, BinaryOp::gt, nullptr);
  register_binary(
      "ge", Domain::any, true, [](double a, double b) { return double(a >= b); }, BinaryOp::ge, nullptr);
  register_binary(
      "logical_and", Domain::booleans, false, [](double a, double b) { return double(a != 0.0 && b != 0.0); },
      BinaryOp::logical_and, nullptr);
  register_binary(
      "logical_or", Domain::booleans, false, [](double a, double b) { return double(a != 0.0 || b != 0.0); },
      BinaryOp::logical_or, nullptr);

  register_op(
      {.name = "select",
       .arity = 3,
       .infer =
           [](const InferContext& c) {
             const auto& in = c.inputs;
             if (in[0].dtype != DType::boolean) shape_error("condition must be bool, got " + type_to_string(in[0]));
             if (in[1] != in[2] || in[0].shape != in[1].shape) shape_error("operand types differ: " + types_string(in));
             return in[1];
           },
       .eval =
           [](const EvalContext& c) {
             HostTensor out(c.node.type);
             const HostTensor& cond = *c.inputs[0];
             for (int64_t i = 0; i < out.size(); ++i) out[i] = cond[i] != 0.0 ? (*c.inputs[1])[i] : (*c.inputs[2])[i];
             return out;
           },
       .vjp =
           [](const VjpContext& c) {
             Tensor zero = zeros_like(c.grad);
             return std::vector<Tensor>{Tensor{}, select(c.inputs[0], c.grad, zero), select(c.inputs[0], zero, c.grad)};
           },
       .kind = OpKind::elementwise,
       .element = pointwise([](KernelBuilder& b, const Node&, const std::vector<ValueId>& in) {
         return b.select(in[0], in[1], in[2]);
       })});
}

}  // namespace reforge::ops
