#include "tests/testing/library_call_samples.h"

#include "runtime/library_calls.h"

namespace reforge::testing {
namespace {

template <typename Call>
LibraryCallSample sample(const Call& call) {
  LibraryCallSample s{std::string(Call::kFunction), runtime::encode_call(call), {}};
  for (const auto& need : runtime::library_call_buffers(s.function, s.ints)) s.buffer_bytes.push_back(need.bytes);
  return s;
}

template <typename Call>
Call indexed() {
  Call c;
  c.value_type = DType::f32;
  c.index_type = DType::i32;
  c.outer = 2;
  c.extent = 5;
  c.inner = 3;
  c.index_extent = 4;
  return c;
}

template <typename Call>
Call random_call() {
  Call c;
  c.dtype = DType::f64;
  c.key_type = DType::i64;
  c.elements = 10;
  c.stream = 7;
  return c;
}

}  // namespace

constexpr int64_t kBucketParts[] = {6, 1, 20};

std::vector<LibraryCallSample> library_call_samples() {
  using namespace runtime;
  const MatmulCall product{.dtype = DType::f32, .batch = 1, .m = 3, .n = 4, .k = 5, .b_transposed = true};
  const LshAttentionCall lsh{
      .dtype = DType::f32,
      .bucket_type = DType::i64,
      .slices = 2,
      .shape = {.length = 16, .rounds = 2, .chunk = 4, .dk = 8, .dv = 6, .valid = 16, .per_round = 4, .causal = true}};
  const ChunkedAttentionCall chunked{
      .dtype = DType::f32,
      .slices = 2,
      .shape = {.length = 16, .chunk = 4, .dk = 8, .dv = 6, .valid = 12, .look_back = true, .causal = true}};
  return {
      sample(MatmulCall{.dtype = DType::f64, .batch = 2, .m = 3, .n = 4, .k = 5, .a_transposed = true}),
      sample(MatmulEpilogueCall{.product = product, .bias = true, .residual = true}),
      sample(indexed<TakeCall>()),
      sample(indexed<IndexAddCall>()),
      sample(indexed<GatherCall>()),
      sample(indexed<ScatterAddCall>()),
      sample(ArgsortCall{.key_type = DType::i32, .outer = 2, .extent = 5, .inner = 3}),
      sample(random_call<RandomNormalCall>()),
      sample(random_call<RandomUniformCall>()),
      sample(lsh),
      sample(LshAttentionGradCall{.forward = lsh, .with_output = true}),
      sample(chunked),
      sample(ChunkedAttentionGradCall{.forward = chunked}),
      sample(AllReduceCall{.dtype = DType::f32, .elements = 12}),
      sample(AllReduceStartCall{.dtype = DType::f64, .bucket = 3, .parts = kBucketParts}),
      sample(AllReduceWaitCall{.dtype = DType::f32, .bucket = 3, .elements = 27}),
  };
}

}  // namespace reforge::testing
