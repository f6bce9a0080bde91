// The typed library catalogue (runtime/library_calls.h): every function
// the runtime's table has is described, constants round-trip through
// their descriptors, and a call whose constants are out of range or whose
// buffers are too small is refused naming the argument or the buffer.
#include "runtime/library_calls.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/error.h"
#include "runtime/library.h"
#include "tests/testing/library_call_samples.h"

namespace reforge {
namespace {

using testing::library_call_samples;
using testing::LibraryCallSample;

// The message of the Error `validate` throws; fails when it throws none.
std::string refusal(const std::string& function, const std::vector<int64_t>& ints,
                    const std::vector<int64_t>& bytes) {
  try {
    runtime::validate_library_call(function, ints, bytes);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << function << ": the forged call was accepted";
  return "";
}

// Where each field's constants start among `ints`, and past the last one:
// a size list takes its length and then that many more.
std::vector<int64_t> field_positions(const std::vector<runtime::LibraryField>& fields,
                                     const std::vector<int64_t>& ints) {
  std::vector<int64_t> at = {0};
  for (const runtime::LibraryField& f : fields) {
    const int64_t here = at.back();
    const bool list = f.kind == runtime::LibraryField::Kind::size_list && here < static_cast<int64_t>(ints.size());
    at.push_back(here + 1 + (list ? ints[here] : 0));
  }
  return at;
}

TEST(LibraryCatalogue, TheTableAndTheCatalogueNameTheSameFunctions) {
  std::set<std::string> sampled;
  for (const LibraryCallSample& s : library_call_samples()) sampled.insert(s.function);
  for (std::string_view name : runtime::library_function_names()) {
    EXPECT_NE(runtime::find_library_function(name), nullptr) << name << " is described but the library lacks it";
    EXPECT_TRUE(sampled.count(std::string(name))) << name << " has no sample in tests/testing";
  }
  EXPECT_EQ(sampled.size(), runtime::library_function_names().size());
  EXPECT_FALSE(runtime::is_library_function("format_disk"));
}

TEST(LibraryCatalogue, EverySampleIsValidAndItsConstantsRoundTrip) {
  for (const LibraryCallSample& s : library_call_samples()) {
    EXPECT_NO_THROW(runtime::validate_library_call(s.function, s.ints, s.buffer_bytes)) << s.function;
    const std::vector<runtime::LibraryField> fields = runtime::library_call_fields(s.function);
    EXPECT_EQ(field_positions(fields, s.ints).back(), static_cast<int64_t>(s.ints.size())) << s.function;
  }
  const int64_t parts[] = {4, 0, 9};
  const std::vector<int64_t> ints = runtime::encode_call(runtime::AllReduceStartCall{.bucket = 5, .parts = parts});
  const auto started = runtime::decode_call<runtime::AllReduceStartCall>(ints);
  EXPECT_EQ(started.bucket, 5);
  EXPECT_EQ(std::vector<int64_t>(started.parts.begin(), started.parts.end()), (std::vector<int64_t>{4, 0, 9}));
  EXPECT_EQ(started.elements(), 13);
  const runtime::MatmulCall m{.dtype = DType::f64, .batch = 3, .m = 4, .n = 5, .k = 6, .b_transposed = true};
  const auto back = runtime::decode_call<runtime::MatmulCall>(runtime::encode_call(m));
  EXPECT_EQ(back.dtype, DType::f64);
  EXPECT_EQ(back.batch, 3);
  EXPECT_EQ(back.m, 4);
  EXPECT_EQ(back.n, 5);
  EXPECT_EQ(back.k, 6);
  EXPECT_FALSE(back.a_transposed);
  EXPECT_TRUE(back.b_transposed);
}

// Each constant in turn set to a value outside its kind's range: refused,
// and the message names that argument.
TEST(LibraryCatalogue, AnArgumentOutOfRangeIsNamed) {
  int cases = 0;
  for (const LibraryCallSample& s : library_call_samples()) {
    const std::vector<runtime::LibraryField> fields = runtime::library_call_fields(s.function);
    const std::vector<int64_t> at = field_positions(fields, s.ints);
    for (size_t i = 0; i < fields.size(); ++i) {
      using Kind = runtime::LibraryField::Kind;
      const Kind kind = fields[i].kind;
      if (kind == Kind::integer) continue;  // any value is valid
      std::vector<int64_t> forged = s.ints;
      // A list: an element of it out of range (its length is tested below).
      const int64_t where = kind == Kind::size_list ? at[i] + 1 : at[i];
      forged[where] = kind == Kind::positive ? 0 : kind == Kind::size || kind == Kind::size_list ? -1
                      : kind == Kind::type                                                     ? 17
                                                                                               : 2;
      const std::string message = refusal(s.function, forged, s.buffer_bytes);
      EXPECT_NE(message.find("argument '" + fields[i].name + "'"), std::string::npos)
          << s.function << ": " << message;
      ++cases;
    }
  }
  EXPECT_GT(cases, 60);
}

// Each buffer one byte short of what the constants say: refused, naming it.
TEST(LibraryCatalogue, ABufferTooSmallForItsArgumentsIsNamed) {
  for (const LibraryCallSample& s : library_call_samples()) {
    const auto needs = runtime::library_call_buffers(s.function, s.ints);
    for (size_t i = 0; i < s.buffer_bytes.size(); ++i) {
      if (s.buffer_bytes[i] == 0) continue;  // the key, which the kernel does not read
      std::vector<int64_t> bytes = s.buffer_bytes;
      bytes[i] -= 1;
      const std::string message = refusal(s.function, s.ints, bytes);
      EXPECT_NE(message.find("buffer " + std::to_string(i) + " ('" + needs[i].name + "')"), std::string::npos)
          << s.function << ": " << message;
    }
    std::vector<int64_t> one_more = s.buffer_bytes;
    one_more.push_back(64);
    EXPECT_NE(refusal(s.function, s.ints, one_more).find("buffers, the call takes"), std::string::npos);
  }
}

TEST(LibraryCatalogue, MissingExtraAndHugeArgumentsAreRefused) {
  for (const LibraryCallSample& s : library_call_samples()) {
    std::vector<int64_t> extra = s.ints;
    extra.push_back(0);
    EXPECT_NE(refusal(s.function, extra, s.buffer_bytes).find("more than the call takes"), std::string::npos)
        << s.function;
    std::vector<int64_t> short_of_one = s.ints;
    short_of_one.pop_back();
    const auto fields = runtime::library_call_fields(s.function);
    if (fields.back().kind == runtime::LibraryField::Kind::optional_flag) continue;
    EXPECT_NE(refusal(s.function, short_of_one, s.buffer_bytes).find("argument '" + fields.back().name + "' is missing"),
              std::string::npos)
        << s.function;
  }
  // Sizes whose product overflows 64 bits are caught, not wrapped into a
  // small buffer size.
  const int64_t huge = int64_t{1} << 40;
  const runtime::MatmulCall m{.dtype = DType::f32, .batch = huge, .m = huge, .n = 1, .k = 1};
  EXPECT_NE(refusal("matmul", runtime::encode_call(m), {64, 64, 64}).find("larger than any machine"),
            std::string::npos);
  runtime::LshAttentionCall lsh{.slices = 0, .shape = {.length = huge, .rounds = huge, .chunk = 1, .per_round = 1}};
  EXPECT_NE(refusal("lsh_attention", runtime::encode_call(lsh), {0, 0, 0, 0, 0, 0}).find("larger than any machine"),
            std::string::npos);
}

TEST(LibraryCatalogue, ShapeConstraintsAreChecked) {
  runtime::LshAttentionCall lsh{.slices = 1,
                                .shape = {.length = 10, .rounds = 1, .chunk = 4, .dk = 2, .dv = 2, .valid = 10,
                                          .per_round = 2}};
  EXPECT_NE(refusal("lsh_attention", runtime::encode_call(lsh), {}).find("argument 'chunk' is 4: must divide"),
            std::string::npos);
  lsh.shape.chunk = 5;
  lsh.shape.valid = 11;
  EXPECT_NE(refusal("lsh_attention", runtime::encode_call(lsh), {}).find("argument 'valid' is 11"), std::string::npos);
  runtime::ChunkedAttentionCall attention{.slices = 1, .shape = {.length = 10, .chunk = 3, .dk = 2, .dv = 2}};
  EXPECT_NE(refusal("chunked_attention", runtime::encode_call(attention), {}).find("argument 'chunk' is 3"),
            std::string::npos);
  runtime::MatmulEpilogueCall epilogue{.product = {.batch = 2, .m = 1, .n = 1, .k = 1}};
  EXPECT_NE(refusal("matmul_epilogue", runtime::encode_call(epilogue), {}).find("argument 'batch' is 2"),
            std::string::npos);
}

// A list's length out of range: none, or more than the constants that follow.
TEST(LibraryCatalogue, AListLengthOutOfRangeIsNamed) {
  const int64_t parts[] = {4, 5};
  const runtime::AllReduceStartCall start{.dtype = DType::f32, .bucket = 1, .parts = parts};
  std::vector<int64_t> ints = runtime::encode_call(start);
  for (int64_t length : {int64_t{0}, int64_t{3}, int64_t{-1}}) {
    std::vector<int64_t> forged = ints;
    forged[2] = length;
    EXPECT_NE(refusal("all_reduce_start", forged, {16, 20, 36}).find("argument 'parts'"), std::string::npos) << length;
  }
}

}  // namespace
}  // namespace reforge
