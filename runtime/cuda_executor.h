// Runs a Program on an NVIDIA GPU through the driver (cuda_driver.h): the
// artifact's GPU code loaded into the primary context, the arena (exactly
// the plan's size) and every slot allocated on the GPU once, every launch
// resolved once (its function, grid and packed arguments), then the
// launches issued in order on one stream. Copies happen only for slots
// (inputs, parameters, state) and outputs, when the caller asks.
//
// A library call runs as launches of the GPU library's kernels
// (cuda_library.h), its matrix products on cuBLAS where it loads. One the
// GPU library lacks (the collectives) is refused when the program is
// loaded, naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/artifact.h"
#include "runtime/cublas.h"
#include "runtime/cuda_driver.h"
#include "runtime/program.h"
#include "runtime/program_runner.h"

namespace reforge::runtime {

struct CudaExecutorOptions {
  int device = 0;
  // Matrix products on cuBLAS where it loads (cublas.h); false: on the GPU
  // library's own product kernel.
  bool cublas = true;
};

class CudaExecutor : public ProgramRunner {
 public:
  // Throws Error naming what cannot run: no GPU code for a kernel, a library
  // call, too little free GPU memory, code the GPU cannot load.
  CudaExecutor(Program program, const CudaCode& code, const CudaExecutorOptions& options = {});
  ~CudaExecutor();
  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;

  const Program& program() const override { return program_; }
  const CudaDeviceInfo& device() const { return device_; }
  // The GPU, and what runs its products.
  std::string machine() const override;
  // Whether the program's matrix products run on cuBLAS (it loads and
  // starts here, and the program has products).
  bool uses_cublas() const { return cublas_handle_ != nullptr; }

  // Persistent slots by name; -1 when there is none.
  int find_slot(const std::string& name) const override;
  // Copies the slot's bytes from or to the host (its type's size).
  void write_slot(int slot, const void* host) override;
  void read_slot(int slot, void* host) const override;
  bool slots_are_host_memory() const override { return false; }
  // An output of the last run, copied to the host (its type's size).
  const ProgramOutput& output_info(const std::string& name) const override;
  const std::byte* output_in_place(const std::string&) const override { return nullptr; }
  void read_output(const std::string& name, void* host) const override;
  // Copies an output of the last run into a slot on the GPU (a training
  // step's updated parameter into the parameter's slot).
  void copy_output_to_slot(const std::string& output, int slot) override;
  void copy_output_to_slot_row(const std::string& output, int slot, int64_t row) override;

  // Issues every launch once, in order, and waits for the GPU. An Error
  // names the launch (kernel, node, op and DSL line) that failed; a
  // failure the GPU reports only when the stream is waited on names the
  // step unless synchronous launches are on.
  void run() override;

  // Per-launch times from CUDA events, summed over runs (seconds).
  void set_profiling(bool on) override { profiling_ = on; }
  const std::vector<double>& seconds() const override { return seconds_; }
  // Waits for the GPU after each launch, so a failure names its launch.
  void set_synchronous(bool on) { synchronous_ = on; }

  // Grid blocks and threads a block of each kernel launch the program
  // makes, in order (a library call may make several; cuBLAS's are not
  // listed).
  struct LaunchShape {
    int64_t blocks = 0;
    int threads_per_block = 0;
  };
  std::vector<LaunchShape> launch_shapes() const;

 private:
  struct Resolved;
  struct Gemm;
  CUdeviceptr address(const BufferRef& ref) const;
  void run_gemm(const Gemm& gemm) const;
  std::string describe(const Launch& launch) const;

  const CudaDriver& driver_;
  Program program_;
  CudaDeviceInfo device_;
  CUmodule module_ = nullptr;
  CUstream stream_ = nullptr;
  CUdeviceptr arena_ = 0;
  CUdeviceptr library_arguments_ = 0;       // the library kernels' argument blocks
  CUdeviceptr status_ = 0;                  // set by a library kernel that met a bad index
  cublasHandle_t cublas_handle_ = nullptr;  // bound to stream_
  std::vector<CUdeviceptr> slots_;
  std::vector<std::unique_ptr<Resolved>> resolved_;
  std::vector<Gemm> gemms_;  // the products on cuBLAS
  std::unordered_map<std::string, int> slot_of_, output_of_;
  bool profiling_ = false;
  bool synchronous_ = false;
  std::vector<double> seconds_;
};

}  // namespace reforge::runtime
