#include "training/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "compiler/interpreter/trainer.h"
#include "compiler/pipeline/entry_values.h"

namespace reforge::training {
namespace {

// Whether output `name` is among `wanted` (all are when it is empty).
bool is_wanted(const std::vector<std::string>& wanted, const std::string& name) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), name) != wanted.end();
}

runtime::NamedTensor named_bytes(const std::string& name, const HostTensor& value) {
  runtime::NamedTensor t{name, value.type, std::string(value.type.bytes(), '\0')};
  write_elements(value, reinterpret_cast<std::byte*>(t.bytes.data()));
  return t;
}

class InterpreterSession : public ModelSession {
 public:
  InterpreterSession(const CompiledStep& compiled, const Graph& forward, uint64_t seed)
      : trainer_(*compiled.graph, compiled.step, seed),
        forward_(forward),
        values_(persistent_values(*compiled.graph)) {}

  ValueMap train_step(const ValueMap& batch) override { return trainer_.run_step(batch); }

  ValueMap forward(const ValueMap& batch, const std::vector<std::string>& wanted) override {
    ValueMap feeds;
    for (int id = 0; id < forward_.size(); ++id) {
      const Node& n = forward_.node(id);
      const SourceKind source = source_kind(n);
      if (source == SourceKind::param || source == SourceKind::state) feeds[n.name] = trainer_.persistent().at(n.name);
      if (source == SourceKind::input) feeds[n.name] = batch.at(n.name);
    }
    ValueMap out = run_graph(forward_, feeds);
    std::erase_if(out, [&](const auto& entry) { return !is_wanted(wanted, entry.first); });
    return out;
  }

  std::vector<runtime::NamedTensor> persistent() const override {
    std::vector<runtime::NamedTensor> out;
    for (const runtime::PersistentInit& p : values_)
      out.push_back(named_bytes(p.name, trainer_.persistent().at(p.name)));
    return out;
  }

 protected:
  std::vector<std::pair<std::string, TensorType>> persistent_types() const override {
    std::vector<std::pair<std::string, TensorType>> out;
    for (const runtime::PersistentInit& p : values_) out.emplace_back(p.name, p.type);
    return out;
  }

  void write_persistent(const runtime::NamedTensor& v) override {
    trainer_.mutable_persistent()[v.name] = read_elements(v.type, reinterpret_cast<const std::byte*>(v.bytes.data()));
  }

 private:
  InterpreterTrainer trainer_;
  const Graph& forward_;
  std::vector<runtime::PersistentInit> values_;
};

// A model run by the runtime: from an artifact file, or compiled in this
// process (the JIT is an in-memory artifact: compiler/pipeline/jit_model.h).
class ArtifactSession : public ModelSession {
 public:
  ArtifactSession(runtime::Model& model, uint64_t seed) : model_(model) {
    model_.initialise(seed);
    // Only the results: the carried outputs are whole parameters and
    // moments, which Model::step has already copied into place.
    reported_ = model_.step_results();
  }

  ValueMap train_step(const ValueMap& batch) override {
    return run(model_.train_step(), batch, reported_, [this] { model_.step(); });
  }

  ValueMap forward(const ValueMap& batch, const std::vector<std::string>& wanted) override {
    runtime::Entry* entry = model_.entry("forward");
    if (!entry) throw Error("the artifact has no forward entry point");
    std::vector<runtime::ProgramOutput> outputs;
    for (const runtime::ProgramOutput& o : entry->outputs()) {
      if (is_wanted(wanted, o.name)) outputs.push_back(o);
    }
    return run(*entry, batch, outputs, [entry] { entry->run(); });
  }

  std::vector<runtime::NamedTensor> persistent() const override {
    std::vector<runtime::NamedTensor> out;
    for (const runtime::PersistentInit& p : model_.persistent()) {
      std::span<const std::byte> data = static_cast<const runtime::Model&>(model_).persistent_data(p.name);
      out.push_back({p.name, p.type, std::string(reinterpret_cast<const char*>(data.data()), data.size())});
    }
    return out;
  }

 protected:
  std::vector<std::pair<std::string, TensorType>> persistent_types() const override {
    std::vector<std::pair<std::string, TensorType>> out;
    for (const runtime::PersistentInit& p : model_.persistent()) out.emplace_back(p.name, p.type);
    return out;
  }

  void write_persistent(const runtime::NamedTensor& v) override {
    std::memcpy(model_.persistent_data(v.name).data(), v.bytes.data(), v.bytes.size());
  }

 private:
  template <typename Run>
  ValueMap run(runtime::Entry& entry, const ValueMap& batch, const std::vector<runtime::ProgramOutput>& outputs,
               Run run) {
    set_inputs(entry, batch);
    run();
    return read_outputs(entry, outputs);
  }

  runtime::Model& model_;
  std::vector<runtime::ProgramOutput> reported_;
};

}  // namespace

void ModelSession::restore(const std::vector<runtime::NamedTensor>& values) {
  std::map<std::string, const runtime::NamedTensor*> given;
  for (const runtime::NamedTensor& v : values) given.emplace(v.name, &v);
  std::vector<std::pair<std::string, TensorType>> expected = persistent_types();
  for (const auto& [name, type] : expected) {
    auto it = given.find(name);
    if (it == given.end()) throw Error(fmt::format("the checkpoint has no value '{}', which the model has", name));
    if (it->second->type != type) {
      throw Error(fmt::format("checkpoint: '{}' is {} there, {} in the model", name, type_to_string(it->second->type),
                              type_to_string(type)));
    }
    given.erase(it);
  }
  if (!given.empty()) {
    throw Error(fmt::format("the checkpoint has a value '{}' that the model does not", given.begin()->first));
  }
  for (const runtime::NamedTensor& v : values) write_persistent(v);
}

std::unique_ptr<ModelSession> make_interpreter_session(const CompiledStep& compiled, const Graph& forward,
                                                       uint64_t seed) {
  return std::make_unique<InterpreterSession>(compiled, forward, seed);
}

std::unique_ptr<ModelSession> make_artifact_session(runtime::Model& model, uint64_t seed) {
  return std::make_unique<ArtifactSession>(model, seed);
}

}  // namespace reforge::training
