#include "runtime/fma_peak.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "base/durable_file.h"
#include "base/error.h"

namespace reforge::runtime {
namespace {

constexpr int kChains = 12;

// GCC vector types: with FMA enabled, `x * a + b` contracts to one FMA.
typedef float Xmm __attribute__((vector_size(16)));
typedef float Ymm __attribute__((vector_size(32)));
typedef float Zmm __attribute__((vector_size(64)));

template <typename V>
__attribute__((always_inline)) inline float fma_chains(int64_t iterations) {
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = V{} + 1e-3f * static_cast<float>(i);
  const V a = V{} + 0.999999f, b = V{} + 1e-7f;
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * a + b;
  }
  float out = 0;
  for (int i = 0; i < kChains; ++i) out += acc[i][0];
  return out;
}

__attribute__((optimize("O3"), noinline)) float fma_chains_xmm(int64_t iterations) {
  return fma_chains<Xmm>(iterations);
}
__attribute__((target("avx2,fma"), optimize("O3", "fp-contract=fast"), noinline)) float fma_chains_ymm(
    int64_t iterations) {
  return fma_chains<Ymm>(iterations);
}
__attribute__((target("avx512f"), optimize("O3", "fp-contract=fast"), noinline)) float fma_chains_zmm(
    int64_t iterations) {
  return fma_chains<Zmm>(iterations);
}

// Each lane of each chain does a multiply and an add per round: 2 FLOPs
// (one FMA, or two instructions without FMA).
struct Chains {
  const char* vector;
  int lanes;
  float (*run)(int64_t);
};

Chains chains_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"zmm", 16, fma_chains_zmm};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"ymm", 8, fma_chains_ymm};
  return {"xmm", 4, fma_chains_xmm};
}

std::string cache_directory() {
  if (const char* dir = std::getenv("REFORGE_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/reforge";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/reforge";
}

// The cache file: "cpu <model>\nvector <v>\ngflops <g>\n".
std::optional<FmaPeak> read_cache(const std::string& path, int threads) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  FmaPeak peak{.threads = threads};
  std::string line;
  while (std::getline(in, line)) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) return std::nullopt;
    const std::string key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "cpu") {
      peak.cpu = value;
    } else if (key == "vector") {
      peak.vector = value;
    } else if (key == "gflops") {
      char* end = nullptr;
      peak.gflops = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return std::nullopt;
    }
  }
  if (peak.cpu.empty() || peak.vector.empty() || !(peak.gflops > 0)) return std::nullopt;
  return peak;
}

}  // namespace

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    std::string name = line.substr(colon + 1);
    name.erase(0, name.find_first_not_of(" \t"));
    if (!name.empty()) return name;
  }
  return "unknown";
}

FmaPeak measure_fma_peak(int threads, int64_t iterations, int repeats) {
  if (threads < 1) throw Error(fmt::format("the FMA peak needs at least one thread, not {}", threads));
  const Chains chains = chains_for_this_cpu();
  double best = 0;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    std::vector<float> sink(threads);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { sink[t] = chains.run(iterations); });
    for (std::thread& w : workers) w.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    volatile float keep = sink[0];
    (void)keep;
    const double flops =
        2.0 * chains.lanes * kChains * static_cast<double>(iterations) * threads;
    if (seconds > 0) best = std::max(best, flops / seconds / 1e9);
  }
  return {.gflops = best, .threads = threads, .vector = chains.vector, .cpu = cpu_model_name()};
}

std::string fma_peak_cache_path(int threads) {
  return fmt::format("{}/fma_peak_{}_threads", cache_directory(), threads);
}

FmaPeak cached_fma_peak(int threads) {
  const std::string path = fma_peak_cache_path(threads);
  const std::string cpu = cpu_model_name();
  if (std::optional<FmaPeak> cached = read_cache(path, threads); cached && cached->cpu == cpu) return *cached;
  FmaPeak peak = measure_fma_peak(threads);
  try {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    write_file_durably(path, fmt::format("cpu {}\nvector {}\ngflops {:.3f}\n", peak.cpu, peak.vector, peak.gflops),
                       "FMA peak cache");
  } catch (const std::exception&) {
    // Measured again next time.
  }
  return peak;
}

}  // namespace reforge::runtime
