// The contract every op fulfils (see ops/ for the definitions): its
// attributes, its shape rule, its reference kernel, its gradient rule, its
// kind and its lowering. An op's meaning is its reference kernel;
// everything else is held to it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/attributes.h"
#include "compiler/ir/host_tensor.h"
#include "base/library_device.h"
#include "base/types.h"

namespace reforge {

class Graph;
struct Node;
struct Tensor;

namespace kir {
struct ElementContext;
struct KernelContext;
struct LibraryContext;
struct LibraryCall;
}  // namespace kir

// What kind of computation an op is; passes and the lowering ask this,
// never the op's name.
enum class OpKind {
  elementwise,  // one output element from same-index input elements (or none: constant, iota)
  view,         // moves elements without arithmetic; an index map (reshape, transpose, slice, ...)
  reduction,    // a loop nest with accumulators (sums, maxima, softmax)
  library,      // a call with a fixed signature (GEMM, sort, gather, random numbers, fused attention)
  source,       // values fed from outside the graph (input, param, state, arg)
  structured,   // owns regions; expanded into plain nodes before lowering
};
const char* op_kind_name(OpKind kind);

// What a source op's value is.
enum class SourceKind {
  none,   // not a source
  input,  // fed each run
  param,  // trainable, initialised once
  state,  // persistent, not trained (optimizer moments)
  arg,    // a region's argument
};

// What a GEMM's epilogue (matmul_epilogue) can take over from an op that
// reads the product.
enum class EpilogueStage {
  none,
  add,         // adds its two operands: the bias (a repeated row) or the residual
  activation,  // one operand, elementwise: applied to each finished row of C
};

struct AttrSpec {
  std::string name;
  AttrKind kind;
  bool required = true;
};

// Shape rule input. Throws reforge::Error with a message that names the
// offending shapes; the caller adds the op name and the user's source line.
struct InferContext {
  const std::vector<TensorType>& inputs;
  const AttrMap& attrs;
  const std::vector<std::unique_ptr<Graph>>& regions;
};

struct EvalContext {
  const Node& node;
  std::vector<const HostTensor*> inputs;
  // Runs one of the node's regions on the given arguments (structured ops).
  std::function<std::vector<HostTensor>(int region, std::vector<HostTensor> args)> run_region;
};

// Vector-Jacobian product: given the output's cotangent, build graph nodes
// for the cotangent of each input (an invalid Tensor means "no gradient").
// Reverse-mode differentiation of `outputs` (seeded with `seeds`) with
// respect to `wrt`, as autodiff hands it to gradient rules.
using Differentiate = std::function<std::vector<Tensor>(
    const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds, const std::vector<Tensor>& wrt)>;

struct VjpContext {
  Graph& graph;
  int node_id;
  std::vector<Tensor> inputs;
  const Tensor& output;
  const Tensor& grad;
  // For structured ops: reverse-mode differentiate `outputs` (seeded with
  // `seeds`) with respect to `wrt`, appending nodes to the graph.
  Differentiate differentiate;
  // For rules that rebuild a forward value in the backward pass (reversible
  // reconstruction): later rules that read `forward` get `rebuilt` instead,
  // so the forward value need not stay alive until the backward.
  std::function<void(const Tensor& forward, const Tensor& rebuilt)> provide_rebuilt;
  const Node& node() const;
};

using VjpRule = std::function<std::vector<Tensor>(const VjpContext&)>;

struct OpDef {
  std::string name;
  int arity = 0;  // number of inputs; -1 for variadic
  std::vector<AttrSpec> attrs;
  std::function<TensorType(const InferContext&)> infer;
  std::function<HostTensor(const EvalContext&)> eval;
  // Null for ops that carry no gradient (integer results, sources).
  std::function<std::vector<Tensor>(const VjpContext&)> vjp;
  int num_regions = 0;
  OpKind kind = OpKind::library;
  // A view whose result is its input's bytes, reinterpreted (reshape): the
  // memory planner makes it an alias of a buffered input, with no copy.
  bool reinterprets_input = false;
  // A library op that may write its result over its first input (an
  // all-reduce's bucket): when that input dies here, the planner gives
  // the result the input's memory, and the call sees one buffer twice.
  bool result_in_place_of_input = false;
  // The lowering, by kind (see compiler/kernel/lowering_hooks.h): elementwise
  // and view ops give one output element as kernel IR; reductions build
  // their loop nest; library ops name their runtime call.
  std::function<int(const kir::ElementContext&)> element;
  std::function<void(kir::KernelContext&)> kernel;
  std::function<void(const kir::LibraryContext&, kir::LibraryCall&)> library;
  // Library ops that read an input's producer through an operand flag (a
  // transpose feeding a GEMM): true when input `input` may be `producer`
  // absorbed this way, so the producer needs no buffer of its own.
  std::function<bool(int input, const Node& producer)> absorbs_input;
  // True when this node returns its (single) input unchanged, given the
  // input's type (a reshape to the same shape, an identity transpose, a
  // cast to the same dtype): simplification drops it.
  std::function<bool(const Node&, const TensorType& input)> is_identity;
  // Library ops that need scratch while they run: its size in bytes on the
  // device that runs the library. The memory planner gives it a workspace
  // buffer live for that step alone, and the call gets it after its result.
  std::function<int64_t(const Node&, const std::vector<TensorType>& inputs, LibraryDevice)> workspace_bytes;
  // Structured ops: the same computation as plain nodes appended to
  // `graph` (regions inlined), given the node's operands there.
  std::function<Tensor(Graph& graph, const Node&, const std::vector<Tensor>& inputs)> expand;
  // Structured ops whose backward can rebuild their inputs from their
  // outputs instead of keeping them (reversible blocks): the rule autodiff
  // uses instead of `vjp` when AutodiffOptions::reconstruct_inputs is on
  // (reversible recompute, compiler/passes/reversible_recompute.h).
  VjpRule reconstructing_vjp;
  // Structured ops that can evaluate and differentiate themselves in one
  // pass (chunked_map: chunk by chunk): their inputs' cotangents for
  // `grad` (invalid where none), and their value written to `value`. A
  // rule that needs both (reconstruction) runs the op's body once, not twice.
  std::function<std::vector<Tensor>(Graph& graph, const Node&, const std::vector<Tensor>& inputs, const Tensor& grad,
                                    const Differentiate& differentiate, Tensor& value)>
      value_and_vjp;

  // ---- What the passes ask of an op, instead of its name ----
  SourceKind source = SourceKind::none;
  // Binary ops: e with op(e, x) == x for every x (left), and op(x, e) == x
  // (right): simplification drops the operation with a constant e.
  std::optional<double> left_identity, right_identity;
  // The one value every element of the node holds, when the node says so
  // by itself (a constant).
  std::function<std::optional<double>(const Node&)> uniform_value;
  // Simplification with the producers in view: the node over `inputs`
  // (ids in `graph`, already simplified) as a value `graph` has, or a
  // simpler node appended to it; -1 when there is none. For example a
  // reshape of a reshape, a neg of a neg, a slice inside one part of a
  // concat.
  std::function<int(Graph& graph, const Node&, const std::vector<int>& inputs)> fold;
  // The op a fusion pass replaces this node with (the fused kernel: LSH
  // and chunked attention); "" when the node's attributes rule it out.
  std::function<std::string(const Node&)> fused_form;
  // A fused gradient that can also write its forward op's result
  // (attribute with_output, compiler/passes/lsh_forward_sharing.h): that
  // forward op's name.
  std::string shares_forward_of;
  // ... or read it as one more input, instead of running that forward:
  // the forward's output with the integer attribute `forward_extra_attr`
  // set to 1 (its result and what the gradient needs besides).
  bool reads_forward_result = false;
  std::string forward_extra_attr;
  // A 2-D GEMM a matmul epilogue may extend (matmul, matmul_epilogue).
  bool gemm = false;
  // What a GEMM's epilogue can take over from this op.
  EpilogueStage epilogue_stage = EpilogueStage::none;
  // A view that repeats its input's elements along new axes (broadcast).
  bool repeats_input = false;
  // A view each element of which reads every input and selects one
  // (concat): kernel fusion does not inline one with many inputs.
  bool reads_every_input = false;
  // A reduction whose result is the same reduction of its partial results
  // over blocks of the reduced axes (sum, max): it may run in blocks.
  bool reduces_partials = false;
  // A library op that starts communication the step waits for later
  // (all_reduce_start): plans list these as the step's gradient buckets.
  bool starts_communication = false;

  // Elementwise results may take over a dying input's buffer and fuse into
  // one loop with their consumers.
  bool elementwise() const { return kind == OpKind::elementwise; }
};

// Registration happens at static-initialisation time in ops/ (one file per
// op family); lookups return nullptr for unknown names.
void register_op(OpDef def);
const OpDef* find_op(const std::string& name);
// Every registered op's name, sorted (tests check each has a case).
std::vector<std::string> registered_op_names();

}  // namespace reforge
