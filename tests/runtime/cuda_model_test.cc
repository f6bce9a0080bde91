// runtime::Model on a GPU: a CUDA artifact, its code built for the host
// and run by the stand-in driver (fake_cuda_driver.cc), trains as the CPU
// artifact of the same model does — the same initial values, losses to
// 1e-4 and every parameter and moment after three Adam steps to 1e-3 (the
// GPU check's bounds). The parameters stay on the GPU between steps; the
// host reads the newest ones when asked, and values written on the host
// (a checkpoint restored) reach the GPU before the next step; the forward
// entry point sees the training step's updates.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "models/reformer_artifact.h"
#include "models/tasks.h"
#include "runtime/reforge_runtime.h"
#include "tests/testing/gpu_run.h"
#include "tests/testing/model_fixtures.h"
#include "tests/testing/model_pair.h"
#include "training/session.h"

namespace reforge {
namespace {

std::unique_ptr<runtime::Model> open(const runtime::Artifact& a, const std::string& origin) {
  return runtime::Model::load(runtime::encode_artifact(a), origin);
}

std::unique_ptr<runtime::Model> cuda_model(const ReformerConfig& config) {
  ArtifactOptions options{.target = "cuda"};
  options.cuda_code = [](const std::vector<kir::Kernel>& kernels) { return testing::host_cuda_code(kernels); };
  return open(compile_reformer_artifact(config, "tiny", options), "tiny-cuda.rfa");
}

float loss_of(const ValueMap& outputs) { return static_cast<float>(outputs.at("loss")[0]); }

// The largest |a - b| / (1 + |b|) over the values of two sessions.
double worst_difference(const training::ModelSession& got, const training::ModelSession& want) {
  double worst = 0;
  const std::vector<runtime::NamedTensor> a = got.persistent(), b = want.persistent();
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].type, b[i].type) << a[i].name;
    const auto* x = reinterpret_cast<const float*>(a[i].bytes.data());
    const auto* y = reinterpret_cast<const float*>(b[i].bytes.data());
    for (size_t j = 0; j < a[i].bytes.size() / sizeof(float); ++j) {
      worst = std::max(worst, static_cast<double>(std::fabs(x[j] - y[j]) / (1 + std::fabs(y[j]))));
    }
  }
  return worst;
}

TEST(CudaModel, TrainsAsTheCpuArtifactDoes) {
  const ReformerConfig config = testing::tiny_reformer_config();  // LSH and local attention, reversible
  std::unique_ptr<runtime::Model> cpu = open(compile_reformer_artifact(config, "tiny"), "tiny.rfa");
  std::unique_ptr<runtime::Model> gpu = cuda_model(config);
  ASSERT_TRUE(gpu->train_step().on_gpu());
  EXPECT_NE(gpu->train_step().machine().find("GPU 0"), std::string::npos) << gpu->train_step().machine();
  auto cpu_session = training::make_artifact_session(*cpu, /*seed=*/3);
  auto gpu_session = training::make_artifact_session(*gpu, /*seed=*/3);
  EXPECT_EQ(worst_difference(*gpu_session, *cpu_session), 0.0) << "the same initial values";

  std::unique_ptr<Task> task = make_duplication_task(config, 11);
  for (int64_t step = 0; step < 3; ++step) {
    const ValueMap batch = task->batch(step);
    const float want = loss_of(cpu_session->train_step(batch));
    const float got = loss_of(gpu_session->train_step(batch));
    EXPECT_NEAR(got, want, 1e-4 * std::fabs(want)) << "step " << step;
  }
  EXPECT_LT(worst_difference(*gpu_session, *cpu_session), 1e-3) << "after three Adam steps";
  const ValueMap held_out = task->batch(100);
  EXPECT_NEAR(loss_of(gpu_session->forward(held_out, {"loss"})), loss_of(cpu_session->forward(held_out, {"loss"})),
              1e-4);

  // Values written on the host reach the GPU: both continue from the CPU's.
  gpu_session->restore(cpu_session->persistent());
  EXPECT_EQ(worst_difference(*gpu_session, *cpu_session), 0.0);
  const ValueMap batch = task->batch(3);
  const float want = loss_of(cpu_session->train_step(batch));
  EXPECT_NEAR(loss_of(gpu_session->train_step(batch)), want, 1e-4 * std::fabs(want));
  EXPECT_NEAR(loss_of(gpu_session->forward(held_out, {"loss"})), loss_of(cpu_session->forward(held_out, {"loss"})),
              1e-4);
}

// The comparison the GPU check makes with P1 on a real GPU
// (testing::train_side_by_side), on the stand-in with the tiny model.
TEST(CudaModel, SideBySideWithTheCpuArtifact) {
  const ReformerConfig config = testing::tiny_reformer_config();
  std::unique_ptr<runtime::Model> cpu = open(compile_reformer_artifact(config, "tiny"), "tiny.rfa");
  std::unique_ptr<runtime::Model> gpu = cuda_model(config);
  const testing::PairDifference d = testing::train_side_by_side(*gpu, *cpu, 3, config.vocab_size, 5);
  EXPECT_LT(d.loss, 1e-4);
  EXPECT_LT(d.persistent, 1e-3);
  EXPECT_GT(d.persistent, 0.0) << "float sums in another order differ somewhere";
}

// The training step's updates are carried over on the GPU: reading a
// parameter back after a step, then stepping again without writing it,
// copies nothing to the GPU but the step's inputs.
TEST(CudaModel, ParametersStayOnTheGpuBetweenSteps) {
  const ReformerConfig config = testing::tiny_reformer_config();
  std::unique_ptr<runtime::Model> gpu = cuda_model(config);
  gpu->initialise(1);
  std::unique_ptr<Task> task = make_duplication_task(config, 11);
  auto session = training::make_artifact_session(*gpu, 1);
  session->train_step(task->batch(0));
  const std::string name = gpu->persistent().front().name;
  const std::span<const std::byte> before = std::as_const(*gpu).persistent_data(name);
  const std::string first(reinterpret_cast<const char*>(before.data()), before.size());
  session->train_step(task->batch(1));
  const std::span<const std::byte> after = std::as_const(*gpu).persistent_data(name);
  EXPECT_NE(std::string(reinterpret_cast<const char*>(after.data()), after.size()), first)
      << "the second step's update reached the host";
  EXPECT_THROW(gpu->train_step().executor(), Error);
}

// Generation on the GPU: the CUDA artifact's prefill and one-token steps
// (cache rows written on the device) give the CPU artifact's logits.
TEST(CudaModel, DecodesAsTheCpuArtifactDoes) {
  const ReformerConfig config = testing::tiny_reformer_config();
  std::unique_ptr<runtime::Model> cpu = open(compile_reformer_artifact(config, "tiny"), "tiny.rfa");
  std::unique_ptr<runtime::Model> gpu = cuda_model(config);
  ASSERT_TRUE(gpu->can_decode());
  cpu->initialise(3);
  gpu->initialise(3);
  double worst = 0;
  auto compare = [&](std::span<const float> got, std::span<const float> want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(got[i] - want[i]) / (1 + std::fabs(want[i]))));
    }
  };
  const std::vector<int64_t> context = {1, 2, 3};
  std::span<const float> prefilled = cpu->decode_prefill(context);
  std::vector<float> want(prefilled.begin(), prefilled.end());
  compare(gpu->decode_prefill(context), want);
  for (int64_t t = 3; t < config.seq_len; ++t) {
    std::span<const float> logits = cpu->decode(t % config.vocab_size, t);
    want.assign(logits.begin(), logits.end());
    compare(gpu->decode(t % config.vocab_size, t), want);
  }
  EXPECT_LT(worst, 1e-4);
  gpu->decode_reset();
  cpu->decode_reset();
  std::span<const float> first = cpu->decode(4, 0);
  want.assign(first.begin(), first.end());
  compare(gpu->decode(4, 0), want);  // the reset emptied the GPU's caches
  EXPECT_LT(worst, 1e-4);
}

}  // namespace
}  // namespace reforge
