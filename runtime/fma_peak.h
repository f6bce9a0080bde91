// This machine's FP32 FMA peak: the ceiling for "what share of the peak
// does a step use" (`reforge train --profile`, docs/BENCHMARKS.md). Each
// thread runs twelve independent chains of vector FMAs (enough to hide the
// latency of two FMA pipes), in 512-bit registers where the CPU has
// AVX-512 (a core that executes them as two 256-bit halves gets the same
// rate as 256-bit ones, a full-width one twice it), else 256-bit with
// FMA3, else 128-bit without FMA.
//
// A measurement takes a fraction of a second; the result is cached per
// CPU model and thread count in the user's cache directory, so a machine
// is measured once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace reforge::runtime {

struct FmaPeak {
  double gflops = 0;   // FP32 FLOP/s / 1e9, all threads together (an FMA is 2 FLOPs)
  int threads = 0;
  std::string vector;  // "zmm", "ymm" or "xmm"
  std::string cpu;     // the CPU's model name, as the system says it
};

// Runs the chains on `threads` threads, `iterations` rounds each, best of
// `repeats` timed runs.
FmaPeak measure_fma_peak(int threads, int64_t iterations = 20'000'000, int repeats = 3);

// Where the cached peak for `threads` threads lives:
// $REFORGE_CACHE_DIR, else $XDG_CACHE_HOME/reforge, else ~/.cache/reforge.
std::string fma_peak_cache_path(int threads);

// The cached peak when its CPU model matches this machine's; else measures
// it and writes the cache (atomically; a cache that cannot be written is
// only not written). A corrupt cache file is measured over.
FmaPeak cached_fma_peak(int threads);

// This machine's CPU model name ("AMD EPYC 7B13"), or "unknown".
std::string cpu_model_name();

}  // namespace reforge::runtime
