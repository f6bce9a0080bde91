// CUDA C++ -> GPU code with NVRTC, in process: a cubin for one real
// architecture (sm_90 by default) and the PTX of its virtual architecture
// (compute_90), so a newer GPU can JIT the PTX when it cannot run the cubin.
// ptxas's report per kernel (registers, spills, stack) is kept. NVRTC is
// opened with dlopen on first use ($REFORGE_NVRTC, else the toolkit's
// libnvrtc.so.13): without the toolkit, only compiling for CUDA fails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reforge::codegen {

struct NvrtcOptions {
  int sm = 90;  // the real architecture: sm_90 (H100, H200)
  // The GPU fuses a * b + c into one rounding only where the CPU does
  // (nowhere): the same program computes the same numbers on both targets
  // up to the math functions' last bits.
  bool fuse_multiply_add = false;
};

// What ptxas reported for one kernel.
struct KernelResources {
  std::string name;
  int registers = 0;
  int64_t spill_store_bytes = 0;
  int64_t spill_load_bytes = 0;
  int64_t stack_bytes = 0;
};

struct CudaBinary {
  int sm = 0;
  std::string cubin;  // ELF for sm_<sm>
  std::string ptx;    // PTX for compute_<sm>
  std::string log;    // NVRTC's log, ptxas's report included
  std::vector<KernelResources> resources;
};

// Throws an Error holding NVRTC's log and the numbered source when the
// source does not compile.
CudaBinary compile_cuda(const std::string& source, const NvrtcOptions& options = {});

// ptxas's verbose report (as NVRTC logs it) per kernel.
std::vector<KernelResources> parse_ptxas_report(const std::string& log);

// NVRTC's version, e.g. "13.0".
std::string nvrtc_version();

}  // namespace reforge::codegen
