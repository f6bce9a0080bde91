// The machine's FMA peak: measured as a positive rate that grows with the
// vector width, cached per CPU model and thread count, read back from the
// cache, measured over when the cache is corrupt or from another CPU, and
// the profile's share of it.
#include "runtime/fma_peak.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/profile_report.h"

namespace reforge::runtime {
namespace {

// A fresh cache directory for one test, in REFORGE_CACHE_DIR.
class FmaPeakCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("fma_peak_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    setenv("REFORGE_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override { unsetenv("REFORGE_CACHE_DIR"); }
  void write_cache(int threads, const std::string& text) {
    std::filesystem::create_directories(dir_);
    std::ofstream(fma_peak_cache_path(threads)) << text;
  }
  std::filesystem::path dir_;
};

TEST(FmaPeak, MeasuresAPositiveRateOnEveryThread) {
  const FmaPeak one = measure_fma_peak(1, 2'000'000, 2);
  EXPECT_GT(one.gflops, 0.5);  // a 128-bit core without FMA at 1 GHz does 8
  EXPECT_EQ(one.threads, 1);
  EXPECT_TRUE(one.vector == "xmm" || one.vector == "ymm" || one.vector == "zmm") << one.vector;
  EXPECT_EQ(one.cpu, cpu_model_name());
  EXPECT_THROW(measure_fma_peak(0), std::exception);
}

TEST_F(FmaPeakCache, IsMeasuredOnceThenReadFromTheCache) {
  const FmaPeak first = cached_fma_peak(1);
  ASSERT_TRUE(std::filesystem::exists(fma_peak_cache_path(1)));
  // The cache is what is read: a value written there comes back.
  write_cache(1, "cpu " + cpu_model_name() + "\nvector " + first.vector + "\ngflops 12345.5\n");
  EXPECT_EQ(cached_fma_peak(1).gflops, 12345.5);
  // Another thread count is another entry.
  EXPECT_NE(fma_peak_cache_path(2), fma_peak_cache_path(1));
}

TEST_F(FmaPeakCache, ACorruptCacheOrAnotherCpusIsMeasuredOver) {
  write_cache(1, "gflops not-a-number\n");
  FmaPeak peak = cached_fma_peak(1);
  EXPECT_GT(peak.gflops, 0.5);
  EXPECT_LT(peak.gflops, 12345.0);
  write_cache(1, "cpu Some Other CPU\nvector ymm\ngflops 12345.5\n");
  peak = cached_fma_peak(1);
  EXPECT_LT(peak.gflops, 12345.0);
  EXPECT_EQ(peak.cpu, cpu_model_name());
}

// Two launches of 3 and 1 GFLOP taking 20 and 30 ms a step: 80 GFLOP/s,
// 40% of a 200 GFLOP/s peak.
TEST(FmaPeak, TheProfileStatesTheStepsShareOfThePeak) {
  Program program;
  program.launches.push_back({.kind = Launch::Kind::library, .function = "matmul", .node = "a", .op = "matmul",
                              .flops = 3'000'000'000});
  program.launches.push_back({.kind = Launch::Kind::kernel, .function = "k0", .node = "b", .op = "exp",
                              .flops = 1'000'000'000});
  const std::string report =
      profile_report(program, {0.04, 0.06}, 2, 20, FmaPeak{.gflops = 200, .threads = 2, .vector = "ymm", .cpu = "x"});
  EXPECT_NE(report.find("4.00 GFLOP per step"), std::string::npos) << report;
  EXPECT_NE(report.find("80.0 GFLOP/s = 40.0% of the FP32 FMA peak (200.0 GFLOP/s on 2 threads, ymm)"),
            std::string::npos)
      << report;
  EXPECT_EQ(profile_report(program, {0.04, 0.06}, 2, 20).find("of the FP32 FMA peak"), std::string::npos);
}

}  // namespace
}  // namespace reforge::runtime
