// The Reforge runtime API: open a compiled artifact (.rfa), set its inputs,
// run its entry points, read and write its parameters. Links no compiler:
// the artifact carries native code, the memory plan and the program.
//
//   auto model = reforge::runtime::Model::open("p1.rfa");
//   model->initialise(/*seed=*/1);
//   reforge::runtime::Entry& train = model->train_step();
//   train.set_input("tokens", tokens.data(), tokens.size() * sizeof(int64_t));
//   ...                                 // targets, loss_weights, rng
//   model->step();                      // forward, backward, Adam update
//   float loss = train.output_as<float>("loss")[0];
//
// Errors (a corrupt artifact, a CPU without a feature the code needs, a
// wrong input name or size) throw reforge::Error with a message.
//
// The compiler's JIT runs through the same class: it lowers a model into
// an in-memory Artifact, compiles its kernels in this process and hands
// both to Model::from_parts (compiler/pipeline/jit_model.h), so a model
// trains the same way from source and from a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "runtime/artifact.h"
#include "runtime/code.h"
#include "runtime/communicator.h"
#include "runtime/executor.h"
#include "runtime/generation.h"
#include "runtime/program_runner.h"

namespace reforge::runtime {

struct OpenOptions {
  int threads = 0;  // 0: one per hardware thread
  // The replicas a data-parallel artifact's collectives sum over (it must
  // outlive the model); null: this process alone. See communicator.h.
  Communicator* communicator = nullptr;
};

class Model;

// One entry point of an opened model: its inputs, outputs and program,
// run by a ProgramRunner — the CPU's executor or, for a CUDA artifact,
// the GPU's.
class Entry {
 public:
  const std::string& name() const { return name_; }
  // The values the caller writes before each run (parameters and
  // optimizer state are the model's, not inputs).
  const std::vector<Slot>& inputs() const { return inputs_; }
  const Program& program() const;
  const std::vector<ProgramOutput>& outputs() const { return program().outputs; }

  bool has_input(const std::string& name) const;
  // Copies `bytes` bytes into input `name`; the size must be the input's.
  void set_input(const std::string& name, const void* data, size_t bytes);
  // Runs the program once (Model::step also carries the updates over).
  void run();
  // An output of the last run, in its element type's memory layout (on a
  // GPU, copied to the host when first asked for after a run).
  std::span<const std::byte> output(const std::string& name) const;
  template <typename T>
  std::span<const T> output_as(const std::string& name) const {
    std::span<const std::byte> raw = output(name);
    return {reinterpret_cast<const T*>(raw.data()), raw.size() / sizeof(T)};
  }

  bool on_gpu() const;
  // Where it runs, in words: the CPU's GEMM, or the GPU.
  std::string machine() const { return runner_ref().machine(); }
  // With profiling on, run() adds each launch's time to seconds() (CUDA
  // events on a GPU).
  void set_profiling(bool on);
  const std::vector<double>& seconds() const;
  // What runs its program: the CPU's executor or the GPU's.
  ProgramRunner& runner() { return runner_ref(); }
  // The CPU's executor; an Error for an entry that runs on a GPU.
  Executor& executor();
  const Executor& executor() const;

 private:
  friend class Model;
  // Its runner, made when first needed: generation's entry points keep
  // caches as large as the window, which a training run never touches.
  ProgramRunner& runner_ref() const;

  Model* model_ = nullptr;
  std::string name_;
  std::function<std::unique_ptr<ProgramRunner>()> make_runner_;
  mutable std::unique_ptr<ProgramRunner> runner_;
  std::vector<Slot> inputs_;
  // Off the host (a GPU): outputs copied to the host since the last run,
  // and the version of the model's host values its parameter slots hold.
  mutable std::unordered_map<std::string, std::vector<std::byte>> copied_outputs_;
  int64_t persistent_version_ = -1;
};

class Model {
 public:
  // Reads, validates and loads an artifact; nothing is trusted before it
  // is checked (see docs/ARTIFACT_FORMAT.md).
  static std::unique_ptr<Model> open(const std::string& path, const OpenOptions& options = {});
  static std::unique_ptr<Model> load(std::string_view bytes, const std::string& origin,
                                     const OpenOptions& options = {});
  // An artifact made in this process and the code for its kernels (the
  // JIT's): checked as a file's contents are (check_artifact), except for
  // the machine, which compiled the code for itself; `artifact.code` is
  // not used. A CUDA artifact carries its GPU code: `code` is null.
  static std::unique_ptr<Model> from_parts(Artifact artifact, std::unique_ptr<Code> code, const std::string& origin,
                                           const OpenOptions& options = {});
  ~Model();

  const Manifest& manifest() const { return artifact_.manifest; }
  // A config field as the artifact was compiled with; "" when absent.
  std::string config(const std::string& field) const;
  const std::string& memory_plan_json() const { return artifact_.memory_plan_json; }
  int threads() const { return pool_->threads(); }

  Entry& train_step() { return *entries_.at(0); }
  // Null when the artifact has no such entry point ("forward").
  Entry* entry(const std::string& name);

  // Parameters and optimizer state, shared by every entry point. On a GPU
  // they live in GPU memory, mirrored on the host: persistent_data() reads
  // the GPU's newest values back, and the non-const one takes the host's
  // as the newest (the caller may write them), copied to the GPU before
  // the next run.
  const std::vector<PersistentInit>& persistent() const { return artifact_.persistent; }
  // Sets every persistent value to its initial value for `seed` (the same
  // numbers `reforge train --seed` starts from).
  void initialise(uint64_t seed);
  std::span<std::byte> persistent_data(const std::string& name);
  std::span<const std::byte> persistent_data(const std::string& name) const;

  // Whether an output of train_step is an update carried into a slot (an
  // updated parameter or moment) rather than a result such as the loss.
  bool is_carried(const std::string& output) const;
  // The outputs of train_step that are not carried: its results (the
  // loss, the metrics).
  std::vector<ProgramOutput> step_results() const;

  // One training step on the inputs set on train_step(): runs it, then the
  // updated parameters and optimizer state become the current ones.
  void step();

  // Generation with a cache, for an artifact with the entry points
  // "decode", "decode_setup" and "decode_prefill" (`reforge compile`
  // writes them for a causal model): one token at a time, each step reading and updating
  // per-layer caches the model keeps (models/decode_step.h).
  bool can_decode() const { return decode_ != nullptr; }
  // The positions the caches hold: the model's window (seq_len).
  int64_t decode_window() const;
  // Empties the caches (and, the first time, computes the step's fixed
  // state); call it before position 0 and to start again.
  void decode_reset();
  // The logits [vocab] of the symbol after `token` at `position` (0, 1, ...
  // in order after decode_reset), the caches updated. An Error for a
  // position outside the window or a model that cannot decode.
  std::span<const float> decode(int64_t token, int64_t position);
  // Empties the caches and reads `context` (1 to decode_window() tokens)
  // in one whole-window pass that fills them (the "decode_prefill" entry);
  // the logits after it. decode() goes on from position context.size().
  std::span<const float> decode_prefill(std::span<const int64_t> context);
  // The `length` bytes after `prompt`, decoded step by step with the
  // window's policy of runtime/generation.h; `on_byte` sees each as it
  // comes. Reproducible from `seed`.
  std::string generate(const std::string& prompt, int64_t length, const SamplingOptions& sampling, uint64_t seed,
                       const std::function<void(char)>& on_byte = {});

 private:
  Model() = default;
  void build(const OpenOptions& options);
  // The entry point's program on the CPU (sharing the model's parameter
  // buffers and arena) or, for a CUDA artifact, on GPU 0.
  std::unique_ptr<ProgramRunner> runner_for(const EntryPoint& e, const OpenOptions& options);
  // The device's newest persistent values into the host mirror.
  void copy_persistent_to_host();
  // Before `entry` runs: its parameter slots hold the newest values.
  void prepare_run(Entry& entry);
  friend class Entry;

  Artifact artifact_;
  OpenOptions options_;
  std::unique_ptr<Code> code_;
  std::unique_ptr<ThreadPool> pool_;
  AlignedBuffer arena_;                          // shared by every entry point
  std::vector<AlignedBuffer> persistent_;        // in artifact_.persistent's order
  std::vector<std::unique_ptr<Entry>> entries_;  // train_step first
  // The training step's carried updates: output, and the slot it goes to.
  std::vector<std::pair<std::string, int>> carried_;
  // Slots off the host (a GPU): the host mirror's version (raised whenever
  // the caller may have written it), and the entry whose slots are newer
  // than the mirror (the training step after a step), or null.
  int64_t host_version_ = 0;
  Entry* newer_on_device_ = nullptr;
  // Generation's entry points (null without them), and whether the step
  // is ready (decode_reset since the open: its fixed state computed).
  Entry* decode_ = nullptr;
  Entry* decode_setup_ = nullptr;
  Entry* decode_prefill_ = nullptr;
  const EntryPoint* decode_entry_ = nullptr;  // the artifact's "decode": what its runs carry
  int64_t decode_window_ = 0;
  std::vector<float> prefill_logits_;  // the row decode_prefill returns
  bool decode_ready_ = false;
};

}  // namespace reforge::runtime
