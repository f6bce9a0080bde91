#include "runtime/library_calls.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/checked_math.h"
#include "base/error.h"
#include "runtime/kernels/lsh_gpu_workspace.h"

namespace reforge::runtime {
namespace {

// No call's working set comes near this; anything larger came from a
// damaged or crafted file (and keeps every size sum below in 64 bits).
constexpr int64_t kMaxCallBytes = int64_t{1} << 50;

[[noreturn]] void field_error(const char* name, int64_t value, const char* rule) {
  throw Error(fmt::format("argument '{}' is {}: {}", name, value, rule));
}

DType element_type(const char* name, int64_t code) {
  if (code < 0 || code > static_cast<int64_t>(DType::boolean)) field_error(name, code, "not an element type");
  return static_cast<DType>(code);
}

// Sizes whose product (times a row's few words) must stay far from
// overflowing: a kernel's scratch is a sum of such products.
void require_bounded(const char* what, std::initializer_list<int64_t> factors) {
  std::optional<int64_t> product = checked_size(factors);
  if (!product || *product > kMaxCallBytes) throw Error(fmt::format("{} is larger than any machine holds", what));
}

}  // namespace

// ---- FieldReader ---------------------------------------------------------------

int64_t FieldReader::next(const char* name) {
  if (at_ >= ints_.size()) {
    throw Error(fmt::format("argument '{}' is missing: the call has {} integer arguments", name, ints_.size()));
  }
  return ints_[at_++];
}

void FieldReader::any_type(const char* name, DType& t) { t = element_type(name, next(name)); }

void FieldReader::float_type(const char* name, DType& t) {
  const int64_t code = next(name);
  t = element_type(name, code);
  if (!is_float(t)) field_error(name, code, "not a float type (f32 or f64)");
}

void FieldReader::index_type(const char* name, DType& t) {
  const int64_t code = next(name);
  t = element_type(name, code);
  if (!is_integer(t)) field_error(name, code, "not an integer type (i32 or i64)");
}

void FieldReader::size(const char* name, int64_t& v) {
  v = next(name);
  if (v < 0) field_error(name, v, "a size must not be negative");
}

void FieldReader::positive(const char* name, int64_t& v) {
  v = next(name);
  if (v < 1) field_error(name, v, "must be at least 1");
}

void FieldReader::integer(const char* name, int64_t& v) { v = next(name); }

void FieldReader::flag(const char* name, bool& v) {
  const int64_t x = next(name);
  if (x != 0 && x != 1) field_error(name, x, "a flag is 0 or 1");
  v = x != 0;
}

void FieldReader::optional_flag(const char* name, bool& v) {
  v = false;
  if (at_ < ints_.size()) flag(name, v);
}

void FieldReader::sizes(const char* name, std::span<const int64_t>& v) {
  const int64_t count = next(name);
  const int64_t left = static_cast<int64_t>(ints_.size() - at_);
  if (count < 1) field_error(name, count, "a list's length is at least 1");
  if (count > left) {
    throw Error(fmt::format("argument '{}' is missing: the list has {} elements, the call {} more integer arguments",
                            name, count, left));
  }
  v = ints_.subspan(at_, static_cast<size_t>(count));
  for (int64_t x : v) {
    if (x < 0) field_error(name, x, "a size must not be negative");
  }
  at_ += static_cast<size_t>(count);
}

void FieldReader::finish() const {
  if (at_ != ints_.size()) {
    throw Error(fmt::format("{} integer arguments, {} more than the call takes", ints_.size(), ints_.size() - at_));
  }
}

// ---- BufferNeeds ---------------------------------------------------------------

void BufferNeeds::tensor(const char* name, DType dtype, std::initializer_list<int64_t> dims) {
  std::optional<int64_t> elements = checked_size(dims);
  std::optional<int64_t> total = elements ? checked_mul(*elements, dtype_bytes(dtype)) : std::nullopt;
  if (!total) throw Error(fmt::format("buffer '{}' would be larger than any machine holds", name));
  needs_.push_back({name, *total});
}

void BufferNeeds::bytes(const char* name, int64_t bytes) { needs_.push_back({name, bytes}); }

// ---- the calls' buffers and constraints ----------------------------------------

void MatmulCall::buffers(BufferNeeds& need) const {
  need.tensor("A", dtype, {batch, m, k});
  need.tensor("B", dtype, {batch, k, n});
  need.tensor("C", dtype, {batch, m, n});
}

void MatmulEpilogueCall::check() const {
  if (product.batch != 1) field_error("batch", product.batch, "an epilogue's product is a single matrix (batch 1)");
}

void MatmulEpilogueCall::buffers(BufferNeeds& need) const {
  need.tensor("A", product.dtype, {product.m, product.k});
  need.tensor("B", product.dtype, {product.k, product.n});
  if (bias) need.tensor("bias", product.dtype, {product.n});
  if (residual) need.tensor("residual", product.dtype, {product.m, product.n});
  need.tensor("C", product.dtype, {product.m, product.n});
}

void TakeCall::buffers(BufferNeeds& need) const {
  need.tensor("x", value_type, {outer, extent, inner});
  need.tensor("index", index_type, {index_extent});
  need.tensor("out", value_type, {outer, index_extent, inner});
}

void IndexAddCall::buffers(BufferNeeds& need) const {
  need.tensor("base", value_type, {outer, extent, inner});
  need.tensor("index", index_type, {index_extent});
  need.tensor("updates", value_type, {outer, index_extent, inner});
  need.tensor("out", value_type, {outer, extent, inner});
}

void GatherCall::buffers(BufferNeeds& need) const {
  need.tensor("x", value_type, {outer, extent, inner});
  need.tensor("index", index_type, {outer, index_extent, inner});
  need.tensor("out", value_type, {outer, index_extent, inner});
}

void ScatterAddCall::buffers(BufferNeeds& need) const {
  need.tensor("base", value_type, {outer, extent, inner});
  need.tensor("index", index_type, {outer, index_extent, inner});
  need.tensor("updates", value_type, {outer, index_extent, inner});
  need.tensor("out", value_type, {outer, extent, inner});
}

void ArgsortCall::buffers(BufferNeeds& need) const {
  need.tensor("keys", key_type, {outer, extent, inner});
  need.tensor("order", DType::i64, {outer, extent, inner});
}

void RandomCall::buffers(BufferNeeds& need) const {
  need.tensor("key", key_type, {1});
  need.tensor("out", dtype, {elements});
}

void LshAttentionCall::check() const {
  const kernels::LshShape& s = shape;
  require_bounded("the LSH slice", {s.rounds, s.length, 64});
  require_bounded("the LSH slice's rows", {s.length, s.dk + s.dv + 1, 64});
  if ((s.rounds * s.length) % s.chunk != 0) {
    field_error("chunk", s.chunk, fmt::format("must divide rounds x length = {}", s.rounds * s.length).c_str());
  }
  if (s.valid > s.length) field_error("valid", s.valid, "more valid positions than the length");
  if (s.length > std::numeric_limits<int32_t>::max()) field_error("length", s.length, "at most 2^31 - 1 positions");
}

void LshAttentionCall::operands(BufferNeeds& need) const {
  need.tensor("q", dtype, {slices, shape.length, shape.dk});
  need.tensor("v", dtype, {slices, shape.length, shape.dv});
  need.tensor("buckets", bucket_type, {slices, shape.rounds, shape.length});
  need.bytes("key", 0);  // the kernel does not read it
}

void LshAttentionCall::buffers(BufferNeeds& need) const {
  operands(need);
  need.tensor("result", dtype, {slices, shape.length, row()});
  need.bytes("workspace", workspace_bytes(need.device()));
}

namespace {

template <template <typename> class Slice, typename Shape>
int64_t slice_scratch(DType dtype, const Shape& shape, bool backward, int64_t slices) {
  const int64_t per_slice = dtype == DType::f32 ? Slice<float>::scratch_bytes(shape, backward)
                                                : Slice<double>::scratch_bytes(shape, backward);
  std::optional<int64_t> total = checked_mul(slices, per_slice);
  if (!total) throw Error("the workspace would be larger than any machine holds");
  return *total;
}

// On the GPU, each slice's part is also as large as the CPU kernel's
// scratch: the CUDA back end's check on the CPU (cuda_on_host) runs a
// CUDA plan's library calls with the CPU library.
int64_t lsh_workspace_bytes(const LshAttentionCall& c, bool backward, LibraryDevice device) {
  int64_t per_slice = c.dtype == DType::f32 ? kernels::LshSlice<float, int64_t>::scratch_bytes(c.shape, backward)
                                            : kernels::LshSlice<double, int64_t>::scratch_bytes(c.shape, backward);
  if (device == LibraryDevice::cuda) {
    per_slice = std::max(per_slice, kernels::LshGpuWorkspace::of(c.shape, dtype_bytes(c.dtype), backward).bytes);
  }
  std::optional<int64_t> total = checked_mul(c.slices, per_slice);
  if (!total) throw Error("the workspace would be larger than any machine holds");
  return *total;
}

}  // namespace

int64_t LshAttentionCall::workspace_bytes(LibraryDevice device) const {
  return lsh_workspace_bytes(*this, false, device);
}

void LshAttentionGradCall::check() const {
  forward.check();
  if (with_output && given_result) field_error("given_result", 1, "with with_output: it writes the result or reads it");
  if (forward.with_logsumexps) field_error("with_logsumexps", 1, "is the forward's: the gradient's rows are its own");
}

void LshAttentionGradCall::buffers(BufferNeeds& need) const {
  const LshAttentionCall& f = forward;
  f.operands(need);
  need.tensor("cotangent", f.dtype, {f.slices, f.shape.length, f.shape.dv});
  if (given_result) need.tensor("forward result", f.dtype, {f.slices, f.shape.length, given_row()});
  need.tensor("result", f.dtype, {f.slices, f.shape.length, row()});
  need.bytes("workspace", workspace_bytes(need.device()));
}

int64_t LshAttentionGradCall::workspace_bytes(LibraryDevice device) const {
  return lsh_workspace_bytes(forward, true, device);
}

void ChunkedAttentionCall::check() const {
  require_bounded("the attention slice", {shape.length, shape.dk + shape.dv + 1, 64});
  if (shape.length % shape.chunk != 0) {
    field_error("chunk", shape.chunk, fmt::format("must divide the length {}", shape.length).c_str());
  }
  if (shape.valid > shape.length) field_error("valid", shape.valid, "more valid positions than the length");
}

void ChunkedAttentionCall::operands(BufferNeeds& need) const {
  need.tensor("q", dtype, {slices, shape.length, shape.dk});
  need.tensor("k", dtype, {slices, shape.length, shape.dk});
  need.tensor("v", dtype, {slices, shape.length, shape.dv});
  need.bytes("key", 0);  // the kernel does not read it
}

void ChunkedAttentionCall::buffers(BufferNeeds& need) const {
  operands(need);
  need.tensor("result", dtype, {slices, shape.length, shape.dv});
  need.bytes("workspace", workspace_bytes(need.device()));
}

int64_t ChunkedAttentionCall::workspace_bytes(LibraryDevice) const {
  return slice_scratch<kernels::ChunkedAttentionSlice>(dtype, shape, false, slices);
}

void ChunkedAttentionGradCall::buffers(BufferNeeds& need) const {
  const ChunkedAttentionCall& f = forward;
  f.operands(need);
  need.tensor("cotangent", f.dtype, {f.slices, f.shape.length, f.shape.dv});
  need.tensor("result", f.dtype, {f.slices, f.shape.length, row()});
  need.bytes("workspace", workspace_bytes(need.device()));
}

int64_t ChunkedAttentionGradCall::workspace_bytes(LibraryDevice) const {
  return slice_scratch<kernels::ChunkedAttentionSlice>(forward.dtype, forward.shape, true, forward.slices);
}

void AllReduceCall::buffers(BufferNeeds& need) const {
  need.tensor("value", dtype, {elements});
  need.tensor("result", dtype, {elements});
}

void AllReduceStartCall::check() const {
  if (bucket > std::numeric_limits<int>::max()) field_error("bucket", bucket, "a bucket number fits an int");
  elements();
}

int64_t AllReduceStartCall::elements() const {
  int64_t total = 0;
  for (int64_t part : parts) {
    std::optional<int64_t> sum = checked_add(total, part);
    if (!sum || *sum > kMaxCallBytes) throw Error("the bucket is larger than any machine holds");
    total = *sum;
  }
  return total;
}

void AllReduceStartCall::buffers(BufferNeeds& need) const {
  for (int64_t part : parts) need.tensor("part", dtype, {part});
  need.tensor("bucket", dtype, {elements()});
}

void AllReduceWaitCall::check() const {
  if (bucket > std::numeric_limits<int>::max()) field_error("bucket", bucket, "a bucket number fits an int");
}

void AllReduceWaitCall::buffers(BufferNeeds& need) const {
  need.tensor("started", dtype, {elements});
  need.tensor("result", dtype, {elements});
}

// ---- the catalogue -------------------------------------------------------------

namespace {

// Lists each field's name and kind, in order.
class FieldLister {
 public:
  using Kind = LibraryField::Kind;
  void any_type(const char* name, DType) { add(name, Kind::type); }
  void float_type(const char* name, DType) { add(name, Kind::type); }
  void index_type(const char* name, DType) { add(name, Kind::type); }
  void size(const char* name, int64_t) { add(name, Kind::size); }
  void positive(const char* name, int64_t) { add(name, Kind::positive); }
  void integer(const char* name, int64_t) { add(name, Kind::integer); }
  void flag(const char* name, bool) { add(name, Kind::flag); }
  void optional_flag(const char* name, bool) { add(name, Kind::optional_flag); }
  void sizes(const char* name, std::span<const int64_t>) { add(name, Kind::size_list); }
  std::vector<LibraryField> take() { return std::move(fields_); }

 private:
  void add(const char* name, Kind kind) { fields_.push_back({name, kind}); }
  std::vector<LibraryField> fields_;
};

template <typename Call>
std::vector<LibraryField> fields_of() {
  FieldLister lister;
  Call().fields(lister);
  return lister.take();
}

template <typename Call>
std::vector<BufferNeeds::Need> buffers_of(std::span<const int64_t> ints, LibraryDevice device) {
  const Call call = decode_call<Call>(ints);
  BufferNeeds needs(device);
  call.buffers(needs);
  return needs.needs();
}

struct Entry {
  std::string_view function;
  std::vector<LibraryField> (*fields)();
  std::vector<BufferNeeds::Need> (*buffers)(std::span<const int64_t>, LibraryDevice);
};

template <typename Call>
constexpr Entry entry() {
  return {Call::kFunction, fields_of<Call>, buffers_of<Call>};
}

constexpr Entry kCatalogue[] = {
    entry<MatmulCall>(),         entry<MatmulEpilogueCall>(),   entry<TakeCall>(),
    entry<IndexAddCall>(),       entry<GatherCall>(),           entry<ScatterAddCall>(),
    entry<ArgsortCall>(),        entry<RandomNormalCall>(),     entry<RandomUniformCall>(),
    entry<LshAttentionCall>(),   entry<LshAttentionGradCall>(), entry<ChunkedAttentionCall>(),
    entry<ChunkedAttentionGradCall>(), entry<AllReduceCall>(),         entry<AllReduceStartCall>(),
    entry<AllReduceWaitCall>(),
};

const Entry* find_entry(std::string_view function) {
  for (const Entry& e : kCatalogue) {
    if (e.function == function) return &e;
  }
  return nullptr;
}

}  // namespace

bool is_library_function(std::string_view function) { return find_entry(function) != nullptr; }

std::vector<std::string_view> library_function_names() {
  std::vector<std::string_view> names;
  for (const Entry& e : kCatalogue) names.push_back(e.function);
  return names;
}

namespace {

const Entry& entry_of(std::string_view function) {
  const Entry* e = find_entry(function);
  if (!e) throw Error(fmt::format("the runtime library has no function '{}'", function));
  return *e;
}

}  // namespace

std::vector<LibraryField> library_call_fields(std::string_view function) { return entry_of(function).fields(); }

std::vector<BufferNeeds::Need> library_call_buffers(std::string_view function, std::span<const int64_t> ints,
                                                    LibraryDevice device) {
  return entry_of(function).buffers(ints, device);
}

void validate_library_call(std::string_view function, std::span<const int64_t> ints,
                           std::span<const int64_t> buffer_bytes, LibraryDevice device) {
  const std::vector<BufferNeeds::Need> needs = library_call_buffers(function, ints, device);
  if (needs.size() != buffer_bytes.size()) {
    throw Error(fmt::format("{} buffers, the call takes {}", buffer_bytes.size(), needs.size()));
  }
  for (size_t i = 0; i < buffer_bytes.size(); ++i) {
    if (buffer_bytes[i] < needs[i].bytes) {
      throw Error(fmt::format("buffer {} ('{}') holds {} bytes, the call's arguments need {}", i, needs[i].name,
                              buffer_bytes[i], needs[i].bytes));
    }
  }
}

void validate_library_launch(const Launch& launch, LibraryDevice device) {
  std::vector<int64_t> bytes;
  for (const BufferRef& b : launch.buffers) bytes.push_back(b.bytes);
  try {
    validate_library_call(launch.function, launch.ints, bytes, device);
  } catch (const Error& e) {
    throw Error(fmt::format("library call '{}' of '{}' ({}): {}", launch.function, launch.node, launch.source,
                            e.what()));
  }
}

}  // namespace reforge::runtime
