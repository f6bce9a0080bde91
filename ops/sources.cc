// Sources: values that enter a graph rather than being computed from other
// values. input (fed each run), param (trainable, initialised), state
// (persistent, e.g. optimizer moments), arg (a region's argument), constant
// and iota. The interpreter supplies input/param/state/arg values itself.
#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

HostTensor no_eval(const EvalContext& ctx) {
  throw Error(fmt::format("%{} ({}) has no value: it must be fed", ctx.node.name, ctx.node.op));
}

}  // namespace

REFORGE_REGISTER_OPS(sources) {
  register_op({.name = "input", .arity = 0, .eval = no_eval, .kind = OpKind::source, .source = SourceKind::input});
  register_op({.name = "param",
               .arity = 0,
               .attrs = {{"init", AttrKind::string}, {"scale", AttrKind::real}},
               .eval = no_eval,
               .kind = OpKind::source,
               .source = SourceKind::param});
  register_op({.name = "state",
               .arity = 0,
               .attrs = {{"init", AttrKind::string}, {"scale", AttrKind::real}},
               .eval = no_eval,
               .kind = OpKind::source,
               .source = SourceKind::state});
  register_op({.name = "arg",
               .arity = 0,
               .attrs = {{"index", AttrKind::integer}},
               .eval = no_eval,
               .kind = OpKind::source,
               .source = SourceKind::arg});

  register_op({.name = "constant",
               .arity = 0,
               .attrs = {{"value", AttrKind::real}, {"dtype", AttrKind::string}, {"shape", AttrKind::int_list}},
               .infer =
                   [](const InferContext& c) {
                     return TensorType{dtype_attr(c.attrs), c.attrs.get_ints("shape")};
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     std::fill(out.data.begin(), out.data.end(), c.node.attrs.get_float("value"));
                     return out;
                   },
               .kind = OpKind::elementwise,
               .element =
                   [](const kir::ElementContext& c) {
                     return c.b.constant(c.node.type.dtype, c.node.attrs.get_float("value"));
                   },
               .uniform_value = [](const Node& n) -> std::optional<double> { return n.attrs.get_float("value"); }});

  // iota: each element holds its coordinate along `axis`.
  register_op({.name = "iota",
               .arity = 0,
               .attrs = {{"axis", AttrKind::integer}, {"dtype", AttrKind::string}, {"shape", AttrKind::int_list}},
               .infer =
                   [](const InferContext& c) {
                     TensorType t{dtype_attr(c.attrs), c.attrs.get_ints("shape")};
                     require_axis(c.attrs.get_int("axis"), t.rank());
                     return t;
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     AxisSplit s = split_at(out.shape(), c.node.attrs.get_int("axis"));
                     for (int64_t o = 0; o < s.outer; ++o)
                       for (int64_t a = 0; a < s.extent; ++a)
                         for (int64_t i = 0; i < s.inner; ++i) out[(o * s.extent + a) * s.inner + i] = a;
                     return out;
                   },
               .kind = OpKind::elementwise,
               .element =
                   [](const kir::ElementContext& c) {
                     return c.b.cast(c.node.type.dtype, c.coords[c.node.attrs.get_int("axis")]);
                   }});
}

}  // namespace reforge::ops
