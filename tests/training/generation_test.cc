// Generation through the two decoders under the interpreter (f64): the
// cached one-token step and the whole-window forward pass give the same
// text, across the window's edge, and the cached path really runs one
// step per byte.
#include "training/generation.h"

#include <gtest/gtest.h>

#include "compiler/interpreter/interpreter.h"
#include "models/decode_step.h"
#include "models/reformer_step.h"
#include "tests/testing/interpreted_decoder.h"
#include "tests/testing/model_fixtures.h"

namespace reforge::training {
namespace {

// Bytes, and the LSH layer last: the cache is exact.
ReformerConfig byte_model() {
  ReformerConfig c = testing::tiny_decode_config({AttentionKind::local, AttentionKind::lsh}, 2, 2, 4);
  c.vocab_size = 256;
  return c;
}

struct Decoders {
  ReformerConfig config = byte_model();
  std::unique_ptr<Graph> forward = build_reformer_eval_graph(config, "g", DType::f64, {.valid_length_input = true});
  ValueMap params = initial_values(*forward, 11);
  testing::InterpretedDecoder step{config, params}, prefilled_step{config, params};
  runtime::StepDecoder cached{step.functions(/*with_prefill=*/false), config.seq_len};
  runtime::StepDecoder prefilled{prefilled_step.functions(/*with_prefill=*/true), config.seq_len};
  ForwardDecoder uncached{[this](const ValueMap& feeds) {
                            ValueMap all = params;
                            for (const auto& [name, value] : feeds) {
                              HostTensor v = value;
                              if (is_float(v.dtype())) v.type.dtype = DType::f64;
                              all[name] = v;
                            }
                            return run_graph(*forward, all);
                          },
                          config, /*feeds_valid_length=*/true};
};

TEST(Generation, TheCachedStepWritesTheForwardPassesTextAcrossTheWindowsEdge) {
  Decoders d;
  // 5 + 40 bytes: the 16-byte window fills, keeps its last half and
  // starts again from it, several times.
  for (const runtime::SamplingOptions& sampling :
       {runtime::SamplingOptions{.temperature = 0.0}, runtime::SamplingOptions{.temperature = 1.5, .top_p = 0.9}}) {
    std::string without = runtime::generate_text(d.uncached, "abcde", 40, sampling, 5);
    EXPECT_EQ(runtime::generate_text(d.cached, "abcde", 40, sampling, 5), without) << sampling.temperature;
    EXPECT_EQ(runtime::generate_text(d.prefilled, "abcde", 40, sampling, 5), without) << sampling.temperature;
    EXPECT_EQ(without.size(), 40u);
  }
}

TEST(Generation, TheCachedPathRunsOneStepPerByteAndNoForwardPass) {
  Decoders d;
  std::vector<char> streamed;
  std::string text =
      runtime::generate_text(d.prefilled, "abcde", 30, {.temperature = 0.0}, 1, [&](char c) { streamed.push_back(c); });
  EXPECT_EQ(std::string(streamed.begin(), streamed.end()), text);
  // The prompt is one prefill; of the 29 bytes appended, those that find
  // the 16-byte window full start again (a prefill of its last 8 and the
  // byte), the others are one step each.
  int64_t steps = 0, prefills = 1, stepped_without_prefill = 5;
  for (int64_t context = 5, i = 0; i < 29; ++i) {
    if (context == 16) {
      context = 9;
      ++prefills;
      stepped_without_prefill += 9;
    } else {
      ++context;
      ++steps;
      ++stepped_without_prefill;
    }
  }
  EXPECT_GT(prefills, 2);
  EXPECT_EQ(d.prefilled.prefills(), prefills);
  EXPECT_EQ(d.prefilled.steps(), steps);
  EXPECT_EQ(d.uncached.passes(), 0);
  runtime::generate_text(d.cached, "abcde", 30, {.temperature = 0.0}, 1);
  EXPECT_EQ(d.cached.steps(), stepped_without_prefill);  // no prefill: every byte of a start is a step
  EXPECT_EQ(d.cached.prefills(), 0);
  runtime::generate_text(d.uncached, "abcde", 30, {.temperature = 0.0}, 1);
  EXPECT_EQ(d.uncached.passes(), 30);  // one whole-window pass per byte
}

TEST(Generation, BadPromptsAreOneLineErrors) {
  Decoders d;
  try {
    runtime::generate_text(d.cached, "", 3, {}, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the prompt is empty (give at least one byte)");
  }
  try {
    runtime::generate_text(d.cached, std::string(17, 'x'), 3, {}, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the prompt is 17 bytes, longer than the model's window of 16");
  }
}

}  // namespace
}  // namespace reforge::training
