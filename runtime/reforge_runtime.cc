#include "runtime/reforge_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>

#include "runtime/cpu_features.h"
#include "runtime/cuda_device.h"
#include "runtime/cuda_library.h"
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
    std::memcpy(executor_->slot_data(executor_->find_slot(name)), data, bytes);
    return;
  }
  std::string known;
  for (const Slot& s : inputs_) known += (known.empty() ? "" : ", ") + s.name;
  throw Error(fmt::format("'{}' has no input '{}' (its inputs: {})", name_, name, known));
}

std::span<const std::byte> Entry::output(const std::string& name) const {
  const ProgramOutput& o = executor_->output_info(name);
  return {executor_->output(name), static_cast<size_t>(o.where.bytes)};
}

std::unique_ptr<Model> Model::open(const std::string& path, const OpenOptions& options) {
  return load(read_artifact_file(path), path, options);
}

std::unique_ptr<Model> Model::load(std::string_view bytes, const std::string& origin, const OpenOptions& options) {
  std::unique_ptr<Model> model(new Model());
  model->artifact_ = decode_artifact(bytes, origin);
  if (model->artifact_.for_cuda()) {
    CudaDeviceInfo gpu = check_cuda_artifact(model->artifact_, origin);
    std::set<std::string> library;
    for (const EntryPoint& e : model->artifact_.entries) {
      for (const Launch& l : e.program.launches) {
        if (l.kind == Launch::Kind::library && !has_cuda_implementation(l.function)) library.insert(l.function);
      }
    }
    throw Error(fmt::format(
        "{}: GPU {} ({}, sm_{}) could hold this {} artifact, but this runtime cannot train it on a GPU yet: "
        "Model drives the CPU alone, and the GPU library lacks {}",
        origin, gpu.ordinal, gpu.name, gpu.sm, model->artifact_.target(),
        library.empty() ? std::string("nothing it calls") : fmt::format("{}", fmt::join(library, ", "))));
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
  check_memory(artifact, origin);
  std::unique_ptr<Model> model(new Model());
  model->artifact_ = std::move(artifact);
  model->code_ = std::move(code);
  model->build(options);
  return model;
}

Model::~Model() = default;

void Model::build(const OpenOptions& options) {
  pool_ = std::make_unique<ThreadPool>(options.threads);
  for (const PersistentInit& p : artifact_.persistent) persistent_.emplace_back(p.type.bytes());

  std::unordered_map<std::string, std::byte*> persistent_memory;
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    persistent_memory.emplace(artifact_.persistent[i].name, persistent_[i].data());
  }
  // Entry points never run at the same time and nothing in an arena
  // outlives its run: one arena, as large as the largest, serves them all.
  int64_t arena_bytes = 0;
  for (const EntryPoint& e : artifact_.entries) arena_bytes = std::max(arena_bytes, e.program.arena_bytes);
  arena_ = AlignedBuffer(arena_bytes);
  ExecutorOptions executor_options{.pool = pool_.get(),
                                   .slot_memory = [&](const Slot& s) -> std::byte* {
                                     auto it = persistent_memory.find(s.name);
                                     return it == persistent_memory.end() ? nullptr : it->second;
                                   },
                                   .arena_memory = [this](int64_t) { return arena_.data(); },
                                   .communicator = options.communicator};
  Code* code = code_.get();
  auto resolve = [code](const std::string& symbol) { return code->find(symbol); };
  // train_step first, so train_step() is entries_[0].
  std::vector<const EntryPoint*> order = {artifact_.entry("train_step")};
  for (const EntryPoint& e : artifact_.entries) {
    if (e.name != "train_step") order.push_back(&e);
  }
  for (const EntryPoint* e : order) {
    auto entry = std::make_unique<Entry>();
    entry->name_ = e->name;
    entry->executor_ = std::make_unique<Executor>(e->program, resolve, executor_options);
    for (const Slot& s : e->program.slots) {
      if (s.role == SlotRole::fed && !persistent_memory.count(s.name)) entry->inputs_.push_back(s);
    }
    entries_.push_back(std::move(entry));
  }
  Executor& train = entries_[0]->executor();
  for (const CarriedSlot& c : artifact_.entry("train_step")->carried) {
    int slot = train.find_slot(c.slot);
    carried_.push_back(
        {train.slot_data(slot), train.output(c.next), static_cast<size_t>(train.output_info(c.next).where.bytes)});
  }
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
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    const PersistentInit& p = artifact_.persistent[i];
    fill_initial(p.init, p.scale, seed, p.name, p.type, persistent_[i].data());
  }
}

std::span<std::byte> Model::persistent_data(const std::string& name) {
  for (size_t i = 0; i < artifact_.persistent.size(); ++i) {
    if (artifact_.persistent[i].name == name) {
      return {persistent_[i].data(), static_cast<size_t>(artifact_.persistent[i].type.bytes())};
    }
  }
  throw Error(fmt::format("the model has no parameter or optimizer state '{}'", name));
}

std::span<const std::byte> Model::persistent_data(const std::string& name) const {
  return const_cast<Model*>(this)->persistent_data(name);
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

void Model::step() {
  entries_[0]->run();
  for (const CarriedCopy& c : carried_) std::memcpy(c.slot, c.next, c.bytes);
}

}  // namespace reforge::runtime
