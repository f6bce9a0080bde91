// The loop every training command shares (`reforge train` from source,
// `reforge run` from an artifact), written once against ModelSession:
// batches from the task, one step each, live progress, validation every
// N steps and at the end (beside the task's baseline), checkpoints with
// exact resume, and a run directory that `reforge report` draws.
//
// A run directory holds run.json (model, config, seed, corpus), plan.html
// (the memory plan picture), metrics.jsonl (one object per step and per
// validation), checkpoint-<step>.safetensors (the newest K) and
// samples.txt.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/tasks.h"
#include "runtime/artifact.h"
#include "runtime/checkpoint.h"
#include "runtime/progress.h"
#include "runtime/sampling.h"
#include "runtime/communicator.h"
#include "training/session.h"

namespace reforge::training {

struct TrainingOptions {
  int64_t steps = 100;
  uint64_t seed = 1;
  int64_t log_every = 10;
  ProgressFormat log_format = ProgressFormat::text;
  // Where lines for people go: stdout, or stderr when stdout carries JSON
  // lines (--log_format=jsonl), so that stdout stays one object per line.
  std::FILE* messages = stdout;
  int64_t eval_every = 0;        // 0: only at the end
  int64_t eval_batches = 8;      // held-out batches per validation
  std::string run_dir;           // "": nothing is written
  int64_t checkpoint_every = 0;  // 0: only at the end (with a run directory)
  int keep_checkpoints = 3;
  bool resume = false;  // continue from the newest checkpoint in run_dir
  int64_t samples = 0;  // texts generated at the end (byte models)
  int64_t sample_length = 200;
  // Recorded in checkpoints and run.json.
  std::string model;
  runtime::KeyValues config;
  std::string compiler_version;
  int64_t tokens_per_step = 0;
  int64_t planned_bytes = 0;  // the plan's arena + persistent values, for the summary
  std::string plan_html;      // written to RUN_DIR/plan.html
  // Data parallelism (data_parallel.h): the ranks that train the model
  // together, null for one process. Every rank runs the loop; only rank 0
  // is given the run directory (the others get "" and write nothing), and
  // rank 0's values (resumed or initial) become every rank's.
  runtime::Communicator* communicator = nullptr;
};

struct TrainingRun {
  ValueMap last;  // the outputs of the last step (loss, accuracy, ...)
  std::vector<double> step_seconds;
  int64_t first_step = 1;  // > 1 after a resume
  std::optional<double> validation_bits;
  std::optional<double> validation_accuracy;  // the task's accuracy on the same held-out batches
  std::vector<std::string> samples;
};

// The mean held-out loss over `batches` validation batches, in bits per
// symbol, and the mean of the task's accuracy; `forward` gives a batch's
// "loss" and "accuracy".
struct HeldOutScore {
  double bits = 0;
  double accuracy = 0;
};
HeldOutScore held_out_score(const std::function<ValueMap(const ValueMap&)>& forward, const Task& task,
                            int64_t batches);
// The score from the session's forward pass, and its bits alone.
HeldOutScore validation_score(ModelSession& session, const Task& task, int64_t batches);
double validation_bits(ModelSession& session, const Task& task, int64_t batches);
// "2.291 bits per byte (unigram baseline 4.518)".
std::string validation_text(double bits, const Task& task);

// What is known about a run before anything is compiled.
struct PreparedRun {
  std::optional<runtime::Checkpoint> resume_from;  // with --resume: the newest checkpoint, checked
};

// On a rank other than 0 of a data-parallel job: no run directory and no
// resume (rank 0's values reach every rank by broadcast), and messages on
// standard output (which the CLI silences there). Unchanged on rank 0.
void leave_outputs_to_rank0(TrainingOptions& options);

// Checks the options and the run directory: creates the directory,
// refuses one that holds another run, and with --resume reads the newest
// checkpoint and checks that it fits this model (read once, here).
PreparedRun prepare_run(const TrainingOptions& options);

// Resumes from `prepared` if asked, trains and evaluates. `config` is
// needed for sampling.
TrainingRun run_training(ModelSession& session, const Task& task, const ReformerConfig& config,
                         const TrainingOptions& options, PreparedRun prepared);

// "step time: median ..., fastest ...", validation vs baseline, memory
// planned vs measured, "final loss ...".
void print_training_summary(const TrainingRun& run, const Task& task, const TrainingOptions& options,
                            const std::string& backend);

}  // namespace reforge::training
