// Random tensors drawn from an explicit integer key (an input of the graph,
// fresh per training step, fixed for evaluation) by the counter-based
// generator in counter_rng.h. `stream` separates independent draws under
// one key.
#include "ops/op_helpers.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge::ops {
namespace {

TensorType infer_random(const InferContext& c) {
  const TensorType& key = c.inputs[0];
  if (!is_integer(key.dtype) || key.rank() != 0)
    shape_error("key must be an integer scalar, got " + type_to_string(key));
  TensorType t{dtype_attr(c.attrs), c.attrs.get_ints("shape")};
  require_float(t, "result");
  return t;
}

template <double (*Draw)(uint64_t, uint64_t, uint64_t)>
HostTensor eval_random(const EvalContext& c) {
  HostTensor out(c.node.type);
  auto key = static_cast<uint64_t>(static_cast<int64_t>((*c.inputs[0])[0]));
  auto stream = static_cast<uint64_t>(c.node.attrs.get_int("stream"));
  for (int64_t i = 0; i < out.size(); ++i) out[i] = Draw(key, stream, static_cast<uint64_t>(i));
  return out;
}

template <typename Call>
void random_call(const kir::LibraryContext& c, kir::LibraryCall& call) {
  Call random;
  random.dtype = c.node.type.dtype;
  random.key_type = c.inputs[0].dtype;
  random.elements = c.node.type.elements();
  random.stream = c.node.attrs.get_int("stream");
  random.by_replica = c.node.attrs.get_int_or("by_replica", 0) != 0;
  call = kir::LibraryCall::of(random);
}

}  // namespace

REFORGE_REGISTER_OPS(random) {
  // by_replica (0 or 1, default 0): the draw is over the rows of a
  // data-parallel batch, whose leading axis the shape's is; each replica
  // draws its rows' numbers of the whole batch's (RandomCall). The
  // interpreter holds replica 0, whose numbers are the draw's own.
  std::vector<AttrSpec> attrs = {{"shape", AttrKind::int_list},
                                 {"stream", AttrKind::integer},
                                 {"dtype", AttrKind::string},
                                 {"by_replica", AttrKind::integer, false}};
  register_op({.name = "random_normal",
               .arity = 1,
               .attrs = attrs,
               .infer = infer_random,
               .eval = eval_random<kernels::counter_normal>,
               .kind = OpKind::library,
               .library = random_call<runtime::RandomNormalCall>});
  register_op({.name = "random_uniform",
               .arity = 1,
               .attrs = attrs,
               .infer = infer_random,
               .eval = eval_random<kernels::counter_uniform>,
               .kind = OpKind::library,
               .library = random_call<runtime::RandomUniformCall>});
}

}  // namespace reforge::ops
