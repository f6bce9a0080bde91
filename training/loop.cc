#include "training/loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/memory/plan_dump.h"
#include "runtime/checkpoint.h"
#include "base/durable_file.h"
#include "base/json_reader.h"
#include "runtime/process_memory.h"
#include "training/data_parallel.h"
#include "training/generation.h"

namespace reforge::training {
namespace {

constexpr double kLn2 = 0.69314718055994530942;
namespace fs = std::filesystem;

std::string json_object(const runtime::KeyValues& kv) {
  std::string out = "{";
  for (const auto& [k, v] : kv) {
    out += fmt::format("{}{}: {}", out.size() > 1 ? ", " : "", json_quote(k), json_quote(v));
  }
  return out + "}";
}

// The run directory: created if missing, cleaned of temporary files an
// interrupted write left, refused if it holds another run's checkpoints.
void prepare_run_dir(const TrainingOptions& o) {
  std::error_code error;
  fs::create_directories(o.run_dir, error);
  if (error || !fs::is_directory(o.run_dir)) {
    throw Error(fmt::format("--run_dir {}: cannot create the directory: {}", o.run_dir,
                            error ? error.message() : "a file of that name exists"));
  }
  for (const auto& entry : fs::directory_iterator(o.run_dir, error)) {
    if (entry.path().extension() == ".tmp" && entry.is_regular_file()) fs::remove(entry.path(), error);
  }
  if (!o.resume) {
    if (auto existing = runtime::latest_checkpoint(o.run_dir)) {
      throw Error(
          fmt::format("--run_dir {} already holds a run ({}); continue it with --resume, or choose another "
                      "--run_dir",
                      o.run_dir, fs::path(*existing).filename().string()));
    }
  }
}

// Appends one JSON object per line to RUN_DIR/metrics.jsonl.
class MetricsLog {
 public:
  MetricsLog(const std::string& run_dir, int64_t keep_through_step) {
    if (run_dir.empty()) return;
    path_ = (fs::path(run_dir) / "metrics.jsonl").string();
    // After a resume, lines of steps the checkpoint does not hold are
    // dropped: they will be run again.
    std::string kept;
    if (fs::exists(path_)) {
      std::ifstream in(path_);
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        int64_t step = 0;
        try {
          JsonValue v = parse_json(line, path_);
          const JsonValue* s = v.find("step");
          if (!s || !s->integer(step)) continue;
        } catch (const Error&) {
          continue;  // a line cut by a kill
        }
        if (step <= keep_through_step) kept += line + "\n";
      }
    }
    write_file_durably(path_, kept, "metrics log");
    out_.open(path_, std::ios::app);
    if (!out_) throw Error("cannot append to " + path_);
  }
  // Without a run directory nothing is written (nor need be formatted).
  bool enabled() const { return !path_.empty(); }
  void write(const std::string& json) {
    if (!enabled()) return;
    out_ << json << '\n';
    out_.flush();
    if (!out_) throw Error(fmt::format("cannot write {} (disk full?)", path_));
  }

 private:
  std::string path_;
  std::ofstream out_;
};

void save_checkpoint(ModelSession& session, const TrainingOptions& o, int64_t step) {
  runtime::Checkpoint c{.model = o.model,
                        .config = o.config,
                        .step = step,
                        .seed = o.seed,
                        .compiler_version = o.compiler_version,
                        .values = session.persistent()};
  runtime::write_checkpoint(o.run_dir, c, o.keep_checkpoints);
}

void write_run_description(const TrainingOptions& o, const Task& task) {
  std::optional<double> baseline = task.baseline_bits();
  std::string json = fmt::format(
      "{{\n  \"model\": {},\n  \"seed\": {},\n  \"steps\": {},\n  \"compiler_version\": {},\n  \"task\": {},\n"
      "  \"bits_unit\": {},\n  \"baseline_bits\": {},\n  \"config\": {}\n}}\n",
      json_quote(o.model), o.seed, o.steps, json_quote(o.compiler_version),
      json_quote(task.describe()), json_quote(task.bits_unit()),
      baseline ? fmt::format("{:.6f}", *baseline) : "null", json_object(o.config));
  write_file_durably((fs::path(o.run_dir) / "run.json").string(), json, "run description");
  if (!o.plan_html.empty()) {
    write_file_durably((fs::path(o.run_dir) / "plan.html").string(), o.plan_html, "memory plan picture");
  }
}

void check_options(const TrainingOptions& o) {
  if (o.steps < 1) throw UsageError("--steps must be at least 1");
  if (o.log_every < 1) throw UsageError(fmt::format("--log_every must be at least 1, got {}", o.log_every));
  if (o.eval_every < 0)
    throw UsageError(fmt::format("--eval_every must be 0 (at the end only) or more, got {}", o.eval_every));
  if (o.eval_batches < 1 || o.eval_batches > 100000) {
    throw UsageError(fmt::format("--eval_batches must be between 1 and 100000, got {}", o.eval_batches));
  }
  if (o.checkpoint_every < 0)
    throw UsageError(fmt::format("--checkpoint_every must be 0 or more, got {}", o.checkpoint_every));
  if (o.keep_checkpoints < 1)
    throw UsageError(fmt::format("--keep_checkpoints must be at least 1, got {}", o.keep_checkpoints));
  if (o.resume && o.run_dir.empty()) throw UsageError("--resume needs the run's directory: --run_dir=DIR");
  if (o.samples < 0 || o.sample_length < 1)
    throw UsageError("--samples must be 0 or more and --sample_length at least 1");
}

// The newest checkpoint, checked against the run's model, config and seed.
runtime::Checkpoint compatible_checkpoint(const TrainingOptions& o) {
  std::optional<std::string> path = runtime::latest_checkpoint(o.run_dir);
  if (!path) throw Error(fmt::format("--resume: {} holds no checkpoint", o.run_dir));
  runtime::Checkpoint c = runtime::read_checkpoint(*path);
  if (c.model != o.model) {
    throw Error(fmt::format("{} is a checkpoint of model '{}', not '{}'", *path, c.model, o.model));
  }
  if (auto difference = runtime::first_config_difference(o.config, c.config)) {
    throw Error(fmt::format("{} was trained with another configuration: {}", *path, *difference));
  }
  if (c.seed != o.seed) throw Error(fmt::format("{} was trained with --seed={}, not {}", *path, c.seed, o.seed));
  if (c.step >= o.steps) {
    throw Error(fmt::format("{} is at step {} already; --steps={} leaves nothing to do", *path, c.step, o.steps));
  }
  return c;
}

}  // namespace

std::string validation_text(double bits, const Task& task) {
  std::optional<double> baseline = task.baseline_bits();
  return fmt::format("{:.3f} bits per {}{}", bits, task.bits_unit(),
                     baseline ? fmt::format(" ({} {:.3f})", task.baseline_name(), *baseline) : "");
}

HeldOutScore held_out_score(const std::function<ValueMap(const ValueMap&)>& forward, const Task& task,
                            int64_t batches) {
  double loss = 0, accuracy = 0;
  for (int64_t i = 0; i < batches; ++i) {
    ValueMap out = forward(task.validation_batch(i));
    loss += out.at("loss")[0];
    accuracy += out.at("accuracy")[0];
  }
  const auto n = static_cast<double>(batches);
  return {.bits = loss / n / kLn2, .accuracy = accuracy / n};
}

HeldOutScore validation_score(ModelSession& session, const Task& task, int64_t batches) {
  // The logits are not asked for: at 64K they are 128 MiB as doubles.
  return held_out_score([&](const ValueMap& batch) { return session.forward(batch, {"loss", "accuracy"}); }, task,
                        batches);
}

double validation_bits(ModelSession& session, const Task& task, int64_t batches) {
  return validation_score(session, task, batches).bits;
}

void leave_outputs_to_rank0(TrainingOptions& o) {
  if (!o.communicator || o.communicator->rank() == 0) return;
  o.run_dir.clear();
  o.resume = false;
  o.messages = stdout;
}

PreparedRun prepare_run(const TrainingOptions& o) {
  check_options(o);
  PreparedRun prepared;
  if (o.run_dir.empty()) return prepared;
  prepare_run_dir(o);
  if (o.resume) prepared.resume_from = compatible_checkpoint(o);
  return prepared;
}

TrainingRun run_training(ModelSession& session, const Task& task, const ReformerConfig& config,
                         const TrainingOptions& o, PreparedRun prepared) {
  TrainingRun run;
  if (prepared.resume_from) {
    session.restore(prepared.resume_from->values);
    run.first_step = prepared.resume_from->step + 1;
    prepared.resume_from.reset();  // the values are in the session now
  }
  if (o.communicator && o.communicator->size() > 1) {
    o.communicator->broadcast(&run.first_step, sizeof run.first_step, 0);
    share_rank0_values(session, *o.communicator);
  }
  if (!o.run_dir.empty()) write_run_description(o, task);
  MetricsLog metrics(o.run_dir, run.first_step - 1);
  if (run.first_step > 1) fmt::print(o.messages, "resumed {} at step {}\n", o.run_dir, run.first_step - 1);

  ProgressReporter progress(run.first_step, o.steps, o.tokens_per_step, "tokens", o.log_every, o.log_format);
  auto evaluate = [&](int64_t step) {
    const HeldOutScore score = validation_score(session, task, o.eval_batches);
    run.validation_bits = score.bits;
    run.validation_accuracy = score.accuracy;
    std::string json = fmt::format("{{\"step\": {}, \"validation_bits\": {:.9g}, \"validation_accuracy\": {:.9g}}}",
                                   step, score.bits, score.accuracy);
    progress.note(fmt::format("validation at step {}: {}, accuracy {:.1f}%", step, validation_text(score.bits, task),
                              100 * score.accuracy),
                  json);
    metrics.write(json);
  };
  for (int64_t s = run.first_step; s <= o.steps; ++s) {
    ValueMap batch = task.batch(s);
    auto started = std::chrono::steady_clock::now();
    run.last = session.train_step(batch);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.step_seconds.push_back(seconds);
    double loss = run.last.at("loss")[0];
    if (!std::isfinite(loss)) {
      progress.finish();
      throw Error(
          fmt::format("the loss became {} at step {}; rerun with --check_numerics to find the op that first "
                      "made a non-finite value (a run repeats exactly), or lower --learning_rate",
                      loss, s));
    }
    progress.report(s, loss, loss / kLn2);
    if (metrics.enabled()) {
      metrics.write(
          fmt::format("{{\"step\": {}, \"loss\": {:.9g}, \"bits\": {:.9g}, \"accuracy\": {:.9g}, "
                      "\"seconds\": {:.6f}, \"resident_bytes\": {}}}",
                      s, loss, loss / kLn2, run.last.at("accuracy")[0], seconds, runtime::resident_bytes()));
    }
    if (s == o.steps) break;
    if (o.eval_every > 0 && s % o.eval_every == 0) evaluate(s);
    if (!o.run_dir.empty() && o.checkpoint_every > 0 && s % o.checkpoint_every == 0) save_checkpoint(session, o, s);
  }
  progress.finish();
  evaluate(o.steps);
  if (!o.run_dir.empty()) save_checkpoint(session, o, o.steps);
  if (o.samples > 0) {
    std::string_view prompts[] = {"\n", "The ", "And "};
    std::string all;
    for (int64_t i = 0; i < o.samples; ++i) {
      std::string prompt(prompts[i % 3]);
      ForwardDecoder decoder([&](const ValueMap& b) { return session.forward(b); }, config,
                             /*feeds_valid_length=*/false);
      std::string text = runtime::generate_text(decoder, prompt, o.sample_length, {.temperature = 0.8},
                                                o.seed + static_cast<uint64_t>(i));
      run.samples.push_back(prompt + text);
      all += fmt::format("--- sample {} (prompt {}) ---\n{}{}\n", i + 1, json_quote(prompt), prompt, text);
    }
    if (!o.run_dir.empty()) {
      write_file_durably((fs::path(o.run_dir) / "samples.txt").string(), all, "samples");
    }
  }
  return run;
}

void print_training_summary(const TrainingRun& run, const Task& task, const TrainingOptions& o,
                            const std::string& backend) {
  std::vector<double> sorted = run.step_seconds;
  std::sort(sorted.begin(), sorted.end());
  fmt::print(o.messages, "step time: median {:.3f}s, fastest {:.3f}s over {} steps ({} backend)\n",
             sorted[sorted.size() / 2], sorted.front(), sorted.size(), backend);
  if (o.planned_bytes > 0) {
    fmt::print(o.messages, "memory: planned {} (arena + persistent values), measured peak resident {}\n",
               format_bytes(o.planned_bytes), format_bytes(runtime::peak_resident_bytes()));
  }
  if (run.validation_bits) {
    fmt::print(o.messages, "validation: {}, accuracy {:.1f}%\n", validation_text(*run.validation_bits, task),
               100 * run.validation_accuracy.value_or(0));
  }
  for (size_t i = 0; i < run.samples.size(); ++i) {
    fmt::print(o.messages, "sample {}:\n{}\n", i + 1, runtime::printable(run.samples[i], true));
  }
  if (!o.run_dir.empty())
    fmt::print(o.messages, "run directory: {} (reforge report {} -o report.html)\n", o.run_dir, o.run_dir);
  double loss = run.last.at("loss")[0];
  fmt::print(o.messages, "final loss {:.6f} {} ({:.3f} bits), accuracy {:.1f}%\n", loss, task.loss_unit(), loss / kLn2,
             100.0 * run.last.at("accuracy")[0]);
  if (o.log_format == ProgressFormat::jsonl) {
    fmt::print(
        "{{\"final_loss\": {:.9g}, \"final_accuracy\": {:.9g}, \"median_step_seconds\": {:.6f}, "
        "\"validation_bits\": {}, \"peak_resident_bytes\": {}}}\n",
        loss, run.last.at("accuracy")[0], sorted[sorted.size() / 2],
        run.validation_bits ? fmt::format("{:.9g}", *run.validation_bits) : "null", runtime::peak_resident_bytes());
  }
}

}  // namespace reforge::training
