#include "tools/cli/model_session.h"

#include <fmt/format.h>

#include <cstring>

#include "compiler/interpreter/trainer.h"

namespace reforge::cli {
namespace {

runtime::NamedTensor named_bytes(const std::string& name, const HostTensor& value) {
  runtime::NamedTensor t{name, value.type, std::string(value.type.bytes(), '\0')};
  write_elements(value, reinterpret_cast<std::byte*>(t.bytes.data()));
  return t;
}

// The persistent values (parameters and optimizer state) of a graph, in
// graph order.
std::vector<std::string> persistent_names(const Graph& graph) {
  std::vector<std::string> names;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (n.op == "param" || n.op == "state") names.push_back(n.name);
  }
  return names;
}

class InterpreterSession : public ModelSession {
 public:
  InterpreterSession(const CompiledStep& compiled, const Graph& forward, uint64_t seed)
      : trainer_(*compiled.graph, compiled.step, seed), forward_(forward), names_(persistent_names(*compiled.graph)) {}

  ValueMap train_step(const ValueMap& batch) override { return trainer_.run_step(batch); }

  ValueMap forward(const ValueMap& batch) override {
    ValueMap feeds;
    for (int id = 0; id < forward_.size(); ++id) {
      const Node& n = forward_.node(id);
      if (n.op == "param" || n.op == "state") feeds[n.name] = trainer_.persistent().at(n.name);
      if (n.op == "input") feeds[n.name] = batch.at(n.name);
    }
    return run_graph(forward_, feeds);
  }

  std::vector<runtime::NamedTensor> persistent() const override {
    std::vector<runtime::NamedTensor> out;
    for (const std::string& name : names_) out.push_back(named_bytes(name, trainer_.persistent().at(name)));
    return out;
  }

  void restore(const std::vector<runtime::NamedTensor>& values) override {
    check_same_values(persistent(), values, "checkpoint");
    for (const runtime::NamedTensor& v : values) {
      trainer_.mutable_persistent()[v.name] = read_elements(v.type, reinterpret_cast<const std::byte*>(v.bytes.data()));
    }
  }

 private:
  InterpreterTrainer trainer_;
  const Graph& forward_;
  std::vector<std::string> names_;
};

class JitSession : public ModelSession {
 public:
  JitSession(const CompiledStep& compiled, const Graph& forward, uint64_t seed, const CpuBuildOptions& options)
      : trainer_(compiled, seed, options) {
    runtime::Executor& train = trainer_.executable().executor();
    for (const std::string& name : persistent_names(trainer_.executable().graph())) {
      if (train.find_slot(name) >= 0) names_.push_back(name);
    }
    CpuBuildOptions shared = options;
    shared.pool = &train.pool();
    shared.slot_memory = [&train](const runtime::Slot& s) -> std::byte* {
      int slot = train.find_slot(s.name);
      return slot >= 0 && train.program().slots[slot].type == s.type ? train.slot_data(slot) : nullptr;
    };
    forward_ = CpuExecutable::build(forward, {}, shared);
  }

  CpuExecutable& executable() { return trainer_.executable(); }

  ValueMap train_step(const ValueMap& batch) override { return trainer_.run_step(batch); }

  ValueMap forward(const ValueMap& batch) override {
    for (const auto& [name, value] : batch) {
      if (forward_->executor().find_slot(name) >= 0) forward_->feed(name, value);
    }
    forward_->run();
    ValueMap out;
    for (const runtime::ProgramOutput& o : forward_->executor().program().outputs) {
      out[o.name] = forward_->read_output(o.name);
    }
    return out;
  }

  std::vector<runtime::NamedTensor> persistent() const override {
    const runtime::Executor& train = trainer_.executable().executor();
    std::vector<runtime::NamedTensor> out;
    for (const std::string& name : names_) {
      int slot = train.find_slot(name);
      const TensorType& type = train.program().slots[slot].type;
      out.push_back({name, type, std::string(reinterpret_cast<const char*>(train.slot_data(slot)), type.bytes())});
    }
    return out;
  }

  void restore(const std::vector<runtime::NamedTensor>& values) override {
    check_same_values(persistent(), values, "checkpoint");
    runtime::Executor& train = trainer_.executable().executor();
    for (const runtime::NamedTensor& v : values) {
      std::memcpy(train.slot_data(train.find_slot(v.name)), v.bytes.data(), v.bytes.size());
    }
  }

 private:
  CpuTrainer trainer_;
  std::unique_ptr<CpuExecutable> forward_;
  std::vector<std::string> names_;
};

class ArtifactSession : public ModelSession {
 public:
  ArtifactSession(runtime::Model& model, uint64_t seed) : model_(model) { model_.initialise(seed); }

  ValueMap train_step(const ValueMap& batch) override {
    ValueMap out = run(model_.train_step(), batch, [this] { model_.step(); });
    std::erase_if(out, [this](const auto& kv) { return model_.is_carried(kv.first); });
    return out;
  }

  ValueMap forward(const ValueMap& batch) override {
    runtime::Entry* entry = model_.entry("forward");
    if (!entry) throw Error("the artifact has no forward entry point");
    return run(*entry, batch, [entry] { entry->run(); });
  }

  std::vector<runtime::NamedTensor> persistent() const override {
    std::vector<runtime::NamedTensor> out;
    for (const runtime::PersistentInit& p : model_.persistent()) {
      std::span<const std::byte> data = static_cast<const runtime::Model&>(model_).persistent_data(p.name);
      out.push_back({p.name, p.type, std::string(reinterpret_cast<const char*>(data.data()), data.size())});
    }
    return out;
  }

  void restore(const std::vector<runtime::NamedTensor>& values) override {
    check_same_values(persistent(), values, "checkpoint");
    for (const runtime::NamedTensor& v : values) {
      std::memcpy(model_.persistent_data(v.name).data(), v.bytes.data(), v.bytes.size());
    }
  }

 private:
  template <typename Run>
  ValueMap run(runtime::Entry& entry, const ValueMap& batch, Run run) {
    std::vector<std::byte> bytes;
    for (const runtime::Slot& input : entry.inputs()) {
      auto it = batch.find(input.name);
      if (it == batch.end())
        throw Error(fmt::format("the task gives no input '{}' for '{}'", input.name, entry.name()));
      if (it->second.type != input.type) {
        throw Error(fmt::format("input '{}' is {} in the artifact but the task makes {}", input.name,
                                type_to_string(input.type), type_to_string(it->second.type)));
      }
      bytes.resize(input.type.bytes());
      write_elements(it->second, bytes.data());
      entry.set_input(input.name, bytes.data(), bytes.size());
    }
    run();
    ValueMap out;
    for (const runtime::ProgramOutput& o : entry.outputs()) {
      out[o.name] = read_elements(o.type, entry.output(o.name).data());
    }
    return out;
  }

  runtime::Model& model_;
};

}  // namespace

void check_same_values(const std::vector<runtime::NamedTensor>& expected,
                       const std::vector<runtime::NamedTensor>& values, const std::string& origin) {
  for (const runtime::NamedTensor& e : expected) {
    const runtime::NamedTensor* found = nullptr;
    for (const runtime::NamedTensor& v : values) {
      if (v.name == e.name) found = &v;
    }
    if (!found) throw Error(fmt::format("{} has no value '{}', which the model has", origin, e.name));
    if (found->type != e.type) {
      throw Error(fmt::format("{}: '{}' is {} there, {} in the model", origin, e.name, type_to_string(found->type),
                              type_to_string(e.type)));
    }
  }
  if (values.size() != expected.size()) {
    for (const runtime::NamedTensor& v : values) {
      bool known = false;
      for (const runtime::NamedTensor& e : expected) known = known || e.name == v.name;
      if (!known) throw Error(fmt::format("{} has a value '{}' that the model does not", origin, v.name));
    }
  }
}

std::unique_ptr<ModelSession> make_interpreter_session(const CompiledStep& compiled, const Graph& forward,
                                                       uint64_t seed) {
  return std::make_unique<InterpreterSession>(compiled, forward, seed);
}

std::unique_ptr<ModelSession> make_jit_session(const CompiledStep& compiled, const Graph& forward, uint64_t seed,
                                               const CpuBuildOptions& options, CpuExecutable** executable) {
  auto session = std::make_unique<JitSession>(compiled, forward, seed, options);
  if (executable) *executable = &session->executable();
  return session;
}

std::unique_ptr<ModelSession> make_artifact_session(runtime::Model& model, uint64_t seed) {
  return std::make_unique<ArtifactSession>(model, seed);
}

}  // namespace reforge::cli
