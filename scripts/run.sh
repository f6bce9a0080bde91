#!/usr/bin/env bash
# The main job on the default (CPU) backend: installs prerequisites (and
# the default corpus), builds the `reforge` command and trains a byte-level
# Reformer on the King James Bible for a few minutes: progress, validation
# against the unigram baseline, a checkpoint and samples in runs/. Extra
# arguments run any other `reforge` command instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge
if (($#)); then
  exec bazel-bin/tools/cli/reforge "$@"
fi
run_dir="runs/byte-lm-kjv-$(date +%Y%m%d-%H%M%S)"
bazel-bin/tools/cli/reforge train byte-lm-kjv --steps=1000 --eval_every=250 --log_every=50 \
  --run_dir="$run_dir" --checkpoint_every=250 --samples=2 --show_config=false
bazel-bin/tools/cli/reforge report "$run_dir" -o "$run_dir/report.html"
