// The runtime library's calls, typed: one descriptor per library function,
// with its integer constants by name and its buffers in order with the
// bytes each must hold. The op that emits a call (ops/), the passes that
// shape its operands (compiler/passes) and the runtime that runs it
// (library.cc) share the descriptor, so no layout is restated; and the
// runtime checks every call of a program against it once, when the program
// is loaded (validate_library_call), so that a crafted artifact cannot make
// a GEMM or a gather reach outside its buffers.
//
// A descriptor lists its constants once, in `fields`, which both encodes
// (FieldWriter) and decodes with checks (FieldReader):
//
//   struct MatmulCall {
//     static constexpr std::string_view kFunction = "matmul";
//     DType dtype; int64_t batch, m, n, k; bool a_transposed, b_transposed;
//     template <typename F> void fields(F& f) { f.float_type("dtype", dtype); f.size("batch", batch); ... }
//     void buffers(BufferNeeds& need) const;   // in call order
//   };
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/library_device.h"
#include "base/types.h"
#include "runtime/program.h"
#include "runtime/kernels/chunked_attention_kernel.h"
#include "runtime/kernels/lsh_attention_kernel.h"

namespace reforge::runtime {

// ---- encoding and decoding the constants ------------------------------------

// Appends each field's value, in order.
class FieldWriter {
 public:
  void any_type(const char*, DType t) { ints_.push_back(static_cast<int64_t>(t)); }
  void float_type(const char*, DType t) { any_type(nullptr, t); }
  void index_type(const char*, DType t) { any_type(nullptr, t); }
  void size(const char*, int64_t v) { ints_.push_back(v); }
  void positive(const char*, int64_t v) { ints_.push_back(v); }
  void integer(const char*, int64_t v) { ints_.push_back(v); }
  void flag(const char*, bool v) { ints_.push_back(v ? 1 : 0); }
  // A trailing field that older programs may leave out (read as its default).
  void optional_flag(const char*, bool v) { flag(nullptr, v); }
  // A list of sizes: its length, then each (a variadic call's parts).
  void sizes(const char*, std::span<const int64_t> v) {
    ints_.push_back(static_cast<int64_t>(v.size()));
    ints_.insert(ints_.end(), v.begin(), v.end());
  }
  std::vector<int64_t> take() { return std::move(ints_); }

 private:
  std::vector<int64_t> ints_;
};

// Reads each field's value, in order, and refuses one out of its range:
// an Error names the field ("argument 'm' is -1: ...").
class FieldReader {
 public:
  explicit FieldReader(std::span<const int64_t> ints) : ints_(ints) {}
  void any_type(const char* name, DType& t);
  void float_type(const char* name, DType& t);
  void index_type(const char* name, DType& t);
  void size(const char* name, int64_t& v);      // >= 0
  void positive(const char* name, int64_t& v);  // >= 1
  void integer(const char* name, int64_t& v);   // any value
  void flag(const char* name, bool& v);         // 0 or 1
  void optional_flag(const char* name, bool& v);
  // A length >= 1, then each >= 0; `v` views them among the constants
  // (decoding allocates nothing: a launch decodes its call on every run).
  void sizes(const char* name, std::span<const int64_t>& v);
  // After the last field: no constants left over.
  void finish() const;

 private:
  int64_t next(const char* name);
  std::span<const int64_t> ints_;
  size_t at_ = 0;
};

template <typename Call>
std::vector<int64_t> encode_call(Call call) {
  FieldWriter w;
  call.fields(w);
  return w.take();
}

// Throws Error naming the field when a constant is missing, out of its
// range or left over, or when the call's own constraints fail.
template <typename Call>
Call decode_call(std::span<const int64_t> ints) {
  Call call;
  FieldReader r(ints);
  call.fields(r);
  r.finish();
  call.check();
  return call;
}

// ---- buffers ------------------------------------------------------------------

// The buffers a call takes, in order, with the bytes each must hold on
// `device` (a workspace is sized for the device's kernel); sizes are
// multiplied with overflow checks (an overflow is an Error naming the
// buffer).
class BufferNeeds {
 public:
  explicit BufferNeeds(LibraryDevice device = LibraryDevice::cpu) : device_(device) {}
  LibraryDevice device() const { return device_; }
  void tensor(const char* name, DType dtype, std::initializer_list<int64_t> dims);
  void bytes(const char* name, int64_t bytes);
  struct Need {
    std::string name;
    int64_t bytes;
  };
  const std::vector<Need>& needs() const { return needs_; }

 private:
  LibraryDevice device_;
  std::vector<Need> needs_;
};

// ---- the calls -----------------------------------------------------------------

// C[b] = A[b] B[b], row-major; a transposed operand is stored as its
// transpose ([k, m] for A, [n, k] for B). Buffers: A, B, C.
struct MatmulCall {
  static constexpr std::string_view kFunction = "matmul";
  DType dtype = DType::f32;
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool a_transposed = false, b_transposed = false;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.size("batch", batch);
    f.size("m", m);
    f.size("n", n);
    f.size("k", k);
    f.flag("a_transposed", a_transposed);
    f.flag("b_transposed", b_transposed);
  }
  void check() const {}
  void buffers(BufferNeeds& need) const;
};

// C [m, n] = A B, then on each finished block of C: + bias [n], the
// launch's generated activation (if it names one), + residual [m, n].
// Buffers: A, B, [bias], [residual], C.
struct MatmulEpilogueCall {
  static constexpr std::string_view kFunction = "matmul_epilogue";
  MatmulCall product;  // batch 1
  bool bias = false, residual = false;

  template <typename F>
  void fields(F& f) {
    product.fields(f);
    f.flag("bias", bias);
    f.flag("residual", residual);
  }
  void check() const;
  void buffers(BufferNeeds& need) const;
  // Where the optional operands are among the buffers (and the op's
  // inputs): bias right after B, the residual after it; -1 when absent.
  int bias_buffer() const { return bias ? 2 : -1; }
  int residual_buffer() const { return residual ? 2 + (bias ? 1 : 0) : -1; }
  int operands() const { return 2 + (bias ? 1 : 0) + (residual ? 1 : 0); }
};

// The indexed tensor split around the indexed axis: [outer, extent, inner];
// the index runs over `index_extent` along it.
struct IndexedShape {
  DType value_type = DType::f32, index_type = DType::i64;
  int64_t outer = 0, extent = 0, inner = 0, index_extent = 0;

  template <typename F>
  void fields(F& f) {
    f.any_type("value_type", value_type);
    f.index_type("index_type", index_type);
    f.size("outer", outer);
    f.size("extent", extent);
    f.size("inner", inner);
    f.size("index_extent", index_extent);
  }
  void check() const {}
};

// numpy.take with a 1-D index: out[o, a, i] = x[o, idx[a], i].
// Buffers: x, idx, out.
struct TakeCall : IndexedShape {
  static constexpr std::string_view kFunction = "take";
  void buffers(BufferNeeds& need) const;
};

// out = base; out[o, idx[a], i] += updates[o, a, i]. Buffers: base, idx,
// updates, out.
struct IndexAddCall : IndexedShape {
  static constexpr std::string_view kFunction = "index_add";
  void buffers(BufferNeeds& need) const;
};

// out[o, a, i] = x[o, idx[o, a, i], i]. Buffers: x, idx, out.
struct GatherCall : IndexedShape {
  static constexpr std::string_view kFunction = "gather";
  void buffers(BufferNeeds& need) const;
};

// out = base; out[o, idx[o, a, i], i] += updates[o, a, i]. Buffers: base,
// idx, updates, out.
struct ScatterAddCall : IndexedShape {
  static constexpr std::string_view kFunction = "scatter_add";
  void buffers(BufferNeeds& need) const;
};

// Stable ascending order along the middle axis of [outer, extent, inner],
// as i64. Buffers: keys, order.
struct ArgsortCall {
  static constexpr std::string_view kFunction = "argsort";
  DType key_type = DType::f32;
  int64_t outer = 0, extent = 0, inner = 0;

  template <typename F>
  void fields(F& f) {
    f.any_type("key_type", key_type);
    f.size("outer", outer);
    f.size("extent", extent);
    f.size("inner", inner);
  }
  void check() const {}
  void buffers(BufferNeeds& need) const;
};

// Counter-based random numbers: element i of stream `stream` under the key.
// A draw `by_replica` is over the rows of a data-parallel batch: on rank r
// of the program's communicator its element i is element
// r * elements + i of the whole batch's draw, so that every row gets the
// numbers it gets in one process. Buffers: key (a scalar), out.
struct RandomCall {
  DType dtype = DType::f32, key_type = DType::i64;
  int64_t elements = 0, stream = 0;
  bool by_replica = false;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.index_type("key_type", key_type);
    f.size("elements", elements);
    f.integer("stream", stream);
    f.optional_flag("by_replica", by_replica);
  }
  void check() const {}
  void buffers(BufferNeeds& need) const;
};
struct RandomNormalCall : RandomCall {
  static constexpr std::string_view kFunction = "random_normal";
};
struct RandomUniformCall : RandomCall {
  static constexpr std::string_view kFunction = "random_uniform";
};

// ---- collectives: sums over the replicas of a data-parallel job -----------
// Each runs on the Communicator the program runs with (one process: the
// identity); ops/collectives.cc says where the compiler places them.

// result = the sum of `value` over every replica, now. Buffers: value, result.
struct AllReduceCall {
  static constexpr std::string_view kFunction = "all_reduce";
  DType dtype = DType::f32;
  int64_t elements = 0;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.size("elements", elements);
  }
  void check() const {}
  void buffers(BufferNeeds& need) const;
};

// Copies each part (a parameter's gradient) into its place in the bucket,
// one after another, and starts summing the bucket over the replicas in
// the background (Communicator::start_all_reduce, tagged `bucket`).
// Buffers: the parts, then the bucket.
struct AllReduceStartCall {
  static constexpr std::string_view kFunction = "all_reduce_start";
  DType dtype = DType::f32;
  int64_t bucket = 0;
  // Each part's elements: a view of the caller's list when encoding, of
  // the call's constants once decoded.
  std::span<const int64_t> parts;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.size("bucket", bucket);
    f.sizes("parts", parts);
  }
  void check() const;
  void buffers(BufferNeeds& need) const;
  int64_t elements() const;  // the bucket's: every part's
};

// Waits until the bucket's sum is done; result = the summed bucket (the
// bucket's own memory when the planner put the result in place, else a
// copy). Buffers: the started bucket, result.
struct AllReduceWaitCall {
  static constexpr std::string_view kFunction = "all_reduce_wait";
  DType dtype = DType::f32;
  int64_t bucket = 0, elements = 0;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.size("bucket", bucket);
    f.size("elements", elements);
  }
  void check() const;
  void buffers(BufferNeeds& need) const;
};

// Fused LSH attention over `slices` (example, head) slices of the shape.
// Buffers: q, v, buckets, key, result, workspace (each slice's scratch).
// With `with_logsumexps` (the CPU kernel only) each result row is
// [result | each round's logsumexp at that position], for a gradient
// given the forward (compiler/passes/lsh_forward_sharing.h).
struct LshAttentionCall {
  static constexpr std::string_view kFunction = "lsh_attention";
  DType dtype = DType::f32, bucket_type = DType::i64;
  int64_t slices = 0;
  kernels::LshShape shape;
  bool with_logsumexps = false;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.index_type("bucket_type", bucket_type);
    f.size("slices", slices);
    f.size("length", shape.length);
    f.positive("rounds", shape.rounds);
    f.positive("chunk", shape.chunk);
    f.size("dk", shape.dk);
    f.size("dv", shape.dv);
    f.size("valid", shape.valid);
    f.positive("per_round", shape.per_round);
    f.flag("causal", shape.causal);
    f.optional_flag("with_logsumexps", with_logsumexps);
  }
  void check() const;
  void buffers(BufferNeeds& need) const;
  // The columns of a result row.
  int64_t row() const { return shape.dv + (with_logsumexps ? shape.rounds : 0); }
  // q, v, buckets, key: the buffers the gradient's call starts with too.
  void operands(BufferNeeds& need) const;
  // Each slice's scratch on `device`, times the slices (64-byte aligned
  // slices).
  int64_t workspace_bytes(LibraryDevice device) const;
};

// Its gradient, recomputing each chunk's logits. Each result row is
// [dq | dv], or [dq | dv | result] with `with_output` (it runs the forward
// anyway; compiler/passes/lsh_forward_sharing.h). With `given_result` it
// reads the forward's rows with their logsumexps (a forward call's result
// with_logsumexps) instead of running the forward (the CPU kernel only).
// Buffers: q, v, buckets, key, cotangent, [forward result,] result,
// workspace.
struct LshAttentionGradCall {
  static constexpr std::string_view kFunction = "lsh_attention_grad";
  LshAttentionCall forward;
  bool with_output = false;
  bool given_result = false;

  template <typename F>
  void fields(F& f) {
    forward.fields(f);
    f.optional_flag("with_output", with_output);
    f.optional_flag("given_result", given_result);
  }
  void check() const;
  void buffers(BufferNeeds& need) const;
  int64_t workspace_bytes(LibraryDevice device) const;
  // The columns of a result row.
  int64_t row() const { return forward.shape.dk + forward.shape.dv * (with_output ? 2 : 1); }
  int64_t dv_column() const { return forward.shape.dk; }
  // The columns of a given forward's row: its result, then each round's
  // logsumexp (a forward call's row() with_logsumexps).
  int64_t given_row() const { return forward.shape.dv + forward.shape.rounds; }
  int64_t result_column() const { return forward.shape.dk + forward.shape.dv; }
};

// Fused local or full attention (flash style) over `slices` slices.
// Buffers: q, k, v, key, result, workspace.
struct ChunkedAttentionCall {
  static constexpr std::string_view kFunction = "chunked_attention";
  DType dtype = DType::f32;
  int64_t slices = 0;
  kernels::ChunkedAttentionShape shape;

  template <typename F>
  void fields(F& f) {
    f.float_type("dtype", dtype);
    f.size("slices", slices);
    f.size("length", shape.length);
    f.positive("chunk", shape.chunk);
    f.size("dk", shape.dk);
    f.size("dv", shape.dv);
    f.size("valid", shape.valid);
    f.flag("look_back", shape.look_back);
    f.flag("causal", shape.causal);
    f.flag("mask_self", shape.mask_self);
  }
  void check() const;
  void buffers(BufferNeeds& need) const;
  // q, k, v, key: the buffers the gradient's call starts with too.
  void operands(BufferNeeds& need) const;
  // The GPU's kernels keep their row values (3 L per slice) inside the
  // CPU kernel's scratch: one size for every device.
  int64_t workspace_bytes(LibraryDevice device) const;
};

// Its gradient: each result row is [dq | dk | dv]. Buffers: q, k, v, key,
// cotangent, result, workspace.
struct ChunkedAttentionGradCall {
  static constexpr std::string_view kFunction = "chunked_attention_grad";
  ChunkedAttentionCall forward;

  template <typename F>
  void fields(F& f) {
    forward.fields(f);
  }
  void check() const { forward.check(); }
  void buffers(BufferNeeds& need) const;
  int64_t workspace_bytes(LibraryDevice device) const;
  int64_t row() const { return 2 * forward.shape.dk + forward.shape.dv; }
};

// ---- the catalogue -------------------------------------------------------------

// Whether the catalogue describes a function of that name, and every name
// it describes (the library's table has exactly these; a test holds it).
bool is_library_function(std::string_view function);
std::vector<std::string_view> library_function_names();

// A function's constants, in order, by name and kind.
struct LibraryField {
  enum class Kind { type, size, positive, integer, flag, optional_flag, size_list };
  std::string name;
  Kind kind;
};
std::vector<LibraryField> library_call_fields(std::string_view function);

// The buffers a call with these constants takes, in order, with the bytes
// each must hold. Throws Error naming the argument that is out of range.
std::vector<BufferNeeds::Need> library_call_buffers(std::string_view function, std::span<const int64_t> ints,
                                                    LibraryDevice device = LibraryDevice::cpu);

// Checks one call: its constants (each by name), the number of buffers and
// the bytes each holds. Throws Error naming the argument or the buffer.
void validate_library_call(std::string_view function, std::span<const int64_t> ints,
                           std::span<const int64_t> buffer_bytes, LibraryDevice device = LibraryDevice::cpu);
// The same for a program's library launch; the Error names the launch
// ("library call 'matmul' of 'layer0.ff.w1' (models/p1.cc:12): argument 'm' ...").
void validate_library_launch(const Launch& launch, LibraryDevice device);

}  // namespace reforge::runtime
