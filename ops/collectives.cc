// Sums over the replicas of a data-parallel job (issue 21): each of N
// processes runs the same step on its own rows of the batch, and these
// ops make what must be global (the loss's normaliser, the parameter
// gradients) the sum over every replica. The runtime runs them on its
// Communicator (runtime/communicator.h).
//
// Reference semantics: the interpreter holds one replica, so a sum over
// the replicas is the value itself; the multi-process tests hold the
// compiled programs to a one-process run on the whole batch.
//
// - replica_sum(x): the sum now. Its gradient is the cotangent itself: the
//   sum is one value that every replica holds, and the replicas'
//   contributions to the parameters are summed once, by the gradient
//   all-reduce, not again here.
// - all_reduce_start(parts...) {bucket}: the parts (parameter gradients)
//   packed one after another into a bucket, whose sum starts in the
//   background; all_reduce_wait(started) {bucket}: that sum, once done.
//   The pair lets communication overlap the rest of the backward
//   (compiler/passes/gradient_all_reduce.cc places them).
#include "ops/op_helpers.h"
#include "runtime/library_calls.h"

namespace reforge::ops {
namespace {

TensorType infer_same_float(const InferContext& c) {
  require_float(c.inputs[0], "value");
  return c.inputs[0];
}

HostTensor eval_identity(const EvalContext& c) { return *c.inputs[0]; }

TensorType infer_bucket(const InferContext& c) {
  if (c.inputs.empty()) shape_error("a bucket needs at least one part");
  int64_t elements = 0;
  for (const TensorType& part : c.inputs) {
    require_float(part, "part");
    if (part.dtype != c.inputs[0].dtype) {
      shape_error("the parts of a bucket share one type: " + type_to_string(c.inputs[0]) + " and " +
                  type_to_string(part));
    }
    elements += part.elements();
  }
  if (c.attrs.get_int("bucket") < 0) shape_error("a bucket number is not negative");
  return TensorType{c.inputs[0].dtype, {elements}};
}

HostTensor eval_pack(const EvalContext& c) {
  HostTensor out(c.node.type);
  int64_t at = 0;
  for (const HostTensor* part : c.inputs) {
    for (int64_t i = 0; i < part->size(); ++i) out[at++] = (*part)[i];
  }
  return out;
}

TensorType infer_started_bucket(const InferContext& c) {
  if (c.inputs[0].rank() != 1) shape_error("a bucket is a vector, got " + type_to_string(c.inputs[0]));
  if (c.attrs.get_int("bucket") < 0) shape_error("a bucket number is not negative");
  return infer_same_float(c);
}

}  // namespace

REFORGE_REGISTER_OPS(collectives) {
  register_op({.name = "replica_sum",
               .arity = 1,
               .infer = infer_same_float,
               .eval = eval_identity,
               .vjp = [](const VjpContext& c) { return std::vector<Tensor>{c.grad}; },
               .kind = OpKind::library,
               .library =
                   [](const kir::LibraryContext& c, kir::LibraryCall& call) {
                     call = kir::LibraryCall::of(
                         runtime::AllReduceCall{.dtype = c.node.type.dtype, .elements = c.node.type.elements()});
                   }});

  register_op({.name = "all_reduce_start",
               .arity = -1,
               .attrs = {{"bucket", AttrKind::integer}},
               .infer = infer_bucket,
               .eval = eval_pack,
               .kind = OpKind::library,
               .library =
                   [](const kir::LibraryContext& c, kir::LibraryCall& call) {
                     std::vector<int64_t> parts;
                     for (const TensorType& part : c.inputs) parts.push_back(part.elements());
                     call = kir::LibraryCall::of(runtime::AllReduceStartCall{
                         .dtype = c.node.type.dtype, .bucket = c.node.attrs.get_int("bucket"), .parts = parts});
                   },
               .starts_communication = true});

  register_op({.name = "all_reduce_wait",
               .arity = 1,
               .attrs = {{"bucket", AttrKind::integer}},
               .infer = infer_started_bucket,
               .eval = eval_identity,
               .kind = OpKind::library,
               .result_in_place_of_input = true,
               .library =
                   [](const kir::LibraryContext& c, kir::LibraryCall& call) {
                     call = kir::LibraryCall::of(runtime::AllReduceWaitCall{.dtype = c.node.type.dtype,
                                                                            .bucket = c.node.attrs.get_int("bucket"),
                                                                            .elements = c.node.type.elements()});
                   }});
}

}  // namespace reforge::ops
