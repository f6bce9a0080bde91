#!/usr/bin/env bash
# The main job on the default (CPU) backend: installs prerequisites, builds
# the `reforge` command and runs it. Extra arguments replace the default job.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/bazel.sh build //tools/cli:reforge
if (($#)); then
  exec bazel-bin/tools/cli/reforge "$@"
fi
exec bazel-bin/tools/cli/reforge train duplication --steps=300 --log_every=25
