#include "runtime/reforge_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>
#include <utility>

#include "runtime/cpu_features.h"
#include "runtime/cuda_device.h"
#include "runtime/cuda_executor.h"
#include "runtime/process_memory.h"
#include "runtime/shared_code.h"

namespace reforge::runtime {
namespace {

// Code for another architecture or for features this CPU lacks would
// crash on its first instruction; refuse it with what to do instead.
void check_machine(const Manifest& m, const std::string& origin) {
#if defined(__x86_64__)
  constexpr std::string_view kArch = "x86_64";
#else
  constexpr std::string_view kArch = "unsupported";
#endif
  if (!m.triple.starts_with(kArch)) {
    throw Error(fmt::format("{}: compiled for {}, but this machine is {}", origin, m.triple, kArch));
  }
  std::vector<std::string> missing = missing_cpu_features(m.required_features);
  if (!missing.empty()) {
    throw Error(
        fmt::format("{}: compiled for CPU '{}', whose code needs {} — this machine's CPU lacks it; "
                    "recompile with `reforge compile --cpu=native` (or an older level such as x86-64-v3)",
                    origin, m.cpu, fmt::join(missing, ", ")));
  }
}

// Everything the model will allocate, compared with the machine's memory
// before any of it is allocated.
void check_memory(const Artifact& a, const std::string& origin) {
  int64_t total = bytes_to_run(a);
  int64_t available = physical_memory_bytes();
  if (total > available) {
    throw Error(fmt::format("{}: running it needs {:.2f} GiB, more than this machine's {:.2f} GiB of memory", origin,
                            total / 1073741824.0, available / 1073741824.0));
  }
}

}  // namespace

bool Entry::has_input(const std::string& name) const {
  for (const Slot& s : inputs_) {
    if (s.name == name) return true;
  }
  return false;
}

void Entry::set_input(const std::string& name, const void* data, size_t bytes) {
  for (const Slot& s : inputs_) {
    if (s.name != name) continue;
    if (static_cast<int64_t>(bytes) != s.type.bytes()) {
      throw Error(fmt::format("input '{}' of '{}' is {} ({} bytes), given {} bytes", name, name_,
                              type_to_string(s.type), s.type.bytes(), bytes));
    }
    runner_ref().write_slot(runner_ref().find_slot(name), data);
    return;
  }
  std::string known;
  for (const Slot& s : inputs_) known += (known.empty() ? "" : ", ") + s.name;
  throw Error(fmt::format("'{}' has no input '{}' (its inputs: {})", name_, name, known));
}

ProgramRunner& Entry::runner_ref() const {
  if (!runner_) runner_ = make_runner_();
  return *runner_;
}

const Program& Entry::program() const { return runner_ref().program(); }

void Entry::run() {
  model_->prepare_run(*this);
  copied_outputs_.clear();
  runner_ref().run();
}

std::span<const std::byte> Entry::output(const std::string& name) const {
  const ProgramOutput& o = runner_ref().output_info(name);
  if (const std::byte* in_place = runner_ref().output_in_place(name)) {
    return {in_place, static_cast<size_t>(o.where.bytes)};
  }
  auto it = copied_outputs_.find(name);
  if (it == copied_outputs_.end()) {
    std::vector<std::byte> bytes(o.type.bytes());
    runner_ref().read_output(name, bytes.data());
    it = copied_outputs_.emplace(name, std::move(bytes)).first;
  }
  return it->second;
}

bool Entry::on_gpu() const { return model_->artifact_.for_cuda(); }

void Entry::set_profiling(bool on) { runner_ref().set_profiling(on); }

const std::vector<double>& Entry::seconds() const { return runner_ref().seconds(); }

Executor& Entry::executor() {
  auto* cpu = dynamic_cast<Executor*>(&runner_ref());
  if (!cpu) throw Error(fmt::format("'{}' runs on a GPU: it has no CPU executor", name_));
  return *cpu;
}

const Executor& Entry::executor() const { return const_cast<Entry*>(this)->executor(); }

std::unique_ptr<Model> Model::open(const std::string& path, const OpenOptions& options) {
  return load(read_artifact_file(path), path, options);
}

std::unique_ptr<Model> Model::load(std::string_view bytes, const std::string& origin, const OpenOptions& options) {
  std::unique_ptr<Model> model(new Model());
  model->artifact_ = decode_artifact(bytes, origin);
  // A CUDA artifact: the GPU executor refuses, before allocating, a call
  // the GPU library cannot run.
  if (model->artifact_.for_cuda()) {
    check_cuda_artifact(model->artifact_, origin);
    model->build(options);
    return model;
  }
  check_machine(model->artifact_.manifest, origin);
  check_memory(model->artifact_, origin);
  model->code_ = std::make_unique<SharedCode>(model->artifact_.code);
  model->build(options);
  return model;
}

std::unique_ptr<Model> Model::from_parts(Artifact artifact, std::unique_ptr<Code> code, const std::string& origin,
                                         const OpenOptions& options) {
  check_artifact(artifact, origin);
  if (artifact.for_cuda()) {
    check_cuda_artifact(artifact, origin);
  } else {
    check_memory(artifact, origin);
  }
  std::unique_ptr<Model> model(new Model());
  model->artifact_ = std::move(artifact);
  model->code_ = std::move(code);
  model->build(options);
  return model;
}

Model::~Model() = default;

void Model::build(const OpenOptions& options) {
  options_ = options;
  pool_ = std::make_unique<ThreadPool>(options.threads);
  for (const PersistentInit& p : artifact_.persistent) persistent_.emplace_back(p.type.bytes());
  // Entry points never run at the same time and nothing in an arena
  // outlives its run: one arena, as large as the largest, serves them all
  // on the CPU. Generation's entry points use it where they fit and take
  // their own where not (a prefill's can be larger than a training
  // step's), so a training run holds no more than its plan. (On a GPU
  // each has its own, and its own parameter slots, kept in step through
  // the host mirror.)
  int64_t arena_bytes = 0;
  for (const EntryPoint& e : artifact_.entries) {
    if (!is_generation_entry(e)) arena_bytes = std::max(arena_bytes, e.program.arena_bytes);
  }
  if (!artifact_.for_cuda()) arena_ = AlignedBuffer(arena_bytes);
  std::set<std::string> persistent;
  for (const PersistentInit& p : artifact_.persistent) persistent.insert(p.name);
  // train_step first, so train_step() is entries_[0].
  std::vector<const EntryPoint*> order = {artifact_.entry("train_step")};
  for (const EntryPoint& e : artifact_.entries) {
    if (e.name != "train_step") order.push_back(&e);
  }
  // The decode step's caches and fixed state are the model's to keep,
  // not inputs: the slots its updates go to and the setup's outputs.
  std::set<std::string> kept = persistent;
  if (const EntryPoint* decode = artifact_.entry("decode")) {
    for (const auto* list : {&decode->carried, &decode->carried_rows}) {
      for (const CarriedSlot& c : *list) kept.insert(c.slot);
    }
  }
  if (const EntryPoint* setup = artifact_.entry("decode_setup")) {
    for (const ProgramOutput& o : setup->program.outputs) kept.insert(o.name);
  }
  for (const EntryPoint* e : order) {
    auto entry = std::make_unique<Entry>();
    entry->model_ = this;
    entry->name_ = e->name;
    entry->make_runner_ = [this, e] { return runner_for(*e, options_); };
    // The training step and the forward pass at once; generation's entry
    // points (and their caches) when first used.
    if (!is_generation_entry(*e)) entry->runner_ = entry->make_runner_();
    for (const Slot& s : e->program.slots) {
      if (s.role == SlotRole::fed && !kept.count(s.name)) entry->inputs_.push_back(s);
    }
    entries_.push_back(std::move(entry));
  }
  decode_ = entry("decode");
  decode_setup_ = entry("decode_setup");
  decode_prefill_ = entry("decode_prefill");
  decode_entry_ = artifact_.entry("decode");
  if (decode_entry_) {
    // The window: the rows of a cache the step writes row by row.
    for (const CarriedSlot& c : decode_entry_->carried_rows) {
      for (const Slot& s : decode_entry_->program.slots) {
        if (s.name == c.slot) decode_window_ = s.type.shape[s.type.shape.size() - 2];
      }
    }
  }
  ProgramRunner& train = entries_[0]->runner_ref();
  for (const CarriedSlot& c : artifact_.entry("train_step")->carried) {
    carried_.emplace_back(c.next, train.find_slot(c.slot));
  }
}

std::unique_ptr<ProgramRunner> Model::runner_for(const EntryPoint& e, const OpenOptions& options) {
  if (artifact_.for_cuda()) return std::make_unique<CudaExecutor>(e.program, artifact_.cuda);
  std::unordered_map<std::string, std::byte*> persistent_memory;
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    persistent_memory.emplace(artifact_.persistent[i].name, persistent_[i].data());
  }
  ExecutorOptions executor_options{.pool = pool_.get(),
                                   .slot_memory = [&](const Slot& s) -> std::byte* {
                                     auto it = persistent_memory.find(s.name);
                                     return it == persistent_memory.end() ? nullptr : it->second;
                                   },
                                   .arena_memory = [this](int64_t bytes) -> std::byte* {
                                     return bytes <= arena_.size() ? arena_.data() : nullptr;  // else its own
                                   },
                                   .communicator = options.communicator};
  Code* code = code_.get();
  auto resolve = [code](const std::string& symbol) { return code->find(symbol); };
  return std::make_unique<Executor>(e.program, resolve, executor_options);
}

void Model::copy_persistent_to_host() {
  if (!newer_on_device_) return;
  ProgramRunner& device = newer_on_device_->runner_ref();
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    const int slot = device.find_slot(artifact_.persistent[i].name);
    if (slot >= 0) device.read_slot(slot, persistent_[i].data());
  }
  // The mirror is that entry's values now, a version the others lack.
  ++host_version_;
  newer_on_device_->persistent_version_ = host_version_;
  newer_on_device_ = nullptr;
}

void Model::prepare_run(Entry& entry) {
  ProgramRunner& runner = entry.runner_ref();
  if (runner.slots_are_host_memory()) return;  // its parameter slots are the mirror itself
  if (newer_on_device_ && newer_on_device_ != &entry) copy_persistent_to_host();
  if (newer_on_device_ == &entry || entry.persistent_version_ == host_version_) return;
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    const int slot = runner.find_slot(artifact_.persistent[i].name);
    if (slot >= 0) runner.write_slot(slot, persistent_[i].data());
  }
  entry.persistent_version_ = host_version_;
}

std::string Model::config(const std::string& field) const {
  for (const auto& [k, v] : artifact_.manifest.config) {
    if (k == field) return v;
  }
  return "";
}

Entry* Model::entry(const std::string& name) {
  for (auto& e : entries_) {
    if (e->name() == name) return e.get();
  }
  return nullptr;
}

void Model::initialise(uint64_t seed) {
  newer_on_device_ = nullptr;  // every value is the host's now
  ++host_version_;
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    const PersistentInit& p = artifact_.persistent[i];
    fill_initial(p.init, p.scale, seed, p.name, p.type, persistent_[i].data());
  }
}

std::span<std::byte> Model::persistent_data(const std::string& name) {
  std::span<const std::byte> data = std::as_const(*this).persistent_data(name);
  ++host_version_;  // the caller may write it: the GPU's copies are stale
  return {const_cast<std::byte*>(data.data()), data.size()};
}

std::span<const std::byte> Model::persistent_data(const std::string& name) const {
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    if (artifact_.persistent[i].name == name) {
      const_cast<Model*>(this)->copy_persistent_to_host();  // the mirror, not what it mirrors, changes
      return {persistent_[i].data(), static_cast<size_t>(artifact_.persistent[i].type.bytes())};
    }
  }
  throw Error(fmt::format("the model has no parameter or optimizer state '{}'", name));
}

bool Model::is_carried(const std::string& output) const {
  for (const CarriedSlot& c : artifact_.entry("train_step")->carried) {
    if (c.next == output) return true;
  }
  return false;
}

std::vector<ProgramOutput> Model::step_results() const {
  std::vector<ProgramOutput> results;
  for (const ProgramOutput& o : entries_.at(0)->outputs()) {
    if (!is_carried(o.name)) results.push_back(o);
  }
  return results;
}

int64_t Model::decode_window() const {
  if (!decode_) throw Error("the model has no decode step (compile a causal model to generate)");
  return decode_window_;
}

void Model::decode_reset() {
  if (!decode_) throw Error("the model has no decode step (compile a causal model to generate)");
  ProgramRunner& step = decode_->runner_ref();
  for (const auto* list : {&decode_entry_->carried, &decode_entry_->carried_rows}) {
    for (const CarriedSlot& c : *list) {
      const int slot = step.find_slot(c.slot);
      std::vector<std::byte> zeros(step.program().slots.at(slot).type.bytes());
      step.write_slot(slot, zeros.data());
    }
  }
  if (decode_setup_ && !decode_ready_) {
    // The fixed state, drawn as the forward pass draws it (rng 0), once:
    // clearing the caches leaves it.
    const int64_t rng = 0;
    decode_setup_->set_input("rng", &rng, sizeof(rng));
    decode_setup_->run();
    for (const ProgramOutput& o : decode_setup_->outputs()) {
      const int slot = step.find_slot(o.name);
      if (slot >= 0) step.write_slot(slot, decode_setup_->output(o.name).data());
    }
  }
  decode_ready_ = true;
}

std::span<const float> Model::decode(int64_t token, int64_t position) {
  const int64_t window = decode_window();
  if (!decode_ready_) decode_reset();
  if (position < 0 || position >= window) {
    throw Error(fmt::format("decode position {} is outside the model's window of {} positions", position, window));
  }
  const int64_t token_row[1] = {token};
  decode_->set_input("token", token_row, sizeof(token_row));
  decode_->set_input("position", &position, sizeof(position));
  decode_->run();
  carry_decode_updates(decode_->runner_ref(), decode_entry_->carried, decode_entry_->carried_rows, position);
  return decode_->output_as<float>("logits");
}

std::span<const float> Model::decode_prefill(std::span<const int64_t> context) {
  const int64_t window = decode_window(), n = static_cast<int64_t>(context.size());
  if (!decode_prefill_) throw Error("the model has no decode_prefill entry point (compile it again to prefill)");
  if (n < 1 || n > window) {
    throw Error(fmt::format("a prefill of {} tokens for a window of {} positions", n, window));
  }
  if (!decode_ready_) decode_reset();  // the fixed state; the prefill writes every cache
  Entry& prefill = *decode_prefill_;
  // The context, then the window's padding (its tokens are never read).
  std::vector<int64_t> tokens(window, 0);
  std::copy(context.begin(), context.end(), tokens.begin());
  prefill.set_input("tokens", tokens.data(), tokens.size() * sizeof(int64_t));
  prefill.set_input("valid_length", &n, sizeof(n));
  const int64_t rng = 0;
  if (prefill.has_input("rng")) prefill.set_input("rng", &rng, sizeof(rng));
  prefill.run();
  ProgramRunner& step = decode_->runner_ref();
  for (const ProgramOutput& o : prefill.outputs()) {
    const int slot = o.name == "logits" ? -1 : step.find_slot(o.name);
    if (slot >= 0) step.write_slot(slot, prefill.output(o.name).data());
  }
  std::span<const float> logits = prefill.output_as<float>("logits");
  const size_t vocab = logits.size() / static_cast<size_t>(window);
  prefill_logits_.assign(logits.begin() + (n - 1) * vocab, logits.begin() + n * vocab);
  return prefill_logits_;
}

std::string Model::generate(const std::string& prompt, int64_t length, const SamplingOptions& sampling, uint64_t seed,
                            const std::function<void(char)>& on_byte) {
  StepDecoder decoder({.step =
                           [this](int64_t symbol, int64_t position) {
                             std::span<const float> logits = decode(symbol, position);
                             return std::vector<double>(logits.begin(), logits.end());
                           },
                       .clear = [this] { decode_reset(); },
                       .prefill =
                           [this](const std::vector<int64_t>& context) {
                             std::span<const float> logits = decode_prefill(context);
                             return std::vector<double>(logits.begin(), logits.end());
                           }},
                      decode_window());
  return generate_text(decoder, prompt, length, sampling, seed, on_byte);
}

void Model::step() {
  Entry& train = *entries_[0];
  train.run();
  for (const auto& [output, slot] : carried_) train.runner_ref().copy_output_to_slot(output, slot);
  if (!train.runner_ref().slots_are_host_memory()) newer_on_device_ = &train;
}

}  // namespace reforge::runtime
